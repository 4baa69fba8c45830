//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gil_threads::{Interpreter, Policy};

/// Every policy, so that each behaviour is checked under all of them.
pub const POLICIES: [Policy; 3] = [Policy::Fair, Policy::Fifo, Policy::IoPriority];

/// A short switch interval, so that tests see many switches in little time.
pub const TEST_INTERVAL: Duration = Duration::from_micros(500);

/// A generous guard against hangs: never a synchronisation device.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// An interpreter with `policy` and the test switch interval.
#[track_caller]
pub fn interpreter(policy: Policy) -> Interpreter {
    Interpreter::builder()
        .policy(policy)
        .switch_interval(TEST_INTERVAL)
        .build()
        .expect("a valid interpreter configuration")
}

/// Counts the threads inside "interpreter code" and remembers the most ever seen at once.
#[derive(Debug, Default)]
pub struct Occupancy {
    /// Threads inside now.
    inside: AtomicUsize,
    /// The maximum of `inside` ever observed.
    max: AtomicUsize,
}

impl Occupancy {
    /// Marks the calling thread as inside.
    pub fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    /// Marks the calling thread as outside.
    pub fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most threads ever inside at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), seeded per thread.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Spins (with checkpoints) until `done` holds, giving up after the hang guard.
#[track_caller]
pub fn wait_until(gil: &mut gil_threads::Gil, mut done: impl FnMut(&mut gil_threads::Gil) -> bool) {
    let start = std::time::Instant::now();
    while !done(gil) {
        assert!(start.elapsed() < HANG_GUARD, "condition never became true");
        gil.allow_threads(std::thread::yield_now);
    }
}

/// Runs `f` on its own thread and returns its result, failing the test if it has not
/// finished within the hang guard: a call that would deadlock then fails the test instead of
/// hanging it (the stuck thread is left behind; the test process still ends).
#[track_caller]
pub fn within_guard<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        // The receiver may be gone if the guard fired; nobody wants the result then.
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(Ok(value)) => value,
        // An assertion failed inside: report it as the test's own failure.
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("hung: the call blocked instead of refusing"),
    }
}

/// Spawns an interpreter thread that runs `f` and returns once that thread has released the
/// GIL for the first time. `f` must start with the call under test and must not checkpoint
/// before it: then the release observed is that call's own (its blocking wait, entered with
/// the GIL released), or the thread's end. Proven by a flag the thread sets under the GIL
/// right before `f`, seen set by this thread under the GIL.
#[track_caller]
pub fn spawn_until_released<T: Send + 'static>(
    interp: &Interpreter,
    f: impl FnOnce(&mut gil_threads::Gil) -> T + Send + 'static,
) -> gil_threads::JoinHandle<T> {
    let started = std::sync::Arc::new(gil_threads::GilCell::new(interp.id(), false));
    let flag = std::sync::Arc::clone(&started);
    let handle = interp.spawn(move |gil| {
        *flag.borrow_mut(gil).expect("same interpreter") = true;
        f(gil)
    });
    let start = std::time::Instant::now();
    while !interp
        .with_gil(|gil| *started.borrow(gil).expect("same interpreter"))
        .expect("the interpreter is running")
    {
        assert!(
            start.elapsed() < HANG_GUARD,
            "the thread never released the GIL"
        );
        std::thread::yield_now();
    }
    handle
}
