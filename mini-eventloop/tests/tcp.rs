//! TCP on the loop: echo, half-close, split halves used by two tasks, connection refused.

mod util;

use std::net::Shutdown;

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::spawn;

/// Bytes per echo in the large-transfer test: far more than a socket buffer, so both sides
/// must really wait for writability.
const LARGE: usize = 4 * 1024 * 1024;

/// Starts an echo server that serves `connections` connections, each until end of stream.
fn echo_server(connections: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind(util::any_port()).unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(async move {
        for _ in 0..connections {
            let (stream, _) = listener.accept().await.unwrap();
            spawn(async move {
                let (mut rd, mut wr) = stream.into_split();
                let mut buf = vec![0; 16 * 1024];
                loop {
                    let n = rd.read(&mut buf).await.unwrap();
                    if n == 0 {
                        wr.shutdown().unwrap();
                        return;
                    }
                    wr.write_all(&buf[..n]).await.unwrap();
                }
            });
        }
    });
    addr
}

/// Small messages echo back intact; peer_addr/local_addr agree across the two ends.
#[test]
fn echo_round_trips() {
    util::run(async {
        let addr = echo_server(1);
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            c.write_all(&msg).await.unwrap();
            let mut back = [0; 4];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
        }
    });
}

/// A transfer larger than the socket buffers, written by one task and read by another
/// through owned halves of the same stream, arrives intact; a half-close is seen as a
/// zero-byte read.
#[test]
fn large_transfer_through_split_halves_and_half_close() {
    util::run(async {
        let addr = echo_server(1);
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let data: Vec<u8> = (0..LARGE).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = spawn(async move {
            wr.write_all(&sent).await.unwrap();
            wr.shutdown().unwrap(); // half-close: the server sees end of stream
            wr
        });
        let mut got = Vec::with_capacity(LARGE);
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = rd.read(&mut buf).await.unwrap();
            if n == 0 {
                break; // the server's half-close after echoing everything
            }
            got.extend_from_slice(&buf[..n]);
        }
        let _wr = writer.await.unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data);
    });
}

/// Borrowed halves can be driven by two futures of one task at once.
#[test]
fn borrowed_split_in_one_task() {
    util::run(async {
        let addr = echo_server(1);
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = stream.split();
        let write = async {
            wr.write_all(b"both halves").await.unwrap();
        };
        let read = async {
            let mut buf = [0; 11];
            rd.read_exact(&mut buf).await.unwrap();
            buf
        };
        let ((), got) = futures::join!(write, read);
        assert_eq!(&got, b"both halves");
        stream.shutdown(Shutdown::Both).unwrap();
    });
}

/// Connecting to a closed port fails with the usual error instead of hanging.
#[test]
fn connect_refused() {
    util::run(async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(port).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

/// I/O objects cannot be created outside a runtime; that is an error, not a panic.
#[test]
fn bind_outside_runtime_is_an_error() {
    assert!(TcpListener::bind(util::any_port()).is_err());
}

/// The listener's accept queue holds a burst far beyond the 128 that `std` and `mio` ask for:
/// 600 clients (fewer only where the kernel caps every accept queue lower, see
/// `connects_in_flight`) complete their handshakes one after another while nobody accepts.
/// With a queue of 128, the 130th connect's SYN would be dropped and the connect would time
/// out instead.
#[test]
fn accept_queue_holds_a_burst_of_connects() {
    let burst = 600.min(concurrency_shared::connects_in_flight());
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::with_capacity(burst);
        for i in 0..burst {
            // Blocking connects on the loop's thread are fine here: the kernel completes a
            // loopback handshake by itself, and no task of this test needs to run meanwhile.
            let client = std::net::TcpStream::connect_timeout(&addr, util::HANG_GUARD / 4)
                .unwrap_or_else(|e| panic!("connect {i} of {burst} did not complete: {e}"));
            clients.push(client);
        }
        // Every queued connection is really there to accept.
        for _ in 0..burst {
            listener.accept().await.unwrap();
        }
    });
}

/// A negative backlog is refused with a typed error instead of being passed to the kernel.
#[test]
fn negative_backlog_is_refused() {
    util::run(async {
        let err = TcpListener::bind_with_backlog(util::any_port(), -1).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    });
}

/// `connect` takes a host name and port; the name is resolved off the loop, and the numeric
/// forms work as before.
#[test]
fn connect_resolves_host_names() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepting = spawn(async move {
            for _ in 0..3 {
                listener.accept().await.unwrap();
            }
        });
        // Numbers, as a tuple or as text, need no lookup: no blocking-pool job.
        TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        assert_eq!(mini_eventloop::stats().blocking_spawned, 0);
        let by_name = TcpStream::connect(("localhost", port)).await.unwrap();
        assert!(by_name.peer_addr().unwrap().ip().is_loopback());
        assert_eq!(
            mini_eventloop::stats().blocking_spawned,
            1,
            "one lookup per name"
        );
        let text = format!("localhost:{port}");
        TcpStream::connect(text.as_str()).await.unwrap();
        accepting.await.unwrap();
        let bad = TcpStream::connect("no-port-given").await.unwrap_err();
        assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
    });
}

/// Dropping an owned write half sends FIN: the peer reads end of stream while the reading
/// half is still alive, and can still answer it.
#[test]
fn dropping_the_write_half_sends_fin() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (mut rd, wr) = client.into_split();
        drop(wr);
        let mut buf = [0; 8];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0, "no FIN");
        server.write_all(b"bye").await.unwrap();
        rd.read_exact(&mut buf[..3]).await.unwrap();
        assert_eq!(&buf[..3], b"bye");
    });
}

/// `shutdown` on a stream, on a borrowed write half and on an owned one sends FIN.
#[test]
fn shutdown_sends_fin_on_streams_and_halves() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut buf = [0; 8];
        for how in 0..3 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            match how {
                0 => client.shutdown(Shutdown::Write).unwrap(),
                1 => client.split().1.shutdown().unwrap(),
                _ => {
                    let (rd, wr) = client.into_split();
                    wr.shutdown().unwrap();
                    drop((rd, wr));
                    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
                    continue;
                }
            }
            assert_eq!(server.read(&mut buf).await.unwrap(), 0, "case {how}");
        }
    });
}

/// A read shorter than its buffer clears read readiness; nothing is lost by it: data sent
/// later is read after the next edge, and end of stream that arrived with the data (its
/// edge already reported) is still seen.
#[test]
fn short_reads_lose_no_edge() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut buf = [0; 64];
        server.write_all(b"abc").await.unwrap();
        assert_eq!(client.read(&mut buf).await.unwrap(), 3);
        let later = spawn(async move {
            mini_eventloop::yield_now().await;
            server.write_all(b"de").await.unwrap();
            server
        });
        assert_eq!(client.read(&mut buf).await.unwrap(), 2);
        let server = later.await.unwrap();
        // Data and FIN together, both queued before the read.
        let mut server = server;
        server.write_all(b"fgh").await.unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        loop {
            match client.read(&mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"fgh");
    });
}

/// A read that stops short at the peer's urgent mark (`MSG_OOB`) does not strand the data
/// queued behind the mark: the short-read shortcut is off for a source that saw `EPOLLPRI`.
#[test]
fn short_read_at_the_urgent_mark_does_not_strand_data() {
    let got = util::must_finish("read after the urgent mark", || {
        // One poll per tick: the `yield_now` below is then sure to give the loop a turn.
        let rt = mini_eventloop::Runtime::builder()
            .polls_per_tick(1)
            .build()
            .unwrap();
        rt.block_on(async {
            use std::io::Write;
            use std::os::fd::AsRawFd;
            let listener = TcpListener::bind(util::any_port()).unwrap();
            let addr = listener.local_addr().unwrap();
            let (sent_tx, sent_rx) = std::sync::mpsc::channel();
            let client = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.write_all(b"hello").unwrap();
                // SAFETY: a valid descriptor and a one-byte buffer that outlives the call.
                let sent =
                    unsafe { libc::send(s.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
                assert_eq!(sent, 1);
                s.write_all(b"world").unwrap();
                sent_tx.send(()).unwrap();
                s // kept open: no end of stream to wake the reader
            });
            let (mut srv, _) = listener.accept().await.unwrap();
            sent_rx.recv().unwrap(); // loopback: all of it is queued now
            // One loop turn collects the edges, so the reads below see none still in flight:
            // the steady state of a server.
            mini_eventloop::yield_now().await;
            assert!(mini_eventloop::stats().io_events > 0);
            let mut buf = [0u8; 64];
            let n = srv.read(&mut buf).await.unwrap();
            assert_eq!(
                &buf[..n],
                b"hello",
                "the first read stops at the urgent mark"
            );
            let second = mini_eventloop::timeout(util::HANG_GUARD, srv.read(&mut buf)).await;
            let _keep = client.join().unwrap();
            second.map(|r| buf[..r.unwrap()].to_vec())
        })
    });
    assert_eq!(
        got.as_deref(),
        Ok(&b"world"[..]),
        "data behind the urgent mark was stranded"
    );
}

/// `TcpStream::connect` by host name outside a runtime returns the promised error (the
/// numeric form already did), not a panic from the lookup.
#[test]
fn connect_by_name_outside_a_runtime_is_an_error() {
    let numeric = futures::executor::block_on(TcpStream::connect("127.0.0.1:9"));
    assert!(numeric.is_err());
    let by_name =
        std::panic::catch_unwind(|| futures::executor::block_on(TcpStream::connect("localhost:9")));
    assert!(
        by_name.is_ok_and(|r| r.is_err()),
        "connect by name outside a runtime panicked"
    );
    let lookup = std::panic::catch_unwind(|| {
        futures::executor::block_on(mini_eventloop::net::lookup_host("localhost:9"))
    });
    assert!(
        lookup.is_ok_and(|r| r.is_err()),
        "lookup_host outside a runtime panicked"
    );
}
