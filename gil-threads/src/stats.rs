//! GIL statistics: what each thread and the whole interpreter did with the GIL.
//!
//! Invariant: every counter is updated under the GIL's state mutex at the moment of the event
//! it counts (a take, a release, a request), both in the thread's record and in the
//! interpreter's totals, so a snapshot ([`Interpreter::stats`](crate::Interpreter::stats)) is
//! consistent and the per-thread counters add up to the totals exactly (wait and hold times
//! to the nanosecond).

use std::time::Duration;

use crate::thread::ThreadId;

/// Counters of GIL activity, for one thread or a whole interpreter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GilCounters {
    /// How many times the GIL was taken.
    pub acquisitions: u64,
    /// Takes where the previous holder was a different thread.
    pub switches: u64,
    /// Times a holder gave the GIL up at a checkpoint because a waiter asked it to.
    pub forced_switches: u64,
    /// Drop requests made (by this thread, for a thread's counters).
    pub drop_requests: u64,
    /// Total time spent waiting to take the GIL.
    pub wait_total: Duration,
    /// The longest single wait to take the GIL.
    pub wait_max: Duration,
    /// Total time the GIL was held.
    pub hold_total: Duration,
}

impl GilCounters {
    /// Counts one take after waiting `waited`.
    pub(crate) fn record_take(&mut self, waited: Duration, switched: bool) {
        self.acquisitions += 1;
        if switched {
            self.switches += 1;
        }
        self.wait_total += waited;
        self.wait_max = self.wait_max.max(waited);
    }
}

/// One thread's GIL statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadStats {
    /// The thread.
    pub id: ThreadId,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Whether it is a daemon thread.
    pub daemon: bool,
    /// Whether it has left the interpreter for good.
    pub finished: bool,
    /// What it did with the GIL.
    pub counters: GilCounters,
}

/// A snapshot of an interpreter's GIL statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// How many times the GIL has been taken in all (CPython's `switch_number`).
    pub switch_number: u64,
    /// Interpreter-wide totals.
    pub interpreter: GilCounters,
    /// Every thread that ever entered the interpreter, by id.
    pub threads: Vec<ThreadStats>,
}

impl Stats {
    /// The sum of the per-thread counters (`wait_max` is the maximum); equal to
    /// [`interpreter`](Stats::interpreter) by construction.
    pub fn sum_of_threads(&self) -> GilCounters {
        let mut sum = GilCounters::default();
        for t in &self.threads {
            let c = &t.counters;
            sum.acquisitions += c.acquisitions;
            sum.switches += c.switches;
            sum.forced_switches += c.forced_switches;
            sum.drop_requests += c.drop_requests;
            sum.wait_total += c.wait_total;
            sum.wait_max = sum.wait_max.max(c.wait_max);
            sum.hold_total += c.hold_total;
        }
        sum
    }

    /// The statistics of thread `id`, if it ever entered the interpreter.
    pub fn thread(&self, id: ThreadId) -> Option<&ThreadStats> {
        self.threads.iter().find(|t| t.id == id)
    }
}
