//! Spawning from outside the loop: `Runtime::spawn` between `block_on` calls, and a `Handle`
//! on other threads (asyncio's `run_coroutine_threadsafe`) whose result is awaited or waited
//! for; a runtime that is gone gives a cancelled result, never a hang.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mini_eventloop::sync::oneshot;
use mini_eventloop::{Handle, Runtime, yield_now};

/// Compile-time check: a handle can be cloned and sent to other threads.
#[allow(dead_code)]
fn handle_is_send_sync_clone(h: &Handle) -> impl Send + Sync + Clone {
    h.clone()
}

/// A task spawned between two `block_on` calls runs at the next one.
#[test]
fn runtime_spawn_runs_at_the_next_block_on() {
    let rt = util::rt();
    let ran = Arc::new(AtomicUsize::new(0));
    let first = rt.spawn({
        let ran = ran.clone();
        async move {
            ran.fetch_add(1, Ordering::SeqCst);
            "first"
        }
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0, "ran before any block_on");
    assert_eq!(rt.block_on(first), Ok("first"));
    let not_awaited = rt.spawn(async { yield_now().await });
    rt.block_on(yield_now());
    rt.block_on(async {
        while !not_awaited.is_finished() {
            yield_now().await
        }
    });
}

/// Threads spawn through a `Handle`; one waits for the result, another awaits it on its
/// own runtime; a panic comes back as a `JoinError`.
#[test]
fn handle_spawns_from_other_threads() {
    const THREADS: usize = 4;
    let rt = util::rt();
    let handle = rt.handle();
    let (done_tx, done_rx) = oneshot::channel();
    let workers = std::thread::spawn(move || {
        let waiting: Vec<_> = (0..THREADS)
            .map(|i| {
                let handle = handle.clone();
                std::thread::spawn(move || handle.spawn(async move { i * 10 }).wait())
            })
            .collect();
        let mut sum = 0;
        for w in waiting {
            sum += w.join().unwrap().unwrap();
        }
        let awaited = util::rt().block_on(handle.spawn(async { 5 })).unwrap();
        let panicked = handle.spawn(async { panic!("remote boom") }).wait();
        done_tx.send(()).unwrap();
        (sum, awaited, panicked)
    });
    rt.block_on(async { done_rx.await.unwrap() });
    let (sum, awaited, panicked) = workers.join().unwrap();
    assert_eq!(sum, 60);
    assert_eq!(awaited, 5);
    assert_eq!(panicked.unwrap_err().panic_message(), Some("remote boom"));
}

/// After the runtime is dropped, a spawn through its handle reports cancellation at once, and
/// a task still pending at the drop reports it too.
#[test]
fn handle_after_shutdown_reports_cancelled() {
    let rt = util::rt();
    let handle = rt.handle();
    let pending = handle.spawn(std::future::pending::<()>());
    rt.block_on(yield_now());
    drop(rt);
    assert!(pending.wait().unwrap_err().is_cancelled());
    assert!(handle.spawn(async { 1 }).wait().unwrap_err().is_cancelled());
}

/// `wait` on a loop thread would block the loop: it panics with a clear message instead.
#[test]
fn wait_on_a_loop_thread_panics() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let caught = rt.block_on(async move {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle.spawn(async {}).wait()
        }))
    });
    let message = concurrency_shared::panic_message(&*caught.unwrap_err());
    assert!(message.contains(".await the handle"), "{message}");
}

/// Dropping a `RemoteJoinHandle` does not cancel its task.
#[test]
fn dropping_the_remote_handle_does_not_cancel_the_task() {
    let rt = util::rt();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    drop(rt.handle().spawn(async move {
        yield_now().await;
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    rt.block_on(mini_eventloop::timeout(util::HANG_GUARD, async {
        while ran.load(Ordering::SeqCst) == 0 {
            yield_now().await;
        }
    }))
    .expect("the task never ran");
}

/// `RemoteJoinHandle::wait` on the loop's own thread, between two `block_on` calls, panics
/// with a clear message instead of deadlocking (nobody else can ever run the task).
#[test]
fn wait_on_the_loop_thread_outside_block_on_panics() {
    let message = util::must_finish("RemoteJoinHandle::wait on the loop thread", || {
        let rt = Runtime::new().unwrap();
        let h = rt.handle().spawn(async { 1 });
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.wait()));
        let payload = panic.expect_err("wait on the loop thread returned");
        util::panic_message(&*payload)
    });
    assert!(message.contains("own thread"), "unclear message: {message}");
}

/// Once the runtime is gone, `wait` on the thread that ran it is fine: it reports cancelled.
#[test]
fn wait_on_the_loop_thread_after_shutdown_reports_cancelled() {
    let rt = Runtime::new().unwrap();
    let h = rt.handle().spawn(async { 1 });
    drop(rt);
    assert!(h.wait().is_err_and(|e| e.is_cancelled()));
}
