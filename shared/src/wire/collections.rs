//! `Wire` for `String`, `Vec<T>`, `[T; N]`, `Option<T>`, `Result<T, E>`, `Box<T>` and tuples
//! up to six fields.
//!
//! Invariant: a sequence goes through its element type's `encode_slice` / `decode_vec`, so the
//! bulk paths and the length-prefix rules of `read.rs` apply to every sequence, nested or not.

use super::depth::nested;
use super::read::{read_len_of, take, take_byte, write_len};
use super::{Wire, WireError};

/// Tag byte of `None` and `Ok`: the first variant.
const TAG_FIRST: u8 = 0;
/// Tag byte of `Some` and `Err`: the second variant.
const TAG_SECOND: u8 = 1;

/// The smaller of two lengths, in a `const` (where `Ord::min` is not callable).
const fn min_len(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

impl Wire for String {
    const MIN_ENCODED_LEN: usize = 8;

    fn encode(&self, out: &mut Vec<u8>) {
        write_len(out, self.len());
        out.extend_from_slice(self.as_bytes());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        // A string is a byte sequence whose bytes must also be UTF-8: validate in place, then
        // copy once.
        let len = read_len_of::<u8>(input)?;
        let bytes = take(input, len)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(WireError::InvalidUtf8 {
                valid_up_to: error.valid_up_to(),
            }),
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    const MIN_ENCODED_LEN: usize = 8;

    fn encode(&self, out: &mut Vec<u8>) {
        write_len(out, self.len());
        T::encode_slice(self, out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        // One level for the depth guard: a type can contain itself through a `Vec`.
        nested(|| {
            let len = read_len_of::<T>(input)?;
            T::decode_vec(input, len)
        })
    }
}

impl<T: Wire, const N: usize> Wire for [T; N] {
    const MIN_ENCODED_LEN: usize = N.saturating_mul(T::MIN_ENCODED_LEN);

    fn encode(&self, out: &mut Vec<u8>) {
        T::encode_slice(self, out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        // `N` comes from the type, not from the input. When every element takes input bytes,
        // an array too short for the input is refused up front, as a `Vec` is, and then the
        // element type's bulk decoder applies (one `memcpy` for `[u8; N]`). Elements that may take
        // no bytes are decoded one by one instead, so that the caps meant for a hostile length
        // prefix do not refuse a large array of them.
        let items = match input.len().checked_div(T::MIN_ENCODED_LEN) {
            Some(room) if N > room => return Err(WireError::Truncated),
            Some(_) => T::decode_vec(input, N)?,
            None => {
                let mut items = Vec::with_capacity(N);
                for _ in 0..N {
                    items.push(T::decode(input)?);
                }
                items
            }
        };
        // Both paths produce exactly `N` elements, so the conversion cannot fail; should it
        // ever, an error is reported rather than a panic.
        items.try_into().map_err(|_| WireError::Truncated)
    }
}

impl<T: Wire> Wire for Option<T> {
    const MIN_ENCODED_LEN: usize = 1;

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(TAG_FIRST),
            Some(value) => {
                out.push(TAG_SECOND);
                value.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_byte(input)? {
            TAG_FIRST => Ok(None),
            TAG_SECOND => Ok(Some(T::decode(input)?)),
            tag => Err(WireError::InvalidTag {
                type_name: "Option",
                tag: u64::from(tag),
            }),
        }
    }
}

impl<T: Wire, E: Wire> Wire for Result<T, E> {
    const MIN_ENCODED_LEN: usize =
        1usize.saturating_add(min_len(T::MIN_ENCODED_LEN, E::MIN_ENCODED_LEN));

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Ok(value) => {
                out.push(TAG_FIRST);
                value.encode(out);
            }
            Err(error) => {
                out.push(TAG_SECOND);
                error.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_byte(input)? {
            TAG_FIRST => Ok(Ok(T::decode(input)?)),
            TAG_SECOND => Ok(Err(E::decode(input)?)),
            tag => Err(WireError::InvalidTag {
                type_name: "Result",
                tag: u64::from(tag),
            }),
        }
    }
}

impl<T: Wire> Wire for Box<T> {
    const MIN_ENCODED_LEN: usize = T::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        // One level for the depth guard: a type can contain itself through a `Box`.
        nested(|| T::decode(input)).map(Box::new)
    }
}

/// Tuples: the fields in order, no prefix. Fields decode left to right because a tuple
/// expression evaluates its operands in order.
macro_rules! tuples {
    ($( ($($field:ident $index:tt),+) )+) => {$(
        impl<$($field: Wire),+> Wire for ($($field,)+) {
            const MIN_ENCODED_LEN: usize = 0usize $(.saturating_add($field::MIN_ENCODED_LEN))+;

            fn encode(&self, out: &mut Vec<u8>) {
                $(self.$index.encode(out);)+
            }

            fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
                Ok(($($field::decode(input)?,)+))
            }
        }
    )+};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}
