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
