//! Dropping a fixture stops it and joins its thread, whatever its connections are doing.

mod util;

use std::io::Read;
use std::time::Duration;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig};
use util::{GUARD, wait_until};

/// Dropping a fixture with open connections, one of them with a request held by a barrier
/// that will never open, returns (the thread is joined) and closes every connection.
#[test]
fn drop_with_open_connections_joins_and_closes() {
    let fixture = Fixture::start(FixtureConfig::new().barrier(100)).unwrap();
    let mut idle = Client::connect(fixture.addr()).unwrap();
    let mut waiting = Client::connect(fixture.addr()).unwrap();
    waiting.send(b"never answered").unwrap();
    wait_until("the connections are in place", || {
        let stats = fixture.stats();
        stats.open_connections == 2 && stats.pending == 1
    });
    drop(fixture);
    for client in [&mut idle, &mut waiting] {
        client.stream().set_read_timeout(Some(GUARD)).unwrap();
        let mut buf = [0; 16];
        // The server's sockets are closed: EOF (or a reset where input was unread).
        match client.stream().read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected the connection closed, got {other:?}"),
        }
    }
}

/// A fixture with a long delay and answers in its timer queue still drops at once.
#[test]
fn drop_with_pending_timers() {
    let fixture = Fixture::start(FixtureConfig::new().delay(Duration::from_secs(3_600))).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.send(b"in an hour").unwrap();
    wait_until("the condition holds", || fixture.stats().pending == 1);
    drop(fixture);
}
