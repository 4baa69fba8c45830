//! Process hygiene: no descriptor or child left behind across many pool lifetimes, every
//! descriptor the pool owns is close-on-exec, and workers die with their parent. Counts
//! descriptors and children and SIGKILLs a re-executed copy of itself, so it runs alone
//! (`harness = false`).

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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

fn main() {
    util::run_both(
        &[
            ("no_leaks_across_cycles", no_leaks_across_cycles),
            ("descriptors_are_cloexec", descriptors_are_cloexec),
            ("workers_die_with_parent", workers_die_with_parent),
        ],
        &[("intermediate_parent", intermediate_parent)],
    );
}
