//! [`ThreadPoolExecutor`]: up to a fixed number of interpreter threads running submitted
//! closures (Python's `concurrent.futures.ThreadPoolExecutor`).
//!
//! Workers start as tasks arrive, like Python's (`_adjust_thread_count`): a submit takes an
//! **idle token** if a worker is idle or about to be (each worker gives one back after every
//! task), and otherwise starts a worker while fewer than the maximum run. So a maximum of
//! `usize::MAX` costs nothing until the tasks are there.
//!
//! Invariants: every submitted task ends in exactly one outcome for its [`TaskHandle`]: its
//! value, `Panicked` (caught at the task boundary; the worker goes on), or `Cancelled` (the
//! task was dropped unrun, which drops its result sender). The executor registers an at-exit
//! hook with its interpreter, like CPython's `threading._register_atexit`, so interpreter
//! shutdown closes the queue, lets the workers drain it, and joins them. The calls for threads
//! outside the interpreter refuse ([`WouldDeadlock`]) on a thread holding the executor's
//! interpreter's GIL, which the workers need.

use std::cell::Cell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use concurrency_shared::panic_message;

use crate::error::{ExecutorShutDown, TaskError, TaskFailed, WouldDeadlock};
use crate::interpreter::{Interpreter, InterpreterId, Runtime};
use crate::sync::{self, AtomicUsize, Mutex, Ordering};
use crate::thread::{Builder, JoinHandle};
use crate::token::{self, Gil, ShutdownUnwind};
use crate::wait;
use crate::waker::{WakeOnDrop, WakerSlot};

thread_local! {
    /// On a worker, the identity of its executor (0 elsewhere): how a call that would wait for
    /// the workers knows it is made by one of them, without any lock.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// A unit of work as a worker sees it.
type Task = Box<dyn FnOnce(&mut Gil) + Send>;

/// Where a task's outcome goes. `wake` is declared after `tx`, so it drops after it: an
/// awaiting handle is woken once the outcome is sent, or once the task is dropped unrun.
struct Reply<T> {
    /// The handle's channel.
    tx: Sender<Result<T, TaskError>>,
    /// The handle's waker slot.
    _wake: WakeOnDrop,
}

/// What the executor's owner and its at-exit hook share.
#[derive(Debug)]
struct Shared {
    /// The task queue's producing end; `None` once shut down.
    tx: Mutex<Option<Sender<Task>>>,
}

impl Shared {
    /// Closes the queue: workers finish what is queued, then leave.
    fn close(&self) {
        sync::lock(&self.tx).take();
    }
}

/// A pool of interpreter threads that run submitted closures.
///
/// ```
/// use gil_threads::{Interpreter, ThreadPoolExecutor};
///
/// let interp = Interpreter::new();
/// let pool = ThreadPoolExecutor::new(&interp, 2);
/// let squares = interp.with_gil(|gil| pool.map(gil, |_gil, x: u64| x * x, 0..5)).unwrap();
/// let squares: Vec<u64> = squares.unwrap().into_iter().map(Result::unwrap).collect();
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// pool.shutdown_blocking(true).unwrap();
/// ```
#[derive(Debug)]
pub struct ThreadPoolExecutor {
    /// The interpreter the workers run in.
    interp: InterpreterId,
    /// That interpreter, to withdraw the at-exit hook.
    rt: Arc<Runtime>,
    /// The at-exit hook's id; the hook is withdrawn when the executor shuts down by itself.
    hook: u64,
    /// Shared with the at-exit hook.
    shared: Arc<Shared>,
    /// The task queue's consuming end, for the workers started later.
    rx: Receiver<Task>,
    /// The most workers that may run (at least one).
    max_workers: usize,
    /// Idle tokens: workers idle or about to be, not yet claimed by a submit.
    idle: Arc<AtomicUsize>,
    /// The worker threads, until joined. Held for the whole join, so that concurrent
    /// shutdowns all return only once every worker has left. Workers are only added under
    /// `Shared::tx`'s lock while the queue is open, so none starts after a shutdown closed it.
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl ThreadPoolExecutor {
    /// An executor running tasks on up to `workers` (at least one) non-daemon interpreter
    /// threads named `executor-<i>`, started as tasks arrive (see the module docs).
    pub fn new(interp: &Interpreter, workers: usize) -> Self {
        Self::start(interp.runtime(), workers)
    }

    /// [`new`](ThreadPoolExecutor::new) from an interpreter thread: the workers join the
    /// token's interpreter.
    pub fn new_in(gil: &Gil, workers: usize) -> Self {
        Self::start(gil.runtime(), workers)
    }

    /// An executor whose workers will run in `rt`.
    fn start(rt: &Arc<Runtime>, workers: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<Task>();
        let shared = Arc::new(Shared {
            tx: Mutex::new(Some(tx)),
        });
        let hook_target: Weak<Shared> = Arc::downgrade(&shared);
        let hook = rt.at_exit(Box::new(move || {
            if let Some(shared) = hook_target.upgrade() {
                shared.close();
            }
        }));
        Self {
            interp: rt.id,
            rt: Arc::clone(rt),
            hook,
            shared,
            rx,
            max_workers: workers.max(1),
            idle: Arc::new(AtomicUsize::new(0)),
            workers: Mutex::new(Vec::new()),
        }
    }

    /// After a task was queued (with `Shared::tx` locked): claims an idle token, or starts a
    /// worker if fewer than the maximum run.
    fn adjust_workers(&self) {
        let claimed = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if claimed {
            return;
        }
        let mut workers = sync::lock(&self.workers);
        if workers.len() >= self.max_workers {
            return;
        }
        let (rx, idle) = (self.rx.clone(), Arc::clone(&self.idle));
        let pool = self.identity();
        let worker = Builder::new(Arc::clone(&self.rt))
            .name(format!("executor-{}", workers.len()))
            .spawn(move |gil| {
                WORKER_OF.with(|w| w.set(pool));
                work(gil, &rx, &idle);
            });
        // With the queue open, a worker is finished at once only if it never started (the
        // interpreter is shutting down, or the OS refused the thread).
        if !worker.is_finished() {
            workers.push(worker);
            return;
        }
        if workers.iter().all(JoinHandle::is_finished) {
            // Nobody will run the queued tasks: drop them, so their handles say `Cancelled`
            // instead of waiting for ever.
            while let Ok(task) = self.rx.try_recv() {
                // Its captures' destructors are user code: a panic there stays here.
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(task)));
            }
        }
    }

    /// Queues `f` to run on a worker with the GIL held.
    ///
    /// # Errors
    ///
    /// [`ExecutorShutDown`] once the executor (or its interpreter) was shut down.
    pub fn submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, ExecutorShutDown>
    where
        F: FnOnce(&mut Gil) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result_tx, result_rx) = crossbeam_channel::bounded(1);
        let waker = Arc::new(WakerSlot::new());
        let reply = Reply {
            tx: result_tx,
            _wake: WakeOnDrop(Arc::clone(&waker)),
        };
        let task: Task = Box::new(move |gil| {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(gil)));
            let result = match outcome {
                Ok(value) => Ok(value),
                // The worker is leaving a shut-down interpreter: the task never finished.
                Err(payload) if payload.is::<ShutdownUnwind>() => panic::resume_unwind(payload),
                Err(payload) => Err(TaskError::Panicked(panic_message(&*payload))),
            };
            // The handle may be gone; then nobody wants the result, and its destructor (user
            // code) runs here: a panic in it must not take the worker down.
            if let Err(unwanted) = reply.tx.send(result) {
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(unwanted)));
            }
            drop(reply);
        });
        let tx = sync::lock(&self.shared.tx);
        match tx.as_ref() {
            Some(tx) if tx.send(task).is_ok() => {
                self.adjust_workers();
                Ok(TaskHandle {
                    interp: self.interp,
                    rx: result_rx,
                    taken: false,
                    waker,
                })
            }
            _ => Err(ExecutorShutDown),
        }
    }

    /// Runs `f` on every item on the workers and waits (GIL released) for all the results,
    /// in input order.
    ///
    /// # Errors
    ///
    /// [`ExecutorShutDown`] if the executor was shut down before every item was submitted.
    pub fn map<F, I, T>(
        &self,
        gil: &mut Gil,
        f: F,
        items: impl IntoIterator<Item = I>,
    ) -> Result<Vec<Result<T, TaskError>>, ExecutorShutDown>
    where
        F: Fn(&mut Gil, I) -> T + Send + Sync + 'static,
        I: Send + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let handles = items
            .into_iter()
            .map(|item| {
                let f = Arc::clone(&f);
                self.submit(move |gil| f(gil, item))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(handles.into_iter().map(|h| h.result(gil)).collect())
    }

    /// Stops accepting tasks; with `wait`, waits (GIL released) for the queued tasks to
    /// finish and the workers to leave. Calls made at the same time from several threads all
    /// wait for the same end.
    ///
    /// # Errors
    ///
    /// With `wait`, [`WouldDeadlock`], at once and without closing anything, from one of
    /// the executor's own workers (a task shutting its own pool down would wait for itself;
    /// Python raises "cannot join current thread"). Without `wait` it never fails.
    pub fn shutdown(&self, gil: &mut Gil, wait: bool) -> Result<(), WouldDeadlock> {
        if wait {
            self.refuse_if_worker()?;
        }
        self.close();
        if wait {
            gil.allow_threads(|| self.join_workers());
        }
        Ok(())
    }

    /// This executor's identity for `WORKER_OF`: the address of its shared state, which lives
    /// as long as the executor.
    fn identity(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// Refuses a wait for the workers on one of them.
    fn refuse_if_worker(&self) -> Result<(), WouldDeadlock> {
        if WORKER_OF.with(Cell::get) == self.identity() {
            Err(WouldDeadlock)
        } else {
            Ok(())
        }
    }

    /// Closes the queue and withdraws the at-exit hook, which has nothing left to do.
    fn close(&self) {
        self.shared.close();
        self.rt.remove_at_exit(self.hook);
    }

    /// [`shutdown`](ThreadPoolExecutor::shutdown) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// With `wait`, [`WouldDeadlock`], at once and without closing anything, if this thread
    /// holds the executor's interpreter's GIL (the workers need it to finish; use
    /// [`shutdown`](ThreadPoolExecutor::shutdown)) or is one of its workers. Without `wait`
    /// it never fails.
    pub fn shutdown_blocking(&self, wait: bool) -> Result<(), WouldDeadlock> {
        if wait {
            token::refuse_if_holding(self.interp)?;
            self.refuse_if_worker()?;
        }
        self.close();
        if wait {
            self.join_workers();
        }
        Ok(())
    }

    /// Joins every worker (the caller does not hold their GIL and is not one of them). The
    /// lock is held throughout: a concurrent caller waits until the last worker has left.
    fn join_workers(&self) {
        let mut workers = sync::lock(&self.workers);
        for worker in workers.drain(..) {
            // A worker ends only by draining the queue or being refused at shutdown.
            let _ = worker.join();
        }
    }
}

impl Drop for ThreadPoolExecutor {
    /// Shuts down and waits for the workers, unless this thread holds their interpreter's GIL
    /// or is one of them (they still drain the queue and leave on their own).
    fn drop(&mut self) {
        let wait = token::refuse_if_holding(self.interp).is_ok() && self.refuse_if_worker().is_ok();
        // Cannot fail: `wait` is only set when waiting is allowed.
        let _ = self.shutdown_blocking(wait);
    }
}

/// A worker's loop: take a task (GIL released while waiting), run it, give back an idle
/// token, until the queue closes.
fn work(gil: &mut Gil, rx: &Receiver<Task>, idle: &AtomicUsize) {
    loop {
        let task = match rx.try_recv() {
            Ok(task) => task,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => match gil.allow_threads(|| rx.recv()) {
                Ok(task) => task,
                Err(_) => return,
            },
        };
        task(gil);
        idle.fetch_add(1, Ordering::AcqRel);
    }
}

/// The pending result of a submitted task (Python's `concurrent.futures.Future`).
#[derive(Debug)]
#[must_use = "a TaskHandle is how the task's result is collected"]
pub struct TaskHandle<T> {
    /// The interpreter the task runs in, whose GIL `result_blocking` must not be called with.
    interp: InterpreterId,
    /// Receives the task's outcome; disconnected unsent if the task was dropped unrun.
    rx: Receiver<Result<T, TaskError>>,
    /// Whether the outcome was already taken by `result_timeout` or by polling.
    taken: bool,
    /// Where an awaiting task's waker waits for the outcome.
    waker: Arc<WakerSlot>,
}

/// As a future, for an executor running **outside** the interpreter: resolves to the task's
/// outcome; the worker wakes the awaiting task when it sends it. Polling never blocks and
/// needs no GIL (it only looks at the outcome), so it is harmless on an interpreter thread;
/// but an executor that parks a thread holding this interpreter's GIL while it waits keeps
/// the workers from running the task, so run it outside the interpreter or inside
/// [`allow_threads`](Gil::allow_threads). Polled again after it resolved, it returns
/// `Err(TaskError::Taken)`, as [`result_timeout`](TaskHandle::result_timeout) does.
// Nothing of a handle is pinned: the outcome lives in the channel, not in the handle.
impl<T> Unpin for TaskHandle<T> {}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waker.register(cx.waker());
        match this.rx.try_recv() {
            Ok(result) => {
                this.taken = true;
                Poll::Ready(result)
            }
            Err(TryRecvError::Disconnected) => Poll::Ready(Err(this.unrun())),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }
}

impl<T> TaskHandle<T> {
    /// Turns a receive failure into the task's error.
    fn unrun(&self) -> TaskError {
        if self.taken {
            TaskError::Taken
        } else {
            TaskError::Cancelled
        }
    }

    /// Waits (GIL released) for the task's outcome.
    ///
    /// # Errors
    ///
    /// The task's [`TaskError`].
    pub fn result(self, gil: &mut Gil) -> Result<T, TaskError> {
        match self.rx.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Disconnected) => Err(self.unrun()),
            Err(TryRecvError::Empty) => gil.allow_threads(|| self.recv_raw()),
        }
    }

    /// Like [`result`](TaskHandle::result), giving up after `timeout`; the handle stays usable.
    ///
    /// # Errors
    ///
    /// [`TaskError::Timeout`] if the task is not done yet (ask again), otherwise the task's
    /// error, or [`TaskError::Taken`] if an earlier call returned its outcome.
    pub fn result_timeout(&mut self, gil: &mut Gil, timeout: Duration) -> Result<T, TaskError> {
        let outcome = match self.rx.try_recv() {
            Ok(result) => Ok(result),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {
                let rx = &self.rx;
                wait::released(gil, Some(timeout), |deadline| match deadline {
                    Some(deadline) => rx.recv_deadline(deadline),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                })
            }
        };
        match outcome {
            Ok(result) => {
                self.taken = true;
                result
            }
            Err(RecvTimeoutError::Timeout) => Err(TaskError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(self.unrun()),
        }
    }

    /// Waits for the task's outcome.
    fn recv_raw(self) -> Result<T, TaskError> {
        match self.rx.recv() {
            Ok(result) => result,
            Err(_) => Err(self.unrun()),
        }
    }

    /// [`result`](TaskHandle::result) for a thread outside the interpreter (holding another
    /// interpreter's GIL is allowed).
    ///
    /// # Errors
    ///
    /// [`TaskFailed::Task`] with the task's [`TaskError`]; or [`TaskFailed::WouldDeadlock`]
    /// with this handle, at once and without waiting, if this thread holds the executor's
    /// interpreter's GIL (the workers need it). The task still runs, and the handle can wait
    /// for it later from where waiting is allowed.
    pub fn result_blocking(self) -> Result<T, TaskFailed<T>> {
        if token::refuse_if_holding(self.interp).is_err() {
            return Err(TaskFailed::WouldDeadlock(self));
        }
        self.recv_raw().map_err(TaskFailed::Task)
    }

    /// Whether two handles wait for the same task.
    pub(crate) fn same_task(&self, other: &Self) -> bool {
        self.rx.same_channel(&other.rx)
    }

    /// Whether the outcome is ready (Python's `Future.done()`).
    pub fn is_done(&self) -> bool {
        !self.rx.is_empty() || self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::ThreadPoolExecutor;
    use crate::interpreter::Interpreter;

    /// Executors created and shut down (or dropped) one after another leave no at-exit hook
    /// behind in their interpreter.
    #[test]
    fn executors_do_not_pile_up_at_exit_hooks() {
        let interp = Interpreter::new();
        for i in 0..200 {
            let pool = ThreadPoolExecutor::new(&interp, 1);
            if i % 2 == 0 {
                pool.shutdown_blocking(true).unwrap();
            }
        }
        assert_eq!(interp.runtime().at_exit_hooks(), 0);
    }
}
