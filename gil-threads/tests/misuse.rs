//! The calls for threads outside the interpreter (no `&mut Gil` argument) refuse, with a typed
//! error and at once, on a thread that holds the GIL they would keep while blocked, instead of
//! deadlocking; and work as before where no deadlock is possible.
//!
//! Each refusal test sets up a real deadlock: the thing waited for (a thread to join, a lock's
//! owner, a producer, a worker) can only make progress with the GIL the caller holds. Without
//! the check the call would hang, and `util::within_guard` would fail the test after its
//! guard timeout instead of letting it hang.

mod util;

use std::sync::Arc;
use std::time::Duration;

use gil_threads::{
    Condition, Ctx, Event, Interpreter, Job, JoinError, JoinFailed, Lock, Policy, PutError, Queue,
    RLock, TaskFailed, ThreadPoolExecutor, WaitError, WouldDeadlock,
};
use util::{HANG_GUARD, within_guard};

/// A timeout longer than the hang guard: a timed call that waited instead of refusing would
/// trip the guard rather than return `Timeout`.
const LONGER_THAN_GUARD: Duration = Duration::from_secs(2 * HANG_GUARD.as_secs());

/// Squares its number after one checkpoint.
struct Square(u64);

impl Job for Square {
    type Output = u64;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
        cx.checkpoint().await;
        self.0 * self.0
    }
}

/// `JoinHandle::join` inside an interpreter thread, on a thread of the same interpreter
/// (which cannot start while the caller holds the GIL), is refused with the handle given
/// back; the refused thread still runs to its end, and the handle joins it from outside.
#[test]
fn join_in_an_interpreter_thread_is_refused() {
    let (refused, later) = within_guard(|| {
        let interp = util::interpreter(Policy::Fair);
        let outer = interp.spawn(move |gil| {
            let inner = gil.spawn(move |_| 11);
            inner.join().map_err(|e| e.into_handle())
        });
        match outer.join() {
            Ok(Err(Some(inner))) => (true, inner.join()),
            _ => (false, Ok(0)),
        }
    });
    assert!(refused, "the join was not refused with its handle");
    assert_eq!(later, Ok(11));
}

/// `join` inside `with_gil` is refused too, and the message points to the `&mut Gil` version.
#[test]
fn join_in_with_gil_is_refused() {
    let refused = within_guard(|| {
        let interp = util::interpreter(Policy::Fifo);
        interp
            .with_gil(|gil| gil.spawn(|_| 1).join())
            .expect("entered")
    });
    let refused = refused.unwrap_err();
    assert!(matches!(refused, JoinFailed::WouldDeadlock(_)));
    assert!(refused.to_string().contains("&mut Gil"));
}

/// Inside `allow_threads` the GIL is lent out, so `join` waits as usual; afterwards it is
/// refused again (the thread-local follows the GIL, not the token).
#[test]
fn join_in_allow_threads_works() {
    let (waited, refused) = within_guard(|| {
        let interp = util::interpreter(Policy::IoPriority);
        interp
            .with_gil(|gil| {
                let first = gil.spawn(|_| 4);
                let waited = gil.allow_threads(|| first.join());
                let second = gil.spawn(|_| 5);
                (waited, second.join())
            })
            .expect("entered")
    });
    assert_eq!(waited, Ok(4));
    assert!(matches!(refused, Err(JoinFailed::WouldDeadlock(_))));
}

/// Holding another interpreter's GIL, or none, `join` waits and returns the result.
#[test]
fn join_with_another_gil_or_none_works() {
    let (across, outside) = within_guard(|| {
        let a = util::interpreter(Policy::Fair);
        let b = util::interpreter(Policy::Fair);
        let across = b.with_gil(|_| a.spawn(|_| 2).join()).expect("entered");
        (across, a.spawn(|_| 3).join())
    });
    assert_eq!(across, Ok(2));
    assert_eq!(outside, Ok(3));
}

/// `run_jobs` called from an interpreter thread of the same interpreter (through a shared
/// handle) or inside `with_gil` runs no job and reports `WouldDeadlock` for each.
#[test]
fn run_jobs_holding_the_gil_is_refused() {
    let (in_thread, in_with_gil) = within_guard(|| {
        let interp = Arc::new(util::interpreter(Policy::Fair));
        let shared = Arc::clone(&interp);
        let in_thread = interp
            .spawn(move |_| shared.run_jobs(vec![Square(2), Square(3)], 2))
            .join()
            .expect("the thread finished");
        let in_with_gil = interp
            .with_gil(|_| interp.run_jobs(vec![Square(4)], 1))
            .expect("entered");
        (in_thread, in_with_gil)
    });
    assert_eq!(in_thread, vec![Err(JoinError::WouldDeadlock); 2]);
    assert_eq!(in_with_gil, vec![Err(JoinError::WouldDeadlock)]);
}

/// Holding another interpreter's GIL, or none, `run_jobs` runs the jobs as before.
#[test]
fn run_jobs_with_another_gil_or_none_works() {
    let (across, outside) = within_guard(|| {
        let a = Interpreter::new();
        let b = Interpreter::new();
        let across = b
            .with_gil(|_| a.run_jobs(vec![Square(2), Square(3)], 2))
            .expect("entered");
        (across, a.run_jobs(vec![Square(5)], 1))
    });
    assert_eq!(across, vec![Ok(4), Ok(9)]);
    assert_eq!(outside, vec![Ok(25)]);
}

/// `Lock::acquire_blocking` (and its timed form, and `RLock`'s) refuse while the lock's owner
/// needs the GIL the caller holds to release it; once the caller has left, they work.
#[test]
fn lock_blocking_holding_the_gil_is_refused() {
    let (plain, timed, re, re_timed) = within_guard(|| {
        let interp = util::interpreter(Policy::Fair);
        let lock = Arc::new(Lock::new());
        let rlock = Arc::new(RLock::new());
        let (locked, go) = (Arc::new(Event::new()), Arc::new(Event::new()));
        let owner = {
            let (lock, rlock) = (Arc::clone(&lock), Arc::clone(&rlock));
            let (locked, go) = (Arc::clone(&locked), Arc::clone(&go));
            interp.spawn(move |gil| {
                let _held = lock.acquire(gil);
                let _held_too = rlock.acquire(gil);
                locked.set();
                // Coming back from here needs the GIL, before the locks are released.
                gil.allow_threads(|| go.wait_blocking())
            })
        };
        locked.wait_blocking().unwrap();
        let refused = interp
            .with_gil(|_| {
                go.set();
                (
                    lock.acquire_blocking().map(drop),
                    lock.acquire_timeout_blocking(LONGER_THAN_GUARD).map(drop),
                    rlock.acquire_blocking().map(drop),
                    rlock.acquire_timeout_blocking(LONGER_THAN_GUARD).map(drop),
                )
            })
            .expect("entered");
        assert_eq!(owner.join(), Ok(Ok(())));
        assert!(lock.acquire_blocking().is_ok(), "works without a GIL");
        assert!(rlock.acquire_blocking().is_ok(), "works without a GIL");
        refused
    });
    assert_eq!(plain, Err(WouldDeadlock));
    assert_eq!(timed, Err(WaitError::WouldDeadlock));
    assert_eq!(re, Err(WouldDeadlock));
    assert_eq!(re_timed, Err(WaitError::WouldDeadlock));
}

/// The primitives belong to no interpreter and cannot tell which GIL the thread that would
/// end the wait needs, so holding any interpreter's GIL is refused, even when the call would
/// not have waited (a misuse shows on the first run, not on an unlucky schedule).
#[test]
fn primitives_refuse_any_gil() {
    let refusals = within_guard(|| {
        let other = Interpreter::new();
        let lock = Lock::new();
        let queue = Queue::unbounded();
        queue.put_blocking(1).unwrap();
        let event = Event::new();
        event.set();
        other
            .with_gil(|_| {
                (
                    lock.acquire_blocking().map(drop),
                    queue.get_blocking(),
                    event.wait_blocking(),
                    queue.join_blocking(),
                )
            })
            .expect("entered")
    });
    assert_eq!(
        refusals,
        (
            Err(WouldDeadlock),
            Err(WouldDeadlock),
            Err(WouldDeadlock),
            Err(WouldDeadlock)
        )
    );
}

/// Inside `allow_threads` (GIL lent out) and with no GIL at all, the primitives' token-free
/// calls work as before.
#[test]
fn primitives_work_in_allow_threads_and_outside() {
    let results = within_guard(|| {
        let interp = Interpreter::new();
        let lock = Lock::new();
        let queue = Queue::unbounded();
        let event = Event::new();
        let inside = interp
            .with_gil(|gil| {
                gil.allow_threads(|| {
                    let held = lock.acquire_blocking().map(drop);
                    let put = queue.put_blocking(1);
                    let got = queue.get_blocking();
                    queue.task_done().unwrap();
                    event.set();
                    (held, put, got, event.wait_blocking(), queue.join_blocking())
                })
            })
            .expect("entered");
        let outside = (
            lock.acquire_blocking().map(drop),
            queue.put_blocking(2),
            queue.get_blocking(),
            event.wait_blocking(),
            {
                queue.task_done().unwrap();
                queue.join_blocking()
            },
        );
        (inside, outside)
    });
    assert_eq!(results.0, (Ok(()), Ok(()), Ok(1), Ok(()), Ok(())));
    assert_eq!(results.1, (Ok(()), Ok(()), Ok(2), Ok(()), Ok(())));
}

/// `Queue`'s token-free `get`, `put` (giving the item back) and `join`, and their timed forms,
/// refuse while the producer or consumer they wait for needs the caller's GIL.
#[test]
fn queue_blocking_holding_the_gil_is_refused() {
    let (get, get_timed, put, put_timed, join) = within_guard(|| {
        let interp = util::interpreter(Policy::Fifo);
        let queue = Arc::new(Queue::bounded(1));
        let refused = interp
            .with_gil(|gil| {
                // Empty queue; the producer cannot start while we hold the GIL.
                let q = Arc::clone(&queue);
                let producer = gil.spawn(move |gil| q.put(gil, 10));
                let get = queue.get_blocking();
                let get_timed = queue.get_timeout_blocking(LONGER_THAN_GUARD);
                // Full queue, one unfinished item; the consumer cannot start either.
                queue.try_put(20).unwrap();
                let q = Arc::clone(&queue);
                let consumer = gil.spawn(move |gil| {
                    let got = q.get(gil) + q.get(gil);
                    q.task_done().unwrap();
                    q.task_done().unwrap();
                    got
                });
                let put = queue.put_blocking(30);
                let put_timed = queue.put_timeout_blocking(40, LONGER_THAN_GUARD);
                let join = queue.join_blocking();
                (producer, consumer, (get, get_timed, put, put_timed, join))
            })
            .expect("entered");
        let (producer, consumer, refused) = refused;
        assert_eq!(producer.join(), Ok(()));
        assert_eq!(consumer.join(), Ok(30));
        assert_eq!(queue.join_blocking(), Ok(()), "works without a GIL");
        refused
    });
    assert_eq!(get, Err(WouldDeadlock));
    assert_eq!(get_timed, Err(WaitError::WouldDeadlock));
    assert_eq!(put, Err(PutError::WouldDeadlock(30)));
    assert_eq!(put_timed, Err(PutError::WouldDeadlock(40)));
    assert_eq!(join, Err(WouldDeadlock));
}

/// `Event::wait_blocking` (and the timed form) refuse while the setter needs the caller's GIL.
#[test]
fn event_blocking_holding_the_gil_is_refused() {
    let (wait, wait_timed) = within_guard(|| {
        let interp = util::interpreter(Policy::Fair);
        let event = Arc::new(Event::new());
        let (setter, refused) = interp
            .with_gil(|gil| {
                let e = Arc::clone(&event);
                let setter = gil.spawn(move |_| e.set());
                let refused = (
                    event.wait_blocking(),
                    event.wait_timeout_blocking(LONGER_THAN_GUARD),
                );
                (setter, refused)
            })
            .expect("entered");
        assert_eq!(setter.join(), Ok(()));
        assert_eq!(event.wait_blocking(), Ok(()), "works without a GIL");
        refused
    });
    assert_eq!(wait, Err(WouldDeadlock));
    assert_eq!(wait_timed, Err(WaitError::WouldDeadlock));
}

/// `ConditionGuard::wait_blocking` (and the timed form) refuse, keeping the lock, while the
/// notifier needs the caller's GIL; `Condition::acquire_blocking` refuses too.
#[test]
fn condition_blocking_holding_the_gil_is_refused() {
    let (wait, wait_timed, acquire) = within_guard(|| {
        let interp = util::interpreter(Policy::Fair);
        let cond = Arc::new(Condition::new());
        let (notifier, refused) = interp
            .with_gil(|gil| {
                let c = Arc::clone(&cond);
                let notifier = gil.spawn(move |gil| c.acquire(gil).notify_all());
                let mut guard = cond.acquire(gil);
                let wait = guard.wait_blocking();
                let wait_timed = guard.wait_timeout_blocking(LONGER_THAN_GUARD);
                drop(guard);
                let acquire = cond.acquire_blocking().map(drop);
                (notifier, (wait, wait_timed, acquire))
            })
            .expect("entered");
        assert_eq!(notifier.join(), Ok(()));
        assert!(cond.acquire_blocking().is_ok(), "works without a GIL");
        refused
    });
    assert_eq!(wait, Err(WouldDeadlock));
    assert_eq!(wait_timed, Err(WaitError::WouldDeadlock));
    assert_eq!(acquire, Err(WouldDeadlock));
}

/// An executor's `result_blocking` and `shutdown_blocking(true)` refuse while its workers
/// need the caller's GIL; the refused wait gives its handle back, and the refused shutdown
/// closed nothing.
#[test]
fn executor_blocking_holding_the_gil_is_refused() {
    let (result, shutdown, later) = within_guard(|| {
        let interp = util::interpreter(Policy::Fair);
        let (pool, refused) = interp
            .with_gil(|gil| {
                // Created here, so its worker cannot start while we hold the GIL.
                let pool = ThreadPoolExecutor::new_in(gil, 1);
                let task = pool.submit(|_| 6).unwrap();
                let result = task.result_blocking().map_err(TaskFailed::into_handle);
                let shutdown = pool.shutdown_blocking(true);
                (pool, (result, shutdown))
            })
            .expect("entered");
        let later = pool.submit(|_| 7).unwrap().result_blocking();
        let result = match refused.0 {
            Err(Some(handle)) => handle.result_blocking(),
            _ => Ok(0),
        };
        assert_eq!(pool.shutdown_blocking(true), Ok(()), "works without a GIL");
        (result, refused.1, later)
    });
    assert_eq!(
        result,
        Ok(6),
        "the handle came back and waited from outside"
    );
    assert_eq!(shutdown, Err(WouldDeadlock));
    assert_eq!(later, Ok(7), "the refused shutdown left the executor open");
}

/// Holding another interpreter's GIL, an executor's `result_blocking` and
/// `shutdown_blocking(true)` wait as before.
#[test]
fn executor_with_another_gil_works() {
    let (result, shutdown) = within_guard(|| {
        let a = Interpreter::new();
        let b = Interpreter::new();
        let pool = ThreadPoolExecutor::new(&a, 1);
        let task = pool.submit(|_| 8).unwrap();
        b.with_gil(|_| (task.result_blocking(), pool.shutdown_blocking(true)))
            .expect("entered")
    });
    assert_eq!(result, Ok(8));
    assert_eq!(shutdown, Ok(()));
}

/// `Interpreter::shutdown` inside `with_gil`, with a non-daemon thread that needs the GIL to
/// finish, refuses and changes nothing (threads still start); from another interpreter's GIL
/// it shuts down as before.
#[test]
fn shutdown_holding_the_gil_is_refused() {
    let (refused, joined, after, across, closed) = within_guard(|| {
        let a = util::interpreter(Policy::Fair);
        let b = util::interpreter(Policy::Fair);
        let (worker, refused) = a
            .with_gil(|gil| (gil.spawn(|_| 9), a.shutdown()))
            .expect("entered");
        let joined = worker.join();
        let after = a.spawn(|_| 10).join();
        let across = b.with_gil(|_| a.shutdown()).expect("entered");
        let closed = a.spawn(|_| 11).join();
        (refused, joined, after, across, closed)
    });
    assert_eq!(refused, Err(WouldDeadlock));
    assert_eq!(joined, Ok(9));
    assert_eq!(
        after,
        Ok(10),
        "the refused shutdown did not close the interpreter"
    );
    assert_eq!(across, Ok(()));
    assert_eq!(closed, Err(JoinFailed::Thread(JoinError::ShuttingDown)));
}
