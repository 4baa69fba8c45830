//! Shutdown joins non-daemon threads; daemon threads that want the GIL afterwards unwind with
//! `ShuttingDown`; nothing hangs.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gil_threads::{Event, GilError, JoinError, JoinFailed, Policy};
use util::{HANG_GUARD, POLICIES};

/// Work a non-daemon thread does after shutdown has begun.
const LATE_WORK: u64 = 10_000;

/// Shutdown waits for a non-daemon thread to finish its work, under every policy.
#[test]
fn non_daemon_threads_are_joined() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let started = Arc::new(Event::new());
        let done = Arc::new(AtomicU64::new(0));
        let (started2, done2) = (Arc::clone(&started), Arc::clone(&done));
        let worker = interp.spawn(move |gil| {
            started2.set();
            for i in 1..=LATE_WORK {
                done2.store(i, Ordering::SeqCst);
                gil.checkpoint();
            }
        });
        started.wait_blocking().unwrap();
        interp.shutdown().unwrap();
        assert_eq!(done.load(Ordering::SeqCst), LATE_WORK, "{policy:?}");
        assert_eq!(worker.join(), Ok(()));
    }
}

/// A CPU-bound daemon thread is unwound at its next checkpoint after shutdown, and a daemon
/// blocked in `allow_threads` is unwound when it returns; both report `ShuttingDown`.
#[test]
fn daemons_unwind_with_shutting_down() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let running = Arc::new(Event::new());
        let release = Arc::new(Event::new());
        let unwound = Arc::new(AtomicBool::new(false));

        let running2 = Arc::clone(&running);
        let cpu = interp.thread_builder().daemon(true).spawn(move |gil| {
            running2.set();
            let start = std::time::Instant::now();
            loop {
                assert!(start.elapsed() < HANG_GUARD, "never unwound");
                gil.checkpoint();
            }
        });
        running.wait_blocking().unwrap();

        let release2 = Arc::clone(&release);
        let unwound2 = Arc::clone(&unwound);
        let entered = Arc::new(Event::new());
        let entered2 = Arc::clone(&entered);
        let blocked = interp.thread_builder().daemon(true).spawn(move |gil| {
            /// Records that destructors run during the unwind.
            struct OnDrop(Arc<AtomicBool>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _guard = OnDrop(unwound2);
            entered2.set();
            release2.wait(gil);
            unreachable!("a daemon returning into a shut-down interpreter must unwind");
        });

        entered.wait_blocking().unwrap();
        interp.shutdown().unwrap();
        assert_eq!(
            cpu.join(),
            Err(JoinFailed::Thread(JoinError::ShuttingDown)),
            "{policy:?}"
        );
        release.set();
        assert_eq!(
            blocked.join(),
            Err(JoinFailed::Thread(JoinError::ShuttingDown)),
            "{policy:?}"
        );
        assert!(
            unwound.load(Ordering::SeqCst),
            "destructors ran while unwinding"
        );
    }
}

/// After shutdown, new threads and `with_gil` are refused with typed errors.
#[test]
fn nothing_starts_after_shutdown() {
    let interp = util::interpreter(Policy::Fair);
    interp.shutdown().unwrap();
    assert_eq!(
        interp.spawn(|_| ()).join(),
        Err(JoinFailed::Thread(JoinError::ShuttingDown))
    );
    assert_eq!(interp.with_gil(|_| ()), Err(GilError::ShuttingDown));
    // Idempotent.
    interp.shutdown().unwrap();
}

/// Dropping the interpreter shuts it down and joins its non-daemon threads.
#[test]
fn drop_joins() {
    let finished = Arc::new(AtomicBool::new(false));
    let finished2 = Arc::clone(&finished);
    let handle = {
        let interp = util::interpreter(Policy::IoPriority);
        interp.spawn(move |gil| {
            for _ in 0..1_000 {
                gil.checkpoint();
            }
            finished2.store(true, Ordering::SeqCst);
        })
    };
    assert!(finished.load(Ordering::SeqCst));
    assert_eq!(handle.join(), Ok(()));
}

/// A daemon thread that keeps asking for the GIL (drop requests) while a non-daemon one is
/// joined does not stop shutdown: a requester leaving never leaves the holder waiting
/// (python/cpython#96387).
#[test]
fn requesting_daemon_does_not_block_shutdown() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let go = Arc::new(Event::new());
        let go2 = Arc::clone(&go);
        let daemon = interp.thread_builder().daemon(true).spawn(move |gil| {
            go2.set();
            loop {
                gil.allow_threads(|| ());
                gil.checkpoint();
            }
        });
        go.wait_blocking().unwrap();
        let worker = interp.spawn(|gil| {
            for _ in 0..20_000 {
                gil.checkpoint();
            }
        });
        interp.shutdown().unwrap();
        assert_eq!(worker.join(), Ok(()));
        assert_eq!(
            daemon.join(),
            Err(JoinFailed::Thread(JoinError::ShuttingDown))
        );
    }
}
