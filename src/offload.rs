//! The combined runtime `mini-eventloop+proc-pool`: jobs run as tasks on the event loop, and
//! the CPU-bound parts they mark with [`Ctx::offload`] run on a process pool beside it, as an
//! asyncio server sends its CPU work to a `ProcessPoolExecutor` with `loop.run_in_executor`.
//!
//! ```text
//! loop thread (this process)                       pool workers (forked, one per core)
//!   task: fetch ... awaits the reactor
//!   task: cx.offload(part) -- pool.run_async ---->  worker 1 runs `part` (BlockingCtx)
//!   task: fetch ... (the loop runs others)          worker 2 runs another task's part
//!   task: ... part's output  <-- manager wakes ---  output, as Wire bytes
//!   task: reply ... awaits the reactor
//! ```
//!
//! Invariant: [`OffloadCtx`] is the loop's own context in every method but `offload`, so a job
//! that never offloads runs exactly as on `mini-eventloop`; an offloaded part's output is what
//! running it in place gives, or the calling job fails (a panic of its task, which the loop
//! turns into that job's error) with the pool's reason.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use concurrency_shared::{Ctx, Job, Wire};
use mini_eventloop::net::TcpStream;
use mini_eventloop::{JoinError, LoopCtx, Runtime};
use proc_pool::Pool;

/// A job's context on the combined runtime: the loop's context, with `offload` sent to a pool.
pub struct OffloadCtx {
    /// Timers, sockets and yields: everything but `offload`.
    on_loop: LoopCtx,
    /// Where offloaded parts run; shared by every task of the run.
    pool: Rc<Pool>,
}

impl OffloadCtx {
    /// A fresh context for one job on the current loop (configured as that loop was built),
    /// offloading to `pool`.
    pub fn new(pool: Rc<Pool>) -> OffloadCtx {
        OffloadCtx {
            on_loop: LoopCtx::for_current(),
            pool,
        }
    }
}

impl Ctx for OffloadCtx {
    type Stream = TcpStream;

    fn checkpoint(&mut self) -> impl Future<Output = ()> {
        self.on_loop.checkpoint()
    }

    fn sleep(&mut self, d: Duration) -> impl Future<Output = ()> {
        self.on_loop.sleep(d)
    }

    fn connect(&mut self, addr: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> {
        self.on_loop.connect(addr)
    }

    fn read(
        &mut self,
        s: &mut TcpStream,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<usize>> {
        self.on_loop.read(s, buf)
    }

    fn write_all(&mut self, s: &mut TcpStream, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        self.on_loop.write_all(s, buf)
    }

    fn read_exact(
        &mut self,
        s: &mut TcpStream,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<()>> {
        self.on_loop.read_exact(s, buf)
    }

    /// Sends `job` to the pool and awaits its output on the loop (the task is parked; the
    /// pool's manager wakes it). A part the pool cannot finish (its panic, its worker's death,
    /// a broken pool) panics this task with the pool's reason: the job fails, as it would
    /// had the part panicked in place, and the loop and the other jobs go on.
    async fn offload<J>(&mut self, job: J) -> J::Output
    where
        J: Job + Wire,
        J::Output: Wire,
    {
        match self.pool.run_async(job).await {
            Ok(output) => output,
            Err(e) => panic!("its offloaded part failed in the process pool: {e}"),
        }
    }
}

/// Runs every job as a task on `rt`, each with an [`OffloadCtx`] on `pool`, and returns their
/// results in input order; a job whose offloaded part failed is a panicked task's error.
pub fn run_jobs<J: Job>(
    rt: &mut Runtime,
    pool: &Rc<Pool>,
    jobs: Vec<J>,
) -> Vec<Result<J::Output, JoinError>> {
    rt.block_on(async move {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let mut cx = OffloadCtx::new(Rc::clone(pool));
                mini_eventloop::spawn(async move { job.run(&mut cx).await })
            })
            .collect();
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await);
        }
        results
    })
}
