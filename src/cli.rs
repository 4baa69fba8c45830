//! The command line. Invalid flags are reported by `clap` with a usage message and exit
//! status 2; an unknown workload or runtime lists the valid names.
//!
//! Every number is bounded here, before anything runs: a count past its cap would ask a trial
//! for more jobs, threads or processes than a machine can hold, and a time limit must be a
//! positive number of seconds (a huge one means no limit).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser, ValueEnum};

use crate::fault::Fault;
use crate::runtime::RuntimeKind;
use crate::workload::WorkloadKind;

/// The most jobs per trial: ten times the largest default workload. Workloads that hold a
/// connection per job are bounded further by the open-file limit (see [`Options::check`]).
pub const MAX_TASKS: usize = 20_000;

/// The most threads or processes per trial: gil-threads' own cap; a process pool past it
/// competes with the machine's process and memory limits.
pub const MAX_WORKERS: usize = 1_024;

/// The most trials per row.
pub const MAX_REPEAT: usize = 100;

/// The largest `--scale`: ten times the default sizes already takes many minutes per row.
pub const MAX_SCALE: f64 = 10.0;

/// The default `--trial-timeout`: far beyond the few seconds any default trial takes on a
/// small machine, so only a stalled trial reaches it.
pub const DEFAULT_TRIAL_TIMEOUT: &str = "120";

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

    /// Jobs per trial, 1 to 20,000 (default: each workload's own size, shown in the table).
    #[arg(long, value_parser = bounded(MAX_TASKS))]
    pub tasks: Option<NonZeroUsize>,

    /// Threads or processes for the runtimes that have a choice, 1 to 1,024 (default: threads
    /// one per job up to 1,024, processes one per core); the baseline and the event loop use
    /// one thread.
    #[arg(long, value_parser = bounded(MAX_WORKERS))]
    pub workers: Option<NonZeroUsize>,

    /// Trials per runtime and workload, 1 to 100; the table shows the median and the min-max
    /// range.
    #[arg(long, default_value = "3", value_parser = bounded(MAX_REPEAT))]
    pub repeat: NonZeroUsize,

    /// Seconds one trial may run before it is killed and its row marked failed (a fraction is
    /// fine; a value too large for the clock means no limit).
    #[arg(long, value_name = "SECONDS", default_value = DEFAULT_TRIAL_TIMEOUT, value_parser = parse_seconds)]
    pub trial_timeout: Duration,

    /// Print one JSON document (with the machine's description) instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Skip the memory table (peak memory with 100, 1,000 and 10,000 jobs waiting at once).
    #[arg(long)]
    pub skip_memory: bool,

    /// Also write a bar chart (speedup and peak memory per workload and runtime) as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Also write a Chrome trace-event file (open it in the Perfetto UI or chrome://tracing)
    /// of separate traced trials, run after the measured ones: each selected workload on
    /// gil-threads, mini-eventloop and proc-pool, one track per thread, task or worker (the
    /// first 16 of each trial).
    #[arg(long, value_name = "FILE.json")]
    pub trace: Option<PathBuf>,

    /// Also write an SVG timeline of the same traced trials: one lane per thread, task or
    /// worker, over the first `--timeline-window` milliseconds of each trial.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,

    /// The milliseconds of each traced trial `--timeline` draws, from its first event (a
    /// fraction is fine).
    #[arg(long, value_name = "MS", default_value = "100", value_parser = parse_millis)]
    pub timeline_window: Duration,

    /// Also run every workload on CPython (threading, asyncio, multiprocessing) through the
    /// Python 3.8+ at PATH (default: `python3` on PATH), against the same fixture server.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "python3")]
    pub python: Option<PathBuf>,

    /// Size every workload by this factor, for the models and CPython alike (more than 0, at
    /// most 10): CPU range and fast-I/O round trips, sleep, slow-I/O, mixed and cpu-io job counts.
    #[arg(long, value_name = "F", default_value = "1", value_parser = parse_scale)]
    pub scale: f64,

    /// Which process-pool start methods get rows: proc-pool (fork), proc-pool-forkserver, or
    /// both; with `--python`, the same for cpython-processes(-forkserver).
    #[arg(long, value_enum, default_value_t = StartMethodChoice::Fork)]
    pub start_method: StartMethodChoice,

    /// Tests only: carry out a fault (see `fault.rs`).
    #[arg(long, value_enum, hide = true)]
    pub inject_fault: Option<Fault>,
}

/// A parser for a count from 1 to `max`.
fn bounded(max: usize) -> impl Fn(&str) -> Result<NonZeroUsize, String> + Clone {
    move |text| {
        let n: usize = text
            .parse()
            .map_err(|_| format!("{text:?} is not a whole number"))?;
        NonZeroUsize::new(n)
            .filter(|n| n.get() <= max)
            .ok_or_else(|| format!("must be from 1 to {max}"))
    }
}

/// Parses a positive number of seconds; one too large for a `Duration` is `Duration::MAX`,
/// which the trial's deadline treats as no limit.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be more than 0 seconds".to_owned());
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d.is_zero() => Err("must be at least a nanosecond".to_owned()),
        Ok(d) => Ok(d),
        Err(_) => Ok(Duration::MAX),
    }
}

/// Parses a positive number of milliseconds (one too large for a `Duration` is
/// `Duration::MAX`).
fn parse_millis(text: &str) -> Result<Duration, String> {
    let ms: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of milliseconds"))?;
    if ms.is_nan() || ms <= 0.0 {
        return Err("must be more than 0 milliseconds".to_owned());
    }
    parse_seconds(&(ms / 1_000.0).to_string())
        .map_err(|_| "must be at least a nanosecond (0.000001 ms)".to_owned())
}

/// Parses a `--scale` factor: a finite number more than 0 and at most [`MAX_SCALE`].
fn parse_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if scale.is_finite() && scale > 0.0 && scale <= MAX_SCALE {
        Ok(scale)
    } else {
        Err(format!("must be more than 0 and at most {MAX_SCALE}"))
    }
}

/// A `--start-method` value: which process-pool rows run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartMethodChoice {
    /// Workers forked from the trial process (`proc-pool`, `cpython-processes`).
    Fork,
    /// Workers forked by a fork server (`proc-pool-forkserver`,
    /// `cpython-processes-forkserver`).
    Forkserver,
    /// Both rows.
    Both,
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
    /// CPU work and many slow connections: a CPU part, marked for offloading, between two
    /// slow round trips per job.
    CpuIo,
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
            WorkloadChoice::CpuIo => WorkloadKind::CpuIo,
        };
        vec![one]
    }

    /// The fault to inject into trials of `runtime`: the trial fault, if any, hits the last
    /// runtime in table order.
    pub fn trial_fault(&self, runtime: RuntimeKind) -> Option<Fault> {
        self.inject_fault
            .filter(|f| f.hits_trials())
            .filter(|_| self.runtimes().last() == Some(&runtime))
    }

    /// The fault the fixture process is to carry out (tests only).
    pub fn fixture_fault(&self) -> Option<Fault> {
        self.inject_fault.filter(|f| f.hits_fixture())
    }

    /// Fails if a selected workload would hold more connections at once than `connections`,
    /// the most a trial process (and the fixture process, which holds the other ends) may
    /// open under the open-file limit: past it the trial fails with "too many open files".
    /// Also fails if `--trace` or `--timeline` is asked of runtimes none of which records
    /// (the baseline and CPython rows record nothing): the files would be empty; and if two of
    /// `--svg`, `--trace` and `--timeline` name one file: the last written would silently
    /// replace the other.
    pub fn check(&self, connections: usize) -> Result<(), String> {
        let outputs = [
            ("--svg", &self.svg),
            ("--trace", &self.trace),
            ("--timeline", &self.timeline),
        ];
        for (i, (flag, path)) in outputs.iter().enumerate() {
            for (other, other_path) in &outputs[i + 1..] {
                if let (Some(a), Some(b)) = (path, other_path)
                    && resolved(a) == resolved(b)
                {
                    return Err(format!(
                        "{flag} and {other} name the same file ({}): one would overwrite the other",
                        a.display()
                    ));
                }
            }
        }
        let wants_trace = self.trace.is_some() || self.timeline.is_some();
        if wants_trace
            && !self
                .runtimes()
                .into_iter()
                .any(crate::tracing_trials::traced)
        {
            return Err(
                "--trace and --timeline record gil-threads, mini-eventloop and \
                        proc-pool (and their combination), and none of them is selected: the \
                        baseline and CPython rows record nothing"
                    .to_owned(),
            );
        }
        let Some(tasks) = self.tasks.map(NonZeroUsize::get) else {
            return Ok(());
        };
        let talkers: Vec<&str> = self
            .workloads()
            .into_iter()
            .filter(|w| w.fixture_delay().is_some() && tasks > connections)
            .map(WorkloadKind::name)
            .collect();
        if talkers.is_empty() {
            return Ok(());
        }
        Err(format!(
            "--tasks {tasks} needs as many connections at once on {}, but the open-file limit \
             allows {connections} per process (its hard cap less a margin): use --tasks \
             {connections} or fewer, or raise the hard limit (ulimit -Hn)",
            talkers.join(", ")
        ))
    }

    /// The runtimes selected, in table order, the sequential baseline always first. The
    /// process pool (`proc-pool`, chosen or by default) gets the rows of `--start-method`; with
    /// `--python`, each model's CPython counterpart follows the models, after
    /// `cpython-sequential`.
    pub fn runtimes(&self) -> Vec<RuntimeKind> {
        let mut chosen: Vec<RuntimeKind> = if self.runtime.is_empty() {
            RuntimeKind::ALL.to_vec()
        } else {
            self.runtime.clone()
        };
        chosen.push(RuntimeKind::Sequential);
        if let Some(at) = chosen.iter().position(|&r| r == RuntimeKind::ProcPool) {
            chosen.remove(at);
            if self.start_method != StartMethodChoice::Forkserver {
                chosen.push(RuntimeKind::ProcPool);
            }
            if self.start_method != StartMethodChoice::Fork {
                chosen.push(RuntimeKind::ProcPoolForkserver);
            }
        }
        if self.python.is_some() {
            let cpython: Vec<RuntimeKind> = chosen.iter().map(|r| r.counterpart()).collect();
            chosen.extend(cpython);
        }
        chosen.sort();
        chosen.dedup();
        chosen
    }

    /// Jobs per trial of `workload`: `--tasks`, else the workload's own size at `--scale`.
    pub fn tasks(&self, workload: WorkloadKind) -> usize {
        self.tasks.map_or_else(
            || workload.default_tasks(self.scale, MAX_TASKS),
            |n| n.get(),
        )
    }
}

/// `path` with its directory resolved (`./a.svg` and `a.svg` are one file), or as given if the
/// directory cannot be.
fn resolved(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (dir.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Parses the process's arguments, exiting with status 2 and a message on bad flags.
pub fn parse() -> Options {
    let options = Options::parse();
    if let Err(why) = options.check(concurrency_shared::connections_per_process()) {
        Options::command()
            .error(clap::error::ErrorKind::ValueValidation, why)
            .exit();
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts past their caps and non-positive or non-numeric time limits are refused;
    /// a limit too large for the clock is no limit, never a panic.
    #[test]
    fn numbers_are_bounded() {
        assert!(bounded(5)("5").is_ok());
        for bad in ["0", "6", "-1", "x", "18446744073709551616"] {
            assert!(bounded(5)(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_seconds("1e300"), Ok(Duration::MAX));
        assert_eq!(parse_seconds("inf"), Ok(Duration::MAX));
        for bad in ["0", "-1", "NaN", "x", "", "1e-300"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_millis("2.5"), Ok(Duration::from_micros(2_500)));
        assert_eq!(parse_millis("1e300"), Ok(Duration::MAX));
        for bad in ["0", "-1", "NaN", "x", "1e-300"] {
            assert!(parse_millis(bad).is_err(), "{bad}");
        }
        // A positive window under a nanosecond is refused for what it is, not as "0 or less".
        for tiny in ["1e-7", "1e-300"] {
            assert!(
                parse_millis(tiny).is_err_and(|e| e.contains("nanosecond")),
                "{tiny}"
            );
        }
        assert_eq!(parse_millis("1e-6"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse_scale("0.1"), Ok(0.1));
        assert_eq!(parse_scale("10"), Ok(MAX_SCALE));
        for bad in ["0", "-1", "NaN", "inf", "10.5", "x", ""] {
            assert!(parse_scale(bad).is_err(), "{bad}");
        }
    }

    /// `--start-method` picks the pool rows; `--python` adds every chosen row's CPython
    /// counterpart, its baseline included, after the models.
    #[test]
    fn start_method_and_python_pick_the_rows() {
        let names = |args: &[&str]| -> Vec<&'static str> {
            let options =
                Options::parse_from(std::iter::once("concurrency").chain(args.iter().copied()));
            options
                .runtimes()
                .into_iter()
                .map(RuntimeKind::name)
                .collect()
        };
        assert_eq!(
            names(&[]),
            [
                "sequential",
                "gil-threads",
                "mini-eventloop",
                "proc-pool",
                "mini-eventloop+proc-pool"
            ]
        );
        assert_eq!(
            names(&["--runtime", "mini-eventloop+proc-pool", "--python"]),
            [
                "sequential",
                "mini-eventloop+proc-pool",
                "cpython-sequential",
                "cpython-asyncio+processes"
            ]
        );
        assert_eq!(
            names(&["--start-method", "forkserver", "--runtime", "proc-pool"]),
            ["sequential", "proc-pool-forkserver"]
        );
        assert_eq!(
            names(&[
                "--start-method",
                "both",
                "--runtime",
                "proc-pool",
                "--python"
            ]),
            [
                "sequential",
                "proc-pool",
                "proc-pool-forkserver",
                "cpython-sequential",
                "cpython-processes",
                "cpython-processes-forkserver"
            ]
        );
        assert_eq!(
            names(&["--runtime", "proc-pool-forkserver"]),
            ["sequential", "proc-pool-forkserver"]
        );
    }
}
