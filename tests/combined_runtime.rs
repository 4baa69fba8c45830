//! The compare program's combined runtime, `mini-eventloop+proc-pool` (its source is included
//! from the program): offloaded parts really run in the pool's worker processes, the loop runs
//! other jobs while a part is away, and a part that fails in the pool fails its own job only.
//!
//! Runs alone (`harness = false`): the process pool forks.

#[path = "../src/offload.rs"]
mod offload;
mod util;

use std::process::ExitCode;
use std::rc::Rc;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::workloads::{RoundTrips, Workload};
use concurrency_shared::{Ctx, Job, Wire, WireError};
use util::{ensure, run_cases};

/// Worker processes for the pool: more than one, so parts really are spread out.
const POOL_WORKERS: usize = 2;

/// A part that says which process ran it, or, for the fault cases, panics or dies there.
#[derive(Clone, Copy)]
enum Part {
    /// Answers the process id of wherever it runs.
    WhereAmI,
    /// Panics.
    Panics,
    /// Kills the process it runs in.
    Aborts,
}

impl Job for Part {
    type Output = u32;
    async fn run<C: Ctx>(&self, _cx: &mut C) -> u32 {
        match self {
            Part::WhereAmI => std::process::id(),
            Part::Panics => panic!("the part gives up"),
            Part::Aborts => std::process::abort(),
        }
    }
}

impl Wire for Part {
    const MIN_ENCODED_LEN: usize = u8::MIN_ENCODED_LEN;
    fn encode(&self, out: &mut Vec<u8>) {
        (*self as u8).encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match u8::decode(input)? {
            0 => Ok(Part::WhereAmI),
            1 => Ok(Part::Panics),
            2 => Ok(Part::Aborts),
            tag => Err(WireError::InvalidTag {
                type_name: "Part",
                tag: u64::from(tag),
            }),
        }
    }
}

/// A job whose only work is to offload `Part`.
#[derive(Clone, Copy)]
struct Offloads(Part);

impl Job for Offloads {
    type Output = u32;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u32 {
        cx.offload(self.0).await
    }
}

/// A job that offloads a network job (its round trips then block a worker, not the loop) or
/// runs it on the loop itself.
#[derive(Clone, Copy)]
struct Talks {
    net: RoundTrips,
    offloaded: bool,
}

impl Job for Talks {
    type Output = Result<u64, concurrency_shared::workloads::WorkloadError>;
    async fn run<C: Ctx>(&self, cx: &mut C) -> Self::Output {
        if self.offloaded {
            cx.offload(self.net).await
        } else {
            self.net.run(cx).await
        }
    }
}

/// An output that encodes but never decodes: what a part gives back when the bytes coming
/// back from the pool cannot be read.
struct Unreadable;

impl Wire for Unreadable {
    const MIN_ENCODED_LEN: usize = 0;
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_input: &mut &[u8]) -> Result<Self, WireError> {
        Err(WireError::Invalid {
            type_name: "Unreadable",
            reason: "never decodes",
        })
    }
}

/// A part whose output cannot be decoded where it is awaited.
#[derive(Clone, Copy)]
struct GivesUnreadable;

impl Job for GivesUnreadable {
    type Output = Unreadable;
    async fn run<C: Ctx>(&self, _cx: &mut C) -> Unreadable {
        Unreadable
    }
}

impl Wire for GivesUnreadable {
    const MIN_ENCODED_LEN: usize = 0;
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(GivesUnreadable)
    }
}

/// A job that offloads [`GivesUnreadable`], or, if `false`, a part that runs fine.
#[derive(Clone, Copy)]
struct OffloadsUnreadable(bool);

impl Job for OffloadsUnreadable {
    type Output = u32;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u32 {
        if self.0 {
            cx.offload(GivesUnreadable).await;
            0
        } else {
            cx.offload(Part::WhereAmI).await
        }
    }
}

/// The order the [`Takes`] jobs of one run took their turns in.
static TURNS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// A job that never offloads: it notes its name, then passes a checkpoint, [`TAKES`] times.
#[derive(Clone, Copy)]
struct Takes(u8);

/// Turns per [`Takes`] job: fewer than the loop's default checkpoints between yields.
const TAKES: usize = 4;

impl Job for Takes {
    type Output = ();
    async fn run<C: Ctx>(&self, cx: &mut C) {
        for _ in 0..TAKES {
            TURNS.lock().unwrap_or_else(|e| e.into_inner()).push(self.0);
            cx.checkpoint().await;
        }
    }
}

fn start() -> Result<(mini_eventloop::Runtime, Rc<proc_pool::Pool>), String> {
    let rt = mini_eventloop::Runtime::new().map_err(|e| e.to_string())?;
    let pool = proc_pool::Pool::new(POOL_WORKERS).map_err(|e| e.to_string())?;
    Ok((rt, Rc::new(pool)))
}

/// Every offloaded part ran in one of the pool's workers, never in this process; on the loop
/// alone the same job runs its part in place, in this process.
fn parts_run_in_the_pool() -> Result<(), String> {
    let (mut rt, pool) = start()?;
    let workers = pool.worker_pids();
    let jobs = vec![Offloads(Part::WhereAmI); 8];
    for (i, out) in offload::run_jobs(&mut rt, &pool, jobs.clone())
        .into_iter()
        .enumerate()
    {
        let pid = out.map_err(|e| format!("job {i}: {e}"))?;
        ensure(pid != std::process::id() && workers.contains(&pid), || {
            format!("job {i}: its part ran in {pid}, not in a worker of {workers:?}")
        })?;
    }
    for (i, out) in rt.run_jobs(jobs).into_iter().enumerate() {
        let pid = out.map_err(|e| format!("job {i} on the loop alone: {e}"))?;
        ensure(pid == std::process::id(), || {
            format!("job {i} on the loop alone: its part ran in {pid}, not in place")
        })?;
    }
    Ok(())
}

/// While one job's part is away in the pool, the loop runs another job: the fixture answers
/// only once both have a request pending at once, one from a worker (the offloaded part) and
/// one from the loop, so an `offload` that blocked the loop would never finish (the watchdog
/// of `util::run_cases` ends such a run).
fn the_loop_runs_others_meanwhile() -> Result<(), String> {
    let fixture = Fixture::start(FixtureConfig::new().barrier(2)).map_err(|e| e.to_string())?;
    let net = RoundTrips::new(fixture.addr(), 1, 16);
    let (mut rt, pool) = start()?;
    let jobs = vec![
        Talks {
            net,
            offloaded: true,
        },
        Talks {
            net,
            offloaded: false,
        },
    ];
    for (i, out) in offload::run_jobs(&mut rt, &pool, jobs)
        .into_iter()
        .enumerate()
    {
        let got = out.map_err(|e| format!("job {i}: {e}"))?;
        ensure(got == net.expected(), || {
            format!("job {i}: {got:?}, expected {:?}", net.expected())
        })?;
    }
    Ok(())
}

/// A part that panics in its worker, or kills it, fails its own job with the pool's reason;
/// the other jobs, and the pool, go on.
fn a_failed_part_fails_its_job_only() -> Result<(), String> {
    let (mut rt, pool) = start()?;
    let jobs = vec![
        Offloads(Part::WhereAmI),
        Offloads(Part::Panics),
        Offloads(Part::WhereAmI),
        Offloads(Part::Aborts),
        Offloads(Part::WhereAmI),
    ];
    let outs = offload::run_jobs(&mut rt, &pool, jobs);
    for (i, why) in [(1, "the part gives up"), (3, "offloaded part failed")] {
        let failure = match &outs[i] {
            Ok(pid) => return Err(format!("job {i} gave {pid}, expected a failure")),
            Err(e) => e.to_string(),
        };
        ensure(failure.contains(why), || {
            format!("job {i}: {failure:?} does not say {why:?}")
        })?;
    }
    for i in [0, 2, 4] {
        ensure(outs[i].is_ok(), || format!("job {i}: {:?}", outs[i]))?;
    }
    let after = offload::run_jobs(&mut rt, &pool, vec![Offloads(Part::WhereAmI); 4]);
    ensure(after.iter().all(Result::is_ok), || {
        format!("after the failures: {after:?}")
    })
}

/// A part whose output cannot be decoded back on the loop fails its own job with the
/// decoding error; the others, and the pool, go on.
fn an_undecodable_output_fails_its_job_only() -> Result<(), String> {
    let (mut rt, pool) = start()?;
    let jobs = vec![
        OffloadsUnreadable(false),
        OffloadsUnreadable(true),
        OffloadsUnreadable(false),
    ];
    let outs = offload::run_jobs(&mut rt, &pool, jobs);
    let failure = match &outs[1] {
        Ok(got) => return Err(format!("job 1 gave {got}, expected a failure")),
        Err(e) => e.to_string(),
    };
    ensure(failure.contains("never decodes"), || {
        format!("job 1: {failure:?} does not give the decoding error")
    })?;
    ensure(outs[0].is_ok() && outs[2].is_ok(), || format!("{outs:?}"))?;
    let after = offload::run_jobs(&mut rt, &pool, vec![OffloadsUnreadable(false); 2]);
    ensure(after.iter().all(Result::is_ok), || {
        format!("after: {after:?}")
    })
}

/// A job that never offloads runs as on the loop alone, on a loop built with its own
/// checkpoints between yields (here 1: every checkpoint yields, so two jobs alternate), not
/// with the default's.
fn jobs_yield_as_the_loop_is_built() -> Result<(), String> {
    let mut rt = mini_eventloop::Runtime::builder()
        .checkpoints_per_yield(1)
        .build()
        .map_err(|e| e.to_string())?;
    let pool = Rc::new(proc_pool::Pool::new(1).map_err(|e| e.to_string())?);
    let turns = |outs: Vec<Result<(), mini_eventloop::JoinError>>| -> Result<Vec<u8>, String> {
        if let Some(Err(e)) = outs.into_iter().find(Result::is_err) {
            return Err(e.to_string());
        }
        Ok(std::mem::take(
            &mut *TURNS.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    };
    let on_loop = turns(rt.run_jobs(vec![Takes(0), Takes(1)]))?;
    let combined = turns(offload::run_jobs(&mut rt, &pool, vec![Takes(0), Takes(1)]))?;
    ensure(on_loop == [0, 1].repeat(TAKES), || {
        format!("on the loop alone: {on_loop:?}")
    })?;
    ensure(combined == on_loop, || {
        format!("combined: {combined:?}, on the loop alone: {on_loop:?}")
    })
}

fn main() -> ExitCode {
    run_cases(&[
        ("offloaded_parts_run_in_the_pool", parts_run_in_the_pool),
        (
            "the_loop_runs_other_jobs_while_a_part_is_offloaded",
            the_loop_runs_others_meanwhile,
        ),
        (
            "a_failed_offloaded_part_fails_its_job_only",
            a_failed_part_fails_its_job_only,
        ),
        (
            "an_undecodable_offloaded_output_fails_its_job_only",
            an_undecodable_output_fails_its_job_only,
        ),
        (
            "jobs_yield_as_the_loop_they_run_on_is_built",
            jobs_yield_as_the_loop_is_built,
        ),
    ])
}
