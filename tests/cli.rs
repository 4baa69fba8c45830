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
    for name in ["cpu", "sleep", "slow-io", "fast-io", "mixed"] {
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
#[test]
fn workers_apply_only_where_there_is_a_choice() {
    let doc = quick_json(&["--workers", "3"]);
    let results = doc["results"].as_array().expect("results is an array");
    for row in results {
        let expected = match row["runtime"].as_str() {
            Some("sequential" | "mini-eventloop") => 1,
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
    let failed = row(&doc, "sequential");
    assert!(
        failed["failure"]
            .as_str()
            .is_some_and(|why| why.contains("timed out")),
        "{failed}"
    );
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
/// four waves (the old program ran 20 and multiplied everything, start-up included, by 3.2).
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
}

/// A reader that stops early (`concurrency | head`) ends the program quietly, without a
/// panic about a broken pipe.
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_concurrency"))
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
        ])
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
        let failed = row(&doc, runtime);
        assert!(
            failed["failure"]
                .as_str()
                .is_some_and(|why| why.contains("did not report an address")),
            "{failed}"
        );
    }
}

/// A program whose file was replaced or removed during its run (a `cargo build` meanwhile)
/// still runs every trial: children re-execute the program that is running, not the path it
/// was started from (the old program failed every later trial with "No such file").
#[test]
fn a_removed_executable_still_runs_its_trials() {
    use std::os::fd::AsRawFd;
    let dir = std::env::temp_dir().join(format!("concurrency-removed-exe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let copy = dir.join("concurrency");
    std::fs::copy(env!("CARGO_BIN_EXE_concurrency"), &copy).expect("a copy of the program");
    let file = std::fs::File::open(&copy).expect("the copy opens");
    std::fs::remove_dir_all(&dir).expect("the copy is removed");
    // The kernel resolves the descriptor's path at exec, before it closes the descriptor
    // (close-on-exec): the program runs from a file that no longer has a name.
    let out = Command::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .args([
            "--workload",
            "fast-io",
            "--tasks",
            "1",
            "--repeat",
            "1",
            "--runtime",
            "mini-eventloop",
            "--skip-memory",
        ])
        .output()
        .expect("the removed program starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches('✓').count(), 2, "{stdout}");
}
