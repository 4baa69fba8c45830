//! The shared `Job` contract on the loop: the standard workloads give their known outputs,
//! jobs overlap on one thread, and the checkpoint policy yields as documented.

mod util;

use std::sync::Arc;
use std::time::Duration;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::workloads::{Mixed, PrimeCount, RoundTrips, Sleeper, Workload};
use mini_eventloop::{Ctx, Job, LoopCtx, Runtime, spawn_job};

/// Number of jobs per workload: enough to overlap, small enough to stay quick.
const JOBS: usize = 16;

/// CPU-bound jobs all finish with the right counts, in input order.
#[test]
fn prime_count_jobs_give_expected_outputs() {
    let jobs = PrimeCount::split(1, 200_000, JOBS);
    let expected: Vec<_> = jobs.iter().map(|j| Ok(j.expected())).collect();
    let mut rt = util::rt();
    assert_eq!(rt.run_jobs(jobs), expected);
}

/// Sleep-bound jobs overlap: they all run as tasks on one thread and give their outputs.
#[test]
fn sleeper_jobs_give_expected_outputs() {
    let jobs: Vec<_> = (0..JOBS)
        .map(|_| Sleeper::new(3, Duration::from_micros(200)))
        .collect();
    let expected: Vec<_> = jobs.iter().map(|j| Ok(j.expected())).collect();
    let mut rt = util::rt();
    assert_eq!(rt.run_jobs(jobs), expected);
}

/// Network jobs really overlap on one thread: the fixture answers nothing until `JOBS`
/// requests are pending at once (barrier mode), so finishing at all proves the overlap.
#[test]
fn round_trip_jobs_overlap_on_one_thread() {
    let fixture = Fixture::start(FixtureConfig::new().barrier(JOBS)).unwrap();
    let jobs: Vec<_> = (0..JOBS)
        .map(|_| RoundTrips::new(fixture.addr(), 4, 64))
        .collect();
    let expected: Vec<_> = jobs.iter().map(|j| Ok(j.expected())).collect();
    let mut rt = util::rt();
    assert_eq!(rt.run_jobs(jobs), expected);
    assert!(fixture.stats().peak_pending >= JOBS as u64);
}

/// The mixed workload (CPU, nap, network) gives its expected output.
#[test]
fn mixed_jobs_give_expected_outputs() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            Mixed::new(
                PrimeCount::new(i * 10_000, (i + 1) * 10_000),
                RoundTrips::new(fixture.addr(), 3, 32),
                Duration::from_micros(100),
            )
        })
        .collect();
    let expected: Vec<_> = jobs.iter().map(|j| Ok(j.expected())).collect();
    let mut rt = util::rt();
    assert_eq!(rt.run_jobs(jobs), expected);
}

/// Counts checkpoints, reporting the context's figures.
struct Checkpoints(u64);

impl Job for Checkpoints {
    type Output = u64;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
        for _ in 0..self.0 {
            cx.checkpoint().await;
        }
        self.0
    }
}

/// A checkpoint really yields once every `checkpoints_per_yield` calls, so two CPU-bound
/// jobs interleave: the loop polls each about `checkpoints / every` times.
#[test]
fn checkpoint_policy_yields_every_n() {
    let rt = Runtime::builder().checkpoints_per_yield(8).build().unwrap();
    let polls = rt.block_on(async {
        let before = mini_eventloop::stats().polls;
        let a = spawn_job(Arc::new(Checkpoints(800)));
        let b = spawn_job(Arc::new(Checkpoints(800)));
        assert_eq!(a.await, Ok(800));
        assert_eq!(b.await, Ok(800));
        mini_eventloop::stats().polls - before
    });
    // 800 / 8 = 100 yields each, so 101 polls each.
    assert_eq!(polls, 202);
    let mut cx = LoopCtx::new(4);
    let rt = util::rt();
    rt.block_on(async {
        for _ in 0..10 {
            cx.checkpoint().await;
        }
    });
    assert_eq!((cx.checkpoints(), cx.yields()), (10, 2));
}

/// A panicking job is reported in its slot without disturbing the others.
#[test]
fn panicking_job_is_reported_in_place() {
    struct MaybePanics(bool);
    impl Job for MaybePanics {
        type Output = u8;
        async fn run<C: Ctx>(&self, cx: &mut C) -> u8 {
            cx.checkpoint().await;
            assert!(!self.0, "job failed on purpose");
            1
        }
    }
    let mut rt = util::rt();
    let out = rt.run_jobs(vec![
        MaybePanics(false),
        MaybePanics(true),
        MaybePanics(false),
    ]);
    assert_eq!(out[0], Ok(1));
    assert!(
        matches!(&out[1], Err(e) if e.panic_message().is_some_and(|m| m.contains("on purpose")))
    );
    assert_eq!(out[2], Ok(1));
}
