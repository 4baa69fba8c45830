//! [`JoinError`]: why a task (or a `spawn_blocking` closure) gave no output, keeping a panic's
//! payload so the caller can re-raise it.
//!
//! Invariant: a panicked `JoinError` holds the payload exactly as `catch_unwind` returned it,
//! and its message (for `Display`) is computed once, when it is caught.

use std::any::Any;
use std::fmt;

use concurrency_shared::panic_message;

/// A panic payload, made `Sync` so that `JoinError` is `Send + Sync` like other errors.
struct Payload(Box<dyn Any + Send>);

// SAFETY: the payload is never reachable through a shared reference: no method of `JoinError`
// or `Payload` hands out `&` to it; it can only be moved out by value (`into_panic`), which
// needs ownership. So sharing `&JoinError` between threads shares nothing of the payload, and
// a `!Sync` payload type is never accessed from two threads at once.
unsafe impl Sync for Payload {}

/// A caught panic.
struct Panicked {
    /// The panic message (or a placeholder for a non-string payload).
    message: String,
    /// What the panic carried.
    payload: Payload,
}

/// What happened to the task. The panic is boxed, so a `JoinError` is one pointer and a
/// task's output slot (`Result<T, JoinError>`) stays small: panics are rare, tasks are many.
enum Repr {
    /// Aborted, or its runtime shut down, before it finished.
    Cancelled,
    /// It panicked.
    Panicked(Box<Panicked>),
}

/// Why a task produced no output: it panicked (the payload is kept: re-raise it with
/// `std::panic::resume_unwind(err.into_panic())`) or it was cancelled.
///
/// Not `Clone` (a panic payload cannot be cloned). `PartialEq` compares what the error says:
/// two cancellations are equal, and two panics are equal when their messages are.
///
/// ```
/// use mini_eventloop::{Runtime, spawn};
///
/// let rt = Runtime::new().unwrap();
/// let err = rt.block_on(async { spawn(async { panic!("boom") }).await }).unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "task panicked: boom");
/// let payload = err.into_panic();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// ```
pub struct JoinError {
    /// The cause.
    repr: Repr,
}

impl JoinError {
    /// A cancellation.
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    /// A panic, from `catch_unwind`'s payload.
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> JoinError {
        JoinError {
            repr: Repr::Panicked(Box::new(Panicked {
                message: panic_message(&*payload),
                payload: Payload(payload),
            })),
        }
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked(_))
    }

    /// True if the task was aborted, or its runtime shut down, before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The panic message, if the task panicked (a placeholder for a non-string payload).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panicked(p) => Some(&p.message),
            Repr::Cancelled => None,
        }
    }

    /// The panic's payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicked (use [`JoinError::try_into_panic`]).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic()
            .unwrap_or_else(|_| panic!("JoinError::into_panic on a cancelled task"))
    }

    /// The panic's payload, or the error back if the task was cancelled.
    ///
    /// # Errors
    ///
    /// `self`, if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panicked(p) => Ok(p.payload.0),
            Repr::Cancelled => Err(self),
        }
    }
}

impl PartialEq for JoinError {
    fn eq(&self, other: &JoinError) -> bool {
        self.panic_message() == other.panic_message()
    }
}

impl Eq for JoinError {}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panicked(p) => write!(f, "JoinError::Panicked({:?})", p.message),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panicked(p) => write!(f, "task panicked: {}", p.message),
            Repr::Cancelled => f.write_str("task was cancelled"),
        }
    }
}

impl std::error::Error for JoinError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: usable as `Box<dyn Error + Send + Sync>`.
    #[allow(dead_code)]
    fn send_sync(e: JoinError) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(e)
    }

    /// A cancellation has no payload and gives itself back.
    #[test]
    fn cancelled_has_no_payload() {
        let e = JoinError::cancelled();
        assert!(e.is_cancelled() && !e.is_panic());
        assert_eq!(e.panic_message(), None);
        assert!(e.try_into_panic().unwrap_err().is_cancelled());
    }

    /// One pointer wide, so task outputs stay small.
    #[test]
    fn one_pointer_wide() {
        assert_eq!(
            std::mem::size_of::<JoinError>(),
            std::mem::size_of::<usize>()
        );
    }

    /// A non-string payload comes back as it was, with a placeholder message.
    #[test]
    fn payload_is_kept() {
        let e = JoinError::panicked(Box::new(42u32));
        assert_eq!(
            e,
            JoinError::panicked(Box::new(7u8)),
            "same placeholder message"
        );
        assert_eq!(e.into_panic().downcast_ref::<u32>(), Some(&42));
    }
}
