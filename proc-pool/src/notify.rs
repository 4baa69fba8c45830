//! The link between one awaited chunk and its [`AsyncResult`](crate::AsyncResult): where the
//! awaiting task's waker waits, and the flag that cancels the chunk while it is still queued.
//!
//! Invariant: a registered waker is woken once the chunk's outcome is in its reply channel or
//! its reply sender is gone. The chunk holds a [`Wake`] declared after its reply sender, and
//! [`Wake`] wakes when dropped, so every way a chunk ends (answered, failed, or dropped with
//! the command channel) wakes its waiter after the outcome or the disconnection is visible.
//! The slot is the workspace's one [`WakerSlot`] (no waker code under its lock, a panicking
//! waker caught on the manager thread); it sits beside the cancel flag in one allocation per
//! awaited task.

use std::sync::atomic::{AtomicBool, Ordering};

use concurrency_shared::{WakeOnDrop, WakerSlot};

/// Shared by an [`AsyncResult`](crate::AsyncResult) and its chunk.
#[derive(Default)]
pub(crate) struct Notify {
    /// The waker of the last poll that found no outcome.
    waker: WakerSlot,
    /// Set when the result is dropped: the manager drops the chunk instead of sending it.
    cancelled: AtomicBool,
}

impl Notify {
    /// Stores `waker` for the next wake, replacing an earlier one.
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
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

impl AsRef<WakerSlot> for Notify {
    fn as_ref(&self) -> &WakerSlot {
        &self.waker
    }
}

/// The chunk's end of a [`Notify`]: wakes the waiter when the chunk is gone.
pub(crate) type Wake = WakeOnDrop<Notify>;
