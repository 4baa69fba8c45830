//! The crate's one rule for user code that panics where no task owns the panic: a foreign
//! waker's `wake`, or a destructor run by the loop, a helper thread or the shutdown.
//!
//! Such a panic is **contained**: the panic hook has already reported it (on stderr, by
//! default), the payload is discarded, and the runtime carries on with the rest of what it
//! was doing. It is the same treatment a detached task's panic gets (nobody is left to
//! receive it), and it keeps every batch whole: a panicking waker among many (the reactor's
//! events, due timers, a channel's waiters, the tasks cancelled at shutdown) cannot lose the
//! wakes after it, a panicking destructor cannot kill a `spawn_blocking` helper without its
//! count, and none of it can unwind out of an unrelated `block_on` or out of
//! `Runtime::drop` halfway through the shutdown.
//!
//! A panic inside a task's own `poll` (the task's future, or a waker it calls) is not this
//! case: it is caught by the task and goes to its [`JoinHandle`](crate::JoinHandle).
//!
//! Invariant: every place where the runtime runs such code calls it through [`contain`] or
//! [`wake`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Waker;

/// Runs `f`, containing a panic (see the module docs). No state of the runtime is borrowed
/// across the call, which is why `AssertUnwindSafe` is right: nothing half-updated is seen
/// after an unwind.
pub(crate) fn contain(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        // A payload whose own destructor panics is leaked rather than let out: dropping that
        // second payload could panic again.
        if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
    }
}

/// Wakes `waker`, containing a panic of foreign code (see the module docs).
pub(crate) fn wake(waker: Waker) {
    contain(move || waker.wake());
}
