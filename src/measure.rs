//! What a trial measures, read from the kernel: CPU time from `getrusage`, peak resident
//! memory from `/proc/<pid>/status` (`VmHWM`), another process's CPU time from the
//! nanosecond run times in `/proc/<pid>/task/*/schedstat` (or, where the kernel lacks them,
//! the 10 ms ticks of `/proc/<pid>/stat`, too coarse to scale up from a short sample).
//!
//! Why not `getrusage(RUSAGE_CHILDREN)` for memory: its `ru_maxrss` is the largest peak of any
//! single reaped child, not a sum, so a pool of workers would look as small as one of them.
//! Its CPU times, on the other hand, are sums over every reaped child, which is what we want.

use std::fs;
use std::time::Duration;

/// User plus system CPU time of this process and of every child it has reaped.
pub fn cpu_time_with_children() -> Duration {
    rusage_cpu(libc::RUSAGE_SELF) + rusage_cpu(libc::RUSAGE_CHILDREN)
}

/// User plus system CPU time of this process alone: unlike [`cpu_time_with_children`], it
/// does not jump when a child that ran jobs is reaped.
pub fn cpu_time_self() -> Duration {
    rusage_cpu(libc::RUSAGE_SELF)
}

fn rusage_cpu(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable for the duration of the call.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// The peak resident set (`VmHWM`, in KiB) of `pid`, or of this process for `None`; `None` if
/// the process is gone or the kernel does not report it.
pub fn peak_rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The proportional set size (`Pss`, in KiB) of process `pid` now: its private pages plus its
/// share of pages it shares with others. Summed over forked workers, it counts the pages
/// they share with their parent (copy-on-write after fork) once, where `VmHWM` would count
/// them in every worker. It is a current figure, not a peak: read it while the workers still
/// hold what they used.
pub fn proportional_set_kib(pid: u32) -> Option<u64> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time that process `pid` has used so far: the sum of its live threads' run times, to
/// the nanosecond; threads that already exited are not counted (the fixture's never exit
/// while it serves). Falls back to [`ticked_cpu_time`].
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    threads_run_time(pid).or_else(|| ticked_cpu_time(pid))
}

fn threads_run_time(pid: u32) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let schedstat = fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        let nanos: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
        total += Duration::from_nanos(nanos);
    }
    Some(total)
}

/// User plus system CPU time that process `pid` has used so far, from `/proc/<pid>/stat`, in
/// clock ticks (10 ms on most kernels).
fn ticked_cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after
    // the last ')'. utime and stime are fields 14 and 15, so the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|&t| t > 0)?;
    Some(Duration::from_nanos(
        (utime + stime) * 1_000_000_000 / ticks,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Another process's CPU time has a finer grain than the 10 ms tick, so that a short
    /// sample scaled by 100 does not come out in whole seconds: some burnt CPU reads as a
    /// figure that is not a multiple of 10 ms.
    #[test]
    fn cpu_time_is_finer_than_a_tick() {
        let pid = std::process::id();
        let readings: Vec<Duration> = (0..20)
            .filter_map(|_| {
                let mut x = 0u64;
                for i in 0..200_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                process_cpu_time(pid)
            })
            .collect();
        assert!(
            readings.iter().any(|d| d.as_nanos() % 10_000_000 != 0),
            "{readings:?}"
        );
    }

    /// This process's own figures are readable and plausible.
    #[test]
    fn reads_own_figures() {
        assert!(peak_rss_kib(None).is_some_and(|kib| kib > 0));
        assert!(process_cpu_time(std::process::id()).is_some());
        assert!(ticked_cpu_time(std::process::id()).is_some());
        assert!(proportional_set_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
