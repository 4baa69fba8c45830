//! Delays a caller may pass: `Duration::MAX` means "never answer", and the server goes on
//! serving (the old one computed `now + delay`, which panicked its poll thread).

mod util;

use std::time::Duration;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig};
use util::wait_until;

/// With `delay(Duration::MAX)` a request stays pending, the poll thread lives on (it accepts
/// the next client and counts its request), and dropping the fixture returns.
#[test]
fn an_endless_delay_never_answers_and_never_panics() {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::MAX)).unwrap();
    let mut first = Client::connect(fixture.addr()).unwrap();
    first.send(b"one").unwrap();
    wait_until("the first request arrived", || {
        fixture.stats().requests == 1
    });
    let mut second = Client::connect(fixture.addr()).unwrap();
    second.send(b"two").unwrap();
    wait_until("the poll thread served a second client", || {
        let stats = fixture.stats();
        stats.connections == 2 && stats.requests == 2
    });
    let stats = fixture.stats();
    assert_eq!((stats.pending, stats.responses), (2, 0));
    drop(fixture);
}

/// A request that is never due stops counting as pending once its client closes (the old
/// server kept the connection and the count for good).
#[test]
fn an_endless_request_is_forgotten_when_its_client_closes() {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::MAX)).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.send(b"one").unwrap();
    wait_until("the request arrived", || fixture.stats().pending == 1);
    drop(client);
    wait_until("the closed client's request is no longer pending", || {
        let stats = fixture.stats();
        stats.pending == 0 && stats.open_connections == 0
    });
    assert_eq!(fixture.stats().peak_pending, 1);
}

/// Other long delays that used to overflow `Instant` are the same "never".
#[test]
fn delays_past_the_clock_are_never() {
    for delay in [
        Duration::from_secs(u64::MAX),
        Duration::new(u64::MAX, 999_999_999),
    ] {
        let fixture = Fixture::start(FixtureConfig::new().delay(delay)).unwrap();
        let mut client = Client::connect(fixture.addr()).unwrap();
        client.send(b"x").unwrap();
        wait_until("the request arrived", || fixture.stats().requests == 1);
        let mut other = Client::connect(fixture.addr()).unwrap();
        other.send(b"y").unwrap();
        wait_until("the poll thread is alive", || fixture.stats().requests == 2);
    }
}
