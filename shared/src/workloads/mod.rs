//! The standard workloads: one job per row of the rule of thumb, each a [`Job`] that is also
//! [`Wire`] (so a process pool can ship it) with a known correct output.
//!
//! | workload | bound by | output |
//! |---|---|---|
//! | [`PrimeCount`] | CPU: trial division, a checkpoint every [`CANDIDATES_PER_CHECKPOINT`] numbers | the count of primes |
//! | [`Sleeper`] | waiting: [`Ctx::sleep`](crate::Ctx::sleep) | the naps taken |
//! | [`RoundTrips`] | the network: round trips against a [`Fixture`](crate::fixture::Fixture) | a checksum, or a [`WorkloadError`] |
//! | [`Mixed`] | all three, in turn | [`MixedOutput`] |
//! | [`CpuIo`] | a slow round trip, a CPU part marked for [`Ctx::offload`](crate::Ctx::offload), another round trip | [`CpuIoOutput`] |
//!
//! Invariant: [`Workload::expected`] is computed without running the job (and, for
//! [`PrimeCount`], by a different algorithm), so comparing the two checks the runtime that ran
//! the job, not the job against itself.
//!
//! # Example
//!
//! ```
//! use concurrency_shared::run_blocking;
//! use concurrency_shared::wire::Wire;
//! use concurrency_shared::workloads::{PrimeCount, Workload};
//!
//! fn check<W: Workload>(job: &W) {
//!     // What a process pool does: ship the job as bytes, run it, compare.
//!     let shipped = W::from_bytes(&job.to_bytes()).unwrap();
//!     assert_eq!(run_blocking(&shipped), job.expected());
//! }
//!
//! check(&PrimeCount::new(1_000, 2_000));
//! ```

mod cpu_io;
mod error;
mod mixed;
mod prime_count;
mod round_trips;
mod sleeper;

pub use cpu_io::{CpuIo, CpuIoOutput};
pub use error::WorkloadError;
pub use mixed::{Mixed, MixedOutput};
pub use prime_count::{CANDIDATES_PER_CHECKPOINT, PrimeCount};
pub use round_trips::RoundTrips;
pub use sleeper::Sleeper;

use std::fmt::Debug;

use crate::job::Job;
use crate::wire::Wire;

/// A standard workload: a [`Job`] that can be shipped as bytes and whose correct output is
/// known in advance.
pub trait Workload: Job<Output: Wire + PartialEq + Debug> + Wire {
    /// The output a correct run gives, computed without running the job.
    fn expected(&self) -> Self::Output;
}
