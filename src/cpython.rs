//! CPython's rows (`--python`): the same jobs, run by CPython's own `threading`, `asyncio`
//! and `multiprocessing` through `python/cpython_trial.py`, a standard-library-only script
//! compiled into this program.
//!
//! ```text
//! trial process (Rust, role `__trial`)          python3 <temp dir>/cpython_trial.py
//!   build the jobs, describe them as JSON  ---->  read the plan from stdin
//!                                                 run them (timed, CPU, VmHWM + workers' Pss)
//!   compare every output with the job's    <----  print outputs and figures as one JSON line
//!   expected value (computed here, in Rust)
//! ```
//!
//! Python runs as a supervised child of the trial process (`child.rs`): in a process group of
//! its own, killed with its pool when it ends or when the trial dies (the trial's time limit,
//! a Ctrl-C), and it inherits the trial's raised open-file limit. The script lives in a
//! private directory the parent writes for each trial (`scratch.rs`) and removes once the
//! trial is reaped, killed or not. The script checks
//! nothing itself: every output is compared here with the value the Rust job's `expected()`
//! computes, independently of both implementations.
//!
//! Invariant: a Python that cannot run, exits with a failure or prints something that is not
//! a report makes the trial fail with the reason; it never counts as a measurement.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use concurrency_shared::workloads::{
    CANDIDATES_PER_CHECKPOINT, CpuIo, Mixed, PrimeCount, RoundTrips, Sleeper, Workload,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::child::Supervised;
use crate::runtime::RuntimeKind;
use crate::scratch::ScratchDir;
use crate::trial::{self, TrialReport};

/// The script, shipped in the repository and compiled in, so the program needs no path to it.
const SCRIPT: &str = include_str!("../python/cpython_trial.py");

/// The oldest Python the script supports (`math.isqrt`, `asyncio.run`, `smaps_rollup` use).
pub const MIN_VERSION: (u32, u32) = (3, 8);

/// How long `python --version`-like probing may take: starting an interpreter.
const PROBE_LIMIT: Duration = Duration::from_secs(30);

/// mini-eventloop's default checkpoints between real yields (`Builder::checkpoints_per_yield`,
/// default 32): how often the compare program's loops (built with `Runtime::new`) yield, and
/// so how often CPython's asyncio rows yield (tested against the loop's own default).
const LOOP_CHECKPOINTS_PER_YIELD: u32 = 32;

/// The most bytes of the script's stdout read: 20,000 outputs of a few dozen bytes each fit
/// many times over.
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// A Python found fit to run the script.
#[derive(Debug, Clone, Serialize)]
pub struct Python {
    /// What `--python` named, as text (a path that is not UTF-8 is shown lossily, so that
    /// the JSON document can always hold it).
    pub path: String,
    /// Its version, as `3.11.7`.
    pub version: String,
}

/// Checks that `path` runs a Python of at least [`MIN_VERSION`]; the reason, on one line, if
/// it does not.
pub fn probe(path: &Path) -> Result<Python, String> {
    // Old enough syntax that Python 2 answers too, so an old Python is named as such.
    let mut command = Command::new(path);
    command
        .args([
            "-c",
            "import sys; print('%d.%d.%d' % tuple(sys.version_info[:3]))",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let ended = Supervised::spawn(&mut command, true)
        .and_then(|child| child.finish(PROBE_LIMIT))
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if ended.timed_out || !ended.status.success() {
        return Err(format!(
            "{} does not run as a Python interpreter",
            path.display()
        ));
    }
    let version = String::from_utf8_lossy(&ended.stdout).trim().to_owned();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) if (major, minor) >= MIN_VERSION => Ok(Python {
            path: path.to_string_lossy().into_owned(),
            version,
        }),
        (Some(_), Some(_)) => Err(format!(
            "{} is Python {version}; {}.{} or newer is needed",
            path.display(),
            MIN_VERSION.0,
            MIN_VERSION.1
        )),
        _ => Err(format!(
            "{} printed {:?}, not a Python version",
            path.display(),
            trial::clip(&version)
        )),
    }
}

/// A job the script can run: how it is described to Python, and its expected output in the
/// form the script writes it.
pub trait PyJob: Workload {
    /// The job as the script's `[kind, params...]` list.
    fn describe(&self) -> Value;
    /// The job's known correct output, as JSON.
    fn expected_json(&self) -> Value;
}

fn addr_params(addr: SocketAddr) -> (String, u16) {
    (addr.ip().to_string(), addr.port())
}

impl PyJob for PrimeCount {
    fn describe(&self) -> Value {
        json!(["cpu", self.lo(), self.hi()])
    }
    fn expected_json(&self) -> Value {
        json!(self.expected())
    }
}

impl PyJob for Sleeper {
    fn describe(&self) -> Value {
        json!(["sleep", self.naps(), self.nap().as_secs_f64()])
    }
    fn expected_json(&self) -> Value {
        json!(self.expected())
    }
}

impl PyJob for RoundTrips {
    fn describe(&self) -> Value {
        let (host, port) = addr_params(self.addr());
        json!(["trips", host, port, self.round_trips(), self.payload_len()])
    }
    fn expected_json(&self) -> Value {
        match self.expected() {
            Ok(checksum) => json!(checksum),
            // No output of the script equals an error object with this text.
            Err(e) => json!({ "expected error": e.to_string() }),
        }
    }
}

impl PyJob for Mixed {
    fn describe(&self) -> Value {
        let (host, port) = addr_params(self.net().addr());
        json!([
            "mixed",
            self.primes().lo(),
            self.primes().hi(),
            self.nap().as_secs_f64(),
            host,
            port,
            self.net().round_trips(),
            self.net().payload_len()
        ])
    }
    fn expected_json(&self) -> Value {
        json!([self.primes().expected_json(), self.net().expected_json()])
    }
}

impl PyJob for CpuIo {
    fn describe(&self) -> Value {
        let (host, port) = addr_params(self.net().addr());
        json!([
            "cpu-io",
            self.work().lo(),
            self.work().hi(),
            host,
            port,
            self.net().round_trips(),
            self.net().payload_len()
        ])
    }
    fn expected_json(&self) -> Value {
        let leg = self.net().expected_json();
        json!([leg, self.work().expected_json(), leg])
    }
}

/// What the script prints.
#[derive(Deserialize)]
struct PyReport {
    outputs: Vec<Value>,
    wall_s: f64,
    fixed_s: f64,
    cpu_s: f64,
    /// The script's CPU time in starting and stopping its pool (zero without one).
    fixed_cpu_s: f64,
    peak_rss_kib: u64,
}

/// The script's name for a CPython runtime and, for a pool, its start method.
fn runtime_plan(runtime: RuntimeKind) -> Result<(&'static str, Option<&'static str>), String> {
    Ok(match runtime {
        RuntimeKind::CpythonSequential => ("sequential", None),
        RuntimeKind::CpythonThreads => ("threads", None),
        RuntimeKind::CpythonAsyncio => ("asyncio", None),
        RuntimeKind::CpythonProcesses => ("processes", Some("fork")),
        RuntimeKind::CpythonProcessesForkserver => ("processes", Some("forkserver")),
        RuntimeKind::CpythonAsyncioProcesses => ("asyncio+processes", Some("fork")),
        other => return Err(format!("{} is not a CPython runtime", other.name())),
    })
}

/// Runs `jobs` on CPython's `runtime` with `workers` threads or processes through `python`,
/// and checks every output against its job's expected value. `switch` (tests only) is one of
/// the script's test switches (see `Fault::script_switch`).
pub fn measure<W: PyJob>(
    jobs: &[W],
    runtime: RuntimeKind,
    workers: usize,
    python: &Path,
    script: &Path,
    switch: Option<&str>,
) -> Result<TrialReport, String> {
    let (name, start_method) = runtime_plan(runtime)?;
    let plan = json!({
        "runtime": name,
        "start_method": start_method,
        "workers": workers,
        // With the prime job's checkpoint every 32 candidates and the loop's real yield every
        // 32nd checkpoint, the loop yields every 1,024 candidates, and so does the asyncio
        // job, with `await asyncio.sleep(0)`.
        "yield_every": CANDIDATES_PER_CHECKPOINT * u64::from(LOOP_CHECKPOINTS_PER_YIELD),
        "jobs": jobs.iter().map(PyJob::describe).collect::<Vec<_>>(),
    });
    let said = run_script(python, script, &plan.to_string(), switch)?;
    let last_line = said.lines().last().unwrap_or_default();
    let report: PyReport = serde_json::from_str(last_line).map_err(|_| {
        format!(
            "Python printed no report: {}",
            trial::clip(if last_line.is_empty() {
                "(nothing)"
            } else {
                last_line
            })
        )
    })?;
    let mut correct = 0;
    let mut first_failure = None;
    for (i, job) in jobs.iter().enumerate() {
        let expected = job.expected_json();
        match report.outputs.get(i) {
            Some(got) if *got == expected => correct += 1,
            got => {
                let got = got.map_or("no output".to_owned(), Value::to_string);
                first_failure
                    .get_or_insert_with(|| format!("job {i}: expected {expected}, got {got}"));
            }
        }
    }
    if report.outputs.len() > jobs.len() && first_failure.is_none() {
        first_failure = Some(format!(
            "{} outputs for {} jobs",
            report.outputs.len(),
            jobs.len()
        ));
    }
    Ok(TrialReport {
        wall_s: report.wall_s,
        fixed_s: report.fixed_s,
        cpu_s: report.cpu_s,
        fixed_cpu_s: report.fixed_cpu_s,
        peak_rss_kib: report.peak_rss_kib,
        correct,
        first_failure,
    })
}

/// Writes the script to a fresh private directory in the temporary directory, for one trial:
/// a file, since multiprocessing's fork server re-imports the main module from its path, so
/// `python -c` would not do. Dropping the directory removes it and the script.
pub fn write_script() -> Result<(ScratchDir, PathBuf), String> {
    let tmp = std::env::temp_dir();
    let mut dir = ScratchDir::create(&tmp, "concurrency-cpython").map_err(|e| {
        format!(
            "cannot create a directory for Python's script in {}: {e}",
            tmp.display()
        )
    })?;
    let script = dir
        .write("cpython_trial.py", SCRIPT.as_bytes())
        .map_err(|e| {
            format!(
                "cannot write Python's script in {}: {e}",
                dir.path().display()
            )
        })?;
    Ok((dir, script))
}

/// Runs `script` with `plan` on stdin and returns its stdout.
///
/// Python runs isolated (`-I`: no user site, no `PYTHON*` variables, not even the script's
/// own directory on `sys.path`), in a process group of its own that is killed with
/// everything in it when it ends, and it is killed if this trial process dies
/// (`Supervised`), so neither a Ctrl-C nor a trial time-out leaves its pool running. Its
/// stderr reaches the terminal, as a model trial's does, and its last line is kept for the
/// reason when Python fails.
fn run_script(
    python: &Path,
    script: &Path,
    plan: &str,
    switch: Option<&str>,
) -> Result<String, String> {
    let mut command = Command::new(python);
    // CPython's own temporary files (multiprocessing's `pymp-*`) go to the private directory
    // too, so that one left by a killed Python is removed with it.
    command.envs(script.parent().map(|dir| ("TMPDIR", dir)));
    command
        .arg("-I")
        .arg(script)
        .args(switch)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Supervised::spawn(&mut command, false)
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let pipes = child.child_mut();
    let (stdin, stdout, stderr) = (pipes.stdin.take(), pipes.stdout.take(), pipes.stderr.take());
    // The plan is written from a thread so that a script that prints before reading all of
    // it cannot deadlock the pipes. Its failure is not reported: a Python that does not read
    // its plan prints no report, and that is the reason given.
    let plan = plan.to_owned();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(plan.as_bytes());
        }
    });
    let out = in_background(move || read_report(stdout));
    let err = in_background(move || tee_tail(stderr));
    // No limit of its own: the trial's limit kills this process, and Python with it.
    let ended = child
        .finish(Duration::MAX)
        .map_err(|e| format!("cannot wait for Python: {e}"))?;
    let _ = writer.join();
    // The group is dead, so the pipes are closed unless something escaped it.
    let out = out
        .recv_timeout(PIPE_GRACE)
        .unwrap_or_else(|_| Err("Python's output stayed open after it exited".to_owned()));
    let err_tail = err.recv_timeout(PIPE_GRACE).unwrap_or_default();
    if !ended.status.success() {
        let stderr_text = String::from_utf8_lossy(&err_tail);
        let stdout_text = out.as_deref().unwrap_or_default();
        let said = last_words(&stderr_text).or_else(|| last_words(stdout_text));
        return Err(format!(
            "Python {}{}",
            crate::child::describe(ended.status),
            said.map_or(String::new(), |s| format!(": {}", trial::clip(s)))
        ));
    }
    out
}

/// How long the pipes' readers are waited for once Python's group is dead.
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// The most bytes of Python's stderr kept for a failure's reason.
const STDERR_KEEP: usize = 64 * 1024;

/// The last line of `text` that is not blank.
fn last_words(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// Runs `work` on a thread; its result arrives on the returned channel.
fn in_background<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx
}

/// Reads Python's stdout to its end, keeping at most [`MAX_REPORT_BYTES`]: past that it is
/// still drained, so that Python never blocks on a full pipe, and the output is refused.
fn read_report(stdout: Option<ChildStdout>) -> Result<String, String> {
    let Some(stdout) = stdout else {
        return Ok(String::new());
    };
    let mut bytes = Vec::new();
    let mut stdout = stdout.take(MAX_REPORT_BYTES);
    stdout
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read Python's report: {e}"))?;
    let extra = io::copy(&mut stdout.into_inner(), &mut io::sink()).unwrap_or(0);
    if extra > 0 {
        return Err(format!(
            "Python printed more than {MAX_REPORT_BYTES} bytes, not a report"
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Copies Python's stderr to this process's stderr as it comes, and returns its last
/// [`STDERR_KEEP`] bytes.
fn tee_tail(stderr: Option<ChildStderr>) -> Vec<u8> {
    let Some(mut stderr) = stderr else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stderr.read(&mut chunk) {
            Ok(0) => return kept,
            Ok(n) => {
                let _ = io::stderr().write_all(&chunk[..n]);
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constant the asyncio rows yield by is what a default loop yields by: a job passing
    /// that many checkpoints on `Runtime::new`'s loop yields once, one fewer not at all.
    #[test]
    fn the_yield_constant_is_the_default_loops() {
        let rt = mini_eventloop::Runtime::new().expect("a loop");
        let yields = |n: u32| {
            rt.block_on(async move {
                let mut cx = mini_eventloop::LoopCtx::for_current();
                for _ in 0..n {
                    concurrency_shared::Ctx::checkpoint(&mut cx).await;
                }
                cx.yields()
            })
        };
        let every = LOOP_CHECKPOINTS_PER_YIELD;
        assert_eq!((yields(every - 1), yields(every)), (0, 1));
    }

    /// A missing interpreter, or a program that is not Python, is a one-line reason.
    #[test]
    fn a_missing_or_false_python_is_refused() {
        let why = probe(Path::new("/nonexistent/python3")).unwrap_err();
        assert!(why.contains("/nonexistent/python3"), "{why}");
        assert!(!why.contains('\n'), "{why}");
        let why = probe(Path::new("/bin/false")).unwrap_err();
        assert!(why.contains("does not run as a Python"), "{why}");
    }

    /// Expected values have the shape the script writes: numbers, and a pair for `mixed`.
    #[test]
    fn expected_values_have_the_scripts_shape() {
        assert_eq!(PrimeCount::new(1, 100).expected_json(), json!(25));
        assert_eq!(
            Sleeper::new(2, Duration::from_millis(1)).expected_json(),
            json!(2)
        );
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("an address");
        let trips = RoundTrips::new(addr, 1, 2);
        // Payload bytes 0 and 7, plus one.
        assert_eq!(trips.expected_json(), json!(8));
        assert_eq!(trips.describe(), json!(["trips", "127.0.0.1", 9, 1, 2]));
        let mixed = Mixed::new(PrimeCount::new(1, 10), trips, Duration::ZERO);
        assert_eq!(mixed.expected_json(), json!([4, 8]));
        let cpu_io = CpuIo::new(trips, PrimeCount::new(1, 10));
        assert_eq!(cpu_io.expected_json(), json!([8, 4, 8]));
        assert_eq!(
            cpu_io.describe(),
            json!(["cpu-io", 1, 10, "127.0.0.1", 9, 1, 2])
        );
    }
}
