//! `stress_connections()` (about 9,700 here) TCP connections open at once on loopback, each
//! echoing through the loop, connected in waves of at most `connects_in_flight()` connects
//! (1,000 here), which the listener's backlog ([`mini_eventloop::net::DEFAULT_BACKLOG`])
//! always holds.
//!
//! It raises the process's open-file limit, so it runs alone: `harness = false`, its own
//! `main`, which prints a closing line like the harness does.

mod util;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::sync::{mpsc, oneshot};
use mini_eventloop::{Runtime, spawn, timeout};

/// Proves that `connections` connections are open at once, each having echoed its id, with at
/// most `in_flight` connects pending at a time.
fn stress(connections: usize, in_flight: usize) {
    let rt = Runtime::builder().event_capacity(4096).build().unwrap();
    rt.block_on(async {
        timeout(util::HANG_GUARD, async {
            let listener = TcpListener::bind(util::any_port()).unwrap();
            let addr = listener.local_addr().unwrap();
            // Server: one echo task per connection; it echoes 8 bytes, then waits for the
            // client's end of stream.
            spawn(async move {
                loop {
                    let (mut s, _) = listener.accept().await.unwrap();
                    spawn(async move {
                        let mut id = [0; 8];
                        s.read_exact(&mut id).await.unwrap();
                        s.write_all(&id).await.unwrap();
                        let mut rest = [0; 1];
                        assert_eq!(s.read(&mut rest).await.unwrap(), 0);
                    });
                }
            });

            let (echoed_tx, mut echoed_rx) = mpsc::unbounded();
            let releases = Rc::new(RefCell::new(Vec::with_capacity(connections)));
            let mut clients = Vec::with_capacity(connections);
            let mut started = 0;
            while started < connections {
                let wave = in_flight.min(connections - started);
                for id in started..started + wave {
                    let echoed = echoed_tx.clone();
                    let (release_tx, release_rx) = oneshot::channel::<()>();
                    releases.borrow_mut().push(release_tx);
                    clients.push(spawn(async move {
                        let echoed_back = async {
                            let mut s = TcpStream::connect(addr).await?;
                            let sent = (id as u64).to_le_bytes();
                            s.write_all(&sent).await?;
                            let mut back = [0; 8];
                            s.read_exact(&mut back).await?;
                            if back != sent {
                                return Err(io::Error::other(format!("echoed {back:?}")));
                            }
                            Ok(s)
                        };
                        // A failure is reported to the waiting test instead of leaving it
                        // waiting for an echo that will never come.
                        match echoed_back.await {
                            Ok(s) => {
                                echoed.send(Ok(())).unwrap();
                                // Hold the connection open until every client is connected.
                                release_rx.await.unwrap();
                                s.shutdown(std::net::Shutdown::Write).unwrap();
                            }
                            Err(e) => {
                                let _ = echoed.send(Err(format!("client {id}: {e}")));
                            }
                        }
                    }));
                }
                for _ in 0..wave {
                    if let Err(e) = echoed_rx.recv().await.unwrap() {
                        panic!("{e} (after {started} connections were open)");
                    }
                }
                started += wave;
            }
            // All `connections` are open at once now: both ends of each are live tasks.
            let alive = mini_eventloop::stats().tasks_alive;
            assert!(alive >= 2 * connections as u64, "only {alive} tasks alive");
            for tx in releases.borrow_mut().drain(..) {
                tx.send(()).unwrap();
            }
            for c in clients {
                c.await.unwrap();
            }
        })
        .await
        .expect("stress test hung");
    });
}

fn main() {
    let connections = concurrency_shared::stress_connections();
    let in_flight = concurrency_shared::connects_in_flight();
    println!("running 1 test");
    stress(connections, in_flight);
    println!("test stress_connections ({connections} connections) ... ok");
    println!("\ntest result: ok. 1 passed, 0 failed");
}
