//! Fairness: four CPU-bound threads share one GIL for 400 switch intervals; each should get
//! 25 % ± 5 % of the hold time, under every policy. Prints a table (not a criterion bench).
//!
//! Run: `cargo bench -p gil-threads --bench fairness`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gil_threads::{Interpreter, Policy};

mod util;

/// CPU-bound threads.
const THREADS: usize = 4;
/// Switch intervals the run lasts.
const INTERVALS: u32 = 400;
/// The switch interval for the run.
const INTERVAL: Duration = Duration::from_millis(2);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let intervals = if quick { 20 } else { INTERVALS };
    println!("fairness: {THREADS} CPU-bound threads, {intervals} switch intervals of {INTERVAL:?}");
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8}   verdict",
        "policy", "t0", "t1", "t2", "t3"
    );
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        let interp = Interpreter::builder()
            .policy(policy)
            .switch_interval(INTERVAL)
            .build()
            .expect("valid");
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let stop = Arc::clone(&stop);
                interp.spawn(move |gil| {
                    util::spin_until_stopped(gil, &stop, t as u64 + 1);
                    gil.current_thread().id
                })
            })
            .collect();
        let start = Instant::now();
        std::thread::sleep(INTERVAL * intervals);
        stop.store(true, Ordering::Relaxed);
        let ids: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("joined"))
            .collect();
        let wall = start.elapsed();
        let stats = interp.stats();
        let holds: Vec<f64> = ids
            .iter()
            .map(|&id| {
                stats
                    .thread(id)
                    .expect("recorded")
                    .counters
                    .hold_total
                    .as_secs_f64()
            })
            .collect();
        let total: f64 = holds.iter().sum();
        let shares: Vec<f64> = holds.iter().map(|h| 100.0 * h / total).collect();
        let fair = shares.iter().all(|s| (20.0..=30.0).contains(s));
        let verdict = match (quick, fair) {
            (true, _) => "quick run (cargo test): too short to judge",
            (false, true) => "within 25 % ± 5 %",
            (false, false) => "OUTSIDE 25 % ± 5 %",
        };
        println!(
            "{:<12} {:>7.1}% {:>7.1}% {:>7.1}% {:>7.1}%   {} (switches {}, wall {:?})",
            format!("{policy:?}"),
            shares[0],
            shares[1],
            shares[2],
            shares[3],
            verdict,
            stats.interpreter.switches,
            wall,
        );
    }
}
