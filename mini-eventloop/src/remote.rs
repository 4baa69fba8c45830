//! [`Handle`]: spawning onto a loop from other threads, asyncio's
//! `asyncio.run_coroutine_threadsafe(coro, loop)`, and [`RemoteJoinHandle`], the result that
//! thread can await (on any executor) or [`wait`](RemoteJoinHandle::wait) for.
//!
//! Invariants: a remote spawn travels through the same remote queue as a cross-thread wake
//! (as the reserved name `TaskId::SPAWNS`, see `waker.rs`), so it inherits that protocol's
//! guarantee: the loop sees it at its next tick, or is poked out of its poll. A spawn that
//! can no longer run (the runtime is gone, or shuts down before the task finishes) drops the
//! future and its result sender, so the waiting side gets a cancelled [`JoinError`], never
//! a hang.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{Thread, ThreadId};

use crate::runtime::{self, Core};
use crate::sync::oneshot;
use crate::task::JoinError;
use crate::waker::Shared;

/// A `Send + Clone` handle to a [`Runtime`](crate::Runtime) for other threads: spawns `Send`
/// futures onto its loop.
///
/// ```
/// use mini_eventloop::{Runtime, sync::oneshot};
///
/// let rt = Runtime::new().unwrap();
/// let handle = rt.handle();
/// let (done_tx, done_rx) = oneshot::channel();
/// let worker = std::thread::spawn(move || {
///     // Runs on the loop's thread; this thread blocks for the result.
///     let answer = handle.spawn(async { 6 * 7 }).wait();
///     done_tx.send(()).unwrap();
///     answer
/// });
/// rt.block_on(done_rx).unwrap(); // the loop runs until the worker is served
/// assert_eq!(worker.join().unwrap(), Ok(42));
/// ```
#[derive(Clone)]
pub struct Handle {
    /// The runtime's thread-safe part.
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// A handle on `shared`'s runtime.
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// Spawns `future` onto the loop from any thread. It starts at the loop's next tick (the
    /// next `block_on`, if none is running). A panic in it comes back as a [`JoinError`]; if
    /// the runtime is gone, or shuts down first, the result is a cancelled one.
    pub fn spawn<F>(&self, future: F) -> RemoteJoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.shared.spawn_remote(Box::new(move |core: &Core| {
            let mut future = Box::pin(future);
            drop(core.spawn(
                async move {
                    let result = poll_fn(|cx| {
                        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                            Ok(Poll::Pending) => Poll::Pending,
                            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
                            Err(payload) => Poll::Ready(Err(JoinError::panicked(payload))),
                        }
                    })
                    .await;
                    // The waiting side may have given up: then nobody wants the result.
                    let _ = tx.send(result);
                },
                None,
            ));
        }));
        RemoteJoinHandle {
            rx,
            loop_thread: Some(self.shared.owner),
        }
    }
}

/// The result of [`Handle::spawn`] (and of [`spawn_blocking`](crate::spawn_blocking)): a
/// future of `Result<T, JoinError>` that any executor may poll, or
/// [`wait`](RemoteJoinHandle::wait) on a plain thread. Dropping it does not cancel the task.
#[derive(Debug)]
#[must_use = "the result is lost unless awaited or waited for"]
pub struct RemoteJoinHandle<T> {
    /// Where the task sends its result; dropped unsent if the task never finishes.
    rx: oneshot::Receiver<Result<T, JoinError>>,
    /// The thread whose loop must run the task ([`Handle::spawn`]); `None` for a
    /// `spawn_blocking` result, which a helper thread produces.
    loop_thread: Option<ThreadId>,
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_)) => Poll::Ready(Err(JoinError::cancelled())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Unparks the thread that waits in [`RemoteJoinHandle::wait`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<T> RemoteJoinHandle<T> {
    /// The handle of a result that a helper thread sends through `rx` (a dropped sender
    /// means "cancelled").
    pub(crate) fn new(rx: oneshot::Receiver<Result<T, JoinError>>) -> Self {
        RemoteJoinHandle {
            rx,
            loop_thread: None,
        }
    }

    /// Blocks this thread until the task finishes: `concurrent.futures.Future.result()`.
    /// A result already there (or a runtime already gone, which means "cancelled") is
    /// returned at once, on any thread.
    ///
    /// # Panics
    ///
    /// If it would have to block on a thread that is running a runtime of this crate (inside
    /// `block_on`): that would stop the loop. And if it would have to block on the thread
    /// that owns the runtime the task was spawned on ([`Handle::spawn`]), even between two
    /// `block_on` calls: only that thread can run the task, so it would deadlock.
    #[track_caller]
    pub fn wait(mut self) -> Result<T, JoinError> {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        if let Poll::Ready(result) = Pin::new(&mut self).poll(&mut cx) {
            return result;
        }
        assert!(
            runtime::current().is_none(),
            "RemoteJoinHandle::wait called on a thread running a mini-eventloop runtime: \
             .await the handle there instead"
        );
        assert!(
            self.loop_thread != Some(std::thread::current().id()),
            "RemoteJoinHandle::wait called on the runtime's own thread: only this thread can \
             run the task, so it would wait forever; run it with Runtime::block_on(handle)"
        );
        loop {
            if let Poll::Ready(result) = Pin::new(&mut self).poll(&mut cx) {
                return result;
            }
            // A wake between the poll and here leaves the token set: `park` returns at once.
            std::thread::park();
        }
    }
}
