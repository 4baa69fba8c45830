//! Every truncation of a valid encoding fails cleanly: each strict prefix of a nested value's
//! encoding decodes to exactly `WireError::Truncated`, never to a value and never to a panic.

mod wire_util;

use std::fmt::Debug;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use concurrency_shared::wire::Wire;
use wire_util::{assert_every_prefix_truncated, round_trip};

/// Round-trips `value`, then cuts its encoding at every length short of the whole.
#[track_caller]
fn check<T: Wire + PartialEq + Debug>(value: T) {
    let bytes = round_trip(&value);
    assert_every_prefix_truncated::<T>(&bytes);
}

/// Scalars and strings: every cut inside a fixed-width value or a length prefix.
#[test]
fn every_prefix_of_a_scalar_or_string_is_truncated() {
    check(u128::MAX);
    check(-1_isize);
    check(f64::MIN_POSITIVE);
    check('🌍');
    check(true);
    check("héllo 🌍".to_owned());
    check(Duration::new(5, 6));
    check(SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::LOCALHOST,
        80,
        1,
        2,
    )));
}

/// A deeply nested value: every cut, whether inside a tag, a length prefix, a bulk byte run or
/// a nested element, is reported as truncation.
#[test]
fn every_prefix_of_a_nested_value_is_truncated() {
    type Nested = Vec<(
        Option<String>,
        Result<Vec<u8>, (char, bool)>,
        [u16; 2],
        Box<Vec<Option<Duration>>>,
    )>;
    let value: Nested = vec![
        (
            Some("first".to_owned()),
            Ok(vec![1, 2, 3, 4, 5]),
            [7, 8],
            Box::new(vec![None, Some(Duration::from_millis(3))]),
        ),
        (None, Err(('x', false)), [0, u16::MAX], Box::new(vec![])),
    ];
    check(value);
}

/// Sequences of numbers and of zero-byte elements: the bulk decoders and the unit path are cut
/// cleanly too.
#[test]
fn every_prefix_of_bulk_and_unit_sequences_is_truncated() {
    check((0..=255).collect::<Vec<u8>>());
    check(vec![u64::MAX, 0, 42]);
    check(vec![-1.5_f32, f32::INFINITY]);
    check(vec![(); 17]);
    check(vec![((), ()); 5]);
    check(vec![vec![(); 3], vec![]]);
    check([[1_u8, 2], [3, 4]]);
    check((
        1_u8,
        "two".to_owned(),
        (),
        vec![3_i32],
        Some(4_u64),
        Ok::<u8, u8>(5),
    ));
}
