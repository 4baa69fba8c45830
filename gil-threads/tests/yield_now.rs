//! `Gil::yield_now`: two threads that flip a turn and yield alternate strictly, under every
//! policy: after the start-up, every return from `yield_now` finds the turn is ours (no
//! spinning, no lost turn).

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use gil_threads::{Gil, GilCell, Interpreter, Policy};
use util::{HANG_GUARD, POLICIES};

/// Turns each thread takes.
const TURNS: u32 = 2_000;

/// What the two threads share: whose turn it is, and how many have arrived.
struct Shared {
    /// 0 or 1.
    turn: u8,
    /// Threads that reached the loop.
    arrived: u8,
}

/// One player: waits for the other to arrive, then takes `TURNS` turns.
fn play(gil: &mut Gil, me: u8, shared: &GilCell<Shared>) {
    shared.borrow_mut(gil).unwrap().arrived += 1;
    let start = std::time::Instant::now();
    // Start-up: the other thread may not be waiting yet, so a yield may return at once.
    while shared.borrow(gil).unwrap().arrived < 2 || shared.borrow(gil).unwrap().turn != me {
        assert!(start.elapsed() < HANG_GUARD);
        gil.yield_now();
    }
    for n in 0..TURNS {
        assert_eq!(
            shared.borrow(gil).unwrap().turn,
            me,
            "turn {n} was not ours"
        );
        shared.borrow_mut(gil).unwrap().turn = 1 - me;
        if n + 1 < TURNS || me == 0 {
            gil.yield_now();
        }
    }
}

/// Strict alternation under every policy.
#[test]
fn two_threads_alternate_strictly() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let shared = Arc::new(GilCell::new(
            interp.id(),
            Shared {
                turn: 0,
                arrived: 0,
            },
        ));
        let players: Vec<_> = (0..2u8)
            .map(|me| {
                let shared = Arc::clone(&shared);
                interp.spawn(move |gil| play(gil, me, &shared))
            })
            .collect();
        for p in players {
            p.join().unwrap_or_else(|e| panic!("{policy:?}: {e}"));
        }
    }
}

/// With nobody waiting, `yield_now` returns at once without a switch.
#[test]
fn alone_it_returns_at_once() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    interp
        .with_gil(|gil| {
            let before = gil.switch_number();
            for _ in 0..1_000 {
                gil.yield_now();
            }
            assert_eq!(gil.switch_number(), before);
        })
        .unwrap();
}

/// Rounds of the forced-switch-then-yield race below.
const RACE_ROUNDS: u32 = 2_000;

/// `Fair`, `IoPriority`: a thread D that drops the GIL for `allow_threads` while a drop
/// request is pending waits (forced switching) until the requester H has the GIL, then leaves
/// to run its blocking work; it will not take the GIL. If H yields at once, before D has left
/// that wait, H must not wait for D to take the GIL beside a free GIL: here D's blocking work
/// waits for H, so that would be a deadlock, which the hang guard turns into a failure. The
/// interleaving is a race (H must get in before D leaves its wait), so it is repeated; the
/// loom model `yield_beside_a_blocking_dropper` checks every interleaving.
#[test]
fn yield_right_after_a_forced_switch_out_of_allow_threads() {
    for policy in [Policy::Fair, Policy::IoPriority] {
        util::within_guard(move || {
            let interp = Interpreter::builder()
                .policy(policy)
                .switch_interval(Duration::from_micros(1))
                .build()
                .unwrap();
            let (to_d, d_rx) = mpsc::channel::<()>();
            let (to_h, h_rx) = mpsc::channel::<()>();
            let d = interp.spawn(move |gil| {
                for _ in 0..RACE_ROUNDS {
                    let asked = gil.stats().interpreter.drop_requests;
                    // H comes back from its blocking call and waits for the GIL.
                    to_h.send(()).unwrap();
                    // Compute without a checkpoint until H's request is pending (a bounded
                    // count of looks: this only makes the race likely, it decides nothing).
                    for _ in 0..SPIN_LOOKS {
                        if gil.stats().interpreter.drop_requests != asked {
                            break;
                        }
                    }
                    gil.allow_threads(|| d_rx.recv().unwrap());
                }
            });
            let h = interp.spawn(move |gil| {
                for _ in 0..RACE_ROUNDS {
                    gil.allow_threads(|| h_rx.recv().unwrap());
                    gil.yield_now();
                    to_d.send(()).unwrap();
                }
            });
            d.join().unwrap();
            h.join().unwrap();
        });
    }
}

/// How many times a thread in the race above looks for a pending request before going on.
const SPIN_LOOKS: u32 = 2_000;

/// Rounds of the returner's yield below.
const RETURNER_ROUNDS: u32 = 500;

/// `IoPriority`: a thread back from `allow_threads` is handed the GIL by the CPU-bound holder,
/// which then waits to take it back (polling for it first if the returner was still polling:
/// `DROPPER_POLL`). That holder is waiting for the GIL, so the returner's `yield_now` must let
/// it run: the GIL changes hands across every yield. (It once returned at once during the
/// dropper's poll, which no count of waiters included.)
#[test]
fn a_returner_yields_to_the_cpu_thread_that_handed_it_the_gil() {
    util::within_guard(|| {
        let interp = util::interpreter(Policy::IoPriority);
        // Checkpoints the CPU thread has passed, holding the GIL.
        let passed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (passed_c, stop_c) = (Arc::clone(&passed), Arc::clone(&stop));
        let cpu = interp.spawn(move |gil| {
            while !stop_c.load(Ordering::Relaxed) {
                passed_c.fetch_add(1, Ordering::SeqCst);
                gil.checkpoint();
            }
        });
        let returner = interp.spawn(move |gil| {
            // Stops the CPU thread however this one ends, so that a failure cannot hang.
            let _stop = StopOnDrop(stop);
            let mut missed = 0;
            for _ in 0..RETURNER_ROUNDS {
                // Blocking work that lasts until the CPU thread holds the GIL, so that the
                // return is a hand-off from it (from then on it wants the GIL whenever it does
                // not hold it).
                gil.allow_threads(|| {
                    let seen = passed.load(Ordering::SeqCst);
                    while passed.load(Ordering::SeqCst) == seen {
                        std::hint::spin_loop();
                    }
                });
                let before = gil.switch_number();
                gil.yield_now();
                missed += u32::from(gil.switch_number() == before);
            }
            missed
        });
        assert_eq!(returner.join(), Ok(0), "yields that let nobody run");
        cpu.join().unwrap();
    });
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
