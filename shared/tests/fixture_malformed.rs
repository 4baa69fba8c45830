//! A malformed frame closes its own connection and no other.

use std::io::{Read, Write};
use std::time::Duration;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig, MAX_PAYLOAD};

/// A hang guard for reads; never expected to expire.
const GUARD: Duration = Duration::from_secs(30);

/// Reads until the server closes `client`'s connection: EOF, or a reset if it closed with
/// unread input.
#[track_caller]
fn assert_closed_by_server(client: &mut Client) {
    client.stream().set_read_timeout(Some(GUARD)).unwrap();
    let mut buf = [0; 64];
    match client.stream().read(&mut buf) {
        Ok(0) => {}
        Ok(_) => panic!("the server answered a malformed frame"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected a close, got {e}"),
    }
}

/// A length above 1 MiB closes that connection and is counted; a connection opened before it
/// and one opened after it keep working.
#[test]
fn too_long_closes_only_that_connection() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let mut before = Client::connect(fixture.addr()).unwrap();
    assert_eq!(before.round_trip(b"before").unwrap(), b"before");

    let mut bad = Client::connect(fixture.addr()).unwrap();
    let header = (MAX_PAYLOAD as u32 + 1).to_le_bytes();
    bad.stream().write_all(&header).unwrap();
    assert_closed_by_server(&mut bad);
    assert_eq!(fixture.stats().malformed, 1);

    assert_eq!(before.round_trip(b"still here").unwrap(), b"still here");
    let mut after = Client::connect(fixture.addr()).unwrap();
    assert_eq!(after.round_trip(b"after").unwrap(), b"after");
    assert_eq!(fixture.stats().malformed, 1);
}

/// The largest allowed payload, exactly 1 MiB, is answered.
#[test]
fn max_payload_is_answered() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.stream().set_read_timeout(Some(GUARD)).unwrap();
    let payload: Vec<u8> = (0..MAX_PAYLOAD).map(|i| (i % 251) as u8).collect();
    assert_eq!(client.round_trip(&payload).unwrap(), payload);
    assert_eq!(fixture.stats().malformed, 0);
}

/// A frame cut short by the client closing its side is malformed too, and counted.
#[test]
fn truncated_frame_is_counted() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let mut client = Client::connect(fixture.addr()).unwrap();
    client.stream().write_all(&[10, 0, 0, 0, 1, 2]).unwrap();
    client.stream().shutdown(std::net::Shutdown::Write).unwrap();
    assert_closed_by_server(&mut client);
    assert_eq!(fixture.stats().malformed, 1);
}
