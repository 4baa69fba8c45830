//! The traced trials behind `--trace FILE.json` and `--timeline FILE.svg`: what each runtime
//! did, and when, in separate trials run after the measured ones.
//!
//! ```text
//! parent (compare)                              child (this binary, role `__traced_trial`)
//!   after every measured row:
//!   spawn `<exe> __traced_trial <spec JSON>` ---> a Recorder of RECORDER_CAPACITY events
//!                                                 the runtime built with it (its `trace`
//!                                                 feature), the jobs run, outputs checked
//!                                                 the first TRACE_LANES lanes of each kind,
//!                                                 at most TRACE_EVENTS events, the earliest
//!   read the last stdout line  <----------------- one JSON line: the events, Wire-encoded
//!   Chrome trace JSON, SVG timeline (shared::trace::{chrome, svg})
//! ```
//!
//! Why separate trials: recording costs time (a clock read and a store per event), so no
//! measured row is ever recorded; a traced trial is never timed. A traced trial runs the jobs
//! its row's measured trials ran: a sample of them where the row was sampled (`sample.rs`),
//! so tracing never runs the full count a row was spared.
//!
//! The size is bounded at each step: the child's recorder holds at most
//! [`RECORDER_CAPACITY`] events (the rest are counted as dropped), only the first
//! [`TRACE_LANES`] threads, tasks or workers of a trial are kept (by number: the interpreter's
//! thread number, the loop's task id, the pool's worker slot; the event loop's own lane and
//! the pool's manager are always kept), and of those at most [`TRACE_EVENTS`] events, the
//! earliest. So a trace file holds at most `TRACE_EVENTS` events per workload and runtime,
//! about 1 MB of JSON each.
//!
//! The child's answer is bytes from another process: it is decoded with [`Wire`], whose
//! errors are typed, and a traced trial that fails, times out or answers garbage is a problem
//! reported like a failed row, after which the files are still written with what the other
//! trials recorded.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;

use concurrency_shared::trace::{Event, Lane, Recorder, TrialTrace, chrome, svg};
use concurrency_shared::workloads::Workload;
use concurrency_shared::{Wire, raise_nofile_limit};
use serde::{Deserialize, Serialize};

use crate::chart;
use crate::child::{self, Supervised};
use crate::cli::Options;
use crate::compare;
use crate::fixture_proc::FixtureProcess;
use crate::runtime::RuntimeKind;
use crate::trial;
use crate::workload::{self, WorkloadKind};

/// The hidden first argument that selects the traced-trial role.
pub const ROLE: &str = "__traced_trial";

/// The threads, tasks or workers of each trial whose events are kept, the lowest-numbered
/// first: enough to see a hand-off pattern, few enough for a picture to stay readable.
pub const TRACE_LANES: u64 = 16;

/// The most events one traced trial sends back (the earliest of its kept lanes).
pub const TRACE_EVENTS: usize = 10_000;

/// The most events a traced trial's recorder holds. Larger than [`TRACE_EVENTS`] because the
/// lanes past [`TRACE_LANES`] fill it too before they are filtered out.
pub const RECORDER_CAPACITY: usize = 200_000;

/// The most bytes of a traced child's answer that are read: [`TRACE_EVENTS`] events of at
/// most 30 bytes each, hex-encoded, with room to spare.
const ANSWER_KEEP: usize = 4 * TRACE_EVENTS * 30 + 64 * 1024;

/// The runtimes that record: the three models (the pool with either start method) and the
/// loop with a pool, whose loop and pool share one recorder (tasks and workers on one axis).
pub fn traced(runtime: RuntimeKind) -> bool {
    matches!(
        runtime,
        RuntimeKind::GilThreads
            | RuntimeKind::MiniEventloop
            | RuntimeKind::ProcPool
            | RuntimeKind::ProcPoolForkserver
            | RuntimeKind::MiniEventloopProcPool
    )
}

/// What a traced trial runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TracedSpec {
    /// Which workload's jobs.
    workload: WorkloadKind,
    /// On which runtime.
    runtime: RuntimeKind,
    /// How many jobs.
    tasks: usize,
    /// With how many threads or processes.
    workers: usize,
    /// The fixture server, for the workloads that talk to one.
    server: Option<std::net::SocketAddr>,
    /// The size factor of the workload (`--scale`).
    scale: f64,
}

/// What a traced trial sends back.
#[derive(Debug, Serialize, Deserialize)]
struct TracedAnswer {
    /// The kept events, as `Vec<Event>` in [`Wire`] bytes, hex-encoded.
    events_hex: String,
    /// Events recorded but not sent: the recorder's overflow, other lanes, the size bound.
    dropped: u64,
}

/// Runs the traced trials `options` asks for (none without `--trace` or `--timeline`) and
/// writes the files; returns the problems, each one line.
pub fn run(options: &Options) -> Vec<String> {
    if options.trace.is_none() && options.timeline.is_none() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    let mut trials = Vec::new();
    let runtimes: Vec<RuntimeKind> = options
        .runtimes()
        .into_iter()
        .filter(|r| traced(*r))
        .collect();
    for workload in options.workloads() {
        let fixture = match workload.fixture_delay() {
            None => None,
            Some(delay) => match FixtureProcess::start(delay, None) {
                Ok(fixture) => Some(fixture),
                Err(why) => {
                    problems.push(format!("traced {}: fixture server: {why}", workload.name()));
                    continue;
                }
            },
        };
        for &runtime in &runtimes {
            eprintln!("[trace] {} on {}…", workload.name(), runtime.name());
            let sample = compare::plan(options, workload, runtime);
            let spec = TracedSpec {
                workload,
                runtime,
                tasks: sample.ran,
                workers: sample.workers,
                server: fixture.as_ref().map(FixtureProcess::addr),
                scale: options.scale,
            };
            match run_child(&spec, sample.tasks, options) {
                Ok(trace) => trials.push(trace),
                Err(why) => {
                    let why = format!("traced {} on {}: {why}", workload.name(), runtime.name());
                    eprintln!("  failed: {why}");
                    problems.push(why);
                }
            }
        }
    }
    if let Some(path) = &options.trace {
        let json = chrome::to_json(&trials, TRACE_EVENTS);
        problems.extend(write(path, &json, "trace"));
    }
    if let Some(path) = &options.timeline {
        // One time scale for every trial, so they compare by eye; no wider than the longest
        // trial, so a window longer than every trial leaves no empty stretch at the right.
        let longest = trials.iter().map(TrialTrace::length_ns).max().unwrap_or(0);
        let asked = u64::try_from(options.timeline_window.as_nanos()).unwrap_or(u64::MAX);
        let window = svg::Window {
            start_ns: 0,
            end_ns: asked.min(longest).min(u64::MAX - 1),
        };
        let title = format!(
            "Who ran when: the first {} of each traced trial",
            milliseconds(window.end_ns)
        );
        problems.extend(write(
            path,
            &svg::to_svg(&title, &trials, window),
            "timeline",
        ));
    }
    problems
}

/// Nanoseconds as a person reads them on a timeline's title: "100 ms", "2.5 ms".
fn milliseconds(ns: u64) -> String {
    format!("{} ms", (ns as f64 / 1e6 * 1e3).round() / 1e3)
}

/// Writes `text` to `path`; the problem, if it could not.
fn write(path: &Path, text: &str, what: &str) -> Option<String> {
    match chart::write_regular_file(path, text.as_bytes()) {
        Ok(()) => {
            eprintln!("{what} written to {}", path.display());
            None
        }
        Err(e) => Some(format!("{what} not written to {}: {e}", path.display())),
    }
}

/// Runs one traced trial in a child process and decodes its events; `of` is the jobs its row
/// stands for (more than the spec's if the row was sampled).
fn run_child(spec: &TracedSpec, of: usize, options: &Options) -> Result<TrialTrace, String> {
    let spec_json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    let mut command = child::own_command();
    command
        .arg(ROLE)
        .arg(spec_json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = Supervised::spawn_keeping(&mut command, Some(ANSWER_KEEP))
        .map_err(|e| format!("cannot run a traced trial process: {e}"))?;
    let ended = child
        .finish(options.trial_timeout)
        .map_err(|e| format!("cannot run a traced trial process: {e}"))?;
    if ended.timed_out {
        return Err(format!(
            "timed out: still running after {} (--trial-timeout), killed",
            trial::seconds(options.trial_timeout)
        ));
    }
    let stdout = String::from_utf8_lossy(&ended.stdout);
    let last_line = stdout.lines().last().unwrap_or_default().trim();
    if !ended.status.success() {
        return Err(format!(
            "{}: {}",
            child::describe(ended.status),
            trial::clip(last_line)
        ));
    }
    if let Some(why) = ended.stdout_error {
        return Err(why);
    }
    let (events, dropped) = decode_answer(last_line)?;
    let jobs = if spec.tasks < of {
        format!("{} of {}", spec.tasks, count(of, "job"))
    } else {
        count(spec.tasks, "job")
    };
    Ok(TrialTrace {
        name: format!(
            "{} · {} ({jobs}, {})",
            spec.runtime.name(),
            spec.workload.name(),
            count(
                spec.workers,
                if spec.runtime.forks_processes() {
                    "process"
                } else {
                    "thread"
                }
            )
        ),
        events,
        dropped,
    })
}

/// A traced child's last line as its events and the count it left out; any line that is not
/// a well-formed answer within the bounds is refused with the reason.
fn decode_answer(line: &str) -> Result<(Vec<Event>, u64), String> {
    let answer: TracedAnswer = serde_json::from_str(line)
        .map_err(|_| format!("it printed no events: {}", trial::clip(line)))?;
    let bytes = from_hex(&answer.events_hex).ok_or("its events are not hex")?;
    let events = Vec::<Event>::from_bytes(&bytes).map_err(|e| format!("its events: {e}"))?;
    if events.len() > TRACE_EVENTS {
        return Err(format!("it sent {} events, past the bound", events.len()));
    }
    Ok((events, answer.dropped))
}

/// "1 job", "3 jobs", "2 processes".
fn count(n: usize, noun: &str) -> String {
    match (n, noun.ends_with('s')) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        (_, false) => format!("{n} {noun}s"),
    }
}

/// The traced-trial role's `main`: runs the spec given as the first argument with a recorder
/// and prints its events.
pub fn child_main(args: Vec<OsString>) -> ExitCode {
    let Some(spec) = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|s| serde_json::from_str::<TracedSpec>(s).ok())
    else {
        eprintln!("concurrency {ROLE}: expected a traced trial spec in JSON");
        return ExitCode::from(2);
    };
    if let Err(e) = raise_nofile_limit() {
        eprintln!("concurrency {ROLE}: cannot raise the open-file limit: {e}");
    }
    match record_spec(&spec) {
        Ok(answer) => match serde_json::to_string(&answer) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("cannot encode the events: {e}");
                ExitCode::FAILURE
            }
        },
        Err(why) => {
            println!("{why}");
            ExitCode::FAILURE
        }
    }
}

fn record_spec(spec: &TracedSpec) -> Result<TracedAnswer, String> {
    let server = || {
        spec.server
            .ok_or_else(|| format!("workload {} needs a server", spec.workload.name()))
    };
    let (tasks, scale) = (spec.tasks, spec.scale);
    match spec.workload {
        WorkloadKind::Cpu => record(spec, workload::cpu_jobs(tasks, scale)),
        WorkloadKind::Sleep => record(spec, workload::sleep_jobs(tasks)),
        WorkloadKind::SlowIo => record(spec, workload::slow_io_jobs(tasks, server()?)),
        WorkloadKind::FastIo => record(spec, workload::fast_io_jobs(tasks, server()?, scale)),
        WorkloadKind::Mixed => record(spec, workload::mixed_jobs(tasks, server()?)),
        WorkloadKind::Idle => record(spec, workload::idle_jobs(tasks)),
        WorkloadKind::CpuIo => record(spec, workload::cpu_io_jobs(tasks, server()?)),
    }
}

/// Runs `jobs` on the spec's runtime with a recorder, checks the outputs, and keeps the
/// bounded part of what was recorded.
fn record<W: Workload + Clone>(spec: &TracedSpec, jobs: Vec<W>) -> Result<TracedAnswer, String> {
    let expected: Vec<W::Output> = jobs.iter().map(Workload::expected).collect();
    let recorder = Arc::new(Recorder::with_capacity(RECORDER_CAPACITY));
    let outputs = run_recorded(spec.runtime, jobs, spec.workers, &recorder)?;
    if outputs.len() != expected.len() {
        return Err(format!(
            "{} outputs for {} jobs",
            outputs.len(),
            expected.len()
        ));
    }
    for (i, (want, got)) in expected.iter().zip(&outputs).enumerate() {
        match got {
            Ok(got) if got == want => {}
            Ok(got) => return Err(format!("job {i}: expected {want:?}, got {got:?}")),
            Err(e) => return Err(format!("job {i}: {e}")),
        }
    }
    let recorded = recorder.events();
    let (kept, left_out) = bound(recorded);
    let mut bytes = Vec::new();
    kept.encode(&mut bytes);
    Ok(TracedAnswer {
        events_hex: to_hex(&bytes),
        dropped: recorder.dropped().saturating_add(left_out),
    })
}

/// Runs `jobs` on `runtime`, built as in a measured trial but recording into `recorder`.
fn run_recorded<W: Workload>(
    runtime: RuntimeKind,
    jobs: Vec<W>,
    workers: usize,
    recorder: &Arc<Recorder>,
) -> Result<Vec<Result<W::Output, String>>, String> {
    if !traced(runtime) {
        return Err(format!("{} records nothing", runtime.name()));
    }
    Ok(runtime.run_with(jobs, workers, Some(recorder)).outputs)
}

/// Keeps the events of the first [`TRACE_LANES`] lanes of each kind (the runtime's own lane,
/// `Loop` or `Manager`, always), then the earliest [`TRACE_EVENTS`] of those; returns them
/// and how many were left out.
fn bound(mut events: Vec<Event>) -> (Vec<Event>, u64) {
    let total = events.len();
    // Each numbered kind of lane, with its numbers in order: the first TRACE_LANES are kept.
    let mut numbers: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    for e in &events {
        if let Some((group, n)) = numbered(e.lane) {
            numbers.entry(group).or_default().push(n);
        }
    }
    let limits: BTreeMap<u8, u64> = numbers
        .into_iter()
        .map(|(group, mut ns)| {
            ns.sort_unstable();
            ns.dedup();
            let last_kept = ns
                .get(usize::try_from(TRACE_LANES - 1).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or(u64::MAX);
            (group, last_kept)
        })
        .collect();
    events.retain(|e| match numbered(e.lane) {
        Some((group, n)) => limits.get(&group).is_some_and(|last| n <= *last),
        None => true,
    });
    events.sort_by_key(|e| e.start_ns);
    events.truncate(TRACE_EVENTS);
    let left_out = (total - events.len()) as u64;
    (events, left_out)
}

/// A numbered lane's kind and number; `None` for the one-of-a-kind lanes.
fn numbered(lane: Lane) -> Option<(u8, u64)> {
    match lane {
        Lane::Thread(n) => Some((0, u64::from(n))),
        Lane::Task(id) => Some((1, id)),
        Lane::Worker(n) => Some((2, u64::from(n))),
        Lane::Loop | Lane::Manager => None,
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// The bytes of lowercase or uppercase hex text; `None` if it is not hex.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use concurrency_shared::trace::Kind;

    fn at(lane: Lane, start_ns: u64) -> Event {
        Event {
            lane,
            kind: Kind::TaskPoll,
            start_ns,
            end_ns: start_ns + 1,
        }
    }

    /// Only the first TRACE_LANES lanes of each numbered kind stay (by number, not by time),
    /// the runtime's own lane always, and what is left out is counted.
    #[test]
    fn the_bound_keeps_the_first_lanes_and_counts_the_rest() {
        let mut events: Vec<Event> = (0..TRACE_LANES + 4)
            .rev()
            .map(|n| at(Lane::Task(n * 3), n))
            .collect();
        events.push(at(Lane::Loop, 1_000));
        events.push(at(Lane::Worker(7), 5));
        let (kept, left_out) = bound(events);
        assert_eq!(left_out, 4);
        assert_eq!(kept.len() as u64, TRACE_LANES + 2);
        assert!(kept.iter().all(|e| match e.lane {
            Lane::Task(id) => id < TRACE_LANES * 3,
            _ => true,
        }));
        assert!(kept.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));
        assert!(kept.iter().any(|e| e.lane == Lane::Loop));

        let many: Vec<Event> = (0..TRACE_EVENTS as u64 + 10)
            .map(|t| at(Lane::Thread(1), t))
            .collect();
        let (kept, left_out) = bound(many);
        assert_eq!((kept.len(), left_out), (TRACE_EVENTS, 10));
        assert_eq!(
            kept.last().map(|e| e.start_ns),
            Some(TRACE_EVENTS as u64 - 1)
        );
    }

    /// A child's answer is decoded back to the events it kept; a line that is not JSON, events
    /// that are not hex or not Wire, and more events than the bound are refused, not trusted.
    #[test]
    fn answers_round_trip_and_garbage_is_refused() {
        let answer = |events: &Vec<Event>, dropped| {
            let mut bytes = Vec::new();
            events.encode(&mut bytes);
            let json = serde_json::to_string(&TracedAnswer {
                events_hex: to_hex(&bytes),
                dropped,
            });
            json.expect("an answer encodes")
        };
        let events = vec![at(Lane::Worker(1), 5), at(Lane::Loop, 9)];
        assert_eq!(decode_answer(&answer(&events, 3)), Ok((events, 3)));
        let too_many = vec![at(Lane::Loop, 1); TRACE_EVENTS + 1];
        for (line, why) in [
            ("not json".to_owned(), "printed no events"),
            (r#"{"events_hex":"zz","dropped":0}"#.to_owned(), "not hex"),
            (
                r#"{"events_hex":"0100000000000000ff","dropped":0}"#.to_owned(),
                "its events",
            ),
            (answer(&too_many, 0), "past the bound"),
        ] {
            let got = decode_answer(&line);
            assert!(got.as_ref().is_err_and(|e| e.contains(why)), "{got:?}");
        }
    }

    /// Hex round-trips, and text that is not hex (odd length, a non-digit, a multi-byte
    /// character) is refused rather than misread.
    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        assert_eq!(from_hex("0A"), Some(vec![10]));
        for bad in ["0", "zz", "+1", "é0"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }
}
