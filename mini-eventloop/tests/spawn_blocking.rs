//! `spawn_blocking`: closures run off the loop thread, results come back as futures, panics
//! as a `JoinError` with the panic, and the pool stays within its bound.

mod util;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use mini_eventloop::{Runtime, spawn_blocking};

/// Waits (a bounded busy wait on the test's thread, as a guard against hangs) until every
/// helper thread of the process is asleep, which after its last job means waiting for work.
fn wait_until_helpers_idle() {
    let start = Instant::now();
    loop {
        let mut all_asleep = true;
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            // `comm` holds the first 15 bytes of "mini-eventloop-blocking".
            if comm.trim_end() != "mini-eventloop-" {
                continue;
            }
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            // The state is the field after the parenthesised name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            all_asleep &= state.starts_with('S');
        }
        if all_asleep {
            return;
        }
        assert!(
            start.elapsed() < util::HANG_GUARD,
            "helpers never went idle"
        );
        std::thread::yield_now();
    }
}

/// The closure runs on another thread and its result comes back.
#[test]
fn runs_off_the_loop_thread() {
    util::run(async {
        let loop_thread = std::thread::current().id();
        let helper = spawn_blocking(|| std::thread::current().id())
            .await
            .unwrap();
        assert_ne!(helper, loop_thread);
    });
}

/// The loop keeps running while helpers block: `THREADS` closures wait on one barrier
/// together, which only works if they run at once and the loop does not wait for them.
#[test]
fn blocking_calls_run_concurrently() {
    const THREADS: usize = 4;
    let rt = Runtime::builder()
        .blocking_threads(THREADS)
        .build()
        .unwrap();
    rt.block_on(async {
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let b = barrier.clone();
                spawn_blocking(move || {
                    b.wait();
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..THREADS).sum());
        assert_eq!(mini_eventloop::stats().blocking_spawned, THREADS as u64);
    });
}

/// More jobs than threads: they queue, all complete, and at most `THREADS` distinct helper
/// threads ran them.
#[test]
fn pool_is_bounded() {
    const THREADS: usize = 2;
    let rt = Runtime::builder()
        .blocking_threads(THREADS)
        .build()
        .unwrap();
    let ids = rt.block_on(async {
        let handles: Vec<_> = (0..50)
            .map(|_| spawn_blocking(|| std::thread::current().id()))
            .collect();
        let mut ids = HashSet::new();
        for h in handles {
            ids.insert(h.await.unwrap());
        }
        ids
    });
    assert!(ids.len() <= THREADS, "{} helper threads", ids.len());
}

/// A panic in the closure comes back as a `JoinError` with the panic with its message.
#[test]
fn panicking_closure_is_reported() {
    util::run(async {
        let r = spawn_blocking(|| -> u8 { panic!("blocking boom") }).await;
        assert_eq!(r.unwrap_err().panic_message(), Some("blocking boom"));
    });
}

/// Two closures submitted back to back while one helper is idle run on two threads: job A
/// waits for a message that job B sends. (The idle count used to drop only once a helper woke,
/// so both jobs were promised to the one idle helper and A waited for B forever.)
#[test]
fn back_to_back_jobs_do_not_queue_behind_one_idle_helper() {
    util::run(async {
        spawn_blocking(|| ()).await.unwrap();
        wait_until_helpers_idle();
        let (tx, rx) = std::sync::mpsc::channel();
        let a = spawn_blocking(move || rx.recv_timeout(util::HANG_GUARD).is_ok());
        let b = spawn_blocking(move || tx.send(()).is_ok());
        assert!(a.await.unwrap(), "job A never heard from job B");
        assert!(b.await.unwrap());
    });
}

/// Closures still queued when the runtime is dropped are dropped, not run (their handles
/// report `Cancelled`); the one already running finishes.
#[test]
fn closures_queued_at_shutdown_are_dropped_not_run() {
    let rt = Runtime::builder().blocking_threads(1).build().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let ran = Arc::new(AtomicBool::new(false));
    let (queued,) = rt.block_on(async {
        let running = spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = released.recv();
        });
        // The one helper is busy with `running` from here on, so the next closure queues.
        started.recv().unwrap();
        let ran = ran.clone();
        let queued = spawn_blocking(move || ran.store(true, Ordering::SeqCst));
        drop(running);
        // In a tuple: a future returned bare from an async block trips clippy.
        (queued,)
    });
    drop(rt);
    assert_eq!(
        Arc::strong_count(&ran),
        1,
        "the queued closure was not dropped at shutdown"
    );
    release.send(()).unwrap();
    assert!(util::rt().block_on(queued).unwrap_err().is_cancelled());
    assert!(!ran.load(Ordering::SeqCst));
}

/// A helper thread survives a panic in the destructor of a result nobody awaits (the pool's
/// thread count stays right): with one helper allowed, the next `spawn_blocking` still runs.
#[test]
fn panicking_drop_of_an_unwanted_result_keeps_the_pool_working() {
    let out = util::must_finish(
        "spawn_blocking after a result's destructor panicked",
        || {
            let rt = Runtime::builder().blocking_threads(1).build().unwrap();
            rt.block_on(async {
                let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
                /// The result: signals when the job body is done, then panics when dropped.
                #[allow(dead_code)]
                struct Signal(std::sync::mpsc::Sender<()>, util::PanicOnDrop);
                let h = spawn_blocking(move || {
                    go_rx.recv().unwrap();
                    Signal(done_tx, util::PanicOnDrop)
                });
                drop(h); // nobody wants the result: the helper drops it
                go_tx.send(()).unwrap();
                let _ = done_rx.recv();
                spawn_blocking(|| 42).await.unwrap()
            })
        },
    );
    assert_eq!(out, 42);
}

/// A helper thread survives a foreign waker that panics when the result is sent: the
/// result still arrives, and the next job still runs on the one helper.
#[test]
fn panicking_waker_of_a_blocking_result_keeps_the_pool_working() {
    let out = util::must_finish("spawn_blocking after its waker panicked", || {
        let rt = Runtime::builder().blocking_threads(1).build().unwrap();
        rt.block_on(async {
            /// Reports its wake (from the helper thread), then panics.
            struct SignalThenPanic(std::sync::Mutex<std::sync::mpsc::Sender<()>>);
            impl std::task::Wake for SignalThenPanic {
                fn wake(self: Arc<Self>) {
                    let _ = self.0.lock().unwrap().send(());
                    panic!("user waker panicked in wake");
                }
            }
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let (woken_tx, woken_rx) = std::sync::mpsc::channel::<()>();
            let mut h = spawn_blocking(move || go_rx.recv().map(|()| 1).unwrap());
            let waker = std::task::Waker::from(Arc::new(SignalThenPanic(woken_tx.into())));
            let pending =
                std::pin::Pin::new(&mut h).poll(&mut std::task::Context::from_waker(&waker));
            assert!(pending.is_pending());
            go_tx.send(()).unwrap();
            woken_rx.recv().unwrap(); // the helper is in the panicking wake now
            let first = h.await.unwrap();
            first + spawn_blocking(|| 41).await.unwrap()
        })
    });
    assert_eq!(out, 42);
}
