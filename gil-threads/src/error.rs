//! The crate's error types, one cause per variant, each with `Display` and `Error`.
//!
//! Invariant: no error here carries a `Box<dyn Error>`; a failed hand-off of a value gives the
//! value back inside the error ([`Full`]).

use std::fmt;

use crate::interpreter::InterpreterId;

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
    /// Refused, not waited: the caller holds this interpreter's GIL, which the thread may need
    /// in order to finish (see [`WouldDeadlock`]). The thread is not affected.
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
    /// Refused, not waited: the caller holds the executor's interpreter's GIL, which the
    /// workers need (see [`WouldDeadlock`]). The task is not affected.
    WouldDeadlock,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "the task panicked: {msg}"),
            TaskError::Cancelled => f.write_str("the task was cancelled before it ran"),
            TaskError::Timeout => f.write_str("timed out waiting for the task"),
            TaskError::Taken => f.write_str("the task's result was already taken"),
            TaskError::WouldDeadlock => WouldDeadlock.fmt(f),
        }
    }
}

impl std::error::Error for TaskError {}

/// The executor was shut down; no new task is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorShutDown;

impl fmt::Display for ExecutorShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the executor has been shut down")
    }
}

impl std::error::Error for ExecutorShutDown {}
