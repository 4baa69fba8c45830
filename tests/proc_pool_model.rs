//! `proc-pool` shows its model's signature: jobs run in distinct worker processes, none of
//! them the caller, and those processes really overlap (the fixture's barrier answers only
//! once a job in every worker is waiting at the same time).
//!
//! Runs alone (`harness = false`): the pool forks.

mod util;

use std::collections::HashSet;
use std::process::ExitCode;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use proc_pool::Pool;
use util::{Probe, ensure, ensure_all_waited_at_once, probe_ran, run_cases};

/// Workers, and jobs: one job each (the pool hands work to the least-loaded worker first), so
/// the barrier can only open if every worker runs its job at the same time.
const WORKERS: usize = 4;

fn distinct_processes_overlap() -> Result<(), String> {
    let fixture =
        Fixture::start(FixtureConfig::new().barrier(WORKERS)).map_err(|e| e.to_string())?;
    let pool = Pool::new(WORKERS).map_err(|e| e.to_string())?;
    let probes = vec![
        Probe {
            slices: 10,
            server: Some(fixture.addr()),
        };
        WORKERS
    ];
    let mut pids = HashSet::new();
    for (i, out) in pool.run_all(probes).into_iter().enumerate() {
        let (pid, _) = probe_ran(i, out)?;
        pids.insert(pid);
    }
    ensure(!pids.contains(&std::process::id()), || {
        "a job ran in the caller's process".to_owned()
    })?;
    ensure(pids.len() == WORKERS, || {
        format!(
            "{WORKERS} jobs ran in {} processes, not one each",
            pids.len()
        )
    })?;
    ensure_all_waited_at_once(&fixture, WORKERS)
}

fn main() -> ExitCode {
    run_cases(&[(
        "jobs_run_in_distinct_processes_that_overlap",
        distinct_processes_overlap,
    )])
}
