//! A broken poll descriptor (closed behind the runtime's back) stops the loop with a panic
//! naming the `epoll_wait` error, instead of a loop that turns forever on the same failure.
//!
//! It closes one of the process's descriptors, so it runs alone: `harness = false`, its own
//! `main`, which prints a closing line like the harness does.

mod util;

use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// The descriptors of this process that are epoll instances.
fn epoll_fds() -> Vec<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            (target.to_str()? == "anon_inode:[eventpoll]").then_some(fd)
        })
        .collect()
}

/// A runtime whose epoll descriptor was closed panics with a clear message at its next
/// poll (it used to turn again at once, forever, in a release build).
fn broken_epoll_descriptor_stops_the_loop() {
    let message = util::must_finish("a loop over a closed epoll descriptor", || {
        let before = epoll_fds();
        let rt = util::rt();
        let mine: Vec<RawFd> = epoll_fds()
            .into_iter()
            .filter(|fd| !before.contains(fd))
            .collect();
        assert_eq!(mine.len(), 1, "expected one new epoll descriptor");
        // SAFETY: the descriptor belongs to `rt`'s poll, which is never used again except by
        // the failing `epoll_wait` under test; nothing else in this process opens descriptors
        // meanwhile, so the number cannot be reused by something else.
        assert_eq!(unsafe { libc::close(mine[0]) }, 0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(mini_eventloop::sleep(Duration::from_millis(1)))
        }));
        // The runtime is unusable: leak it rather than run its shutdown over a closed poll.
        std::mem::forget(rt);
        let payload = r.expect_err("the loop went on over a closed epoll descriptor");
        util::panic_message(&*payload)
    });
    assert!(
        message.contains("epoll_wait failed") && message.contains("poll descriptor"),
        "unclear message: {message}"
    );
}

fn main() {
    broken_epoll_descriptor_stops_the_loop();
    println!("test broken_epoll_descriptor_stops_the_loop ... ok\n\n1 passed, 0 failed");
}
