//! The limits that size the stress tests: the process's open-file limit (the only code in the
//! workspace that changes it, and only when a program or test calls [`raise_nofile_limit`]
//! explicitly: a library never does it behind its user's back), and the kernel's cap on a
//! listener's accept queue, which bounds how many connects may be in flight at once.

use std::io;

/// How many descriptors a test needs besides its connections: the harness, pipes, the poll
/// instance, the fixture's listener and a margin for whatever else the process holds.
const DESCRIPTOR_MARGIN: u64 = 512;

/// The most connections a stress test is sized for, even where the limit would allow more:
/// enough to show the model's behaviour, bounded so a test stays quick.
const MAX_STRESS_CONNECTIONS: u64 = 10_000;

/// The most connects a stress test keeps in flight, where the accept queue allows it.
const MAX_CONNECTS_IN_FLIGHT: usize = 1_000;

/// The accept-queue cap assumed when `net.core.somaxconn` cannot be read: the kernel default
/// before Linux 5.4, the smallest a Linux machine is likely to have.
const FALLBACK_SOMAXCONN: usize = 128;

/// The open-file limit after [`raise_nofile_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard cap, which an unprivileged process cannot exceed.
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` of this process to its hard cap and reports both.
///
/// # Errors
///
/// The OS error if the limit cannot be read or set.
pub fn raise_nofile_limit() -> io::Result<NofileLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid `rlimit` read just above, with soft raised to hard.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(NofileLimit {
        soft: lim.rlim_cur,
        hard: lim.rlim_max,
    })
}

/// The largest number of loopback connections a single-process test can hold here, both ends
/// in the process: `min(10_000, (hard cap - 512) / 2)`.
///
/// It raises the soft limit to the hard cap first (see [`raise_nofile_limit`]), since holding
/// that many connections needs it; if the limit cannot be read it assumes the common default
/// of 1,024.
pub fn stress_connections() -> usize {
    let hard = raise_nofile_limit().map_or(1_024, |l| l.hard);
    let by_limit = hard.saturating_sub(DESCRIPTOR_MARGIN) / 2;
    usize::try_from(by_limit.min(MAX_STRESS_CONNECTIONS)).unwrap_or(usize::MAX)
}

/// The most connections one process may hold open at once here, each one descriptor (the
/// peer's ends in another process): the hard cap minus the same margin as
/// [`stress_connections`], or 0 if the cap is smaller than the margin.
///
/// It raises the soft limit to the hard cap first (see [`raise_nofile_limit`]); if the limit
/// cannot be read it assumes the common default of 1,024.
pub fn connections_per_process() -> usize {
    let hard = raise_nofile_limit().map_or(1_024, |l| l.hard);
    usize::try_from(hard.saturating_sub(DESCRIPTOR_MARGIN)).unwrap_or(usize::MAX)
}

/// How many connects a loopback test may have in flight at once (started, not yet accepted)
/// without overflowing a listener's accept queue: `min(1_000, somaxconn / 2)`, where
/// `somaxconn` (4,096 here) is the kernel's cap on any listener's backlog.
///
/// Past the queue's length Linux drops the clients' handshake packets: connects stall for a
/// one-second retransmit, and a client that believes it is connected and writes may be reset.
/// Half the cap leaves room for connections that completed but were not accepted yet. If
/// `/proc/sys/net/core/somaxconn` cannot be read, 128 is assumed (64 in flight).
pub fn connects_in_flight() -> usize {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(FALLBACK_SOMAXCONN);
    (somaxconn / 2).clamp(1, MAX_CONNECTS_IN_FLIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound follows the kernel's cap and stays within 1..=1,000: never zero (a test would
    /// make no progress) and never more than the accept queue could hold.
    #[test]
    fn connects_in_flight_follows_somaxconn() {
        let n = connects_in_flight();
        assert!((1..=MAX_CONNECTS_IN_FLIGHT).contains(&n), "{n}");
        if let Ok(text) = std::fs::read_to_string("/proc/sys/net/core/somaxconn") {
            let somaxconn: usize = text.trim().parse().unwrap();
            assert!(
                n <= somaxconn / 2 || somaxconn < 2,
                "{n} in flight, somaxconn {somaxconn}"
            );
            assert!(n == MAX_CONNECTS_IN_FLIGHT || n == (somaxconn / 2).max(1));
        }
    }
}
