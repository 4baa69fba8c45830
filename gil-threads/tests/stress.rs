//! A seeded randomized stress test: 8 threads under each policy mix checkpoints,
//! `yield_now`, `allow_threads`, timed waits of random length (zero, 1 µs, 1 ms and
//! `Duration::MAX`) on a lock, a condition, an event and a queue, and injected panics. Every
//! wait has a defined end: a lock is only ever held for a few steps, a notifier thread keeps
//! notifying the condition (and sets the event once) until every worker is done, and a
//! worker only waits for an item after putting one (so the queue can never stay empty while
//! someone waits for it). Afterwards every thread has been joined, no call panicked except
//! the injected ones, the GIL can be taken, and a `GilCell` counter lost no update.
//!
//! The seed is printed on failure; set `GIL_STRESS_SEED` to replay one.

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gil_threads::{Condition, Event, Gil, GilCell, Interpreter, Lock, Policy, Queue};
use util::{HANG_GUARD, POLICIES, Rng};

/// Worker threads per policy.
const WORKERS: u64 = 8;
/// Operations per worker.
const OPS: u64 = 1_000;
/// The notifier's round at which it sets the event.
const EVENT_ROUND: u64 = 50;
/// The timeouts the waits draw from.
const TIMEOUTS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_micros(1),
    Duration::from_millis(1),
    Duration::MAX,
];
/// The payload of an injected panic.
const INJECTED: &str = "injected by the stress test";

/// What the threads share.
struct Shared {
    /// Incremented by read, spin, write under the GIL: a lost update shows a second holder.
    counter: GilCell<u64>,
    lock: Lock,
    cond: Condition,
    event: Event,
    queue: Queue<u64>,
    /// Workers done.
    finished: AtomicUsize,
}

/// What one worker did.
#[derive(Debug, Default)]
struct Tally {
    increments: u64,
    injected: u64,
}

/// One worker's random operations.
fn worker(gil: &mut Gil, shared: &Shared, rng: &mut Rng) -> Tally {
    let mut tally = Tally::default();
    for _ in 0..OPS {
        let timeout = TIMEOUTS[rng.below(TIMEOUTS.len() as u64) as usize];
        let forever = timeout == Duration::MAX;
        match rng.below(9) {
            0 | 1 => {
                let c = shared.counter.borrow_mut(gil).unwrap();
                let read = *c;
                for _ in 0..rng.below(50) {
                    std::hint::spin_loop();
                }
                *c = read + 1;
                tally.increments += 1;
                gil.checkpoint();
            }
            2 => gil.yield_now(),
            3 => gil.allow_threads(|| {
                for _ in 0..rng.below(200) {
                    std::hint::spin_loop();
                }
            }),
            4 => match shared.lock.acquire_timeout(gil, timeout) {
                Ok(held) => {
                    gil.checkpoint();
                    drop(held);
                }
                Err(_) => assert!(!forever, "a lock wait without deadline timed out"),
            },
            5 => {
                let mut guard = shared.cond.acquire(gil);
                let woken = guard.wait_timeout(gil, timeout);
                assert!(!forever || woken.is_ok(), "a condition wait timed out");
            }
            6 => {
                let set = shared.event.wait_timeout(gil, timeout);
                assert!(!forever || set.is_ok(), "an event wait timed out");
            }
            7 => {
                if shared.queue.put_timeout(gil, 1, timeout).is_ok() {
                    // This worker's own item is there or was taken by a worker that put one.
                    let got = shared.queue.get_timeout(gil, timeout);
                    assert!(!forever || got.is_ok(), "a queue wait timed out");
                    if got.is_ok() {
                        shared.queue.task_done().unwrap();
                    }
                }
            }
            _ => {
                tally.injected += 1;
                let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                    if rng.below(2) == 0 {
                        gil.allow_threads(|| panic::panic_any(INJECTED));
                    } else {
                        let _held = shared.lock.acquire(gil);
                        panic::panic_any(INJECTED);
                    }
                }));
                let payload = caught.expect_err("the injected panic");
                assert_eq!(payload.downcast_ref::<&str>(), Some(&INJECTED));
            }
        }
    }
    // Drain what this worker's failed gets left behind, so that `unfinished` can reach zero.
    while shared.queue.try_get().is_some() {
        shared.queue.task_done().unwrap();
    }
    shared.finished.fetch_add(1, Ordering::SeqCst);
    tally
}

/// Notifies the condition (and sets the event once) until every worker is done.
fn notifier(gil: &mut Gil, shared: &Shared) {
    let start = std::time::Instant::now();
    let mut round = 0u64;
    while shared.finished.load(Ordering::SeqCst) < WORKERS as usize {
        assert!(start.elapsed() < HANG_GUARD, "the workers never finished");
        shared.cond.acquire(gil).notify_all();
        round += 1;
        if round == EVENT_ROUND {
            shared.event.set();
        }
        gil.allow_threads(std::thread::yield_now);
    }
}

/// One run under `policy`.
fn run(policy: Policy, seed: u64) {
    let interp: Interpreter = util::interpreter(policy);
    let shared = Arc::new(Shared {
        counter: GilCell::new(interp.id(), 0),
        lock: Lock::new(),
        cond: Condition::new(),
        event: Event::new(),
        queue: Queue::bounded(WORKERS as usize),
        finished: AtomicUsize::new(0),
    });
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let shared = Arc::clone(&shared);
            let mut rng = Rng::new(seed ^ (i + 1).wrapping_mul(0x9E37_79B9));
            interp.spawn(move |gil| worker(gil, &shared, &mut rng))
        })
        .collect();
    let shared2 = Arc::clone(&shared);
    let notifier = interp.spawn(move |gil| notifier(gil, &shared2));
    let mut expected = 0;
    for w in workers {
        let tally = w
            .join()
            .expect("a worker panicked beyond the injected panics");
        expected += tally.increments;
    }
    notifier.join().expect("the notifier");
    let counted = interp.with_gil(|gil| *shared.counter.borrow(gil).unwrap());
    assert_eq!(counted, Ok(expected), "an update was lost");
    assert!(
        interp.stats().threads.is_empty(),
        "a thread still holds a record"
    );
    assert_eq!(shared.queue.unfinished_tasks(), 0);
    assert!(!shared.lock.is_locked());
    assert_eq!(interp.shutdown(), Ok(()));
}

/// Every policy, with one seed, reported if the run fails.
#[test]
fn random_mixes_keep_every_invariant() {
    let seed = std::env::var("GIL_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    // Injected panics are expected: keep them out of the output.
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&INJECTED) {
            default_hook(info);
        }
    }));
    for policy in POLICIES {
        let outcome = panic::catch_unwind(|| run(policy, seed));
        if let Err(payload) = outcome {
            eprintln!("stress test failed under {policy:?}; replay with GIL_STRESS_SEED={seed}");
            panic::resume_unwind(payload);
        }
    }
}
