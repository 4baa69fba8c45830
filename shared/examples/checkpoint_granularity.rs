//! How much work [`PrimeCount`] does between two checkpoints, in wall-clock time.
//!
//! ```text
//! cargo run --release -p concurrency-shared --features workloads --example checkpoint_granularity
//! ```
//!
//! It runs the job on a context that timestamps every checkpoint and prints, for ranges of
//! numbers of several magnitudes, the mean, 99th percentile and largest gap between two
//! checkpoints. Run it in release mode: that is the figure documented next to
//! `CANDIDATES_PER_CHECKPOINT`. On a busy machine the maximum includes preemptions.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use concurrency_shared::workloads::{CANDIDATES_PER_CHECKPOINT, PrimeCount};
use concurrency_shared::{BlockingCtx, Ctx, Job, block_on};

/// Numbers tested per measured range.
const SPAN: u64 = 200_000;

/// A blocking context that records when each checkpoint happened.
struct TimingCtx {
    /// Does the real work of every other method.
    inner: BlockingCtx,
    /// The time of the previous checkpoint (or of the start).
    last: Instant,
    /// Every gap between consecutive checkpoints.
    gaps: Vec<Duration>,
}

impl Ctx for TimingCtx {
    type Stream = TcpStream;

    async fn checkpoint(&mut self) {
        let now = Instant::now();
        self.gaps.push(now - self.last);
        self.last = now;
    }

    async fn sleep(&mut self, d: Duration) {
        self.inner.sleep(d).await;
    }

    async fn connect(&mut self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.inner.connect(addr).await
    }

    async fn read(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(s, buf).await
    }

    async fn write_all(&mut self, s: &mut TcpStream, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(s, buf).await
    }
}

fn main() {
    println!("{CANDIDATES_PER_CHECKPOINT} candidates per checkpoint; {SPAN} numbers per range");
    println!(
        "{:>12} {:>12} {:>12} {:>12} {:>12}",
        "from", "checkpoints", "mean", "p99", "max"
    );
    for lo in [100_000, 1_000_000, 3_000_000, 10_000_000, 100_000_000] {
        let job = PrimeCount::new(lo, lo + SPAN);
        let mut cx = TimingCtx {
            inner: BlockingCtx::new(),
            last: Instant::now(),
            gaps: Vec::with_capacity((SPAN / CANDIDATES_PER_CHECKPOINT) as usize),
        };
        let started = Instant::now();
        let primes = block_on(job.run(&mut cx));
        let elapsed = started.elapsed();
        let mut gaps = cx.gaps;
        gaps.sort_unstable();
        let mean = elapsed / gaps.len().max(1) as u32;
        let p99 = gaps[gaps.len() * 99 / 100];
        let max = gaps[gaps.len() - 1];
        println!(
            "{lo:>12} {:>12} {:>12?} {:>12?} {:>12?}   ({primes} primes)",
            gaps.len(),
            mean,
            p99,
            max
        );
    }
}
