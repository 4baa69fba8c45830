//! The job contract: [`Job`] is what a user writes once, [`Ctx`] is what each runtime provides.
//!
//! Invariant: a job reaches the outside world only through its context. That is what lets one
//! job run on three runtimes whose ideas of "waiting" differ completely:
//!
//! ```text
//!                 checkpoint          sleep / connect / read / write_all
//! gil-threads     honour a pending    release the GIL around the real
//!                 GIL drop request    blocking system call, retake after
//! mini-eventloop  cooperative yield   park the task on a timer or on the
//!                 (policy-limited)    reactor until the socket is ready
//! proc-pool       nothing             plain blocking call in the worker
//! sequential      nothing             plain blocking call
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A unit of work, written once as an `async` computation against a [`Ctx`], that every
/// runtime of this workspace can run.
///
/// A job is a **sequential** program: every [`Ctx`] method takes `&mut self`, so a job awaits
/// one thing at a time (no `join!` or `select!` inside a job). Concurrency comes from running
/// many jobs at once, which is the runtime's business.
///
/// The future returned by [`run`](Job::run) need not be `Send`: a runtime moves the job itself
/// (usually an `Arc<J>`) and a fresh context to where the job will run (a thread, a task, a
/// worker process) and calls `run` there.
///
/// The trait is not object-safe (its methods are generic over the context); code that picks a
/// runtime at run time uses an enum and generic functions.
///
/// # Example
///
/// ```
/// use concurrency_shared::{Ctx, Job, run_blocking};
///
/// /// Sums the numbers below `n`, offering a switch point every 1,000 of them.
/// struct SumBelow(u64);
///
/// impl Job for SumBelow {
///     type Output = u64;
///     async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
///         let mut sum = 0;
///         for i in 0..self.0 {
///             if i % 1_000 == 0 {
///                 cx.checkpoint().await;
///             }
///             sum += i;
///         }
///         sum
///     }
/// }
///
/// assert_eq!(run_blocking(&SumBelow(10_000)), 49_995_000);
/// ```
pub trait Job: Send + Sync + 'static {
    /// What the job computes; it crosses thread (and, with `Wire`, process) boundaries.
    type Output: Send + 'static;

    /// Runs the job against the runtime's context.
    fn run<C: Ctx>(&self, cx: &mut C) -> impl Future<Output = Self::Output>;
}

/// The effects a [`Job`] may have, provided by the runtime that runs it.
///
/// # What each runtime does
///
/// | method | `gil-threads` | `mini-eventloop` | `proc-pool` worker, sequential |
/// |---|---|---|---|
/// | [`checkpoint`](Ctx::checkpoint) | honours a pending drop request ("bytecode boundary") | a cooperative yield point, under the loop's documented policy | nothing |
/// | [`sleep`](Ctx::sleep) | `thread::sleep` with the GIL released | a timer | `thread::sleep` |
/// | [`connect`](Ctx::connect), [`read`](Ctx::read), [`write_all`](Ctx::write_all) | the blocking call with the GIL released | a non-blocking `mio` socket, parked on the reactor | the blocking call |
///
/// Every future a context returns completes on every runtime; on the blocking ones
/// (`gil-threads`, a worker, sequential) it completes on its first poll.
///
/// # Cancellation
///
/// Cancellation differs by model, and a job must tolerate each:
///
/// - `mini-eventloop`: an aborted task is dropped at the `.await` it is suspended at; code
///   after that point never runs, destructors do.
/// - `gil-threads`: a thread cannot be cancelled from outside; a job stops only by returning
///   (or, at interpreter shutdown, a daemon thread that wants the GIL unwinds).
/// - `proc-pool`: a task past its timeout has its worker process killed: nothing after the
///   kill runs, not even destructors.
pub trait Ctx {
    /// An open connection. A plain handle: every operation on it goes through the context.
    type Stream;

    /// A point where the job may be switched out: CPython's "bytecode boundary".
    ///
    /// CPU-bound jobs should call it every few microseconds of work; otherwise a GIL-threaded
    /// or cooperative runtime cannot switch away from them.
    fn checkpoint(&mut self) -> impl Future<Output = ()>;

    /// Waits for `d` without using a CPU.
    fn sleep(&mut self, d: Duration) -> impl Future<Output = ()>;

    /// Opens a TCP connection to `addr`.
    fn connect(&mut self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>>;

    /// Reads at most `buf.len()` bytes from `s`; `Ok(0)` means the peer closed its side.
    fn read(
        &mut self,
        s: &mut Self::Stream,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<usize>>;

    /// Writes all of `buf` to `s`.
    fn write_all(
        &mut self,
        s: &mut Self::Stream,
        buf: &[u8],
    ) -> impl Future<Output = io::Result<()>>;

    /// Reads exactly `buf.len()` bytes from `s`, failing with
    /// [`io::ErrorKind::UnexpectedEof`] if the peer closes first.
    fn read_exact(
        &mut self,
        s: &mut Self::Stream,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<()>> {
        async move {
            let mut filled = 0;
            while filled < buf.len() {
                match self.read(s, &mut buf[filled..]).await {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "peer closed the connection in the middle of a read_exact",
                        ));
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
}
