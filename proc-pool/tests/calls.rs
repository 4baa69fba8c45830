//! The calls of a healthy pool: ordered and unordered results, chunking, the initializer,
//! shared jobs, statistics. Forks, so it runs alone (`harness = false`).

mod util;

use std::sync::atomic::{AtomicU32, Ordering};

use proc_pool::{CrashPolicy, Pool, TaskError, Wire, WireError};
use util::SumBelow;

/// How many items the map tests use.
const ITEMS: u64 = 10_000;

fn square(x: u64) -> u64 {
    x * x
}

fn worker_pid(_: u32) -> u32 {
    std::process::id()
}

/// Set by `init` in each worker.
static INITIALIZED: AtomicU32 = AtomicU32::new(0);

fn init() {
    INITIALIZED.store(42, Ordering::Relaxed);
}

fn read_init(_: ()) -> u32 {
    INITIALIZED.load(Ordering::Relaxed)
}

/// A type whose `Wire` impl is not symmetric: it encodes one byte and decodes eight.
#[derive(Debug, PartialEq)]
struct Lopsided;

impl Wire for Lopsided {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(1);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        u64::decode(input).map(|_| Lopsided)
    }
}

fn makes_lopsided(_: u64) -> Lopsided {
    Lopsided
}

fn takes_lopsided(_: Lopsided) -> u64 {
    0
}

/// A result that does not decode in the caller, and an input that does not decode in the
/// worker, are `Codec` errors for their task alone; the pool goes on.
fn codec_errors_are_values() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1).build().unwrap();
        assert!(matches!(
            pool.apply(makes_lopsided, 0),
            Err(TaskError::Codec(_))
        ));
        assert!(matches!(
            pool.apply(takes_lopsided, Lopsided),
            Err(TaskError::Codec(_))
        ));
        assert_eq!(pool.apply(square, 3), Ok(9));
        assert_eq!(pool.stats().workers_started, 1);
        pool.join();
    });
}

/// A pool reachable from tasks, to check what a task sees when it uses it (null when there is
/// none; a worker forked while it is set holds a copy of the pointer and of the pool).
static GLOBAL: std::sync::atomic::AtomicPtr<Pool> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Pending on `GLOBAL` while a forked copy of it runs `uses_global_pool`.
static PENDING: std::sync::Mutex<Option<proc_pool::AsyncResult<u64>>> = std::sync::Mutex::new(None);

/// Pending on `GLOBAL` as well, for `get_timeout`.
static PENDING_TIMED: std::sync::Mutex<Option<proc_pool::AsyncResult<u64>>> =
    std::sync::Mutex::new(None);

/// An `imap` of `GLOBAL`'s with one task answered and one in flight.
type HalfImap = proc_pool::Imap<'static, String, u64, std::vec::IntoIter<String>>;

/// The `imap` of `forked_copy_refuses`.
static PENDING_IMAP: std::sync::Mutex<Option<HalfImap>> = std::sync::Mutex::new(None);

/// Waits for one byte on the FIFO at `path` (an empty path: returns at once).
fn reads_fifo(path: String) -> u64 {
    if path.is_empty() {
        return 0;
    }
    let mut byte = [0u8; 1];
    let mut fifo = std::fs::File::open(path).unwrap();
    std::io::Read::read_exact(&mut fifo, &mut byte).unwrap();
    u64::from(byte[0])
}

/// How many descriptor numbers `uses_global_pool` fills with its own file.
const FILLED_FDS: usize = 256;

/// In a worker forked after `GLOBAL` was set: uses the worker's copy of that pool. Every
/// descriptor number the copy's waker could name is first taken by one file of the task's own
/// (dups of a memfd), which must stay empty. Returns what went wrong, if anything.
fn uses_global_pool(x: u64) -> Vec<String> {
    let mut wrong = Vec::new();
    // SAFETY: non-null only while the test owns the boxed pool (see `forked_copy_refuses`);
    // in a worker, the pointer names the worker's copy of that memory.
    let Some(copy) = (unsafe { GLOBAL.load(Ordering::Relaxed).as_ref() }) else {
        return vec!["the worker has no copy of the pool".into()];
    };
    // SAFETY: a NUL-terminated name and no flags; the result is checked.
    let memfd = unsafe { libc::memfd_create(c"proc-pool-user-file".as_ptr(), 0) };
    assert!(memfd >= 0);
    // SAFETY: dup of an open descriptor; each result is closed below.
    let dups: Vec<i32> = (0..FILLED_FDS)
        .map(|_| unsafe { libc::dup(memfd) })
        .collect();
    let got = copy.apply(square, x);
    if got != Err(TaskError::PoolBroken) {
        wrong.push(format!("apply gave {got:?}"));
    }
    // A pending result and an `imap` with a task in flight, both of the pool of which this is
    // a copy: their answers go to the test process, never here.
    if let Some(mut pending) = PENDING.lock().unwrap().take() {
        // As a future too: it resolves at once instead of waiting for ever.
        let cx = &mut std::task::Context::from_waker(std::task::Waker::noop());
        let polled = std::future::Future::poll(std::pin::Pin::new(&mut pending), cx);
        if polled != std::task::Poll::Ready(Err(TaskError::PoolBroken)) {
            wrong.push(format!("AsyncResult polled gave {polled:?}"));
        }
        let ready = pending.ready();
        let got = pending.get();
        if !ready || got != Err(TaskError::PoolBroken) {
            wrong.push(format!("AsyncResult: ready {ready}, get gave {got:?}"));
        }
    }
    if let Some(pending) = PENDING_TIMED.lock().unwrap().take() {
        match pending.get_timeout(util::GUARD) {
            Ok(Err(TaskError::PoolBroken)) => {}
            other => wrong.push(format!("AsyncResult::get_timeout gave {other:?}")),
        }
    }
    if let Some(mut it) = PENDING_IMAP.lock().unwrap().take() {
        let rest: Vec<_> = it.by_ref().collect();
        if rest != vec![Err(TaskError::PoolBroken)] {
            wrong.push(format!("the pending imap gave {rest:?}"));
        }
    }
    let tail: Vec<_> = copy.imap(square, 0..).take(10).collect();
    if tail != vec![Err(TaskError::PoolBroken)] {
        wrong.push(format!("imap gave {tail:?}"));
    }
    if copy.worker_pids() != Vec::<u32>::new() {
        wrong.push("worker_pids named processes".into());
    }
    copy.join();
    copy.terminate();
    // Dropping the copy (this worker's own memory) must close none of this process's files.
    // SAFETY: the box is this worker's copy of the test's; no other task of this worker runs
    // after this one (its pool is joined), so nothing uses the pointer again.
    drop(unsafe { Box::from_raw(GLOBAL.swap(std::ptr::null_mut(), Ordering::Relaxed)) });
    // SAFETY: F_GETFD on descriptor numbers; a closed one just fails.
    let closed = dups
        .iter()
        .filter(|&&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1)
        .count();
    if closed != 0 {
        wrong.push(format!("{closed} of the task's descriptors were closed"));
    }
    // SAFETY: `stat` is a valid out-pointer; fstat on an open descriptor.
    let size = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(memfd, &mut stat);
        stat.st_size
    };
    if size != 0 {
        wrong.push(format!(
            "the copy wrote {size} bytes into the task's own file"
        ));
    }
    for fd in dups.into_iter().chain([memfd]) {
        // SAFETY: each was opened above and is closed once.
        unsafe { libc::close(fd) };
    }
    wrong
}

fn expected() -> Vec<Result<u64, TaskError>> {
    (0..ITEMS).map(|x| Ok(x * x)).collect()
}

/// `map` returns every result, in input order, with auto and explicit chunk sizes.
fn map_is_ordered() {
    let pool = util::pool(2);
    assert_eq!(pool.map(square, 0..ITEMS), expected());
    for chunksize in [1, 7, 10_000, 50_000] {
        assert_eq!(
            pool.map_chunked(square, 0..ITEMS, chunksize),
            expected(),
            "chunksize {chunksize}"
        );
    }
    assert_eq!(pool.map(square, Vec::new()), Vec::new());
    pool.join();
}

/// Chunking follows Python's rule, and a chunk is the unit sent: with chunk size n, each
/// worker answers whole chunks.
fn chunking() {
    assert_eq!(proc_pool::auto_chunksize(100_000, 2), 12_500);
    assert_eq!(proc_pool::auto_chunksize(10, 2), 2);
    assert_eq!(proc_pool::auto_chunksize(0, 2), 1);
    let pool = util::pool(2);
    let pids: Vec<u32> = pool
        .map_chunked(worker_pid, 0..100, 10)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for chunk in pids.chunks(10) {
        assert!(
            chunk.iter().all(|p| *p == chunk[0]),
            "a chunk ran in one worker: {chunk:?}"
        );
    }
    let stats = pool.stats();
    assert_eq!(stats.tasks_sent, 100);
    pool.join();
}

/// `imap` streams results in order; `imap_unordered` yields every result exactly once.
fn imap_orders() {
    let pool = util::pool(2);
    let ordered: Vec<_> = pool.imap(square, 0..ITEMS).collect();
    assert_eq!(ordered, expected());
    let chunked: Vec<_> = pool.imap_chunked(square, 0..ITEMS, 64).collect();
    assert_eq!(chunked, expected());
    let mut unordered: Vec<u64> = pool
        .imap_unordered(square, 0..ITEMS)
        .map(Result::unwrap)
        .collect();
    unordered.sort_unstable();
    assert_eq!(unordered, (0..ITEMS).map(|x| x * x).collect::<Vec<_>>());
    // Dropping an iterator half-way leaves the pool usable.
    let first: Vec<_> = pool.imap(square, 0..ITEMS).take(10).collect();
    assert_eq!(first.len(), 10);
    assert_eq!(pool.apply(square, 3), Ok(9));
    pool.join();
}

/// `imap` pulls its input lazily, a bounded window ahead of what was consumed: an endless
/// input works, and memory stays bounded.
fn imap_is_lazy() {
    let pool = util::pool(2);
    let pulled = std::cell::Cell::new(0u64);
    let input = (0..).inspect(|_| pulled.set(pulled.get() + 1));
    let first: Vec<u64> = pool
        .imap(square, input)
        .take(100)
        .map(Result::unwrap)
        .collect();
    assert_eq!(first, (0..100).map(|x| x * x).collect::<Vec<_>>());
    let window = (pool.workers() * (proc_pool::PREFETCH + 1)) as u64;
    assert!(
        pulled.get() <= 100 + window,
        "pulled {} inputs",
        pulled.get()
    );
    pool.join();
}

/// `apply` and `apply_async` give the value; `get_timeout` gives the handle back or the value.
fn apply_and_async() {
    let pool = util::pool(2);
    assert_eq!(pool.apply(square, 12), Ok(144));
    let handles: Vec<_> = (0..100).map(|x| pool.apply_async(square, x)).collect();
    for (x, h) in handles.into_iter().enumerate() {
        let x = x as u64;
        match h.get_timeout(util::GUARD) {
            Ok(r) => assert_eq!(r, Ok(x * x)),
            Err(_) => panic!("task {x} not done within the guard"),
        }
    }
    let h = pool.apply_async(square, 5);
    let h = loop {
        if h.ready() {
            break h;
        }
        std::thread::yield_now();
    };
    assert_eq!(h.get(), Ok(25));
    pool.join();
}

fn blocks_until_closed(path: String) -> u64 {
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::open(path).unwrap(), &mut buf).unwrap();
    buf.len() as u64
}

/// `get_timeout` with the extreme durations: zero gives a pending handle back at once, and
/// `Duration::MAX` means no deadline (no overflow, no panic).
fn get_timeout_extremes() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1).build().unwrap();
        let dir = std::env::temp_dir().join(format!("proc-pool-calls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gate");
        let _ = std::fs::remove_file(&path);
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let pending = pool.apply_async(blocks_until_closed, path.to_str().unwrap().to_owned());
        let pending = match pending.get_timeout(std::time::Duration::ZERO) {
            Err(pending) => pending,
            Ok(result) => panic!("the task cannot be done yet: {result:?}"),
        };
        // Opening the FIFO for writing waits for the task to open it; closing it ends the task.
        drop(std::fs::OpenOptions::new().write(true).open(&path).unwrap());
        match pending.get_timeout(std::time::Duration::MAX) {
            Ok(result) => assert_eq!(result, Ok(0)),
            Err(_) => panic!("no deadline cannot time out"),
        }
        pool.join();
        let _ = std::fs::remove_file(path);
    });
}

/// The initializer runs in every worker before its tasks.
fn initializer_runs() {
    let pool = util::builder()
        .workers(2)
        .initializer(init)
        .build()
        .unwrap();
    assert!(
        pool.map_chunked(read_init, vec![(); 50], 1)
            .into_iter()
            .all(|r| r == Ok(42))
    );
    assert_eq!(INITIALIZED.load(Ordering::Relaxed), 0, "not in the parent");
    pool.join();
}

/// Shared jobs run in workers with the blocking context, in input order.
fn run_jobs() {
    let pool = util::pool(2);
    let jobs: Vec<SumBelow> = (0..20).map(|i| SumBelow(i * 1_000)).collect();
    let want: Vec<_> = (0..20u64)
        .map(|i| Ok((0..i * 1_000).sum::<u64>()))
        .collect();
    assert_eq!(pool.run_all(jobs), want);
    assert_eq!(pool.run(SumBelow(10)), Ok(45));
    pool.join();
}

/// The workspace's standard jobs give their known outputs when run in workers.
fn standard_workloads() {
    use concurrency_shared::workloads::{PrimeCount, Sleeper, Workload};
    let pool = util::pool(2);
    let primes = PrimeCount::split(0, 200_000, 8);
    let want: Vec<_> = primes.iter().map(|j| Ok(j.expected())).collect();
    assert_eq!(pool.run_all(primes), want);
    let naps = Sleeper::new(3, std::time::Duration::from_millis(1));
    assert_eq!(pool.run(naps), Ok(naps.expected()));
    pool.join();
}

/// Several threads share one pool; each gets its own results, in its own order.
fn concurrent_callers() {
    let pool = util::pool(2);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let pool = &pool;
            s.spawn(move || {
                let base = t * 1_000_000;
                let got = pool.map_chunked(square, base..base + 2_000, 3);
                assert_eq!(
                    got,
                    (base..base + 2_000).map(|x| Ok(x * x)).collect::<Vec<_>>()
                );
                assert_eq!(pool.apply(square, t), Ok(t * t));
            });
        }
    });
    pool.join();
}

/// After `close`, new work fails with `PoolClosed`; `join` finishes queued work first.
fn close_and_join() {
    let pool = util::pool(2);
    let pending = pool.apply_async(square, 4);
    pool.close();
    assert_eq!(pool.apply(square, 2), Err(TaskError::PoolClosed));
    pool.join();
    assert_eq!(pending.get(), Ok(16));
    assert!(pool.worker_pids().is_empty());
    assert!(util::children().is_empty(), "workers reaped");
}

/// The counters add up after a join.
fn statistics() {
    let pool = util::pool(2);
    let n = 1_000;
    assert!(pool.map_chunked(square, 0..n, 10).iter().all(Result::is_ok));
    pool.join();
    let s = pool.stats();
    assert_eq!(s.tasks_sent, n);
    assert_eq!(s.tasks_done, n);
    assert_eq!(s.tasks_failed, 0);
    assert_eq!(s.workers_started, 2);
    assert!(s.bytes_out > n * 8 && s.bytes_in > n * 8, "{s:?}");
}

/// `worker_pids` names the current workers: under `Fork`, this process's children (under
/// `ForkServer`, the server's).
fn pids_are_children() {
    let pool = util::pool(3);
    let mut pids = pool.worker_pids();
    pids.sort_unstable();
    assert_eq!(pids.len(), 3);
    if util::method() == proc_pool::StartMethod::Fork {
        assert_eq!(pids, util::children());
    }
    drop(pool);
    assert!(util::children().is_empty());
}

/// A pool used inside a worker (a forked copy of its handle) refuses every call with
/// `PoolBroken` instead of waiting for a manager thread that does not exist there, and never
/// writes its waker's descriptor number, which in the worker may name a file of the task's.
/// The workers that use the copy are forked after the pool was stored where tasks find it
/// (a worker forked before would see no pool at all).
fn forked_copy_refuses() {
    let global = Box::into_raw(Box::new(util::pool(1)));
    // The global pool's one worker is kept busy reading a FIFO that nobody writes yet, so that
    // its results are still pending in the workers forked below.
    let fifo = std::env::temp_dir().join(format!("proc-pool-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let name = std::ffi::CString::new(fifo.to_string_lossy().into_owned()).unwrap();
    // SAFETY: a NUL-terminated path; the result is checked.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let path = fifo.to_string_lossy().into_owned();
    {
        // SAFETY: made by `Box::into_raw` above and freed only at the end of this test, after
        // the imap borrowing it is gone.
        let global: &'static Pool = unsafe { &*global };
        let mut it = global.imap(reads_fifo, vec![String::new(), path.clone()]);
        assert_eq!(it.next(), Some(Ok(0)));
        *PENDING_IMAP.lock().unwrap() = Some(it);
        *PENDING.lock().unwrap() = Some(global.apply_async(reads_fifo, path.clone()));
        *PENDING_TIMED.lock().unwrap() = Some(global.apply_async(reads_fifo, path.clone()));
    }
    GLOBAL.store(global, Ordering::Relaxed);
    util::each_method(|method| {
        let pool = util::pool_of(method, 1)
            .task_timeout(util::GUARD / 4)
            .build()
            .unwrap();
        let wrong = pool.apply(uses_global_pool, 3).unwrap();
        match method {
            proc_pool::StartMethod::Fork => assert_eq!(wrong, Vec::<String>::new()),
            // Workers not forked from this process have no copy of it.
            _ => assert_eq!(wrong, ["the worker has no copy of the pool"]),
        }
        pool.join();
    });
    GLOBAL.store(std::ptr::null_mut(), Ordering::Relaxed);
    // Three readers, one after another: a descriptor open for both ends never blocks and keeps
    // a writer present for each of them.
    let mut writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    std::io::Write::write_all(&mut writer, &[1, 2, 3]).unwrap();
    let mut it = PENDING_IMAP.lock().unwrap().take().unwrap();
    assert_eq!(it.next().map(|r| r.is_ok()), Some(true));
    assert_eq!(it.next(), None);
    drop(it);
    assert!(PENDING.lock().unwrap().take().unwrap().get().is_ok());
    let timed = PENDING_TIMED.lock().unwrap().take().unwrap();
    assert!(matches!(timed.get_timeout(util::GUARD), Ok(Ok(_))));
    drop(writer);
    let _ = std::fs::remove_file(&fifo);
    // SAFETY: made by `Box::into_raw` above; no other reference remains in this process.
    let global = unsafe { Box::from_raw(global) };
    assert_eq!(global.apply(square, 3), Ok(9));
    global.terminate();
}

/// The window `imap` keeps in flight on a pool of `workers`.
fn imap_window(workers: usize) -> usize {
    workers * (proc_pool::PREFETCH + 1)
}

/// Checks the rest of an `imap` over an endless input after the pool stopped taking work: it
/// ends within the window (no input pulled once refused), its last item says why, and every
/// other item is a result or `also`.
#[track_caller]
fn ends_after_refusal(rest: &[Result<u64, TaskError>], why: TaskError, also: TaskError) {
    assert!(rest.len() <= imap_window(2) + 1, "{} items", rest.len());
    assert_eq!(rest.last(), Some(&Err(why)));
    for item in &rest[..rest.len() - 1] {
        assert!(item.is_ok() || item == &Err(also.clone()), "{item:?}");
    }
}

/// `imap` over an endless input ends after `close`, after `terminate`, and on a broken pool,
/// instead of pulling items for ever to fail them.
fn imap_ends_when_pool_refuses() {
    util::each_method(|method| {
        let bound = 4 * imap_window(2);
        let pool = util::pool_of(method, 2).build().unwrap();
        let mut it = pool.imap(square, 0..);
        assert_eq!(it.next(), Some(Ok(0)));
        pool.close();
        let rest: Vec<_> = it.by_ref().take(bound).collect();
        ends_after_refusal(&rest, TaskError::PoolClosed, TaskError::PoolClosed);
        assert_eq!(it.next(), None);
        pool.join();

        let pool = util::pool_of(method, 2).build().unwrap();
        let mut it = pool.imap_unordered(square, 0..);
        assert!(it.next().is_some_and(|r| r.is_ok()));
        pool.terminate();
        let rest: Vec<_> = it.take(bound).collect();
        ends_after_refusal(&rest, TaskError::PoolClosed, TaskError::PoolClosed);

        let pool = util::pool_of(method, 2)
            .crash_policy(CrashPolicy::FailPool)
            .build()
            .unwrap();
        assert!(matches!(
            pool.apply(exits, 0),
            Err(TaskError::WorkerDied { .. })
        ));
        let rest: Vec<_> = pool.imap(square, 0..).take(bound).collect();
        ends_after_refusal(&rest, TaskError::PoolBroken, TaskError::PoolBroken);
        assert_eq!(rest.len(), 1, "nothing is submitted to a broken pool");
    });
}

fn exits(_: u64) -> u64 {
    // SAFETY: `_exit` has no preconditions; a task that ends its worker.
    unsafe { libc::_exit(3) }
}

fn main() {
    util::run_both(
        &[
            ("map_is_ordered", map_is_ordered),
            ("chunking", chunking),
            ("imap_orders", imap_orders),
            ("imap_is_lazy", imap_is_lazy),
            ("apply_and_async", apply_and_async),
            ("get_timeout_extremes", get_timeout_extremes),
            ("initializer_runs", initializer_runs),
            ("run_jobs", run_jobs),
            ("standard_workloads", standard_workloads),
            ("concurrent_callers", concurrent_callers),
            ("close_and_join", close_and_join),
            ("statistics", statistics),
            ("pids_are_children", pids_are_children),
            ("forked_copy_refuses", forked_copy_refuses),
            ("imap_ends_when_pool_refuses", imap_ends_when_pool_refuses),
            ("codec_errors_are_values", codec_errors_are_values),
        ],
        &[],
    );
}
