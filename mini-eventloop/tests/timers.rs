//! Timers fire in deadline order and never before their deadline; cancelled timers are
//! removed; intervals tick on schedule without firing early.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mini_eventloop::{MissedTickBehavior, interval, sleep, sleep_until, spawn, stats, timeout};

/// 200 sleeps with shuffled deadlines: each wakes at or after its deadline ("now >=
/// deadline", not a timing assertion), and they complete in deadline order.
#[test]
fn timers_fire_in_order_and_never_early() {
    const TIMERS: u64 = 200;
    util::run(async {
        let base = Instant::now() + Duration::from_millis(2);
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..TIMERS {
            // A permutation of 0..TIMERS (7 is coprime to 200), 50 us apart.
            let slot = (i * 7) % TIMERS;
            let deadline = base + Duration::from_micros(50 * slot);
            let order = order.clone();
            handles.push(spawn(async move {
                sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "timer fired early");
                order.borrow_mut().push(slot);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let order = order.borrow();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "out of order: {order:?}"
        );
        assert_eq!(
            stats().timers_pending,
            1,
            "only the hang guard's timer is left"
        );
    });
}

/// Sub-millisecond sleeps complete and never early.
#[test]
fn short_sleeps_are_never_early() {
    util::run(async {
        for micros in [1, 10, 100, 250, 900] {
            let d = Duration::from_micros(micros);
            let start = Instant::now();
            sleep(d).await;
            assert!(start.elapsed() >= d);
        }
    });
}

/// A dropped sleep and a timeout whose future won leave no timer behind.
#[test]
fn cancelled_timers_are_removed() {
    util::run(async {
        mini_eventloop::yield_now().await; // the hang guard's timer is registered by now
        let before = stats().timers_pending;
        for _ in 0..1_000 {
            let r = timeout(Duration::from_secs(3600), async { 1 }).await;
            assert_eq!(r, Ok(1));
        }
        // A timeout whose future is pending for a while registers its timer, then wins.
        let r = timeout(Duration::from_secs(3600), sleep(Duration::from_micros(100))).await;
        assert!(r.is_ok());
        let long = spawn(sleep(Duration::from_secs(3600)));
        mini_eventloop::yield_now().await;
        assert_eq!(stats().timers_pending, before + 1);
        long.abort();
        let _ = long.await;
        assert_eq!(stats().timers_pending, before);
    });
}

/// Interval ticks are never early and their scheduled times advance by whole periods.
#[test]
fn interval_ticks_on_schedule() {
    util::run(async {
        let period = Duration::from_micros(300);
        let mut every = interval(period);
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let first = every.tick().await;
        let mut last = first;
        for _ in 0..10 {
            let t = every.tick().await;
            assert!(Instant::now() >= t, "tick fired early");
            assert!(t > last);
            let periods = (t - first).as_nanos() / period.as_nanos();
            assert_eq!((t - first).as_nanos(), periods * period.as_nanos());
            last = t;
        }
    });
}

/// After a stall, `Burst` catches up tick by tick; `Delay` restarts one period after now.
#[test]
fn interval_missed_tick_policies() {
    util::run(async {
        let period = Duration::from_micros(200);
        let mut burst = interval(period);
        burst.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let t0 = burst.tick().await;
        std::thread::sleep(period * 5); // a deliberate stall of the loop
        let t1 = burst.tick().await;
        assert_eq!(t1, t0 + period, "burst keeps the original schedule");

        let mut delay = interval(period);
        delay.set_missed_tick_behavior(MissedTickBehavior::Delay);
        delay.tick().await;
        std::thread::sleep(period * 5);
        let stalled_at = Instant::now();
        let late = delay.tick().await;
        let next = delay.tick().await;
        assert!(next >= late + period);
        assert!(next >= stalled_at);
    });
}
