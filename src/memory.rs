//! The memory table: peak resident memory with N jobs waiting at once, for N = 100, 1,000
//! and 10,000, on each concurrent runtime: one thread, one task or one process per job.
//!
//! This is the cost the rule of thumb is about: a waiting thread holds a stack and a kernel
//! task, a waiting task holds only its future, a waiting process holds a whole address space.
//! Processes are capped at [`MAX_PROCESSES`]; a cell above the cap is left empty.

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::Options;
use crate::runtime::RuntimeKind;
use crate::trial::{self, TrialSpec};
use crate::workload::WorkloadKind;

/// How many jobs wait at once in each column.
pub const JOB_COUNTS: [usize; 3] = [100, 1_000, 10_000];

/// The most worker processes the table forks at once: a thousand processes already make the
/// point, and ten thousand would compete for the machine's process and memory limits.
pub const MAX_PROCESSES: usize = 1_000;

/// One cell: a runtime holding `jobs` waiting jobs.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The runtime.
    pub runtime: &'static str,
    /// Jobs waiting at once.
    pub jobs: usize,
    /// Threads, tasks' threads or processes used.
    pub workers: usize,
    /// Peak resident memory of the trial process plus its workers, in MiB; `None` if the
    /// trial failed.
    pub peak_mib: Option<f64>,
    /// Why the trial failed, if it did.
    pub failure: Option<String>,
}

/// Runs the memory table's trials (one per cell) and returns the cells; a failed trial is a
/// cell with its reason, and the other cells still run.
pub fn run(options: &Options) -> Vec<Cell> {
    let runtimes: Vec<RuntimeKind> = options
        .runtimes()
        .into_iter()
        .filter(|&r| r != RuntimeKind::Sequential)
        .collect();
    let mut cells = Vec::new();
    for &runtime in &runtimes {
        for &jobs in &JOB_COUNTS {
            let Some(workers) = runtime.workers_for_all_at_once(jobs) else {
                continue;
            };
            if runtime.forks_processes() && workers > MAX_PROCESSES {
                continue;
            }
            eprintln!("[memory] {jobs} waiting jobs on {}…", runtime.name());
            let spec = TrialSpec {
                workload: WorkloadKind::Idle,
                runtime,
                tasks: jobs,
                workers,
                server: None,
                fault: options.trial_fault(runtime),
                scale: options.scale,
                python: options.python.clone(),
            };
            let (peak_mib, failure) = match trial::run(&spec, options.trial_timeout) {
                Ok(report) => match report.first_failure {
                    None => (Some(report.peak_rss_kib as f64 / 1024.0), None),
                    Some(wrong) => (None, Some(format!("wrong results: {wrong}"))),
                },
                Err(why) => (None, Some(format!("failed: {why}"))),
            };
            if let Some(why) = &failure {
                eprintln!("  {why}");
            }
            cells.push(Cell {
                runtime: runtime.name(),
                jobs,
                workers,
                peak_mib,
                failure,
            });
        }
    }
    cells
}

/// Prints the cells as a table: a row per runtime, a column per job count, then the cost of
/// one more waiting job, from the two largest counts the runtime ran.
pub fn print_table(out: &mut dyn Write, cells: &[Cell]) -> io::Result<()> {
    writeln!(
        out,
        "\npeak memory (MiB) with N jobs waiting at once: one thread, task or process each"
    )?;
    let width = crate::report::name_width(cells.iter().map(|c| c.runtime));
    write!(out, "{:<width$}", "runtime")?;
    for jobs in JOB_COUNTS {
        write!(out, " {:>10}", format!("N={jobs}"))?;
    }
    writeln!(out, " {:>14}", "KiB per job")?;
    let mut runtimes: Vec<&str> = cells.iter().map(|c| c.runtime).collect();
    runtimes.dedup();
    for runtime in runtimes {
        let row: Vec<&Cell> = cells.iter().filter(|c| c.runtime == runtime).collect();
        write!(out, "{runtime:<width$}")?;
        for jobs in JOB_COUNTS {
            match row.iter().find(|c| c.jobs == jobs) {
                Some(Cell {
                    peak_mib: Some(mib),
                    ..
                }) => write!(out, " {mib:>10.1}"),
                Some(_) => write!(out, " {:>10}", "failed"),
                None => write!(out, " {:>10}", "-"),
            }?;
        }
        let measured: Vec<(usize, f64)> = row
            .iter()
            .filter_map(|c| Some((c.jobs, c.peak_mib?)))
            .collect();
        let per_job = match measured.as_slice() {
            [.., (jobs_a, a), (jobs_b, b)] => {
                format!("{:.1}", (b - a) * 1024.0 / (jobs_b - jobs_a) as f64)
            }
            _ => "-".to_owned(),
        };
        writeln!(out, " {per_job:>14}")?;
    }
    writeln!(
        out,
        "(- : not run; processes are capped at {MAX_PROCESSES}. A process's memory is the \
         trial process's peak (VmHWM) plus each worker's proportional share (Pss) at the end \
         of the run; the trial process's peak counts the pages it shares with its workers in \
         full and the workers' Pss counts most of them again, so shared pages weigh up to \
         twice; KiB per job, a difference of two counts, is free of that.)"
    )?;
    for cell in cells {
        if let Some(why) = &cell.failure {
            writeln!(out, "  ✗ {} jobs on {}: {why}", cell.jobs, cell.runtime)?;
        }
    }
    Ok(())
}
