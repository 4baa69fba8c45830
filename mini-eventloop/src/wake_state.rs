//! The cross-thread half of the waker: the remote ready queue and the "sleeping" flag.
//!
//! Invariant (**no lost wake-up**): if a remote wake is queued, either the loop sees it before
//! it blocks in `mio::Poll::poll`, or the waker that queued it pokes the loop's `mio::Waker`.
//! And (**no needless syscall**): the poke happens only when the loop may be asleep.
//!
//! # The protocol
//!
//! States of the loop as seen from other threads: **running** (`sleeping == false`) and
//! **may be asleep** (`sleeping == true`). The flag lives inside the queue's mutex.
//!
//! Loop thread, before it blocks ([`WakeState::prepare_sleep`]), under the mutex:
//! 1. if the queue is non-empty, do not block (poll with a zero timeout);
//! 2. else set `sleeping = true`, unlock, and block in the poll.
//!
//! Remote waker ([`WakeState::push`]), under the mutex:
//! 1. push the task's name;
//! 2. if `sleeping`, clear it and, after unlocking, poke the `mio::Waker`.
//!
//! ```text
//!   loop thread                         remote thread
//!   lock ─ queue empty? ─ sleeping=true ─ unlock ── poll(blocks) ◄──── poke
//!                                                                       ▲
//!                                       lock ─ push ─ sleeping? ─ clear ┘─ unlock
//! ```
//!
//! The two critical sections are ordered by the mutex. If the push comes first, the loop sees
//! a non-empty queue and does not block; if the loop's comes first, the push sees `sleeping`
//! and pokes. Clearing the flag makes exactly one of many concurrent wakers pay for the poke;
//! a poke that arrives before the loop reaches `epoll_wait` is not lost (the waker's eventfd
//! stays readable until the poll reports it).
//!
//! Why a mutex and not a lone `SeqCst` atomic flag (Dekker's pattern): the push needs the
//! mutex anyway, a flag read inside the same critical section is exact with no fence argument
//! to get right, and loom (which treats `SeqCst` as acquire/release) can check it; it did
//! find the lost wake-up in an earlier atomic-only version. The lock is uncontended on the
//! loop side and taken only when the loop is about to make a blocking system call. The
//! `pending` atomic is only a hint that spares the loop the lock on every tick: it is set
//! inside the critical section after a push and cleared inside the drain.
//!
//! After [`WakeState::close`] (the runtime is gone) every push is refused, so wakers that
//! outlive their runtime neither leak queue entries nor poke a closed poll.

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

/// The state guarded by the mutex.
#[derive(Debug)]
struct Inner<T> {
    /// Names of tasks woken from other threads, drained by the loop.
    queue: Vec<T>,
    /// Set by the loop just before it may block; cleared by the loop when it wakes, or by the
    /// one remote waker that takes the job of poking it.
    sleeping: bool,
    /// Set once by the runtime's drop; from then on pushes are refused.
    closed: bool,
}

/// The remote ready queue plus the flag of the sleep protocol (see the module docs).
#[derive(Debug)]
pub struct WakeState<T> {
    /// The queue and the flags.
    inner: Mutex<Inner<T>>,
    /// A hint for the loop: true if the queue may be non-empty. Written under the mutex.
    pending: AtomicBool,
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
            inner: Mutex::new(Inner {
                queue: Vec::new(),
                sleeping: false,
                closed: false,
            }),
            pending: AtomicBool::new(false),
        }
    }

    /// Locks the state, recovering from poisoning (no critical section here can panic
    /// half-way, except by running out of memory).
    fn lock(&self) -> crate::shim::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item` from any thread and says whether the loop must be poked.
    pub fn push(&self, item: T) -> Pushed {
        let mut inner = self.lock();
        if inner.closed {
            return Pushed::Closed;
        }
        inner.queue.push(item);
        self.pending.store(true, Ordering::Release);
        if std::mem::replace(&mut inner.sleeping, false) {
            Pushed::QueuedMustPoke
        } else {
            Pushed::Queued
        }
    }

    /// A cheap hint for the loop: true if something may be queued. A stale `false` is
    /// harmless: [`WakeState::prepare_sleep`] checks the queue itself.
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves everything queued into `out` (loop thread).
    pub fn drain_into(&self, out: &mut Vec<T>) {
        let mut inner = self.lock();
        self.pending.store(false, Ordering::Release);
        out.append(&mut inner.queue);
    }

    /// Announces that the loop is about to block (loop thread). Returns false if a remote
    /// wake is already queued: then the loop must not block.
    pub fn prepare_sleep(&self) -> bool {
        let mut inner = self.lock();
        if !inner.queue.is_empty() {
            return false;
        }
        inner.sleeping = true;
        true
    }

    /// The loop is awake again (loop thread, after its poll returned).
    pub fn woke(&self) {
        self.lock().sleeping = false;
    }

    /// Refuses all later pushes and drops whatever is queued (runtime drop).
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.queue.clear();
        self.pending.store(false, Ordering::Release);
    }
}

// Not under loom: `tests/loom_waker.rs` compiles this file against loom's primitives, which
// only work inside `loom::model`.
#[cfg(all(test, not(mini_eventloop_loom)))]
mod tests {
    use super::*;

    /// A push while the loop may be asleep asks for exactly one poke; later pushes do not.
    #[test]
    fn only_the_first_push_after_sleep_pokes() {
        let state = WakeState::new();
        assert!(state.prepare_sleep());
        assert_eq!(state.push(1), Pushed::QueuedMustPoke);
        assert_eq!(state.push(2), Pushed::Queued);
        state.woke();
        let mut got = Vec::new();
        state.drain_into(&mut got);
        assert_eq!(got, vec![1, 2]);
    }

    /// The loop does not block while a remote wake is queued.
    #[test]
    fn no_sleep_with_pending_wakes() {
        let state = WakeState::new();
        assert_eq!(state.push(7), Pushed::Queued);
        assert!(state.has_pending());
        assert!(!state.prepare_sleep());
    }

    /// After close, pushes are refused and nothing is kept.
    #[test]
    fn closed_state_refuses_pushes() {
        let state = WakeState::new();
        state.push(1);
        state.close();
        assert_eq!(state.push(2), Pushed::Closed);
        let mut got = Vec::new();
        state.drain_into(&mut got);
        assert!(got.is_empty());
    }
}
