//! `accept` under `EMFILE`: the process runs out of descriptors while connections wait in the
//! backlog; the listener backs off on its timer and resumes once descriptors are freed, and
//! the loop's statistics show the failed attempts bounded by elapsed time over the back-off,
//! not a spin.
//!
//! It lowers the process's `RLIMIT_NOFILE`, so it runs alone: `harness = false`, its own
//! `main`, which prints a closing line like the harness does.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::{ACCEPT_BACKOFF, Runtime, sleep, spawn, stats, timeout};

/// Connections waiting in the backlog.
const CONNECTIONS: usize = 32;
/// Descriptors left free under the lowered limit: fewer than the connections, so accept hits
/// `EMFILE` several times.
const HEADROOM: u64 = 4;
/// Back-offs to observe before each release of descriptors.
const BACKOFFS_PER_RELEASE: u64 = 2;

/// Descriptors open in this process.
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// Sets the soft open-file limit.
fn set_nofile(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the duration of the call.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = soft;
    // SAFETY: `lim` is a valid `rlimit` with soft <= hard (we only lower it or restore it).
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

fn accept_survives_emfile() {
    let rt = Runtime::new().unwrap();
    let original = {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `set_nofile`.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        lim.rlim_cur
    };
    rt.block_on(async {
        timeout(util::HANG_GUARD, async {
            let listener = TcpListener::bind(util::any_port()).unwrap();
            let addr = listener.local_addr().unwrap();
            // Loopback connects complete in the kernel's backlog without an accept.
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            set_nofile(open_fds() + HEADROOM);
            let start = Instant::now();
            let before = stats();

            let held = Rc::new(RefCell::new(Vec::new()));
            // Frees the held descriptors each time the listener has backed off a few times.
            let releaser = {
                let held = held.clone();
                spawn(async move {
                    let mut seen = before.accept_backoffs;
                    loop {
                        sleep(ACCEPT_BACKOFF / 4).await;
                        let now = stats().accept_backoffs;
                        if now >= seen + BACKOFFS_PER_RELEASE {
                            held.borrow_mut().clear();
                            seen = now;
                        }
                    }
                })
            };
            for _ in 0..CONNECTIONS {
                let (stream, _) = listener.accept().await.unwrap();
                held.borrow_mut().push(stream);
            }
            releaser.abort();
            let elapsed = start.elapsed();
            let after = stats();
            set_nofile(original);

            let backoffs = after.accept_backoffs - before.accept_backoffs;
            let attempts = after.accept_attempts - before.accept_attempts;
            let time_bound = (elapsed.as_nanos() / ACCEPT_BACKOFF.as_nanos()) as u64 + 1;
            assert!(backoffs >= BACKOFFS_PER_RELEASE, "EMFILE was never hit");
            assert!(
                backoffs <= time_bound,
                "{backoffs} back-offs in {elapsed:?}: more than one per {ACCEPT_BACKOFF:?}"
            );
            // Every attempt is a success, an EMFILE (one per back-off) or a WouldBlock
            // (at most one per readiness event).
            let io_events = after.io_events - before.io_events;
            assert!(
                attempts <= CONNECTIONS as u64 + backoffs + io_events + 1,
                "{attempts} accept attempts for {CONNECTIONS} connections: a spin"
            );
            println!(
                "    {CONNECTIONS} accepted in {elapsed:?}: {attempts} attempts, {backoffs} \
                 back-offs (bound {time_bound})"
            );

            // The listener still works normally afterwards.
            held.borrow_mut().clear();
            drop(clients);
            let server = spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                s.write_all(b"ok").await.unwrap();
            });
            let mut c = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0; 2];
            c.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ok");
            server.await.unwrap();
            let _ = Duration::ZERO;
        })
        .await
        .expect("accept_emfile hung");
    });
}

fn main() {
    println!("running 1 test");
    accept_survives_emfile();
    println!("test accept_survives_emfile ... ok");
    println!("\ntest result: ok. 1 passed, 0 failed");
}
