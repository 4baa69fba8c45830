//! `--trace FILE.json` and `--timeline FILE.svg`, run as a user would run them: the files
//! parse, and each runtime's traced trial shows its own mechanism on one lane per thread,
//! task or worker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Jobs per traced trial: fewer than the lanes kept per trial (16), so every one is drawn.
const TASKS: usize = 3;
/// Threads or processes for the runtimes that have a choice.
const WORKERS: usize = 2;

/// A fresh directory for one test's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("concurrency-trace-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a small traced `cpu` comparison writing `trace` and `timeline`; panics unless it
/// succeeds.
fn traced_cpu_run(trace: &Path, timeline: &Path, extra: &[&str]) {
    let (tasks, workers) = (TASKS.to_string(), WORKERS.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args(["--workload", "cpu", "--scale", "0.01", "--repeat", "1"])
        .args(["--tasks", &tasks, "--workers", &workers, "--skip-memory"])
        .arg("--trace")
        .arg(trace)
        .arg("--timeline")
        .arg(timeline)
        .args(["--timeline-window", "1e9"])
        .args(extra)
        .output()
        .expect("the compare program starts");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The trace is one JSON document of trace events: every event has a valid phase, times
/// never go back on a track, every track is named, and each runtime's process holds the
/// events of its own mechanism: GIL holds on threads, polls on tasks, chunk runs on workers.
#[test]
fn the_trace_is_valid_chrome_json_with_each_runtimes_own_kinds() {
    let dir = Scratch::new("json");
    let (trace, timeline) = (dir.path("t.json"), dir.path("t.svg"));
    traced_cpu_run(&trace, &timeline, &[]);
    let text = std::fs::read_to_string(&trace).expect("the trace was written");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
    let events = doc["traceEvents"].as_array().expect("a traceEvents array");

    let mut processes: BTreeMap<u64, String> = BTreeMap::new();
    let mut tracks: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut last_ts: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    let mut kinds: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for e in events {
        let pid = e["pid"].as_u64().expect("every event has a pid");
        let ph = e["ph"].as_str().expect("every event has a phase");
        match ph {
            "M" => match e["name"].as_str() {
                Some("process_name") => {
                    processes.insert(pid, e["args"]["name"].as_str().unwrap().to_owned());
                }
                Some("thread_name") => {
                    let tid = e["tid"].as_u64().expect("a thread name has a tid");
                    tracks.insert((pid, tid), e["args"]["name"].as_str().unwrap().to_owned());
                }
                _ => {}
            },
            "X" | "i" => {
                let tid = e["tid"].as_u64().expect("a timed event has a tid");
                let ts = e["ts"].as_f64().expect("a timed event has a ts");
                assert!(ts >= 0.0, "{e}");
                if ph == "X" {
                    assert!(e["dur"].as_f64().expect("a span has a dur") >= 0.0, "{e}");
                }
                let last = last_ts.entry((pid, tid)).or_insert(0.0);
                assert!(ts >= *last, "time went back on track {pid}/{tid}: {e}");
                *last = ts;
                assert!(tracks.contains_key(&(pid, tid)), "unnamed track: {e}");
                let name = e["name"].as_str().expect("a timed event has a name");
                kinds.entry(pid).or_default().insert(name.to_owned());
            }
            other => panic!("phase {other:?} in {e}"),
        }
    }
    let pid_of = |runtime: &str| {
        processes
            .iter()
            .find(|(_, name)| name.starts_with(&format!("{runtime} · cpu")))
            .map(|(pid, _)| *pid)
            .unwrap_or_else(|| panic!("no {runtime} process in {processes:?}"))
    };
    for (runtime, kind, lane) in [
        ("gil-threads", "gil held", "thread"),
        ("mini-eventloop", "poll", "task"),
        ("proc-pool", "chunk run", "worker"),
    ] {
        let pid = pid_of(runtime);
        assert!(
            kinds[&pid].contains(kind),
            "{runtime} has no {kind:?} events: {:?}",
            kinds[&pid]
        );
        assert!(
            tracks
                .iter()
                .any(|((p, _), name)| *p == pid && name.starts_with(lane)),
            "{runtime} has no {lane} track: {tracks:?}"
        );
    }
    assert!(
        !processes
            .values()
            .any(|name| name.starts_with("sequential")),
        "the baseline records nothing: {processes:?}"
    );
}

/// The timeline is well-formed XML with one section per traced runtime, and each section
/// has one lane per unit of concurrency of its trial: an interpreter thread per worker
/// (`--workers` of them), a task per job (and the one that runs them), a worker per process
/// (the chunks sent to a worker are on its lane).
#[test]
fn the_timeline_is_xml_with_one_lane_per_unit_of_concurrency() {
    let dir = Scratch::new("svg");
    let (trace, timeline) = (dir.path("t.json"), dir.path("t.svg"));
    // Both start methods, so the fork server's pool is traced too.
    traced_cpu_run(&trace, &timeline, &["--start-method", "both"]);
    let text = std::fs::read_to_string(&timeline).expect("the timeline was written");
    let doc = roxmltree::Document::parse(&text).expect("the timeline is XML");
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for trial in doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("trial"))
    {
        let heading = trial
            .children()
            .find(|n| n.attribute("class") == Some("heading"))
            .and_then(|n| n.text())
            .expect("a section has a heading")
            .to_owned();
        let lanes = trial
            .children()
            .filter(|n| n.attribute("class") == Some("lane"))
            .map(|n| {
                n.attribute("data-lane")
                    .expect("a lane has a name")
                    .to_owned()
            })
            .collect();
        sections.insert(heading, lanes);
    }
    let lanes_of = |runtime: &str| -> Vec<String> {
        sections
            .iter()
            .find(|(heading, _)| heading.starts_with(&format!("{runtime} · cpu")))
            .map(|(_, lanes)| lanes.clone())
            .unwrap_or_else(|| panic!("no {runtime} section in {sections:?}"))
    };
    let count =
        |lanes: &[String], prefix: &str| lanes.iter().filter(|l| l.starts_with(prefix)).count();

    let threads = lanes_of("gil-threads");
    assert_eq!(count(&threads, "thread"), WORKERS, "{threads:?}");
    // The jobs' tasks and the future that runs them (`block_on`'s, task 0); the loop's own
    // lane only if it waited in the poller, which CPU-bound tasks need not.
    let tasks = lanes_of("mini-eventloop");
    assert_eq!(count(&tasks, "task"), TASKS + 1, "{tasks:?}");
    assert!(count(&tasks, "event loop") <= 1, "{tasks:?}");
    for pool in ["proc-pool", "proc-pool-forkserver"] {
        let workers = lanes_of(pool);
        assert_eq!(count(&workers, "worker"), WORKERS, "{pool}: {workers:?}");
        assert_eq!(workers.len(), WORKERS, "{pool}: {workers:?}");
    }
    // The loop with a pool: `cpu` offloads nothing, so only its tasks have lanes.
    let combined = lanes_of("mini-eventloop+proc-pool");
    assert_eq!(count(&combined, "task"), TASKS + 1, "{combined:?}");
    assert_eq!(sections.len(), 5, "{sections:?}");

    // The window asked for (1e9 ms) is longer than every trial, so it is cut to the longest
    // one, as the trace of the same trials measures it (its ends, in µs from each trial's
    // first event).
    let title = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("title"))
        .and_then(|n| n.text())
        .expect("a title");
    let drawn_ms: f64 = title
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no window in {title:?}"));
    let json = std::fs::read_to_string(&trace).expect("the trace was written");
    let json: serde_json::Value = serde_json::from_str(&json).expect("the trace is JSON");
    let longest_us = json["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .iter()
        .filter(|e| e["ph"] != "M")
        .map(|e| e["ts"].as_f64().unwrap_or(0.0) + e["dur"].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max);
    assert!(
        (drawn_ms - longest_us / 1_000.0).abs() < 0.002,
        "{title:?}, longest trial {longest_us} µs"
    );
}

/// An unwritable `--trace` path fails the run after the results are printed, and the
/// timeline is still written.
#[test]
fn an_unwritable_trace_is_a_reported_problem() {
    let dir = Scratch::new("bad");
    let timeline = dir.path("t.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args([
            "--workload",
            "cpu",
            "--scale",
            "0.01",
            "--repeat",
            "1",
            "--tasks",
            "2",
        ])
        .args(["--skip-memory", "--runtime", "mini-eventloop"])
        .args(["--trace", "/nonexistent-directory/t.json", "--timeline"])
        .arg(&timeline)
        .output()
        .expect("the compare program starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("trace not written"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("mini-eventloop"));
    let svg = std::fs::read_to_string(&timeline).expect("the timeline was still written");
    roxmltree::Document::parse(&svg).expect("the timeline is XML");
}

/// On the loop with a pool, an offloading workload's trace shows both halves on one time
/// axis: polls on the loop's tasks and the offloaded parts run as chunks on the workers.
#[test]
fn the_loop_with_a_pool_shows_polls_and_offloaded_chunks() {
    let dir = Scratch::new("offload");
    let (trace, timeline) = (dir.path("t.json"), dir.path("t.svg"));
    let (tasks, workers) = (TASKS.to_string(), WORKERS.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args([
            "--workload",
            "cpu-io",
            "--runtime",
            "mini-eventloop+proc-pool",
        ])
        .args(["--scale", "0.01", "--repeat", "1", "--skip-memory"])
        .args(["--tasks", &tasks, "--workers", &workers])
        .arg("--trace")
        .arg(&trace)
        .arg("--timeline")
        .arg(&timeline)
        .output()
        .expect("the compare program starts");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).expect("the trace was written");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
    let names: BTreeSet<&str> = doc["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .iter()
        .filter(|e| e["ph"] == "X")
        .filter_map(|e| e["name"].as_str())
        .collect();
    for kind in ["poll", "chunk run"] {
        assert!(names.contains(kind), "no {kind:?} span in {names:?}");
    }
}

/// A traced trial runs the jobs its row's measured trials ran: where a row is measured on a
/// sample (a pool working through uniform jobs in turn), so is its traced trial, so `--trace`
/// never runs the full count that the row was spared (at `--scale 10`, minutes past
/// `--trial-timeout`, failing a run whose every row passed).
#[test]
fn a_sampled_row_is_traced_on_its_sample() {
    let dir = Scratch::new("sampled");
    let trace = dir.path("t.json");
    let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args(["--workload", "sleep", "--runtime", "proc-pool"])
        .args(["--tasks", "60", "--workers", "2", "--repeat", "1"])
        .args(["--skip-memory", "--json", "--trace"])
        .arg(&trace)
        .output()
        .expect("the compare program starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the report is JSON");
    let ran = report["results"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["runtime"] == "proc-pool")
        .and_then(|r| r["ran_tasks"].as_u64())
        .expect("the proc-pool row says how many jobs it ran");
    assert!(ran < 60, "the row was not sampled: {ran}");
    let text = std::fs::read_to_string(&trace).expect("the trace was written");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
    let chunks = doc["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .iter()
        .filter(|e| e["name"] == "chunk run")
        .count();
    assert_eq!(chunks as u64, ran, "one chunk run per job of the sample");
}

/// `--trace` or `--timeline` asked of runtimes none of which records (the baseline alone) is a
/// usage error, status 2 before anything runs, not an empty file and status 0.
#[test]
fn tracing_only_runtimes_that_record_nothing_is_a_usage_error() {
    let dir = Scratch::new("nothing");
    for flag in ["--trace", "--timeline"] {
        let file = dir.path("out");
        let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
            .args([
                "--workload",
                "cpu",
                "--runtime",
                "sequential",
                "--tasks",
                "1",
            ])
            .args(["--scale", "0.01", "--repeat", "1", "--skip-memory", flag])
            .arg(&file)
            .output()
            .expect("the compare program starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("record nothing"), "{flag}: {stderr}");
        assert!(out.stdout.is_empty(), "{flag}: nothing runs");
        assert!(!file.exists(), "{flag}: no file written");
    }
}

/// Two of `--svg`, `--trace` and `--timeline` naming one file (also as `./name` and `name`)
/// is a usage error, status 2 before anything runs: before, the timeline silently replaced the
/// trace, with status 0.
#[test]
fn two_outputs_naming_one_file_is_a_usage_error() {
    let dir = Scratch::new("same");
    let file = dir.path("out");
    let dotted = dir.0.join(".").join("out");
    for (first, second) in [("--trace", "--timeline"), ("--svg", "--trace")] {
        let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
            .args([
                "--workload",
                "cpu",
                "--runtime",
                "mini-eventloop",
                "--tasks",
                "1",
            ])
            .args(["--scale", "0.01", "--repeat", "1", "--skip-memory", first])
            .arg(&file)
            .arg(second)
            .arg(&dotted)
            .output()
            .expect("the compare program starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{first} {second}: {stderr}");
        assert!(stderr.contains("name the same file"), "{stderr}");
        assert!(!file.exists(), "{first} {second}: nothing written");
    }
}

/// A traced trial that outlives `--trial-timeout` is killed and reported as a problem (status
/// 1, after the rows are printed), and the files are still written, valid, with what the
/// other trials recorded (here none): the module's promise for a failed traced trial.
#[test]
fn a_traced_trial_past_the_timeout_is_a_problem_and_the_files_are_still_written() {
    let dir = Scratch::new("timeout");
    let (trace, timeline) = (dir.path("t.json"), dir.path("t.svg"));
    let out = Command::new(env!("CARGO_BIN_EXE_concurrency"))
        .args([
            "--workload",
            "cpu",
            "--runtime",
            "mini-eventloop",
            "--tasks",
            "1",
        ])
        .args(["--scale", "0.01", "--repeat", "1", "--skip-memory"])
        // No process starts, runs and answers within a nanosecond.
        .args(["--trial-timeout", "1e-9", "--trace"])
        .arg(&trace)
        .arg("--timeline")
        .arg(&timeline)
        .output()
        .expect("the compare program starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("traced cpu on mini-eventloop: timed out"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mini-eventloop"));
    let json = std::fs::read_to_string(&trace).expect("the trace was written");
    let json: serde_json::Value = serde_json::from_str(&json).expect("the trace is JSON");
    assert_eq!(json["traceEvents"].as_array().map(Vec::len), Some(0));
    let svg = std::fs::read_to_string(&timeline).expect("the timeline was written");
    roxmltree::Document::parse(&svg).expect("the timeline is XML");
}
