//! The plan of a compare run: for each workload, start the fixture server it needs, then run
//! each runtime's trials one after another (never two at once: on a small machine they would
//! measure each other), and hand the rows to `report`.
//!
//! Sampling: a runtime that works through jobs in turn (the sequential baseline) would spend
//! minutes on 2,000 slow round trips in a row. On a workload whose jobs all cost the same it
//! runs a sample of [`SAMPLE_TASKS`] jobs, and its time is scaled to the full count; the table
//! marks such rows with `~`. Peak memory is not scaled.

use std::time::Duration;

use crate::chart;
use crate::cli::Options;
use crate::fixture_proc::FixtureProcess;
use crate::memory;
use crate::report::{self, Row};
use crate::runtime::RuntimeKind;
use crate::trial::{self, TrialSpec};
use crate::workload::WorkloadKind;

/// Jobs a sampled trial runs: enough that per-job noise averages out, few enough that 50 ms
/// jobs in a row stay around a second.
pub const SAMPLE_TASKS: usize = 20;

/// Runs everything `options` asks for and prints the result.
pub fn run(options: &Options) -> Result<(), String> {
    let mut rows = Vec::new();
    let workloads = options.workloads();
    let runtimes = options.runtimes();
    let total = workloads.len() * runtimes.len();
    for workload in workloads {
        let fixture = workload
            .fixture_delay()
            .map(FixtureProcess::start)
            .transpose()?;
        for &runtime in &runtimes {
            eprintln!(
                "[{}/{total}] {} on {}…",
                rows.len() + 1,
                workload.name(),
                runtime.name()
            );
            rows.push(run_row(options, workload, runtime, fixture.as_ref())?);
        }
    }
    let memory = if options.skip_memory {
        Vec::new()
    } else {
        memory::run(options)?
    };
    if let Some(path) = &options.svg {
        chart::write(path, &rows)?;
        eprintln!("chart written to {}", path.display());
    }
    report::print(options, &rows, &memory)
}

fn run_row(
    options: &Options,
    workload: WorkloadKind,
    runtime: RuntimeKind,
    fixture: Option<&FixtureProcess>,
) -> Result<Row, String> {
    let tasks = options.tasks.map_or(workload.default_tasks(), |n| n.get());
    let workers = runtime.workers(tasks, options.workers.map(|n| n.get()));
    let sampled = runtime.runs_jobs_in_turn()
        && workload.jobs_are_uniform()
        && tasks > SAMPLE_TASKS.max(workers);
    let spec = TrialSpec {
        workload,
        runtime,
        tasks: if sampled {
            SAMPLE_TASKS.max(workers)
        } else {
            tasks
        },
        workers,
        server: fixture.map(FixtureProcess::addr),
    };
    let mut trials = Vec::new();
    let mut fixture_cpu = Vec::new();
    for _ in 0..options.repeat.get() {
        let cpu_before = fixture.map_or(Duration::ZERO, FixtureProcess::cpu_time);
        trials.push(trial::run(&spec)?);
        let cpu_after = fixture.map_or(Duration::ZERO, FixtureProcess::cpu_time);
        fixture_cpu.push(cpu_after.saturating_sub(cpu_before));
    }
    Ok(Row {
        workload,
        runtime,
        tasks,
        workers,
        ran_tasks: spec.tasks,
        trials,
        fixture_cpu,
    })
}
