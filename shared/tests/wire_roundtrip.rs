//! Every type the codec supports decodes back to the value that was encoded, at its edge values.

mod wire_util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use concurrency_shared::wire::{MAX_UNIT_VEC_LEN, Wire};
use wire_util::round_trip;

/// Every integer type round-trips its minimum, maximum, zero and a few values in between, and
/// takes exactly its width.
#[test]
fn integers_round_trip_at_their_edges() {
    macro_rules! check {
        ($($ty:ty),*) => {$(
            for value in [<$ty>::MIN, <$ty>::MAX, 0, 1, <$ty>::MAX / 3, <$ty>::MIN / 3 + 1] {
                let bytes = round_trip(&value);
                assert_eq!(bytes.len(), size_of::<$ty>());
            }
        )*};
    }
    check!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);
    for value in [usize::MIN, usize::MAX, 12_345] {
        assert_eq!(round_trip(&value).len(), 8);
    }
    for value in [isize::MIN, isize::MAX, -1, 0] {
        assert_eq!(round_trip(&value).len(), 8);
    }
}

/// Integers are little-endian.
#[test]
fn integers_are_little_endian() {
    assert_eq!(0x0102_u16.to_bytes(), [0x02, 0x01]);
    assert_eq!((-2_i32).to_bytes(), [0xFE, 0xFF, 0xFF, 0xFF]);
    assert_eq!(1_usize.to_bytes(), [1, 0, 0, 0, 0, 0, 0, 0]);
}

/// Floats round-trip bit for bit: infinities, signed zeros, subnormals and NaNs with payloads.
#[test]
fn floats_round_trip_bit_for_bit() {
    let f64s = [
        0.0,
        -0.0,
        f64::MIN,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0x7FF0_0000_0000_0001),
        f64::from_bits(0xFFF8_DEAD_BEEF_0000),
    ];
    for value in f64s {
        let decoded = f64::from_bytes(&value.to_bytes()).expect("a float always decodes");
        assert_eq!(decoded.to_bits(), value.to_bits());
    }
    let f32s = [
        -0.0,
        f32::MAX,
        f32::from_bits(1),
        f32::NAN,
        f32::from_bits(0xFF80_0001),
    ];
    for value in f32s {
        let decoded = f32::from_bytes(&value.to_bytes()).expect("a float always decodes");
        assert_eq!(decoded.to_bits(), value.to_bits());
    }
}

/// `bool`, `char` and `()` round-trip, `char` at the edges of the scalar-value ranges.
#[test]
fn bool_char_and_unit_round_trip() {
    assert_eq!(round_trip(&false), [0]);
    assert_eq!(round_trip(&true), [1]);
    for value in ['\0', 'a', 'é', '\u{D7FF}', '\u{E000}', '🌍', char::MAX] {
        assert_eq!(round_trip(&value).len(), 4);
    }
    assert!(round_trip(&()).is_empty());
}

/// Strings round-trip, empty or not, ASCII or not, as a length and the UTF-8 bytes.
#[test]
fn strings_round_trip() {
    for value in ["", "a", "héllo, wörld 🌍", "\0\u{10FFFF}"] {
        let bytes = round_trip(&value.to_owned());
        assert_eq!(bytes[..8], (value.len() as u64).to_le_bytes());
        assert_eq!(&bytes[8..], value.as_bytes());
    }
    round_trip(&"x".repeat(100_000));
}

/// Vectors of every kind round-trip: bytes (the bulk path), other numbers (their bulk path),
/// strings, nested vectors, and empty ones.
#[test]
fn vectors_round_trip() {
    round_trip(&Vec::<u8>::new());
    round_trip(&(0..=255).collect::<Vec<u8>>());
    round_trip(&vec![i8::MIN, -1, 0, i8::MAX]);
    round_trip(&vec![u16::MAX, 0, 7]);
    round_trip(&vec![u64::MAX, 1, 0]);
    round_trip(&vec![i128::MIN, i128::MAX]);
    round_trip(&vec![1.5_f64, -0.0, f64::INFINITY]);
    round_trip(&vec!['a', '🌍']);
    round_trip(&vec![true, false, true]);
    round_trip(&vec![String::new(), "two".to_owned()]);
    round_trip(&vec![vec![1_u8, 2], vec![], vec![3]]);
    round_trip(&vec![vec![vec![String::from("deep")]]]);
    round_trip(&vec![usize::MAX, 0]);
}

/// A `Vec<()>` round-trips at any length up to its cap, including the cap itself, without
/// allocating or looping per element.
#[test]
fn unit_vectors_round_trip_up_to_the_cap() {
    round_trip(&Vec::<()>::new());
    round_trip(&vec![(); 1000]);
    let at_cap = MAX_UNIT_VEC_LEN.to_le_bytes();
    let units = Vec::<()>::from_bytes(&at_cap).expect("the cap itself decodes");
    assert_eq!(units.len() as u64, MAX_UNIT_VEC_LEN);
    assert_eq!(units.to_bytes(), at_cap);
    round_trip(&vec![vec![(); 3], vec![]]);
    round_trip(&vec![((), ()); 4096]);
}

/// Arrays round-trip with no length prefix, including empty and zero-sized ones.
#[test]
fn arrays_round_trip() {
    assert_eq!(round_trip(&[1_u8, 2, 3, 4]), [1, 2, 3, 4]);
    assert_eq!(round_trip(&[0x0102_u16, 3]), [2, 1, 3, 0]);
    round_trip(&[String::from("a"), String::from("bc")]);
    assert!(round_trip(&[0_u64; 0]).is_empty());
    assert!(round_trip(&[(); 3]).is_empty());
    round_trip(&[[1_i32, -1], [i32::MIN, i32::MAX]]);
    round_trip(&[7_u8; 10_000]);
    round_trip(&[Some(1_u8); 5000]);
    round_trip(&[((), ()); 5000]);
}

/// `Option`, `Result` and `Box` round-trip each variant, nested too.
#[test]
fn options_results_and_boxes_round_trip() {
    assert_eq!(round_trip(&None::<u32>), [0]);
    assert_eq!(round_trip(&Some(7_u8)), [1, 7]);
    round_trip(&Some(Some(())));
    round_trip(&Some(None::<String>));
    assert_eq!(round_trip(&Ok::<u8, String>(9)), [0, 9]);
    round_trip(&Err::<u8, String>("failed".to_owned()));
    round_trip(&Ok::<(), ()>(()));
    round_trip(&vec![Ok(1_u16), Err(false)]);
    round_trip(&Box::new(42_u64));
    round_trip(&Box::new(Some(Box::new(String::from("boxed")))));
}

/// Tuples of one to six fields round-trip, fields in order.
#[test]
fn tuples_round_trip() {
    round_trip(&(1_u8,));
    assert_eq!(round_trip(&(1_u8, 2_u16)), [1, 2, 0]);
    round_trip(&(1_u8, -2_i64, "three".to_owned()));
    round_trip(&(true, 'x', (), vec![1_u32]));
    round_trip(&(1_u8, 2_u8, 3_u8, 4_u8, Some(5_u8)));
    round_trip(&(
        0.5_f32,
        (1_u8, 2_u8),
        [3_u8; 2],
        Ok::<u8, u8>(4),
        None::<u8>,
        (),
    ));
}

/// `Duration` round-trips at zero, one nanosecond below a second, and its maximum.
#[test]
fn durations_round_trip() {
    for value in [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::new(3, 999_999_999),
        Duration::from_millis(50),
        Duration::MAX,
    ] {
        assert_eq!(round_trip(&value).len(), 12);
    }
}

/// Addresses round-trip, v4 and v6, with the v6 flow info and scope id.
#[test]
fn addresses_round_trip() {
    let v4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8080);
    let v6 = SocketAddrV6::new(Ipv6Addr::LOCALHOST, u16::MAX, 0xABCD, 7);
    assert_eq!(round_trip(&Ipv4Addr::new(10, 1, 2, 3)), [10, 1, 2, 3]);
    round_trip(&Ipv6Addr::UNSPECIFIED);
    round_trip(&IpAddr::V4(Ipv4Addr::BROADCAST));
    round_trip(&IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(round_trip(&v4), [127, 0, 0, 1, 0x90, 0x1F]);
    round_trip(&v6);
    assert_eq!(round_trip(&SocketAddr::V4(v4)).len(), 7);
    assert_eq!(round_trip(&SocketAddr::V6(v6)).len(), 27);
    round_trip(&vec![SocketAddr::V4(v4), SocketAddr::V6(v6)]);
}

/// `MIN_ENCODED_LEN` is exact for the smallest value of each type, so a `Vec` of it can reject
/// a lying length prefix as early as possible.
#[test]
fn min_encoded_len_is_the_smallest_encoding() {
    assert_eq!(<()>::MIN_ENCODED_LEN, 0);
    assert_eq!(None::<u64>.to_bytes().len(), Option::<u64>::MIN_ENCODED_LEN);
    assert_eq!(String::new().to_bytes().len(), String::MIN_ENCODED_LEN);
    assert_eq!(
        Vec::<u64>::new().to_bytes().len(),
        Vec::<u64>::MIN_ENCODED_LEN
    );
    assert_eq!(<Result<u64, ()>>::MIN_ENCODED_LEN, 1);
    assert_eq!(<(u8, u32, ())>::MIN_ENCODED_LEN, 5);
    assert_eq!(<[u16; 3]>::MIN_ENCODED_LEN, 6);
    assert_eq!(Duration::MIN_ENCODED_LEN, 12);
    assert_eq!(SocketAddr::MIN_ENCODED_LEN, 7);
}
