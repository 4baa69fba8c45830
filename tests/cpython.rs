//! `--python`: CPython's rows beside the models', run as a user would run them, at a tiny
//! `--scale` so that each test takes seconds.
//!
//! The tests that need a Python skip, saying why, when no `python3` is on `PATH`; under
//! `CI=true` a missing Python fails them instead, since CI is where they must run.

mod util;

use std::process::{Command, Output};

use util::python3;

fn concurrency(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args(args)
        .output()
        .expect("the compare program starts")
}

/// The smallest run with CPython's rows: one sleep job on the baselines and the event loop
/// (whose CPython counterpart, `cpython-asyncio`, is the last row, so an injected trial fault
/// hits it alone), through `python`, plus `extra` flags.
fn tiny_sleep(python: &std::ffi::OsStr, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_concurrency"));
    command.arg("--python").arg(python).args([
        "--workload",
        "sleep",
        "--tasks",
        "1",
        "--repeat",
        "1",
        "--runtime",
        "mini-eventloop",
        "--skip-memory",
    ]);
    command.args(extra);
    command
}

/// Exit code, stdout and stderr of `out`.
fn texts(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the program; returns its exit code, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    texts(&concurrency(args))
}

/// Every CPython row, both start methods included, runs every workload and gives the
/// expected output of every job; the document names the Python and holds both verdicts.
#[test]
fn every_cpython_row_is_correct() {
    let Some(python) = python3() else { return };
    let python = python.to_string_lossy().into_owned();
    let (code, stdout, stderr) = run(&[
        "--python",
        &python,
        "--scale",
        "0.01",
        "--repeat",
        "1",
        "--start-method",
        "both",
        "--skip-memory",
        "--json",
    ]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    assert!(
        doc["python"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with('3'))
    );
    assert_eq!(doc["scale"], 0.01);
    let rows = doc["results"].as_array().expect("results");
    for workload in ["cpu", "sleep", "slow-io", "fast-io", "mixed", "cpu-io"] {
        for runtime in [
            "cpython-sequential",
            "cpython-threads",
            "cpython-asyncio",
            "cpython-processes",
            "cpython-processes-forkserver",
            "cpython-asyncio+processes",
            "proc-pool-forkserver",
            "mini-eventloop+proc-pool",
        ] {
            let row = rows
                .iter()
                .find(|r| r["workload"] == workload && r["runtime"] == runtime)
                .unwrap_or_else(|| panic!("no {workload} row on {runtime}: {doc}"));
            assert_eq!(row["correct"], true, "{row}");
            assert!(row["speedup"].is_f64(), "{row}");
        }
    }
    let verdicts = doc["cpython_verdict"].as_array().expect("cpython_verdict");
    assert_eq!(verdicts.len(), 6, "{verdicts:?}");
    assert!(
        verdicts.iter().any(|v| v
            .as_str()
            .is_some_and(|v| v.contains("-> event loop + process pool")
                && v.contains("cpython-asyncio+processes"))),
        "{verdicts:?}"
    );
    let comparisons = doc["verdict_comparison"].as_array().expect("comparison");
    assert_eq!(comparisons.len(), 6, "{comparisons:?}");
}

/// A wrong output from the Python side is marked ✗ in the table and fails the run, while the
/// other rows stay correct.
#[test]
fn a_wrong_cpython_output_is_marked_and_fails_the_run() {
    let Some(python) = python3() else { return };
    let out = tiny_sleep(
        python.as_os_str(),
        &["--inject-fault", "wrong-cpython-output"],
    )
    .output()
    .expect("the compare program starts");
    let (code, stdout, stderr) = texts(&out);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("sleep ")).collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    for row in &rows {
        let wrong = row.contains("cpython-asyncio");
        assert_eq!(row.ends_with('✗'), wrong, "{row}");
        assert_eq!(row.ends_with('✓'), !wrong, "{row}");
    }
    assert!(
        stderr.contains("sleep on cpython-asyncio: wrong results: job 0: expected 2, got 3"),
        "{stderr}"
    );
}

/// A Python that hangs is killed with its trial at the time limit, its row fails with the
/// reason while the other rows stand, and the script the killed trial wrote is removed (the
/// run gets a temporary directory of its own, which must be empty afterwards).
#[test]
fn a_hung_python_fails_its_row_at_the_limit() {
    let Some(python) = python3() else { return };
    let tmp = std::env::temp_dir().join(format!("concurrency-hung-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("a temp dir");
    let out = tiny_sleep(
        python.as_os_str(),
        // Generous for the rows that must complete (a Python start and a 20 ms job each).
        &[
            "--trial-timeout",
            "10",
            "--inject-fault",
            "stall-cpython",
            "--json",
        ],
    )
    .env("TMPDIR", &tmp)
    .output()
    .expect("the compare program starts");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name())).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&tmp);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let rows = doc["results"].as_array().expect("results");
    let stalled = rows
        .iter()
        .find(|r| r["runtime"] == "cpython-asyncio")
        .expect("a cpython-asyncio row");
    assert!(
        stalled["failure"]
            .as_str()
            .is_some_and(|f| f.contains("timed out")),
        "{stalled}"
    );
    assert!(
        rows.iter()
            .filter(|r| r["runtime"] != "cpython-asyncio")
            .all(|r| r["correct"] == true),
        "{doc}"
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A Python that is not there is a usage error, status 2, with a one-line reason; so is one
/// older than the script needs (a stand-in that answers as Python 2.7).
#[test]
fn a_missing_or_old_python_exits_with_status_2() {
    let (code, stdout, stderr) = run(&["--python", "/nonexistent", "--workload", "sleep"]);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--python: cannot run /nonexistent"),
        "{stderr}"
    );

    let dir = std::env::temp_dir().join(format!("concurrency-old-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let old = dir.join("python2.7");
    std::fs::write(&old, "#!/bin/sh\necho 2.7.18\n").expect("a stand-in script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (code, _, stderr) = run(&["--python", &old.to_string_lossy(), "--workload", "sleep"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("is Python 2.7.18; 3.8 or newer is needed"),
        "{stderr}"
    );
}

/// Without `--python` the run is the models' alone: no CPython row, no Python named.
#[test]
fn the_default_run_has_no_cpython_rows() {
    let (code, stdout, stderr) = run(&[
        "--workload",
        "fast-io",
        "--tasks",
        "1",
        "--repeat",
        "1",
        "--skip-memory",
        "--json",
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    assert!(doc["python"].is_null(), "{doc}");
    let rows = doc["results"].as_array().expect("results");
    assert_eq!(rows.len(), 5, "{doc}");
    assert!(
        rows.iter().all(|r| !r["runtime"]
            .as_str()
            .unwrap_or("cpython")
            .starts_with("cpython")),
        "{doc}"
    );
}

/// A Python at a path that is not UTF-8 runs every row (the trial gets the path as an
/// argument of its own, not inside its JSON spec), and its memory is measured (the script
/// reads `/proc` as bytes, where such a name appears).
#[test]
fn a_python_at_a_non_utf8_path_runs_and_is_measured() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let Some(python) = python3() else { return };
    // The interpreter itself: `python3` may be a launcher that dispatches on its own name.
    let real = Command::new(&python)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_owned();
    let dir = std::env::temp_dir().join(format!("concurrency-odd-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let odd = dir.join(OsStr::from_bytes(b"py\xff"));
    std::os::unix::fs::symlink(&real, &odd).expect("a symlink");
    let out = tiny_sleep(odd.as_os_str(), &["--json"])
        .output()
        .expect("the compare program starts");
    let _ = std::fs::remove_dir_all(&dir);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    for row in doc["results"].as_array().expect("results") {
        assert_eq!(row["correct"], true, "{row}");
        assert!(row["peak_mib"].as_f64().is_some_and(|m| m > 0.0), "{row}");
    }
}

/// A stand-in "Python" that answers the version probe, then runs `body` (a shell script) in
/// place of every trial; returns the failure reasons of its CPython rows.
fn stand_in_failures(name: &str, body: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("concurrency-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let fake = dir.join("python3");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\ncase \"$1\" in -c) echo 3.11.7; exit 0;; esac\n{body}\n"),
    )
    .expect("a stand-in script");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = tiny_sleep(fake.as_os_str(), &["--json"])
        .output()
        .expect("the compare program starts");
    let _ = std::fs::remove_dir_all(&dir);
    let (code, stdout, stderr) = texts(&out);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let rows = doc["results"].as_array().expect("results");
    let failures: Vec<String> = rows
        .iter()
        .filter(|r| {
            r["runtime"]
                .as_str()
                .is_some_and(|n| n.starts_with("cpython"))
        })
        .map(|r| r["failure"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(failures.len(), 2, "{doc}");
    failures
}

/// A Python that crashes fails its row with the last line it wrote on stderr (the error
/// itself, not only its exit status).
#[test]
fn a_crashing_python_fails_with_its_last_words() {
    for failure in stand_in_failures(
        "crash",
        "echo 'Traceback (most recent call last):' >&2\n\
         echo 'ZeroDivisionError: boom' >&2\necho >&2\nexit 1",
    ) {
        assert!(
            failure.contains("exit status 1: ZeroDivisionError: boom"),
            "{failure}"
        );
    }
}

/// A Python that exits at once without reading its plan printed no report: that is the
/// reason, not the broken pipe its plan may meet (whether it does is a race, so the old
/// reason showed up in some rows only).
#[test]
fn a_python_that_reads_nothing_printed_no_report() {
    for failure in stand_in_failures("noread", "exit 0") {
        assert!(failure.contains("printed no report"), "{failure}");
    }
}

/// A pool's helpers (the fork server and resource tracker for `forkserver`; `fork` needs
/// none) are part of CPython's cost: the script counts their CPU, in the whole and in the
/// fixed part, as the model's forkserver row counts its server (run here on the script itself, since no
/// sum of the compare program's could tell the helpers from the rest).
#[test]
fn the_pools_helpers_cpu_is_counted() {
    use std::io::Write;
    let Some(python) = python3() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/cpython_trial.py");
    for method in ["fork", "forkserver"] {
        let mut child = Command::new(&python)
            .args(["-I", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let plan = format!(
            r#"{{"runtime": "processes", "start_method": "{method}", "workers": 2,
                "yield_every": 1024, "jobs": [["cpu", 1, 100], ["cpu", 1, 100]]}}"#
        );
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(plan.as_bytes())
            .expect("the plan is sent");
        let out = child.wait_with_output().expect("python3 ends");
        assert!(out.status.success(), "{method}: {:?}", out.status);
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("one JSON report");
        let num = |key: &str| report[key].as_f64().unwrap_or(-1.0);
        // A helper ran, if only to start an interpreter: its run time is not zero.
        let helpers = num("helpers_cpu_s");
        assert!(
            if method == "fork" {
                helpers >= 0.0
            } else {
                helpers > 0.0
            },
            "{method}: {report}"
        );
        assert!(
            num("fixed_cpu_s") >= num("helpers_cpu_s"),
            "{method}: {report}"
        );
        assert!(num("cpu_s") >= num("fixed_cpu_s"), "{method}: {report}");
        assert_eq!(report["outputs"], serde_json::json!([25, 25]), "{method}");
    }
}

/// A `TMPDIR` that cannot hold the script (here, one that does not exist: it is not
/// created) is a usage error found before anything runs: status 2, one line, no table.
#[test]
fn an_unusable_tmpdir_exits_with_status_2_before_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("concurrency-notmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let fake = dir.join("python3");
    std::fs::write(&fake, "#!/bin/sh\necho 3.11.7\n").expect("a stand-in script");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let missing = dir.join("missing/tmp");
    let out = tiny_sleep(fake.as_os_str(), &[])
        .env("TMPDIR", &missing)
        .output()
        .expect("the compare program starts");
    let created = dir.join("missing").exists();
    let _ = std::fs::remove_dir_all(&dir);
    let (code, stdout, stderr) = texts(&out);
    assert_eq!(code, Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot create a directory for Python's script"),
        "{stderr}"
    );
    assert!(!created, "TMPDIR's missing parent was created");
}
