//! The synchronisation primitives that `wake_state.rs` and `blocking_pool.rs` are written
//! against.
//!
//! Invariant: `wake_state.rs` and `blocking_pool.rs` name their atomics, locks and threads only
//! through `crate::shim`, so the loom models in `tests/loom_waker.rs` and
//! `tests/loom_blocking.rs` can compile the very same files against loom's types by declaring
//! their own `shim` module (loom stays a dev-dependency; see those tests).

pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
pub(crate) use std::thread;
