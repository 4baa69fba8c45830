//! Loop statistics: what the loop did, as plain counters, plus the slow-poll log.
//!
//! Invariant: counters only grow (except `tasks_alive` and `timers_pending`, which are
//! gauges); all but the remote-wake counters are written by the loop thread alone.

use std::cell::Cell;
use std::time::Duration;

/// A snapshot of a runtime's counters; see [`Runtime::stats`](crate::Runtime::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Tasks spawned since the runtime was built.
    pub tasks_spawned: u64,
    /// Tasks spawned and not yet finished.
    pub tasks_alive: u64,
    /// Task polls (the `block_on` future not included).
    pub polls: u64,
    /// Wakes that happened on the loop thread (no atomics, no syscall).
    pub local_wakes: u64,
    /// Wakes that came from other threads through the remote queue.
    pub remote_wakes: u64,
    /// Remote wakes that had to interrupt a sleeping poll through `mio::Waker`.
    pub remote_pokes: u64,
    /// Events returned by `mio::Poll::poll` (sockets, the waker and the timerfd).
    pub io_events: u64,
    /// Timers that reached their deadline.
    pub timers_fired: u64,
    /// Timers registered and not yet fired or cancelled.
    pub timers_pending: u64,
    /// Turns of the loop (one `mio::Poll::poll` each).
    pub loop_iterations: u64,
    /// Task polls that took at least the slow-poll threshold.
    pub slow_polls: u64,
    /// `accept` system calls made by listeners.
    pub accept_attempts: u64,
    /// Times a listener parked on its back-off timer after `EMFILE`/`ENFILE`.
    pub accept_backoffs: u64,
    /// Closures handed to the blocking pool.
    pub blocking_spawned: u64,
}

/// A task poll that took at least the slow-poll threshold: asyncio debug mode's "Executing
/// <Task ...> took 0.250 seconds". Cooperative loops die by blocking calls; this finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowPoll {
    /// The task's name, if it was spawned with [`spawn_named`](crate::spawn_named).
    pub task: Option<String>,
    /// How long the poll ran.
    pub took: Duration,
}

/// Counters written by the loop thread only (remote wakes are counted in `waker::Shared`).
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
