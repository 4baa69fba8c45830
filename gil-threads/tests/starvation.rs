//! No starvation: a thread waiting for the GIL is eventually handed it, whoever holds it.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

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

/// Echo rounds the pair may complete, after the newcomer is spawned, before the newcomer must
/// be in: the fix lets it in after about one switch interval (tens of rounds); starvation let
/// the pair run thousands of rounds or for ever.
const ECHO_ROUNDS_BOUND: u64 = 2_000;

/// Echo rounds after which the pair stops anyway, so that a starved newcomer gets in and the
/// test fails on the count instead of hanging.
const ECHO_ROUNDS_CAP: u64 = 20_000;

/// How many times an echo thread looks for the other's request before blocking anyway.
const ECHO_LOOKS: u32 = 2_000;

/// Two echo threads ping-ponging through blocking `allow_threads` reads, with no checkpoint
/// in between (read, write, handle until the other has asked, read), keep returning from
/// I/O; under `IoPriority` each hands the GIL straight to the other. A CPU-bound newcomer
/// must still get in, under every policy, within `ECHO_ROUNDS_BOUND` echo rounds of being
/// spawned (a count, not a time: the pair's rounds are what would starve it).
#[test]
fn an_echo_pair_does_not_starve_a_newcomer() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let arrived = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let (to_x, x_rx) = mpsc::channel::<()>();
        let (to_y, y_rx) = mpsc::channel::<()>();
        let (warm_tx, warm_rx) = mpsc::channel::<()>();
        let echo: Vec<_> = [(to_y, x_rx, true), (to_x, y_rx, false)]
            .into_iter()
            .map(|(to_other, my_rx, mut holds_message)| {
                let (arrived, rounds, warm_tx) =
                    (Arc::clone(&arrived), Arc::clone(&rounds), warm_tx.clone());
                interp.spawn(move |gil| {
                    loop {
                        if !holds_message {
                            // "read": the other thread's write, or it has stopped.
                            if gil
                                .allow_threads(|| my_rx.recv_timeout(HANG_GUARD))
                                .is_err()
                            {
                                return;
                            }
                        }
                        holds_message = false;
                        let done = rounds.fetch_add(1, Ordering::Relaxed) + 1;
                        if done == 100 {
                            let _ = warm_tx.send(());
                        }
                        if arrived.load(Ordering::Relaxed) || done >= ECHO_ROUNDS_CAP + 100 {
                            // Wake the other so that it stops too.
                            let _ = to_other.send(());
                            return;
                        }
                        let asked = gil.stats().interpreter.drop_requests;
                        let _ = to_other.send(()); // "write"
                        // Handle the request without a checkpoint until the other has asked
                        // for the GIL (a bounded count of looks: pacing only).
                        for _ in 0..ECHO_LOOKS {
                            if gil.stats().interpreter.drop_requests != asked {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        drop(warm_tx);
        // The pair is going: 100 rounds done.
        warm_rx
            .recv_timeout(HANG_GUARD)
            .expect("the echo pair never got going");
        let spawned_at = rounds.load(Ordering::Relaxed);
        let (a, r) = (Arc::clone(&arrived), Arc::clone(&rounds));
        let newcomer = interp.spawn(move |_gil| {
            a.store(true, Ordering::Relaxed);
            r.load(Ordering::Relaxed)
        });
        let got_in_at = newcomer.join().expect("newcomer");
        for e in echo {
            e.join().expect("echo thread");
        }
        let waited = got_in_at.saturating_sub(spawned_at);
        assert!(
            waited < ECHO_ROUNDS_BOUND,
            "{policy:?}: the newcomer waited through {waited} echo rounds"
        );
    }
}
