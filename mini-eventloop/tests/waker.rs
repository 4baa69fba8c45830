//! The waker contract: callable from any thread, any number of times, before or after the
//! task finished, and while the runtime is being dropped; `will_wake` for the same task.

mod util;

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};

use mini_eventloop::{spawn, yield_now};

/// Waker must be usable across threads (compile-time check).
fn _assert_send_sync<T: Send + Sync>() {}
#[allow(dead_code)]
fn _waker_is_send_sync() {
    _assert_send_sync::<Waker>();
}

/// A wake from another thread, sent while the loop is asleep in its poll with nothing else to
/// do, interrupts the poll (through `mio::Waker`) and the task completes.
#[test]
fn wake_from_another_thread_interrupts_the_poll() {
    let rt = util::rt();
    let (tx, rx) = mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicBool::new(false));
    let thread_flag = flag.clone();
    let waker_thread = std::thread::spawn(move || {
        let waker = rx.recv().unwrap();
        thread_flag.store(true, Ordering::Release);
        waker.wake();
    });
    let mut sent = Some(tx);
    rt.block_on(poll_fn(|cx| {
        if flag.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Some(tx) = sent.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::Pending
    }));
    waker_thread.join().unwrap();
    assert!(rt.stats().remote_wakes >= 1);
}

/// Many threads waking many tasks many times: every task completes, and no name is lost.
#[test]
fn many_remote_wakes_from_many_threads() {
    const TASKS: usize = 64;
    const THREADS: usize = 4;
    let rt = util::rt();
    rt.block_on(async {
        let wakers = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..TASKS {
            let wakers = wakers.clone();
            let done = done.clone();
            handles.push(spawn(async move {
                let mut registered = false;
                poll_fn(|cx| {
                    if done.load(Ordering::Acquire) >= THREADS {
                        return Poll::Ready(());
                    }
                    if !registered {
                        wakers.lock().unwrap().push(cx.waker().clone());
                        registered = true;
                    }
                    Poll::Pending
                })
                .await;
            }));
        }
        while wakers.lock().unwrap().len() < TASKS {
            yield_now().await;
        }
        let all: Vec<Waker> = wakers.lock().unwrap().clone();
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let all = all.clone();
                let done = done.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        for w in &all {
                            w.wake_by_ref();
                        }
                    }
                    done.fetch_add(1, Ordering::AcqRel);
                    for w in all {
                        w.wake();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// Waking a finished task (its slot possibly reused by a new task) is a no-op: the new
/// occupant is not polled because of the stale name.
#[test]
fn wake_after_completion_is_a_no_op() {
    let rt = util::rt();
    rt.block_on(async {
        let stale = spawn(poll_fn(|cx| Poll::Ready(cx.waker().clone())))
            .await
            .unwrap();
        let polls = Rc::new(Cell::new(0u32));
        let counted = polls.clone();
        let occupant = spawn(poll_fn(move |_| {
            counted.set(counted.get() + 1);
            Poll::<()>::Pending
        }));
        yield_now().await;
        assert_eq!(polls.get(), 1);
        for _ in 0..10 {
            stale.wake_by_ref();
        }
        let remote = stale.clone();
        std::thread::spawn(move || remote.wake()).join().unwrap();
        for _ in 0..4 {
            yield_now().await;
        }
        assert_eq!(polls.get(), 1, "a stale waker polled the slot's new task");
        occupant.abort();
    });
}

/// Dropping the runtime while tasks are pending runs their destructors, which may wake
/// themselves and others, spawn, and drop I/O; meanwhile another thread keeps waking them.
#[test]
fn wake_during_runtime_drop() {
    struct WakesOnDrop {
        own: Option<Waker>,
        others: Arc<Mutex<Vec<Waker>>>,
        dropped: Arc<AtomicUsize>,
    }
    impl Drop for WakesOnDrop {
        fn drop(&mut self) {
            if let Some(w) = &self.own {
                w.wake_by_ref();
            }
            for w in self.others.lock().unwrap().iter() {
                w.wake_by_ref();
            }
            // Spawning during shutdown is allowed; the new task is cancelled in turn.
            drop(spawn(async {}));
            self.dropped.fetch_add(1, Ordering::AcqRel);
        }
    }

    const TASKS: usize = 32;
    let rt = util::rt();
    let wakers = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        for _ in 0..TASKS {
            let wakers = wakers.clone();
            let dropped = dropped.clone();
            drop(spawn(async move {
                let listener = mini_eventloop::net::TcpListener::bind(util::any_port()).unwrap();
                let mut guard = WakesOnDrop {
                    own: None,
                    others: wakers.clone(),
                    dropped,
                };
                poll_fn(|cx| {
                    if guard.own.is_none() {
                        guard.own = Some(cx.waker().clone());
                        wakers.lock().unwrap().push(cx.waker().clone());
                    }
                    Poll::<()>::Pending
                })
                .await;
                drop(listener);
            }));
        }
        while wakers.lock().unwrap().len() < TASKS {
            yield_now().await;
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let thread_wakers = wakers.clone();
    let thread_stop = stop.clone();
    let waker_thread = std::thread::spawn(move || {
        let all: Vec<Waker> = thread_wakers.lock().unwrap().clone();
        let mut rounds = 0u64;
        while !thread_stop.load(Ordering::Acquire) || rounds < 1_000 {
            for w in &all {
                w.wake_by_ref();
            }
            rounds += 1;
        }
        // The last clones are dropped on this thread, after the runtime is gone.
        drop(all);
    });
    drop(rt);
    stop.store(true, Ordering::Release);
    waker_thread.join().unwrap();
    assert_eq!(dropped.load(Ordering::Acquire), TASKS);
    // Wakers that outlive the runtime are still safe to call and drop.
    for w in wakers.lock().unwrap().drain(..) {
        w.wake();
    }
}

/// `will_wake` is true for two wakers of the same task and false across tasks.
#[test]
fn will_wake_is_true_for_the_same_task() {
    util::run(async {
        let mut first: Option<Waker> = None;
        let second = poll_fn(|cx| match &first {
            None => {
                first = Some(cx.waker().clone());
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(_) => Poll::Ready(cx.waker().clone()),
        })
        .await;
        assert!(first.unwrap().will_wake(&second));
        let other = spawn(poll_fn(|cx| Poll::Ready(cx.waker().clone())))
            .await
            .unwrap();
        assert!(!second.will_wake(&other));
    });
}

/// A foreign waker that panics in the reactor's wake batch loses no other wake: the innocent
/// task waiting on the same readiness still gets its connection (the panic is contained).
#[test]
fn panicking_waker_in_the_reactor_batch_loses_no_other_wake() {
    use mini_eventloop::net::TcpListener;
    use std::future::Future;
    use std::task::Context;
    let woke = util::must_finish("an accept beside a panicking waker", || {
        let rt = util::rt();
        let listener = Rc::new(
            rt.block_on(async { TcpListener::bind(util::any_port()) })
                .unwrap(),
        );
        let addr = listener.local_addr().unwrap();
        let l1 = listener.clone();
        // Task A registers for accept with a foreign waker that panics, first in the list.
        let _a = rt.spawn(async move {
            let mut fut = Box::pin(l1.accept());
            let w = util::panicking_waker();
            assert!(fut.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
            std::future::pending::<()>().await;
            drop(fut);
        });
        let accepted = Rc::new(Cell::new(false));
        let (l2, flag) = (listener.clone(), accepted.clone());
        let _b = rt.spawn(async move {
            let _conn = l2.accept().await.unwrap();
            flag.set(true);
        });
        rt.block_on(yield_now()); // both registered, A first
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let flag = accepted.clone();
        rt.block_on(mini_eventloop::timeout(util::HANG_GUARD, async move {
            while !flag.get() {
                yield_now().await;
            }
        }))
        .is_ok()
    });
    assert!(woke, "the innocent task was never woken");
}

/// A panicking waker among due timers: the other timers of the batch still fire.
#[test]
fn panicking_waker_among_due_timers_loses_no_other_wake() {
    use std::future::Future;
    use std::task::Context;
    use std::time::Duration;
    util::run(async {
        let mut foreign = Box::pin(mini_eventloop::sleep(Duration::from_millis(1)));
        let w = util::panicking_waker();
        assert!(
            foreign
                .as_mut()
                .poll(&mut Context::from_waker(&w))
                .is_pending()
        );
        // Same deadline or later: fired in the same batch as the panicking one, or after it.
        mini_eventloop::sleep(Duration::from_millis(1)).await;
        drop(foreign);
    });
}
