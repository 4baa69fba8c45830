//! The interpreter's configuration and thread API: builder validation, switch interval at run
//! time, thread names and ids, `join_gil`, spawning from inside the interpreter.

mod util;

use std::time::Duration;

use gil_threads::{DEFAULT_SWITCH_INTERVAL, Interpreter, InvalidInterval, Policy, current_thread};

/// A zero switch interval is refused by the builder and at run time; valid ones stick.
#[test]
fn switch_interval_is_validated() {
    assert!(
        Interpreter::builder()
            .switch_interval(Duration::ZERO)
            .build()
            .is_err()
    );
    let interp = Interpreter::new();
    assert_eq!(interp.policy(), Policy::Fair);
    assert_eq!(interp.switch_interval(), DEFAULT_SWITCH_INTERVAL);
    assert_eq!(
        interp.set_switch_interval(Duration::ZERO),
        Err(InvalidInterval)
    );
    assert_eq!(
        interp.set_switch_interval(Duration::from_micros(100)),
        Ok(())
    );
    assert_eq!(interp.switch_interval(), Duration::from_micros(100));
}

/// Threads carry their names, daemon flag and distinct ids; a foreign thread gets an id too.
#[test]
fn thread_identity() {
    let interp = util::interpreter(Policy::Fifo);
    let named = interp
        .thread_builder()
        .name("worker")
        .daemon(true)
        .stack_size(128 * 1024)
        .spawn(|gil| gil.current_thread());
    let expected_id = named.thread().id;
    let info = named.join().unwrap();
    assert_eq!(info.name.as_deref(), Some("worker"));
    assert!(info.daemon);
    assert_eq!(info.id, expected_id);
    let me = current_thread();
    assert!(!me.daemon);
    assert_ne!(me.id, info.id);
    assert_eq!(
        current_thread().id,
        me.id,
        "stable for the thread's lifetime"
    );
}

/// A thread spawned from inside the interpreter is joined with `join_gil`, which releases the
/// GIL while it waits (the child needs it to run).
#[test]
fn spawn_and_join_from_inside() {
    for policy in util::POLICIES {
        let interp = util::interpreter(policy);
        let out = interp
            .spawn(|gil| {
                let child = gil.spawn(|gil| {
                    gil.checkpoint();
                    21
                });
                child.join_gil(gil).map(|v| v * 2)
            })
            .join()
            .unwrap();
        assert_eq!(out, Ok(42), "{policy:?}");
    }
}

/// Waiting for the GIL (which parks the thread under `Fifo`) never swallows an `unpark`
/// meant for the thread's own `park`: a token given while the thread contends for the GIL is
/// still there afterwards (the final `park` returns; the guard only catches a hang).
#[test]
fn user_unpark_token_survives_gil_waits() {
    use std::sync::Arc;
    let interp = util::interpreter(Policy::Fifo);
    let unparked = Arc::new(gil_threads::Event::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let unparked2 = Arc::clone(&unparked);
    let rival = interp.spawn(|gil| {
        for _ in 0..2_000 {
            gil.yield_now();
        }
    });
    let waiter = interp.spawn(move |gil| {
        tx.send(std::thread::current()).unwrap();
        for _ in 0..1_000 {
            gil.yield_now();
            gil.allow_threads(|| ());
        }
        unparked2.wait(gil);
        let start = std::time::Instant::now();
        gil.allow_threads(|| std::thread::park_timeout(util::HANG_GUARD));
        start.elapsed() < util::HANG_GUARD
    });
    rx.recv().unwrap().unpark();
    unparked.set();
    rival.join().unwrap();
    assert_eq!(waiter.join(), Ok(true), "the unpark token was lost");
}
