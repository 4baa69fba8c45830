//! `Lock` and `RLock`: exclusion, waiting with the GIL released, timeouts.

mod util;

use std::sync::Arc;
use std::time::Duration;

use gil_threads::{GilCell, Lock, Policy, RLock, Timeout, WaitError};

/// Iterations per thread.
const ROUNDS: u64 = 2_000;

/// A `Lock` held across `allow_threads` still excludes the other threads, and a thread
/// waiting for it releases the GIL (otherwise this would deadlock).
#[test]
fn lock_excludes_across_allow_threads() {
    let interp = util::interpreter(Policy::Fair);
    let lock = Arc::new(Lock::new());
    let value = Arc::new(GilCell::new(interp.id(), 0u64));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (lock, value) = (Arc::clone(&lock), Arc::clone(&value));
            interp.spawn(move |gil| {
                for _ in 0..ROUNDS {
                    let _held = lock.acquire(gil);
                    let v = *value.borrow(gil).unwrap();
                    gil.allow_threads(std::thread::yield_now); // others run, the lock is held
                    *value.borrow_mut(gil).unwrap() = v + 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(
        interp.with_gil(|gil| *value.borrow(gil).unwrap()),
        Ok(4 * ROUNDS)
    );
}

/// `acquire_timeout` returns `Err(Timeout)` when nothing will ever release the lock; the
/// token-free version too; `try_acquire` refuses at once.
#[test]
fn lock_timeouts() {
    let interp = util::interpreter(Policy::Fifo);
    let lock = Lock::new();
    let _held = lock.acquire_blocking().unwrap();
    assert!(lock.is_locked());
    assert!(lock.try_acquire().is_none());
    assert_eq!(
        lock.acquire_timeout_blocking(Duration::from_millis(1))
            .err(),
        Some(WaitError::Timeout)
    );
    interp
        .with_gil(|gil| {
            assert_eq!(
                lock.acquire_timeout(gil, Duration::from_millis(1)).err(),
                Some(Timeout)
            );
        })
        .unwrap();
}

/// An `RLock` is re-entrant for its owner and excludes others until every level is released.
#[test]
fn rlock_reentrant_and_exclusive() {
    let interp = util::interpreter(Policy::IoPriority);
    let lock = Arc::new(RLock::new());
    let outer = lock.acquire_blocking().unwrap();
    let inner = lock.acquire_blocking().unwrap();
    let lock2 = Arc::clone(&lock);
    let refused = interp
        .spawn(move |gil| {
            lock2
                .acquire_timeout(gil, Duration::from_millis(1))
                .is_err()
        })
        .join();
    assert_eq!(refused, Ok(true));
    drop(inner);
    let lock3 = Arc::clone(&lock);
    let still_refused = std::thread::spawn(move || {
        lock3
            .acquire_timeout_blocking(Duration::from_millis(1))
            .is_err()
    })
    .join()
    .unwrap();
    assert!(still_refused, "one level is still held");
    drop(outer);
    let lock4 = Arc::clone(&lock);
    let got = interp.spawn(move |gil| drop(lock4.acquire(gil))).join();
    assert_eq!(got, Ok(()));
}

/// An `RLock` taken twice, re-entrantly, from a thread-local's destructor (where the crate's
/// own thread-local identity may already be gone): both levels are granted to the same owner
/// and released, instead of the second acquire waiting on the first for ever.
#[test]
fn rlock_is_reentrant_inside_a_thread_local_destructor() {
    /// Takes the lock twice when the thread's thread-locals are destroyed.
    struct TakesTwice(Arc<RLock>, std::sync::mpsc::Sender<bool>);
    impl Drop for TakesTwice {
        fn drop(&mut self) {
            let outer = self.0.acquire_timeout_blocking(RLOCK_GUARD);
            let inner = self.0.acquire_timeout_blocking(RLOCK_GUARD);
            let _ = self.1.send(outer.is_ok() && inner.is_ok());
        }
    }
    thread_local! {
        static SLOT: std::cell::RefCell<Option<TakesTwice>> = const { std::cell::RefCell::new(None) };
    }
    /// Long enough for any machine; a waiting re-entrant acquire times out after it.
    const RLOCK_GUARD: Duration = Duration::from_secs(10);
    let lock = Arc::new(RLock::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let l = Arc::clone(&lock);
    std::thread::spawn(move || {
        SLOT.with(|s| *s.borrow_mut() = Some(TakesTwice(l, tx)));
        // Learn the identity after `SLOT` exists: thread-locals are destroyed in reverse
        // order of first use, so the crate's is gone when `SLOT`'s destructor runs.
        let _ = gil_threads::current_thread();
    })
    .join()
    .unwrap();
    assert_eq!(rx.recv(), Ok(true), "the re-entrant acquire timed out");
    // Both levels were released when the destructor's guards dropped.
    assert!(lock.acquire_timeout_blocking(Duration::ZERO).is_ok());
}
