//! A panicking task never takes the loop down: the panic is caught at the task boundary and
//! reported through its handle.

mod util;

use std::future::Future;

use mini_eventloop::{spawn, yield_now};

/// The panic message comes back as a `JoinError` with the panic, and other tasks keep running.
#[test]
fn panicking_task_is_reported_and_the_loop_survives() {
    util::run(async {
        let survivor = spawn(async {
            for _ in 0..10 {
                yield_now().await;
            }
            "alive"
        });
        let bad = spawn(async {
            yield_now().await;
            panic!("boom {}", 42);
        });
        assert_eq!(bad.await.unwrap_err().panic_message(), Some("boom 42"));
        assert_eq!(survivor.await, Ok("alive"));
    });
}

/// A detached panicking task is dropped quietly; the loop goes on.
#[test]
fn detached_panicking_task() {
    util::run(async {
        drop(spawn(async { panic!("nobody listens") }));
        for _ in 0..4 {
            yield_now().await;
        }
        assert_eq!(mini_eventloop::stats().tasks_alive, 0);
    });
}

/// A panic inside a future's destructor (during abort) is caught too.
#[test]
fn panicking_destructor_on_abort() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop panic");
        }
    }
    util::run(async {
        let h = spawn(async {
            let _p = PanicsOnDrop;
            std::future::pending::<()>().await;
        });
        yield_now().await;
        h.abort();
        assert_eq!(h.await.unwrap_err().panic_message(), Some("drop panic"));
    });
}

/// A panicked task's `JoinError` keeps the payload, so the caller can re-raise it with
/// `resume_unwind`; `is_panic` / `is_cancelled` tell the causes apart.
#[test]
fn join_error_keeps_the_panic_payload() {
    #[derive(Debug, PartialEq)]
    struct Custom(u32);
    util::run(async {
        let err = spawn(async { std::panic::panic_any(Custom(7)) })
            .await
            .unwrap_err();
        assert!(err.is_panic() && !err.is_cancelled());
        let payload = err.into_panic();
        assert_eq!(payload.downcast_ref::<Custom>(), Some(&Custom(7)));
        let rethrown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::panic::resume_unwind(payload)
        }));
        assert_eq!(
            rethrown.unwrap_err().downcast_ref::<Custom>(),
            Some(&Custom(7))
        );
        let blocking = mini_eventloop::spawn_blocking(|| std::panic::panic_any(Custom(8)))
            .await
            .unwrap_err();
        assert_eq!(
            blocking.into_panic().downcast_ref::<Custom>(),
            Some(&Custom(8))
        );
    });
}

/// Polling a `JoinHandle` again after it returned the result panics with a clear message
/// (tokio does too) instead of staying pending forever.
#[test]
fn polling_a_handle_after_its_result_panics() {
    util::run(async {
        let mut handle = spawn(async { 1 });
        assert_eq!((&mut handle).await, Ok(1));
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let _ = std::pin::Pin::new(&mut handle).poll(&mut cx);
        }));
        let message = concurrency_shared::panic_message(&*again.unwrap_err());
        assert!(message.contains("after it returned"), "{message}");
    });
}

/// A detached task whose output panics when dropped does not take the loop down.
#[test]
fn panicking_output_destructor_of_a_detached_task_is_contained() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("output destructor");
        }
    }
    util::run(async {
        drop(spawn(async { Bomb }));
        for _ in 0..3 {
            yield_now().await;
        }
        assert_eq!(spawn(async { 2 }).await, Ok(2));
    });
}

/// A task whose future's destructor panics and whose output's destructor panics too does
/// not unwind into an unrelated `block_on`: both panics are contained, the handle reports
/// the first.
#[test]
fn panicking_future_and_output_destructors_stay_in_the_task() {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    struct Bad;
    impl Future for Bad {
        type Output = util::PanicOnDrop;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<util::PanicOnDrop> {
            Poll::Ready(util::PanicOnDrop)
        }
    }
    impl Drop for Bad {
        fn drop(&mut self) {
            panic!("future destructor panicked");
        }
    }
    let rt = util::rt();
    let h = rt.spawn(Bad);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            yield_now().await;
            "innocent"
        })
    }));
    assert_eq!(
        r.ok(),
        Some("innocent"),
        "a task's destructors unwound out of block_on"
    );
    assert!(rt.block_on(h).is_err_and(|e| e.is_panic()));
}

/// A foreign waker that panics while the runtime shuts down (woken as the task it awaits
/// is cancelled) does not cut the shutdown short: the remote queue is closed, so a later
/// `Handle::spawn(..).wait()` reports cancelled instead of hanging.
#[test]
fn panicking_waker_during_shutdown_completes_the_shutdown() {
    use std::pin::Pin;
    use std::task::Context;
    let rt = util::rt();
    let handle = rt.handle();
    let victim = rt.spawn(std::future::pending::<()>());
    let _watcher = rt.spawn(async move {
        let mut victim = victim;
        let w = util::panicking_waker();
        assert!(
            Pin::new(&mut victim)
                .poll(&mut Context::from_waker(&w))
                .is_pending()
        );
        std::future::pending::<()>().await;
    });
    rt.block_on(yield_now());
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rt)));
    assert!(dropped.is_ok(), "Runtime::drop let a waker's panic out");
    let r = util::must_finish("Handle::spawn(..).wait() after shutdown", move || {
        handle.spawn(async { 1 }).wait()
    });
    assert!(r.is_err_and(|e| e.is_cancelled()));
}

/// Destructors that panic during `Runtime::drop` (a task's future, a queued remote spawn,
/// a queued blocking job) do not cut the shutdown short or escape from the drop.
#[test]
fn panicking_destructors_during_shutdown_complete_the_shutdown() {
    let rt = mini_eventloop::Runtime::builder()
        .blocking_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (blocking, queued) = rt.block_on(async move {
        let busy = mini_eventloop::spawn_blocking(move || {
            started_tx.send(()).unwrap();
            go_rx.recv()
        });
        started_rx.recv().unwrap(); // the one helper is busy from now on
        let bomb = util::PanicOnDrop;
        // Queued behind the busy helper: dropped unstarted at shutdown.
        let queued = mini_eventloop::spawn_blocking(move || drop(bomb));
        (busy, queued)
    });
    let bomb = util::PanicOnDrop;
    let _task = rt.spawn(async move {
        let _bomb = bomb;
        std::future::pending::<()>().await;
    });
    let bomb = util::PanicOnDrop;
    let remote = handle.spawn(async move {
        let _bomb = bomb;
    });
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rt)));
    assert!(
        dropped.is_ok(),
        "Runtime::drop let a destructor's panic out"
    );
    assert!(remote.wait().is_err_and(|e| e.is_cancelled()));
    assert!(queued.wait().is_err_and(|e| e.is_cancelled()));
    assert!(
        handle
            .spawn(async { 1 })
            .wait()
            .is_err_and(|e| e.is_cancelled())
    );
    go_tx.send(()).unwrap();
    assert!(blocking.wait().is_ok());
}
