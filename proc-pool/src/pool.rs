//! [`Pool`], its [`Builder`], and the calls: `apply`, `map`, `imap`, `run`, ...
//!
//! Invariant: every call returns one `Result` per task, and no call can wait forever on a
//! pool that has stopped (see `result.rs`). Encoding inputs and decoding results happen on the
//! caller's thread, so the manager only moves bytes.

use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{BuildError, BuildErrorKind, TaskError};
use crate::image::Admission;
use crate::imap::Imap;
use crate::manager::{self, Command, Config, CrashPolicy, WAKER};
use crate::notify::Notify;
use crate::result::{AsyncResult, Received, receive};
use crate::stats::{Counters, PoolStats};
use crate::sys;
use crate::task::{self, Chunk, ChunkOutcome, decode_outcome};
use crate::worker::{self, PipeSizes, Spec, StartMethod};
use crate::{Job, Wire};

/// The most workers a pool may have: far more than any machine has cores, and few enough that
/// the per-worker bookkeeping of a mistaken count (`usize::MAX`) cannot exhaust memory (each
/// worker also takes three descriptors and a process, which the system limits first).
pub const MAX_WORKERS: usize = 1 << 16;

/// How many chunks one submission message carries at most, so that workers start on the first
/// chunks of a long `map` while the caller is still encoding the rest.
const SUBMIT_BATCH: usize = 256;

/// A pool of forked worker processes, like Python's `multiprocessing.Pool`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = proc_pool::Pool::new(2)?;
/// let squares: Result<Vec<u64>, _> = pool.map(square, 0..10).into_iter().collect();
/// assert_eq!(squares?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// assert_eq!(pool.apply(square, 12)?, 144);
/// pool.join();
/// # Ok(())
/// # }
/// ```
///
/// Dropping the pool terminates it: workers are killed and reaped, pending tasks fail with
/// [`TaskError::PoolClosed`]. Call [`join`](Pool::join) first to let them finish.
pub struct Pool {
    /// Requests to the manager.
    commands: Sender<Command>,
    /// Wakes the manager's poll after a request. Written and closed only by the owner: in a
    /// forked copy its descriptor number may name a file the copy's process opened since.
    waker: ManuallyDrop<mio::Waker>,
    /// The manager thread, until joined. The lock is held for the whole join, so that every
    /// caller of `join`/`terminate` returns only once the manager has ended.
    manager: Mutex<Option<JoinHandle<()>>>,
    /// Disconnects when the manager thread ends.
    alive: Receiver<()>,
    /// The counters the manager keeps.
    stats: Arc<Counters>,
    /// Set by the manager when the pool breaks, so that calls refuse work before making it.
    broken: Arc<AtomicBool>,
    /// How many workers the pool keeps.
    workers: usize,
    /// `close`, `join` or `terminate` was called: refuse new work.
    closed: AtomicBool,
    /// The process that built the pool. In a process forked from it (by other code), this
    /// handle is a copy whose manager thread does not exist there: it refuses every call.
    owner: u32,
    /// Which code the workers have: a task naming other code is refused before sending.
    admission: Admission,
}

/// Settings for a [`Pool`]; see [`Pool::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    /// Worker count; `None`: available parallelism.
    workers: Option<usize>,
    /// Run once in each worker before its first task.
    initializer: Option<fn()>,
    /// Retire a worker after this many tasks.
    max_tasks_per_child: Option<u64>,
    /// Kill a worker whose task runs longer.
    task_timeout: Option<Duration>,
    /// What a worker crash does.
    crash_policy: CrashPolicy,
    /// How workers are started.
    start_method: StartMethod,
    /// Where to record chunks sent and run.
    #[cfg(feature = "trace")]
    recorder: Option<Arc<crate::trace::Recorder>>,
}

impl Builder {
    /// How many workers (default: [`std::thread::available_parallelism`]).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// A function each worker runs once, before its first task (Python's `initializer`). If it
    /// panics, the pool breaks: every task fails with [`TaskError::PoolBroken`] (Python
    /// instead restarts such workers forever). If it ends the process (`exit`) or hangs (with
    /// a [`task_timeout`](Self::task_timeout)), a worker slot is given up (no longer refilled)
    /// once three of its workers in a row have ended before starting any chunk, and the pool
    /// breaks once every slot is given up; while a slot still has a working worker, the pool
    /// runs on with fewer workers.
    pub fn initializer(mut self, f: fn()) -> Self {
        self.initializer = Some(f);
        self
    }

    /// Retire each worker after it has been sent `k` tasks (counted in tasks, rounded up to
    /// whole chunks) and start a fresh one (Python's `maxtasksperchild`).
    pub fn max_tasks_per_child(mut self, k: u64) -> Self {
        self.max_tasks_per_child = Some(k.max(1));
        self
    }

    /// Kill the worker of a task that runs longer than `d` (a chunk of `n` tasks gets `n × d`),
    /// failing it with [`TaskError::TimedOut`], and start a fresh worker.
    ///
    /// The clock of a chunk starts when the worker starts it (workers publish that in memory
    /// shared with the manager). A chunk the worker has not started yet counts from when it
    /// could have: when it was sent, or when the worker finished the chunk before. A worker
    /// that does not start a chunk in time (stopped, or stuck outside any task) is killed and
    /// replaced as well; that chunk never ran, so it goes to another worker instead of failing.
    /// A worker's initializer runs before its first chunk, so it counts against that chunk;
    /// when three workers of one slot in a row end before starting anything (killed for an
    /// initializer that hangs, or dead on their own), that slot is given up instead of refilled
    /// forever, and once every slot is, the pool breaks.
    /// A worker that sends nothing of a completed chunk's answer for as long (stopped while
    /// writing it) times out too. `Duration::MAX` is no limit.
    pub fn task_timeout(mut self, d: Duration) -> Self {
        self.task_timeout = Some(d);
        self
    }

    /// What a worker crash does (default [`CrashPolicy::FailTask`]).
    pub fn crash_policy(mut self, policy: CrashPolicy) -> Self {
        self.crash_policy = policy;
        self
    }

    /// How workers are started (default [`StartMethod::Fork`]; see [`StartMethod`] for what
    /// each accepts and when to choose [`StartMethod::ForkServer`]).
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.start_method = method;
        self
    }

    /// Records what the pool does into `recorder` (feature `trace`): for each chunk sent to
    /// a worker, a [`ChunkSent`](crate::trace::Kind::ChunkSent) instant, and for each chunk a
    /// worker answers, a [`ChunkRun`](crate::trace::Kind::ChunkRun) span from when the worker
    /// took the chunk up (its frame read, from the pipe or from the frames it had prefetched)
    /// to when its answer was complete and about to be written (so the write itself is not
    /// in the span: the record travels in that answer), both on
    /// [`Lane::Worker(slot)`](crate::trace::Lane::Worker) (`slot` in `0..workers`, kept by a
    /// replacement worker). A chunk's records are in the recorder before its results reach
    /// the caller. A full recorder counts what it could not keep in
    /// [`dropped`](crate::trace::Recorder::dropped); the pool runs on.
    ///
    /// Workers record into a buffer allocated before their fork and send their records with
    /// their answers; a chunk whose worker dies before answering has a `ChunkSent` and no
    /// `ChunkRun` (and, if it was requeued, another `ChunkSent` on the lane it went to).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use proc_pool::Pool;
    /// use proc_pool::trace::{Kind, Recorder};
    ///
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let recorder = Arc::new(Recorder::with_capacity(1_000));
    /// let pool = Pool::builder()
    ///     .workers(2)
    ///     .recorder(Arc::clone(&recorder))
    ///     .build()?;
    /// pool.map_chunked(square, 0..10, 1);
    /// let runs = recorder.events().iter().filter(|e| e.kind == Kind::ChunkRun).count();
    /// assert_eq!(runs, 10);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "trace")]
    pub fn recorder(mut self, recorder: Arc<crate::trace::Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Starts the manager thread, which forks the workers.
    ///
    /// First it flushes std's stdout buffer (as Python flushes before forking), so that the
    /// workers do not inherit unprinted output and print it again; if another thread holds
    /// std's stdout lock for more than [`FLUSH_BEFORE_FORK_BOUND`], it goes on without.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the worker count is zero or above [`MAX_WORKERS`], or a thread, pipe,
    /// poll or fork could not be created (every process already started is killed and reaped).
    pub fn build(self) -> Result<Pool, BuildError> {
        let workers = match self.workers {
            Some(0) => return Err(BuildError::new(BuildErrorKind::NoWorkers)),
            Some(n) if n > MAX_WORKERS => {
                return Err(BuildError::new(BuildErrorKind::TooManyWorkers(n)));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        if self.start_method == StartMethod::ForkServer {
            crate::forkserver::check_supported(self.initializer)?;
        }
        // Both before the first fork, so every worker inherits them.
        worker::install_panic_hook();
        task::token();
        if self.start_method == StartMethod::Fork {
            flush_stdout_before_fork();
        }
        let admission = Admission::new(self.start_method);
        // Held above the standard descriptors (see `sys::above_stdio`): a forked worker keeps
        // 0, 1 and 2, which must never be the manager's.
        let (poll, waker) = sys::with_stdio_held(|| -> io::Result<_> {
            let poll = mio::Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), WAKER)?;
            Ok((poll, waker))
        })?;
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (alive_tx, alive) = crossbeam_channel::bounded(1);
        let stats = Arc::new(Counters::default());
        let broken = Arc::new(AtomicBool::new(false));
        let config = Config {
            spec: Spec {
                method: self.start_method,
                initializer: self.initializer,
                signal_mask: None,
                pipe_sizes: PipeSizes::for_pool(workers, sys::pipe_user_pages_soft()),
                #[cfg(feature = "trace")]
                traced: self.recorder.is_some(),
            },
            workers,
            max_tasks: self.max_tasks_per_child,
            task_timeout: self.task_timeout,
            policy: self.crash_policy,
            #[cfg(feature = "trace")]
            recorder: self.recorder,
        };
        let manager_stats = Arc::clone(&stats);
        let manager_broken = Arc::clone(&broken);
        let handle = std::thread::Builder::new()
            .name("proc-pool-manager".into())
            .spawn(move || {
                manager::run(
                    config,
                    poll,
                    command_rx,
                    manager_stats,
                    manager_broken,
                    ready_tx,
                    alive_tx,
                )
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e.into());
            }
            Err(_) => {
                let _ = handle.join();
                return Err(
                    io::Error::other("the pool's manager thread ended while starting").into(),
                );
            }
        }
        Ok(Pool {
            commands,
            waker: ManuallyDrop::new(waker),
            manager: Mutex::new(Some(handle)),
            alive,
            stats,
            broken,
            workers,
            closed: AtomicBool::new(false),
            owner: std::process::id(),
            admission,
        })
    }
}

/// How long [`Builder::build`] waits to flush std's stdout buffer before it forks. A thread
/// that prints holds std's stdout lock for microseconds; one that keeps it (a logger holding
/// `stdout().lock()`) must not make `build` wait for ever.
pub const FLUSH_BEFORE_FORK_BOUND: Duration = Duration::from_millis(100);

/// The process whose flusher thread (see [`flush_stdout_before_fork`]) has not finished; 0 when
/// none. A pid rather than a flag: a process forked while a flusher ran inherits the value,
/// and must not skip its own flushes for a thread it does not have.
static FLUSHER_OF: AtomicU32 = AtomicU32::new(0);

/// Flushes std's stdout buffer before a fork (by `build`, and by the manager before it forks
/// a replacement under `Fork`), waiting at most [`FLUSH_BEFORE_FORK_BOUND`] once the flush has
/// begun: it runs on a thread of its own (std's stdout lock has no `try_lock`), which, if the
/// lock stays held, finishes whenever it is freed. (The bound counts from when that thread
/// runs, so that a busy machine's scheduling delay is not taken for a held lock.) At most one
/// such thread exists per process: while one still waits for the lock, another would only
/// wait behind it, so the flush is skipped.
pub(crate) fn flush_stdout_before_fork() {
    let me = std::process::id();
    let seen = FLUSHER_OF.load(Ordering::Acquire);
    if seen == me
        || FLUSHER_OF
            .compare_exchange(seen, me, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    let (progress, flusher_at) = crossbeam_channel::bounded(2);
    let flusher = std::thread::Builder::new()
        .name("proc-pool-flush".into())
        .spawn(move || {
            let _ = progress.send(());
            let _ = io::stdout().flush();
            FLUSHER_OF.store(0, Ordering::Release);
            let _ = progress.send(());
        });
    if flusher.is_err() {
        FLUSHER_OF.store(0, Ordering::Release);
    } else if flusher_at.recv().is_ok() {
        let _ = flusher_at.recv_timeout(FLUSH_BEFORE_FORK_BOUND);
    }
}

/// Python's default `chunksize` for `map`: `len / (4 × workers)`, rounded up, at least 1.
pub fn auto_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(4 * workers.max(1)).max(1)
}

impl Pool {
    /// A pool of `n` workers with default settings.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new(n: usize) -> Result<Pool, BuildError> {
        Pool::builder().workers(n).build()
    }

    /// Settings for a pool.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use proc_pool::{CrashPolicy, Pool};
    ///
    /// fn quiet_start() {}
    ///
    /// let pool = Pool::builder()
    ///     .workers(2)
    ///     .initializer(quiet_start)
    ///     .max_tasks_per_child(1_000)
    ///     .task_timeout(Duration::from_secs(30))
    ///     .crash_policy(CrashPolicy::FailTask)
    ///     .build()?;
    /// assert_eq!(pool.workers(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> Builder {
        Builder {
            workers: None,
            initializer: None,
            max_tasks_per_child: None,
            task_timeout: None,
            crash_policy: CrashPolicy::default(),
            start_method: StartMethod::default(),
            #[cfg(feature = "trace")]
            recorder: None,
        }
    }

    /// How many workers the pool keeps.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The pids of the current workers (for reading their `/proc` entries; signalling them by
    /// pid races with their replacement). Empty once the pool has stopped.
    pub fn worker_pids(&self) -> Vec<u32> {
        if !self.is_owner() {
            return Vec::new();
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.commands.send(Command::Pids(tx)).is_err() {
            return Vec::new();
        }
        let _ = self.waker.wake();
        let mut select = crossbeam_channel::Select::new();
        let on_reply = select.recv(&rx);
        select.recv(&self.alive);
        let op = select.select();
        if op.index() == on_reply {
            op.recv(&rx).unwrap_or_default()
        } else {
            rx.try_recv().unwrap_or_default()
        }
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.stats.snapshot()
    }

    /// Runs `f(x)` in a worker and waits for the result (Python's `apply`).
    ///
    /// A task is a plain `fn`: a closure that captures state does not compile, since nothing
    /// but the `Wire`-encoded input crosses into the worker.
    ///
    /// ```compile_fail
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = proc_pool::Pool::new(1)?;
    /// let offset = 10u64;
    /// let _ = pool.apply(move |x: u64| x + offset, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The task's [`TaskError`].
    pub fn apply<T: Wire, U: Wire>(&self, f: fn(T) -> U, x: T) -> Result<U, TaskError> {
        // No waker slot: this handle is only blocked on.
        self.one(|tx| Chunk::of_fn(f, std::slice::from_ref(&x), 0, tx), false)
            .get()
    }

    /// Starts `f(x)` in a worker and returns a handle on its result (Python's `apply_async`),
    /// which is also a [`Future`](std::future::Future).
    pub fn apply_async<T: Wire, U: Wire>(&self, f: fn(T) -> U, x: T) -> AsyncResult<U> {
        self.one(|tx| Chunk::of_fn(f, std::slice::from_ref(&x), 0, tx), true)
    }

    /// Starts a shared [`Job`] in a worker, as [`run`](Self::run) does, and returns a handle
    /// on its output to await (or to [`get`](AsyncResult::get)): the counterpart of Python's
    /// `loop.run_in_executor(pool, ...)`.
    pub fn run_async<J>(&self, job: J) -> AsyncResult<J::Output>
    where
        J: Job + Wire,
        J::Output: Wire,
    {
        self.one(|tx| Chunk::of_jobs(std::slice::from_ref(&job), 0, tx), true)
    }

    /// Submits the one-task chunk `make` builds and returns its handle, with a waker slot and
    /// cancel flag if `awaitable`.
    fn one<U: Wire>(
        &self,
        make: impl FnOnce(Sender<ChunkOutcome>) -> Chunk,
        awaitable: bool,
    ) -> AsyncResult<U> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut chunk = make(tx);
        let notify = awaitable.then(|| Arc::new(Notify::default()));
        if let Some(notify) = &notify {
            chunk = chunk.with_wake(Arc::clone(notify));
        }
        self.submit(vec![chunk]);
        AsyncResult::new(rx, self.alive.clone(), self.owner, notify)
    }

    /// Applies `f` to every item, in chunks of Python's default size ([`auto_chunksize`]), and
    /// returns the results in input order.
    pub fn map<T: Wire, U: Wire>(
        &self,
        f: fn(T) -> U,
        items: impl IntoIterator<Item = T>,
    ) -> Vec<Result<U, TaskError>> {
        let items: Vec<T> = items.into_iter().collect();
        let chunksize = auto_chunksize(items.len(), self.workers);
        self.map_chunked(f, items, chunksize)
    }

    /// [`map`](Self::map) with `chunksize` items per chunk (at least 1). A chunk is the unit
    /// that goes to a worker, and the unit that fails when its worker dies.
    pub fn map_chunked<T: Wire, U: Wire>(
        &self,
        f: fn(T) -> U,
        items: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Vec<Result<U, TaskError>> {
        let items: Vec<T> = items.into_iter().collect();
        self.scatter(&items, chunksize.max(1), |chunk, seq, tx| {
            Chunk::of_fn(f, chunk, seq, tx)
        })
    }

    /// Applies `f` to the items lazily, yielding results in input order, one item per chunk
    /// (Python's `imap`). At most a window of chunks is in flight.
    pub fn imap<T: Wire, U: Wire, I: IntoIterator<Item = T>>(
        &self,
        f: fn(T) -> U,
        items: I,
    ) -> Imap<'_, T, U, I::IntoIter> {
        Imap::new(self, f, items.into_iter(), 1, true)
    }

    /// [`imap`](Self::imap) with `chunksize` items per chunk.
    pub fn imap_chunked<T: Wire, U: Wire, I: IntoIterator<Item = T>>(
        &self,
        f: fn(T) -> U,
        items: I,
        chunksize: usize,
    ) -> Imap<'_, T, U, I::IntoIter> {
        Imap::new(self, f, items.into_iter(), chunksize, true)
    }

    /// Like [`imap`](Self::imap), but yields results as they complete (Python's
    /// `imap_unordered`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// fn double(x: u32) -> u32 {
    ///     2 * x
    /// }
    ///
    /// let pool = proc_pool::Pool::new(2)?;
    /// let mut doubled: Vec<u32> = pool.imap_unordered(double, 0..100).collect::<Result<_, _>>()?;
    /// doubled.sort_unstable();
    /// assert_eq!(doubled, (0..100).map(|x| 2 * x).collect::<Vec<_>>());
    /// # Ok(())
    /// # }
    /// ```
    pub fn imap_unordered<T: Wire, U: Wire, I: IntoIterator<Item = T>>(
        &self,
        f: fn(T) -> U,
        items: I,
    ) -> Imap<'_, T, U, I::IntoIter> {
        Imap::new(self, f, items.into_iter(), 1, false)
    }

    /// Runs a shared [`Job`] in a worker, with the blocking context, and waits for its output.
    ///
    /// # Errors
    ///
    /// The task's [`TaskError`].
    pub fn run<J>(&self, job: J) -> Result<J::Output, TaskError>
    where
        J: Job + Wire,
        J::Output: Wire,
    {
        self.run_all(vec![job])
            .pop()
            .unwrap_or(Err(TaskError::PoolClosed))
    }

    /// Runs every job, one per chunk (jobs are coarse), and returns their outputs in input
    /// order. Each job runs in a worker with the shared blocking context
    /// ([`run_blocking`](crate::run_blocking)): its waits are plain blocking calls.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use concurrency_shared::workloads::{PrimeCount, Workload};
    ///
    /// let pool = proc_pool::Pool::new(2)?;
    /// let jobs = PrimeCount::split(0, 100_000, 4);
    /// let expected: Vec<_> = jobs.iter().map(|job| Ok(job.expected())).collect();
    /// assert_eq!(pool.run_all(jobs), expected);
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_all<J>(&self, jobs: Vec<J>) -> Vec<Result<J::Output, TaskError>>
    where
        J: Job + Wire,
        J::Output: Wire,
    {
        self.scatter(&jobs, 1, |chunk, seq, tx| Chunk::of_jobs(chunk, seq, tx))
    }

    /// Stops accepting work; queued tasks still run (Python's `close`). Later submissions fail
    /// with [`TaskError::PoolClosed`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.command(Command::Close);
    }

    /// Closes the pool, waits until every queued task has finished and every worker has exited
    /// and been reaped (Python's `close` then `join`). Any number of threads may call `join`
    /// and [`terminate`](Self::terminate) at once: each returns only then. In a forked copy
    /// of the pool, returns at once.
    pub fn join(&self) {
        self.close();
        self.wait_for_manager();
    }

    /// Kills every worker now and reaps them; pending tasks fail with
    /// [`TaskError::PoolClosed`] (Python's `terminate`). Returns once every worker is reaped,
    /// also when another thread is already in `join` or `terminate`.
    pub fn terminate(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.command(Command::Terminate);
        self.wait_for_manager();
    }

    /// The manager's liveness link (see `result.rs`).
    pub(crate) fn alive(&self) -> &Receiver<()> {
        &self.alive
    }

    /// Why the pool takes no more work, if it does not: [`TaskError::PoolBroken`] in a forked
    /// copy (its manager does not exist there) or once the pool broke,
    /// [`TaskError::PoolClosed`] after `close`, `join` or `terminate`.
    pub(crate) fn refusal(&self) -> Option<TaskError> {
        if !self.is_owner() || self.broken.load(Ordering::Relaxed) {
            Some(TaskError::PoolBroken)
        } else if self.closed.load(Ordering::Relaxed) {
            Some(TaskError::PoolClosed)
        } else {
            None
        }
    }

    /// Hands chunks to the manager; if it is gone, broken, or the pool is closed or a forked
    /// copy, fails them here (a copy never writes the waker: see its field).
    pub(crate) fn submit(&self, chunks: Vec<Chunk>) {
        if let Some(refusal) = self.refusal() {
            chunks.into_iter().for_each(|c| c.fail(refusal.clone()));
            return;
        }
        let chunks = self.admission.admit(chunks);
        if let Err(crossbeam_channel::SendError(Command::Submit(chunks))) =
            self.commands.send(Command::Submit(chunks))
        {
            chunks
                .into_iter()
                .for_each(|c| c.fail(TaskError::PoolClosed));
            return;
        }
        let _ = self.waker.wake();
    }

    /// Whether this is the process that built the pool (not a forked copy of it).
    pub(crate) fn is_owner(&self) -> bool {
        std::process::id() == self.owner
    }

    /// Sends a control command.
    fn command(&self, command: Command) {
        if self.is_owner() && self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Returns once the manager thread has ended: joins it, or waits for the caller that is
    /// joining it (the lock is held for the whole join).
    fn wait_for_manager(&self) {
        if !self.is_owner() {
            return;
        }
        let mut manager = self.manager.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = manager.take() {
            // The manager catches nothing: a panic there is a bug, and its teardown already ran
            // or its workers die with the thread (parent-death signal).
            let _ = handle.join();
        }
    }

    /// Splits `items` into chunks, submits them in batches, and gathers the results in order.
    fn scatter<T, U: Wire>(
        &self,
        items: &[T],
        chunksize: usize,
        make: impl Fn(&[T], usize, Sender<ChunkOutcome>) -> Chunk,
    ) -> Vec<Result<U, TaskError>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut batch = Vec::with_capacity(SUBMIT_BATCH);
        let mut chunks = 0;
        for (seq, part) in items.chunks(chunksize).enumerate() {
            batch.push(make(part, seq, tx.clone()));
            chunks += 1;
            if batch.len() == SUBMIT_BATCH {
                self.submit(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(SUBMIT_BATCH),
                ));
            }
        }
        if !batch.is_empty() {
            self.submit(batch);
        }
        drop(tx);
        let mut outcomes: Vec<Option<ChunkOutcome>> = (0..chunks).map(|_| None).collect();
        for _ in 0..chunks {
            match receive(&rx, None, None) {
                Received::Outcome(outcome) => {
                    let seq = outcome.seq;
                    if let Some(slot) = outcomes.get_mut(seq) {
                        *slot = Some(outcome);
                    }
                }
                Received::Lost | Received::Timeout => break,
            }
        }
        let mut results = Vec::with_capacity(items.len());
        for (seq, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Some(outcome) => decode_outcome(outcome, &mut results),
                None => {
                    let len = items.len().saturating_sub(seq * chunksize).min(chunksize);
                    results.extend((0..len).map(|_| Err(TaskError::PoolClosed)));
                }
            }
        }
        results
    }
}

impl Drop for Pool {
    /// Terminates the pool: kills and reaps every worker. A forked copy only forgets its
    /// handle: it closes no descriptor of its process.
    fn drop(&mut self) {
        if self.is_owner() {
            self.terminate();
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.waker) };
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    /// A pool can be shared between threads, and a pending result moved to another thread.
    #[test]
    fn handles_cross_threads() {
        send_sync::<Pool>();
        send::<AsyncResult<u64>>();
    }

    /// Python's chunk size rule: `ceil(len / (4 × workers))`, at least 1.
    #[test]
    fn chunksize_rule() {
        assert_eq!(auto_chunksize(100_000, 2), 12_500);
        assert_eq!(auto_chunksize(9, 2), 2);
        assert_eq!(auto_chunksize(0, 8), 1);
        assert_eq!(auto_chunksize(5, 0), 2);
    }

    /// Zero workers is a build error, not a panic or a pool that hangs; so is a count no
    /// machine could hold (not an allocation that aborts the process).
    #[test]
    fn worker_count_out_of_range_is_an_error() {
        let err = Pool::builder().workers(0).build().unwrap_err();
        assert!(err.to_string().contains("at least one worker"), "{err}");
        for n in [MAX_WORKERS + 1, usize::MAX] {
            let err = Pool::builder().workers(n).build().unwrap_err();
            assert!(err.to_string().contains("at most"), "{err}");
        }
    }
}
