//! The two GIL ping-pongs that `benches/gil.rs` and `benches/trace.rs` time: `iters` round
//! trips between two interpreter threads of a given interpreter, each thread blocked while the
//! other runs. Included with `#[path]` by the benches that use it (not through `util`, so the
//! other benches do not compile unused code).

use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use gil_threads::{Gil, GilCell, Interpreter};

/// Ping-pong through the GIL alone: each thread flips a turn in a `GilCell` and passes the
/// GIL with `Gil::yield_now`, which hands it to the waiting thread and queues behind it in
/// one step, so turns alternate strictly, each thread blocked while the other runs.
pub fn direct(interp: &Interpreter, iters: u64) -> Duration {
    let turn = Arc::new(GilCell::new(interp.id(), 0u8));
    // Both threads start together, so the timing excludes thread start-up.
    let start_line = Arc::new(Barrier::new(2));
    let run = |me: u8, turn: Arc<GilCell<u8>>, start_line: Arc<Barrier>| {
        move |gil: &mut Gil| {
            gil.allow_threads(|| start_line.wait());
            let start = Instant::now();
            let mut done = 0;
            while done < iters {
                if *turn.borrow(gil).unwrap() == me {
                    *turn.borrow_mut(gil).unwrap() = 1 - me;
                    done += 1;
                }
                gil.yield_now();
            }
            start.elapsed()
        }
    };
    let a = interp.spawn(run(0, Arc::clone(&turn), Arc::clone(&start_line)));
    let b = interp.spawn(run(1, turn, start_line));
    let elapsed = a.join().unwrap();
    b.join().unwrap();
    elapsed
}

/// Ping-pong where each thread waits for its turn inside `allow_threads` (on a raw
/// condition variable), the way Python threads pass work through an `Event`: the GIL is
/// released around every wait and retaken after.
pub fn wait(interp: &Interpreter, iters: u64) -> Duration {
    let state = Arc::new((Mutex::new(0u8), Condvar::new()));
    let run = |me: u8, state: Arc<(Mutex<u8>, Condvar)>| {
        move |gil: &mut Gil| {
            let (turn, cv) = &*state;
            let start = Instant::now();
            for _ in 0..iters {
                gil.allow_threads(|| {
                    let mut t = turn.lock().unwrap();
                    while *t != me {
                        t = cv.wait(t).unwrap();
                    }
                });
                // Interpreter code: pass the turn.
                *turn.lock().unwrap() = 1 - me;
                cv.notify_one();
            }
            start.elapsed()
        }
    };
    let a = interp.spawn(run(0, Arc::clone(&state)));
    let b = interp.spawn(run(1, state));
    let elapsed = a.join().unwrap();
    b.join().unwrap();
    elapsed
}
