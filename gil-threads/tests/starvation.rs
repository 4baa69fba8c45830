//! No starvation: a thread waiting for the GIL is eventually handed it, whoever holds it.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gil_threads::Interpreter;
use util::{HANG_GUARD, POLICIES};

/// Runs `hogs` threads that keep the GIL busy (through `hog`) until a newcomer thread gets
/// in; the newcomer must get in before the hang guard.
fn newcomer_gets_in(interp: &Interpreter, hogs: usize, hog: fn(&mut gil_threads::Gil)) {
    let arrived = Arc::new(AtomicBool::new(false));
    let hog_threads: Vec<_> = (0..hogs)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            interp.spawn(move |gil| {
                let start = std::time::Instant::now();
                while !arrived.load(Ordering::Relaxed) {
                    assert!(start.elapsed() < HANG_GUARD, "the newcomer starved");
                    hog(gil);
                }
            })
        })
        .collect();
    let newcomer_arrived = Arc::clone(&arrived);
    let newcomer = interp.spawn(move |_gil| newcomer_arrived.store(true, Ordering::Relaxed));
    newcomer.join().expect("newcomer");
    for h in hog_threads {
        h.join().expect("hog");
    }
}

/// A CPU-bound holder that only checkpoints is made to give way, under every policy.
#[test]
fn cpu_bound_holder_gives_way() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        newcomer_gets_in(&interp, 1, |gil| gil.checkpoint());
    }
}

/// Threads that keep returning from `allow_threads` (I/O-like, favoured by `IoPriority`)
/// do not starve a CPU-lane newcomer, under every policy.
#[test]
fn io_bound_threads_do_not_starve_a_newcomer() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        newcomer_gets_in(&interp, 2, |gil| {
            gil.allow_threads(|| ());
            for _ in 0..100 {
                gil.checkpoint();
            }
        });
    }
}
