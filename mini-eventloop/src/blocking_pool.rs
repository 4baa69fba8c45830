//! The `spawn_blocking` thread pool: a queue of closures and at most `max_threads` helper
//! threads that run them.
//!
//! Invariants:
//! - **No job waits behind another while a thread could run it.** Every hand-off is decided
//!   under the pool's one mutex: a job is queued, and a helper is started unless the helpers
//!   already waiting outnumber the jobs queued. A waiting helper stops counting as waiting
//!   only when it wakes, under the same mutex, and every queued job that a waiting helper is
//!   counted for was also signalled, so two jobs submitted back to back can never both be
//!   promised to the one idle helper (an earlier version counted idle helpers in an atomic
//!   that dropped only once a helper woke, and queued such jobs behind each other: a job
//!   waiting for the next one hung). `tests/loom_blocking.rs` checks this in every
//!   interleaving.
//! - At most `max_threads` helpers exist, and `threads` counts exactly the helpers alive: a
//!   helper never unwinds (each job runs contained, see `contain.rs`).
//! - After [`BlockingPool::shutdown`] no job is taken: the queued ones are dropped; helpers
//!   finish their current job and exit. Nobody joins them, so a job that never returns cannot
//!   hang a shutdown.
//!
//! The synchronisation goes through `crate::shim`, so the loom model compiles this very file
//! against loom's types (as it does `wake_state.rs`).

use std::collections::VecDeque;

use crate::shim::{Arc, Condvar, Mutex, MutexGuard, thread};

/// A queued closure.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

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
struct PoolShared {
    /// The state; written by the loop (submit, shutdown) and by helpers.
    state: Mutex<PoolState>,
    /// Signalled once per queued job, and for everyone at shutdown.
    work: Condvar,
}

impl PoolShared {
    /// An empty queue, no helper.
    fn new() -> Self {
        Self {
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
        }
    }

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
            shared: Arc::new(PoolShared::new()),
        }
    }

    /// Queues `job`, starting a helper unless enough are waiting and the bound allows. If the
    /// pool is shut down, or no helper exists and none can be started, the job is dropped
    /// (its handle then reports `Cancelled`).
    pub(crate) fn submit(&self, job: Job) {
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
        let spawned = thread::Builder::new()
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
            drop_jobs(orphans);
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
        drop_jobs(orphans);
    }
}

/// Drops unstarted jobs, each on its own: a job's captured values are user code whose
/// destructor may panic, which must not stop the others' handles from hearing "cancelled"
/// (`contain.rs`).
fn drop_jobs(jobs: VecDeque<Job>) {
    for job in jobs {
        crate::contain::contain(move || drop(job));
    }
}

/// A helper thread's life: take a job, run it, repeat until the pool closes.
fn helper(shared: &PoolShared) {
    let mut s = shared.lock();
    loop {
        if let Some(job) = s.queue.pop_front() {
            drop(s);
            // Contained (`contain.rs`): a panic here, say in the destructor of a result
            // nobody awaits, must not end this thread without its count in `threads`, or the
            // pool would wait for a helper that no longer exists.
            crate::contain::contain(job);
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
