//! A cooperative, single-threaded event loop written from scratch over `mio`: its own
//! executor, waker, reactor and timers, the way Python's `asyncio` works.
//!
//! Tasks run one at a time on the thread that calls [`Runtime::block_on`]; a task gives up
//! the thread only at an `.await` that is not ready. Tasks need not be `Send`; wakers are
//! `Send + Sync` and may be called from any thread.
//!
//! ```
//! use std::time::Duration;
//! use mini_eventloop::{Runtime, sleep, spawn};
//!
//! let rt = Runtime::new().unwrap();
//! let total = rt.block_on(async {
//!     let handles: Vec<_> = (0..10u64)
//!         .map(|i| spawn(async move {
//!             sleep(Duration::from_micros(100)).await;
//!             i
//!         }))
//!         .collect();
//!     let mut total = 0;
//!     for h in handles {
//!         total += h.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 45);
//! ```
//!
//! # Layout
//!
//! - `runtime`: [`Runtime`], [`spawn`], and **the poll loop** (run → time → poll → wake), with
//!   the fairness policy and shutdown order.
//! - `builder`: [`Builder`], the settings and their defaults.
//! - `combinators`: [`join`], [`join_all`] ([`JoinAll`]) and [`select`] ([`Either`]): several
//!   futures in one task, each polled only when woken.
//! - `slab`: live tasks by slot and generation.
//! - `task`: a task (future and output in one allocation), [`JoinHandle`], [`yield_now`].
//! - `join_error`: [`JoinError`], a panic's payload kept for `resume_unwind`.
//! - `contain`: the rule for user panics no task owns (a foreign waker, a destructor the
//!   runtime runs): contained, and the batch or shutdown around them completes.
//! - `waiters`: `Waiters`, the one list of waiting tasks every primitive keeps
//!   (every waiter kept, a dropped waiter removed).
//! - `waker`: the `Send + Sync` waker that names a task by slot and generation.
//! - `wake_state`: the remote ready queue and the "sleeping" flag (model-checked with loom).
//! - `reactor`: the `mio::Poll`, one registration per source, readiness and per-direction
//!   waiter lists; [`IoRuntimeError`] for an object polled outside its runtime.
//! - `timer`: the deadline queue, [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//! - `sys`: the `timerfd` system calls (the only `libc` calls).
//! - [`net`]: [`TcpListener`](net::TcpListener), [`TcpStream`](net::TcpStream),
//!   [`UdpSocket`](net::UdpSocket), host names ([`lookup_host`](net::lookup_host)), and with
//!   the `futures-io` feature the `AsyncRead`/`AsyncWrite` impls (`net/futures_io.rs`).
//! - `remote`: [`Handle`], spawning onto the loop from other threads, and
//!   [`RemoteJoinHandle`], a result another thread awaits or waits for.
//! - `blocking_pool`: the helper threads and their queue, the hand-off decided under one lock
//!   (model-checked with loom).
//! - `blocking`: [`spawn_blocking`] on a bounded pool of helper threads.
//! - [`sync`]: [`oneshot`](sync::oneshot) and [`mpsc`](sync::mpsc) channels, and
//!   [`Notify`](sync::Notify) (`sync/notify.rs`).
//! - `stats`: [`Stats`] and [`SlowPoll`].
//! - `record`: with the `trace` feature, a span per task poll and per wait in the poller into
//!   the recorder given to [`Builder::recorder`](crate::Builder); without it, zero-sized no-ops.
//! - `job`: the shared [`Job`] contract on the loop: [`LoopCtx`], [`spawn_job`],
//!   [`Runtime::run_jobs`].
//!
//! # Implementation
//!
//! The scheduling algorithm is whole in `runtime.rs` (`Runtime::block_on` and `Core::turn`);
//! the cross-thread wake protocol, with its design note and diagram, is in `wake_state.rs`;
//! readiness rules are in `reactor.rs`; the timer queue's choice is explained in `timer.rs`.

mod blocking;
mod blocking_pool;
mod builder;
mod combinators;
mod contain;
mod job;
mod join_error;
pub mod net;
mod reactor;
mod record;
mod remote;
mod runtime;
mod shim;
mod slab;
mod stats;
pub mod sync;
mod sys;
mod task;
mod timer;
mod waiters;
mod wake_state;
mod waker;

pub use blocking::{BlockingHandle, spawn_blocking};
pub use builder::Builder;
pub use combinators::{Either, JoinAll, join, join_all, select};
/// The recording types ([`Recorder`](trace::Recorder), [`Event`](trace::Event), …), for
/// [`Builder::recorder`].
#[cfg(feature = "trace")]
pub use concurrency_shared::trace;
pub use concurrency_shared::{Ctx, Job, Wire};
pub use job::{LoopCtx, spawn_job};
pub use net::ACCEPT_BACKOFF;
pub use reactor::IoRuntimeError;
pub use remote::{Handle, RemoteJoinHandle};
pub use runtime::{Runtime, spawn, spawn_named, stats};
pub use stats::{SlowPoll, Stats};
pub use task::{JoinError, JoinHandle, YieldNow, yield_now};
pub use timer::{
    Elapsed, Interval, MissedTickBehavior, Sleep, Timeout, interval, sleep, sleep_until, timeout,
};
