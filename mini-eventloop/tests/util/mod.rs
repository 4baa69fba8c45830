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
