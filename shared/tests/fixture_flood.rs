//! One client writing requests without pause does not hold the fixture's poll loop: each
//! socket gets a bounded turn, so a polite client is served during the flood and dropping the
//! fixture mid-flood returns.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use concurrency_shared::fixture::{Client, Fixture, FixtureConfig, write_request};
use util::{GUARD, wait_until};

/// Requests per write of the flooding client: tiny frames, so the server has far more
/// parsing to do per byte than the client has writing.
const FRAMES_PER_WRITE: usize = 4_096;

/// A client that floods the fixture with pipelined requests (reading the answers on another
/// thread) until told to stop; the old server read its socket until `WouldBlock`, which a
/// writer faster than the parser never lets happen, so it served no one else.
#[test]
fn a_flooding_client_does_not_starve_a_polite_one() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let stream = TcpStream::connect(fixture.addr()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut reader = stream.try_clone().unwrap();
    let drain = thread::spawn(move || {
        let mut sink = vec![0u8; 64 * 1024];
        while matches!(reader.read(&mut sink), Ok(1..)) {}
    });
    let mut writer = stream.try_clone().unwrap();
    let flood = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let frame = write_request(b"flood").unwrap();
            let batch: Vec<u8> = frame.repeat(FRAMES_PER_WRITE);
            while !stop.load(Ordering::Relaxed) {
                if writer.write_all(&batch).is_err() {
                    break;
                }
            }
        })
    };
    // The flood is under way once the server has had to cut a turn short.
    wait_until("the flood used up a turn's budget", || {
        fixture.stats().budget_yields > 0
    });

    let mut polite = Client::connect(fixture.addr()).unwrap();
    polite.stream().set_read_timeout(Some(GUARD)).unwrap();
    for i in 0..3u8 {
        assert_eq!(polite.round_trip(&[i; 16]).unwrap(), [i; 16]);
    }

    // Dropping the fixture mid-flood returns: the loop sees the shutdown flag after a turn.
    drop(fixture);
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    // The server is gone; shutting down may report that the peer reset the connection.
    let _ = stream.shutdown(Shutdown::Both);
    drain.join().unwrap();
}
