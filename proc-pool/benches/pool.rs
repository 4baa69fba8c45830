//! The pool against its peers, measured in the same run (`cargo bench -p proc-pool`):
//!
//! - `round_trip`: one `apply` on an idle pool vs a raw 8-byte pipe ping-pong between two
//!   processes (goal: ≤ 3×);
//! - `map_100k`: 100,000 tiny tasks with chunk size 1 and auto (goal: ≥ 10× and ≥ 1× Python's
//!   `Pool(2)`, which `python3 proc-pool/benches/python_pool.py` measures on the same machine);
//! - `primes`: the shared CPU-bound prime count in coarse chunks: sequential, this pool with 2
//!   workers, rayon with 2 threads (goal: ≥ 1.9× sequential, ≥ 0.95× rayon);
//! - `start_shutdown`: `Pool::new(n)` then `join`, for 2 and 8 workers.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use concurrency_shared::run_blocking;
use concurrency_shared::workloads::PrimeCount;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use proc_pool::Pool;

/// Tasks in the `map` benchmark.
const TINY_TASKS: u64 = 100_000;

/// The prime-count range and how many coarse jobs it is split into.
const PRIMES_BELOW: u64 = 2_000_000;
/// Jobs per prime-count run: coarse, a few per worker.
const PRIME_JOBS: usize = 16;

fn identity(x: u64) -> u64 {
    x
}

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A child process that echoes 8-byte messages until its input ends: the raw baseline.
struct Echo {
    /// Parent -> child.
    to_child: OwnedFd,
    /// Child -> parent.
    from_child: OwnedFd,
    /// The child's pid.
    pid: libc::pid_t,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two fresh descriptors.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn read_exact(fd: &OwnedFd, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the buffer tail is valid for writes of its length.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        if n <= 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

fn write_all(fd: &OwnedFd, buf: &[u8]) {
    // SAFETY: `buf` is valid for reads of its length; 8 bytes are written atomically to a pipe.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    assert_eq!(n, buf.len() as isize);
}

impl Echo {
    fn start() -> Echo {
        let (child_in, to_child) = pipe();
        let (from_child, child_out) = pipe();
        // SAFETY: the child only calls read, write and _exit, which take no locks.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let mut buf = [0u8; 8];
            while read_exact(&child_in, &mut buf) {
                write_all(&child_out, &buf);
            }
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(0) };
        }
        Echo {
            to_child,
            from_child,
            pid,
        }
    }

    fn round_trip(&self, x: u64) -> u64 {
        write_all(&self.to_child, &x.to_le_bytes());
        let mut buf = [0u8; 8];
        assert!(read_exact(&self.from_child, &mut buf));
        u64::from_le_bytes(buf)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        // SAFETY: closing our write end makes the child exit; then reap our own child.
        unsafe {
            libc::close(libc::dup(self.to_child.as_raw_fd()));
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let echo = Echo::start();
    group.bench_function("raw_pipe_ping_pong", |b| {
        b.iter(|| echo.round_trip(black_box(7)))
    });
    drop(echo);
    let pool = Pool::new(1).unwrap();
    group.bench_function("pool_apply", |b| {
        b.iter(|| pool.apply(identity, black_box(7)).unwrap())
    });
    drop(pool);
    group.finish();
}

fn map_100k(c: &mut Criterion) {
    let mut group = c.benchmark_group("map_100k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(TINY_TASKS));
    let pool = Pool::new(2).unwrap();
    group.bench_function("chunksize_1", |b| {
        b.iter(|| {
            assert_eq!(
                pool.map_chunked(tiny, 0..TINY_TASKS, 1).len(),
                TINY_TASKS as usize
            )
        })
    });
    group.bench_function("chunksize_auto", |b| {
        b.iter(|| assert_eq!(pool.map(tiny, 0..TINY_TASKS).len(), TINY_TASKS as usize))
    });
    group.finish();
}

fn primes(c: &mut Criterion) {
    let mut group = c.benchmark_group("primes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    let jobs = PrimeCount::split(0, PRIMES_BELOW, PRIME_JOBS);
    let expected: u64 = jobs.iter().map(run_blocking).sum();
    group.bench_function("sequential", |b| {
        b.iter(|| assert_eq!(jobs.iter().map(run_blocking).sum::<u64>(), expected))
    });
    let pool = Pool::new(2).unwrap();
    group.bench_function("proc_pool_2", |b| {
        b.iter(|| {
            let total: u64 = pool
                .run_all(jobs.clone())
                .into_iter()
                .map(Result::unwrap)
                .sum();
            assert_eq!(total, expected);
        })
    });
    drop(pool);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    group.bench_function("rayon_2", |b| {
        b.iter(|| {
            use rayon::prelude::*;
            let total: u64 =
                rayon.install(|| jobs.par_iter().with_max_len(1).map(run_blocking).sum());
            assert_eq!(total, expected);
        })
    });
    group.finish();
}

fn start_shutdown(c: &mut Criterion) {
    let mut group = c.benchmark_group("start_shutdown");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for workers in [2, 8] {
        group.bench_with_input(BenchmarkId::from_parameter(workers), &workers, |b, &n| {
            b.iter(|| Pool::new(n).unwrap().join())
        });
    }
    group.finish();
}

criterion_group!(benches, round_trip, map_100k, primes, start_shutdown);
criterion_main!(benches);
