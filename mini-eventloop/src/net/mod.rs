//! Non-blocking sockets on the loop: asyncio's streams and datagram endpoints.
//!
//! Invariant: every socket here is registered once with the runtime's reactor and
//! deregistered when dropped; an operation tries the system call first and waits on the
//! reactor only after `WouldBlock` (or a short stream read, see `reactor.rs`).
//!
//! Files: `tcp.rs` (listener, stream, halves), `udp.rs`, `addr.rs` (host names resolved on
//! the blocking pool), `futures_io.rs` (the `futures-io` traits, behind that feature).

mod addr;
#[cfg(feature = "futures-io")]
mod futures_io;
mod tcp;
mod udp;

pub use addr::{ToSocketAddrs, lookup_host};

pub use tcp::{
    ACCEPT_BACKOFF, DEFAULT_BACKLOG, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener,
    TcpStream, WriteHalf,
};
pub use udp::UdpSocket;
