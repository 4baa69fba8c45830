//! Helpers shared by the fixture tests: one bounded wait for a condition on the fixture's
//! counters.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::time::{Duration, Instant};

/// A hang guard for waits and reads that must succeed: far beyond what a correct run needs on
/// a busy machine, so it never expires unless something is wrong.
pub const GUARD: Duration = Duration::from_secs(60);

/// Waits until `cond` holds, failing after [`GUARD`] instead of hanging. The short naps only
/// pace the polling; nothing relies on their length.
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < GUARD, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
