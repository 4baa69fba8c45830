//! The [`Interpreter`]: one GIL, the threads that share it, and their shutdown.
//!
//! Invariant: shutdown goes through three phases in order, like CPython's
//! `threading._shutdown` followed by finalisation: (1) **closing**: no new thread starts and
//! the at-exit hooks run (executors close their queues); (2) the non-daemon threads are
//! joined; (3) **finalizing**: daemon threads are refused the GIL from then on, by unwinding.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{BuildError, GilError, InvalidInterval, WouldDeadlock};
use crate::gil::{Admission, GilCore, Policy, Seat};
use crate::stats::Stats;
use crate::sync::{self, Condvar, Mutex};
use crate::thread::{self, Builder, JoinHandle};
use crate::token::{self, Gil};

/// CPython's default switch interval (`sys.getswitchinterval()` is 0.005).
pub const DEFAULT_SWITCH_INTERVAL: Duration = Duration::from_millis(5);

/// An interpreter's identity: unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterpreterId(pub(crate) u64);

impl fmt::Display for InterpreterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An OS thread the interpreter started, kept so that shutdown can join it.
#[derive(Debug)]
pub(crate) struct Registered {
    /// Daemon threads are not joined.
    pub(crate) daemon: bool,
    /// The OS thread.
    pub(crate) handle: std::thread::JoinHandle<()>,
}

/// A hook run at the start of shutdown (Python's `threading._register_atexit`).
pub(crate) type AtExit = Box<dyn FnOnce() + Send>;

/// Threads and hooks, guarded by `Runtime::registry`.
pub(crate) struct Registry {
    /// Set by shutdown's phase 1: no new thread starts.
    pub(crate) closing: bool,
    /// Set when the shutdown that set `closing` has finished its three phases; every other
    /// `shutdown` call waits for it (on `Runtime::shut_down`).
    pub(crate) finished: bool,
    /// The threads started and not yet reaped.
    pub(crate) threads: Vec<Registered>,
    /// Hooks to run at shutdown, in registration order, by id.
    pub(crate) atexit: Vec<(u64, AtExit)>,
    /// The next hook id.
    pub(crate) next_hook: u64,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("closing", &self.closing)
            .field("finished", &self.finished)
            .field("threads", &self.threads.len())
            .field("atexit", &self.atexit.len())
            .finish()
    }
}

/// What an interpreter's threads share.
#[derive(Debug)]
pub(crate) struct Runtime {
    /// Its identity.
    pub(crate) id: InterpreterId,
    /// Its GIL.
    pub(crate) gil: GilCore,
    /// Its threads and at-exit hooks; locked before the GIL's state, never after.
    pub(crate) registry: Mutex<Registry>,
    /// Signalled (to all) when `Registry::finished` is set.
    pub(crate) shut_down: Condvar,
}

impl Runtime {
    /// Registers a hook to run at the start of shutdown; runs it at once if shutdown began.
    /// Returns its id, for [`remove_at_exit`](Runtime::remove_at_exit).
    pub(crate) fn at_exit(&self, hook: AtExit) -> u64 {
        let mut registry = sync::lock(&self.registry);
        let id = registry.next_hook;
        registry.next_hook += 1;
        if registry.closing {
            drop(registry);
            hook();
        } else {
            registry.atexit.push((id, hook));
        }
        id
    }

    /// Forgets hook `id` (its owner shut down by itself), so hooks do not pile up in a
    /// long-lived interpreter. A no-op once it ran.
    pub(crate) fn remove_at_exit(&self, id: u64) {
        sync::lock(&self.registry)
            .atexit
            .retain(|(hook, _)| *hook != id);
    }

    /// How many at-exit hooks are registered.
    #[cfg(test)]
    pub(crate) fn at_exit_hooks(&self) -> usize {
        sync::lock(&self.registry).atexit.len()
    }
}

/// A set of OS threads that run "interpreter code" one at a time, under one global
/// interpreter lock, the way CPython's `threading` does.
///
/// Dropping it shuts it down (see [`shutdown`](Interpreter::shutdown)).
///
/// ```
/// use std::sync::Arc;
/// use gil_threads::{GilCell, Interpreter};
///
/// let interp = Interpreter::new();
/// let counter = Arc::new(GilCell::new(interp.id(), 0u64));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         interp.spawn(move |gil| {
///             for _ in 0..1_000 {
///                 *counter.borrow_mut(gil).unwrap() += 1;
///                 gil.checkpoint();
///             }
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// let total = interp.with_gil(|gil| *counter.borrow(gil).unwrap()).unwrap();
/// assert_eq!(total, 4_000);
/// ```
#[derive(Debug)]
pub struct Interpreter {
    /// What its threads share.
    rt: Arc<Runtime>,
}

impl Default for Interpreter {
    fn default() -> Self {
        Self::new()
    }
}

impl Interpreter {
    /// An interpreter with the [`Fair`](Policy::Fair) policy and a 5 ms switch interval.
    pub fn new() -> Self {
        Self::with(Policy::Fair, DEFAULT_SWITCH_INTERVAL)
    }

    /// A builder to choose the policy and switch interval.
    pub fn builder() -> InterpreterBuilder {
        InterpreterBuilder::default()
    }

    /// An interpreter with these settings (already validated).
    fn with(policy: Policy, interval: Duration) -> Self {
        Self {
            rt: Arc::new(Runtime {
                id: InterpreterId(sync::ids::interpreter()),
                gil: GilCore::new(policy, interval),
                registry: Mutex::new(Registry {
                    closing: false,
                    finished: false,
                    threads: Vec::new(),
                    atexit: Vec::new(),
                    next_hook: 0,
                }),
                shut_down: Condvar::new(),
            }),
        }
    }

    /// This interpreter's id (what a [`GilCell`](crate::GilCell) is tied to).
    pub fn id(&self) -> InterpreterId {
        self.rt.id
    }

    /// The policy chosen at construction.
    pub fn policy(&self) -> Policy {
        self.rt.gil.policy()
    }

    /// The switch interval (Python's `sys.getswitchinterval()`).
    pub fn switch_interval(&self) -> Duration {
        self.rt.gil.interval()
    }

    /// Changes the switch interval at run time (Python's `sys.setswitchinterval()`); waiting
    /// threads use it from their next wait.
    ///
    /// # Errors
    ///
    /// [`InvalidInterval`] if `interval` is zero.
    pub fn set_switch_interval(&self, interval: Duration) -> Result<(), InvalidInterval> {
        if interval.is_zero() {
            return Err(InvalidInterval);
        }
        self.rt.gil.set_interval(interval);
        Ok(())
    }

    /// Starts a non-daemon thread that takes the GIL and runs `f`
    /// (Python's `threading.Thread(target=f).start()`).
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce(&mut Gil) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.thread_builder().spawn(f)
    }

    /// A builder for a thread with a name, the daemon flag or a stack size.
    pub fn thread_builder(&self) -> Builder {
        Builder::new(Arc::clone(&self.rt))
    }

    /// Runs `f` on the calling thread with the GIL held (C's `PyGILState_Ensure` /
    /// `PyGILState_Release`), waiting for it like any other thread. Each call is one stay in
    /// the interpreter: when it returns, the thread leaves [`Stats::threads`] and its counters
    /// join [`Stats::exited`].
    ///
    /// # Errors
    ///
    /// [`GilError::AlreadyHeld`] if this thread already has a token (re-entry is refused),
    /// [`GilError::ShuttingDown`] once shutdown has begun.
    pub fn with_gil<R>(&self, f: impl FnOnce(&mut Gil) -> R) -> Result<R, GilError> {
        if sync::lock(&self.rt.registry).closing {
            return Err(GilError::ShuttingDown);
        }
        // Refused before registering, so a refused entry leaves no record behind (entering
        // would refuse it too, but only after `register`).
        if token::holds_any_token() {
            return Err(GilError::AlreadyHeld);
        }
        let me = thread::current_thread();
        self.rt.gil.register(me.id.0, me.name, false);
        let seat = Arc::new(Seat::new(me.id.0, false));
        let (mut gil, admission) = Gil::enter(Arc::clone(&self.rt), seat)?;
        debug_assert_eq!(
            admission,
            Admission::Admitted,
            "a non-daemon is never refused"
        );
        Ok(f(&mut gil))
    }

    /// A consistent snapshot of the GIL statistics, per interpreter and per thread.
    pub fn stats(&self) -> Stats {
        self.rt.gil.stats()
    }

    /// Shuts the interpreter down: no new threads start, at-exit hooks run (executors close),
    /// the non-daemon threads are joined, then daemon threads are refused the GIL: each one
    /// unwinds out of the interpreter the next time it wants the GIL (at a checkpoint, or on
    /// returning from `allow_threads`), its join giving
    /// [`JoinError::ShuttingDown`](crate::JoinError::ShuttingDown).
    ///
    /// Idempotent; also run on drop. Calls made at the same time from several threads all
    /// return once the one shutdown has finished its three phases. Call it from a thread that
    /// is not one of this interpreter's threads and does not hold its GIL (holding another
    /// interpreter's is allowed).
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once and without changing anything, if this thread holds this
    /// interpreter's GIL (the threads to join need it to finish), or is one of this
    /// interpreter's threads (it would wait for itself; Python's "cannot join current
    /// thread"). (Dropping the interpreter there cannot fail, so drop instead closes and
    /// finalises without joining.)
    ///
    /// ```
    /// use gil_threads::{Interpreter, WouldDeadlock};
    ///
    /// let interp = Interpreter::new();
    /// assert_eq!(interp.with_gil(|_gil| interp.shutdown()), Ok(Err(WouldDeadlock)));
    /// assert_eq!(interp.shutdown(), Ok(()));
    /// ```
    pub fn shutdown(&self) -> Result<(), WouldDeadlock> {
        if !self.may_wait_for_threads() {
            return Err(WouldDeadlock);
        }
        self.shut_down(true);
        Ok(())
    }

    /// Whether this thread may wait for the interpreter's threads: it holds neither their
    /// GIL nor is one of them.
    fn may_wait_for_threads(&self) -> bool {
        token::refuse_if_holding(self.rt.id).is_ok() && !thread::runs_in(self.rt.id)
    }

    /// Shutdown's three phases, run by the first call. With `wait`, the first call joins the
    /// non-daemon threads and later calls wait until it has finished; without (only from
    /// drop, which cannot refuse, on a thread that may not wait), nothing waits.
    fn shut_down(&self, wait: bool) {
        let hooks = {
            let mut registry = sync::lock(&self.rt.registry);
            if registry.closing {
                while wait && !registry.finished {
                    registry = sync::wait(&self.rt.shut_down, registry);
                }
                return;
            }
            registry.closing = true;
            std::mem::take(&mut registry.atexit)
        };
        for (_, hook) in hooks {
            hook();
        }
        if wait {
            self.join_non_daemons();
        }
        self.rt.gil.begin_finalizing();
        sync::lock(&self.rt.registry).finished = true;
        self.rt.shut_down.notify_all();
    }

    /// Shutdown's phase 2: joins the non-daemon threads, including those they start.
    fn join_non_daemons(&self) {
        loop {
            let batch: Vec<Registered> = {
                let mut registry = sync::lock(&self.rt.registry);
                let (joinable, kept) = std::mem::take(&mut registry.threads)
                    .into_iter()
                    .partition(|r| !r.daemon);
                registry.threads = kept;
                joinable
            };
            if batch.is_empty() {
                return;
            }
            for thread in batch {
                // The thread boundary catches every panic, so the OS join cannot fail.
                let _ = thread.handle.join();
            }
        }
    }

    /// The runtime, for the crate's other modules.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }
}

impl Drop for Interpreter {
    /// Shuts down; on a thread where [`shutdown`](Interpreter::shutdown) would refuse (one
    /// holding this interpreter's GIL, or one of its own threads), closes and finalises
    /// without joining or waiting for a concurrent shutdown, since a drop cannot report
    /// [`WouldDeadlock`].
    fn drop(&mut self) {
        self.shut_down(self.may_wait_for_threads());
    }
}

/// Chooses an interpreter's policy and switch interval.
///
/// ```
/// use std::time::Duration;
/// use gil_threads::{Interpreter, Policy};
///
/// let interp = Interpreter::builder()
///     .switch_interval(Duration::from_millis(1))
///     .policy(Policy::IoPriority)
///     .build()
///     .unwrap();
/// assert_eq!(interp.policy(), Policy::IoPriority);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct InterpreterBuilder {
    /// The switch interval.
    interval: Duration,
    /// The policy.
    policy: Policy,
    /// Where the GIL records what it does, if anywhere.
    #[cfg(feature = "trace")]
    recorder: Option<Arc<crate::trace::Recorder>>,
}

impl Default for InterpreterBuilder {
    fn default() -> Self {
        Self {
            interval: DEFAULT_SWITCH_INTERVAL,
            policy: Policy::Fair,
            #[cfg(feature = "trace")]
            recorder: None,
        }
    }
}

impl InterpreterBuilder {
    /// Sets the switch interval (default 5 ms).
    pub fn switch_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the policy (default [`Policy::Fair`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Records, into `recorder`, what the GIL does on each of the interpreter's threads
    /// (feature `trace`): [`GilHeld`](crate::trace::Kind::GilHeld) spans from take to release,
    /// [`GilWait`](crate::trace::Kind::GilWait) spans from asking for the GIL to getting it,
    /// [`DropRequest`](crate::trace::Kind::DropRequest) instants on the waiter that asked the
    /// holder to drop it, and [`ForcedSwitch`](crate::trace::Kind::ForcedSwitch) instants on
    /// a holder that dropped it at a checkpoint on request (the drops
    /// [`GilCounters::forced_switches`](crate::GilCounters) counts). Each thread's lane is
    /// [`Lane::Thread(n)`](crate::trace::Lane::Thread), `n` numbering the threads in the order
    /// they first entered (the first, usually the main thread, is 0); a thread keeps its
    /// number when it leaves and enters again, and its events stay in the recorder after it
    /// exits. Give each interpreter its own recorder: two interpreters number their threads
    /// from 0 alike. Without a recorder nothing is recorded.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gil_threads::Interpreter;
    /// use gil_threads::trace::{Kind, Lane, Recorder};
    ///
    /// let recorder = Arc::new(Recorder::with_capacity(1_000));
    /// let interp = Interpreter::builder().recorder(Arc::clone(&recorder)).build().unwrap();
    /// interp.with_gil(|_gil| ()).unwrap();
    /// let held: Vec<_> = recorder.events().into_iter().filter(|e| e.kind == Kind::GilHeld).collect();
    /// assert_eq!(held.len(), 1);
    /// assert_eq!(held[0].lane, Lane::Thread(0));
    /// ```
    #[cfg(feature = "trace")]
    pub fn recorder(mut self, recorder: Arc<crate::trace::Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Builds the interpreter.
    ///
    /// # Errors
    ///
    /// If the switch interval is zero.
    pub fn build(self) -> Result<Interpreter, BuildError> {
        if self.interval.is_zero() {
            return Err(BuildError::interval());
        }
        let interp = Interpreter::with(self.policy, self.interval);
        #[cfg(feature = "trace")]
        if let Some(recorder) = self.recorder {
            interp
                .rt
                .gil
                .set_trace(crate::record::GilTrace::new(recorder));
        }
        Ok(interp)
    }
}
