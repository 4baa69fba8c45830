//! Reading from the input slice, and the length-prefix rules that keep a hostile prefix from
//! costing memory or time.
//!
//! Invariant: every function here either advances the input past exactly what it consumed and
//! returns `Ok`, or returns an error; none indexes out of bounds or panics, and none allocates
//! more bytes of memory up front than there are bytes of remaining input.

use super::{MAX_UNBACKED_ELEMENTS, Wire, WireError};

/// Splits the first `n` bytes off `input`.
pub(super) fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], WireError> {
    if input.len() < n {
        return Err(WireError::Truncated);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// Splits the first `N` bytes off `input`, as an array (for `from_le_bytes`).
pub(super) fn take_array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], WireError> {
    let (head, rest) = input.split_first_chunk::<N>().ok_or(WireError::Truncated)?;
    *input = rest;
    Ok(*head)
}

/// Reads one byte (a tag or a `bool`).
pub(super) fn take_byte(input: &mut &[u8]) -> Result<u8, WireError> {
    let [byte] = take_array::<1>(input)?;
    Ok(byte)
}

/// Appends a length prefix: the count as a little-endian `u64`.
pub(super) fn write_len(out: &mut Vec<u8>, len: usize) {
    // `usize` is at most 64 bits on every target Rust supports, so the cast is lossless.
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

/// Reads the length prefix of a sequence of `T` and checks it against the remaining input.
///
/// When one `T` takes at least `T::MIN_ENCODED_LEN > 0` bytes, a length that the remaining
/// input cannot hold is [`WireError::Truncated`] right here, before anything is allocated: this
/// is what makes `u64::MAX` as the length of a `Vec<u8>` fail in O(1). Elements that may take
/// no bytes are policed while they decode (see [`decode_elements`] and `()`'s `decode_vec`).
pub(super) fn read_len_of<T: Wire>(input: &mut &[u8]) -> Result<usize, WireError> {
    let len = u64::from_le_bytes(take_array(input)?);
    if T::MIN_ENCODED_LEN > 0 && len > (input.len() / T::MIN_ENCODED_LEN) as u64 {
        return Err(WireError::Truncated);
    }
    usize::try_from(len).map_err(|_| WireError::LengthTooLarge {
        len,
        max: usize::MAX as u64,
    })
}

/// How many elements of `T` to reserve room for, up front, for a sequence announced as `len`
/// long: never more bytes of memory than `remaining` bytes of input. A sequence that really is
/// longer grows as its elements decode, so memory follows the input actually read, not the
/// prefix.
pub(super) fn backed_capacity<T>(len: usize, remaining: usize) -> usize {
    len.min(remaining / size_of::<T>().max(1))
}

/// The default `Wire::decode_vec`: decodes `len` elements one by one.
///
/// An element that consumed input is paid for by that input. An element that consumed none
/// (of a type such as `((), ())`, `Box<()>` or a user's empty marker) is not, so at most
/// [`MAX_UNBACKED_ELEMENTS`] of them are accepted per sequence, which bounds both the loop and
/// the memory that a short input can demand. It follows that at most `remaining input +
/// MAX_UNBACKED_ELEMENTS` elements can decode, so a longer `len` is refused before the loop.
pub(super) fn decode_elements<T: Wire>(input: &mut &[u8], len: usize) -> Result<Vec<T>, WireError> {
    let most_decodable = input.len().saturating_add(MAX_UNBACKED_ELEMENTS);
    if len > most_decodable {
        return Err(WireError::LengthTooLarge {
            len: len as u64,
            max: most_decodable as u64,
        });
    }
    let mut items = Vec::with_capacity(backed_capacity::<T>(len, input.len()));
    let mut unbacked = 0usize;
    for _ in 0..len {
        let before = input.len();
        items.push(T::decode(input)?);
        if input.len() == before {
            unbacked += 1;
            if unbacked > MAX_UNBACKED_ELEMENTS {
                return Err(WireError::LengthTooLarge {
                    len: len as u64,
                    max: MAX_UNBACKED_ELEMENTS as u64,
                });
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Up-front reservations never exceed the remaining input in bytes of memory, whatever the
    /// announced length and however large the element is in memory.
    #[test]
    fn reservation_is_bounded_by_the_input() {
        assert_eq!(backed_capacity::<u8>(10, 100), 10);
        assert_eq!(backed_capacity::<u8>(usize::MAX, 100), 100);
        assert_eq!(backed_capacity::<u64>(usize::MAX, 100), 12);
        assert_eq!(backed_capacity::<Option<[u8; 1024]>>(1_000_000, 4096), 3);
        assert_eq!(backed_capacity::<()>(usize::MAX, 5), 5);
    }

    /// The input helpers advance past what they read and leave the input alone on failure.
    #[test]
    fn take_advances_only_on_success() {
        let mut input = &[1_u8, 2, 3][..];
        assert_eq!(take(&mut input, 2), Ok(&[1_u8, 2][..]));
        assert_eq!(take(&mut input, 2), Err(WireError::Truncated));
        assert_eq!(take_array::<2>(&mut input), Err(WireError::Truncated));
        assert_eq!(take_byte(&mut input), Ok(3));
        assert_eq!(take_byte(&mut input), Err(WireError::Truncated));
        assert!(input.is_empty());
    }
}
