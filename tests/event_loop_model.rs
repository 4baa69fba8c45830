//! `mini-eventloop` shows its model's signature: every task of a run executes on one OS
//! thread (the caller's), and that one thread holds `stress_connections()` network jobs
//! waiting at once (the fixture's barrier answers only when all of them are pending).
//!
//! Runs alone (`harness = false`): it raises the open-file limit and holds about 20,000
//! descriptors.

mod util;

use std::collections::HashSet;
use std::process::ExitCode;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::stress_connections;
use mini_eventloop::Runtime;
use util::{
    Probe, ensure, ensure_all_waited_at_once, max_inside, probe_ran, reset_gauge, run_cases,
    thread_id,
};

/// Every task runs on the thread that called `run_jobs`, one at a time.
fn one_thread_for_every_task() -> Result<(), String> {
    let mut rt = Runtime::new().map_err(|e| e.to_string())?;
    reset_gauge();
    let probes = vec![
        Probe {
            slices: 50,
            server: None,
        };
        64
    ];
    let me = thread_id();
    let mut threads = HashSet::new();
    for (i, out) in rt.run_jobs(probes).into_iter().enumerate() {
        let (_, tid) = probe_ran(i, out)?;
        threads.insert(tid);
    }
    ensure(threads == HashSet::from([me]), || {
        format!("tasks ran on threads {threads:?}, not only on the caller's ({me})")
    })?;
    ensure(max_inside() == 1, || {
        format!("{} tasks ran at once on one thread", max_inside())
    })
}

/// `stress_connections()` jobs (about 9,700 here) each hold a connection at once.
fn holds_stress_connections() -> Result<(), String> {
    let jobs = stress_connections();
    let fixture = Fixture::start(FixtureConfig::new().barrier(jobs)).map_err(|e| e.to_string())?;
    let mut rt = Runtime::new().map_err(|e| e.to_string())?;
    let probes = vec![
        Probe {
            slices: 1,
            server: Some(fixture.addr()),
        };
        jobs
    ];
    let me = thread_id();
    for (i, out) in rt.run_jobs(probes).into_iter().enumerate() {
        let (_, tid) = probe_ran(i, out)?;
        ensure(tid == me, || {
            format!("job {i} ran on thread {tid}, not {me}")
        })?;
    }
    ensure_all_waited_at_once(&fixture, jobs)
}

fn main() -> ExitCode {
    run_cases(&[
        ("one_thread_for_every_task", one_thread_for_every_task),
        ("holds_stress_connections", holds_stress_connections),
    ])
}
