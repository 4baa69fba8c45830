//! A plain (non-atomic) counter in a `GilCell` never loses an update: the GIL is its lock.

mod util;

use std::sync::Arc;

use gil_threads::{BorrowError, GilCell, Interpreter};
use util::POLICIES;

/// Threads incrementing the counter.
const THREADS: u64 = 8;
/// Increments per thread.
const INCREMENTS: u64 = 20_000;

/// 8 threads increment a plain `u64`, with a checkpoint after every increment, under every
/// policy: the total is exact.
#[test]
fn no_lost_updates() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let counter = Arc::new(GilCell::new(interp.id(), 0u64));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let counter = Arc::clone(&counter);
                interp.spawn(move |gil| {
                    for _ in 0..INCREMENTS {
                        *counter.borrow_mut(gil).expect("same interpreter") += 1;
                        gil.checkpoint();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("the worker finished");
        }
        let total = interp
            .with_gil(|gil| *counter.borrow(gil).expect("same interpreter"))
            .expect("entered");
        assert_eq!(total, THREADS * INCREMENTS, "policy {policy:?}");
    }
}

/// A cell refuses a token of another interpreter, with a typed error.
#[test]
fn foreign_gil_is_refused() {
    let a = Interpreter::new();
    let b = Interpreter::new();
    let cell = GilCell::new(a.id(), 5u8);
    let err = b
        .with_gil(|gil| cell.borrow(gil).copied())
        .expect("entered");
    assert_eq!(
        err,
        Err(BorrowError::WrongInterpreter {
            cell: a.id(),
            gil: b.id()
        })
    );
    let err = b
        .with_gil(|gil| cell.borrow_mut(gil).map(|v| *v))
        .expect("entered");
    assert!(matches!(err, Err(BorrowError::WrongInterpreter { .. })));
}

/// Two different cells can be borrowed mutably at once; the same cell twice is refused.
#[test]
fn pair_borrow() {
    let interp = Interpreter::new();
    let a = GilCell::new(interp.id(), 1u32);
    let b = GilCell::new(interp.id(), String::from("x"));
    interp
        .with_gil(|gil| {
            let (x, s) = GilCell::borrow_pair_mut(&a, &b, gil).expect("two cells");
            *x += 1;
            s.push('y');
            assert_eq!(
                GilCell::borrow_pair_mut(&a, &a, gil).map(|_| ()),
                Err(BorrowError::SameCell)
            );
        })
        .expect("entered");
    assert_eq!((a.into_inner(), b.into_inner()), (2, "xy".to_owned()));
}

/// A thread never holds two tokens at once: re-entry is refused, even inside
/// `allow_threads`, and even for another interpreter.
#[test]
fn reentry_is_refused() {
    let interp = Interpreter::new();
    let other = Interpreter::new();
    interp
        .with_gil(|gil| {
            assert_eq!(
                interp.with_gil(|_| ()),
                Err(gil_threads::GilError::AlreadyHeld)
            );
            assert_eq!(
                other.with_gil(|_| ()),
                Err(gil_threads::GilError::AlreadyHeld)
            );
            gil.allow_threads(|| {
                assert_eq!(
                    interp.with_gil(|_| ()),
                    Err(gil_threads::GilError::AlreadyHeld)
                );
            });
        })
        .expect("entered");
    // Once the token is gone, entering again works.
    assert_eq!(interp.with_gil(|_| 7), Ok(7));
}
