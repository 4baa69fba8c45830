//! `Wire`: a small binary codec for values that cross a process boundary (a job sent to a pool
//! worker, its result coming back).
//!
//! Invariants: no input makes [`Wire::decode`] panic, and a length prefix is never trusted for
//! allocation (a decoder reserves at most what the remaining input could hold).
//!
//! (The implementations for the standard types are being filled in; see the crate's issue.)

use std::fmt;

/// A value that can be encoded into bytes and decoded back.
pub trait Wire: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Decodes one value from the front of `input`, advancing it past what was read.
    ///
    /// # Errors
    ///
    /// [`WireError`] if `input` is truncated or malformed; never panics.
    fn decode(input: &mut &[u8]) -> Result<Self, WireError>;
}

/// Why a byte string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before the value did.
    Truncated,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("input ended in the middle of a value"),
        }
    }
}

impl std::error::Error for WireError {}
