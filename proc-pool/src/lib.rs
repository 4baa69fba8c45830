//! A fork-based process pool, the way multiprocessing.Pool works, that never hangs, leaks or orphans.
//!
//! (Being built.)

pub use concurrency_shared::{Ctx, Job, Wire};
