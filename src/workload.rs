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
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;
use concurrency_shared::workloads::{Mixed, PrimeCount, RoundTrips, Sleeper};
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
    /// One long nap per job: what the memory table holds many of at once.
    #[value(skip)]
    Idle,
}

impl WorkloadKind {
    /// Every workload, in table order.
    pub const ALL: [WorkloadKind; 5] = [
        WorkloadKind::Cpu,
        WorkloadKind::Sleep,
        WorkloadKind::SlowIo,
        WorkloadKind::FastIo,
        WorkloadKind::Mixed,
    ];

    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Cpu => "cpu",
            WorkloadKind::Sleep => "sleep",
            WorkloadKind::SlowIo => "slow-io",
            WorkloadKind::FastIo => "fast-io",
            WorkloadKind::Mixed => "mixed",
            WorkloadKind::Idle => "idle",
        }
    }

    /// How many jobs a trial runs unless `--tasks` says otherwise.
    pub fn default_tasks(self) -> usize {
        match self {
            WorkloadKind::Cpu => 16,
            WorkloadKind::Sleep => 1_000,
            WorkloadKind::SlowIo => 2_000,
            WorkloadKind::FastIo => 4,
            WorkloadKind::Mixed => 64,
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
            WorkloadKind::Idle => true,
        }
    }
}

/// The CPU-bound jobs: `1..CPU_RANGE_END` in `tasks` ranges of equal length.
pub fn cpu_jobs(tasks: usize) -> Vec<PrimeCount> {
    PrimeCount::split(1, CPU_RANGE_END, tasks)
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

/// The fast-I/O jobs: many round trips each.
pub fn fast_io_jobs(tasks: usize, server: SocketAddr) -> Vec<RoundTrips> {
    (0..tasks)
        .map(|_| RoundTrips::new(server, FAST_IO_ROUND_TRIPS, PAYLOAD_LEN))
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

/// The idle jobs of the memory table: one long nap each.
pub fn idle_jobs(tasks: usize) -> Vec<Sleeper> {
    (0..tasks).map(|_| Sleeper::new(1, IDLE_NAP)).collect()
}
