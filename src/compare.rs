//! The plan of a compare run: for each workload, start the fixture server it needs, then run
//! each runtime's trials one after another (never two at once: on a small machine they would
//! measure each other), and hand the rows to `report`.
//!
//! A failure is confined to where it happened: a trial that fails, times out or is killed
//! fails its row (the row's remaining trials are skipped, since a stalled trial would stall
//! again), a fixture that cannot start fails its workload's rows, a fixture that dies fails
//! the rows still to run (it is checked before and after each trial, and not restarted: a
//! server that died once would distort the figures of the rows after it), and everything else
//! still runs. The table (or JSON document) is printed whole, the chart is written after it, and only
//! then does the program report the failures and exit with status 1.
//!
//! Rows of runtimes that run jobs in turn may be measured on a sample (see `sample.rs`).
//! With `--python`, CPython's rows run after the models', against the same fixture process.

use std::time::Duration;

use crate::chart;
use crate::cli::Options;
use crate::cpython::Python;
use crate::fixture_proc::FixtureProcess;
use crate::memory;
use crate::report::{self, Row};
use crate::runtime::RuntimeKind;
use crate::sample::Sample;
use crate::tracing_trials;
use crate::trial::{self, TrialSpec};
use crate::workload::WorkloadKind;

/// Runs everything `options` asks for and prints the result; fails, after printing, if any
/// trial failed, any output was wrong or the chart could not be written.
pub fn run(options: &Options, python: Option<&Python>) -> Result<(), String> {
    let mut rows = Vec::new();
    let workloads = options.workloads();
    let runtimes = options.runtimes();
    let total = workloads.len() * runtimes.len();
    for workload in workloads {
        let fixture = workload
            .fixture_delay()
            .map(|delay| FixtureProcess::start(delay, options.fixture_fault()))
            .transpose();
        for &runtime in &runtimes {
            eprintln!(
                "[{}/{total}] {} on {}…",
                rows.len() + 1,
                workload.name(),
                runtime.name()
            );
            let row = match &fixture {
                Ok(fixture) => run_row(options, workload, runtime, fixture.as_ref()),
                Err(why) => Row::new(workload, runtime, plan(options, workload, runtime))
                    .failed(format!("fixture server: {why}")),
            };
            if let Some(why) = &row.failure {
                eprintln!("  failed: {why}");
            }
            rows.push(row);
        }
    }
    let memory = if options.skip_memory {
        Vec::new()
    } else {
        memory::run(options)
    };
    let mut failures = report::print(options, &rows, &memory, python);
    if let Some(path) = &options.svg {
        match chart::write(path, &rows) {
            Ok(()) => eprintln!("chart written to {}", path.display()),
            Err(why) => failures.push(format!("chart not written: {why}")),
        }
    }
    failures.extend(tracing_trials::run(options));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} problem(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        ))
    }
}

/// How many jobs the row stands for and how many each trial runs (its traced trial too).
pub fn plan(options: &Options, workload: WorkloadKind, runtime: RuntimeKind) -> Sample {
    let tasks = options.tasks(workload);
    let workers = runtime.workers(tasks, options.workers.map(|n| n.get()));
    Sample::plan(workload, runtime, tasks, workers)
}

fn run_row(
    options: &Options,
    workload: WorkloadKind,
    runtime: RuntimeKind,
    fixture: Option<&FixtureProcess>,
) -> Row {
    let sample = plan(options, workload, runtime);
    let spec = TrialSpec {
        workload,
        runtime,
        tasks: sample.ran,
        workers: sample.workers,
        server: fixture.map(FixtureProcess::addr),
        fault: options.trial_fault(runtime),
        scale: options.scale,
        python: options.python.clone(),
    };
    let mut row = Row::new(workload, runtime, sample);
    for _ in 0..options.repeat.get() {
        // A fixture that died (before this trial or during it) leaves the trials only refused
        // connections to measure: the row fails with that reason, not with wrong outputs.
        if let Some(Err(why)) = fixture.map(FixtureProcess::check_alive) {
            return row.failed(why);
        }
        let cpu_before = fixture.map_or(Duration::ZERO, FixtureProcess::cpu_time);
        let outcome = trial::run(&spec, options.trial_timeout);
        if let Some(Err(why)) = fixture.map(FixtureProcess::check_alive) {
            return row.failed(why);
        }
        match outcome {
            Ok(report) => row.trials.push(report),
            Err(why) => return row.failed(why),
        }
        let cpu_after = fixture.map_or(Duration::ZERO, FixtureProcess::cpu_time);
        row.fixture_cpu.push(cpu_after.saturating_sub(cpu_before));
    }
    row
}
