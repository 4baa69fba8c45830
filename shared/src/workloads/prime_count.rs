//! [`PrimeCount`]: the CPU-bound workload. It counts primes by trial division, which is
//! deliberately slow, and offers a switch point every [`CANDIDATES_PER_CHECKPOINT`] numbers.
//!
//! Invariant: [`PrimeCount::expected`](super::Workload::expected) never shares code with
//! [`run`](Job::run): it counts with a segmented sieve of Eratosthenes, so a bug in one
//! algorithm cannot hide in the other.

use crate::job::{Ctx, Job};
use crate::wire::{Wire, WireError};

use super::Workload;

/// How many candidate numbers [`PrimeCount`] tests between two [`Ctx::checkpoint`]s.
///
/// Chosen so a checkpoint comes every 1–10 µs of work, the granularity at which a GIL's switch
/// interval (5 ms) and a cooperative loop's fairness are meaningful but the checkpoint itself
/// costs nothing measurable. Trial division costs more for larger numbers, so the time per
/// checkpoint grows with the range. Measured on this project's 2-core machine, release build,
/// 200,000 numbers from each starting point (`cargo run --release -p concurrency-shared
/// --features workloads --example checkpoint_granularity`):
///
/// | numbers from | mean gap | 99th percentile |
/// |---|---|---|
/// | 10⁵ | 1.6–1.8 µs | 2.9–4.1 µs |
/// | 10⁶ | 3.0–3.2 µs | 5.6–5.9 µs |
/// | 3·10⁶ | 4.6–4.7 µs | 9.2–9.6 µs |
/// | 10⁷ | 7.3 µs | 15–16 µs |
/// | 10⁸ | 19 µs | 45 µs (beyond the target) |
///
/// The compare program's CPU workload counts primes below 3·10⁶, inside the target. The
/// largest gaps (tens of µs) are interrupts and preemptions, not work.
pub const CANDIDATES_PER_CHECKPOINT: u64 = 32;

/// The numbers one sieve segment covers in [`count_primes_by_sieve`]: 256 KiB of flags, so a
/// segment stays in cache and memory stays bounded whatever the range.
const SIEVE_SEGMENT: u64 = 1 << 18;

/// Counts the primes in `lo..hi` by trial division.
///
/// # Example
///
/// ```
/// use concurrency_shared::run_blocking;
/// use concurrency_shared::workloads::{PrimeCount, Workload};
///
/// let job = PrimeCount::new(0, 100);
/// assert_eq!(run_blocking(&job), 25);
/// assert_eq!(job.expected(), 25);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrimeCount {
    /// The first number tested.
    lo: u64,
    /// One past the last number tested; a range with `hi <= lo` is empty.
    hi: u64,
}

impl PrimeCount {
    /// The job counting the primes in `lo..hi` (empty if `hi <= lo`).
    pub fn new(lo: u64, hi: u64) -> Self {
        Self { lo, hi }
    }

    /// Splits `lo..hi` into `parts` consecutive ranges whose lengths differ by at most one,
    /// covering it exactly, in order. `parts == 0` gives no jobs; more parts than numbers gives
    /// some empty ranges.
    ///
    /// The ranges are balanced by length, not by work: trial division costs more for larger
    /// numbers (about `sqrt(n) / ln(n)` per candidate on average), so the last range is a little
    /// heavier than the first.
    ///
    /// ```
    /// use concurrency_shared::workloads::PrimeCount;
    ///
    /// let parts = PrimeCount::split(0, 10, 3);
    /// assert_eq!(parts, [PrimeCount::new(0, 3), PrimeCount::new(3, 6), PrimeCount::new(6, 10)]);
    /// ```
    pub fn split(lo: u64, hi: u64, parts: usize) -> Vec<PrimeCount> {
        let len = u128::from(hi.saturating_sub(lo));
        let parts = parts as u128;
        // `lo + len * i / parts <= hi`, so the cast back to u64 cannot truncate.
        let boundary = |i: u128| lo + (len * i / parts) as u64;
        (0..parts)
            .map(|i| PrimeCount::new(boundary(i), boundary(i + 1)))
            .collect()
    }

    /// The first number tested.
    pub fn lo(&self) -> u64 {
        self.lo
    }

    /// One past the last number tested.
    pub fn hi(&self) -> u64 {
        self.hi
    }
}

impl Job for PrimeCount {
    type Output = u64;

    async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
        let mut primes = 0;
        let mut since_checkpoint = 0;
        for n in self.lo..self.hi {
            if is_prime_by_trial_division(n) {
                primes += 1;
            }
            since_checkpoint += 1;
            if since_checkpoint == CANDIDATES_PER_CHECKPOINT {
                since_checkpoint = 0;
                cx.checkpoint().await;
            }
        }
        primes
    }
}

impl Workload for PrimeCount {
    fn expected(&self) -> u64 {
        count_primes_by_sieve(self.lo, self.hi)
    }
}

impl Wire for PrimeCount {
    const MIN_ENCODED_LEN: usize = 2 * u64::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.lo.encode(out);
        self.hi.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            lo: Wire::decode(input)?,
            hi: Wire::decode(input)?,
        })
    }
}

/// Whether `n` is prime, by dividing it by 2 and then every odd number up to its square root.
fn is_prime_by_trial_division(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 {
        return false;
    }
    let limit = n.isqrt();
    let mut divisor = 3;
    while divisor <= limit {
        if n % divisor == 0 {
            return false;
        }
        divisor += 2;
    }
    true
}

/// Counts the primes in `lo..hi` with a segmented sieve of Eratosthenes: the primes up to
/// `sqrt(hi)` by a plain sieve, then the range a segment at a time. Memory is
/// `O(sqrt(hi) + SIEVE_SEGMENT)`.
pub(crate) fn count_primes_by_sieve(lo: u64, hi: u64) -> u64 {
    let lo = lo.max(2);
    if hi <= lo {
        return 0;
    }
    let base = primes_up_to((hi - 1).isqrt());
    let mut composite = vec![false; SIEVE_SEGMENT as usize];
    let mut primes = 0;
    let mut start = lo;
    while start < hi {
        let end = start.saturating_add(SIEVE_SEGMENT).min(hi);
        let flags = &mut composite[..(end - start) as usize];
        flags.fill(false);
        for &p in &base {
            // Multiples below p² have a smaller prime factor and are crossed out by it; p
            // itself must stay unmarked when it lies in the range.
            let Some(first_in_range) = start.div_ceil(p).checked_mul(p) else {
                continue;
            };
            let mut multiple = first_in_range.max(p * p);
            while multiple < end {
                flags[(multiple - start) as usize] = true;
                match multiple.checked_add(p) {
                    Some(next) => multiple = next,
                    None => break,
                }
            }
        }
        primes += flags.iter().filter(|&&is_composite| !is_composite).count() as u64;
        start = end;
    }
    primes
}

/// Every prime up to and including `max`, by a plain sieve of Eratosthenes.
fn primes_up_to(max: u64) -> Vec<u64> {
    let max = max as usize;
    let mut composite = vec![false; max + 1];
    let mut primes = Vec::new();
    for n in 2..=max {
        if !composite[n] {
            primes.push(n as u64);
            let mut multiple = n * n;
            while multiple <= max {
                composite[multiple] = true;
                multiple += n;
            }
        }
    }
    primes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both algorithms agree with known counts: π(10) = 4, π(100) = 25, π(10⁶) = 78,498.
    #[test]
    fn known_prime_counts() {
        for (hi, pi) in [
            (0, 0),
            (2, 0),
            (3, 1),
            (10, 4),
            (100, 25),
            (1_000_000, 78_498),
        ] {
            assert_eq!(count_primes_by_sieve(0, hi), pi, "sieve, hi = {hi}");
            let trial = (0..hi).filter(|&n| is_prime_by_trial_division(n)).count() as u64;
            assert_eq!(trial, pi, "trial division, hi = {hi}");
        }
    }

    /// Ranges that are empty, reversed, start or end on a prime, or span several sieve
    /// segments agree between the two algorithms.
    #[test]
    fn sieve_and_trial_division_agree_on_odd_ranges() {
        for (lo, hi) in [
            (7, 8),
            (7, 7),
            (8, 7),
            (97, 98),
            (1 << 18, (1 << 18) + 1),
            (999_000, 1_600_000),
        ] {
            let trial = (lo..hi).filter(|&n| is_prime_by_trial_division(n)).count() as u64;
            assert_eq!(count_primes_by_sieve(lo, hi), trial, "{lo}..{hi}");
        }
    }

    /// `split` covers its range exactly, in order, even at the top of `u64`.
    #[test]
    fn split_covers_the_range_exactly() {
        for parts in 1..10 {
            let chunks = PrimeCount::split(5, 100, parts);
            assert_eq!(chunks.len(), parts);
            assert_eq!(chunks[0].lo(), 5);
            assert_eq!(chunks[parts - 1].hi(), 100);
            for pair in chunks.windows(2) {
                assert_eq!(pair[0].hi(), pair[1].lo());
            }
        }
        assert!(PrimeCount::split(0, 10, 0).is_empty());
        let near_top = PrimeCount::split(u64::MAX - 3, u64::MAX, 2);
        assert_eq!(near_top[1].hi(), u64::MAX);
    }
}
