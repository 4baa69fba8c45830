//! Executor task handles and thread join handles as futures, awaited from outside the
//! interpreter on mini-eventloop and tokio; polling needs no GIL and never blocks.

mod util;

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use gil_threads::{Interpreter, JoinError, TaskError, ThreadPoolExecutor};

/// Tasks awaited at once.
const TASKS: u64 = 200;

/// Task handles awaited by loop tasks; one task waits for a message that another task of the
/// same loop sends, so the test hangs unless awaiting leaves the loop free to run it.
#[test]
fn task_handles_awaited_on_mini_eventloop() {
    let interp = Interpreter::new();
    let pool = ThreadPoolExecutor::new(&interp, 2);
    let (tx, rx) = crossbeam_channel::bounded::<u64>(1);
    let gated = pool
        .submit(move |gil| gil.allow_threads(|| rx.recv().unwrap()) + 1)
        .unwrap();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| pool.submit(move |_gil| i * 2).unwrap())
        .collect();
    let rt = mini_eventloop::Runtime::new().unwrap();
    let (gated, sum) = rt.block_on(async {
        let waiter = mini_eventloop::spawn(gated);
        let sender = mini_eventloop::spawn(async move { tx.send(41).unwrap() });
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sender.await.unwrap();
        (waiter.await.unwrap(), sum)
    });
    assert_eq!(gated, Ok(42));
    assert_eq!(sum, TASKS * (TASKS - 1));
    pool.shutdown_blocking(true).unwrap();
}

/// Polls `inner`; the first time it returns `Pending`, sends `release` on `gate` (what the
/// awaited thread or task waits for), so it finishes only once the future waits for a wake.
async fn release_when_pending<F: Future + Unpin>(
    mut inner: F,
    gate: crossbeam_channel::Sender<u64>,
    release: u64,
) -> F::Output {
    let mut gate = Some(gate);
    std::future::poll_fn(move |cx| {
        let poll = Pin::new(&mut inner).poll(cx);
        if poll.is_pending()
            && let Some(gate) = gate.take()
        {
            gate.send(release).unwrap();
        }
        poll
    })
    .await
}

/// A join handle and a task handle that already returned `Pending` are woken by the thread
/// that finishes them: each finishes only after its future's first `Pending`, and only its
/// wake can end the `block_on` (a missing wake hangs, and the guard fails the test).
#[test]
fn pending_handles_are_woken_by_their_thread() {
    util::within_guard(|| {
        let interp = Interpreter::new();
        let pool = ThreadPoolExecutor::new(&interp, 1);
        let (thread_tx, thread_rx) = crossbeam_channel::bounded::<u64>(1);
        let (task_tx, task_rx) = crossbeam_channel::bounded::<u64>(1);
        let thread = interp.spawn(move |gil| gil.allow_threads(|| thread_rx.recv().unwrap()) + 1);
        let task = pool
            .submit(move |gil| gil.allow_threads(|| task_rx.recv().unwrap()) + 2)
            .unwrap();
        let rt = mini_eventloop::Runtime::new().unwrap();
        let (joined, done) = rt.block_on(async {
            let joined = release_when_pending(thread, thread_tx, 10).await;
            let done = release_when_pending(task, task_tx, 20).await;
            (joined, done)
        });
        assert_eq!(joined, Ok(11));
        assert_eq!(done, Ok(22));
        pool.shutdown_blocking(true).unwrap();
    });
}

/// Join handles awaited on a tokio current-thread runtime, a panicking thread included.
#[test]
fn join_handles_awaited_on_tokio() {
    let interp = Interpreter::new();
    let threads: Vec<_> = (0..8u64).map(|i| interp.spawn(move |_gil| i * i)).collect();
    let panicking = interp.spawn(|_gil| -> u64 { panic!("boom") });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (squares, panicked) = rt.block_on(async {
        let tasks: Vec<_> = threads.into_iter().map(tokio::spawn).collect();
        let mut squares = Vec::new();
        for task in tasks {
            squares.push(task.await.unwrap().unwrap());
        }
        (squares, panicking.await)
    });
    assert_eq!(squares, (0..8u64).map(|i| i * i).collect::<Vec<_>>());
    assert!(matches!(panicked, Err(JoinError::Panicked(m)) if m.contains("boom")));
}

/// Polling with this interpreter's GIL held returns `Pending` at once (the task and the
/// thread need the GIL to finish, so a poll that waited would never return); released, the
/// same futures resolve.
#[test]
fn polling_needs_no_gil_and_never_blocks() {
    let interp = Interpreter::new();
    let pool = ThreadPoolExecutor::new(&interp, 1);
    let mut cx = Context::from_waker(Waker::noop());
    let (mut task, mut thread) = interp
        .with_gil(|_gil| {
            let mut task = Box::pin(pool.submit(|_gil| 5).unwrap());
            let mut thread = Box::pin(interp.spawn(|_gil| 6));
            // This thread holds the GIL and never releases it in between: neither can be done.
            assert!(task.as_mut().poll(&mut cx).is_pending());
            assert!(thread.as_mut().poll(&mut cx).is_pending());
            (task, thread)
        })
        .unwrap();
    let rt = mini_eventloop::Runtime::new().unwrap();
    assert_eq!(rt.block_on(task.as_mut()), Ok(5));
    assert_eq!(rt.block_on(thread.as_mut()), Ok(6));
    // A task handle polled again reports its result as taken, as `result_timeout` does.
    assert_eq!(
        task.as_mut().poll(&mut cx),
        Poll::Ready(Err(TaskError::Taken))
    );
    pool.shutdown_blocking(true).unwrap();
}

/// A join handle polled after it resolved panics with a message that says so.
#[test]
fn join_handle_polled_after_completion_panics() {
    let interp = Interpreter::new();
    let mut handle = pin!(interp.spawn(|_gil| 1));
    let rt = mini_eventloop::Runtime::new().unwrap();
    assert_eq!(rt.block_on(handle.as_mut()), Ok(1));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = handle
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
    }));
    let payload = again.expect_err("a second poll must panic");
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("polled after completion"), "{message}");
}

/// Joining a handle that already resolved as a future panics instead of waiting for ever.
#[test]
fn join_after_resolving_as_future_panics() {
    let interp = Interpreter::new();
    let mut handle = Box::pin(interp.spawn(|_gil| 1));
    let rt = mini_eventloop::Runtime::new().unwrap();
    assert_eq!(rt.block_on(handle.as_mut()), Ok(1));
    assert!(handle.is_finished());
    let handle = *std::pin::Pin::into_inner(handle);
    let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.join()));
    let payload = joined.expect_err("joining a resolved handle must panic");
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("polled after completion"), "{message}");
}

/// A thread awaiting its own join handle gets `WouldDeadlock` at once instead of a future
/// that could never resolve.
#[test]
fn own_join_handle_resolves_to_would_deadlock() {
    let interp = Interpreter::new();
    let (handle_tx, handle_rx) = crossbeam_channel::bounded::<gil_threads::JoinHandle<()>>(1);
    let (out_tx, out_rx) = crossbeam_channel::bounded(1);
    let handle = interp.spawn(move |gil| {
        let mut own = Box::pin(gil.allow_threads(|| handle_rx.recv().unwrap()));
        let poll = own.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        out_tx.send(poll).unwrap();
    });
    handle_tx.send(handle).unwrap();
    assert_eq!(
        out_rx.recv().unwrap(),
        Poll::Ready(Err(JoinError::WouldDeadlock))
    );
}
