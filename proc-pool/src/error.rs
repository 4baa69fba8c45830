//! The pool's errors, as values: [`TaskError`] for one task, [`BuildError`] for a pool that
//! could not start.
//!
//! Invariant: every task submitted to a pool ends with exactly one `Result<U, TaskError>`;
//! no fault (a crash, a timeout, a garbled frame, a shutdown) leaves a caller waiting forever.

use std::fmt;
use std::io;

use crate::WireError;
pub use crate::sys::ExitStatus;

/// Why a task did not produce its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked in the worker; the message is the panic's payload (or a placeholder
    /// when the payload was not a string). The worker survived and went on.
    Panicked(String),
    /// The worker process running the task died (killed by a signal, `abort`, `exit`) before
    /// answering. The worker has been replaced.
    WorkerDied {
        /// The dead worker's pid (already reaped: it may name another process by now).
        pid: u32,
        /// How it ended.
        status: ExitStatus,
    },
    /// The task ran past the pool's `task_timeout`; its worker was killed and replaced.
    TimedOut,
    /// The task's input or result could not be decoded, or the worker's answer was not a
    /// well-formed frame.
    Codec(WireError),
    /// The pool stopped for good before the task finished: a worker crash under
    /// [`CrashPolicy::FailPool`](crate::CrashPolicy::FailPool), a worker initializer that
    /// failed, or a worker that could not be started. Also what every call returns in a
    /// process forked from the one that built the pool (inside a task, say), where the pool's
    /// manager thread does not exist.
    PoolBroken,
    /// The task was submitted after [`close`](crate::Pool::close), or was still pending when
    /// the pool was terminated.
    PoolClosed,
    /// The task's function lies in a loaded object the pool's workers do not have (a library
    /// `dlopen`ed after the pool was built; under
    /// [`StartMethod::ForkServer`](crate::StartMethod::ForkServer), anything outside the main
    /// executable). It was refused before being sent: no worker jumped to it.
    CodeUnavailable {
        /// The object's path, or a description of the address if no object holds it.
        object: String,
    },
    /// The result was already taken: its [`AsyncResult`](crate::AsyncResult) resolved as a
    /// future before [`get`](crate::AsyncResult::get) was called on it.
    Taken,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "task panicked: {msg}"),
            TaskError::WorkerDied { pid, status } => {
                write!(f, "worker {pid} died running the task ({status})")
            }
            TaskError::TimedOut => f.write_str("task timed out; its worker was killed"),
            TaskError::Codec(e) => write!(f, "task input or result could not be decoded: {e}"),
            TaskError::PoolBroken => f.write_str("the pool is broken"),
            TaskError::PoolClosed => f.write_str("the pool is closed"),
            TaskError::Taken => f.write_str("the task's result was already taken by polling"),
            TaskError::CodeUnavailable { object } => {
                write!(
                    f,
                    "the pool's workers do not have the task's code ({object})"
                )
            }
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Codec(e) => Some(e),
            _ => None,
        }
    }
}

impl From<WireError> for TaskError {
    fn from(e: WireError) -> Self {
        TaskError::Codec(e)
    }
}

/// Why a pool could not be built.
///
/// Opaque on purpose, so that causes can be added; [`Display`](fmt::Display) says which.
#[derive(Debug)]
pub struct BuildError {
    /// The cause.
    kind: BuildErrorKind,
}

/// The private causes of a [`BuildError`].
#[derive(Debug)]
pub(crate) enum BuildErrorKind {
    /// `workers(0)`.
    NoWorkers,
    /// More workers than [`MAX_WORKERS`](crate::MAX_WORKERS).
    TooManyWorkers(usize),
    /// A system call failed while creating the manager or forking a worker.
    Io(io::Error),
    /// `StartMethod::ForkServer` cannot work here: the pool's code is not in the main
    /// executable (a `cdylib` loaded into another program), so re-executing the executable
    /// would not reach the server.
    ForkServerUnsupported,
    /// `StartMethod::ForkServer` with an initializer outside the main executable, which the
    /// server (a fresh image of the executable) does not have.
    ForkServerInitializer,
    /// The fork server started but did not complete its handshake (it died, stalled, or is
    /// not the same build as this process).
    ForkServerHandshake(&'static str),
}

impl BuildError {
    /// Wraps a cause.
    pub(crate) fn new(kind: BuildErrorKind) -> Self {
        BuildError { kind }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::NoWorkers => f.write_str("a pool needs at least one worker"),
            BuildErrorKind::TooManyWorkers(n) => write!(
                f,
                "{n} workers asked, at most {} allowed",
                crate::MAX_WORKERS
            ),
            BuildErrorKind::Io(e) => write!(f, "could not start the pool: {e}"),
            BuildErrorKind::ForkServerUnsupported => f.write_str(
                "the fork server needs the pool's code in the main executable, not in a library",
            ),
            BuildErrorKind::ForkServerInitializer => f.write_str(
                "the fork server can only run an initializer defined in the main executable",
            ),
            BuildErrorKind::ForkServerHandshake(why) => {
                write!(f, "the fork server did not start: {why}")
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for BuildError {
    fn from(e: io::Error) -> Self {
        if let Some(failed) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::forkserver::HandshakeFailed>())
        {
            return BuildError::new(BuildErrorKind::ForkServerHandshake(failed.0));
        }
        BuildError::new(BuildErrorKind::Io(e))
    }
}
