//! The verdict: per workload, which runtime won and by how much, next to what the rule of
//! thumb predicts, saying plainly where the two disagree and why that can happen.
//!
//! A winner is named only when its slowest trial beat every other runtime's fastest trial,
//! the sequential baseline's included (the min-max ranges do not overlap); otherwise the
//! result is a tie between the runtimes whose ranges overlap the best one's. A runtime that
//! does not beat sequential wins nothing: if the baseline is fastest, or tied with the
//! fastest, the verdict says no runtime beats it. Failed or wrong rows take no part, and
//! without a correct baseline there is no verdict. Speedups are ratios to the baseline's
//! median.

use crate::report::{Row, speedup};
use crate::runtime::{Family, RuntimeKind};
use crate::workload::WorkloadKind;

/// The fewest trials per runtime for which a winner may be named: a single trial has no
/// min-max range to compare.
const MIN_TRIALS: usize = 2;

/// What the rule of thumb predicts for a workload, and why a measurement may disagree.
struct Rule {
    /// The model the rule names, if it names one (for CPython: its counterpart; for the
    /// process pool: either start method).
    predicts: Option<RuntimeKind>,
    /// The rule's own words.
    says: &'static str,
    /// Why this machine and these implementations may not follow it, for the models and for
    /// CPython.
    caveat: [&'static str; 2],
}

fn rule(workload: WorkloadKind) -> Rule {
    match workload {
        WorkloadKind::Cpu => Rule {
            predicts: Some(RuntimeKind::ProcPool),
            says: "CPU bound -> processes",
            caveat: ["with one core, or jobs too small to pay for sending them to a worker, \
                 processes cannot win"; 2],
        },
        WorkloadKind::Sleep | WorkloadKind::SlowIo => Rule {
            predicts: Some(RuntimeKind::MiniEventloop),
            says: "slow I/O, many connections -> event loop",
            caveat: [
                "Rust threads are cheap: a few thousand of them waiting cost little more \
                 than tasks, so threads often tie with the loop until memory runs out",
                "a waiting CPython thread holds no GIL and costs little CPU: a few thousand \
                 of them tie with the loop until memory runs out",
            ],
        },
        WorkloadKind::FastIo => Rule {
            predicts: Some(RuntimeKind::GilThreads),
            says: "fast I/O, few connections -> threads",
            caveat: [
                "with few connections every model spends its time in the same system \
                 calls, so a tie is the expected outcome; the loop may even win by \
                 avoiding GIL hand-offs",
                "with few connections the interpreter's cost per event decides: threads pay \
                 a GIL hand-off per blocking call, the loop pays its own Python-level \
                 bookkeeping per event",
            ],
        },
        WorkloadKind::CpuIo => Rule {
            predicts: Some(RuntimeKind::MiniEventloopProcPool),
            says: "CPU work and many slow connections -> event loop + process pool",
            caveat: [
                "with one core, or CPU parts too small to pay for sending them to a worker, \
                 a pool beside the loop gains nothing over the loop or the threads alone",
                "each offloaded part costs CPython a pickled call and a hand-off between the \
                 loop, the executor's thread and a worker, which small parts do not repay",
            ],
        },
        WorkloadKind::Mixed | WorkloadKind::Idle => Rule {
            predicts: None,
            says: "no rule: some CPU, some waiting",
            caveat: [""; 2],
        },
    }
}

/// Whether `runtime` is what the rule's `predicted` model names: that model or its CPython
/// counterpart, and for the process pool either start method (the combined runtime's pool is
/// not the rule's "processes": it runs only the parts jobs offload).
fn fits(runtime: RuntimeKind, predicted: RuntimeKind) -> bool {
    runtime.model() == predicted || (runtime.is_process_pool() && predicted.is_process_pool())
}

/// Who came out in front of one workload in one family.
#[derive(Debug, Clone, PartialEq)]
pub enum Front {
    /// Fewer than [`MIN_TRIALS`] trials: only the fastest median, named provisionally.
    Leads(RuntimeKind),
    /// A clear winner that beats the baseline.
    Wins(RuntimeKind),
    /// A tie between runtimes that beat the baseline.
    Tie(Vec<RuntimeKind>),
    /// No runtime clearly beats the baseline (named).
    Baseline(RuntimeKind),
}

impl Front {
    /// The models in front (CPython runtimes as their models), for comparing families.
    fn models(&self) -> Vec<RuntimeKind> {
        let mut models: Vec<RuntimeKind> = match self {
            Front::Leads(r) | Front::Wins(r) => vec![r.model()],
            Front::Tie(rs) => rs.iter().map(|r| r.model()).collect(),
            Front::Baseline(_) => vec![RuntimeKind::Sequential],
        };
        models.sort();
        models
    }

    fn describe(&self) -> String {
        match self {
            Front::Leads(r) => format!("{} leads (too few trials to name a winner)", r.name()),
            Front::Wins(r) => format!("{} wins", r.name()),
            Front::Tie(rs) => format!(
                "tie between {}",
                rs.iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Front::Baseline(base) => format!("no runtime beats {}", base.name()),
        }
    }
}

/// One workload's verdict in one family.
pub struct Verdict {
    /// Which workload.
    pub workload: WorkloadKind,
    /// Who came out in front.
    pub front: Front,
    /// The line printed for it.
    pub line: String,
}

/// The verdict lines for `family`'s rows, one per workload that ran more than the baseline.
pub fn lines(rows: &[Row], family: Family) -> Vec<String> {
    verdicts(rows, family).into_iter().map(|v| v.line).collect()
}

/// The verdicts of `family`'s rows, one per workload that ran more than the baseline.
pub fn verdicts(rows: &[Row], family: Family) -> Vec<Verdict> {
    let mut workloads: Vec<WorkloadKind> = rows.iter().map(|r| r.workload).collect();
    workloads.dedup();
    workloads
        .into_iter()
        .filter_map(|w| {
            verdict(
                w,
                family,
                rows.iter()
                    .filter(|r| r.workload == w && r.runtime.family() == family),
            )
        })
        .collect()
}

/// One line per workload with both verdicts: whether the models and CPython put the same
/// runtimes in front, and where not, the figures that say why.
pub fn comparisons(rows: &[Row]) -> Vec<String> {
    let cpython = verdicts(rows, Family::Cpython);
    verdicts(rows, Family::Model)
        .into_iter()
        .filter_map(|model| {
            let real = cpython.iter().find(|v| v.workload == model.workload)?;
            let head = format!(
                "{:<8} models: {}; CPython: {}",
                model.workload.name(),
                model.front.describe(),
                real.front.describe()
            );
            let provisional =
                matches!(model.front, Front::Leads(_)) || matches!(real.front, Front::Leads(_));
            let head = if provisional {
                format!("{head} (provisional)")
            } else {
                head
            };
            if model.front.models() == real.front.models() {
                return Some(format!("{head} - the same."));
            }
            Some(format!(
                "{head} - DIFFERENT: {}.",
                why_different(rows, &model, real)
            ))
        })
        .collect()
}

/// The figures behind two different verdicts: for each runtime in front on one side only,
/// its speedup, and how busy it kept its CPU, on both sides.
fn why_different(rows: &[Row], model: &Verdict, real: &Verdict) -> String {
    let (ms, cs) = (model.front.models(), real.front.models());
    let mut differing: Vec<RuntimeKind> = ms
        .iter()
        .filter(|r| !cs.contains(r))
        .chain(cs.iter().filter(|r| !ms.contains(r)))
        .copied()
        .filter(|&r| r != RuntimeKind::Sequential)
        .collect();
    differing.dedup();
    let find = |kind: RuntimeKind| {
        rows.iter()
            .find(|r| r.workload == model.workload && r.runtime == kind && r.all_correct())
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let figures: Vec<String> = differing
        .iter()
        .filter_map(|&kind| {
            let (m, c) = (find(kind)?, find(kind.counterpart())?);
            Some(pair_figures(rows, m, c, cores))
        })
        .collect();
    if figures.is_empty() {
        return "the runtimes in front differ (no figures to compare: a row failed)".to_owned();
    }
    figures.join("; ")
}

/// A row at least this busy (percent of the cores it can use) is bound by its CPU. Well
/// below 100: on a machine shared with other work, a CPU-bound row gets only part of a core.
const CPU_BOUND_PERCENT: f64 = 60.0;

/// A model's row `m` beside its CPython counterpart `c`: speedups, how busy each kept the
/// cores it can use, CPU per job, and what those figures say.
fn pair_figures(rows: &[Row], m: &Row, c: &Row, cores: usize) -> String {
    // One interpreter lock or one loop thread: one core; a pool: a core per worker.
    let busy = |r: &Row| {
        let lanes = if r.runtime.forks_processes() {
            r.sample.workers.clamp(1, cores)
        } else {
            1
        };
        100.0 * r.cpu() / (r.wall().median * lanes as f64).max(f64::MIN_POSITIVE)
    };
    let per_job = |r: &Row| r.cpu() / r.sample.tasks.max(1) as f64;
    let ratio = per_job(c) / per_job(m).max(f64::MIN_POSITIVE);
    let (busy_m, busy_c) = (busy(m), busy(c));
    let reading = reading(m.runtime.name(), c.runtime.name(), busy_m, busy_c, ratio);
    format!(
        "{} {:.2}x vs {} {:.2}x over their own sequential, busy {:.0}% vs {:.0}% of the \
         cores they can use, CPU per job {} vs {}: {reading}",
        m.runtime.name(),
        speedup(rows, m).unwrap_or(f64::NAN),
        c.runtime.name(),
        speedup(rows, c).unwrap_or(f64::NAN),
        busy_m,
        busy_c,
        per_job_text(per_job(m)),
        per_job_text(per_job(c)),
    )
}

/// What the busy shares of model `m` and CPython `c` say about their difference; `ratio` is
/// CPython's CPU per job over the model's. One sentence for each of the four cases.
fn reading(m: &str, c: &str, busy_m: f64, busy_c: f64, ratio: f64) -> String {
    match (busy_m >= CPU_BOUND_PERCENT, busy_c >= CPU_BOUND_PERCENT) {
        (false, true) => format!(
            "{c} is bound by the interpreter's CPU ({ratio:.0}x the model's per job) where {m} \
             mostly waits"
        ),
        (true, true) => format!(
            "both are CPU-bound, CPython at {ratio:.0}x the model's CPU per job, so what each \
             does per unit of work (hand-offs, yields, sending jobs) weighs differently"
        ),
        (true, false) => format!(
            "{m} is CPU-bound where {c} mostly waits (at {ratio:.0}x the model's CPU per job): \
             CPython's time goes to waits the model does not have (start-up, hand-offs, the \
             interpreter lock), or to the machine's load (see the min-max ranges)"
        ),
        (false, false) => "neither is CPU-bound: the difference is in how the waits overlap, \
             or in the machine's load (see the min-max ranges)"
            .to_owned(),
    }
}

/// A CPU time per job in the unit that suits it.
fn per_job_text(seconds: f64) -> String {
    if seconds >= 0.1 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-4 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.1} us", seconds * 1e6)
    }
}

fn verdict<'a>(
    workload: WorkloadKind,
    family: Family,
    rows: impl Iterator<Item = &'a Row>,
) -> Option<Verdict> {
    let rows: Vec<&Row> = rows.collect();
    let baseline_kind = match family {
        Family::Model => RuntimeKind::Sequential,
        Family::Cpython => RuntimeKind::CpythonSequential,
    };
    let base = rows
        .iter()
        .find(|r| r.runtime == baseline_kind)
        .filter(|r| r.all_correct())?;
    let baseline = base.wall().median;
    // Every correct row competes, the baseline included: a winner must beat it too.
    let field: Vec<&Row> = rows.iter().copied().filter(|r| r.all_correct()).collect();
    let contenders: Vec<&Row> = field
        .iter()
        .copied()
        .filter(|r| r.runtime != baseline_kind)
        .collect();
    if contenders.is_empty() {
        return None;
    }
    let best = field
        .iter()
        .min_by(|a, b| a.wall().median.total_cmp(&b.wall().median))?;
    let speedup = |r: &Row| baseline / r.wall().median.max(f64::MIN_POSITIVE);
    let tied: Vec<&Row> = field
        .iter()
        .copied()
        .filter(|r| r.runtime != best.runtime && r.wall().min <= best.wall().max)
        .collect();
    let baseline_in_front =
        best.runtime == baseline_kind || tied.iter().any(|r| r.runtime == baseline_kind);

    let figures = contenders
        .iter()
        .map(|r| format!("{} {:.2}x", r.runtime.name(), speedup(r)))
        .collect::<Vec<_>>()
        .join(", ");
    // One trial has no spread, so no range can be said not to overlap.
    let too_few_trials = field.iter().any(|r| r.trials.len() < MIN_TRIALS);
    let mut front_rows = vec![best.runtime];
    front_rows.extend(tied.iter().map(|r| r.runtime));
    let names: Vec<&str> = front_rows.iter().map(|r| r.name()).collect();
    let (front, outcome) = if too_few_trials {
        (
            Front::Leads(best.runtime),
            format!(
                "{} leads, but with fewer than {MIN_TRIALS} trials per runtime no winner is named",
                best.runtime.name()
            ),
        )
    } else if baseline_in_front {
        let outcome = if tied.is_empty() {
            format!("no runtime beats {}", baseline_kind.name())
        } else {
            format!(
                "no runtime clearly beats {} (tie between {})",
                baseline_kind.name(),
                names.join(" and ")
            )
        };
        (Front::Baseline(baseline_kind), outcome)
    } else if tied.is_empty() {
        (
            Front::Wins(best.runtime),
            format!("{} wins", best.runtime.name()),
        )
    } else {
        (
            Front::Tie(front_rows.clone()),
            format!("tie between {}", names.join(" and ")),
        )
    };
    let rule = rule(workload);
    let caveat = rule.caveat[usize::from(family == Family::Cpython)];
    let named = |predicted: RuntimeKind| match family {
        Family::Model => predicted.name(),
        Family::Cpython => predicted.counterpart().name(),
    };
    let agreement = match rule.predicts {
        None => String::new(),
        Some(_) if too_few_trials => String::new(),
        // A row that ran and failed is in the table as failed: say so, not "not run".
        Some(predicted) if !contenders.iter().any(|r| fits(r.runtime, predicted)) => {
            let ran = rows.iter().any(|r| fits(r.runtime, predicted));
            let what = if ran { "failed" } else { "was not run" };
            format!(" - {} {what}.", named(predicted))
        }
        Some(predicted) if baseline_in_front => format!(
            " - DISAGREES: {} does not beat {} here; {caveat}.",
            named(predicted),
            baseline_kind.name(),
        ),
        Some(predicted) if fits(best.runtime, predicted) && tied.is_empty() => {
            " - agrees.".to_owned()
        }
        Some(predicted)
            if fits(best.runtime, predicted) || tied.iter().any(|r| fits(r.runtime, predicted)) =>
        {
            format!(" - agrees only as a tie: {caveat}.")
        }
        Some(_) => format!(" - DISAGREES: {caveat}."),
    };
    Some(Verdict {
        workload,
        front,
        line: format!(
            "{:<8} {outcome} (speedup over {}: {figures}); rule of thumb: {}{agreement}",
            workload.name(),
            baseline_kind.name(),
            rule.says
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;
    use crate::trial::TrialReport;

    /// A row of `workload` on `runtime` whose trials took `walls` seconds.
    fn row(workload: WorkloadKind, runtime: RuntimeKind, walls: &[f64]) -> Row {
        let sample = Sample {
            tasks: 4,
            ran: 4,
            workers: 1,
        };
        let mut row = Row::new(workload, runtime, sample);
        row.trials = walls
            .iter()
            .map(|&wall_s| TrialReport {
                wall_s,
                fixed_s: 0.0,
                cpu_s: wall_s,
                fixed_cpu_s: 0.0,
                peak_rss_kib: 1_024,
                correct: 4,
                first_failure: None,
            })
            .collect();
        row
    }

    fn only_line(rows: &[Row]) -> String {
        let lines = lines(rows, Family::Model);
        assert_eq!(lines.len(), 1, "{lines:?}");
        lines.into_iter().next().unwrap_or_default()
    }

    /// Separate ranges name a winner, and the rule's pick winning is an agreement.
    #[test]
    fn clear_winner_agrees_with_the_rule() {
        let w = WorkloadKind::Cpu;
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0, 2.1, 2.2]),
            row(w, RuntimeKind::GilThreads, &[2.0, 2.1, 2.3]),
            row(w, RuntimeKind::ProcPool, &[1.0, 1.1, 1.2]),
        ]);
        assert!(line.contains("proc-pool wins"), "{line}");
        assert!(line.contains("proc-pool 1.91x"), "{line}"); // 2.1 / 1.1: medians
        assert!(line.ends_with("agrees."), "{line}");
    }

    /// cpu-io's rule names the combined runtime: it winning agrees, a single model winning
    /// disagrees; and the combined runtime's pool is not the cpu rule's "processes".
    #[test]
    fn cpu_io_rule_names_the_loop_with_a_pool() {
        let w = WorkloadKind::CpuIo;
        let wins = only_line(&[
            row(w, RuntimeKind::Sequential, &[20.0, 20.0]),
            row(w, RuntimeKind::GilThreads, &[1.4, 1.5]),
            row(w, RuntimeKind::MiniEventloop, &[1.3, 1.4]),
            row(w, RuntimeKind::ProcPool, &[10.0, 10.1]),
            row(w, RuntimeKind::MiniEventloopProcPool, &[0.7, 0.8]),
        ]);
        assert!(wins.contains("mini-eventloop+proc-pool wins"), "{wins}");
        assert!(
            wins.contains("CPU work and many slow connections -> event loop + process pool"),
            "{wins}"
        );
        assert!(wins.ends_with("agrees."), "{wins}");
        let loses = only_line(&[
            row(w, RuntimeKind::Sequential, &[20.0, 20.0]),
            row(w, RuntimeKind::MiniEventloop, &[0.5, 0.6]),
            row(w, RuntimeKind::MiniEventloopProcPool, &[0.9, 1.0]),
        ]);
        assert!(loses.contains("DISAGREES"), "{loses}");
        let cpu = only_line(&[
            row(WorkloadKind::Cpu, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(WorkloadKind::Cpu, RuntimeKind::ProcPool, &[1.5, 1.5]),
            row(
                WorkloadKind::Cpu,
                RuntimeKind::MiniEventloopProcPool,
                &[1.0, 1.0],
            ),
        ]);
        assert!(cpu.contains("DISAGREES"), "{cpu}");
    }

    /// Overlapping ranges are a tie, never a winner, however far apart the medians are.
    #[test]
    fn overlapping_ranges_are_a_tie() {
        let w = WorkloadKind::FastIo;
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(w, RuntimeKind::GilThreads, &[1.0, 1.5, 1.6]),
            row(w, RuntimeKind::MiniEventloop, &[1.2, 1.3, 1.4]),
        ]);
        assert!(line.contains("tie between"), "{line}");
        assert!(line.contains("agrees only as a tie"), "{line}");
    }

    /// A clear winner other than the rule's pick is reported as a disagreement, with why.
    #[test]
    fn other_winner_disagrees() {
        let w = WorkloadKind::SlowIo;
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[10.0, 10.0]),
            row(w, RuntimeKind::GilThreads, &[0.1, 0.1, 0.1]),
            row(w, RuntimeKind::MiniEventloop, &[0.5, 0.6, 0.7]),
        ]);
        assert!(line.contains("gil-threads wins"), "{line}");
        assert!(line.contains("DISAGREES"), "{line}");
    }

    /// One trial per runtime is too few to name a winner, however far apart they are.
    #[test]
    fn one_trial_names_no_winner() {
        let w = WorkloadKind::Cpu;
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0]),
            row(w, RuntimeKind::GilThreads, &[2.0]),
            row(w, RuntimeKind::ProcPool, &[1.0]),
        ]);
        assert!(line.contains("proc-pool leads"), "{line}");
        assert!(!line.contains("wins") && !line.contains("agrees"), "{line}");
    }

    /// A runtime that gave wrong results cannot win.
    #[test]
    fn wrong_results_do_not_win() {
        let w = WorkloadKind::Cpu;
        let mut wrong = row(w, RuntimeKind::ProcPool, &[0.1, 0.1]);
        wrong.trials[0].first_failure = Some("job 0: expected 1, got 2".to_owned());
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(w, RuntimeKind::GilThreads, &[1.9, 1.9]),
            wrong,
        ]);
        assert!(line.contains("gil-threads wins"), "{line}");
    }

    /// A runtime slower than sequential never wins, even when it beats every other runtime
    /// clearly, and the rule's pick losing to the baseline is a disagreement.
    #[test]
    fn a_winner_must_beat_sequential() {
        let w = WorkloadKind::Cpu;
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[1.0, 1.0, 1.0]),
            row(w, RuntimeKind::GilThreads, &[3.0, 3.0, 3.1]),
            row(w, RuntimeKind::ProcPool, &[2.0, 2.0, 2.1]),
        ]);
        assert!(line.contains("no runtime beats sequential"), "{line}");
        assert!(
            !line.contains("wins") && !line.contains("agrees."),
            "{line}"
        );
        assert!(line.contains("DISAGREES"), "{line}");
    }

    /// A runtime whose range overlaps the baseline's is a tie with it, not a winner.
    #[test]
    fn a_tie_with_sequential_is_no_win() {
        let w = WorkloadKind::Cpu;
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[1.0, 1.1, 1.2]),
            row(w, RuntimeKind::ProcPool, &[0.9, 0.95, 1.05]),
        ]);
        assert!(
            line.contains("no runtime clearly beats sequential"),
            "{line}"
        );
        assert!(!line.contains("proc-pool wins"), "{line}");
    }

    /// A failed row takes no part, and a failed baseline leaves no verdict at all.
    #[test]
    fn failed_rows_take_no_part() {
        let w = WorkloadKind::Cpu;
        let failed = row(w, RuntimeKind::ProcPool, &[0.1, 0.1]).failed("killed".to_owned());
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(w, RuntimeKind::GilThreads, &[1.0, 1.0]),
            failed,
        ]);
        assert!(line.contains("gil-threads wins"), "{line}");
        assert!(!line.contains("proc-pool 20"), "{line}");
        let no_base = row(w, RuntimeKind::Sequential, &[]).failed("timed out".to_owned());
        assert!(
            lines(
                &[no_base, row(w, RuntimeKind::GilThreads, &[1.0, 1.0])],
                Family::Model
            )
            .is_empty()
        );
    }

    /// The rule's runtime that ran and failed is named as failed, not as "not run": the
    /// table shows its row, and the verdict must not contradict it.
    #[test]
    fn a_failed_predicted_row_is_not_called_not_run() {
        let w = WorkloadKind::CpuIo;
        let failed =
            row(w, RuntimeKind::MiniEventloopProcPool, &[0.1, 0.1]).failed("killed".to_owned());
        let line = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(w, RuntimeKind::MiniEventloop, &[1.0, 1.0]),
            failed,
        ]);
        assert!(!line.contains("was not run"), "{line}");
        assert!(line.ends_with("mini-eventloop+proc-pool failed."), "{line}");
        let absent = only_line(&[
            row(w, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(w, RuntimeKind::MiniEventloop, &[1.0, 1.0]),
        ]);
        assert!(
            absent.ends_with("mini-eventloop+proc-pool was not run."),
            "{absent}"
        );
    }

    /// Both families putting the same model in front is "the same"; a different front is
    /// "DIFFERENT" with the figures of the runtimes in question.
    /// Each combination of busy shares gets its own, true sentence: a model at 75% beside
    /// CPython at 45% is not "neither is CPU-bound".
    #[test]
    fn each_busy_combination_reads_true() {
        let read = |m, c| reading("proc-pool", "cpython-processes", m, c, 17.0);
        let model_bound = read(75.0, 45.0);
        assert!(
            model_bound.starts_with("proc-pool is CPU-bound where cpython-processes mostly waits"),
            "{model_bound}"
        );
        assert!(!model_bound.contains("neither"), "{model_bound}");
        assert!(
            read(45.0, 75.0).starts_with("cpython-processes is bound by the interpreter's CPU"),
            "{}",
            read(45.0, 75.0)
        );
        assert!(read(75.0, 75.0).starts_with("both are CPU-bound"));
        assert!(read(45.0, 45.0).starts_with("neither is CPU-bound"));
        // The threshold itself counts as bound, on either side.
        assert!(read(CPU_BOUND_PERCENT, CPU_BOUND_PERCENT).starts_with("both"));
    }

    #[test]
    fn comparisons_name_differences_with_figures() {
        let w = WorkloadKind::FastIo;
        let mut rows = vec![
            row(w, RuntimeKind::Sequential, &[2.0, 2.0]),
            row(w, RuntimeKind::MiniEventloop, &[1.0, 1.0]),
            row(w, RuntimeKind::CpythonSequential, &[4.0, 4.0]),
            row(w, RuntimeKind::CpythonAsyncio, &[2.0, 2.0]),
        ];
        let same = comparisons(&rows);
        assert_eq!(same.len(), 1, "{same:?}");
        assert!(same[0].ends_with("the same."), "{same:?}");

        rows[3] = row(w, RuntimeKind::CpythonAsyncio, &[8.0, 8.0]);
        let line = comparisons(&rows).join("");
        assert!(
            line.contains("CPython: no runtime beats cpython-sequential"),
            "{line}"
        );
        assert!(line.contains("DIFFERENT"), "{line}");
        assert!(
            line.contains("mini-eventloop 2.00x vs cpython-asyncio 0.50x"),
            "{line}"
        );
        // The rows' trials are all CPU (cpu_s = wall_s): CPython's loop is CPU-bound.
        assert!(line.contains("both are CPU-bound"), "{line}");
    }
}
