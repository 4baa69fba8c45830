//! Each standard workload, run on the blocking context, gives its known correct output; and a
//! network failure is an `Err` output, never a panic.

use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use concurrency_shared::fixture::{Fixture, FixtureConfig, MAX_PAYLOAD};
use concurrency_shared::run_blocking;
use concurrency_shared::workloads::{
    CpuIo, CpuIoOutput, Mixed, MixedOutput, PrimeCount, RoundTrips, Sleeper, Workload,
    WorkloadError,
};

/// A hang guard for waits on the fixture; never expected to expire.
const GUARD: Duration = Duration::from_secs(30);

/// Runs `job` on the blocking context and checks it against its expected output.
#[track_caller]
fn assert_correct<W: Workload>(job: &W) {
    assert_eq!(
        run_blocking(job),
        job.expected(),
        "{}",
        std::any::type_name::<W>()
    );
}

/// Prime counts by trial division match the sieve, on whole ranges and on their splits.
#[test]
fn prime_count_matches_the_sieve() {
    for (lo, hi) in [
        (0, 0),
        (0, 2),
        (0, 1_000),
        (1, 200_000),
        (999_983, 1_000_100),
    ] {
        assert_correct(&PrimeCount::new(lo, hi));
    }
    let whole = PrimeCount::new(1, 300_000).expected();
    let parts: u64 = PrimeCount::split(1, 300_000, 7)
        .iter()
        .map(run_blocking)
        .sum();
    assert_eq!(parts, whole);
    assert_eq!(whole, 25_997, "π(300,000)");
}

/// A prime count passes a checkpoint every `CANDIDATES_PER_CHECKPOINT` numbers.
#[test]
fn prime_count_checkpoints_regularly() {
    use concurrency_shared::workloads::CANDIDATES_PER_CHECKPOINT;
    use concurrency_shared::{BlockingCtx, Job, block_on};

    let mut cx = BlockingCtx::new();
    block_on(PrimeCount::new(0, 10_000).run(&mut cx));
    assert_eq!(cx.checkpoints(), 10_000 / CANDIDATES_PER_CHECKPOINT);
}

/// A sleeper reports every nap taken.
#[test]
fn sleeper_takes_every_nap() {
    assert_correct(&Sleeper::new(3, Duration::from_millis(1)));
    assert_correct(&Sleeper::new(0, Duration::from_secs(3_600)));
}

/// Round trips against a fixture give the checksum computed in advance, with and without a
/// delay, for empty and large payloads.
#[test]
fn round_trips_match_the_checksum() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    for (round_trips, payload_len) in [(0, 64), (1, 0), (50, 64), (3, 200_000)] {
        assert_correct(&RoundTrips::new(fixture.addr(), round_trips, payload_len));
    }
    let slow = Fixture::start(FixtureConfig::new().delay(Duration::from_millis(2))).unwrap();
    assert_correct(&RoundTrips::new(slow.addr(), 5, 32));
    assert_eq!(
        RoundTrips::new(fixture.addr(), 2, 0).expected(),
        Ok(2),
        "an empty payload still counts its round trips"
    );
}

/// A mixed job gives both parts' outputs.
#[test]
fn mixed_gives_both_parts() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let job = Mixed::new(
        PrimeCount::new(0, 10_000),
        RoundTrips::new(fixture.addr(), 4, 64),
        Duration::from_millis(1),
    );
    assert_correct(&job);
    assert_eq!(job.expected().primes, 1_229);
}

/// A cpu-io job gives its three parts' outputs, checked against values computed by hand: the
/// primes by a known count, each leg's checksum by the payload formula.
#[test]
fn cpu_io_gives_all_three_parts() {
    let fixture = Fixture::start(FixtureConfig::new()).unwrap();
    let job = CpuIo::new(
        RoundTrips::new(fixture.addr(), 1, 2),
        PrimeCount::new(0, 10_000),
    );
    assert_correct(&job);
    // Round 0 of a 2-byte payload is the bytes 0 and 7: a checksum of 1 + 0 + 7.
    let leg = Ok(8);
    assert_eq!(
        run_blocking(&job),
        CpuIoOutput {
            fetched: leg.clone(),
            primes: 1_229, // π(10,000)
            replied: leg,
        }
    );
    // The compare program's own part: π(1,050,000) − π(1,000,000), by the sieve, here
    // against trial division on the blocking context.
    assert_correct(&CpuIo::new(
        RoundTrips::new(fixture.addr(), 1, 64),
        PrimeCount::new(1_000_000, 1_050_000),
    ));
    assert_eq!(
        fixture.stats().connections,
        3 * 2,
        "three runs, each leg on a connection of its own"
    );
}

/// Nothing can listen on port 0, so connecting there is refused: an `Err` output.
#[test]
fn refused_connection_is_an_error_output() {
    let nowhere = SocketAddr::from(([127, 0, 0, 1], 0));
    let out = run_blocking(&RoundTrips::new(nowhere, 3, 8));
    assert!(matches!(out, Err(WorkloadError::Connect { .. })), "{out:?}");
    let mixed = run_blocking(&Mixed::new(
        PrimeCount::new(0, 100),
        RoundTrips::new(nowhere, 1, 8),
        Duration::ZERO,
    ));
    assert!(
        matches!(
            mixed,
            MixedOutput {
                primes: 25,
                net: Err(_)
            }
        ),
        "{mixed:?}"
    );
    let cpu_io = run_blocking(&CpuIo::new(
        RoundTrips::new(nowhere, 1, 8),
        PrimeCount::new(0, 100),
    ));
    assert!(
        matches!(
            cpu_io,
            CpuIoOutput {
                fetched: Err(WorkloadError::Connect { .. }),
                primes: 25,
                replied: Err(WorkloadError::Connect { .. }),
            }
        ),
        "{cpu_io:?}"
    );
}

/// A fixture stopped while the job waits for its answer gives an `Err` for that round.
#[test]
fn fixture_stopped_mid_job_is_an_error_output() {
    // The barrier never opens, so the job's first request stays unanswered.
    let fixture = Fixture::start(FixtureConfig::new().barrier(2)).unwrap();
    let job = RoundTrips::new(fixture.addr(), 3, 8);
    let runner = thread::spawn(move || run_blocking(&job));
    let start = Instant::now();
    while fixture.stats().pending == 0 {
        assert!(start.elapsed() < GUARD, "the job's request never arrived");
        thread::sleep(Duration::from_millis(1));
    }
    drop(fixture);
    let out = runner.join().unwrap();
    assert!(
        matches!(out, Err(WorkloadError::Receive { round: 0, .. })),
        "{out:?}"
    );
}

/// A server that accepts and hangs up at once gives an `Err` output, not a panic.
#[test]
fn server_hanging_up_is_an_error_output() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || drop(listener.accept().unwrap()));
    let out = run_blocking(&RoundTrips::new(addr, 2, 8));
    server.join().unwrap();
    assert!(
        matches!(
            out,
            Err(WorkloadError::Send { .. } | WorkloadError::Receive { .. })
        ),
        "{out:?}"
    );
}

/// A payload above the fixture's limit fails before connecting, and that is the expected
/// output too.
#[test]
fn oversized_payload_is_refused_up_front() {
    let nowhere = SocketAddr::from(([127, 0, 0, 1], 0));
    let job = RoundTrips::new(nowhere, 1, MAX_PAYLOAD as u32 + 1);
    let out = run_blocking(&job);
    assert!(
        matches!(out, Err(WorkloadError::PayloadTooLong { .. })),
        "{out:?}"
    );
    assert_eq!(out, job.expected());
}
