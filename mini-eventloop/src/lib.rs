//! A cooperative single-threaded event loop with its own futures, executor, waker and timers over mio, the way asyncio works.
//!
//! (Being built.)

pub use concurrency_shared::{Ctx, Job, Wire};
