//! `cargo run --example crash_recovery -p proc-pool`
//!
//! What the pool does when workers misbehave: a panic, an `abort`, a task past its timeout,
//! under `CrashPolicy::FailTask` (the default) and then `CrashPolicy::FailPool`. Where
//! Python's `Pool` would hang forever on the abort, every call here returns.

use std::time::Duration;

use proc_pool::{CrashPolicy, Pool};

/// 13 panics, 666 aborts the worker process, 42 never finishes; everything else is squared.
fn fragile(x: u64) -> u64 {
    match x {
        13 => panic!("unlucky {x}"),
        666 => std::process::abort(),
        42 => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
        _ => x * x,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for policy in [CrashPolicy::FailTask, CrashPolicy::FailPool] {
        let pool = Pool::builder()
            .workers(2)
            .task_timeout(Duration::from_millis(500))
            .crash_policy(policy)
            .build()?;
        let inputs = [1, 13, 2, 666, 3, 42, 4];
        // One task per chunk, so each fault takes only its own task down.
        let results = pool.map_chunked(fragile, inputs, 1);
        println!("{policy:?}:");
        for (x, r) in inputs.iter().zip(&results) {
            match r {
                Ok(v) => println!("  {x:>3} -> {v}"),
                Err(e) => println!("  {x:>3} -> error: {e}"),
            }
        }
        pool.join();
        println!("  stats: {:?}", pool.stats());
    }
    Ok(())
}
