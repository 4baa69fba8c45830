//! `spawn_blocking`: closures run off the loop thread, results come back as futures, panics
//! as `JoinError::Panicked`, and the pool stays within its bound.

mod util;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use mini_eventloop::{JoinError, Runtime, spawn_blocking};

/// The closure runs on another thread and its result comes back.
#[test]
fn runs_off_the_loop_thread() {
    util::run(async {
        let loop_thread = std::thread::current().id();
        let helper = spawn_blocking(|| std::thread::current().id())
            .await
            .unwrap();
        assert_ne!(helper, loop_thread);
    });
}

/// The loop keeps running while helpers block: `THREADS` closures wait on one barrier
/// together, which only works if they run at once and the loop does not wait for them.
#[test]
fn blocking_calls_run_concurrently() {
    const THREADS: usize = 4;
    let rt = Runtime::builder()
        .blocking_threads(THREADS)
        .build()
        .unwrap();
    rt.block_on(async {
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let b = barrier.clone();
                spawn_blocking(move || {
                    b.wait();
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..THREADS).sum());
        assert_eq!(mini_eventloop::stats().blocking_spawned, THREADS as u64);
    });
}

/// More jobs than threads: they queue, all complete, and at most `THREADS` distinct helper
/// threads ran them.
#[test]
fn pool_is_bounded() {
    const THREADS: usize = 2;
    let rt = Runtime::builder()
        .blocking_threads(THREADS)
        .build()
        .unwrap();
    let ids = rt.block_on(async {
        let handles: Vec<_> = (0..50)
            .map(|_| spawn_blocking(|| std::thread::current().id()))
            .collect();
        let mut ids = HashSet::new();
        for h in handles {
            ids.insert(h.await.unwrap());
        }
        ids
    });
    assert!(ids.len() <= THREADS, "{} helper threads", ids.len());
}

/// A panic in the closure comes back as `JoinError::Panicked` with its message.
#[test]
fn panicking_closure_is_reported() {
    util::run(async {
        let r = spawn_blocking(|| -> u8 { panic!("blocking boom") }).await;
        assert_eq!(r, Err(JoinError::Panicked("blocking boom".into())));
    });
}
