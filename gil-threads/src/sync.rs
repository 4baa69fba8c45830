//! The one door to synchronisation primitives: every `Mutex`, `Condvar` and atomic the crate
//! uses comes from here, so that `--cfg gil_threads_loom` swaps them all for `loom`'s models.
//!
//! Invariant: no module names `std::sync::{Mutex, Condvar}`, `std::sync::atomic` or
//! `std::thread::park` directly, except for the process-wide id counters below, which only
//! hand out unique numbers and carry no happens-before edge anybody relies on (and must be
//! `static`, which loom's types cannot be). `Arc` is std's everywhere: reference counting is
//! not part of any protocol the model checks. The waker slot behind the thread and task
//! handles' futures (`waker.rs`) is `concurrency-shared`'s, with its own std lock and its own
//! race tests: it links a handle to an outside executor, not to the GIL, so the model leaves it
//! out. Channels (`crossbeam-channel`, used by `Queue`
//! and the executor) are not modelled; the loom model covers the GIL core.
//!
//! Two helpers hide what the two worlds do differently:
//!
//! - [`lock`] and [`wait`] recover a poisoned mutex: the GIL's own critical sections never run
//!   user code, and the primitives built on this module keep their state consistent at every
//!   unlock, so a panic elsewhere must not turn into a second panic here.
//! - [`wait_interval`] is the **switch-interval clock**. With std it is a real timed wait. loom's
//!   timed waits never time out, so under loom the clock is explicit: the state guarded by the
//!   mutex carries an [`IntervalClock`] whose ticks a model test advances by hand, and a wait
//!   "timed out" exactly when a tick happened while it slept.

use std::sync::PoisonError;
use std::time::Duration;

#[cfg(not(gil_threads_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
#[cfg(not(gil_threads_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(gil_threads_loom))]
pub(crate) use std::thread::{Thread, current as current_thread};

#[cfg(gil_threads_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
#[cfg(gil_threads_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(gil_threads_loom)]
pub(crate) use loom::thread::{Thread, current as current_thread};

/// Process-wide counters that only hand out ids (see the module docs for why they are std).
pub(crate) mod ids {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// The next thread key; 0 is never handed out.
    static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
    /// The next interpreter id; 0 is never handed out.
    static NEXT_INTERPRETER: AtomicU64 = AtomicU64::new(1);

    /// A fresh, process-unique thread key.
    pub(crate) fn thread() -> u64 {
        NEXT_THREAD.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh, process-unique interpreter id.
    pub(crate) fn interpreter() -> u64 {
        NEXT_INTERPRETER.fetch_add(1, Ordering::Relaxed)
    }
}

/// Locks `m`, recovering the data if a previous holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv`, recovering the data if a previous holder panicked.
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` for at most `d` (a user-facing timeout: a primitive's `*_timeout` method).
/// Returns the guard and whether the wait timed out. Under loom it never times out.
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    d: Duration,
) -> (MutexGuard<'a, T>, bool) {
    let (guard, result) = cv
        .wait_timeout(guard, d)
        .unwrap_or_else(PoisonError::into_inner);
    (guard, result.timed_out())
}

/// The clock that says when a switch interval has passed. Empty with std (the OS clock is the
/// clock); under loom, a tick count that a model advances with `GilCore::tick`.
#[derive(Debug, Default)]
pub(crate) struct IntervalClock {
    /// How many times the model advanced the clock; a waiter that sees it change "timed out".
    #[cfg(gil_threads_loom)]
    pub(crate) ticks: u64,
}

/// State guarded by a mutex that carries an [`IntervalClock`].
pub(crate) trait Clocked {
    /// The clock inside the guarded state.
    #[cfg_attr(not(gil_threads_loom), allow(dead_code))]
    fn clock(&self) -> &IntervalClock;
}

/// Parks the calling thread until `done()` holds or one switch interval has passed (a
/// direct hand-off's wait: the waker sets a flag and unparks, without any mutex). Returns
/// whether `done()` held. An interval too long for an `Instant` (a caller's
/// `Duration::MAX`) parks without a deadline. Under loom it parks once (the modelled clock is
/// checked by the caller under its mutex), so it may return early; callers loop.
pub(crate) fn park_interval(interval: Duration, done: impl Fn() -> bool) -> bool {
    #[cfg(not(gil_threads_loom))]
    {
        let deadline = concurrency_shared::deadline_after(interval);
        loop {
            if done() {
                return true;
            }
            match concurrency_shared::remaining(deadline) {
                None => std::thread::park(),
                Some(left) if left.is_zero() => return false,
                Some(left) => std::thread::park_timeout(left),
            }
        }
    }
    #[cfg(gil_threads_loom)]
    {
        let _ = interval;
        if !done() {
            loom::thread::park();
        }
        done()
    }
}

/// Waits on `cv` for one switch interval. Returns the guard and whether the interval elapsed
/// (the wait timed out) rather than the waiter being notified.
pub(crate) fn wait_interval<'a, T: Clocked>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    interval: Duration,
) -> (MutexGuard<'a, T>, bool) {
    #[cfg(not(gil_threads_loom))]
    {
        match concurrency_shared::deadline_after(interval) {
            // Too long for an `Instant`: no interval ever elapses.
            None => (wait(cv, guard), false),
            Some(_) => wait_timeout(cv, guard, interval),
        }
    }
    #[cfg(gil_threads_loom)]
    {
        let _ = interval;
        let before = guard.clock().ticks;
        let guard = wait(cv, guard);
        let timed_out = guard.clock().ticks != before;
        (guard, timed_out)
    }
}
