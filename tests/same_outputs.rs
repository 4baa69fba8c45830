//! Every standard workload gives the same, correct outputs on the sequential baseline, on
//! all three runtimes and on the compare program's combined runtime (`mini-eventloop+proc-pool`,
//! whose source is included from the program): the job contract really is
//! runtime-independent, `Ctx::offload` included.
//!
//! Runs alone (`harness = false`): the process pool forks.

#[path = "../src/offload.rs"]
mod offload;
mod util;

use std::fmt::Debug;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::run_blocking;
use concurrency_shared::workloads::{CpuIo, Mixed, PrimeCount, RoundTrips, Sleeper, Workload};
use util::{ensure, run_cases, stringify};

/// Worker processes for the pool: more than one, so jobs really are spread out.
const POOL_WORKERS: usize = 2;

/// Runs `jobs` on the baseline and every runtime; every output must equal the job's known
/// correct output.
fn on_every_runtime<W: Workload + Clone>(jobs: Vec<W>) -> Result<(), String>
where
    W::Output: Clone + Debug + PartialEq,
{
    let expected: Vec<W::Output> = jobs.iter().map(Workload::expected).collect();
    let check = |runtime: &str, got: Vec<Result<W::Output, String>>| {
        ensure(got.len() == expected.len(), || {
            format!(
                "{runtime}: {} outputs for {} jobs",
                got.len(),
                expected.len()
            )
        })?;
        for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
            ensure(got.as_ref() == Ok(want), || {
                format!("{runtime}: job {i} gave {got:?}, expected {want:?}")
            })?;
        }
        Ok::<(), String>(())
    };
    check(
        "sequential",
        jobs.iter().map(|j| Ok(run_blocking(j))).collect(),
    )?;
    let interp = gil_threads::Interpreter::new();
    check(
        "gil-threads",
        stringify(interp.run_jobs(jobs.clone(), jobs.len())),
    )?;
    let mut rt = mini_eventloop::Runtime::new().map_err(|e| e.to_string())?;
    check("mini-eventloop", stringify(rt.run_jobs(jobs.clone())))?;
    let pool = Rc::new(proc_pool::Pool::new(POOL_WORKERS).map_err(|e| e.to_string())?);
    check(
        "mini-eventloop+proc-pool",
        stringify(offload::run_jobs(&mut rt, &pool, jobs.clone())),
    )?;
    check("proc-pool", stringify(pool.run_all(jobs)))
}

/// The CPU-bound workload: prime counts over split ranges.
fn cpu() -> Result<(), String> {
    on_every_runtime(PrimeCount::split(1, 200_000, 8))
}

/// The sleep-bound workload.
fn sleep() -> Result<(), String> {
    on_every_runtime(vec![Sleeper::new(2, Duration::from_millis(1)); 8])
}

/// The network workload: many round trips on a few connections.
fn network() -> Result<(), String> {
    let fixture = Fixture::start(FixtureConfig::new()).map_err(|e| e.to_string())?;
    on_every_runtime(vec![RoundTrips::new(fixture.addr(), 50, 64); 4])
}

/// The mixed workload: primes, a nap, and round trips to a slow server.
fn mixed() -> Result<(), String> {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let jobs = (0..6u64)
        .map(|i| {
            Mixed::new(
                PrimeCount::new(1 + i * 10_000, 1 + (i + 1) * 10_000),
                RoundTrips::new(fixture.addr(), 3, 32),
                Duration::from_millis(1),
            )
        })
        .collect();
    on_every_runtime(jobs)
}

/// The cpu-io workload: a slow round trip, an offloaded prime count, another round trip.
fn cpu_io() -> Result<(), String> {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let jobs = (0..6u64)
        .map(|i| {
            CpuIo::new(
                RoundTrips::new(fixture.addr(), 1, 32),
                PrimeCount::new(1 + i * 10_000, 1 + (i + 1) * 10_000),
            )
        })
        .collect();
    on_every_runtime(jobs)
}

fn main() -> ExitCode {
    run_cases(&[
        ("cpu_workload_same_on_every_runtime", cpu),
        ("sleep_workload_same_on_every_runtime", sleep),
        ("network_workload_same_on_every_runtime", network),
        ("mixed_workload_same_on_every_runtime", mixed),
        ("cpu_io_workload_same_on_every_runtime", cpu_io),
    ])
}
