//! Channels and notification between tasks, and from other threads into the loop: asyncio's
//! `Future` used as a one-shot result ([`oneshot`]), `asyncio.Queue` ([`mpsc`]), and the
//! waking half of `asyncio.Event` / `asyncio.Condition` ([`Notify`]).
//!
//! Invariant: each primitive's state lives behind one `std::sync::Mutex`, and no waker is ever
//! woken while it is held (collect, unlock, then wake), so a waker that runs code cannot
//! deadlock on it. Every sender (and `Notify`) is `Send + Sync` when the value is `Send`, so
//! threads outside the loop can feed it; the loop side never blocks.

pub mod mpsc;
mod notify;
pub mod oneshot;

pub use notify::{Notified, Notify};

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering from poisoning: a panic in another holder leaves the channel state
/// consistent, since every critical section here is a few non-panicking field updates.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
