//! Defect 5 under the fork server: locks held by the parent's other threads never reach a
//! worker. A parent thread prints every 200 µs (std's stdout lock) and the program's
//! `#[global_allocator]` takes a `Mutex` on every allocation while another thread allocates
//! without pause; a `ForkServer` pool that starts a fresh worker for every task (so hundreds
//! of forks happen while those locks are taken) must answer every task. (The same scenario
//! under `Fork`, with a 1 s timeout, failed 149 of 300 tasks on the machine this was written
//! on: a lock held at the fork stays held in the child.) The scenario runs in a re-executed child whose
//! stdout is discarded; forks, so it runs alone (`harness = false`).

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use proc_pool::{Pool, StartMethod};

/// Tasks in the scenario, each in a fresh worker.
const TASKS: u64 = 300;

/// An accounting allocator: every allocation and free takes one process-wide `Mutex`, as
/// allocators that count bytes per tag do.
struct LockingAllocator;

/// The allocator's lock and the bytes it counts.
static ALLOCATED: Mutex<usize> = Mutex::new(0);

// SAFETY: delegates every call to the system allocator unchanged; the lock only guards a
// counter.
unsafe impl GlobalAlloc for LockingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut bytes = ALLOCATED.lock().unwrap_or_else(|e| e.into_inner());
        *bytes += layout.size();
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut bytes = ALLOCATED.lock().unwrap_or_else(|e| e.into_inner());
        *bytes = bytes.saturating_sub(layout.size());
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: LockingAllocator = LockingAllocator;

/// Allocates and prints in the worker: both locks are needed there.
fn allocate_and_print(x: u64) -> u64 {
    let v: Vec<u64> = (0..100).map(|i| i + x).collect();
    println!("task {x}");
    v.iter().sum()
}

/// Role: the scenario; reports its failures on stderr and in its exit code.
fn scenario() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let printer = std::thread::spawn(|| {
        while !STOP.load(Ordering::Relaxed) {
            println!("parent tick");
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let allocator = std::thread::spawn(|| {
        while !STOP.load(Ordering::Relaxed) {
            std::hint::black_box(vec![0u8; 64]);
        }
    });
    let pool = Pool::builder()
        .workers(2)
        .start_method(StartMethod::ForkServer)
        .max_tasks_per_child(1)
        // A guard only: a worker stuck on an inherited lock fails instead of hanging.
        .task_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let results = pool.map_chunked(allocate_and_print, 0..TASKS, 1);
    let failures = results
        .iter()
        .zip(0..TASKS)
        .filter(|(r, x)| **r != Ok(allocate_and_print_expected(*x)))
        .count();
    let started = pool.stats().workers_started;
    pool.join();
    STOP.store(true, Ordering::Relaxed);
    printer.join().unwrap();
    allocator.join().unwrap();
    eprintln!("failures: {failures}, workers started: {started}");
    std::process::exit(if failures == 0 { 0 } else { 1 });
}

/// What `allocate_and_print(x)` returns.
fn allocate_and_print_expected(x: u64) -> u64 {
    (0..100).map(|i| i + x).sum()
}

/// Every task answers while the parent's printing thread and locking allocator are busy,
/// each in a fresh worker forked by the server.
fn parent_locks_never_reach_server_workers() {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(util::ROLE_VAR, "scenario")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("failures: 0,"), "{report}");
    let started: u64 = report
        .rsplit("workers started: ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(started >= TASKS, "a fresh worker per task: {report}");
}

fn main() {
    util::run(
        &[(
            "parent_locks_never_reach_server_workers",
            parent_locks_never_reach_server_workers,
        )],
        &[("scenario", scenario)],
    );
}
