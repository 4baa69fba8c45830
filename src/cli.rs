//! The command line. Invalid flags are reported by `clap` with a usage message and exit
//! status 2; an unknown workload or runtime lists the valid names.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::runtime::RuntimeKind;
use crate::workload::WorkloadKind;

/// What the user asked for.
#[derive(Debug, Parser)]
#[command(
    name = "concurrency",
    version,
    about = "Runs the same jobs on a GIL-threaded scheduler, an event loop and a process pool, \
             next to a sequential baseline, and prints what it measured.",
    after_help = "Each trial runs in a fresh child process; the fixture server runs in a child \
                  process of its own. Progress goes to stderr, results to stdout."
)]
pub struct Options {
    /// The workload to run, or `all`.
    #[arg(long, value_enum, default_value_t = WorkloadChoice::All)]
    pub workload: WorkloadChoice,

    /// The runtimes to run, comma-separated (default: all of them).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub runtime: Vec<RuntimeKind>,

    /// Jobs per trial (default: each workload's own size, shown in the table).
    #[arg(long)]
    pub tasks: Option<NonZeroUsize>,

    /// Threads or processes for the runtimes that have a choice (default: threads one per job
    /// up to a cap, processes one per core); the baseline and the event loop use one thread.
    #[arg(long)]
    pub workers: Option<NonZeroUsize>,

    /// Trials per runtime and workload; the table shows the median and the min-max range.
    #[arg(long, default_value_t = NonZeroUsize::new(3).expect("3 is not zero"))]
    pub repeat: NonZeroUsize,

    /// Print one JSON document (with the machine's description) instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Skip the memory table (peak memory with 100, 1,000 and 10,000 jobs waiting at once).
    #[arg(long)]
    pub skip_memory: bool,

    /// Also write a bar chart (speedup and peak memory per workload and runtime) as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// A `--workload` value: one workload or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadChoice {
    /// Every standard workload.
    All,
    /// CPU-bound: count primes.
    Cpu,
    /// Sleep-bound: many jobs that nap.
    Sleep,
    /// Slow I/O, many connections: one round trip each against a slow server.
    SlowIo,
    /// Fast I/O, few connections: many round trips each against an immediate server.
    FastIo,
    /// Some of each.
    Mixed,
}

impl Options {
    /// The workloads selected, in table order.
    pub fn workloads(&self) -> Vec<WorkloadKind> {
        let one = match self.workload {
            WorkloadChoice::All => return WorkloadKind::ALL.to_vec(),
            WorkloadChoice::Cpu => WorkloadKind::Cpu,
            WorkloadChoice::Sleep => WorkloadKind::Sleep,
            WorkloadChoice::SlowIo => WorkloadKind::SlowIo,
            WorkloadChoice::FastIo => WorkloadKind::FastIo,
            WorkloadChoice::Mixed => WorkloadKind::Mixed,
        };
        vec![one]
    }

    /// The runtimes selected, in table order, the sequential baseline always first.
    pub fn runtimes(&self) -> Vec<RuntimeKind> {
        let mut chosen: Vec<RuntimeKind> = if self.runtime.is_empty() {
            RuntimeKind::ALL.to_vec()
        } else {
            self.runtime.clone()
        };
        if !chosen.contains(&RuntimeKind::Sequential) {
            chosen.insert(0, RuntimeKind::Sequential);
        }
        chosen.sort();
        chosen.dedup();
        chosen
    }
}

/// Parses the process's arguments, exiting with status 2 and a message on bad flags.
pub fn parse() -> Options {
    Options::parse()
}
