//! What the `trace` feature records: the GIL's holds, waits, drop requests and forced
//! switches, one lane per thread, and the invariants they make visible (never two holders).
//!
//! Every scenario ends by a count of changes of holder (`switch_number`), never by time.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gil_threads::trace::{Event, Kind, Lane, Recorder};
use gil_threads::{Interpreter, Policy, Stats};
use util::{HANG_GUARD, POLICIES, TEST_INTERVAL};

/// Changes of holder the observed thread waits for in a contended run.
const SWITCHES: u64 = 20;

/// In a mixed run, how many times the rival releases the GIL around (empty) blocking work,
/// one release every `CHECKPOINTS_PER_RELEASE` checkpoints; bounded, so that the number of
/// events is too.
const RELEASES: u32 = 200;

/// Checkpoints between two of the rival's releases in a mixed run.
const CHECKPOINTS_PER_RELEASE: u32 = 100;

/// Room for every event of one run (a few thousand at most).
const CAPACITY: usize = 100_000;

/// An interpreter recording into a fresh recorder.
fn recorded(policy: Policy) -> (Interpreter, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::with_capacity(CAPACITY));
    let interp = Interpreter::builder()
        .policy(policy)
        .switch_interval(TEST_INTERVAL)
        .recorder(Arc::clone(&recorder))
        .build()
        .expect("a valid configuration");
    (interp, recorder)
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Two CPU-bound threads contend for `interp`'s GIL until the observed one has seen the GIL
/// change hands `SWITCHES` times; with `mixed`, the rival also releases the GIL around empty
/// blocking work `RELEASES` times. Returns the statistics once both have left.
fn contend(interp: &Interpreter, mixed: bool) -> Stats {
    let stop = Arc::new(AtomicBool::new(false));
    let rival_stop = Arc::clone(&stop);
    let rival = interp.spawn(move |gil| {
        let mut released = 0;
        let mut checkpoints = 0;
        while !rival_stop.load(Ordering::Relaxed) {
            gil.checkpoint();
            checkpoints += 1;
            if mixed && released < RELEASES && checkpoints % CHECKPOINTS_PER_RELEASE == 0 {
                gil.allow_threads(|| ());
                released += 1;
            }
        }
    });
    // Stops the rival however the observed thread ends (a failed assertion too, or never
    // starting: the guard is dropped with the closure), so that the test fails instead of
    // hanging on the rival's join.
    let stop_rival = StopOnDrop(stop);
    let observed = interp.spawn(move |gil| {
        let _stop_rival = stop_rival;
        let start = Instant::now();
        let mut switches = 0;
        while switches < SWITCHES {
            assert!(start.elapsed() < HANG_GUARD, "too few switches");
            let before = gil.switch_number();
            gil.checkpoint();
            if gil.switch_number() != before {
                switches += 1;
            }
        }
    });
    observed.join().expect("the observed thread");
    rival.join().expect("the rival thread");
    interp.stats()
}

/// The recorder of a mixed contention (`contend` with `mixed`) under `policy`.
fn mixed_contention(policy: Policy) -> Arc<Recorder> {
    let (interp, recorder) = recorded(policy);
    contend(&interp, true);
    recorder
}

/// The events of `kind`, sorted by start.
fn of_kind(events: &[Event], kind: Kind) -> Vec<Event> {
    let mut of: Vec<Event> = events.iter().filter(|e| e.kind == kind).copied().collect();
    of.sort_by_key(|e| (e.start_ns, e.end_ns));
    of
}

/// Asserts that `spans`, sorted by start, follow one another: none starts before the one
/// before it ended.
#[track_caller]
fn assert_in_sequence(spans: &[Event], what: &str) {
    for pair in spans.windows(2) {
        assert!(
            pair[1].start_ns >= pair[0].end_ns,
            "{what}: {:?} overlaps {:?}",
            pair[1],
            pair[0]
        );
    }
}

/// How many events of `kind` there are.
fn count(events: &[Event], kind: Kind) -> u64 {
    events.iter().filter(|e| e.kind == kind).count() as u64
}

/// Under every policy, two contending threads' `GilHeld` spans never overlap: each hold
/// starts no earlier than the one before it ended. The mutual exclusion the GIL exists for,
/// seen in the record; both threads held the GIL several times.
#[test]
fn held_spans_never_overlap_across_threads() {
    for policy in POLICIES {
        let recorder = mixed_contention(policy);
        let events = recorder.events();
        assert_eq!(recorder.dropped(), 0, "{policy:?}: the recorder overflowed");
        let held = of_kind(&events, Kind::GilHeld);
        assert_in_sequence(&held, &format!("{policy:?}, holds of every thread"));
        for lane in [Lane::Thread(0), Lane::Thread(1)] {
            let holds = held.iter().filter(|e| e.lane == lane).count();
            assert!(
                holds >= 2,
                "{policy:?}: {lane:?} held the GIL {holds} times"
            );
        }
    }
}

/// Under every policy, each thread's spans follow one another: its waits and holds never
/// overlap, every hold starts exactly where a wait of the same thread ended, a drop request
/// falls between the requester's holds (while it waits), and a forced switch inside one of
/// the dropper's holds.
#[test]
fn each_threads_spans_are_monotone() {
    for policy in POLICIES {
        let recorder = mixed_contention(policy);
        let events = recorder.events();
        for lane in [Lane::Thread(0), Lane::Thread(1)] {
            let mine: Vec<Event> = events.iter().filter(|e| e.lane == lane).copied().collect();
            let mut spans: Vec<Event> = mine
                .iter()
                .filter(|e| !e.kind.is_instant())
                .copied()
                .collect();
            spans.sort_by_key(|e| (e.start_ns, e.end_ns));
            assert_in_sequence(&spans, &format!("{policy:?}, spans of {lane:?}"));
            let waits = of_kind(&mine, Kind::GilWait);
            let holds = of_kind(&mine, Kind::GilHeld);
            assert_eq!(waits.len(), holds.len(), "{policy:?} {lane:?}");
            for (wait, hold) in waits.iter().zip(&holds) {
                assert_eq!(wait.end_ns, hold.start_ns, "{policy:?} {lane:?}");
            }
            // A request is made while waiting: after the thread's previous hold ended and
            // by the end of the wait. (Not checked against the wait's start, which is found
            // from an `Instant` and may be recorded a few nanoseconds late.)
            for request in of_kind(&mine, Kind::DropRequest) {
                let t = request.start_ns;
                let waiting = waits.iter().enumerate().any(|(i, wait)| {
                    let after = if i == 0 { 0 } else { holds[i - 1].end_ns };
                    after <= t && t <= wait.end_ns
                });
                assert!(waiting, "{policy:?}: {request:?} made while not waiting");
            }
            for switch in of_kind(&mine, Kind::ForcedSwitch) {
                let t = switch.start_ns;
                let holding = holds.iter().any(|h| h.start_ns <= t && t <= h.end_ns);
                assert!(holding, "{policy:?}: {switch:?} outside a hold");
            }
        }
    }
}

/// Under `Fair`, a CPU-bound pair changes hands only by drop requests and forced switches:
/// both appear, as many as the statistics count, and every take is one wait and one hold.
#[test]
fn a_fair_cpu_bound_pair_records_drop_requests_and_forced_switches() {
    let (interp, recorder) = recorded(Policy::Fair);
    let totals = contend(&interp, false).interpreter;
    let events = recorder.events();
    assert_eq!(recorder.dropped(), 0);
    assert!(
        totals.drop_requests > 0 && totals.forced_switches > 0,
        "{totals:?}"
    );
    assert_eq!(count(&events, Kind::DropRequest), totals.drop_requests);
    assert_eq!(count(&events, Kind::ForcedSwitch), totals.forced_switches);
    assert_eq!(count(&events, Kind::GilWait), totals.acquisitions);
    assert_eq!(count(&events, Kind::GilHeld), totals.acquisitions);
}

/// Lanes number the threads in the order they first entered, from 0; a thread that leaves
/// keeps its events and its number (the main thread entering twice is lane 0 both times),
/// and no later thread reuses it.
#[test]
fn an_exited_threads_events_are_kept_and_its_lane_not_reused() {
    let (interp, recorder) = recorded(Policy::Fair);
    interp.with_gil(|_| ()).expect("entered");
    interp.spawn(|_| ()).join().expect("first thread");
    interp.spawn(|_| ()).join().expect("second thread");
    interp.with_gil(|_| ()).expect("entered again");
    let lanes: Vec<Lane> = of_kind(&recorder.events(), Kind::GilHeld)
        .iter()
        .map(|e| e.lane)
        .collect();
    assert_eq!(lanes, [0, 1, 2, 0].map(Lane::Thread));
}

/// A recorder belongs to the interpreter it was given to: another interpreter, without one,
/// running the same contention at the same time, records nothing into it. A recorder with
/// no room stores nothing and counts every event dropped, and the interpreter runs on.
#[test]
fn only_the_interpreter_given_a_recorder_records() {
    let (traced, recorder) = recorded(Policy::Fair);
    let untraced = util::interpreter(Policy::Fair);
    let other = std::thread::spawn(move || contend(&untraced, false));
    let totals = contend(&traced, false).interpreter;
    other.join().expect("the untraced run");
    let events = recorder.events();
    assert_eq!(count(&events, Kind::GilHeld), totals.acquisitions);
    assert!(events.iter().all(|e| matches!(e.lane, Lane::Thread(0 | 1))));

    let full = Arc::new(Recorder::with_capacity(0));
    let interp = Interpreter::builder()
        .switch_interval(TEST_INTERVAL)
        .recorder(Arc::clone(&full))
        .build()
        .expect("a valid configuration");
    let totals = contend(&interp, false).interpreter;
    assert!(full.events().is_empty());
    assert!(full.dropped() >= 2 * totals.acquisitions);
}

/// A thread the OS refuses to start never enters the interpreter: it takes no lane number,
/// so the next thread that enters gets the next one.
#[test]
fn a_thread_that_never_started_takes_no_lane() {
    let (interp, recorder) = recorded(Policy::Fair);
    interp.with_gil(|_| ()).expect("entered");
    let refused = interp.thread_builder().stack_size(usize::MAX).spawn(|_| ());
    assert!(
        matches!(
            refused.join(),
            Err(gil_threads::JoinFailed::Thread(
                gil_threads::JoinError::Spawn(_)
            ))
        ),
        "the OS started a thread with an impossible stack"
    );
    interp.spawn(|_| ()).join().expect("a thread that starts");
    let lanes: Vec<Lane> = of_kind(&recorder.events(), Kind::GilHeld)
        .iter()
        .map(|e| e.lane)
        .collect();
    assert_eq!(lanes, [0, 1].map(Lane::Thread));
}

/// Hand-offs each of two threads makes through `yield_now` in `yield_turns`.
const YIELDS: u32 = 200;

/// Two threads pass the GIL to each other `YIELDS` times each through `yield_now`.
fn yield_turns(interp: &Interpreter) {
    let players: Vec<_> = (0..2)
        .map(|_| {
            interp.spawn(|gil| {
                for _ in 0..YIELDS {
                    gil.yield_now();
                }
            })
        })
        .collect();
    for p in players {
        p.join().expect("a player");
    }
}

/// Under every policy, a thread that yields the GIL starts waiting for it again no earlier
/// than its hold ended: its spans follow one another (`Fifo` queues the yielder before it
/// releases, so its wait was once recorded as starting inside its own hold).
#[test]
fn a_yielders_wait_starts_after_its_hold_ends() {
    for policy in POLICIES {
        let (interp, recorder) = recorded(policy);
        yield_turns(&interp);
        let events = recorder.events();
        assert_eq!(recorder.dropped(), 0, "{policy:?}: the recorder overflowed");
        for lane in [Lane::Thread(0), Lane::Thread(1)] {
            let mut spans: Vec<Event> = events
                .iter()
                .filter(|e| e.lane == lane && !e.kind.is_instant())
                .copied()
                .collect();
            spans.sort_by_key(|e| (e.start_ns, e.end_ns));
            assert_in_sequence(&spans, &format!("{policy:?}, spans of {lane:?}"));
        }
    }
}
