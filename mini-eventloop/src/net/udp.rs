//! UDP: a datagram socket on the loop. asyncio: `loop.create_datagram_endpoint`.
//!
//! Invariant: one registration per socket; sending and receiving wait on separate
//! directions, so one task may send while another receives, and every task waiting on one
//! direction is kept (two tasks may receive on one socket).

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;

use super::ToSocketAddrs;
use super::addr::try_each;
use crate::reactor::{Direction, IoSource};

/// A UDP socket.
///
/// ```
/// use mini_eventloop::{Runtime, net::UdpSocket};
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    /// The registered mio socket.
    io: IoSource<mio::net::UdpSocket>,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Binds to `addr` on the current runtime.
    ///
    /// # Errors
    ///
    /// The bind error, or an error if called outside a runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: IoSource::new(mio::net::UdpSocket::bind(addr)?)?,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sends one datagram to `target`; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// The `sendto` error.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        let mut waiter = self.io.waiter(Direction::Write);
        poll_fn(|cx| self.io.poll_io(&mut waiter, cx, |s| s.send_to(buf, target))).await
    }

    /// Sets the default peer: [`send`](UdpSocket::send) goes there, and
    /// [`recv`](UdpSocket::recv) takes datagrams from there only. A host name is resolved on
    /// the blocking pool; the first address that `connect` accepts is used.
    ///
    /// ```
    /// use mini_eventloop::{Runtime, net::UdpSocket};
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"ping").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"ping");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// The resolver's or `connect`'s error.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        try_each(addr, |a| std::future::ready(self.io.get_ref().connect(a))).await
    }

    /// Sends one datagram to the connected peer; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](UdpSocket::connect), or the `send` error.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let mut waiter = self.io.waiter(Direction::Write);
        poll_fn(|cx| self.io.poll_io(&mut waiter, cx, |s| s.send(buf))).await
    }

    /// Receives one datagram from the connected peer; returns its length (truncated to `buf`).
    ///
    /// # Errors
    ///
    /// The `recv` error (`ConnectionRefused` after an ICMP port-unreachable from the peer).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut waiter = self.io.waiter(Direction::Read);
        poll_fn(|cx| self.io.poll_io(&mut waiter, cx, |s| s.recv(buf))).await
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Receives one datagram; returns its length (truncated to `buf`) and sender.
    ///
    /// # Errors
    ///
    /// The `recvfrom` error.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut waiter = self.io.waiter(Direction::Read);
        poll_fn(|cx| self.io.poll_io(&mut waiter, cx, |s| s.recv_from(buf))).await
    }
}
