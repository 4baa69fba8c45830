//! `spawn_blocking`: runs blocking closures on a bounded pool of helper threads (asyncio's
//! `loop.run_in_executor(None, f)`), with the result coming back as a future.
//!
//! Invariants: at most `blocking_threads` helpers exist; a helper is started only when a job
//! is queued and no helper is idle; the loop never waits for a helper (the result travels
//! through a [`oneshot`](crate::sync::oneshot) whose sender wakes the task remotely). When the
//! runtime is dropped the queue closes: helpers finish their current closure and exit; nobody
//! joins them, so a closure that never returns cannot hang the runtime's drop.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use crossbeam_channel::{Receiver, Sender};

use crate::runtime::{bump, current};
use crate::sync::oneshot;
use concurrency_shared::panic_message;

use crate::task::JoinError;

/// A queued closure.
type Job = Box<dyn FnOnce() + Send>;

/// The helper threads of one runtime.
pub(crate) struct BlockingPool {
    /// The most helpers.
    max_threads: usize,
    /// Helpers started so far.
    started: Cell<usize>,
    /// Helpers waiting for work (written by helpers, read by the loop).
    idle: Arc<AtomicUsize>,
    /// The queue's sending end; `None` after shutdown or before the first job.
    queue: RefCell<Option<(Sender<Job>, Receiver<Job>)>>,
}

impl BlockingPool {
    /// A pool that starts no thread until the first job.
    pub(crate) fn new(max_threads: usize) -> Self {
        Self {
            max_threads,
            started: Cell::new(0),
            idle: Arc::new(AtomicUsize::new(0)),
            queue: RefCell::new(Some(crossbeam_channel::unbounded())),
        }
    }

    /// Queues `job`, starting a helper if none is idle and the bound allows. Returns false if
    /// the pool is shut down or no helper could be started and none exists.
    fn submit(&self, job: Job) -> bool {
        let queue = self.queue.borrow();
        let Some((tx, rx)) = &*queue else {
            return false;
        };
        if self.idle.load(Ordering::Acquire) == 0 && self.started.get() < self.max_threads {
            let rx = rx.clone();
            let idle = self.idle.clone();
            let spawned = std::thread::Builder::new()
                .name("mini-eventloop-blocking".into())
                .spawn(move || helper(rx, idle));
            if spawned.is_ok() {
                self.started.set(self.started.get() + 1);
            }
        }
        if self.started.get() == 0 {
            return false;
        }
        tx.send(job).is_ok()
    }

    /// Closes the queue; helpers exit after their current closure.
    pub(crate) fn shutdown(&self) {
        self.queue.borrow_mut().take();
    }
}

/// A helper thread's life: take a closure, run it, repeat until the queue closes.
fn helper(rx: Receiver<Job>, idle: Arc<AtomicUsize>) {
    loop {
        idle.fetch_add(1, Ordering::AcqRel);
        let job = rx.recv();
        idle.fetch_sub(1, Ordering::AcqRel);
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Runs `f` on a helper thread and resolves to its result: asyncio's
/// `await loop.run_in_executor(None, f)`. A panic in `f` comes back as
/// [`JoinError::Panicked`]; if the runtime shuts down first, [`JoinError::Cancelled`].
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
        let result = catch_unwind(AssertUnwindSafe(f))
            .map_err(|payload| JoinError::Panicked(panic_message(&*payload)));
        // The receiver may be gone (the awaiting task was dropped): then nobody wants it.
        let _ = tx.send(result);
    });
    bump(&core.counters.blocking_spawned);
    // If the job could not be queued its sender is dropped, so the receiver reports Cancelled.
    core.blocking.submit(job);
    BlockingHandle { rx }
}

/// The future of [`spawn_blocking`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct BlockingHandle<T> {
    /// Where the helper sends the result.
    rx: oneshot::Receiver<Result<T, JoinError>>,
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_)) => Poll::Ready(Err(JoinError::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}
