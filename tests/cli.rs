//! The compare program's command line, run as a user would run it.

use std::process::{Command, Output};

fn concurrency(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args(args)
        .output()
        .expect("the compare program starts")
}

/// An unknown workload is a usage error (status 2) that lists the valid names.
#[test]
fn unknown_workload_lists_the_valid_ones() {
    let out = concurrency(&["--workload", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in ["cpu", "sleep", "slow-io", "fast-io", "mixed", "cpu-io"] {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
}

/// Zero tasks or an unknown flag are usage errors too.
#[test]
fn bad_flags_exit_with_status_2() {
    assert_eq!(concurrency(&["--tasks", "0"]).status.code(), Some(2));
    assert_eq!(concurrency(&["--repeat", "x"]).status.code(), Some(2));
    assert_eq!(concurrency(&["--frobnicate"]).status.code(), Some(2));
}

/// A small real run prints one table row per runtime, every result checked.
#[test]
fn small_run_prints_checked_rows() {
    let out = concurrency(&[
        "--workload",
        "fast-io",
        "--tasks",
        "2",
        "--repeat",
        "1",
        "--skip-memory",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("fast-io"))
        .collect();
    assert!(!rows.is_empty(), "no rows in: {stdout}");
    assert!(
        rows.iter().all(|r| r.ends_with('✓')),
        "unchecked rows in: {stdout}"
    );
}

/// The combined runtime runs every workload, its rows checked like the others (the jobs of
/// all but cpu-io never offload: they run on its loop).
#[test]
fn combined_runtime_runs_every_workload() {
    let (code, stdout, stderr) = run_text(&[
        "--tasks",
        "2",
        "--scale",
        "0.01",
        "--repeat",
        "1",
        "--skip-memory",
        "--runtime",
        "mini-eventloop+proc-pool",
    ]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    for workload in ["cpu", "sleep", "slow-io", "fast-io", "mixed", "cpu-io"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(workload) && l.contains(" mini-eventloop+proc-pool "))
            .unwrap_or_else(|| panic!("no {workload} row in: {stdout}"));
        assert!(row.ends_with('✓'), "{row}");
    }
}

/// cpu-io runs correctly on every runtime, and its verdict line gives the rule for CPU work
/// with many slow connections and says whether the measurement agrees.
#[test]
fn cpu_io_has_its_rule_line() {
    let (code, stdout, stderr) = run_text(&[
        "--workload",
        "cpu-io",
        "--tasks",
        "4",
        "--repeat",
        "2",
        "--skip-memory",
    ]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("cpu-io "))
        .collect();
    assert_eq!(rows.len(), 5, "{stdout}");
    assert!(rows.iter().all(|r| r.ends_with('✓')), "{stdout}");
    let verdict = stdout
        .lines()
        .find(|l| {
            l.contains(
                "rule of thumb: CPU work and many slow connections -> event loop + process pool",
            )
        })
        .unwrap_or_else(|| panic!("no cpu-io rule line in: {stdout}"));
    assert!(
        [" - agrees.", " - agrees only as a tie", " - DISAGREES"]
            .iter()
            .any(|said| verdict.contains(said)),
        "{verdict}"
    );
}

/// Runs one quick JSON trial of the fast-I/O workload with `extra` flags; returns the document.
fn quick_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "--workload",
        "fast-io",
        "--tasks",
        "1",
        "--repeat",
        "1",
        "--skip-memory",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = concurrency(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// `--json` prints one document with the machine's description and a result per runtime.
#[test]
fn json_output_is_one_document() {
    let doc = quick_json(&[]);
    assert!(doc["environment"]["cores"].as_u64().is_some_and(|c| c >= 1));
    let results = doc["results"].as_array().expect("results is an array");
    assert!(!results.is_empty());
    assert!(results.iter().all(|r| r["correct"] == true));
}

/// `--workers` sets the threads and processes of the runtimes that have a choice; the
/// baseline and the event loop always run on one thread, and the table says so.
/// gil-threads starts no more threads than jobs, and says so too (the old program reported
/// the threads asked for).
#[test]
fn workers_apply_only_where_there_is_a_choice() {
    let doc = quick_json(&["--workers", "3"]);
    let results = doc["results"].as_array().expect("results is an array");
    for row in results {
        let expected = match row["runtime"].as_str() {
            // One job: gil-threads starts one thread for it.
            Some("sequential" | "mini-eventloop" | "gil-threads") => 1,
            _ => 3,
        };
        assert_eq!(row["workers"], expected, "{row}");
    }
}

/// Runs the program with `args`; returns its exit code, its stdout and its stderr.
fn run_text(args: &[&str]) -> (Option<i32>, String, String) {
    let out = concurrency(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small real run: `tasks` jobs of `workload`, one trial, the baseline and `runtime`, plus
/// `extra` flags.
fn small(
    workload: &str,
    tasks: &str,
    runtime: &str,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut args = vec![
        "--workload",
        workload,
        "--tasks",
        tasks,
        "--repeat",
        "1",
        "--skip-memory",
        "--runtime",
        runtime,
    ];
    args.extend_from_slice(extra);
    run_text(&args)
}

/// The arguments of [`tiny`]: one sleep job, one trial, the baseline and the event loop.
const TINY_ARGS: [&str; 9] = [
    "--workload",
    "sleep",
    "--tasks",
    "1",
    "--repeat",
    "1",
    "--skip-memory",
    "--runtime",
    "mini-eventloop",
];

/// The smallest real run: one sleep job on the baseline and the event loop; the event loop
/// is the last runtime, so an injected trial fault hits its row only.
fn tiny(extra: &[&str]) -> (Option<i32>, String, String) {
    small("sleep", "1", "mini-eventloop", extra)
}

/// Parses `stdout` as the JSON document, showing the run's output if it is not.
fn document(stdout: &str, stderr: &str) -> serde_json::Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"))
}

/// The JSON row of `runtime` in `doc`.
fn row<'a>(doc: &'a serde_json::Value, runtime: &str) -> &'a serde_json::Value {
    doc["results"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["runtime"] == runtime))
        .unwrap_or_else(|| panic!("no {runtime} row in {doc}"))
}

/// Checks that the row of `runtime` in `doc` failed with a reason that contains `why`.
#[track_caller]
fn assert_failed_with(doc: &serde_json::Value, runtime: &str, why: &str) {
    let failed = row(doc, runtime);
    assert!(
        failed["failure"]
            .as_str()
            .is_some_and(|reason| reason.contains(why)),
        "{failed}"
    );
}

/// Runs [`tiny`] as JSON plus `extra`, expects exit status 1 and a JSON document on stdout, and
/// checks that the baseline row completed while the event loop's failed; returns that
/// failure's reason.
fn tiny_with_failed_last_row(extra: &[&str]) -> String {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = tiny(&args);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    let base = row(&doc, "sequential");
    assert_eq!(base["correct"], true, "{base}");
    assert!(base["wall_s"]["median"].is_f64(), "{base}");
    let failed = row(&doc, "mini-eventloop");
    assert_eq!(failed["correct"], false, "{failed}");
    assert!(failed["wall_s"].is_null(), "{failed}");
    failed["failure"]
        .as_str()
        .unwrap_or_else(|| panic!("no failure reason in {failed}"))
        .to_owned()
}

/// A trial that stalls is killed at the time limit and shown as failed with the reason,
/// while the rows before it are printed whole (the old program waited forever).
#[test]
fn stalled_trial_is_killed_at_the_limit() {
    let why = tiny_with_failed_last_row(&["--trial-timeout", "3", "--inject-fault", "stall-trial"]);
    assert!(why.contains("timed out"), "{why}");
}

/// A trial killed by a signal fails its row only: the other rows are still printed and the
/// exit status says something failed (the old program printed nothing).
#[test]
fn killed_trial_fails_only_its_row() {
    let why = tiny_with_failed_last_row(&["--inject-fault", "kill-trial"]);
    assert!(why.contains("killed by signal 9 (SIGKILL)"), "{why}");
}

/// A trial that prints something other than a report is a failed row, not a crash.
#[test]
fn garbage_from_a_trial_is_a_failed_row() {
    let why = tiny_with_failed_last_row(&["--inject-fault", "garbage-trial"]);
    assert!(why.contains("printed no report"), "{why}");
}

/// In the table, a failed row is marked with its reason, after the completed rows.
#[test]
fn table_marks_the_failed_row_with_its_reason() {
    let (code, stdout, stderr) = tiny(&["--inject-fault", "kill-trial"]);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let line = |runtime: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("sleep") && l.contains(runtime))
            .unwrap_or_else(|| panic!("no {runtime} row in: {stdout}"))
            .to_owned()
    };
    assert!(line("sequential").ends_with('✓'), "{stdout}");
    let failed = line("mini-eventloop");
    assert!(
        failed.contains("failed") && failed.ends_with('✗'),
        "{stdout}"
    );
    assert!(stdout.contains("✗ killed by signal 9"), "{stdout}");
    assert!(stderr.contains("mini-eventloop"), "{stderr}");
}

/// A fixture server that stops (as with `kill -STOP`) fails the trials that need it at the
/// time limit, and the program still ends: it continues and stops the fixture itself.
#[test]
fn stopped_fixture_fails_its_trials_at_the_limit() {
    let (code, stdout, stderr) = small(
        "fast-io",
        "1",
        "sequential",
        &[
            "--trial-timeout",
            "2",
            "--inject-fault",
            "stop-fixture",
            "--json",
        ],
    );
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    assert_failed_with(&doc, "sequential", "timed out");
}

/// An unwritable `--svg` path fails the run only after the results are printed in full.
#[test]
fn unwritable_svg_still_prints_the_results() {
    let (code, stdout, stderr) = tiny(&["--json", "--svg", "/nonexistent-directory/chart.svg"]);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    assert_eq!(row(&doc, "mini-eventloop")["correct"], true, "{doc}");
    assert!(stderr.contains("chart not written"), "{stderr}");
}

/// The JSON document carries its schema version; a sampled row says so, and its trials'
/// `wall_s` are scaled as the row's is, with the measured figure beside them.
#[test]
fn json_marks_sampled_rows_and_scales_trials_alike() {
    let (code, stdout, stderr) = small("sleep", "40", "mini-eventloop", &["--json"]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    assert_eq!(doc["schema_version"], 2);
    let base = row(&doc, "sequential");
    assert_eq!(base["sampled"], true, "{base}");
    assert_eq!(base["ran_tasks"], 20, "{base}");
    let trial = &base["trials"][0];
    let (row_wall, wall, measured) = (
        base["wall_s"]["median"].as_f64().expect("row wall_s"),
        trial["wall_s"].as_f64().expect("trial wall_s"),
        trial["measured_wall_s"].as_f64().expect("measured_wall_s"),
    );
    assert_eq!(row_wall, wall, "{base}");
    assert!((wall - 2.0 * measured).abs() < 1e-9, "{base}");
    assert_eq!(row(&doc, "mini-eventloop")["sampled"], false);
}

/// Counts past their caps, and time limits that are not positive, are usage errors.
#[test]
fn out_of_range_numbers_exit_with_status_2() {
    for args in [
        ["--tasks", "1000000000000"],
        ["--workers", "100000"],
        ["--repeat", "1000"],
        ["--trial-timeout", "0"],
        ["--trial-timeout", "-1"],
        ["--trial-timeout", "NaN"],
    ] {
        assert_eq!(concurrency(&args).status.code(), Some(2), "{args:?}");
    }
}

/// A pool of more workers than the machine's cores is sampled in whole waves and scaled by
/// waves, its start-up counted once: 64 jobs on 16 workers run 32 (two waves) and stand for
/// four waves (the old program ran 20 and multiplied everything, start-up included, by 3.2);
/// its start-up CPU is counted once too (the old program scaled it with the jobs').
#[test]
fn pool_samples_scale_by_waves() {
    let (code, stdout, stderr) = small("sleep", "64", "proc-pool", &["--workers", "16", "--json"]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    let pool = row(&doc, "proc-pool");
    assert_eq!(pool["sampled"], true, "{pool}");
    assert_eq!(pool["ran_tasks"], 32, "{pool}");
    let trial = &pool["trials"][0];
    let number = |key: &str| {
        trial[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {trial}"))
    };
    let (wall, measured, fixed) = (
        number("wall_s"),
        number("measured_wall_s"),
        number("measured_fixed_s"),
    );
    assert!(fixed > 0.0 && fixed <= measured, "{trial}");
    let by_waves = fixed + (measured - fixed) * 2.0;
    assert!((wall - by_waves).abs() < 1e-9, "{trial}");
    // CPU time likewise: the forking and reaping counted once, the rest scaled by jobs.
    let (cpu, measured_cpu, fixed_cpu) = (
        number("cpu_s"),
        number("measured_cpu_s"),
        number("measured_fixed_cpu_s"),
    );
    assert!(fixed_cpu > 0.0 && fixed_cpu <= measured_cpu, "{trial}");
    let by_jobs = fixed_cpu + (measured_cpu - fixed_cpu) * 2.0;
    assert!((cpu - by_jobs).abs() < 1e-9, "{trial}");
}

/// The combined runtime's CPU time counts its pool's workers, where its offloaded parts run:
/// the same jobs cost it about what they cost the loop alone, which runs the parts itself
/// (uncounted workers would leave it only the loop's few milliseconds of I/O).
#[test]
fn combined_rows_count_their_workers_cpu() {
    let (code, stdout, stderr) = small(
        "cpu-io",
        "8",
        "mini-eventloop,mini-eventloop+proc-pool",
        &["--json"],
    );
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    let cpu = |runtime: &str| {
        row(&doc, runtime)["cpu_s"]
            .as_f64()
            .unwrap_or_else(|| panic!("no cpu_s for {runtime} in {doc}"))
    };
    let (alone, combined) = (cpu("mini-eventloop"), cpu("mini-eventloop+proc-pool"));
    assert!(alone > 0.0, "{doc}");
    assert!(
        combined >= alone / 2.0,
        "the combined row's {combined} s of CPU leaves out its workers' (the loop alone: {alone} s)"
    );
}

/// A reader that stops early (`concurrency | head`) ends the program quietly, without a
/// panic about a broken pipe.
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args(TINY_ARGS)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the compare program starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the program ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A fixture process that prints something other than its address fails its workload's rows,
/// with the reason, and the document is still printed.
#[test]
fn garbage_from_the_fixture_fails_its_rows() {
    let (code, stdout, stderr) = small(
        "fast-io",
        "1",
        "mini-eventloop",
        &["--inject-fault", "garbage-fixture", "--json"],
    );
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    for runtime in ["sequential", "mini-eventloop"] {
        assert_failed_with(&doc, runtime, "did not report an address");
    }
}

/// A row whose outputs are wrong gets no speedup, in the JSON document (and so in the chart,
/// which draws the same figure) and in the table, and no say in the verdict; the program fails.
#[test]
fn wrong_rows_get_no_speedup() {
    let (code, stdout, stderr) = tiny(&["--json", "--inject-fault", "wrong-trial"]);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    let wrong = row(&doc, "mini-eventloop");
    assert_eq!(wrong["correct"], false, "{wrong}");
    assert!(wrong["speedup"].is_null(), "{wrong}");
    assert!(row(&doc, "sequential")["speedup"].is_f64(), "{doc}");
    let (code, stdout, stderr) = tiny(&["--inject-fault", "wrong-trial"]);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("sleep") && l.contains("mini-eventloop"))
        .unwrap_or_else(|| panic!("no row in: {stdout}"));
    assert!(line.ends_with('✗') && !line.contains('x'), "{line}");
}

/// A fixture server that exits fails the rows that need it, with that reason, instead of
/// letting their trials measure refused connections.
#[test]
fn exited_fixture_fails_its_rows_with_the_reason() {
    let (code, stdout, stderr) = small(
        "fast-io",
        "1",
        "mini-eventloop",
        &["--inject-fault", "exit-fixture", "--json"],
    );
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc = document(&stdout, &stderr);
    // The baseline's trial may start before the exit is seen; the row after it may not.
    assert_failed_with(&doc, "mini-eventloop", "fixture server process has exited");
}

/// The program re-executes its running image, not its path: a binary deleted or replaced on
/// disk during the run (a `cargo build` beside a `cargo run`) does not fail the trials.
#[test]
fn a_binary_removed_from_disk_still_runs_its_trials() {
    let dir = std::env::temp_dir().join(format!("concurrency-exe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let copy = dir.join("concurrency");
    std::fs::copy(env!("CARGO_BIN_EXE_concurrency"), &copy).expect("the binary copies");
    let child = Command::new(&copy)
        .args(TINY_ARGS)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the copy starts");
    // `spawn` returns once the exec succeeded, so the running image is the copy's.
    std::fs::remove_dir_all(&dir).expect("the copy is removed");
    let out = child.wait_with_output().expect("the program ends");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A connection workload with more jobs than the open-file limit allows connections is a
/// usage error that says so, before anything runs (the old program let every trial fail with
/// "too many open files"). The limit is lowered for the program alone, to 1,024.
#[test]
fn tasks_past_the_open_file_limit_are_a_usage_error() {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_concurrency"));
    command.args([
        "--workload",
        "fast-io",
        "--tasks",
        "600",
        "--repeat",
        "1",
        "--skip-memory",
        "--runtime",
        "mini-eventloop",
    ]);
    // SAFETY: the hook runs in the forked child before exec and only calls setrlimit, which is
    // async-signal-safe, on a local value.
    unsafe {
        command.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1_024,
                rlim_max: 1_024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().expect("the compare program starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("open-file limit") && stderr.contains("fast-io"),
        "{stderr}"
    );
}

/// Runs [`tiny`]'s arguments plus `extra` with stdout sent to `stdout`, killing the program if
/// it has not ended after a minute (a guard against the hang under test, not a measurement);
/// returns its exit code (`None` if it had to be killed) and its stderr.
fn tiny_guarded(extra: &[&str], stdout: std::process::Stdio) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args(TINY_ARGS)
        .args(extra)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the compare program starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        let _ = tx.send(text);
    });
    let text = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(text) => text,
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions; the child is not reaped yet.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            String::from("(killed: it did not end)")
        }
    };
    let status = child.wait().expect("the program is reaped");
    (status.code(), text)
}

/// `--svg` naming a FIFO nobody reads is refused with a reason and status 1, after the results
/// are printed (the old program waited forever to open it).
#[test]
fn svg_to_a_fifo_is_refused_not_waited_on() {
    let dir = std::env::temp_dir().join(format!("concurrency-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let fifo = dir.join("chart.svg");
    let c_path = std::ffi::CString::new(fifo.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let fifo_arg = fifo.to_str().expect("a UTF-8 path").to_owned();
    let (code, stderr) = tiny_guarded(&["--svg", &fifo_arg], std::process::Stdio::null());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("chart not written"), "{stderr}");
}

/// `--trace` and `--timeline` naming FIFOs nobody reads are refused with a reason and status
/// 1, after the results are printed, as `--svg` is.
#[test]
fn trace_and_timeline_to_fifos_are_refused_not_waited_on() {
    let dir = std::env::temp_dir().join(format!("concurrency-trace-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let mut args = Vec::new();
    for (flag, name) in [("--trace", "t.json"), ("--timeline", "t.svg")] {
        let fifo = dir.join(name);
        let c_path = std::ffi::CString::new(fifo.to_str().expect("a UTF-8 path")).expect("no NUL");
        // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        args.push(flag.to_owned());
        args.push(fifo.to_str().expect("a UTF-8 path").to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stderr) = tiny_guarded(&args, std::process::Stdio::null());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("trace not written") && stderr.contains("timeline not written"),
        "{stderr}"
    );
}

/// A stdout that cannot be written (a full disk, here `/dev/full`) is reported with status 1,
/// not a panic (the old program's `println!` panicked, status 101).
#[test]
fn an_unwritable_stdout_is_an_error_not_a_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    let (code, stderr) = tiny_guarded(&[], full.into());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the results to stdout") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
