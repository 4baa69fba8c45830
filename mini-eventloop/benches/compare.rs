//! mini-eventloop against tokio (current-thread) and smol (`LocalExecutor` + async-io), all
//! measured in the same run, on the same thread, with the same workloads:
//!
//! ```text
//! cargo bench -p mini-eventloop --bench compare
//! ```
//!
//! A bench binary rather than criterion because two of the figures (peak RSS of 100,000
//! sleeping tasks, and timer overshoot percentiles) need a fresh process per runtime and a
//! distribution rather than a mean. Each figure is the median of several runs, taken round by
//! round across the runtimes (see [`interleaved`]); the whole thing takes well under a minute.
//! Goals are ratios against the peers, printed beside the figures, never asserted.
//!
//! The `join_all` figure compares this crate's `join_all` with the `futures` crate's, both on
//! mini-eventloop (tokio and smol have no `join_all` of their own).

mod util;

use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::{interleaved, median};

/// The environment variable that selects a child process's role.
const ROLE_VAR: &str = "MINI_EVENTLOOP_BENCH_ROLE";
/// Tasks per run of the spawn benchmark.
const SPAWNS: u32 = 100_000;
/// Yields per task per run of the ping-pong benchmark.
const YIELDS: u32 = 100_000;
/// `join_all` benchmark: (children, yields per child) for a wide and a narrow shape.
const JOIN_SHAPES: [(usize, u32); 2] = [(1_000, 10), (16, 1_000)];
/// Runs per micro-benchmark (the median is reported).
const RUNS: usize = 9;
/// Echo: connections, round trips per connection, payload bytes.
const ECHO_CONNECTIONS: usize = 100;
const ECHO_ROUND_TRIPS: usize = 200;
const ECHO_PAYLOAD: usize = 64;
/// Echo runs (the median is reported).
const ECHO_RUNS: usize = 9;
/// Sleeping tasks in the many-timers benchmark.
const SLEEPERS: usize = 100_000;
/// Child processes per runtime for the many-timers benchmark.
const SLEEP_RUNS: usize = 3;
/// Sequential `sleep(1 ms)` calls measured for the overshoot distribution.
const OVERSHOOT_SAMPLES: usize = 500;

/// The three runtimes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rt {
    Mini,
    Tokio,
    Smol,
}

impl Rt {
    const ALL: [Rt; 3] = [Rt::Mini, Rt::Tokio, Rt::Smol];

    fn name(self) -> &'static str {
        match self {
            Rt::Mini => "mini-eventloop",
            Rt::Tokio => "tokio",
            Rt::Smol => "smol",
        }
    }

    fn parse(s: &str) -> Rt {
        Rt::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .expect("runtime name")
    }
}

/// Runs `$body` to completion on a fresh runtime of kind `rt`, with `$spawn!(future)` being
/// that runtime's local spawn: it spawns at once and gives a future of the output.
macro_rules! on {
    ($rt:expr, |$spawn:ident| $body:expr) => {
        match $rt {
            Rt::Mini => {
                let rt = mini_eventloop::Runtime::new().unwrap();
                rt.block_on(async {
                    #[allow(unused_macros)]
                    macro_rules! $spawn {
                        ($f:expr) => {{
                            let handle = mini_eventloop::spawn($f);
                            async move { handle.await.unwrap() }
                        }};
                    }
                    $body
                })
            }
            Rt::Tokio => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async {
                    #[allow(unused_macros)]
                    macro_rules! $spawn {
                        ($f:expr) => {{
                            let handle = tokio::task::spawn_local($f);
                            async move { handle.await.unwrap() }
                        }};
                    }
                    $body
                })
            }
            Rt::Smol => {
                let ex = Rc::new(smol::LocalExecutor::new());
                #[allow(unused_variables)]
                let ex2 = ex.clone();
                async_io::block_on(ex.run(async move {
                    #[allow(unused_macros)]
                    macro_rules! $spawn {
                        ($f:expr) => {
                            ex2.spawn($f)
                        };
                    }
                    $body
                }))
            }
        }
    };
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// ns per spawn + await of an empty task, one run.
fn spawn_await(rt: Rt) -> f64 {
    on!(rt, |spawn| {
        let start = Instant::now();
        for _ in 0..SPAWNS {
            spawn!(async {}).await;
        }
        start.elapsed().as_nanos() as f64 / f64::from(SPAWNS)
    })
}

/// A yield for each runtime.
async fn yield_once(rt: Rt) {
    match rt {
        Rt::Mini => mini_eventloop::yield_now().await,
        Rt::Tokio => tokio::task::yield_now().await,
        Rt::Smol => smol::future::yield_now().await,
    }
}

/// ns per yield, two tasks yielding to each other, one run.
fn yield_ping_pong(rt: Rt) -> f64 {
    on!(rt, |spawn| {
        let start = Instant::now();
        let a = spawn!(async move {
            for _ in 0..YIELDS {
                yield_once(rt).await;
            }
        });
        let b = spawn!(async move {
            for _ in 0..YIELDS {
                yield_once(rt).await;
            }
        });
        futures::join!(a, b);
        start.elapsed().as_nanos() as f64 / f64::from(2 * YIELDS)
    })
}

/// Round trips per second: an echo server and `ECHO_CONNECTIONS` clients on one thread, one
/// run.
fn tcp_echo(rt: Rt) -> f64 {
    let secs = match rt {
        Rt::Mini => echo_mini(),
        Rt::Tokio => echo_tokio(),
        Rt::Smol => echo_smol(),
    };
    (ECHO_CONNECTIONS * ECHO_ROUND_TRIPS) as f64 / secs
}

fn echo_mini() -> f64 {
    use mini_eventloop::net::{TcpListener, TcpStream};
    use mini_eventloop::spawn;
    let rt = mini_eventloop::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                spawn(async move {
                    let mut buf = [0; ECHO_PAYLOAD];
                    while s.read_exact(&mut buf).await.is_ok() {
                        s.write_all(&buf).await.unwrap();
                    }
                });
            }
        });
        let start = Instant::now();
        let clients: Vec<_> = (0..ECHO_CONNECTIONS)
            .map(|_| {
                spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut buf = [7; ECHO_PAYLOAD];
                    for _ in 0..ECHO_ROUND_TRIPS {
                        s.write_all(&buf).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        start.elapsed().as_secs_f64()
    })
}

fn echo_tokio() -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0; ECHO_PAYLOAD];
                    while s.read_exact(&mut buf).await.is_ok() {
                        s.write_all(&buf).await.unwrap();
                    }
                });
            }
        });
        let start = Instant::now();
        let clients: Vec<_> = (0..ECHO_CONNECTIONS)
            .map(|_| {
                tokio::spawn(async move {
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut buf = [7; ECHO_PAYLOAD];
                    for _ in 0..ECHO_ROUND_TRIPS {
                        s.write_all(&buf).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        start.elapsed().as_secs_f64()
    })
}

fn echo_smol() -> f64 {
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    let ex = Rc::new(smol::LocalExecutor::new());
    let ex2 = ex.clone();
    async_io::block_on(ex.run(async move {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let ex3 = ex2.clone();
        ex2.spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                ex3.spawn(async move {
                    let mut buf = [0; ECHO_PAYLOAD];
                    while s.read_exact(&mut buf).await.is_ok() {
                        s.write_all(&buf).await.unwrap();
                    }
                })
                .detach();
            }
        })
        .detach();
        let start = Instant::now();
        let clients: Vec<_> = (0..ECHO_CONNECTIONS)
            .map(|_| {
                ex2.spawn(async move {
                    let mut s = smol::net::TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut buf = [7; ECHO_PAYLOAD];
                    for _ in 0..ECHO_ROUND_TRIPS {
                        s.write_all(&buf).await.unwrap();
                        s.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for c in clients {
            c.await;
        }
        start.elapsed().as_secs_f64()
    }))
}

/// A 1 ms sleep for each runtime.
async fn sleep_for(rt: Rt, d: Duration) {
    match rt {
        Rt::Mini => mini_eventloop::sleep(d).await,
        Rt::Tokio => tokio::time::sleep(d).await,
        Rt::Smol => {
            smol::Timer::after(d).await;
        }
    }
}

/// Child role: `SLEEPERS` tasks each sleeping 1 ms; prints "wall_ms peak_rss_kb". Each
/// runtime spawns its own timer future directly (no shared enum that would size every task
/// for the largest of the three timers).
fn sleepers_child(rt: Rt) {
    let nap = Duration::from_millis(1);
    let wall = match rt {
        Rt::Mini => on!(rt, |spawn| {
            let start = Instant::now();
            let handles: Vec<_> = (0..SLEEPERS)
                .map(|_| mini_eventloop::spawn(mini_eventloop::sleep(nap)))
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            start.elapsed()
        }),
        Rt::Tokio => on!(rt, |spawn| {
            let start = Instant::now();
            let handles: Vec<_> = (0..SLEEPERS)
                .map(|_| tokio::task::spawn_local(tokio::time::sleep(nap)))
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            start.elapsed()
        }),
        Rt::Smol => on!(rt, |spawn| {
            let start = Instant::now();
            let handles: Vec<_> = (0..SLEEPERS)
                .map(|_| {
                    spawn!(async move {
                        smol::Timer::after(nap).await;
                    })
                })
                .collect();
            for h in handles {
                h.await;
            }
            start.elapsed()
        }),
    };
    println!("{} {}", wall.as_secs_f64() * 1e3, peak_rss_kb());
}

/// This process's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Median wall (ms) and peak RSS (MiB) of `SLEEPERS` sleeping tasks, each run in a fresh
/// child process so one runtime's heap cannot inflate another's figure.
fn sleepers(rt: Rt) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap();
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..SLEEP_RUNS {
        let out = Command::new(&exe)
            .env(ROLE_VAR, format!("sleepers:{}", rt.name()))
            .output()
            .unwrap();
        assert!(out.status.success(), "child failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut parts = text.split_whitespace();
        walls.push(parts.next().unwrap().parse::<f64>().unwrap());
        rss.push(parts.next().unwrap().parse::<f64>().unwrap() / 1024.0);
    }
    (median(walls), median(rss))
}

/// p50 and p99 of how late a `sleep(1 ms)` wakes, in ms.
fn overshoot(rt: Rt) -> (f64, f64) {
    let mut late = on!(rt, |spawn| {
        let mut late = Vec::with_capacity(OVERSHOOT_SAMPLES);
        for _ in 0..OVERSHOOT_SAMPLES {
            let start = Instant::now();
            sleep_for(rt, Duration::from_millis(1)).await;
            late.push((start.elapsed().as_secs_f64() - 1e-3) * 1e3);
        }
        late
    });
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&late, 0.5), percentile(&late, 0.99))
}

/// ns per child poll of `join_all` over `children` futures that each yield `yields` times, on
/// mini-eventloop: this crate's `join_all` (`ours == true`) or the `futures` crate's; one run.
fn join_all_cost(ours: bool, children: usize, yields: u32) -> f64 {
    let rt = mini_eventloop::Runtime::new().unwrap();
    rt.block_on(async {
        let child = move |i: usize| async move {
            for _ in 0..yields {
                mini_eventloop::yield_now().await;
            }
            i
        };
        let start = Instant::now();
        let out = if ours {
            mini_eventloop::join_all((0..children).map(child)).await
        } else {
            futures::future::join_all((0..children).map(child)).await
        };
        let took = start.elapsed().as_nanos() as f64;
        assert_eq!(out.len(), children);
        took / (children as f64 * f64::from(yields + 1))
    })
}

fn main() {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        if let Some(rt) = role.strip_prefix("sleepers:") {
            sleepers_child(Rt::parse(rt));
        }
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument selects benchmarks by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    println!("mini-eventloop vs tokio current-thread vs smol LocalExecutor (same run)\n");
    if wanted("spawn") {
        let v = interleaved(&Rt::ALL, RUNS, spawn_await);
        println!(
            "spawn+await     ns/task     mini {:7.1}  tokio {:7.1}  smol {:7.1}  ratio vs faster peer {:.2}",
            v[0],
            v[1],
            v[2],
            v[0] / v[1].min(v[2])
        );
    }
    if wanted("yield") {
        let v = interleaved(&Rt::ALL, RUNS, yield_ping_pong);
        println!(
            "yield ping-pong ns/yield    mini {:7.1}  tokio {:7.1}  smol {:7.1}  ratio vs tokio {:.2}",
            v[0],
            v[1],
            v[2],
            v[0] / v[1]
        );
    }
    if wanted("join_all") {
        for (children, yields) in JOIN_SHAPES {
            let v = interleaved(&[true, false], RUNS, |ours| {
                join_all_cost(ours, children, yields)
            });
            let (ours, theirs) = (v[0], v[1]);
            println!(
                "join_all {children:>5} x {yields:>4} yields ns/child poll  mini {ours:7.1}  futures::join_all {theirs:7.1}  ratio {:.2}",
                ours / theirs
            );
        }
    }
    if wanted("echo") {
        let v = interleaved(&Rt::ALL, ECHO_RUNS, tcp_echo);
        println!(
            "tcp echo        krt/s       mini {:7.1}  tokio {:7.1}  smol {:7.1}  ratio vs tokio {:.2}",
            v[0] / 1e3,
            v[1] / 1e3,
            v[2] / 1e3,
            v[0] / v[1]
        );
    }
    if wanted("sleep") {
        let v: Vec<(f64, f64)> = Rt::ALL.iter().map(|&r| sleepers(r)).collect();
        println!(
            "100k x sleep1ms wall ms     mini {:7.1}  tokio {:7.1}  smol {:7.1}  ratio vs tokio {:.2}",
            v[0].0,
            v[1].0,
            v[2].0,
            v[0].0 / v[1].0
        );
        println!(
            "100k x sleep1ms peak MiB    mini {:7.1}  tokio {:7.1}  smol {:7.1}  ratio vs smol {:.2}",
            v[0].1,
            v[1].1,
            v[2].1,
            v[0].1 / v[2].1
        );
    }
    if wanted("overshoot") {
        let v: Vec<(f64, f64)> = Rt::ALL.iter().map(|&r| overshoot(r)).collect();
        println!(
            "sleep(1ms) late p50 ms      mini {:7.3}  tokio {:7.3}  smol {:7.3}",
            v[0].0, v[1].0, v[2].0
        );
        println!(
            "sleep(1ms) late p99 ms      mini {:7.3}  tokio {:7.3}  smol {:7.3}",
            v[0].1, v[1].1, v[2].1
        );
    }
}
