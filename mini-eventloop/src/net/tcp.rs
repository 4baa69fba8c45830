//! TCP: a listener whose `accept` survives descriptor exhaustion, and a stream with read and
//! write halves that two tasks can use at once.
//!
//! Invariant: `accept` never spins. `EMFILE`/`ENFILE` (and `ENOBUFS`/`ENOMEM`) leave the
//! listener's readiness set (the pending connection is still there, and the edge will not be
//! reported again), so the listener parks on a back-off timer of [`ACCEPT_BACKOFF`] and then
//! retries; each retry is one `accept` system call, counted in the loop's statistics.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::ToSocketAddrs;
use super::addr::try_each;
use crate::reactor::{Direction, IoSource, IoWaiter};
use crate::runtime::bump;

/// How long a listener waits after `EMFILE`/`ENFILE` before trying `accept` again: long enough
/// that a process out of descriptors spends well under 1% of a core on retries (one system call
/// per 10 ms), short enough that a freed descriptor is put to use within a human-invisible delay.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The accept-queue length [`TcpListener::bind`] asks for, as tokio does: room for a burst of
/// about a thousand connects, where the 128 of `std` and `mio` overflows.
pub const DEFAULT_BACKLOG: i32 = 1_024;

/// True for the errors that mean "no descriptor or memory for the new socket right now".
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// True for errors about one incoming connection only (the peer gave up before we accepted).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// A TCP listening socket. asyncio: `asyncio.start_server`.
///
/// ```
/// use mini_eventloop::{Runtime, spawn, net::{TcpListener, TcpStream}};
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = spawn(async move {
///         let (mut s, _) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         let n = s.read(&mut buf).await.unwrap();
///         s.write_all(&buf[..n]).await.unwrap();
///     });
///     let mut c = TcpStream::connect(addr).await.unwrap();
///     c.write_all(b"hello").await.unwrap();
///     let mut buf = [0; 5];
///     c.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
///     server.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    /// The registered mio listener.
    io: IoSource<mio::net::TcpListener>,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl TcpListener {
    /// Binds to `addr` (with `SO_REUSEADDR`) with a backlog of [`DEFAULT_BACKLOG`] on the
    /// current runtime.
    ///
    /// # Errors
    ///
    /// The bind error, or an error if called outside a runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// Binds to `addr` with room for `backlog` connections that completed their handshake
    /// but are not accepted yet (the kernel caps it at `net.core.somaxconn`).
    ///
    /// Size it for the connects a burst of clients has in flight at once: when the queue is
    /// full, Linux drops the client's final handshake ACK, the client believes it is connected
    /// and may send, and the connection stalls on retransmits or is reset.
    ///
    /// # Errors
    ///
    /// The bind or `listen` error (a `backlog` below 0 is refused with `InvalidInput`), or an
    /// error if called outside a runtime.
    pub fn bind_with_backlog(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
        if backlog < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("listen backlog must not be negative, got {backlog}"),
            ));
        }
        // `mio` binds and listens with a backlog of 128 (as `std` does); a second `listen`
        // resizes the queue before any task can accept from it.
        let listener = mio::net::TcpListener::bind(addr)?;
        crate::sys::set_backlog(&listener, backlog)?;
        Ok(TcpListener {
            io: IoSource::new(listener)?,
        })
    }

    /// Wraps a bound, listening std listener (switched to non-blocking here).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(mio::net::TcpListener::from_std(listener))?,
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

    /// Waits for and accepts the next connection.
    ///
    /// Connections the peer aborted before they were accepted are skipped. When the process
    /// (or system) is out of descriptors, the listener backs off for [`ACCEPT_BACKOFF`] and
    /// retries, as often as needed, instead of failing or spinning.
    ///
    /// # Errors
    ///
    /// Any other `accept` error, or an error registering the new socket.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let counters = &self.io.core().counters;
        let mut waiter = self.io.waiter(Direction::Read);
        loop {
            let accepted = poll_fn(|cx| {
                self.io.poll_io(&mut waiter, cx, |l| {
                    bump(&counters.accept_attempts);
                    l.accept()
                })
            })
            .await;
            match accepted {
                Ok((stream, peer)) => return Ok((TcpStream::from_mio(stream)?, peer)),
                Err(e) if is_resource_exhaustion(&e) => {
                    bump(&counters.accept_backoffs);
                    crate::sleep(ACCEPT_BACKOFF).await;
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A TCP connection. asyncio: the `(reader, writer)` pair of `asyncio.open_connection`.
pub struct TcpStream {
    /// The registered mio stream, shared with owned halves.
    io: Rc<IoSource<mio::net::TcpStream>>,
    /// The stream's own registration for reading, used by poll-based reads (`futures-io`);
    /// the `async fn` methods register per call instead.
    read_waiter: IoWaiter,
    /// The same for writing.
    write_waiter: IoWaiter,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

/// The registered stream, as every reading or writing type holds it.
type StreamIo = IoSource<mio::net::TcpStream>;

/// One read of `io` into `buf` once it is readable. A read that returns less than asked
/// (but not 0, which is end of stream, a final state) emptied the socket's receive queue
/// (unless it stopped at an urgent mark, which the reactor knows of), so the read readiness
/// is cleared at once: the next read waits for the next edge instead of spending a system
/// call on `EAGAIN` (see `reactor.rs` for why no edge and no data is lost).
pub(super) fn poll_read_stream(
    io: &StreamIo,
    waiter: &mut IoWaiter,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let asked = buf.len();
    let result = ready!(io.poll_io(waiter, cx, |mut s| s.read(buf)));
    if let Ok(n) = result {
        if n > 0 && n < asked {
            io.clear_readable_after_short_read();
        }
    }
    Poll::Ready(result)
}

/// One write of part of `buf` to `io` once it is writable.
pub(super) fn poll_write_stream(
    io: &StreamIo,
    waiter: &mut IoWaiter,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    io.poll_io(waiter, cx, |mut s| s.write(buf))
}

/// Reads into `buf` from `io` once it is readable.
async fn read_from(io: &StreamIo, waiter: &mut IoWaiter, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| poll_read_stream(io, waiter, cx, buf)).await
}

/// Writes part of `buf` to `io` once it is writable.
async fn write_to(io: &StreamIo, waiter: &mut IoWaiter, buf: &[u8]) -> io::Result<usize> {
    poll_fn(|cx| poll_write_stream(io, waiter, cx, buf)).await
}

/// Writes all of `buf`.
async fn write_all_to(io: &StreamIo, waiter: &mut IoWaiter, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match write_to(io, waiter, buf).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fills `buf` exactly.
async fn read_exact_from(io: &StreamIo, waiter: &mut IoWaiter, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_from(io, waiter, &mut buf[filled..]).await {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl TcpStream {
    /// Registers an accepted or connected mio stream.
    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let io = Rc::new(IoSource::new(stream)?);
        Ok(TcpStream {
            read_waiter: io.waiter(Direction::Read),
            write_waiter: io.waiter(Direction::Write),
            io,
        })
    }

    /// Connects to `addr`: a [`SocketAddr`], or a `"host:port"` / `(host, port)` whose name is
    /// resolved on the blocking pool ([`lookup_host`](crate::net::lookup_host)); each address
    /// is tried in turn. asyncio: `await asyncio.open_connection(host, port)`.
    ///
    /// ```
    /// use mini_eventloop::{Runtime, net::{TcpListener, TcpStream}};
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     let stream = TcpStream::connect(("localhost", port)).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap().port(), port);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// The last address's connection error (refused, unreachable, ...), the resolver's error,
    /// or an error if called outside a runtime.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        try_each(addr, TcpStream::connect_addr).await
    }

    /// Connects to one address.
    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // A non-blocking connect finishes when the socket becomes writable; then either the
        // socket has an error or it has a peer (mio's documented recipe).
        let io = stream.io.clone();
        let mut waiter = io.waiter(Direction::Write);
        loop {
            poll_fn(|cx| io.poll_ready(&mut waiter, cx)).await?;
            if let Some(e) = io.get_ref().take_error()? {
                return Err(e);
            }
            match io.get_ref().peer_addr() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    // Still in progress (a spurious or early edge): for a connect this is the
                    // `WouldBlock`, so clear the readiness and wait for the next edge.
                    io.clear_readiness(Direction::Write);
                }
                Err(e) => return Err(e),
            }
        }
        drop(waiter);
        Ok(stream)
    }

    /// Reads at most `buf.len()` bytes; `Ok(0)` means the peer closed its writing side (or
    /// `buf` is empty). A reset peer gives `ConnectionReset`.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_from(&self.io, &mut self.read_waiter, buf).await
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closes first, or the socket's error.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact_from(&self.io, &mut self.read_waiter, buf).await
    }

    /// Writes some of `buf`, returning how much.
    ///
    /// # Errors
    ///
    /// The socket's error (`BrokenPipe` or `ConnectionReset` after the peer is gone).
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_to(&self.io, &mut self.write_waiter, buf).await
    }

    /// Writes all of `buf`. asyncio: `writer.write(data); await writer.drain()`.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all_to(&self.io, &mut self.write_waiter, buf).await
    }

    /// Shuts down reading, writing or both. asyncio: `writer.write_eof()` for `Write`.
    ///
    /// # Errors
    ///
    /// The `shutdown` error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` and friends.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// The stream and its reading registration, for poll-based reads.
    #[cfg_attr(not(feature = "futures-io"), allow(dead_code))]
    pub(super) fn read_parts(&mut self) -> (&StreamIo, &mut IoWaiter) {
        (&self.io, &mut self.read_waiter)
    }

    /// The stream and its writing registration, for poll-based writes.
    #[cfg_attr(not(feature = "futures-io"), allow(dead_code))]
    pub(super) fn write_parts(&mut self) -> (&StreamIo, &mut IoWaiter) {
        (&self.io, &mut self.write_waiter)
    }

    /// Borrowed read and write halves, usable by two futures at once (in one task with a
    /// join, say).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (
            ReadHalf {
                io: &self.io,
                waiter: &mut self.read_waiter,
            },
            WriteHalf {
                io: &self.io,
                waiter: &mut self.write_waiter,
            },
        )
    }

    /// Owned read and write halves, for two tasks. The socket closes when both are dropped.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                io: self.io.clone(),
                waiter: self.read_waiter,
            },
            OwnedWriteHalf {
                io: self.io,
                waiter: self.write_waiter,
            },
        )
    }
}

/// The reading half of a borrowed [`TcpStream`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    /// The stream.
    io: &'a IoSource<mio::net::TcpStream>,
    /// The stream's registration for poll-based reads.
    waiter: &'a mut IoWaiter,
}

/// The writing half of a borrowed [`TcpStream`].
#[derive(Debug)]
pub struct WriteHalf<'a> {
    /// The stream.
    io: &'a IoSource<mio::net::TcpStream>,
    /// The stream's registration for poll-based writes.
    waiter: &'a mut IoWaiter,
}

/// The reading half of a [`TcpStream`], owned by one task.
#[derive(Debug)]
pub struct OwnedReadHalf {
    /// The stream, shared with the writing half.
    io: Rc<IoSource<mio::net::TcpStream>>,
    /// Its registration for poll-based reads.
    waiter: IoWaiter,
}

/// The writing half of a [`TcpStream`], owned by one task. Dropping it shuts the writing side
/// down (the peer reads end of stream), as tokio's does, even while the reading half lives on.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    /// The stream, shared with the reading half.
    io: Rc<IoSource<mio::net::TcpStream>>,
    /// Its registration for poll-based writes.
    waiter: IoWaiter,
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // Fails only if the socket is already shut down or the peer is gone: nothing to send.
        let _ = self.io.get_ref().shutdown(Shutdown::Write);
    }
}

macro_rules! half_parts {
    ($t:ty) => {
        impl $t {
            /// The stream and this half's registration.
            #[cfg_attr(not(feature = "futures-io"), allow(dead_code))]
            pub(super) fn parts(&mut self) -> (&StreamIo, &mut IoWaiter) {
                (&self.io, &mut self.waiter)
            }
        }
    };
}

half_parts!(ReadHalf<'_>);
half_parts!(OwnedReadHalf);
half_parts!(WriteHalf<'_>);
half_parts!(OwnedWriteHalf);

macro_rules! read_half_methods {
    ($t:ty) => {
        impl $t {
            /// Reads at most `buf.len()` bytes; `Ok(0)` at the peer's end of stream.
            ///
            /// # Errors
            ///
            /// The socket's error.
            pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                read_from(&self.io, &mut self.waiter, buf).await
            }

            /// Reads exactly `buf.len()` bytes.
            ///
            /// # Errors
            ///
            /// `UnexpectedEof` if the peer closes first, or the socket's error.
            pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
                read_exact_from(&self.io, &mut self.waiter, buf).await
            }
        }
    };
}

macro_rules! write_half_methods {
    ($t:ty) => {
        impl $t {
            /// Writes some of `buf`, returning how much.
            ///
            /// # Errors
            ///
            /// The socket's error.
            pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                write_to(&self.io, &mut self.waiter, buf).await
            }

            /// Writes all of `buf`.
            ///
            /// # Errors
            ///
            /// The socket's error.
            pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                write_all_to(&self.io, &mut self.waiter, buf).await
            }

            /// Shuts down the writing side (the peer reads end of stream).
            ///
            /// # Errors
            ///
            /// The `shutdown` error.
            pub fn shutdown(&self) -> io::Result<()> {
                self.io.get_ref().shutdown(Shutdown::Write)
            }
        }
    };
}

read_half_methods!(ReadHalf<'_>);
read_half_methods!(OwnedReadHalf);
write_half_methods!(WriteHalf<'_>);
write_half_methods!(OwnedWriteHalf);
