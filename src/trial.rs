//! One measured trial, in a fresh child process.
//!
//! ```text
//! parent (compare)                         child (this binary, role `__trial`)
//!   spawn `<exe> __trial <spec as JSON>' --> raise the open-file limit
//!                                            build the jobs (not timed)
//!                                            t0, cpu0
//!                                            runtime.run(jobs)  -- may fork workers, which
//!                                                                  it reaps before returning
//!                                            wall, cpu (self + reaped children), VmHWM
//!                                            check every output against its known value
//!   read the last stdout line  <------------ print the report as one JSON line
//! ```
//!
//! Why a fresh process per trial: peak memory (`VmHWM`) only ever grows, so it is only
//! meaningful for a process that ran one trial; and a trial that leaks threads, sockets or
//! timers cannot disturb the next one.
//!
//! A trial is bytes from another process, so nothing it says is trusted: it runs under a time
//! limit (past it, the child and every process it forked are killed, see `child.rs`), its
//! exit status must be success, its last line must decode as a report, and the report must be
//! plausible ([`TrialReport::check`]). Anything else is a failed trial with its reason.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use concurrency_shared::raise_nofile_limit;
use concurrency_shared::workloads::Workload;
use serde::{Deserialize, Serialize};

use crate::child::{self, Supervised};
use crate::cpython::{self, PyJob};
use crate::fault::Fault;
use crate::measure;
use crate::runtime::{Family, RuntimeKind};
use crate::workload::{self, WorkloadKind};

/// The hidden first argument that selects the trial role.
pub const ROLE: &str = "__trial";

/// The most characters of a child's own words kept in a failure reason.
const REASON_CHARS: usize = 300;

/// What a trial runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialSpec {
    /// Which workload's jobs.
    pub workload: WorkloadKind,
    /// On which runtime.
    pub runtime: RuntimeKind,
    /// How many jobs.
    pub tasks: usize,
    /// With how many threads or processes.
    pub workers: usize,
    /// The fixture server, for the workloads that talk to one.
    pub server: Option<SocketAddr>,
    /// A fault to carry out instead of running (tests only; see `fault.rs`).
    pub fault: Option<Fault>,
    /// The size factor of the workload (`--scale`).
    pub scale: f64,
    /// The Python that runs CPython rows (`--python`). Passed to the child as an argument of
    /// its own, after the JSON, since a path need not be UTF-8 and JSON holds only text.
    #[serde(skip)]
    pub python: Option<PathBuf>,
}

/// What a trial measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialReport {
    /// Wall time of the run in seconds, runtime start-up and shut-down included.
    pub wall_s: f64,
    /// The part of `wall_s` spent starting and stopping the runtime (forking and reaping a
    /// pool's workers), which does not grow with the number of jobs.
    pub fixed_s: f64,
    /// CPU time of the trial process and its reaped workers during the run, in seconds.
    pub cpu_s: f64,
    /// The part of `cpu_s` the trial process spent starting and stopping the runtime.
    pub fixed_cpu_s: f64,
    /// Peak resident memory of the trial process plus its workers, in KiB.
    pub peak_rss_kib: u64,
    /// Jobs whose output equalled the known correct output.
    pub correct: usize,
    /// The first wrong output or error, if any.
    pub first_failure: Option<String>,
}

impl TrialReport {
    /// Whether the report could be true of a trial of `tasks` jobs: every time finite and not
    /// negative, the fixed parts (wall and CPU) within their wholes, no more correct jobs than jobs.
    pub fn check(&self, tasks: usize) -> Result<(), String> {
        let time = |t: f64| t.is_finite() && t >= 0.0;
        if ![self.wall_s, self.fixed_s, self.cpu_s, self.fixed_cpu_s]
            .into_iter()
            .all(time)
        {
            return Err("its report holds an impossible time".to_owned());
        }
        if self.fixed_s > self.wall_s || self.fixed_cpu_s > self.cpu_s {
            return Err("its report's start-up time exceeds its whole time".to_owned());
        }
        if self.correct > tasks {
            return Err(format!(
                "its report claims {} correct outputs of {tasks} jobs",
                self.correct
            ));
        }
        Ok(())
    }
}

/// Runs one trial in a child process, killing it (and anything it forked) if it outlives
/// `limit`, and returns its report or why there is none.
pub fn run(spec: &TrialSpec, limit: Duration) -> Result<TrialReport, String> {
    let spec_json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    // Written here, not by the trial, so that it is removed even when the trial is killed:
    // dropped at the end of this function, once the trial has been reaped.
    let script = match spec.python {
        Some(_) if spec.runtime.family() == Family::Cpython => Some(cpython::write_script()?),
        _ => None,
    };
    let mut command = child::own_command();
    command
        .arg(ROLE)
        .arg(spec_json)
        .args(spec.python.as_deref())
        .args(script.as_ref().map(|(_, path)| path))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = Supervised::spawn(&mut command, true)
        .map_err(|e| format!("cannot run a trial process: {e}"))?;
    let ended = child.finish(limit);
    let ended = ended.map_err(|e| format!("cannot run a trial process: {e}"))?;
    if ended.timed_out {
        return Err(format!(
            "timed out: still running after {} (--trial-timeout), killed",
            seconds(limit)
        ));
    }
    let stdout = String::from_utf8_lossy(&ended.stdout);
    let last_line = stdout.lines().last().unwrap_or_default().trim();
    let said = || {
        if last_line.is_empty() {
            String::new()
        } else {
            format!(": {}", clip(last_line))
        }
    };
    if !ended.status.success() {
        return Err(format!("{}{}", child::describe(ended.status), said()));
    }
    if let Some(why) = ended.stdout_error {
        return Err(why);
    }
    let mut report: TrialReport =
        serde_json::from_str(last_line).map_err(|_| format!("it printed no report{}", said()))?;
    report.check(spec.tasks)?;
    // A job's wrong output is shown in the table: one line, of bounded length.
    report.first_failure = report.first_failure.as_deref().map(clip);
    Ok(report)
}

/// A duration as a person writes it: "0.5 s", "120 s".
pub fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// At most [`REASON_CHARS`] characters of `text`, on one line.
pub fn clip(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// The trial role's `main`: runs the spec given as the first argument (then a Python's path
/// and the script it runs, for a CPython row) and prints its report.
pub fn child_main(args: Vec<OsString>) -> ExitCode {
    let Some(mut spec) = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|s| serde_json::from_str::<TrialSpec>(s).ok())
    else {
        eprintln!(
            "concurrency {ROLE}: expected a trial spec in JSON, then a Python's path and script"
        );
        return ExitCode::from(2);
    };
    spec.python = args.get(1).map(PathBuf::from);
    let script = args.get(2).map(PathBuf::from);
    if let Some(fault) = spec.fault {
        fault.strike_trial();
        if fault == Fault::GarbageTrial {
            println!("this line is not a report {{");
            return ExitCode::SUCCESS;
        }
    }
    // Thousands of connections need more descriptors than the usual soft limit of 1,024.
    if let Err(e) = raise_nofile_limit() {
        eprintln!("concurrency {ROLE}: cannot raise the open-file limit: {e}");
    }
    let report = match run_spec(&spec, script.as_deref()) {
        Ok(report) if spec.fault == Some(Fault::WrongTrial) => TrialReport {
            correct: 0,
            first_failure: Some("job 0: an injected wrong output".to_owned()),
            ..report
        },
        Ok(report) => report,
        Err(e) => {
            println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match serde_json::to_string(&report) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("cannot encode the report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_spec(spec: &TrialSpec, script: Option<&Path>) -> Result<TrialReport, String> {
    let server = || {
        spec.server
            .ok_or_else(|| format!("workload {} needs a server", spec.workload.name()))
    };
    let (tasks, scale) = (spec.tasks, spec.scale);
    match spec.workload {
        WorkloadKind::Cpu => measure(spec, script, workload::cpu_jobs(tasks, scale)),
        WorkloadKind::Sleep => measure(spec, script, workload::sleep_jobs(tasks)),
        WorkloadKind::SlowIo => measure(spec, script, workload::slow_io_jobs(tasks, server()?)),
        WorkloadKind::FastIo => measure(
            spec,
            script,
            workload::fast_io_jobs(tasks, server()?, scale),
        ),
        WorkloadKind::Mixed => measure(spec, script, workload::mixed_jobs(tasks, server()?)),
        WorkloadKind::CpuIo => measure(spec, script, workload::cpu_io_jobs(tasks, server()?)),
        WorkloadKind::Idle => measure(spec, script, workload::idle_jobs(tasks)),
    }
}

/// Runs `jobs` as `spec` says: a model's row in this process, a CPython row through Python.
fn measure<W: PyJob + Clone>(
    spec: &TrialSpec,
    script: Option<&Path>,
    jobs: Vec<W>,
) -> Result<TrialReport, String> {
    if spec.runtime.family() != Family::Cpython {
        return Ok(measure_model(jobs, spec.runtime, spec.workers));
    }
    let (Some(python), Some(script)) = (spec.python.as_deref(), script) else {
        return Err("a CPython row needs a Python and its script".to_owned());
    };
    let switch = spec.fault.and_then(Fault::script_switch);
    cpython::measure(&jobs, spec.runtime, spec.workers, python, script, switch)
}

/// Times `jobs` on `runtime`, then checks every output against its job's known value.
fn measure_model<W: Workload + Clone>(
    jobs: Vec<W>,
    runtime: RuntimeKind,
    workers: usize,
) -> TrialReport {
    // The expected outputs are computed after the run, so that their memory is not counted,
    // from copies of the jobs taken before it, since the runtime consumes them.
    let kept = jobs.clone();

    let cpu_before = measure::cpu_time_with_children();
    let started = Instant::now();
    let outcome = runtime.run(jobs, workers);
    let wall = started.elapsed();
    // Measured inside the same interval, so never more than `wall`.
    let fixed = outcome.fixed.min(wall);
    let cpu = measure::cpu_time_with_children().saturating_sub(cpu_before);
    let fixed_cpu = outcome.fixed_cpu.min(cpu);
    let peak_rss_kib = measure::peak_rss_kib(None).unwrap_or(0) + outcome.workers_rss_kib;

    let mut correct = 0;
    let mut first_failure = None;
    for (i, (job, output)) in kept.iter().zip(outcome.outputs).enumerate() {
        let verdict = match output {
            Ok(got) if got == job.expected() => Ok(()),
            Ok(got) => Err(format!("expected {:?}, got {got:?}", job.expected())),
            Err(e) => Err(e),
        };
        match verdict {
            Ok(()) => correct += 1,
            Err(why) => {
                first_failure.get_or_insert_with(|| format!("job {i}: {why}"));
            }
        }
    }
    TrialReport {
        wall_s: wall.as_secs_f64(),
        fixed_s: fixed.as_secs_f64(),
        cpu_s: cpu.as_secs_f64(),
        fixed_cpu_s: fixed_cpu.as_secs_f64(),
        peak_rss_kib,
        correct,
        first_failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(wall_s: f64, fixed_s: f64, cpu_s: f64, correct: usize) -> TrialReport {
        TrialReport {
            wall_s,
            fixed_s,
            cpu_s,
            fixed_cpu_s: 0.0,
            peak_rss_kib: 1,
            correct,
            first_failure: None,
        }
    }

    /// A report that decoded but cannot be true is refused, not shown as a figure.
    #[test]
    fn impossible_reports_are_refused() {
        assert!(report(1.0, 0.5, 1.0, 4).check(4).is_ok());
        for bad in [
            report(f64::NAN, 0.0, 0.0, 0),
            report(f64::INFINITY, 0.0, 0.0, 0),
            report(-1.0, 0.0, 0.0, 0),
            report(1.0, 0.0, -0.5, 0),
            report(1.0, 2.0, 0.0, 0),
            TrialReport {
                fixed_cpu_s: 0.6,
                ..report(1.0, 0.0, 0.5, 0)
            },
            report(1.0, 0.0, 0.0, 5),
        ] {
            assert!(bad.check(4).is_err(), "{bad:?}");
        }
    }

    /// A child's words in a reason are one line of bounded length, cut on a character.
    #[test]
    fn reasons_are_clipped_to_one_line() {
        assert_eq!(clip("short\nline"), "short line");
        let long = "é".repeat(REASON_CHARS * 3);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), REASON_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }
}
