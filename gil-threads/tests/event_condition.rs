//! `Event` and `Condition`: waking, waiting with the GIL released, timeouts.

mod util;

use std::sync::Arc;
use std::time::Duration;

use gil_threads::{Condition, Event, GilCell, Policy, Timeout, WaitError};
use util::POLICIES;

/// Waiting threads.
const WAITERS: usize = 4;

/// `set` wakes every waiter, under every policy; waiting does not hold the GIL (the setter
/// needs it to run).
#[test]
fn event_wakes_all() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let event = Arc::new(Event::new());
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let event = Arc::clone(&event);
                interp.spawn(move |gil| event.wait(gil))
            })
            .collect();
        let setter = interp.spawn({
            let event = Arc::clone(&event);
            move |_gil| event.set()
        });
        assert_eq!(setter.join(), Ok(()));
        for w in waiters {
            assert_eq!(w.join(), Ok(()));
        }
        assert!(event.is_set());
        event.clear();
        assert!(!event.is_set());
    }
}

/// An event nobody sets times out, with and without a token.
#[test]
fn event_timeouts() {
    let interp = util::interpreter(Policy::Fair);
    let event = Event::new();
    assert_eq!(
        event.wait_timeout_blocking(Duration::from_millis(1)),
        Err(WaitError::Timeout)
    );
    interp
        .with_gil(|gil| {
            assert_eq!(
                event.wait_timeout(gil, Duration::from_millis(1)),
                Err(Timeout)
            )
        })
        .unwrap();
    event.set();
    assert_eq!(event.wait_timeout_blocking(Duration::ZERO), Ok(()));
}

/// A producer/consumer hand-off through a `Condition` and a `GilCell`, under every policy:
/// each of `WAITERS` consumers gets exactly one notification's worth of items.
#[test]
fn condition_hand_off() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let cond = Arc::new(Condition::new());
        let items = Arc::new(GilCell::new(interp.id(), Vec::<u32>::new()));
        let consumers: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (cond, items) = (Arc::clone(&cond), Arc::clone(&items));
                interp.spawn(move |gil| {
                    let mut guard = cond.acquire(gil);
                    loop {
                        if let Some(item) = items.borrow_mut(gil).unwrap().pop() {
                            return item;
                        }
                        guard.wait(gil);
                    }
                })
            })
            .collect();
        interp
            .with_gil(|gil| {
                for i in 0..WAITERS as u32 {
                    let guard = cond.acquire(gil);
                    items.borrow_mut(gil).unwrap().push(i);
                    guard.notify(1);
                    drop(guard);
                    gil.checkpoint();
                }
            })
            .unwrap();
        let mut got: Vec<u32> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..WAITERS as u32).collect::<Vec<_>>(), "{policy:?}");
    }
}

/// A condition nobody notifies times out, and the lock is held again afterwards.
#[test]
fn condition_timeouts() {
    let interp = util::interpreter(Policy::Fifo);
    let cond = Condition::new();
    let mut guard = cond.acquire_blocking().unwrap();
    assert_eq!(
        guard.wait_timeout_blocking(Duration::from_millis(1)),
        Err(WaitError::Timeout)
    );
    drop(guard);
    interp
        .with_gil(|gil| {
            let mut guard = cond.acquire(gil);
            assert_eq!(
                guard.wait_timeout(gil, Duration::from_millis(1)),
                Err(Timeout)
            );
            guard.notify_all(); // nobody waits: a no-op
        })
        .unwrap();
}
