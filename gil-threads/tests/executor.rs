//! `ThreadPoolExecutor`: results, panics, map, timeouts, shutdown.

mod util;

use std::sync::Arc;
use std::time::Duration;

use gil_threads::{Event, ExecutorShutDown, Policy, TaskError, TaskFailed, ThreadPoolExecutor};
use util::POLICIES;

/// Tasks submitted.
const TASKS: u64 = 200;

/// Every task's result comes back to its handle, under every policy.
#[test]
fn results_come_back() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let pool = ThreadPoolExecutor::new(&interp, 3);
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                pool.submit(move |gil| {
                    gil.checkpoint();
                    i * 2
                })
                .unwrap()
            })
            .collect();
        let sum: u64 = interp
            .with_gil(|gil| handles.into_iter().map(|h| h.result(gil).unwrap()).sum())
            .unwrap();
        assert_eq!(sum, TASKS * (TASKS - 1), "{policy:?}");
        pool.shutdown_blocking(true).unwrap();
        assert_eq!(pool.submit(|_| ()).err(), Some(ExecutorShutDown));
    }
}

/// A panicking task reports `Panicked` and the worker goes on with the next task.
#[test]
fn panicking_task() {
    let interp = util::interpreter(Policy::Fifo);
    let pool = ThreadPoolExecutor::new(&interp, 1);
    let bad = pool.submit(|_| -> u8 { panic!("bad task") }).unwrap();
    let good = pool.submit(|_| 5u8).unwrap();
    assert_eq!(
        bad.result_blocking(),
        Err(TaskFailed::Task(TaskError::Panicked("bad task".into())))
    );
    assert_eq!(good.result_blocking(), Ok(5));
}

/// `map` returns results in input order.
#[test]
fn map_in_order() {
    let interp = util::interpreter(Policy::IoPriority);
    let pool = ThreadPoolExecutor::new(&interp, 4);
    let out = interp
        .with_gil(|gil| pool.map(gil, |_gil, x: u32| x + 1, 0..50))
        .unwrap()
        .unwrap();
    let out: Vec<u32> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(out, (1..51).collect::<Vec<_>>());
}

/// `result_timeout` returns `Timeout` for a task that cannot finish yet, and the handle stays
/// usable: once the task can finish, the result arrives; a second call says `Taken`.
#[test]
fn result_timeout() {
    let interp = util::interpreter(Policy::Fair);
    let pool = ThreadPoolExecutor::new(&interp, 1);
    let gate = Arc::new(Event::new());
    let gate2 = Arc::clone(&gate);
    let mut handle = pool
        .submit(move |gil| {
            gate2.wait(gil);
            9
        })
        .unwrap();
    interp
        .with_gil(|gil| {
            assert_eq!(
                handle.result_timeout(gil, Duration::from_millis(1)),
                Err(TaskError::Timeout)
            );
            assert!(!handle.is_done());
            gate.set();
            assert_eq!(handle.result_timeout(gil, util::HANG_GUARD), Ok(9));
            assert_eq!(
                handle.result_timeout(gil, Duration::ZERO),
                Err(TaskError::Taken)
            );
        })
        .unwrap();
}

/// Interpreter shutdown closes the executor (its at-exit hook), lets the queued tasks run,
/// and joins the workers; nothing hangs even though the executor is still alive.
#[test]
fn interpreter_shutdown_closes_executor() {
    let interp = util::interpreter(Policy::Fair);
    let pool = ThreadPoolExecutor::new(&interp, 2);
    let handles: Vec<_> = (0..10u32)
        .map(|i| pool.submit(move |_| i).unwrap())
        .collect();
    interp.shutdown().unwrap();
    let results: Vec<u32> = handles
        .into_iter()
        .map(|h| h.result_blocking().unwrap())
        .collect();
    assert_eq!(results, (0..10).collect::<Vec<_>>());
    assert_eq!(pool.submit(|_| ()).err(), Some(ExecutorShutDown));
}

/// A result nobody waits for any more is dropped on the worker; a panic in its destructor
/// (user code the executor runs) does not take the worker down: the next task still runs.
#[test]
fn a_panicking_destructor_of_an_unwanted_result_spares_the_worker() {
    /// Panics when dropped.
    struct Explosive;
    impl Drop for Explosive {
        fn drop(&mut self) {
            panic!("a destructor panicked");
        }
    }
    let interp = gil_threads::Interpreter::new();
    let pool = ThreadPoolExecutor::new(&interp, 1);
    let gate = Arc::new(Event::new());
    let gate2 = Arc::clone(&gate);
    // Hold the only worker until the handle of the explosive task is gone.
    let blocker = pool.submit(move |gil| gate2.wait(gil)).unwrap();
    drop(pool.submit(|_| Explosive).unwrap());
    gate.set();
    assert_eq!(blocker.result_blocking(), Ok(()));
    assert_eq!(pool.submit(|_| 3).unwrap().result_blocking(), Ok(3));
    pool.shutdown_blocking(true).unwrap();
}

/// Workers start as tasks arrive, up to the maximum: an executor of `usize::MAX` workers (a
/// count that used to start a thread per unit, for ever) runs its tasks on no more threads
/// than there were tasks, and shuts down.
#[test]
fn workers_start_as_tasks_arrive() {
    let interp = gil_threads::Interpreter::new();
    let pool = ThreadPoolExecutor::new(&interp, usize::MAX);
    assert!(interp.stats().threads.is_empty(), "no task, no worker");
    for i in 0..TASKS {
        assert_eq!(
            pool.submit(move |_| i * 2).unwrap().result_blocking(),
            Ok(i * 2)
        );
    }
    let workers = interp.stats().threads.len() as u64;
    assert!((1..=TASKS).contains(&workers), "{workers} workers");
    pool.shutdown_blocking(true).unwrap();
    assert!(interp.stats().threads.is_empty());
}
