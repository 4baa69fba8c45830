//! The cross-thread half of the waker: the remote ready queue and the "sleeping" flag.
//!
//! Invariant (**no lost wake-up**): if a remote wake is queued, either the loop sees it before
//! it blocks in `mio::Poll::poll`, or the waker that queued it pokes the loop's `mio::Waker`.
//! And (**no needless syscall**): the poke happens only when the loop may be asleep.
//!
//! # The protocol
//!
//! States of the loop as seen from other threads: **running** (`sleeping == false`) and
//! **may be asleep** (`sleeping == true`).
//!
//! Loop thread, before it blocks ([`WakeState::prepare_sleep`]):
//! 1. `sleeping.store(true)`
//! 2. `pending.load()`: if a remote wake is queued, undo step 1 and poll without blocking.
//!
//! Remote waker ([`WakeState::push`]):
//! 1. push the task's name under the queue's mutex, then `pending.store(true)`
//! 2. `sleeping.load()`: if set, `swap(false)`; whoever turns it from true to false pokes.
//!
//! ```text
//!   loop thread                          remote thread
//!   sleeping = true  ──┐          ┌──  queue.push(id); pending = true
//!   read pending     ──┼──────────┼──  read sleeping
//!                      └─ SeqCst ─┘
//!   at least one of the two reads sees the other's write (a total order over the four)
//! ```
//!
//! This is Dekker's pattern: all four operations are `SeqCst`, so they fall in one total
//! order; whichever store comes first in it is seen by the other side's load. Either the loop
//! sees `pending` and does not block, or the remote side sees `sleeping` and pokes. Relaxed or
//! acquire/release would allow both loads to miss both stores (store buffering), which is the
//! lost wake-up. The `swap` makes exactly one of many concurrent wakers pay for the poke.
//!
//! After [`WakeState::close`] (the runtime is gone) every push is refused, so wakers that
//! outlive their runtime neither leak queue entries nor touch a closed poll.

use crate::shim::{AtomicBool, Mutex, Ordering};

/// What a [`WakeState::push`] did, so the caller knows whether to poke the poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; the loop is running and will see it at its next drain.
    Queued,
    /// Queued, and the loop may be blocked in its poll: the caller must poke it.
    QueuedMustPoke,
    /// Refused: the runtime has shut down, the wake is a no-op.
    Closed,
}

/// The remote ready queue plus the flags of the sleep protocol (see the module docs).
#[derive(Debug)]
pub struct WakeState<T> {
    /// Names of tasks woken from other threads, drained by the loop. Guarded by its mutex.
    queue: Mutex<Vec<T>>,
    /// Set (under the mutex) when the queue may be non-empty; cleared by the loop's drain.
    pending: AtomicBool,
    /// Set by the loop just before it may block; cleared by the loop when it wakes, or by the
    /// one remote waker that takes the job of poking it.
    sleeping: AtomicBool,
    /// Set once by the runtime's drop; from then on pushes are refused.
    closed: AtomicBool,
}

impl<T> Default for WakeState<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WakeState<T> {
    /// An empty queue with the loop running.
    pub fn new() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Queues `item` from any thread and says whether the loop must be poked.
    pub fn push(&self, item: T) -> Pushed {
        if self.closed.load(Ordering::Acquire) {
            return Pushed::Closed;
        }
        {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.push(item);
            self.pending.store(true, Ordering::SeqCst);
        }
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            Pushed::QueuedMustPoke
        } else {
            Pushed::Queued
        }
    }

    /// A cheap hint for the loop: true if something may be queued.
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Moves everything queued into `out` (loop thread).
    pub fn drain_into(&self, out: &mut Vec<T>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.pending.store(false, Ordering::SeqCst);
        out.append(&mut queue);
    }

    /// Announces that the loop is about to block (loop thread). Returns false, with the flag
    /// cleared again, if a remote wake is already queued: then the loop must not block.
    pub fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.sleeping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The loop is awake again (loop thread, after its poll returned).
    pub fn woke(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Refuses all later pushes and drops whatever is queued (runtime drop).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.clear();
        self.pending.store(false, Ordering::SeqCst);
    }
}
