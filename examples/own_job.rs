//! Your own job, written once, run on every runtime of the workspace.
//!
//! ```text
//! cargo run --release --example own_job
//! ```
//!
//! The job below checks the Collatz conjecture over a range of numbers, offering a switch
//! point every few microseconds of work. It is plain `async` code against `Ctx`; to ship it to
//! a worker process it also implements `Wire` (a few lines: its fields, in order).

use std::time::Instant;

use concurrency_shared::{Ctx, Job, Wire, WireError, run_blocking};

/// The longest Collatz trajectory among the numbers in `lo..hi`: `(number, steps)`.
#[derive(Debug, Clone, Copy)]
struct LongestCollatz {
    lo: u64,
    hi: u64,
}

impl Job for LongestCollatz {
    type Output = (u64, u32);

    async fn run<C: Ctx>(&self, cx: &mut C) -> (u64, u32) {
        let mut best = (self.lo, 0);
        for n in self.lo..self.hi {
            // A switch point every 64 numbers: a few microseconds of work.
            if n % 64 == 0 {
                cx.checkpoint().await;
            }
            let (mut x, mut steps) = (n, 0u32);
            while x > 1 {
                x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
                steps += 1;
            }
            if steps > best.1 {
                best = (n, steps);
            }
        }
        best
    }
}

impl Wire for LongestCollatz {
    fn encode(&self, out: &mut Vec<u8>) {
        self.lo.encode(out);
        self.hi.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(LongestCollatz {
            lo: u64::decode(input)?,
            hi: u64::decode(input)?,
        })
    }
}

/// The numbers to search, and how many jobs to split them into.
const UP_TO: u64 = 2_000_000;
const JOBS: u64 = 8;

fn jobs() -> Vec<LongestCollatz> {
    (0..JOBS)
        .map(|i| LongestCollatz {
            lo: 1 + i * UP_TO / JOBS,
            hi: 1 + (i + 1) * UP_TO / JOBS,
        })
        .collect()
}

/// The best of the jobs' answers, or what went wrong.
fn best<E: std::fmt::Display>(outputs: Vec<Result<(u64, u32), E>>) -> Result<(u64, u32), String> {
    let mut best = (0, 0);
    for output in outputs {
        let found = output.map_err(|e| e.to_string())?;
        if found.1 > best.1 {
            best = found;
        }
    }
    Ok(best)
}

fn main() -> Result<(), String> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

    let started = Instant::now();
    let sequential = best(
        jobs()
            .iter()
            .map(|j| Ok::<_, String>(run_blocking(j)))
            .collect(),
    )?;
    println!("sequential      {sequential:?} in {:?}", started.elapsed());

    let started = Instant::now();
    let interp = gil_threads::Interpreter::new();
    let threads = best(interp.run_jobs(jobs(), JOBS as usize))?;
    println!("gil-threads     {threads:?} in {:?}", started.elapsed());

    let started = Instant::now();
    let mut rt = mini_eventloop::Runtime::new().map_err(|e| e.to_string())?;
    let tasks = best(rt.run_jobs(jobs()))?;
    println!("mini-eventloop  {tasks:?} in {:?}", started.elapsed());

    let started = Instant::now();
    let pool = proc_pool::Pool::new(workers).map_err(|e| e.to_string())?;
    let processes = best(pool.run_all(jobs()))?;
    println!(
        "proc-pool       {processes:?} in {:?} ({workers} workers)",
        started.elapsed()
    );

    if [threads, tasks, processes].iter().all(|&r| r == sequential) {
        Ok(())
    } else {
        Err("the runtimes disagree".to_owned())
    }
}
