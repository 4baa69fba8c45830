//! Thread-local access during thread exit never panics: a `Runtime` kept in a
//! `thread_local!` is dropped after the crate's own thread-local is gone, and the process goes
//! on (it used to abort with "thread local panicked on drop").
//!
//! The scenario runs in a re-executed child process, since an abort would kill the test
//! binary itself.

use std::process::Command;
use std::time::Duration;

use mini_eventloop::{Runtime, sleep, spawn, yield_now};

/// Set in the child's environment: run the scenario instead of spawning a child.
const CHILD: &str = "MINI_EVENTLOOP_THREAD_EXIT_CHILD";

/// A thread whose `thread_local!` runtime holds a pending task and a pending timer exits
/// cleanly.
#[test]
fn runtime_in_a_thread_local_is_dropped_cleanly_at_thread_exit() {
    if std::env::var_os(CHILD).is_some() {
        scenario();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "runtime_in_a_thread_local_is_dropped_cleanly_at_thread_exit",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child's work: a thread uses a thread-local runtime and exits.
fn scenario() {
    thread_local! {
        static RT: Runtime = Runtime::new().unwrap();
    }
    std::thread::spawn(|| {
        RT.with(|rt| {
            rt.block_on(async {
                // Work left for the drop at thread exit: a task waiting on a timer.
                spawn(async { sleep(Duration::from_secs(3600)).await });
                yield_now().await;
            })
        });
    })
    .join()
    .unwrap();
}
