//! The plain blocking context: every [`Ctx`] operation is the ordinary blocking system call,
//! and every future it returns is ready on its first poll.
//!
//! It is the sequential baseline of the compare program and the context a `proc-pool` worker
//! runs a job with. Invariant: [`block_on`] polls exactly once per call, with a waker that does
//! nothing; a job written only against [`Ctx`] can never see `Pending` here, so a `Pending` is a
//! contract violation and is reported as a panic naming the future, never spun on.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::job::{Ctx, Job};

/// A [`Ctx`] whose operations block the calling thread.
///
/// Streams are [`std::net::TcpStream`]s with Nagle's algorithm off, since every workload of
/// this workspace is request/response.
#[derive(Debug, Default)]
pub struct BlockingCtx {
    /// How many times the job called [`Ctx::checkpoint`]; used to measure how fine-grained a
    /// CPU-bound job's switch points are.
    checkpoints: u64,
}

impl BlockingCtx {
    /// A fresh context.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many checkpoints the jobs run with this context have passed.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints
    }
}

impl Ctx for BlockingCtx {
    type Stream = TcpStream;

    async fn checkpoint(&mut self) {
        self.checkpoints += 1;
    }

    async fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }

    async fn connect(&mut self, addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn read(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        s.read(buf)
    }

    async fn write_all(&mut self, s: &mut TcpStream, buf: &[u8]) -> io::Result<()> {
        s.write_all(buf)
    }
}

/// Runs `fut` to completion on the current thread, for futures that never wait on a waker.
///
/// Every future built from a [`BlockingCtx`] (or any other context whose operations block)
/// completes on its first poll, so this polls exactly once.
///
/// # Panics
///
/// If `fut` returns `Pending`: it awaited something other than the blocking context (a timer
/// or channel of another runtime, say), which nothing here would ever wake. The message names
/// the future's type.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!(
            "block_on: `{}` returned Pending, but a job written against `Ctx` must only await \
             its context, whose futures are always ready on a blocking runtime",
            std::any::type_name::<F>()
        ),
    }
}

/// Runs `job` to completion on the current thread with a fresh [`BlockingCtx`].
///
/// # Panics
///
/// If the job returns `Pending` (see [`block_on`]); the message names the job's type.
pub fn run_blocking<J: Job>(job: &J) -> J::Output {
    let mut cx = BlockingCtx::new();
    let mut fut = pin!(job.run(&mut cx));
    let mut poll_cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut poll_cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!(
            "run_blocking: job `{}` returned Pending, but a job written against `Ctx` must \
             only await its context, whose futures are always ready on a blocking runtime",
            std::any::type_name::<J>()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counts(u64);

    impl Job for Counts {
        type Output = u64;
        async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
            for _ in 0..self.0 {
                cx.checkpoint().await;
            }
            self.0
        }
    }

    /// A job that offloads a `Counts` as its CPU part.
    struct OffloadsCounts(u64);

    impl Job for OffloadsCounts {
        type Output = u64;
        async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
            cx.checkpoint().await;
            cx.offload(Counts(self.0)).await + 1
        }
    }

    impl crate::Wire for Counts {
        const MIN_ENCODED_LEN: usize = u64::MIN_ENCODED_LEN;
        fn encode(&self, out: &mut Vec<u8>) {
            self.0.encode(out);
        }
        fn decode(input: &mut &[u8]) -> Result<Self, crate::WireError> {
            Ok(Counts(u64::decode(input)?))
        }
    }

    struct AwaitsForever;

    impl Job for AwaitsForever {
        type Output = ();
        async fn run<C: Ctx>(&self, _cx: &mut C) {
            std::future::pending::<()>().await;
        }
    }

    /// A job that only awaits its context completes in one poll and sees every checkpoint.
    #[test]
    fn runs_a_job_to_completion() {
        assert_eq!(run_blocking(&Counts(1_000)), 1_000);
    }

    /// `offload`'s default runs the sub-job in place on the caller's own context: its
    /// checkpoints are the context's, counted with the caller's.
    #[test]
    fn offload_runs_in_place_on_the_same_context() {
        let mut cx = BlockingCtx::new();
        assert_eq!(block_on(OffloadsCounts(10).run(&mut cx)), 11);
        assert_eq!(cx.checkpoints(), 11);
    }

    /// A job awaiting something the blocking context cannot wake is a named panic, not a spin.
    #[test]
    fn pending_job_is_reported_by_name() {
        let err = std::panic::catch_unwind(|| run_blocking(&AwaitsForever)).unwrap_err();
        let msg = err
            .downcast_ref::<String>()
            .expect("panic message is a String");
        assert!(msg.contains("AwaitsForever"), "message was: {msg}");
    }
}
