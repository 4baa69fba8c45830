//! A child process the compare program can always get rid of: it runs in a process group of
//! its own, is waited for with a deadline through a pidfd, and past the deadline is killed
//! with its whole group (so a trial's forked workers go with it) before it is reaped.
//!
//! A group of its own also means a Ctrl-C at the terminal no longer reaches the child, so the
//! child asks the kernel to kill it when the compare program dies (`PR_SET_PDEATHSIG`). That
//! signal follows the *thread* that spawned the child: children are spawned from the main
//! thread, which lives as long as the program.
//!
//! Invariant: every child started here is reaped before [`Supervised::finish`] or
//! [`Supervised::stop`] returns, and a signal is only ever sent while the child is unreaped,
//! so its pid (and the group id, which is that pid) cannot have been reused by then.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use concurrency_shared::{deadline_after, remaining};

/// The kernel's link to the running image of this process.
const OWN_EXE: &str = "/proc/self/exe";

/// A command that re-executes this very binary, by the kernel's link to the running image, not
/// by its path: a path (`current_exe`) may name a new file, or none, once a `cargo build`
/// during the run has replaced the binary, while the link still opens the image that is
/// running. The child keeps this program's `argv[0]`, so `ps` shows it by its usual name.
pub fn own_command() -> Command {
    let mut command = Command::new(OWN_EXE);
    if let Some(name) = std::env::args_os().next() {
        command.arg0(name);
    }
    command
}

/// The most bytes of a child's stdout that are kept: a report is one short line, so a child
/// that prints more is printing garbage, and keeping only the tail bounds the parent's memory.
const STDOUT_KEEP: usize = 64 * 1024;

/// How long the parent waits, once the child has exited, for the end of its stdout: only a
/// descendant that escaped the group kill could still hold the pipe open.
const STDOUT_GRACE: Duration = Duration::from_secs(5);

/// How a supervised child ended.
#[derive(Debug)]
pub struct Ended {
    /// Its exit status (a signal for a child that was killed).
    pub status: ExitStatus,
    /// Whether it was killed for outliving its deadline.
    pub timed_out: bool,
    /// The last bytes it printed ([`STDOUT_KEEP`] unless spawned to keep more), if its
    /// stdout was captured.
    pub stdout: Vec<u8>,
    /// Why its stdout could not be read to the end, if it could not.
    pub stdout_error: Option<String>,
}

/// A child process in a group of its own, with a pidfd to wait on. Dropped without
/// [`finish`](Self::finish) or [`stop`](Self::stop) (a panic on the way), it kills its group
/// and reaps the child, so no path leaves a process behind.
pub struct Supervised {
    /// The child; reaped by `finish`, `stop` or `drop`.
    child: Child,
    /// Whether the child has been reaped (so its pid may belong to someone else now).
    reaped: bool,
    /// Becomes readable when the child exits (before it is reaped).
    pidfd: OwnedFd,
    /// The tail of the child's stdout, read by a thread so a chatty child never blocks.
    stdout: Option<mpsc::Receiver<io::Result<Vec<u8>>>>,
}

impl Supervised {
    /// Starts `command` in a new process group. If `capture_stdout`, its stdout must be piped
    /// and is read to the end by a thread; otherwise the caller may take it from
    /// [`child_mut`](Self::child_mut).
    pub fn spawn(command: &mut Command, capture_stdout: bool) -> io::Result<Self> {
        Self::spawn_keeping(command, capture_stdout.then_some(STDOUT_KEEP))
    }

    /// Like [`spawn`](Self::spawn), keeping the last `keep` bytes of a captured stdout
    /// instead of [`STDOUT_KEEP`]: for a child whose answer is known to be longer (a traced
    /// trial's events).
    pub fn spawn_keeping(command: &mut Command, keep: Option<usize>) -> io::Result<Self> {
        let parent = std::process::id();
        // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
        // calls are allowed: sigemptyset, sigprocmask, prctl, getppid and raise are, and it
        // allocates nothing.
        unsafe {
            command.pre_exec(move || {
                // The compare program blocks the signals it takes on a thread of its own
                // (`interrupt.rs`); a mask is inherited across exec, and the child must get
                // them as usual.
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // The parent may have died before the request was made: then nobody would
                // ever send the signal.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
        let mut child = command.process_group(0).spawn()?;
        let pidfd = match pidfd_open(child.id()) {
            Ok(fd) => fd,
            Err(e) => {
                // Still unreaped, so the pid is ours to signal.
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let stdout = match keep {
            Some(keep) => child
                .stdout
                .take()
                .map(|stdout| read_tail_in_background(stdout, keep)),
            None => None,
        };
        Ok(Self {
            child,
            reaped: false,
            pidfd,
            stdout,
        })
    }

    /// The child, for its pid and its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits until the child exits or `limit` has passed, then kills what is left of its
    /// group and reaps it. A `limit` too large for the clock (`Duration::MAX`) means no limit.
    pub fn finish(mut self, limit: Duration) -> io::Result<Ended> {
        let waited = self.wait_exit(deadline_after(limit));
        // Kill the group in every case: past the deadline this stops the child; after a
        // normal exit it stops any worker the child left behind; after a failed wait it
        // leaves nothing running. The leader is not reaped yet, so the group id cannot belong
        // to anyone else.
        let status = self.kill_and_reap()?;
        let exited = waited?;
        let (stdout, stdout_error) = match self.stdout.take() {
            None => (Vec::new(), None),
            Some(rx) => match rx.recv_timeout(STDOUT_GRACE) {
                Ok(Ok(bytes)) => (bytes, None),
                Ok(Err(e)) => (Vec::new(), Some(format!("reading its output failed: {e}"))),
                Err(_) => (
                    Vec::new(),
                    Some("its output stayed open after it exited".to_owned()),
                ),
            },
        };
        Ok(Ended {
            status,
            timed_out: !exited,
            stdout,
            stdout_error,
        })
    }

    /// Asks a child that is told to stop some other way (its stdin closed) to exit within
    /// `grace`: it is continued first, in case it was stopped, and killed with its group if
    /// the grace runs out. Always reaps it.
    pub fn stop(mut self, grace: Duration) {
        self.signal_group(libc::SIGCONT);
        let _ = self.wait_exit(deadline_after(grace));
        let _ = self.kill_and_reap();
    }

    /// Kills the child's group and reaps the child (once).
    fn kill_and_reap(&mut self) -> io::Result<ExitStatus> {
        self.signal_group(libc::SIGKILL);
        let status = self.child.wait();
        // `wait` only fails for a child already reaped, or one that is not ours; either way
        // the pid must not be signalled again.
        self.reaped = true;
        status
    }

    /// Reads the child's first line of stdout (at most `max` bytes of it), waiting no longer
    /// than `limit` for it; `None` if the child closed its stdout, or was still silent, first.
    /// Takes the child's stdout: nothing after the line is read.
    pub fn first_line(&mut self, limit: Duration, max: usize) -> io::Result<Option<String>> {
        let Some(mut stdout) = self.child.stdout.take() else {
            return Ok(None);
        };
        let deadline = deadline_after(limit);
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while line.len() < max {
            if !wait_readable(stdout.as_raw_fd(), deadline)? {
                return Ok(None);
            }
            // One byte at a time: the line is short, and nothing past it must be consumed.
            match stdout.read(&mut byte) {
                Ok(0) => return Ok(None),
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }

    /// Whether the child has exited (it may not be reaped yet), without waiting.
    pub fn has_exited(&self) -> io::Result<bool> {
        self.wait_exit(Some(Instant::now()))
    }

    /// Waits on the pidfd until the child has exited (`true`) or `deadline` passed (`false`).
    fn wait_exit(&self, deadline: Option<Instant>) -> io::Result<bool> {
        wait_readable(self.pidfd.as_raw_fd(), deadline)
    }

    /// Sends `signal` to the child's process group (whose id is the child's pid), unless the
    /// child was reaped already.
    fn signal_group(&self, signal: libc::c_int) {
        if self.reaped {
            return;
        }
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill has no memory-safety preconditions; the group id is the unreaped
        // child's pid, so it names only the child's own group.
        unsafe { libc::kill(-pgid, signal) };
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.kill_and_reap();
        }
    }
}

/// Waits until `fd` is readable (`true`) or `deadline` has passed (`false`); `None` waits
/// without limit.
fn wait_readable(fd: RawFd, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let timeout_ms = match remaining(deadline) {
            None => -1,
            // Rounded up, so the wait never ends just before the deadline and spins.
            Some(left) => i32::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
        };
        let mut fds = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `fds` is one valid, writable pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut fds, 1, timeout_ms) };
        match ready {
            1.. => return Ok(true),
            0 if remaining(deadline).is_some_and(|d| d.is_zero()) => return Ok(false),
            0 => {}
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Describes an exit status for a person: "exit status 3", "killed by signal 9 (SIGKILL)".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => status.to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGINT => "SIGINT",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// Reads `stdout` to its end on a thread, keeping only the last `keep` bytes.
fn read_tail_in_background(
    mut stdout: ChildStdout,
    keep: usize,
) -> mpsc::Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("child stdout".to_owned())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut chunk = [0u8; 8192];
            let result = loop {
                match stdout.read(&mut chunk) {
                    Ok(0) => break Ok(kept),
                    Ok(n) => {
                        kept.extend_from_slice(&chunk[..n]);
                        if kept.len() > keep {
                            kept.drain(..kept.len() - keep);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        // No thread: the receiver reports the failure instead of waiting for nothing.
        let (tx, rx) = mpsc::sync_channel(1);
        let _ = tx.send(Err(e));
        return rx;
    }
    rx
}

/// A pidfd for `pid`: readable once the process exits.
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("descriptor out of range"))?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
