//! Malformed input is refused with the error naming its cause: invalid `bool`, `char`, UTF-8,
//! tags and durations, trailing bytes, and length prefixes that the input cannot back.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use concurrency_shared::wire::{MAX_UNBACKED_ELEMENTS, MAX_UNIT_VEC_LEN, Wire, WireError};

/// The encoding of a length prefix.
fn len_prefix(len: u64) -> [u8; 8] {
    len.to_le_bytes()
}

/// A `bool` is 0 or 1; any other byte is `InvalidBool` carrying that byte.
#[test]
fn bool_other_than_zero_or_one_is_invalid() {
    for byte in [2_u8, 0x80, 0xFF] {
        assert_eq!(
            bool::from_bytes(&[byte]),
            Err(WireError::InvalidBool { byte })
        );
    }
}

/// Surrogates and numbers above `char::MAX` are `InvalidChar`.
#[test]
fn char_outside_the_scalar_values_is_invalid() {
    for value in [0xD800_u32, 0xDFFF, 0x11_0000, u32::MAX] {
        assert_eq!(
            char::from_bytes(&value.to_le_bytes()),
            Err(WireError::InvalidChar { value })
        );
    }
}

/// A string whose bytes are not UTF-8 is `InvalidUtf8`, saying where the bad byte is.
#[test]
fn string_with_invalid_utf8_is_refused() {
    let mut bytes = len_prefix(4).to_vec();
    bytes.extend_from_slice(&[b'o', b'k', 0xC3, 0x28]);
    assert_eq!(
        String::from_bytes(&bytes),
        Err(WireError::InvalidUtf8 { valid_up_to: 2 })
    );
}

/// Unknown tags of `Option`, `Result`, `IpAddr` and `SocketAddr` are `InvalidTag` naming the
/// type.
#[test]
fn unknown_tags_are_invalid() {
    assert_eq!(
        Option::<u8>::from_bytes(&[2, 0]),
        Err(WireError::InvalidTag {
            type_name: "Option",
            tag: 2
        })
    );
    assert_eq!(
        Result::<u8, u8>::from_bytes(&[0xFF, 0]),
        Err(WireError::InvalidTag {
            type_name: "Result",
            tag: 0xFF
        })
    );
    assert_eq!(
        IpAddr::from_bytes(&[5, 1, 2, 3, 4]),
        Err(WireError::InvalidTag {
            type_name: "IpAddr",
            tag: 5
        })
    );
    assert_eq!(
        SocketAddr::from_bytes(&[0, 1, 2, 3, 4, 5, 6]),
        Err(WireError::InvalidTag {
            type_name: "SocketAddr",
            tag: 0
        })
    );
}

/// A `Duration` whose nanoseconds reach one second is `InvalidDuration`, even with `u64::MAX`
/// seconds (where building it would overflow).
#[test]
fn duration_with_a_second_of_nanos_is_invalid() {
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(&1_000_000_000_u32.to_le_bytes());
    assert_eq!(
        Duration::from_bytes(&bytes),
        Err(WireError::InvalidDuration {
            nanos: 1_000_000_000
        })
    );
}

/// A `usize` or `isize` travels as 64 bits: it decodes whenever it fits this platform's width
/// (always, on 64 bits) and is `ValueOutOfRange` otherwise (above `u32::MAX` on 32 bits).
#[test]
fn pointer_sized_integers_decode_only_when_they_fit() {
    let big = u64::MAX.to_le_bytes();
    let negative = i64::MIN.to_le_bytes();
    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(usize::from_bytes(&big), Ok(usize::MAX));
        assert_eq!(isize::from_bytes(&negative), Ok(isize::MIN));
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(
            usize::from_bytes(&big),
            Err(WireError::ValueOutOfRange {
                type_name: "usize",
                value: i128::from(u64::MAX)
            })
        );
        assert_eq!(
            isize::from_bytes(&negative),
            Err(WireError::ValueOutOfRange {
                type_name: "isize",
                value: i128::from(i64::MIN)
            })
        );
    }
}

/// `from_bytes` refuses bytes after the value and says how many; `decode` leaves them unread.
#[test]
fn trailing_bytes_are_rejected_by_from_bytes() {
    assert_eq!(
        u16::from_bytes(&[1, 0, 9, 9, 9]),
        Err(WireError::TrailingBytes { remaining: 3 })
    );
    assert_eq!(
        <()>::from_bytes(&[0]),
        Err(WireError::TrailingBytes { remaining: 1 })
    );
    let mut bytes = "ab".to_owned().to_bytes();
    bytes.push(0);
    assert_eq!(
        String::from_bytes(&bytes),
        Err(WireError::TrailingBytes { remaining: 1 })
    );
    let mut input = &[1_u8, 0, 9][..];
    assert_eq!(u16::decode(&mut input), Ok(1));
    assert_eq!(input, [9]);
}

/// `u64::MAX` as the length of a sequence of non-empty elements is `Truncated` at once: the
/// input could never hold it, so nothing is reserved and nothing is looped over (this test
/// would abort on allocation failure or hang otherwise).
#[test]
fn huge_length_prefix_is_truncated_before_allocating() {
    let huge = len_prefix(u64::MAX);
    assert_eq!(Vec::<u8>::from_bytes(&huge), Err(WireError::Truncated));
    assert_eq!(Vec::<u64>::from_bytes(&huge), Err(WireError::Truncated));
    assert_eq!(String::from_bytes(&huge), Err(WireError::Truncated));
    assert_eq!(Vec::<Vec<u8>>::from_bytes(&huge), Err(WireError::Truncated));
    assert_eq!(
        Vec::<Option<u8>>::from_bytes(&huge),
        Err(WireError::Truncated)
    );
    // One element too many for the bytes that follow is refused the same way.
    let mut bytes = len_prefix(4).to_vec();
    bytes.extend_from_slice(&[1, 2, 3]);
    assert_eq!(Vec::<u8>::from_bytes(&bytes), Err(WireError::Truncated));
    // Nested: a plausible outer length, a lying inner one.
    let mut nested = len_prefix(1).to_vec();
    nested.extend_from_slice(&huge);
    assert_eq!(
        Vec::<Vec<u32>>::from_bytes(&nested),
        Err(WireError::Truncated)
    );
}

/// An array longer than the remaining input could hold is `Truncated`, on the bulk path and
/// the per-element path alike, however many elements it has.
#[test]
fn array_longer_than_the_input_is_truncated() {
    assert_eq!(
        <[u8; 5000]>::from_bytes(&[1, 2, 3]),
        Err(WireError::Truncated)
    );
    assert_eq!(<[u32; 2]>::from_bytes(&[0; 7]), Err(WireError::Truncated));
    assert_eq!(
        <[Option<u8>; 5000]>::from_bytes(&[1, 1]),
        Err(WireError::Truncated)
    );
    assert_eq!(
        <[String; 3]>::from_bytes(&[0; 16]),
        Err(WireError::Truncated)
    );
}

/// A `Vec<()>` longer than `MAX_UNIT_VEC_LEN` is `LengthTooLarge`; the cap itself decodes.
#[test]
fn unit_vector_above_the_cap_is_too_large() {
    assert_eq!(
        Vec::<()>::from_bytes(&len_prefix(u64::MAX)),
        Err(WireError::LengthTooLarge {
            len: u64::MAX,
            max: MAX_UNIT_VEC_LEN
        })
    );
    assert_eq!(
        Vec::<()>::from_bytes(&len_prefix(MAX_UNIT_VEC_LEN + 1)),
        Err(WireError::LengthTooLarge {
            len: MAX_UNIT_VEC_LEN + 1,
            max: MAX_UNIT_VEC_LEN
        })
    );
    assert!(Vec::<()>::from_bytes(&len_prefix(MAX_UNIT_VEC_LEN)).is_ok());
}

/// Other elements that decode from zero bytes are accepted up to `MAX_UNBACKED_ELEMENTS` per
/// sequence and refused beyond, so a 9-byte input cannot buy a long loop or a big allocation.
#[test]
fn zero_byte_elements_beyond_the_cap_are_too_large() {
    let cap = MAX_UNBACKED_ELEMENTS as u64;
    assert!(Vec::<((), ())>::from_bytes(&len_prefix(cap)).is_ok());
    assert_eq!(
        Vec::<((), ())>::from_bytes(&len_prefix(cap + 1)),
        Err(WireError::LengthTooLarge {
            len: cap + 1,
            max: cap
        })
    );
    assert_eq!(
        Vec::<Box<()>>::from_bytes(&len_prefix(u64::MAX)),
        Err(WireError::LengthTooLarge {
            len: u64::MAX,
            max: cap
        })
    );
    assert_eq!(
        Vec::<[u64; 0]>::from_bytes(&len_prefix(u64::MAX)),
        Err(WireError::LengthTooLarge {
            len: u64::MAX,
            max: cap
        })
    );
}

/// A type that keeps the default `MIN_ENCODED_LEN` of 0 still cannot be made to over-allocate
/// or loop by a lying prefix: a length beyond what the input plus the zero-byte allowance could
/// decode is refused at once, and a smaller lie runs out of input.
#[test]
fn default_min_encoded_len_still_bounds_a_lying_prefix() {
    #[derive(Debug, PartialEq)]
    struct Word(u32);

    impl Wire for Word {
        fn encode(&self, out: &mut Vec<u8>) {
            self.0.encode(out);
        }

        fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
            u32::decode(input).map(Word)
        }
    }

    let mut bytes = len_prefix(u64::MAX).to_vec();
    bytes.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(
        Vec::<Word>::from_bytes(&bytes),
        Err(WireError::LengthTooLarge {
            len: u64::MAX,
            max: 8 + MAX_UNBACKED_ELEMENTS as u64
        })
    );
    bytes[..8].copy_from_slice(&len_prefix(3));
    assert_eq!(Vec::<Word>::from_bytes(&bytes), Err(WireError::Truncated));
    let words = vec![Word(1), Word(2)];
    assert_eq!(Vec::<Word>::from_bytes(&words.to_bytes()), Ok(words));
}

/// Every error has a one-line human message that names its cause.
#[test]
fn errors_display_their_cause() {
    let cases = [
        (WireError::Truncated, "ended"),
        (WireError::TrailingBytes { remaining: 3 }, "3 trailing"),
        (WireError::InvalidBool { byte: 2 }, "bool"),
        (WireError::InvalidChar { value: 0xD800 }, "0xd800"),
        (WireError::InvalidUtf8 { valid_up_to: 1 }, "UTF-8"),
        (
            WireError::InvalidTag {
                type_name: "Option",
                tag: 9,
            },
            "Option",
        ),
        (
            WireError::InvalidDuration {
                nanos: 1_000_000_000,
            },
            "Duration",
        ),
        (
            WireError::ValueOutOfRange {
                type_name: "usize",
                value: -1,
            },
            "usize",
        ),
        (WireError::LengthTooLarge { len: 9, max: 8 }, "above"),
        (
            WireError::Invalid {
                type_name: "Range",
                reason: "start after end",
            },
            "start after end",
        ),
    ];
    for (error, needle) in cases {
        let message = error.to_string();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert!(!message.contains('\n'));
    }
}
