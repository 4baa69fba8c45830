//! `stress_connections()` clients (about 9,700 here), each with one request held by the
//! fixture's barrier and then answered after a 50 ms delay: every client gets its own answer,
//! and the fixture saw every request pending at once.
//!
//! It raises the open-file limit and holds two descriptors per client, so it runs alone: a
//! `harness = false` test with its own `main`, printing the closing `N passed, N failed` line.
//! The check is structural (counts), never a time; the guard only turns a hang into a failure.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig, FixtureStats};
use concurrency_shared::stress_connections;

/// Threads that connect, send and read for the clients. Each has one blocking connect in
/// flight at a time, far below the ~1,000 the listener's backlog (`somaxconn` 4,096) allows.
const CLIENT_THREADS: usize = 4;

/// The fixture's answer delay, applied after the barrier opens.
const DELAY: Duration = Duration::from_millis(50);

/// How long the whole test may take before it counts as hung.
const GUARD: Duration = Duration::from_secs(240);

fn main() -> ExitCode {
    let clients = stress_connections();
    eprintln!("fixture_stress: {clients} clients");
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let result = every_client_gets_its_answer(clients);
        // If the test thread panics instead, the channel disconnects and that is the failure.
        let _ = done_tx.send(result);
    });
    match done_rx.recv_timeout(GUARD) {
        Ok(Ok(stats)) => {
            eprintln!("fixture_stress: {stats:?}");
            println!("test every_client_gets_its_answer ... ok");
            println!("1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => fail(&format!("an I/O error: {e}")),
        Err(mpsc::RecvTimeoutError::Timeout) => fail(&format!("no result within {GUARD:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => fail("the test thread panicked"),
    }
}

fn fail(why: &str) -> ExitCode {
    println!("test every_client_gets_its_answer ... FAILED: {why}");
    println!("0 passed, 1 failed");
    ExitCode::FAILURE
}

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
