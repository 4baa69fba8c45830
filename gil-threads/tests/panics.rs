//! A panicking interpreter thread releases the GIL through its guard; the others go on.

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use gil_threads::{GilCell, JoinError, JoinFailed};
use util::POLICIES;

/// A thread that panics while holding the GIL reports `Panicked(message)` and the next thread
/// still gets the GIL, under every policy.
#[test]
fn panic_releases_the_gil() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let boom = interp.spawn(|gil| {
            gil.checkpoint();
            panic!("boom {}", 42);
        });
        assert_eq!(
            boom.join(),
            Err(JoinFailed::Thread(JoinError::Panicked("boom 42".into())))
        );
        let after = interp.spawn(|gil| {
            gil.checkpoint();
            7
        });
        assert_eq!(after.join(), Ok(7));
        assert_eq!(interp.with_gil(|_| 1), Ok(1));
    }
}

/// A panic inside `allow_threads` retakes the GIL before going on: a caller that catches it
/// still holds the GIL and can use its cells.
#[test]
fn panic_inside_allow_threads_retakes_the_gil() {
    let interp = util::interpreter(gil_threads::Policy::Fair);
    let cell = Arc::new(GilCell::new(interp.id(), 0u32));
    let cell2 = Arc::clone(&cell);
    let rival = interp.spawn(move |gil| {
        for _ in 0..1_000 {
            *cell2.borrow_mut(gil).unwrap() += 1;
            gil.checkpoint();
        }
    });
    let caught = interp.spawn({
        let cell = Arc::clone(&cell);
        move |gil| {
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                gil.allow_threads(|| panic!("inside allow_threads"));
            }));
            assert!(result.is_err());
            // We hold the GIL again: a read-modify-write with no checkpoint is atomic.
            let before = *cell.borrow(gil).unwrap();
            *cell.borrow_mut(gil).unwrap() = before + 1_000_000;
        }
    });
    caught.join().expect("caught the panic");
    rival.join().expect("rival");
    let total = interp.with_gil(|gil| *cell.borrow(gil).unwrap()).unwrap();
    assert_eq!(total, 1_001_000);
}

/// A non-string panic payload still gives a message.
#[test]
fn non_string_payload() {
    let interp = util::interpreter(gil_threads::Policy::Fifo);
    let h = interp.spawn(|_gil| std::panic::panic_any(17u8));
    assert!(matches!(
        h.join(),
        Err(JoinFailed::Thread(JoinError::Panicked(_)))
    ));
}
