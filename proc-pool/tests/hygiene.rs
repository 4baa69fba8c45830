//! Process hygiene: no descriptor or child left behind across many pool lifetimes, every
//! descriptor the pool owns is close-on-exec, and workers die with their parent. Counts
//! descriptors and children and SIGKILLs a re-executed copy of itself, so it runs alone
//! (`harness = false`).

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use proc_pool::{ExitStatus, Pool, StartMethod, TaskError};

/// How many pool lifetimes the leak test runs.
const CYCLES: usize = 1_000;

fn square(x: u64) -> u64 {
    x * x
}

/// 1,000 create/use/drop cycles (ended by drop, `join` or `terminate` in turn) leave this
/// process with the descriptors, children and memory mappings it had before.
fn no_leaks_across_cycles() {
    // One cycle first, so that one-time allocations (thread stacks, malloc arenas) exist.
    util::pool(2).join();
    let fds_before = util::open_fds();
    let maps_before = mappings();
    assert!(util::children().is_empty());
    for i in 0..CYCLES {
        let pool = util::pool(2);
        assert_eq!(pool.apply(square, i as u64), Ok(i as u64 * i as u64));
        match i % 3 {
            0 => drop(pool),
            1 => pool.join(),
            _ => pool.terminate(),
        }
    }
    assert_eq!(util::open_fds(), fds_before, "descriptors leaked");
    assert!(
        util::children().is_empty(),
        "children left: {:?}",
        util::children()
    );
    // Each worker's shared page is unmapped with it (allow a few for malloc's own arenas).
    let maps_after = mappings();
    assert!(
        maps_after <= maps_before + 8,
        "mappings grew from {maps_before} to {maps_after}"
    );
}

/// How many memory mappings this process has.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Every descriptor the pool opened in this process is close-on-exec.
fn descriptors_are_cloexec() {
    let before: Vec<String> = fd_names();
    let pool = util::pool(2);
    for fd in fd_names().into_iter().filter(|fd| !before.contains(fd)) {
        let Ok(fd) = fd.parse::<i32>() else { continue };
        // SAFETY: F_GETFD reads flags of a descriptor number; a closed one just fails.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags != -1 {
            assert_eq!(
                flags & libc::FD_CLOEXEC,
                libc::FD_CLOEXEC,
                "fd {fd} is not close-on-exec"
            );
        }
    }
    drop(pool);
}

fn fd_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Role of the re-executed intermediate parent: owns a pool, prints its workers' pids, then
/// waits to be killed.
fn intermediate_parent() {
    let pool = util::pool(2);
    assert_eq!(pool.apply(square, 3), Ok(9));
    let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
    println!("{}", pids.join(" "));
    loop {
        std::thread::park();
    }
}

/// Workers die with their parent: an intermediate parent owning a pool is SIGKILLed (its
/// manager thread dies with it, so the parent-death signal fires), and its workers disappear.
fn workers_die_with_parent() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(util::ROLE_VAR, "intermediate_parent")
        .env(util::METHOD_VAR, util::method_name())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let workers: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "intermediate printed {line:?}");
    assert!(workers.iter().all(|&pid| util::alive(pid)));
    child.kill().unwrap();
    child.wait().unwrap();
    for pid in workers {
        util::eventually("an orphaned worker to die", || !util::alive(pid));
    }
}

fn exits(_: u64) -> u64 {
    // SAFETY: `_exit` has no preconditions; a task that ends its worker.
    unsafe { libc::_exit(3) }
}

fn init_exits() {
    // SAFETY: `_exit` has no preconditions; an initializer that gives up this way.
    unsafe { libc::_exit(1) }
}

fn aborts(_: u64) -> u64 {
    std::process::abort()
}

/// Role: with `SIGCHLD` ignored (so the kernel reaps workers itself and `waitid` says
/// `ECHILD`), crashed tasks still get their answer (`WorkerDied`, status unknown), the pool
/// replaces the workers, and `join` returns.
fn sigchld_ignored_role() {
    // SAFETY: setting a signal's disposition to SIG_IGN; no handler is involved.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let pool = util::pool_of(util::method(), 2)
        .max_tasks_per_child(50)
        .build()
        .unwrap();
    assert!(
        pool.map_chunked(square, 0..200, 1)
            .iter()
            .all(Result::is_ok)
    );
    for crash in [exits as fn(u64) -> u64, aborts] {
        let died = pool.apply(crash, 0);
        // Under `Fork` the kernel reaped the worker: its status is gone. The fork server
        // (which restores SIGCHLD's default for itself) reaps its workers and knows it.
        let Err(TaskError::WorkerDied { status, .. }) = died else {
            panic!("{died:?}");
        };
        if util::method() == StartMethod::Fork {
            assert_eq!(status, ExitStatus::Unknown);
        }
    }
    assert!(
        pool.map_chunked(square, 0..200, 1)
            .iter()
            .all(Result::is_ok)
    );
    pool.join();
    // Workers that die at once may be gone (reaped by the kernel) before the pool opens their
    // pidfd: a typed error either way, at build or from the calls.
    if let Ok(pool) = util::pool_of(util::method(), 2)
        .initializer(init_exits)
        .build()
    {
        assert_eq!(
            pool.map_chunked(square, 0..4, 1),
            vec![Err(TaskError::PoolBroken); 4]
        );
        pool.join();
    }
    assert!(util::children().is_empty());
    println!("sigchld ok");
}

/// `SIGCHLD` at `SIG_IGN` neither hangs `join` nor loses a crashed task's answer.
fn sigchld_ignored() {
    util::each_method(|method| {
        let out = util::run_role("sigchld_ignored", method);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "sigchld ok\n");
    });
}

/// The unprivileged user the pipe quota test runs as (`nobody`).
const NOBODY: u32 = 65_534;

/// In a re-executed role (single-threaded so far): as root, drops to [`NOBODY`] (root is exempt
/// from the limits under test); otherwise stays the unprivileged user it is. Returns the uid.
fn become_unprivileged() -> u32 {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // SAFETY: as above.
        return unsafe { libc::geteuid() };
    }
    // SAFETY: dropping privileges in a single-threaded process; results checked.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setgid(NOBODY), 0);
        assert_eq!(libc::setuid(NOBODY), 0);
    }
    NOBODY
}

/// How many workers the pipe quota test starts: the 64, whose grown pipes took 80 MiB
/// of a 64 MiB quota.
const MANY_WORKERS: usize = 64;

/// Role: as an unprivileged user, a pool of many workers leaves new pipes of the same user
/// their normal 64 KiB buffer.
fn pipe_quota_role() {
    if std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft").is_ok_and(|q| q.trim() == "0") {
        println!("no pipe quota here");
        return;
    }
    become_unprivileged();
    let pool = util::pool_of(util::method(), MANY_WORKERS).build().unwrap();
    assert_eq!(pool.map(square, 0..1_000).len(), 1_000);
    assert_eq!(
        fresh_pipe_size(),
        65_536,
        "a new pipe of the same user is starved"
    );
    pool.join();
    drop(pool);
    // Many pools of a few workers each, each of which alone would fit its pipes in the quota.
    let pools: Vec<_> = (0..MANY_POOLS)
        .map(|_| util::pool_of(util::method(), 8).build().unwrap())
        .collect();
    for pool in &pools {
        assert_eq!(pool.map(square, 0..100).len(), 100);
    }
    assert_eq!(
        fresh_pipe_size(),
        65_536,
        "{MANY_POOLS} pools starve a new pipe of the same user"
    );
    pools.iter().for_each(Pool::join);
    println!("pipes ok");
}

/// How many pools of 8 workers `pipe_quota_role` builds at once: with 1/8 of the default
/// quota each, they would take more than all of it.
const MANY_POOLS: usize = 16;

/// The buffer size of a new pipe of this process.
fn fresh_pipe_size() -> i32 {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints; F_GETPIPE_SZ reads no memory.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let size = libc::fcntl(fds[0], libc::F_GETPIPE_SZ);
        libc::close(fds[0]);
        libc::close(fds[1]);
        size
    }
}

/// Neither a pool of 64 workers nor 16 pools of 8 push their user past `pipe-user-pages-soft`
/// (root is exempt from the quota, so the role drops to `nobody` first).
fn pipes_within_user_quota() {
    util::each_method(|method| {
        let out = util::run_role("pipe_quota", method);
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(
            out == "pipes ok\n" || out == "no pipe quota here\n",
            "{out}"
        );
    });
}

/// Leaves a child of the worker behind (it waits to be killed), so that one more process of
/// this user exists; returns its pid.
fn leaves_a_grandchild(_: u64) -> u32 {
    // SAFETY: the child only calls async-signal-safe close and pause.
    match unsafe { libc::fork() } {
        0 => loop {
            // SAFETY: closing every descriptor (the test's stdout pipe among them, whose end
            // of file the test waits for) and pausing have no preconditions.
            unsafe {
                (0..1024).for_each(|fd| {
                    libc::close(fd);
                });
                libc::pause();
            }
        },
        pid => pid as u32,
    }
}

/// Role: as an unprivileged user at its process limit, a worker that cannot be replaced
/// (`fork` fails with `EAGAIN`) breaks the pool: the crashed task gets `WorkerDied`, the
/// rest `PoolBroken`, and nothing hangs. Building a pool at the limit is a `BuildError`.
fn fork_refused_role() {
    let uid = become_unprivileged();
    let pool = util::pool_of(util::method(), 1).build().unwrap();
    let grandchild = pool.apply(leaves_a_grandchild, 0).unwrap();
    // Killed however the role ends.
    struct KillOnDrop(i32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            // SAFETY: a process of this user that waits to be killed.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let _grandchild = KillOnDrop(grandchild as i32);
    // This user's processes and threads now; the limit is one less, so that once the worker
    // has died (and been reaped) no fork or thread can be started.
    let tasks = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/task")).ok())
        .flat_map(|tasks| tasks.flatten())
        .filter(|task| {
            std::fs::metadata(task.path())
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == uid)
        })
        .count();
    let limit = libc::rlimit {
        rlim_cur: (tasks - 1) as libc::rlim_t,
        rlim_max: (tasks - 1) as libc::rlim_t,
    };
    // SAFETY: `limit` is a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) }, 0);
    assert!(util::pool_of(util::method(), 1).build().is_err());
    if util::method() == StartMethod::ForkServer {
        // The server forks the replacements, under the limit it was started with.
        pool.join();
        println!("fork refused ok");
        return;
    }
    let died = pool.apply(exits, 0);
    assert!(
        matches!(died, Err(TaskError::WorkerDied { .. })),
        "{died:?}"
    );
    assert_eq!(pool.apply(square, 2), Err(TaskError::PoolBroken));
    pool.join();
    println!("fork refused ok");
}

/// `fork` failing with `EAGAIN` (a process limit) is a typed error, at build time and when a
/// worker must be replaced.
fn fork_refused_is_an_error() {
    util::each_method(|method| {
        let out = util::run_role("fork_refused", method);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "fork refused ok\n");
    });
}

fn prints(_: u64) -> u64 {
    print!("task-line\ntask-partial");
    0
}

/// Role: prints a partial line, runs a task that prints a line and a partial line, joins.
fn stdout_role() {
    print!("parent-partial");
    let pool = util::pool_of(util::method(), 1).build().unwrap();
    assert_eq!(pool.apply(prints, 0), Ok(0));
    pool.join();
    println!();
    // Replacements (one per task) forked after another partial line, by silent tasks.
    let pool = util::pool_of(util::method(), 1)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    print!("late-partial");
    for i in 0..5 {
        assert_eq!(pool.apply(silent, i), Ok(i));
    }
    pool.join();
    // The last worker's retirement may come after `join` asked for no more workers.
    assert!(pool.stats().replaced_retired >= 4);
    println!();
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
}

/// A worker, first or replacement, does not print the parent's unflushed output again, and a
/// task's partial line is not lost when its worker leaves.
fn stdout_not_repeated_nor_lost() {
    util::each_method(|method| {
        let out = util::run_role("stdout", method);
        let out = String::from_utf8_lossy(&out.stdout);
        for piece in [
            "parent-partial",
            "task-line",
            "task-partial",
            "late-partial",
        ] {
            assert_eq!(out.matches(piece).count(), 1, "{piece} in {out:?}");
        }
    });
}

fn silent(x: u64) -> u64 {
    x
}

/// A thread that holds std's stdout lock until stopped (a logger holding `stdout().lock()`).
struct StdoutHolder {
    /// Tells it to let go.
    release: std::sync::mpsc::Sender<()>,
    /// The thread.
    thread: std::thread::JoinHandle<()>,
}

impl StdoutHolder {
    /// Starts the thread and returns once it holds the lock.
    fn start() -> StdoutHolder {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let _lock = std::io::stdout().lock();
            holding.send(()).unwrap();
            let _ = released.recv();
        });
        held.recv().unwrap();
        StdoutHolder { release, thread }
    }

    /// Lets go of the lock and waits for the thread.
    fn stop(self) {
        self.release.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

/// A thread that keeps std's stdout lock (a logger holding `stdout().lock()`) makes neither
/// `build` wait for ever (its flush is bounded) nor `join` (a leaving worker's flush of a lock
/// held at its fork is bounded by an alarm, and the worker still counts as retired).
fn stdout_lock_held_does_not_hang() {
    util::each_method(|method| {
        let holder = StdoutHolder::start();
        let pool = util::pool_of(method, 2).build().unwrap();
        assert_eq!(pool.map(silent, 0..100).len(), 100);
        pool.join();
        assert_eq!(pool.stats().replaced_crashed, 0);
        assert!(util::children().is_empty());
        holder.stop();
    });
}

/// The threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// While a thread keeps std's stdout lock, building pools leaves at most one flush thread
/// behind (waiting for the lock), not one per build.
fn one_flush_thread_at_most() {
    util::each_method(|method| {
        let holder = StdoutHolder::start();
        let before = threads();
        for _ in 0..20 {
            let pool = util::pool_of(method, 1).build().unwrap();
            pool.join();
        }
        // A joined thread may still be listed for a moment while the kernel finishes its exit:
        // wait (bounded) for the count to settle.
        let mut after = threads();
        for _ in 0..2_000 {
            if after <= before + 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
            after = threads();
        }
        assert!(
            after <= before + 1,
            "{before} threads before, {after} after"
        );
        holder.stop();
    });
}

/// A task that leaves a thread of its own holding std's stdout lock for ever (as a logger
/// blocked on a full stdout pipe would).
fn leaves_stdout_locked(x: u64) -> u64 {
    let (holding, held) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _lock = std::io::stdout().lock();
        holding.send(()).unwrap();
        loop {
            std::thread::park();
        }
    });
    held.recv().unwrap();
    x
}

/// A thread a task started that keeps the worker's stdout lock makes neither `join` hang nor
/// a retiring worker keep its slot: the leaving worker's flush is bounded under both methods
/// (it was unbounded under the fork server), and the next task runs.
fn task_thread_holding_stdout_does_not_hang() {
    util::each_method(|method| {
        let pool = util::pool_of(method, 1).build().unwrap();
        assert_eq!(pool.apply(leaves_stdout_locked, 1), Ok(1));
        pool.join();
        assert!(util::children().is_empty(), "{:?}", util::children());

        let pool = util::pool_of(method, 1)
            .max_tasks_per_child(1)
            .task_timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        assert_eq!(pool.apply(leaves_stdout_locked, 2), Ok(2));
        assert_eq!(pool.apply(silent, 3), Ok(3));
        pool.join();
        assert_eq!(pool.stats().replaced_crashed, 0);
    });
}

/// Which of `SIGHUP` (1) and `SIGINT` (2) the worker ignores.
fn ignored_in_worker(_: u64) -> u64 {
    let ignored = |sig| {
        // SAFETY: sigaction with a null new action only reads the disposition into `old`.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            old.sa_sigaction == libc::SIG_IGN
        }
    };
    u64::from(ignored(libc::SIGHUP)) | u64::from(ignored(libc::SIGINT)) << 1
}

/// Signals the program ignores (`nohup` ignores `SIGHUP`; a shell ignores `SIGINT` in a
/// background job) stay ignored in every process of the pool under both methods, as in
/// Python: a hangup sent to each of them breaks nothing. (The fork server reset every
/// disposition to default.)
fn ignored_signals_stay_ignored() {
    util::each_method(|method| {
        // SAFETY: installing SIG_IGN runs no code of ours in a signal context.
        let previous = unsafe {
            (
                libc::signal(libc::SIGHUP, libc::SIG_IGN),
                libc::signal(libc::SIGINT, libc::SIG_IGN),
            )
        };
        let pool = util::pool_of(method, 1).build().unwrap();
        assert_eq!(pool.apply(ignored_in_worker, 0), Ok(3));
        for pid in util::children().into_iter().chain(pool.worker_pids()) {
            // SAFETY: kill with a pid and a signal number; no memory is passed.
            unsafe { libc::kill(pid as i32, libc::SIGHUP) };
        }
        assert_eq!(pool.apply(ignored_in_worker, 0), Ok(3));
        pool.join();
        assert_eq!(pool.stats().replaced_crashed, 0);
        // SAFETY: restores the dispositions saved above.
        unsafe {
            libc::signal(libc::SIGHUP, previous.0);
            libc::signal(libc::SIGINT, previous.1);
        }
    });
}

/// Whether `SIGUSR1` is blocked in the worker's thread.
fn sigusr1_blocked(_: u64) -> bool {
    // SAFETY: sigset_t is plain data; pthread_sigmask with a null new set only reads the
    // mask into `now`, and sigismember reads it.
    unsafe {
        let mut now: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
        libc::sigismember(&now, libc::SIGUSR1) == 1
    }
}

/// A signal the building thread blocks stays blocked in the workers under both methods (the
/// fork server was spawned with an empty mask).
fn blocked_signals_stay_blocked() {
    util::each_method(|method| {
        let built = std::thread::spawn(move || {
            // SAFETY: sigset_t is plain data, initialised by sigemptyset; blocking SIGUSR1 in
            // this short-lived thread only.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            }
            util::pool_of(method, 1).build().unwrap()
        });
        let pool = built.join().unwrap();
        assert_eq!(pool.apply(sigusr1_blocked, 0), Ok(true));
        pool.join();
    });
}

/// The standard descriptors (0, 1, 2) that are pipes, sockets, event or memory files: the
/// pool's, never a task's stdio (a bit each).
fn pool_owned_stdio() -> u64 {
    (0..3)
        .filter(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|target| {
                let target = target.to_string_lossy().into_owned();
                ["pipe:", "socket:", "anon_inode:", "/memfd:"]
                    .iter()
                    .any(|kind| target.starts_with(kind))
            })
        })
        .fold(0, |bits, fd| bits | 1 << fd)
}

/// Prints to stdout and stderr, then reports [`pool_owned_stdio`] in its worker.
fn prints_and_reports_stdio(x: u64) -> u64 {
    println!("task {x} speaking");
    eprintln!("task {x} complaining");
    pool_owned_stdio() * 1000 + x
}

/// Role: closes its standard descriptors (as a daemon may), then runs printing tasks.
fn closed_stdio_role() {
    for fd in 0..3 {
        // SAFETY: closing the standard descriptors, which nothing in this role uses again.
        unsafe { libc::close(fd) };
    }
    let pool = util::pool(2);
    let got: Vec<_> = pool.map(prints_and_reports_stdio, 0..50);
    let want: Vec<_> = (0..50).map(Ok).collect();
    assert_eq!(got, want);
    pool.join();
    // The pool left them closed, and never held them itself.
    assert_eq!(pool_owned_stdio(), 0);
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags, -1, "fd {fd} open");
    }
}

/// With the program's descriptors 0, 1 and 2 closed, the pool's own descriptors stay above
/// them under both methods: a task's `println!` never writes into a pool pipe (the fork
/// server received its workers' pipes onto 0-2, and the answers lost their framing; a forked
/// worker's 0-2 were the manager's epoll, eventfd and a pipe).
fn closed_stdio_stays_out_of_the_pool() {
    util::each_method(|method| {
        util::run_role("closed_stdio", method);
    });
}

fn main() {
    util::run_both(
        &[
            ("no_leaks_across_cycles", no_leaks_across_cycles),
            ("descriptors_are_cloexec", descriptors_are_cloexec),
            ("workers_die_with_parent", workers_die_with_parent),
            ("sigchld_ignored", sigchld_ignored),
            ("pipes_within_user_quota", pipes_within_user_quota),
            ("stdout_not_repeated_nor_lost", stdout_not_repeated_nor_lost),
            ("fork_refused_is_an_error", fork_refused_is_an_error),
            ("one_flush_thread_at_most", one_flush_thread_at_most),
            (
                "stdout_lock_held_does_not_hang",
                stdout_lock_held_does_not_hang,
            ),
            (
                "task_thread_holding_stdout_does_not_hang",
                task_thread_holding_stdout_does_not_hang,
            ),
            ("ignored_signals_stay_ignored", ignored_signals_stay_ignored),
            ("blocked_signals_stay_blocked", blocked_signals_stay_blocked),
            (
                "closed_stdio_stays_out_of_the_pool",
                closed_stdio_stays_out_of_the_pool,
            ),
        ],
        &[
            ("intermediate_parent", intermediate_parent),
            ("sigchld_ignored", sigchld_ignored_role),
            ("pipe_quota", pipe_quota_role),
            ("stdout", stdout_role),
            ("fork_refused", fork_refused_role),
            ("closed_stdio", closed_stdio_role),
        ],
    );
}
