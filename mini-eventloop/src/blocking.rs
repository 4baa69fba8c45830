//! `spawn_blocking`: runs blocking closures on a bounded pool of helper threads (asyncio's
//! `loop.run_in_executor(None, f)`), with the result coming back as a future.
//!
//! Invariants:
//! - **No job waits behind another while a thread could run it.** Every hand-off is decided
//!   under the pool's one mutex: a job is queued, and a helper is started unless the helpers
//!   already waiting outnumber the jobs queued. A waiting helper stops counting as waiting
//!   only when it takes a job, under the same mutex, so two jobs submitted back to back can
//!   never both be promised to the one idle helper (an earlier version counted idle helpers
//!   in an atomic that dropped only once a helper woke, and queued such jobs behind each
//!   other: a job waiting for the next one hung).
//! - At most `blocking_threads` helpers exist.
//! - The loop never waits for a helper: the result travels through a
//!   [`oneshot`](crate::sync::oneshot) whose sender wakes the task remotely.
//! - When the runtime is dropped the queue closes: closures not yet started are dropped (their
//!   handles report a cancelled [`JoinError`]); helpers finish their current closure and exit.
//!   Nobody joins them, so a closure that never returns cannot hang the runtime's drop.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::runtime::{bump, current};
use crate::sync::oneshot;

use crate::remote::RemoteJoinHandle;
use crate::task::JoinError;

/// A queued closure.
type Job = Box<dyn FnOnce() + Send>;

/// What the pool's mutex guards.
#[derive(Default)]
struct PoolState {
    /// Jobs not yet taken by a helper.
    queue: VecDeque<Job>,
    /// Helpers blocked in the condition variable, waiting for a job.
    waiting: usize,
    /// Helpers started and not exited (or being started).
    threads: usize,
    /// Set at shutdown: no more jobs; helpers exit.
    closed: bool,
}

/// The part the helpers share.
#[derive(Default)]
struct PoolShared {
    /// The state; written by the loop (submit, shutdown) and by helpers.
    state: Mutex<PoolState>,
    /// Signalled once per queued job, and for everyone at shutdown.
    work: Condvar,
}

impl PoolShared {
    /// Locks the state, recovering from poisoning (no critical section here runs user code).
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The helper threads of one runtime.
pub(crate) struct BlockingPool {
    /// The most helpers.
    max_threads: usize,
    /// Queue and counts, shared with the helpers.
    shared: Arc<PoolShared>,
}

impl BlockingPool {
    /// A pool that starts no thread until the first job.
    pub(crate) fn new(max_threads: usize) -> Self {
        Self {
            max_threads,
            shared: Arc::default(),
        }
    }

    /// Queues `job`, starting a helper unless enough are waiting and the bound allows. If the
    /// pool is shut down, or no helper exists and none can be started, the job is dropped
    /// (its handle then reports `Cancelled`).
    fn submit(&self, job: Job) {
        let start_helper = {
            let mut s = self.shared.lock();
            if s.closed {
                drop(s);
                drop(job);
                return;
            }
            s.queue.push_back(job);
            // Waiting helpers each take one queued job; a job beyond them needs a new thread.
            let start = s.queue.len() > s.waiting && s.threads < self.max_threads;
            if start {
                s.threads += 1;
            } else {
                self.shared.work.notify_one();
            }
            start
        };
        if !start_helper {
            return;
        }
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("mini-eventloop-blocking".into())
            .spawn(move || helper(&shared));
        if spawned.is_err() {
            let orphans = {
                let mut s = self.shared.lock();
                s.threads -= 1;
                // With no helper at all, nobody would ever run the queue: drop it, so every
                // handle reports `Cancelled` instead of hanging.
                if s.threads == 0 {
                    std::mem::take(&mut s.queue)
                } else {
                    VecDeque::new()
                }
            };
            drop(orphans);
        }
    }

    /// Closes the queue: closures not yet started are dropped (outside the lock: dropping one
    /// drops its result sender, which wakes a task); helpers exit after their current one.
    pub(crate) fn shutdown(&self) {
        let orphans = {
            let mut s = self.shared.lock();
            s.closed = true;
            std::mem::take(&mut s.queue)
        };
        self.shared.work.notify_all();
        drop(orphans);
    }
}

/// A helper thread's life: take a job, run it, repeat until the pool closes.
fn helper(shared: &PoolShared) {
    let mut s = shared.lock();
    loop {
        if let Some(job) = s.queue.pop_front() {
            drop(s);
            job();
            s = shared.lock();
        } else if s.closed {
            s.threads -= 1;
            return;
        } else {
            s.waiting += 1;
            s = shared.work.wait(s).unwrap_or_else(|p| p.into_inner());
            s.waiting -= 1;
        }
    }
}

/// Runs `f` on a helper thread and resolves to its result: asyncio's
/// `await loop.run_in_executor(None, f)`. A panic in `f` comes back as
/// a [`JoinError`] holding its payload ([`JoinError::is_panic`]); if the runtime shuts down
/// first, a cancelled one ([`JoinError::is_cancelled`]).
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// let rt = mini_eventloop::Runtime::new().unwrap();
/// let n = rt.block_on(async { mini_eventloop::spawn_blocking(|| 6 * 7).await }).unwrap();
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let core = current().unwrap_or_else(|| {
        panic!("mini_eventloop::spawn_blocking called outside a runtime: call it inside block_on")
    });
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panicked);
        // The receiver may be gone (the awaiting task was dropped): then nobody wants it.
        let _ = tx.send(result);
    });
    bump(&core.counters.blocking_spawned);
    // If the job could not be queued it is dropped with its sender, so the handle reports
    // Cancelled.
    core.blocking.submit(job);
    RemoteJoinHandle::new(rx)
}

/// The future of [`spawn_blocking`]: the same result handle as a [`Handle`](crate::Handle)'s
/// spawn (a result coming back from another thread through a oneshot), so it can also be
/// [`wait`](RemoteJoinHandle::wait)ed for on a plain thread.
pub type BlockingHandle<T> = RemoteJoinHandle<T>;
