//! A `loom` model of the GIL's take / drop / forced-switch protocol, run with
//!
//! ```text
//! RUSTFLAGS="--cfg gil_threads_loom" LOOM_MAX_PREEMPTIONS=2 \
//!     CARGO_TARGET_DIR=target/loom cargo test -p gil-threads --release --test loom_gil
//! ```
//!
//! loom's timed waits never time out, so the switch interval is a modelled clock: a "ticker"
//! thread advances it with `ModelGil::tick`, and a waiter's wait counts as timed out exactly
//! when a tick happened while it slept. loom then explores every interleaving (up to the
//! preemption bound) and reports a data race on the guarded cell (mutual exclusion broken),
//! a deadlock (a lost wake-up, or a holder left waiting for a requester that is gone), or a
//! failed assertion.

#![cfg(gil_threads_loom)]

use gil_threads::Policy;
use gil_threads::gil::model::{ModelGil, ModelSeat};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// Checkpoints the holder passes in each model.
const CHECKPOINTS: usize = 2;

/// Data only the GIL holder may touch; loom flags any unsynchronised access.
struct Guarded(UnsafeCell<u64>);

// SAFETY: the model only touches the cell while holding the GIL; if the protocol failed to
// exclude, loom's `UnsafeCell` would report the race (that is what the model checks).
unsafe impl Sync for Guarded {}

impl Guarded {
    /// A read-modify-write, as interpreter code would do.
    fn bump(&self) {
        // SAFETY: called only while holding the GIL (checked by loom, see above).
        self.0.with_mut(|v| unsafe { *v += 1 });
    }
}

/// Runs the holder's part: `CHECKPOINTS` checkpoints, each one checking that if the GIL
/// changed hands across it, another thread took it in between (switch_number grew by >= 2).
fn holder_loop(gil: &ModelGil, seat: &ModelSeat, data: &Guarded) {
    for _ in 0..CHECKPOINTS {
        data.bump();
        let before = gil.stats().switch_number;
        assert!(gil.checkpoint(seat));
        let after = gil.stats().switch_number;
        assert!(
            after == before || after - before >= 2,
            "the dropper retook the GIL at once"
        );
    }
    data.bump();
}

/// One holder doing checkpoints, one waiter, one tick of the clock: mutual exclusion, no
/// deadlock, forced switching, under `policy`. Under `IoPriority` the waiter comes back from
/// "I/O" and asks at once, without needing the tick.
fn take_drop_forced_switch(policy: Policy) {
    loom::model(move || {
        let gil = Arc::new(ModelGil::new(policy));
        let data = Arc::new(Guarded(UnsafeCell::new(0)));
        let holder = gil.seat(1, false);
        let waiter = gil.seat(2, false);
        assert!(gil.take(&holder, false));

        let (gil2, data2) = (Arc::clone(&gil), Arc::clone(&data));
        let waiting = thread::spawn(move || {
            assert!(gil2.take(&waiter, policy == Policy::IoPriority));
            data2.bump();
            gil2.release(&waiter);
            // Leaving while the holder may still be taking snapshots and switching.
            gil2.retire(&waiter);
        });
        let gil3 = Arc::clone(&gil);
        let ticker = thread::spawn(move || gil3.tick());

        holder_loop(&gil, &holder, &data);
        gil.release(&holder);
        waiting.join().unwrap();
        ticker.join().unwrap();

        let stats = gil.stats();
        assert_eq!(stats.sum_of_threads(), stats.interpreter);
        assert_eq!(stats.exited_threads, 1, "the waiter's record was folded");
        assert!(stats.interpreter.forced_switches <= stats.interpreter.drop_requests);
        // SAFETY: every other thread has been joined; this is the only access left.
        let total = data.0.with(|v| unsafe { *v });
        assert_eq!(total, CHECKPOINTS as u64 + 2);
    });
}

/// `Fair` (CPython's algorithm).
#[test]
fn fair() {
    take_drop_forced_switch(Policy::Fair);
}

/// `Fifo` direct hand-off.
#[test]
fn fifo() {
    take_drop_forced_switch(Policy::Fifo);
}

/// `IoPriority`: the returning waiter asks at once.
#[test]
fn io_priority() {
    take_drop_forced_switch(Policy::IoPriority);
}

/// python/cpython#96387's class: a daemon waiter that made a drop request is refused when
/// finalisation begins; the holder (a non-daemon) must never be left waiting in the forced
/// switch for it, and the daemon still gets the GIL once to unwind. loom reports any
/// interleaving that deadlocks.
#[test]
fn finalising_requester_never_strands_the_holder() {
    loom::model(|| {
        let gil = Arc::new(ModelGil::new(Policy::Fair));
        let holder = gil.seat(1, false);
        let daemon = gil.seat(2, true);
        assert!(gil.take(&holder, false));

        let gil2 = Arc::clone(&gil);
        let daemon_thread = thread::spawn(move || {
            let admitted = gil2.take(&daemon, false);
            gil2.release(&daemon);
            admitted
        });
        let gil3 = Arc::clone(&gil);
        let clock = thread::spawn(move || {
            gil3.tick();
            gil3.finalize();
        });

        for _ in 0..CHECKPOINTS {
            assert!(gil.checkpoint(&holder), "a non-daemon is never refused");
        }
        gil.release(&holder);
        clock.join().unwrap();
        // Admitted only if it got the GIL before finalisation began.
        let _admitted = daemon_thread.join().unwrap();
    });
}

/// `yield_now` between a holder and a waiter: mutual exclusion and no deadlock, whether or not
/// the waiter is already waiting when the holder yields, under every policy.
#[test]
fn voluntary_yield() {
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        loom::model(move || {
            let gil = Arc::new(ModelGil::new(policy));
            let data = Arc::new(Guarded(UnsafeCell::new(0)));
            let holder = gil.seat(1, false);
            let waiter = gil.seat(2, false);
            assert!(gil.take(&holder, false));

            let (gil2, data2) = (Arc::clone(&gil), Arc::clone(&data));
            let other = thread::spawn(move || {
                assert!(gil2.take(&waiter, false));
                data2.bump();
                assert!(gil2.yield_now(&waiter));
                data2.bump();
                gil2.release(&waiter);
            });
            data.bump();
            assert!(gil.yield_now(&holder));
            data.bump();
            gil.release(&holder);
            other.join().unwrap();
        });
    }
}

/// Three contenders: a holder doing checkpoints, a thread starting and a thread returning from
/// I/O, and one clock tick: mutual exclusion, no deadlock and forced switching with two
/// waiters, under every policy.
#[test]
fn two_waiters() {
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        loom::model(move || {
            let gil = Arc::new(ModelGil::new(policy));
            let data = Arc::new(Guarded(UnsafeCell::new(0)));
            let holder = gil.seat(1, false);
            assert!(gil.take(&holder, false));
            let waiters: Vec<_> = [(2, false), (3, true)]
                .into_iter()
                .map(|(key, returning)| {
                    let seat = gil.seat(key, false);
                    let (gil, data) = (Arc::clone(&gil), Arc::clone(&data));
                    thread::spawn(move || {
                        assert!(gil.take(&seat, returning));
                        data.bump();
                        gil.release(&seat);
                    })
                })
                .collect();
            let gil2 = Arc::clone(&gil);
            let ticker = thread::spawn(move || gil2.tick());
            holder_loop(&gil, &holder, &data);
            gil.release(&holder);
            for w in waiters {
                w.join().unwrap();
            }
            ticker.join().unwrap();
            let stats = gil.stats();
            assert_eq!(stats.sum_of_threads(), stats.interpreter);
        });
    }
}

/// A waiter whose wait for the GIL panics (injected through the tests-only hook, caught on
/// its own modelled thread) leaves nothing behind, under every policy: the holder's release
/// reaches the live waiter instead of being handed to the dead one (`Fifo`) or spent waking
/// it (`Fair`), nobody deadlocks, mutual exclusion holds, and at the end the GIL is free with
/// nothing registered. The panic may also find the GIL free (then the take succeeds).
#[test]
fn panic_during_a_take() {
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        loom::model(move || {
            let gil = Arc::new(ModelGil::new(policy));
            let data = Arc::new(Guarded(UnsafeCell::new(0)));
            let holder = gil.seat(1, false);
            let (dying, live) = (gil.seat(2, false), gil.seat(3, false));
            assert!(gil.take(&holder, false));

            let (gil2, data2) = (Arc::clone(&gil), Arc::clone(&data));
            let dying_thread = thread::spawn(move || {
                if gil2.take_dying(&dying) == Some(true) {
                    data2.bump();
                    gil2.release(&dying);
                }
            });
            let (gil3, data3) = (Arc::clone(&gil), Arc::clone(&data));
            let live_thread = thread::spawn(move || {
                assert!(gil3.take(&live, false));
                data3.bump();
                gil3.release(&live);
            });
            data.bump();
            gil.release(&holder);
            dying_thread.join().unwrap();
            live_thread.join().unwrap();
            assert!(gil.is_quiet(), "a dead waiter left something behind");
        });
    }
}

/// Two droppers, one of them for `allow_threads`: D holds, H waits and asks (the tick); D
/// drops for blocking work that ends only when H signals; H, once in, yields at once, then
/// signals. D, leaving its forced-switch wait for its work, will not take the GIL, so H's
/// yield must not wait for it beside a free GIL (loom reports that as a deadlock), under the
/// policies with forced switching.
#[test]
fn yield_beside_a_blocking_dropper() {
    use loom::sync::{Condvar, Mutex};
    for policy in [Policy::Fair, Policy::IoPriority] {
        loom::model(move || {
            let gil = Arc::new(ModelGil::new(policy));
            let data = Arc::new(Guarded(UnsafeCell::new(0)));
            let blocking = gil.seat(1, false);
            let yielder = gil.seat(2, false);
            assert!(gil.take(&blocking, false));
            let signal = Arc::new((Mutex::new(false), Condvar::new()));

            let (gil2, data2, signal2) = (Arc::clone(&gil), Arc::clone(&data), Arc::clone(&signal));
            let yielding = thread::spawn(move || {
                assert!(gil2.take(&yielder, false));
                data2.bump();
                assert!(gil2.yield_now(&yielder));
                data2.bump();
                *signal2.0.lock().unwrap() = true;
                signal2.1.notify_one();
                gil2.release(&yielder);
            });
            let gil3 = Arc::clone(&gil);
            let ticker = thread::spawn(move || gil3.tick());

            data.bump();
            gil.release_for_blocking(&blocking);
            // The blocking work: waits for the yielder.
            let mut done = signal.0.lock().unwrap();
            while !*done {
                done = signal.1.wait(done).unwrap();
            }
            drop(done);
            assert!(gil.take(&blocking, true));
            data.bump();
            gil.release(&blocking);
            yielding.join().unwrap();
            ticker.join().unwrap();
            assert!(gil.is_quiet());
        });
    }
}
