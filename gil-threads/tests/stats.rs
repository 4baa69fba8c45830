//! The statistics add up: per-thread counters sum to the interpreter's, and the relations
//! between counters that the protocol implies hold; and they stay bounded by the live threads.

mod util;

use std::sync::Arc;

use gil_threads::{Event, Stats, ThreadId};
use util::POLICIES;

/// Threads in the run.
const THREADS: usize = 4;
/// Short threads started one after another in the bounded-memory test.
const SHORT_THREADS: u64 = 2_000;
/// Checkpoints per thread.
const CHECKPOINTS: usize = 20_000;
/// `allow_threads` calls per thread.
const RELEASES: usize = 200;

/// Under every policy, after a contended run: totals equal the sum over threads, every thread
/// took the GIL once per entry and once per return from `allow_threads` at least, the
/// switch number is the switches plus the first take, switches never exceed acquisitions, and forced switches never exceed drop requests.
#[test]
fn counters_add_up() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let ids: Vec<ThreadId> = {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    interp.spawn(|gil| {
                        for i in 0..CHECKPOINTS {
                            gil.checkpoint();
                            if i % (CHECKPOINTS / RELEASES) == 0 {
                                gil.allow_threads(|| ());
                            }
                        }
                        gil.current_thread().id
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        };
        let stats = interp.stats();
        assert_eq!(stats.sum_of_threads(), stats.interpreter, "{policy:?}");
        let totals = &stats.interpreter;
        // CPython's switch_number counts changes of holder: every switch, plus the first take.
        assert_eq!(stats.switch_number, totals.switches + 1);
        assert!(totals.switches <= totals.acquisitions);
        assert!(totals.forced_switches <= totals.drop_requests, "{totals:?}");
        assert!(totals.wait_max <= totals.wait_total);
        for id in ids {
            let t = stats.thread(id).expect("every thread is recorded");
            assert!(t.finished);
            let c = &t.counters;
            assert!(
                c.acquisitions >= 1 + RELEASES as u64 + c.forced_switches,
                "{c:?}"
            );
        }
    }
}

/// A thread is credited with at least the time it measured itself running under the GIL
/// (a structural bound, not a threshold), and appears with its name.
#[test]
fn hold_time_and_names() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    let done = Arc::new(Event::new());
    let done2 = Arc::clone(&done);
    let h = interp.thread_builder().name("holder").spawn(move |gil| {
        let start = std::time::Instant::now();
        for _ in 0..10_000 {
            gil.checkpoint();
        }
        let inside = start.elapsed();
        done2.set();
        (gil.current_thread().id, inside)
    });
    let (id, inside) = h.join().unwrap();
    let stats = interp.stats();
    let t = stats.thread(id).unwrap();
    assert_eq!(t.name.as_deref(), Some("holder"));
    assert!(t.counters.hold_total >= inside);
    assert!(done.is_set());
}

/// 2,000 short threads started and joined one after another leave only bounded per-thread
/// entries (none live, the last `RECENT_EXITS` listed) while the totals count all of them.
#[test]
fn exited_threads_are_folded_not_kept() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    for _ in 0..SHORT_THREADS {
        let live = interp
            .spawn(|gil| {
                gil.checkpoint();
                gil.stats().threads.len()
            })
            .join()
            .unwrap();
        assert_eq!(live, 1, "only the running thread has a live entry");
    }
    let stats = interp.stats();
    assert!(stats.threads.is_empty(), "{:?}", stats.threads);
    assert_eq!(stats.recently_exited.len(), Stats::RECENT_EXITS);
    assert_eq!(stats.exited_threads, SHORT_THREADS);
    // Alone in the interpreter, each thread took the GIL exactly once.
    assert_eq!(stats.interpreter.acquisitions, SHORT_THREADS);
    assert_eq!(stats.exited, stats.interpreter);
    assert_eq!(stats.sum_of_threads(), stats.interpreter);
}

/// `switch_number` counts changes of holder, as CPython's does: a thread alone in the
/// interpreter that releases and retakes the GIL, or yields with nobody waiting, does not
/// move it.
#[test]
fn switch_number_counts_changes_of_holder_only() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let moved = interp
            .spawn(|gil| {
                let before = gil.switch_number();
                for _ in 0..10 {
                    gil.allow_threads(|| ());
                    gil.yield_now();
                    gil.checkpoint();
                }
                gil.switch_number() - before
            })
            .join();
        assert_eq!(moved, Ok(0), "{policy:?}");
        let stats = interp.stats();
        assert_eq!(stats.interpreter.acquisitions, 11, "{policy:?}");
        assert_eq!(stats.switch_number, 1, "{policy:?}: the first take only");
    }
}
