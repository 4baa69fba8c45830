//! The fork server process: entered from the `.init_array` constructor when the marker is
//! set, it checks who started it, greets its pool, then forks workers on request and reports
//! each one's exit, until the pool goes away. (The protocol and the pool's side are in
//! `forkserver.rs`.)
//!
//! Invariant: the server is single-threaded and never returns into the executable's `main`;
//! every way it ends is `_exit`, after killing and reaping its workers when it can.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::{
    EXIT_BAD_MARKER, EXIT_ORPHANED, EXIT_SETUP_FAILED, MAGIC, MARKER, OP_EXITED, OP_FAILED,
    OP_HELLO, OP_REFUSED, OP_SPAWN, Reader, SERVER_FD, WorkerId, marker_name, unknown_status,
};
use crate::error::ExitStatus;
use crate::image::{self, CodeRef};
use crate::server_sys::{self, recv_with_fds, send_with_fds};
use crate::sys::{self, PidFd, SharedCounters};
use crate::task;
use crate::worker::{self, Spec, StartMethod};

/// The `.init_array` constructor: in a process started with the marker, becomes the server
/// and never returns; anywhere else returns at once.
pub(super) extern "C" fn server_entry(
    _argc: libc::c_int,
    _argv: *const *const libc::c_char,
    _envp: *const *const libc::c_char,
) {
    // SAFETY: before `main` the process has one thread, so nothing races the environment;
    // getenv's result is a NUL-terminated string, copied before unsetenv frees it.
    let marker = unsafe {
        let value = libc::getenv(MARKER.as_ptr());
        if value.is_null() {
            return;
        }
        let marker = CStr::from_ptr(value).to_bytes().to_vec();
        // Not inherited by anything the workers start.
        libc::unsetenv(MARKER.as_ptr());
        marker
    };
    serve_pool(&marker)
}

/// Parses the marker's `"<fd>:<pid>"`.
pub(super) fn parse_marker(marker: &[u8]) -> Option<(RawFd, libc::pid_t)> {
    let text = std::str::from_utf8(marker).ok()?;
    let (fd, pid) = text.split_once(':')?;
    Some((fd.parse().ok()?, pid.parse().ok()?))
}

/// Writes a line to stderr with a raw `write` (std's stderr is not set up before `main`).
fn complain(message: &str) {
    let _ = sys::write(
        // SAFETY: descriptor 2 is borrowed for one write; if it is closed the write fails.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(2) },
        message.as_bytes(),
    );
}

/// The server process, from the constructor to `_exit`.
fn serve_pool(marker: &[u8]) -> ! {
    // The program may have closed its standard descriptors: descriptors the pool sends would
    // land there, and a task's `println!` would write into its own result pipe. Held for the
    // server's life (and its workers'), as `/dev/null`.
    std::mem::forget(sys::fill_closed_stdio());
    let Some((fd, parent)) = parse_marker(marker) else {
        complain(concat!(
            "proc-pool: ",
            marker_name!(),
            " is set but malformed; exiting\n"
        ));
        sys::exit_now(EXIT_BAD_MARKER);
    };
    if fd != SERVER_FD || !server_sys::is_seqpacket(fd) {
        complain(concat!(
            "proc-pool: ",
            marker_name!(),
            " is set but no pool started this process; exiting\n"
        ));
        sys::exit_now(EXIT_BAD_MARKER);
    }
    sys::set_thread_name(c"proc-pool-fsrv");
    if sys::kill_me_when_parent_thread_exits().is_err() {
        sys::exit_now(EXIT_SETUP_FAILED);
    }
    // The pool may have died between the spawn and the prctl: then no signal will come.
    if sys::getppid() != parent {
        complain(concat!(
            "proc-pool: ",
            marker_name!(),
            " is set but names a pool process that is not this process's parent (gone, or \
             the marker is stray); exiting\n"
        ));
        sys::exit_now(EXIT_ORPHANED);
    }
    // As Rust's runtime would have set them in `main`: a worker's write to a closed pipe is an
    // error, not a death; children are reaped by us, not by the kernel.
    server_sys::set_signal_ignored(libc::SIGPIPE, true);
    server_sys::set_signal_ignored(libc::SIGCHLD, false);
    // A terminal's Ctrl-C reaches the whole process group: the pool's process decides what it
    // means (the server dies with it if it dies); the server itself must not break the pool
    // over it (Python's fork server ignores it too). Workers get the pool's disposition back
    // (see `Config`). Every other disposition is the pool's as `exec` leaves it: a signal
    // the pool ignores (`nohup`) stays ignored here and in the workers.
    server_sys::set_signal_ignored(libc::SIGINT, true);
    if sys::close_all_from_3_except(&[SERVER_FD]).is_err() {
        sys::exit_now(EXIT_SETUP_FAILED);
    }
    image::enter_fork_server();
    worker::install_panic_hook();
    // SAFETY: descriptor 3 is the control socket (checked above), owned by nothing else here.
    let control = unsafe { OwnedFd::from_raw_fd(SERVER_FD) };
    // Forking is only safe here because no other thread can hold a lock: the executable's own
    // constructors have not run (this entry runs first), but a shared library's may have
    // started a thread. Then refuse (the pool's build fails with a typed error).
    if threads() > 1 {
        let mut refusal = vec![OP_REFUSED];
        refusal.extend_from_slice(&MAGIC.to_le_bytes());
        let _ = send_with_fds(control.as_fd(), &refusal, &[]);
        sys::exit_now(EXIT_SETUP_FAILED);
    }
    let Some(config) = greet(&control) else {
        sys::exit_now(EXIT_SETUP_FAILED);
    };
    Server {
        control,
        workers: Vec::new(),
        sigint_ignored: config.sigint_ignored,
        spec: Spec {
            method: StartMethod::ForkServer,
            initializer: config.initializer,
            signal_mask: None,
            // The pool sizes the pipes it passes (see `Worker::assemble`); the server never does.
            pipe_sizes: worker::PipeSizes {
                results: 0,
                tasks: 0,
                budget: 0,
            },
            #[cfg(feature = "trace")]
            traced: config.traced,
        },
    }
    .run()
}

/// How many threads this process has (1 if `/proc` cannot tell: then nothing can be checked,
/// and the server runs as it would have).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |dir| dir.count())
}

/// What the pool tells its server in the handshake (besides its token).
struct Config {
    /// The initializer, rebased into this process.
    initializer: Option<fn()>,
    /// Whether the pool's process ignores `SIGINT` (then its workers do too).
    sigint_ignored: bool,
    /// Whether the pool traces (its workers get a log and append it to their answers).
    #[cfg(feature = "trace")]
    traced: bool,
}

/// Sends the hello and takes the pool's configuration: its token (adopted here), the
/// initializer, rebased, and the `SIGINT` disposition. `None` if the pool is gone or talks
/// nonsense.
fn greet(control: &OwnedFd) -> Option<Config> {
    let (dev, ino) = server_sys::exe_identity();
    let id = image::build_id();
    let mut hello = vec![OP_HELLO];
    hello.extend_from_slice(&MAGIC.to_le_bytes());
    hello.extend_from_slice(&dev.to_le_bytes());
    hello.extend_from_slice(&ino.to_le_bytes());
    hello.extend_from_slice(&u32::try_from(id.len()).ok()?.to_le_bytes());
    hello.extend_from_slice(id);
    send_with_fds(control.as_fd(), &hello, &[]).ok()?;
    let mut buf = [0u8; 64];
    let (n, _) = recv_with_fds(control.as_fd(), &mut buf).ok()?;
    let mut cur = Reader(&buf[..n]);
    if cur.u8()? != OP_HELLO {
        return None;
    }
    task::adopt_token(cur.u64()?);
    let (tag, offset, sigint_ignored) = (cur.u8()?, cur.u64()?, cur.u8()?);
    #[cfg(feature = "trace")]
    let traced = cur.u8()? != 0;
    let initializer = if tag == 0 {
        None
    } else {
        let addr = image::resolve(CodeRef::Main(offset))?;
        // SAFETY: the pool sent the offset of a `fn()` in the main executable, and the
        // handshake checked that this process runs the same build; `resolve` checked it lies
        // in its code.
        Some(unsafe { std::mem::transmute::<usize, fn()>(addr) })
    };
    Some(Config {
        initializer,
        sigint_ignored: sigint_ignored != 0,
        #[cfg(feature = "trace")]
        traced,
    })
}

/// The server's state.
struct Server {
    /// The control socket to the pool.
    control: OwnedFd,
    /// Live workers: protocol id and the server's own pidfd on each.
    workers: Vec<(WorkerId, PidFd)>,
    /// What every worker is started with.
    spec: Spec,
    /// Whether workers ignore `SIGINT` (as the pool's process does) or take its default.
    sigint_ignored: bool,
}

impl Server {
    /// Serves requests and reaps workers until the pool goes away.
    fn run(mut self) -> ! {
        let mut buf = [0u8; 64];
        loop {
            let mut fds = vec![self.control.as_raw_fd()];
            fds.extend(self.workers.iter().map(|(_, p)| p.as_raw_fd()));
            let Ok(ready) = server_sys::wait_readable(&fds, None) else {
                self.shut_down();
            };
            for (i, _) in ready.iter().enumerate().skip(1).filter(|(_, r)| **r).rev() {
                let (id, pidfd) = self.workers.swap_remove(i - 1);
                let status = pidfd.wait().unwrap_or_else(|_| unknown_status());
                let mut report = vec![OP_EXITED];
                report.extend_from_slice(&id.to_le_bytes());
                let (kind, code) = match status {
                    ExitStatus::Exited(code) => (0u8, code),
                    ExitStatus::Signal(sig) => (1u8, sig),
                    ExitStatus::Unknown => (2u8, 0),
                };
                report.push(kind);
                report.extend_from_slice(&(code as u32).to_le_bytes());
                if send_with_fds(self.control.as_fd(), &report, &[]).is_err() {
                    self.shut_down();
                }
            }
            if ready[0] {
                match recv_with_fds(self.control.as_fd(), &mut buf) {
                    Ok((0, _)) | Err(_) => self.shut_down(),
                    Ok((n, fds)) => {
                        let mut cur = Reader(&buf[..n]);
                        match (cur.u8(), cur.u64(), <[OwnedFd; 3]>::try_from(fds)) {
                            (Some(OP_SPAWN), Some(id), Ok(fds)) => self.spawn(id, fds),
                            _ => self.shut_down(),
                        }
                    }
                }
            }
        }
    }

    /// Forks worker `id` with its pipe ends and counters file, and reports it to the pool.
    fn spawn(&mut self, id: WorkerId, [task_rx, result_tx, counters]: [OwnedFd; 3]) {
        let server = sys::getpid();
        let mapped = SharedCounters::map_file(counters.as_fd());
        // Before the fork, as under `Fork`; here, in a single-threaded process, an allocation
        // after it would be safe too, but one rule for both start methods is simpler to check.
        #[cfg(feature = "trace")]
        let mut log = self.spec.traced.then(crate::trace::WorkerLog::before_fork);
        let reply = match mapped {
            Err(e) => Err(e),
            // SAFETY: this process is single-threaded (the server never starts a thread), so
            // no lock can be held at the fork; the child leaves only through `worker_main`,
            // which never returns.
            Ok(progress) => match unsafe { sys::fork() } {
                Err(e) => Err(e),
                Ok(sys::Forked::Child) => {
                    server_sys::set_signal_ignored(libc::SIGINT, self.sigint_ignored);
                    // The page stays mapped for the worker's life (it leaves with `_exit`).
                    let progress: &'static SharedCounters = Box::leak(Box::new(progress));
                    worker::worker_main(
                        task_rx.as_raw_fd(),
                        result_tx.as_raw_fd(),
                        progress.counters(),
                        server,
                        self.spec,
                        #[cfg(feature = "trace")]
                        log.take(),
                    )
                }
                Ok(sys::Forked::Parent(pid)) => match PidFd::open(pid) {
                    Ok(pidfd) => Ok((pid, pidfd)),
                    Err(e) => {
                        sys::kill_and_reap_unwatched_child(pid);
                        Err(e)
                    }
                },
            },
        };
        drop((task_rx, result_tx, counters));
        let mut message = Vec::with_capacity(16);
        let sent = match reply {
            Ok((pid, pidfd)) => {
                message.push(OP_SPAWN);
                message.extend_from_slice(&id.to_le_bytes());
                message.extend_from_slice(&(pid as u32).to_le_bytes());
                let sent = send_with_fds(self.control.as_fd(), &message, &[pidfd.as_raw_fd()]);
                self.workers.push((id, pidfd));
                sent
            }
            Err(e) => {
                message.push(OP_FAILED);
                message.extend_from_slice(&id.to_le_bytes());
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                message.extend_from_slice(&(errno as u32).to_le_bytes());
                send_with_fds(self.control.as_fd(), &message, &[])
            }
        };
        if sent.is_err() {
            self.shut_down();
        }
    }

    /// The pool is gone: kill and reap every worker, then exit.
    fn shut_down(&mut self) -> ! {
        for (_, pidfd) in &self.workers {
            let _ = pidfd.kill();
        }
        for (_, pidfd) in &self.workers {
            let _ = pidfd.wait();
        }
        sys::exit_now(0)
    }
}
