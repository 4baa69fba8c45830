//! The manager: one long-lived thread per pool that forks every worker and moves every byte
//! between callers and workers, with a `mio` poll loop.
//!
//! ```text
//!   caller threads                 manager thread (this file)              workers
//!   ──────────────                 ──────────────────────────              ───────
//!   map / apply / imap ──Command──▶ commands channel ─┐
//!        (encode chunks)   + Waker (eventfd) ────────▶│ poll(): one loop over
//!                                                     │   waker          -> take commands
//!   ◀── ChunkOutcome ── reply channel ◀──┐            │   result pipe i  -> read answers ◀── worker i
//!   (decode results)                     └────────────│   task pipe i    -> write frames ──▶ worker i
//!                                                     │   pidfd i        -> reap, settle, replace
//!                                                     │ then: kill timed-out workers,
//!                                                     │       dispatch queued chunks,
//!                                                     └────── wind down when closing
//! ```
//!
//! Invariants:
//! - **No busy waiting**: the thread sleeps in `poll` until a command, a pipe, a process exit
//!   or the nearest task deadline needs it.
//! - **No lock shared with workers**: workers are separate processes; they see their two pipes
//!   and one page of progress counters, atomics that only the worker writes. The manager
//!   shares with callers only channels and relaxed counters.
//! - **Never blocked by a worker**: every pipe end it holds is non-blocking. It reads answers
//!   whenever they are readable, even while it still has task bytes to write, so a worker
//!   writing a 100 MB result and a manager writing that worker's next task cannot deadlock.
//! - **Every chunk is answered once**: by its worker, by a settled ending (`worker.rs`), or
//!   by the teardown. A chunk that never reached the manager (still in the command channel
//!   when it ended) is dropped with that channel, which disconnects its caller's reply
//!   channel: no caller is left waiting (`result.rs`).
//! - **Waits on no user thread for long**: under `Fork`, before forking a replacement it
//!   flushes std's stdout buffer as `build` does, waiting at most `FLUSH_BEFORE_FORK_BOUND`,
//!   and not at all while an earlier flush still waits for a lock a user thread keeps.
//! - **All forks happen on this thread**, which lives as long as the pool: a worker's
//!   `PR_SET_PDEATHSIG` fires when the thread that forked it exits.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::error::TaskError;
use crate::frame::ItemOutcome;
use crate::pool;
use crate::stats::{self, Counters};
use crate::sys;
use crate::task::{Chunk, ChunkOutcome};
use crate::worker::{Cause, Spec, StartMethod, Worker};

/// How many workers in a row one slot may lose before they start any chunk (killed for not
/// starting one in time, or dead on their own: an initializer that hangs or calls `exit`, a
/// set-up that fails) before the pool stops refilling that slot: a replacement would end the
/// same way, and replacing it forever is a fork storm. The count is per slot, so a healthy
/// worker answering in another slot neither hides a storm nor shortens the budget; when every
/// slot has been given up, the pool breaks.
const STUCK_STARTS_LIMIT: u32 = 3;

/// The waker's token; worker `i` uses tokens `3i` (results), `3i + 1` (tasks), `3i + 2` (exit).
pub(crate) const WAKER: Token = Token(usize::MAX);

/// What the pool does when a worker crashes (dies on its own while it holds a chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrashPolicy {
    /// The crashed worker's current chunk fails with [`TaskError::WorkerDied`], the worker is
    /// replaced, and every other task goes on.
    #[default]
    FailTask,
    /// The crashed worker's current chunk fails with [`TaskError::WorkerDied`], every other
    /// pending task with [`TaskError::PoolBroken`], and so does every later submission (like
    /// `concurrent.futures`' `BrokenProcessPool`).
    FailPool,
}

/// A request from the pool's handle to its manager.
pub(crate) enum Command {
    /// Run these chunks.
    Submit(Vec<Chunk>),
    /// Finish what is queued, then let the workers exit.
    Close,
    /// Kill the workers now; pending tasks fail with `PoolClosed`.
    Terminate,
    /// Report the current workers' pids.
    Pids(Sender<Vec<u32>>),
}

/// The pool's settings, fixed at build time.
pub(crate) struct Config {
    /// How to start a worker, and its initializer.
    pub(crate) spec: Spec,
    /// How many workers to keep.
    pub(crate) workers: usize,
    /// Retire a worker after this many tasks.
    pub(crate) max_tasks: Option<u64>,
    /// Kill a worker whose current task runs longer than this.
    pub(crate) task_timeout: Option<Duration>,
    /// What a crash does.
    pub(crate) policy: CrashPolicy,
    /// Where chunks sent and run are recorded (`spec.traced` says whether there is one).
    #[cfg(feature = "trace")]
    pub(crate) recorder: Option<Arc<crate::trace::Recorder>>,
}

/// The manager's state, owned by its thread.
struct Manager {
    /// The readiness poll.
    poll: Poll,
    /// Settings.
    config: Config,
    /// Requests from the pool handle.
    commands: Receiver<Command>,
    /// Counters shared with the handle.
    stats: Arc<Counters>,
    /// One slot per worker; `None` between a worker's end and its replacement.
    slots: Vec<Option<Worker>>,
    /// Chunks waiting for a worker, oldest first.
    queue: VecDeque<Chunk>,
    /// A crash under `FailPool`, a failed initializer, every slot given up or a failed fork
    /// broke the pool. Written only here; the handle reads it to refuse work before making it.
    broken: Arc<AtomicBool>,
    /// `close` was called: finish the queue, then end.
    closing: bool,
    /// `terminate` was called (or the handle vanished): end now.
    terminating: bool,
    /// Per slot: its workers in a row that ended (crashed or killed for a timeout) before they
    /// started any chunk; reset when one of that slot's workers ends having started one.
    stuck_starts: Vec<u32>,
    /// Per slot: given up after [`STUCK_STARTS_LIMIT`] stuck starts; never refilled.
    given_up: Vec<bool>,
}

/// Runs a pool's manager on the current thread: forks the workers, reports on `ready` whether
/// that worked, then serves until closed or terminated. `alive` is dropped when it returns,
/// which tells every waiting caller that no more answers will come.
pub(crate) fn run(
    mut config: Config,
    poll: Poll,
    commands: Receiver<Command>,
    stats: Arc<Counters>,
    broken: Arc<AtomicBool>,
    ready: Sender<io::Result<()>>,
    alive: Sender<()>,
) {
    // Writing to the pipe of a worker that just died must not kill the process.
    config.spec.signal_mask = sys::block_sigpipe().ok();
    let workers = config.workers;
    let mut manager = Manager {
        poll,
        config,
        commands,
        stats,
        slots: (0..workers).map(|_| None).collect(),
        queue: VecDeque::new(),
        broken,
        closing: false,
        terminating: false,
        stuck_starts: vec![0; workers],
        given_up: vec![false; workers],
    };
    for slot in 0..workers {
        if let Err(e) = manager.start_worker(slot) {
            manager.teardown();
            let _ = ready.send(Err(e));
            return;
        }
    }
    let _ = ready.send(Ok(()));
    manager.serve();
    manager.teardown();
    drop(alive);
}

impl Manager {
    /// The poll loop.
    fn serve(&mut self) {
        let mut events = Events::with_capacity(256);
        while !self.finished() {
            let timeout = self
                .next_deadline()
                .map(|d| Duration::from_nanos(d.saturating_sub(sys::monotonic_ns())));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The poll itself failed: nothing can be watched any more.
                self.break_pool();
                return;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => self.take_commands(),
                    Token(t) => match t % 3 {
                        0 => self.on_answers(t / 3),
                        1 => self.on_writable(t / 3),
                        _ => self.on_exit(t / 3),
                    },
                }
            }
            self.enforce_timeouts();
            self.dispatch();
            self.wind_down();
        }
    }

    /// Whether the pool is broken.
    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Whether the loop is done.
    fn finished(&self) -> bool {
        self.terminating
            || (self.closing && self.queue.is_empty() && self.slots.iter().all(Option::is_none))
    }

    /// Takes every pending command.
    fn take_commands(&mut self) {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Submit(chunks)) => {
                    if self.is_broken() {
                        chunks
                            .into_iter()
                            .for_each(|c| self.settle_unsent(c, TaskError::PoolBroken));
                    } else {
                        self.queue.extend(chunks);
                    }
                }
                Ok(Command::Close) => self.closing = true,
                Ok(Command::Terminate) => self.terminating = true,
                Ok(Command::Pids(reply)) => {
                    let _ = reply.send(self.slots.iter().flatten().map(Worker::pid).collect());
                }
                Err(crossbeam_channel::TryRecvError::Empty) => return,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.terminating = true;
                    return;
                }
            }
        }
    }

    /// Forks a worker into `slot` and registers its descriptors.
    fn start_worker(&mut self, slot: usize) -> io::Result<()> {
        let worker = Worker::start(self.config.spec)?;
        // The slot, not the process, names the lane: a replacement keeps its predecessor's.
        #[cfg(feature = "trace")]
        let worker = match &self.config.recorder {
            Some(recorder) => worker.traced(crate::trace::Tap::new(Arc::clone(recorder), slot)),
            None => worker,
        };
        let (results, tasks, exit) = worker.fds();
        let registry = self.poll.registry();
        let registered = registry
            .register(&mut SourceFd(&results), Token(3 * slot), Interest::READABLE)
            .and_then(|()| match tasks {
                Some(fd) => {
                    registry.register(&mut SourceFd(&fd), Token(3 * slot + 1), Interest::WRITABLE)
                }
                None => Ok(()),
            })
            .and_then(|()| {
                registry.register(
                    &mut SourceFd(&exit),
                    Token(3 * slot + 2),
                    Interest::READABLE,
                )
            });
        stats::add(&self.stats.workers_started, 1);
        self.slots[slot] = Some(worker);
        if let Err(e) = registered {
            if let Some(worker) = self.slots[slot].take() {
                self.forget(&worker);
                worker.kill_and_reap();
            }
            return Err(e);
        }
        Ok(())
    }

    /// Deregisters a worker's descriptors (before they are closed).
    fn forget(&self, worker: &Worker) {
        let (results, tasks, exit) = worker.fds();
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut SourceFd(&results));
        if let Some(fd) = tasks {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
        let _ = registry.deregister(&mut SourceFd(&exit));
    }

    /// Reads a worker's answers and passes them to their callers.
    fn on_answers(&mut self, slot: usize) {
        let Some(worker) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let stats = &self.stats;
        let read = worker.receive(|chunk, result| answer(stats, chunk, result));
        stats::add(&self.stats.bytes_in, read as u64);
    }

    /// Writes more task bytes to a worker whose pipe has room again.
    fn on_writable(&mut self, slot: usize) {
        if let Some(worker) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            let written = worker.flush();
            stats::add(&self.stats.bytes_out, written as u64);
        }
    }

    /// A worker's pidfd is readable: it exited. Settle its chunks and replace it.
    fn on_exit(&mut self, slot: usize) {
        // Answers written before the end are still in the pipe: they count.
        self.on_answers(slot);
        let Some(worker) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(status) = worker.try_reap() else {
            return; // A stale event for this slot's previous worker.
        };
        let Some(worker) = self.slots[slot].take() else {
            return;
        };
        self.forget(&worker);
        let never_started = !worker.started_any();
        let ending = worker.finish(status);
        let stuck = never_started && matches!(ending.cause, Cause::Crashed | Cause::TimedOut);
        if stuck {
            self.stuck_starts[slot] += 1;
            if self.stuck_starts[slot] >= STUCK_STARTS_LIMIT {
                self.given_up[slot] = true;
            }
        } else if !never_started {
            self.stuck_starts[slot] = 0;
        }
        let breaks = match ending.cause {
            Cause::InitializerPanicked => true,
            Cause::Crashed if self.config.policy == CrashPolicy::FailPool => true,
            // No slot left to run the queue: waiting would hang every caller.
            _ => self.given_up.iter().all(|&g| g),
        };
        if breaks {
            // Before any caller hears of this ending: whoever learns of it through its answer
            // finds the pool refusing work already.
            self.broken.store(true, Ordering::Relaxed);
        }
        for (chunk, err) in ending.failed {
            self.fail(chunk, err);
        }
        for chunk in ending.requeue.into_iter().rev() {
            self.queue.push_front(chunk);
        }
        if breaks {
            return self.break_pool();
        }
        let counter = match ending.cause {
            Cause::Shutdown | Cause::InitializerPanicked => return,
            Cause::Retired => &self.stats.replaced_retired,
            Cause::Crashed => &self.stats.replaced_crashed,
            Cause::TimedOut => &self.stats.replaced_timed_out,
        };
        let needed = !self.given_up[slot]
            && !self.is_broken()
            && !self.terminating
            && (!self.closing || !self.queue.is_empty());
        if needed {
            stats::add(counter, 1);
            if self.config.spec.method == StartMethod::Fork {
                // The replacement would inherit, and print again at its exit, whatever partial
                // line the parent printed since (bounded: the lock may be held for ever).
                pool::flush_stdout_before_fork();
            }
            if self.start_worker(slot).is_err() {
                self.break_pool();
            }
        }
    }

    /// The nearest task deadline (monotonic ns).
    fn next_deadline(&self) -> Option<u64> {
        let timeout = self.config.task_timeout?;
        self.slots
            .iter()
            .flatten()
            .filter_map(|w| w.deadline(Some(timeout)))
            .min()
    }

    /// Kills every worker whose current chunk is past its deadline (its pidfd then reports the
    /// exit, and `on_exit` fails the chunk with `TimedOut` and replaces the worker).
    fn enforce_timeouts(&mut self) {
        let Some(timeout) = self.config.task_timeout else {
            return;
        };
        let now = sys::monotonic_ns();
        for worker in self.slots.iter_mut().flatten() {
            if worker.deadline(Some(timeout)).is_some_and(|d| d <= now) {
                worker.kill(crate::worker::KillReason::Timeout);
            }
        }
    }

    /// Sends queued chunks to the least-loaded workers that have room.
    fn dispatch(&mut self) {
        if self.is_broken() {
            return;
        }
        let max_tasks = self.config.max_tasks;
        while !self.queue.is_empty() {
            let best = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, w)| {
                    w.as_ref()
                        .filter(|w| w.has_room(max_tasks))
                        .map(|w| (w.load(), i))
                })
                .min();
            let Some((_, slot)) = best else {
                break;
            };
            let Some(chunk) = self.queue.pop_front() else {
                break;
            };
            if chunk.is_cancelled() {
                self.cancel(chunk);
                continue;
            }
            stats::add(&self.stats.tasks_sent, chunk.len as u64);
            if let Some(worker) = self.slots[slot].as_mut() {
                worker.send(chunk, max_tasks);
            }
        }
        // One write per worker for everything queued in this round.
        for worker in self.slots.iter_mut().flatten() {
            let written = worker.flush();
            stats::add(&self.stats.bytes_out, written as u64);
        }
    }

    /// When closing and nothing is queued, asks every worker to leave after its last chunk.
    fn wind_down(&mut self) {
        if self.closing && self.queue.is_empty() {
            self.slots.iter_mut().flatten().for_each(Worker::leave);
        }
    }

    /// Breaks the pool: every pending chunk fails with `PoolBroken`, every worker is killed.
    fn break_pool(&mut self) {
        self.broken.store(true, Ordering::Relaxed);
        while let Some(chunk) = self.queue.pop_front() {
            self.settle_unsent(chunk, TaskError::PoolBroken);
        }
        let mut lost = Vec::new();
        for worker in self.slots.iter_mut().flatten() {
            lost.extend(worker.abandon());
        }
        lost.into_iter()
            .for_each(|c| self.fail(c, TaskError::PoolBroken));
    }

    /// Kills and reaps every worker; whatever is still pending fails with `PoolClosed`.
    fn teardown(&mut self) {
        // In the order they were submitted: queued, then held by workers, then never taken.
        // Whether each was sent decides whether a dropped result makes it cancelled.
        let mut lost: Vec<(Chunk, bool)> = self.queue.drain(..).map(|c| (c, false)).collect();
        for slot in 0..self.slots.len() {
            if let Some(worker) = self.slots[slot].take() {
                self.forget(&worker);
                lost.extend(worker.kill_and_reap().into_iter().map(|c| (c, true)));
            }
        }
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Submit(chunks) => lost.extend(chunks.into_iter().map(|c| (c, false))),
                Command::Pids(reply) => {
                    let _ = reply.send(Vec::new());
                }
                Command::Close | Command::Terminate => {}
            }
        }
        for (chunk, sent) in lost {
            if sent {
                self.fail(chunk, TaskError::PoolClosed);
            } else {
                self.settle_unsent(chunk, TaskError::PoolClosed);
            }
        }
    }

    /// Answers every task of `chunk` with `err`.
    fn fail(&self, chunk: Chunk, err: TaskError) {
        stats::add(&self.stats.tasks_failed, chunk.len as u64);
        chunk.fail(err);
    }

    /// Settles a chunk no worker has (queued, or never taken from the command channel) that
    /// will not run: cancelled if its result was dropped, otherwise failed with `err`. The one
    /// place, with [`cancel`](Self::cancel), that tells the two apart, so a cancelled chunk
    /// never counts as failed whichever way the pool ends it.
    fn settle_unsent(&self, chunk: Chunk, err: TaskError) {
        if chunk.is_cancelled() {
            self.cancel(chunk);
        } else {
            self.fail(chunk, err);
        }
    }

    /// Drops a chunk whose result was dropped before it was sent (`Future.cancel` on a pending
    /// future): nobody will read its outcome, so it is dropped unsent, which frees its reply
    /// channel, and counted as cancelled, not failed.
    fn cancel(&self, chunk: Chunk) {
        stats::add(&self.stats.tasks_cancelled, chunk.len as u64);
        drop(chunk);
    }
}

/// Passes a worker's answer for `chunk` to its caller, counting outcomes.
fn answer(stats: &Counters, chunk: Chunk, result: Result<(Vec<u8>, Vec<ItemOutcome>), TaskError>) {
    let (done, failed) = match &result {
        Ok((_, items)) => {
            let done = items
                .iter()
                .filter(|i| matches!(i, ItemOutcome::Ok(_)))
                .count();
            (done, items.len() - done)
        }
        Err(_) => (0, chunk.len),
    };
    stats::add(&stats.tasks_done, done as u64);
    stats::add(&stats.tasks_failed, failed as u64);
    let Chunk {
        seq, len, reply, ..
    } = chunk;
    // A caller that stopped listening (a dropped iterator) is not an error.
    let _ = reply.send(ChunkOutcome { seq, len, result });
}
