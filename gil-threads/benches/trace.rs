//! What recording costs: GIL hand-offs timed with no recorder and with one, the two
//! alternating round after round in the same run so that a machine whose load drifts moves
//! both alike; each figure is the median over the rounds, and the ratio the median of the
//! rounds' ratios. Prints a table (not a criterion bench).
//!
//! - `release_retake`: one thread alone, `allow_threads(|| ())`: a release and a take with
//!   nobody waiting, the cheapest hand-off (a wait and a hold recorded per iteration);
//! - `yield`: a round trip of `Gil::yield_now` hand-offs between two threads;
//! - `wait`: a round trip where each thread waits for its turn inside `allow_threads`.
//!
//! Built without the `trace` feature it times only the column without a recorder: running it
//! both ways compares the crate without the feature against the crate with it compiled in but
//! unused.
//!
//! Run: `cargo bench -p gil-threads --features trace --bench trace` (and without
//! `--features trace` for the other column).

use std::time::{Duration, Instant};

use gil_threads::{Interpreter, InterpreterBuilder, Policy};

#[path = "util/ping_pong.rs"]
mod ping_pong;

/// Rounds per case (each times both columns once).
const ROUNDS: usize = 31;

/// Iterations of a release and a take per timed call.
const RELEASE_RETAKES: u64 = 100_000;

/// Round trips per timed ping-pong.
const ROUND_TRIPS: u64 = 2_000;

/// Room per iteration: a release and a take record 2 events, a round trip up to 8 (two
/// hand-offs, each a wait and a hold, and room for requests and switches), so that events are
/// stored (the dearer path) rather than counted as dropped.
#[cfg(feature = "trace")]
const EVENTS_PER_ITERATION: u64 = 8;

/// A timed case: given an interpreter, the time per iteration.
type Case = fn(&Interpreter) -> Duration;

/// `RELEASE_RETAKES` releases and takes with nobody waiting, per iteration.
fn release_retake(interp: &Interpreter) -> Duration {
    interp
        .with_gil(|gil| {
            let start = Instant::now();
            for _ in 0..RELEASE_RETAKES {
                gil.allow_threads(|| ());
            }
            start.elapsed() / RELEASE_RETAKES as u32
        })
        .unwrap()
}

/// `ROUND_TRIPS` `yield_now` round trips, per round trip.
fn yield_round_trip(interp: &Interpreter) -> Duration {
    ping_pong::direct(interp, ROUND_TRIPS) / ROUND_TRIPS as u32
}

/// `ROUND_TRIPS` round trips through waits in `allow_threads`, per round trip.
fn wait_round_trip(interp: &Interpreter) -> Duration {
    ping_pong::wait(interp, ROUND_TRIPS) / ROUND_TRIPS as u32
}

/// An interpreter with `policy`, recording if `recording` (only with the feature).
fn interpreter(policy: Policy, recording: bool) -> Interpreter {
    let builder: InterpreterBuilder = Interpreter::builder().policy(policy);
    #[cfg(feature = "trace")]
    let builder = if recording {
        let capacity = (RELEASE_RETAKES.max(ROUND_TRIPS) * EVENTS_PER_ITERATION) as usize;
        let recorder = gil_threads::trace::Recorder::with_capacity(capacity);
        builder.recorder(std::sync::Arc::new(recorder))
    } else {
        builder
    };
    #[cfg(not(feature = "trace"))]
    assert!(!recording, "recording needs the trace feature");
    builder.build().unwrap()
}

/// The median of `values` (not empty).
fn median<T: Copy + PartialOrd>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

fn main() {
    let recording_too = cfg!(feature = "trace");
    let cases: [(&str, Policy, Case); 5] = [
        ("release_retake", Policy::Fair, release_retake),
        ("yield", Policy::Fair, yield_round_trip),
        ("wait", Policy::Fair, wait_round_trip),
        ("yield", Policy::IoPriority, yield_round_trip),
        ("wait", Policy::IoPriority, wait_round_trip),
    ];
    println!(
        "feature trace: {}; {ROUNDS} rounds, medians",
        if recording_too { "on" } else { "off" }
    );
    println!(
        "{:<16} {:<11} {:>12} {:>12} {:>8} {:>17}",
        "case", "policy", "no recorder", "recorder", "ratio", "ratio min..max"
    );
    for (name, policy, case) in cases {
        let (mut off, mut on, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Alternate which column goes first, so that neither always runs on a warmer
            // (or more loaded) machine.
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            let mut times = [Duration::ZERO; 2];
            for recording in order {
                if recording && !recording_too {
                    continue;
                }
                times[usize::from(recording)] = case(&interpreter(policy, recording));
            }
            off.push(times[0]);
            if recording_too {
                on.push(times[1]);
                ratios.push(times[1].as_secs_f64() / times[0].as_secs_f64());
            }
        }
        let off = median(&mut off);
        if recording_too {
            let (low, high) = (
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(0.0, f64::max),
            );
            println!(
                "{name:<16} {:<11} {:>12?} {:>12?} {:>7.2}x {:>8.2}..{:.2}",
                format!("{policy:?}"),
                off,
                median(&mut on),
                median(&mut ratios),
                low,
                high
            );
        } else {
            println!("{name:<16} {:<11} {off:>12?}", format!("{policy:?}"));
        }
    }
}
