//! A caller's `Duration` never panics: every timed method accepts `Duration::MAX` (and any
//! duration too far away for an `Instant`) as "wait without a deadline", and a switch interval
//! of `Duration::MAX` is simply an interval that never elapses.
//!
//! Each interpreter-thread test makes the call take its slow path (the object is busy when
//! the call starts, and the thread is seen to have released the GIL inside it) before the
//! wait is ended, so the deadline arithmetic is really reached.

mod util;

use std::sync::Arc;

use gil_threads::{Condition, Event, GilCell, Lock, PutError, Queue, RLock};
use util::{HANG_GUARD, POLICIES, spawn_until_released};

/// The duration no `Instant` can be added to.
const FOREVER: std::time::Duration = std::time::Duration::MAX;

/// Turns each of two threads takes in the interval test.
const TURNS: u64 = 200;

/// `Lock` and `RLock` `acquire_timeout(MAX)` wait for a held lock and get it.
#[test]
fn lock_acquire_timeout_max_waits_without_deadline() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    let lock = Arc::new(Lock::new());
    let held = lock.acquire_blocking().unwrap();
    let lock2 = Arc::clone(&lock);
    let waiter = spawn_until_released(&interp, move |gil| {
        lock2.acquire_timeout(gil, FOREVER).map(drop)
    });
    drop(held);
    assert_eq!(waiter.join(), Ok(Ok(())));

    let rlock = Arc::new(RLock::new());
    let held = rlock.acquire_blocking().unwrap();
    let rlock2 = Arc::clone(&rlock);
    let waiter = spawn_until_released(&interp, move |gil| {
        rlock2.acquire_timeout(gil, FOREVER).map(drop)
    });
    drop(held);
    assert_eq!(waiter.join(), Ok(Ok(())));
}

/// `Event::wait_timeout(MAX)` waits for the flag.
#[test]
fn event_wait_timeout_max_waits_without_deadline() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    let event = Arc::new(Event::new());
    let event2 = Arc::clone(&event);
    let waiter = spawn_until_released(&interp, move |gil| event2.wait_timeout(gil, FOREVER));
    event.set();
    assert_eq!(waiter.join(), Ok(Ok(())));
}

/// A `Condition::wait_timeout(MAX)` waiter is woken by the first `notify(1)`, and a waiter
/// queued behind it by the second: no ticket is left behind to swallow a notification.
#[test]
fn condition_wait_timeout_max_keeps_notifications() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    let cond = Arc::new(Condition::new());
    let woken = Arc::new(GilCell::new(interp.id(), 0u32));
    let (cond1, woken1) = (Arc::clone(&cond), Arc::clone(&woken));
    let timed = spawn_until_released(&interp, move |gil| {
        let mut guard = cond1.acquire(gil);
        let waited = guard.wait_timeout(gil, FOREVER);
        drop(guard);
        *woken1.borrow_mut(gil).unwrap() += 1;
        waited
    });
    let cond2 = Arc::clone(&cond);
    let plain = spawn_until_released(&interp, move |gil| {
        let mut guard = cond2.acquire(gil);
        guard.wait(gil);
    });
    // The timed waiter held the condition's lock when it released the GIL, and registers its
    // ticket before releasing that lock, which we can only take after that: this notify
    // reaches it, the oldest waiter.
    cond.acquire_blocking().unwrap().notify(1);
    assert_eq!(timed.join(), Ok(Ok(())), "the oldest waiter was notified");
    // The other may not have registered yet (a notify with nobody waiting is lost, as in
    // Python): notify until it is done.
    let start = std::time::Instant::now();
    while !plain.is_finished() {
        assert!(start.elapsed() < HANG_GUARD, "the second waiter never woke");
        cond.acquire_blocking().unwrap().notify(1);
        std::thread::yield_now();
    }
    assert_eq!(plain.join(), Ok(()));
    assert_eq!(interp.with_gil(|gil| *woken.borrow(gil).unwrap()), Ok(1));
}

/// `Queue::put_timeout`, `get_timeout` and `join_timeout` with `MAX` wait for room, an item,
/// and the last `task_done`.
#[test]
fn queue_timeouts_max_wait_without_deadline() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    let queue = Arc::new(Queue::bounded(1));
    queue.put_blocking(1).unwrap();
    let q = Arc::clone(&queue);
    let putter = spawn_until_released(&interp, move |gil| q.put_timeout(gil, 2, FOREVER).is_ok());
    assert_eq!(queue.get_blocking(), Ok(1));
    assert_eq!(putter.join(), Ok(true));
    assert_eq!(queue.get_blocking(), Ok(2));

    let q = Arc::clone(&queue);
    let getter = spawn_until_released(&interp, move |gil| q.get_timeout(gil, FOREVER));
    queue.put_blocking(3).unwrap();
    assert_eq!(getter.join(), Ok(Ok(3)));

    // Three items put, none marked done yet.
    let q = Arc::clone(&queue);
    let joiner = spawn_until_released(&interp, move |gil| q.join_timeout(gil, FOREVER));
    for _ in 0..3 {
        queue.task_done().unwrap();
    }
    assert_eq!(joiner.join(), Ok(Ok(())));
}

/// The `*_timeout_blocking` calls, for threads outside the interpreter, accept `MAX` too.
#[test]
fn blocking_timeouts_max_wait_without_deadline() {
    let lock = Lock::new();
    assert!(lock.acquire_timeout_blocking(FOREVER).is_ok());
    let rlock = RLock::new();
    assert!(rlock.acquire_timeout_blocking(FOREVER).is_ok());
    let event = Event::new();
    event.set();
    assert_eq!(event.wait_timeout_blocking(FOREVER), Ok(()));
    let queue = Queue::bounded(1);
    assert_eq!(queue.put_timeout_blocking(5, FOREVER), Ok(()));
    assert_eq!(queue.get_timeout_blocking(FOREVER), Ok(5));
    assert!(matches!(
        queue.put_timeout_blocking(6, FOREVER),
        Ok(()) | Err(PutError::Full(_))
    ));

    let cond = Arc::new(Condition::new());
    let cond2 = Arc::clone(&cond);
    let waiter = std::thread::spawn(move || {
        let mut guard = cond2.acquire_blocking().unwrap();
        guard.wait_timeout_blocking(FOREVER)
    });
    // Notify until the waiter has registered and been woken (a notify with nobody waiting
    // is lost, as in Python).
    let start = std::time::Instant::now();
    while !waiter.is_finished() {
        assert!(start.elapsed() < HANG_GUARD, "the waiter never woke");
        cond.acquire_blocking().unwrap().notify(1);
        std::thread::yield_now();
    }
    assert_eq!(waiter.join().unwrap(), Ok(()));
}

/// With a switch interval of `Duration::MAX` (accepted: only zero is refused), two threads
/// that take strict turns with `yield_now` under every policy hand the GIL over and finish:
/// a waiter parked for "one interval" waits without a deadline instead of panicking while
/// queued (which left the GIL to be handed to a dead thread).
#[test]
fn switch_interval_max_never_strands_a_waiter() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        interp.set_switch_interval(FOREVER).unwrap();
        let turn = Arc::new(GilCell::new(interp.id(), 0u64));
        let players: Vec<_> = (0..2u64)
            .map(|me| {
                let turn = Arc::clone(&turn);
                interp.spawn(move |gil| {
                    let start = std::time::Instant::now();
                    loop {
                        let now = *turn.borrow(gil).unwrap();
                        if now >= 2 * TURNS {
                            return;
                        }
                        if now % 2 == me {
                            *turn.borrow_mut(gil).unwrap() += 1;
                        }
                        assert!(start.elapsed() < HANG_GUARD, "{policy:?}: stuck");
                        gil.yield_now();
                    }
                })
            })
            .collect();
        for player in players {
            assert_eq!(player.join(), Ok(()), "{policy:?}");
        }
        assert_eq!(
            interp.with_gil(|gil| *turn.borrow(gil).unwrap()),
            Ok(2 * TURNS)
        );
    }
}
