//! Pool results awaited on an event loop (`cargo bench -p proc-pool --bench awaited`): how
//! long 10,000 `apply_async` results take submitted and awaited by 10,000 mini-eventloop tasks, against the
//! same results collected with blocking `get` in the same run, and how late a 1 ms timer task
//! on the same loop ticks meanwhile (the lateness the `awaitable` test does not assert).
//!
//! Prints the median and the range of [`RUNS`] runs of each.

// A bench binary prints its figures.
#![allow(clippy::print_stdout)]

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use proc_pool::Pool;

/// Runs of each measurement.
const RUNS: usize = 9;

/// Results per run.
const RESULTS: u64 = 10_000;

/// The timer task's period.
const PERIOD: Duration = Duration::from_millis(1);

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The blocking way: submit all, then `get` each.
fn blocking(pool: &Pool) -> Duration {
    let start = Instant::now();
    let results: Vec<_> = (0..RESULTS).map(|i| pool.apply_async(tiny, i)).collect();
    for result in results {
        std::hint::black_box(result.get().unwrap());
    }
    start.elapsed()
}

/// The awaited way, with the timer task beside it: the elapsed time, the worst lateness of a
/// tick, and how many ticks there were.
fn awaited(pool: &Rc<Pool>, rt: &mini_eventloop::Runtime) -> (Duration, Duration, u64) {
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let ticks = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    rt.block_on(async {
        let ticker = {
            let (worst, ticks) = (Rc::clone(&worst), Rc::clone(&ticks));
            mini_eventloop::spawn(async move {
                loop {
                    let due = Instant::now() + PERIOD;
                    mini_eventloop::sleep_until(due).await;
                    worst.set(
                        worst
                            .get()
                            .max(Instant::now().saturating_duration_since(due)),
                    );
                    ticks.set(ticks.get() + 1);
                }
            })
        };
        // Each task submits its own task and awaits it, as a server's handlers would: the
        // submissions interleave with the ticks instead of all happening in one poll.
        let tasks: Vec<_> = (0..RESULTS)
            .map(|i| {
                let pool = Rc::clone(pool);
                mini_eventloop::spawn(async move {
                    mini_eventloop::yield_now().await;
                    std::hint::black_box(pool.apply_async(tiny, i).await.unwrap())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        ticker.abort();
    });
    (start.elapsed(), worst.get(), ticks.get())
}

/// Median and range of `samples`, in microseconds.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    format!(
        "{:.0} µs [{:.0}–{:.0}]",
        us(samples[samples.len() / 2]),
        us(samples[0]),
        us(samples[samples.len() - 1])
    )
}

fn main() {
    let pool = Rc::new(Pool::new(2).expect("a pool of 2"));
    let rt = mini_eventloop::Runtime::new().expect("a runtime");
    // Warm-up: workers started and their chunks timed.
    blocking(&pool);
    let (mut got, mut waited, mut late, mut ticks) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..RUNS {
        got.push(blocking(&pool));
        let (elapsed, worst, n) = awaited(&pool, &rt);
        waited.push(elapsed);
        late.push(worst);
        ticks += n;
    }
    println!("{RESULTS} apply_async results, 2 workers, {RUNS} runs (median [min–max]):");
    println!("  blocking get, one thread:          {}", summary(got));
    println!(
        "  submitted+awaited by {RESULTS} tasks: {}",
        summary(waited)
    );
    println!(
        "  worst tick lateness (1 ms timer):  {} ({ticks} ticks in all)",
        summary(late)
    );
}
