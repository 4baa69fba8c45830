//! [`WorkloadError`]: why a network workload could not finish, as a value that crosses a
//! process boundary (it is [`Wire`]), so a pool worker's failure reads the same as a thread's.
//!
//! Invariant: every failure a workload can meet is one of these values; no workload panics on
//! an I/O error or a wrong answer.

use std::fmt;
use std::io;

use crate::wire::{Wire, WireError};

/// Why a network workload stopped early. Each variant is one cause; I/O errors keep the OS
/// error's text (an [`io::Error`] itself cannot cross a process boundary).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkloadError {
    /// Connecting to the server failed.
    Connect {
        /// The OS error, as text.
        message: String,
    },
    /// Sending a request failed.
    Send {
        /// The round trip it happened in, from 0.
        round: u32,
        /// The OS error, as text.
        message: String,
    },
    /// Receiving an answer failed, including the server closing the connection first.
    Receive {
        /// The round trip it happened in, from 0.
        round: u32,
        /// The OS error, as text.
        message: String,
    },
    /// The answer was not the request echoed back.
    Mismatch {
        /// The round trip it happened in, from 0.
        round: u32,
    },
    /// The job asked for a payload longer than the fixture accepts (1 MiB).
    PayloadTooLong {
        /// The payload length asked for.
        payload_len: u32,
    },
}

impl WorkloadError {
    /// The error for a failed `connect`.
    pub(crate) fn connect(e: &io::Error) -> Self {
        Self::Connect {
            message: e.to_string(),
        }
    }

    /// The error for a failed send in round `round`.
    pub(crate) fn send(round: u32, e: &io::Error) -> Self {
        Self::Send {
            round,
            message: e.to_string(),
        }
    }

    /// The error for a failed receive in round `round`.
    pub(crate) fn receive(round: u32, e: &io::Error) -> Self {
        Self::Receive {
            round,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { message } => write!(f, "cannot connect to the server: {message}"),
            Self::Send { round, message } => {
                write!(f, "round trip {round}: cannot send the request: {message}")
            }
            Self::Receive { round, message } => {
                write!(
                    f,
                    "round trip {round}: cannot receive the answer: {message}"
                )
            }
            Self::Mismatch { round } => {
                write!(
                    f,
                    "round trip {round}: the answer is not the request echoed"
                )
            }
            Self::PayloadTooLong { payload_len } => write!(
                f,
                "a {payload_len}-byte payload is longer than the server accepts"
            ),
        }
    }
}

impl std::error::Error for WorkloadError {}

/// The tag bytes of the encoding, one per variant.
const CONNECT: u8 = 0;
const SEND: u8 = 1;
const RECEIVE: u8 = 2;
const MISMATCH: u8 = 3;
const PAYLOAD_TOO_LONG: u8 = 4;

impl Wire for WorkloadError {
    /// A tag byte and at least a `u32`.
    const MIN_ENCODED_LEN: usize = u8::MIN_ENCODED_LEN + u32::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Connect { message } => {
                CONNECT.encode(out);
                message.encode(out);
            }
            Self::Send { round, message } => {
                SEND.encode(out);
                round.encode(out);
                message.encode(out);
            }
            Self::Receive { round, message } => {
                RECEIVE.encode(out);
                round.encode(out);
                message.encode(out);
            }
            Self::Mismatch { round } => {
                MISMATCH.encode(out);
                round.encode(out);
            }
            Self::PayloadTooLong { payload_len } => {
                PAYLOAD_TOO_LONG.encode(out);
                payload_len.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(match u8::decode(input)? {
            CONNECT => Self::Connect {
                message: Wire::decode(input)?,
            },
            SEND => Self::Send {
                round: Wire::decode(input)?,
                message: Wire::decode(input)?,
            },
            RECEIVE => Self::Receive {
                round: Wire::decode(input)?,
                message: Wire::decode(input)?,
            },
            MISMATCH => Self::Mismatch {
                round: Wire::decode(input)?,
            },
            PAYLOAD_TOO_LONG => Self::PayloadTooLong {
                payload_len: Wire::decode(input)?,
            },
            tag => {
                return Err(WireError::InvalidTag {
                    type_name: "WorkloadError",
                    tag: u64::from(tag),
                });
            }
        })
    }
}
