//! The convoy effect as a picture: renders the files of gil-threads' `convoy_trace` example
//! (an echo thread beside a CPU-bound thread, one file per GIL policy) as one SVG timeline,
//! each policy over the same window of time, with the workspace's timeline renderer
//! (`concurrency_shared::trace::svg`).
//!
//! ```text
//! cargo run --release -p gil-threads --features trace --example convoy_trace -- fair /tmp/fair.txt
//! cargo run --release -p gil-threads --features trace --example convoy_trace -- iopriority /tmp/io.txt
//! cargo run --release --example convoy_timeline -- /tmp/fair.txt /tmp/io.txt docs/convoy.svg 25
//! ```
//!
//! The last argument is the window in milliseconds from each run's start: `25` (the default:
//! five switch intervals) draws 0 to 25 ms, `5-6` draws 5 to 6 ms. The input format is the one `gil-threads/examples/convoy_trace.rs`
//! documents: `#` header lines (`policy`, `lane N ROLE`, `dropped`), then
//! `LANE KIND START_NS END_NS` per event, times from the run's start.

use std::process::ExitCode;

use concurrency_shared::trace::svg::{self, Window};
use concurrency_shared::trace::{Event, Kind, Lane, TrialTrace};

/// The window drawn unless one is given: five of the GIL's 5 ms switch intervals.
const DEFAULT_WINDOW_MS: f64 = 25.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (inputs, out, window) = match args.as_slice() {
        [fair, io, out] => ([fair, io], out, Some((0.0, DEFAULT_WINDOW_MS))),
        [fair, io, out, window] => ([fair, io], out, parse_window(window)),
        _ => {
            eprintln!("usage: convoy_timeline FAIR_FILE IOPRIORITY_FILE OUT.svg [[FROM-]TO_MS]");
            return ExitCode::from(2);
        }
    };
    let Some((from_ms, to_ms)) = window else {
        eprintln!("convoy_timeline: the window is TO or FROM-TO, in milliseconds, FROM < TO");
        return ExitCode::from(2);
    };
    let mut trials = Vec::new();
    for path in inputs {
        match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| parse(&text))
        {
            Ok(trial) => trials.push(trial),
            Err(why) => {
                eprintln!("convoy_timeline: {path}: {why}");
                return ExitCode::FAILURE;
            }
        }
    }
    // `as` saturates for a huge window; u64::MAX itself would mean "each run's own length".
    let window = Window {
        start_ns: (from_ms * 1e6) as u64,
        end_ns: ((to_ms * 1e6) as u64).min(u64::MAX - 1),
    };
    let title = if from_ms == 0.0 {
        format!("The convoy effect: an echo thread beside a CPU-bound thread, first {to_ms} ms")
    } else {
        format!(
            "The convoy effect: an echo thread beside a CPU-bound thread, {from_ms} to {to_ms} ms"
        )
    };
    match std::fs::write(out, svg::to_svg(&title, &trials, window)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convoy_timeline: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `TO` or `FROM-TO` milliseconds, `0 <= FROM < TO`, both finite.
fn parse_window(text: &str) -> Option<(f64, f64)> {
    let (from, to): (f64, f64) = match text.split_once('-') {
        Some((from, to)) => (from.parse().ok()?, to.parse().ok()?),
        None => (0.0, text.parse().ok()?),
    };
    (from >= 0.0 && from < to && to.is_finite()).then_some((from, to))
}

/// One convoy run: its events on `Lane::Thread(n)`, named after the policy and the lanes'
/// roles.
fn parse(text: &str) -> Result<TrialTrace, String> {
    let mut policy = String::from("unknown policy");
    let mut roles = Vec::new();
    let mut dropped = 0;
    let mut events = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("line {}: cannot read {line:?}", number + 1);
        match fields.as_slice() {
            [] => {}
            ["#", "policy", name] => policy = describe(name),
            ["#", "lane", n, role] => roles.push(format!("thread {n} {role}")),
            ["#", "dropped", n] => dropped = n.parse().map_err(|_| bad())?,
            ["#", ..] => {}
            [lane, kind, start, end] => {
                let kind = match *kind {
                    "gil_held" => Kind::GilHeld,
                    "gil_wait" => Kind::GilWait,
                    "drop_request" => Kind::DropRequest,
                    "forced_switch" => Kind::ForcedSwitch,
                    _ => return Err(bad()),
                };
                events.push(Event {
                    lane: Lane::Thread(lane.parse().map_err(|_| bad())?),
                    kind,
                    start_ns: start.parse().map_err(|_| bad())?,
                    end_ns: end.parse().map_err(|_| bad())?,
                });
            }
            _ => return Err(bad()),
        }
    }
    Ok(TrialTrace {
        name: format!("{policy} ({})", roles.join(", ")),
        events,
        dropped,
    })
}

/// A policy's name as the picture says it.
fn describe(policy: &str) -> String {
    match policy {
        "fair" => "Fair, CPython's algorithm".to_owned(),
        "iopriority" => "IoPriority".to_owned(),
        other => other.to_owned(),
    }
}
