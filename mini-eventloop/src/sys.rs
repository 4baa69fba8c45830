//! The system calls this crate makes itself (everything else goes through `mio`): a Linux
//! `timerfd`, which gives the poll sub-millisecond deadlines, and a second `listen` that sets a
//! listener's backlog (`mio` always asks for 128).
//!
//! Invariant: each `unsafe` call gets a descriptor this module owns (an [`OwnedFd`]) or one
//! borrowed from a live socket for the call's duration, and pointers to live, correctly typed
//! locals; every result is checked.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A non-blocking, close-on-exec `CLOCK_MONOTONIC` timer descriptor. It becomes readable when
/// the time set by [`TimerFd::set_after`] has passed.
#[derive(Debug)]
pub(crate) struct TimerFd {
    /// The descriptor; closed on drop.
    fd: OwnedFd,
}

impl TimerFd {
    /// Creates a disarmed timer.
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain system call with constant arguments; the result is checked below.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a descriptor just returned to us and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Arms the timer to expire once, `after` from now (never sooner: a zero duration would
    /// disarm it, so it is raised to one nanosecond).
    pub(crate) fn set_after(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(after.subsec_nanos()),
            },
        };
        // SAFETY: `self.fd` is an open timerfd we own; `spec` is a valid `itimerspec` that
        // lives across the call; a null old-value pointer is allowed.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes a pending expiration, if any, so the descriptor is no longer readable.
    pub(crate) fn clear(&self) {
        let mut expirations = 0u64;
        // SAFETY: `self.fd` is an open timerfd we own; the buffer is a live, writable `u64`,
        // the 8 bytes a timerfd read produces. EAGAIN (nothing expired) is fine to ignore.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut expirations as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// The raw descriptor, to register with `mio` (which does not take ownership).
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Calls `listen` again on a socket that already listens: Linux then applies the new backlog to
/// the existing accept queue (and clamps it to `net.core.somaxconn`).
pub(crate) fn set_backlog(listener: &impl AsFd, backlog: i32) -> io::Result<()> {
    // SAFETY: `listen` only reads its two integer arguments; the descriptor is borrowed from a
    // live socket for the duration of the call, so it cannot be closed or reused meanwhile.
    if unsafe { libc::listen(listener.as_fd().as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
