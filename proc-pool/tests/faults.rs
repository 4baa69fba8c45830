//! Faults: panics, killed, aborting, exiting and stopped workers, garbled answers, retirement,
//! termination, huge results, a failing initializer, under both crash policies. Forks and
//! kills, so it runs alone (`harness = false`).

mod util;

use std::ffi::CString;
use std::io::Read;
use std::time::Duration;

use proc_pool::{CrashPolicy, ExitStatus, Pool, StartMethod, TaskError};

/// How many ordinary tasks run around a fault.
const OTHERS: u64 = 1_000;

/// 100 MB: bigger than any pipe buffer by far.
const HUGE: usize = 100 * 1024 * 1024;

fn square(x: u64) -> u64 {
    x * x
}

fn worker_pid(_: u64) -> u32 {
    std::process::id()
}

fn panics_on_3(x: u64) -> u64 {
    assert_ne!(x, 3, "three is not allowed");
    x
}

fn aborts(_: u64) -> u64 {
    std::process::abort()
}

fn exits(_: u64) -> u64 {
    // SAFETY: `_exit` has no preconditions; the test wants an exit that runs no handlers.
    unsafe { libc::_exit(3) }
}

/// Announces its pid on the FIFO at `path`, then waits to be killed.
fn victim(path: String) -> u64 {
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open fifo");
    std::io::Write::write_all(&mut fifo, format!("{}\n", std::process::id()).as_bytes())
        .expect("write pid");
    drop(fifo);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn sleeps_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn garbles(x: u64) -> u64 {
    proc_pool::garble_next_answer();
    x
}

fn breaks_framing(x: u64) -> u64 {
    proc_pool::break_answer_framing();
    x
}

fn huge_result(len: u64) -> Vec<u8> {
    vec![7; len as usize]
}

fn sum_bytes(v: Vec<u8>) -> u64 {
    v.iter().map(|&b| u64::from(b)).sum()
}

fn init_hangs() {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn init_panics() {
    panic!("the initializer fails");
}

fn init_exits() {
    // SAFETY: `_exit` has no preconditions; an initializer that gives up this way.
    unsafe { libc::_exit(1) }
}

/// The environment variable naming the directory of [`init_two_tickets`]' tickets (set by
/// `main` before any pool exists, so that a fork server inherits it too).
const TICKETS_VAR: &str = "PROC_POOL_TEST_TICKETS";

/// The tickets' directory of this test process.
fn tickets_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("proc-pool-tickets-{}", std::process::id()))
}

/// An initializer that lets the first two workers through (each takes a ticket, atomically by
/// `O_EXCL`) and makes every later one exit: a whole slot's replacements die before starting.
fn init_two_tickets() {
    if let Some(dir) = std::env::var_os(TICKETS_VAR) {
        for i in 0..2 {
            let ticket = std::path::Path::new(&dir).join(format!("ticket-{i}"));
            let taken = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(ticket);
            if taken.is_ok() {
                return;
            }
        }
    }
    // SAFETY: `_exit` has no preconditions.
    unsafe { libc::_exit(1) }
}

/// The exit code the pool's workers once used to report a panicking initializer.
fn exits_70(_: u64) -> u64 {
    // SAFETY: `_exit` has no preconditions.
    unsafe { libc::_exit(70) }
}

/// A panic payload whose `Drop` panics as well.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload's drop panics too");
    }
}

fn panics_with_bomb(_: u64) -> u64 {
    std::panic::panic_any(Bomb)
}

fn init_panics_with_bomb() {
    std::panic::panic_any(Bomb)
}

fn unwinds_out(x: u64) -> u64 {
    proc_pool::unwind_out_of_the_worker();
    x
}

fn stops_before_answering(x: u64) -> u64 {
    proc_pool::stop_before_answering();
    x
}

/// Held by a thread of the test while a pool forks its workers.
static HELD_AT_FORK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn takes_held_lock(x: u64) -> u64 {
    drop(HELD_AT_FORK.lock());
    x
}

/// Where every descriptor of the worker running it points (`/proc/self/fd`, less the
/// directory's own descriptor).
fn worker_descriptors(_: u64) -> Vec<String> {
    let dir = std::fs::read_dir("/proc/self/fd").unwrap();
    let mut targets: Vec<String> = dir
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect();
    targets.retain(|t| !t.starts_with("/proc/") || !t.ends_with("/fd"));
    targets
}

/// A FIFO in a fresh temporary directory.
fn fifo() -> String {
    let dir = std::env::temp_dir().join(format!("proc-pool-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("victim");
    let _ = std::fs::remove_file(&path);
    let c = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    path.to_str().unwrap().to_owned()
}

/// Starts `victim` in `pool` and returns its pid once it runs (read from the FIFO, which
/// blocks until the victim has opened it: no sleeping).
fn start_victim(pool: &Pool) -> (proc_pool::AsyncResult<u64>, u32) {
    // Warm up: once workers have timed a short chunk they prefetch, so the victim's worker
    // will hold queued chunks when it dies (which must be requeued, not failed).
    assert!(
        pool.map_chunked(square, 0..100, 1)
            .iter()
            .all(Result::is_ok)
    );
    let path = fifo();
    let pending = pool.apply_async(victim, path.clone());
    let mut line = String::new();
    std::fs::File::open(&path)
        .unwrap()
        .read_to_string(&mut line)
        .unwrap();
    (pending, line.trim().parse().unwrap())
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: `pid` is an unreaped child of this process (a worker), so it cannot be reused.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// A panicking task fails alone with its message; its worker survives.
fn panic_is_a_value() {
    let pool = util::pool(2);
    let results = pool.map_chunked(panics_on_3, 0..10, 1);
    for (x, r) in results.into_iter().enumerate() {
        match r {
            Err(TaskError::Panicked(msg)) => {
                assert_eq!(x, 3);
                assert!(msg.contains("three is not allowed"), "{msg}");
            }
            other => assert_eq!(other, Ok(x as u64)),
        }
    }
    pool.join();
    assert_eq!(pool.stats().workers_started, 2, "no worker was replaced");
}

/// FailTask: a worker SIGKILLed mid-task fails that task with `WorkerDied`; the tasks queued
/// around it (some prefetched by the same worker) all succeed; the worker is replaced.
fn sigkill_fail_task() {
    let pool = util::pool(2);
    let (pending, pid) = start_victim(&pool);
    let others: Vec<_> = (0..OTHERS).map(|x| pool.apply_async(square, x)).collect();
    // The victim never returns by itself: a bounded wait gives the handle back.
    assert!(!pending.ready());
    let pending = match pending.get_timeout(Duration::from_millis(10)) {
        Err(still_pending) => still_pending,
        Ok(result) => panic!("the victim returned {result:?}"),
    };
    kill(pid, libc::SIGKILL);
    assert_eq!(
        pending.get(),
        Err(TaskError::WorkerDied {
            pid,
            status: ExitStatus::Signal(libc::SIGKILL)
        })
    );
    for (x, h) in others.into_iter().enumerate() {
        assert_eq!(h.get(), Ok(x as u64 * x as u64));
    }
    assert_eq!(pool.worker_pids().len(), 2);
    assert!(!pool.worker_pids().contains(&pid));
    let stats = pool.stats();
    assert_eq!(stats.replaced_crashed, 1);
    assert_eq!(stats.workers_started, 3);
    pool.join();
}

/// FailPool: the killed worker's task fails with `WorkerDied`, every other pending task with
/// `PoolBroken`, and so does every later submission.
fn sigkill_fail_pool() {
    let pool = util::builder()
        .workers(2)
        .crash_policy(CrashPolicy::FailPool)
        .build()
        .unwrap();
    let (pending, pid) = start_victim(&pool);
    let others: Vec<_> = (0..OTHERS).map(|x| pool.apply_async(square, x)).collect();
    kill(pid, libc::SIGKILL);
    assert_eq!(
        pending.get(),
        Err(TaskError::WorkerDied {
            pid,
            status: ExitStatus::Signal(libc::SIGKILL)
        })
    );
    for (x, h) in others.into_iter().enumerate() {
        match h.get() {
            Ok(v) => assert_eq!(v, x as u64 * x as u64),
            Err(e) => assert_eq!(e, TaskError::PoolBroken),
        }
    }
    assert_eq!(pool.apply(square, 2), Err(TaskError::PoolBroken));
    assert_eq!(
        pool.map(square, 0..10),
        vec![Err(TaskError::PoolBroken); 10]
    );
    drop(pool);
    assert!(util::children().is_empty());
}

/// A task calling `abort` or `_exit` fails with `WorkerDied` and its status; the rest succeed.
fn abort_and_exit() {
    let pool = util::pool(2);
    let aborted = pool.apply(aborts, 0);
    assert!(
        matches!(
            aborted,
            Err(TaskError::WorkerDied {
                status: ExitStatus::Signal(libc::SIGABRT),
                ..
            })
        ),
        "{aborted:?}"
    );
    let exited = pool.apply(exits, 0);
    assert!(
        matches!(
            exited,
            Err(TaskError::WorkerDied {
                status: ExitStatus::Exited(3),
                ..
            })
        ),
        "{exited:?}"
    );
    assert!(pool.map(square, 0..OTHERS).iter().all(Result::is_ok));
    assert_eq!(pool.stats().replaced_crashed, 2);
    pool.join();
}

/// A stuck task (its worker SIGSTOPped mid-task) fails with `TimedOut`; its worker is killed
/// and replaced; the tasks around it succeed.
fn stuck_task_times_out() {
    let pool = util::builder()
        .workers(2)
        .task_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let (pending, pid) = start_victim(&pool);
    kill(pid, libc::SIGSTOP);
    let others: Vec<_> = (0..OTHERS).map(|x| pool.apply_async(square, x)).collect();
    assert_eq!(pending.get(), Err(TaskError::TimedOut));
    for (x, h) in others.into_iter().enumerate() {
        assert_eq!(h.get(), Ok(x as u64 * x as u64));
    }
    assert!(!pool.worker_pids().contains(&pid));
    assert_eq!(pool.stats().replaced_timed_out, 1);
    pool.join();
}

/// A worker stopped while idle cannot start the chunks sent to it: past the timeout it is
/// killed and replaced, and those chunks, which never started, run elsewhere and succeed.
fn stopped_idle_worker_is_replaced() {
    let pool = util::builder()
        .workers(2)
        .task_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let stopped = pool.worker_pids()[0];
    kill(stopped, libc::SIGSTOP);
    let results = pool.map_chunked(square, 0..20, 1);
    assert_eq!(results, (0..20).map(|x| Ok(x * x)).collect::<Vec<_>>());
    assert!(!pool.worker_pids().contains(&stopped));
    assert_eq!(pool.stats().replaced_timed_out, 1);
    pool.join();
}

/// A garbled answer is a `Codec` error for its chunk, not a panic; the pool goes on.
fn garbled_answer_is_codec_error() {
    let pool = util::pool(1);
    let results = pool.map_chunked(garbles, 0..3, 3);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(TaskError::Codec(_)))),
        "{results:?}"
    );
    assert_eq!(pool.apply(square, 5), Ok(25));
    pool.join();
}

/// An answer whose length prefix is absurd (the stream cannot be framed any more) is a
/// `Codec` error for its chunk; the worker is killed and replaced; the pool goes on.
fn broken_framing_is_codec_error() {
    let pool = util::pool(1);
    let pid = pool.worker_pids()[0];
    let result = pool.apply(breaks_framing, 1);
    assert!(matches!(result, Err(TaskError::Codec(_))), "{result:?}");
    assert_eq!(pool.apply(square, 5), Ok(25));
    assert!(!pool.worker_pids().contains(&pid));
    assert_eq!(pool.stats().replaced_crashed, 1);
    pool.join();
}

/// FailPool: answers that lose their framing fail the chunk with `Codec` and break the pool.
fn broken_framing_breaks_fail_pool() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1)
            .crash_policy(CrashPolicy::FailPool)
            .build()
            .unwrap();
        let result = pool.apply(breaks_framing, 1);
        assert!(matches!(result, Err(TaskError::Codec(_))), "{result:?}");
        assert_eq!(pool.apply(square, 5), Err(TaskError::PoolBroken));
        drop(pool);
        assert!(util::children().is_empty());
    });
}

/// `max_tasks_per_child` retires workers and replaces them; no worker runs more tasks.
fn max_tasks_per_child() {
    let pool = util::builder()
        .workers(2)
        .max_tasks_per_child(10)
        .build()
        .unwrap();
    let pids: Vec<u32> = pool
        .map_chunked(worker_pid, 0..100, 1)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() >= 10, "{} workers", distinct.len());
    for pid in &distinct {
        assert!(pids.iter().filter(|p| *p == pid).count() <= 10);
    }
    pool.join();
    assert!(pool.stats().replaced_retired >= 8, "{:?}", pool.stats());
    assert!(util::children().is_empty());
}

/// `terminate` while tasks run: they fail with `PoolClosed`, every worker is reaped.
fn terminate_while_running() {
    let pool = util::pool(2);
    let pending: Vec<_> = (0..20)
        .map(|_| pool.apply_async(sleeps_ms, 60_000))
        .collect();
    pool.terminate();
    for h in pending {
        assert_eq!(h.get(), Err(TaskError::PoolClosed));
    }
    assert!(util::children().is_empty());
    assert_eq!(pool.apply(square, 1), Err(TaskError::PoolClosed));
}

/// `terminate` from another thread while an `imap` waits: the iterator yields `PoolClosed` for
/// the task in flight and ends.
fn terminate_under_imap() {
    let pool = util::pool(1);
    let path = fifo();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut line = String::new();
            std::fs::File::open(&path)
                .unwrap()
                .read_to_string(&mut line)
                .unwrap();
            pool.terminate();
        });
        let results: Vec<_> = pool.imap(victim, vec![path.clone()]).collect();
        assert_eq!(results, vec![Err(TaskError::PoolClosed)]);
    });
    assert!(util::children().is_empty());
}

/// A 100 MB result and a 100 MB input cross without deadlock.
fn huge_payloads() {
    let pool = util::pool(2);
    let big = pool.apply(huge_result, HUGE as u64).unwrap();
    assert_eq!(big.len(), HUGE);
    assert!(big.iter().all(|&b| b == 7));
    assert_eq!(pool.apply(sum_bytes, big), Ok(7 * HUGE as u64));
    pool.join();
}

/// A panicking initializer breaks the pool instead of restarting workers forever.
fn initializer_panic_breaks_pool() {
    let pool = util::builder()
        .workers(2)
        .initializer(init_panics)
        .build()
        .unwrap();
    assert_eq!(pool.apply(square, 2), Err(TaskError::PoolBroken));
    drop(pool);
    assert!(util::children().is_empty());
}

/// With a timeout, workers that hang in their initializer are killed and replaced a few
/// times, then the pool breaks: the tasks fail with `PoolBroken` instead of waiting forever.
fn hanging_initializer_breaks_pool() {
    let pool = util::builder()
        .workers(2)
        .initializer(init_hangs)
        .task_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(
        pool.map_chunked(square, 0..4, 1),
        vec![Err(TaskError::PoolBroken); 4]
    );
    drop(pool);
    assert!(util::children().is_empty());
}

/// A task that calls `exit(70)` is a crash like any other (`WorkerDied` with its status): the
/// worker's own report, not its exit code, says when its initializer panicked.
fn task_exit_code_is_not_a_report() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 2).build().unwrap();
        let died = pool.apply(exits_70, 0);
        assert!(
            matches!(
                died,
                Err(TaskError::WorkerDied {
                    status: ExitStatus::Exited(70),
                    ..
                })
            ),
            "{died:?}"
        );
        assert_eq!(pool.apply(square, 4), Ok(16));
        assert_eq!(pool.stats().replaced_crashed, 1);
        pool.join();
    });
}

/// Workers whose initializer exits (not a panic, not a hang) are replaced a bounded number of
/// times, then the pool breaks: no fork storm, and the tasks fail with `PoolBroken`.
fn dying_initializer_is_no_fork_storm() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 2)
            .initializer(init_exits)
            .build()
            .unwrap();
        assert_eq!(
            pool.map_chunked(square, 0..4, 1),
            vec![Err(TaskError::PoolBroken); 4]
        );
        // Per slot: its first worker, then replacements until three died in a row.
        let started = pool.stats().workers_started;
        assert!(started <= 2 * 3, "{started} workers started");
        drop(pool);
        assert!(util::children().is_empty());
    });
}

/// One slot whose every new worker dies in its initializer, beside a healthy worker that keeps
/// answering: the slot is given up after three deaths (no fork storm hidden by the healthy
/// worker's answers), and the pool runs on with the healthy worker (no `PoolBroken`).
fn healthy_worker_does_not_hide_a_fork_storm() {
    util::each_method(|method| {
        let dir = tickets_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pool = util::pool_of(method, 2)
            .initializer(init_two_tickets)
            .build()
            .unwrap();
        // Both first workers are past their initializer before one of them is killed.
        while !(0..2).all(|i| dir.join(format!("ticket-{i}")).exists()) {
            std::thread::sleep(Duration::from_millis(1));
        }
        kill(pool.worker_pids()[1], libc::SIGKILL);
        let results = pool.map_chunked(square, 0..2 * OTHERS, 1);
        let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
        assert!(
            failed.is_empty(),
            "{} failed: {:?}",
            failed.len(),
            failed[0]
        );
        // Two first workers, then the killed one's slot refilled until three died in a row.
        let started = pool.stats().workers_started;
        assert!(started <= 2 + 3, "{started} workers started");
        assert_eq!(pool.worker_pids().len(), 1, "the given-up slot stays empty");
        assert_eq!(pool.apply(square, 3), Ok(9));
        pool.join();
        assert!(util::children().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// Without `close_range` (as on Linux 5.4 to 5.8), workers still close every inherited
/// descriptor (one by one) and serve. Under `Fork` only: the hook that hides `close_range` is a
/// global of this process, which a fork server (a fresh image) never sees, so there the case
/// could not fail.
fn no_close_range_still_closes_descriptors() {
    util::each_method(|method| {
        if method == StartMethod::ForkServer {
            eprintln!("(not run under the fork server: it cannot see the hook)");
            return;
        }
        let marker = std::env::temp_dir().join(format!("proc-pool-marker-{}", std::process::id()));
        let file = std::fs::File::create(&marker).unwrap();
        proc_pool::hide_close_range(true);
        let pool = util::pool_of(method, 2).build();
        proc_pool::hide_close_range(false);
        let pool = pool.unwrap();
        let seen = pool.apply(worker_descriptors, 0).unwrap();
        let name = marker.to_string_lossy().into_owned();
        assert!(!seen.contains(&name), "the worker kept {name}: {seen:?}");
        // stdin, stdout, stderr and its two pipe ends.
        assert!(seen.len() <= 5, "{seen:?}");
        assert_eq!(pool.map(square, 0..100).len(), 100);
        assert_eq!(pool.stats().workers_started, 2, "no worker died setting up");
        pool.join();
        drop(file);
        let _ = std::fs::remove_file(marker);
    });
}

/// A panic payload whose `Drop` panics fails its task with `Panicked`; the worker survives.
/// In an initializer, it breaks the pool as any initializer panic does. Nothing unwinds into
/// the forked copy of the pool's own code.
fn panicking_payload_drop() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1).build().unwrap();
        let pid = pool.worker_pids()[0];
        assert!(
            matches!(pool.apply(panics_with_bomb, 0), Err(TaskError::Panicked(_))),
            "the task fails alone"
        );
        assert_eq!(pool.apply(square, 3), Ok(9));
        assert_eq!(pool.worker_pids(), vec![pid], "the same worker goes on");
        pool.join();
        let pool = util::pool_of(method, 1)
            .initializer(init_panics_with_bomb)
            .build()
            .unwrap();
        assert_eq!(pool.apply(square, 3), Err(TaskError::PoolBroken));
        drop(pool);
        assert!(util::children().is_empty());
    });
}

/// A panic outside any `catch_unwind` in a worker ends that worker there (a crash:
/// `WorkerDied`, not a clean exit 0), instead of unwinding into the forked copy of the
/// manager's stack, whose destructors would kill the other workers and run `atexit` handlers.
fn nothing_unwinds_out_of_a_worker() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 2).build().unwrap();
        let before = pool.worker_pids();
        let result = pool.apply(unwinds_out, 0);
        let Err(TaskError::WorkerDied { pid, status }) = result else {
            panic!("{result:?}");
        };
        // 75: the guard at the bottom of the worker ended it (not 0: destructors ran; not a
        // signal: an abort on the way).
        assert_eq!(status, ExitStatus::Exited(75));
        let survivor = before.iter().find(|&&p| p != pid).copied().unwrap();
        assert!(util::alive(survivor), "the other worker was not touched");
        assert!(pool.worker_pids().contains(&survivor));
        assert!(pool.map(square, 0..OTHERS).iter().all(Result::is_ok));
        assert_eq!(pool.stats().replaced_crashed, 1);
        pool.join();
    });
}

/// A worker stopped after its chunk completed, before it wrote the answer, still times out.
fn stopped_while_answering_times_out() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1)
            .task_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        match pool
            .apply_async(stops_before_answering, 1)
            .get_timeout(util::GUARD / 2)
        {
            Ok(result) => assert_eq!(result, Err(TaskError::TimedOut)),
            Err(_) => panic!("no answer, no timeout"),
        }
        assert_eq!(pool.apply(square, 3), Ok(9));
        assert_eq!(pool.stats().replaced_timed_out, 1);
        pool.join();
    });
}

/// Under `Fork`, a lock another thread of the parent held at the fork stays held in the
/// worker forever: a task taking it cannot finish, and `task_timeout` turns that into
/// `TimedOut` instead of a hang.
fn lock_held_at_fork_times_out() {
    util::each_method(|method| {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _guard = HELD_AT_FORK.lock().unwrap();
            holding.send(()).unwrap();
            let _ = released.recv();
        });
        held.recv().unwrap();
        let pool = util::pool_of(method, 1)
            .task_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let result = pool.apply(takes_held_lock, 1);
        match method {
            StartMethod::Fork => assert_eq!(result, Err(TaskError::TimedOut)),
            _ => assert_eq!(result, Ok(1)),
        }
        release.send(()).unwrap();
        holder.join().unwrap();
        pool.terminate();
    });
}

/// `join` and `terminate` called at once from two threads both return only once every worker
/// is reaped (the second caller does not return early while workers live).
fn concurrent_join_and_terminate() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1).build().unwrap();
        let (pending, _pid) = start_victim(&pool);
        std::thread::scope(|s| {
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let pool = &pool;
            let joiner = s.spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid_tx.send(unsafe { libc::gettid() }).unwrap();
                pool.join();
                assert!(
                    util::children().is_empty(),
                    "join returned with workers alive"
                );
            });
            let tid = tid_rx.recv().unwrap();
            util::eventually("the joiner to block in join", || {
                util::thread_state(tid) == Some('S')
            });
            pool.terminate();
            assert!(
                util::children().is_empty(),
                "terminate returned with workers alive"
            );
            joiner.join().unwrap();
        });
        assert_eq!(pending.get(), Err(TaskError::PoolClosed));
    });
}

/// The extreme task timeouts: `Duration::MAX` is no deadline (no overflow, no panic), and
/// `Duration::ZERO` fails the tasks (a tiny one may still win the race) with a typed error
/// instead of hanging or forking for ever.
fn timeout_extremes() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 2)
            .task_timeout(Duration::MAX)
            .build()
            .unwrap();
        assert!(
            pool.map_chunked(square, 0..100, 1)
                .iter()
                .all(Result::is_ok)
        );
        pool.join();
        let pool = util::pool_of(method, 2)
            .task_timeout(Duration::ZERO)
            .build()
            .unwrap();
        for result in pool.map_chunked(square, 0..10, 1) {
            assert!(
                matches!(
                    result,
                    Ok(_) | Err(TaskError::TimedOut | TaskError::PoolBroken)
                ),
                "{result:?}"
            );
        }
        // A worker ends either running a task (which then fails: at most one per task) or
        // before starting any (at most two in a row before an answer resets the count, three
        // break the pool): the forks are bounded by the work, never endless.
        let started = pool.stats().workers_started;
        assert!(started <= 2 + 10 + 2 * 10 + 3, "{started} workers started");
        drop(pool);
        assert!(util::children().is_empty());
    });
}

fn main() {
    // SAFETY: no other thread exists yet (the harness starts its watchdog below).
    unsafe { std::env::set_var(TICKETS_VAR, tickets_dir()) };
    util::run_both(
        &[
            ("panic_is_a_value", panic_is_a_value),
            ("sigkill_fail_task", sigkill_fail_task),
            ("sigkill_fail_pool", sigkill_fail_pool),
            ("abort_and_exit", abort_and_exit),
            ("stuck_task_times_out", stuck_task_times_out),
            (
                "stopped_idle_worker_is_replaced",
                stopped_idle_worker_is_replaced,
            ),
            (
                "garbled_answer_is_codec_error",
                garbled_answer_is_codec_error,
            ),
            (
                "broken_framing_is_codec_error",
                broken_framing_is_codec_error,
            ),
            (
                "broken_framing_breaks_fail_pool",
                broken_framing_breaks_fail_pool,
            ),
            ("max_tasks_per_child", max_tasks_per_child),
            ("terminate_while_running", terminate_while_running),
            ("terminate_under_imap", terminate_under_imap),
            ("huge_payloads", huge_payloads),
            (
                "initializer_panic_breaks_pool",
                initializer_panic_breaks_pool,
            ),
            (
                "hanging_initializer_breaks_pool",
                hanging_initializer_breaks_pool,
            ),
            (
                "task_exit_code_is_not_a_report",
                task_exit_code_is_not_a_report,
            ),
            (
                "dying_initializer_is_no_fork_storm",
                dying_initializer_is_no_fork_storm,
            ),
            (
                "healthy_worker_does_not_hide_a_fork_storm",
                healthy_worker_does_not_hide_a_fork_storm,
            ),
            (
                "no_close_range_still_closes_descriptors",
                no_close_range_still_closes_descriptors,
            ),
            ("panicking_payload_drop", panicking_payload_drop),
            (
                "nothing_unwinds_out_of_a_worker",
                nothing_unwinds_out_of_a_worker,
            ),
            (
                "stopped_while_answering_times_out",
                stopped_while_answering_times_out,
            ),
            ("lock_held_at_fork_times_out", lock_held_at_fork_times_out),
            (
                "concurrent_join_and_terminate",
                concurrent_join_and_terminate,
            ),
            ("timeout_extremes", timeout_extremes),
        ],
        &[],
    );
}
