//! The one blocking wait every GIL-aware primitive ([`Lock`](crate::Lock),
//! [`RLock`](crate::RLock), [`Event`](crate::Event), [`Condition`](crate::Condition),
//! [`Queue`](crate::Queue)) is built on, with and without a timeout, from inside or outside
//! the interpreter.
//!
//! Invariants:
//! - a caller's `Duration` never panics: it becomes a deadline through
//!   [`concurrency_shared::deadline_after`], and one too far away for an `Instant`
//!   (`Duration::MAX`) means "no deadline", the same as the untimed call;
//! - the deadline is fixed *before* the GIL is released, so time spent retaking the GIL never
//!   extends it;
//! - an interpreter thread waits only inside [`Gil::allow_threads`] (never blocking with the
//!   GIL held), and a thread outside the interpreter that holds a GIL is refused
//!   ([`WouldDeadlock`]) before it waits;
//! - [`until`] re-checks its predicate under the mutex after every wake-up, so neither a
//!   spurious wake-up nor a notify that came before the wait is lost.

use std::time::{Duration, Instant};

use concurrency_shared::{deadline_after, remaining};

use crate::error::WouldDeadlock;
use crate::sync::{self, Condvar, MutexGuard};
use crate::token::{self, Gil};

/// When a wait gives up: never, or after the caller's timeout.
pub(crate) type Deadline = Option<Instant>;

/// The deadline for a caller's optional timeout (`None`: an untimed call).
pub(crate) fn deadline(timeout: Option<Duration>) -> Deadline {
    timeout.and_then(deadline_after)
}

/// Waits on `cv` until `ready` holds on the guarded state or `deadline` passes. Returns the
/// guard and whether `ready` held. `ready` may update the state (take what it was waiting
/// for); it runs with the mutex held, and last once more at the deadline.
pub(crate) fn until<'a, T>(
    cv: &Condvar,
    mut guard: MutexGuard<'a, T>,
    deadline: Deadline,
    mut ready: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    loop {
        if ready(&mut guard) {
            return (guard, true);
        }
        match remaining(deadline) {
            None => guard = sync::wait(cv, guard),
            Some(left) if left.is_zero() => return (guard, false),
            Some(left) => guard = sync::wait_timeout(cv, guard, left).0,
        }
    }
}

/// An interpreter thread's wait: fixes the deadline, then runs `wait` with the GIL released.
pub(crate) fn released<R>(
    gil: &mut Gil,
    timeout: Option<Duration>,
    wait: impl FnOnce(Deadline) -> R,
) -> R {
    let deadline = deadline(timeout);
    gil.allow_threads(|| wait(deadline))
}

/// A wait for a thread outside the interpreter: refused at once if this thread holds a GIL
/// (of any interpreter: a primitive cannot tell which GIL the thread that ends the wait
/// needs), else `wait` runs until its deadline.
pub(crate) fn outside<R>(
    timeout: Option<Duration>,
    wait: impl FnOnce(Deadline) -> R,
) -> Result<R, WouldDeadlock> {
    token::refuse_if_holding_any()?;
    Ok(wait(deadline(timeout)))
}
