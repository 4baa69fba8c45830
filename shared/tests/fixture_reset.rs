//! A client that vanishes (its kernel resets the connection) costs the fixture that connection
//! only.

mod util;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig};
use util::{GUARD, wait_until};

/// Requests each vanishing client leaves unread.
const UNREAD: usize = 50;

/// Clients that close with answers unread (so their kernel answers with a reset) are closed
/// and forgotten by the server; a connection open all along keeps working.
#[test]
fn reset_closes_only_that_connection() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let mut survivor = Client::connect(fixture.addr()).unwrap();
    survivor.stream().set_read_timeout(Some(GUARD)).unwrap();
    assert_eq!(survivor.round_trip(b"first").unwrap(), b"first");

    for round in 0..5u64 {
        let mut vanishing = Client::connect(fixture.addr()).unwrap();
        for _ in 0..UNREAD {
            vanishing.send(&[7; 1_000]).unwrap();
        }
        let answered = (round + 1) * UNREAD as u64 + 1;
        wait_until("the answers were queued", || {
            fixture.stats().responses == answered
        });
        // Closing with unread input makes the client's kernel send a reset, not a FIN.
        drop(vanishing);
    }
    wait_until("the vanished connections were closed", || {
        fixture.stats().open_connections == 1
    });
    assert_eq!(survivor.round_trip(b"still here").unwrap(), b"still here");
    let stats = fixture.stats();
    assert_eq!(stats.connections, 6);
    assert_eq!(stats.malformed, 0);
}
