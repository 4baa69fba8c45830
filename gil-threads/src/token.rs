//! The [`Gil`] token: the proof, checked by the compiler, that this thread holds this
//! interpreter's GIL.
//!
//! Invariants:
//! - a `Gil` exists only while its thread holds the GIL, except inside
//!   [`Gil::allow_threads`], which borrows it mutably for exactly the time the GIL is released;
//! - it is `!Send` and `!Sync` (a raw-pointer marker), not `Clone`, has private fields and no
//!   public constructor; the runtime lends it as `&mut Gil` and drops it (releasing the GIL
//!   and retiring the thread's statistics record) when the thread leaves the interpreter,
//!   panicking or not;
//! - a thread never has two tokens at once (a thread-local flag refuses re-entry), so two
//!   `&mut` borrows of one [`GilCell`](crate::GilCell) can never come from two tokens.
//! - a thread-local names the interpreter whose GIL this thread holds *right now* (cleared
//!   inside `allow_threads`); the calls for threads outside the interpreter read it to refuse
//!   a wait that could deadlock ([`WouldDeadlock`](crate::WouldDeadlock)).
//!
//! ```compile_fail
//! // A token cannot move to another thread.
//! fn assert_send<T: Send>() {}
//! assert_send::<gil_threads::Gil>();
//! ```
//!
//! ```compile_fail
//! // Nor be shared with one.
//! fn assert_sync<T: Sync>() {}
//! assert_sync::<gil_threads::Gil>();
//! ```
//!
//! ```compile_fail
//! // Users cannot make one.
//! let gil = gil_threads::Gil {};
//! ```
//!
//! ```compile_fail
//! // Nor copy one.
//! let interp = gil_threads::Interpreter::new();
//! interp.with_gil(|gil| {
//!     let twin = gil.clone();
//! });
//! ```

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic;
use std::sync::Arc;

use crate::error::{GilError, WouldDeadlock};
use crate::gil::{Admission, Reason, Seat};
use crate::interpreter::{InterpreterId, Runtime};
use crate::stats::Stats;
use crate::thread::{self, Builder, JoinHandle, ThreadInfo};

thread_local! {
    /// Whether this thread has a live token (of any interpreter).
    static TOKEN_LIVE: Cell<Option<InterpreterId>> = const { Cell::new(None) };
    /// Whose GIL this thread holds right now: the token's interpreter, except inside
    /// `allow_threads`, where the token is still live but the GIL is lent out. The calls for
    /// threads outside the interpreter read it to refuse a wait that could deadlock
    /// ([`WouldDeadlock`](crate::WouldDeadlock)); one thread-local read keeps that check free.
    static GIL_HELD: Cell<Option<InterpreterId>> = const { Cell::new(None) };
}

/// The private panic payload that unwinds a daemon thread out of a shut-down interpreter; the
/// thread boundary turns it into [`JoinError::ShuttingDown`](crate::JoinError::ShuttingDown).
pub(crate) struct ShutdownUnwind;

/// Whether this thread has a live token of any interpreter.
pub(crate) fn holds_any_token() -> bool {
    TOKEN_LIVE.with(|t| t.get().is_some())
}

/// Refuses a blocking call for threads outside the interpreter if this thread holds
/// interpreter `id`'s GIL right now (not lent out by `allow_threads`): whatever it would wait
/// for may need that GIL.
///
/// Refusing, rather than releasing the GIL behind the caller's back, is deliberate: the caller
/// may hold a [`GilCell`](crate::GilCell) borrow across the call, which is only sound while the
/// GIL stays held.
pub(crate) fn refuse_if_holding(id: InterpreterId) -> Result<(), WouldDeadlock> {
    if GIL_HELD.with(|h| h.get() == Some(id)) {
        Err(WouldDeadlock)
    } else {
        Ok(())
    }
}

/// [`refuse_if_holding`] for the primitives ([`Lock`](crate::Lock), [`Queue`](crate::Queue),
/// ...), which belong to no interpreter: they cannot tell which GIL the thread that would end
/// the wait needs, so holding any GIL is refused (the `&mut Gil` versions accept any
/// interpreter's token).
pub(crate) fn refuse_if_holding_any() -> Result<(), WouldDeadlock> {
    if GIL_HELD.with(|h| h.get().is_some()) {
        Err(WouldDeadlock)
    } else {
        Ok(())
    }
}

/// Proof that the current thread holds an interpreter's GIL.
///
/// You never build one: the runtime lends it to the closure of a spawned thread
/// ([`Interpreter::spawn`](crate::Interpreter::spawn)) or of
/// [`Interpreter::with_gil`](crate::Interpreter::with_gil) as `&mut Gil`. Interpreter code
/// calls [`checkpoint`](Gil::checkpoint) often (CPython's bytecode boundary) and wraps blocking
/// work in [`allow_threads`](Gil::allow_threads).
///
/// ```
/// use gil_threads::Interpreter;
///
/// let interp = Interpreter::new();
/// let worker = interp.spawn(|gil| {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         sum += i;
///         gil.checkpoint();
///     }
///     // Blocking work lets the other threads run.
///     gil.allow_threads(|| std::thread::yield_now());
///     sum
/// });
/// assert_eq!(worker.join(), Ok(49_995_000));
/// ```
#[derive(Debug)]
pub struct Gil {
    /// The interpreter whose GIL this is.
    rt: Arc<Runtime>,
    /// This thread's seat at that GIL.
    seat: Arc<Seat>,
    /// `!Send` and `!Sync`.
    _not_send: PhantomData<*mut ()>,
}

impl Gil {
    /// Takes the GIL for the current thread and makes its token. Refuses re-entry.
    pub(crate) fn enter(rt: Arc<Runtime>, seat: Arc<Seat>) -> Result<(Gil, Admission), GilError> {
        if holds_any_token() {
            return Err(GilError::AlreadyHeld);
        }
        let admission = rt.gil.take(&seat, Reason::Start);
        TOKEN_LIVE.with(|t| t.set(Some(rt.id)));
        GIL_HELD.with(|h| h.set(Some(rt.id)));
        let gil = Gil {
            rt,
            seat,
            _not_send: PhantomData,
        };
        Ok((gil, admission))
    }

    /// A bytecode boundary: if another thread asked for the GIL, give it up and take it again
    /// (after that thread had its turn). When nobody asks, its fast path is one relaxed atomic
    /// load and a branch (its cost is measured in `benches/gil.rs`).
    ///
    /// # Panics
    ///
    /// Never panics in the ordinary sense; but in a **daemon** thread of an interpreter that
    /// has been shut down, it unwinds the thread with a private payload that the thread
    /// boundary reports as [`JoinError::ShuttingDown`](crate::JoinError::ShuttingDown).
    #[inline]
    pub fn checkpoint(&mut self) {
        if self.rt.gil.breaker_set() {
            self.checkpoint_slow();
        }
    }

    /// The slow path of [`checkpoint`](Gil::checkpoint), kept out of line so the fast path
    /// stays a load and a branch.
    #[cold]
    #[inline(never)]
    fn checkpoint_slow(&mut self) {
        let admission = must_retake(|| self.rt.gil.yield_if_requested(&self.seat));
        leave_if_refused(admission);
    }

    /// Releases the GIL around `f` (blocking work: I/O, sleeping, waiting on a lock), then
    /// takes it back, queueing like any other thread. Like CPython's
    /// `Py_BEGIN_ALLOW_THREADS` / `Py_END_ALLOW_THREADS`, including its forced switch: if
    /// another thread has asked for the GIL, `f` starts only once that thread has had it.
    ///
    /// The token is borrowed mutably for the duration, so no borrow of a
    /// [`GilCell`](crate::GilCell) can survive it. If `f` panics, the GIL is taken back before
    /// the panic goes on (never panicking a second time), so a caller that catches the panic
    /// still holds it.
    ///
    /// # Panics
    ///
    /// Only as [`checkpoint`](Gil::checkpoint) does: a daemon thread returning into a shut-down
    /// interpreter unwinds.
    pub fn allow_threads<R>(&mut self, f: impl FnOnce() -> R) -> R {
        /// Retakes the GIL if `f` unwinds.
        struct Retake<'a>(&'a Gil);
        impl Drop for Retake<'_> {
            fn drop(&mut self) {
                // Unwinding already: take the GIL back whatever the admission says.
                let _ = must_retake(|| self.0.rt.gil.take(&self.0.seat, Reason::Returning));
                GIL_HELD.with(|h| h.set(Some(self.0.rt.id)));
            }
        }

        // Inside `f` the GIL is lent out, so the calls for outside threads are allowed there.
        GIL_HELD.with(|h| h.set(None));
        self.rt.gil.release_for_blocking(&self.seat);
        let retake = Retake(self);
        let result = f();
        std::mem::forget(retake);
        let admission = must_retake(|| self.rt.gil.take(&self.seat, Reason::Returning));
        GIL_HELD.with(|h| h.set(Some(self.rt.id)));
        leave_if_refused(admission);
        result
    }

    /// Lets another thread run: if some thread waits for the GIL, hands it over and takes it
    /// back after that thread's turn; if none waits, returns at once. What Python code uses
    /// `time.sleep(0)` for, without a sleep. Two threads that each flip a turn and call
    /// `yield_now` alternate strictly, each blocked (not spinning) while the other runs.
    ///
    /// # Panics
    ///
    /// Only as [`checkpoint`](Gil::checkpoint) does: a daemon thread of a shut-down
    /// interpreter unwinds.
    pub fn yield_now(&mut self) {
        let admission = must_retake(|| self.rt.gil.yield_now(&self.seat));
        leave_if_refused(admission);
    }

    /// The interpreter whose GIL this is.
    pub fn interpreter_id(&self) -> InterpreterId {
        self.rt.id
    }

    /// How many times this interpreter's GIL has changed hands so far (CPython's
    /// `switch_number`: a release and retake by the same thread does not count). It cannot
    /// change while this token is usable, only across a [`checkpoint`](Gil::checkpoint),
    /// [`yield_now`](Gil::yield_now) or [`allow_threads`](Gil::allow_threads).
    pub fn switch_number(&self) -> u64 {
        self.rt.gil.switch_number()
    }

    /// The current thread's identity.
    pub fn current_thread(&self) -> ThreadInfo {
        thread::current_thread()
    }

    /// Spawns a non-daemon thread in the same interpreter (see
    /// [`Interpreter::spawn`](crate::Interpreter::spawn)).
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce(&mut Gil) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.thread_builder().spawn(f)
    }

    /// A builder for a thread in the same interpreter.
    pub fn thread_builder(&self) -> Builder {
        Builder::new(Arc::clone(&self.rt))
    }

    /// A snapshot of the interpreter's statistics.
    pub fn stats(&self) -> Stats {
        self.rt.gil.stats()
    }

    /// The runtime, for the crate's other modules.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }
}

impl Drop for Gil {
    fn drop(&mut self) {
        self.rt.gil.release(&self.seat);
        // A token is made once per stay in the interpreter (a spawned thread's life, one
        // `with_gil` call, like `PyGILState_Ensure`/`Release`), so its drop is the thread
        // leaving: retire the thread's record now, or short-lived threads would pile up.
        self.rt.gil.retire(self.seat.key);
        GIL_HELD.with(|h| h.set(None));
        TOKEN_LIVE.with(|t| t.set(None));
    }
}

/// Runs a take of the GIL for a live token, aborting the process if it unwinds: the token
/// would then outlive its GIL and let safe code touch a [`GilCell`](crate::GilCell) while
/// another thread holds the GIL. (The GIL core's own waits undo what they registered before
/// the unwind gets here, and none of them panics outside the crate's tests.)
fn must_retake<R>(take: impl FnOnce() -> R) -> R {
    /// Aborts if dropped, i.e. if `take` unwinds.
    struct Armed;
    impl Drop for Armed {
        fn drop(&mut self) {
            crate::gil::fatal("a take of the GIL unwound while the thread's token is live");
        }
    }
    let armed = Armed;
    let result = take();
    std::mem::forget(armed);
    result
}

/// Unwinds a daemon thread out of a shut-down interpreter, unless it is unwinding already (a
/// second panic would abort the process).
fn leave_if_refused(admission: Admission) {
    if admission == Admission::ShuttingDown && !std::thread::panicking() {
        panic::resume_unwind(Box::new(ShutdownUnwind));
    }
}
