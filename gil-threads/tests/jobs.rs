//! The shared `Job` contract on interpreter threads: `spawn_job`, `run_jobs`, and `GilCtx`
//! releasing the GIL around blocking calls.

mod util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use gil_threads::{Ctx, Interpreter, Job, JoinError, Policy};
use util::POLICIES;

/// Counts to `n` with a checkpoint at each step.
struct Count(u64);

impl Job for Count {
    type Output = u64;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
        let mut n = 0;
        for _ in 0..self.0 {
            cx.checkpoint().await;
            n += 1;
        }
        n
    }
}

/// Panics when asked to.
struct Explode;

impl Job for Explode {
    type Output = u64;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
        cx.checkpoint().await;
        panic!("exploded")
    }
}

/// Echo round trips against a loopback server, plus a sleep.
struct Echo {
    /// The echo server.
    addr: std::net::SocketAddr,
    /// Round trips to make.
    round_trips: u32,
}

impl Job for Echo {
    type Output = u32;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u32 {
        cx.sleep(Duration::from_millis(1)).await;
        let mut stream = cx.connect(self.addr).await.expect("connect");
        let mut buf = [0u8; 4];
        for i in 0..self.round_trips {
            cx.write_all(&mut stream, &i.to_le_bytes())
                .await
                .expect("write");
            cx.read_exact(&mut stream, &mut buf).await.expect("read");
            assert_eq!(u32::from_le_bytes(buf), i);
        }
        self.round_trips
    }
}

/// Starts a loopback echo server for `connections` connections on its own OS thread.
fn echo_server(connections: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for _ in 0..connections {
            let (mut s, _) = listener.accept().expect("accept");
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// `spawn_job` runs a job on an interpreter thread and gives its output.
#[test]
fn spawn_job_runs() {
    let interp = Interpreter::new();
    assert_eq!(interp.spawn_job(Arc::new(Count(1_000))).join(), Ok(1_000));
}

/// `run_jobs` returns every output in input order under every policy; a panicking job gives
/// `Panicked` without stopping the others.
#[test]
fn run_jobs_in_order() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let out = interp.run_jobs((0..20).map(|i| Count(i * 100)).collect(), 3);
        assert_eq!(
            out,
            (0..20).map(|i| Ok(i * 100)).collect::<Vec<_>>(),
            "{policy:?}"
        );
        let out = interp.run_jobs(vec![Explode, Explode], 1);
        assert_eq!(out, vec![Err(JoinError::Panicked("exploded".into())); 2]);
        assert!(interp.run_jobs(Vec::<Count>::new(), 4).is_empty());
    }
}

/// Network jobs on several threads complete: each blocking call releases the GIL (four
/// threads blocked in `read` at once would otherwise deadlock the echo traffic of the others).
#[test]
fn network_jobs_release_the_gil() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let addr = echo_server(4);
        let jobs = (0..4)
            .map(|_| Echo {
                addr,
                round_trips: 50,
            })
            .collect();
        let out = interp.run_jobs(jobs, 4);
        assert_eq!(out, vec![Ok(50); 4], "{policy:?}");
    }
}

/// Jobs left when a daemon... (non-daemon workers): after shutdown, `run_jobs` reports
/// `ShuttingDown` for every job, since no worker can start.
#[test]
fn run_jobs_after_shutdown() {
    let interp = util::interpreter(Policy::Fair);
    interp.shutdown().unwrap();
    let out = interp.run_jobs(vec![Count(1), Count(2)], 2);
    assert_eq!(out, vec![Err(JoinError::ShuttingDown); 2]);
}
