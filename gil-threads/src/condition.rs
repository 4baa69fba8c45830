//! [`Condition`]: a condition variable with its own lock (Python's `threading.Condition`).
//!
//! Invariant: a waiter registers its ticket while holding the condition's lock, and a notifier
//! must hold that lock to notify (it holds a [`ConditionGuard`]), so a notification can never
//! fall between a waiter's check of its predicate and its sleep. `notify(n)` wakes the `n`
//! oldest waiters, each exactly once; a waiter that times out withdraws its ticket unless it
//! was already signalled (then it counts as notified). Interpreter threads wait with the GIL
//! released; the `*_blocking` calls refuse ([`WouldDeadlock`]) on a thread that holds a GIL.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::{Timeout, WaitError, WouldDeadlock};
use crate::lock::Lock;
use crate::sync::{self, Condvar, Mutex};
use crate::token::{self, Gil};

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

    /// A new waiting ticket (the caller holds the lock).
    fn register(&self) -> u64 {
        let mut t = sync::lock(&self.tickets);
        let ticket = t.next;
        t.next += 1;
        t.waiting.push_back(ticket);
        ticket
    }

    /// Releases the lock, waits for `ticket` to be signalled (until `deadline`), retakes the
    /// lock. Whether it was signalled.
    fn wait_raw(&self, ticket: u64, deadline: Option<Instant>) -> bool {
        self.lock.release_raw();
        let signalled = {
            let mut t = sync::lock(&self.tickets);
            loop {
                if let Some(pos) = t.signalled.iter().position(|&s| s == ticket) {
                    t.signalled.swap_remove(pos);
                    break true;
                }
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                match left {
                    None => t = sync::wait(&self.signal, t),
                    Some(left) if left.is_zero() => {
                        t.waiting.retain(|&w| w != ticket);
                        break false;
                    }
                    Some(left) => t = sync::wait_timeout(&self.signal, t, left).0,
                }
            }
        };
        self.lock.acquire_raw(None);
        signalled
    }
}

impl ConditionGuard<'_> {
    /// Releases the lock, waits to be notified with the GIL released, retakes the lock.
    /// Like Python's, a wait can end without the predicate being true: re-check it in a loop.
    pub fn wait(&mut self, gil: &mut Gil) {
        let ticket = self.cond.register();
        let cond = self.cond;
        gil.allow_threads(|| cond.wait_raw(ticket, None));
    }

    /// Like [`wait`](ConditionGuard::wait), giving up after `timeout` (the lock is retaken
    /// either way).
    ///
    /// # Errors
    ///
    /// [`Timeout`] if nobody notified this waiter in time.
    pub fn wait_timeout(&mut self, gil: &mut Gil, timeout: Duration) -> Result<(), Timeout> {
        let ticket = self.cond.register();
        let cond = self.cond;
        let deadline = Instant::now() + timeout;
        if gil.allow_threads(|| cond.wait_raw(ticket, Some(deadline))) {
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
        token::refuse_if_holding_any()?;
        let ticket = self.cond.register();
        self.cond.wait_raw(ticket, None);
        Ok(())
    }

    /// [`wait_timeout`](ConditionGuard::wait_timeout) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if nobody notified this waiter in time,
    /// [`WaitError::WouldDeadlock`] (at once, the lock still held) if this thread holds a GIL.
    pub fn wait_timeout_blocking(&mut self, timeout: Duration) -> Result<(), WaitError> {
        token::refuse_if_holding_any()?;
        let ticket = self.cond.register();
        if self.cond.wait_raw(ticket, Some(Instant::now() + timeout)) {
            Ok(())
        } else {
            Err(WaitError::Timeout)
        }
    }

    /// Wakes the `n` longest-waiting threads (fewer if fewer wait).
    pub fn notify(&self, n: usize) {
        let mut t = sync::lock(&self.cond.tickets);
        let count = n.min(t.waiting.len());
        let woken: Vec<u64> = t.waiting.drain(..count).collect();
        t.signalled.extend(woken);
        drop(t);
        if count > 0 {
            self.cond.signal.notify_all();
        }
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }
}
