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

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (io, waiter) = self.get_mut().read_parts();
        poll_read_stream(io, waiter, cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (io, waiter) = self.get_mut().write_parts();
        poll_write_stream(io, waiter, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

/// `AsyncRead` for a reading half.
macro_rules! async_read_half {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let (io, waiter) = self.get_mut().parts();
                poll_read_stream(io, waiter, cx, buf)
            }
        }
    };
}

/// `AsyncWrite` for a writing half.
macro_rules! async_write_half {
    ($t:ty) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let (io, waiter) = self.get_mut().parts();
                poll_write_stream(io, waiter, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown())
            }
        }
    };
}

async_read_half!(ReadHalf<'_>);
async_read_half!(OwnedReadHalf);
async_write_half!(WriteHalf<'_>);
async_write_half!(OwnedWriteHalf);
