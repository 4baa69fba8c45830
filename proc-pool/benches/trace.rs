//! What recording costs (`cargo bench -p proc-pool --features trace --bench trace`): `map`
//! throughput of tiny tasks on a 2-worker pool built without a recorder and on one built
//! with a recorder, in the same run, taking turns, as the ratio of their medians. Two shapes:
//! one task per chunk (each task makes a `ChunkSent` and a `ChunkRun`: the worst case) and
//! the automatic chunk size (a record pair per chunk of thousands of tasks).
//!
//! Without the feature it measures the pool without a recorder only, the same way, so that
//! the two builds can be set side by side (`cargo bench -p proc-pool --bench trace`).
//!
//! Prints, for [`RUNS`] runs of each, the median and the range of the wall time and of the
//! CPU time (the parent's threads, from `getrusage`, plus the workers', from their
//! `/proc/<pid>/schedstat`), and the ratios of the medians. On a loaded machine the CPU time
//! is the steadier estimate of the cost: waiting for a core does not count in it.

// A bench binary prints its figures.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use proc_pool::Pool;

/// Runs of each measurement.
const RUNS: usize = 21;

/// Tasks per `map` with one task per chunk.
const ONE_PER_CHUNK: u64 = 20_000;

/// Tasks per `map` with the automatic chunk size.
const AUTO: u64 = 200_000;

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// CPU time used so far by this process's threads and by `workers`.
fn cpu_used(workers: &[u32]) -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is valid for writes of one `rusage`; RUSAGE_SELF always exists.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let timeval = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let on_cpu_ns = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    timeval(usage.ru_utime)
        + timeval(usage.ru_stime)
        + Duration::from_nanos(workers.iter().map(on_cpu_ns).sum())
}

/// One measured `map` of `tasks` tiny tasks, `chunksize` per chunk (`None`: automatic): its
/// wall time and the CPU time it took in all the pool's processes.
fn map_once(pool: &Pool, tasks: u64, chunksize: Option<usize>) -> (Duration, Duration) {
    let workers = pool.worker_pids();
    let cpu = cpu_used(&workers);
    let start = Instant::now();
    let results = match chunksize {
        Some(n) => pool.map_chunked(tiny, 0..tasks, n),
        None => pool.map(tiny, 0..tasks),
    };
    let elapsed = start.elapsed();
    let cpu = cpu_used(&workers).saturating_sub(cpu);
    assert_eq!(results.len(), tasks as usize);
    assert!(results.iter().all(Result::is_ok));
    (elapsed, cpu)
}

/// `median [min–max]` of `times`, and the median.
fn summary(mut times: Vec<Duration>) -> (String, Duration) {
    times.sort_unstable();
    let median = times[times.len() / 2];
    let text = format!(
        "{:.1} ms [{:.1}–{:.1}]",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    (text, median)
}

/// The pools to compare: without a recorder, and (with the feature) with one big enough
/// that nothing is dropped (a full recorder only counts, which would flatter the cost).
fn pools() -> Vec<(&'static str, Pool)> {
    let plain = Pool::new(2).expect("a pool of 2");
    #[cfg_attr(not(feature = "trace"), allow(unused_mut))]
    let mut pools = vec![("no recorder", plain)];
    #[cfg(feature = "trace")]
    {
        use std::sync::Arc;
        // Warm-up and measured runs, a send and a run per chunk: one chunk per task, then
        // the automatic size's 4 chunks per worker.
        let events = (RUNS + 1) * 2 * (ONE_PER_CHUNK as usize + 4 * 2);
        let recorder = Arc::new(proc_pool::trace::Recorder::with_capacity(events));
        let traced = Pool::builder()
            .workers(2)
            .recorder(recorder)
            .build()
            .expect("a traced pool of 2");
        pools.push(("recorder", traced));
    }
    pools
}

fn main() {
    let pools = pools();
    let feature = if cfg!(feature = "trace") { "on" } else { "off" };
    println!(
        "map of tiny tasks, 2 workers, feature `trace` {feature}, {RUNS} runs (median [min–max]):"
    );
    for (shape, tasks, chunksize) in [
        ("1 task per chunk", ONE_PER_CHUNK, Some(1)),
        ("auto chunk size", AUTO, None),
    ] {
        // Warm-up: workers started and their chunks timed.
        for (_, pool) in &pools {
            map_once(pool, tasks, chunksize);
        }
        let mut runs: Vec<Vec<(Duration, Duration)>> = pools.iter().map(|_| Vec::new()).collect();
        for _ in 0..RUNS {
            for ((_, pool), runs) in pools.iter().zip(&mut runs) {
                runs.push(map_once(pool, tasks, chunksize));
            }
        }
        let mut baseline = None;
        for ((name, _), runs) in pools.iter().zip(runs) {
            let (wall, wall_median) = summary(runs.iter().map(|r| r.0).collect());
            let (cpu, cpu_median) = summary(runs.iter().map(|r| r.1).collect());
            let ratio = |now: Duration, then: Duration| {
                format!(" (×{:.2})", now.as_secs_f64() / then.as_secs_f64())
            };
            let (wall_ratio, cpu_ratio) = match baseline {
                Some((w, c)) => (ratio(wall_median, w), ratio(cpu_median, c)),
                None => (String::new(), String::new()),
            };
            baseline.get_or_insert((wall_median, cpu_median));
            println!("  {shape} ({tasks} tasks), {name}:");
            println!("    wall {wall}{wall_ratio}, CPU {cpu}{cpu_ratio}");
        }
    }
}
