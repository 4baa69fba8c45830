//! The fork server ([`StartMethod::ForkServer`](crate::StartMethod::ForkServer)): workers are
//! forked by a single-threaded process started from a clean image of the same executable, so
//! no lock held by any thread of the user's process can reach a worker (Python 3.14's default
//! on Linux, for the same reason).
//!
//! ```text
//!  pool's manager thread (client)                fork server (one per pool)        workers
//!  ──────────────────────────────                ───────────────────────────       ───────
//!  first Worker::start:
//!   posix_spawn /proc/self/exe ───────────────▶  .init_array.00098: marker? ─no─▶ (as usual)
//!     env PROC_POOL_FORK_SERVER_<version>=3:<pid>│ yes: never returns to main
//!     fd 3 = control socket (SEQPACKET)          │ /dev/null onto closed 0-2,
//!                                                │ PR_SET_PDEATHSIG, getppid check,
//!                                                │ close all but 0-3; one thread?
//!   ◀──── HELLO build-id, exe dev/ino (REFUSED)  │
//!   same build? ── CONFIG token, init, SIGINT ─▶ │
//!  each Worker::start:                           ▼
//!   pipes + memfd counters ── SPAWN id, fds ──▶  fork ────────────────────────────▶ worker_main
//!   ◀────────── SPAWNED id, pid, pidfd ───────── (SCM_RIGHTS)                     (as under Fork)
//!  kill / timeout: pidfd_send_signal (never races the reap: a pidfd names one process)
//!  pidfd readable (exited):                      its own pidfd readable: waitid
//!   ◀────────── EXITED id, status ────────────── (the server reaps its children)
//!  pool ends: close the socket ────────────────▶ EOF: kill and reap every worker, exit
//! ```
//!
//! Invariants:
//! - **The user's `main` never runs twice, nor the executable's other constructors.** A
//!   process started with the marker never returns from the constructor, which runs before
//!   the executable's others: it serves, or exits at once if the marker is not one a pool
//!   set. It serves only while it is single-threaded (a shared library's constructor may have
//!   started a thread before it): otherwise the pool's build fails with a typed error.
//!   A pool is only built with this method when the pool's own code (so the constructor) is
//!   in the main executable; elsewhere (a `cdylib`) building fails with a typed error.
//! - **Start cost does not grow with the parent**: the server is started by `posix_spawn`,
//!   which does not copy the parent's page tables, and workers are forked from the small
//!   server.
//! - **No hang on a dead or stopped server**: every wait for the server is bounded by
//!   [`SERVER_TIMEOUT`]; past it, or on end of file, the server is killed (its workers die
//!   with it, parent-death signal), no new worker can start, and the pool breaks.
//! - **The server dies with the pool**: its parent-death signal is tied to the manager thread
//!   that spawned it, it checks `getppid` after setting it, and the manager thread shuts it
//!   down (or kills it) when it ends.
//!
//! What workers see: a fresh image of the executable, not the parent's memory. Globals set by
//! the parent after start-up are not there (as in Python); `std::env::args()` holds none of
//! the user's arguments (empty, or just the server's name); the environment is the parent's at
//! the moment the server was started.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use crate::error::{BuildError, BuildErrorKind, ExitStatus};
use crate::image::{self, CodeRef};
use crate::server_sys::{self, recv_with_fds, send_with_fds};
use crate::sys::{self, PidFd, SharedCounters};
use crate::task;
use crate::worker::Spec;

mod server;

/// The marker's name, namespaced by this crate's version: two semver-incompatible copies of
/// the crate in one executable each have a constructor, and each must take only its own
/// copy's marker (the other copy's protocol may differ).
macro_rules! marker_name {
    () => {
        concat!("PROC_POOL_FORK_SERVER_", env!("CARGO_PKG_VERSION"))
    };
}
use marker_name;

/// The environment variable that makes a re-executed process a fork server: `"<fd>:<pid>"`,
/// the control socket's descriptor and the pool process's pid.
const MARKER: &CStr = match CStr::from_bytes_with_nul(concat!(marker_name!(), "\0").as_bytes()) {
    Ok(name) => name,
    Err(_) => panic!("the marker's name holds no NUL"),
};

/// The control socket's descriptor number in the server.
const SERVER_FD: RawFd = 3;

/// The longest the pool waits for the server to answer: its hello, a spawn, or the exit
/// status of a worker that has already exited (which a live server sends within
/// microseconds). Past it the server counts as stalled. Generous, because a busy machine
/// must never break a healthy pool; a stopped server costs at most this once.
pub(crate) const SERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the server's hello, so that a stray peer is not mistaken for a server.
const MAGIC: u64 = u64::from_le_bytes(*b"ppfsrv01");

/// Server -> pool: who it is. Pool -> server: the pool's token and initializer.
const OP_HELLO: u8 = 1;
/// Pool -> server: fork a worker. Server -> pool: forked.
const OP_SPAWN: u8 = 2;
/// Server -> pool: the fork failed (with `errno`).
const OP_FAILED: u8 = 3;
/// Server -> pool: a worker exited (with its status).
const OP_EXITED: u8 = 4;
/// Server -> pool, instead of the hello: it cannot serve (it is not single-threaded).
const OP_REFUSED: u8 = 5;

/// Exit code of a server started with a marker that no pool set.
const EXIT_BAD_MARKER: i32 = 75;
/// Exit code of a server whose pool died before it could ask to die with it.
const EXIT_ORPHANED: i32 = 76;
/// Exit code of a server that could not set itself up or talk to its pool.
const EXIT_SETUP_FAILED: i32 = 77;

/// The constructor's signature, as glibc calls `.init_array` entries.
type InitArrayFn =
    extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char);

/// The server's entry: glibc runs it before the executable's other constructors and `main`.
/// It returns at once unless the marker is set.
///
/// In a priority section, so that it runs before every constructor of the executable that
/// has none (GNU ld and lld both place `.init_array.NNNNN` sections, sorted by number, before
/// plain `.init_array`): a user's constructor (one that prints, starts a thread or builds a
/// pool) never runs in the server. 98 is below Rust std's own 99 and above the 0-100 range's
/// bottom that toolchains reserve; std's start-up is not needed by the server.
#[used]
#[unsafe(link_section = ".init_array.00098")]
static SERVER_ENTRY: InitArrayFn = server::server_entry;

/// Why a fork server could not be started (becomes a typed [`BuildError`]).
#[derive(Debug)]
pub(crate) struct HandshakeFailed(pub(crate) &'static str);

impl std::fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for HandshakeFailed {}

/// Checks, when a `ForkServer` pool is built, that the server can be reached and can run the
/// initializer: both need the code in the main executable.
pub(crate) fn check_supported(initializer: Option<fn()>) -> Result<(), BuildError> {
    // Naming the constructor here also keeps the linker from dropping its object file.
    let entry = *std::hint::black_box(&SERVER_ENTRY) as usize;
    check_entry(entry, initializer)
}

/// [`check_supported`] with the constructor's address: it must lie in the main executable,
/// or re-executing the executable would not reach it.
fn check_entry(entry: usize, initializer: Option<fn()>) -> Result<(), BuildError> {
    if !image::in_main_executable(entry) {
        return Err(BuildError::new(BuildErrorKind::ForkServerUnsupported));
    }
    if initializer.is_some_and(|f| !image::in_main_executable(f as usize)) {
        return Err(BuildError::new(BuildErrorKind::ForkServerInitializer));
    }
    Ok(())
}

// ───────────────────────────── the pool's side (client) ─────────────────────────────

/// A worker's name in the protocol (pids can be reused; ids are not).
pub(crate) type WorkerId = u64;

/// A worker the server forked, as the pool gets it.
pub(crate) struct Started {
    /// The worker's protocol id.
    pub(crate) id: WorkerId,
    /// Its pidfd (opened by the server, passed with `SCM_RIGHTS`).
    pub(crate) pidfd: PidFd,
    /// The write end of its task pipe.
    pub(crate) task_tx: OwnedFd,
    /// The read end of its result pipe.
    pub(crate) result_rx: OwnedFd,
    /// Its progress counters (a memfd page mapped on both sides).
    pub(crate) progress: SharedCounters,
}

/// The manager thread's connection to its pool's server.
struct Client {
    /// The control socket.
    control: OwnedFd,
    /// The server process (our child).
    server: PidFd,
    /// The next worker id.
    next_id: WorkerId,
    /// Exit statuses received and not yet asked for.
    exits: HashMap<WorkerId, ExitStatus>,
    /// The server died, stalled or broke the protocol: no more workers.
    gone: bool,
    /// The server has been reaped (after it was `gone`).
    reaped: bool,
}

thread_local! {
    /// The server of the pool whose manager is this thread. Owned by the thread because the
    /// server's parent-death signal is tied to it; dropped (server shut down) when it ends.
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Starts a worker through this thread's fork server, starting the server first if needed.
/// Call only from a pool's manager thread.
pub(crate) fn start_worker(spec: Spec) -> io::Result<Started> {
    CLIENT.with(|cell| {
        let mut client = cell.borrow_mut();
        if client.is_none() {
            *client = Some(Client::connect(spec)?);
        }
        match client.as_mut() {
            Some(client) => client.start_worker(),
            None => Err(io::Error::other("the fork server is not running")),
        }
    })
}

/// The exit status of worker `id` if it has exited (its pidfd is readable), as the server
/// reports it; `None` while it runs.
pub(crate) fn try_exit(id: WorkerId, pidfd: &PidFd) -> Option<ExitStatus> {
    let exited = server_sys::wait_readable(&[pidfd.as_raw_fd()], Some(Duration::ZERO))
        .map_or(true, |ready| ready[0]);
    if !exited {
        return None;
    }
    Some(await_exit(id, pidfd))
}

/// Waits until worker `id` (already killed by the caller) has exited; its status.
pub(crate) fn wait_exit(id: WorkerId, pidfd: &PidFd) -> ExitStatus {
    // A killed process ends promptly; an error here means the descriptor cannot be polled,
    // and the status wait below is bounded anyway.
    let _ = server_sys::wait_readable(&[pidfd.as_raw_fd()], None);
    await_exit(id, pidfd)
}

/// The status of an exited worker, from the server (bounded wait), or, with the server gone,
/// from the worker itself if it became our child (see [`Client::orphan_status`]).
fn await_exit(id: WorkerId, pidfd: &PidFd) -> ExitStatus {
    CLIENT
        .try_with(|cell| match cell.borrow_mut().as_mut() {
            Some(client) => client.await_exit(id, pidfd),
            None => orphan_status(pidfd),
        })
        .unwrap_or_else(|_| orphan_status(pidfd))
}

/// An exited worker's status when its server cannot report it: if the server died, the
/// worker was re-parented, and to this process if it is a child subreaper
/// (`PR_SET_CHILD_SUBREAPER`): then it must be reaped here, or stay a zombie for the
/// process's life. Anywhere else it is not our child and its status is unknown.
fn orphan_status(pidfd: &PidFd) -> ExitStatus {
    pidfd.wait().unwrap_or(ExitStatus::Unknown)
}

/// What a status reads as when the server sent none that parses.
fn unknown_status() -> ExitStatus {
    ExitStatus::Unknown
}

impl Client {
    /// Spawns the server and completes the handshake.
    fn connect(spec: Spec) -> io::Result<Client> {
        let (ours, theirs) = server_sys::seqpacket_pair()?;
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(key, _)| key.as_bytes() != MARKER.to_bytes())
            .filter_map(|(key, value)| {
                let mut entry = key.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                CString::new(entry).ok()
            })
            .collect();
        let marker = format!("{}={SERVER_FD}:{}", MARKER.to_string_lossy(), sys::getpid());
        env.push(CString::new(marker).map_err(io::Error::other)?);
        let pid =
            server_sys::spawn_self(theirs.as_fd(), SERVER_FD, &env, spec.signal_mask.as_ref())?;
        drop(theirs);
        let server = match PidFd::open(pid) {
            Ok(server) => server,
            Err(e) => {
                sys::kill_and_reap_unwatched_child(pid);
                return Err(e);
            }
        };
        let mut client = Client {
            control: ours,
            server,
            next_id: 0,
            exits: HashMap::new(),
            gone: false,
            reaped: false,
        };
        match client.handshake(spec) {
            Ok(()) => Ok(client),
            Err(why) => {
                // Dropping the client kills it at once (it failed us once already: waiting
                // again for it to leave would double the bound) and reaps it.
                client.gone = true;
                Err(io::Error::other(HandshakeFailed(why)))
            }
        }
    }

    /// Checks the server is this very build, then tells it the token and initializer.
    fn handshake(&mut self, spec: Spec) -> Result<(), &'static str> {
        let mut buf = [0u8; 512];
        let (n, _) = self
            .recv(&mut buf)
            .map_err(|_| "it died or did not answer")?;
        let mut cur = Reader(&buf[..n]);
        match (cur.u8(), cur.u64()) {
            (Some(OP_HELLO), Some(MAGIC)) => {}
            (Some(OP_REFUSED), Some(MAGIC)) => {
                return Err(
                    "it was not single-threaded (a shared library's constructor \
                            started a thread before it could take over)",
                );
            }
            _ => return Err("its hello was not a fork server's"),
        }
        let (dev, ino) = (cur.u64(), cur.u64());
        let id_len = cur.u32().unwrap_or(u32::MAX) as usize;
        let build_id = cur.bytes(id_len);
        if (dev, ino)
            != (
                Some(server_sys::exe_identity().0),
                Some(server_sys::exe_identity().1),
            )
            || build_id != Some(image::build_id())
        {
            return Err("it is not the same build as this process");
        }
        let mut config = vec![OP_HELLO];
        config.extend_from_slice(&task::token().to_le_bytes());
        match spec.initializer.map(|f| image::locate(f as usize)) {
            None => config.extend_from_slice(&[0; 9]),
            Some(CodeRef::Main(offset)) => {
                config.push(1);
                config.extend_from_slice(&offset.to_le_bytes());
            }
            Some(CodeRef::Raw(_)) => return Err("the initializer is not in the main executable"),
        }
        // The server ignores SIGINT itself; its workers get this process's disposition back.
        config.push(u8::from(server_sys::signal_ignored(libc::SIGINT)));
        // Feature `trace`: whether workers append their records to their answers. The server
        // is this very build (checked above), so it reads this byte exactly when it is sent.
        #[cfg(feature = "trace")]
        config.push(u8::from(spec.traced));
        send_with_fds(self.control.as_fd(), &config, &[]).map_err(|_| "it died")
    }

    /// Receives one message, waiting at most [`SERVER_TIMEOUT`]; end of file is an error.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        let ready = server_sys::wait_readable(&[self.control.as_raw_fd()], Some(SERVER_TIMEOUT))?;
        if !ready[0] {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match recv_with_fds(self.control.as_fd(), buf)? {
            (0, _) => Err(io::ErrorKind::UnexpectedEof.into()),
            got => Ok(got),
        }
    }

    /// The server failed us: kill it (its workers die with it) and start no more workers.
    fn give_up(&mut self) -> io::Error {
        self.gone = true;
        let _ = self.server.kill();
        io::Error::other("the fork server died or stopped answering")
    }

    /// [`orphan_status`] once the (killed) server is reaped: only then have its children been
    /// re-parented, so a worker still the server's at the `waitid` would become our zombie
    /// later. Bounded: the server was sent `SIGKILL` ([`give_up`](Self::give_up)), and its
    /// workers die with it (parent-death signal).
    fn orphan_status(&mut self, pidfd: &PidFd) -> ExitStatus {
        if !self.reaped {
            let _ = self.server.kill();
            let _ = self.server.wait();
            self.reaped = true;
        }
        orphan_status(pidfd)
    }

    /// Asks the server for a worker.
    fn start_worker(&mut self) -> io::Result<Started> {
        if self.gone {
            return Err(io::Error::other(
                "the fork server died or stopped answering",
            ));
        }
        let (task_rx, task_tx) = sys::pipe()?;
        let (result_rx, result_tx) = sys::pipe()?;
        let file = server_sys::memfd(sys::COUNTERS_FILE_LEN)?;
        let progress = SharedCounters::map_file(file.as_fd())?;
        let id = self.next_id;
        self.next_id += 1;
        let mut request = vec![OP_SPAWN];
        request.extend_from_slice(&id.to_le_bytes());
        let fds = [task_rx.as_raw_fd(), result_tx.as_raw_fd(), file.as_raw_fd()];
        if send_with_fds(self.control.as_fd(), &request, &fds).is_err() {
            return Err(self.give_up());
        }
        let mut buf = [0u8; 64];
        loop {
            let Ok((n, mut fds)) = self.recv(&mut buf) else {
                return Err(self.give_up());
            };
            let mut cur = Reader(&buf[..n]);
            match (cur.u8(), cur.u64()) {
                (Some(OP_EXITED), Some(other)) => {
                    let status = cur.status().unwrap_or_else(unknown_status);
                    self.exits.insert(other, status);
                }
                (Some(OP_SPAWN), Some(got)) if got == id && fds.len() == 1 => {
                    let pid = cur.u32().unwrap_or(0) as libc::pid_t;
                    let pidfd = PidFd::adopt(fds.remove(0), pid);
                    return Ok(Started {
                        id,
                        pidfd,
                        task_tx,
                        result_rx,
                        progress,
                    });
                }
                (Some(OP_FAILED), Some(got)) if got == id => {
                    let errno = cur.u32().unwrap_or(0) as i32;
                    return Err(io::Error::from_raw_os_error(errno));
                }
                _ => return Err(self.give_up()),
            }
        }
    }

    /// Waits for the server's report of worker `id`'s exit (its `pidfd` is readable).
    fn await_exit(&mut self, id: WorkerId, pidfd: &PidFd) -> ExitStatus {
        let mut buf = [0u8; 64];
        loop {
            if let Some(status) = self.exits.remove(&id) {
                return status;
            }
            if self.gone {
                return self.orphan_status(pidfd);
            }
            let got = self.recv(&mut buf);
            let Ok((n, _)) = got else {
                self.give_up();
                return self.orphan_status(pidfd);
            };
            let mut cur = Reader(&buf[..n]);
            match (cur.u8(), cur.u64()) {
                (Some(OP_EXITED), Some(other)) => {
                    let status = cur.status().unwrap_or_else(unknown_status);
                    self.exits.insert(other, status);
                }
                _ => {
                    self.give_up();
                }
            }
        }
    }
}

impl Drop for Client {
    /// Shuts the server down: end of file on its socket makes it kill and reap its workers and
    /// exit; one that does not within [`SERVER_TIMEOUT`] (stopped), or that already failed us
    /// (`gone`: its bound was spent once), is killed at once. Then reaps it.
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let _ = sys::set_nonblocking(self.control.as_fd());
        // SAFETY: shutdown on our own socket; it reads no memory.
        unsafe { libc::shutdown(self.control.as_raw_fd(), libc::SHUT_RDWR) };
        let exited = !self.gone
            && server_sys::wait_readable(&[self.server.as_raw_fd()], Some(SERVER_TIMEOUT))
                .is_ok_and(|ready| ready[0]);
        if !exited {
            let _ = self.server.kill();
        }
        let _ = self.server.wait();
    }
}

/// A little-endian reader over a message (`None` once it runs out).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    /// One byte.
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    /// A `u32`.
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    /// A `u64`.
    fn u64(&mut self) -> Option<u64> {
        self.bytes(8)?.try_into().ok().map(u64::from_le_bytes)
    }
    /// An exit status: kind (0 exited, 1 signal, 2 unknown) and code.
    fn status(&mut self) -> Option<ExitStatus> {
        match (self.u8()?, self.u32()? as i32) {
            (0, code) => Some(ExitStatus::Exited(code)),
            (1, sig) => Some(ExitStatus::Signal(sig)),
            _ => Some(ExitStatus::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: u64) -> u64 {
        x * x
    }

    /// libtest's `main` never runs in the server: this binary is a libtest harness, and a
    /// `ForkServer` pool works from it. (This process itself never forks here: the server is
    /// spawned and forks the workers, so the test is safe beside the harness's threads.)
    #[test]
    fn works_from_a_libtest_binary() {
        let pool = crate::Pool::builder()
            .workers(2)
            .start_method(crate::StartMethod::ForkServer)
            .build()
            .unwrap();
        let squares: Vec<_> = pool.map(square, 0..100);
        assert_eq!(squares[9], Ok(81));
        pool.join();
    }

    /// Pool code outside the main executable (as in a `cdylib`: here, a libc address stands for
    /// the constructor's) makes building fail at once with the typed error, before anything
    /// is spawned.
    #[test]
    fn entry_outside_executable_is_unsupported() {
        let err = check_entry(libc::abort as *const () as usize, None).unwrap_err();
        assert!(err.to_string().contains("main executable"), "{err}");
        assert!(check_entry(SERVER_ENTRY as usize, None).is_ok());
    }

    /// The marker parses only in its exact form.
    #[test]
    fn marker_parses() {
        assert_eq!(server::parse_marker(b"3:1234"), Some((3, 1234)));
        assert_eq!(server::parse_marker(b"3"), None);
        assert_eq!(server::parse_marker(b"x:1"), None);
    }

    /// A library's code cannot host the server's entry: this check is what refuses a
    /// `ForkServer` pool built from a `cdylib`, and an initializer outside the executable.
    #[test]
    fn initializer_outside_executable_is_refused() {
        let err = check_supported(Some(
            // SAFETY: only the address is used; the function is never called.
            unsafe { std::mem::transmute::<usize, fn()>(libc::abort as *const () as usize) },
        ))
        .unwrap_err();
        assert!(err.to_string().contains("initializer"), "{err}");
        assert!(check_supported(None).is_ok());
    }
}
