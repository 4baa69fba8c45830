//! [`CpuIo`]: a request handler with real CPU work between two slow network legs, whose CPU
//! part is marked for offloading ([`Ctx::offload`]), as an asyncio server hands its CPU work to
//! a process pool with `loop.run_in_executor`.
//!
//! Invariant: its output is exactly its parts' outputs, so its expected output is its parts'
//! expected outputs; where the CPU part ran (in place, or in another process) cannot change it.

use crate::job::{Ctx, Job};
use crate::wire::{Wire, WireError};

use super::{PrimeCount, RoundTrips, Workload, WorkloadError};

/// Runs a [`RoundTrips`] (the fetch), then a [`PrimeCount`] through
/// [`Ctx::offload`](crate::Ctx::offload) (the CPU part, which a runtime may run elsewhere),
/// then the same [`RoundTrips`] again on a new connection (the reply).
///
/// # Example
///
/// ```
/// use concurrency_shared::fixture::{Fixture, FixtureConfig};
/// use concurrency_shared::run_blocking;
/// use concurrency_shared::workloads::{CpuIo, PrimeCount, RoundTrips, Workload};
///
/// let fixture = Fixture::start(FixtureConfig::new())?;
/// let job = CpuIo::new(RoundTrips::new(fixture.addr(), 1, 16), PrimeCount::new(0, 1_000));
/// let out = run_blocking(&job);
/// assert_eq!(out, job.expected());
/// assert_eq!(out.primes, 168);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CpuIo {
    /// Each network leg: run before the CPU part, and again after it.
    net: RoundTrips,
    /// The CPU-bound part, offloaded.
    work: PrimeCount,
}

/// What a [`CpuIo`] job gives back: each part's output, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuIoOutput {
    /// The first network leg's output.
    pub fetched: Result<u64, WorkloadError>,
    /// The offloaded [`PrimeCount`]'s output.
    pub primes: u64,
    /// The second network leg's output.
    pub replied: Result<u64, WorkloadError>,
}

impl CpuIo {
    /// The job running `net`, offloading `work`, then running `net` again.
    pub fn new(net: RoundTrips, work: PrimeCount) -> Self {
        Self { net, work }
    }

    /// Each network leg.
    pub fn net(&self) -> &RoundTrips {
        &self.net
    }

    /// The CPU-bound part.
    pub fn work(&self) -> &PrimeCount {
        &self.work
    }
}

impl Job for CpuIo {
    type Output = CpuIoOutput;

    async fn run<C: Ctx>(&self, cx: &mut C) -> CpuIoOutput {
        let fetched = self.net.run(cx).await;
        let primes = cx.offload(self.work).await;
        let replied = self.net.run(cx).await;
        CpuIoOutput {
            fetched,
            primes,
            replied,
        }
    }
}

impl Workload for CpuIo {
    fn expected(&self) -> CpuIoOutput {
        CpuIoOutput {
            fetched: self.net.expected(),
            primes: self.work.expected(),
            replied: self.net.expected(),
        }
    }
}

impl Wire for CpuIo {
    const MIN_ENCODED_LEN: usize = RoundTrips::MIN_ENCODED_LEN + PrimeCount::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.net.encode(out);
        self.work.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            net: Wire::decode(input)?,
            work: Wire::decode(input)?,
        })
    }
}

impl Wire for CpuIoOutput {
    const MIN_ENCODED_LEN: usize =
        2 * <Result<u64, WorkloadError>>::MIN_ENCODED_LEN + u64::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.fetched.encode(out);
        self.primes.encode(out);
        self.replied.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            fetched: Wire::decode(input)?,
            primes: Wire::decode(input)?,
            replied: Wire::decode(input)?,
        })
    }
}
