//! Waiting for answers: [`AsyncResult`] (one task's future value) and the receive step every
//! call uses.
//!
//! Invariant: a wait ends. Every chunk carries a clone of its caller's reply sender, and
//! the manager answers every chunk it holds before it ends; a chunk it never took (still in
//! the command channel when the manager ended) is dropped with that channel, dropping its
//! sender. So a caller that holds no sender itself (`apply`, `map`, an [`AsyncResult`]) can
//! just wait on its reply channel: it gets the answer or a disconnection, reported as
//! [`TaskError::PoolClosed`]. A caller that keeps a sender to make more chunks (`imap`) also
//! watches the manager's liveness link, which disconnects when the manager thread ends.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, TryRecvError};

use crate::Wire;
use crate::error::TaskError;
use crate::notify::Notify;
use crate::task::{ChunkOutcome, decode_outcome};

/// What a receive found.
pub(crate) enum Received {
    /// A chunk's outcome.
    Outcome(ChunkOutcome),
    /// The manager is gone and nothing more will come.
    Lost,
    /// The deadline passed first.
    Timeout,
}

/// Waits for the next outcome on `rx`, until `deadline` if given. With `alive` (for callers
/// that hold a sender of `rx` themselves), also gives up when the manager is gone and `rx` is
/// empty.
pub(crate) fn receive(
    rx: &Receiver<ChunkOutcome>,
    alive: Option<&Receiver<()>>,
    deadline: Option<Instant>,
) -> Received {
    let Some(alive) = alive else {
        let received = match deadline {
            Some(deadline) => rx.recv_deadline(deadline).map_err(|e| e.is_timeout()),
            None => rx.recv().map_err(|_| false),
        };
        return match received {
            Ok(outcome) => Received::Outcome(outcome),
            Err(true) => Received::Timeout,
            Err(false) => Received::Lost,
        };
    };
    if let Ok(outcome) = rx.try_recv() {
        return Received::Outcome(outcome);
    }
    let mut select = Select::new();
    let on_reply = select.recv(rx);
    select.recv(alive);
    let op = match deadline {
        Some(deadline) => match select.select_deadline(deadline) {
            Ok(op) => op,
            Err(_) => return Received::Timeout,
        },
        None => select.select(),
    };
    if op.index() == on_reply {
        return match op.recv(rx) {
            Ok(outcome) => Received::Outcome(outcome),
            Err(_) => Received::Lost,
        };
    }
    // The manager ended; it answered everything it knew of before, so look once more.
    let _ = op.recv(alive);
    match rx.try_recv() {
        Ok(outcome) => Received::Outcome(outcome),
        Err(_) => Received::Lost,
    }
}

/// The pending result of [`Pool::apply_async`](crate::Pool::apply_async) or
/// [`Pool::run_async`](crate::Pool::run_async), like Python's `AsyncResult`, and a
/// [`Future`] that any executor can await (tokio, smol, mini-eventloop): the pool's manager
/// thread wakes it when the answer arrives.
///
/// Dropping it before its task was sent to a worker cancels the task, as
/// `concurrent.futures.Future.cancel` does for a pending one: the task never runs. A task
/// already sent runs to the end and its result is discarded. A dropped handle whose task
/// already ran changes nothing.
///
/// As a future, it resolves once; polling it again after it returned `Ready` panics (with
/// "AsyncResult polled after completion"), as most futures do. After that it stays
/// [`ready`](Self::ready), and [`get`](Self::get) returns [`TaskError::Taken`] at once: the
/// value went to the poll. In a process forked from the one that made it, it resolves at once
/// to [`TaskError::PoolBroken`], as [`get`](Self::get).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = proc_pool::Pool::new(1)?;
/// let rt = mini_eventloop::Runtime::new()?;
/// let squares = rt.block_on(async {
///     let pending: Vec<_> = (0..4).map(|x| pool.apply_async(square, x)).collect();
///     let mut out = Vec::new();
///     for result in pending {
///         out.push(result.await);
///     }
///     out
/// });
/// assert_eq!(squares, vec![Ok(0), Ok(1), Ok(4), Ok(9)]);
/// # Ok(())
/// # }
/// ```
///
/// Waiting from a thread:
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = proc_pool::Pool::new(1)?;
/// let pending = pool.apply_async(square, 7);
/// match pending.get_timeout(Duration::from_secs(60)) {
///     Ok(result) => assert_eq!(result?, 49),
///     Err(_still_pending) => unreachable!("a square takes less than a minute"),
/// }
/// # Ok(())
/// # }
/// ```
#[must_use = "the task runs anyway; get() is how to learn its result"]
pub struct AsyncResult<U> {
    /// Where the task's single outcome arrives.
    rx: Receiver<ChunkOutcome>,
    /// Disconnects when the pool's manager ends (for [`ready`](Self::ready)).
    alive: Receiver<()>,
    /// The process that made it: in a process forked from it, the answer goes to the owner's
    /// copy and never arrives here, so waiting would hang.
    owner: u32,
    /// The waker slot and cancel flag shared with the chunk; `None` for the handle
    /// [`Pool::apply`](crate::Pool::apply) makes only to block on.
    notify: Option<Arc<Notify>>,
    /// Set once the future returned `Ready`: the outcome was taken by the poll.
    done: bool,
    /// The result type.
    _result: PhantomData<fn() -> U>,
}

impl<U: Wire> AsyncResult<U> {
    /// Wraps the reply channel of a one-task chunk.
    pub(crate) fn new(
        rx: Receiver<ChunkOutcome>,
        alive: Receiver<()>,
        owner: u32,
        notify: Option<Arc<Notify>>,
    ) -> Self {
        AsyncResult {
            rx,
            alive,
            owner,
            notify,
            done: false,
            _result: PhantomData,
        }
    }

    /// Whether this is a copy in a process forked from the one that made it.
    fn forked_copy(&self) -> bool {
        std::process::id() != self.owner
    }

    /// Whether [`get`](Self::get) would return at once: the outcome arrived, or was already
    /// taken by polling the handle as a future, or the pool's manager ended (always, in a
    /// forked copy, where it refuses).
    pub fn ready(&self) -> bool {
        self.done
            || self.forked_copy()
            || !self.rx.is_empty()
            || matches!(self.alive.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Why [`get`](Self::get) must not wait, if it must not: this is a forked copy, where the
    /// answer never arrives (whatever the copy did before, every call there refuses), or the
    /// outcome was taken by a poll.
    fn settled(&self) -> Option<TaskError> {
        if self.forked_copy() {
            Some(TaskError::PoolBroken)
        } else if self.done {
            Some(TaskError::Taken)
        } else {
            None
        }
    }

    /// Waits for the task and returns its result.
    ///
    /// # Errors
    ///
    /// The task's [`TaskError`]; at once, [`TaskError::PoolBroken`] in a process forked from
    /// the one that made it (inside a task, say), where the answer never arrives, and
    /// [`TaskError::Taken`] if the handle already resolved as a future.
    pub fn get(self) -> Result<U, TaskError> {
        if let Some(err) = self.settled() {
            return Err(err);
        }
        match receive(&self.rx, None, None) {
            Received::Outcome(outcome) => first(outcome),
            Received::Lost | Received::Timeout => Err(TaskError::PoolClosed),
        }
    }

    /// Waits at most `timeout`; gives the handle back if the task has not finished by then.
    ///
    /// # Errors
    ///
    /// `Err(self)` if the task is still running after `timeout`; `Ok(Err(Taken))` and
    /// `Ok(Err(PoolBroken))` at once, as [`get`](Self::get).
    pub fn get_timeout(self, timeout: Duration) -> Result<Result<U, TaskError>, Self> {
        if let Some(err) = self.settled() {
            return Ok(Err(err));
        }
        let deadline = concurrency_shared::deadline_after(timeout);
        match receive(&self.rx, None, deadline) {
            Received::Outcome(outcome) => Ok(first(outcome)),
            Received::Lost => Ok(Err(TaskError::PoolClosed)),
            Received::Timeout => Err(self),
        }
    }
}

impl<U: Wire> Future for AsyncResult<U> {
    type Output = Result<U, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "AsyncResult polled after completion");
        if this.forked_copy() {
            this.done = true;
            return Poll::Ready(Err(TaskError::PoolBroken));
        }
        match &this.notify {
            // Register before the second look: an answer sent in between then finds the waker.
            Some(notify) => notify.register(cx.waker()),
            // Only `Pool::apply` makes a handle without a slot, and it never polls; stay
            // correct anyway by asking to be polled again.
            None => cx.waker().wake_by_ref(),
        }
        let outcome = match this.rx.try_recv() {
            Ok(outcome) => first(outcome),
            Err(TryRecvError::Disconnected) => Err(TaskError::PoolClosed),
            Err(TryRecvError::Empty) => return Poll::Pending,
        };
        this.done = true;
        Poll::Ready(outcome)
    }
}

impl<U> Drop for AsyncResult<U> {
    fn drop(&mut self) {
        if let Some(notify) = &self.notify {
            notify.cancel();
        }
    }
}

impl<U> std::fmt::Debug for AsyncResult<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("answered", &(self.done || !self.rx.is_empty()))
            .finish()
    }
}

/// The single result of a one-task chunk.
fn first<U: Wire>(outcome: ChunkOutcome) -> Result<U, TaskError> {
    let mut out = Vec::with_capacity(1);
    decode_outcome(outcome, &mut out);
    out.pop().unwrap_or(Err(TaskError::PoolClosed))
}
