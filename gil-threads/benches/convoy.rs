//! The convoy effect (bpo-7946, python/cpython#52194): round trips per second of a thread
//! echoing over a loopback socket, alone and with one CPU-bound thread beside it, under `Fair`
//! (CPython's algorithm), `Fifo` and `IoPriority` (the fix), and the **limit**: the same echo
//! beside a CPU-bound thread that holds a plain `Mutex`, which the echo takes once per round
//! trip and the CPU thread drops and retakes at every checkpoint. That limit pays for a lock
//! holder preempted by the OS, which no user-space hand-off can avoid.
//!
//! Each figure is a ratio, echo rate beside the CPU thread / echo rate alone, both measured
//! under the same conditions, median of 5. Two conditions: **quiet** (whatever else the
//! machine runs), and **loaded**, with two external CPU-bound processes on the machine's
//! cores (copies of this binary run with `--burn`, started here and killed by pid at the end).
//! Goals: `IoPriority` >= 0.8x quiet; loaded, >= 0.5x or >= 0.9x the limit, whichever is
//! lower. Prints a table (not a criterion bench).
//!
//! Run: `cargo bench -p gil-threads --bench convoy`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gil_threads::{Interpreter, Policy};

mod util;

/// Round trips per run alone (and beside a CPU thread under `IoPriority`; fewer under the
/// other policies, where each round trip waits about one switch interval).
const ROUND_TRIPS: u32 = 1_000;

/// External CPU-bound processes in the loaded condition.
const BURNERS: usize = 2;

/// A loopback echo server on a plain OS thread (outside any interpreter).
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            s.set_nodelay(true).ok();
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Round trips per second of one echoing interpreter thread, with `cpu_threads` CPU-bound
/// threads beside it.
fn rate(policy: Policy, addr: SocketAddr, cpu_threads: usize, round_trips: u32) -> f64 {
    let interp = Interpreter::builder()
        .policy(policy)
        .build()
        .expect("valid");
    let stop = Arc::new(AtomicBool::new(false));
    let cpu: Vec<_> = (0..cpu_threads)
        .map(|_| {
            let stop = Arc::clone(&stop);
            interp.spawn(move |gil| util::spin_until_stopped(gil, &stop, 1))
        })
        .collect();
    let echo = interp.spawn(move |gil| {
        let mut s = gil
            .allow_threads(|| TcpStream::connect(addr))
            .expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; 16];
        let start = Instant::now();
        for i in 0..round_trips {
            gil.allow_threads(|| s.write_all(&i.to_le_bytes()))
                .expect("write");
            gil.allow_threads(|| s.read_exact(&mut buf[..4]))
                .expect("read");
            gil.checkpoint(); // interpreter code between requests
        }
        start.elapsed()
    });
    let elapsed = echo.join().expect("echo thread");
    stop.store(true, Ordering::Relaxed);
    for c in cpu {
        c.join().expect("cpu thread");
    }
    f64::from(round_trips) / elapsed.as_secs_f64()
}

/// The limit: round trips per second of a plain OS thread echoing and taking `lock` once per
/// round trip, with (`cpu`) or without a plain OS thread that holds `lock` while it computes
/// and drops and retakes it at every checkpoint (the same work per checkpoint as
/// `util::spin_until_stopped`).
fn mutex_rate(addr: SocketAddr, cpu: bool, round_trips: u32) -> f64 {
    let lock = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let burner = cpu.then(|| {
        let (lock, stop) = (Arc::clone(&lock), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                let mut held = lock.lock().expect("never poisoned");
                for _ in 0..100 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                }
                *held = std::hint::black_box(x);
                // The checkpoint: drop, then retake at the top of the loop.
                drop(held);
            }
        })
    });
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = [0u8; 16];
    let start = Instant::now();
    for i in 0..round_trips {
        s.write_all(&i.to_le_bytes()).expect("write");
        s.read_exact(&mut buf[..4]).expect("read");
        *lock.lock().expect("never poisoned") += 1; // the shared state touched per request
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(burner) = burner {
        burner.join().expect("cpu thread");
    }
    f64::from(round_trips) / elapsed.as_secs_f64()
}

/// Repetitions of each measurement; the median is reported (the machine is shared).
const REPS: usize = 5;

/// The median of `xs`.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// What is measured: a GIL policy, or the plain-mutex limit.
#[derive(Debug, Clone, Copy)]
enum Subject {
    /// An interpreter with this policy.
    Gil(Policy),
    /// Plain OS threads and a `Mutex`.
    MutexLimit,
}

/// Median alone rate, median busy rate and median ratio of `subject`.
fn measure(subject: Subject, addr: SocketAddr, scale: u32) -> (f64, f64, f64) {
    // Fewer round trips where each one waits for a switch interval.
    let busy_trips = match subject {
        Subject::Gil(Policy::IoPriority) | Subject::MutexLimit => ROUND_TRIPS,
        Subject::Gil(Policy::Fair) => ROUND_TRIPS / 5,
        Subject::Gil(Policy::Fifo) => ROUND_TRIPS / 10,
    } / scale;
    let (mut alone, mut busy, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPS {
        let (a, b) = match subject {
            Subject::Gil(policy) => (
                rate(policy, addr, 0, ROUND_TRIPS / scale),
                rate(policy, addr, 1, busy_trips),
            ),
            Subject::MutexLimit => (
                mutex_rate(addr, false, ROUND_TRIPS / scale),
                mutex_rate(addr, true, busy_trips),
            ),
        };
        alone.push(a);
        busy.push(b);
        ratio.push(b / a);
    }
    (median(alone), median(busy), median(ratio))
}

/// Starts the external CPU-bound processes: copies of this binary in `--burn` mode.
fn start_burners() -> Vec<Child> {
    let me = std::env::current_exe().expect("the bench binary");
    (0..BURNERS)
        .map(|_| {
            Command::new(&me)
                .arg("--burn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("start a burner")
        })
        .collect()
}

/// An external CPU-bound process: spins until killed, or until its parent is gone (a bench
/// that died must not leave it spinning), or after `BURN_LIMIT` at most.
fn burn() -> ! {
    let parent = std::os::unix::process::parent_id();
    let start = Instant::now();
    let mut x = 1u64;
    loop {
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        if std::os::unix::process::parent_id() != parent || start.elapsed() > BURN_LIMIT {
            std::process::exit(0);
        }
    }
}

/// The longest a burner runs, whatever happens to the bench.
const BURN_LIMIT: Duration = Duration::from_secs(600);

/// Kills the burners by pid and reaps them.
fn stop_burners(burners: Vec<Child>) {
    for mut burner in burners {
        // Already gone is fine; the wait reaps it either way.
        let _ = burner.kill();
        let _ = burner.wait();
    }
}

/// The 1-minute load average, for the record.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// One table: every subject under the current condition.
fn table(condition: &str, addr: SocketAddr, scale: u32) {
    println!("\n{condition} (load average {} at start)", load_average());
    println!(
        "{:<12} {:>14} {:>18} {:>8}",
        "subject", "alone (rt/s)", "with 1 CPU (rt/s)", "ratio"
    );
    let mut limit = None;
    for subject in [
        Subject::MutexLimit,
        Subject::Gil(Policy::Fair),
        Subject::Gil(Policy::Fifo),
        Subject::Gil(Policy::IoPriority),
    ] {
        let (alone, busy, ratio) = measure(subject, addr, scale);
        let name = match subject {
            Subject::Gil(policy) => format!("{policy:?}"),
            Subject::MutexLimit => "Mutex limit".to_owned(),
        };
        let of_limit = match (subject, limit) {
            (Subject::Gil(_), Some(limit)) => format!("  ({:.2} of the limit)", ratio / limit),
            _ => String::new(),
        };
        if let Subject::MutexLimit = subject {
            limit = Some(ratio);
        }
        println!("{name:<12} {alone:>14.0} {busy:>18.0} {ratio:>7.3}x{of_limit}");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--burn") {
        burn();
    }
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 20 } else { 1 };
    let addr = echo_server();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "convoy: echo round trips over loopback, 5 ms switch interval, median of {REPS} runs, \
         {cores} cores"
    );
    table("quiet", addr, scale);
    let burners = start_burners();
    // Let the scheduler spread them before measuring.
    std::thread::sleep(Duration::from_millis(200));
    table(
        &format!("loaded: {BURNERS} external CPU-bound processes"),
        addr,
        scale,
    );
    stop_burners(burners);
}
