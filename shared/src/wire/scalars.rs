//! `Wire` for numbers, `bool`, `char` and `()`: fixed-width, little-endian, and every decoded
//! value validated (a `bool` is 0 or 1, a `char` a Unicode scalar value, a `usize` fits).
//!
//! Also the bulk overrides: `u8` sequences move with one `memcpy`, other fixed-width numbers
//! with one bounds check, and a `Vec<()>` decodes in O(1).

use super::read::{take, take_array, take_byte};
use super::{MAX_UNIT_VEC_LEN, Wire, WireError};

impl Wire for u8 {
    const MIN_ENCODED_LEN: usize = 1;

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        take_byte(input)
    }

    fn encode_slice(items: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }

    fn decode_vec(input: &mut &[u8], len: usize) -> Result<Vec<Self>, WireError> {
        Ok(take(input, len)?.to_vec())
    }
}

/// Fixed-width numbers whose encoding is their `to_le_bytes`. For floats that is the bit
/// pattern (`f64::to_le_bytes` is `to_bits().to_le_bytes()`), so every NaN payload and the
/// sign of zero survive the round trip.
macro_rules! fixed_width {
    ($($ty:ty),* $(,)?) => {$(
        impl Wire for $ty {
            const MIN_ENCODED_LEN: usize = size_of::<$ty>();

            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }

            fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
                Ok(<$ty>::from_le_bytes(take_array(input)?))
            }

            fn decode_vec(input: &mut &[u8], len: usize) -> Result<Vec<Self>, WireError> {
                const WIDTH: usize = size_of::<$ty>();
                // One bounds check for the whole run; the loop below cannot run short.
                let total = len.checked_mul(WIDTH).ok_or(WireError::Truncated)?;
                let mut bytes = take(input, total)?;
                let mut items = Vec::with_capacity(len);
                while let Some((chunk, rest)) = bytes.split_first_chunk::<WIDTH>() {
                    items.push(<$ty>::from_le_bytes(*chunk));
                    bytes = rest;
                }
                Ok(items)
            }
        }
    )*};
}

fixed_width!(u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

impl Wire for usize {
    const MIN_ENCODED_LEN: usize = 8;

    fn encode(&self, out: &mut Vec<u8>) {
        // Lossless: `usize` is at most 64 bits on every target Rust supports.
        (*self as u64).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let value = u64::decode(input)?;
        usize::try_from(value).map_err(|_| WireError::ValueOutOfRange {
            type_name: "usize",
            value: i128::from(value),
        })
    }
}

impl Wire for isize {
    const MIN_ENCODED_LEN: usize = 8;

    fn encode(&self, out: &mut Vec<u8>) {
        // Lossless: `isize` is at most 64 bits on every target Rust supports.
        (*self as i64).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let value = i64::decode(input)?;
        isize::try_from(value).map_err(|_| WireError::ValueOutOfRange {
            type_name: "isize",
            value: i128::from(value),
        })
    }
}

impl Wire for bool {
    const MIN_ENCODED_LEN: usize = 1;

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_byte(input)? {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(WireError::InvalidBool { byte }),
        }
    }
}

impl Wire for char {
    const MIN_ENCODED_LEN: usize = 4;

    fn encode(&self, out: &mut Vec<u8>) {
        u32::from(*self).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let value = u32::decode(input)?;
        char::from_u32(value).ok_or(WireError::InvalidChar { value })
    }
}

impl Wire for () {
    const MIN_ENCODED_LEN: usize = 0;

    fn encode(&self, _out: &mut Vec<u8>) {}

    fn decode(_input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(())
    }

    fn encode_slice(_items: &[Self], _out: &mut Vec<u8>) {}

    #[allow(
        clippy::uninit_vec,
        reason = "a zero-sized element needs no initialisation; see the SAFETY comment"
    )]
    fn decode_vec(_input: &mut &[u8], len: usize) -> Result<Vec<Self>, WireError> {
        if len as u64 > MAX_UNIT_VEC_LEN {
            return Err(WireError::LengthTooLarge {
                len: len as u64,
                max: MAX_UNIT_VEC_LEN,
            });
        }
        let mut units = Vec::new();
        // SAFETY: `()` is zero-sized, so a `Vec<()>` never allocates, its capacity is
        // `usize::MAX` (so `len <= capacity`), and "initialising" elements writes nothing:
        // every element in `0..len` is a valid `()` without any write. `()` has no drop glue.
        // This makes the decode O(1) where pushing `len` units would loop `len` times.
        unsafe { units.set_len(len) };
        Ok(units)
    }
}
