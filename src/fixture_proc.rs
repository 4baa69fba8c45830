//! The fixture server in a child process of its own, so that its work is not counted as the
//! trial's and it cannot share a runtime's threads or descriptors.
//!
//! The child prints its address as the first line of stdout and serves until its stdin is
//! closed, which the parent does when it drops the [`FixtureProcess`]; if the parent dies,
//! its end of the pipe closes too, so the child never outlives it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::Duration;

use concurrency_shared::fixture::{Fixture, FixtureConfig};
use concurrency_shared::raise_nofile_limit;

use crate::measure;

/// The hidden first argument that selects the fixture role.
pub const ROLE: &str = "__fixture";

/// A fixture server running in a child process.
pub struct FixtureProcess {
    /// The child; waited for on drop.
    child: Child,
    /// The child's stdin: closing it tells the child to stop.
    stdin: Option<ChildStdin>,
    /// Where the server listens.
    addr: SocketAddr,
}

impl FixtureProcess {
    /// Starts a fixture server that answers each request after `delay`.
    pub fn start(delay: Duration) -> Result<Self, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
        let mut child = Command::new(exe)
            .arg(ROLE)
            .arg(delay.as_nanos().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the fixture process: {e}"))?;
        let stdin = child.stdin.take();
        let mut first_line = String::new();
        if let Some(stdout) = child.stdout.take() {
            // Only the first line is read; the child writes nothing after it.
            let _ = BufReader::new(stdout).read_line(&mut first_line);
        }
        let addr = match first_line.trim().parse() {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the fixture process did not report an address (it said {first_line:?})"
                ));
            }
        };
        Ok(Self { child, stdin, addr })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// CPU time the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        measure::process_cpu_time(self.child.id()).unwrap_or_default()
    }
}

impl Drop for FixtureProcess {
    fn drop(&mut self) {
        // Closing stdin is the stop signal; the child drops its server (joining its thread)
        // and exits, and waiting reaps it.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The fixture role's `main`: serves until stdin closes.
pub fn child_main(args: Vec<OsString>) -> ExitCode {
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
    // Block until the parent closes our stdin (or dies); what it sends is ignored.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    drop(fixture);
    ExitCode::SUCCESS
}
