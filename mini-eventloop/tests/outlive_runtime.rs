//! Objects that outlive their runtime, or are polled by another one, never hang silently:
//! an I/O object fails with `IoRuntimeError` (it cannot move, its events arrive only at its
//! own poll), and a `Sleep` moves its timer to the runtime polling it and still never
//! completes before its deadline.

mod util;

use std::io;
use std::time::{Duration, Instant};

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::{IoRuntimeError, join, sleep_until};

/// The `IoRuntimeError` inside an `io::Error`, if any.
fn why(e: &io::Error) -> Option<IoRuntimeError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<IoRuntimeError>())
        .copied()
}

/// A listener returned from one runtime's `block_on`, accepting under a second runtime after
/// the first was dropped: `ShutDown`, not a hang (tokio errors the same way).
#[test]
fn io_after_its_runtime_was_dropped_fails() {
    let first = util::rt();
    let listener = first
        .block_on(async { TcpListener::bind(util::any_port()) })
        .unwrap();
    let addr = listener.local_addr().unwrap();
    drop(first);
    let (accepted, connected) = util::run(async {
        // A client connects meanwhile, so there is something to accept.
        join(listener.accept(), TcpStream::connect(addr)).await
    });
    let err = accepted.unwrap_err();
    assert_eq!(why(&err), Some(IoRuntimeError::ShutDown), "{err}");
    assert!(connected.is_ok());
}

/// A stream created under one live runtime and read under another: `OtherRuntime`.
#[test]
fn io_under_another_live_runtime_fails() {
    let first = util::rt();
    let (listener, mut client) = first.block_on(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        (listener, client)
    });
    let err = util::run(async {
        let mut buf = [0; 4];
        client.read(&mut buf).await.unwrap_err()
    });
    assert_eq!(why(&err), Some(IoRuntimeError::OtherRuntime), "{err}");
    drop((listener, client));
}

/// A `Sleep` registered with a runtime that was then dropped is still pending under another
/// runtime before its deadline (it used to complete at once: the dropped runtime had cleared
/// its timers).
#[test]
fn sleep_polled_after_its_runtime_was_dropped_is_not_early() {
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut nap = Box::pin(sleep_until(deadline));
    let first = util::rt();
    first.block_on(async {
        assert!(util::poll_once(&mut nap).await.is_pending());
    });
    drop(first);
    util::run(async {
        assert!(
            util::poll_once(&mut nap).await.is_pending(),
            "a sleep completed {:?} before its deadline",
            deadline - Instant::now()
        );
        assert_eq!(
            mini_eventloop::stats().timers_pending,
            1,
            "not re-registered"
        );
    });
}

/// A `JoinHandle` of one runtime awaited under another live runtime fails loudly (a panic
/// naming the mistake) instead of pending forever; its task never runs there.
#[test]
fn join_handle_awaited_under_another_runtime_panics() {
    let rt1 = util::rt();
    let rt2 = util::rt();
    let h = rt1.spawn(async { 7 });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt2.block_on(mini_eventloop::timeout(util::HANG_GUARD, h))
    }));
    let payload = r.expect_err("awaiting another runtime's JoinHandle did not fail");
    let message = util::panic_message(&*payload);
    assert!(
        message.contains("another runtime"),
        "unclear message: {message}"
    );
    drop(rt1);
}

/// A finished task's `JoinHandle` gives its result under any runtime (nothing to wait for).
#[test]
fn finished_join_handle_gives_its_result_under_another_runtime() {
    let rt1 = util::rt();
    let h = rt1.spawn(async { 7 });
    rt1.block_on(mini_eventloop::yield_now());
    assert_eq!(util::rt().block_on(h), Ok(7));
}
