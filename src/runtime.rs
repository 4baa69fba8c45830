//! The runtimes under test. Each is one arm of [`RuntimeKind`]: adding a runtime to the
//! compare program is one arm in each `match` here, nothing else.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use concurrency_shared::run_blocking;
use concurrency_shared::trace::Recorder;
use concurrency_shared::workloads::Workload;
use serde::{Deserialize, Serialize};

use crate::measure;
use crate::offload;

/// The most interpreter threads a trial starts: one per job up to here, so 2,000 slow round
/// trips run as two waves of threads instead of 2,000 threads (the memory table, which is
/// about exactly that cost, lifts the cap).
const THREAD_CAP: usize = 1_024;

/// One way of running a batch of jobs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeKind {
    /// One job after another on the calling thread: the baseline every speedup is against.
    Sequential,
    /// `gil-threads`: one interpreter thread per job (up to a cap), one GIL.
    GilThreads,
    /// `mini-eventloop`: every job a task on one thread.
    MiniEventloop,
    /// `proc-pool`: forked worker processes, one per core.
    ProcPool,
    /// `proc-pool` with `StartMethod::ForkServer`: workers forked by a fork server. Not in
    /// the default set; ask for it with `--runtime proc-pool-forkserver` or
    /// `--start-method forkserver|both`.
    ProcPoolForkserver,
    /// `mini-eventloop` and `proc-pool` combined: every job a task on one loop, the parts they
    /// offload (`Ctx::offload`) on forked workers, one per core (see `offload.rs`).
    #[value(name = "mini-eventloop+proc-pool")]
    #[serde(rename = "mini-eventloop+proc-pool")]
    MiniEventloopProcPool,
    /// CPython, one job after another: the baseline of the CPython rows (`--python`).
    #[value(skip)]
    CpythonSequential,
    /// CPython's `threading`: one thread per job, capped like gil-threads.
    #[value(skip)]
    CpythonThreads,
    /// CPython's `asyncio`: one task per job on one loop.
    #[value(skip)]
    CpythonAsyncio,
    /// CPython's `multiprocessing.Pool` with the `fork` start method, one process per core.
    #[value(skip)]
    CpythonProcesses,
    /// CPython's `multiprocessing.Pool` with the `forkserver` start method.
    #[value(skip)]
    CpythonProcessesForkserver,
    /// CPython's `asyncio` with `loop.run_in_executor` on a `ProcessPoolExecutor` (`fork`),
    /// one process per core, for the parts a job offloads.
    #[value(skip)]
    #[serde(rename = "cpython-asyncio+processes")]
    CpythonAsyncioProcesses,
}

/// Which side of the comparison a runtime is on: a Rust model of a CPython runtime, or
/// CPython itself. Speedups and verdicts are taken within a family, against its own baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The Rust runtimes of this workspace.
    Model,
    /// CPython, run through `python/cpython_trial.py`.
    Cpython,
}

/// What a batch of jobs gave back.
pub struct RunOutcome<T> {
    /// Each job's output in input order, or why the runtime could not produce it.
    pub outputs: Vec<Result<T, String>>,
    /// The memory of worker processes the runtime used, in KiB (their proportional share,
    /// read before they exit).
    pub workers_rss_kib: u64,
    /// Time spent starting and stopping the runtime rather than running jobs: forking and
    /// reaping a pool's workers. It does not grow with the number of jobs, so a sampled trial
    /// does not scale it (see `report.rs`).
    pub fixed: Duration,
    /// The CPU time spent in the same start and stop: this process's while it forks and
    /// reaps the workers (and any helper process reaped meanwhile). The workers' own CPU is
    /// only known once they are reaped, mixed with their jobs', so it is not part of it.
    pub fixed_cpu: Duration,
}

impl RuntimeKind {
    /// Every runtime, in table order.
    pub const ALL: [RuntimeKind; 5] = [
        RuntimeKind::Sequential,
        RuntimeKind::GilThreads,
        RuntimeKind::MiniEventloop,
        RuntimeKind::ProcPool,
        RuntimeKind::MiniEventloopProcPool,
    ];

    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Sequential => "sequential",
            RuntimeKind::GilThreads => "gil-threads",
            RuntimeKind::MiniEventloop => "mini-eventloop",
            RuntimeKind::ProcPool => "proc-pool",
            RuntimeKind::ProcPoolForkserver => "proc-pool-forkserver",
            RuntimeKind::MiniEventloopProcPool => "mini-eventloop+proc-pool",
            RuntimeKind::CpythonSequential => "cpython-sequential",
            RuntimeKind::CpythonThreads => "cpython-threads",
            RuntimeKind::CpythonAsyncio => "cpython-asyncio",
            RuntimeKind::CpythonProcesses => "cpython-processes",
            RuntimeKind::CpythonProcessesForkserver => "cpython-processes-forkserver",
            RuntimeKind::CpythonAsyncioProcesses => "cpython-asyncio+processes",
        }
    }

    /// Every runtime there is, models and CPython, in table order.
    #[cfg(test)]
    pub const EVERY: [RuntimeKind; 12] = [
        RuntimeKind::Sequential,
        RuntimeKind::GilThreads,
        RuntimeKind::MiniEventloop,
        RuntimeKind::ProcPool,
        RuntimeKind::ProcPoolForkserver,
        RuntimeKind::MiniEventloopProcPool,
        RuntimeKind::CpythonSequential,
        RuntimeKind::CpythonThreads,
        RuntimeKind::CpythonAsyncio,
        RuntimeKind::CpythonProcesses,
        RuntimeKind::CpythonProcessesForkserver,
        RuntimeKind::CpythonAsyncioProcesses,
    ];

    /// Which side of the comparison the runtime is on.
    pub fn family(self) -> Family {
        match self {
            RuntimeKind::Sequential
            | RuntimeKind::GilThreads
            | RuntimeKind::MiniEventloop
            | RuntimeKind::ProcPool
            | RuntimeKind::ProcPoolForkserver
            | RuntimeKind::MiniEventloopProcPool => Family::Model,
            RuntimeKind::CpythonSequential
            | RuntimeKind::CpythonThreads
            | RuntimeKind::CpythonAsyncio
            | RuntimeKind::CpythonProcesses
            | RuntimeKind::CpythonProcessesForkserver
            | RuntimeKind::CpythonAsyncioProcesses => Family::Cpython,
        }
    }

    /// The baseline this runtime's speedup is taken against: its family's sequential row.
    pub fn baseline(self) -> RuntimeKind {
        match self.family() {
            Family::Model => RuntimeKind::Sequential,
            Family::Cpython => RuntimeKind::CpythonSequential,
        }
    }

    /// The CPython runtime a model stands for, or the model of a CPython runtime.
    pub fn counterpart(self) -> RuntimeKind {
        match self {
            RuntimeKind::Sequential => RuntimeKind::CpythonSequential,
            RuntimeKind::GilThreads => RuntimeKind::CpythonThreads,
            RuntimeKind::MiniEventloop => RuntimeKind::CpythonAsyncio,
            RuntimeKind::ProcPool => RuntimeKind::CpythonProcesses,
            RuntimeKind::ProcPoolForkserver => RuntimeKind::CpythonProcessesForkserver,
            RuntimeKind::MiniEventloopProcPool => RuntimeKind::CpythonAsyncioProcesses,
            RuntimeKind::CpythonSequential => RuntimeKind::Sequential,
            RuntimeKind::CpythonThreads => RuntimeKind::GilThreads,
            RuntimeKind::CpythonAsyncio => RuntimeKind::MiniEventloop,
            RuntimeKind::CpythonProcesses => RuntimeKind::ProcPool,
            RuntimeKind::CpythonProcessesForkserver => RuntimeKind::ProcPoolForkserver,
            RuntimeKind::CpythonAsyncioProcesses => RuntimeKind::MiniEventloopProcPool,
        }
    }

    /// The model of this runtime: itself for a model, its counterpart for CPython.
    pub fn model(self) -> RuntimeKind {
        match self.family() {
            Family::Model => self,
            Family::Cpython => self.counterpart(),
        }
    }

    /// The threads or processes used for `tasks` jobs: `requested` (`--workers`) where the
    /// runtime has a choice, else its default, and for gil-threads no more than `tasks`; the
    /// baseline and the loop always use one thread (the combined runtime: one loop thread, and
    /// this many pool processes). A CPython runtime takes the same number as its model.
    pub fn workers(self, tasks: usize, requested: Option<usize>) -> usize {
        match self.model() {
            RuntimeKind::Sequential | RuntimeKind::MiniEventloop => 1,
            // The interpreter starts no more threads than there are jobs.
            RuntimeKind::GilThreads => requested
                .unwrap_or_else(|| self.default_workers(tasks))
                .clamp(1, tasks.max(1)),
            _ => requested.unwrap_or_else(|| self.default_workers(tasks)),
        }
    }

    /// The threads or processes used for `tasks` jobs unless `--workers` says otherwise.
    fn default_workers(self, tasks: usize) -> usize {
        match self.model() {
            RuntimeKind::GilThreads => tasks.clamp(1, THREAD_CAP),
            RuntimeKind::ProcPool
            | RuntimeKind::ProcPoolForkserver
            | RuntimeKind::MiniEventloopProcPool => {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            }
            _ => 1,
        }
    }

    /// The workers needed to hold `jobs` jobs waiting all at once (one thread or process per
    /// job, one thread for tasks), or `None` for a runtime that cannot, or that the memory
    /// table leaves out: the combined runtime's waiting jobs are the loop's tasks, and its pool
    /// a fixed cost the main table shows.
    pub fn workers_for_all_at_once(self, jobs: usize) -> Option<usize> {
        match self.model() {
            RuntimeKind::Sequential | RuntimeKind::MiniEventloopProcPool => None,
            RuntimeKind::MiniEventloop => Some(1),
            _ => Some(jobs),
        }
    }

    /// Whether each worker is a process of its own (the combined runtime's are).
    pub fn forks_processes(self) -> bool {
        self.is_process_pool() || self.model() == RuntimeKind::MiniEventloopProcPool
    }

    /// Whether this is the process pool alone (either start method), the rule of thumb's
    /// "processes".
    pub fn is_process_pool(self) -> bool {
        matches!(
            self.model(),
            RuntimeKind::ProcPool | RuntimeKind::ProcPoolForkserver
        )
    }

    /// Whether this runtime works through jobs one after another on `workers` lanes, each lane
    /// taking the next job when it finishes one (proc-pool's `run_all` sends jobs one at a
    /// time), so that `n` uniform jobs take `ceil(n / workers)` equal waves (see `sample.rs`).
    /// A CPython runtime runs jobs the way its model does (its pool is handed jobs one at a
    /// time, `chunksize=1`).
    pub fn runs_jobs_in_turn(self) -> bool {
        matches!(
            self.model(),
            RuntimeKind::Sequential | RuntimeKind::ProcPool | RuntimeKind::ProcPoolForkserver
        )
    }

    /// Runs `jobs` with `workers` threads or processes and returns their outputs in order.
    /// The runtime is started and shut down inside, so its costs are part of the run.
    pub fn run<W: Workload>(self, jobs: Vec<W>, workers: usize) -> RunOutcome<W::Output> {
        self.run_with(jobs, workers, None)
    }

    /// [`run`](Self::run), with the runtime (and, for the combined one, its loop and its
    /// pool) recording into `recorder` when one is given: a traced trial is built exactly as
    /// a measured one, but for the recorder. The baseline records nothing.
    pub fn run_with<W: Workload>(
        self,
        jobs: Vec<W>,
        workers: usize,
        recorder: Option<&Arc<Recorder>>,
    ) -> RunOutcome<W::Output> {
        let count = jobs.len();
        let outputs = match self {
            RuntimeKind::Sequential => jobs.iter().map(|job| Ok(run_blocking(job))).collect(),
            RuntimeKind::GilThreads => {
                let mut builder = gil_threads::Interpreter::builder();
                if let Some(recorder) = recorder {
                    builder = builder.recorder(Arc::clone(recorder));
                }
                match builder.build() {
                    Ok(interp) => stringify(interp.run_jobs(jobs, workers)),
                    Err(e) => fail_all(count, &format!("cannot start the interpreter: {e}")),
                }
            }
            RuntimeKind::MiniEventloop => match event_loop(recorder) {
                Ok(mut rt) => stringify(rt.run_jobs(jobs)),
                Err(e) => fail_all(count, &format!("cannot start the event loop: {e}")),
            },
            RuntimeKind::ProcPool | RuntimeKind::ProcPoolForkserver => {
                let method = if self == RuntimeKind::ProcPool {
                    proc_pool::StartMethod::Fork
                } else {
                    proc_pool::StartMethod::ForkServer
                };
                return with_pool(method, workers, count, recorder, |pool| {
                    stringify(pool.run_all(jobs))
                });
            }
            RuntimeKind::MiniEventloopProcPool => {
                let method = proc_pool::StartMethod::Fork;
                return with_pool(method, workers, count, recorder, |pool| {
                    match event_loop(recorder) {
                        Ok(mut rt) => stringify(offload::run_jobs(&mut rt, pool, jobs)),
                        Err(e) => fail_all(count, &format!("cannot start the event loop: {e}")),
                    }
                });
            }
            // The trial sends these rows to Python (`trial.rs`); reaching here is a caller's
            // mistake, reported as every job failing rather than a panic.
            RuntimeKind::CpythonSequential
            | RuntimeKind::CpythonThreads
            | RuntimeKind::CpythonAsyncio
            | RuntimeKind::CpythonProcesses
            | RuntimeKind::CpythonProcessesForkserver
            | RuntimeKind::CpythonAsyncioProcesses => fail_all(
                count,
                "a CPython row runs in Python, through cpython.rs, not in this process",
            ),
        };
        RunOutcome {
            outputs,
            workers_rss_kib: 0,
            fixed: Duration::ZERO,
            fixed_cpu: Duration::ZERO,
        }
    }
}

/// Starts a pool of `workers` processes by `method`, runs `f` on it, then stops it: `f`'s
/// outputs, with the workers' memory and the time and CPU spent starting and stopping the
/// pool; if it cannot start, each of the `count` jobs fails with the reason. The pool is
/// dropped (its workers reaped, so that their CPU time is counted) before this returns, so
/// `f` must leave no clone of it behind.
fn with_pool<T>(
    method: proc_pool::StartMethod,
    workers: usize,
    count: usize,
    recorder: Option<&Arc<Recorder>>,
    f: impl FnOnce(&Rc<proc_pool::Pool>) -> Vec<Result<T, String>>,
) -> RunOutcome<T> {
    let cpu_before_start = measure::cpu_time_with_children();
    let (built, started) = timed(|| {
        let mut builder = proc_pool::Pool::builder()
            .workers(workers)
            .start_method(method);
        if let Some(recorder) = recorder {
            builder = builder.recorder(Arc::clone(recorder));
        }
        builder.build()
    });
    let pool = match built {
        Ok(pool) => Rc::new(pool),
        Err(e) => {
            return RunOutcome {
                outputs: fail_all(count, &format!("cannot start the pool: {e}")),
                workers_rss_kib: 0,
                fixed: Duration::ZERO,
                fixed_cpu: Duration::ZERO,
            };
        }
    };
    let mut fixed_cpu = measure::cpu_time_with_children().saturating_sub(cpu_before_start);
    let outputs = f(&pool);
    let stopping = Instant::now();
    let cpu_before_stop = measure::cpu_time_self();
    let workers_rss_kib = pool
        .worker_pids()
        .into_iter()
        .filter_map(measure::proportional_set_kib)
        .sum();
    // Dropping the pool reaps its workers, so their CPU time is counted.
    drop(pool);
    fixed_cpu += measure::cpu_time_self().saturating_sub(cpu_before_stop);
    RunOutcome {
        outputs,
        workers_rss_kib,
        fixed: started + stopping.elapsed(),
        fixed_cpu,
    }
}

/// An event loop, recording into `recorder` if one is given.
fn event_loop(recorder: Option<&Arc<Recorder>>) -> std::io::Result<mini_eventloop::Runtime> {
    let mut builder = mini_eventloop::Runtime::builder();
    if let Some(recorder) = recorder {
        builder = builder.recorder(Arc::clone(recorder));
    }
    builder.build()
}

/// Runs `f` and says how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

fn stringify<T, E: std::fmt::Display>(results: Vec<Result<T, E>>) -> Vec<Result<T, String>> {
    results
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

fn fail_all<T>(jobs: usize, why: &str) -> Vec<Result<T, String>> {
    (0..jobs).map(|_| Err(why.to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each runtime's counterpart is on the other side and leads back to it; a CPython row
    /// takes its model's workers and sampling.
    #[test]
    fn counterparts_pair_the_families() {
        for r in RuntimeKind::EVERY {
            assert_ne!(r.family(), r.counterpart().family(), "{r:?}");
            assert_eq!(r.counterpart().counterpart(), r);
            assert_eq!(r.model().family(), Family::Model);
            assert_eq!(r.workers(2_000, None), r.model().workers(2_000, None));
            assert_eq!(r.runs_jobs_in_turn(), r.model().runs_jobs_in_turn());
            assert_eq!(r.baseline().family(), r.family());
        }
    }
}
