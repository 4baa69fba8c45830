//! OS threads scheduled by a global interpreter lock, the way CPython's `threading` works.
//!
//! Real OS threads; one global interpreter lock (GIL) decides which of them may run
//! "interpreter code" at any instant. The lock follows CPython's `Python/ceval_gil.c`: a thread
//! that wants the GIL waits one **switch interval**, then sets a **drop request**; the holder
//! honours it at its next [`Gil::checkpoint`] (a bytecode boundary) and, by **forced
//! switching**, cannot take the GIL straight back. [`Gil::allow_threads`] releases it around
//! blocking work, and [`Gil::yield_now`] hands it over voluntarily. Besides CPython's
//! [`Policy::Fair`], [`Policy::Fifo`] hands the GIL directly to the longest waiter, and
//! [`Policy::IoPriority`] fixes the convoy effect (bpo-7946): a thread back from blocking I/O
//! asks for the GIL at once and is handed it at the holder's next checkpoint.
//!
//! The [`Gil`] token is the compiler-checked proof that a thread holds the GIL; [`GilCell`]
//! is state guarded by it. Threads ([`Interpreter::spawn`], [`Builder`]), GIL-aware
//! primitives ([`Lock`], [`RLock`], [`Event`], [`Condition`], [`Queue`],
//! [`ThreadPoolExecutor`]) and the shared [`Job`] contract ([`GilCtx`],
//! [`Interpreter::spawn_job`], [`Interpreter::run_jobs`]) are built on it.
//!
//! ```
//! use gil_threads::Interpreter;
//!
//! let interp = Interpreter::new();
//! let t = interp.spawn(|gil| {
//!     let mut n = 0u64;
//!     for i in 0..1_000 {
//!         n += i;
//!         gil.checkpoint();
//!     }
//!     n
//! });
//! assert_eq!(t.join(), Ok(499_500));
//! ```
//!
//! # Layout
//!
//! - [`gil`]: the GIL itself: take, drop, checkpoint, forced switching, the policies.
//! - `sync`: the shim through which every mutex, condvar, atomic and `park` comes (std or
//!   loom), with the modelled switch-interval clock.
//! - `token`: the [`Gil`] token.
//! - `interpreter`: [`Interpreter`], its builder and shutdown.
//! - `thread`: spawning, [`JoinHandle`], [`current_thread`].
//! - `cell`: [`GilCell`].
//! - `ctx`: [`GilCtx`], the shared [`Job`] contract on interpreter threads.
//! - `lock`: [`Lock`] and [`RLock`], GIL-aware.
//! - `event`: [`Event`].
//! - `condition`: [`Condition`].
//! - `queue`: [`Queue`] (bounded or not, `task_done`/`join`).
//! - `wait`: the one blocking wait the primitives share: a caller's timeout turned into a
//!   deadline that never panics, waited for with the GIL released (interpreter threads) or
//!   refused while holding a GIL (threads outside).
//! - `executor`: [`ThreadPoolExecutor`] and its [`TaskHandle`].
//! - `stats`: [`Stats`] and [`GilCounters`].
//! - `record`: what the GIL records with the `trace` feature (holds, waits, drop requests,
//!   forced switches, one lane per thread); without it, empty hooks that compile to nothing.
//! - `trace` (feature `trace`): the recording types, re-exported from the shared crate.
//! - `error`: the error types, among them [`WouldDeadlock`]: the calls for threads outside the
//!   interpreter refuse, instead of blocking, on a thread that holds the GIL they would need.
//!
//! # Implementation
//!
//! The algorithm is whole in `src/gil.rs`, which opens with a design note (states, numbered
//! protocol steps, the races prevented, why the memory orderings suffice, a diagram) and is
//! meant to be read top to bottom.

pub mod gil;

mod cell;
mod condition;
mod ctx;
mod error;
mod event;
mod executor;
mod interpreter;
mod lock;
mod queue;
mod record;
mod stats;
mod sync;
mod thread;
mod token;
mod wait;
mod waker;

pub use cell::GilCell;
pub use concurrency_shared::{Ctx, Job, Wire};
pub use condition::{Condition, ConditionGuard};
pub use ctx::GilCtx;
pub use error::{
    BorrowError, BuildError, ExecutorShutDown, Full, GilError, InvalidInterval, JoinError,
    JoinFailed, PutError, TaskError, TaskFailed, Timeout, TooManyTaskDone, WaitError,
    WouldDeadlock,
};
pub use event::Event;
pub use executor::{TaskHandle, ThreadPoolExecutor};
pub use gil::Policy;
pub use interpreter::{DEFAULT_SWITCH_INTERVAL, Interpreter, InterpreterBuilder, InterpreterId};
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use queue::Queue;
pub use stats::{GilCounters, Stats, ThreadStats};
pub use thread::{Builder, JoinHandle, ThreadId, ThreadInfo, current_thread};
pub use token::Gil;

/// The recording types ([`Recorder`](trace::Recorder), [`Event`](trace::Event),
/// [`Lane`](trace::Lane), [`Kind`](trace::Kind)) that
/// [`InterpreterBuilder::recorder`] fills (feature `trace`).
#[cfg(feature = "trace")]
pub use concurrency_shared::trace;

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
