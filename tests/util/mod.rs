//! Helpers shared by the cross-runtime tests: a small runner for test binaries that must have
//! their process to themselves, and [`Probe`], a job the tests write against `Ctx`
//! themselves (not a standard workload), which records what each runtime's model promises.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use concurrency_shared::fixture::{Fixture, HEADER_LEN, payload_len, write_request};
use concurrency_shared::{Ctx, Job, Wire, WireError};

/// How long any one test binary may run before the watchdog calls it hung: far beyond what a
/// correct run needs on a busy 2-core machine, short enough to fail CI quickly.
pub const HANG_GUARD: Duration = Duration::from_secs(240);

/// One test case: its outcome, with what went wrong as text.
pub type Case = fn() -> Result<(), String>;

/// Runs `cases` one after another in this process, prints a closing line such as
/// `3 passed, 0 failed`, and fails the process if any case failed. A watchdog aborts the
/// whole process if the cases together outlive [`HANG_GUARD`].
pub fn run_cases(cases: &[(&str, Case)]) -> ExitCode {
    std::thread::spawn(|| {
        std::thread::sleep(HANG_GUARD);
        eprintln!("watchdog: the test binary hung for {HANG_GUARD:?}; aborting");
        std::process::abort();
    });
    let mut failed = 0;
    for (name, case) in cases {
        match std::panic::catch_unwind(case) {
            Ok(Ok(())) => println!("test {name} ... ok"),
            Ok(Err(why)) => {
                failed += 1;
                println!("test {name} ... FAILED: {why}");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED: panicked");
            }
        }
    }
    println!("\n{} passed, {failed} failed", cases.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The `python3` on `PATH`, or `None` (with the reason printed) where the tests may skip.
pub fn python3() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("python3"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no python3 on PATH: the CPython rows cannot be tested"
        );
        eprintln!("skipped: no python3 on PATH (set CI=true to make this a failure)");
    }
    found
}

/// A runtime's results with their errors as text, so every runtime's can be compared.
pub fn stringify<T, E: std::fmt::Display>(results: Vec<Result<T, E>>) -> Vec<Result<T, String>> {
    results
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// Where probe `i` ran, or what went wrong: the runtime's error or the probe's own.
pub fn probe_ran<E: std::fmt::Display>(
    i: usize,
    out: Result<ProbeOutput, E>,
) -> Result<(u32, i64), String> {
    out.map_err(|e| format!("job {i}: {e}"))?
        .map_err(|e| format!("job {i}: {e}"))
}

/// Fails unless `fixture` once held exactly `k` requests pending at once: with a barrier of
/// `k`, proof that `k` jobs were waiting on it at the same time.
pub fn ensure_all_waited_at_once(fixture: &Fixture, k: usize) -> Result<(), String> {
    let pending = fixture.stats().peak_pending;
    ensure(pending == k as u64, || {
        format!("{pending} requests were pending at once, not {k}")
    })
}

/// Fails with `why` unless `ok`.
#[track_caller]
pub fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

/// How many probes are inside "interpreter code" (between two awaits) right now, in this
/// process.
static INSIDE: AtomicU32 = AtomicU32::new(0);
/// The most probes ever seen inside at once, in this process.
static MAX_INSIDE: AtomicU32 = AtomicU32::new(0);
/// Probes between the start of their connect and its end, in this process.
static CONNECTING: AtomicUsize = AtomicUsize::new(0);

/// The most connects a process's probes have in flight at once
/// (`concurrency_shared::connects_in_flight()`, 1,000 here): the fixture's accept queue is
/// never the limit, so no handshake is dropped and retried.
fn max_connecting() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(concurrency_shared::connects_in_flight)
}

/// Resets the gauge of probes inside interpreter code.
pub fn reset_gauge() {
    INSIDE.store(0, Ordering::SeqCst);
    MAX_INSIDE.store(0, Ordering::SeqCst);
}

/// The most probes this process ever saw inside interpreter code at once.
pub fn max_inside() -> u32 {
    MAX_INSIDE.load(Ordering::SeqCst)
}

/// The calling thread's kernel id, the same in every runtime's terms.
pub fn thread_id() -> i64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    i64::from(unsafe { libc::gettid() })
}

/// Marks the stretch between two awaits: "interpreter code" in `gil-threads`' terms.
struct Inside;

impl Inside {
    fn enter() -> Self {
        let now = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
        MAX_INSIDE.fetch_max(now, Ordering::SeqCst);
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A job written against `Ctx` by the tests, not a standard workload: `slices` stretches of
/// CPU work with a checkpoint after each, gauged; then, if it has a server, one round trip.
///
/// Its output says where it ran (process and thread), so a test can check each runtime's
/// model: one thread per job and at most one inside at a time (`gil-threads`), one thread for
/// every job (`mini-eventloop`), a process per worker (`proc-pool`).
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Stretches of CPU work, each followed by a checkpoint.
    pub slices: u32,
    /// The fixture to do one round trip with, if any.
    pub server: Option<SocketAddr>,
}

/// Where a probe ran.
pub type ProbeOutput = Result<(u32, i64), String>;

impl Job for Probe {
    type Output = ProbeOutput;

    async fn run<C: Ctx>(&self, cx: &mut C) -> ProbeOutput {
        for _ in 0..self.slices {
            {
                let _inside = Inside::enter();
                spin(20_000);
            }
            cx.checkpoint().await;
        }
        if let Some(server) = self.server {
            round_trip(cx, server).await?;
        }
        let _inside = Inside::enter();
        Ok((std::process::id(), thread_id()))
    }
}

/// CPU work the optimiser cannot remove: about 20 µs for 20,000 steps in a debug build.
fn spin(steps: u64) -> u64 {
    (0..steps).fold(0u64, |acc, i| {
        std::hint::black_box(acc.wrapping_mul(31) ^ i)
    })
}

/// One request and its echo, with at most [`max_connecting`] connects in flight per process.
async fn round_trip<C: Ctx>(cx: &mut C, server: SocketAddr) -> Result<(), String> {
    while CONNECTING
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max_connecting()).then_some(n + 1)
        })
        .is_err()
    {
        // Too many connects in flight: let the others finish theirs first.
        cx.sleep(Duration::from_millis(1)).await;
    }
    let stream = cx.connect(server).await;
    CONNECTING.fetch_sub(1, Ordering::SeqCst);
    let mut stream = stream.map_err(|e| format!("connect: {e}"))?;

    let payload = b"probe";
    let frame = write_request(payload).map_err(|e| e.to_string())?;
    cx.write_all(&mut stream, &frame)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut header = [0u8; HEADER_LEN];
    cx.read_exact(&mut stream, &mut header)
        .await
        .map_err(|e| format!("receive header: {e}"))?;
    let len = payload_len(header).map_err(|e| e.to_string())?;
    let mut echo = vec![0u8; len];
    cx.read_exact(&mut stream, &mut echo)
        .await
        .map_err(|e| format!("receive payload: {e}"))?;
    ensure(echo == payload, || {
        format!("echo {echo:?} is not {payload:?}")
    })
}

impl Wire for Probe {
    fn encode(&self, out: &mut Vec<u8>) {
        self.slices.encode(out);
        self.server.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Probe {
            slices: u32::decode(input)?,
            server: Option::<SocketAddr>::decode(input)?,
        })
    }
}
