//! The runtime and its poll loop: the whole scheduling algorithm, top to bottom, in this file.
//!
//! # The loop (asyncio's `BaseEventLoop._run_once`)
//!
//! ```text
//!            ┌──────────────────────────────────────────────────────────────┐
//!            ▼                                                              │
//!   1. RUN   drain remote wakes, then poll ready tasks, FIFO, at most        │
//!            `polls_per_tick` polls (the block_on future queues like a task) │
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
//!   the other tasks (FIFO) nor I/O and timers (polled every tick), nor wakes from other
//!   threads (the remote queue is drained at the start of every tick, and again whenever the
//!   local queue runs empty).
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::blocking_pool::BlockingPool;
use crate::builder::Builder;
pub(crate) use crate::builder::Config;
use crate::contain::contain;
use crate::reactor::Reactor;
use crate::record::{Recording, TaskLane};
use crate::slab::TaskSlab;
pub(crate) use crate::stats::{Counters, bump};
use crate::stats::{SlowPoll, Stats};
use crate::task::{Header, JoinHandle, Task};
use crate::timer::TimerQueue;
use crate::waiters::WakerSlot;
use crate::wake_state::WakeState;
use crate::waker::{Shared, TaskId, TaskWaker};

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

/// True if `core` is the runtime running on this thread (false during thread exit, once the
/// thread-local is gone).
pub(crate) fn is_current(core: &Rc<Core>) -> bool {
    CURRENT
        .try_with(|c| c.borrow().as_ref().is_some_and(|cur| Rc::ptr_eq(cur, core)))
        .unwrap_or(false)
}

/// False if this thread is certainly not running the runtime that owns `shared` (inside
/// another runtime's `block_on`, or outside any). During thread exit, once the thread-local
/// is gone, nobody can tell: true.
pub(crate) fn may_be_running(shared: &Arc<Shared>) -> bool {
    CURRENT
        .try_with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|core| Arc::ptr_eq(&core.shared, shared))
        })
        .unwrap_or(true)
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
    ///
    /// During thread exit the thread-local may already be destroyed (a `Runtime` kept in a
    /// `thread_local!` is dropped after it): then nothing is entered and nothing panics. The
    /// loop still works, with every wake taking the remote path; spawning and I/O report
    /// that they are outside the runtime.
    fn new(core: &Rc<Core>, nested_ok: bool) -> Enter {
        let Ok(previous) = CURRENT.try_with(|c| c.borrow_mut().replace(core.clone())) else {
            return Enter { previous: None };
        };
        if previous.is_some() && !nested_ok {
            let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
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
    /// Set once by `Runtime::drop`: objects that outlive the runtime see it (loop thread).
    shut_down: Cell<bool>,
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
    /// Task polls and poller waits, recorded with the `trace` feature (`record.rs`).
    pub(crate) recording: Recording,
    /// The poll and the I/O sources. Declared last, so it is dropped last.
    pub(crate) reactor: Reactor,
}

impl Core {
    /// True once the `Runtime` has been dropped.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.get()
    }

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
            if id == TaskId::SPAWNS {
                for spawn in self.shared.take_spawns() {
                    spawn(self);
                }
                continue;
            }
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
    pub(crate) fn spawn<F>(&self, future: F, name: Option<Box<str>>) -> JoinHandle<F::Output>
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
            joiner: WakerSlot::default(),
        };
        if let Some(name) = name {
            self.names.borrow_mut().insert(id, name);
        }
        let task = Rc::new(Task::new(header, future));
        slab.insert(task.clone(), self.recording.new_task());
        drop(slab);
        self.ready.borrow_mut().push_back(id);
        bump(&self.counters.spawned);
        JoinHandle::new(task)
    }

    /// Polls task `id` once (if it is live and queued); removes it when it finishes.
    fn run_task(&self, id: TaskId) {
        let (task, lane) = {
            let mut slab = self.slab.borrow_mut();
            match slab.slots.get_mut(id.slot as usize) {
                Some(s) if s.generation == id.generation && s.scheduled => {
                    s.scheduled = false;
                    match &s.task {
                        Some(t) => (t.clone(), s.lane),
                        None => return,
                    }
                }
                _ => return,
            }
        };
        bump(&self.counters.polls);
        let finished = self
            .recording
            .poll(lane, || match self.config.slow_poll_threshold {
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
            });
        if finished {
            let removed = self.slab.borrow_mut().remove(id);
            {
                let mut names = self.names.borrow_mut();
                if !names.is_empty() {
                    names.remove(&id);
                }
            }
            // Dropped here, outside every borrow: a detached task's output (or its panic
            // payload) may have a destructor that wakes or spawns, or panics, which must not
            // unwind into the loop. `task` may be the last reference, so it goes too.
            contain(move || drop((removed, task)));
        }
    }

    /// Counts and logs a slow poll (asyncio debug mode's "Executing <Task> took 0.2 seconds").
    /// Cold: kept out of the poll loop, which it would otherwise be inlined into.
    #[cold]
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
        self.reactor.poll(timeout, &self.counters, &self.recording);
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
            // 1. RUN: remote wakes first, every tick (a task that keeps yielding never lets the
            // queue run empty, so draining only then would starve them), then ready tasks,
            // FIFO, up to the tick's budget.
            core.drain_remote();
            let mut polls = 0;
            while polls < core.config.polls_per_tick {
                let next = core.ready.borrow_mut().pop_front();
                match next {
                    Some(TaskId::MAIN) => {
                        polls += 1;
                        core.main_woken.set(false);
                        let poll = || future.as_mut().poll(&mut main_cx);
                        if let Poll::Ready(out) = core.recording.poll(TaskLane::ROOT, poll) {
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
    /// an `Err` ([`JoinError::is_panic`](crate::JoinError::is_panic)) without disturbing the
    /// others.
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

    /// Builds a runtime from the builder's settings.
    pub(crate) fn from_config(config: Config) -> io::Result<Runtime> {
        let (reactor, poker) = Reactor::new(config.event_capacity, config.timerfd)?;
        let shared = Arc::new(Shared {
            wake_state: WakeState::new(),
            poker,
            remote_wakes: AtomicU64::new(0),
            pokes: AtomicU64::new(0),
            spawns: Mutex::default(),
            owner: std::thread::current().id(),
        });
        let recording = Recording::new(&config);
        let core = Core {
            shared,
            slab: RefCell::default(),
            names: RefCell::default(),
            ready: RefCell::default(),
            main_woken: Cell::new(false),
            remote_batch: RefCell::default(),
            shut_down: Cell::new(false),
            blocking: BlockingPool::new(config.blocking_threads),
            config,
            counters: Counters::default(),
            slow_log: RefCell::default(),
            timers: TimerQueue::default(),
            recording,
            reactor,
        };
        Ok(Runtime {
            core: Rc::new(core),
        })
    }

    /// A snapshot of this runtime's statistics.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Spawns `future` from outside the loop, on the loop's own thread (between two
    /// [`block_on`](Runtime::block_on) calls, say): the task runs at the next `block_on`.
    /// Inside the loop, [`spawn`] does the same.
    ///
    /// ```
    /// let rt = mini_eventloop::Runtime::new().unwrap();
    /// let handle = rt.spawn(async { 6 * 7 });
    /// assert_eq!(rt.block_on(handle), Ok(42));
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.core.spawn(future, None)
    }

    /// A [`Handle`](crate::Handle) that other threads may use to spawn onto this loop.
    pub fn handle(&self) -> crate::Handle {
        crate::Handle::new(self.core.shared.clone())
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
        core.shut_down.set(true);
        // Current during shutdown, so destructors that spawn or wake reach this runtime.
        let _enter = Enter::new(&self.core, true);
        // Every piece of user code below (a future's or an output's destructor, a foreign
        // waker) runs contained (`contain.rs`), so a panic in one cannot cut the shutdown
        // short: the remote queue and the blocking pool are always closed.
        loop {
            // Move the tasks out first; dropping a future may spawn (new tasks land in the
            // now-empty slab and are cancelled next round), wake or deregister.
            let tasks = core.slab.borrow_mut().take_all();
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                contain(move || {
                    task.cancel();
                    drop(task);
                });
            }
        }
        core.ready.borrow_mut().clear();
        core.names.borrow_mut().clear();
        core.main_woken.set(false);
        core.timers.clear();
        core.shared.wake_state.close();
        // Futures handles queued before the close: never spawned, dropped here, so their
        // waiters hear "cancelled". Later ones are dropped by the handle (see `spawn_remote`).
        for spawn in core.shared.take_spawns() {
            contain(move || drop(spawn));
        }
        core.blocking.shutdown();
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
