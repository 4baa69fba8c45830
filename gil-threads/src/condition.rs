//! [`Condition`]: a condition variable with its own lock (Python's `threading.Condition`).
//!
//! Invariant: a waiter registers its ticket while holding the condition's lock, and a notifier
//! must hold that lock to notify (it holds a [`ConditionGuard`]), so a notification can never
//! fall between a waiter's check of its predicate and its sleep. `notify(n)` wakes the `n`
//! oldest waiters, each exactly once; a waiter that times out withdraws its ticket unless it
//! was already signalled (then it counts as notified). Interpreter threads wait with the GIL
//! released; the `*_blocking` calls refuse ([`WouldDeadlock`]) on a thread that holds a GIL.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{Timeout, WaitError, WouldDeadlock};
use crate::lock::Lock;
use crate::sync::{self, Condvar, Mutex};
use crate::token::Gil;
use crate::wait::{self, Deadline};

/// A condition variable bundled with its lock.
///
/// ```
/// use std::sync::Arc;
/// use gil_threads::{Condition, GilCell, Interpreter};
///
/// let interp = Interpreter::new();
/// let cond = Arc::new(Condition::new());
/// let ready = Arc::new(GilCell::new(interp.id(), false));
/// let (cond2, ready2) = (Arc::clone(&cond), Arc::clone(&ready));
/// let waiter = interp.spawn(move |gil| {
///     let mut guard = cond2.acquire(gil);
///     while !*ready2.borrow(gil).unwrap() {
///         guard.wait(gil);
///     }
/// });
/// interp.with_gil(|gil| {
///     let guard = cond.acquire(gil);
///     *ready.borrow_mut(gil).unwrap() = true;
///     guard.notify_all();
/// }).unwrap();
/// waiter.join().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct Condition {
    /// The lock a [`ConditionGuard`] holds.
    lock: Lock,
    /// Waiting and signalled tickets.
    tickets: Mutex<Tickets>,
    /// Signalled (to all) whenever tickets are signalled.
    signal: Condvar,
}

/// The waiters of a [`Condition`], guarded by `Condition::tickets`.
#[derive(Debug, Default)]
struct Tickets {
    /// The next ticket number.
    next: u64,
    /// Tickets waiting to be notified, oldest first.
    waiting: VecDeque<u64>,
    /// Tickets notified but not yet woken.
    signalled: Vec<u64>,
}

/// Holds a [`Condition`]'s lock; lets the holder wait and notify.
#[derive(Debug)]
#[must_use = "the condition's lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a> {
    /// The condition whose lock is held.
    cond: &'a Condition,
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        self.cond.lock.release_raw();
    }
}

impl Condition {
    /// Signals the `n` oldest waiting tickets (the caller holds the lock, or is a dying
    /// waiter passing its signal on).
    fn notify_locked(&self, n: usize) {
        let mut t = sync::lock(&self.tickets);
        let count = n.min(t.waiting.len());
        let woken: Vec<u64> = t.waiting.drain(..count).collect();
        t.signalled.extend(woken);
        drop(t);
        if count > 0 {
            self.signal.notify_all();
        }
    }

    /// A condition with a fresh lock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acquires the condition's lock from an interpreter thread (the GIL is released while
    /// waiting for it).
    pub fn acquire(&self, gil: &mut Gil) -> ConditionGuard<'_> {
        std::mem::forget(self.lock.acquire(gil));
        ConditionGuard { cond: self }
    }

    /// Acquires the condition's lock from a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once, if this thread holds a GIL (of any interpreter); use
    /// [`acquire`](Condition::acquire).
    pub fn acquire_blocking(&self) -> Result<ConditionGuard<'_>, WouldDeadlock> {
        std::mem::forget(self.lock.acquire_blocking()?);
        Ok(ConditionGuard { cond: self })
    }

    /// Waits, holding the lock, to be notified (until `deadline`): registers a ticket,
    /// releases the lock, waits for the ticket to be signalled, withdraws it if it was not,
    /// retakes the lock. Whether it was signalled. Whatever unwinds through it, the ticket is
    /// withdrawn and the lock retaken (as Python's `wait` does in its `finally`).
    fn wait_raw(&self, deadline: Deadline) -> bool {
        let ticket = Ticket::register(self);
        self.lock.release_raw();
        let _relock = Relock(&self.lock);
        let (mut t, signalled) =
            wait::until(&self.signal, sync::lock(&self.tickets), deadline, |t| {
                t.take_signal(ticket.id)
            });
        if !signalled {
            t.waiting.retain(|&w| w != ticket.id);
        }
        drop(t);
        ticket.settled();
        signalled
    }
}

impl Tickets {
    /// Takes `id`'s signal if it was notified.
    fn take_signal(&mut self, id: u64) -> bool {
        match self.signalled.iter().position(|&s| s == id) {
            Some(pos) => {
                self.signalled.swap_remove(pos);
                true
            }
            None => false,
        }
    }
}

/// A waiter's ticket while it waits: withdrawn by its drop if the wait unwinds, so a dead
/// waiter can neither stay queued nor swallow a notification (one it received already is
/// passed on to the next waiter).
struct Ticket<'a> {
    /// The condition it waits on.
    cond: &'a Condition,
    /// Its number.
    id: u64,
}

impl<'a> Ticket<'a> {
    /// Queues a new ticket (the caller holds the condition's lock).
    fn register(cond: &'a Condition) -> Self {
        let mut t = sync::lock(&cond.tickets);
        let id = t.next;
        t.next += 1;
        t.waiting.push_back(id);
        Self { cond, id }
    }

    /// The wait ended normally and the ticket is in neither list any more.
    fn settled(self) {
        std::mem::forget(self);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut t = sync::lock(&self.cond.tickets);
        t.waiting.retain(|&w| w != self.id);
        if t.take_signal(self.id) {
            drop(t);
            self.cond.notify_locked(1);
        }
    }
}

/// Retakes the condition's lock when dropped, so the [`ConditionGuard`] that will release it
/// holds it again, however the wait ended.
struct Relock<'a>(&'a Lock);

impl Drop for Relock<'_> {
    fn drop(&mut self) {
        self.0.acquire_raw(None);
    }
}

impl ConditionGuard<'_> {
    /// Releases the lock, waits to be notified with the GIL released, retakes the lock.
    /// Like Python's, a wait can end without the predicate being true: re-check it in a loop.
    pub fn wait(&mut self, gil: &mut Gil) {
        let cond = self.cond;
        wait::released(gil, None, |deadline| cond.wait_raw(deadline));
    }

    /// Like [`wait`](ConditionGuard::wait), giving up after `timeout` (the lock is retaken
    /// either way).
    ///
    /// # Errors
    ///
    /// [`Timeout`] if nobody notified this waiter in time.
    pub fn wait_timeout(&mut self, gil: &mut Gil, timeout: Duration) -> Result<(), Timeout> {
        let cond = self.cond;
        if wait::released(gil, Some(timeout), |deadline| cond.wait_raw(deadline)) {
            Ok(())
        } else {
            Err(Timeout)
        }
    }

    /// [`wait`](ConditionGuard::wait) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once (the lock stays held), if this thread holds a GIL (a guard
    /// taken with [`Condition::acquire`] must wait with [`wait`](ConditionGuard::wait)).
    pub fn wait_blocking(&mut self) -> Result<(), WouldDeadlock> {
        wait::outside(None, |deadline| self.cond.wait_raw(deadline))?;
        Ok(())
    }

    /// [`wait_timeout`](ConditionGuard::wait_timeout) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if nobody notified this waiter in time,
    /// [`WaitError::WouldDeadlock`] (at once, the lock still held) if this thread holds a GIL.
    pub fn wait_timeout_blocking(&mut self, timeout: Duration) -> Result<(), WaitError> {
        if wait::outside(Some(timeout), |deadline| self.cond.wait_raw(deadline))? {
            Ok(())
        } else {
            Err(WaitError::Timeout)
        }
    }

    /// Wakes the `n` longest-waiting threads (fewer if fewer wait).
    pub fn notify(&self, n: usize) {
        self.cond.notify_locked(n);
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    //! The ticket guard, which no public call can make unwind.

    use std::panic::{self, AssertUnwindSafe};

    use super::{Condition, Ticket};
    use crate::sync;

    /// A waiter that unwinds withdraws its ticket, and a notification it had received goes
    /// to the next waiter instead of being lost.
    #[test]
    fn an_unwinding_waiter_passes_its_notification_on() {
        let cond = Condition::new();
        let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
            let _ticket = Ticket::register(&cond);
            panic!("a waiter dies while queued");
        }));
        assert!(unwound.is_err());
        assert!(sync::lock(&cond.tickets).waiting.is_empty());

        let dying = Ticket::register(&cond);
        let next = Ticket::register(&cond);
        cond.notify_locked(1);
        let unwound = panic::catch_unwind(AssertUnwindSafe(move || {
            let _dying = dying;
            panic!("a notified waiter dies before waking");
        }));
        assert!(unwound.is_err());
        let mut t = sync::lock(&cond.tickets);
        assert!(t.take_signal(next.id), "the notification was passed on");
        assert!(t.waiting.is_empty() && t.signalled.is_empty());
        drop(t);
        next.settled();
    }
}
