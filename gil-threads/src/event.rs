//! [`Event`]: a flag that threads wait for (Python's `threading.Event`).
//!
//! Invariant: the flag only changes under its mutex, and every change to `true` wakes every
//! waiter; a waiter re-checks the flag under the mutex, so no wake-up is lost. Interpreter
//! threads wait with the GIL released; the `*_blocking` waits refuse ([`WouldDeadlock`]) on a
//! thread that holds a GIL.

use std::time::{Duration, Instant};

use crate::error::{Timeout, WaitError, WouldDeadlock};
use crate::sync::{self, Condvar, Mutex};
use crate::token::{self, Gil};

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
    fn wait_raw(&self, deadline: Option<Instant>) -> bool {
        let mut flag = sync::lock(&self.flag);
        while !*flag {
            match deadline {
                None => flag = sync::wait(&self.changed, flag),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    flag = sync::wait_timeout(&self.changed, flag, left).0;
                }
            }
        }
        true
    }

    /// Waits for the flag from an interpreter thread, releasing the GIL while it waits.
    pub fn wait(&self, gil: &mut Gil) {
        if !self.is_set() {
            gil.allow_threads(|| self.wait_raw(None));
        }
    }

    /// Like [`wait`](Event::wait), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if the flag stayed false.
    pub fn wait_timeout(&self, gil: &mut Gil, timeout: Duration) -> Result<(), Timeout> {
        if self.is_set() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        if gil.allow_threads(|| self.wait_raw(Some(deadline))) {
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
        token::refuse_if_holding_any()?;
        self.wait_raw(None);
        Ok(())
    }

    /// Like [`wait_blocking`](Event::wait_blocking), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if the flag stayed false, [`WaitError::WouldDeadlock`] (at once)
    /// if this thread holds a GIL.
    pub fn wait_timeout_blocking(&self, timeout: Duration) -> Result<(), WaitError> {
        token::refuse_if_holding_any()?;
        if self.wait_raw(Some(Instant::now() + timeout)) {
            Ok(())
        } else {
            Err(WaitError::Timeout)
        }
    }
}
