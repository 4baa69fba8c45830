//! `spawn_blocking`: runs blocking closures on a bounded pool of helper threads (asyncio's
//! `loop.run_in_executor(None, f)`), with the result coming back as a future.
//!
//! Invariants:
//! - The pool (`blocking_pool.rs`) never queues a job behind another while a thread could run
//!   it, and keeps at most `blocking_threads` helpers.
//! - The loop never waits for a helper: the result travels through a
//!   [`oneshot`](crate::sync::oneshot) whose sender wakes the task remotely.
//! - When the runtime is dropped the queue closes: closures not yet started are dropped (their
//!   handles report a cancelled [`JoinError`]); helpers finish their current closure and exit.
//!   Nobody joins them, so a closure that never returns cannot hang the runtime's drop.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::blocking_pool::Job;

use crate::runtime::{bump, current};
use crate::sync::oneshot;

use crate::remote::RemoteJoinHandle;
use crate::task::JoinError;

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
