//! The shared [`Job`] contract on interpreter threads: [`GilCtx`], and the interpreter's
//! [`spawn_job`](crate::Interpreter::spawn_job) and [`run_jobs`](crate::Interpreter::run_jobs).
//!
//! Invariant: a job runs on an interpreter thread holding the GIL; its `checkpoint` honours
//! drop requests and every blocking operation runs inside [`Gil::allow_threads`], so a job
//! waiting on the network or a timer never holds the GIL. Every future a `GilCtx` returns
//! completes on its first poll, so the trivial [`block_on`] drives a job.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use concurrency_shared::{Ctx, Job, block_on};

use crate::cell::GilCell;
use concurrency_shared::panic_message;

use crate::error::JoinError;
use crate::interpreter::Interpreter;
use crate::thread::JoinHandle;
use crate::token::{self, Gil, ShutdownUnwind};

/// A [`Ctx`] for a job running on an interpreter thread.
///
/// ```
/// use gil_threads::{Ctx, GilCtx, Interpreter, Job};
///
/// struct Count(u64);
/// impl Job for Count {
///     type Output = u64;
///     async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
///         for _ in 0..self.0 {
///             cx.checkpoint().await;
///         }
///         self.0
///     }
/// }
///
/// let interp = Interpreter::new();
/// let out = interp.with_gil(|gil| GilCtx::new(gil).run(&Count(100))).unwrap();
/// assert_eq!(out, 100);
/// ```
#[derive(Debug)]
pub struct GilCtx<'g> {
    /// The token of the thread running the job.
    gil: &'g mut Gil,
}

impl<'g> GilCtx<'g> {
    /// A context over this thread's token.
    pub fn new(gil: &'g mut Gil) -> Self {
        Self { gil }
    }

    /// Runs `job` to completion on this thread with this context.
    ///
    /// # Panics
    ///
    /// If the job awaits something other than its context (see
    /// [`concurrency_shared::block_on`]).
    pub fn run<J: Job>(&mut self, job: &J) -> J::Output {
        block_on(job.run(self))
    }
}

impl Ctx for GilCtx<'_> {
    type Stream = TcpStream;

    async fn checkpoint(&mut self) {
        self.gil.checkpoint();
    }

    async fn sleep(&mut self, d: Duration) {
        self.gil.allow_threads(|| std::thread::sleep(d));
    }

    async fn connect(&mut self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.gil.allow_threads(|| {
            let stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }

    async fn read(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        self.gil.allow_threads(|| s.read(buf))
    }

    async fn write_all(&mut self, s: &mut TcpStream, buf: &[u8]) -> io::Result<()> {
        self.gil.allow_threads(|| s.write_all(buf))
    }
}

impl Interpreter {
    /// Runs `job` on a new (non-daemon) interpreter thread with a [`GilCtx`].
    pub fn spawn_job<J: Job>(&self, job: Arc<J>) -> JoinHandle<J::Output> {
        self.spawn(move |gil| GilCtx::new(gil).run(&*job))
    }

    /// Runs `jobs` on `threads` interpreter threads (at least one) that pull them from a
    /// shared queue; returns each job's outcome in input order. A job that panics gives
    /// [`JoinError::Panicked`] and its thread goes on with the next job; jobs left when the
    /// interpreter shuts down give [`JoinError::ShuttingDown`].
    ///
    /// Call it from a thread that does not hold this interpreter's GIL (holding another
    /// interpreter's is allowed): it blocks until all the jobs are done, and the jobs need the
    /// GIL. Called while holding it, it refuses at once instead of deadlocking: no job runs
    /// and every outcome is [`JoinError::WouldDeadlock`] (the signature stays a plain `Vec`).
    ///
    /// ```
    /// use gil_threads::{Ctx, Interpreter, Job};
    ///
    /// struct Square(u64);
    /// impl Job for Square {
    ///     type Output = u64;
    ///     async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
    ///         cx.checkpoint().await;
    ///         self.0 * self.0
    ///     }
    /// }
    ///
    /// let interp = Interpreter::new();
    /// let out = interp.run_jobs((0..5).map(Square).collect(), 2);
    /// assert_eq!(out, vec![Ok(0), Ok(1), Ok(4), Ok(9), Ok(16)]);
    /// ```
    pub fn run_jobs<J: Job>(
        &self,
        jobs: Vec<J>,
        threads: usize,
    ) -> Vec<Result<J::Output, JoinError>> {
        let count = jobs.len();
        let id = self.id();
        // The workers need the GIL: waiting for them while holding it would never end.
        if token::refuse_if_holding(id).is_err() {
            return (0..count).map(|_| Err(JoinError::WouldDeadlock)).collect();
        }
        let queue = Arc::new(GilCell::new(
            id,
            jobs.into_iter().enumerate().collect::<VecDeque<_>>(),
        ));
        let results: Arc<GilCell<Slots<J::Output>>> =
            Arc::new(GilCell::new(id, (0..count).map(|_| None).collect()));
        let workers: Vec<JoinHandle<()>> = (0..threads.clamp(1, count.max(1)))
            .map(|i| {
                let queue = Arc::clone(&queue);
                let results = Arc::clone(&results);
                self.thread_builder()
                    .name(format!("job-worker-{i}"))
                    .spawn(move |gil| run_queue(gil, &queue, &results))
            })
            .collect();
        for worker in workers {
            // A worker only fails by being unwound at shutdown; its jobs say so below.
            let _ = worker.join();
        }
        let slots = match Arc::try_unwrap(results) {
            Ok(cell) => cell.into_inner(),
            // Unreachable once every worker was joined; kept total.
            Err(_) => (0..count).map(|_| None).collect(),
        };
        slots
            .into_iter()
            .map(|slot| slot.unwrap_or(Err(JoinError::ShuttingDown)))
            .collect()
    }
}

/// `run_jobs`' outcomes, by input index; `None` until the job ran.
type Slots<O> = Vec<Option<Result<O, JoinError>>>;

/// A `run_jobs` worker: takes jobs from `queue` until it is empty, storing each outcome.
fn run_queue<J: Job>(
    gil: &mut Gil,
    queue: &GilCell<VecDeque<(usize, J)>>,
    results: &GilCell<Slots<J::Output>>,
) {
    loop {
        let Some((index, job)) = queue.borrow_mut(gil).ok().and_then(VecDeque::pop_front) else {
            return;
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| GilCtx::new(gil).run(&job)));
        let result = match outcome {
            Ok(output) => Ok(output),
            Err(payload) if payload.is::<ShutdownUnwind>() => {
                // Leave the interpreter: the remaining jobs report ShuttingDown.
                panic::resume_unwind(payload);
            }
            Err(payload) => Err(JoinError::Panicked(panic_message(&*payload))),
        };
        if let Ok(slots) = results.borrow_mut(gil) {
            slots[index] = Some(result);
        }
    }
}
