//! The standard workload set: for each workload, the jobs a trial runs, the fixture it needs
//! and how large it is by default.
//!
//! The set is chosen to put each row of the rule of thumb to the test:
//!
//! ```text
//! cpu       CPU bound                                  -> processes should win
//! sleep     waiting, no sockets                        -> anything concurrent wins
//! slow-io   slow I/O, many connections (2,000 x 50 ms) -> the event loop should win
//! fast-io   fast I/O, few connections (4 x 2,000 trips)-> threads should do well
//! mixed     some CPU, some sleep, some round trips
//! cpu-io    CPU work and many slow connections:         -> event loop + process pool
//!           256 x (50 ms round trip, ~5 ms of CPU marked for offloading, 50 ms round trip)
//! ```
//!
//! `cpu-io` is sized so that on 2 cores each single model loses to the combination: the CPU
//! parts (256 x ~5 ms, about 1.3 s) run one at a time on the loop alone and under the GIL,
//! in about half that on a 2-process pool beside the loop, while a pool alone holds only 2
//! jobs at a time and waits 100 ms on each (256 x 105 ms / 2, about 13 s).
//!
//! `--scale F` sizes every workload by `F` for the models and CPython alike: the CPU range
//! of `cpu` and the round trips per connection of `fast-io` (whose job counts are the point
//! of them: one per core-ish slice, few connections), and the job counts of `sleep`,
//! `slow-io`, `mixed` and `cpu-io` (whose jobs are each one fixed-size request). A scaled
//! size is at least 1.

use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;
use concurrency_shared::workloads::{CpuIo, Mixed, PrimeCount, RoundTrips, Sleeper};
use serde::{Deserialize, Serialize};

/// The upper end of the CPU-bound workload's range (`1..CPU_RANGE_END`), sized so that the
/// sequential baseline takes about a second in a release build on this project's 2-core
/// machine.
const CPU_RANGE_END: u64 = 6_000_000;

/// Bytes sent (and echoed) per round trip: a small request, as in an RPC.
const PAYLOAD_LEN: u32 = 64;

/// The slow server's answer delay: slow enough that waiting dominates.
const SLOW_IO_DELAY: Duration = Duration::from_millis(50);

/// Round trips per connection in the fast-I/O workload.
const FAST_IO_ROUND_TRIPS: u32 = 2_000;

/// The mixed workload's server delay, nap and CPU slice per job.
const MIXED_DELAY: Duration = Duration::from_millis(5);
const MIXED_NAP: Duration = Duration::from_millis(10);
const MIXED_ROUND_TRIPS: u32 = 4;
const MIXED_PRIME_SPAN: u64 = 20_000;

/// The cpu-io workload's server delay: slow, as in slow-io, so that waiting on the two
/// round trips (100 ms) outweighs the CPU part by far for a runtime that cannot overlap them.
const CPU_IO_DELAY: Duration = Duration::from_millis(50);

/// The cpu-io job's CPU part: the primes in `CPU_IO_PRIMES_FROM..+CPU_IO_PRIME_SPAN`, about
/// 5 ms of trial division in a release build on this project's 2-core machine (the
/// checkpoint-granularity table in `shared`: about 3 µs per 32 numbers near 10⁶). Every job
/// counts the same range: the jobs are uniform, so the rows that run jobs in turn may be
/// sampled.
const CPU_IO_PRIMES_FROM: u64 = 1_000_000;
const CPU_IO_PRIME_SPAN: u64 = 50_000;

/// The idle job's one nap: long enough that 10,000 threads or processes are all started
/// before the first one wakes, so the peak really holds every job at once.
const IDLE_NAP: Duration = Duration::from_millis(1_000);

/// Each sleep-bound job's naps.
const SLEEP_NAPS: u32 = 2;
const SLEEP_NAP: Duration = Duration::from_millis(10);

/// One of the standard workloads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Count primes by trial division, split into equal ranges.
    Cpu,
    /// Jobs that only sleep.
    Sleep,
    /// One round trip per job against a server that answers after 50 ms.
    SlowIo,
    /// Many round trips per job against a server that answers at once.
    FastIo,
    /// A slice of CPU work, a nap and a few slow round trips per job.
    Mixed,
    /// A slow round trip, a CPU part marked for offloading, another slow round trip per job.
    CpuIo,
    /// One long nap per job: what the memory table holds many of at once.
    #[value(skip)]
    Idle,
}

impl WorkloadKind {
    /// Every workload, in table order.
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Cpu,
        WorkloadKind::Sleep,
        WorkloadKind::SlowIo,
        WorkloadKind::FastIo,
        WorkloadKind::Mixed,
        WorkloadKind::CpuIo,
    ];

    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Cpu => "cpu",
            WorkloadKind::Sleep => "sleep",
            WorkloadKind::SlowIo => "slow-io",
            WorkloadKind::FastIo => "fast-io",
            WorkloadKind::Mixed => "mixed",
            WorkloadKind::CpuIo => "cpu-io",
            WorkloadKind::Idle => "idle",
        }
    }

    /// How many jobs a trial runs unless `--tasks` says otherwise, at `scale` (see the
    /// module's doc), at most `max`.
    pub fn default_tasks(self, scale: f64, max: usize) -> usize {
        let count = |n: u64| usize::try_from(scaled(n, scale)).map_or(max, |n| n.min(max));
        match self {
            WorkloadKind::Cpu => 16,
            WorkloadKind::Sleep => count(1_000),
            WorkloadKind::SlowIo => count(2_000),
            WorkloadKind::FastIo => 4,
            WorkloadKind::Mixed => count(64),
            WorkloadKind::CpuIo => count(256),
            WorkloadKind::Idle => 100,
        }
    }

    /// The fixture server's answer delay, for the workloads that talk to one.
    pub fn fixture_delay(self) -> Option<Duration> {
        match self {
            WorkloadKind::Cpu | WorkloadKind::Sleep | WorkloadKind::Idle => None,
            WorkloadKind::SlowIo => Some(SLOW_IO_DELAY),
            WorkloadKind::FastIo => Some(Duration::ZERO),
            WorkloadKind::Mixed => Some(MIXED_DELAY),
            WorkloadKind::CpuIo => Some(CPU_IO_DELAY),
        }
    }

    /// Whether every job costs the same, so that a runtime that runs jobs one after another
    /// (the sequential baseline, a pool with fewer workers than jobs) may be measured on a
    /// sample and scaled (see `sample.rs`), instead of spending minutes waiting on 2,000
    /// sleeps in a row.
    pub fn jobs_are_uniform(self) -> bool {
        match self {
            // Prime ranges higher up cost more, and each mixed job counts primes in a higher
            // range than the one before: always measured whole.
            WorkloadKind::Cpu | WorkloadKind::Mixed => false,
            WorkloadKind::Sleep | WorkloadKind::SlowIo | WorkloadKind::FastIo => true,
            // Every job the same two round trips and the same prime range.
            WorkloadKind::CpuIo => true,
            WorkloadKind::Idle => true,
        }
    }
}

/// `n` times `scale`, rounded, at least 1 (a non-finite or huge product saturates).
pub fn scaled(n: u64, scale: f64) -> u64 {
    let product = (n as f64 * scale).round();
    if product.is_nan() || product < 1.0 {
        1
    } else {
        // `as` saturates at u64::MAX for larger floats.
        product as u64
    }
}

/// The CPU-bound jobs: `1..CPU_RANGE_END` (times `scale`) in `tasks` ranges of equal length.
pub fn cpu_jobs(tasks: usize, scale: f64) -> Vec<PrimeCount> {
    PrimeCount::split(1, scaled(CPU_RANGE_END, scale), tasks)
}

/// The sleep-bound jobs.
pub fn sleep_jobs(tasks: usize) -> Vec<Sleeper> {
    (0..tasks)
        .map(|_| Sleeper::new(SLEEP_NAPS, SLEEP_NAP))
        .collect()
}

/// The slow-I/O jobs: one round trip each.
pub fn slow_io_jobs(tasks: usize, server: SocketAddr) -> Vec<RoundTrips> {
    (0..tasks)
        .map(|_| RoundTrips::new(server, 1, PAYLOAD_LEN))
        .collect()
}

/// The fast-I/O jobs: many round trips each (times `scale`).
pub fn fast_io_jobs(tasks: usize, server: SocketAddr, scale: f64) -> Vec<RoundTrips> {
    let trips = u32::try_from(scaled(u64::from(FAST_IO_ROUND_TRIPS), scale)).unwrap_or(u32::MAX);
    (0..tasks)
        .map(|_| RoundTrips::new(server, trips, PAYLOAD_LEN))
        .collect()
}

/// The mixed jobs: each counts primes in its own slice, naps, and does a few round trips.
pub fn mixed_jobs(tasks: usize, server: SocketAddr) -> Vec<Mixed> {
    (0..tasks as u64)
        .map(|i| {
            let lo = 1 + i * MIXED_PRIME_SPAN;
            Mixed::new(
                PrimeCount::new(lo, lo + MIXED_PRIME_SPAN),
                RoundTrips::new(server, MIXED_ROUND_TRIPS, PAYLOAD_LEN),
                MIXED_NAP,
            )
        })
        .collect()
}

/// The cpu-io jobs: a slow round trip, the same CPU part marked for offloading, another slow
/// round trip.
pub fn cpu_io_jobs(tasks: usize, server: SocketAddr) -> Vec<CpuIo> {
    let work = PrimeCount::new(CPU_IO_PRIMES_FROM, CPU_IO_PRIMES_FROM + CPU_IO_PRIME_SPAN);
    (0..tasks)
        .map(|_| CpuIo::new(RoundTrips::new(server, 1, PAYLOAD_LEN), work))
        .collect()
}

/// The idle jobs of the memory table: one long nap each.
pub fn idle_jobs(tasks: usize) -> Vec<Sleeper> {
    (0..tasks).map(|_| Sleeper::new(1, IDLE_NAP)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scaled sizes are at least 1 and never panic, whatever the scale.
    #[test]
    fn scaled_sizes_are_bounded() {
        assert_eq!(scaled(2_000, 0.1), 200);
        assert_eq!(scaled(2_000, 1e-9), 1);
        assert_eq!(scaled(10, f64::NAN), 1);
        assert_eq!(scaled(10, f64::INFINITY), u64::MAX);
        assert_eq!(WorkloadKind::SlowIo.default_tasks(1e9, 20_000), 20_000);
        assert_eq!(WorkloadKind::Sleep.default_tasks(0.01, 20_000), 10);
        let cpu = cpu_jobs(16, 0.01);
        assert_eq!(cpu.last().map(PrimeCount::hi), Some(60_000));
    }
}
