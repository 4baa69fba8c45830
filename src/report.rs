//! The results: one row per workload and runtime, printed as a table or as one JSON document.
//!
//! Every figure shown is a median over the row's trials; wall time also shows its min-max
//! range, because on a busy machine the spread matters as much as the middle.

use std::time::Duration;

use serde::Serialize;

use crate::cli::Options;
use crate::memory;
use crate::runtime::RuntimeKind;
use crate::trial::TrialReport;
use crate::verdict;
use crate::workload::WorkloadKind;

/// The trials of one workload on one runtime.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which workload.
    pub workload: WorkloadKind,
    /// Which runtime.
    pub runtime: RuntimeKind,
    /// Jobs the row stands for.
    pub tasks: usize,
    /// Threads or processes used.
    pub workers: usize,
    /// Jobs each trial really ran: fewer than `tasks` when the row was sampled and scaled.
    pub ran_tasks: usize,
    /// Each trial's report.
    pub trials: Vec<TrialReport>,
    /// The fixture server's CPU time during each trial.
    pub fixture_cpu: Vec<Duration>,
}

/// Median, min and max of some durations.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// The middle value (the lower middle for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.into_iter().collect();
        v.sort_by(f64::total_cmp);
        let pick = |i: usize| v.get(i).copied().unwrap_or(0.0);
        Spread {
            median: pick(v.len().saturating_sub(1) / 2),
            min: pick(0),
            max: pick(v.len().saturating_sub(1)),
        }
    }
}

impl Row {
    /// How much a sampled row's time is multiplied by to stand for all of its jobs.
    fn scale(&self) -> f64 {
        self.tasks as f64 / self.ran_tasks.max(1) as f64
    }

    /// Whether the row's times were measured on a sample and scaled.
    pub fn sampled(&self) -> bool {
        self.ran_tasks < self.tasks
    }

    /// Wall time in seconds, scaled to the full job count.
    pub fn wall(&self) -> Spread {
        Spread::of(self.trials.iter().map(|t| t.wall_s * self.scale()))
    }

    /// CPU time in seconds, scaled to the full job count.
    pub fn cpu(&self) -> f64 {
        Spread::of(self.trials.iter().map(|t| t.cpu_s * self.scale())).median
    }

    /// The fixture server's CPU time in seconds, scaled to the full job count.
    pub fn fixture_cpu(&self) -> f64 {
        Spread::of(
            self.fixture_cpu
                .iter()
                .map(|d| d.as_secs_f64() * self.scale()),
        )
        .median
    }

    /// Peak resident memory in MiB (never scaled).
    pub fn peak_mib(&self) -> f64 {
        Spread::of(self.trials.iter().map(|t| t.peak_rss_kib as f64 / 1024.0)).median
    }

    /// Whether every job of every trial gave its known correct output.
    pub fn all_correct(&self) -> bool {
        self.trials
            .iter()
            .all(|t| t.correct == self.ran_tasks && t.first_failure.is_none())
    }

    /// The first failure of any trial.
    pub fn first_failure(&self) -> Option<&str> {
        self.trials.iter().find_map(|t| t.first_failure.as_deref())
    }
}

/// The sequential baseline's median wall time for `workload`, if it was run.
pub fn baseline(rows: &[Row], workload: WorkloadKind) -> Option<f64> {
    rows.iter()
        .find(|r| r.workload == workload && r.runtime == RuntimeKind::Sequential)
        .map(|r| r.wall().median)
}

/// Prints `rows` as `options` asks; fails if any output was wrong, after printing.
pub fn print(options: &Options, rows: &[Row], memory: &[memory::Cell]) -> Result<(), String> {
    if options.json {
        print_json(rows, memory)?;
    } else {
        print_table(rows);
        let verdict = verdict::lines(rows);
        if !verdict.is_empty() {
            println!("\nverdict (a winner only where its min-max range overlaps no other):");
            for line in verdict {
                println!("  {line}");
            }
        }
        if !memory.is_empty() {
            memory::print_table(memory);
        }
        println!("{}", Environment::read().summary());
    }
    let wrong: Vec<String> = rows
        .iter()
        .filter(|r| !r.all_correct())
        .map(|r| {
            format!(
                "{} on {}: {}",
                r.workload.name(),
                r.runtime.name(),
                r.first_failure().unwrap_or("too few outputs")
            )
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("wrong results:\n  {}", wrong.join("\n  ")))
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<8} {:<15} {:>6} {:>7} {:>27} {:>8} {:>8} {:>9} {:>8} {:>5}",
        "workload",
        "runtime",
        "tasks",
        "workers",
        "wall s (median [min-max])",
        "speedup",
        "cpu s",
        "peak MiB",
        "fix. cpu",
        "check"
    );
    let mut previous = None;
    for row in rows {
        if previous.is_some_and(|w| w != row.workload) {
            println!();
        }
        previous = Some(row.workload);
        let wall = row.wall();
        let mark = if row.sampled() { "~" } else { " " };
        let speedup = baseline(rows, row.workload)
            .filter(|_| wall.median > 0.0)
            .map_or("-".to_owned(), |b| format!("{:.2}x", b / wall.median));
        println!(
            "{:<8} {:<15} {:>6} {:>7} {:>1}{:>8.3} [{:>7.3}-{:>7.3}] {:>8} {:>8.3} {:>9.1} {:>8.3} {:>5}",
            row.workload.name(),
            row.runtime.name(),
            row.tasks,
            row.workers,
            mark,
            wall.median,
            wall.min,
            wall.max,
            speedup,
            row.cpu(),
            row.peak_mib(),
            row.fixture_cpu(),
            if row.all_correct() { "✓" } else { "✗" }
        );
    }
    if rows.iter().any(Row::sampled) {
        println!(
            "\n~ measured on a sample of the jobs (they all cost the same) and scaled to the \
             full count; memory is not scaled."
        );
    }
}

/// The machine a run was made on.
#[derive(Debug, Serialize)]
struct Environment {
    /// Cores available to this process.
    cores: usize,
    /// The kernel release.
    kernel: String,
    /// The compiler that built this program.
    rustc: &'static str,
    /// OS and architecture.
    target: String,
}

impl Environment {
    fn read() -> Self {
        Environment {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
            rustc: env!("CONCURRENCY_RUSTC_VERSION"),
            target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} cores, Linux {}, {}, {}",
            self.cores, self.kernel, self.target, self.rustc
        )
    }
}

#[derive(Serialize)]
struct JsonRow<'a> {
    workload: &'static str,
    runtime: &'static str,
    tasks: usize,
    workers: usize,
    ran_tasks: usize,
    wall_s: Spread,
    speedup: Option<f64>,
    cpu_s: f64,
    peak_mib: f64,
    fixture_cpu_s: f64,
    correct: bool,
    trials: &'a [TrialReport],
}

fn print_json(rows: &[Row], memory: &[memory::Cell]) -> Result<(), String> {
    let json_rows: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|r| {
            let wall = r.wall();
            JsonRow {
                workload: r.workload.name(),
                runtime: r.runtime.name(),
                tasks: r.tasks,
                workers: r.workers,
                ran_tasks: r.ran_tasks,
                wall_s: wall,
                speedup: baseline(rows, r.workload)
                    .filter(|_| wall.median > 0.0)
                    .map(|b| b / wall.median),
                cpu_s: r.cpu(),
                peak_mib: r.peak_mib(),
                fixture_cpu_s: r.fixture_cpu(),
                correct: r.all_correct(),
                trials: &r.trials,
            }
        })
        .collect();
    let doc = serde_json::json!({
        "environment": Environment::read(),
        "results": json_rows,
        "memory": memory,
        "verdict": verdict::lines(rows),
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
