//! The shared [`Job`] contract on the loop: [`LoopCtx`], [`spawn_job`] and
//! [`Runtime::run_jobs`](crate::Runtime::run_jobs).
//!
//! # Checkpoint policy
//!
//! A job's [`Ctx::checkpoint`] really yields (puts the task at the back of the ready queue,
//! like `await asyncio.sleep(0)`) once every `checkpoints_per_yield` calls (default 32, see
//! [`Builder::checkpoints_per_yield`](crate::Builder::checkpoints_per_yield)); the other calls
//! only count. The standard CPU-bound job checkpoints every few microseconds, so it holds the
//! loop for roughly 32 × that (about 0.1 ms) before the others (and I/O, see the fairness
//! policy in `runtime.rs`) get a turn, while a yield (about 40 ns: 38 ns in the README's
//! `yield_now` benchmark) stays well under 1% of the work. A count rather than a clock keeps the schedule deterministic and free of clock reads.
//!
//! Invariant: a job touches the outside world only through its `LoopCtx`, whose every wait is
//! a timer or the reactor: nothing in it blocks the thread.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::net::TcpStream;
use crate::runtime::current;
use crate::task::{JoinHandle, yield_now};
use crate::{Ctx, Job};

/// The context a job gets on this loop: timers and non-blocking sockets.
#[derive(Debug)]
pub struct LoopCtx {
    /// Checkpoints passed so far.
    checkpoints: u64,
    /// Real yields taken at checkpoints.
    yields: u64,
    /// Checkpoints between real yields.
    every: u64,
}

impl LoopCtx {
    /// A context that yields every `checkpoints_per_yield` checkpoints (at least 1).
    pub fn new(checkpoints_per_yield: u32) -> LoopCtx {
        LoopCtx {
            checkpoints: 0,
            yields: 0,
            every: u64::from(checkpoints_per_yield.max(1)),
        }
    }

    /// A fresh context configured as the current runtime was built
    /// ([`Builder::checkpoints_per_yield`](crate::Builder::checkpoints_per_yield)): the one
    /// [`spawn_job`] gives each job, for code that runs a job on the loop by itself (a context
    /// that wraps this one, say). Outside a runtime, the builder's default.
    pub fn for_current() -> LoopCtx {
        LoopCtx::new(
            current().map_or(crate::builder::DEFAULT_CHECKPOINTS_PER_YIELD, |core| {
                core.config.checkpoints_per_yield
            }),
        )
    }

    /// Checkpoints passed.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints
    }

    /// Checkpoints at which the job really yielded.
    pub fn yields(&self) -> u64 {
        self.yields
    }
}

impl Ctx for LoopCtx {
    type Stream = TcpStream;

    async fn checkpoint(&mut self) {
        self.checkpoints += 1;
        if self.checkpoints % self.every == 0 {
            self.yields += 1;
            yield_now().await;
        }
    }

    async fn sleep(&mut self, d: Duration) {
        crate::sleep(d).await;
    }

    async fn connect(&mut self, addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn read(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        s.read(buf).await
    }

    async fn write_all(&mut self, s: &mut TcpStream, buf: &[u8]) -> io::Result<()> {
        s.write_all(buf).await
    }

    async fn read_exact(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
        s.read_exact(buf).await
    }
}

/// Spawns `job` as a task on the current runtime, with a fresh [`LoopCtx`] configured by the
/// runtime's builder.
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// use std::sync::Arc;
/// use mini_eventloop::{Ctx, Job, Runtime, spawn_job};
/// struct Nap;
/// impl Job for Nap {
///     type Output = &'static str;
///     async fn run<C: Ctx>(&self, cx: &mut C) -> &'static str {
///         cx.sleep(std::time::Duration::from_micros(50)).await;
///         "rested"
///     }
/// }
/// let rt = Runtime::new().unwrap();
/// assert_eq!(rt.block_on(async { spawn_job(Arc::new(Nap)).await }).unwrap(), "rested");
/// ```
#[track_caller]
pub fn spawn_job<J: Job>(job: Arc<J>) -> JoinHandle<J::Output> {
    let mut cx = LoopCtx::for_current();
    crate::spawn(async move { job.run(&mut cx).await })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Runtime;

    /// Passes `n` checkpoints on `cx` and says how many of them yielded.
    fn yields_after(mut cx: LoopCtx, n: u32) -> u64 {
        let rt = Runtime::new().expect("a runtime");
        rt.block_on(async move {
            for _ in 0..n {
                cx.checkpoint().await;
            }
            cx.yields()
        })
    }

    /// `for_current` takes the current runtime's setting, and the builder's default outside
    /// a runtime.
    #[test]
    fn for_current_yields_as_the_runtime_is_built() {
        let rt = Runtime::builder()
            .checkpoints_per_yield(3)
            .build()
            .expect("a runtime");
        let built = rt.block_on(async { LoopCtx::for_current() });
        assert_eq!(yields_after(built, 6), 2);
        let default = crate::builder::DEFAULT_CHECKPOINTS_PER_YIELD;
        assert_eq!(yields_after(LoopCtx::for_current(), default - 1), 0);
        assert_eq!(yields_after(LoopCtx::for_current(), default), 1);
    }
}
