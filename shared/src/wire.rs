//! `Wire`: a small binary codec for values that cross a process boundary (a job sent to a pool
//! worker, its result coming back).
//!
//! # Invariants
//!
//! - **No input makes [`Wire::decode`] panic**: truncated or malformed bytes give a
//!   [`WireError`], one cause per variant. Nor does any input overflow a stack that has
//!   [`STACK_BUDGET`] (512 KiB) plus one level's frame free when decoding starts: nesting
//!   through `Box` and `Vec` (the only ways a type can contain itself here) stops at
//!   [`MAX_DEPTH`] levels or once the levels under way have used [`STACK_BUDGET`] of stack,
//!   whichever comes first, and decoding then fails with [`WireError::TooDeep`]; a
//!   hand-written impl that recurses some other way uses [`decode_nested`].
//! - **A length prefix is never trusted for allocation**: a decoder reserves up front at most
//!   as many bytes of memory as there are bytes of remaining input, and a prefix that the input
//!   cannot hold fails with [`WireError::Truncated`] before anything is allocated (see "Length
//!   prefixes" below).
//! - **Bytes move in bulk**: a `Vec<u8>`, a `[u8; N]` and a `String` are encoded and decoded
//!   with one `memcpy` (plus UTF-8 validation for a `String`), so 100 MB of bytes costs what
//!   copying 100 MB costs.
//! - **Round trip**: `T::from_bytes(&x.to_bytes()) == Ok(x)` for every value of every type here
//!   (bit for bit for floats, NaN payloads included), except a `Vec` of elements that take no
//!   bytes beyond the caps below, and values nested deeper than [`MAX_DEPTH`].
//! - **Canonical**: each value has exactly one encoding and no other byte string decodes to it,
//!   so re-encoding a decoded value gives back the bytes it came from. Values that are the
//!   same bit for bit have equal bytes, so encodings may be compared or hashed in place of
//!   such values. For floats that is not the same as `==`: `0.0 == -0.0` but their bytes
//!   differ (the sign survives the round trip), and a NaN is never `==` to itself although its
//!   bytes are.
//!
//! # Format
//!
//! The encoding is not self-describing: sender and receiver agree on the type. Integers are
//! little-endian and fixed width; there is no padding, alignment or version byte.
//!
//! | type | bytes |
//! |---|---|
//! | `u8`, `i8`, `u16` ... `u128`, `i16` ... `i128` | `size_of` bytes, little-endian |
//! | `usize`, `isize` | 8 bytes, as `u64` / `i64` (decoding fails with [`WireError::ValueOutOfRange`] if the value does not fit) |
//! | `f32`, `f64` | the IEEE 754 bit pattern, as `u32` / `u64` |
//! | `bool` | 1 byte: 0 or 1, anything else is [`WireError::InvalidBool`] |
//! | `char` | 4 bytes: the scalar value as `u32`; surrogates and values above `0x10FFFF` are [`WireError::InvalidChar`] |
//! | `()` | nothing |
//! | `String` | byte length (`u64`), then the UTF-8 bytes; bad UTF-8 is [`WireError::InvalidUtf8`] |
//! | `Vec<T>` | element count (`u64`), then each element |
//! | `[T; N]` | the `N` elements, no length |
//! | `Option<T>` | tag byte 0 (`None`) or 1 (`Some`, then the `T`) |
//! | `Result<T, E>` | tag byte 0 (`Ok`, then the `T`) or 1 (`Err`, then the `E`) |
//! | tuples up to 6 | the fields in order |
//! | `Box<T>` | the `T` |
//! | `Duration` | seconds (`u64`), then nanoseconds (`u32`, below 10⁹ or [`WireError::InvalidDuration`]) |
//! | `Ipv4Addr`, `Ipv6Addr` | the 4 or 16 octets, in network order |
//! | `SocketAddrV4` | the `Ipv4Addr`, then the port (`u16`) |
//! | `SocketAddrV6` | the `Ipv6Addr`, the port (`u16`), flow info (`u32`), scope id (`u32`) |
//! | `IpAddr`, `SocketAddr` | tag byte 4 or 6, then the V4 or V6 form |
//!
//! An unknown tag byte is [`WireError::InvalidTag`]. [`Wire::from_bytes`] also rejects bytes
//! left over after the value ([`WireError::TrailingBytes`]).
//!
//! # Length prefixes
//!
//! Every type declares [`Wire::MIN_ENCODED_LEN`], the fewest bytes one of its values can take.
//! Decoding a `Vec<T>` announced as `len` elements long:
//!
//! 1. If `T::MIN_ENCODED_LEN > 0` and `len` elements cannot fit in the remaining input, the
//!    result is [`WireError::Truncated`], in O(1) and before any allocation.
//! 2. Room is reserved for at most as many elements as the remaining input has bytes (divided
//!    by the element's size in memory); a longer vector grows as its elements actually decode.
//! 3. Elements that take no input bytes are not paid for by the input, so they are capped: a
//!    `Vec<()>` may be at most [`MAX_UNIT_VEC_LEN`] (2³²) long and decodes in O(1); any other
//!    sequence may hold at most [`MAX_UNBACKED_ELEMENTS`] (4,096) elements that decoded from
//!    zero bytes (such as `((), ())`, `[u8; 0]`, `Box<()>`). Beyond a cap the result is
//!    [`WireError::LengthTooLarge`]. Encoding is never refused, so such a vector encodes but
//!    does not decode.
//! 4. Hence, when `T::MIN_ENCODED_LEN` is 0, a `len` above the remaining input's length plus
//!    [`MAX_UNBACKED_ELEMENTS`] can never decode and is [`WireError::LengthTooLarge`] at once
//!    (rule 1 does the same job, with `Truncated`, for every other `T`).
//!
//! So the memory and time a decoder spends are bounded by the input's length times a factor
//! that depends only on the type being decoded, whatever the prefixes say.
//!
//! # Implementing `Wire` for your own type
//!
//! Encode the fields in order, decode them in the same order, and declare the minimum length
//! (the sum of the fields'): it lets a `Vec` of your type reject a lying length prefix at once.
//!
//! ```
//! use concurrency_shared::wire::{Wire, WireError};
//!
//! #[derive(Debug, PartialEq)]
//! struct Task {
//!     id: u64,
//!     name: String,
//!     deps: Vec<u64>,
//! }
//!
//! impl Wire for Task {
//!     const MIN_ENCODED_LEN: usize =
//!         u64::MIN_ENCODED_LEN + String::MIN_ENCODED_LEN + Vec::<u64>::MIN_ENCODED_LEN;
//!
//!     fn encode(&self, out: &mut Vec<u8>) {
//!         self.id.encode(out);
//!         self.name.encode(out);
//!         self.deps.encode(out);
//!     }
//!
//!     fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
//!         Ok(Task { id: Wire::decode(input)?, name: Wire::decode(input)?, deps: Wire::decode(input)? })
//!     }
//! }
//!
//! let task = Task { id: 7, name: "fetch".to_owned(), deps: vec![3, 5] };
//! let bytes = task.to_bytes();
//! assert_eq!(Task::from_bytes(&bytes), Ok(task));
//! assert_eq!(Task::from_bytes(&bytes[..10]), Err(WireError::Truncated));
//! ```
//!
//! An enum writes a tag first (a `u8` is plenty) and reports an unknown one as
//! [`WireError::InvalidTag`]; a decoded value that breaks the type's own invariant is
//! [`WireError::Invalid`].
//!
//! # Implementation
//!
//! The trait and its rules are here; the depth guard in `wire/depth.rs`; the input helpers and the length-prefix rules in
//! `wire/read.rs`; the impls in `wire/scalars.rs` (numbers, `bool`, `char`, `()`),
//! `wire/collections.rs` (`String`, `Vec`, arrays, `Option`, `Result`, `Box`, tuples) and
//! `wire/std_types.rs` (`Duration`, addresses); the error in `wire/error.rs`.

mod collections;
mod depth;
mod error;
mod read;
mod scalars;
mod std_types;

pub use depth::{MAX_DEPTH, STACK_BUDGET, decode_nested};
pub use error::WireError;

/// The longest `Vec<()>` that decodes: 2³² elements. A `Vec<()>` holds no memory and decodes
/// in O(1), so the cap only protects the receiver from iterating an absurd length that a
/// 9-byte message announced; longer lengths are [`WireError::LengthTooLarge`].
pub const MAX_UNIT_VEC_LEN: u64 = 1 << 32;

/// How many elements that decode from zero bytes (other than `()`) one sequence may hold:
/// 4,096. Such elements cost time (one `decode` call each) and possibly memory (a `Box<()>` is
/// a pointer) without being paid for by input bytes, so each 8-byte length prefix may buy at
/// most this many; more is [`WireError::LengthTooLarge`].
pub const MAX_UNBACKED_ELEMENTS: usize = 4096;

/// A value that can be encoded into bytes and decoded back.
///
/// Implement [`encode`](Wire::encode) and [`decode`](Wire::decode), and set
/// [`MIN_ENCODED_LEN`](Wire::MIN_ENCODED_LEN); the module documentation shows a complete
/// example, the format and the rules every implementation keeps.
pub trait Wire: Sized {
    /// The fewest bytes one encoded value takes (0 for `()`; 8 for a `Vec` or `String`, its
    /// length prefix).
    ///
    /// It must be a lower bound: a value that encodes to fewer bytes would be refused inside a
    /// `Vec` as [`WireError::Truncated`]. The default 0 is always correct, only weaker: a
    /// `Vec` of the type then cannot reject a lying length prefix up front, and finds out
    /// element by element instead (still without over-allocating).
    const MIN_ENCODED_LEN: usize = 0;

    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Decodes one value from the front of `input`, advancing it past what was read.
    ///
    /// # Errors
    ///
    /// [`WireError`] if `input` is truncated or malformed; never panics. After an error,
    /// `input` points somewhere inside the bad value.
    fn decode(input: &mut &[u8]) -> Result<Self, WireError>;

    /// Encodes `self` into a fresh vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::MIN_ENCODED_LEN);
        self.encode(&mut out);
        out
    }

    /// Decodes a value that must take all of `bytes`.
    ///
    /// # Errors
    ///
    /// What [`decode`](Wire::decode) reports, or [`WireError::TrailingBytes`] if bytes are left
    /// after the value.
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let mut input = bytes;
        let value = Self::decode(&mut input)?;
        if input.is_empty() {
            Ok(value)
        } else {
            Err(WireError::TrailingBytes {
                remaining: input.len(),
            })
        }
    }

    // The bulk path. Stable Rust has no specialization, so `impl<T: Wire> Wire for Vec<T>`
    // cannot have a separate, faster body for `Vec<u8>`. Instead the per-element work of a
    // sequence is itself a trait method with a default loop, and `Vec<T>` always calls
    // `T::encode_slice` / `T::decode_vec`: `u8` overrides them with one `memcpy`, the other
    // fixed-width numbers with one bounds check, `()` with an O(1) length check. The methods
    // are hidden because they are an implementation detail of the codec, not API to call.

    /// Appends the encodings of `items`, in order, with no length prefix.
    #[doc(hidden)]
    fn encode_slice(items: &[Self], out: &mut Vec<u8>) {
        out.reserve(items.len().saturating_mul(Self::MIN_ENCODED_LEN));
        for item in items {
            item.encode(out);
        }
    }

    /// Decodes exactly `len` values, keeping the allocation rules of the module documentation.
    ///
    /// # Errors
    ///
    /// As [`decode`](Wire::decode), plus [`WireError::LengthTooLarge`] when more than
    /// [`MAX_UNBACKED_ELEMENTS`] values decode from zero bytes.
    #[doc(hidden)]
    fn decode_vec(input: &mut &[u8], len: usize) -> Result<Vec<Self>, WireError> {
        read::decode_elements(input, len)
    }
}
