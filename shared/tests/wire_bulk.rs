//! Bytes move in bulk: a 100 MB `Vec<u8>` (and a large `String`) round-trips through one copy
//! each way. A per-byte loop would take seconds here in a debug build; this test finishes in a
//! fraction of that, but asserts only the result, never the time (speed goals belong in
//! benchmarks).

use concurrency_shared::wire::{Wire, WireError};

/// The size of the large byte vector: 100 MB.
const BIG: usize = 100 * 1024 * 1024;

/// A 100 MB `Vec<u8>` encodes to its length prefix followed by the bytes unchanged, and decodes
/// back equal; a copy truncated by one byte is refused.
#[test]
fn hundred_megabyte_vec_round_trips() {
    // A 251-byte pattern (prime, so it does not line up with any power-of-two boundary)
    // repeated by doubling copies: building the input costs memcpy, not a per-byte loop.
    let pattern: Vec<u8> = (0..251_u8).collect();
    let mut bytes = pattern.repeat(BIG / pattern.len() + 1);
    bytes.truncate(BIG);

    let encoded = bytes.to_bytes();
    assert_eq!(encoded.len(), 8 + BIG);
    assert_eq!(encoded[..8], (BIG as u64).to_le_bytes());
    assert!(
        encoded[8..] == bytes[..],
        "payload must be the bytes unchanged"
    );

    let decoded = Vec::<u8>::from_bytes(&encoded).expect("a valid encoding decodes");
    assert!(decoded == bytes, "decoded bytes differ");

    assert_eq!(
        Vec::<u8>::from_bytes(&encoded[..encoded.len() - 1]),
        Err(WireError::Truncated)
    );
}

/// A large `String` and a large byte array inside a tuple go through the same bulk path.
#[test]
fn large_string_and_nested_bytes_round_trip() {
    let text = "wire 🌍 ".repeat(1 << 20);
    let value = (text, vec![0xAB_u8; 8 << 20], [7_u8; 4096]);
    let encoded = value.to_bytes();
    let decoded = <(String, Vec<u8>, [u8; 4096])>::from_bytes(&encoded).expect("decodes");
    assert!(decoded == value);
}
