//! Barrier mode: no answer until k requests are pending at once, then all of them.

mod util;

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig};
use util::{GUARD, wait_until};

/// Clients per barrier test: more than the two cores, so they cannot all just run in turn.
const K: usize = 16;

/// How long a client looks for an answer that a correct server never sends.
const SILENCE_WINDOW: Duration = Duration::from_millis(200);

/// Looks for an answer on `client` for `window` and fails if one comes.
#[track_caller]
fn assert_no_answer_within(client: &mut Client, window: Duration) {
    client.stream().set_read_timeout(Some(window)).unwrap();
    let err = client.recv().unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "expected no answer, got {err}"
    );
}

/// k clients on k threads, one request each: every one is answered, and the fixture saw all
/// k pending at once (it could not have answered otherwise).
#[test]
fn k_clients_are_all_answered_and_overlapped() {
    let fixture = Fixture::start(FixtureConfig::new().barrier(K)).unwrap();
    let addr = fixture.addr();
    let clients: Vec<_> = (0..K)
        .map(|i| {
            thread::spawn(move || {
                let mut client = Client::connect(addr).unwrap();
                client.stream().set_read_timeout(Some(GUARD)).unwrap();
                let payload = format!("client {i}").into_bytes();
                assert_eq!(client.round_trip(&payload).unwrap(), payload);
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let stats = fixture.stats();
    assert_eq!(stats.peak_pending, K as u64);
    assert_eq!(stats.responses, K as u64);
}

/// With only k-1 requests pending none is answered; the k-th releases all k.
///
/// The silence check is not timing-dependent: a correct server can never answer while fewer
/// than k requests exist, however fast or slow it runs, so no answer arrives in any window.
/// The read timeout only bounds how long we look; a wrong server (one that answers early)
/// fails it on any machine that lets it run within 200 ms.
#[test]
fn k_minus_one_requests_are_held() {
    let fixture = Fixture::start(FixtureConfig::new().barrier(K)).unwrap();
    let mut clients: Vec<Client> = (0..K - 1)
        .map(|i| {
            let mut client = Client::connect(fixture.addr()).unwrap();
            client.send(&[i as u8; 8]).unwrap();
            client
        })
        .collect();
    // Every held request has reached the server, so the silence below is the barrier's doing.
    wait_until("k-1 requests arrived", || {
        fixture.stats().requests == (K - 1) as u64
    });
    // The first client looks for the whole window; by then any wrong early answer to the
    // others would have been sent too, so they are checked with a token wait.
    for (i, client) in clients.iter_mut().enumerate() {
        let window = if i == 0 {
            SILENCE_WINDOW
        } else {
            Duration::from_millis(1)
        };
        assert_no_answer_within(client, window);
    }
    assert_eq!(fixture.stats().responses, 0);

    let mut last = Client::connect(fixture.addr()).unwrap();
    clients.push({
        last.send(&[(K - 1) as u8; 8]).unwrap();
        last
    });
    for (i, client) in clients.iter_mut().enumerate() {
        client.stream().set_read_timeout(Some(GUARD)).unwrap();
        assert_eq!(client.recv().unwrap(), [i as u8; 8]);
    }
    assert_eq!(fixture.stats().peak_pending, K as u64);
}

/// After the barrier opened, later requests are answered without waiting for another k.
#[test]
fn later_requests_are_answered_normally() {
    let fixture = Arc::new(Fixture::start(FixtureConfig::new().barrier(2)).unwrap());
    let mut a = Client::connect(fixture.addr()).unwrap();
    let mut b = Client::connect(fixture.addr()).unwrap();
    for c in [&mut a, &mut b] {
        c.stream().set_read_timeout(Some(GUARD)).unwrap();
    }
    a.send(b"a").unwrap();
    b.send(b"b").unwrap();
    assert_eq!(a.recv().unwrap(), b"a");
    assert_eq!(b.recv().unwrap(), b"b");
    assert_eq!(a.round_trip(b"again").unwrap(), b"again");
    assert_eq!(fixture.stats().peak_pending, 2);
}

/// A request whose client closed before the barrier opened is withdrawn: two clients that
/// never overlapped do not open a barrier of two (the old server counted the closed one's
/// request and answered the second client alone).
#[test]
fn closed_connections_do_not_count() {
    let fixture = Fixture::start(FixtureConfig::new().barrier(2)).unwrap();
    {
        let mut gone = Client::connect(fixture.addr()).unwrap();
        gone.send(b"gone").unwrap();
    }
    wait_until("the closed client's request was withdrawn", || {
        let stats = fixture.stats();
        stats.requests == 1 && stats.pending == 0 && stats.open_connections == 0
    });

    let mut first = Client::connect(fixture.addr()).unwrap();
    first.send(b"first").unwrap();
    wait_until("the first live request arrived", || {
        fixture.stats().requests == 2
    });
    // One live request is below the barrier: a correct server cannot answer it in any window.
    assert_no_answer_within(&mut first, SILENCE_WINDOW);
    assert_eq!(fixture.stats().responses, 0);

    let mut second = Client::connect(fixture.addr()).unwrap();
    for c in [&mut first, &mut second] {
        c.stream().set_read_timeout(Some(GUARD)).unwrap();
    }
    assert_eq!(second.round_trip(b"second").unwrap(), b"second");
    assert_eq!(first.recv().unwrap(), b"first");
}

/// One client pipelining k requests is one connection: it does not open a barrier of k (the
/// old server counted requests and answered it alone); a second connection does.
#[test]
fn one_pipelining_client_counts_once() {
    let fixture = Fixture::start(FixtureConfig::new().barrier(2)).unwrap();
    let mut alone = Client::connect(fixture.addr()).unwrap();
    for i in 0..K {
        alone.send(&[i as u8; 4]).unwrap();
    }
    wait_until("every pipelined request arrived", || {
        fixture.stats().requests == K as u64
    });
    // One connection is below the barrier: a correct server cannot answer it in any window.
    assert_no_answer_within(&mut alone, SILENCE_WINDOW);
    assert_eq!(fixture.stats().responses, 0);

    let mut other = Client::connect(fixture.addr()).unwrap();
    for c in [&mut alone, &mut other] {
        c.stream().set_read_timeout(Some(GUARD)).unwrap();
    }
    assert_eq!(other.round_trip(b"other").unwrap(), b"other");
    for i in 0..K {
        assert_eq!(alone.recv().unwrap(), [i as u8; 4]);
    }
}
