//! Forced switching: a thread that drops the GIL on request cannot take it straight back.
//!
//! Proved structurally, not by timing: every GIL take increments `switch_number`. If a
//! checkpoint dropped the GIL and the dropper retook it at once, `switch_number` would grow
//! by exactly 1 across that checkpoint; forced switching means another thread took it in
//! between, so it must grow by at least 2.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use util::{HANG_GUARD, POLICIES};

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
