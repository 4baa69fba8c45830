//! A job written once against `Ctx` by this test (not a standard workload) runs unchanged on
//! the sequential baseline and on all three runtimes: the contract is usable by users.
//!
//! Runs alone (`harness = false`): the process pool forks.

mod util;

use std::process::ExitCode;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::run_blocking;
use util::{Probe, ProbeOutput, ensure, run_cases, stringify};

/// Jobs per runtime.
const JOBS: usize = 6;

fn runs_everywhere() -> Result<(), String> {
    let fixture = Fixture::start(FixtureConfig::new()).map_err(|e| e.to_string())?;
    let probes = vec![
        Probe {
            slices: 5,
            server: Some(fixture.addr()),
        };
        JOBS
    ];
    let sequential: Vec<Result<ProbeOutput, String>> =
        probes.iter().map(|p| Ok(run_blocking(p))).collect();
    let gil = stringify(gil_threads::Interpreter::new().run_jobs(probes.clone(), JOBS));
    let event_loop = stringify(
        mini_eventloop::Runtime::new()
            .map_err(|e| e.to_string())?
            .run_jobs(probes.clone()),
    );
    let pool = stringify(
        proc_pool::Pool::new(2)
            .map_err(|e| e.to_string())?
            .run_all(probes),
    );
    for (runtime, outputs) in [
        ("sequential", sequential),
        ("gil-threads", gil),
        ("mini-eventloop", event_loop),
        ("proc-pool", pool),
    ] {
        ensure(outputs.len() == JOBS, || {
            format!("{runtime}: {} outputs for {JOBS} jobs", outputs.len())
        })?;
        for (i, out) in outputs.into_iter().enumerate() {
            out.map_err(|e| format!("{runtime}: job {i}: {e}"))?
                .map_err(|e| format!("{runtime}: job {i}: {e}"))?;
        }
    }
    let requests = fixture.stats().requests;
    ensure(requests == 4 * JOBS as u64, || {
        format!("the server saw {requests} requests, not {}", 4 * JOBS)
    })
}

fn main() -> ExitCode {
    run_cases(&[("user_job_runs_on_every_runtime", runs_everywhere)])
}
