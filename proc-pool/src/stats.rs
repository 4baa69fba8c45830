//! The pool's counters: written only by the manager thread, read by anyone through
//! [`Pool::stats`](crate::Pool::stats).
//!
//! Invariant: counters only grow. They are independent relaxed atomics, so a snapshot taken
//! while the pool works may mix slightly different instants; after [`join`](crate::Pool::join)
//! it is exact.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Tasks written to workers (a task requeued after its worker died counts again).
    pub tasks_sent: u64,
    /// Tasks a worker answered with a value.
    pub tasks_done: u64,
    /// Tasks that ended with an error the pool knows of (panics, dead or killed workers,
    /// garbled answers, shutdown). Decoding errors of results happen in the caller and are not
    /// counted, nor are cancelled tasks ([`tasks_cancelled`](Self::tasks_cancelled)).
    pub tasks_failed: u64,
    /// Tasks never sent because their [`AsyncResult`](crate::AsyncResult) was dropped while
    /// they waited in the pool's queue, whether the pool then sent the next task, broke or
    /// was torn down. As in `concurrent.futures`, where a cancelled future is not a failed
    /// one, they are not in [`tasks_failed`](Self::tasks_failed). A task whose handle was
    /// dropped after it was sent is not cancelled: it runs, and counts as done or failed.
    pub tasks_cancelled: u64,
    /// Worker processes started, the first ones included.
    pub workers_started: u64,
    /// Workers replaced because they died on their own (signal, abort, exit, garbled answers).
    pub replaced_crashed: u64,
    /// Workers killed and replaced because a task ran past the task timeout.
    pub replaced_timed_out: u64,
    /// Workers retired and replaced after `max_tasks_per_child` tasks.
    pub replaced_retired: u64,
    /// Bytes written to workers (task frames).
    pub bytes_out: u64,
    /// Bytes read from workers (result frames).
    pub bytes_in: u64,
}

/// The live counters behind [`PoolStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// See [`PoolStats::tasks_sent`].
    pub(crate) tasks_sent: AtomicU64,
    /// See [`PoolStats::tasks_done`].
    pub(crate) tasks_done: AtomicU64,
    /// See [`PoolStats::tasks_failed`].
    pub(crate) tasks_failed: AtomicU64,
    /// See [`PoolStats::tasks_cancelled`].
    pub(crate) tasks_cancelled: AtomicU64,
    /// See [`PoolStats::workers_started`].
    pub(crate) workers_started: AtomicU64,
    /// See [`PoolStats::replaced_crashed`].
    pub(crate) replaced_crashed: AtomicU64,
    /// See [`PoolStats::replaced_timed_out`].
    pub(crate) replaced_timed_out: AtomicU64,
    /// See [`PoolStats::replaced_retired`].
    pub(crate) replaced_retired: AtomicU64,
    /// See [`PoolStats::bytes_out`].
    pub(crate) bytes_out: AtomicU64,
    /// See [`PoolStats::bytes_in`].
    pub(crate) bytes_in: AtomicU64,
}

/// Adds `n` to a counter (only the manager thread writes).
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> PoolStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PoolStats {
            tasks_sent: get(&self.tasks_sent),
            tasks_done: get(&self.tasks_done),
            tasks_failed: get(&self.tasks_failed),
            tasks_cancelled: get(&self.tasks_cancelled),
            workers_started: get(&self.workers_started),
            replaced_crashed: get(&self.replaced_crashed),
            replaced_timed_out: get(&self.replaced_timed_out),
            replaced_retired: get(&self.replaced_retired),
            bytes_out: get(&self.bytes_out),
            bytes_in: get(&self.bytes_in),
        }
    }
}
