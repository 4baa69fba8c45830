//! A loom model of the `spawn_blocking` pool's hand-off (`src/blocking_pool.rs`, compiled
//! here against loom's primitives): two jobs submitted back to back while one helper is idle
//! never queue behind each other. Job A waits for a signal that job B sends; if the pool ever
//! promised both to one helper, A would wait forever and loom would report the deadlock.
//!
//! Run it with (`.ci/loom-mini-eventloop` does):
//!
//! ```text
//! RUSTFLAGS="--cfg mini_eventloop_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p mini-eventloop --release --test loom_blocking
//! ```
//!
//! Without the cfg this file compiles to nothing.

#![cfg(mini_eventloop_loom)]

/// The same names `src/shim.rs` exports, from loom, so `blocking_pool.rs` compiles unchanged.
mod shim {
    #[allow(unused_imports)]
    pub(crate) use loom::sync::atomic::{AtomicBool, Ordering};
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread;
}

#[allow(dead_code)]
#[path = "../src/contain.rs"]
mod contain;

#[allow(dead_code)]
#[path = "../src/blocking_pool.rs"]
mod blocking_pool;

use blocking_pool::BlockingPool;
use shim::{Arc, Condvar, Mutex};

/// A counter that threads can wait on.
type Counter = Arc<(Mutex<usize>, Condvar)>;

/// Adds one and wakes the waiters.
fn bump(c: &Counter) {
    *c.0.lock().unwrap() += 1;
    c.1.notify_all();
}

/// Waits until the counter reaches `n`.
fn wait_for(c: &Counter, n: usize) {
    let mut v = c.0.lock().unwrap();
    while *v < n {
        v = c.1.wait(v).unwrap();
    }
}

/// Job A waits for job B, submitted right after it, with one helper idle (or about to be)
/// and room for a second: in every interleaving both run, so A hears from B.
#[test]
fn back_to_back_jobs_never_queue_behind_one_idle_helper() {
    loom::model(|| {
        let pool = BlockingPool::new(2);
        let done: Counter = Arc::new((Mutex::new(0), Condvar::new()));
        // A first job starts the one helper; once it is done the helper goes idle.
        let d = done.clone();
        pool.submit(Box::new(move || bump(&d)));
        wait_for(&done, 1);
        let signal: Counter = Arc::new((Mutex::new(0), Condvar::new()));
        let (s, d) = (signal.clone(), done.clone());
        pool.submit(Box::new(move || {
            wait_for(&s, 1);
            bump(&d);
        }));
        let (s, d) = (signal.clone(), done.clone());
        pool.submit(Box::new(move || {
            bump(&s);
            bump(&d);
        }));
        wait_for(&done, 3);
        pool.shutdown();
    });
}
