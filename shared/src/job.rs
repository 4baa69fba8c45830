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
//!
//! A job may also mark a CPU-bound part it is willing to have run elsewhere
//! ([`Ctx::offload`], asyncio's `run_in_executor`): every runtime above runs it in place, on the
//! same context; a runtime that has somewhere else to run it (the compare program's event loop
//! with a process pool beside it) sends it there and waits for its output.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::wire::Wire;

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
/// | [`offload`](Ctx::offload) | runs the sub-job in place (the default) | runs the sub-job in place (the default) | runs the sub-job in place (the default) |
///
/// A context that wraps another (the compare program's `mini-eventloop+proc-pool` runs jobs on
/// the loop's context and overrides only `offload`, sending the sub-job to a process pool) keeps
/// every other method's meaning.
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

    /// Runs `job`, a CPU-bound part of the calling job, where the runtime chooses, and gives
    /// its output: the counterpart of asyncio's `await loop.run_in_executor(pool, f, x)`.
    ///
    /// The default runs `job` in place, on this same context, exactly as if the caller had
    /// written `job.run(cx).await`: so every runtime without somewhere else to run it (all of
    /// this workspace's) needs no change, and a job that offloads runs unchanged on all of
    /// them. A context that overrides it may run `job` on another thread or in another process
    /// (hence `Wire` for the sub-job and its output); meanwhile the calling job waits, and its
    /// runtime may run other jobs.
    ///
    /// What an override may change is *where* the sub-job runs, not what it computes: the
    /// output must be what running it in place gives. If the sub-job cannot finish elsewhere
    /// (its panic, the death of the process it ran in), the calling job fails as if the
    /// sub-job had panicked in place: on the runtimes of this workspace, a failed job, not a
    /// failed runtime.
    ///
    /// ```
    /// use concurrency_shared::{Ctx, Job, Wire, WireError, run_blocking};
    ///
    /// /// The CPU-bound part: a sum, sent to wherever the runtime runs offloaded work.
    /// struct SumBelow(u64);
    ///
    /// impl Job for SumBelow {
    ///     type Output = u64;
    ///     async fn run<C: Ctx>(&self, _cx: &mut C) -> u64 {
    ///         (0..self.0).sum()
    ///     }
    /// }
    ///
    /// impl Wire for SumBelow {
    ///     const MIN_ENCODED_LEN: usize = u64::MIN_ENCODED_LEN;
    ///     fn encode(&self, out: &mut Vec<u8>) {
    ///         self.0.encode(out);
    ///     }
    ///     fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
    ///         Ok(SumBelow(u64::decode(input)?))
    ///     }
    /// }
    ///
    /// /// A job with a CPU-bound part it lets the runtime run elsewhere.
    /// struct Handler;
    ///
    /// impl Job for Handler {
    ///     type Output = u64;
    ///     async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
    ///         cx.sleep(std::time::Duration::from_millis(1)).await; // the I/O part, say
    ///         cx.offload(SumBelow(1_000)).await + 1
    ///     }
    /// }
    ///
    /// // The blocking context runs the part in place.
    /// assert_eq!(run_blocking(&Handler), 499_501);
    /// ```
    fn offload<J>(&mut self, job: J) -> impl Future<Output = J::Output>
    where
        // The sub-job runs against this very context, and `Job::run` takes a sized one.
        Self: Sized,
        J: Job + Wire,
        J::Output: Wire,
    {
        async move { job.run(self).await }
    }

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
