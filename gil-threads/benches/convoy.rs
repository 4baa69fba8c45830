//! The convoy effect (bpo-7946, python/cpython#52194): round trips per second of a thread
//! echoing over a loopback socket, alone and with one CPU-bound thread beside it, under `Fair`
//! (CPython's algorithm), `Fifo` and `IoPriority` (the fix), and the **limit**: the same echo
//! beside a CPU-bound thread that holds a plain `Mutex`, which the echo takes once per round
//! trip and the CPU thread drops and retakes at every checkpoint. That limit pays for a lock
//! holder preempted by the OS, which no user-space hand-off can avoid. Beside them, the
//! **baseline**: the same echo beside a CPU-bound thread with which it shares nothing, which
//! only costs it the cores that thread occupies (no lock can do better).
//!
//! Each figure is a ratio, echo rate beside the CPU thread / echo rate alone. One echo thread,
//! started for the measurement under every subject (an interpreter thread, or a plain thread
//! for the limit), measures both, **interleaved**: 5 pairs of chunks, 200 round trips alone (the CPU thread
//! parked on a condition variable, outside the GIL) then a chunk beside it (the chunk starts
//! once the CPU thread has left its parking place), so both rates see the same external load
//! and the same placement of the threads on the cores, which on this VM moves the "alone"
//! rate by 3x or more from one moment to the next. Each measurement sums its chunks' round
//! trips and times; the ratio reported is the median of 21 measurements (the issue asks for
//! at least 5; each measurement starts new threads, which the scheduler places anew), with
//! the lowest and highest beside it; the subjects take turns within each round of
//! measurements. Two conditions: **quiet** (whatever else the machine
//! runs), and **loaded**, with two external CPU-bound processes on the machine's cores
//! (copies of this binary run with `--burn`, started here and killed by pid at the end).
//! Goals: `IoPriority` >= 0.8x quiet; loaded, >= 0.5x or >= 0.9x the limit, whichever is
//! lower. Prints a table (not a criterion bench) and the verdict on each goal.
//!
//! Run: `cargo bench -p gil-threads --bench convoy`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gil_threads::{Interpreter, Policy};

mod util;

/// Round trips per chunk alone (and beside a CPU thread under `IoPriority` and for the limit;
/// fewer under the other policies, where each round trip waits about one switch interval).
const CHUNK: u32 = 200;

/// Chunk pairs (alone, then beside the CPU thread) per measurement.
const CHUNKS: u32 = 5;

/// Measurements per subject and condition; the median ratio is reported. Each measurement
/// starts new threads, which the scheduler places anew on the cores, and under load some
/// placements cost any subject far more than others (see the README): 21 make the median a
/// figure of the subject, not of where its threads happened to land.
const REPS: usize = 21;

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

/// Pauses and resumes the CPU-bound thread beside the echo, so that one echo thread can
/// alternate "alone" and "beside" chunks: both see the same external load, the same
/// placement of the echo and server threads, the same everything but the CPU thread.
/// A paused CPU thread waits on a condition variable (inside `allow_threads` under a GIL):
/// it competes for nothing, as if it did not exist.
#[derive(Default)]
struct Pacer {
    /// The spinner's stop flag: set to make it leave its loop (pause or exit).
    halt: AtomicBool,
    /// What the spinner is told, and whether it is parked.
    state: Mutex<PacerState>,
    /// Signalled at every change of `state`.
    changed: Condvar,
}

/// The state guarded by `Pacer::state`.
#[derive(Default)]
struct PacerState {
    /// The spinner waits in `park`.
    parked: bool,
    /// The spinner may leave `park` and spin.
    run: bool,
    /// The spinner must return.
    exit: bool,
}

impl Pacer {
    /// The spinner's side: waits until told to run (true) or to exit (false).
    fn park(&self) -> bool {
        let mut st = self.state.lock().expect("never poisoned");
        st.parked = true;
        self.changed.notify_all();
        let mut st = self
            .changed
            .wait_while(st, |st| !st.run && !st.exit)
            .expect("never poisoned");
        st.run = false;
        st.parked = false;
        self.changed.notify_all();
        !st.exit
    }

    /// Stops the spinner and waits until it is parked.
    fn pause(&self) {
        self.halt.store(true, Ordering::Relaxed);
        let st = self.state.lock().expect("never poisoned");
        drop(self.changed.wait_while(st, |st| !st.parked));
    }

    /// Lets the parked spinner spin again, and waits until it has left `park` (so that a
    /// chunk beside it never starts before it competes).
    fn resume(&self) {
        let mut st = self.state.lock().expect("never poisoned");
        self.halt.store(false, Ordering::Relaxed);
        st.run = true;
        self.changed.notify_all();
        drop(self.changed.wait_while(st, |st| st.parked));
    }

    /// Makes the spinner return.
    fn exit(&self) {
        let mut st = self.state.lock().expect("never poisoned");
        self.halt.store(true, Ordering::Relaxed);
        st.exit = true;
        self.changed.notify_all();
    }
}

/// Echo round trips, alone and beside the CPU thread, summed over a measurement's chunks.
#[derive(Default)]
struct Tally {
    /// Round trips made alone, and the time they took.
    alone: (u32, Duration),
    /// Round trips made beside the CPU thread, and the time they took.
    beside: (u32, Duration),
}

impl Tally {
    /// Round trips per second alone, beside, and the ratio beside / alone.
    fn rates(&self) -> (f64, f64, f64) {
        let rate = |(n, t): (u32, Duration)| f64::from(n) / t.as_secs_f64();
        let (alone, beside) = (rate(self.alone), rate(self.beside));
        (alone, beside, beside / alone)
    }
}

/// What the echo side of a measurement does next.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Stop the CPU thread and wait until it is parked.
    Pause,
    /// Let the CPU thread spin again.
    Resume,
    /// Make round trip number `i`.
    RoundTrip(u32),
}

/// `chunks` pairs of an alone chunk of `alone` round trips and a beside chunk of `beside`
/// ones, each step done by `step`.
fn interleave(chunks: u32, (alone, beside): (u32, u32), mut step: impl FnMut(Step)) -> Tally {
    /// Times `n` round trips into `into`.
    fn chunk(n: u32, into: &mut (u32, Duration), step: &mut impl FnMut(Step)) {
        let start = Instant::now();
        for i in 0..n {
            step(Step::RoundTrip(i));
        }
        into.0 += n;
        into.1 += start.elapsed();
    }
    let mut tally = Tally::default();
    for _ in 0..chunks {
        step(Step::Pause);
        chunk(alone, &mut tally.alone, &mut step);
        step(Step::Resume);
        chunk(beside, &mut tally.beside, &mut step);
    }
    step(Step::Pause);
    tally
}

/// The request half of echo round trip number `i` over `s`.
fn send(s: &mut TcpStream, i: u32) {
    s.write_all(&i.to_le_bytes()).expect("write");
}

/// The reply half of an echo round trip over `s`.
fn receive(s: &mut TcpStream) {
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).expect("read");
}

/// An interpreter with `policy`: an echoing interpreter thread alternates chunks alone and
/// chunks beside one CPU-bound interpreter thread.
fn gil_tally(policy: Policy, addr: SocketAddr, chunks: u32, sizes: (u32, u32)) -> Tally {
    let interp = Interpreter::builder()
        .policy(policy)
        .build()
        .expect("valid");
    let pacer = Arc::new(Pacer::default());
    let cpu = {
        let pacer = Arc::clone(&pacer);
        interp.spawn(move |gil| {
            while gil.allow_threads(|| pacer.park()) {
                util::spin_until_stopped(gil, &pacer.halt, 1);
            }
        })
    };
    let echo = {
        let pacer = Arc::clone(&pacer);
        interp.spawn(move |gil| {
            let mut s = gil
                .allow_threads(|| TcpStream::connect(addr))
                .expect("connect");
            s.set_nodelay(true).expect("nodelay");
            interleave(chunks, sizes, |step| match step {
                // Not under the GIL: the CPU thread needs it to reach its next checkpoint,
                // or to start.
                Step::Pause => gil.allow_threads(|| pacer.pause()),
                Step::Resume => gil.allow_threads(|| pacer.resume()),
                // Two blocking calls, as Python's `sendall` and `recv`: each lets the GIL go.
                Step::RoundTrip(i) => {
                    gil.allow_threads(|| send(&mut s, i));
                    gil.allow_threads(|| receive(&mut s));
                    gil.checkpoint(); // interpreter code between requests
                }
            })
        })
    };
    let tally = echo.join();
    // Before looking at the echo's outcome: a CPU thread left parked would keep the
    // interpreter, and so the bench, from ending.
    pacer.exit();
    cpu.join().expect("cpu thread");
    tally.expect("echo thread")
}

/// Plain OS threads: one echoes, alternating chunks alone and chunks beside one that
/// computes (the same work per checkpoint as `util::spin_until_stopped`). With
/// `Shared::Mutex`, **the limit**: the CPU thread holds a `Mutex` while it computes and drops
/// and retakes it at every checkpoint, and the echo takes it once per round trip. With
/// `Shared::Nothing`, the **baseline**: the threads share no lock, so the echo loses only
/// the cores the CPU thread occupies.
fn plain_tally(addr: SocketAddr, chunks: u32, sizes: (u32, u32), shared: Shared) -> Tally {
    let lock = match shared {
        Shared::Mutex => Some(Arc::new(Mutex::new(0u64))),
        Shared::Nothing => None,
    };
    let pacer = Arc::new(Pacer::default());
    let cpu = {
        let (lock, pacer) = (lock.clone(), Arc::clone(&pacer));
        std::thread::spawn(move || {
            let mut x = 1u64;
            while pacer.park() {
                while !pacer.halt.load(Ordering::Relaxed) {
                    let held = lock.as_ref().map(|l| l.lock().expect("never poisoned"));
                    for _ in 0..100 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                    }
                    std::hint::black_box(x);
                    // The checkpoint: drop, then retake at the top of the loop.
                    drop(held);
                }
            }
        })
    };
    // The echo runs on a thread of its own, started for this measurement, as the GIL's echo
    // does (an interpreter thread), not on the bench's main thread.
    let echo = {
        let (lock, pacer) = (lock.clone(), Arc::clone(&pacer));
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            interleave(chunks, sizes, |step| match step {
                Step::Pause => pacer.pause(),
                Step::Resume => pacer.resume(),
                Step::RoundTrip(i) => {
                    send(&mut s, i);
                    receive(&mut s);
                    // The shared state touched per request.
                    if let Some(lock) = &lock {
                        *lock.lock().expect("never poisoned") += 1;
                    }
                }
            })
        })
    };
    let tally = echo.join();
    pacer.exit();
    cpu.join().expect("cpu thread");
    tally.expect("echo thread")
}

/// What the plain threads of `plain_tally` share.
#[derive(Debug, Clone, Copy)]
enum Shared {
    /// A `Mutex`, held by the CPU thread between checkpoints: the limit.
    Mutex,
    /// Nothing: the baseline.
    Nothing,
}

/// The median of `xs`.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// What is measured: a GIL policy, or plain threads sharing a mutex (the limit) or nothing.
#[derive(Debug, Clone, Copy)]
enum Subject {
    /// An interpreter with this policy.
    Gil(Policy),
    /// Plain OS threads.
    Plain(Shared),
}

/// One measurement of `subject`: its alone rate, beside rate and their ratio.
fn measure_once(subject: Subject, addr: SocketAddr, scale: u32) -> (f64, f64, f64) {
    // Fewer round trips where each one waits for a switch interval.
    let beside = match subject {
        Subject::Gil(Policy::IoPriority) | Subject::Plain(_) => CHUNK,
        Subject::Gil(Policy::Fair) => CHUNK / 10,
        Subject::Gil(Policy::Fifo) => CHUNK / 20,
    };
    let sizes = (CHUNK / scale, (beside / scale).max(1));
    let tally = match subject {
        Subject::Gil(policy) => gil_tally(policy, addr, CHUNKS, sizes),
        Subject::Plain(shared) => plain_tally(addr, CHUNKS, sizes, shared),
    };
    tally.rates()
}

/// For each subject, over `REPS` rounds: median alone rate, median beside rate, and the
/// median ratio and the lowest and highest ratio. The subjects take turns within each round,
/// so a drift in the machine's load (where the scheduler put the burners, another program
/// starting) weighs on every subject alike instead of on whichever was measured then.
fn measure(subjects: &[Subject], addr: SocketAddr, scale: u32) -> Vec<[f64; 5]> {
    let mut samples = vec![(Vec::new(), Vec::new(), Vec::new()); subjects.len()];
    for _ in 0..REPS {
        for (subject, (alone, busy, ratio)) in subjects.iter().zip(&mut samples) {
            let (a, b, r) = measure_once(*subject, addr, scale);
            alone.push(a);
            busy.push(b);
            ratio.push(r);
        }
    }
    samples
        .into_iter()
        .map(|(alone, busy, ratio)| {
            let lo = ratio.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ratio.iter().copied().fold(0.0, f64::max);
            [median(alone), median(busy), median(ratio), lo, hi]
        })
        .collect()
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

/// Which goal a condition's `IoPriority` ratio is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// >= 0.8x.
    Quiet,
    /// >= 0.5x or >= 0.9x the limit, whichever is lower.
    Loaded,
}

/// One table: every subject under the current condition, and the verdict on `IoPriority`.
fn table(condition: &str, goal: Goal, addr: SocketAddr, scale: u32) {
    println!("\n{condition} (load average {} at start)", load_average());
    println!(
        "{:<12} {:>13} {:>13} {:>8} {:>17}",
        "subject", "alone (rt/s)", "beside (rt/s)", "ratio", "[lowest, highest]"
    );
    let subjects = [
        Subject::Plain(Shared::Nothing),
        Subject::Plain(Shared::Mutex),
        Subject::Gil(Policy::Fair),
        Subject::Gil(Policy::Fifo),
        Subject::Gil(Policy::IoPriority),
    ];
    let mut limit = f64::NAN;
    for (subject, [alone, busy, ratio, lo, hi]) in
        subjects.into_iter().zip(measure(&subjects, addr, scale))
    {
        let name = match subject {
            Subject::Gil(policy) => format!("{policy:?}"),
            Subject::Plain(Shared::Mutex) => "Mutex limit".to_owned(),
            Subject::Plain(Shared::Nothing) => "No lock".to_owned(),
        };
        let of_limit = match subject {
            Subject::Gil(_) => format!("  ({:.2} of the limit)", ratio / limit),
            Subject::Plain(Shared::Mutex) => {
                limit = ratio;
                String::new()
            }
            Subject::Plain(Shared::Nothing) => String::new(),
        };
        println!(
            "{name:<12} {alone:>13.0} {busy:>13.0} {ratio:>7.3}x  [{lo:.3}, {hi:.3}]{of_limit}"
        );
        if let Subject::Gil(Policy::IoPriority) = subject {
            let wanted = match goal {
                Goal::Quiet => 0.8,
                Goal::Loaded => (0.9 * limit).min(0.5),
            };
            let verdict = if ratio >= wanted { "met" } else { "NOT met" };
            println!("goal: IoPriority >= {wanted:.3}x: {verdict}");
        }
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
        "convoy: echo round trips over loopback, 5 ms switch interval, {cores} cores; each ratio \
         is the median of {REPS} measurements of {CHUNKS} interleaved chunk pairs (alone, beside), \
         the subjects taking turns"
    );
    table("quiet", Goal::Quiet, addr, scale);
    let burners = start_burners();
    // Let the scheduler spread them before measuring.
    std::thread::sleep(Duration::from_millis(200));
    table(
        &format!("loaded: {BURNERS} external CPU-bound processes"),
        Goal::Loaded,
        addr,
        scale,
    );
    stop_burners(burners);
}
