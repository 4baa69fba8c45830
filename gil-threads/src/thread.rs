//! Interpreter threads: spawning, the thread boundary, joining, and `current_thread`.
//!
//! Invariant: the thread boundary ([`run_thread`]) is the only place a thread's outcome is
//! decided. Whatever the closure does (return, panic, be unwound at shutdown), the token is
//! dropped inside the `catch_unwind` (releasing the GIL), the thread is retired from the GIL's
//! records, and exactly one `Result<T, JoinError>` is stored for [`JoinHandle::join`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use concurrency_shared::panic_message;

use crate::error::{JoinError, JoinFailed};
use crate::gil::{Admission, Seat};
use crate::interpreter::{InterpreterId, Registered, Runtime};
use crate::sync::{self, Condvar, Mutex};
use crate::token::{self, Gil, ShutdownUnwind};
use crate::waker::WakerSlot;

/// A thread's identity: unique in the process, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub(crate) u64);

impl ThreadId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What [`current_thread`] says about a thread (Python's `threading.current_thread()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    /// The thread's id.
    pub id: ThreadId,
    /// Its name: the one given to [`Builder::name`], or the OS thread's name for a thread the
    /// interpreter did not start.
    pub name: Option<String>,
    /// Whether it is a daemon thread.
    pub daemon: bool,
}

thread_local! {
    /// This thread's identity, set at the start of an interpreter thread or on first use.
    static CURRENT: RefCell<Option<ThreadInfo>> = const { RefCell::new(None) };
    /// This thread's id alone (0: none yet). It has no destructor, so it outlives `CURRENT`:
    /// a thread keeps its id inside another thread-local's destructor, where an `RLock` it
    /// takes twice must see the same owner both times.
    static ID: Cell<u64> = const { Cell::new(0) };
    /// The interpreter that started this thread, if one did.
    static HOME: Cell<Option<InterpreterId>> = const { Cell::new(None) };
}

/// Whether the calling thread is one that interpreter `id` started (and so one that its
/// shutdown would join).
pub(crate) fn runs_in(id: InterpreterId) -> bool {
    HOME.with(|h| h.get() == Some(id))
}

/// The calling thread's identity. Threads that the interpreter did not start (the main
/// thread, a thread entering with [`Interpreter::with_gil`](crate::Interpreter::with_gil)) get
/// an id on first use and are never daemons.
///
/// Called while the thread's thread-locals are being destroyed (from another thread-local's
/// destructor), it still returns the thread's id, but no name and `daemon: false`.
pub fn current_thread() -> ThreadInfo {
    let id = ThreadId(ID.with(|id| {
        if id.get() == 0 {
            id.set(sync::ids::thread());
        }
        id.get()
    }));
    CURRENT
        .try_with(|c| {
            c.borrow_mut()
                .get_or_insert_with(|| ThreadInfo {
                    id,
                    name: std::thread::current().name().map(str::to_owned),
                    daemon: false,
                })
                .clone()
        })
        .unwrap_or(ThreadInfo {
            id,
            name: None,
            daemon: false,
        })
}

/// Builds an interpreter thread: name, daemon flag, stack size. Made by
/// [`Interpreter::thread_builder`](crate::Interpreter::thread_builder).
///
/// ```
/// use gil_threads::Interpreter;
///
/// let interp = Interpreter::new();
/// let handle = interp
///     .thread_builder()
///     .name("worker-1")
///     .stack_size(256 * 1024)
///     .spawn(|gil| gil.current_thread().name);
/// assert_eq!(handle.join(), Ok(Some("worker-1".to_owned())));
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `spawn` is called"]
pub struct Builder {
    /// The interpreter the thread will run in.
    rt: Arc<Runtime>,
    /// The thread's name.
    name: Option<String>,
    /// Whether shutdown leaves it running (and refuses it the GIL).
    daemon: bool,
    /// The OS thread's stack size in bytes.
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder for a non-daemon thread with the default stack.
    pub(crate) fn new(rt: Arc<Runtime>) -> Self {
        Self {
            rt,
            name: None,
            daemon: false,
            stack_size: None,
        }
    }

    /// Names the thread (also the OS thread's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes it a daemon thread: [`Interpreter::shutdown`](crate::Interpreter::shutdown) does
    /// not wait for it, and once shutdown is done the thread is unwound out of the interpreter
    /// the next time it wants the GIL (its join gives
    /// [`JoinError::ShuttingDown`]).
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// Sets the OS thread's stack size in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the thread; it takes the GIL, then runs `f`.
    ///
    /// Never fails here: if the interpreter is shutting down or the OS refuses the thread,
    /// the handle's [`join`](JoinHandle::join) reports it.
    pub fn spawn<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce(&mut Gil) -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = ThreadId(sync::ids::thread());
        let info = ThreadInfo {
            id,
            name: self.name.clone(),
            daemon: self.daemon,
        };
        let packet = Arc::new(Packet::new());
        let mut registry = sync::lock(&self.rt.registry);
        if registry.closing {
            packet.set(Err(JoinError::ShuttingDown));
            return JoinHandle {
                info,
                interp: self.rt.id,
                packet,
                polled_out: false,
            };
        }
        // Reap the OS handles of threads that are done, so the registry stays small.
        registry.threads.retain(|r| !r.handle.is_finished());
        let mut os = std::thread::Builder::new();
        if let Some(name) = &self.name {
            os = os.name(name.clone());
        }
        if let Some(bytes) = self.stack_size {
            os = os.stack_size(bytes);
        }
        let rt = Arc::clone(&self.rt);
        let thread_packet = Arc::clone(&packet);
        let thread_info = info.clone();
        match os.spawn(move || run_thread(rt, thread_info, f, &thread_packet)) {
            Ok(handle) => {
                // Registered only once the OS has started it (a thread it refuses never
                // enters: no record, no lane), and before it can take the GIL, which it does
                // only after `registry`, still locked here, is unlocked (see `run_thread`).
                self.rt.gil.register(id.0, self.name.clone(), self.daemon);
                registry.threads.push(Registered {
                    daemon: self.daemon,
                    handle,
                });
            }
            Err(e) => packet.set(Err(JoinError::Spawn(e.to_string()))),
        }
        JoinHandle {
            info,
            interp: self.rt.id,
            packet,
            polled_out: false,
        }
    }
}

/// The thread boundary: takes the GIL, runs `f`, turns every way out into a `Result`.
fn run_thread<F, T>(rt: Arc<Runtime>, info: ThreadInfo, f: F, packet: &Packet<T>)
where
    F: FnOnce(&mut Gil) -> T,
{
    ID.with(|id| id.set(info.id.0));
    CURRENT.with(|c| *c.borrow_mut() = Some(info.clone()));
    HOME.with(|h| h.set(Some(rt.id)));
    let key = info.id.0;
    // The spawner registers this thread with the GIL after the OS started it, with
    // `registry` locked: once we have locked it too, our record exists for our first take.
    drop(sync::lock(&rt.registry));
    let seat = Arc::new(Seat::new(key, info.daemon));
    let gil_rt = Arc::clone(&rt);
    let outcome = panic::catch_unwind(AssertUnwindSafe(move || {
        let (mut gil, admission) = match Gil::enter(gil_rt, seat) {
            Ok(entered) => entered,
            // Unreachable for a fresh thread, which has no token yet; kept total.
            Err(_) => return Err(JoinError::ShuttingDown),
        };
        if admission == Admission::ShuttingDown {
            return Err(JoinError::ShuttingDown);
        }
        Ok(f(&mut gil))
    }));
    let result = match outcome {
        Ok(result) => result,
        Err(payload) if payload.is::<ShutdownUnwind>() => Err(JoinError::ShuttingDown),
        Err(payload) => Err(JoinError::Panicked(panic_message(&*payload))),
    };
    // The token's drop has retired the thread already; this covers a thread that never got
    // one (idempotent), before the joiner can look at the statistics.
    rt.gil.retire(key);
    packet.set(result);
}

/// Where a thread leaves its outcome for whoever joins it.
#[derive(Debug)]
struct Packet<T> {
    /// The outcome, once the thread is done; taken by `join`.
    slot: Mutex<Option<Result<T, JoinError>>>,
    /// Signalled when `slot` is filled.
    done: Condvar,
    /// Woken when `slot` is filled, for a handle being awaited.
    waker: WakerSlot,
}

impl<T> Packet<T> {
    /// An empty packet.
    fn new() -> Self {
        Self {
            slot: Mutex::new(None),
            done: Condvar::new(),
            waker: WakerSlot::new(),
        }
    }

    /// Stores the outcome and wakes the joiner.
    fn set(&self, result: Result<T, JoinError>) {
        *sync::lock(&self.slot) = Some(result);
        self.done.notify_all();
        self.waker.wake();
    }

    /// Takes the outcome if it is there, without waiting.
    fn try_take(&self) -> Option<Result<T, JoinError>> {
        sync::lock(&self.slot).take()
    }

    /// Waits for the outcome and takes it.
    fn take(&self) -> Result<T, JoinError> {
        let mut slot = sync::lock(&self.slot);
        loop {
            if let Some(result) = slot.take() {
                return result;
            }
            slot = sync::wait(&self.done, slot);
        }
    }

    /// Whether the outcome is there.
    fn is_set(&self) -> bool {
        sync::lock(&self.slot).is_some()
    }
}

/// An owned permission to wait for an interpreter thread's result (Python's `Thread.join`).
///
/// It is also a [`Future`] of the thread's `Result<T, JoinError>`, for an executor running
/// **outside** the interpreter (tokio, mini-eventloop, a plain `block_on`): the thread wakes
/// the awaiting task when it ends. Polling never blocks and needs no GIL: it only looks at the
/// outcome, so polling from an interpreter thread is harmless too. What blocks is the
/// executor: one that parks a thread holding this interpreter's GIL while it waits (a
/// `block_on` inside [`with_gil`](crate::Interpreter::with_gil)) keeps the awaited thread
/// from ever getting the GIL, so run it outside the interpreter or inside
/// [`allow_threads`](Gil::allow_threads). Awaited on the very thread it names, it resolves
/// at once to [`JoinError::WouldDeadlock`]; polled again after it resolved, it panics
/// ("JoinHandle polled after completion"), and so do [`join`](JoinHandle::join) and
/// [`join_gil`](JoinHandle::join_gil), which would otherwise wait for an outcome already
/// taken.
///
/// ```
/// use gil_threads::Interpreter;
///
/// let interp = Interpreter::new();
/// let handle = interp.spawn(|_gil| 6 * 7);
/// let rt = mini_eventloop::Runtime::new().unwrap();
/// assert_eq!(rt.block_on(handle), Ok(42));
/// ```
///
/// Dropping it detaches the thread (it still runs, and shutdown still joins it if it is not
/// a daemon).
#[derive(Debug)]
#[must_use = "dropping a JoinHandle detaches the thread; join it to see its result"]
pub struct JoinHandle<T> {
    /// The thread's identity.
    info: ThreadInfo,
    /// The interpreter it runs in, whose GIL `join` must not be called with.
    interp: InterpreterId,
    /// Its outcome.
    packet: Arc<Packet<T>>,
    /// Whether the handle, as a future, already returned its outcome.
    polled_out: bool,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish, from a thread that does **not** hold this
    /// interpreter's GIL (the joined thread may need it to finish). From an interpreter thread,
    /// use [`join_gil`](JoinHandle::join_gil). Holding another interpreter's GIL is allowed.
    ///
    /// # Errors
    ///
    /// [`JoinFailed::Thread`] with the thread's [`JoinError`]; or
    /// [`JoinFailed::WouldDeadlock`] with this handle, at once and without waiting, if this
    /// thread holds this interpreter's GIL (inside its closure, a
    /// [`with_gil`](crate::Interpreter::with_gil) call, ...; not inside
    /// [`allow_threads`](Gil::allow_threads)) or is the thread itself. The thread is not
    /// affected, and the handle can be joined later from where waiting is allowed.
    ///
    /// ```
    /// use gil_threads::{Interpreter, JoinFailed};
    ///
    /// let interp = Interpreter::new();
    /// let refused = interp.with_gil(|_gil| {
    ///     let other = interp.spawn(|_gil| 7);
    ///     other.join() // would wait with the GIL held
    /// });
    /// let Ok(Err(JoinFailed::WouldDeadlock(handle))) = refused else { panic!("not refused") };
    /// assert_eq!(handle.join(), Ok(7)); // the GIL is not held here
    /// ```
    pub fn join(self) -> Result<T, JoinFailed<T>> {
        self.assert_not_polled_out();
        if token::refuse_if_holding(self.interp).is_err() || self.is_current() {
            return Err(JoinFailed::WouldDeadlock(self));
        }
        self.packet.take().map_err(JoinFailed::Thread)
    }

    /// A handle whose outcome was already returned by polling has none left: joining it
    /// would wait for ever, so it panics, as a second poll does.
    fn assert_not_polled_out(&self) {
        assert!(
            !self.polled_out,
            "JoinHandle joined after it resolved as a future (polled after completion)"
        );
    }

    /// Whether this is the calling thread's own handle (joining it would wait for ever).
    fn is_current(&self) -> bool {
        self.info.id == current_thread().id
    }

    /// Waits for the thread to finish from an interpreter thread, releasing the GIL while
    /// blocked.
    ///
    /// # Errors
    ///
    /// [`JoinFailed::Thread`] with the thread's [`JoinError`]; [`JoinFailed::WouldDeadlock`]
    /// with this handle, at once, if this is the calling thread's own handle (Python's
    /// "cannot join current thread").
    pub fn join_gil(self, gil: &mut Gil) -> Result<T, JoinFailed<T>> {
        self.assert_not_polled_out();
        if self.is_current() {
            return Err(JoinFailed::WouldDeadlock(self));
        }
        let packet = &self.packet;
        let outcome = if self.is_finished() {
            packet.take()
        } else {
            gil.allow_threads(|| packet.take())
        };
        outcome.map_err(JoinFailed::Thread)
    }

    /// Whether the thread has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.polled_out || self.packet.is_set()
    }

    /// The thread's identity.
    pub fn thread(&self) -> &ThreadInfo {
        &self.info
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.polled_out, "JoinHandle polled after completion");
        if this.is_current() {
            this.polled_out = true;
            return Poll::Ready(Err(JoinError::WouldDeadlock));
        }
        this.packet.waker.register(cx.waker());
        match this.packet.try_take() {
            Some(result) => {
                this.polled_out = true;
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }
}
