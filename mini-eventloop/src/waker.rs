//! The task waker: a `Send + Sync` name for a task, never the task itself.
//!
//! Invariant: a waker holds only the task's name ([`TaskId`]: slot and generation) and an
//! `Arc` of the runtime's [`Shared`] part. It never owns the future, so the last clone being
//! dropped on another thread cannot drop a `!Send` future there, and waking a finished task (or
//! one whose runtime is gone) only looks up a name that no longer matches: a no-op.
//!
//! # Two paths
//!
//! ```text
//!  wake(id) ──► on the loop thread, inside its block_on? ──yes──► local ready queue (no atomics)
//!                               │ no
//!                               ▼
//!               Shared::wake_state.push(id) ──► loop may be asleep? ──yes──► mio::Waker::wake()
//! ```
//!
//! The waker is built with [`std::task::Wake`] on an `Arc<TaskWaker>` created once per task,
//! so cloning is one reference-count increment, `will_wake` is true exactly for clones of the
//! same task's waker, and there is no hand-written vtable (no `unsafe` here). The cross-thread
//! protocol is in `wake_state.rs`, model-checked by `tests/loom_waker.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Wake;

use crate::runtime;
use crate::wake_state::{Pushed, WakeState};

/// The name of a task: its slab slot and the generation of that slot when it was spawned.
///
/// A slot is reused after its task finishes, with the generation bumped, so a stale name never
/// matches the new occupant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TaskId {
    /// Index into the runtime's task slab.
    pub(crate) slot: u32,
    /// The slot's generation at spawn time.
    pub(crate) generation: u32,
}

impl TaskId {
    /// The name reserved for the future passed to `block_on`, which lives outside the slab.
    pub(crate) const MAIN: TaskId = TaskId {
        slot: u32::MAX,
        generation: 0,
    };
}

/// The part of a runtime that other threads may touch; everything else is loop-thread only.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Remote ready queue and the sleep protocol.
    pub(crate) wake_state: WakeState<TaskId>,
    /// Interrupts a blocking `mio::Poll::poll` from another thread.
    pub(crate) poker: mio::Waker,
    /// Wakes that arrived through the remote path (statistics; written by any thread).
    pub(crate) remote_wakes: AtomicU64,
    /// Pokes actually sent through `mio::Waker` (statistics).
    pub(crate) pokes: AtomicU64,
}

impl Shared {
    /// The remote path: queue the name and poke the poll if the loop may be asleep.
    pub(crate) fn wake_remote(&self, id: TaskId) {
        match self.wake_state.push(id) {
            Pushed::Closed => {}
            Pushed::Queued => {
                self.remote_wakes.fetch_add(1, Ordering::Relaxed);
            }
            Pushed::QueuedMustPoke => {
                self.remote_wakes.fetch_add(1, Ordering::Relaxed);
                self.pokes.fetch_add(1, Ordering::Relaxed);
                // A failed poke (the eventfd write failing) cannot be reported to a waker's
                // caller; the loop still sees the queued name at its next wake-up.
                let _ = self.poker.wake();
            }
        }
    }
}

/// What a [`std::task::Waker`] of this runtime points to.
#[derive(Debug)]
pub(crate) struct TaskWaker {
    /// The runtime's thread-safe part.
    pub(crate) shared: Arc<Shared>,
    /// The task this waker names.
    pub(crate) id: TaskId,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !runtime::try_schedule_local(&self.shared, self.id) {
            self.shared.wake_remote(self.id);
        }
    }
}
