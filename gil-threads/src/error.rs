//! The crate's error types, one cause per variant, each with `Display` and `Error`.
//!
//! Invariant: no error here carries a `Box<dyn Error>`; a failed hand-off of a value gives the
//! value back inside the error ([`Full`], [`PutError`]), and a refused wait on a handle gives
//! the handle back ([`JoinFailed`], [`TaskFailed`]).

use std::fmt;

use crate::executor::TaskHandle;
use crate::interpreter::InterpreterId;
use crate::thread::JoinHandle;

/// How an interpreter thread (or a task) ended without producing its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The thread's closure panicked; the panic message (or a placeholder for a non-string
    /// payload). The GIL was released on the way out and the other threads went on.
    Panicked(String),
    /// The interpreter was shutting down: the thread could not be started, or it is a daemon
    /// thread that asked for the GIL after shutdown and was unwound out of the interpreter.
    ShuttingDown,
    /// The operating system refused to create the thread (the `io::Error` message).
    Spawn(String),
    /// Refused, not waited: [`Interpreter::run_jobs`](crate::Interpreter::run_jobs) was
    /// called holding the GIL its workers need (see [`WouldDeadlock`]); the job never ran.
    /// (A refused [`JoinHandle::join`] gives its handle back instead: [`JoinFailed`].)
    WouldDeadlock,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(msg) => write!(f, "the thread panicked: {msg}"),
            JoinError::ShuttingDown => f.write_str("the interpreter is shutting down"),
            JoinError::Spawn(msg) => write!(f, "the thread could not be spawned: {msg}"),
            JoinError::WouldDeadlock => WouldDeadlock.fmt(f),
        }
    }
}

impl std::error::Error for JoinError {}

/// Why [`JoinHandle::join`] (or [`join_gil`](JoinHandle::join_gil)) gave no value: the
/// thread's own outcome, or a refusal that gives the handle back (as [`PutError`] gives the
/// item back), so that the thread can still be joined from a thread that may wait.
///
/// Two errors are equal when they are the same [`JoinError`], or refusals of handles of the
/// same thread.
pub enum JoinFailed<T> {
    /// The thread ended without a value.
    Thread(JoinError),
    /// Refused, not waited: the caller holds the thread's interpreter's GIL, which the thread
    /// may need in order to finish, or is that thread itself (see [`WouldDeadlock`]). The
    /// thread is not affected; here is its handle.
    WouldDeadlock(JoinHandle<T>),
}

impl<T> JoinFailed<T> {
    /// The thread's error, unless the join was refused.
    pub fn thread_error(&self) -> Option<&JoinError> {
        match self {
            JoinFailed::Thread(e) => Some(e),
            JoinFailed::WouldDeadlock(_) => None,
        }
    }

    /// The handle of a refused join.
    pub fn into_handle(self) -> Option<JoinHandle<T>> {
        match self {
            JoinFailed::Thread(_) => None,
            JoinFailed::WouldDeadlock(handle) => Some(handle),
        }
    }
}

impl<T> From<JoinError> for JoinFailed<T> {
    fn from(e: JoinError) -> Self {
        JoinFailed::Thread(e)
    }
}

impl<T> PartialEq for JoinFailed<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (JoinFailed::Thread(a), JoinFailed::Thread(b)) => a == b,
            (JoinFailed::WouldDeadlock(a), JoinFailed::WouldDeadlock(b)) => {
                a.thread().id == b.thread().id
            }
            _ => false,
        }
    }
}

impl<T> Eq for JoinFailed<T> {}

impl<T> fmt::Debug for JoinFailed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinFailed::Thread(e) => f.debug_tuple("Thread").field(e).finish(),
            JoinFailed::WouldDeadlock(h) => f
                .debug_tuple("WouldDeadlock")
                .field(&h.thread().id)
                .finish(),
        }
    }
}

impl<T> fmt::Display for JoinFailed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinFailed::Thread(e) => e.fmt(f),
            JoinFailed::WouldDeadlock(_) => WouldDeadlock.fmt(f),
        }
    }
}

impl<T> std::error::Error for JoinFailed<T> {}

/// Why [`Interpreter::with_gil`](crate::Interpreter::with_gil) could not enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilError {
    /// This thread already has a live [`Gil`](crate::Gil) token (of any interpreter); a thread
    /// never holds two at once.
    AlreadyHeld,
    /// The interpreter has been shut down.
    ShuttingDown,
}

impl fmt::Display for GilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GilError::AlreadyHeld => f.write_str("this thread already holds a GIL token"),
            GilError::ShuttingDown => f.write_str("the interpreter is shutting down"),
        }
    }
}

impl std::error::Error for GilError {}

/// A switch interval must be strictly positive (as for Python's `sys.setswitchinterval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidInterval;

impl fmt::Display for InvalidInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the switch interval must be strictly positive")
    }
}

impl std::error::Error for InvalidInterval {}

/// Why [`InterpreterBuilder::build`](crate::InterpreterBuilder::build) failed. Opaque, so that
/// causes can be added without breaking callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// The cause.
    kind: BuildErrorKind,
}

/// The causes of a [`BuildError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuildErrorKind {
    /// See [`InvalidInterval`].
    Interval,
}

impl BuildError {
    /// The error for an invalid switch interval.
    pub(crate) fn interval() -> Self {
        Self {
            kind: BuildErrorKind::Interval,
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BuildErrorKind::Interval => InvalidInterval.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

/// Why a [`GilCell`](crate::GilCell) refused a borrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorrowError {
    /// The token is another interpreter's GIL, which does not guard this cell.
    WrongInterpreter {
        /// The interpreter the cell belongs to.
        cell: InterpreterId,
        /// The interpreter whose token was offered.
        gil: InterpreterId,
    },
    /// Two mutable borrows of the same cell were asked for at once.
    SameCell,
}

impl fmt::Display for BorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BorrowError::WrongInterpreter { cell, gil } => write!(
                f,
                "the cell belongs to interpreter {cell} but the GIL offered is interpreter {gil}'s"
            ),
            BorrowError::SameCell => f.write_str("the same cell was borrowed mutably twice"),
        }
    }
}

impl std::error::Error for BorrowError {}

/// A blocking call gave up after its timeout; nothing was taken or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for Timeout {}

/// A call meant for threads outside the interpreter (one without a `&mut Gil` argument) was
/// made on a thread that holds a GIL, and refused instead of blocking.
///
/// Waiting there would keep the GIL while blocked, and the thread that would end the wait (the
/// one joined, a lock's owner, a producer) may need that GIL to get there: a deadlock. The
/// call changed nothing. Use the version that takes `&mut Gil`, which releases the GIL while
/// it waits, or wrap the call in [`Gil::allow_threads`](crate::Gil::allow_threads).
///
/// The token-free calls are refused whatever the state (even when they would not have had to
/// wait), so a misuse shows the first time the code runs rather than on an unlucky schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WouldDeadlock;

impl fmt::Display for WouldDeadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "refused to block while holding the GIL (the thread waited for may need it): \
             use the version that takes `&mut Gil`",
        )
    }
}

impl std::error::Error for WouldDeadlock {}

/// Why a timed call for threads outside the interpreter gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The timeout passed; nothing was taken or changed.
    Timeout,
    /// Refused at once: this thread holds a GIL (see [`WouldDeadlock`]).
    WouldDeadlock,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Timeout => Timeout.fmt(f),
            WaitError::WouldDeadlock => WouldDeadlock.fmt(f),
        }
    }
}

impl std::error::Error for WaitError {}

impl From<Timeout> for WaitError {
    fn from(_: Timeout) -> Self {
        WaitError::Timeout
    }
}

impl From<WouldDeadlock> for WaitError {
    fn from(_: WouldDeadlock) -> Self {
        WaitError::WouldDeadlock
    }
}

/// Why [`Queue::put_blocking`](crate::Queue::put_blocking) or
/// [`Queue::put_timeout_blocking`](crate::Queue::put_timeout_blocking) did not put the item;
/// the item is given back either way.
#[derive(PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue stayed full until the timeout.
    Full(T),
    /// Refused at once: this thread holds a GIL (see [`WouldDeadlock`]).
    WouldDeadlock(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::WouldDeadlock(item) => item,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::WouldDeadlock(_) => f.write_str("WouldDeadlock(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("the queue is full"),
            PutError::WouldDeadlock(_) => WouldDeadlock.fmt(f),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

/// A bounded [`Queue`](crate::Queue) stayed full until the timeout; the item is given back.
#[derive(PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl<T> std::error::Error for Full<T> {}

/// [`Queue::task_done`](crate::Queue::task_done) was called more times than items were put
/// (Python raises `ValueError` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyTaskDone;

impl fmt::Display for TooManyTaskDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than there were items")
    }
}

impl std::error::Error for TooManyTaskDone {}

/// Why a [`TaskHandle`](crate::TaskHandle) gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task panicked; the panic message.
    Panicked(String),
    /// The task never ran: its worker was refused at interpreter shutdown.
    Cancelled,
    /// `result_timeout` gave up; the task may still finish, so ask again.
    Timeout,
    /// The result was already taken by an earlier call.
    Taken,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "the task panicked: {msg}"),
            TaskError::Cancelled => f.write_str("the task was cancelled before it ran"),
            TaskError::Timeout => f.write_str("timed out waiting for the task"),
            TaskError::Taken => f.write_str("the task's result was already taken"),
        }
    }
}

impl std::error::Error for TaskError {}

/// Why [`TaskHandle::result_blocking`] gave no value: the task's own outcome, or a refusal
/// that gives the handle back (as [`PutError`] gives the item back).
///
/// Two errors are equal when they are the same [`TaskError`], or refusals of handles of the
/// same task.
pub enum TaskFailed<T> {
    /// The task gave no value.
    Task(TaskError),
    /// Refused, not waited: the caller holds the executor's interpreter's GIL, which the
    /// workers need (see [`WouldDeadlock`]). The task is not affected; here is its handle.
    WouldDeadlock(TaskHandle<T>),
}

impl<T> TaskFailed<T> {
    /// The task's error, unless the wait was refused.
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            TaskFailed::Task(e) => Some(e),
            TaskFailed::WouldDeadlock(_) => None,
        }
    }

    /// The handle of a refused wait.
    pub fn into_handle(self) -> Option<TaskHandle<T>> {
        match self {
            TaskFailed::Task(_) => None,
            TaskFailed::WouldDeadlock(handle) => Some(handle),
        }
    }
}

impl<T> From<TaskError> for TaskFailed<T> {
    fn from(e: TaskError) -> Self {
        TaskFailed::Task(e)
    }
}

impl<T> PartialEq for TaskFailed<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TaskFailed::Task(a), TaskFailed::Task(b)) => a == b,
            (TaskFailed::WouldDeadlock(a), TaskFailed::WouldDeadlock(b)) => a.same_task(b),
            _ => false,
        }
    }
}

impl<T> Eq for TaskFailed<T> {}

impl<T> fmt::Debug for TaskFailed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskFailed::Task(e) => f.debug_tuple("Task").field(e).finish(),
            TaskFailed::WouldDeadlock(_) => f.write_str("WouldDeadlock(..)"),
        }
    }
}

impl<T> fmt::Display for TaskFailed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskFailed::Task(e) => e.fmt(f),
            TaskFailed::WouldDeadlock(_) => WouldDeadlock.fmt(f),
        }
    }
}

impl<T> std::error::Error for TaskFailed<T> {}

/// The executor was shut down; no new task is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorShutDown;

impl fmt::Display for ExecutorShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the executor has been shut down")
    }
}

impl std::error::Error for ExecutorShutDown {}
