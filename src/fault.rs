//! Faults the tests inject through a hidden flag (`--inject-fault`), so that the program's
//! handling of a stalled, killed or babbling child is proven by running it, not by reading it.
//!
//! A trial fault hits every trial of the last runtime in table order (so the rows before it
//! complete normally); `stop-fixture` stops the fixture server of every workload that has one,
//! as `kill -STOP` would, `garbage-fixture` makes it print something other than its
//! address, and `exit-fixture` makes it exit once it has reported its address. `wrong-trial`
//! lets the trial run and then reports every output wrong. The flag is hidden from `--help` because it exists only for tests.
//!
//! Also the program's few signal calls, so that they live in one place.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The trial process blocks forever before running its jobs.
    StallTrial,
    /// The trial process kills itself with `SIGKILL` before running its jobs.
    KillTrial,
    /// The trial process prints a line that is not a report and exits successfully.
    GarbageTrial,
    /// The trial process runs its jobs, then reports every output wrong.
    WrongTrial,
    /// The CPython script gets the first job's output wrong (`--test-wrong-output`); it
    /// changes nothing in a model's trial.
    WrongCpythonOutput,
    /// The CPython script blocks forever before running its jobs (`--test-stall`); it
    /// changes nothing in a model's trial.
    StallCpython,
    /// The fixture process stops itself with `SIGSTOP` once it has reported its address.
    StopFixture,
    /// The fixture process prints a line that is not an address and exits.
    GarbageFixture,
    /// The fixture process exits once it has reported its address.
    ExitFixture,
}

impl Fault {
    /// Whether this fault is carried out by a trial process.
    pub fn hits_trials(self) -> bool {
        !self.hits_fixture()
    }

    /// Whether this fault is carried out by the fixture process.
    pub fn hits_fixture(self) -> bool {
        matches!(
            self,
            Fault::StopFixture | Fault::GarbageFixture | Fault::ExitFixture
        )
    }

    /// The fault's name on the command line, which also selects it in a child's arguments.
    pub fn name(self) -> &'static str {
        match self {
            Fault::StallTrial => "stall-trial",
            Fault::KillTrial => "kill-trial",
            Fault::GarbageTrial => "garbage-trial",
            Fault::WrongTrial => "wrong-trial",
            Fault::WrongCpythonOutput => "wrong-cpython-output",
            Fault::StallCpython => "stall-cpython",
            Fault::StopFixture => "stop-fixture",
            Fault::GarbageFixture => "garbage-fixture",
            Fault::ExitFixture => "exit-fixture",
        }
    }

    /// The test-only switch of `python/cpython_trial.py` that carries out this fault, if it
    /// is one of the script's.
    pub fn script_switch(self) -> Option<&'static str> {
        match self {
            Fault::WrongCpythonOutput => Some("--test-wrong-output"),
            Fault::StallCpython => Some("--test-stall"),
            _ => None,
        }
    }

    /// Carries out a trial fault in the trial process; returns only for `GarbageTrial` and
    /// `WrongTrial` (the caller then prints garbage or spoils the report) and for faults that
    /// are not the trial's.
    pub fn strike_trial(self) {
        match self {
            Fault::StallTrial => loop {
                // Parking may wake spuriously; the loop keeps the stall.
                std::thread::park();
            },
            Fault::KillTrial => raise(libc::SIGKILL),
            Fault::GarbageTrial
            | Fault::WrongTrial
            | Fault::WrongCpythonOutput
            | Fault::StallCpython
            | Fault::StopFixture
            | Fault::GarbageFixture
            | Fault::ExitFixture => {}
        }
    }
}

/// Restores the default action of `SIGPIPE` (end the process), which Rust's start-up sets to
/// "ignore".
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to its default installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Sends `signal` to this process.
pub fn raise(signal: libc::c_int) {
    // SAFETY: raise has no memory-safety preconditions.
    unsafe { libc::raise(signal) };
}
