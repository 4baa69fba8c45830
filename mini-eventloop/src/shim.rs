//! The synchronisation primitives that [`wake_state`](crate::wake_state) is written against.
//!
//! Invariant: `wake_state.rs` names its atomics and its mutex only through `crate::shim`, so the
//! loom model in `tests/loom_waker.rs` can compile the very same file against loom's types by
//! declaring its own `shim` module (loom stays a dev-dependency; see that test).

pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
pub(crate) use std::sync::{Mutex, MutexGuard};
