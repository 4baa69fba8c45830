//! A peer that resets its connection (RST, via `SO_LINGER` 0) surfaces as the usual
//! `ConnectionReset` error on read, and as an error on write; never a hang or a spin.

mod util;

use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;

use mini_eventloop::net::TcpListener;
use mini_eventloop::spawn_blocking;

/// Closes `stream` with an RST instead of a FIN.
fn reset(stream: std::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open (owned by `stream`), and `linger` is a valid `linger`
    // struct whose size we pass.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(stream);
}

/// The server's read reports `ConnectionReset` after the client resets.
#[test]
fn reset_peer_gives_connection_reset() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"x").unwrap();
            s
        });
        let (mut server, _) = listener.accept().await.unwrap();
        let mut one = [0; 1];
        server.read_exact(&mut one).await.unwrap();
        reset(client.await.unwrap());
        let mut buf = [0; 16];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        // Writing to a reset connection fails too (EPIPE or ECONNRESET), never hangs.
        let mut write_failed = false;
        for _ in 0..16 {
            if server.write_all(&[0; 1024]).await.is_err() {
                write_failed = true;
                break;
            }
        }
        assert!(write_failed);
    });
}
