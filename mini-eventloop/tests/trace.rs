//! With the `trace` feature and a recorder (`Builder::recorder`): a `TaskPoll` span on
//! `Lane::Task(n)` for every poll (the `block_on` future is `Task(0)`, spawned tasks 1, 2, …
//! never reused), a `PollerWait` span on `Lane::Loop` for every wait that may block; all of
//! them on the loop's one thread, so they never overlap. Without a recorder, nothing.

mod util;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mini_eventloop::trace::{Event, Kind, Lane, Recorder, now_ns};
use mini_eventloop::{Runtime, sleep, spawn, timeout, yield_now};

/// Room for every event of these tests (each records a few hundred at most).
const CAPACITY: usize = 100_000;
/// Tasks of the interleaving workload.
const TASKS: u64 = 3;
/// Sleep-then-yield rounds of each task.
const ROUNDS: usize = 5;

/// A runtime recording into a fresh recorder of `capacity` events.
fn traced(capacity: usize) -> (Runtime, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::with_capacity(capacity));
    let rt = Runtime::builder()
        .recorder(recorder.clone())
        .build()
        .expect("runtime");
    (rt, recorder)
}

/// `TASKS` tasks that each sleep and yield `ROUNDS` times, on `rt`.
fn sleep_and_yield(rt: &Runtime) {
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                spawn(async {
                    for _ in 0..ROUNDS {
                        sleep(Duration::from_millis(1)).await;
                        yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            timeout(util::HANG_GUARD, h)
                .await
                .expect("test hung")
                .unwrap();
        }
    });
}

/// The events of `kind` on `lane`, in recorded order.
fn on_lane(events: &[Event], lane: Lane, kind: Kind) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.lane == lane && e.kind == kind)
        .copied()
        .collect()
}

/// Asserts that `spans`, in the order given, never overlap: each ends no earlier than it starts
/// and starts no earlier than the previous one ended.
#[track_caller]
fn assert_in_time_order<'a>(spans: impl IntoIterator<Item = &'a Event>, what: &str) {
    let mut previous: Option<&Event> = None;
    for e in spans {
        assert!(
            e.start_ns <= e.end_ns,
            "{what}: ends before it starts: {e:?}"
        );
        if let Some(p) = previous {
            assert!(
                p.end_ns <= e.start_ns,
                "{what}: overlapping or out of order: {p:?} then {e:?}"
            );
        }
        previous = Some(e);
    }
}

/// Three tasks that sleep and yield are each polled several times, their polls interleave
/// (each task's polls begin before the others' end), and no two spans of the loop's thread
/// overlap: in recorded order each one starts after the previous one ended.
#[test]
fn three_tasks_interleave_on_one_thread_without_overlap() {
    let (rt, recorder) = traced(CAPACITY);
    sleep_and_yield(&rt);
    let events = recorder.events();
    assert_eq!(recorder.dropped(), 0);
    assert_in_time_order(&events, "the loop's thread");
    let polls: Vec<Vec<Event>> = (1..=TASKS)
        .map(|n| on_lane(&events, Lane::Task(n), Kind::TaskPoll))
        .collect();
    for (n, task) in polls.iter().enumerate() {
        // Every round yields once, so it takes at least one poll besides the first.
        assert!(
            task.len() > ROUNDS,
            "task {} polled {} times",
            n + 1,
            task.len()
        );
    }
    for a in &polls {
        for b in &polls {
            assert!(
                a[0].start_ns < b[b.len() - 1].start_ns || std::ptr::eq(a, b),
                "one task's polls all came after another's: not interleaved"
            );
        }
    }
    assert!(
        !on_lane(&events, Lane::Task(0), Kind::TaskPoll).is_empty(),
        "the block_on future is Task(0)"
    );
}

/// On every lane, spans are in time order: each ends no earlier than it starts and starts no
/// earlier than the previous one on its lane ended.
#[test]
fn spans_are_monotone_per_lane() {
    let (rt, recorder) = traced(CAPACITY);
    sleep_and_yield(&rt);
    let events = recorder.events();
    let lanes: BTreeSet<Lane> = events.iter().map(|e| e.lane).collect();
    assert!(lanes.len() > TASKS as usize, "lanes: {lanes:?}");
    for lane in lanes {
        assert_in_time_order(
            events.iter().filter(|e| e.lane == lane),
            &format!("{lane:?}"),
        );
    }
}

/// While every task sleeps the loop waits in the poller, and those waits are recorded between
/// the tasks' polls: on the loop lane, never overlapping a poll.
#[test]
fn poller_waits_appear_between_polls_while_tasks_sleep() {
    let (rt, recorder) = traced(CAPACITY);
    sleep_and_yield(&rt);
    let events = recorder.events();
    let is_task_poll = |e: &Event| e.kind == Kind::TaskPoll && e.lane != Lane::Task(0);
    let first_poll = events.iter().position(is_task_poll).expect("a task poll");
    let last_poll = events.iter().rposition(is_task_poll).expect("a task poll");
    let waits_between = events[first_poll..last_poll]
        .iter()
        .filter(|e| e.kind == Kind::PollerWait)
        .count();
    // Every one of the TASKS * ROUNDS sleeps leaves nothing ready: a wait each, unless the
    // machine stalled past a sleep's end before the loop looked (a few may, not all).
    assert!(waits_between > 0, "no poller wait among the polls");
    for e in events.iter().filter(|e| e.kind == Kind::PollerWait) {
        assert_eq!(e.lane, Lane::Loop);
    }
    assert!(
        events
            .iter()
            .all(|e| e.kind == Kind::TaskPoll || e.kind == Kind::PollerWait),
        "the loop records only polls and waits"
    );
}

/// Busy ticks look at I/O with a zero timeout, which is not a wait: a task that only yields
/// (200 times, so the loop turns between ticks of 61 polls) leaves no `PollerWait` at all.
#[test]
fn busy_ticks_record_no_poller_wait() {
    let (rt, recorder) = traced(CAPACITY);
    rt.block_on(async {
        spawn(async {
            for _ in 0..200 {
                yield_now().await;
            }
        })
        .await
        .unwrap();
    });
    assert!(
        rt.stats().loop_iterations >= 3,
        "the loop turned between ticks"
    );
    let events = recorder.events();
    assert!(
        events.iter().all(|e| e.kind == Kind::TaskPoll),
        "{events:?}"
    );
    assert!(on_lane(&events, Lane::Task(1), Kind::TaskPoll).len() > 200);
}

/// A poll's span encloses the work the poll did: clock readings taken inside the task's
/// single poll fall within its `TaskPoll` span.
#[test]
fn a_poll_span_encloses_the_work_of_the_poll() {
    let (rt, recorder) = traced(CAPACITY);
    let inside = Rc::new(Cell::new((0, 0)));
    let seen = inside.clone();
    rt.block_on(async move {
        spawn(async move {
            let first = now_ns();
            std::hint::black_box((0..10_000u64).sum::<u64>());
            seen.set((first, now_ns()));
        })
        .await
        .unwrap();
    });
    let (first, last) = inside.get();
    let polls = on_lane(&recorder.events(), Lane::Task(1), Kind::TaskPoll);
    assert_eq!(polls.len(), 1, "a task that never waits is polled once");
    assert!(polls[0].start_ns <= first && last <= polls[0].end_ns);
}

/// Lanes are never reused: 100 tasks, each finished before the next is spawned (so each gets
/// the slab slot the previous one freed), are lanes 1 to 100 in spawn order; the `block_on`
/// future stays `Task(0)` across calls, and numbering goes on across them.
#[test]
fn task_lanes_are_unique_for_the_runtime_life() {
    const SEQUENTIAL: u64 = 100;
    let (rt, recorder) = traced(CAPACITY);
    rt.block_on(async {
        for _ in 0..SEQUENTIAL {
            spawn(async { yield_now().await }).await.unwrap();
        }
    });
    rt.block_on(async { spawn(async {}).await.unwrap() });
    let mut first_polls = Vec::new();
    for e in recorder.events() {
        if let (Kind::TaskPoll, Lane::Task(n)) = (e.kind, e.lane) {
            if n != 0 && first_polls.last() != Some(&n) {
                first_polls.push(n);
            }
        }
    }
    assert_eq!(first_polls, (1..=SEQUENTIAL + 1).collect::<Vec<_>>());
    let roots = on_lane(&recorder.events(), Lane::Task(0), Kind::TaskPoll);
    assert!(roots.len() >= 2, "both block_on futures are Task(0)");
}

/// A runtime without a recorder records nothing, even on a thread where another runtime
/// records: the recorder belongs to the runtime it was given to, not to the thread.
#[test]
fn no_recorder_no_events() {
    let (recorded, recorder) = traced(CAPACITY);
    let plain = Runtime::new().expect("runtime");
    sleep_and_yield(&plain);
    assert!(recorder.events().is_empty());
    assert_eq!(recorder.dropped(), 0);
    sleep_and_yield(&recorded);
    assert!(!recorder.events().is_empty());
}

/// A full recorder drops (and counts) what does not fit; the loop runs on unchanged.
#[test]
fn a_full_recorder_drops_and_the_loop_goes_on() {
    let (rt, recorder) = traced(3);
    sleep_and_yield(&rt);
    assert_eq!(recorder.events().len(), 3);
    assert!(recorder.dropped() > 0);
}

/// A `block_on` future that panics mid-poll still has that poll recorded.
#[test]
fn a_panicking_poll_is_still_recorded() {
    let (rt, recorder) = traced(CAPACITY);
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { panic!("the root panics") })
    }));
    assert!(result.is_err());
    let roots = on_lane(&recorder.events(), Lane::Task(0), Kind::TaskPoll);
    assert_eq!(roots.len(), 1);
}
