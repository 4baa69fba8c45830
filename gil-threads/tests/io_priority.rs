//! `IoPriority`'s convoy fix: a thread back from blocking I/O is handed the GIL directly at
//! the holder's next checkpoint, ahead of a CPU-bound thread waiting at the same time, and
//! without having to win a race for a freed GIL.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gil_threads::{GilCell, Interpreter, Policy};
use util::HANG_GUARD;

/// Long enough that no waiter asks on its own during the test: only the returner asks.
const QUIET_INTERVAL: Duration = Duration::from_secs(3600);

/// Rounds of the scenario.
const ROUNDS: usize = 20;

/// The holder computes without a checkpoint until the returner has asked, then passes one
/// checkpoint: the returner is the next thread to hold the GIL, before a thread that was
/// waiting to enter all along, every round.
#[test]
fn the_returner_is_next_at_the_holders_checkpoint() {
    for round in 0..ROUNDS {
        let interp = Arc::new(
            Interpreter::builder()
                .policy(Policy::IoPriority)
                .switch_interval(QUIET_INTERVAL)
                .build()
                .unwrap(),
        );
        let order = Arc::new(GilCell::new(interp.id(), Vec::new()));
        let back = Arc::new(AtomicBool::new(false));
        let away = Arc::new(AtomicBool::new(false));
        let (order_r, back_r, away_r) = (Arc::clone(&order), Arc::clone(&back), Arc::clone(&away));
        let returner = interp.spawn(move |gil| {
            gil.allow_threads(|| {
                away_r.store(true, Ordering::SeqCst);
                let start = std::time::Instant::now();
                while !back_r.load(Ordering::SeqCst) {
                    assert!(start.elapsed() < HANG_GUARD, "never released");
                    std::thread::yield_now();
                }
            });
            order_r.borrow_mut(gil).unwrap().push("returner");
        });
        let (order_h, interp_h) = (Arc::clone(&order), Arc::clone(&interp));
        let holder = interp.spawn(move |gil| {
            // Let the returner in and out to its blocking work first.
            gil.allow_threads(|| {
                let start = std::time::Instant::now();
                while !away.load(Ordering::SeqCst) {
                    assert!(start.elapsed() < HANG_GUARD, "the returner never started");
                    std::thread::yield_now();
                }
            });
            let asked = gil.stats().interpreter.drop_requests;
            // A thread that wants to enter while we hold the GIL.
            let order_f = Arc::clone(&order_h);
            let entering = std::thread::spawn(move || {
                interp_h
                    .with_gil(|gil| order_f.borrow_mut(gil).unwrap().push("entering"))
                    .unwrap();
            });
            back.store(true, Ordering::SeqCst);
            let start = std::time::Instant::now();
            while gil.stats().interpreter.drop_requests == asked {
                assert!(start.elapsed() < HANG_GUARD, "the returner never asked");
                std::hint::spin_loop();
            }
            gil.checkpoint();
            order_h.borrow_mut(gil).unwrap().push("holder");
            gil.allow_threads(|| entering.join()).unwrap();
        });
        assert_eq!(returner.join(), Ok(()));
        assert_eq!(holder.join(), Ok(()));
        let order = interp.with_gil(|gil| order.borrow(gil).unwrap().clone());
        assert_eq!(order.unwrap()[0], "returner", "round {round}");
    }
}
