//! Criterion benchmarks of the GIL's costs, each beside its peer in the same run:
//!
//! - `checkpoint`: a hot loop with an uncontended `checkpoint` per iteration vs the same loop
//!   without it (goal: <= 5 % overhead);
//! - `ping_pong`: a voluntary hand-off round trip between two interpreter threads vs a raw
//!   `Mutex` + `Condvar` ping-pong (goals: <= 1.0x with `Fifo`, <= 1.5x with `Fair`);
//! - `cpu_bound`: the same total CPU-bound work on 1, 2 and 4 threads under one GIL (goal:
//!   2 and 4 threads keep >= 0.95x the throughput of one).
//!
//! Run: `cargo bench -p gil-threads --bench gil`.

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gil_threads::{Interpreter, Policy};

#[path = "util/ping_pong.rs"]
mod ping_pong;

/// Iterations of the hot loop per measured call.
const HOT_LOOP: u64 = 10_000;
/// Units of CPU-bound work, split between the threads.
const CPU_WORK: u64 = 4_000_000;

/// A few rounds of a small pseudo-random computation: the "bytecode" of the hot loop, a few
/// nanoseconds of dependent arithmetic (a CPython bytecode costs roughly 5 to 50 ns).
#[inline(always)]
fn step(mut x: u64) -> u64 {
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// The hot loop, with or without a checkpoint per iteration.
fn checkpoint(c: &mut Criterion) {
    let interp = Interpreter::new();
    let mut group = c.benchmark_group("checkpoint");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("loop_without_checkpoint", |b| {
        b.iter(|| {
            let mut x = black_box(1u64);
            for _ in 0..HOT_LOOP {
                x = step(x);
                black_box(&mut x);
            }
            x
        })
    });
    interp
        .with_gil(|gil| {
            group.bench_function("loop_with_checkpoint", |b| {
                b.iter(|| {
                    let mut x = black_box(1u64);
                    for _ in 0..HOT_LOOP {
                        x = step(x);
                        black_box(&mut x);
                        gil.checkpoint();
                    }
                    x
                })
            });
        })
        .expect("entered");
    group.finish();
}

/// A raw `Mutex` + `Condvar` ping-pong: `iters` round trips between two OS threads.
fn raw_ping_pong(iters: u64) -> Duration {
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let peer_state = Arc::clone(&state);
    let peer = std::thread::spawn(move || {
        let (turn, cv) = &*peer_state;
        for _ in 0..iters {
            let mut t = turn.lock().unwrap();
            while !*t {
                t = cv.wait(t).unwrap();
            }
            *t = false;
            cv.notify_one();
        }
    });
    let (turn, cv) = &*state;
    let start = Instant::now();
    for _ in 0..iters {
        let mut t = turn.lock().unwrap();
        *t = true;
        cv.notify_one();
        while *t {
            t = cv.wait(t).unwrap();
        }
    }
    let elapsed = start.elapsed();
    peer.join().unwrap();
    elapsed
}

/// An interpreter with `policy`.
fn interpreter(policy: Policy) -> Interpreter {
    Interpreter::builder().policy(policy).build().unwrap()
}

/// Round-trip cost of a voluntary hand-off, GIL vs raw.
fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    group.bench_function("raw_mutex_condvar", |b| b.iter_custom(raw_ping_pong));
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        group.bench_function(BenchmarkId::new("gil_direct", format!("{policy:?}")), |b| {
            b.iter_custom(|iters| ping_pong::direct(&interpreter(policy), iters))
        });
    }
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        group.bench_function(BenchmarkId::new("gil_wait", format!("{policy:?}")), |b| {
            b.iter_custom(|iters| ping_pong::wait(&interpreter(policy), iters))
        });
    }
    group.finish();
}

/// `CPU_WORK` steps split over `threads` interpreter threads, a checkpoint every step.
fn cpu_work(threads: u64) {
    let interp = Interpreter::new();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            interp.spawn(move |gil| {
                let mut x = t + 1;
                for _ in 0..CPU_WORK / threads {
                    x = step(x);
                    black_box(&mut x);
                    gil.checkpoint();
                }
                x
            })
        })
        .collect();
    for h in handles {
        black_box(h.join().unwrap());
    }
}

/// Total throughput of CPU-bound threads under one GIL.
fn cpu_bound(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu_bound");
    group
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    for threads in [1u64, 2, 4] {
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter(|| cpu_work(threads))
        });
    }
    group.finish();
}

criterion_group!(benches, checkpoint, ping_pong, cpu_bound);
criterion_main!(benches);
