//! The results: one row per workload and runtime, printed as a table or as one JSON document.
//!
//! Every figure shown is a median over the row's trials; wall time also shows its min-max
//! range, because on a busy machine the spread matters as much as the middle. Times of a
//! sampled row stand for its full job count (see `sample.rs`), in the table and in every
//! `wall_s` and `cpu_s` of the JSON document alike. A failed row has no figures: it is printed
//! as `failed` with its reason, and it takes no part in speedups or the verdict. Nor does a row
//! whose outputs were wrong: it keeps its figures, marked ✗, but gets no speedup.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use crate::cli::Options;
use crate::cpython::Python;
use crate::memory;
use crate::runtime::{Family, RuntimeKind};
use crate::sample::Sample;
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
    /// Jobs the row stands for, jobs each trial ran, and on how many workers.
    pub sample: Sample,
    /// The report of each trial that completed.
    pub trials: Vec<TrialReport>,
    /// The fixture server's CPU time during each completed trial.
    pub fixture_cpu: Vec<Duration>,
    /// Why the row failed (a trial failed, timed out or was killed), if it did.
    pub failure: Option<String>,
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
    /// A row with no trials yet.
    pub fn new(workload: WorkloadKind, runtime: RuntimeKind, sample: Sample) -> Self {
        Row {
            workload,
            runtime,
            sample,
            trials: Vec::new(),
            fixture_cpu: Vec::new(),
            failure: None,
        }
    }

    /// The row, marked failed for `why`.
    pub fn failed(mut self, why: String) -> Self {
        self.failure = Some(why);
        self
    }

    /// Whether every trial ran to the end, so the row has figures.
    pub fn completed(&self) -> bool {
        self.failure.is_none() && !self.trials.is_empty()
    }

    /// Whether the row's times were measured on a sample and scaled.
    pub fn sampled(&self) -> bool {
        self.sample.is_sampled()
    }

    /// A trial's wall time, scaled to the row's full job count.
    pub fn trial_wall(&self, trial: &TrialReport) -> f64 {
        self.sample.wall(trial.wall_s, trial.fixed_s)
    }

    /// A trial's CPU time, scaled to the row's full job count.
    pub fn trial_cpu(&self, trial: &TrialReport) -> f64 {
        self.sample.cpu(trial.cpu_s, trial.fixed_cpu_s)
    }

    /// Wall time in seconds, scaled to the full job count.
    pub fn wall(&self) -> Spread {
        Spread::of(self.trials.iter().map(|t| self.trial_wall(t)))
    }

    /// CPU time in seconds, scaled to the full job count.
    pub fn cpu(&self) -> f64 {
        Spread::of(self.trials.iter().map(|t| self.trial_cpu(t))).median
    }

    /// The fixture server's CPU time in seconds, scaled to the full job count.
    pub fn fixture_cpu(&self) -> f64 {
        Spread::of(
            self.fixture_cpu
                .iter()
                .map(|d| self.sample.per_job(d.as_secs_f64())),
        )
        .median
    }

    /// Peak resident memory in MiB (never scaled).
    pub fn peak_mib(&self) -> f64 {
        Spread::of(self.trials.iter().map(|t| t.peak_rss_kib as f64 / 1024.0)).median
    }

    /// Whether the row completed and every job of every trial gave its known correct output.
    pub fn all_correct(&self) -> bool {
        self.completed()
            && self
                .trials
                .iter()
                .all(|t| t.correct == self.sample.ran && t.first_failure.is_none())
    }

    /// What went wrong with the row, if anything: its failure, or its first wrong output.
    pub fn problem(&self) -> Option<String> {
        if let Some(why) = &self.failure {
            return Some(format!("failed: {why}"));
        }
        if self.all_correct() {
            return None;
        }
        let first = self.trials.iter().find_map(|t| t.first_failure.as_deref());
        Some(format!(
            "wrong results: {}",
            first.unwrap_or("too few outputs")
        ))
    }
}

/// The median wall time of `workload`'s baseline `kind` (`sequential` for the models,
/// `cpython-sequential` for CPython), if it ran and was correct.
pub fn baseline(rows: &[Row], workload: WorkloadKind, kind: RuntimeKind) -> Option<f64> {
    rows.iter()
        .find(|r| r.workload == workload && r.runtime == kind)
        .filter(|r| r.all_correct())
        .map(|r| r.wall().median)
}

/// A row's speedup over its workload's baseline in its own family, if both have figures and
/// the row's outputs are correct (a row that gave wrong outputs did not do the work, so its
/// time is no speed).
pub fn speedup(rows: &[Row], row: &Row) -> Option<f64> {
    let wall = row.wall().median;
    baseline(rows, row.workload, row.runtime.baseline())
        .filter(|_| row.all_correct() && wall > 0.0)
        .map(|b| b / wall)
}

/// Prints `rows` and `memory` as `options` asks, and returns what went wrong (failed or
/// wrong rows, failed memory cells, a failed write to stdout), one line each, for the caller
/// to report after printing.
pub fn print(
    options: &Options,
    rows: &[Row],
    memory: &[memory::Cell],
    python: Option<&Python>,
) -> Vec<String> {
    let mut out = io::stdout().lock();
    let written = write(&mut out, options, rows, memory, python).and_then(|()| out.flush());
    let rows_wrong = rows.iter().filter_map(|r| {
        r.problem()
            .map(|why| format!("{} on {}: {why}", r.workload.name(), r.runtime.name()))
    });
    let cells_wrong = memory.iter().filter_map(|c| {
        c.failure
            .as_ref()
            .map(|why| format!("memory, {} jobs on {}: {why}", c.jobs, c.runtime))
    });
    let unwritten = written
        .err()
        .map(|e| format!("cannot write the results to stdout: {e}"));
    rows_wrong.chain(cells_wrong).chain(unwritten).collect()
}

/// Writes `rows` and `memory` to `out` as `options` asks.
fn write(
    out: &mut dyn Write,
    options: &Options,
    rows: &[Row],
    memory: &[memory::Cell],
    python: Option<&Python>,
) -> io::Result<()> {
    if options.json {
        return print_json(out, options, rows, memory, python);
    }
    print_table(out, rows)?;
    print_block(
        out,
        "verdict (a winner only where its min-max range overlaps no other, \
         sequential's included):",
        verdict::lines(rows, Family::Model),
    )?;
    print_block(
        out,
        "the rule of thumb on CPython (the same rule, against cpython-sequential):",
        verdict::lines(rows, Family::Cpython),
    )?;
    print_block(
        out,
        "the models' verdict beside CPython's:",
        verdict::comparisons(rows),
    )?;
    if !memory.is_empty() {
        memory::print_table(out, memory)?;
    }
    let mut environment = Environment::read().summary();
    if let Some(python) = python {
        environment.push_str(&format!(", Python {}", python.version));
    }
    if options.scale != 1.0 {
        environment.push_str(&format!(", --scale {}", options.scale));
    }
    writeln!(out, "{environment}")
}

/// Writes a titled block of lines, or nothing if there are none.
fn print_block(out: &mut dyn Write, title: &str, lines: Vec<String>) -> io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}")?;
    for line in lines {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// The width of a runtime name column: the longest name among `runtimes`, at least
/// `"runtime"`.
pub fn name_width<'a>(runtimes: impl IntoIterator<Item = &'a str>) -> usize {
    runtimes
        .into_iter()
        .map(|n| n.chars().count())
        .fold("runtime".len(), usize::max)
}

fn print_table(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    let width = name_width(rows.iter().map(|r| r.runtime.name()));
    writeln!(
        out,
        "{:<8} {:<width$} {:>6} {:>7} {:>28} {:>8} {:>8} {:>9} {:>8} {:>5}",
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
    )?;
    let mut previous = None;
    for row in rows {
        if previous.is_some_and(|w| w != row.workload) {
            writeln!(out)?;
        }
        previous = Some(row.workload);
        let head = format!(
            "{:<8} {:<width$} {:>6} {:>7}",
            row.workload.name(),
            row.runtime.name(),
            row.sample.tasks,
            row.sample.workers,
        );
        if !row.completed() {
            writeln!(out, "{head} {:>28} {:>45}", "failed", "✗")?;
            if let Some(why) = &row.failure {
                writeln!(out, "  ✗ {why}")?;
            }
            continue;
        }
        let wall = row.wall();
        let mark = if row.sampled() { "~" } else { " " };
        let speedup = speedup(rows, row).map_or("-".to_owned(), |s| format!("{s:.2}x"));
        writeln!(
            out,
            "{head} {:>1} {:>8.3} [{:>7.3}-{:>7.3}] {:>8} {:>8.3} {:>9.1} {:>8.3} {:>5}",
            mark,
            wall.median,
            wall.min,
            wall.max,
            speedup,
            row.cpu(),
            row.peak_mib(),
            row.fixture_cpu(),
            if row.all_correct() { "✓" } else { "✗" }
        )?;
    }
    if rows.iter().any(|r| r.sampled() && r.completed()) {
        writeln!(
            out,
            "\n~ measured on a sample of whole waves of workers (the jobs all cost the same) and \
             scaled to the full count: wall time by waves, CPU times by jobs, start-up counted once; \
             memory is not scaled."
        )?;
    }
    Ok(())
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

/// The version of the `--json` document's layout: raised whenever a field changes meaning or
/// goes away. Version 2 added it, with `sampled`, `failure` (rows and memory cells, whose
/// `peak_mib` is then `null`) and trials' scaled times beside their `measured_` ones. Fields
/// added since, without changing the others: `scale`, `python` (`null`, or its `path` and
/// `version`), `cpython_verdict` and `verdict_comparison`; CPython rows' `speedup` is over
/// `cpython-sequential`.
pub const JSON_SCHEMA_VERSION: u32 = 2;

/// A row in the JSON document. Every `wall_s` and `cpu_s`, the row's and its trials', stands
/// for the row's full job count; the `measured_` fields are what the trials really took on
/// `ran_tasks` jobs. Figures are `null` for a failed row.
#[derive(Serialize)]
struct JsonRow {
    workload: &'static str,
    runtime: &'static str,
    tasks: usize,
    workers: usize,
    ran_tasks: usize,
    sampled: bool,
    wall_s: Option<Spread>,
    speedup: Option<f64>,
    cpu_s: Option<f64>,
    peak_mib: Option<f64>,
    fixture_cpu_s: Option<f64>,
    correct: bool,
    failure: Option<String>,
    trials: Vec<JsonTrial>,
}

/// A trial in the JSON document.
#[derive(Serialize)]
struct JsonTrial {
    wall_s: f64,
    cpu_s: f64,
    measured_wall_s: f64,
    measured_fixed_s: f64,
    measured_cpu_s: f64,
    measured_fixed_cpu_s: f64,
    peak_rss_kib: u64,
    correct: usize,
    first_failure: Option<String>,
}

impl JsonRow {
    fn of(rows: &[Row], r: &Row) -> Self {
        let figure = |value: f64| Some(value).filter(|_| r.completed());
        JsonRow {
            workload: r.workload.name(),
            runtime: r.runtime.name(),
            tasks: r.sample.tasks,
            workers: r.sample.workers,
            ran_tasks: r.sample.ran,
            sampled: r.sampled(),
            wall_s: Some(r.wall()).filter(|_| r.completed()),
            speedup: speedup(rows, r),
            cpu_s: figure(r.cpu()),
            peak_mib: figure(r.peak_mib()),
            fixture_cpu_s: figure(r.fixture_cpu()),
            correct: r.all_correct(),
            failure: r.failure.clone(),
            trials: r
                .trials
                .iter()
                .map(|t| JsonTrial {
                    wall_s: r.trial_wall(t),
                    cpu_s: r.trial_cpu(t),
                    measured_wall_s: t.wall_s,
                    measured_fixed_s: t.fixed_s,
                    measured_cpu_s: t.cpu_s,
                    measured_fixed_cpu_s: t.fixed_cpu_s,
                    peak_rss_kib: t.peak_rss_kib,
                    correct: t.correct,
                    first_failure: t.first_failure.clone(),
                })
                .collect(),
        }
    }
}

fn print_json(
    out: &mut dyn Write,
    options: &Options,
    rows: &[Row],
    memory: &[memory::Cell],
    python: Option<&Python>,
) -> io::Result<()> {
    let json_rows: Vec<JsonRow> = rows.iter().map(|r| JsonRow::of(rows, r)).collect();
    let doc = serde_json::json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "environment": Environment::read(),
        "scale": options.scale,
        "python": python,
        "results": json_rows,
        "memory": memory,
        "verdict": verdict::lines(rows, Family::Model),
        "cpython_verdict": verdict::lines(rows, Family::Cpython),
        "verdict_comparison": verdict::comparisons(rows),
    });
    // A `json!` value of plain numbers, strings and arrays always serialises.
    writeln!(out, "{doc:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampled mark has a column of its own: a wall time of four digits before the point
    /// does not run into it (the old table printed `~1234.500`).
    #[test]
    fn the_sampled_mark_stands_apart_from_large_times() {
        let sample = Sample {
            tasks: 2_000,
            ran: 20,
            workers: 1,
        };
        let mut row = Row::new(WorkloadKind::SlowIo, RuntimeKind::Sequential, sample);
        row.trials.push(TrialReport {
            wall_s: 12.345,
            fixed_s: 0.0,
            cpu_s: 0.1,
            fixed_cpu_s: 0.0,
            peak_rss_kib: 1_024,
            correct: 20,
            first_failure: None,
        });
        let mut out = Vec::new();
        print_table(&mut out, &[row]).expect("a Vec takes every write");
        let text = String::from_utf8(out).expect("the table is UTF-8");
        assert!(text.contains("~ 1234.500 ["), "{text}");
    }
}
