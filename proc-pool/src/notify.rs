//! The link between one awaited chunk and its [`AsyncResult`](crate::AsyncResult): where the
//! awaiting task's waker waits, and the flag that cancels the chunk while it is still queued.
//!
//! Invariant: a registered waker is woken once the chunk's outcome is in its reply channel or
//! its reply sender is gone. The chunk holds a [`Wake`] declared after its reply sender, and
//! [`Wake`] wakes when dropped, so every way a chunk ends (answered, failed, or dropped with
//! the command channel) wakes its waiter after the outcome or the disconnection is visible.
//! The waker is taken out of the lock before it is woken: a waker may run arbitrary code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

/// Shared by an [`AsyncResult`](crate::AsyncResult) and its chunk.
#[derive(Default)]
pub(crate) struct Notify {
    /// The waker of the last poll that found no outcome.
    waker: Mutex<Option<Waker>>,
    /// Set when the result is dropped: the manager drops the chunk instead of sending it.
    cancelled: AtomicBool,
}

impl Notify {
    /// Stores `waker` for the next wake, replacing an earlier one.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(old) => old.clone_from(waker),
            None => *slot = Some(waker.clone()),
        }
    }

    /// Marks the chunk as no longer wanted.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether the result was dropped.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// The chunk's end of a [`Notify`]: wakes the waiter when the chunk is gone.
pub(crate) struct Wake(pub(crate) Arc<Notify>);

impl Drop for Wake {
    fn drop(&mut self) {
        let waker = self
            .0
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            // The waker is the executor's code, run on the manager thread (or a thread
            // dropping the pool): a panic in it must not take the pool's manager down.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
        }
    }
}
