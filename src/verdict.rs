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

use crate::report::Row;
use crate::runtime::RuntimeKind;
use crate::workload::WorkloadKind;

/// The fewest trials per runtime for which a winner may be named: a single trial has no
/// min-max range to compare.
const MIN_TRIALS: usize = 2;

/// What the rule of thumb predicts for a workload, and why a measurement may disagree.
struct Rule {
    /// The runtime the rule names, if it names one.
    predicts: Option<RuntimeKind>,
    /// The rule's own words.
    says: &'static str,
    /// Why this machine and these implementations may not follow it.
    caveat: &'static str,
}

fn rule(workload: WorkloadKind) -> Rule {
    match workload {
        WorkloadKind::Cpu => Rule {
            predicts: Some(RuntimeKind::ProcPool),
            says: "CPU bound -> processes",
            caveat: "with one core, or jobs too small to pay for sending them to a worker, \
                     processes cannot win",
        },
        WorkloadKind::Sleep | WorkloadKind::SlowIo => Rule {
            predicts: Some(RuntimeKind::MiniEventloop),
            says: "slow I/O, many connections -> event loop",
            caveat: "Rust threads are cheap: a few thousand of them waiting cost little more \
                     than tasks, so threads often tie with the loop until memory runs out",
        },
        WorkloadKind::FastIo => Rule {
            predicts: Some(RuntimeKind::GilThreads),
            says: "fast I/O, few connections -> threads",
            caveat: "with few connections every model spends its time in the same system \
                     calls, so a tie is the expected outcome; the loop may even win by \
                     avoiding GIL hand-offs",
        },
        WorkloadKind::Mixed | WorkloadKind::Idle => Rule {
            predicts: None,
            says: "no rule: some CPU, some waiting",
            caveat: "",
        },
    }
}

/// The verdict lines for `rows`, one per workload that ran more than the baseline.
pub fn lines(rows: &[Row]) -> Vec<String> {
    let mut workloads: Vec<WorkloadKind> = rows.iter().map(|r| r.workload).collect();
    workloads.dedup();
    workloads
        .into_iter()
        .filter_map(|w| verdict(w, rows.iter().filter(|r| r.workload == w)))
        .collect()
}

fn verdict<'a>(workload: WorkloadKind, rows: impl Iterator<Item = &'a Row>) -> Option<String> {
    let rows: Vec<&Row> = rows.collect();
    let base = rows
        .iter()
        .find(|r| r.runtime == RuntimeKind::Sequential)
        .filter(|r| r.all_correct())?;
    let baseline = base.wall().median;
    // Every correct row competes, the baseline included: a winner must beat it too.
    let field: Vec<&Row> = rows.iter().copied().filter(|r| r.all_correct()).collect();
    let contenders: Vec<&Row> = field
        .iter()
        .copied()
        .filter(|r| r.runtime != RuntimeKind::Sequential)
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
    let baseline_in_front = best.runtime == RuntimeKind::Sequential
        || tied.iter().any(|r| r.runtime == RuntimeKind::Sequential);

    let figures = contenders
        .iter()
        .map(|r| format!("{} {:.2}x", r.runtime.name(), speedup(r)))
        .collect::<Vec<_>>()
        .join(", ");
    // One trial has no spread, so no range can be said not to overlap.
    let too_few_trials = field.iter().any(|r| r.trials.len() < MIN_TRIALS);
    let mut names = vec![best.runtime.name()];
    names.extend(tied.iter().map(|r| r.runtime.name()));
    let outcome = if too_few_trials {
        format!(
            "{} leads, but with fewer than {MIN_TRIALS} trials per runtime no winner is named",
            best.runtime.name()
        )
    } else if baseline_in_front {
        if tied.is_empty() {
            "no runtime beats sequential".to_owned()
        } else {
            format!(
                "no runtime clearly beats sequential (tie between {})",
                names.join(" and ")
            )
        }
    } else if tied.is_empty() {
        format!("{} wins", best.runtime.name())
    } else {
        format!("tie between {}", names.join(" and "))
    };
    let rule = rule(workload);
    let agreement = match rule.predicts {
        None => String::new(),
        Some(_) if too_few_trials => String::new(),
        Some(predicted) if !contenders.iter().any(|r| r.runtime == predicted) => {
            format!(" - {} was not run.", predicted.name())
        }
        Some(predicted) if baseline_in_front => format!(
            " - DISAGREES: {} does not beat sequential here; {}.",
            predicted.name(),
            rule.caveat
        ),
        Some(predicted) if predicted == best.runtime && tied.is_empty() => " - agrees.".to_owned(),
        Some(predicted)
            if predicted == best.runtime || tied.iter().any(|r| r.runtime == predicted) =>
        {
            format!(" - agrees only as a tie: {}.", rule.caveat)
        }
        Some(_) => format!(" - DISAGREES: {}.", rule.caveat),
    };
    Some(format!(
        "{:<8} {outcome} (speedup over sequential: {figures}); rule of thumb: {}{agreement}",
        workload.name(),
        rule.says
    ))
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
        let lines = lines(rows);
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
        assert!(lines(&[no_base, row(w, RuntimeKind::GilThreads, &[1.0, 1.0])]).is_empty());
    }
}
