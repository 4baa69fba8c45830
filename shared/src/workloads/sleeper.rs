//! [`Sleeper`]: the sleep-bound workload. It waits without using a CPU, so any runtime that
//! overlaps waits runs many of them in the time of one.
//!
//! Invariant: its output depends only on its parameters (how many naps it took), never on
//! how long they really lasted.

use std::time::Duration;

use crate::job::{Ctx, Job};
use crate::wire::{Wire, WireError};

use super::Workload;

/// Takes `naps` naps of `nap` each, through [`Ctx::sleep`]; its output is the number of naps
/// taken.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use concurrency_shared::run_blocking;
/// use concurrency_shared::workloads::{Sleeper, Workload};
///
/// let job = Sleeper::new(3, Duration::from_millis(1));
/// assert_eq!(run_blocking(&job), job.expected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sleeper {
    /// How many naps to take.
    naps: u32,
    /// How long each nap is.
    nap: Duration,
}

impl Sleeper {
    /// The job taking `naps` naps of `nap` each.
    pub fn new(naps: u32, nap: Duration) -> Self {
        Self { naps, nap }
    }

    /// How many naps it takes.
    pub fn naps(&self) -> u32 {
        self.naps
    }

    /// How long each nap is.
    pub fn nap(&self) -> Duration {
        self.nap
    }
}

impl Job for Sleeper {
    type Output = u32;

    async fn run<C: Ctx>(&self, cx: &mut C) -> u32 {
        let mut taken = 0;
        for _ in 0..self.naps {
            cx.sleep(self.nap).await;
            taken += 1;
        }
        taken
    }
}

impl Workload for Sleeper {
    fn expected(&self) -> u32 {
        self.naps
    }
}

impl Wire for Sleeper {
    const MIN_ENCODED_LEN: usize = u32::MIN_ENCODED_LEN + Duration::MIN_ENCODED_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        self.naps.encode(out);
        self.nap.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            naps: Wire::decode(input)?,
            nap: Wire::decode(input)?,
        })
    }
}
