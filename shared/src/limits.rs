//! The process's open-file limit: the only code in the workspace that changes it, and only when
//! a program or test calls [`raise_nofile_limit`] explicitly (a library never does it behind
//! its user's back).

use std::io;

/// How many descriptors a test needs besides its connections: the harness, pipes, the poll
/// instance, the fixture's listener and a margin for whatever else the process holds.
const DESCRIPTOR_MARGIN: u64 = 512;

/// The most connections a stress test is sized for, even where the limit would allow more:
/// enough to show the model's behaviour, bounded so a test stays quick.
const MAX_STRESS_CONNECTIONS: u64 = 10_000;

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
