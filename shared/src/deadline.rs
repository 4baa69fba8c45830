//! One rule for every caller-supplied `Duration` in the workspace: turning it into a deadline
//! never panics.
//!
//! `Instant::now() + d` panics when the sum does not fit in an `Instant` (`Duration::MAX` does
//! that on every platform). A caller who passes such a duration means "wait as long as it
//! takes", so [`deadline_after`] answers `None`, "no deadline", and every timed wait in the
//! workspace treats `None` as an untimed wait. Nothing is clamped to an arbitrary far-future
//! instant, so no wait wakes early or late because of the rule.
//!
//! Invariant: `deadline_after(d)` is `Some(t)` exactly when `now + d` is representable, and
//! then `t` is that sum; [`remaining`] is never negative and never panics.

use std::time::{Duration, Instant};

/// The instant `d` from now, or `None` when it lies past what an [`Instant`] can hold, which
/// callers treat as "no deadline".
///
/// ```
/// use std::time::Duration;
/// use concurrency_shared::deadline_after;
///
/// assert!(deadline_after(Duration::from_millis(5)).is_some());
/// assert_eq!(deadline_after(Duration::MAX), None);
/// ```
pub fn deadline_after(d: Duration) -> Option<Instant> {
    deadline_from(Instant::now(), d)
}

/// The instant `d` after `start`, or `None` when it cannot be represented (see
/// [`deadline_after`]). For callers that already read the clock.
pub fn deadline_from(start: Instant, d: Duration) -> Option<Instant> {
    start.checked_add(d)
}

/// How long until `deadline`: zero once it has passed, `None` for "no deadline". The result is
/// what a timed OS wait (a condition variable, a poll) should be given.
pub fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|t| t.saturating_duration_since(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A representable sum is returned exactly; zero is "now".
    #[test]
    fn ordinary_durations_give_their_sum() {
        let start = Instant::now();
        assert_eq!(deadline_from(start, Duration::ZERO), Some(start));
        let d = Duration::from_secs(3600);
        assert_eq!(deadline_from(start, d), Some(start + d));
    }

    /// The durations that made `Instant + d` panic across the workspace mean "no deadline".
    #[test]
    fn huge_durations_mean_no_deadline() {
        let start = Instant::now();
        assert_eq!(deadline_from(start, Duration::MAX), None);
        assert_eq!(deadline_from(start, Duration::from_secs(u64::MAX)), None);
        assert_eq!(deadline_after(Duration::MAX), None);
    }

    /// A passed deadline leaves zero to wait, never a panic; no deadline leaves `None`.
    #[test]
    fn remaining_saturates_at_zero() {
        let past = Instant::now();
        assert_eq!(remaining(Some(past)), Some(Duration::ZERO));
        assert_eq!(remaining(None), None);
        let far = deadline_after(Duration::from_secs(3600));
        assert!(remaining(far).unwrap() > Duration::from_secs(3500));
    }
}
