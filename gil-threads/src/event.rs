//! [`Event`]: a flag that threads wait for (Python's `threading.Event`).
//!
//! Invariant: the flag only changes under its mutex, and every change to `true` wakes every
//! waiter; a waiter re-checks the flag under the mutex, so no wake-up is lost. Interpreter
//! threads wait with the GIL released; the `*_blocking` waits refuse ([`WouldDeadlock`]) on a
//! thread that holds a GIL.

use std::time::Duration;

use crate::error::{Timeout, WaitError, WouldDeadlock};
use crate::sync::{self, Condvar, Mutex};
use crate::token::Gil;
use crate::wait::{self, Deadline};

/// A flag, initially false, that threads can wait for.
///
/// ```
/// use std::sync::Arc;
/// use gil_threads::{Event, Interpreter};
///
/// let interp = Interpreter::new();
/// let ready = Arc::new(Event::new());
/// let ready2 = Arc::clone(&ready);
/// let waiter = interp.spawn(move |gil| ready2.wait(gil));
/// ready.set();
/// waiter.join().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct Event {
    /// The flag.
    flag: Mutex<bool>,
    /// Signalled (to all) when the flag is set.
    changed: Condvar,
}

impl Event {
    /// An event whose flag is false.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        *sync::lock(&self.flag) = true;
        self.changed.notify_all();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        *sync::lock(&self.flag) = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        *sync::lock(&self.flag)
    }

    /// Waits for the flag until `deadline` (`None`: forever); whether it was set.
    fn wait_raw(&self, deadline: Deadline) -> bool {
        wait::until(&self.changed, sync::lock(&self.flag), deadline, |flag| {
            *flag
        })
        .1
    }

    /// Waits for the flag from an interpreter thread, releasing the GIL while it waits.
    pub fn wait(&self, gil: &mut Gil) {
        if !self.is_set() {
            wait::released(gil, None, |deadline| self.wait_raw(deadline));
        }
    }

    /// Like [`wait`](Event::wait), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if the flag stayed false.
    pub fn wait_timeout(&self, gil: &mut Gil, timeout: Duration) -> Result<(), Timeout> {
        if self.is_set() || wait::released(gil, Some(timeout), |d| self.wait_raw(d)) {
            Ok(())
        } else {
            Err(Timeout)
        }
    }

    /// Waits for the flag from a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once (even if the flag is set), if this thread holds a GIL (of
    /// any interpreter: the event cannot tell which GIL its setter needs); use
    /// [`wait`](Event::wait).
    pub fn wait_blocking(&self) -> Result<(), WouldDeadlock> {
        wait::outside(None, |deadline| self.wait_raw(deadline))?;
        Ok(())
    }

    /// Like [`wait_blocking`](Event::wait_blocking), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if the flag stayed false, [`WaitError::WouldDeadlock`] (at once)
    /// if this thread holds a GIL.
    pub fn wait_timeout_blocking(&self, timeout: Duration) -> Result<(), WaitError> {
        if wait::outside(Some(timeout), |deadline| self.wait_raw(deadline))? {
            Ok(())
        } else {
            Err(WaitError::Timeout)
        }
    }
}
