//! Pool results as futures: awaited on mini-eventloop and on tokio while other tasks of the
//! same loop keep running, and dropped handles cancelling their queued tasks. Forks, so it
//! runs alone (`harness = false`).

mod util;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use proc_pool::{CrashPolicy, Pool, TaskError};
use util::SumBelow;

/// How many results each loop awaits at once.
const RESULTS: u64 = 1_000;

/// What the loop saw, in order.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Event {
    /// A pool result arrived in its awaiting task.
    Arrival,
    /// The timer task ticked.
    Tick,
}

fn square(x: u64) -> u64 {
    x * x
}

/// Panics in the worker.
fn panics(_: u64) -> u64 {
    panic!("on purpose")
}

/// Waits, in the worker, until the file `gate` exists; then returns `x` squared. Polls: the
/// worker has nothing to wait on that the test loop could signal across processes otherwise.
fn square_after_gate((x, gate): (u64, String)) -> u64 {
    while !Path::new(&gate).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    x * x
}

/// Creates the file `path` (the side effect a cancelled task must never have).
fn touch(path: String) -> u64 {
    std::fs::write(path, b"ran").map_or(1, |()| 0)
}

/// Reads one byte from the FIFO at `path` (blocks the worker until the test writes it).
fn reads_fifo(path: String) -> u64 {
    let mut byte = [0u8; 1];
    let mut fifo = std::fs::File::open(path).unwrap();
    std::io::Read::read_exact(&mut fifo, &mut byte).unwrap();
    u64::from(byte[0])
}

/// Reads one byte from the FIFO at `path`, then ends its worker (a crash).
fn exits_after_fifo(path: String) -> u64 {
    reads_fifo(path);
    // SAFETY: `_exit` has no preconditions; the test wants the worker to die on its own.
    unsafe { libc::_exit(3) }
}

/// A fresh path in the temp directory, named for this process and `what`.
fn scratch(what: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("proc-pool-await-{}-{what}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A FIFO at a fresh path.
fn fifo(what: &str) -> PathBuf {
    let path = scratch(what);
    let name = std::ffi::CString::new(path.to_string_lossy().into_owned()).unwrap();
    // SAFETY: a NUL-terminated path; the result is checked.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    path
}

/// Submits the results the loops await: the first answers at once, the others only once the
/// gate file exists, which the timer task creates on its first tick after an arrival. So the
/// loop must keep running its timer while the results are awaited: a blocking await, or a
/// result that never wakes its task, hangs (and the guard fails the test).
fn submit_all(pool: &Pool, gate: &Path) -> Vec<proc_pool::AsyncResult<u64>> {
    let gate = gate.to_string_lossy().into_owned();
    let mut results = vec![pool.apply_async(square, 0)];
    results.extend((1..RESULTS).map(|i| pool.apply_async(square_after_gate, (i, gate.clone()))));
    results
}

/// The timer task's work at each tick: log it, and open the gate once a result arrived.
fn on_tick(log: &Mutex<Vec<Event>>, gate: &Path) {
    let mut log = log.lock().unwrap();
    log.push(Event::Tick);
    if log.contains(&Event::Arrival) && !gate.exists() {
        std::fs::write(gate, b"open").unwrap();
    }
}

/// An awaiting task's work: await result `i`, check it, log its arrival.
async fn await_one(i: usize, result: proc_pool::AsyncResult<u64>, log: Arc<Mutex<Vec<Event>>>) {
    let i = i as u64;
    assert_eq!(result.await, Ok(i * i));
    log.lock().unwrap().push(Event::Arrival);
}

/// Checks the event log: every result arrived, and the timer ticked between the first and
/// the last arrival.
fn check_interleaved(log: &[Event]) {
    let arrivals: Vec<usize> = (0..log.len())
        .filter(|&i| log[i] == Event::Arrival)
        .collect();
    assert_eq!(arrivals.len() as u64, RESULTS);
    let (first, last) = (arrivals[0], arrivals[arrivals.len() - 1]);
    assert!(
        log[first..last].contains(&Event::Tick),
        "no tick between the first and the last arrival"
    );
}

/// 1,000 results awaited by 1,000 tasks on mini-eventloop while a timer task ticks.
fn awaited_on_mini_eventloop() {
    let pool = util::pool(2);
    let gate = scratch("gate-mini");
    let log = Arc::new(Mutex::new(Vec::new()));
    let rt = mini_eventloop::Runtime::new().unwrap();
    rt.block_on(async {
        let ticker = {
            let (log, gate) = (Arc::clone(&log), gate.clone());
            mini_eventloop::spawn(async move {
                let mut every = mini_eventloop::interval(Duration::from_millis(1));
                loop {
                    every.tick().await;
                    on_tick(&log, &gate);
                }
            })
        };
        let tasks: Vec<_> = submit_all(&pool, &gate)
            .into_iter()
            .enumerate()
            .map(|(i, result)| mini_eventloop::spawn(await_one(i, result, Arc::clone(&log))))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        ticker.abort();
    });
    let _ = std::fs::remove_file(&gate);
    check_interleaved(&log.lock().unwrap());
}

/// The same on a tokio current-thread runtime.
fn awaited_on_tokio() {
    let pool = util::pool(2);
    let gate = scratch("gate-tokio");
    let log = Arc::new(Mutex::new(Vec::new()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let ticker = {
            let (log, gate) = (Arc::clone(&log), gate.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(1));
                loop {
                    every.tick().await;
                    on_tick(&log, &gate);
                }
            })
        };
        let tasks: Vec<_> = submit_all(&pool, &gate)
            .into_iter()
            .enumerate()
            .map(|(i, result)| tokio::spawn(await_one(i, result, Arc::clone(&log))))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        ticker.abort();
    });
    let _ = std::fs::remove_file(&gate);
    check_interleaved(&log.lock().unwrap());
}

/// `run_async` runs a shared job and its result can be awaited or waited for.
fn run_async_awaits_jobs() {
    let pool = util::pool(2);
    let rt = mini_eventloop::Runtime::new().unwrap();
    let awaited = rt.block_on(pool.run_async(SumBelow(1_000)));
    assert_eq!(awaited, Ok(499_500));
    assert_eq!(pool.run_async(SumBelow(10)).get(), Ok(45));
}

/// A finished future panics when polled again, with a message that says so.
fn polled_after_completion_panics() {
    let pool = util::pool(1);
    let mut result = pin!(pool.apply_async(square, 3));
    assert_eq!(
        mini_eventloop::Runtime::new()
            .unwrap()
            .block_on(result.as_mut()),
        Ok(9)
    );
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = result
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
    }));
    let message = again.expect_err("a second poll must panic");
    let message = message.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("polled after completion"), "{message}");
}

/// A result awaited to the end is ready, whichever way it was observed, and `get` on it
/// afterwards says the value was taken, at once, instead of waiting or claiming the pool
/// closed; the same for a result that resolved to an error.
fn resolved_by_poll_is_ready() {
    let pool = util::pool(1);
    let rt = mini_eventloop::Runtime::new().unwrap();
    let mut answered = pool.apply_async(square, 3);
    assert_eq!(rt.block_on(&mut answered), Ok(9));
    assert!(answered.ready(), "resolved by poll, yet not ready");
    assert_eq!(answered.get(), Err(TaskError::Taken));
    let mut timed = pool.apply_async(square, 4);
    assert_eq!(rt.block_on(&mut timed), Ok(16));
    assert!(matches!(
        timed.get_timeout(Duration::MAX),
        Ok(Err(TaskError::Taken))
    ));
    // Kept alive past the poll: the pool is still running, so only the handle knows.
    let mut failed = pool.apply_async(panics, 0);
    assert!(matches!(
        rt.block_on(&mut failed),
        Err(TaskError::Panicked(_))
    ));
    assert!(
        failed.ready(),
        "resolved to an error by poll, yet not ready"
    );
    assert_eq!(failed.get(), Err(TaskError::Taken));
}

/// Handles dropped while their tasks wait in the queue (one never polled, one polled once)
/// cancel them: the tasks never run; the pool goes on with the next task.
fn dropped_queued_result_never_runs() {
    // A fresh pool of 1: its worker gets nothing beyond the chunk it runs until it has timed
    // one, so while it blocks on the FIFO every later task stays queued.
    let pool = util::pool(1);
    let gate = fifo("cancel-fifo");
    let (never, polled) = (scratch("cancel-never"), scratch("cancel-polled"));
    let blocker = pool.apply_async(reads_fifo, gate.to_string_lossy().into_owned());
    drop(pool.apply_async(touch, never.to_string_lossy().into_owned()));
    let mut awaited = Box::pin(pool.apply_async(touch, polled.to_string_lossy().into_owned()));
    let poll = awaited
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(
        poll.is_pending(),
        "the worker is blocked, the task is queued"
    );
    drop(awaited);
    // Opening the FIFO for writing waits for the worker to open it for reading.
    std::fs::write(&gate, [7u8]).unwrap();
    assert_eq!(blocker.get(), Ok(7));
    // Tasks run in submission order: this one ran after the cancelled ones would have.
    assert_eq!(pool.apply(square, 5), Ok(25));
    assert!(!never.exists(), "a dropped, never polled task ran");
    assert!(!polled.exists(), "a dropped, awaited task ran");
    let stats = pool.stats();
    assert_eq!((stats.tasks_sent, stats.tasks_done), (2, 2));
    assert_eq!((stats.tasks_failed, stats.tasks_cancelled), (0, 2));
    let _ = std::fs::remove_file(&gate);
}

/// A handle dropped while its task waits in the queue of a pool that is then terminated:
/// the task counts as cancelled, not failed (as `concurrent.futures` tells a cancelled future
/// from a failed one); the running task the termination kills is the one failure.
fn cancelled_at_teardown_is_not_failed() {
    let pool = util::pool(1);
    let gate = fifo("teardown-fifo");
    let running = pool.apply_async(reads_fifo, gate.to_string_lossy().into_owned());
    util::eventually("the blocking task to be sent", || {
        pool.stats().tasks_sent == 1
    });
    // The worker has no room while it holds the blocking task: this one stays queued.
    drop(pool.apply_async(square, 2));
    pool.terminate();
    assert_eq!(running.get(), Err(TaskError::PoolClosed));
    let stats = pool.stats();
    assert_eq!((stats.tasks_failed, stats.tasks_cancelled), (1, 1));
    let _ = std::fs::remove_file(&gate);
}

/// The same when a crash breaks the pool (`CrashPolicy::FailPool`) while a dropped handle's
/// task is queued: the crashed task fails, the dropped one counts as cancelled.
fn cancelled_in_a_broken_pool_is_not_failed() {
    let pool = util::builder()
        .workers(1)
        .crash_policy(CrashPolicy::FailPool)
        .build()
        .unwrap();
    let gate = fifo("broken-fifo");
    let crashing = pool.apply_async(exits_after_fifo, gate.to_string_lossy().into_owned());
    util::eventually("the crashing task to be sent", || {
        pool.stats().tasks_sent == 1
    });
    drop(pool.apply_async(square, 2));
    std::fs::write(&gate, [1u8]).unwrap();
    assert!(
        matches!(crashing.get(), Err(TaskError::WorkerDied { .. })),
        "the worker exited running it"
    );
    // After the manager ended, the counters are exact.
    pool.terminate();
    let stats = pool.stats();
    assert_eq!((stats.tasks_failed, stats.tasks_cancelled), (1, 1));
    let _ = std::fs::remove_file(&gate);
}

/// A handle dropped after its task started: the task runs to the end, its result is
/// discarded, and the pool goes on.
fn dropped_started_result_completes() {
    let pool = util::pool(1);
    let gate = fifo("started-fifo");
    let started = pool.apply_async(reads_fifo, gate.to_string_lossy().into_owned());
    util::eventually("the task to be sent", || pool.stats().tasks_sent == 1);
    drop(started);
    // Opening the FIFO for writing waits for the worker to open it: the task is running.
    std::fs::write(&gate, [1u8]).unwrap();
    assert_eq!(pool.apply(square, 4), Ok(16));
    let stats = pool.stats();
    assert_eq!((stats.tasks_done, stats.tasks_failed), (2, 0));
    assert_eq!(stats.tasks_cancelled, 0, "a sent task is never cancelled");
    let _ = std::fs::remove_file(&gate);
}

/// Polls `inner`, and tells `first_pending` the first time it returns `Pending`: whoever
/// waits for that message knows the future is now waiting for a wake, not polled again.
async fn signal_when_pending<F: Future + Unpin>(
    mut inner: F,
    first_pending: std::sync::mpsc::Sender<()>,
) -> F::Output {
    let mut first_pending = Some(first_pending);
    std::future::poll_fn(move |cx| {
        let poll = std::pin::Pin::new(&mut inner).poll(cx);
        if poll.is_pending()
            && let Some(tx) = first_pending.take()
        {
            let _ = tx.send(());
        }
        poll
    })
    .await
}

/// Results that are already waiting for a wake (one running, one queued behind it) when
/// another thread terminates the pool are woken and resolve to `PoolClosed`: only the
/// manager's wake can end this `block_on`, so a missing wake hangs (and the guard fails it).
fn pending_results_woken_when_pool_stops() {
    let pool = util::pool(1);
    let gate = fifo("stop-fifo");
    let running = pool.apply_async(reads_fifo, gate.to_string_lossy().into_owned());
    let queued = pool.apply_async(square, 2);
    let (pending_tx, pending_rx) = std::sync::mpsc::channel();
    let rt = mini_eventloop::Runtime::new().unwrap();
    let (running, queued) = std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            // Both futures returned `Pending` once (the worker is blocked on the FIFO).
            pending_rx.recv().unwrap();
            pending_rx.recv().unwrap();
            pool.terminate();
        });
        rt.block_on(async {
            let running = mini_eventloop::spawn(signal_when_pending(running, pending_tx.clone()));
            let queued = signal_when_pending(queued, pending_tx).await;
            (running.await.unwrap(), queued)
        })
    });
    assert_eq!(running, Err(TaskError::PoolClosed));
    assert_eq!(queued, Err(TaskError::PoolClosed));
    let _ = std::fs::remove_file(&gate);
}

/// A closed pool's awaited result resolves to an error rather than hanging.
fn closed_pool_resolves() {
    let pool = util::pool(1);
    pool.terminate();
    let rt = mini_eventloop::Runtime::new().unwrap();
    let result = rt.block_on(pool.apply_async(square, 2));
    assert!(matches!(result, Err(TaskError::PoolClosed)), "{result:?}");
}

fn main() {
    util::run(
        &[
            ("awaited_on_mini_eventloop", awaited_on_mini_eventloop),
            ("awaited_on_tokio", awaited_on_tokio),
            ("run_async_awaits_jobs", run_async_awaits_jobs),
            (
                "polled_after_completion_panics",
                polled_after_completion_panics,
            ),
            (
                "dropped_queued_result_never_runs",
                dropped_queued_result_never_runs,
            ),
            (
                "dropped_started_result_completes",
                dropped_started_result_completes,
            ),
            ("closed_pool_resolves", closed_pool_resolves),
            (
                "pending_results_woken_when_pool_stops",
                pending_results_woken_when_pool_stops,
            ),
            ("resolved_by_poll_is_ready", resolved_by_poll_is_ready),
            (
                "cancelled_at_teardown_is_not_failed",
                cancelled_at_teardown_is_not_failed,
            ),
            (
                "cancelled_in_a_broken_pool_is_not_failed",
                cancelled_in_a_broken_pool_is_not_failed,
            ),
        ],
        &[],
    );
}
