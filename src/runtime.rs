//! The runtimes under test. Each is one arm of [`RuntimeKind`]: adding a runtime to the
//! compare program is one arm in each `match` here, nothing else.

use clap::ValueEnum;
use concurrency_shared::run_blocking;
use concurrency_shared::workloads::Workload;
use serde::{Deserialize, Serialize};

/// One way of running a batch of jobs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeKind {
    /// One job after another on the calling thread: the baseline every speedup is against.
    Sequential,
}

/// What a batch of jobs gave back.
pub struct RunOutcome<T> {
    /// Each job's output in input order, or why the runtime could not produce it.
    pub outputs: Vec<Result<T, String>>,
    /// The sum of the peak resident sets of worker processes the runtime used, in KiB.
    pub workers_peak_rss_kib: u64,
}

impl RuntimeKind {
    /// Every runtime, in table order.
    pub const ALL: [RuntimeKind; 1] = [RuntimeKind::Sequential];

    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Sequential => "sequential",
        }
    }

    /// The threads or processes used for `tasks` jobs unless `--workers` says otherwise.
    pub fn default_workers(self, _tasks: usize) -> usize {
        match self {
            RuntimeKind::Sequential => 1,
        }
    }

    /// Whether this runtime works through jobs one after another (with `workers` lanes), so
    /// that on a workload of uniform jobs a sample of them, scaled, measures it fairly.
    pub fn runs_jobs_in_turn(self) -> bool {
        match self {
            RuntimeKind::Sequential => true,
        }
    }

    /// Runs `jobs` with `workers` threads or processes and returns their outputs in order.
    pub fn run<W>(self, jobs: Vec<W>, _workers: usize) -> RunOutcome<W::Output>
    where
        W: Workload,
    {
        match self {
            RuntimeKind::Sequential => RunOutcome {
                outputs: jobs.iter().map(|job| Ok(run_blocking(job))).collect(),
                workers_peak_rss_kib: 0,
            },
        }
    }
}
