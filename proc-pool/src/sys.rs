//! Every system call the pool makes, each behind a safe wrapper (except `fork`, whose contract
//! cannot be checked by a wrapper).
//!
//! Invariant: every descriptor created here is `O_CLOEXEC` from birth (no window in which an
//! `exec` in another thread could inherit it), and every process is addressed through its
//! pidfd, never through a bare pid that may have been reaped and reused.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// How a worker process ended, as `waitid` reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitStatus {
    /// The process called `exit`/`_exit` with this code.
    Exited(i32),
    /// The process was killed by this signal (`SIGKILL` is 9, `SIGABRT` 6, ...).
    Signal(i32),
    /// The process is gone but its status could not be collected: the kernel reaped it
    /// itself because the program set `SIGCHLD` to `SIG_IGN` (or inherited that across
    /// `exec`), or other code of the program reaped it first (`waitpid(-1)`), or, under
    /// `ForkServer`, the server that knew it died or stopped answering.
    Unknown,
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(sig) => write!(f, "signal {sig}"),
            ExitStatus::Unknown => {
                f.write_str("status unknown: reaped by the kernel or other code")
            }
        }
    }
}

/// Turns a `-1` return into the thread's `errno`.
pub(crate) fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A pipe whose both ends are `O_CLOEXEC` and above the standard descriptors: `(read end,
/// write end)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    // Made with the standard descriptors held: a pipe end must never sit on 0, 1 or 2, not
    // even for the moment before it is moved, where a fork by another thread (another pool's
    // manager) would hand it to a worker as its stdin, stdout or stderr.
    with_stdio_held(|| {
        let mut fds = [-1 as RawFd; 2];
        // SAFETY: `fds` is a valid, writable array of two ints, as pipe2 requires.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }.into())?;
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // Still checked: a thread of the program may close a standard descriptor meanwhile.
        Ok((above_stdio(rx)?, above_stdio(tx)?))
    })
}

/// Moves `fd` (close-on-exec) above the standard descriptors if it landed on one of them,
/// which happens when the program closed them: a pool's descriptor on 0, 1 or 2 would be a
/// worker's stdin, stdout or stderr, and a task's `println!` would write into it. Every
/// descriptor the pool creates or receives goes through here (or, for those made by code
/// that cannot move them, is made under [`with_stdio_held`]).
pub fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own; it reads no memory.
    let moved = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) }.into())?;
    // SAFETY: fcntl succeeded and returned a fresh descriptor nobody else owns; `fd` is
    // closed when it drops here.
    Ok(unsafe { OwnedFd::from_raw_fd(moved as RawFd) })
}

/// Opens `/dev/null` (close-on-exec) onto each closed standard descriptor (0, 1, 2) and
/// returns them: while they are held, no new descriptor can land there.
pub fn fill_closed_stdio() -> Vec<OwnedFd> {
    let mut held = Vec::new();
    loop {
        // SAFETY: the path is a valid NUL-terminated string; open reads nothing else.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return held;
        }
        // SAFETY: open succeeded and returned a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if fd.as_raw_fd() > 2 {
            return held;
        }
        held.push(fd);
    }
}

/// Runs `f` with the closed standard descriptors held (see [`fill_closed_stdio`]), so that
/// descriptors made by code that cannot move them ([`above_stdio`]), such as mio's epoll and
/// eventfd, land above 2; then closes them again.
pub fn with_stdio_held<R>(f: impl FnOnce() -> R) -> R {
    let held = fill_closed_stdio();
    let made = f();
    drop(held);
    made
}

/// Puts `fd`'s open file description in non-blocking mode.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor the borrow keeps open; no memory is passed.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }.into())?;
    let flags = flags as libc::c_int | libc::O_NONBLOCK;
    // SAFETY: as above.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) };
    check(ret.into())?;
    Ok(())
}

/// Grows a pipe's kernel buffer to `bytes` (best effort: the caller ignores a refusal, which
/// only costs throughput).
///
/// Every pipe counts against its user's `pipe-user-pages-soft` quota; past it, each new pipe
/// of every process of that user gets 2 pages instead of 16. Callers size within that quota
/// (see [`pipe_user_pages_soft`]).
pub fn set_pipe_size(fd: BorrowedFd<'_>, bytes: i32) -> io::Result<()> {
    // SAFETY: F_SETPIPE_SZ on an open descriptor; no memory is passed.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) }.into())?;
    Ok(())
}

/// The per-user quota of pipe buffer pages past which new pipes are shrunk
/// (`/proc/sys/fs/pipe-user-pages-soft`; 16,384 pages = 64 MiB by default); `None` if there is
/// no such limit (0) or it cannot be read.
pub fn pipe_user_pages_soft() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&pages| pages > 0)
}

/// The size of a memory page as the pipe quota counts it.
pub const PIPE_PAGE: usize = 4096;

/// `read(2)` into `buf`; `Ok(0)` is end of file.
#[cfg(test)]
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    check(n as libc::c_long).map(|n| n as usize)
}

/// `read(2)` into the spare capacity of `buf` (at most `max` bytes), extending its length by
/// what was read; `Ok(0)` is end of file (or `max == 0`).
pub fn read_spare(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    // SAFETY: the spare capacity is valid for writes of `want` bytes; read(2) writes at most
    // that many and reports how many.
    let n = unsafe { libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
    let n = check(n as libc::c_long)? as usize;
    // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// `write(2)` from `buf`; returns how many bytes the kernel took.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    check(n as libc::c_long).map(|n| n as usize)
}

/// What [`fork`] returned in each of the two processes.
pub enum Forked {
    /// In the parent: the child's pid.
    Parent(libc::pid_t),
    /// In the child.
    Child,
}

/// `fork(2)` through glibc (not a raw `clone`), so that glibc's own fork handlers run: they
/// take every malloc arena lock before the fork and reinitialise them in the child, which is
/// what makes allocation in the child safe even if another thread was inside `malloc`.
///
/// # Safety
///
/// The caller's process may have other threads. In the child, only the calling thread exists,
/// and every lock another thread held at the moment of the fork stays locked forever. The
/// caller must make sure the child never takes such a lock (std's stdout/stderr locks, the
/// environment lock, any user `Mutex`) and leaves only through [`exit_now`], never by
/// returning into code that would run the parent's destructors a second time.
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: forwarded to the caller (see `# Safety`).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// The pid of the calling process.
pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() }
}

/// The pid of the calling process's parent (1 or a subreaper's if the parent is gone).
pub fn getppid() -> libc::pid_t {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() }
}

/// Asks the kernel to send `SIGKILL` to the calling process when the *thread* that forked it
/// exits (`PR_SET_PDEATHSIG`).
pub fn kill_me_when_parent_thread_exits() -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and reads no memory.
    let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    check(ret.into())?;
    Ok(())
}

/// Names the calling thread (for a single-threaded worker: the process, as `ps` shows it).
pub fn set_thread_name(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string (truncated to 16 bytes by the kernel),
    // which `name` is for the duration of the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

/// Closes every descriptor of the calling process from 3 up, except those in `keep`.
///
/// Uses `close_range` (Linux 5.9); where the kernel lacks it (`ENOSYS`, Linux 5.4 to 5.8) or a
/// seccomp profile refuses it (`EPERM`), closes them one by one instead (see
/// [`close_each_from_3_except`]).
pub fn close_all_from_3_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= 3).collect();
    keep.sort_unstable();
    match close_ranges_between(&keep) {
        Err(e) if close_range_missing(&e) => close_each_from_3_except(&keep),
        other => other,
    }
}

/// `close_range` over every gap between the sorted descriptors `keep` (all at least 3).
fn close_ranges_between(keep: &[RawFd]) -> io::Result<()> {
    let mut first: libc::c_uint = 3;
    for &fd in keep {
        let fd = fd as libc::c_uint;
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX)
}

/// Whether a `close_range` error means the call itself is unavailable.
fn close_range_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM))
}

/// `close_range(first, last, 0)`.
fn close_range(first: libc::c_uint, last: libc::c_uint) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    if crate::fault::close_range_hidden() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    // SAFETY: closing descriptors touches no memory; the caller (the worker, right after the
    // fork) owns no Rust object that will use the closed descriptors again.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) })?;
    Ok(())
}

/// The most descriptor numbers the last-resort loop of [`close_each_from_3_except`] closes:
/// the kernel's default `nr_open`, above which no process can hold a descriptor unless an
/// administrator raised it.
const MOST_DESCRIPTORS: libc::rlim_t = 1 << 20;

/// The fallback of [`close_all_from_3_except`] without `close_range`: closes each open
/// descriptor listed in `/proc/self/fd` (read with raw `getdents64` into a stack buffer, as
/// CPython's `_posixsubprocess` does; closing while listing is fine there), or, without
/// `/proc`, every number below the `RLIMIT_NOFILE` soft limit. `keep` is sorted.
pub fn close_each_from_3_except(keep: &[RawFd]) -> io::Result<()> {
    let close_if_unkept = |fd: RawFd, dir: RawFd| {
        if fd >= 3 && fd != dir && keep.binary_search(&fd).is_err() {
            // SAFETY: as in `close_range`; EBADF for a number that is not open is harmless.
            unsafe { libc::close(fd) };
        }
    };
    // SAFETY: a NUL-terminated path literal; the flags ask for a new close-on-exec descriptor.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid out-pointer.
        check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }.into())?;
        // An unlimited soft limit still cannot exceed the kernel's `nr_open` (2^20 unless
        // raised), and closing 2^31 numbers would take minutes.
        let last = RawFd::try_from(limit.rlim_cur.min(MOST_DESCRIPTORS)).unwrap_or(RawFd::MAX);
        (3..last).for_each(|fd| close_if_unkept(fd, -1));
        return Ok(());
    }
    let mut buf = [0u8; 4096];
    let listed = loop {
        // SAFETY: `buf` is valid for writes of its length; `dir` is an open directory.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len()) };
        let n = match check(n) {
            Ok(0) => break Ok(()),
            Ok(n) => n as usize,
            Err(e) => break Err(e),
        };
        // Each record: u64 inode, i64 offset, u16 record length, u8 type, NUL-terminated name.
        let mut at = 0;
        while at + 19 < n {
            let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            let name = &buf[at + 19..(at + reclen).min(n)];
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            let fd = name.iter().try_fold(0 as RawFd, |fd, &b| {
                b.is_ascii_digit()
                    .then(|| fd.checked_mul(10)?.checked_add(RawFd::from(b - b'0')))
                    .flatten()
            });
            if let Some(fd) = fd.filter(|_| !name.is_empty()) {
                close_if_unkept(fd, dir);
            }
            at += reclen.max(1);
        }
    };
    // SAFETY: `dir` was opened above and is closed once.
    unsafe { libc::close(dir) };
    listed
}

/// Ends the calling process at once with `code`: no atexit handlers, no stdio flush, no
/// destructors (in a forked worker those would be the parent's).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Makes the kernel end the calling process with `SIGALRM` in `seconds` (default action
/// restored and the signal unblocked first, whatever the parent had set): a bound on a last
/// step that might block forever, such as a lock another thread held at the fork.
pub fn die_after(seconds: u32) {
    // SAFETY: signal, sigprocmask and alarm are async-signal-safe; `set` is initialised by
    // sigemptyset and valid for the call; a null old set is allowed.
    unsafe {
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGALRM);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::alarm(seconds);
    }
}

/// A thread's signal mask, saved to be restored.
#[derive(Clone, Copy)]
pub struct SignalMask(libc::sigset_t);

/// Blocks `SIGPIPE` on the calling thread, returning the previous mask. A write to a pipe whose
/// reader died then fails with `EPIPE` instead of killing the process (in case the program
/// did not ignore `SIGPIPE`, as Rust's runtime does).
pub fn block_sigpipe() -> io::Result<SignalMask> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it; pthread_sigmask
    // reads `set` and writes `old`, both valid for the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(SignalMask(old))
    }
}

impl SignalMask {
    /// The mask as the C library takes it.
    pub fn as_sigset(&self) -> &libc::sigset_t {
        &self.0
    }
}

/// Sets the calling thread's signal mask to `mask`.
pub fn set_signal_mask(mask: &SignalMask) {
    // SAFETY: `mask.0` is a valid sigset_t; a null `oldset` is allowed.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut()) };
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock `Instant` uses, readable as a number that
/// means the same in every process of the machine.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// How many counters a [`SharedCounters`] page holds.
pub const SHARED_COUNTERS: usize = 4;

/// A page of memory shared with the processes forked after its creation, holding
/// [`SHARED_COUNTERS`] atomic counters (all zero at first). Not shared with processes forked
/// after [`keep_from_later_forks`](Self::keep_from_later_forks).
#[derive(Debug)]
pub struct SharedCounters {
    /// The start of the mapping (page-aligned, `PAGE` bytes).
    ptr: std::ptr::NonNull<libc::c_void>,
}

/// The size of a [`SharedCounters`] mapping.
const PAGE: usize = 4096;

impl SharedCounters {
    /// Maps a fresh zeroed page, `MAP_SHARED | MAP_ANONYMOUS`.
    pub fn new() -> io::Result<SharedCounters> {
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(ptr).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(SharedCounters { ptr })
    }

    /// Marks the page `MADV_DONTFORK`: processes forked from now on do not get it (so each
    /// worker maps its own page only).
    pub fn keep_from_later_forks(&self) -> io::Result<()> {
        // SAFETY: advice on our own mapping, which stays valid.
        check(unsafe { libc::madvise(self.ptr.as_ptr(), PAGE, libc::MADV_DONTFORK) }.into())?;
        Ok(())
    }

    /// The counters.
    pub fn counters(&self) -> &[std::sync::atomic::AtomicU64; SHARED_COUNTERS] {
        // SAFETY: the mapping is PAGE bytes, page-aligned (so aligned for AtomicU64), zeroed at
        // creation (a valid AtomicU64 value), and lives as long as `self`; the other process
        // touches it only through atomic operations too, so there is no data race.
        unsafe {
            &*self
                .ptr
                .as_ptr()
                .cast::<[std::sync::atomic::AtomicU64; SHARED_COUNTERS]>()
        }
    }
}

impl Drop for SharedCounters {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; no reference from `counters` outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr(), PAGE) };
    }
}

/// Kills and reaps a child of ours that has no pidfd (only when `pidfd_open` itself failed).
/// `pid` is safe to use here: the child is not reaped yet, so its pid cannot have been reused.
pub fn kill_and_reap_unwatched_child(pid: libc::pid_t) {
    // SAFETY: kill and waitpid on our own unreaped child; `status` is a valid out-pointer.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) == -1
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
}

/// A process descriptor: a handle on one process that cannot come to name another one, even
/// after the process has been reaped and its pid reused.
#[derive(Debug)]
pub struct PidFd {
    /// The descriptor returned by `pidfd_open`.
    fd: OwnedFd,
    /// The pid, kept for reports (never used to signal or wait).
    pid: libc::pid_t,
}

impl PidFd {
    /// Opens a pidfd on `pid`, which must be an unreaped child of the calling process (then the
    /// pid cannot have been reused: only a reap frees it, and this pool never reaps by pid).
    pub fn open(pid: libc::pid_t) -> io::Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and reads no memory.
        let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) })?;
        // SAFETY: the syscall succeeded and returned a fresh descriptor (pidfds are always
        // close-on-exec) that nothing else owns.
        let fd = above_stdio(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })?;
        Ok(PidFd { fd, pid })
    }

    /// The process's pid (for reports).
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// The descriptor, which becomes readable when the process exits.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends `SIGKILL` to the process. A process that already exited is not an error.
    pub fn kill(&self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends `sig` to the process (`pidfd_send_signal`).
    pub fn signal(&self, sig: libc::c_int) -> io::Result<()> {
        // SAFETY: a null siginfo is allowed and means "as kill(2) would"; no other memory.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0 as libc::c_uint,
            )
        };
        match check(ret) {
            Ok(_) => Ok(()),
            // Exited but not yet reaped: nothing left to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reaps the process if it has exited: `Ok(None)` while it still runs,
    /// [`ExitStatus::Unknown`] if it is gone but was reaped by the kernel or other code.
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        loop {
            match self.wait_with(libc::WEXITED | libc::WNOHANG) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    /// Waits for the process to exit and reaps it ([`ExitStatus::Unknown`] if the kernel or
    /// other code reaped it: `waitid` returns `ECHILD` only once it is gone).
    pub fn wait(&self) -> io::Result<ExitStatus> {
        loop {
            match self.wait_with(libc::WEXITED) {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// `waitid(P_PIDFD, fd, &info, options)`.
    fn wait_with(&self, options: libc::c_int) -> io::Result<Option<ExitStatus>> {
        // SAFETY: siginfo_t is plain old data; all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid for writes for the duration of the call.
        let ret = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                self.fd.as_raw_fd() as libc::id_t,
                &mut info,
                options,
            )
        };
        match check(ret.into()) {
            // The process is ours and was never reaped by this pool, so it is gone: the kernel
            // reaped it (SIGCHLD ignored) or other code did. Its status went with it.
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                return Ok(Some(ExitStatus::Unknown));
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        // SAFETY: waitid filled `info` (or left it zeroed under WNOHANG, where si_pid is 0).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        Ok(Some(match info.si_code {
            libc::CLD_EXITED => ExitStatus::Exited(status),
            _ => ExitStatus::Signal(status),
        }))
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

// The fork server's additions (`forkserver.rs`): a pidfd received from the server, and a
// counters page shared through a file instead of through `fork`.

impl PidFd {
    /// Takes ownership of a pidfd another process opened and passed to us (`SCM_RIGHTS`). The
    /// process is not our child: it can be signalled and polled, not waited for.
    pub fn adopt(fd: OwnedFd, pid: libc::pid_t) -> PidFd {
        PidFd { fd, pid }
    }
}

/// How long the file behind [`SharedCounters::map_file`] must be.
pub const COUNTERS_FILE_LEN: usize = PAGE;

impl SharedCounters {
    /// Maps the first page of `file` (a memfd of at least [`PAGE`] zeroed bytes), shared with
    /// every process that maps the same file.
    pub fn map_file(file: BorrowedFd<'_>) -> io::Result<SharedCounters> {
        // SAFETY: a fresh shared mapping of a file we hold open; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(ptr).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(SharedCounters { ptr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A pipe carries bytes and both ends are close-on-exec.
    #[test]
    fn pipe_is_cloexec_and_carries_bytes() {
        let (r, w) = pipe().unwrap();
        for fd in [&r, &w] {
            // SAFETY: F_GETFD on an open descriptor.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert_eq!(write(w.as_fd(), b"hi").unwrap(), 2);
        let mut buf = [0; 4];
        assert_eq!(read(r.as_fd(), &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"hi");
    }

    /// A non-blocking empty pipe reports `WouldBlock` instead of blocking.
    #[test]
    fn nonblocking_read_would_block() {
        let (r, _w) = pipe().unwrap();
        set_nonblocking(r.as_fd()).unwrap();
        let err = read(r.as_fd(), &mut [0; 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
