//! The `futures-io` traits (`AsyncRead`, `AsyncWrite`) for [`TcpStream`] and its halves, behind
//! the off-by-default `futures-io` feature, so streams work with the `futures` I/O ecosystem
//! (`futures::io::copy`, `BufReader`, codecs).
//!
//! Invariant: each type polls through its own per-direction registration, created with the
//! stream, so polling again while pending updates one waiter entry instead of adding one;
//! writes are unbuffered (`poll_flush` has nothing to do) and `poll_close` sends FIN.

use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::tcp::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, WriteHalf, poll_read_stream,
    poll_write_stream,
};

/// `AsyncRead` for a type whose `$parts` method gives the stream and its read registration.
macro_rules! async_read {
    ($t:ty, $parts:ident) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let (io, waiter) = self.get_mut().$parts();
                poll_read_stream(io, waiter, cx, buf)
            }
        }
    };
}

/// `AsyncWrite` for a type whose `$parts` method gives the stream and its write registration;
/// `$close` shuts its writing side down.
macro_rules! async_write {
    ($t:ty, $parts:ident, $close:expr) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let (io, waiter) = self.get_mut().$parts();
                poll_write_stream(io, waiter, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let close: fn(&Self) -> io::Result<()> = $close;
                Poll::Ready(close(&self))
            }
        }
    };
}

async_read!(TcpStream, read_parts);
async_read!(ReadHalf<'_>, parts);
async_read!(OwnedReadHalf, parts);
async_write!(TcpStream, write_parts, |s| s.shutdown(Shutdown::Write));
async_write!(WriteHalf<'_>, parts, |s| s.shutdown());
async_write!(OwnedWriteHalf, parts, |s| s.shutdown());
