//! Where an awaiting task's waker waits for an interpreter thread's or an executor task's
//! outcome, so that [`JoinHandle`](crate::JoinHandle) and [`TaskHandle`](crate::TaskHandle)
//! can be awaited by any executor.
//!
//! Invariant: the waker is woken after the outcome is visible (stored, sent, or its sender
//! dropped), and outside the slot's lock (a waker is the executor's code). Polling takes only
//! this slot's lock and the outcome's, never the GIL, and never blocks on the GIL's holder.

use std::sync::Arc;
use std::task::Waker;

use crate::sync::{self, Mutex};

/// The waker of the last poll that found no outcome.
#[derive(Debug)]
pub(crate) struct WakerSlot(Mutex<Option<Waker>>);

impl WakerSlot {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        WakerSlot(Mutex::new(None))
    }

    /// Stores `waker` for the next wake, replacing an earlier one. Register before looking
    /// for the outcome: an outcome that arrives in between then finds the waker.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut slot = sync::lock(&self.0);
        match slot.as_mut() {
            Some(old) => old.clone_from(waker),
            None => *slot = Some(waker.clone()),
        }
    }

    /// Wakes the registered waker, if any. A panicking waker does not propagate: this runs on
    /// the thread that produced the outcome (a worker, an interpreter thread's boundary).
    pub(crate) fn wake(&self) {
        let waker = sync::lock(&self.0).take();
        if let Some(waker) = waker {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
        }
    }
}

/// Wakes its slot when dropped: declared after an outcome's sender in the same struct, it
/// wakes after the sender is gone, whether the outcome was sent or not.
#[derive(Debug)]
pub(crate) struct WakeOnDrop(pub(crate) Arc<WakerSlot>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake();
    }
}
