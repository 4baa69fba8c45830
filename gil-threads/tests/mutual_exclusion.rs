//! Only one thread at a time runs interpreter code, under every policy, whatever mix of
//! checkpoints, `allow_threads`, locks and queue operations the threads do.

mod util;

use std::sync::Arc;

use gil_threads::{Lock, Queue};
use util::{Occupancy, POLICIES, Rng};

/// Threads in the stress test.
const THREADS: usize = 8;
/// Random operations per thread (sized by count, not time; debug builds run it in seconds).
const OPS_PER_THREAD: usize = 100_000;

/// 8 threads × 100,000 random operations: the instrumented count of threads inside
/// interpreter code never exceeds 1.
#[test]
fn one_thread_inside_under_every_policy() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let occupancy = Arc::new(Occupancy::default());
        let lock = Arc::new(Lock::new());
        let queue = Arc::new(Queue::<u64>::unbounded());
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let occupancy = Arc::clone(&occupancy);
                let lock = Arc::clone(&lock);
                let queue = Arc::clone(&queue);
                interp.spawn(move |gil| {
                    let mut rng = Rng::new(t as u64 + 1);
                    occupancy.enter();
                    for _ in 0..OPS_PER_THREAD {
                        match rng.below(100) {
                            0..=79 => {
                                occupancy.leave();
                                gil.checkpoint();
                                occupancy.enter();
                            }
                            80..=89 => {
                                occupancy.leave();
                                gil.allow_threads(|| std::hint::black_box(0));
                                occupancy.enter();
                            }
                            90..=94 => {
                                occupancy.leave();
                                let guard = lock.acquire(gil);
                                occupancy.enter();
                                drop(guard);
                            }
                            _ => {
                                occupancy.leave();
                                queue.put(gil, rng.below(1_000));
                                let _ = queue.get_timeout(gil, std::time::Duration::ZERO);
                                occupancy.enter();
                            }
                        }
                    }
                    occupancy.leave();
                })
            })
            .collect();
        for w in workers {
            w.join().expect("the worker finished");
        }
        assert_eq!(
            occupancy.max(),
            1,
            "policy {policy:?}: two threads were inside at once"
        );
    }
}
