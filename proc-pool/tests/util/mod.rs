//! Shared helpers of the pool's tests: a tiny sequential harness with a guard timeout (every
//! test binary here forks, so each runs as its own process with `harness = false`), and the
//! re-executed-child helper.
#![allow(dead_code)]

use std::panic::{self, AssertUnwindSafe};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use proc_pool::{Builder, Ctx, Job, Pool, StartMethod, Wire, WireError};

/// The guard: a test binary that has not finished by then is aborted (a hang is a failure).
pub const GUARD: Duration = Duration::from_secs(120);

/// Runs `cases` one after another in this process under the default start method; see
/// [`run_with`].
pub fn run(cases: &[(&str, fn())], roles: &[(&str, fn())]) -> ! {
    run_with(&[StartMethod::Fork], cases, roles)
}

/// Runs every case under both start methods ([`builder`] and [`pool`] follow the pass).
pub fn run_both(cases: &[(&str, fn())], roles: &[(&str, fn())]) -> ! {
    run_with(&[StartMethod::Fork, StartMethod::ForkServer], cases, roles)
}

/// Set while a [`run_both`] pass runs under the fork server (or in a role child started for
/// one, see [`METHOD_VAR`]).
static UNDER_FORK_SERVER: AtomicBool = AtomicBool::new(false);

/// The environment variable that tells a re-executed role child which start method to use.
pub const METHOD_VAR: &str = "PROC_POOL_TEST_START_METHOD";

/// The start method of the current pass.
pub fn method() -> StartMethod {
    if UNDER_FORK_SERVER.load(Ordering::Relaxed) {
        StartMethod::ForkServer
    } else {
        StartMethod::Fork
    }
}

/// The current start method's name, for [`METHOD_VAR`].
pub fn method_name() -> &'static str {
    match method() {
        StartMethod::ForkServer => "forkserver",
        _ => "fork",
    }
}

/// A builder with the current pass's start method.
pub fn builder() -> Builder {
    Pool::builder().start_method(method())
}

/// Runs `case` with the current pass's start method (the harness runs the whole binary once
/// per method under [`run_both`]): cases written this way say in their body where the start
/// methods differ.
pub fn each_method(case: impl Fn(StartMethod)) {
    case(method());
}

/// A builder for a pool of `workers` started with `method`.
pub fn pool_of(method: StartMethod, workers: usize) -> Builder {
    Pool::builder().workers(workers).start_method(method)
}

/// How long a re-executed role may run: well within [`GUARD`], so that the role is killed
/// (and its failure reported) before the watchdog aborts the test binary and orphans it.
pub const ROLE_GUARD: Duration = Duration::from_secs(45);

/// Re-executes this test binary to play `role` under `method`, with its stdout captured, and
/// waits for it (killing it past [`ROLE_GUARD`]: a hang is a failure). Panics unless it
/// succeeded.
#[track_caller]
pub fn run_role(role: &str, method: StartMethod) -> Output {
    let name = match method {
        StartMethod::ForkServer => "forkserver",
        _ => "fork",
    };
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .env(ROLE_VAR, role)
        .env(METHOD_VAR, name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("re-execute the test binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut { stdout }, &mut out).map(|_| out)
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the role") {
            break status;
        }
        if start.elapsed() > ROLE_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("role {role} ran past {ROLE_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let stdout = reader
        .join()
        .expect("reader")
        .expect("read the role's stdout");
    assert!(
        status.success(),
        "role {role} failed ({status}); stdout: {}",
        String::from_utf8_lossy(&stdout)
    );
    Output {
        status,
        stdout,
        stderr: Vec::new(),
    }
}

/// The scheduler state of thread `tid` of this process (`R`, `S`, ...), from `/proc`.
pub fn thread_state(tid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// A pool of `n` workers with the current pass's start method.
#[track_caller]
pub fn pool(n: usize) -> Pool {
    builder().workers(n).build().unwrap()
}

/// Runs `cases` one after another in this process, once per start method in `methods`;
/// prints each outcome and `N passed, M failed`, then exits non-zero if any failed. A
/// watchdog aborts the process after [`GUARD`]. If this process was re-executed to play one
/// of `roles` (see [`ROLE_VAR`]), it plays it instead. Arguments that are not flags select the
/// cases whose name contains one of them (`cargo test -p proc-pool --test faults -- timeout`).
pub fn run_with(methods: &[StartMethod], cases: &[(&str, fn())], roles: &[(&str, fn())]) -> ! {
    if std::env::var(METHOD_VAR).as_deref() == Ok("forkserver") {
        UNDER_FORK_SERVER.store(true, Ordering::Relaxed);
    }
    if let Some(role) = child_role() {
        run_child_role(roles, &role);
    }
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(|| {
            std::thread::sleep(GUARD);
            eprintln!("watchdog: the test binary ran past {GUARD:?}; aborting");
            std::process::abort();
        })
        .expect("watchdog thread");
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for &method in methods {
        UNDER_FORK_SERVER.store(method == StartMethod::ForkServer, Ordering::Relaxed);
        let label = if methods.len() > 1 {
            format!(" ({})", method_name())
        } else {
            String::new()
        };
        for (name, case) in cases {
            if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
                continue;
            }
            match panic::catch_unwind(AssertUnwindSafe(case)) {
                Ok(()) => {
                    println!("test {name}{label} ... ok");
                    passed += 1;
                }
                Err(_) => {
                    println!("test {name}{label} ... FAILED");
                    failed += 1;
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 })
}

/// The environment variable that makes a re-executed test binary play a role.
pub const ROLE_VAR: &str = "PROC_POOL_TEST_ROLE";

/// The role this process was started for, if any.
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// In a re-executed child: plays the role named `role` and exits.
fn run_child_role(roles: &[(&str, fn())], role: &str) -> ! {
    for (name, case) in roles {
        if *name == role {
            case();
            std::process::exit(0);
        }
    }
    eprintln!("unknown role {role}");
    std::process::exit(2)
}

/// The pids of this process's children, from `/proc/self/task/*/children`.
pub fn children() -> Vec<u32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// How many descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Whether `pid` names a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits (bounded by [`GUARD`]) until `cond` holds, polling every millisecond. For waiting on
/// other processes' state, where no event can be waited on.
#[track_caller]
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < GUARD, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sums the numbers below `n`, with a checkpoint every 1,000.
pub struct SumBelow(pub u64);

impl Wire for SumBelow {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        u64::decode(input).map(SumBelow)
    }
}

impl Job for SumBelow {
    type Output = u64;
    async fn run<C: Ctx>(&self, cx: &mut C) -> u64 {
        let mut sum = 0;
        for i in 0..self.0 {
            if i % 1_000 == 0 {
                cx.checkpoint().await;
            }
            sum += i;
        }
        sum
    }
}
