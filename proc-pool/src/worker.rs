//! One worker process, its whole life: fork, serve, end, and what its ending means for the
//! tasks it held. (The manager, `manager.rs`, decides *when* to start, retire or replace one;
//! this file is everything a worker does and every way it can end.)
//!
//! ```text
//!  manager thread                                      worker process
//!  ──────────────                                      ──────────────
//!  Worker::start ── pipes (O_CLOEXEC), shared page ──▶ fork ──▶ worker_main
//!       │  pidfd_open(child)                            │ PR_SET_PDEATHSIG(SIGKILL), then
//!       │  parent ends non-blocking, registered         │   getppid() check (parent already gone?)
//!       │  with the manager's poll                      │ close_range: keep only its two pipe ends
//!       ▼                                               │ initializer() (a panic: report, exit 70)
//!  send(chunk) ── task frames ─────────────────────▶    ▼
//!       │  in_flight: [running, prefetched ...]       serve: read frames; for each chunk:
//!       │                                               started += 1 (shared page)
//!       │                                               each task: trampoline under catch_unwind
//!       │                                               completed += 1, write the answer
//!  receive() ◀──────────────── result frame ──────      │
//!       │  answer goes to the chunk's caller            │ ends by one of:
//!       ▼                                               │  EOF on the task pipe -> report, _exit(0)
//!  pidfd readable ──▶ drain answers, waitid(P_PIDFD)    │  SIGKILL (test, timeout, terminate)
//!       ▼                                               │  abort / exit inside a task
//!  finish(status) -> Ending { cause, failed: the chunk that was running,
//!       │                     requeue: the chunks it never started }
//!       ▼
//!  manager: count the cause, fail/requeue chunks, start a replacement (or break the pool)
//! ```
//!
//! Invariants:
//! - **Only what ran fails, and nothing runs twice.** A worker runs its chunks one at a time,
//!   in the order sent, and publishes two counters in a page of memory it shares with the
//!   manager (no lock: each counter has one writer, the worker): chunks *started* and chunks
//!   *completed*, and writes each chunk's answer before it starts the next one. When it dies,
//!   every chunk whose answer arrived is done; the one it was running fails with the cause
//!   (`WorkerDied`, `TimedOut`); the chunks it never started (at most [`PREFETCH`]) are
//!   requeued and run elsewhere, once. (Answers are not held back to be batched: that would
//!   save a `write` per chunk, but a crash would then lose answers of tasks that had already
//!   run, and they could only be failed or run twice.)
//! - **After the fork the worker takes no lock another thread may hold.** It never returns
//!   into the parent's code (it leaves with `_exit`), writes with raw `write(2)`, keeps std's
//!   panic hook quiet (no stderr lock, no backtrace lock), and owns no descriptor but its two
//!   pipe ends. It does allocate: glibc's `fork` takes every malloc arena lock before forking
//!   and reinitialises them in the child, so `malloc` is safe in the child even if another
//!   thread was allocating at the fork (a global allocator without such fork handlers would
//!   not be).
//! - **Nothing unwinds out of `worker_main`** into the forked copy of the manager's stack,
//!   where it would run the parent's destructors and `atexit` handlers in the worker:
//!   `worker_main` catches anything that unwinds that far and ends the process (`_exit(75)`),
//!   and a panic payload whose `Drop` panics is leaked instead of dropped.
//! - **The worker's report is not its exit code.** A task may call `exit(70)` too; what the
//!   worker itself means by leaving (its initializer panicked, it saw end of file) it writes
//!   into the shared page before `_exit`, and only that decides the cause. A worker that dies
//!   without a report crashed, whatever its status (which may even be unknown: `SIGCHLD` set
//!   to `SIG_IGN` makes the kernel reap it).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use concurrency_shared::panic_message;

use crate::WireError;
use crate::error::{ExitStatus, TaskError};
use crate::frame::{self, FrameBuf, ItemOutcome};
use crate::sys::{self, PidFd, SharedCounters};
use crate::task::{BadFrame, Chunk, TaskFrame};

/// The most chunks a worker may hold beyond the one it is running. Prefetching hides the
/// round trip to the manager between chunks (and lets the worker read several frames per
/// `read`); prefetched chunks never fail with their worker: they are requeued.
pub const PREFETCH: usize = 32;

/// How much work (by the duration of its last chunk) a worker may hold beyond the chunk it
/// runs: enough to cover several manager round trips (tens of microseconds each), small
/// enough that at the end of a `map` no worker sits on more than this while another idles.
/// So tiny chunks get the full [`PREFETCH`], chunks of 100 µs get 5, chunks of 0.5 ms or more
/// get none, and so does a worker whose chunks have not been timed yet.
pub const PREFETCH_BUDGET_NS: u64 = 500_000;

/// Index of the shared counter: chunks the worker has started.
const STARTED: usize = 0;
/// Index of the shared counter: chunks the worker has completed (answer built).
const COMPLETED: usize = 1;
/// Index of the shared counter: when `STARTED` or `COMPLETED` last changed (monotonic ns).
const CHANGED_AT: usize = 2;
/// Index of the shared counter: the worker's own report of why it leaves, written right
/// before `_exit` ([`REPORT_INIT_PANICKED`], ...); 0 if it died without a word.
const REPORT: usize = 3;

/// Report: the initializer panicked (replacing the worker would fail the same way).
const REPORT_INIT_PANICKED: u64 = 1;
/// Report: end of file on the task pipe; the worker is leaving as asked.
const REPORT_LEAVING: u64 = 2;
/// Report: something unwound to the bottom of the worker (caught by [`worker_main`]).
const REPORT_UNWOUND: u64 = 3;

/// How long a leaving worker may spend flushing its stdout buffer (seconds): std's stdout lock
/// may have been held by another thread of the parent at the fork, and then it never frees.
const FLUSH_AT_EXIT_BOUND_S: u32 = 1;

/// Exit code of a worker whose initializer panicked.
pub(crate) const EXIT_INIT_PANICKED: i32 = 70;
/// Exit code of a worker whose parent died before it could ask to die with it.
const EXIT_ORPHANED: i32 = 71;
/// Exit code of a worker that could not set itself up (prctl or close_range failed).
const EXIT_SETUP_FAILED: i32 = 72;
/// Exit code of a worker that received a frame it could not parse (or with a foreign token).
const EXIT_BAD_FRAME: i32 = 73;
/// Exit code of a worker whose pipes failed.
const EXIT_PIPE_FAILED: i32 = 74;
/// Exit code of a worker in which something unwound to the bottom of `worker_main`.
const EXIT_UNWOUND: i32 = 75;

/// How workers are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StartMethod {
    /// `fork` (no `exec`) from the pool's manager thread, like Python's `"fork"` start method.
    /// Workers see the parent's memory as it is at each fork, and inherit any lock another
    /// thread of the parent holds at that instant. Accepts functions in the main executable
    /// and in libraries loaded before the pool was built.
    #[default]
    Fork,
    /// Workers are forked by a fork server: a single-threaded process started (`posix_spawn`,
    /// no copy of the parent) from the same executable, re-executed, like Python's
    /// `"forkserver"`. No lock of the parent's threads can reach a worker, and start-up does
    /// not grow with the parent's size; but workers do not see the parent's state (globals
    /// set after start-up). Accepts functions in the main executable only; building fails
    /// with a [`BuildError`](crate::BuildError) where the pool's code is not in the main
    /// executable (a `cdylib`). See `forkserver.rs`.
    ForkServer,
}

/// What a new worker needs to know.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    /// How to start it.
    pub(crate) method: StartMethod,
    /// Run once in the worker before any task.
    pub(crate) initializer: Option<fn()>,
    /// The signal mask to give the worker: the manager thread's, before it blocked `SIGPIPE`.
    pub(crate) signal_mask: Option<sys::SignalMask>,
    /// How far to grow its pipes.
    pub(crate) pipe_sizes: PipeSizes,
    /// Whether the pool has a recorder: then the worker gets a log (allocated before its fork)
    /// and appends it to every answer.
    #[cfg(feature = "trace")]
    pub(crate) traced: bool,
}

/// How far a worker's pipe buffers are grown (bytes; 0: left at the kernel's 64 KiB).
///
/// Bigger pipes mean fewer wake-ups for big frames, but every pipe counts against its user's
/// `pipe-user-pages-soft` quota (64 MiB by default), past which every new pipe of any of the
/// user's processes gets 8 KiB. So the pipes grown by all the pools of a process together stay
/// within [`QUOTA_SHARE`] of that quota: a pool sizes its workers' pipes to fit that share
/// alone, and each worker reserves its pipes' bytes in [`PIPE_BYTES_GROWN`] (halving them
/// while they do not fit, down to the kernel's default) until its handle is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PipeSizes {
    /// The result pipe (worker to manager): up to [`frame::READ_SIZE`].
    pub(crate) results: usize,
    /// The task pipe (manager to worker): up to a quarter of that.
    pub(crate) tasks: usize,
    /// The most bytes of grown pipes the whole process may hold ([`QUOTA_SHARE`] of the quota).
    pub(crate) budget: usize,
}

/// The part of the user's pipe quota the grown pipes of all the pools of a process may take:
/// 1/8, so that the kernel-sized pipes of many workers and the rest of the user's programs
/// still fit.
const QUOTA_SHARE: usize = 8;

/// Bytes of grown pipe buffers reserved by the live workers of every pool of this process.
static PIPE_BYTES_GROWN: AtomicUsize = AtomicUsize::new(0);

/// The kernel's default pipe buffer (16 pages).
const DEFAULT_PIPE: usize = 16 * sys::PIPE_PAGE;

impl PipeSizes {
    /// Sizes for a pool of `workers` under a quota of `soft_pages` (`None`: no quota).
    pub(crate) fn for_pool(workers: usize, soft_pages: Option<u64>) -> PipeSizes {
        let (most_results, most_tasks) = (frame::READ_SIZE, frame::READ_SIZE / 4);
        let Some(pages) = soft_pages else {
            return PipeSizes {
                results: most_results,
                tasks: most_tasks,
                budget: usize::MAX,
            };
        };
        let budget = usize::try_from(pages)
            .unwrap_or(usize::MAX)
            .saturating_mul(sys::PIPE_PAGE)
            / QUOTA_SHARE;
        let per_worker = budget / workers.max(1);
        // The kernel rounds a size up to a power of two pages: round down to stay within.
        let fit = |share: usize, most: usize| {
            let size = share.min(most);
            let size = if size == 0 { 0 } else { 1 << size.ilog2() };
            if size > DEFAULT_PIPE { size } else { 0 }
        };
        PipeSizes {
            results: fit(per_worker / 5 * 4, most_results),
            tasks: fit(per_worker / 5, most_tasks),
            budget,
        }
    }

    /// Reserves these sizes in `grown` (the process-wide [`PIPE_BYTES_GROWN`]), halved while
    /// they do not fit; returns what was reserved (zeros: the pipes keep the kernel's default).
    fn reserve(self, grown: &AtomicUsize) -> PipeSizes {
        let halve = |size: usize| if size / 2 > DEFAULT_PIPE { size / 2 } else { 0 };
        let (mut results, mut tasks) = (self.results, self.tasks);
        while results + tasks > 0 {
            let want = results + tasks;
            let fits = grown.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(want).filter(|&total| total <= self.budget)
            });
            if fits.is_ok() {
                break;
            }
            (results, tasks) = (halve(results), halve(tasks));
        }
        PipeSizes {
            results,
            tasks,
            ..self
        }
    }

    /// Gives back to `grown` what [`reserve`](Self::reserve) returned.
    fn release(self, grown: &AtomicUsize) {
        grown.fetch_sub(self.results + self.tasks, Ordering::AcqRel);
    }
}

/// Set in a worker right after the fork; makes the pool's panic hook silent there.
static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Installs, once per process, a panic hook that stays silent in workers and calls the
/// previous hook everywhere else. Called in the parent before any fork, so that a panic in a
/// worker never replaces the hook (the hook's lock) after the fork, and never takes the stderr
/// or backtrace locks, which another thread of the parent may have held at the fork.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_WORKER.load(Ordering::Relaxed) {
                previous(info);
            }
        }));
    });
}

/// Why the manager killed a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillReason {
    /// The chunk it ran (or should have started) went past the task timeout.
    Timeout,
    /// Its answers lost their framing (an absurd length prefix).
    Garbage,
    /// The pool is broken or terminating.
    Shutdown,
}

/// Why a worker ended, from the manager's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// It was asked to leave (task pipe closed) and exited cleanly.
    Retired,
    /// It was killed for a timeout.
    TimedOut,
    /// It was killed because the pool is stopping.
    Shutdown,
    /// Its initializer panicked: replacing it would fail the same way forever.
    InitializerPanicked,
    /// It died on its own (signal, abort, exit), or was killed for garbled answers.
    Crashed,
}

/// How a worker's end settles its chunks.
pub(crate) struct Ending {
    /// Why it ended.
    pub(crate) cause: Cause,
    /// Chunks that ran (or were running) and get no answer, each with its error.
    pub(crate) failed: Vec<(Chunk, TaskError)>,
    /// Chunks that never started, oldest first: to run elsewhere.
    pub(crate) requeue: Vec<Chunk>,
}

/// A chunk sent to a worker and not answered yet.
struct InFlight {
    /// The chunk.
    chunk: Chunk,
    /// When it was handed to the worker (monotonic ns).
    sent_at: u64,
}

/// The manager's handle on one worker process.
pub(crate) struct Worker {
    /// The process (signals and reaping go through it, never through the pid).
    pidfd: PidFd,
    /// The write end of the task pipe (non-blocking); `None` once closed to make it leave.
    task_tx: Option<OwnedFd>,
    /// The read end of the result pipe (non-blocking).
    result_rx: OwnedFd,
    /// The worker's progress counters (written by the worker only).
    progress: SharedCounters,
    /// Result bytes received, cut into frames.
    inbox: FrameBuf,
    /// Task frames not yet taken by the pipe; bytes before `outbox_pos` were written.
    outbox: Vec<u8>,
    /// How much of `outbox` the pipe has taken.
    outbox_pos: usize,
    /// Chunks sent and not yet answered, oldest first.
    in_flight: VecDeque<InFlight>,
    /// Chunks answered over its life: the worker's index of `in_flight[0]`.
    answered: u64,
    /// How long its last answered chunk ran (ns), for the prefetch decision; `None` before
    /// its first answer.
    last_run_ns: Option<u64>,
    /// When answer bytes last arrived from it (monotonic ns): a completed chunk's answer is
    /// overdue only when none arrived for a whole timeout.
    last_read_at: u64,
    /// Tasks sent to this worker over its life (for `max_tasks_per_child`).
    tasks_sent: u64,
    /// Close the task pipe as soon as the outbox is flushed (retirement or pool shutdown).
    leave_when_flushed: bool,
    /// Set when the manager killed it, and why.
    killed_for: Option<KillReason>,
    /// Whether its exit status has been collected (then its pid may already name another
    /// process, but the pidfd still names the dead one).
    reaped: bool,
    /// Under `ForkServer`: its id with the fork server, which reaps it and reports its status.
    served: Option<crate::forkserver::WorkerId>,
    /// Its pipes' growth, reserved in the process-wide budget until this handle goes.
    pipe_sizes: PipeSizes,
    /// Where its chunks sent and run are recorded, if the pool has a recorder (set by the
    /// manager, which knows its slot).
    #[cfg(feature = "trace")]
    tap: Option<crate::trace::Tap>,
}

impl Drop for Worker {
    /// A handle never goes away with its process unreaped (not even if the manager panics):
    /// kill it and collect it. Its pipes close with it: their reservation is given back.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.pidfd.kill();
            let _ = self.wait_exit();
        }
        self.pipe_sizes.release(&PIPE_BYTES_GROWN);
    }
}

impl Worker {
    /// Forks a worker. Must be called from the pool's manager thread only: the worker's
    /// parent-death signal is tied to the thread that forks it.
    pub(crate) fn start(spec: Spec) -> io::Result<Worker> {
        match spec.method {
            StartMethod::Fork => Self::fork(spec),
            StartMethod::ForkServer => {
                let w = crate::forkserver::start_worker(spec)?;
                Self::assemble(
                    w.pidfd,
                    w.task_tx,
                    w.result_rx,
                    w.progress,
                    Some(w.id),
                    spec.pipe_sizes,
                )
            }
        }
    }

    /// The `Fork` start method.
    fn fork(spec: Spec) -> io::Result<Worker> {
        let (task_rx, task_tx) = sys::pipe()?;
        let (result_rx, result_tx) = sys::pipe()?;
        let progress = SharedCounters::new()?;
        let parent = sys::getpid();
        #[cfg(feature = "trace")]
        let log = spec.traced.then(crate::trace::WorkerLog::before_fork);
        // SAFETY: in the child, `worker_main` never returns (it leaves with `_exit`) and keeps
        // the rules of this module's invariants: no lock another thread may hold, no stdio.
        match unsafe { sys::fork() }? {
            sys::Forked::Child => worker_main(
                task_rx.as_raw_fd(),
                result_tx.as_raw_fd(),
                progress.counters(),
                parent,
                spec,
                #[cfg(feature = "trace")]
                log,
            ),
            sys::Forked::Parent(pid) => {
                #[cfg(feature = "trace")]
                drop(log);
                drop(task_rx);
                drop(result_tx);
                // The child is unreaped and this pool never reaps by pid, so `pid` cannot have
                // been reused yet (unless other code of this process reaps with waitpid(-1)).
                let pidfd = match PidFd::open(pid) {
                    Ok(pidfd) => pidfd,
                    // ESRCH: it is gone already, reaped by the kernel (SIGCHLD ignored) or by
                    // other code; its pid may name no process, so it is not signalled.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(e),
                    Err(e) => {
                        sys::kill_and_reap_unwatched_child(pid);
                        return Err(e);
                    }
                };
                Self::assemble(pidfd, task_tx, result_rx, progress, None, spec.pipe_sizes)
            }
        }
    }

    /// The manager's handle on a started worker process; on a set-up failure the process is
    /// killed and reaped (by dropping the handle).
    fn assemble(
        pidfd: PidFd,
        task_tx: OwnedFd,
        result_rx: OwnedFd,
        progress: SharedCounters,
        served: Option<crate::forkserver::WorkerId>,
        pipe_sizes: PipeSizes,
    ) -> io::Result<Worker> {
        let worker = Worker {
            pidfd,
            task_tx: Some(task_tx),
            result_rx,
            progress,
            inbox: FrameBuf::new(),
            outbox: Vec::new(),
            outbox_pos: 0,
            in_flight: VecDeque::new(),
            answered: 0,
            last_run_ns: None,
            last_read_at: 0,
            tasks_sent: 0,
            leave_when_flushed: false,
            killed_for: None,
            reaped: false,
            served,
            pipe_sizes: pipe_sizes.reserve(&PIPE_BYTES_GROWN),
            #[cfg(feature = "trace")]
            tap: None,
        };
        let Some(task_tx) = &worker.task_tx else {
            return Err(io::Error::other("a fresh worker has a task pipe"));
        };
        sys::set_nonblocking(task_tx.as_fd())?;
        sys::set_nonblocking(worker.result_rx.as_fd())?;
        worker.progress.keep_from_later_forks()?;
        // A refusal only costs speed.
        for (fd, bytes) in [
            (worker.result_rx.as_fd(), worker.pipe_sizes.results),
            (task_tx.as_fd(), worker.pipe_sizes.tasks),
        ] {
            if let Ok(bytes @ 1..) = i32::try_from(bytes) {
                let _ = sys::set_pipe_size(fd, bytes);
            }
        }
        Ok(worker)
    }

    /// Waits for the (killed) process to end and collects its status: from the kernel under
    /// `Fork`, from the fork server (which reaps its own children) under `ForkServer`.
    fn wait_exit(&self) -> Option<ExitStatus> {
        match self.served {
            Some(id) => Some(crate::forkserver::wait_exit(id, &self.pidfd)),
            None => self.pidfd.wait().ok(),
        }
    }

    /// The same worker, recording its chunks through `tap`.
    #[cfg(feature = "trace")]
    pub(crate) fn traced(mut self, tap: crate::trace::Tap) -> Worker {
        self.tap = Some(tap);
        self
    }

    /// The worker's pid (for reports and `/proc` readers; never used to signal it).
    pub(crate) fn pid(&self) -> u32 {
        self.pidfd.pid()
    }

    /// The descriptors to register: (result pipe, task pipe, pidfd).
    pub(crate) fn fds(&self) -> (RawFd, Option<RawFd>, RawFd) {
        (
            self.result_rx.as_raw_fd(),
            self.task_tx.as_ref().map(|fd| fd.as_raw_fd()),
            self.pidfd.raw(),
        )
    }

    /// Whether it can take another chunk now (`max_tasks`: its `max_tasks_per_child`).
    pub(crate) fn has_room(&self, max_tasks: Option<u64>) -> bool {
        // Until a chunk has been timed, assume chunks are long: no prefetch.
        let prefetch = self.last_run_ns.map_or(0, |ns| {
            usize::try_from(PREFETCH_BUDGET_NS / ns.max(1)).map_or(PREFETCH, |n| n.min(PREFETCH))
        });
        self.task_tx.is_some()
            && !self.leave_when_flushed
            && self.killed_for.is_none()
            && self.in_flight.len() <= prefetch
            && max_tasks.is_none_or(|max| self.tasks_sent < max)
    }

    /// How many chunks it holds.
    pub(crate) fn load(&self) -> usize {
        self.in_flight.len()
    }

    /// Queues `chunk`'s frame for the worker (written by the next [`flush`](Self::flush)).
    /// Asks it to leave once it has been sent `max_tasks` tasks.
    pub(crate) fn send(&mut self, chunk: Chunk, max_tasks: Option<u64>) {
        self.outbox.extend_from_slice(&chunk.frame);
        self.tasks_sent += chunk.len as u64;
        let sent_at = sys::monotonic_ns();
        #[cfg(feature = "trace")]
        if let Some(tap) = &self.tap {
            tap.chunk_sent(sent_at);
        }
        self.in_flight.push_back(InFlight { chunk, sent_at });
        if max_tasks.is_some_and(|max| self.tasks_sent >= max) {
            self.leave_when_flushed = true;
        }
    }

    /// Asks the worker to leave once it has answered everything it holds (its task pipe is
    /// closed after the last queued byte; the worker exits on end of file).
    pub(crate) fn leave(&mut self) {
        self.leave_when_flushed = true;
        self.flush();
    }

    /// Writes queued task bytes until the pipe is full; returns how many were written. A write
    /// error means the worker is gone; its pidfd will say so.
    pub(crate) fn flush(&mut self) -> usize {
        let mut written = 0;
        if let Some(fd) = &self.task_tx {
            while self.outbox_pos < self.outbox.len() {
                match sys::write(fd.as_fd(), &self.outbox[self.outbox_pos..]) {
                    Ok(n) => {
                        self.outbox_pos += n;
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        if self.outbox_pos == self.outbox.len() {
            self.outbox.clear();
            self.outbox_pos = 0;
            if self.leave_when_flushed {
                self.task_tx = None;
            }
        }
        written
    }

    /// Reads every answer available and hands each, with its chunk, to `answer`. Returns the
    /// bytes read. An answer that cannot be attributed (framing lost) gets the worker killed.
    pub(crate) fn receive(
        &mut self,
        mut answer: impl FnMut(Chunk, Result<(Vec<u8>, Vec<ItemOutcome>), TaskError>),
    ) -> usize {
        let mut read = 0;
        loop {
            loop {
                let range = match self.inbox.next_frame() {
                    Ok(Some(range)) => range,
                    Ok(None) => break,
                    Err(frame::FrameTooLong) => {
                        self.kill(KillReason::Garbage);
                        return read;
                    }
                };
                let Some(InFlight { chunk, .. }) = self.in_flight.pop_front() else {
                    // An answer nobody asked for: the stream cannot be trusted any more.
                    self.kill(KillReason::Garbage);
                    return read;
                };
                self.answered += 1;
                let body = self.inbox.take(range);
                // A traced worker's answer ends with its records: they go to the recorder
                // before the answer goes to its caller.
                #[cfg(feature = "trace")]
                let parsed = match &self.tap {
                    Some(tap) => tap
                        .take_footer(&body)
                        .and_then(|len| frame::parse_result(&body[..len], chunk.len)),
                    None => frame::parse_result(&body, chunk.len),
                };
                #[cfg(not(feature = "trace"))]
                let parsed = frame::parse_result(&body, chunk.len);
                let result = match parsed {
                    Ok((run_ns, items)) => {
                        self.last_run_ns = Some(run_ns);
                        Ok((body, items))
                    }
                    Err(e) => Err(TaskError::Codec(e)),
                };
                answer(chunk, result);
            }
            match self.inbox.fill(self.result_rx.as_fd()) {
                Ok(0) => return read,
                Ok(n) => {
                    read += n;
                    self.last_read_at = sys::monotonic_ns();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return read,
            }
        }
    }

    /// The worker's progress: (chunks started, chunks completed, when either last changed).
    fn progress(&self) -> (u64, u64, u64) {
        let counters = self.progress.counters();
        // Acquire pairs with the worker's Release stores: the time read after is at least
        // as recent as the counts.
        let started = counters[STARTED].load(Ordering::Acquire);
        let completed = counters[COMPLETED].load(Ordering::Acquire);
        (
            started,
            completed,
            counters[CHANGED_AT].load(Ordering::Relaxed),
        )
    }

    /// When (monotonic ns) the chunk it is running, or the next one it should start, must be
    /// done by, if `task_timeout` applies: `task_timeout` per task of the chunk, counted from
    /// when the chunk started, or, for one not started yet, from when the worker could have
    /// started it (it was sent and the previous one was done).
    pub(crate) fn deadline(&self, task_timeout: Option<std::time::Duration>) -> Option<u64> {
        let timeout = u64::try_from(task_timeout?.as_nanos()).unwrap_or(u64::MAX);
        if self.killed_for.is_some() {
            return None;
        }
        let (started, completed, changed_at) = self.progress();
        let (index, since) = if started > completed {
            (started - 1, changed_at)
        } else if completed > self.answered {
            // Completed, and its answer not all here: writing it gets a timeout of its own,
            // counted from the last bytes that arrived (a big answer takes long to write, but
            // keeps arriving), or a worker stopped mid-write would escape every deadline.
            (completed - 1, changed_at.max(self.last_read_at))
        } else {
            let next = self
                .in_flight
                .get(usize::try_from(started.checked_sub(self.answered)?).ok()?)?;
            (started, changed_at.max(next.sent_at))
        };
        let chunk = &self
            .in_flight
            .get(usize::try_from(index.checked_sub(self.answered)?).ok()?)?
            .chunk;
        Some(since.saturating_add(timeout.saturating_mul(chunk.len as u64)))
    }

    /// Kills the process (through its pidfd) and remembers why.
    pub(crate) fn kill(&mut self, reason: KillReason) {
        if self.killed_for.is_none() {
            self.killed_for = Some(reason);
        }
        // Failing to signal means it is already dead, which its pidfd reports.
        let _ = self.pidfd.kill();
        self.task_tx = None;
    }

    /// Kills it without waiting (the pool broke) and hands back its unanswered chunks; its
    /// exit is reaped later through its pidfd.
    pub(crate) fn abandon(&mut self) -> Vec<Chunk> {
        self.kill(KillReason::Shutdown);
        self.in_flight.drain(..).map(|f| f.chunk).collect()
    }

    /// Reaps it if it has exited.
    pub(crate) fn try_reap(&mut self) -> Option<ExitStatus> {
        let status = match self.served {
            Some(id) => crate::forkserver::try_exit(id, &self.pidfd),
            None => self.pidfd.try_wait().ok().flatten(),
        };
        self.reaped |= status.is_some();
        status
    }

    /// Kills it and waits for it (pool teardown). Returns its chunks, unanswered.
    pub(crate) fn kill_and_reap(mut self) -> Vec<Chunk> {
        self.kill(KillReason::Shutdown);
        // Cannot block for long: SIGKILL cannot be caught, and the process is our child (or
        // the fork server's, whose report is awaited for a bounded time).
        let _ = self.wait_exit();
        self.reaped = true;
        self.in_flight.drain(..).map(|f| f.chunk).collect()
    }

    /// Whether it ever started a chunk (a worker that never did may be stuck in its
    /// initializer).
    pub(crate) fn started_any(&self) -> bool {
        self.progress().0 > 0
    }

    /// Settles a dead (reaped) worker's chunks according to why it ended and how far it got.
    /// The cause comes from the manager's own kill or the worker's report, never from the exit
    /// status, which a task can forge (`exit(70)`) or the kernel can withhold
    /// ([`ExitStatus::Unknown`]).
    pub(crate) fn finish(mut self, status: ExitStatus) -> Ending {
        let report = self.progress.counters()[REPORT].load(Ordering::Acquire);
        let cause = match (self.killed_for, report) {
            (Some(KillReason::Timeout), _) => Cause::TimedOut,
            (Some(KillReason::Shutdown), _) => Cause::Shutdown,
            (Some(KillReason::Garbage), _) => Cause::Crashed,
            (None, REPORT_INIT_PANICKED) => Cause::InitializerPanicked,
            (None, REPORT_LEAVING) if self.task_tx.is_none() && self.in_flight.is_empty() => {
                Cause::Retired
            }
            (None, _) => Cause::Crashed,
        };
        let died = TaskError::WorkerDied {
            pid: self.pid(),
            status,
        };
        let error = match (cause, self.killed_for) {
            (Cause::TimedOut, _) => TaskError::TimedOut,
            (_, Some(KillReason::Garbage)) => TaskError::Codec(WireError::Invalid {
                type_name: "proc-pool result frame",
                reason: "the worker's answers lost their framing",
            }),
            (Cause::Shutdown, _) => TaskError::PoolClosed,
            (Cause::InitializerPanicked, _) => TaskError::PoolBroken,
            _ => died.clone(),
        };
        // The process is gone: its counters are final. Chunks it started are in
        // `in_flight[..started - answered]`: the last of them was running unless completed,
        // and a completed one among them is one whose answer it died while writing (or was
        // killed for taking too long to write: then it timed out).
        let (started, completed, _) = self.progress();
        let ran = usize::try_from(started.saturating_sub(self.answered)).unwrap_or(usize::MAX);
        let ran = ran.min(self.in_flight.len());
        let running = started > completed;
        let failed = self
            .in_flight
            .drain(..ran)
            .enumerate()
            .map(|(i, f)| {
                let was_running = running && i + 1 == ran;
                let err = if was_running
                    || matches!(
                        self.killed_for,
                        Some(KillReason::Garbage | KillReason::Timeout)
                    ) {
                    error.clone()
                } else {
                    died.clone()
                };
                (f.chunk, err)
            })
            .collect();
        Ending {
            cause,
            failed,
            requeue: self.in_flight.drain(..).map(|f| f.chunk).collect(),
        }
    }
}

/// The worker process, from the fork to `_exit`. Never returns. `log` (feature `trace`): the
/// worker's record buffer, allocated before the fork, if the pool traces.
pub(crate) fn worker_main(
    task_rx: RawFd,
    result_tx: RawFd,
    progress: &[AtomicU64; sys::SHARED_COUNTERS],
    parent: libc::pid_t,
    spec: Spec,
    #[cfg(feature = "trace")] log: Option<crate::trace::WorkerLog>,
) -> ! {
    // A catch, not only a drop guard: the unwinder first looks up the stack for a frame that
    // catches and, finding none, aborts without running any drop guard; a fork-server worker
    // has no std frame that catches.
    let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
        worker_life(
            task_rx,
            result_tx,
            progress,
            parent,
            spec,
            #[cfg(feature = "trace")]
            log,
        )
    }));
    let Err(payload) = unwound;
    // Its `Drop` could panic too.
    std::mem::forget(payload);
    exit_reporting(progress, REPORT_UNWOUND, EXIT_UNWOUND)
}

/// The worker, from its set-up to `_exit`; run by [`worker_main`], which catches anything that
/// unwinds out of it.
fn worker_life(
    task_rx: RawFd,
    result_tx: RawFd,
    progress: &[AtomicU64; sys::SHARED_COUNTERS],
    parent: libc::pid_t,
    spec: Spec,
    #[cfg(feature = "trace")] log: Option<crate::trace::WorkerLog>,
) -> ! {
    IN_WORKER.store(true, Ordering::Relaxed);
    if let Some(mask) = &spec.signal_mask {
        sys::set_signal_mask(mask);
    }
    sys::set_thread_name(c"proc-pool-work");
    if sys::kill_me_when_parent_thread_exits().is_err() {
        sys::exit_now(EXIT_SETUP_FAILED);
    }
    // The parent may have died between the fork and the prctl: then no signal will come.
    if sys::getppid() != parent {
        sys::exit_now(EXIT_ORPHANED);
    }
    if sys::close_all_from_3_except(&[task_rx, result_tx]).is_err() {
        sys::exit_now(EXIT_SETUP_FAILED);
    }
    if let Some(init) = spec.initializer
        && catch_panic(init).is_err()
    {
        exit_reporting(progress, REPORT_INIT_PANICKED, EXIT_INIT_PANICKED);
    }
    // SAFETY: both descriptors are open (kept by close_range above) and owned by nothing else
    // in this process; they are never closed except by `_exit`.
    let (task_rx, result_tx) = unsafe {
        use std::os::fd::FromRawFd;
        (
            OwnedFd::from_raw_fd(task_rx),
            OwnedFd::from_raw_fd(result_tx),
        )
    };
    serve(
        &task_rx,
        &result_tx,
        progress,
        #[cfg(feature = "trace")]
        log,
    )
}

/// The worker's loop: run every chunk, in order, answering each before starting the next,
/// until the task pipe ends. One `read` may bring several (prefetched) frames.
fn serve(
    task_rx: &OwnedFd,
    result_tx: &OwnedFd,
    progress: &[AtomicU64; sys::SHARED_COUNTERS],
    #[cfg(feature = "trace")] mut log: Option<crate::trace::WorkerLog>,
) -> ! {
    let mut inbox = FrameBuf::new();
    let mut answer = Vec::new();
    let mut chunks: u64 = 0;
    loop {
        loop {
            let range = match inbox.next_frame() {
                Ok(Some(range)) => range,
                Ok(None) => break,
                Err(frame::FrameTooLong) => sys::exit_now(EXIT_BAD_FRAME),
            };
            let started_at = sys::monotonic_ns();
            progress[CHANGED_AT].store(started_at, Ordering::Relaxed);
            progress[STARTED].store(chunks + 1, Ordering::Release);
            answer.clear();
            run_chunk(inbox.get(range), &mut answer, started_at);
            #[cfg(feature = "trace")]
            if let Some(log) = &mut log {
                log.close_chunk(started_at, &mut answer);
            }
            chunks += 1;
            progress[CHANGED_AT].store(sys::monotonic_ns(), Ordering::Relaxed);
            progress[COMPLETED].store(chunks, Ordering::Release);
            #[cfg(feature = "fault-injection")]
            crate::fault::spoil_if_asked(&mut answer);
            if write_all(result_tx, &answer).is_err() {
                sys::exit_now(EXIT_PIPE_FAILED);
            }
            // Do not keep a huge answer's buffer for the worker's whole life.
            if answer.capacity() > 4 * frame::READ_SIZE {
                answer = Vec::new();
            }
        }
        match inbox.fill(task_rx.as_fd()) {
            Ok(0) => leave(progress),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => sys::exit_now(EXIT_PIPE_FAILED),
        }
    }
}

/// Runs one chunk, appending its whole result frame to `out`.
fn run_chunk(body: &[u8], out: &mut Vec<u8>, started_at: u64) {
    let task = match TaskFrame::parse(body) {
        Ok(task) => task,
        Err(BadFrame::ForeignToken | BadFrame::Malformed) => sys::exit_now(EXIT_BAD_FRAME),
    };
    let at = frame::begin_frame(out);
    let run_ns_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(task.inputs.len() as u32).to_le_bytes());
    for input in task.inputs {
        let tag_at = out.len();
        out.push(frame::OUTCOME_OK);
        frame::put_sized(out, |out| {
            let start = out.len();
            let ran = catch_panic(|| (task.trampoline)(task.func, input, out));
            let (tag, message) = match ran {
                Ok(Ok(())) => return,
                Ok(Err(e)) => (frame::OUTCOME_BAD_INPUT, e.to_string()),
                Err(message) => (frame::OUTCOME_PANICKED, message),
            };
            out.truncate(start);
            out.extend_from_slice(message.as_bytes());
            out[tag_at] = tag;
        });
    }
    let run_ns = sys::monotonic_ns().saturating_sub(started_at);
    out[run_ns_at..run_ns_at + 8].copy_from_slice(&run_ns.to_le_bytes());
    frame::finish_frame(out, at);
}

/// Runs `f`, catching a panic as its message. The payload is dropped under a second catch,
/// and leaked if its `Drop` panics too: that panic must not unwind out of the worker.
fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        if let Err(second) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(second);
        }
        message
    })
}

/// Ends the worker with `code` after writing `report` where the manager reads it.
fn exit_reporting(progress: &[AtomicU64; sys::SHARED_COUNTERS], report: u64, code: i32) -> ! {
    // Release: the manager reads the report after the pidfd says the process is gone.
    progress[REPORT].store(report, Ordering::Release);
    sys::exit_now(code)
}

/// Leaves as asked (end of file on the task pipe): reports it, then flushes what tasks left in
/// std's stdout buffer (a partial line would otherwise be lost at `_exit`). The flush takes
/// std's stdout lock, which may never free: a thread of the parent may have held it at the
/// fork (under `Fork`), or a thread a task started may hold it or be blocked writing to a full
/// stdout pipe (under either method). An alarm bounds that wait under both methods, and the
/// report already says the worker left cleanly. This is the worker's only flush.
fn leave(progress: &[AtomicU64; sys::SHARED_COUNTERS]) -> ! {
    progress[REPORT].store(REPORT_LEAVING, Ordering::Release);
    sys::die_after(FLUSH_AT_EXIT_BOUND_S);
    let _ = io::Write::flush(&mut io::stdout());
    sys::exit_now(0)
}

/// Writes all of `buf` to a blocking descriptor.
fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match sys::write(fd.as_fd(), buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default quota (16,384 pages): a small pool gets full-size pipes; a large one keeps
    /// the kernel's default rather than take more than its share; no quota, full size.
    #[test]
    fn pipe_sizes_fit_the_quota() {
        let full = (frame::READ_SIZE, frame::READ_SIZE / 4);
        let grown = |s: PipeSizes| (s.results, s.tasks);
        assert_eq!(grown(PipeSizes::for_pool(2, Some(16_384))), full);
        assert_eq!(grown(PipeSizes::for_pool(2, None)), full);
        assert_eq!(grown(PipeSizes::for_pool(64, Some(16_384))), (0, 0));
        for workers in [1, 2, 3, 8, 16, 64, 1_000] {
            let sizes = PipeSizes::for_pool(workers, Some(16_384));
            let grown = workers * (sizes.results + sizes.tasks);
            assert!(
                grown <= 16_384 * sys::PIPE_PAGE / QUOTA_SHARE,
                "{workers}: {sizes:?}"
            );
        }
        assert_eq!(PipeSizes::for_pool(0, Some(1)).results, 0);
    }

    /// Workers of any number of pools share one budget: once it is spent, pipes shrink to the
    /// kernel's default; what a worker gives back serves the next one.
    #[test]
    fn pipe_budget_is_shared_and_given_back() {
        let grown = AtomicUsize::new(0);
        let (most, quarter) = (frame::READ_SIZE, frame::READ_SIZE / 4);
        let sizes = PipeSizes {
            results: most,
            tasks: quarter,
            budget: (most + quarter) * 3 / 2,
        };
        let first = sizes.reserve(&grown);
        assert_eq!((first.results, first.tasks), (most, quarter));
        let second = sizes.reserve(&grown);
        assert_eq!((second.results, second.tasks), (most / 2, quarter / 2));
        let third = sizes.reserve(&grown);
        assert_eq!((third.results, third.tasks), (0, 0));
        assert!(grown.load(Ordering::Relaxed) <= sizes.budget);
        first.release(&grown);
        let fourth = sizes.reserve(&grown);
        assert_eq!((fourth.results, fourth.tasks), (most, quarter));
        [second, third, fourth]
            .into_iter()
            .for_each(|s| s.release(&grown));
        assert_eq!(grown.load(Ordering::Relaxed), 0);
    }
}
