//! A spawned task: its future and, once finished, its output, in one allocation; and the
//! [`JoinHandle`] that awaits it.
//!
//! Invariant: the future is polled only by the loop (through [`Runnable::poll_task`]) and is
//! dropped in place, on the loop thread, exactly once: when it completes, panics, is aborted,
//! or the runtime shuts down. The output is stored in the same cell until the handle takes it
//! (or the task is dropped with no handle left, which detaches it).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

pub use crate::join_error::JoinError;
use crate::waiters::WakerSlot;
use crate::waker::TaskWaker;

/// Wakes the handle's awaiter, if any (a foreign waker's panic is contained: `contain.rs`).
fn wake(joiner: Option<Waker>) {
    if let Some(w) = joiner {
        crate::contain::wake(w);
    }
}

/// What the loop sees of a task, whatever its future type.
pub(crate) trait Runnable {
    /// Polls the future once (or drops it, if the task was aborted); true when finished.
    fn poll_task(&self) -> bool;
    /// Drops the future in place (shutdown), recording `Cancelled`; a no-op when finished.
    fn cancel(&self);
}

/// The type-independent part of a task. Kept small on purpose (it is paid once per live
/// task): the task's name in the slab is known to whoever holds it, and `spawn_named` names
/// live in a side table of the runtime.
pub(crate) struct Header {
    /// This task's waker, created once at spawn; every poll lends a `Waker` of it to the
    /// future. Held as the `Arc` (8 bytes) rather than a `Waker` (16): one reference-count
    /// increment per poll buys 8 bytes per live task, which 100,000 sleeping tasks notice.
    pub(crate) waker: Arc<TaskWaker>,
    /// Set by [`JoinHandle::abort`]; the loop drops the future the next time it runs it.
    pub(crate) aborted: Cell<bool>,
    /// Set once the output (or error) is stored.
    pub(crate) finished: Cell<bool>,
    /// Whoever awaits the [`JoinHandle`]: one handle, so one slot (see `waiters.rs`).
    pub(crate) joiner: WakerSlot,
}

/// A task's life: running, then finished with its output until the handle takes it.
enum Stage<F: Future> {
    /// The future, pinned in place inside the task's `Rc`.
    Running(F),
    /// The result, waiting for the handle.
    Finished(Result<F::Output, JoinError>),
    /// The handle took the result.
    Consumed,
}

/// A task: header plus stage. Lives in an `Rc` that the slab and the handle share.
pub(crate) struct Task<F: Future> {
    /// Fixed data.
    header: Header,
    /// The future or its output. Borrowed mutably only while the loop polls or drops it.
    stage: RefCell<Stage<F>>,
}

impl<F: Future> Task<F> {
    /// A new, running task.
    pub(crate) fn new(header: Header, future: F) -> Self {
        Self {
            header,
            stage: RefCell::new(Stage::Running(future)),
        }
    }

    /// Stores the result (dropping the future in place) and returns the handle's awaiter, to
    /// be woken once the stage is no longer borrowed.
    #[must_use]
    fn finish(&self, stage: &mut Stage<F>, result: Result<F::Output, JoinError>) -> Option<Waker> {
        // Assignment drops the old `Running(F)` in place, which `Pin` allows. A panicking
        // destructor is caught so it cannot unwind into the loop; the output it would have
        // gone with is then dropped under the same rule (its destructor may panic too).
        let drop_result = catch_unwind(AssertUnwindSafe(|| {
            *stage = Stage::Consumed;
        }));
        *stage = Stage::Finished(match drop_result {
            Ok(()) => result,
            Err(payload) => {
                crate::contain::contain(move || drop(result));
                Err(JoinError::panicked(payload))
            }
        });
        self.header.finished.set(true);
        self.header.joiner.take()
    }
}

impl<F: Future> Runnable for Task<F> {
    fn poll_task(&self) -> bool {
        let mut stage = self.stage.borrow_mut();
        let future = match &mut *stage {
            Stage::Running(f) => f,
            Stage::Finished(_) | Stage::Consumed => return true,
        };
        if self.header.aborted.get() {
            let joiner = self.finish(&mut stage, Err(JoinError::cancelled()));
            drop(stage);
            wake(joiner);
            return true;
        }
        // SAFETY: the future lives inside this task's `Rc` allocation and is never moved out
        // of it: the stage is only ever assigned to (which drops the future in place) and the
        // `Rc` is never unwrapped. So the pinning guarantee (no move until dropped) holds.
        let future = unsafe { Pin::new_unchecked(future) };
        let waker = Waker::from(self.header.waker.clone());
        let mut cx = Context::from_waker(&waker);
        let result = match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
            Ok(Poll::Pending) => return false,
            Ok(Poll::Ready(out)) => Ok(out),
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        let joiner = self.finish(&mut stage, result);
        drop(stage);
        wake(joiner);
        true
    }

    fn cancel(&self) {
        let mut stage = self.stage.borrow_mut();
        if matches!(&*stage, Stage::Running(_)) {
            let joiner = self.finish(&mut stage, Err(JoinError::cancelled()));
            drop(stage);
            wake(joiner);
        }
    }
}

/// What a [`JoinHandle`] sees of its task.
pub(crate) trait JoinTarget<T> {
    /// The header (abort flag, finished flag, join waker).
    fn header(&self) -> &Header;
    /// Takes the result if the task has finished; `Err(())` if it was already taken.
    #[allow(clippy::result_unit_err)]
    fn take_result(&self) -> Result<Option<Result<T, JoinError>>, ()>;
}

impl<F: Future> JoinTarget<F::Output> for Task<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn take_result(&self) -> Result<Option<Result<F::Output, JoinError>>, ()> {
        // A task awaiting its own handle finds its stage borrowed: it can never finish.
        let Ok(mut stage) = self.stage.try_borrow_mut() else {
            return Ok(None);
        };
        match &*stage {
            Stage::Finished(_) => match std::mem::replace(&mut *stage, Stage::Consumed) {
                Stage::Finished(r) => Ok(Some(r)),
                _ => Ok(None),
            },
            // `Consumed` with the finished flag set: the handle already took the result
            // (while the task finishes, the stage is `Consumed` only inside `finish`).
            Stage::Consumed if self.header.finished.get() => Err(()),
            Stage::Running(_) | Stage::Consumed => Ok(None),
        }
    }
}

/// An owned permission to await a spawned task's result: a future of `Result<T, JoinError>`.
///
/// Dropping the handle detaches the task: it keeps running and its output is dropped when it
/// finishes. Polling the handle again after it returned the result panics (as tokio's does),
/// rather than staying pending forever; so does awaiting an unfinished task's handle under
/// another runtime (or outside any), where the task cannot run (asyncio raises "attached to
/// a different loop"). A finished task's result can be taken anywhere.
pub struct JoinHandle<T> {
    /// The task, shared with the slab while it runs.
    task: Rc<dyn JoinTarget<T>>,
}

impl<T> JoinHandle<T> {
    /// Wraps a spawned task.
    pub(crate) fn new(task: Rc<dyn JoinTarget<T>>) -> Self {
        Self { task }
    }

    /// Asks the loop to drop the task's future at its next turn; awaiting the handle then
    /// gives a cancelled [`JoinError`] (unless the task had already finished).
    ///
    /// Safe to call from inside the task itself: the future is dropped after its current poll.
    pub fn abort(&self) {
        let header = self.task.header();
        if header.finished.get() || header.aborted.replace(true) {
            return;
        }
        Wake::wake_by_ref(&header.waker);
    }

    /// True once the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.header().finished.get()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.task.take_result() {
            Ok(Some(result)) => return Poll::Ready(result),
            Ok(None) => {}
            Err(()) => panic!(
                "mini_eventloop::JoinHandle polled after it returned the task's result: a \
                 handle gives its result once"
            ),
        }
        let header = self.task.header();
        // Waiting makes sense only where the task can run; elsewhere it would pend forever.
        assert!(
            crate::runtime::may_be_running(&header.waker.shared),
            "mini_eventloop::JoinHandle awaited under another runtime (or outside any): its \
             task runs only on the runtime that spawned it; await it in that runtime's block_on"
        );
        drop(header.joiner.register(cx.waker()));
        Poll::Pending
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // The awaiter is gone: its waker must not outlive it in the task.
        drop(self.task.header().joiner.take());
    }
}

/// Gives the other tasks (and I/O) a turn: the task is put at the back of the ready queue.
///
/// asyncio: `await asyncio.sleep(0)`.
///
/// ```
/// let rt = mini_eventloop::Runtime::new().unwrap();
/// rt.block_on(async { mini_eventloop::yield_now().await });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    /// Whether the first poll (the one that yields) has happened.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
