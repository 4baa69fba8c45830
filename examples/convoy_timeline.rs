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
//! The last argument is the window in milliseconds from each run's start (default 25: five
//! switch intervals). The input format is the one `gil-threads/examples/convoy_trace.rs`
//! documents: `#` header lines (`policy`, `lane N ROLE`, `dropped`), then
//! `LANE KIND START_NS END_NS` per event, times from the run's start.

use std::process::ExitCode;

use concurrency_shared::trace::svg::{self, Window};
use concurrency_shared::trace::{Event, Kind, Lane, TrialTrace};

/// The window drawn unless one is given: five of the GIL's 5 ms switch intervals.
const DEFAULT_WINDOW_MS: f64 = 25.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (inputs, out, window_ms) = match args.as_slice() {
        [fair, io, out] => ([fair, io], out, Ok(DEFAULT_WINDOW_MS)),
        [fair, io, out, ms] => ([fair, io], out, ms.parse::<f64>()),
        _ => {
            eprintln!("usage: convoy_timeline FAIR_FILE IOPRIORITY_FILE OUT.svg [WINDOW_MS]");
            return ExitCode::from(2);
        }
    };
    let window_ms = match window_ms {
        Ok(ms) if ms.is_finite() && ms > 0.0 => ms,
        _ => {
            eprintln!("convoy_timeline: the window must be a positive number of milliseconds");
            return ExitCode::from(2);
        }
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
    let window = Window {
        start_ns: 0,
        // Saturates for a huge window; u64::MAX itself would mean "each run's own length".
        end_ns: ((window_ms * 1e6) as u64).min(u64::MAX - 1),
    };
    let title = format!(
        "The convoy effect: an echo thread beside a CPU-bound thread, first {window_ms} ms"
    );
    match std::fs::write(out, svg::to_svg(&title, &trials, window)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convoy_timeline: {out}: {e}");
            ExitCode::FAILURE
        }
    }
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
