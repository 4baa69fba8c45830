//! The runtime and its poll loop: the whole scheduling algorithm, top to bottom, in this file.
//!
//! # The loop (asyncio's `BaseEventLoop._run_once`)
//!
//! ```text
//!            ┌──────────────────────────────────────────────────────────────┐
//!            ▼                                                              │
//!   1. RUN   poll ready tasks, FIFO, at most `polls_per_tick` polls          │
//!            (the block_on future counts as one; remote wakes drained here) │
//!            │                                                              │
//!   2. TIME  nothing ready?  timeout = nearest timer deadline (timerfd armed)│
//!            something ready? timeout = 0                                   │
//!            │                                                              │
//!   3. POLL  mio::Poll::poll(timeout)  ◄── mio::Waker (remote wake), timerfd │
//!            │                                                              │
//!   4. WAKE  I/O events → readiness + the waiting task's waker               │
//!            due timers (deadline <= now) → their wakers, in deadline order ─┘
//! ```
//!
//! # Fairness policy
//!
//! - The ready queue is FIFO and a task that wakes itself goes to its back, so it runs again
//!   only after every task that was ready before it.
//! - One tick runs at most [`Builder::polls_per_tick`] polls (default 61, tokio's figure: a
//!   prime, so it does not resonate with tasks that yield every 2^k steps); then the loop polls
//!   I/O and timers with a zero timeout. So a task that keeps waking itself can neither starve
//!   the other tasks (FIFO) nor I/O and timers (polled every tick).
//! - When nothing is ready the loop sleeps in the poll until an event, a timer or a remote wake.
//!
//! # Tasks and shutdown
//!
//! Tasks live in a slab (`TaskSlab`) indexed by [`TaskId`]; the ready queue and the wakers
//! hold only names, so a stale name (finished task, reused slot) is dropped at lookup.
//! At shutdown (dropping the [`Runtime`]) the tasks are first *moved out* of the slab and only
//! then dropped, round after round, because their destructors may wake, spawn or deregister;
//! the timers go next, the remote queue is closed, and the reactor is dropped last (it is the
//! last field of [`Core`], and I/O objects keep the core alive until they deregister).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::blocking::BlockingPool;
use crate::reactor::Reactor;
use crate::stats::{SlowPoll, Stats};
use crate::task::{Header, JoinHandle, Runnable, Task};
use crate::timer::TimerQueue;
use crate::wake_state::WakeState;
use crate::waker::{Shared, TaskId, TaskWaker};

/// Default polls per tick; see the fairness policy in the module docs.
const DEFAULT_POLLS_PER_TICK: u32 = 61;
/// Default size of the event buffer of one poll.
const DEFAULT_EVENT_CAPACITY: usize = 1024;
/// Default number of `spawn_blocking` threads: asyncio's default executor uses
/// `min(32, cpus + 4)`; blocking calls mostly wait, so a few more than the cores.
const DEFAULT_BLOCKING_THREADS: usize = 16;
/// Default number of `Ctx::checkpoint` calls between real yields of a job; see `job.rs`.
const DEFAULT_CHECKPOINTS_PER_YIELD: u32 = 32;
/// How many slow-poll records are kept (the oldest are dropped first).
const SLOW_POLL_LOG: usize = 64;

thread_local! {
    /// The runtime whose `block_on` (or shutdown) is running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// The current runtime, if this thread is inside one.
pub(crate) fn current() -> Option<Rc<Core>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Runs `f` with the current runtime; panics with `what` in the message outside one.
#[track_caller]
fn with_current<R>(what: &str, f: impl FnOnce(&Rc<Core>) -> R) -> R {
    match current() {
        Some(core) => f(&core),
        None => panic!(
            "mini_eventloop::{what} called outside a runtime: call it from a future run by \
             Runtime::block_on (or from a task it spawned)"
        ),
    }
}

/// The waker's local path: if this thread is running the runtime that owns `shared`, queue
/// the task without any atomics and return true.
pub(crate) fn try_schedule_local(shared: &Arc<Shared>, id: TaskId) -> bool {
    CURRENT
        .try_with(|c| match &*c.borrow() {
            Some(core) if Arc::ptr_eq(&core.shared, shared) => {
                core.schedule(id);
                true
            }
            _ => false,
        })
        .unwrap_or(false)
}

/// Makes `core` current for the guard's lifetime, restoring whatever was current before.
struct Enter {
    /// The previously current runtime.
    previous: Option<Rc<Core>>,
}

impl Enter {
    /// Enters `core`; `nested_ok` allows entering while another runtime is current (used by
    /// shutdown, which may happen inside another runtime's task).
    fn new(core: &Rc<Core>, nested_ok: bool) -> Enter {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(core.clone()));
        if previous.is_some() && !nested_ok {
            CURRENT.with(|c| *c.borrow_mut() = previous);
            panic!(
                "Runtime::block_on called inside a running runtime: a task must .await the \
                 future instead of blocking the loop on it"
            );
        }
        Enter { previous }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // If the thread-local is already destroyed (thread exit) there is nothing to restore.
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// One slot of the task slab.
struct Slot {
    /// Bumped every time the slot is freed, so old names stop matching.
    generation: u32,
    /// The task in the slot.
    task: Option<Rc<dyn Runnable>>,
    /// True while the task's name is in the ready queue (deduplicates wakes).
    scheduled: bool,
}

/// The live tasks, by slot.
#[derive(Default)]
struct TaskSlab {
    /// All slots, occupied or free.
    slots: Vec<Slot>,
    /// Indices of free slots.
    free: Vec<u32>,
    /// Occupied slots.
    alive: usize,
}

impl TaskSlab {
    /// The name the next inserted task will get.
    fn next_id(&mut self) -> TaskId {
        let slot = match self.free.last() {
            Some(&i) => i,
            None => {
                // u32::MAX is TaskId::MAIN; a process cannot hold 4 billion tasks anyway.
                let i = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i < u32::MAX)
                    .expect("mini-eventloop: more than 4 billion live tasks");
                self.slots.push(Slot {
                    generation: 0,
                    task: None,
                    scheduled: false,
                });
                self.free.push(i);
                i
            }
        };
        TaskId {
            slot,
            generation: self.slots[slot as usize].generation,
        }
    }

    /// Puts `task` in the slot [`TaskSlab::next_id`] named, marked scheduled.
    fn insert(&mut self, task: Rc<dyn Runnable>) {
        let slot = self.free.pop().expect("next_id reserved a slot");
        let s = &mut self.slots[slot as usize];
        s.task = Some(task);
        s.scheduled = true;
        self.alive += 1;
    }

    /// Removes the task named `id` (if it is still the occupant) and returns it, so the
    /// caller can drop it after releasing the slab.
    fn remove(&mut self, id: TaskId) -> Option<Rc<dyn Runnable>> {
        let s = self.slots.get_mut(id.slot as usize)?;
        if s.generation != id.generation {
            return None;
        }
        let task = s.task.take()?;
        s.generation = s.generation.wrapping_add(1);
        s.scheduled = false;
        self.free.push(id.slot);
        self.alive -= 1;
        Some(task)
    }

    /// Moves every task out (shutdown).
    fn take_all(&mut self) -> Vec<Rc<dyn Runnable>> {
        let ids: Vec<TaskId> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.task.is_some())
            .map(|(i, s)| TaskId {
                slot: i as u32,
                generation: s.generation,
            })
            .collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }
}

/// Counters written by the loop thread only (remote wakes are counted in [`Shared`]).
#[derive(Default)]
pub(crate) struct Counters {
    /// Tasks spawned.
    pub(crate) spawned: Cell<u64>,
    /// Task polls (the block_on future not included).
    pub(crate) polls: Cell<u64>,
    /// Wakes on the loop thread.
    pub(crate) local_wakes: Cell<u64>,
    /// I/O events received (including the waker's and the timerfd's).
    pub(crate) io_events: Cell<u64>,
    /// Timers fired.
    pub(crate) timers_fired: Cell<u64>,
    /// Turns of the loop (polls of mio).
    pub(crate) iterations: Cell<u64>,
    /// Polls longer than the slow-poll threshold.
    pub(crate) slow_polls: Cell<u64>,
    /// `accept` system calls made by listeners.
    pub(crate) accept_attempts: Cell<u64>,
    /// Times a listener parked on its back-off timer after `EMFILE`/`ENFILE`.
    pub(crate) accept_backoffs: Cell<u64>,
    /// Closures sent to the blocking pool.
    pub(crate) blocking_spawned: Cell<u64>,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &Cell<u64>) {
    counter.set(counter.get() + 1);
}

/// Settings fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The runtime's name, for reports.
    pub(crate) name: Option<String>,
    /// Polls per tick before I/O is polled.
    pub(crate) polls_per_tick: u32,
    /// Polls longer than this are counted and logged.
    pub(crate) slow_poll_threshold: Option<Duration>,
    /// Size of the blocking pool.
    pub(crate) blocking_threads: usize,
    /// Checkpoints between real yields of a job.
    pub(crate) checkpoints_per_yield: u32,
    /// Events per poll.
    pub(crate) event_capacity: usize,
    /// Whether to use a timerfd for sub-millisecond deadlines.
    pub(crate) timerfd: bool,
}

/// Everything a runtime is; shared (`Rc`) by the [`Runtime`], the thread-local while it
/// runs, and the I/O objects and timers registered with it.
pub(crate) struct Core {
    /// The part other threads may touch (wakers hold an `Arc` of it).
    pub(crate) shared: Arc<Shared>,
    /// Live tasks.
    slab: RefCell<TaskSlab>,
    /// Names of live tasks spawned with `spawn_named`.
    names: RefCell<HashMap<TaskId, Box<str>>>,
    /// Names of tasks to poll, FIFO.
    ready: RefCell<VecDeque<TaskId>>,
    /// True while the block_on future's name is in the ready queue.
    main_woken: Cell<bool>,
    /// Reused buffer for draining remote wakes.
    remote_batch: RefCell<Vec<TaskId>>,
    /// Build-time settings.
    pub(crate) config: Config,
    /// Loop-thread statistics.
    pub(crate) counters: Counters,
    /// The most recent slow polls.
    slow_log: RefCell<VecDeque<SlowPoll>>,
    /// The `spawn_blocking` threads (started lazily).
    pub(crate) blocking: BlockingPool,
    /// Pending timers.
    pub(crate) timers: TimerQueue,
    /// The poll and the I/O sources. Declared last, so it is dropped last.
    pub(crate) reactor: Reactor,
}

impl Core {
    /// Queues task `id` for polling, if it is live and not already queued (loop thread).
    fn schedule(&self, id: TaskId) {
        bump(&self.counters.local_wakes);
        if id == TaskId::MAIN {
            // The block_on future queues like any task, so it cannot starve them.
            if !self.main_woken.replace(true) {
                self.ready.borrow_mut().push_back(id);
            }
            return;
        }
        let mut slab = self.slab.borrow_mut();
        if let Some(s) = slab.slots.get_mut(id.slot as usize) {
            if s.generation == id.generation && s.task.is_some() && !s.scheduled {
                s.scheduled = true;
                self.ready.borrow_mut().push_back(id);
            }
        }
    }

    /// Moves remote wakes into the local queue; false if there were none.
    fn drain_remote(&self) -> bool {
        if !self.shared.wake_state.has_pending() {
            return false;
        }
        let mut batch = std::mem::take(&mut *self.remote_batch.borrow_mut());
        self.shared.wake_state.drain_into(&mut batch);
        let any = !batch.is_empty();
        for id in batch.drain(..) {
            self.schedule(id);
            // `schedule` counted it as local; it was counted as remote already.
            self.counters
                .local_wakes
                .set(self.counters.local_wakes.get() - 1);
        }
        *self.remote_batch.borrow_mut() = batch;
        any
    }

    /// Spawns `future` as a task.
    fn spawn<F>(&self, future: F, name: Option<Box<str>>) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let mut slab = self.slab.borrow_mut();
        let id = slab.next_id();
        let waker = Arc::new(TaskWaker {
            shared: self.shared.clone(),
            id,
        });
        let header = Header {
            waker,
            aborted: Cell::new(false),
            finished: Cell::new(false),
            join_waker: Cell::new(None),
        };
        if let Some(name) = name {
            self.names.borrow_mut().insert(id, name);
        }
        let task = Rc::new(Task::new(header, future));
        slab.insert(task.clone());
        drop(slab);
        self.ready.borrow_mut().push_back(id);
        bump(&self.counters.spawned);
        JoinHandle::new(task)
    }

    /// Polls task `id` once (if it is live and queued); removes it when it finishes.
    fn run_task(&self, id: TaskId) {
        let task = {
            let mut slab = self.slab.borrow_mut();
            match slab.slots.get_mut(id.slot as usize) {
                Some(s) if s.generation == id.generation && s.scheduled => {
                    s.scheduled = false;
                    match &s.task {
                        Some(t) => t.clone(),
                        None => return,
                    }
                }
                _ => return,
            }
        };
        bump(&self.counters.polls);
        let finished = match self.config.slow_poll_threshold {
            None => task.poll_task(),
            Some(threshold) => {
                let start = Instant::now();
                let finished = task.poll_task();
                let took = start.elapsed();
                if took >= threshold {
                    self.record_slow_poll(id, took);
                }
                finished
            }
        };
        if finished {
            let removed = self.slab.borrow_mut().remove(id);
            let mut names = self.names.borrow_mut();
            if !names.is_empty() {
                names.remove(&id);
            }
            // Dropped here, outside the slab borrow: a detached task's output may have a
            // destructor that wakes or spawns.
            drop(removed);
        }
    }

    /// Counts and logs a slow poll (asyncio debug mode's "Executing <Task> took 0.2 seconds").
    fn record_slow_poll(&self, id: TaskId, took: Duration) {
        bump(&self.counters.slow_polls);
        let mut log = self.slow_log.borrow_mut();
        if log.len() == SLOW_POLL_LOG {
            log.pop_front();
        }
        log.push_back(SlowPoll {
            task: self.names.borrow().get(&id).map(|n| n.to_string()),
            took,
        });
    }

    /// Steps 2 to 4 of the loop: compute the timeout, poll, wake.
    fn turn(&self) {
        bump(&self.counters.iterations);
        let has_work = !self.ready.borrow().is_empty() || self.shared.wake_state.has_pending();
        let mut timeout = if has_work {
            Some(Duration::ZERO)
        } else {
            self.timeout_for_next_deadline()
        };
        let mut may_sleep = timeout != Some(Duration::ZERO);
        if may_sleep && !self.shared.wake_state.prepare_sleep() {
            timeout = Some(Duration::ZERO);
            may_sleep = false;
        }
        self.reactor.poll(timeout, &self.counters);
        if may_sleep {
            self.shared.wake_state.woke();
        }
        if self.timers.len() > 0 {
            let fired = self.timers.fire_due(Instant::now());
            let c = &self.counters.timers_fired;
            c.set(c.get() + fired);
        }
    }

    /// The poll timeout for the nearest timer: `None` (wait for an event) when there is no
    /// timer or the timerfd is armed for it, else the time left (mio rounds it up to whole ms).
    fn timeout_for_next_deadline(&self) -> Option<Duration> {
        let deadline = self.timers.next_deadline()?;
        let now = Instant::now();
        if deadline <= now {
            return Some(Duration::ZERO);
        }
        if self.reactor.arm_timer(deadline, now) {
            None
        } else {
            Some(deadline - now)
        }
    }

    /// A snapshot of the statistics.
    fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            tasks_spawned: c.spawned.get(),
            tasks_alive: self.slab.borrow().alive as u64,
            polls: c.polls.get(),
            local_wakes: c.local_wakes.get(),
            remote_wakes: self.shared.remote_wakes.load(Ordering::Relaxed),
            remote_pokes: self.shared.pokes.load(Ordering::Relaxed),
            io_events: c.io_events.get(),
            timers_fired: c.timers_fired.get(),
            timers_pending: self.timers.len() as u64,
            loop_iterations: c.iterations.get(),
            slow_polls: c.slow_polls.get(),
            accept_attempts: c.accept_attempts.get(),
            accept_backoffs: c.accept_backoffs.get(),
            blocking_spawned: c.blocking_spawned.get(),
        }
    }
}

/// A single-threaded event loop: asyncio's event loop.
///
/// ```
/// use mini_eventloop::{Runtime, spawn};
///
/// let rt = Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let a = spawn(async { 40 });
///     let b = spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
pub struct Runtime {
    /// The loop's state.
    core: Rc<Core>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.core.config.name)
            .field("stats", &self.core.stats())
            .finish()
    }
}

impl Runtime {
    /// A runtime with the default settings.
    ///
    /// # Errors
    ///
    /// If the poll, its waker or the timerfd cannot be created (out of descriptors, say).
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder for a runtime with other settings.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `future` to completion on this thread, running the spawned tasks, timers and I/O
    /// meanwhile: asyncio's `loop.run_until_complete`. Tasks still pending when it returns
    /// stay in the runtime and run again at the next `block_on`.
    ///
    /// # Panics
    ///
    /// If called inside a running runtime (a task must `.await` instead), and if `future`
    /// itself panics (a spawned task's panic goes to its [`JoinHandle`] instead).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let core = &*self.core;
        let _enter = Enter::new(&self.core, false);
        let mut future = pin!(future);
        let main_waker = Waker::from(Arc::new(TaskWaker {
            shared: core.shared.clone(),
            id: TaskId::MAIN,
        }));
        let mut main_cx = Context::from_waker(&main_waker);
        core.schedule(TaskId::MAIN);
        loop {
            // 1. RUN: ready tasks, FIFO, up to the tick's budget.
            let mut polls = 0;
            while polls < core.config.polls_per_tick {
                let next = core.ready.borrow_mut().pop_front();
                match next {
                    Some(TaskId::MAIN) => {
                        polls += 1;
                        core.main_woken.set(false);
                        if let Poll::Ready(out) = future.as_mut().poll(&mut main_cx) {
                            return out;
                        }
                    }
                    Some(id) => {
                        polls += 1;
                        core.run_task(id);
                    }
                    None => {
                        if !core.drain_remote() {
                            break;
                        }
                    }
                }
            }
            // 2-4. TIME, POLL, WAKE.
            core.turn();
        }
    }

    /// Runs every job as a task on this one thread and returns their results in input order.
    ///
    /// Each job gets a fresh [`LoopCtx`](crate::LoopCtx); a panicking job gives
    /// `Err(JoinError::Panicked)` without disturbing the others.
    ///
    /// ```
    /// use mini_eventloop::{Ctx, Job, Runtime};
    /// struct Double(u32);
    /// impl Job for Double {
    ///     type Output = u32;
    ///     async fn run<C: Ctx>(&self, cx: &mut C) -> u32 {
    ///         cx.checkpoint().await;
    ///         self.0 * 2
    ///     }
    /// }
    /// let mut rt = Runtime::new().unwrap();
    /// let out = rt.run_jobs(vec![Double(1), Double(2)]);
    /// assert_eq!(out, vec![Ok(2), Ok(4)]);
    /// ```
    pub fn run_jobs<J: crate::Job>(
        &mut self,
        jobs: Vec<J>,
    ) -> Vec<Result<J::Output, crate::JoinError>> {
        self.block_on(async move {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|job| crate::spawn_job(Arc::new(job)))
                .collect();
            let mut results = Vec::with_capacity(handles.len());
            for h in handles {
                results.push(h.await);
            }
            results
        })
    }

    /// A snapshot of this runtime's statistics.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// The most recent polls that took longer than the slow-poll threshold (at most 64),
    /// oldest first. Empty unless [`Builder::slow_poll_threshold`] was set.
    pub fn slow_polls(&self) -> Vec<SlowPoll> {
        self.core.slow_log.borrow().iter().cloned().collect()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let core = &*self.core;
        // Current during shutdown, so destructors that spawn or wake reach this runtime.
        let _enter = Enter::new(&self.core, true);
        loop {
            // Move the tasks out first; dropping a future may spawn (new tasks land in the
            // now-empty slab and are cancelled next round), wake or deregister.
            let tasks = core.slab.borrow_mut().take_all();
            if tasks.is_empty() {
                break;
            }
            for task in &tasks {
                task.cancel();
            }
            drop(tasks);
        }
        core.ready.borrow_mut().clear();
        core.names.borrow_mut().clear();
        core.main_woken.set(false);
        core.timers.clear();
        core.shared.wake_state.close();
        core.blocking.shutdown();
    }
}

/// Settings for a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = mini_eventloop::Runtime::builder()
///     .name("worker")
///     .slow_poll_threshold(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// # drop(rt);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// The settings being built.
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults.
    pub fn new() -> Builder {
        Builder {
            config: Config {
                name: None,
                polls_per_tick: DEFAULT_POLLS_PER_TICK,
                slow_poll_threshold: None,
                blocking_threads: DEFAULT_BLOCKING_THREADS,
                checkpoints_per_yield: DEFAULT_CHECKPOINTS_PER_YIELD,
                event_capacity: DEFAULT_EVENT_CAPACITY,
                timerfd: true,
            },
        }
    }

    /// Names the runtime (shown in its `Debug` output).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.config.name = Some(name.into());
        self
    }

    /// Task polls per tick before I/O and timers are polled (default 61; at least 1).
    pub fn polls_per_tick(mut self, polls: u32) -> Builder {
        self.config.polls_per_tick = polls.max(1);
        self
    }

    /// Counts (and logs, see [`Runtime::slow_polls`]) every task poll that takes at least
    /// `threshold`. Off by default, since it reads the clock twice per poll.
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.config.slow_poll_threshold = Some(threshold);
        self
    }

    /// The most threads [`spawn_blocking`](crate::spawn_blocking) may use (default 16; at
    /// least 1).
    pub fn blocking_threads(mut self, threads: usize) -> Builder {
        self.config.blocking_threads = threads.max(1);
        self
    }

    /// How many [`Ctx::checkpoint`](crate::Ctx::checkpoint) calls a job makes between real
    /// yields (default 32; 1 yields at every checkpoint).
    pub fn checkpoints_per_yield(mut self, checkpoints: u32) -> Builder {
        self.config.checkpoints_per_yield = checkpoints.max(1);
        self
    }

    /// Events fetched per poll (default 1024).
    pub fn event_capacity(mut self, events: usize) -> Builder {
        self.config.event_capacity = events.max(1);
        self
    }

    /// Whether deadlines use a `timerfd` (sub-millisecond precision, the default) or only the
    /// poll timeout (rounded up to whole milliseconds by mio).
    pub fn precise_timers(mut self, on: bool) -> Builder {
        self.config.timerfd = on;
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// If the poll, its waker or the timerfd cannot be created.
    pub fn build(self) -> io::Result<Runtime> {
        let (reactor, poker) = Reactor::new(self.config.event_capacity, self.config.timerfd)?;
        let shared = Arc::new(Shared {
            wake_state: WakeState::new(),
            poker,
            remote_wakes: AtomicU64::new(0),
            pokes: AtomicU64::new(0),
        });
        let core = Core {
            shared,
            slab: RefCell::default(),
            names: RefCell::default(),
            ready: RefCell::default(),
            main_woken: Cell::new(false),
            remote_batch: RefCell::default(),
            blocking: BlockingPool::new(self.config.blocking_threads),
            config: self.config,
            counters: Counters::default(),
            slow_log: RefCell::default(),
            timers: TimerQueue::default(),
            reactor,
        };
        Ok(Runtime {
            core: Rc::new(core),
        })
    }
}

/// Spawns `future` as a task on the current runtime: asyncio's `asyncio.create_task(coro)`.
///
/// The future need not be `Send`. The task starts at the loop's next turn and runs even if
/// the handle is dropped (detached).
///
/// # Panics
///
/// Outside a runtime (not inside [`Runtime::block_on`] or a task it runs).
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_current("spawn", |core| core.spawn(future, None))
}

/// Like [`spawn`], with a name that slow-poll reports show.
///
/// # Panics
///
/// Outside a runtime.
#[track_caller]
pub fn spawn_named<F>(name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_current("spawn_named", |core| core.spawn(future, Some(name.into())))
}

/// A snapshot of the current runtime's statistics.
///
/// # Panics
///
/// Outside a runtime.
#[track_caller]
pub fn stats() -> Stats {
    with_current("stats", |core| core.stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A no-op task for slab tests.
    struct Nothing;
    impl Runnable for Nothing {
        fn poll_task(&self) -> bool {
            true
        }
        fn cancel(&self) {}
    }

    /// A freed slot is reused with a new generation, so the old name no longer matches.
    #[test]
    fn slab_reuses_slots_with_a_new_generation() {
        let mut slab = TaskSlab::default();
        let first = slab.next_id();
        slab.insert(Rc::new(Nothing));
        assert!(slab.remove(first).is_some());
        assert!(slab.remove(first).is_none(), "removing twice");
        let second = slab.next_id();
        slab.insert(Rc::new(Nothing));
        assert_eq!(second.slot, first.slot);
        assert_ne!(second.generation, first.generation);
        assert!(
            slab.remove(first).is_none(),
            "a stale name removed the new task"
        );
        assert_eq!(slab.alive, 1);
        assert_eq!(slab.take_all().len(), 1);
        assert_eq!(slab.alive, 0);
    }
}
