//! A CPU-bound thread and an I/O-bound thread share one GIL, under each policy.
//!
//! ```text
//! cargo run --release -p gil-threads --example cpu_vs_io
//! ```
//!
//! The I/O thread echoes small messages over a loopback socket (a server on 127.0.0.1, port
//! 0); the CPU thread counts primes with a checkpoint per candidate. Under `Fair` (CPython's
//! algorithm) the I/O thread waits up to a switch interval for the GIL after every read: the
//! convoy effect. `IoPriority` lets it ask for the GIL at once.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gil_threads::{Interpreter, Policy};

/// Echo round trips the I/O thread makes.
const ROUND_TRIPS: u32 = 200;

/// Whether `n` is prime (deliberately naive: CPU work).
fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });

    for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
        let interp = Interpreter::builder()
            .policy(policy)
            .build()
            .expect("valid settings");
        let stop = Arc::new(AtomicBool::new(false));
        let cpu_stop = Arc::clone(&stop);
        let cpu = interp.thread_builder().name("cpu").spawn(move |gil| {
            let mut primes = 0u64;
            let mut n = 0u64;
            while !cpu_stop.load(Ordering::Relaxed) {
                primes += u64::from(is_prime(n));
                n += 1;
                gil.checkpoint();
            }
            primes
        });
        let io = interp
            .thread_builder()
            .name("io")
            .spawn(move |gil| -> std::io::Result<f64> {
                let mut stream = gil.allow_threads(|| TcpStream::connect(addr))?;
                stream.set_nodelay(true)?;
                let start = Instant::now();
                let mut buf = [0u8; 4];
                for i in 0..ROUND_TRIPS {
                    gil.allow_threads(|| stream.write_all(&i.to_le_bytes()))?;
                    gil.allow_threads(|| stream.read_exact(&mut buf))?;
                }
                Ok(f64::from(ROUND_TRIPS) / start.elapsed().as_secs_f64())
            });
        let rate = io.join().expect("the io thread finished")?;
        stop.store(true, Ordering::Relaxed);
        let primes = cpu.join().expect("the cpu thread finished");
        let stats = interp.stats();
        println!(
            "{:<10}: io {rate:>8.0} round trips/s, cpu found {primes:>7} primes; \
             switches {}, forced {}, drop requests {}",
            format!("{policy:?}"),
            stats.interpreter.switches,
            stats.interpreter.forced_switches,
            stats.interpreter.drop_requests,
        );
    }
    Ok(())
}
