//! [`RoundTrips`]: the network workload. It opens one connection to a
//! [`Fixture`](crate::fixture::Fixture) and does request/response round trips on it, checking
//! every echo.
//!
//! Invariants: every payload byte is a function of the round number and its position only, so
//! the output is known in advance; and every failure (connect, send, receive, a wrong echo)
//! is an `Err` output, never a panic.

use std::net::SocketAddr;

use crate::fixture::{HEADER_LEN, MAX_PAYLOAD, payload_len, write_request};
use crate::job::{Ctx, Job};
use crate::wire::{Wire, WireError};

use super::{Workload, WorkloadError};

/// Connects once to the fixture at `addr`, then does `round_trips` round trips of
/// `payload_len`-byte payloads through the context, checking each echo.
///
/// Its output is a checksum: for each completed round trip, one plus the sum of the payload
/// bytes received. It is deterministic, so [`expected`](Workload::expected) computes it from
/// the parameters alone.
///
/// # Example
///
/// ```
/// use concurrency_shared::fixture::{Fixture, FixtureConfig};
/// use concurrency_shared::run_blocking;
/// use concurrency_shared::workloads::{RoundTrips, Workload};
///
/// let fixture = Fixture::start(FixtureConfig::new())?;
/// let job = RoundTrips::new(fixture.addr(), 10, 64);
/// assert_eq!(run_blocking(&job), job.expected());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoundTrips {
    /// The fixture to talk to.
    addr: SocketAddr,
    /// How many requests to send, one after the other.
    round_trips: u32,
    /// The payload length of each request, at most 1 MiB.
    payload_len: u32,
}

impl RoundTrips {
    /// The job doing `round_trips` round trips of `payload_len`-byte payloads with the fixture
    /// at `addr`. A `payload_len` above 1 MiB makes the job fail with
    /// [`WorkloadError::PayloadTooLong`] before it connects.
    pub fn new(addr: SocketAddr, round_trips: u32, payload_len: u32) -> Self {
        Self {
            addr,
            round_trips,
            payload_len,
        }
    }

    /// The fixture's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many round trips it does.
    pub fn round_trips(&self) -> u32 {
        self.round_trips
    }

    /// The payload length of each request.
    pub fn payload_len(&self) -> u32 {
        self.payload_len
    }

    /// The payload of round `round`: byte `i` is a fixed mix of `round` and `i`, so consecutive
    /// rounds differ and a misdelivered answer is caught.
    fn payload(&self, round: u32) -> Vec<u8> {
        (0..self.payload_len)
            .map(|i| (round.wrapping_mul(31).wrapping_add(i.wrapping_mul(7)) % 251) as u8)
            .collect()
    }

    /// The checksum a round contributes: one plus the sum of its payload bytes.
    fn checksum(payload: &[u8]) -> u64 {
        1 + payload.iter().map(|&b| u64::from(b)).sum::<u64>()
    }
}

impl Job for RoundTrips {
    type Output = Result<u64, WorkloadError>;

    async fn run<C: Ctx>(&self, cx: &mut C) -> Result<u64, WorkloadError> {
        if self.payload_len as usize > MAX_PAYLOAD {
            return Err(WorkloadError::PayloadTooLong {
                payload_len: self.payload_len,
            });
        }
        let mut stream = cx
            .connect(self.addr)
            .await
            .map_err(|e| WorkloadError::connect(&e))?;
        let mut checksum = 0;
        let mut answer = vec![0; self.payload_len as usize];
        for round in 0..self.round_trips {
            let payload = self.payload(round);
            let request = write_request(&payload).map_err(|_| WorkloadError::PayloadTooLong {
                payload_len: self.payload_len,
            })?;
            cx.write_all(&mut stream, &request)
                .await
                .map_err(|e| WorkloadError::send(round, &e))?;
            let mut header = [0; HEADER_LEN];
            cx.read_exact(&mut stream, &mut header)
                .await
                .map_err(|e| WorkloadError::receive(round, &e))?;
            if payload_len(header) != Ok(payload.len()) {
                return Err(WorkloadError::Mismatch { round });
            }
            cx.read_exact(&mut stream, &mut answer)
                .await
                .map_err(|e| WorkloadError::receive(round, &e))?;
            if answer != payload {
                return Err(WorkloadError::Mismatch { round });
            }
            checksum += Self::checksum(&answer);
        }
        Ok(checksum)
    }
}

impl Workload for RoundTrips {
    fn expected(&self) -> Result<u64, WorkloadError> {
        if self.payload_len as usize > MAX_PAYLOAD {
            return Err(WorkloadError::PayloadTooLong {
                payload_len: self.payload_len,
            });
        }
        Ok((0..self.round_trips)
            .map(|round| Self::checksum(&self.payload(round)))
            .sum())
    }
}

impl Wire for RoundTrips {
    const MIN_ENCODED_LEN: usize =
        SocketAddr::MIN_ENCODED_LEN + u32::MIN_ENCODED_LEN + u32::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.addr.encode(out);
        self.round_trips.encode(out);
        self.payload_len.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            addr: Wire::decode(input)?,
            round_trips: Wire::decode(input)?,
            payload_len: Wire::decode(input)?,
        })
    }
}
