//! The two frame formats on a worker's pipes, and the buffer that cuts a byte stream into
//! frames.
//!
//! Every frame is a little-endian `u64` body length, then the body:
//!
//! ```text
//! task frame   (manager -> worker), one per chunk:
//!   [u64 len][u64 token][u64 trampoline][u64 function][u32 n]  n x ([u64 len][input bytes])
//!
//! result frame (worker -> manager), one per chunk, in the order the chunks were sent:
//!   [u64 len][u64 run time in ns][u32 n]  n x ([u8 outcome][u64 len][bytes])
//!   outcome 0: bytes = the Wire encoding of the result
//!   outcome 1: bytes = the panic message (UTF-8)
//!   outcome 2: bytes = why the worker could not decode the input (UTF-8)
//! ```
//!
//! A pool with a recorder (feature `trace`) gets result frames that end with the worker's
//! records after the last outcome; `trace.rs` takes them off before the body is parsed here.
//!
//! Invariants: a length prefix is never trusted for allocation (a [`FrameBuf`] grows with the
//! bytes that actually arrive); a malformed result body is a [`WireError`], never a panic; a
//! frame longer than [`MAX_FRAME_LEN`] is refused, since it can only mean the stream is garbage.

use std::io;
use std::ops::Range;
use std::os::fd::BorrowedFd;

use crate::error::TaskError;
use crate::{WireError, sys};

/// The longest frame body accepted: 64 GiB. Anything longer is a corrupt length prefix.
pub const MAX_FRAME_LEN: u64 = 1 << 36;

/// How many bytes one `read` asks for. Pipes of this pool are grown to this size too.
pub const READ_SIZE: usize = 1 << 20;

/// The result of one task inside a result frame.
pub const OUTCOME_OK: u8 = 0;
/// The task panicked.
pub const OUTCOME_PANICKED: u8 = 1;
/// The worker could not decode the task's input.
pub const OUTCOME_BAD_INPUT: u8 = 2;

/// The size of the length prefix.
const LEN_PREFIX: usize = 8;

/// Starts a frame in `out`: reserves the length prefix, to be filled by [`finish_frame`].
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; LEN_PREFIX]);
    at
}

/// Writes the body length of the frame begun at `at`.
pub fn finish_frame(out: &mut [u8], at: usize) {
    let len = (out.len() - at - LEN_PREFIX) as u64;
    out[at..at + LEN_PREFIX].copy_from_slice(&len.to_le_bytes());
}

/// Appends an item: a `u64` length placeholder, whatever `fill` writes, then patches the length.
pub fn put_sized<R>(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let at = out.len();
    out.extend_from_slice(&[0; 8]);
    let r = fill(out);
    let len = (out.len() - at - 8) as u64;
    out[at..at + 8].copy_from_slice(&len.to_le_bytes());
    r
}

/// A cursor over a frame body, every read checked.
pub struct Cursor<'a> {
    /// What is left to read.
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `body`.
    pub fn new(body: &'a [u8]) -> Self {
        Cursor { rest: body }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.bytes(1)?[0])
    }

    /// A `u64` length then that many bytes.
    pub fn sized(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u64()?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        self.bytes(len)
    }

    /// The offset of the cursor inside `body` (which it was created from).
    pub fn offset_in(&self, body: &[u8]) -> usize {
        body.len() - self.rest.len()
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// The outcome of one task as the manager routes it: the result's bytes are a range of the
/// chunk's result body, so nothing is copied between the pipe and the caller's decoder.
#[derive(Debug)]
pub enum ItemOutcome {
    /// The task returned; its encoded result is `body[range]`.
    Ok(Range<usize>),
    /// The task failed.
    Err(TaskError),
}

/// Splits a result frame's body into the chunk's run time (ns) and `expected` outcomes.
///
/// # Errors
///
/// A [`WireError`] if the body is not exactly `expected` well-formed outcomes.
pub fn parse_result(body: &[u8], expected: usize) -> Result<(u64, Vec<ItemOutcome>), WireError> {
    const FRAME: &str = "proc-pool result frame";
    let mut cur = Cursor::new(body);
    let run_ns = cur.u64()?;
    let n = cur.u32()? as usize;
    if n != expected {
        return Err(WireError::Invalid {
            type_name: FRAME,
            reason: "the number of results does not match the chunk",
        });
    }
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let tag = cur.u8()?;
        let bytes = cur.sized()?;
        let end = cur.offset_in(body);
        items.push(match tag {
            OUTCOME_OK => ItemOutcome::Ok(end - bytes.len()..end),
            OUTCOME_PANICKED => ItemOutcome::Err(TaskError::Panicked(
                String::from_utf8_lossy(bytes).into_owned(),
            )),
            OUTCOME_BAD_INPUT => ItemOutcome::Err(TaskError::Codec(WireError::Invalid {
                type_name: "task input",
                reason: "the worker could not decode it (the type's Wire impl is not symmetric)",
            })),
            tag => {
                return Err(WireError::InvalidTag {
                    type_name: FRAME,
                    tag: tag.into(),
                });
            }
        });
    }
    if !cur.is_empty() {
        return Err(WireError::TrailingBytes {
            remaining: body.len() - cur.offset_in(body),
        });
    }
    Ok((run_ns, items))
}

/// A frame whose length prefix is beyond [`MAX_FRAME_LEN`]: the stream is garbage.
#[derive(Debug)]
pub struct FrameTooLong;

/// Bytes read from a pipe, cut into frames.
///
/// Bytes before `start` belong to frames already handed out.
#[derive(Debug, Default)]
pub struct FrameBuf {
    /// Received bytes.
    buf: Vec<u8>,
    /// Where the next unconsumed frame begins.
    start: usize,
}

impl FrameBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// One `read` from `fd` into the buffer; `Ok(0)` is end of file.
    pub fn fill(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            // Do not keep a huge frame's buffer for the pipe's whole life.
            if self.buf.capacity() > 4 * READ_SIZE {
                self.buf = Vec::new();
            }
        } else if self.start > READ_SIZE && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // Grow with the bytes that arrive (amortised doubling by `reserve`), never by what a
        // length prefix announces.
        sys::read_spare(fd, &mut self.buf, READ_SIZE)
    }

    /// The body range of the next complete frame, consuming it; `Ok(None)` if it has not fully
    /// arrived yet.
    pub fn next_frame(&mut self) -> Result<Option<Range<usize>>, FrameTooLong> {
        let avail = &self.buf[self.start..];
        if avail.len() < LEN_PREFIX {
            return Ok(None);
        }
        let mut len = [0; LEN_PREFIX];
        len.copy_from_slice(&avail[..LEN_PREFIX]);
        let len = u64::from_le_bytes(len);
        if len > MAX_FRAME_LEN {
            return Err(FrameTooLong);
        }
        let len = len as usize;
        if avail.len() - LEN_PREFIX < len {
            return Ok(None);
        }
        let body = self.start + LEN_PREFIX..self.start + LEN_PREFIX + len;
        self.start = body.end;
        Ok(Some(body))
    }

    /// The bytes of a range returned by [`next_frame`](Self::next_frame), valid until the next
    /// [`fill`](Self::fill).
    pub fn get(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Moves the body out as an owned vector (without copying when it is the whole buffer,
    /// which is the case for large results).
    pub fn take(&mut self, range: Range<usize>) -> Vec<u8> {
        if range.start == LEN_PREFIX && range.end == self.buf.len() {
            let mut whole = std::mem::take(&mut self.buf);
            self.start = 0;
            whole.drain(..LEN_PREFIX);
            return whole;
        }
        self.buf[range].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result_body(items: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&1234u64.to_le_bytes());
        out.extend_from_slice(&(items.len() as u32).to_le_bytes());
        for (tag, bytes) in items {
            out.push(*tag);
            put_sized(&mut out, |o| o.extend_from_slice(bytes));
        }
        out
    }

    /// A well-formed result body splits into its outcomes, results as ranges of the body.
    #[test]
    fn parses_outcomes() {
        let body = result_body(&[(OUTCOME_OK, b"abc"), (OUTCOME_PANICKED, b"boom")]);
        let (run_ns, items) = parse_result(&body, 2).unwrap();
        assert_eq!(run_ns, 1234);
        match &items[0] {
            ItemOutcome::Ok(r) => assert_eq!(&body[r.clone()], b"abc"),
            other => panic!("{other:?}"),
        }
        match &items[1] {
            ItemOutcome::Err(TaskError::Panicked(m)) => assert_eq!(m, "boom"),
            other => panic!("{other:?}"),
        }
    }

    /// Garbage is an error value: wrong count, unknown tag, truncation, trailing bytes.
    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let body = result_body(&[(OUTCOME_OK, b"abc")]);
        assert!(parse_result(&body, 2).is_err());
        assert!(parse_result(&body[..body.len() - 1], 1).is_err());
        let mut long = body.clone();
        long.push(0);
        assert!(parse_result(&long, 1).is_err());
        let bad = result_body(&[(7, b"")]);
        assert!(matches!(
            parse_result(&bad, 1),
            Err(WireError::InvalidTag { tag: 7, .. })
        ));
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = parse_result(&junk, 3);
        }
    }

    /// A frame is handed out only once complete, and an absurd length prefix is refused.
    #[test]
    fn frames_are_cut_from_a_stream() {
        let (r, w) = sys::pipe().unwrap();
        use std::os::fd::AsFd;
        let mut frame = Vec::new();
        let at = begin_frame(&mut frame);
        frame.extend_from_slice(b"hello");
        finish_frame(&mut frame, at);
        sys::write(w.as_fd(), &frame[..6]).unwrap();
        let mut fb = FrameBuf::new();
        fb.fill(r.as_fd()).unwrap();
        assert!(fb.next_frame().unwrap().is_none());
        sys::write(w.as_fd(), &frame[6..]).unwrap();
        fb.fill(r.as_fd()).unwrap();
        let body = fb.next_frame().unwrap().unwrap();
        assert_eq!(fb.take(body), b"hello");
        sys::write(w.as_fd(), &u64::MAX.to_le_bytes()).unwrap();
        fb.fill(r.as_fd()).unwrap();
        assert!(fb.next_frame().is_err());
    }
}
