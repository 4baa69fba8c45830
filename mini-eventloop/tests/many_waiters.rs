//! Every waiter is kept: two futures waiting on the same direction of one socket (two tasks,
//! or two futures of one `join`) are both woken when it becomes ready, as with tokio's
//! `ScheduledIo`. Each used to overwrite the other's waker and leave it hanging.

mod util;

use std::rc::Rc;

use mini_eventloop::net::{TcpListener, TcpStream, UdpSocket};
use mini_eventloop::{join, spawn, yield_now};

/// `join(sock.recv_from(..), sock.recv_from(..))` in one task: both receive, although both
/// were waiting before the two datagrams were sent.
#[test]
fn two_receives_in_one_join_both_complete() {
    util::run(async {
        let rx = UdpSocket::bind(util::any_port()).unwrap();
        let tx = UdpSocket::bind(util::any_port()).unwrap();
        let to = rx.local_addr().unwrap();
        let receive = || async {
            let mut buf = [0; 8];
            rx.recv_from(&mut buf).await.unwrap().0
        };
        let send_later = async {
            // Both receives have found the socket empty and are waiting by now.
            yield_now().await;
            tx.send_to(b"one", to).await.unwrap();
            tx.send_to(b"two", to).await.unwrap();
        };
        let ((a, b), ()) = join(join(receive(), receive()), send_later).await;
        assert_eq!(a + b, 6);
    });
}

/// Two tasks receiving on one `Rc<UdpSocket>`: both get a datagram.
#[test]
fn two_tasks_receiving_on_one_socket_both_complete() {
    util::run(async {
        let rx = Rc::new(UdpSocket::bind(util::any_port()).unwrap());
        let tx = UdpSocket::bind(util::any_port()).unwrap();
        let to = rx.local_addr().unwrap();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                spawn(async move {
                    let mut buf = [0; 8];
                    rx.recv_from(&mut buf).await.unwrap().0
                })
            })
            .collect();
        yield_now().await; // both tasks are waiting now
        tx.send_to(b"one", to).await.unwrap();
        tx.send_to(b"two", to).await.unwrap();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, 6);
    });
}

/// Two tasks accepting on one `Rc<TcpListener>`: two connects are both accepted.
#[test]
fn two_tasks_accepting_on_one_listener_both_complete() {
    util::run(async {
        let listener = Rc::new(TcpListener::bind(util::any_port()).unwrap());
        let addr = listener.local_addr().unwrap();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                spawn(async move { listener.accept().await.unwrap().1 })
            })
            .collect();
        yield_now().await; // both tasks are waiting now
        let a = TcpStream::connect(addr).await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        let mut peers = Vec::new();
        for t in tasks {
            peers.push(t.await.unwrap());
        }
        peers.sort();
        let mut expected = vec![a.local_addr().unwrap(), b.local_addr().unwrap()];
        expected.sort();
        assert_eq!(peers, expected);
    });
}
