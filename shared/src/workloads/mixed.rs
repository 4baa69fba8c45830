//! [`Mixed`]: a job with a bit of everything, like a request handler: some CPU work, a nap,
//! then a few round trips.
//!
//! Invariant: its output is exactly its parts' outputs, so its expected output is its parts'
//! expected outputs.

use std::time::Duration;

use crate::job::{Ctx, Job};
use crate::wire::{Wire, WireError};

use super::{PrimeCount, RoundTrips, Workload, WorkloadError};

/// Runs a [`PrimeCount`], then naps for `nap`, then runs a [`RoundTrips`], one after the other.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use concurrency_shared::fixture::{Fixture, FixtureConfig};
/// use concurrency_shared::run_blocking;
/// use concurrency_shared::workloads::{Mixed, PrimeCount, RoundTrips, Workload};
///
/// let fixture = Fixture::start(FixtureConfig::new())?;
/// let job = Mixed::new(
///     PrimeCount::new(0, 1_000),
///     RoundTrips::new(fixture.addr(), 3, 16),
///     Duration::from_millis(1),
/// );
/// assert_eq!(run_blocking(&job), job.expected());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mixed {
    /// The CPU-bound part, run first.
    primes: PrimeCount,
    /// The network part, run last.
    net: RoundTrips,
    /// The nap between them.
    nap: Duration,
}

/// What a [`Mixed`] job gives back: each part's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedOutput {
    /// The [`PrimeCount`] part's output.
    pub primes: u64,
    /// The [`RoundTrips`] part's output.
    pub net: Result<u64, WorkloadError>,
}

impl Mixed {
    /// The job running `primes`, napping `nap`, then running `net`.
    pub fn new(primes: PrimeCount, net: RoundTrips, nap: Duration) -> Self {
        Self { primes, net, nap }
    }

    /// The CPU-bound part.
    pub fn primes(&self) -> &PrimeCount {
        &self.primes
    }

    /// The network part.
    pub fn net(&self) -> &RoundTrips {
        &self.net
    }

    /// The nap between them.
    pub fn nap(&self) -> Duration {
        self.nap
    }
}

impl Job for Mixed {
    type Output = MixedOutput;

    async fn run<C: Ctx>(&self, cx: &mut C) -> MixedOutput {
        let primes = self.primes.run(cx).await;
        cx.sleep(self.nap).await;
        let net = self.net.run(cx).await;
        MixedOutput { primes, net }
    }
}

impl Workload for Mixed {
    fn expected(&self) -> MixedOutput {
        MixedOutput {
            primes: self.primes.expected(),
            net: self.net.expected(),
        }
    }
}

impl Wire for Mixed {
    const MIN_ENCODED_LEN: usize =
        PrimeCount::MIN_ENCODED_LEN + RoundTrips::MIN_ENCODED_LEN + Duration::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.primes.encode(out);
        self.net.encode(out);
        self.nap.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            primes: Wire::decode(input)?,
            net: Wire::decode(input)?,
            nap: Wire::decode(input)?,
        })
    }
}

impl Wire for MixedOutput {
    const MIN_ENCODED_LEN: usize =
        u64::MIN_ENCODED_LEN + <Result<u64, WorkloadError>>::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.primes.encode(out);
        self.net.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            primes: Wire::decode(input)?,
            net: Wire::decode(input)?,
        })
    }
}
