//! GIL-aware locks: [`Lock`] (Python's `threading.Lock`) and [`RLock`] (`threading.RLock`).
//!
//! Invariant: a thread never blocks on one of these locks while holding the GIL. The
//! interpreter-thread methods (taking `&mut Gil`) first try without blocking, and only then
//! wait inside [`Gil::allow_threads`]; otherwise a thread holding the GIL could wait for a lock
//! whose owner needs the GIL to release it. The `*_blocking` methods are for threads outside
//! the interpreter, and refuse ([`WouldDeadlock`]) on a thread that holds a GIL.

use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{Timeout, WaitError, WouldDeadlock};
use crate::sync::{self, Condvar, Mutex};
use crate::thread::{ThreadId, current_thread};
use crate::token::Gil;
use crate::wait::{self, Deadline};

/// A plain mutual-exclusion lock, acquired through a guard (Python's `threading.Lock` used
/// with `with`).
///
/// ```
/// use std::sync::Arc;
/// use gil_threads::{Interpreter, Lock};
///
/// let interp = Interpreter::new();
/// let lock = Arc::new(Lock::new());
/// let held = lock.acquire_blocking().unwrap();
/// let lock2 = Arc::clone(&lock);
/// // The other thread waits for the lock with the GIL released.
/// let waiter = interp.spawn(move |gil| drop(lock2.acquire(gil)));
/// drop(held);
/// waiter.join().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct Lock {
    /// Whether some guard holds the lock.
    locked: Mutex<bool>,
    /// Signalled when the lock is released.
    released: Condvar,
}

/// Holds a [`Lock`]; releases it when dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    /// The lock held.
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.release_raw();
    }
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the lock if it is free; `false` otherwise.
    pub(crate) fn try_raw(&self) -> bool {
        let mut locked = sync::lock(&self.locked);
        if *locked {
            false
        } else {
            *locked = true;
            true
        }
    }

    /// Takes the lock, waiting until `deadline` at most (`None`: forever). `false` on timeout.
    pub(crate) fn acquire_raw(&self, deadline: Deadline) -> bool {
        let take = |locked: &mut bool| !std::mem::replace(locked, true);
        wait::until(&self.released, sync::lock(&self.locked), deadline, take).1
    }

    /// Releases the lock and wakes one waiter.
    pub(crate) fn release_raw(&self) {
        *sync::lock(&self.locked) = false;
        self.released.notify_one();
    }

    /// Acquires the lock from an interpreter thread, releasing the GIL while it waits.
    pub fn acquire(&self, gil: &mut Gil) -> LockGuard<'_> {
        if !self.try_raw() {
            wait::released(gil, None, |deadline| self.acquire_raw(deadline));
        }
        LockGuard { lock: self }
    }

    /// Like [`acquire`](Lock::acquire), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if the lock stayed held.
    pub fn acquire_timeout(
        &self,
        gil: &mut Gil,
        timeout: Duration,
    ) -> Result<LockGuard<'_>, Timeout> {
        if self.try_raw() || wait::released(gil, Some(timeout), |d| self.acquire_raw(d)) {
            Ok(LockGuard { lock: self })
        } else {
            Err(Timeout)
        }
    }

    /// Acquires the lock if it is free, without blocking.
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        self.try_raw().then(|| LockGuard { lock: self })
    }

    /// Acquires the lock from a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once, if this thread holds a GIL (of any interpreter: the lock
    /// cannot tell which GIL its owner needs to release it); use [`acquire`](Lock::acquire).
    ///
    /// ```
    /// use gil_threads::{Interpreter, Lock, WouldDeadlock};
    ///
    /// let interp = Interpreter::new();
    /// let lock = Lock::new();
    /// let refused = interp.with_gil(|_gil| lock.acquire_blocking().map(drop));
    /// assert_eq!(refused, Ok(Err(WouldDeadlock)));
    /// assert!(lock.acquire_blocking().is_ok());
    /// ```
    pub fn acquire_blocking(&self) -> Result<LockGuard<'_>, WouldDeadlock> {
        wait::outside(None, |deadline| self.acquire_raw(deadline))?;
        Ok(LockGuard { lock: self })
    }

    /// Like [`acquire_blocking`](Lock::acquire_blocking), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if the lock stayed held, [`WaitError::WouldDeadlock`] (at once)
    /// if this thread holds a GIL.
    pub fn acquire_timeout_blocking(&self, timeout: Duration) -> Result<LockGuard<'_>, WaitError> {
        if wait::outside(Some(timeout), |deadline| self.acquire_raw(deadline))? {
            Ok(LockGuard { lock: self })
        } else {
            Err(WaitError::Timeout)
        }
    }

    /// Whether the lock is held right now (a snapshot).
    pub fn is_locked(&self) -> bool {
        *sync::lock(&self.locked)
    }
}

/// A re-entrant lock: the thread that holds it may acquire it again (Python's
/// `threading.RLock`). Each guard releases one level; the guards cannot leave the thread.
///
/// ```
/// use gil_threads::{Interpreter, RLock};
///
/// let interp = Interpreter::new();
/// let lock = RLock::new();
/// interp.with_gil(|gil| {
///     let outer = lock.acquire(gil);
///     let inner = lock.acquire(gil); // same thread: no deadlock
///     drop(inner);
///     drop(outer);
/// }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct RLock {
    /// The owner and its recursion depth.
    state: Mutex<RLockState>,
    /// Signalled when the lock becomes free.
    released: Condvar,
}

/// Who holds an [`RLock`], and how many times.
#[derive(Debug, Default)]
struct RLockState {
    /// The owning thread.
    owner: Option<ThreadId>,
    /// How many guards it holds.
    depth: usize,
}

impl RLockState {
    /// Takes one level for `me` if the lock is free or already `me`'s.
    fn take_level(&mut self, me: ThreadId) -> bool {
        match self.owner {
            Some(owner) if owner != me => false,
            _ => {
                self.owner = Some(me);
                self.depth += 1;
                true
            }
        }
    }
}

/// Holds one level of an [`RLock`]; `!Send`, since only the owner may release it.
#[derive(Debug)]
#[must_use = "the lock level is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    /// The lock held.
    lock: &'a RLock,
    /// Ties the guard to its thread.
    _not_send: PhantomData<*const ()>,
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let mut st = sync::lock(&self.lock.state);
        st.depth -= 1;
        if st.depth == 0 {
            st.owner = None;
            drop(st);
            self.lock.released.notify_one();
        }
    }
}

impl RLock {
    /// An unlocked re-entrant lock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one level for thread `me` if it is free or already `me`'s.
    fn try_raw(&self, me: ThreadId) -> bool {
        sync::lock(&self.state).take_level(me)
    }

    /// Takes one level for `me`, waiting until `deadline` at most. `false` on timeout.
    fn acquire_raw(&self, me: ThreadId, deadline: Deadline) -> bool {
        wait::until(&self.released, sync::lock(&self.state), deadline, |st| {
            st.take_level(me)
        })
        .1
    }

    /// A guard for one level (already taken).
    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Acquires one level from an interpreter thread, releasing the GIL while it waits.
    pub fn acquire(&self, gil: &mut Gil) -> RLockGuard<'_> {
        let me = current_thread().id;
        if !self.try_raw(me) {
            wait::released(gil, None, |deadline| self.acquire_raw(me, deadline));
        }
        self.guard()
    }

    /// Like [`acquire`](RLock::acquire), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if another thread kept the lock.
    pub fn acquire_timeout(
        &self,
        gil: &mut Gil,
        timeout: Duration,
    ) -> Result<RLockGuard<'_>, Timeout> {
        let me = current_thread().id;
        if self.try_raw(me) || wait::released(gil, Some(timeout), |d| self.acquire_raw(me, d)) {
            Ok(self.guard())
        } else {
            Err(Timeout)
        }
    }

    /// Acquires one level from a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once, if this thread holds a GIL (of any interpreter); use
    /// [`acquire`](RLock::acquire).
    pub fn acquire_blocking(&self) -> Result<RLockGuard<'_>, WouldDeadlock> {
        let me = current_thread().id;
        wait::outside(None, |deadline| self.acquire_raw(me, deadline))?;
        Ok(self.guard())
    }

    /// Like [`acquire_blocking`](RLock::acquire_blocking), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if another thread kept the lock, [`WaitError::WouldDeadlock`]
    /// (at once) if this thread holds a GIL.
    pub fn acquire_timeout_blocking(&self, timeout: Duration) -> Result<RLockGuard<'_>, WaitError> {
        let me = current_thread().id;
        if wait::outside(Some(timeout), |deadline| self.acquire_raw(me, deadline))? {
            Ok(self.guard())
        } else {
            Err(WaitError::Timeout)
        }
    }
}
