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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

    /// Not a task: "futures were queued by a [`Handle`](crate::Handle) for spawning". It
    /// travels through the remote queue like a wake, so a remote spawn reuses the wake
    /// protocol (and its poke) unchanged.
    pub(crate) const SPAWNS: TaskId = TaskId {
        slot: u32::MAX - 1,
        generation: 0,
    };
}

/// A future sent by a [`Handle`](crate::Handle), to be spawned by the loop.
pub(crate) type RemoteSpawn = Box<dyn FnOnce(&crate::runtime::Core) + Send>;

/// The part of a runtime that other threads may touch; everything else is loop-thread only.
pub(crate) struct Shared {
    /// Remote ready queue and the sleep protocol.
    pub(crate) wake_state: WakeState<TaskId>,
    /// Interrupts a blocking `mio::Poll::poll` from another thread.
    pub(crate) poker: mio::Waker,
    /// Wakes that arrived through the remote path (statistics; written by any thread).
    pub(crate) remote_wakes: AtomicU64,
    /// Pokes actually sent through `mio::Waker` (statistics).
    pub(crate) pokes: AtomicU64,
    /// Futures queued by handles on other threads, taken by the loop when it drains
    /// [`TaskId::SPAWNS`].
    pub(crate) spawns: Mutex<Vec<RemoteSpawn>>,
    /// The thread that runs the loop (a `Runtime` is not `Send`, so it never changes): a
    /// thread blocking for a remote spawn's result must not be this one.
    pub(crate) owner: std::thread::ThreadId,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("wake_state", &self.wake_state)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Queues `spawn` for the loop. If the runtime is gone, drops it (and anything else still
    /// queued) on this thread instead: its result sender goes with it, so whoever waits for
    /// the result hears "cancelled" rather than nothing.
    pub(crate) fn spawn_remote(&self, spawn: RemoteSpawn) {
        crate::sync::lock(&self.spawns).push(spawn);
        if !self.wake_remote(TaskId::SPAWNS) {
            let orphans = std::mem::take(&mut *crate::sync::lock(&self.spawns));
            drop(orphans);
        }
    }

    /// Takes every queued remote spawn (loop thread, or shutdown).
    pub(crate) fn take_spawns(&self) -> Vec<RemoteSpawn> {
        std::mem::take(&mut *crate::sync::lock(&self.spawns))
    }

    /// The remote path: queue the name and poke the poll if the loop may be asleep. False if
    /// the runtime has shut down (the wake is dropped).
    pub(crate) fn wake_remote(&self, id: TaskId) -> bool {
        match self.wake_state.push(id) {
            Pushed::Closed => return false,
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
        true
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
            // A wake after shutdown is a no-op, as the contract says.
            let _ = self.shared.wake_remote(self.id);
        }
    }
}
