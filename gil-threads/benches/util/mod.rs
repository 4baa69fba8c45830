//! Helpers shared by the `gil-threads` bench binaries.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use gil_threads::Gil;

/// CPU-bound interpreter code until `stop` is set: 100 xorshift steps (well under a
/// microsecond) between checkpoints, like a tight Python loop of arithmetic. `seed` must not
/// be zero (xorshift stays at zero).
pub fn spin_until_stopped(gil: &mut Gil, stop: &AtomicBool, seed: u64) {
    let mut x = seed;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        black_box(x);
        gil.checkpoint();
    }
}
