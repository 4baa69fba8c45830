//! The convoy effect, recorded: an echo thread making short blocking round trips beside a
//! CPU-bound thread, under one policy, with every GIL event written to a file.
//!
//! ```text
//! cargo run --release -p gil-threads --features trace --example convoy_trace -- fair convoy-fair.txt
//! cargo run --release -p gil-threads --features trace --example convoy_trace -- iopriority convoy-io.txt
//! ```
//!
//! The echo thread (lane 0) makes `ROUND_TRIPS` round trips to an echo server on 127.0.0.1
//! (port 0), each one `allow_threads` around a write and a read of 4 bytes; the CPU thread
//! (lane 1) counts primes with a checkpoint per candidate until the echo thread is done. Under
//! `fair` (CPython's algorithm) each return from I/O waits about a switch interval (5 ms) for
//! the GIL before it may even ask for it; under `iopriority` it asks at once and is handed the
//! GIL at the CPU thread's next checkpoint.
//!
//! # The file
//!
//! UTF-8 text, one record per line, fields separated by one space. Lines starting with `#`
//! are the header, in this order:
//!
//! ```text
//! # gil-threads convoy trace v1
//! # policy fair                   (fair | iopriority)
//! # switch_interval_ns 5000000
//! # round_trips 40                (echo round trips made)
//! # origin_ns 81234567890123      (CLOCK_MONOTONIC ns of time 0 below)
//! # lane 0 echo                   (one line per lane: number, role)
//! # lane 1 cpu
//! # dropped 0                     (events that did not fit the recorder; 0 = complete)
//! ```
//!
//! then one event per line, sorted by start time:
//!
//! ```text
//! <lane> <kind> <start_ns> <end_ns>
//! 1 gil_held 10450 5114876
//! 0 drop_request 5104331 5104331
//! ```
//!
//! - `lane`: the thread's number (`trace::Lane::Thread(n)`), named in the header;
//! - `kind`: `gil_held` (span: the thread held the GIL), `gil_wait` (span: from asking for the
//!   GIL to getting it), `drop_request` (instant: this waiting thread asked the holder to drop
//!   the GIL), `forced_switch` (instant: this holder dropped the GIL at a checkpoint on
//!   request);
//! - `start_ns`, `end_ns`: nanoseconds since `origin_ns` (equal for an instant).
//!
//! Time 0 is taken just before the threads start. The echo thread's time inside
//! `allow_threads` (its I/O) is the gap between its `gil_held` and its next `gil_wait`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gil_threads::trace::{Kind, Lane, Recorder, now_ns};
use gil_threads::{DEFAULT_SWITCH_INTERVAL, Interpreter, Policy};

/// Echo round trips: enough to see the pattern repeat, few enough to run in well under a
/// second under `fair` (about one switch interval each).
const ROUND_TRIPS: u32 = 40;

/// Room for every event of a run (a few per round trip).
const CAPACITY: usize = 100_000;

/// The lanes' roles, in the order the threads are spawned (which numbers them).
const LANES: [&str; 2] = ["echo", "cpu"];

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether `n` is prime (deliberately naive: CPU work).
fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// A kind's name in the file.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::GilHeld => "gil_held",
        Kind::GilWait => "gil_wait",
        Kind::DropRequest => "drop_request",
        Kind::ForcedSwitch => "forced_switch",
        // gil-threads records no other kind.
        _ => "other",
    }
}

/// Starts an echo server on 127.0.0.1, port 0, for one connection; its address.
fn echo_server() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 64];
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    Ok(addr)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (policy, name, path) = match args.as_slice() {
        [p, path] if p == "fair" => (Policy::Fair, p, path),
        [p, path] if p == "iopriority" => (Policy::IoPriority, p, path),
        _ => {
            eprintln!("usage: convoy_trace fair|iopriority OUTPUT_FILE");
            return ExitCode::from(2);
        }
    };
    match run(policy, name, path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convoy_trace: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the convoy under `policy` and writes its events to `path`.
fn run(policy: Policy, name: &str, path: &str) -> std::io::Result<()> {
    let addr = echo_server()?;
    let recorder = Arc::new(Recorder::with_capacity(CAPACITY));
    let interp = Interpreter::builder()
        .policy(policy)
        .recorder(Arc::clone(&recorder))
        .build()
        .expect("valid settings");
    let origin = now_ns();
    let stop = Arc::new(AtomicBool::new(false));
    // Stops the CPU thread however the echo thread ends (an error, a panic, or never starting:
    // the guard is dropped with the closure), or the interpreter's shutdown would wait for it
    // for ever.
    let stop_cpu = StopOnDrop(Arc::clone(&stop));
    let echo = interp
        .thread_builder()
        .name(LANES[0])
        .spawn(move |gil| -> std::io::Result<f64> {
            let _stop_cpu = stop_cpu;
            let mut stream = gil.allow_threads(|| TcpStream::connect(addr))?;
            stream.set_nodelay(true)?;
            let start = Instant::now();
            let mut buf = [0u8; 4];
            for i in 0..ROUND_TRIPS {
                gil.allow_threads(|| {
                    stream.write_all(&i.to_le_bytes())?;
                    stream.read_exact(&mut buf)
                })?;
            }
            Ok(f64::from(ROUND_TRIPS) / start.elapsed().as_secs_f64())
        });
    let cpu = interp.thread_builder().name(LANES[1]).spawn(move |gil| {
        let (mut primes, mut n) = (0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            primes += u64::from(is_prime(n));
            n += 1;
            gil.checkpoint();
        }
        primes
    });
    let rate = echo.join().expect("the echo thread finished")?;
    cpu.join().expect("the cpu thread finished");
    drop(interp);

    let mut events = recorder.events();
    events.sort_by_key(|e| (e.start_ns, e.end_ns));
    let mut out = String::new();
    writeln!(out, "# gil-threads convoy trace v1").unwrap();
    writeln!(out, "# policy {name}").unwrap();
    writeln!(
        out,
        "# switch_interval_ns {}",
        DEFAULT_SWITCH_INTERVAL.as_nanos()
    )
    .unwrap();
    writeln!(out, "# round_trips {ROUND_TRIPS}").unwrap();
    writeln!(out, "# origin_ns {origin}").unwrap();
    for (n, role) in LANES.iter().enumerate() {
        writeln!(out, "# lane {n} {role}").unwrap();
    }
    writeln!(out, "# dropped {}", recorder.dropped()).unwrap();
    for e in &events {
        let Lane::Thread(lane) = e.lane else { continue };
        writeln!(
            out,
            "{lane} {} {} {}",
            kind_name(e.kind),
            e.start_ns.saturating_sub(origin),
            e.end_ns.saturating_sub(origin)
        )
        .unwrap();
    }
    std::fs::write(path, out)?;
    println!(
        "{name}: {rate:.0} echo round trips/s beside the CPU thread; {} events written to {path}",
        events.len()
    );
    Ok(())
}
