//! The convoy effect (bpo-7946, python/cpython#52194): round trips per second of a thread
//! echoing over a loopback socket, alone and with one CPU-bound thread beside it, under `Fair`
//! (CPython's algorithm) and `IoPriority` (the fix). Goal: the fix keeps >= 0.5x the alone
//! rate. Prints a table (not a criterion bench).
//!
//! Run: `cargo bench -p gil-threads --bench convoy`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gil_threads::{Interpreter, Policy};

mod util;

/// Round trips per run alone (and beside a CPU thread under `IoPriority`; fewer under the
/// other policies, where each round trip waits about one switch interval).
const ROUND_TRIPS: u32 = 1_000;

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

/// Repetitions of each measurement; the median is reported (the machine is shared).
const REPS: usize = 5;

/// The median of `xs`.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 20 } else { 1 };
    let addr = echo_server();
    println!("convoy: echo round trips over loopback, 5 ms switch interval, median of {REPS} runs");
    println!(
        "{:<12} {:>14} {:>18} {:>8}",
        "policy", "alone (rt/s)", "with 1 CPU (rt/s)", "ratio"
    );
    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        // Fewer round trips where each one waits for a switch interval.
        let busy_trips = match policy {
            Policy::IoPriority => ROUND_TRIPS,
            Policy::Fair => ROUND_TRIPS / 5,
            Policy::Fifo => ROUND_TRIPS / 10,
        } / scale;
        let (mut alone, mut busy, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPS {
            let a = rate(policy, addr, 0, ROUND_TRIPS / scale);
            let b = rate(policy, addr, 1, busy_trips);
            alone.push(a);
            busy.push(b);
            ratio.push(b / a);
        }
        println!(
            "{:<12} {:>14.0} {:>18.0} {:>7.3}x",
            format!("{policy:?}"),
            median(alone),
            median(busy),
            median(ratio)
        );
    }
}
