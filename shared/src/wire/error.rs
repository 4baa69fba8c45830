//! [`WireError`]: why a byte string could not be decoded, one cause per variant.
//!
//! Every decoding failure in the codec is one of these values; nothing in the decoder panics.
//! The enum is `#[non_exhaustive]`, so new causes can be added without breaking a `match`.

use std::fmt;

/// Why a byte string could not be decoded.
///
/// After an error the input slice given to [`Wire::decode`](super::Wire::decode) points
/// somewhere inside the bad value: it is not meant to be decoded further.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before the value did. Also reported, before anything is allocated, when
    /// a length prefix announces more elements than the remaining input could hold (for
    /// example `u64::MAX` as the length of a `Vec<u8>`).
    Truncated,
    /// [`Wire::from_bytes`](super::Wire::from_bytes) decoded a whole value, but bytes were left
    /// over after it.
    TrailingBytes {
        /// How many bytes followed the value.
        remaining: usize,
    },
    /// A `bool` was encoded as a byte other than 0 or 1.
    InvalidBool {
        /// The byte found.
        byte: u8,
    },
    /// A `char` was encoded as a number that is not a Unicode scalar value (a surrogate, or
    /// above `0x10FFFF`).
    InvalidChar {
        /// The number found.
        value: u32,
    },
    /// A `String` was not valid UTF-8.
    InvalidUtf8 {
        /// How many bytes of the string were valid before the first bad one.
        valid_up_to: usize,
    },
    /// An enum-like value (`Option`, `Result`, `IpAddr`, `SocketAddr`, or a user's enum) began
    /// with a tag that names none of its variants.
    InvalidTag {
        /// The type being decoded.
        type_name: &'static str,
        /// The tag found.
        tag: u64,
    },
    /// A `Duration`'s nanoseconds field was one second or more.
    InvalidDuration {
        /// The nanoseconds found.
        nanos: u32,
    },
    /// An integer decoded fine but does not fit the target type on this platform (a `usize` or
    /// `isize` is sent as 64 bits; a 32-bit receiver may not be able to hold it).
    ValueOutOfRange {
        /// The target type.
        type_name: &'static str,
        /// The value found.
        value: i128,
    },
    /// A length prefix announces more elements than the decoder accepts: more elements that
    /// take no input bytes than their cap, more than the remaining input plus that cap could
    /// ever hold (for a type whose `MIN_ENCODED_LEN` is 0), or more than this platform's
    /// `usize` can count. See the module documentation, "Length prefixes".
    LengthTooLarge {
        /// The length found.
        len: u64,
        /// The largest length allowed here.
        max: u64,
    },
    /// Values were nested deeper (through `Box`, `Vec` or
    /// [`decode_nested`](super::decode_nested)) than [`MAX_DEPTH`](super::MAX_DEPTH) levels,
    /// or than [`STACK_BUDGET`](super::STACK_BUDGET) bytes of stack, allow: the decoder stops
    /// before a recursive type's input could overflow the stack.
    TooDeep {
        /// The deepest nesting allowed: `MAX_DEPTH`, or the levels that fit the stack budget.
        max: usize,
    },
    /// The bytes decoded into fields, but a user type's own invariant rejects them (for
    /// example a range whose start is after its end). For implementations of
    /// [`Wire`](super::Wire) outside this module.
    Invalid {
        /// The type being decoded.
        type_name: &'static str,
        /// Which invariant failed.
        reason: &'static str,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("input ended in the middle of a value"),
            WireError::TrailingBytes { remaining } => {
                write!(f, "{remaining} trailing byte(s) after the value")
            }
            WireError::InvalidBool { byte } => {
                write!(f, "invalid bool: byte {byte:#04x} is neither 0 nor 1")
            }
            WireError::InvalidChar { value } => {
                write!(f, "invalid char: {value:#x} is not a Unicode scalar value")
            }
            WireError::InvalidUtf8 { valid_up_to } => {
                write!(
                    f,
                    "invalid UTF-8 in a string after {valid_up_to} valid byte(s)"
                )
            }
            WireError::InvalidTag { type_name, tag } => {
                write!(f, "invalid tag {tag} for {type_name}")
            }
            WireError::InvalidDuration { nanos } => {
                write!(
                    f,
                    "invalid Duration: {nanos} nanoseconds is not below one second"
                )
            }
            WireError::ValueOutOfRange { type_name, value } => {
                write!(
                    f,
                    "value {value} does not fit in {type_name} on this platform"
                )
            }
            WireError::LengthTooLarge { len, max } => {
                write!(f, "length {len} is above the allowed maximum {max}")
            }
            WireError::TooDeep { max } => {
                write!(f, "values nested more than {max} levels deep")
            }
            WireError::Invalid { type_name, reason } => {
                write!(f, "invalid {type_name}: {reason}")
            }
        }
    }
}

impl std::error::Error for WireError {}
