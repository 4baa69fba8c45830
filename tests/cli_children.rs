//! The compare program's children never outlive it: a trial runs in a process group of its
//! own (so that a timed-out trial can be killed with everything it forked), and asks the
//! kernel to kill it when the program dies, since a Ctrl-C at the terminal no longer reaches
//! it.
//!
//! Runs alone (`harness = false`): it kills a process and watches processes come and go.

mod util;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use util::{python3, run_cases};

/// A hang guard for the waits below; never expected to expire.
const GUARD: Duration = Duration::from_secs(60);

/// The pids of the processes whose parent is `parent` and whose command line holds `needle`.
fn children_with(parent: u32, needle: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Field 4, the parent's pid, counted after the command name's closing ')'.
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains(needle)
        })
        .collect()
}

/// The parent of `pid`, from field 4 of its `stat`, counted after the command name's ')'.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
}

/// Every living descendant of `root`, found by walking the parent links in `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let links: Vec<(u32, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(links.iter().filter(|l| l.1 == parent).map(|l| l.0));
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether `pid` is gone or a zombie (dead, waiting for whoever adopted it to reap it).
fn is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Polls `cond` until it holds, or fails after [`GUARD`].
fn wait_for<T>(what: &str, mut cond: impl FnMut() -> Option<T>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        if let Some(value) = cond() {
            return Ok(value);
        }
        if start.elapsed() > GUARD {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The program is killed while a trial stalls: the trial dies with it instead of living on.
fn killed_program_leaves_no_trial() -> Result<(), String> {
    let mut program = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args([
            "--workload",
            "sleep",
            "--tasks",
            "1",
            "--repeat",
            "1",
            "--skip-memory",
            "--runtime",
            "mini-eventloop",
            "--trial-timeout",
            "600",
            "--inject-fault",
            "stall-trial",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stalled = wait_for("the stalled trial", || {
        children_with(program.id(), "stall-trial").first().copied()
    });
    let _ = program.kill();
    let _ = program.wait();
    let stalled = stalled?;
    let gone = wait_for("the trial to die with the program", || {
        is_dead(stalled).then_some(())
    });
    if gone.is_err() {
        // Do not leave it running after a failure.
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(stalled as libc::pid_t, libc::SIGKILL) };
    }
    gone
}

/// Ctrl-C while CPython's pool is running, every worker stuck in a job: no process of
/// CPython's (the interpreter, its fork server, resource tracker, workers) outlives the
/// program, for both start methods, and the directory made for the script is removed (the
/// run gets a `TMPDIR` of its own, which must be empty afterwards).
fn interrupted_program_leaves_no_python() -> Result<(), String> {
    let Some(python) = python3() else {
        return Ok(());
    };
    let tmp = std::env::temp_dir().join(format!("concurrency-ctrl-c-{}", std::process::id()));
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let result = interrupt_each_pool(&python, &tmp);
    let left: Vec<_> = fs::read_dir(&tmp)
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name())).collect())
        .unwrap_or_default();
    let _ = fs::remove_dir_all(&tmp);
    result?;
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("left behind in TMPDIR: {left:?}"))
    }
}

fn interrupt_each_pool(python: &std::path::Path, tmp: &std::path::Path) -> Result<(), String> {
    for runtime in ["proc-pool", "proc-pool-forkserver"] {
        let mut program = Command::new(env!("CARGO_BIN_EXE_concurrency"))
            .env("TMPDIR", tmp)
            .arg("--python")
            .arg(python)
            .args([
                "--workload",
                "sleep",
                "--tasks",
                "1",
                "--repeat",
                "1",
                "--skip-memory",
                "--runtime",
                runtime,
                "--trial-timeout",
                "600",
                "--inject-fault",
                "stall-cpython",
            ])
            // A group of its own, as a shell gives a foreground job, for the Ctrl-C below.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel();
        let stderr = program.stderr.take().ok_or("no stderr")?;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("a worker stalls") {
                    let _ = tx.send(());
                }
            }
        });
        let stalled = rx
            .recv_timeout(GUARD)
            .map_err(|_| format!("{runtime}: no CPython worker said it stalled within {GUARD:?}"));
        let tree = descendants(program.id());
        // The program blocks the signals it takes on a thread of its own; its children
        // must not inherit that mask.
        for pid in tree
            .iter()
            .filter(|&&pid| parent_of(pid) == Some(program.id()))
        {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let blocked = status.lines().find(|l| l.starts_with("SigBlk:"));
            if blocked.is_some_and(|l| !l.ends_with("0000000000000000")) {
                let _ = program.kill();
                let _ = program.wait();
                return Err(format!(
                    "child {pid} starts with signals blocked: {blocked:?}"
                ));
            }
        }
        let pythons = tree
            .iter()
            .filter(|pid| {
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains("python")
            })
            .count();
        let pgid = libc::pid_t::try_from(program.id()).map_err(|e| e.to_string())?;
        // SAFETY: kill has no memory-safety preconditions; the group is the unreaped
        // program's own.
        unsafe { libc::kill(-pgid, libc::SIGINT) };
        let _ = program.wait();
        stalled?;
        // The interpreter and at least one worker: the tree was seen while they ran.
        if pythons < 2 {
            return Err(format!(
                "{runtime}: only {pythons} Python processes seen in {tree:?}"
            ));
        }
        let gone = wait_for("CPython to die with the program", || {
            tree.iter().all(|&pid| is_dead(pid)).then_some(())
        });
        if gone.is_err() {
            let left: Vec<_> = tree.iter().filter(|&&pid| !is_dead(pid)).collect();
            for &&pid in &left {
                // Do not leave them running after a failure.
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            return Err(format!("{runtime}: still running after Ctrl-C: {left:?}"));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    run_cases(&[
        (
            "killed_program_leaves_no_trial",
            killed_program_leaves_no_trial,
        ),
        (
            "interrupted_program_leaves_no_python",
            interrupted_program_leaves_no_python,
        ),
    ])
}
