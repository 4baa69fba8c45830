//! Lifecycle calls made from the thread they would wait for, or from several threads at
//! once: refused with a typed error instead of hanging, and all waiting for the same end.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gil_threads::{Event, Interpreter, JoinFailed, ThreadPoolExecutor, WouldDeadlock};
use util::{HANG_GUARD, within_guard};

/// Threads that call `shutdown` at the same time.
const CALLERS: usize = 3;

/// A task that shuts its own executor down with `wait` is refused (Python's "cannot join
/// current thread"), from `shutdown` and from `shutdown_blocking` with the GIL released;
/// the executor still shuts down normally afterwards.
#[test]
fn a_worker_cannot_wait_for_its_own_executor() {
    within_guard(|| {
        let interp = Interpreter::new();
        let pool = Arc::new(ThreadPoolExecutor::new(&interp, 2));
        let own = Arc::clone(&pool);
        let task = pool
            .submit(move |gil| {
                let direct = own.shutdown(gil, true);
                let released = gil.allow_threads(|| own.shutdown_blocking(true));
                (direct, released)
            })
            .unwrap();
        assert_eq!(
            task.result_blocking(),
            Ok((Err(WouldDeadlock), Err(WouldDeadlock)))
        );
        assert_eq!(pool.submit(|_| 1).unwrap().result_blocking(), Ok(1));
        assert_eq!(pool.shutdown_blocking(true), Ok(()));
    });
}

/// Dropping the last reference to an executor inside one of its own tasks, with the GIL
/// released, does not wait for the worker running the drop.
#[test]
fn an_executor_dropped_by_its_own_worker_does_not_hang() {
    within_guard(|| {
        let interp = Interpreter::new();
        let pool = Arc::new(ThreadPoolExecutor::new(&interp, 1));
        let started = Arc::new(Event::new());
        let (own, started2) = (Arc::clone(&pool), Arc::clone(&started));
        let task = pool
            .submit(move |gil| {
                // Wait for the owner to let go, so this reference is the last one.
                started2.wait(gil);
                gil.allow_threads(move || drop(own));
                7
            })
            .unwrap();
        drop(pool);
        started.set();
        assert_eq!(task.result_blocking(), Ok(7));
        assert_eq!(interp.shutdown(), Ok(()));
    });
}

/// A thread joining its own handle is refused at once, with `join_gil` and with `join`
/// (the GIL released), instead of waiting for itself for ever; the handle comes back.
#[test]
fn a_thread_cannot_join_itself() {
    within_guard(|| {
        let interp = Interpreter::new();
        for released in [false, true] {
            let (tx, rx) = std::sync::mpsc::channel::<gil_threads::JoinHandle<()>>();
            let (result_tx, result_rx) = std::sync::mpsc::channel();
            let own_handle = interp.spawn(move |gil| {
                let own = gil.allow_threads(|| rx.recv()).expect("the handle is sent");
                let refused = if released {
                    gil.allow_threads(|| own.join())
                } else {
                    own.join_gil(gil)
                };
                result_tx.send(refused).expect("the test waits");
            });
            tx.send(own_handle).unwrap();
            // The refusal gives the handle back: here it travels home and joins from outside.
            match result_rx.recv().expect("the thread reports") {
                Err(JoinFailed::WouldDeadlock(own)) => assert_eq!(own.join(), Ok(())),
                other => panic!("not refused: {other:?}"),
            }
        }
        assert_eq!(interp.shutdown(), Ok(()));
    });
}

/// An interpreter thread asking its own interpreter to shut down is refused (shutdown joins
/// it: it would wait for itself); a later shutdown from outside works.
#[test]
fn a_thread_cannot_shut_its_own_interpreter_down() {
    within_guard(|| {
        let interp = Arc::new(Interpreter::new());
        let own = Arc::clone(&interp);
        let worker = interp.spawn(move |gil| gil.allow_threads(|| own.shutdown()));
        assert_eq!(worker.join(), Ok(Err(WouldDeadlock)));
        assert_eq!(interp.shutdown(), Ok(()));
    });
}

/// Interpreter code that keeps running until all `CALLERS` are (about to be) inside their
/// lifecycle call, and a little longer, then marks the work finished.
#[derive(Clone, Default)]
struct Rendezvous {
    /// Callers that arrived.
    arrived: Arc<AtomicUsize>,
    /// Set when the work is done.
    finished: Arc<AtomicBool>,
}

impl Rendezvous {
    /// The work, on an interpreter thread.
    fn work(&self, gil: &mut gil_threads::Gil) {
        let start = std::time::Instant::now();
        while self.arrived.load(Ordering::SeqCst) < CALLERS {
            assert!(start.elapsed() < HANG_GUARD, "the callers never came");
            gil.allow_threads(std::thread::yield_now);
        }
        for _ in 0..1_000 {
            gil.allow_threads(std::thread::yield_now);
        }
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Runs `call` on `CALLERS` threads at once; each must return `Ok(())` only after the
    /// work finished.
    fn call_concurrently<E: PartialEq + std::fmt::Debug + Send + 'static>(
        &self,
        call: impl Fn() -> Result<(), E> + Send + Sync + 'static,
    ) {
        let call = Arc::new(call);
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (me, call) = (self.clone(), Arc::clone(&call));
                std::thread::spawn(move || {
                    me.arrived.fetch_add(1, Ordering::SeqCst);
                    let result = call();
                    (result, me.finished.load(Ordering::SeqCst))
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.join().unwrap(), (Ok(()), true), "returned too early");
        }
    }
}

/// Several threads calling `Interpreter::shutdown` at once all return only after the
/// non-daemon threads were joined: none finds the work "already taken" and returns early.
#[test]
fn concurrent_interpreter_shutdowns_wait_for_the_same_end() {
    within_guard(|| {
        let interp = Arc::new(util::interpreter(gil_threads::Policy::Fair));
        let meeting = Rendezvous::default();
        let work = meeting.clone();
        let _worker = interp.spawn(move |gil| work.work(gil));
        meeting.call_concurrently(move || interp.shutdown());
    });
}

/// Several threads shutting one executor down at once all return only after its workers
/// have left (the running task finished).
#[test]
fn concurrent_executor_shutdowns_wait_for_the_same_end() {
    within_guard(|| {
        let interp = Interpreter::new();
        let pool = Arc::new(ThreadPoolExecutor::new(&interp, 1));
        let meeting = Rendezvous::default();
        let work = meeting.clone();
        let _task = pool.submit(move |gil| work.work(gil)).unwrap();
        meeting.call_concurrently(move || pool.shutdown_blocking(true));
    });
}

/// `JoinHandle::join` called from a thread-local's destructor, while the thread's other
/// thread-locals may already be gone, joins instead of panicking.
#[test]
fn join_from_a_thread_local_destructor() {
    /// Joins its handle when the thread's thread-locals are destroyed.
    struct JoinOnExit(
        Option<gil_threads::JoinHandle<u32>>,
        std::sync::mpsc::Sender<bool>,
    );
    impl Drop for JoinOnExit {
        fn drop(&mut self) {
            if let Some(handle) = self.0.take() {
                // The receiver outlives the thread; a failed send only loses the report.
                let _ = self.1.send(handle.join() == Ok(5));
            }
        }
    }
    thread_local! {
        static SLOT: std::cell::RefCell<Option<JoinOnExit>> = const { std::cell::RefCell::new(None) };
    }
    within_guard(|| {
        let interp = Interpreter::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = interp.spawn(|_| 5);
        std::thread::spawn(move || {
            // Registered in this order, the destructors run in the reverse one (on Linux):
            // the crate's own thread-local is gone when `JoinOnExit` joins.
            SLOT.with(|s| *s.borrow_mut() = Some(JoinOnExit(Some(handle), tx)));
            let _ = gil_threads::current_thread();
        })
        .join()
        .expect("the thread, and its thread-local destructors, ran without panicking");
        assert_eq!(rx.recv(), Ok(true));
    });
}

/// Under `Fifo` a waiter queues its OS thread handle (`std::thread::current()`); entering
/// the interpreter from a thread-local's destructor, after the crate's own thread-locals are
/// gone, while another thread holds the GIL (so the entry queues and is handed the GIL),
/// works: no panic, no abort, the closure runs under the GIL.
#[test]
fn entering_from_a_thread_local_destructor_queues_and_runs() {
    within_guard(|| {
        /// Enters the interpreter when the thread's thread-locals are destroyed.
        struct Enters(
            Arc<Interpreter>,
            Arc<AtomicBool>,
            std::sync::mpsc::Sender<bool>,
        );
        impl Drop for Enters {
            fn drop(&mut self) {
                let done = Arc::clone(&self.1);
                let entered = self.0.with_gil(|_| done.store(true, Ordering::SeqCst));
                let _ = self.2.send(entered.is_ok());
            }
        }
        thread_local! {
            static SLOT: std::cell::RefCell<Option<Enters>> = const { std::cell::RefCell::new(None) };
        }
        let interp = Arc::new(
            Interpreter::builder()
                .policy(gil_threads::Policy::Fifo)
                .switch_interval(util::TEST_INTERVAL)
                .build()
                .unwrap(),
        );
        let done = Arc::new(AtomicBool::new(false));
        let (holding_tx, holding_rx) = std::sync::mpsc::channel();
        let d = Arc::clone(&done);
        // Holds the GIL, checkpointing, until the destructor's entry has run.
        let holder = interp.spawn(move |gil| {
            let _ = holding_tx.send(());
            let start = std::time::Instant::now();
            while !d.load(Ordering::SeqCst) {
                assert!(start.elapsed() < HANG_GUARD, "the entry never ran");
                gil.checkpoint();
            }
        });
        holding_rx.recv().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (i, d) = (Arc::clone(&interp), Arc::clone(&done));
        std::thread::spawn(move || {
            SLOT.with(|s| *s.borrow_mut() = Some(Enters(i, d, tx)));
            // Used after `SLOT`, so destroyed before it (reverse order of first use).
            let _ = gil_threads::current_thread();
        })
        .join()
        .unwrap();
        assert_eq!(rx.recv(), Ok(true));
        assert!(done.load(Ordering::SeqCst));
        holder.join().unwrap();
    });
}
