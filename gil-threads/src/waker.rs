//! Where an awaiting task's waker waits for an interpreter thread's or an executor task's
//! outcome, so that [`JoinHandle`](crate::JoinHandle) and [`TaskHandle`](crate::TaskHandle)
//! can be awaited by any executor: the workspace's one [`WakerSlot`] and its [`WakeOnDrop`].
//!
//! Invariant: the waker is woken after the outcome is visible (stored, sent, or its sender
//! dropped), and outside the slot's lock (a waker is the executor's code); a panicking waker
//! is caught on the thread that produced the outcome. Polling takes only this slot's lock and
//! the outcome's, never the GIL, and never blocks on the GIL's holder.
//!
//! The slot's lock is std's, not the [`sync`](crate::sync) shim's: it orders only a waker
//! against an outcome, never the GIL, and the loom model covers the GIL core alone (as with
//! the executor's channels).

pub(crate) use concurrency_shared::{WakeOnDrop, WakerSlot};
