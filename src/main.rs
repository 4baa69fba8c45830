//! `concurrency`: the compare program. It runs the same standard jobs on every runtime of the
//! workspace and on a sequential baseline, and prints what it measured.
//!
//! ```text
//! cargo run --release                          # every workload, every runtime
//! cargo run --release -- --workload cpu --repeat 5 --json
//! cargo run --release -- --trial-timeout 30 --svg chart.svg
//! cargo run --release -- --python --scale 0.1   # the same jobs on CPython too
//! ```
//!
//! # Layout
//!
//! - `cli`: the flags, and their validation (bad flags exit with status 2).
//! - `fault`: faults the tests inject through a hidden flag (a stalled, killed or babbling
//!   trial, a stopped fixture).
//! - `cpython`: CPython's rows (`--python`): the jobs described to `python/cpython_trial.py`,
//!   its outputs checked against the Rust jobs' expected values.
//! - `workload`: the standard workload set: what jobs each workload makes and what fixture it
//!   needs.
//! - `runtime`: the runtimes under test, one enum arm each; adding a runtime is one arm.
//! - `offload`: the combined runtime `mini-eventloop+proc-pool`: jobs on the loop, the parts
//!   they offload (`Ctx::offload`) on a process pool.
//! - `compare`: the plan: for each workload, start its fixture, run each runtime's trials;
//!   a failure fails its row, and the rest still runs and is printed.
//! - `sample`: which rows run a sample of their jobs, and how it is scaled (by waves).
//! - `trial`: one measured trial, run in a fresh child process (the program re-executes itself
//!   in a hidden role), and the parent's side that starts it and reads its report.
//! - `child`: a child process in a group of its own, waited for with a deadline and killed
//!   with everything it forked past it.
//! - `fixture_proc`: the loopback fixture server in a child process of its own.
//! - `measure`: wall time, CPU time and peak memory, read from the kernel.
//! - `report`: the table and the JSON document.
//! - `verdict`: which runtime won each workload, next to the rule of thumb.
//! - `memory`: the second table: peak memory with N jobs waiting at once, per runtime.
//! - `chart`: the SVG bar chart written by `--svg`.
//! - `tracing_trials`: the separate, recorded trials behind `--trace` (Chrome trace JSON) and
//!   `--timeline` (SVG), run after the measured rows.
//!
//! # Implementation
//!
//! `trial.rs` holds the measurement protocol: why each trial is a fresh process, what is
//! timed, and how the children's memory and CPU are added in.

mod chart;
mod child;
mod cli;
mod compare;
mod cpython;
mod fault;
mod fixture_proc;
mod interrupt;
mod measure;
mod memory;
mod offload;
mod report;
mod runtime;
mod sample;
mod scratch;
mod tracing_trials;
mod trial;
mod verdict;
mod workload;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The hidden roles come first: a trial or fixture child is this same binary, re-executed.
    let mut args = std::env::args_os();
    let _program = args.next();
    match args.next().as_ref().and_then(|a| a.to_str()) {
        Some(trial::ROLE) => return trial::child_main(args.collect()),
        Some(fixture_proc::ROLE) => return fixture_proc::child_main(args.collect()),
        Some(tracing_trials::ROLE) => return tracing_trials::child_main(args.collect()),
        _ => {}
    }
    // A reader that stops early (`concurrency | head`) should end the program quietly, as it
    // ends any other command, instead of making `println!` panic on a broken pipe. Only this
    // role writes to a pipe nobody may read: each child is re-executed, and Rust's start-up
    // ignores SIGPIPE again there, where the pools rely on EPIPE errors.
    fault::default_sigpipe();
    // Before any thread starts (see `interrupt.rs`).
    interrupt::install();
    let options = cli::parse();
    // Without a fit Python, `--python` cannot be honoured at all: a usage error, like a bad
    // flag, before anything runs.
    // A temporary directory that cannot hold the script is found out here too, not row by row.
    let fit = |path: &std::path::Path| {
        let python = cpython::probe(path)?;
        cpython::write_script()?;
        Ok::<_, String>(python)
    };
    let python = match options.python.as_deref().map(fit).transpose() {
        Ok(python) => python,
        Err(why) => {
            eprintln!("concurrency: --python: {why}");
            return ExitCode::from(2);
        }
    };
    match compare::run(&options, python.as_ref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("concurrency: {e}");
            ExitCode::FAILURE
        }
    }
}
