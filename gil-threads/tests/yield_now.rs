//! `Gil::yield_now`: two threads that flip a turn and yield alternate strictly, under every
//! policy: after the start-up, every return from `yield_now` finds the turn is ours (no
//! spinning, no lost turn).

mod util;

use std::sync::Arc;

use gil_threads::{Gil, GilCell};
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
