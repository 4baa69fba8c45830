//! The Chrome trace-event format: a JSON document that the Perfetto UI and `chrome://tracing`
//! open as a timeline.
//!
//! Each [`TrialTrace`] becomes one process (`pid`, named after the trial) and each of its
//! lanes one thread track (`tid`, named "thread 1", "worker 0", …): a span is a complete event
//! (`"ph":"X"` with `ts` and `dur`), an instant a thread-scoped instant (`"ph":"i"`), and the
//! names are metadata events (`"ph":"M"`). Times are microseconds since the trial's first event,
//! written with nanosecond precision.
//!
//! Invariants: the output is valid JSON whatever the trial names hold (they are escaped);
//! events on one track are written in order of their start, so `ts` never goes back on a
//! track; and a trial contributes at most `max_events` events (its earliest) and names only
//! the tracks those are on, so the file's size is bounded by the caller whatever the number
//! of lanes, with the number left out named in the process's label.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::{Event, Kind, Lane, TrialTrace};

/// The trials as one Chrome trace-event JSON document, with at most `max_events_per_trial`
/// events of each (the earliest ones).
#[must_use]
pub fn to_json(trials: &[TrialTrace], max_events_per_trial: usize) -> String {
    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
    let mut first = true;
    let mut push = |out: &mut String, record: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('\n');
        out.push_str(record);
    };
    for (index, trial) in trials.iter().enumerate() {
        let pid = index + 1;
        let origin = trial.origin_ns();
        let mut kept: Vec<&Event> = trial.events.iter().collect();
        kept.sort_by_key(|e| e.start_ns);
        let left_out = kept.len().saturating_sub(max_events_per_trial);
        kept.truncate(max_events_per_trial);

        push(
            &mut out,
            &metadata(pid, None, "process_name", "name", &trial.name),
        );
        push(&mut out, &sort_index(pid, None, index));
        let missing = trial.dropped.saturating_add(left_out as u64);
        if missing > 0 {
            let label = format!("{missing} events not shown (recorder full or size bound)");
            push(
                &mut out,
                &metadata(pid, None, "process_labels", "labels", &label),
            );
        }
        // Lanes are numbered over every event of the trial, so a track keeps its number
        // whatever the size bound kept; only the tracks of kept events are named, so a trial
        // of many lanes (a task per job) adds at most two records per kept event.
        let lanes = trial.lanes();
        let track: HashMap<Lane, usize> = lanes.iter().enumerate().map(|(i, l)| (*l, i)).collect();
        let shown: HashSet<Lane> = kept.iter().map(|e| e.lane).collect();
        for (position, lane) in lanes.iter().enumerate() {
            if !shown.contains(lane) {
                continue;
            }
            let tid = position + 1;
            push(
                &mut out,
                &metadata(pid, Some(tid), "thread_name", "name", &lane.label()),
            );
            push(&mut out, &sort_index(pid, Some(tid), position));
        }
        // Every event's lane is in `lanes`, which was made from the same events.
        let track_of = |e: &Event| track.get(&e.lane).copied().unwrap_or(0);
        // Longer spans first at one start, so a span encloses what starts with it.
        kept.sort_by_key(|e| (track_of(e), e.start_ns, std::cmp::Reverse(e.end_ns)));
        for event in kept {
            let tid = track_of(event) + 1;
            push(&mut out, &record(event, origin, pid, tid));
        }
    }
    out.push_str("\n]}\n");
    out
}

/// One event as a complete (`X`) or instant (`i`) record.
fn record(event: &Event, origin: u64, pid: usize, tid: usize) -> String {
    let start = event.start_ns - origin;
    let mut text = String::new();
    let _ = write!(
        text,
        "{{\"name\":\"{}\",\"cat\":\"{}\",\"pid\":{pid},\"tid\":{tid},\"ts\":{}",
        event.kind.name(),
        category(event.kind),
        micros(start)
    );
    if event.kind.is_instant() {
        text.push_str(",\"ph\":\"i\",\"s\":\"t\"}");
    } else {
        let length = event.end_ns.saturating_sub(event.start_ns);
        let _ = write!(text, ",\"ph\":\"X\",\"dur\":{}}}", micros(length));
    }
    text
}

/// Which runtime's mechanism a kind belongs to, so Perfetto can filter by it.
fn category(kind: Kind) -> &'static str {
    match kind {
        Kind::GilHeld | Kind::GilWait | Kind::DropRequest | Kind::ForcedSwitch => "gil",
        Kind::TaskPoll | Kind::PollerWait => "loop",
        Kind::ChunkSent | Kind::ChunkRun => "pool",
    }
}

/// A metadata record giving a process (no `tid`) or a thread the argument `key: value`.
fn metadata(pid: usize, tid: Option<usize>, name: &str, key: &str, value: &str) -> String {
    let mut text = format!("{{\"name\":\"{name}\",\"ph\":\"M\",\"pid\":{pid}");
    if let Some(tid) = tid {
        let _ = write!(text, ",\"tid\":{tid}");
    }
    let _ = write!(text, ",\"args\":{{\"{key}\":");
    json_string(value, &mut text);
    text.push_str("}}");
    text
}

/// A metadata record that keeps tracks (and processes) in the order they were given.
fn sort_index(pid: usize, tid: Option<usize>, index: usize) -> String {
    let (name, tid) = match tid {
        Some(tid) => ("thread_sort_index", format!(",\"tid\":{tid}")),
        None => ("process_sort_index", String::new()),
    };
    format!(
        "{{\"name\":\"{name}\",\"ph\":\"M\",\"pid\":{pid}{tid},\"args\":{{\"sort_index\":{index}}}}}"
    )
}

/// Nanoseconds as a JSON number of microseconds, exact to the nanosecond.
fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// Appends `value` as a JSON string: quotes, backslashes and control characters escaped.
fn json_string(value: &str, out: &mut String) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::trial::event as ev;

    /// A GIL hand-off, a loop's polls and a pool's chunks, out of order, at a large uptime.
    fn trials() -> Vec<TrialTrace> {
        let base = 9_000_000_000_000;
        vec![
            TrialTrace::new(
                "gil \"threads\"\n\\ <cpu>",
                vec![
                    ev(Lane::Thread(2), Kind::GilHeld, base + 5_000, base + 9_000),
                    ev(Lane::Thread(1), Kind::GilHeld, base, base + 5_000),
                    ev(Lane::Thread(2), Kind::GilWait, base + 1, base + 5_000),
                    ev(
                        Lane::Thread(2),
                        Kind::DropRequest,
                        base + 4_999,
                        base + 4_999,
                    ),
                    ev(
                        Lane::Thread(1),
                        Kind::ForcedSwitch,
                        base + 5_000,
                        base + 5_000,
                    ),
                ],
            ),
            TrialTrace::new(
                "loop",
                vec![
                    ev(Lane::Task(1), Kind::TaskPoll, base + 30, base + 40),
                    ev(Lane::Loop, Kind::PollerWait, base + 10, base + 30),
                    ev(Lane::Task(0), Kind::TaskPoll, base, base + 10),
                ],
            ),
            TrialTrace {
                dropped: 3,
                ..TrialTrace::new(
                    "pool",
                    vec![
                        ev(Lane::Worker(1), Kind::ChunkRun, base + 2, base + 900),
                        ev(Lane::Manager, Kind::ChunkSent, base, base),
                        ev(Lane::Worker(0), Kind::ChunkRun, base + 1, base + 1_000),
                        ev(Lane::Manager, Kind::ChunkSent, base + 1, base + 1),
                    ],
                )
            },
        ]
    }

    fn parse(text: &str) -> Vec<serde_json::Value> {
        let doc: serde_json::Value = serde_json::from_str(text).expect("the trace is JSON");
        doc["traceEvents"].as_array().expect("traceEvents").clone()
    }

    #[test]
    fn the_trace_parses_with_valid_phases_and_monotone_tracks() {
        let events = parse(&to_json(&trials(), usize::MAX));
        let mut last_ts: HashMap<(u64, u64), f64> = HashMap::new();
        let mut names: HashMap<(u64, u64), String> = HashMap::new();
        let mut timed = 0;
        for e in &events {
            let pid = e["pid"].as_u64().expect("pid");
            let tid = e["tid"].as_u64().unwrap_or(0);
            match e["ph"].as_str().expect("ph") {
                "M" => {
                    if e["name"] == "thread_name" || e["name"] == "process_name" {
                        let name = e["args"]["name"].as_str().expect("a name").to_owned();
                        names.insert((pid, tid), name);
                    }
                }
                ph @ ("X" | "i") => {
                    timed += 1;
                    let ts = e["ts"].as_f64().expect("ts");
                    assert!(ts >= 0.0);
                    if ph == "X" {
                        assert!(e["dur"].as_f64().expect("dur") >= 0.0);
                    } else {
                        assert_eq!(e["s"], "t");
                    }
                    let last = last_ts.entry((pid, tid)).or_insert(0.0);
                    assert!(ts >= *last, "ts went back on track {pid}/{tid}: {e}");
                    *last = ts;
                    assert!(names.contains_key(&(pid, tid)), "unnamed track: {e}");
                }
                other => panic!("unexpected phase {other}"),
            }
        }
        assert_eq!(timed, 12);
        assert_eq!(names[&(1, 0)], "gil \"threads\"\n\\ <cpu>");
        assert_eq!(names[&(2, 1)], "event loop");
        assert_eq!(names[&(3, 1)], "manager");
        // Microseconds since the trial's first event, nanosecond digits kept.
        let held = events
            .iter()
            .find(|e| e["pid"] == 1 && e["name"] == "gil held" && e["tid"] == 2)
            .expect("thread 2's hold");
        assert_eq!(held["ts"].as_f64(), Some(5.0));
        assert_eq!(held["dur"].as_f64(), Some(4.0));
        let poll = events
            .iter()
            .find(|e| e["pid"] == 2 && e["tid"] == 3 && e["ph"] == "X")
            .expect("task 1's poll");
        assert_eq!(poll["ts"].as_f64(), Some(0.03));
    }

    #[test]
    fn the_size_bound_keeps_the_earliest_events_and_says_how_many_are_missing() {
        let events = parse(&to_json(&trials(), 1));
        let timed: Vec<_> = events.iter().filter(|e| e["ph"] != "M").collect();
        assert_eq!(timed.len(), 3, "one per trial");
        assert!(timed.iter().all(|e| e["ts"].as_f64() == Some(0.0)));
        let label = events
            .iter()
            .find(|e| e["pid"] == 3 && e["name"] == "process_labels")
            .expect("the pool's label");
        assert!(
            label["args"]["labels"]
                .as_str()
                .unwrap()
                .starts_with("6 events")
        );
        assert_eq!(parse(&to_json(&[], 10)).len(), 0);
    }

    /// A trial of many lanes (a task per job) cut to a few events names only the tracks of
    /// those events, so the size bound holds whatever the number of lanes; the tracks keep the
    /// numbers they have in the whole trial.
    #[test]
    fn the_size_bound_holds_whatever_the_number_of_lanes() {
        let many = (0..50_000)
            .map(|i| ev(Lane::Task(i), Kind::TaskPoll, 1_000 + i, 1_001 + i))
            .collect();
        let events = parse(&to_json(&[TrialTrace::new("loop", many)], 10));
        let timed = events.iter().filter(|e| e["ph"] != "M").count();
        assert_eq!(timed, 10);
        // Two per process (name, order), one label of what is left out, two per shown track.
        assert_eq!(events.len(), 10 + 3 + 2 * 10, "{} records", events.len());
        let tids: Vec<u64> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["tid"].as_u64().expect("a tid"))
            .collect();
        assert_eq!(tids, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = String::new();
        json_string("a\u{1}b\u{7f}", &mut out);
        assert_eq!(out, "\"a\\u0001b\u{7f}\"");
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\u{1}b\u{7f}");
    }
}
