//! The fork server (`StartMethod::ForkServer`) and what each start method accepts: workers
//! come from a server started from a clean image (not from the test's threads), code the
//! workers do not have is refused with a typed error before sending (defect 4, a real
//! `dlopen` after the pool was built), a killed or stopped server breaks the pool instead of
//! hanging, and fork-server workers start with empty stdout buffers and flush at exit
//! (defect 9). Forks, kills and counts children, so it runs alone (`harness = false`).

mod util;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use proc_pool::{ExitStatus, Pool, StartMethod, TaskError};

fn square(x: u64) -> u64 {
    x * x
}

fn worker_pid(_: u64) -> u32 {
    std::process::id()
}

fn parent_pid(_: u64) -> u32 {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() as u32 }
}

/// How many of the worker's arguments are not the fork server's name.
fn user_args(_: u64) -> u64 {
    std::env::args()
        .filter(|a| a != "proc-pool-fork-server")
        .count() as u64
}

/// A global the parent changes after start-up.
static SEEN: AtomicU64 = AtomicU64::new(1);

fn read_global(_: u64) -> u64 {
    SEEN.load(Ordering::Relaxed)
}

fn init_sets_global() {
    SEEN.store(42, Ordering::Relaxed);
}

fn server_pool(n: usize) -> Pool {
    Pool::builder()
        .workers(n)
        .start_method(StartMethod::ForkServer)
        .build()
        .unwrap()
}

/// Workers under the fork server run tasks, are not this process's children (they are the
/// server's, which is this process's only child), see none of its arguments, and do not see a
/// global set after start-up, while a `Fork` pool's workers do.
fn server_workers_run_and_are_the_servers_children() {
    let pool = server_pool(2);
    let squares: Vec<u64> = pool
        .map(square, 0..1_000)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(squares, (0..1_000).map(square).collect::<Vec<_>>());
    let children = util::children();
    assert_eq!(
        children.len(),
        1,
        "only the server is our child: {children:?}"
    );
    let pids = pool.worker_pids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| !children.contains(p)));
    assert_eq!(pool.apply(parent_pid, 0), Ok(children[0]));
    assert!(pids.contains(&pool.apply(worker_pid, 0).unwrap()));
    assert_eq!(
        pool.apply(user_args, 0),
        Ok(0),
        "no argument of this process"
    );

    SEEN.store(7, Ordering::Relaxed);
    // A replacement forked by the server now still has the executable's initial value.
    assert_eq!(pool.apply(read_global, 0), Ok(1));
    let forked = Pool::new(1).unwrap();
    assert_eq!(forked.apply(read_global, 0), Ok(7));
    SEEN.store(1, Ordering::Relaxed);
    pool.join();
    forked.join();
    assert!(util::children().is_empty(), "{:?}", util::children());
}

/// The initializer runs in each fork-server worker (rebased from its offset).
fn server_runs_initializer() {
    let pool = Pool::builder()
        .workers(1)
        .initializer(init_sets_global)
        .start_method(StartMethod::ForkServer)
        .build()
        .unwrap();
    assert_eq!(pool.apply(read_global, 0), Ok(42));
}

/// `dlopen`s libm (which this test binary does not link) and returns its `cos`, typed as a
/// task. It is never called: the pool must refuse it.
fn cos_loaded_now() -> fn(u64) -> u64 {
    // SAFETY: dlopen/dlsym with valid NUL-terminated names; the handle is kept open (leaked)
    // so the address stays mapped in this process.
    let addr = unsafe {
        let handle = libc::dlopen(c"libm.so.6".as_ptr(), libc::RTLD_NOW);
        assert!(!handle.is_null(), "dlopen libm.so.6");
        libc::dlsym(handle, c"cos".as_ptr())
    };
    assert!(!addr.is_null());
    // SAFETY: only the address is used (as a value the pool must refuse); never called here.
    unsafe { std::mem::transmute::<*mut libc::c_void, fn(u64) -> u64>(addr) }
}

/// Defect 4: a function in an object `dlopen`ed after the pool was built is refused with
/// `CodeUnavailable` under both start methods, before sending (the workers stay alive and no
/// task fails with `WorkerDied`); and under the fork server, a function in a library loaded
/// before (libc) is refused too.
fn code_the_workers_lack_is_refused() {
    for method in [StartMethod::Fork, StartMethod::ForkServer] {
        let pool = Pool::builder()
            .workers(2)
            .start_method(method)
            .build()
            .unwrap();
        assert_eq!(pool.apply(square, 3), Ok(9));
        let pids = pool.worker_pids();
        let cos = cos_loaded_now();
        for result in [pool.apply(cos, 1)]
            .into_iter()
            .chain(pool.map(cos, 0..10))
            .chain(pool.imap(cos, 0..3))
        {
            match result {
                Err(TaskError::CodeUnavailable { object }) => {
                    assert!(object.contains("libm"), "{method:?}: {object}")
                }
                other => panic!("{method:?}: expected CodeUnavailable, got {other:?}"),
            }
        }
        assert_eq!(pool.worker_pids(), pids, "{method:?}: no worker died");
        assert_eq!(pool.stats().workers_started, 2);
        assert_eq!(pool.apply(square, 4), Ok(16));
    }
    // SAFETY: only the address is taken; `labs` is never called.
    let libc_fn =
        unsafe { std::mem::transmute::<usize, fn(u64) -> u64>(libc::labs as *const () as usize) };
    let pool = server_pool(1);
    assert!(matches!(
        pool.apply(libc_fn, 1),
        Err(TaskError::CodeUnavailable { .. })
    ));
}

/// The server's pid (this process's only child while one fork-server pool lives).
fn server_of(pool: &Pool) -> u32 {
    assert_eq!(pool.apply(square, 2), Ok(4));
    let children = util::children();
    assert_eq!(children.len(), 1, "{children:?}");
    children[0]
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill with a pid and a signal number; no memory is passed.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// A killed server breaks the pool with a typed error: its workers die with it (parent-death
/// signal), their chunks fail, no replacement can start, later calls get `PoolBroken`, and
/// `join` returns with nothing left behind.
fn killed_server_breaks_pool() {
    let pool = server_pool(2);
    let server = server_of(&pool);
    let workers = pool.worker_pids();
    kill(server, libc::SIGKILL);
    for pid in workers {
        util::eventually("a worker to die with its server", || !util::alive(pid));
    }
    util::eventually("the pool to notice", || {
        pool.apply(square, 1) == Err(TaskError::PoolBroken)
    });
    pool.join();
    assert!(util::children().is_empty(), "{:?}", util::children());
}

/// `SIGINT` (a terminal's Ctrl-C reaches the whole process group) does not kill the server,
/// which would break the pool; a worker it reaches dies as under `Fork` and is replaced.
fn sigint_spares_the_server() {
    let pool = server_pool(1);
    let server = server_of(&pool);
    let worker = pool.worker_pids()[0];
    kill(server, libc::SIGINT);
    kill(worker, libc::SIGINT);
    util::eventually("the worker to die of SIGINT", || !util::alive(worker));
    assert_eq!(pool.apply(square, 8), Ok(64));
    assert!(util::alive(server));
    assert_eq!(util::children(), [server]);
    pool.join();
}

/// A stopped server breaks the pool too, after its bounded wait, instead of hanging: a worker
/// exits (killed here), the pool waits for the server's report of it, gives up, kills the
/// server, and every call then fails with a typed error.
fn stopped_server_breaks_pool() {
    let pool = server_pool(1);
    let server = server_of(&pool);
    let worker = pool.worker_pids()[0];
    kill(server, libc::SIGSTOP);
    kill(worker, libc::SIGKILL);
    let result = pool.apply(square, 5);
    assert!(
        matches!(
            result,
            Err(TaskError::PoolBroken | TaskError::WorkerDied { .. })
        ),
        "{result:?}"
    );
    assert_eq!(pool.apply(square, 5), Err(TaskError::PoolBroken));
    drop(pool);
    assert!(util::children().is_empty(), "{:?}", util::children());
}

fn exits_3(_: u64) -> u64 {
    // SAFETY: `_exit` has no preconditions; the test wants an exit that runs no handlers.
    unsafe { libc::_exit(3) }
}

/// With `SIGCHLD` ignored in the pool's process (inherited across `exec`, so a program cannot
/// always prevent it), a fork-server pool still reports a dead worker's exact status, replaces
/// it, and `join` returns: the server is spawned with default dispositions, so it, not the
/// kernel, reaps the workers.
fn sigchld_ignored_still_reports() {
    // SAFETY: installing SIG_IGN runs no code of ours in a signal context.
    let previous = unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let pool = server_pool(1);
    let died = pool.apply(exits_3, 0);
    assert!(
        matches!(
            died,
            Err(TaskError::WorkerDied {
                status: ExitStatus::Exited(3),
                ..
            })
        ),
        "{died:?}"
    );
    assert_eq!(pool.apply(square, 6), Ok(36));
    pool.join();
    // SAFETY: restores the disposition saved above.
    unsafe { libc::signal(libc::SIGCHLD, previous) };
}

fn prints_partial_line(x: u64) -> u64 {
    print!("[task {x} partial]");
    x
}

/// Role: leaves "[parent]" unflushed in its stdout buffer, then runs two tasks that print a
/// partial line each under the start method named by its argument, and joins.
fn stdout_role() {
    let method = match std::env::var("PROC_POOL_TEST_METHOD").as_deref() {
        Ok("fork") => StartMethod::Fork,
        _ => StartMethod::ForkServer,
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    std::io::Write::write_all(&mut lock, b"[parent]").unwrap();
    drop(lock);
    let pool = Pool::builder()
        .workers(1)
        .start_method(method)
        .build()
        .unwrap();
    assert_eq!(pool.apply(prints_partial_line, 1), Ok(1));
    assert_eq!(pool.apply(prints_partial_line, 2), Ok(2));
    pool.join();
}

/// Defect 9 under the fork server: the parent's unflushed stdout is printed once (workers
/// start with empty buffers), and a task's partial line is flushed when its worker exits.
fn server_workers_flush_stdout_once() {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(util::ROLE_VAR, "stdout_role")
        .env("PROC_POOL_TEST_METHOD", "forkserver")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("[parent]").count(), 1, "{text:?}");
    assert_eq!(text.matches("[task 1 partial]").count(), 1, "{text:?}");
    assert_eq!(text.matches("[task 2 partial]").count(), 1, "{text:?}");
}

/// Role: a process started with the fork-server marker by someone other than a pool exits
/// at once; `main` (this role) must never run (unless the marker is another version's).
fn must_not_run() {
    println!("main ran");
}

/// This crate version's marker (another version's copy of the crate has its own).
const MARKER: &str = concat!("PROC_POOL_FORK_SERVER_", env!("CARGO_PKG_VERSION"));

/// Runs the `must_not_run` role with `MARKER=marker` set in its environment (and, if given,
/// `fd3` as its descriptor 3).
fn with_marker(name: &str, marker: &str, fd3: Option<i32>) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env(util::ROLE_VAR, "must_not_run")
        .env(name, marker);
    if let Some(fd) = fd3 {
        // SAFETY: dup2 is async-signal-safe; it only duplicates a descriptor of the child.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command.output().unwrap()
}

/// A process started with the marker but not by a pool never runs `main`: it exits with an
/// error and says why, whether the marker is malformed, names no control socket, or comes
/// with a real socket but names a pool process that is not its parent. A marker of another
/// version of the crate is that copy's business: this copy lets `main` run.
fn stray_marker_never_runs_main() {
    for marker in ["3:1", "garbage"] {
        let out = with_marker(MARKER, marker, None);
        assert_eq!(out.status.code(), Some(75), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(MARKER),
            "{out:?}"
        );
    }
    let mut pair = [-1; 2];
    // SAFETY: `pair` is a valid array of two ints, as socketpair requires.
    let made =
        unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, pair.as_mut_ptr()) };
    assert_eq!(made, 0);
    let out = with_marker(MARKER, "3:1", Some(pair[1]));
    for fd in pair {
        // SAFETY: closing the pair made above, used by nothing else.
        unsafe { libc::close(fd) };
    }
    assert_eq!(out.status.code(), Some(76), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(MARKER),
        "{out:?}"
    );
    let out = with_marker("PROC_POOL_FORK_SERVER_0.0.0-other", "3:1", None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "main ran\n");
}

/// Role: a child subreaper (as a service manager or container init is) whose fork server
/// is killed: the server's workers are re-parented to it, and the pool reaps them.
fn subreaper_role() {
    // SAFETY: prctl with integer arguments only.
    let set = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(set, 0);
    let pool = server_pool(2);
    let server = server_of(&pool);
    let workers = pool.worker_pids();
    assert_eq!(workers.len(), 2);
    kill(server, libc::SIGKILL);
    util::eventually("the pool to notice", || {
        pool.apply(square, 1) == Err(TaskError::PoolBroken)
    });
    pool.join();
    assert!(util::children().is_empty(), "{:?}", util::children());
}

/// A killed fork server leaves no zombie behind even when the pool's process is a child
/// subreaper and so inherits the server's workers: the pool `waitid`s each of them through
/// its pidfd once the server is gone (their status unknown, or known if they became ours).
fn killed_server_leaves_no_zombie_in_a_subreaper() {
    util::run_role("subreaper", StartMethod::ForkServer);
}

/// A shared library whose constructor starts a thread that lives for ever.
const THREAD_LIBRARY_C: &str = r#"
#include <pthread.h>
#include <unistd.h>
static void *idle(void *arg) { for (;;) pause(); return arg; }
__attribute__((constructor)) static void start_a_thread(void) {
    pthread_t thread;
    pthread_create(&thread, 0, idle, 0);
}
"#;

/// Role: builds a fork-server pool in a process whose preloaded library started a thread.
fn preloaded_thread_role() {
    let Err(err) = Pool::builder()
        .workers(1)
        .start_method(StartMethod::ForkServer)
        .build()
    else {
        panic!("a server with two threads must refuse to serve");
    };
    assert!(format!("{err:?}").contains("single-threaded"), "{err:?}");
}

/// A server that is not single-threaded (a shared library's constructor, which runs before
/// the server's entry, started a thread) refuses to serve: the build fails with a typed
/// error instead of forking workers that could inherit that thread's locks. (The library is
/// built with the C compiler that links Rust programs.)
fn threaded_server_refuses_to_serve() {
    let dir = std::env::temp_dir().join(format!("proc-pool-preload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("thread.c");
    let library = dir.join("libthread.so");
    std::fs::write(&source, THREAD_LIBRARY_C).unwrap();
    let compiled = Command::new("cc")
        .args(["-shared", "-fPIC", "-pthread", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(compiled.success());
    let out = Command::new(std::env::current_exe().unwrap())
        .env(util::ROLE_VAR, "preloaded_thread")
        .env("LD_PRELOAD", &library)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{out:?}");
}

/// How many levels of constructor-built pools the role below asks for (a depth, so that the
/// old fault, a constructor run again in each server, ends at depth 2 instead of looping).
const CTOR_VAR: &str = "PROC_POOL_TEST_CTOR_DEPTH";

/// A user's constructor in the executable's plain `.init_array` (as the `ctor` crate makes):
/// when asked, it prints a banner with a raw `write` (once per process that runs it), starts
/// a thread that lives for ever, and builds and uses a fork-server pool of its own.
extern "C" fn user_constructor() {
    let Some(depth) = std::env::var(CTOR_VAR)
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
    else {
        return;
    };
    if depth >= 2 {
        return;
    }
    // SAFETY: still single-threaded (constructors run before `main`, and this one starts its
    // thread below); the pool's server copies the environment when it is started.
    unsafe { std::env::set_var(CTOR_VAR, (depth + 1).to_string()) };
    // SAFETY: a raw write of a static buffer to descriptor 1.
    unsafe { libc::write(1, b"ctor-banner\n".as_ptr().cast(), 12) };
    std::thread::spawn(|| {
        loop {
            std::thread::park();
        }
    });
    let pool = server_pool(1);
    assert_eq!(pool.apply(square, 3), Ok(9));
    pool.join();
}

#[used]
#[unsafe(link_section = ".init_array")]
static USER_CONSTRUCTOR: extern "C" fn() = user_constructor;

/// Role: with the constructor above active, a fork-server pool runs tasks and joins.
fn constructor_role() {
    let pool = server_pool(2);
    let squares: Vec<_> = pool.map(square, 0..20);
    assert!(squares.iter().all(Result::is_ok), "{squares:?}");
    pool.join();
}

/// Defects 2-4 of the fork server's review: the executable's own constructors never run in
/// the server (its entry runs first), so a constructor that prints, starts a thread or builds
/// a pool runs once, in the user's process only: no banner per server, no server with a
/// second thread, no chain of servers.
fn user_constructors_never_run_in_the_server() {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(util::ROLE_VAR, "constructor_role")
        .env(CTOR_VAR, "0")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("ctor-banner").count(), 1, "{text:?}");
}

fn main() {
    util::run(
        &[
            (
                "server_workers_run_and_are_the_servers_children",
                server_workers_run_and_are_the_servers_children,
            ),
            ("server_runs_initializer", server_runs_initializer),
            (
                "code_the_workers_lack_is_refused",
                code_the_workers_lack_is_refused,
            ),
            ("killed_server_breaks_pool", killed_server_breaks_pool),
            ("sigint_spares_the_server", sigint_spares_the_server),
            ("stopped_server_breaks_pool", stopped_server_breaks_pool),
            (
                "sigchld_ignored_still_reports",
                sigchld_ignored_still_reports,
            ),
            (
                "server_workers_flush_stdout_once",
                server_workers_flush_stdout_once,
            ),
            ("stray_marker_never_runs_main", stray_marker_never_runs_main),
            (
                "user_constructors_never_run_in_the_server",
                user_constructors_never_run_in_the_server,
            ),
            (
                "killed_server_leaves_no_zombie_in_a_subreaper",
                killed_server_leaves_no_zombie_in_a_subreaper,
            ),
            (
                "threaded_server_refuses_to_serve",
                threaded_server_refuses_to_serve,
            ),
        ],
        &[
            ("stdout_role", stdout_role),
            ("must_not_run", must_not_run),
            ("constructor_role", constructor_role),
            ("subreaper", subreaper_role),
            ("preloaded_thread", preloaded_thread_role),
        ],
    );
}
