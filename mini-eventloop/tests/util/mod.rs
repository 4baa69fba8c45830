//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::future::{Future, poll_fn};
use std::task::Poll;
use std::time::Duration;

use mini_eventloop::Runtime;

/// A guard against hangs, never a timing assertion: far longer than any test needs.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// A fresh runtime.
#[track_caller]
pub fn rt() -> Runtime {
    Runtime::new().expect("runtime")
}

/// Runs `fut` on a fresh runtime, failing the test if it has not finished within
/// [`HANG_GUARD`].
#[track_caller]
pub fn run<F: Future>(fut: F) -> F::Output {
    let rt = rt();
    rt.block_on(async {
        mini_eventloop::timeout(HANG_GUARD, fut)
            .await
            .expect("test hung")
    })
}

/// The loopback address with an ephemeral port.
pub fn any_port() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `fut` exactly once with the current task's waker and gives back what it returned:
/// used to make a future register (or to check that it would not wait) without awaiting it.
pub async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))).await
}

/// Runs `f` on its own thread and returns its result, failing the test if it has not
/// returned within [`HANG_GUARD`] (for code whose bug is a hang of the calling thread).
#[track_caller]
pub fn must_finish<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(v) => v,
        Err(_) => panic!("{what} hung (not finished within {HANG_GUARD:?})"),
    }
}

/// A foreign waker whose `wake` panics (user code the runtime must survive).
pub struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        panic!("user waker panicked in wake");
    }
}

/// A waker that panics when woken.
pub fn panicking_waker() -> std::task::Waker {
    std::task::Waker::from(std::sync::Arc::new(PanickingWaker))
}

/// A value whose destructor panics (user code the runtime must survive).
pub struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("user destructor panicked");
    }
}

/// The message of a panic payload (`&str` or `String`), or "" for another payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match payload.downcast_ref::<&str>() {
        Some(s) => (*s).to_string(),
        None => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    }
}
