//! `gil-threads` shows its model's signature, observed rather than assumed: under every
//! policy, never more than one thread is inside interpreter code at once (a gauge kept by the
//! job itself), while the threads' blocking waits overlap (the fixture's barrier answers only
//! once every job is waiting at the same time, so the run would hang if the GIL were held
//! across a blocking read).
//!
//! Runs alone (`harness = false`): the gauge is process-wide.

mod util;

use std::collections::HashSet;
use std::process::ExitCode;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use gil_threads::{Interpreter, Policy};
use util::{
    Probe, ensure, ensure_all_waited_at_once, max_inside, probe_ran, reset_gauge, run_cases,
};

/// Threads, each running one probe; all must wait at the barrier at once.
const THREADS: usize = 16;

/// CPU slices per probe: enough hand-offs that a broken lock would show two inside.
const SLICES: u32 = 200;

fn one_inside_while_waits_overlap(policy: Policy) -> Result<(), String> {
    let fixture =
        Fixture::start(FixtureConfig::new().barrier(THREADS)).map_err(|e| e.to_string())?;
    let interp = Interpreter::builder()
        .policy(policy)
        .build()
        .map_err(|e| e.to_string())?;
    reset_gauge();
    let probes = vec![
        Probe {
            slices: SLICES,
            server: Some(fixture.addr()),
        };
        THREADS
    ];
    let outputs = interp.run_jobs(probes, THREADS);
    let mut threads = HashSet::new();
    for (i, out) in outputs.into_iter().enumerate() {
        let (_, tid) = probe_ran(i, out)?;
        threads.insert(tid);
    }
    ensure(max_inside() == 1, || {
        format!(
            "{} threads were inside interpreter code at once",
            max_inside()
        )
    })?;
    ensure(threads.len() == THREADS, || {
        format!(
            "{THREADS} jobs ran on {} threads, not one each",
            threads.len()
        )
    })?;
    ensure_all_waited_at_once(&fixture, THREADS)
}

/// CPython's algorithm.
fn fair() -> Result<(), String> {
    one_inside_while_waits_overlap(Policy::Fair)
}

/// Direct FIFO hand-off.
fn fifo() -> Result<(), String> {
    one_inside_while_waits_overlap(Policy::Fifo)
}

/// The convoy-effect fix.
fn io_priority() -> Result<(), String> {
    one_inside_while_waits_overlap(Policy::IoPriority)
}

fn main() -> ExitCode {
    run_cases(&[
        ("fair_one_inside_while_waits_overlap", fair),
        ("fifo_one_inside_while_waits_overlap", fifo),
        ("io_priority_one_inside_while_waits_overlap", io_priority),
    ])
}
