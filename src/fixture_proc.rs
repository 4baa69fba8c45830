//! The fixture server in a child process of its own, so that its work is not counted as the
//! trial's and it cannot share a runtime's threads or descriptors.
//!
//! The child prints its address as the first line of stdout and serves until its stdin is
//! closed, which the parent does when it drops the [`FixtureProcess`]; if the parent dies,
//! its end of the pipe closes too, so the child never outlives it. A child that does not
//! stop within [`STOP_GRACE`] (it was stopped with `SIGSTOP`, say) is continued and then
//! killed, so dropping a `FixtureProcess` always returns.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{ChildStdin, Command, ExitCode, Stdio};
use std::time::Duration;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::raise_nofile_limit;

use crate::child::Supervised;
use crate::fault::{self, Fault};
use crate::measure;

/// The hidden first argument that selects the fixture role.
pub const ROLE: &str = "__fixture";

/// How long a fixture process may take to report its address, or to exit once told to: it
/// binds one socket, or joins one thread.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The longest first line a fixture child may print: an address is far shorter.
const ADDR_LINE_MAX: usize = 256;

/// A fixture server running in a child process.
pub struct FixtureProcess {
    /// The child; stopped and reaped on drop (`None` only during drop).
    child: Option<Supervised>,
    /// The child's pid, for its CPU time.
    pid: u32,
    /// The child's stdin: closing it tells the child to stop.
    stdin: Option<ChildStdin>,
    /// Where the server listens.
    addr: SocketAddr,
}

impl FixtureProcess {
    /// Starts a fixture server that answers each request after `delay`; `fault` (tests only)
    /// is carried out by the child.
    pub fn start(delay: Duration, fault: Option<Fault>) -> Result<Self, String> {
        let exe = crate::child::own_executable();
        let mut command = Command::new(exe);
        command
            .arg(ROLE)
            .arg(delay.as_nanos().to_string())
            .args(fault.map(Fault::name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = Supervised::spawn(&mut command, false)
            .map_err(|e| format!("cannot start the fixture process: {e}"))?;
        let pid = child.child_mut().id();
        let stdin = child.child_mut().stdin.take();
        // Only the first line is read; the child writes nothing after it. A child that dies
        // or stalls first gives no line.
        let first_line = child
            .first_line(STOP_GRACE, ADDR_LINE_MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        let addr = match first_line.trim().parse() {
            Ok(addr) => addr,
            Err(_) => {
                drop(stdin);
                child.stop(Duration::ZERO);
                return Err(format!(
                    "the fixture process did not report an address (it said {first_line:?})"
                ));
            }
        };
        Ok(Self {
            child: Some(child),
            pid,
            stdin,
            addr,
        })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// CPU time the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        measure::process_cpu_time(self.pid).unwrap_or_default()
    }
}

impl Drop for FixtureProcess {
    fn drop(&mut self) {
        // Closing stdin is the stop signal; the child drops its server (joining its thread)
        // and exits. `stop` continues a stopped child, kills one that outlives the grace, and
        // reaps it.
        drop(self.stdin.take());
        if let Some(child) = self.child.take() {
            child.stop(STOP_GRACE);
        }
    }
}

/// The fixture role's `main`: serves until stdin closes.
pub fn child_main(args: Vec<OsString>) -> ExitCode {
    // The optional second argument is a fault's name (tests only, see `fault.rs`).
    let fault = args.get(1).and_then(|a| a.to_str());
    if fault == Some(Fault::GarbageFixture.name()) {
        println!("this line is not an address");
        return ExitCode::FAILURE;
    }
    let Some(delay) = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_nanos)
    else {
        eprintln!("concurrency {ROLE}: expected one argument, the delay in nanoseconds");
        return ExitCode::from(2);
    };
    if let Err(e) = raise_nofile_limit() {
        eprintln!("concurrency {ROLE}: cannot raise the open-file limit: {e}");
    }
    let fixture = match Fixture::start(FixtureConfig::new().delay(delay)) {
        Ok(fixture) => fixture,
        Err(e) => {
            eprintln!("concurrency {ROLE}: cannot start the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "{}", fixture.addr())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if fault == Some(Fault::StopFixture.name()) {
        fault::raise(libc::SIGSTOP);
    }
    // Block until the parent closes our stdin (or dies); what it sends is ignored.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    drop(fixture);
    ExitCode::SUCCESS
}
