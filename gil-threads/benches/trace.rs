//! What recording costs (feature `trace`): each measurement with no recorder (the feature
//! compiled in, nothing recorded: one `Option` test per hook) beside the same with a recorder,
//! in the same run. The cost of the feature itself, compiled in but unused, against a build
//! without it, is the `ping_pong` group of `benches/gil.rs` run with and without
//! `--features trace`.
//!
//! - `release_retake`: one thread alone, `allow_threads(|| ())`: a release and a take with
//!   nobody waiting, the cheapest hand-off (two events recorded per iteration);
//! - `yield_ping_pong`: a round trip of `Gil::yield_now` hand-offs between two threads
//!   (`Fair`, `IoPriority`);
//! - `wait_ping_pong`: a round trip where each thread waits for its turn inside
//!   `allow_threads` (`Fair`, `IoPriority`).
//!
//! Each recorder is fresh and sized from the measured call's iteration count (two events
//! per release and take, eight per round trip), so that events are stored (the dearer path)
//! rather than counted as dropped. Run: `cargo bench -p gil-threads --features trace --bench
//! trace`.

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gil_threads::trace::Recorder;
use gil_threads::{Interpreter, Policy};

#[path = "util/ping_pong.rs"]
mod ping_pong;

/// Room per iteration of a release and a take: a wait and a hold.
const RELEASE_RETAKE_EVENTS: u64 = 2;

/// Room per round trip of a ping-pong: two hand-offs, each a wait and a hold, with room for
/// drop requests and forced switches.
const ROUND_TRIP_EVENTS: u64 = 8;

/// An interpreter with `policy`, recording into a recorder with room for `events` if
/// `recording`.
fn interpreter(policy: Policy, recording: bool, events: u64) -> Interpreter {
    let builder = Interpreter::builder().policy(policy);
    let builder = if recording {
        let capacity = events + 64;
        builder.recorder(Arc::new(Recorder::with_capacity(capacity as usize)))
    } else {
        builder
    };
    builder.build().unwrap()
}

/// The measurement's label: with a recorder or not.
fn label(recording: bool) -> &'static str {
    if recording { "recorder" } else { "no_recorder" }
}

/// A release and a take with nobody waiting, `iters` times, on one thread.
fn release_retake(c: &mut Criterion) {
    let mut group = c.benchmark_group("release_retake");
    group.measurement_time(Duration::from_secs(3));
    for recording in [false, true] {
        group.bench_function(label(recording), |b| {
            b.iter_custom(|iters| {
                let events = iters.saturating_mul(RELEASE_RETAKE_EVENTS);
                let interp = interpreter(Policy::Fair, recording, events);
                interp
                    .with_gil(|gil| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            gil.allow_threads(|| ());
                        }
                        start.elapsed()
                    })
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// Round trips between two threads, by `yield_now` and by waits inside `allow_threads`.
fn ping_pongs(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    for policy in [Policy::Fair, Policy::IoPriority] {
        for recording in [false, true] {
            let id = format!("{policy:?}/{}", label(recording));
            group.bench_function(BenchmarkId::new("yield", &id), |b| {
                b.iter_custom(|iters| {
                    let events = iters.saturating_mul(ROUND_TRIP_EVENTS);
                    ping_pong::direct(&interpreter(policy, recording, events), iters)
                })
            });
            group.bench_function(BenchmarkId::new("wait", &id), |b| {
                b.iter_custom(|iters| {
                    ping_pong::wait(&interpreter(policy, recording, iters), iters)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, release_retake, ping_pongs);
criterion_main!(benches);
