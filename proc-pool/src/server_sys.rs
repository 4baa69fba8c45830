//! The system calls only the fork server needs, each behind a safe wrapper: a
//! `SOCK_SEQPACKET` socket pair, messages that carry descriptors (`SCM_RIGHTS`), `poll` with a
//! timeout, a `memfd`, and `posix_spawn` of the running executable.
//!
//! Invariant (as in `sys.rs`): every descriptor created or received here is close-on-exec from
//! birth and above the standard descriptors, and a send never raises `SIGPIPE` (`MSG_NOSIGNAL`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The most descriptors one message carries.
pub const MAX_FDS: usize = 4;

use crate::sys::{above_stdio, check};

/// A connected pair of Unix `SOCK_SEQPACKET` sockets (message boundaries kept, both ends
/// close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints, as socketpair requires.
    let ret = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    check(ret.into())?;
    // SAFETY: socketpair succeeded: both descriptors are open and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(a)?, above_stdio(b)?))
}

/// Whether `fd` is a `SOCK_SEQPACKET` socket.
pub fn is_seqpacket(fd: RawFd) -> bool {
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `kind` and `len` are valid out-pointers of the sizes given; a bad descriptor
    // only makes the call fail.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut kind).cast(),
            &mut len,
        )
    };
    ret == 0 && kind == libc::SOCK_SEQPACKET
}

/// The control-message buffer: room for [`MAX_FDS`] descriptors, aligned for `cmsghdr`.
#[repr(C)]
struct CmsgBuf {
    /// Forces the alignment `CMSG_*` expect.
    _align: [libc::cmsghdr; 0],
    /// The bytes.
    bytes: [u8; 64],
}

/// A message header over one buffer and a control buffer. The pointers it holds are valid as
/// long as `iov` and `cmsg` are, which the callers keep alive for the system call.
fn header(iov: &mut libc::iovec, cmsg: &mut CmsgBuf) -> libc::msghdr {
    // SAFETY: msghdr is plain data; all-zero is a valid "no name, no control" value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.bytes.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.bytes.len();
    msg
}

impl CmsgBuf {
    /// A zeroed control buffer.
    fn new() -> CmsgBuf {
        CmsgBuf {
            _align: [],
            bytes: [0; 64],
        }
    }
}

/// Sends one message with `fds` attached (they stay open here: the receiver gets copies).
pub fn send_with_fds(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    assert!(
        fds.len() <= MAX_FDS,
        "at most {MAX_FDS} descriptors per message"
    );
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    let mut cmsg = CmsgBuf::new();
    let mut msg = header(&mut iov, &mut cmsg);
    if fds.is_empty() {
        msg.msg_control = std::ptr::null_mut();
        msg.msg_controllen = 0;
    } else {
        let payload = std::mem::size_of_val(fds) as libc::c_uint;
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(payload) } as usize;
        // SAFETY: the control buffer is aligned, 64 bytes (≥ CMSG_SPACE of 4 ints) and
        // zeroed, so CMSG_FIRSTHDR is non-null and CMSG_DATA has room for `fds`.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(payload) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(header).cast::<RawFd>(),
                fds.len(),
            );
        }
    }
    loop {
        // SAFETY: `msg` points at `iov` and `cmsg`, both alive and valid for the call.
        let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        match check(ret as libc::c_long) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Receives one message into `buf`: its length (0: the peer is gone) and the descriptors it
/// carried, close-on-exec.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cmsg = CmsgBuf::new();
    let mut msg = header(&mut iov, &mut cmsg);
    let n = loop {
        // SAFETY: `msg` points at `iov` (into `buf`) and `cmsg`, valid for writes.
        let ret = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        match check(ret as libc::c_long) {
            Ok(n) => break n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg_control` with well-formed headers within
    // `msg_controllen`; CMSG_FIRSTHDR/NXTHDR walk them; each SCM_RIGHTS payload holds
    // `(cmsg_len - CMSG_LEN(0)) / 4` fresh descriptors that nobody else owns.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let count = ((*header).cmsg_len - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("a message carried too many descriptors"));
    }
    let fds = fds
        .into_iter()
        .map(above_stdio)
        .collect::<io::Result<_>>()?;
    Ok((n, fds))
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes (`None`: no
/// limit). Returns which are ready.
pub fn wait_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let deadline = timeout.and_then(concurrency_shared::deadline_after);
    loop {
        let ms = match concurrency_shared::remaining(deadline) {
            None => -1,
            Some(left) => libc::c_int::try_from(left.as_millis().saturating_add(1))
                .unwrap_or(libc::c_int::MAX),
        };
        // SAFETY: `polls` is a valid array of `polls.len()` pollfd structs.
        let ret = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
        match check(ret.into()) {
            Ok(0) if concurrency_shared::remaining(deadline).is_some_and(|d| d.is_zero()) => {
                return Ok(vec![false; fds.len()]);
            }
            Ok(0) => {}
            Ok(_) => return Ok(polls.iter().map(|p| p.revents != 0).collect()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A close-on-exec anonymous memory file of `len` bytes (zeroed).
pub fn memfd(len: usize) -> io::Result<OwnedFd> {
    // SAFETY: the name is a valid NUL-terminated string; the call reads nothing else.
    let fd = unsafe { libc::memfd_create(c"proc-pool-counters".as_ptr(), libc::MFD_CLOEXEC) };
    check(fd.into())?;
    // SAFETY: memfd_create returned a fresh descriptor nobody else owns.
    let fd = above_stdio(unsafe { OwnedFd::from_raw_fd(fd) })?;
    // SAFETY: ftruncate on our own descriptor; no memory is passed.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) }.into())?;
    Ok(fd)
}

/// `posix_spawn`s `/proc/self/exe` (the running executable, even if its path now names
/// another file) with `env`, no arguments but a name, `mask` as its signal mask (`None`: the
/// caller's), and `pass` as descriptor `at` (every other descriptor is close-on-exec or
/// stdio). Signal dispositions are the caller's across `exec`: handled signals become default
/// and ignored ones stay ignored (`nohup` keeps working). `posix_spawn` does not copy the
/// address space (glibc uses `CLONE_VM | CLONE_VFORK`), so its cost does not grow with the
/// caller's size. Returns the child's pid.
pub fn spawn_self(
    pass: BorrowedFd<'_>,
    at: RawFd,
    env: &[CString],
    mask: Option<&crate::sys::SignalMask>,
) -> io::Result<libc::pid_t> {
    // dup2 onto the same number would keep close-on-exec set: move it out of the way first.
    let moved;
    let pass = if pass.as_raw_fd() == at {
        moved = pass.try_clone_to_owned()?;
        moved.as_raw_fd()
    } else {
        pass.as_raw_fd()
    };
    let mut env_ptrs: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    env_ptrs.push(std::ptr::null_mut());
    let name = c"proc-pool-fork-server";
    let argv = [name.as_ptr().cast_mut(), std::ptr::null_mut()];
    let mut pid: libc::pid_t = 0;
    // SAFETY: the attribute and file-action objects are initialised before use and destroyed
    // after; every pointer passed (path, argv, envp) is NUL-terminated and outlives the call.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        let ret = libc::posix_spawn_file_actions_init(&mut actions);
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        let ret = libc::posix_spawnattr_init(&mut attr);
        if ret != 0 {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(io::Error::from_raw_os_error(ret));
        }
        let mut ret = libc::posix_spawn_file_actions_adddup2(&mut actions, pass, at);
        if let Some(mask) = mask {
            if ret == 0 {
                ret = libc::posix_spawnattr_setflags(
                    &mut attr,
                    libc::POSIX_SPAWN_SETSIGMASK as libc::c_short,
                );
            }
            if ret == 0 {
                ret = libc::posix_spawnattr_setsigmask(&mut attr, mask.as_sigset());
            }
        }
        if ret == 0 {
            ret = libc::posix_spawn(
                &mut pid,
                c"/proc/self/exe".as_ptr(),
                &actions,
                &attr,
                argv.as_ptr(),
                env_ptrs.as_ptr(),
            );
        }
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
    }
    Ok(pid)
}

/// Sets `sig`'s disposition to ignored (`true`) or default (`false`).
pub fn set_signal_ignored(sig: libc::c_int, ignored: bool) {
    let handler = if ignored {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: installing SIG_IGN or SIG_DFL runs no code of ours in a signal context.
    unsafe { libc::signal(sig, handler) };
}

/// Whether `sig` is ignored (`SIG_IGN`) in this process.
pub fn signal_ignored(sig: libc::c_int) -> bool {
    // SAFETY: sigaction with a null new action only reads the disposition into `old`, a
    // valid, zero-initialised struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// The device and inode of the running executable's file.
pub fn exe_identity() -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/exe").map_or((0, 0), |m| (m.dev(), m.ino()))
}
