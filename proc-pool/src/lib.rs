//! A fork-based process pool, the way Python's `multiprocessing.Pool` works, that never hangs,
//! leaks or orphans.
//!
//! [`Pool::new(n)`](Pool::new) forks `n` worker processes (no `exec`) from one long-lived
//! manager thread; with [`StartMethod::ForkServer`], a single-threaded server started from a
//! clean image of the executable forks them instead (Python's `"forkserver"`). Tasks are plain functions `fn(T) -> U` or shared [`Job`]s; their inputs and
//! results cross the process boundary as [`Wire`]-encoded, length-prefixed frames on
//! per-worker pipes. Python's `Pool` is the model for the API (`apply`, `apply_async`, `map`,
//! `imap`, `imap_unordered`, `close`, `join`, `terminate`); its failure modes are what this
//! crate does better: a killed worker fails exactly its current chunk and is replaced (Python
//! hangs, python/cpython#66587), nothing is shared between workers that a dying worker could
//! leave locked (#96062), and a crash breaks the whole pool only if asked to
//! ([`CrashPolicy::FailPool`], like `ProcessPoolExecutor`).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use proc_pool::{Pool, TaskError};
//!
//! fn collatz_steps(mut n: u64) -> u32 {
//!     let mut steps = 0;
//!     while n > 1 {
//!         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
//!         steps += 1;
//!     }
//!     steps
//! }
//!
//! let pool = Pool::new(2)?;
//! let steps: Vec<Result<u32, TaskError>> = pool.map(collatz_steps, 1..=10);
//! assert_eq!(steps[6], Ok(16));
//! pool.join();
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `pool`: [`Pool`], [`Builder`] and every call; encoding and decoding on the caller's side.
//! - `manager`: the manager thread's `mio` poll loop over worker pipes and pidfds.
//! - `worker`: a worker's whole life cycle: fork, serve, end, replacement, and the fork-safety
//!   rules of the child.
//! - `forkserver`: [`StartMethod::ForkServer`]: the protocol and the pool's side of it;
//!   `forkserver/server.rs`: the server process, entered from an `.init_array` constructor.
//! - `image`: which loaded object holds a function, at which offset, and whether the pool's
//!   workers have it (what each start method accepts).
//! - `server_sys`: the system calls only the fork server needs (`SCM_RIGHTS`, `posix_spawn`).
//! - `task`: how a call becomes a frame (trampolines, the process token) and the SAFETY
//!   argument for sending code addresses.
//! - `frame`: the frame formats and the buffer that cuts a pipe's bytes into frames.
//! - `result`: [`AsyncResult`] and the wait every call uses.
//! - `imap`: [`Imap`], the streaming iterator with its bounded window.
//! - `error`: [`TaskError`], [`ExitStatus`], [`BuildError`].
//! - `stats`: [`PoolStats`].
//! - `sys`: every system call, behind safe wrappers.
//! - `trace` (feature `trace`): the recording types, re-exported from the shared crate, and
//!   how a traced pool's manager and workers record chunks sent and run.
//! - `fault` (feature `fault-injection`, for the pool's own tests): a task asks its worker to
//!   garble its answer, break the answer stream's framing, stop before answering or panic
//!   outside any `catch_unwind`; a test hides `close_range` from later workers.
//!
//! # Implementation
//!
//! The core is two files: `manager.rs` (the poll loop: dispatch, answers, timeouts,
//! replacement) and `worker.rs` (fork, the worker loop, and how each way a worker ends settles
//! the chunks it held). Read the diagram at the top of each. `worker.rs` is the one file past
//! 500 lines, on purpose: a worker's whole life cycle, both sides of the fork, reads in one
//! place.

mod error;
#[cfg(feature = "fault-injection")]
mod fault;
mod forkserver;
mod frame;
mod image;
mod imap;
mod manager;
mod notify;
mod pool;
mod result;
mod server_sys;
mod stats;
mod sys;
mod task;
#[cfg(feature = "trace")]
pub mod trace;
mod worker;

pub use concurrency_shared::{Ctx, Job, Wire, WireError, run_blocking};
pub use error::{BuildError, ExitStatus, TaskError};
pub use imap::Imap;
pub use manager::CrashPolicy;
pub use pool::{Builder, FLUSH_BEFORE_FORK_BOUND, MAX_WORKERS, Pool, auto_chunksize};
pub use result::AsyncResult;
pub use stats::PoolStats;
pub use worker::{PREFETCH, PREFETCH_BUDGET_NS, StartMethod};

#[cfg(feature = "fault-injection")]
pub use fault::{
    break_answer_framing, garble_next_answer, hide_close_range, stop_before_answering,
    unwind_out_of_the_worker,
};

/// The README's code blocks, compiled and run as doctests so its quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
