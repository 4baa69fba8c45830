//! Sampling: which rows may be measured on a sample of their jobs, and how a sample's figures
//! stand for the whole.
//!
//! A runtime that works through jobs in turn (the sequential baseline, a pool of `w` workers
//! that each take the next job when done) would spend minutes on 2,000 slow round trips. On a
//! workload whose jobs all cost the same, such a runtime runs `n` jobs in `ceil(n / w)` equal
//! waves, so its time is
//!
//! ```text
//! wall(n) = fixed + waves(n) * wave        (fixed: forking and reaping the workers)
//! ```
//!
//! The trial reports `fixed` apart, so a sample of whole waves gives `wave` exactly, and the
//! full count's wall time follows with nothing assumed but uniform jobs. CPU time (the trial's
//! and the fixture's) is spent per job, so it is scaled by jobs, not waves, except the part the
//! trial process spent forking and reaping the workers, which the trial reports apart and
//! which is counted once. The workers' own start-up CPU (their first page faults after the
//! fork) cannot be told from their jobs' and is scaled with it. Peak memory is never scaled. Workloads whose jobs differ (`cpu`, `mixed`) are never sampled.
//!
//! Invariant: a sample is whole waves (a multiple of the workers) and smaller than the full
//! count; otherwise the row is measured whole.

use crate::runtime::RuntimeKind;
use crate::workload::WorkloadKind;

/// Jobs a sampled trial runs at least: enough that per-job noise averages out, few enough that
/// 50 ms jobs in a row stay around a second. Rounded up to whole waves of workers.
pub const SAMPLE_TASKS: usize = 20;

/// How a row's trials relate to the row: `ran` of its `tasks` jobs, on `workers` lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Jobs the row stands for.
    pub tasks: usize,
    /// Jobs each trial ran.
    pub ran: usize,
    /// Lanes the jobs ran on.
    pub workers: usize,
}

impl Sample {
    /// The jobs a trial of `tasks` jobs on `runtime` with `workers` runs: a sample of whole
    /// waves where that measures the row exactly, else all of them.
    pub fn plan(
        workload: WorkloadKind,
        runtime: RuntimeKind,
        tasks: usize,
        workers: usize,
    ) -> Sample {
        let workers = workers.max(1);
        let whole_waves = SAMPLE_TASKS.div_ceil(workers).saturating_mul(workers);
        let ran = if runtime.runs_jobs_in_turn() && workload.jobs_are_uniform() {
            whole_waves.min(tasks)
        } else {
            tasks
        };
        Sample {
            tasks,
            ran,
            workers,
        }
    }

    /// Whether the trials ran fewer jobs than the row stands for.
    pub fn is_sampled(self) -> bool {
        self.ran < self.tasks
    }

    /// The wall time of all `tasks` jobs, from a trial's `wall` of which `fixed` was start-up
    /// and shut-down: the waves part scaled by the ratio of waves.
    pub fn wall(self, wall: f64, fixed: f64) -> f64 {
        let waves = |jobs: usize| jobs.div_ceil(self.workers.max(1)) as f64;
        let fixed = fixed.clamp(0.0, wall);
        fixed + (wall - fixed) * waves(self.tasks) / waves(self.ran.max(1))
    }

    /// The CPU time of all `tasks` jobs, from a trial's `cpu` of which `fixed` was start-up
    /// and shut-down: the rest scaled by jobs.
    pub fn cpu(self, cpu: f64, fixed: f64) -> f64 {
        let fixed = fixed.clamp(0.0, cpu);
        fixed + self.per_job(cpu - fixed)
    }

    /// A figure spent per job (CPU time), scaled from `ran` jobs to `tasks`.
    pub fn per_job(self, value: f64) -> f64 {
        value * self.tasks as f64 / self.ran.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: WorkloadKind = WorkloadKind::SlowIo;

    /// A pool of 16 on 2,000 uniform jobs runs 32 (two waves) and scales its wave time by 125
    /// waves over 2, leaving start-up unscaled: the figure a real run gives, not jobs / sample.
    #[test]
    fn pool_rows_scale_by_waves_not_jobs() {
        let s = Sample::plan(SLOW, RuntimeKind::ProcPool, 2_000, 16);
        assert_eq!(s.ran, 32);
        assert!(s.is_sampled());
        // 2 waves of 50 ms after 100 ms of forking: 125 waves take 6.35 s, not 2000/32 x.
        let full = s.wall(0.2, 0.1);
        assert!((full - (0.1 + 0.05 * 125.0)).abs() < 1e-9, "{full}");
    }

    /// Every pool size gets a sample of whole waves, and a partial last wave costs a wave.
    #[test]
    fn samples_are_whole_waves_for_any_pool() {
        for workers in 1..=64 {
            let s = Sample::plan(SLOW, RuntimeKind::ProcPool, 10_000, workers);
            assert_eq!(s.ran % workers, 0, "{workers} workers");
            assert!(s.ran >= SAMPLE_TASKS);
            let one_wave = 1.0 / (s.ran / workers) as f64;
            let expected = 10_000_usize.div_ceil(workers) as f64 * one_wave;
            assert!(
                (s.wall(1.0, 0.0) - expected).abs() < 1e-9,
                "{workers} workers"
            );
        }
    }

    /// A pool's start-up CPU is counted once; the rest is scaled by jobs (the old program
    /// scaled all of it, start-up included).
    #[test]
    fn start_up_cpu_is_not_scaled() {
        let s = Sample::plan(SLOW, RuntimeKind::ProcPool, 2_000, 2);
        assert_eq!(s.ran, SAMPLE_TASKS);
        let full = s.cpu(0.003, 0.001);
        assert!((full - (0.001 + 0.002 * 100.0)).abs() < 1e-9, "{full}");
        assert!((s.cpu(0.001, 0.5) - 0.001).abs() < 1e-12);
    }

    /// The baseline is one lane: waves are jobs.
    #[test]
    fn sequential_scales_by_jobs() {
        let s = Sample::plan(SLOW, RuntimeKind::Sequential, 2_000, 1);
        assert_eq!(s.ran, SAMPLE_TASKS);
        assert!((s.wall(1.0, 0.0) - 100.0).abs() < 1e-9);
        assert!((s.per_job(0.5) - 50.0).abs() < 1e-9);
    }

    /// Workloads of unequal jobs and runtimes that do not run jobs in turn are measured whole,
    /// and so is a row no larger than its sample.
    #[test]
    fn only_uniform_in_turn_rows_are_sampled() {
        for workload in [WorkloadKind::Cpu, WorkloadKind::Mixed] {
            let s = Sample::plan(workload, RuntimeKind::Sequential, 64, 1);
            assert!(!s.is_sampled(), "{workload:?}");
        }
        for runtime in [RuntimeKind::GilThreads, RuntimeKind::MiniEventloop] {
            assert!(!Sample::plan(SLOW, runtime, 2_000, 4).is_sampled());
        }
        let small = Sample::plan(SLOW, RuntimeKind::ProcPool, 24, 16);
        assert_eq!(small.ran, 24);
        assert!(!small.is_sampled());
        assert!((small.wall(1.0, 0.5) - 1.0).abs() < 1e-9);
    }
}
