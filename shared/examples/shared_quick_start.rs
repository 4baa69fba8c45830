//! The crate in one page: a job of your own, a standard workload shipped as bytes, and network
//! round trips against the loopback fixture, all on the blocking baseline. The same code is
//! the quick start of `shared/README.md`.
//!
//! ```text
//! cargo run -p concurrency-shared --features workloads --example shared_quick_start
//! ```

use std::io;
use std::time::Duration;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::workloads::{PrimeCount, RoundTrips, Workload};
use concurrency_shared::{Ctx, Job, Wire, run_blocking};

/// A job of your own: written once against `Ctx`, it runs on every runtime of the workspace.
struct CountDown(u32);

impl Job for CountDown {
    type Output = u32;

    async fn run<C: Ctx>(&self, cx: &mut C) -> u32 {
        for _ in 0..self.0 {
            // A switch point: the GIL may change hands here, the event loop may run others.
            cx.checkpoint().await;
        }
        self.0
    }
}

fn main() -> io::Result<()> {
    // 1. Your own job, on the sequential baseline.
    assert_eq!(run_blocking(&CountDown(3)), 3);

    // 2. A standard workload, sent as bytes the way a process pool sends it to a worker, and
    //    checked against its known correct output.
    let job = PrimeCount::new(0, 100_000);
    let shipped = PrimeCount::from_bytes(&job.to_bytes()).map_err(io::Error::other)?;
    assert_eq!(run_blocking(&shipped), job.expected());

    // 3. Round trips against the loopback fixture, which answers after 1 ms.
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::from_millis(1)))?;
    let net = RoundTrips::new(fixture.addr(), 10, 64);
    let checksum = run_blocking(&net);
    assert_eq!(checksum, net.expected());
    println!("primes below 100,000: {}", job.expected());
    println!("round trips: {checksum:?}; fixture: {:?}", fixture.stats());
    Ok(())
}
