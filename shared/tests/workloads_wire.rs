//! Every standard workload, and every output type, survives a `Wire` round trip, and bad
//! bytes are errors.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::Duration;

use concurrency_shared::wire::{Wire, WireError};
use concurrency_shared::workloads::{
    CpuIo, CpuIoOutput, Mixed, MixedOutput, PrimeCount, RoundTrips, Sleeper, WorkloadError,
};

/// Encodes and decodes `value`, then checks that every truncation of its encoding fails.
#[track_caller]
fn assert_round_trip<T: Wire + PartialEq + Debug>(value: &T) {
    let bytes = value.to_bytes();
    assert!(
        bytes.len() >= T::MIN_ENCODED_LEN,
        "{value:?}: shorter than its minimum"
    );
    assert_eq!(T::from_bytes(&bytes).as_ref(), Ok(value));
    for cut in 0..bytes.len() {
        assert!(
            T::from_bytes(&bytes[..cut]).is_err(),
            "{value:?} cut at {cut}"
        );
    }
}

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_123))
}

/// Each workload decodes to itself.
#[test]
fn workloads_round_trip() {
    assert_round_trip(&PrimeCount::new(3, u64::MAX));
    assert_round_trip(&Sleeper::new(7, Duration::new(1, 5)));
    assert_round_trip(&RoundTrips::new(addr(), 9, 64));
    assert_round_trip(&RoundTrips::new("[::1]:8080".parse().unwrap(), 1, 0));
    assert_round_trip(&Mixed::new(
        PrimeCount::new(0, 10),
        RoundTrips::new(addr(), 2, 3),
        Duration::from_millis(10),
    ));
    assert_round_trip(&CpuIo::new(
        RoundTrips::new(addr(), 1, 64),
        PrimeCount::new(5, 50),
    ));
}

/// Each output type, including every error variant, decodes to itself.
#[test]
fn outputs_round_trip() {
    let errors = [
        WorkloadError::Connect {
            message: "refused".to_owned(),
        },
        WorkloadError::Send {
            round: 1,
            message: "broken pipe".to_owned(),
        },
        WorkloadError::Receive {
            round: 2,
            message: String::new(),
        },
        WorkloadError::Mismatch { round: 3 },
        WorkloadError::PayloadTooLong { payload_len: 7 },
    ];
    for e in &errors {
        assert_round_trip(e);
        assert_round_trip(&MixedOutput {
            primes: 4,
            net: Err(e.clone()),
        });
        assert_round_trip(&CpuIoOutput {
            fetched: Ok(1),
            primes: 4,
            replied: Err(e.clone()),
        });
        assert_round_trip(&CpuIoOutput {
            fetched: Err(e.clone()),
            primes: 0,
            replied: Ok(2),
        });
    }
    assert_round_trip(&MixedOutput {
        primes: 4,
        net: Ok(99),
    });
}

/// An unknown error tag is a typed decoding error.
#[test]
fn unknown_error_tag_is_refused() {
    let err = WorkloadError::from_bytes(&[200, 0, 0, 0, 0]).unwrap_err();
    assert!(
        matches!(err, WireError::InvalidTag { tag: 200, .. }),
        "{err:?}"
    );
}
