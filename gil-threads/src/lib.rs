//! OS threads scheduled by a global interpreter lock, the way CPython's threading works.
//!
//! (Being built.)

pub use concurrency_shared::{Ctx, Job, Wire};
