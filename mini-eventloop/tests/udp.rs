//! UDP on the loop: datagrams between two sockets, both directions.

mod util;

use mini_eventloop::net::UdpSocket;
use mini_eventloop::spawn;

/// Datagrams sent each way arrive with the right sender address.
#[test]
fn ping_pong() {
    util::run(async {
        let a = UdpSocket::bind(util::any_port()).unwrap();
        let b = UdpSocket::bind(util::any_port()).unwrap();
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();
        let responder = spawn(async move {
            let mut buf = [0; 64];
            for _ in 0..10 {
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                b.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let mut buf = [0; 64];
        for i in 0..10u8 {
            a.send_to(&[i; 8], b_addr).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&[i; 8][..], b_addr));
        }
        responder.await.unwrap();
        let _ = a_addr;
    });
}

/// A connected UDP socket sends to and receives from its peer with `send` / `recv`; the
/// peer may be given by name.
#[test]
fn connected_send_and_recv() {
    util::run(async {
        let a = UdpSocket::bind(util::any_port()).unwrap();
        let b = UdpSocket::bind(util::any_port()).unwrap();
        let port = b.local_addr().unwrap().port();
        a.connect(("localhost", port)).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap().port(), port);
        a.send(b"ping").await.unwrap();
        let mut buf = [0; 8];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        b.send(b"pong").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
    });
}

/// `UdpSocket::connect` by host name outside a runtime returns an error, not a panic.
#[test]
fn connect_by_name_outside_a_runtime_is_an_error() {
    let sock = util::run(async { UdpSocket::bind(util::any_port()) }).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(sock.connect("localhost:9"))
    }));
    assert!(
        r.is_ok_and(|r| r.is_err()),
        "UdpSocket::connect by name outside a runtime panicked"
    );
}
