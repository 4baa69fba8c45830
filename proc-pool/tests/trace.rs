//! Recording (feature `trace`): a traced pool's chunks sent and run, per worker lane, under
//! both start methods; a full recorder, no recorder, a worker killed mid-chunk. Forks, so it
//! runs alone (`harness = false`): `cargo test -p proc-pool --features trace --test trace`.

mod util;

use std::sync::Arc;

use proc_pool::trace::{Event, Kind, Lane, Recorder, now_ns};
use proc_pool::{ExitStatus, Pool, TaskError};

/// Chunks per map (one task each).
const CHUNKS: u64 = 200;

/// The task whose worker kills itself in `killed_worker_keeps_tracing`.
const VICTIM: u64 = 7;

fn square(x: u64) -> u64 {
    x * x
}

/// Squares `x`, except that the worker running [`VICTIM`] kills itself mid-chunk.
fn square_or_die(x: u64) -> u64 {
    if x == VICTIM {
        // SAFETY: raise has no preconditions; SIGKILL ends this worker process here.
        unsafe { libc::raise(libc::SIGKILL) };
    }
    x * x
}

/// A recorder with room for every event of `chunks` chunks sent and run, twice over.
fn roomy(chunks: u64) -> Arc<Recorder> {
    Arc::new(Recorder::with_capacity(4 * chunks as usize))
}

/// A pool of 2 workers (the pass's start method) recording into `recorder`.
fn traced_pool(recorder: &Arc<Recorder>) -> Pool {
    util::builder()
        .workers(2)
        .recorder(Arc::clone(recorder))
        .build()
        .unwrap()
}

/// The events of `kind` on `lane`, in the order they were recorded.
fn on(events: &[Event], lane: Lane, kind: Kind) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.lane == lane && e.kind == kind)
        .copied()
        .collect()
}

/// Every event is on `Worker(0)` or `Worker(1)` and of the pool's two kinds.
#[track_caller]
fn only_two_worker_lanes(events: &[Event]) {
    for e in events {
        assert!(
            matches!(e.lane, Lane::Worker(0 | 1)),
            "an event off the two worker lanes: {e:?}"
        );
        assert!(matches!(e.kind, Kind::ChunkSent | Kind::ChunkRun), "{e:?}");
        assert!(e.start_ns <= e.end_ns, "{e:?}");
        if e.kind == Kind::ChunkSent {
            assert_eq!(e.start_ns, e.end_ns, "an instant has no length: {e:?}");
        }
    }
}

/// A worker's runs, in order, neither overlap nor go back in time.
#[track_caller]
fn runs_in_sequence(runs: &[Event]) {
    for pair in runs.windows(2) {
        assert!(
            pair[0].end_ns <= pair[1].start_ns,
            "overlapping or reordered runs: {pair:?}"
        );
    }
}

/// A 2-worker pool mapping N one-task chunks records exactly N `ChunkSent` and N `ChunkRun`
/// across `Worker(0)` and `Worker(1)`; on each lane the i-th run follows the i-th send (a
/// worker runs its chunks in the order sent), and runs are monotone and do not overlap. The
/// records are there as soon as `map` returns.
fn every_chunk_is_sent_then_run() {
    let recorder = roomy(CHUNKS);
    let pool = traced_pool(&recorder);
    let results = pool.map_chunked(square, 0..CHUNKS, 1);
    assert!(results.iter().all(Result::is_ok));
    let events = recorder.events();
    only_two_worker_lanes(&events);
    let count = |kind| events.iter().filter(|e| e.kind == kind).count() as u64;
    assert_eq!(
        (count(Kind::ChunkSent), count(Kind::ChunkRun)),
        (CHUNKS, CHUNKS)
    );
    for lane in [Lane::Worker(0), Lane::Worker(1)] {
        let sent = on(&events, lane, Kind::ChunkSent);
        let runs = on(&events, lane, Kind::ChunkRun);
        assert!(!runs.is_empty(), "{lane:?} ran nothing");
        assert_eq!(sent.len(), runs.len(), "{lane:?}");
        for (s, r) in sent.iter().zip(&runs) {
            assert!(
                s.start_ns <= r.start_ns,
                "{lane:?}: run before send: {s:?} {r:?}"
            );
        }
        runs_in_sequence(&runs);
    }
    assert_eq!(recorder.dropped(), 0);
    pool.join();
}

/// A recorder too small for the run keeps its first events, counts the rest as dropped, and
/// the pool neither hangs nor fails a task; it goes on working.
fn a_full_recorder_counts_the_rest() {
    const ROOM: usize = 10;
    let recorder = Arc::new(Recorder::with_capacity(ROOM));
    let pool = traced_pool(&recorder);
    let results = pool.map_chunked(square, 0..CHUNKS, 1);
    assert_eq!(results.len(), CHUNKS as usize);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(recorder.events().len(), ROOM);
    assert_eq!(recorder.dropped(), 2 * CHUNKS - ROOM as u64);
    assert_eq!(pool.apply(square, 9), Ok(81));
    assert_eq!(recorder.dropped(), 2 * CHUNKS - ROOM as u64 + 2);
    pool.join();
}

/// A pool built without a recorder records nothing anywhere (a traced pool's recorder next
/// to it gets only its own pool's events) and its answers carry no records: it receives
/// exactly one footer (a 1-byte kind, two 8-byte times, a 4-byte length) per chunk less than
/// the traced pool for the same map.
fn no_recorder_no_records() {
    let recorder = roomy(CHUNKS);
    let traced = traced_pool(&recorder);
    let plain = util::builder().workers(2).build().unwrap();
    let expected: Vec<_> = (0..CHUNKS).map(|x| Ok(x * x)).collect();
    assert_eq!(traced.map_chunked(square, 0..CHUNKS, 1), expected);
    let recorded = recorder.events().len();
    assert_eq!(recorded as u64, 2 * CHUNKS);
    assert_eq!(plain.map_chunked(square, 0..CHUNKS, 1), expected);
    assert_eq!(recorder.events().len(), recorded);
    const FOOTER: u64 = 1 + 8 + 8 + 4;
    let (traced_in, plain_in) = (traced.stats().bytes_in, plain.stats().bytes_in);
    assert_eq!(traced_in - plain_in, CHUNKS * FOOTER);
    traced.join();
    plain.join();
}

/// A worker killed mid-chunk fails that chunk and nothing else; tracing goes on: every chunk
/// answered has its `ChunkRun` (the killed one has none), each run follows a send on its
/// lane, runs per lane stay in sequence, and the replacement records on the lane of the
/// slot it fills (a later map runs a chunk on each of the two lanes).
fn killed_worker_keeps_tracing() {
    let recorder = roomy(2 * CHUNKS);
    let pool = traced_pool(&recorder);
    let results = pool.map_chunked(square_or_die, 0..CHUNKS, 1);
    for (x, result) in (0..CHUNKS).zip(&results) {
        match result {
            Err(TaskError::WorkerDied {
                status: ExitStatus::Signal(libc::SIGKILL),
                ..
            }) if x == VICTIM => {}
            Ok(y) if x != VICTIM => assert_eq!(*y, x * x),
            other => panic!("task {x}: {other:?}"),
        }
    }
    assert_eq!(pool.stats().workers_started, 3);
    let events = recorder.events();
    only_two_worker_lanes(&events);
    let runs = events.iter().filter(|e| e.kind == Kind::ChunkRun).count() as u64;
    let sent = events.iter().filter(|e| e.kind == Kind::ChunkSent).count() as u64;
    assert_eq!(runs, CHUNKS - 1);
    assert!(sent >= CHUNKS, "{sent} sends for {CHUNKS} chunks");
    for lane in [Lane::Worker(0), Lane::Worker(1)] {
        let sent = on(&events, lane, Kind::ChunkSent);
        let runs = on(&events, lane, Kind::ChunkRun);
        for (i, r) in runs.iter().enumerate() {
            let before = sent.iter().filter(|s| s.start_ns <= r.start_ns).count();
            assert!(before > i, "{lane:?}: run {i} has no send before it");
        }
        runs_in_sequence(&runs);
    }
    let mark = now_ns();
    // With nothing in flight, the first two chunks of a map go one to each slot.
    assert!(pool.map_chunked(square, 0..4, 1).iter().all(Result::is_ok));
    let later = recorder.events();
    for lane in [Lane::Worker(0), Lane::Worker(1)] {
        assert!(
            on(&later, lane, Kind::ChunkRun)
                .iter()
                .any(|r| r.start_ns > mark),
            "{lane:?} recorded no run after the replacement"
        );
    }
    pool.join();
}

fn main() {
    util::run_both(
        &[
            ("every_chunk_is_sent_then_run", every_chunk_is_sent_then_run),
            (
                "a_full_recorder_counts_the_rest",
                a_full_recorder_counts_the_rest,
            ),
            ("no_recorder_no_records", no_recorder_no_records),
            ("killed_worker_keeps_tracing", killed_worker_keeps_tracing),
        ],
        &[],
    );
}
