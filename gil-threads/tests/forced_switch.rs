//! Forced switching: a thread that drops the GIL on request cannot take it straight back.
//!
//! Proved structurally, not by timing: every change of holder increments `switch_number`. If
//! a checkpoint dropped the GIL and the dropper retook it at once, `switch_number` would not
//! move across that checkpoint; forced switching means another thread took it in between, so
//! whenever it moves it grows by at least 2 (to the other thread and back). Releasing through
//! `allow_threads` with a request pending is a forced switch too, as in CPython's `drop_gil`.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gil_threads::{GilCell, Policy};
use util::{HANG_GUARD, POLICIES};

/// Rounds of "compute without a checkpoint until asked, then block briefly".
const BLOCKING_ROUNDS: u64 = 20;

/// How many forced drops the observed thread must see.
const FORCED_DROPS: u64 = 100;

/// Under every policy, every checkpoint that gave the GIL up saw another thread take it
/// before the dropper retook it.
#[test]
fn dropper_never_retakes_at_once() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let stop = Arc::new(AtomicBool::new(false));
        let rival_stop = Arc::clone(&stop);
        let rival = interp.spawn(move |gil| {
            while !rival_stop.load(Ordering::Relaxed) {
                gil.checkpoint();
            }
        });
        let observed = interp.spawn(move |gil| {
            let me = gil.current_thread().id;
            let start = std::time::Instant::now();
            let mut drops = 0u64;
            while drops < FORCED_DROPS {
                assert!(start.elapsed() < HANG_GUARD, "too few switches");
                let before = gil.switch_number();
                gil.checkpoint();
                let after = gil.switch_number();
                if after != before {
                    assert!(after - before >= 2, "the dropper retook the GIL at once");
                    drops += 1;
                }
            }
            let mine = gil.stats().thread(me).expect("registered").counters.clone();
            assert!(mine.forced_switches >= FORCED_DROPS, "{mine:?}");
            stop.store(true, Ordering::Relaxed);
        });
        observed.join().expect("observed thread");
        rival.join().expect("rival thread");
    }
}

/// Under `Fair` and `IoPriority`, a holder that never reaches a checkpoint but releases the
/// GIL through `allow_threads` while a drop request is pending lets the requester run before
/// it gets the GIL back (CPython's `drop_gil` forces the switch there too), instead of
/// retaking it at once and starving the requester.
#[test]
fn allow_threads_with_a_request_pending_is_a_forced_switch() {
    for policy in [Policy::Fair, Policy::IoPriority] {
        let interp = util::interpreter(policy);
        let ran = Arc::new(GilCell::new(interp.id(), 0u64));
        let holder = interp.spawn(move |gil| {
            for round in 0..BLOCKING_ROUNDS {
                let ran2 = Arc::clone(&ran);
                let requests = gil.stats().interpreter.drop_requests;
                // Waits for the GIL this thread holds, and asks for it after an interval.
                let _waiter = gil.spawn(move |gil| *ran2.borrow_mut(gil).unwrap() += 1);
                let start = std::time::Instant::now();
                while gil.stats().interpreter.drop_requests == requests {
                    assert!(start.elapsed() < HANG_GUARD, "{policy:?}: nobody asked");
                    std::hint::spin_loop();
                }
                gil.allow_threads(|| ());
                assert_eq!(*ran.borrow(gil).unwrap(), round + 1, "{policy:?}: starved");
            }
        });
        assert_eq!(holder.join(), Ok(()), "{policy:?}");
    }
}
