//! `stress_connections()` clients (about 9,700 here), each with one request held by the
//! fixture's barrier and then answered after a 50 ms delay: every client gets its own answer,
//! and the fixture saw every request pending at once.
//!
//! Also: with every descriptor in use, the fixture pauses accepting instead of spinning, and
//! recovers; and a dropped fixture's port refuses connections.
//!
//! It raises the open-file limit, holds two descriptors per client and later exhausts them
//! all, so it runs alone: a `harness = false` test with its own `main`, running its checks one
//! after the other and printing the closing `N passed, N failed` line.
//! The check is structural (counts), never a time; the guard only turns a hang into a failure.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig, FixtureStats};
use concurrency_shared::stress_connections;

/// Threads that connect, send and read for the clients. Each has one blocking connect in
/// flight at a time, far below the ~1,000 the listener's backlog (`somaxconn` 4,096) allows.
const CLIENT_THREADS: usize = 4;

/// The fixture's answer delay, applied after the barrier opens.
const DELAY: Duration = Duration::from_millis(50);

/// How long the whole test may take before it counts as hung.
const GUARD: Duration = Duration::from_secs(240);

/// One check of this binary: its name and body. A body returns the fixture's final stats.
type Check = (&'static str, fn() -> io::Result<FixtureStats>);

/// The checks, run one after the other (never concurrently: each needs the process's
/// descriptors to itself).
const CHECKS: [Check; 3] = [
    ("every_client_gets_its_answer", || {
        every_client_gets_its_answer(stress_connections())
    }),
    (
        "accept_pauses_when_out_of_descriptors",
        accept_pauses_when_out_of_descriptors,
    ),
    ("drop_closes_the_listener", drop_closes_the_listener),
];

fn main() -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in CHECKS {
        match run_guarded(check) {
            Ok(stats) => {
                eprintln!("{name}: {stats:?}");
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(why) => {
                println!("test {name} ... FAILED: {why}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs `check` on its own thread, turning a panic, an error or a hang past [`GUARD`] into a
/// failure message. (After a hang the process exits with the stuck thread still running.)
fn run_guarded(check: fn() -> io::Result<FixtureStats>) -> Result<FixtureStats, String> {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        // If the check panics instead, the channel disconnects and that is the failure.
        let _ = done_tx.send(check());
    });
    match done_rx.recv_timeout(GUARD) {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(e)) => Err(format!("an I/O error: {e}")),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("no result within {GUARD:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the check panicked".to_owned()),
    }
}

/// With every descriptor of the process in use, the fixture's `accept` fails with `EMFILE`:
/// it pauses accepting (counted) instead of spinning or dying, and once descriptors are free
/// again it accepts the waiting client and answers it.
fn accept_pauses_when_out_of_descriptors() -> io::Result<FixtureStats> {
    let fixture = Fixture::start(FixtureConfig::new())?;
    // Take every free descriptor, then give exactly one back for the client's socket: the
    // connection completes in the listener's backlog, but the server has no descriptor to
    // accept it with. No other thread of this process opens descriptors meanwhile.
    let mut hoard = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => hoard.push(file),
            Err(e) if e.raw_os_error() == Some(EMFILE) => break,
            Err(e) => return Err(e),
        }
    }
    hoard.pop();
    let mut client = Client::connect(fixture.addr())?;
    client.stream().set_read_timeout(Some(GUARD))?;
    client.send(b"after the drought")?;
    let start = Instant::now();
    while fixture.stats().accept_pauses == 0 {
        assert!(start.elapsed() < GUARD, "accept never failed");
        thread::sleep(Duration::from_millis(1));
    }
    drop(hoard);
    assert_eq!(client.recv()?, b"after the drought");
    let stats = fixture.stats();
    assert!(stats.accept_pauses >= 1, "{stats:?}");
    assert_eq!(stats.connections, 1, "{stats:?}");
    Ok(stats)
}

/// A dropped fixture refuses new connections: its listener is closed, not just ignored.
///
/// It lives here, not with the other drop tests, because it needs the freed port to stay
/// free: in a harness running tests in parallel, another test's fixture could bind it.
fn drop_closes_the_listener() -> io::Result<FixtureStats> {
    let fixture = Fixture::start(FixtureConfig::new())?;
    let addr = fixture.addr();
    let mut client = Client::connect(addr)?;
    assert_eq!(client.round_trip(b"x")?, b"x");
    let stats = fixture.stats();
    drop(fixture);
    let refused = Client::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    Ok(stats)
}

/// Linux's `EMFILE`, "too many open files" (std has no `io::ErrorKind` for it).
const EMFILE: i32 = 24;

/// The test proper: connect every client, then every client sends, then every client reads;
/// returns the fixture's stats after checking them.
fn every_client_gets_its_answer(clients: usize) -> io::Result<FixtureStats> {
    let fixture = Fixture::start(FixtureConfig::new().delay(DELAY).barrier(clients))?;
    let addr = fixture.addr();
    let phase = Arc::new(Barrier::new(CLIENT_THREADS));
    let workers: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let ids: Vec<u32> = (0..clients as u32)
                .filter(|id| *id as usize % CLIENT_THREADS == t)
                .collect();
            let phase = Arc::clone(&phase);
            thread::spawn(move || client_thread(addr, &ids, &phase))
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client thread panicked")?;
    }
    let stats = fixture.stats();
    let n = clients as u64;
    assert_eq!(stats.connections, n, "{stats:?}");
    assert_eq!(stats.requests, n, "{stats:?}");
    assert_eq!(stats.responses, n, "{stats:?}");
    assert_eq!(
        stats.peak_pending, n,
        "every request was pending at once: {stats:?}"
    );
    assert_eq!(stats.malformed, 0, "{stats:?}");
    Ok(stats)
}

/// One thread's share of the clients: connect them all, wait for the other threads, send
/// every request, then read and check every answer.
fn client_thread(addr: SocketAddr, ids: &[u32], phase: &Barrier) -> io::Result<()> {
    let mut clients = Vec::with_capacity(ids.len());
    for _ in ids {
        let mut client = Client::connect(addr)?;
        // A hang guard: the answers come 50 ms after the last request, far inside this.
        client.stream().set_read_timeout(Some(GUARD))?;
        clients.push(client);
    }
    phase.wait();
    for (client, id) in clients.iter_mut().zip(ids) {
        client.send(&id.to_le_bytes())?;
    }
    phase.wait();
    for (client, id) in clients.iter_mut().zip(ids) {
        let answer = client.recv()?;
        assert_eq!(answer, id.to_le_bytes(), "client {id} got another's answer");
    }
    Ok(())
}
