//! [`WakerSlot`]: where the one task awaiting an outcome leaves its waker, for another thread
//! to wake once the outcome is there; and [`WakeOnDrop`], which wakes it when the producing
//! side is gone. The runtimes' result handles that any executor may await (a pool's
//! `AsyncResult`, an interpreter thread's `JoinHandle`, an executor's `TaskHandle`) are built
//! on it.
//!
//! The protocol, between a **poller** (the awaiting task) and a **producer** (the thread
//! that makes the outcome):
//!
//! 1. the poller [`register`](WakerSlot::register)s its waker, *then* looks for the outcome,
//!    and returns `Pending` if there is none;
//! 2. the producer makes the outcome visible (stores it, sends it, or drops its sender), *then*
//!    calls [`wake`](WakerSlot::wake).
//!
//! Invariants:
//! - **No lost wake-up.** Both steps go through the slot's lock. If the producer's `wake` takes
//!   the lock after the poller's `register`, it finds the waker; if before, the outcome was
//!   visible before `wake` unlocked, and the poller's `register` locked after that, so the
//!   poller's look that follows finds the outcome. The lock's acquire/release is the only
//!   ordering needed (tested with many threads racing in `tests/waker_slot.rs`).
//! - **No user code under the lock.** A waker is the executor's code: waking it, dropping it
//!   and dropping the one it replaces may run anything, including a call back into this slot.
//!   Each is done after the lock is released.
//! - **A panicking waker stays with its caller's executor.** `wake` runs on the producer's
//!   thread (a pool's manager, a worker thread), which must go on: the panic is caught.
//!
//! One waiter only: a second registration replaces the first (a future is polled by one task
//! at a time, and the last poll's waker is the one to wake). Where many tasks may wait on one
//! thing, a waiter list is the tool (as mini-eventloop's `Waiters`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

/// The waker of the last poll that found no outcome, woken from any thread.
#[derive(Default)]
pub struct WakerSlot(Mutex<Option<Waker>>);

impl WakerSlot {
    /// An empty slot.
    pub const fn new() -> Self {
        WakerSlot(Mutex::new(None))
    }

    /// Stores `waker` for the next [`wake`](Self::wake), replacing an earlier one unless it
    /// wakes the same task (which saves a clone). Register *before* looking for the outcome:
    /// an outcome that arrives in between then finds the waker.
    #[inline]
    pub fn register(&self, waker: &Waker) {
        let replaced = {
            let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(old) if old.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        };
        // Dropped here, after the unlock: a waker's destructor may come back to this slot.
        drop(replaced);
    }

    /// Wakes and forgets the registered waker, if any; call it *after* the outcome is
    /// visible. A panic in the waker is caught and dropped: the thread that produced the
    /// outcome must go on.
    #[inline]
    pub fn wake(&self) {
        let waker = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(waker) = waker {
            let _ = catch_unwind(AssertUnwindSafe(|| waker.wake()));
        }
    }
}

impl AsRef<WakerSlot> for WakerSlot {
    fn as_ref(&self) -> &WakerSlot {
        self
    }
}

impl std::fmt::Debug for WakerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakerSlot").finish_non_exhaustive()
    }
}

/// Wakes its slot when dropped. Declared after an outcome's sender in the struct that carries
/// both (fields drop in declaration order), it wakes after the sender is gone, whether the
/// outcome was sent or not: the poller then finds the outcome or the disconnection.
///
/// `S` is the slot, or a struct that holds one beside other shared state (a cancel flag), so
/// that both live in one allocation.
#[derive(Debug)]
pub struct WakeOnDrop<S: AsRef<WakerSlot> = WakerSlot>(pub Arc<S>);

impl<S: AsRef<WakerSlot>> Drop for WakeOnDrop<S> {
    fn drop(&mut self) {
        (*self.0).as_ref().wake();
    }
}
