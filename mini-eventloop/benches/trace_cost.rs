//! What the `trace` feature costs the loop: spawn + await and yield ping-pong, the two
//! benchmarks where a poll is the whole work, so recording's per-poll cost shows the most.
//!
//! ```text
//! cargo bench -p mini-eventloop --bench trace_cost                   # feature off
//! cargo bench -p mini-eventloop --bench trace_cost --features trace  # on: no recorder, recorder
//! cargo bench -p mini-eventloop --bench trace_cost --features trace -- --mode=recorded
//! ```
//!
//! Built without the feature it measures the plain loop; built with it, a runtime given no
//! recorder and one given a recorder, round by round in the same run (see `util::interleaved`),
//! or only one of them (`--mode=plain`, `--mode=recorded`: a recorded run writes megabytes of
//! events, which leaves the caches cold for a plain run after it). Off against on needs two
//! builds, so `trace_cost.sh` runs them alternately and gives medians and ratios. The recorder is allocated once, with room
//! for every event of a run, and emptied before each run, so the figure is the cost of
//! storing, not of the cheaper "full, count and drop" path, nor of allocating.

mod util;

#[cfg(feature = "trace")]
use std::cell::RefCell;
#[cfg(feature = "trace")]
use std::sync::Arc;
use std::time::Instant;

use mini_eventloop::Runtime;
#[cfg(feature = "trace")]
use mini_eventloop::trace::Recorder;
use util::interleaved;

/// Tasks per run of the spawn benchmark.
const SPAWNS: u32 = 100_000;
/// Yields per task per run of the ping-pong benchmark.
const YIELDS: u32 = 100_000;
/// Runs per figure (the median is reported).
const RUNS: usize = 9;
/// Events one run may record, with room to spare: spawn + await polls each task once and the
/// `block_on` future about once per task; ping-pong polls each of its two tasks once per yield.
#[cfg(feature = "trace")]
const EVENTS_PER_RUN: usize = 4 * 100_000;

/// How the runtime under test records.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// No recorder (with the feature off, no recording code at all).
    Plain,
    /// A recorder with room for the whole run.
    #[cfg(feature = "trace")]
    Recorded,
}

impl Mode {
    /// The modes this build can measure, in print order.
    const ALL: &[Mode] = &[
        Mode::Plain,
        #[cfg(feature = "trace")]
        Mode::Recorded,
    ];

    /// Its `--mode=` value.
    fn key(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            #[cfg(feature = "trace")]
            Mode::Recorded => "recorded",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Plain if cfg!(feature = "trace") => "feature on, no recorder",
            Mode::Plain => "feature off",
            #[cfg(feature = "trace")]
            Mode::Recorded => "feature on, recorder",
        }
    }

    /// A runtime recording as this mode says.
    fn runtime(self) -> Runtime {
        let builder = Runtime::builder();
        #[cfg(feature = "trace")]
        let builder = match self {
            Mode::Plain => builder,
            Mode::Recorded => builder.recorder(emptied_recorder()),
        };
        builder.build().expect("runtime")
    }
}

#[cfg(feature = "trace")]
thread_local! {
    /// The one recorder of every recorded run, allocated once: a run pays for storing events,
    /// not for allocating and freeing room for them.
    static RECORDER: RefCell<Arc<Recorder>> =
        RefCell::new(Arc::new(Recorder::with_capacity(EVENTS_PER_RUN)));
}

/// The recorder, emptied of the previous run's events (whose runtime is gone by now).
#[cfg(feature = "trace")]
fn emptied_recorder() -> Arc<Recorder> {
    RECORDER.with_borrow_mut(|recorder| {
        let only_owner = Arc::get_mut(recorder).expect("the last run's runtime is gone");
        assert_eq!(only_owner.dropped(), 0, "EVENTS_PER_RUN is too small");
        only_owner.reset();
        recorder.clone()
    })
}

/// ns per spawn + await of an empty task, one run.
fn spawn_await(mode: Mode) -> f64 {
    let rt = mode.runtime();
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..SPAWNS {
            mini_eventloop::spawn(async {}).await.unwrap();
        }
        start.elapsed().as_nanos() as f64 / f64::from(SPAWNS)
    })
}

/// ns per yield, two tasks yielding to each other, one run.
fn yield_ping_pong(mode: Mode) -> f64 {
    let rt = mode.runtime();
    rt.block_on(async {
        let start = Instant::now();
        let yielder = || async {
            for _ in 0..YIELDS {
                mini_eventloop::yield_now().await;
            }
        };
        let a = mini_eventloop::spawn(yielder());
        let b = mini_eventloop::spawn(yielder());
        a.await.unwrap();
        b.await.unwrap();
        start.elapsed().as_nanos() as f64 / f64::from(2 * YIELDS)
    })
}

/// A benchmark: its printed name and one run of it, in ns per operation.
type Bench = (&'static str, fn(Mode) -> f64);

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let mode: Option<String> =
        std::env::args().find_map(|a| a.strip_prefix("--mode=").map(String::from));
    let modes: Vec<Mode> = Mode::ALL
        .iter()
        .copied()
        .filter(|m| mode.as_deref().is_none_or(|k| m.key() == k))
        .collect();
    assert!(!modes.is_empty(), "no such --mode in this build: {mode:?}");
    let benches: [Bench; 2] = [
        ("spawn+await     ns/task ", spawn_await),
        ("yield ping-pong ns/yield", yield_ping_pong),
    ];
    for (name, bench) in benches {
        if !wanted(name) {
            continue;
        }
        let v = interleaved(&modes, RUNS, bench);
        let figures: Vec<String> = modes
            .iter()
            .zip(&v)
            .map(|(m, ns)| format!("{}: {ns:6.1}", m.name()))
            .collect();
        let ratio = match v.as_slice() {
            [plain, recorded] => format!("  recorder/no recorder {:.2}", recorded / plain),
            _ => String::new(),
        };
        println!("{name}  {}{ratio}", figures.join("  "));
    }
}
