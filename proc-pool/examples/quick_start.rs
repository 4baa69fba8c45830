//! `cargo run --example quick_start -p proc-pool`
//!
//! The calls of Python's `multiprocessing.Pool`, on a pool of forked workers: `map`, `imap`,
//! `imap_unordered`, `apply_async`, then `join`.

use std::time::Duration;

use proc_pool::{Pool, TaskError};

/// Runs in a worker process: its input and result cross the pipe as `Wire` bytes.
fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n > 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// Which worker answered.
fn whoami(_: ()) -> u32 {
    std::process::id()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(2)?;
    println!(
        "workers: {:?} (parent {})",
        pool.worker_pids(),
        std::process::id()
    );

    // map: ordered, chunked like Python's (len / (4 * workers) items per chunk).
    let steps: Result<Vec<u32>, TaskError> =
        pool.map(collatz_steps, 1..=100_000).into_iter().collect();
    let steps = steps?;
    let (longest, n) = steps.iter().zip(1..).max().expect("non-empty");
    println!("map: the longest Collatz run below 100,001 starts at {n}: {longest} steps");

    // imap: streaming, in order, with a bounded window of chunks in flight.
    let first: Vec<u32> = pool
        .imap(collatz_steps, 1..)
        .take(10)
        .collect::<Result<_, _>>()?;
    println!("imap over an endless input, first 10: {first:?}");

    // imap_unordered: as they complete.
    let answered_by: Vec<u32> = pool
        .imap_unordered(whoami, vec![(); 8])
        .collect::<Result<_, _>>()?;
    println!("imap_unordered: answered by {answered_by:?}");

    // apply_async: a handle; get_timeout gives it back if not done yet.
    let pending = pool.apply_async(collatz_steps, 837_799);
    match pending.get_timeout(Duration::from_secs(10)) {
        Ok(result) => println!("apply_async: 837799 takes {} steps", result?),
        Err(_still_running) => println!("apply_async: not done within 10 s"),
    }

    pool.join();
    println!("stats: {:?}", pool.stats());
    Ok(())
}
