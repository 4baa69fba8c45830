//! The memory table: peak resident memory with N jobs waiting at once, for N = 100, 1,000
//! and 10,000, on each concurrent runtime: one thread, one task or one process per job.
//!
//! This is the cost the rule of thumb is about: a waiting thread holds a stack and a kernel
//! task, a waiting task holds only its future, a waiting process holds a whole address space.
//! Processes are capped at [`MAX_PROCESSES`]; a cell above the cap is left empty.

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
    /// Peak resident memory of the trial process plus its workers, in MiB.
    pub peak_mib: f64,
}

/// Runs the memory table's trials (one per cell) and returns the cells.
pub fn run(options: &Options) -> Result<Vec<Cell>, String> {
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
            let report = trial::run(&TrialSpec {
                workload: WorkloadKind::Idle,
                runtime,
                tasks: jobs,
                workers,
                server: None,
            })?;
            if let Some(failure) = report.first_failure {
                return Err(format!("memory trial on {}: {failure}", runtime.name()));
            }
            cells.push(Cell {
                runtime: runtime.name(),
                jobs,
                workers,
                peak_mib: report.peak_rss_kib as f64 / 1024.0,
            });
        }
    }
    Ok(cells)
}

/// Prints the cells as a table: a row per runtime, a column per job count, then the cost of
/// one more waiting job, from the two largest counts the runtime ran.
pub fn print_table(cells: &[Cell]) {
    println!("\npeak memory (MiB) with N jobs waiting at once: one thread, task or process each");
    print!("{:<15}", "runtime");
    for jobs in JOB_COUNTS {
        print!(" {:>10}", format!("N={jobs}"));
    }
    println!(" {:>14}", "KiB per job");
    let mut runtimes: Vec<&str> = cells.iter().map(|c| c.runtime).collect();
    runtimes.dedup();
    for runtime in runtimes {
        let row: Vec<&Cell> = cells.iter().filter(|c| c.runtime == runtime).collect();
        print!("{runtime:<15}");
        for jobs in JOB_COUNTS {
            match row.iter().find(|c| c.jobs == jobs) {
                Some(c) => print!(" {:>10.1}", c.peak_mib),
                None => print!(" {:>10}", "-"),
            }
        }
        let per_job = match row.as_slice() {
            [.., a, b] => format!(
                "{:.1}",
                (b.peak_mib - a.peak_mib) * 1024.0 / (b.jobs - a.jobs) as f64
            ),
            _ => "-".to_owned(),
        };
        println!(" {per_job:>14}");
    }
    println!(
        "(- : not run; processes are capped at {MAX_PROCESSES}. Workers' memory is their \
         proportional share (Pss), so pages shared after fork are counted once.)"
    );
}
