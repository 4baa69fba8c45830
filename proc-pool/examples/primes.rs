//! `cargo run --release --example primes -p proc-pool`
//!
//! The workspace's shared CPU-bound job (`PrimeCount`) run three ways: sequentially, and on a
//! pool of 1 and 2 workers with `run_all`; then each worker's peak memory from `/proc`.

use std::time::Instant;

use concurrency_shared::workloads::{PrimeCount, Workload};
use proc_pool::{Pool, run_blocking};

/// Count the primes below this.
const BELOW: u64 = 3_000_000;
/// Split into this many jobs.
const JOBS: usize = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs = PrimeCount::split(0, BELOW, JOBS);
    let expected: u64 = jobs.iter().map(Workload::expected).sum();

    let t = Instant::now();
    let sequential: u64 = jobs.iter().map(run_blocking).sum();
    let base = t.elapsed();
    assert_eq!(sequential, expected);
    println!("sequential: {sequential} primes below {BELOW} in {base:.2?}");

    for workers in [1, 2] {
        let pool = Pool::new(workers)?;
        let t = Instant::now();
        let counts = pool.run_all(jobs.clone());
        let took = t.elapsed();
        let total: u64 = counts.into_iter().sum::<Result<u64, _>>()?;
        assert_eq!(total, expected);
        let peaks: Vec<String> = pool
            .worker_pids()
            .iter()
            .map(|&pid| peak_memory(pid))
            .collect();
        println!(
            "{workers} worker(s): {took:.2?}, {:.2}x sequential; worker VmHWM: {}",
            base.as_secs_f64() / took.as_secs_f64(),
            peaks.join(", ")
        );
        pool.join();
    }
    Ok(())
}

/// The `VmHWM` line of a process's status (its peak resident memory).
fn peak_memory(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l[6..].trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}
