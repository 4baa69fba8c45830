//! The contract shared by the three runtimes of this workspace, so that one job, written once,
//! runs unchanged on `gil-threads` (OS threads under a global interpreter lock, like CPython's
//! `threading`), `mini-eventloop` (a cooperative single-threaded loop, like `asyncio`) and
//! `proc-pool` (forked worker processes, like `multiprocessing.Pool`).
//!
//! A job is an `async` computation against a context ([`Ctx`]) that the runtime provides. Every
//! effect the job has (a switch point, a sleep, a socket operation) goes through the context,
//! so each runtime decides what a wait means: `gil-threads` releases its lock around the
//! blocking call, `mini-eventloop` parks the task on its reactor, a pool worker just blocks.
//!
//! # Layout
//!
//! - [`job`]: the [`Job`] and [`Ctx`] traits and what each runtime must do at each method.
//! - [`blocking`]: [`BlockingCtx`] and [`block_on`], the plain blocking context: the sequential
//!   baseline, and what a process-pool worker runs a job with.
//! - [`deadline`]: [`deadline_after`], the one rule for a caller's `Duration`: a deadline past
//!   what an `Instant` holds is "no deadline", never a panic.
//! - [`panic`](mod@panic): [`panic_message`], the text of a caught panic, for the runtimes' join errors.
//! - [`waker_slot`]: [`WakerSlot`], where the one task awaiting an outcome leaves its waker
//!   for another thread to wake, and [`WakeOnDrop`]; the runtimes' awaitable result handles
//!   are built on it.
//! - [`wire`]: the [`Wire`] binary codec that carries jobs and results across process
//!   boundaries, with its typed [`WireError`].
//! - `limits` (feature `workloads`): `raise_nofile_limit`, `stress_connections` and
//!   `connections_per_process`, the only
//!   places anything touches the process's open-file limit, and `connects_in_flight`, how many
//!   connects a test may have pending without overflowing an accept queue.
//! - `trace` (feature `trace`): `Event`s on `Lane`s in a bounded, lock-free `Recorder`, stamped
//!   with one clock shared by every process, which the runtimes fill when built with their own
//!   `trace` feature; `trace::chrome` and `trace::svg` render what was recorded as a Chrome
//!   trace-event file and an SVG timeline.
//! - `workloads` (feature `workloads`): the standard jobs (CPU-bound, sleep-bound, network,
//!   mixed, and CPU work between slow round trips that marks its CPU part for offloading),
//!   each a [`Job`] that is also [`Wire`].
//! - `fixture` (feature `workloads`): a loopback TCP server over `mio` that answers
//!   length-prefixed requests after a delay, with a barrier mode that proves overlap without
//!   timing anything.
//!
//! # Features
//!
//! By default the crate holds only the traits, the codec, the blocking context and the waker
//! slot, with no dependencies. `trace` adds the recording types (`libc`, for the shared clock). `workloads` adds the standard workloads and the fixture server (`mio`, `libc`).
//!
//! # Implementation
//!
//! The contract is in `job.rs`; the codec's rules (never trust a length prefix for allocation,
//! never panic on input) are in `wire.rs`.

pub mod blocking;
pub mod deadline;
pub mod job;
pub mod panic;
pub mod waker_slot;
pub mod wire;

#[cfg(feature = "workloads")]
pub mod fixture;
#[cfg(feature = "workloads")]
pub mod limits;
#[cfg(feature = "trace")]
pub mod trace;
#[cfg(feature = "workloads")]
pub mod workloads;

pub use blocking::{BlockingCtx, block_on, run_blocking};
pub use deadline::{deadline_after, deadline_from, remaining};
pub use job::{Ctx, Job};
#[cfg(feature = "workloads")]
pub use limits::{
    NofileLimit, connections_per_process, connects_in_flight, raise_nofile_limit,
    stress_connections,
};
pub use panic::panic_message;
pub use waker_slot::{WakeOnDrop, WakerSlot};
pub use wire::{Wire, WireError};
