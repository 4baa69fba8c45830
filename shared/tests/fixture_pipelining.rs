//! Requests pipelined on one connection are answered in order, however the bytes arrive.

use std::io::Write;
use std::time::Duration;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig, write_request};

/// A hang guard for reads; never expected to expire.
const GUARD: Duration = Duration::from_secs(30);

/// Requests pipelined on one connection.
const PIPELINED: usize = 200;

fn payload(i: usize) -> Vec<u8> {
    // Varying lengths, including empty, so frame boundaries fall everywhere.
    (0..i % 37).map(|j| (i + j) as u8).collect()
}

/// Many requests sent in one write come back one by one, in order, with a delay so they are
/// all queued in the timer heap together.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::from_millis(5))).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.stream().set_read_timeout(Some(GUARD)).unwrap();
    let mut bytes = Vec::new();
    for i in 0..PIPELINED {
        bytes.extend(write_request(&payload(i)).unwrap());
    }
    client.stream().write_all(&bytes).unwrap();
    for i in 0..PIPELINED {
        assert_eq!(client.recv().unwrap(), payload(i), "answer {i}");
    }
    assert_eq!(fixture.stats().requests, PIPELINED as u64);
}

/// A client writing one byte at a time (each its own segment: Nagle is off) still gets every
/// answer, in order.
#[test]
fn byte_at_a_time_writes_are_reassembled() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.stream().set_read_timeout(Some(GUARD)).unwrap();
    let mut bytes = Vec::new();
    for i in 0..20 {
        bytes.extend(write_request(&payload(i)).unwrap());
    }
    for byte in &bytes {
        client
            .stream()
            .write_all(std::slice::from_ref(byte))
            .unwrap();
    }
    for i in 0..20 {
        assert_eq!(client.recv().unwrap(), payload(i), "answer {i}");
    }
}

/// A client that half-closes after pipelining still gets every answer before the server
/// closes the connection.
#[test]
fn half_closed_client_gets_its_answers() {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::from_millis(5))).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.stream().set_read_timeout(Some(GUARD)).unwrap();
    for i in 0..10 {
        client.send(&payload(i)).unwrap();
    }
    client.stream().shutdown(std::net::Shutdown::Write).unwrap();
    for i in 0..10 {
        assert_eq!(client.recv().unwrap(), payload(i), "answer {i}");
    }
    let eof = client.recv().unwrap_err();
    assert_eq!(eof.kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(fixture.stats().malformed, 0);
}
