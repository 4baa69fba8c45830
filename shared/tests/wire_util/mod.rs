//! Helpers shared by the `wire_*` tests: a seeded PRNG and the round-trip and truncation checks.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::fmt::Debug;

use concurrency_shared::wire::{Wire, WireError};

/// A seeded xorshift64* generator: deterministic, tiny, and good enough to spread test inputs.
pub struct XorShift(u64);

impl XorShift {
    /// A generator whose sequence is fixed by `seed` (0 is replaced, xorshift never leaves 0).
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// One byte, biased half the time towards values that are meaningful to the decoder
    /// (tags, `bool`s, small lengths), so random inputs get past the first byte more often.
    pub fn byte(&mut self) -> u8 {
        const INTERESTING: [u8; 8] = [0, 1, 2, 3, 4, 6, 0x80, 0xFF];
        let bits = self.next_u64();
        if bits & 1 == 0 {
            INTERESTING[(bits >> 1) as usize % INTERESTING.len()]
        } else {
            (bits >> 8) as u8
        }
    }

    /// `len` biased bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

/// Encodes `value`, checks that it decodes back equal (through `from_bytes` and through
/// `decode` followed by unrelated bytes, which must be left unread), that the encoding is no
/// shorter than `T::MIN_ENCODED_LEN`, and returns the encoding.
#[track_caller]
pub fn round_trip<T: Wire + PartialEq + Debug>(value: &T) -> Vec<u8> {
    let bytes = value.to_bytes();
    assert!(
        bytes.len() >= T::MIN_ENCODED_LEN,
        "{value:?} encoded to {} bytes, below MIN_ENCODED_LEN {}",
        bytes.len(),
        T::MIN_ENCODED_LEN
    );
    assert_eq!(T::from_bytes(&bytes).as_ref(), Ok(value));

    let mut followed = bytes.clone();
    followed.extend_from_slice(&[0xEE, 0xFF]);
    let mut input = &followed[..];
    assert_eq!(T::decode(&mut input).as_ref(), Ok(value));
    assert_eq!(
        input,
        &[0xEE, 0xFF],
        "decode of {value:?} did not stop at its end"
    );
    bytes
}

/// Checks that every strict prefix of `bytes` (a complete encoding of a `T`) fails to decode
/// with exactly [`WireError::Truncated`].
#[track_caller]
pub fn assert_every_prefix_truncated<T: Wire + Debug>(bytes: &[u8]) {
    for cut in 0..bytes.len() {
        let mut input = &bytes[..cut];
        let result = T::decode(&mut input);
        assert_eq!(
            result.as_ref().err(),
            Some(&WireError::Truncated),
            "prefix of {cut}/{} bytes gave {result:?}",
            bytes.len()
        );
    }
}

/// Decodes `bytes` as a `T` and checks the answer is self-consistent: if a value comes out, it
/// re-encodes to exactly the bytes consumed (the format is canonical), and `from_bytes` agrees
/// with `decode` about whether the whole input was one value. A panic fails the test.
pub fn decode_consistently<T: Wire + Debug>(bytes: &[u8]) {
    let mut input = bytes;
    let decoded = T::decode(&mut input);
    let used = bytes.len() - input.len();
    let whole = T::from_bytes(bytes);
    match decoded {
        Ok(value) => {
            assert_eq!(
                value.to_bytes(),
                &bytes[..used],
                "{value:?} is not canonical"
            );
            if used == bytes.len() {
                assert!(
                    whole.is_ok(),
                    "from_bytes refused what decode accepted: {whole:?}"
                );
            } else {
                assert_eq!(
                    whole.err(),
                    Some(WireError::TrailingBytes {
                        remaining: bytes.len() - used
                    })
                );
            }
        }
        Err(error) => assert_eq!(whole.err(), Some(error)),
    }
}
