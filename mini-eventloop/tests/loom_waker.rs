//! A loom model of the waker's cross-thread state: the remote ready queue and the "sleeping"
//! flag (`src/wake_state.rs`, compiled here against loom's primitives).
//!
//! Run it with:
//!
//! ```text
//! RUSTFLAGS="--cfg mini_eventloop_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p mini-eventloop --release --test loom_waker
//! ```
//!
//! Without the cfg this file compiles to nothing.

#![cfg(mini_eventloop_loom)]

/// The same names `src/shim.rs` exports, from loom, so `wake_state.rs` compiles unchanged.
mod shim {
    pub(crate) use loom::sync::atomic::{AtomicBool, Ordering};
    pub(crate) use loom::sync::{Mutex, MutexGuard};
}

#[allow(dead_code)]
#[path = "../src/wake_state.rs"]
mod wake_state;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use wake_state::{Pushed, WakeState};

/// Pushes `id` and counts a poke if the push says one is due.
fn remote_wake(state: &WakeState<u32>, pokes: &AtomicUsize, id: u32) {
    if state.push(id) == Pushed::QueuedMustPoke {
        pokes.fetch_add(1, Ordering::SeqCst);
    }
}

/// No lost wake-up: if the loop decides to block, the remote waker pokes it; if it does not
/// block, the name is in the queue. In every interleaving the loop finds the name.
#[test]
fn remote_wake_is_never_lost() {
    loom::model(|| {
        let state = Arc::new(WakeState::<u32>::new());
        let pokes = Arc::new(AtomicUsize::new(0));
        let remote = {
            let (state, pokes) = (state.clone(), pokes.clone());
            thread::spawn(move || remote_wake(&state, &pokes, 7))
        };
        let slept = state.prepare_sleep();
        remote.join().unwrap();
        if slept {
            assert_eq!(
                pokes.load(Ordering::SeqCst),
                1,
                "the loop slept and nobody poked it"
            );
        }
        state.woke();
        let mut got = Vec::new();
        state.drain_into(&mut got);
        assert_eq!(got, vec![7]);
    });
}

/// Two remote wakers racing: at most one poke is sent, exactly one if the loop slept.
#[test]
fn one_poke_for_concurrent_wakers() {
    loom::model(|| {
        let state = Arc::new(WakeState::<u32>::new());
        let pokes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|id| {
                let (state, pokes) = (state.clone(), pokes.clone());
                thread::spawn(move || remote_wake(&state, &pokes, id))
            })
            .collect();
        let slept = state.prepare_sleep();
        for t in threads {
            t.join().unwrap();
        }
        let pokes = pokes.load(Ordering::SeqCst);
        assert!(pokes <= 1, "{pokes} pokes for one sleep");
        if slept {
            assert_eq!(pokes, 1);
        }
        let mut got = Vec::new();
        state.drain_into(&mut got);
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
    });
}

/// After `close`, wakes are refused and nothing stays queued.
#[test]
fn wakes_after_close_are_no_ops() {
    loom::model(|| {
        let state = Arc::new(WakeState::<u32>::new());
        state.close();
        let remote = {
            let state = state.clone();
            thread::spawn(move || state.push(1))
        };
        assert_eq!(remote.join().unwrap(), Pushed::Closed);
        let mut got = Vec::new();
        state.drain_into(&mut got);
        assert!(got.is_empty());
    });
}
