//! `Fork` against `ForkServer`, in the same run (`cargo bench -p proc-pool --bench
//! start_methods`), with Python's `forkserver` `Pool(2)` measured beside it by
//! `python3 proc-pool/benches/python_pool.py`:
//!
//! - start-up: `build` + the first `apply`'s result + `join`, 2 workers;
//! - `map` of 100,000 tiny tasks, chunksize 1 and auto;
//! - from a parent with 1 GiB resident (allocated and touched here): start-up, and worker
//!   replacement (`max_tasks_per_child(1)`: every task runs in a fresh worker, so the time
//!   per task is dominated by starting one).
//!
//! Prints the median and the range of [`RUNS`] runs of each. A bench binary rather than
//! criterion because the 1 GiB section must run after the small one in the same process.

// A bench binary prints its figures.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use proc_pool::{Pool, StartMethod};

/// Runs of each measurement.
const RUNS: usize = 9;

/// Tasks in the `map` measurement.
const TINY_TASKS: u64 = 100_000;

/// Tasks (each in a fresh worker) in the replacement measurement.
const REPLACEMENTS: u64 = 50;

/// The large parent's resident size.
const BIG: usize = 1 << 30;

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn pool(method: StartMethod) -> proc_pool::Builder {
    Pool::builder().workers(2).start_method(method)
}

/// Median and range of `RUNS` timings of `f`, after one warm-up.
fn measure(mut f: impl FnMut() -> Duration) -> (Duration, Duration, Duration) {
    f();
    let mut times: Vec<Duration> = (0..RUNS).map(|_| f()).collect();
    times.sort();
    (times[RUNS / 2], times[0], times[RUNS - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn start_up(method: StartMethod) -> Duration {
    let start = Instant::now();
    let pool = pool(method).build().unwrap();
    black_box(pool.apply(tiny, 1).unwrap());
    pool.join();
    start.elapsed()
}

fn replacement(method: StartMethod) -> Duration {
    let pool = pool(method).max_tasks_per_child(1).build().unwrap();
    black_box(pool.apply(tiny, 1).unwrap());
    let start = Instant::now();
    for x in 0..REPLACEMENTS {
        black_box(pool.apply(tiny, x).unwrap());
    }
    let per_task = start.elapsed() / REPLACEMENTS as u32;
    pool.join();
    per_task
}

fn report(what: &str, method: StartMethod, (median, low, high): (Duration, Duration, Duration)) {
    println!(
        "{what:<44} {method:<10?} {:>9.2} ms  [{:.2}–{:.2}]",
        ms(median),
        ms(low),
        ms(high)
    );
}

fn section(label: &str) {
    println!("\n{label}");
    for method in [StartMethod::Fork, StartMethod::ForkServer] {
        report(
            "start-up (build + first result + join)",
            method,
            measure(|| start_up(method)),
        );
        report(
            "worker replacement (per task, fresh worker)",
            method,
            measure(|| replacement(method)),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` of the benches passes nothing and
    // expects a quick exit.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    section("small parent");
    for method in [StartMethod::Fork, StartMethod::ForkServer] {
        let p = pool(method).build().unwrap();
        for (label, chunk) in [("chunksize 1", Some(1)), ("auto chunksize", None)] {
            let (median, low, high) = measure(|| {
                let start = Instant::now();
                let out = match chunk {
                    Some(c) => p.map_chunked(tiny, 0..TINY_TASKS, c),
                    None => p.map(tiny, 0..TINY_TASKS),
                };
                black_box(out);
                start.elapsed()
            });
            let rate = |d: Duration| TINY_TASKS as f64 / d.as_secs_f64() / 1e6;
            println!(
                "map 100,000 tiny tasks, {label:<15}           {method:<10?} {:>9.2} M tasks/s  [{:.2}–{:.2}]",
                rate(median),
                rate(high),
                rate(low)
            );
        }
        p.join();
    }
    let mut big = vec![0u8; BIG];
    // Touch every page so it is resident (and its page-table entries exist).
    for page in big.chunks_mut(4096) {
        page[0] = 1;
    }
    black_box(&big);
    section("parent with 1 GiB resident");
    drop(big);
}
