//! One worker process, its whole life: fork, serve, end, and what its ending means for the
//! tasks it held. (The manager, `manager.rs`, decides *when* to start, retire or replace one;
//! this file is everything a worker does and every way it can end.)
//!
//! ```text
//!  manager thread                                      worker process
//!  ──────────────                                      ──────────────
//!  Worker::start ── pipes (O_CLOEXEC) ── fork ──────▶  worker_main
//!       │  pidfd_open(child)                            │ PR_SET_PDEATHSIG(SIGKILL), then
//!       │  parent ends non-blocking, registered         │   getppid() check (parent already gone?)
//!       │  with the manager's poll                      │ close_range: keep only its two pipe ends
//!       ▼                                               │ initializer() (a panic: exit 70)
//!  send(chunk) ── task frame ──────────────────────▶    ▼
//!       │  in_flight: [head, prefetched ...]          serve: read frame, check token,
//!       │                                              for each task: trampoline under
//!  receive() ◀──────────────── result frame ──────     catch_unwind, then write the answer
//!       │  answer goes to the head chunk's caller       │
//!       │                                               │ ends by one of:
//!       ▼                                               │  EOF on the task pipe -> _exit(0)
//!  pidfd readable ──▶ drain results, waitid(P_PIDFD)    │  SIGKILL (test, timeout, terminate)
//!       ▼                                               │  abort / exit inside a task
//!  finish(status) -> Ending { cause, failed head chunk, chunks to run elsewhere }
//!       ▼
//!  manager: count the cause, answer/requeue chunks, start a replacement (or break the pool)
//! ```
//!
//! Invariants:
//! - **Exactly the head fails.** A worker runs its chunks one at a time, in the order sent,
//!   and writes each answer before it starts the next chunk. So when it dies, every chunk whose
//!   answer arrived is done, the oldest unanswered one (the *head*) is the only one that may
//!   have started, and the ones behind it (at most [`PREFETCH`]) never ran: they go back to the
//!   queue and run elsewhere, exactly once.
//! - **After the fork the worker takes no lock another thread may hold.** It never returns
//!   into the parent's code (it leaves with `_exit`), writes with raw `write(2)`, keeps std's
//!   panic hook quiet (no stderr lock, no backtrace lock), and owns no descriptor but its two
//!   pipe ends. It does allocate: glibc's `fork` takes every malloc arena lock before forking
//!   and reinitialises them in the child, so `malloc` is safe in the child even if another
//!   thread was allocating at the fork (a global allocator without such fork handlers would
//!   not be).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::WireError;
use crate::error::{ExitStatus, TaskError};
use crate::frame::{self, FrameBuf, ItemOutcome};
use crate::sys::{self, PidFd};
use crate::task::{BadFrame, Chunk, TaskFrame};

/// How many chunks a worker may hold beyond the one it is running. Prefetching hides the
/// round trip to the manager between chunks; keeping it small bounds how much work waits
/// behind a slow chunk. These chunks never fail with their worker: they are requeued.
pub const PREFETCH: usize = 3;

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

/// How workers are started: the seam where a fork server will plug in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StartMethod {
    /// `fork` (no `exec`) from the pool's manager thread, like Python's `"fork"` start method.
    #[default]
    Fork,
}

/// What a new worker needs to know.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    /// How to start it.
    pub(crate) method: StartMethod,
    /// Run once in the worker before any task.
    pub(crate) initializer: Option<fn()>,
}

/// Set in a worker right after the fork; makes the pool's panic hook silent there.
static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Set by [`garble_next_answer`]; read by the worker when it writes an answer.
static GARBLE_NEXT_ANSWER: AtomicBool = AtomicBool::new(false);

/// Test hook: called from inside a task, makes the worker send a malformed answer for the
/// current chunk (a well-delimited frame whose body is garbage).
#[doc(hidden)]
pub fn garble_next_answer() {
    GARBLE_NEXT_ANSWER.store(true, Ordering::Relaxed);
}

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
    /// Its head chunk ran past the task timeout.
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
    /// The head chunk, if one was in flight, with the error its tasks get.
    pub(crate) failed: Option<(Chunk, TaskError)>,
    /// Chunks that never started, oldest first: to run elsewhere.
    pub(crate) requeue: Vec<Chunk>,
}

/// The manager's handle on one worker process.
pub(crate) struct Worker {
    /// The process (signals and reaping go through it, never through the pid).
    pidfd: PidFd,
    /// The write end of the task pipe (non-blocking); `None` once closed to make it leave.
    task_tx: Option<OwnedFd>,
    /// The read end of the result pipe (non-blocking).
    result_rx: OwnedFd,
    /// Result bytes received, cut into frames.
    inbox: FrameBuf,
    /// Task frames not yet taken by the pipe; bytes before `outbox_pos` were written.
    outbox: Vec<u8>,
    /// How much of `outbox` the pipe has taken.
    outbox_pos: usize,
    /// Chunks sent and not yet answered, oldest (the head) first.
    in_flight: VecDeque<Chunk>,
    /// Since when the head chunk may have been running.
    head_since: Instant,
    /// Tasks sent to this worker over its life (for `max_tasks_per_child`).
    tasks_sent: u64,
    /// Close the task pipe as soon as the outbox is flushed (retirement or pool shutdown).
    leave_when_flushed: bool,
    /// Set when the manager killed it, and why.
    killed_for: Option<KillReason>,
}

impl Worker {
    /// Forks a worker. Must be called from the pool's manager thread only: the worker's
    /// parent-death signal is tied to the thread that forks it.
    pub(crate) fn start(spec: Spec) -> io::Result<Worker> {
        match spec.method {
            StartMethod::Fork => Self::fork(spec),
        }
    }

    /// The `Fork` start method.
    fn fork(spec: Spec) -> io::Result<Worker> {
        let (task_rx, task_tx) = sys::pipe()?;
        let (result_rx, result_tx) = sys::pipe()?;
        let parent = sys::getpid();
        // SAFETY: in the child, `worker_main` never returns (it leaves with `_exit`) and keeps
        // the rules of this module's invariants: no lock another thread may hold, no stdio.
        match unsafe { sys::fork() }? {
            sys::Forked::Child => worker_main(
                task_rx.as_raw_fd(),
                result_tx.as_raw_fd(),
                parent,
                spec.initializer,
            ),
            sys::Forked::Parent(pid) => {
                drop(task_rx);
                drop(result_tx);
                // The child is unreaped and this pool never reaps by pid, so `pid` cannot have
                // been reused yet (unless other code of this process reaps with waitpid(-1)).
                let pidfd = match PidFd::open(pid) {
                    Ok(pidfd) => pidfd,
                    Err(e) => {
                        sys::kill_and_reap_unwatched_child(pid);
                        return Err(e);
                    }
                };
                let nonblocking = sys::set_nonblocking(task_tx.as_fd())
                    .and_then(|()| sys::set_nonblocking(result_rx.as_fd()));
                if let Err(e) = nonblocking {
                    let _ = pidfd.kill();
                    let _ = pidfd.wait();
                    return Err(e);
                }
                // Bigger pipes mean fewer wake-ups for big frames; a refusal only costs speed.
                let _ = sys::set_pipe_size(result_rx.as_fd(), frame::READ_SIZE as i32);
                let _ = sys::set_pipe_size(task_tx.as_fd(), (frame::READ_SIZE / 4) as i32);
                Ok(Worker {
                    pidfd,
                    task_tx: Some(task_tx),
                    result_rx,
                    inbox: FrameBuf::new(),
                    outbox: Vec::new(),
                    outbox_pos: 0,
                    in_flight: VecDeque::new(),
                    head_since: Instant::now(),
                    tasks_sent: 0,
                    leave_when_flushed: false,
                    killed_for: None,
                })
            }
        }
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
        self.task_tx.is_some()
            && !self.leave_when_flushed
            && self.killed_for.is_none()
            && self.in_flight.len() <= PREFETCH
            && max_tasks.is_none_or(|max| self.tasks_sent < max)
    }

    /// How many chunks it holds.
    pub(crate) fn load(&self) -> usize {
        self.in_flight.len()
    }

    /// Queues `chunk`'s frame for the worker and writes what the pipe takes. Returns the bytes
    /// written. Asks it to leave once it has reached `max_tasks`.
    pub(crate) fn send(&mut self, chunk: Chunk, max_tasks: Option<u64>) -> usize {
        if self.in_flight.is_empty() {
            self.head_since = Instant::now();
        }
        self.outbox.extend_from_slice(&chunk.frame);
        self.tasks_sent += chunk.len as u64;
        self.in_flight.push_back(chunk);
        if max_tasks.is_some_and(|max| self.tasks_sent >= max) {
            self.leave_when_flushed = true;
        }
        self.flush()
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
                let Some(chunk) = self.in_flight.pop_front() else {
                    // An answer nobody asked for: the stream cannot be trusted any more.
                    self.kill(KillReason::Garbage);
                    return read;
                };
                self.head_since = Instant::now();
                let body = self.inbox.take(range);
                let result = frame::parse_result(&body, chunk.len)
                    .map(|items| (body, items))
                    .map_err(TaskError::Codec);
                answer(chunk, result);
            }
            match self.inbox.fill(self.result_rx.as_fd()) {
                Ok(0) => return read,
                Ok(n) => read += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return read,
            }
        }
    }

    /// When its head chunk must be answered by, if a timeout applies.
    pub(crate) fn deadline(&self, task_timeout: Option<std::time::Duration>) -> Option<Instant> {
        let head = self.in_flight.front()?;
        if self.killed_for.is_some() {
            return None;
        }
        Some(self.head_since + task_timeout? * head.len.try_into().unwrap_or(u32::MAX))
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
    pub(crate) fn abandon(&mut self) -> VecDeque<Chunk> {
        self.kill(KillReason::Shutdown);
        std::mem::take(&mut self.in_flight)
    }

    /// Reaps it if it has exited.
    pub(crate) fn try_reap(&self) -> Option<ExitStatus> {
        self.pidfd.try_wait().ok().flatten()
    }

    /// Kills it and waits for it (pool teardown). Returns its chunks, unanswered.
    pub(crate) fn kill_and_reap(mut self) -> VecDeque<Chunk> {
        self.kill(KillReason::Shutdown);
        // Cannot block for long: SIGKILL cannot be caught, and the process is our child.
        let _ = self.pidfd.wait();
        std::mem::take(&mut self.in_flight)
    }

    /// Settles a dead (reaped) worker's chunks according to why it ended.
    pub(crate) fn finish(mut self, status: ExitStatus) -> Ending {
        let cause = match (self.killed_for, status) {
            (Some(KillReason::Timeout), _) => Cause::TimedOut,
            (Some(KillReason::Shutdown), _) => Cause::Shutdown,
            (Some(KillReason::Garbage), _) => Cause::Crashed,
            (None, ExitStatus::Exited(EXIT_INIT_PANICKED)) => Cause::InitializerPanicked,
            (None, ExitStatus::Exited(0))
                if self.task_tx.is_none() && self.in_flight.is_empty() =>
            {
                Cause::Retired
            }
            (None, _) => Cause::Crashed,
        };
        let error = match (cause, self.killed_for) {
            (Cause::TimedOut, _) => TaskError::TimedOut,
            (_, Some(KillReason::Garbage)) => TaskError::Codec(WireError::Invalid {
                type_name: "proc-pool result frame",
                reason: "the worker's answers lost their framing",
            }),
            (Cause::Shutdown, _) => TaskError::PoolClosed,
            (Cause::InitializerPanicked, _) => TaskError::PoolBroken,
            _ => TaskError::WorkerDied {
                pid: self.pid(),
                status,
            },
        };
        let failed = self.in_flight.pop_front().map(|chunk| (chunk, error));
        Ending {
            cause,
            failed,
            requeue: self.in_flight.drain(..).collect(),
        }
    }
}

/// The worker process, from the fork to `_exit`. Never returns.
fn worker_main(task_rx: RawFd, result_tx: RawFd, parent: libc::pid_t, init: Option<fn()>) -> ! {
    IN_WORKER.store(true, Ordering::Relaxed);
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
    if let Some(init) = init
        && panic::catch_unwind(init).is_err()
    {
        sys::exit_now(EXIT_INIT_PANICKED);
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
    serve(&task_rx, &result_tx)
}

/// The worker's loop: answer every chunk, in order, until the task pipe ends.
fn serve(task_rx: &OwnedFd, result_tx: &OwnedFd) -> ! {
    let mut inbox = FrameBuf::new();
    let mut answer = Vec::new();
    loop {
        loop {
            let range = match inbox.next_frame() {
                Ok(Some(range)) => range,
                Ok(None) => break,
                Err(frame::FrameTooLong) => sys::exit_now(EXIT_BAD_FRAME),
            };
            answer.clear();
            run_chunk(inbox.get(range), &mut answer);
            if GARBLE_NEXT_ANSWER.swap(false, Ordering::Relaxed) {
                answer.truncate(8);
                answer.extend_from_slice(b"not a result frame");
                frame::finish_frame(&mut answer, 0);
            }
            if write_all(result_tx, &answer).is_err() {
                sys::exit_now(EXIT_PIPE_FAILED);
            }
            // Do not keep a huge answer's buffer for the worker's whole life.
            if answer.capacity() > 4 * frame::READ_SIZE {
                answer = Vec::new();
            }
        }
        match inbox.fill(task_rx.as_fd()) {
            Ok(0) => sys::exit_now(0),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => sys::exit_now(EXIT_PIPE_FAILED),
        }
    }
}

/// Runs one chunk, writing its whole result frame into `out`.
fn run_chunk(body: &[u8], out: &mut Vec<u8>) {
    let task = match TaskFrame::parse(body) {
        Ok(task) => task,
        Err(BadFrame::ForeignToken | BadFrame::Malformed) => sys::exit_now(EXIT_BAD_FRAME),
    };
    let at = frame::begin_frame(out);
    out.extend_from_slice(&(task.inputs.len() as u32).to_le_bytes());
    for input in task.inputs {
        let tag_at = out.len();
        out.push(frame::OUTCOME_OK);
        frame::put_sized(out, |out| {
            let start = out.len();
            let ran = panic::catch_unwind(AssertUnwindSafe(|| {
                (task.trampoline)(task.func, input, out)
            }));
            let (tag, message) = match ran {
                Ok(Ok(())) => return,
                Ok(Err(e)) => (frame::OUTCOME_BAD_INPUT, e.to_string()),
                Err(payload) => (frame::OUTCOME_PANICKED, panic_message(payload.as_ref())),
            };
            out.truncate(start);
            out.extend_from_slice(message.as_bytes());
            out[tag_at] = tag;
        });
    }
    frame::finish_frame(out, at);
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
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
