//! GIL statistics: what each thread and the whole interpreter did with the GIL.
//!
//! Invariant: every counter is updated under the GIL's state mutex at the moment of the event
//! it counts (a take, a release, a request), both in the thread's record and in the
//! interpreter's totals, so a snapshot ([`Interpreter::stats`](crate::Interpreter::stats)) is
//! consistent and the per-thread counters add up to the totals exactly (wait and hold times
//! to the nanosecond). Only live threads keep a record: a thread leaving the interpreter has
//! its counters folded, in the same critical section, into one `exited` aggregate, so a
//! long-lived interpreter that starts many short threads uses memory bounded by the threads
//! alive at once, and the totals still add up.

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

    /// Adds `other` in (`wait_max` is the maximum of the two).
    pub(crate) fn absorb(&mut self, other: &GilCounters) {
        self.acquisitions += other.acquisitions;
        self.switches += other.switches;
        self.forced_switches += other.forced_switches;
        self.drop_requests += other.drop_requests;
        self.wait_total += other.wait_total;
        self.wait_max = self.wait_max.max(other.wait_max);
        self.hold_total += other.hold_total;
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
    /// Whether it has left the interpreter: false in [`Stats::threads`], true in
    /// [`Stats::recently_exited`].
    pub finished: bool,
    /// What it did with the GIL.
    pub counters: GilCounters,
}

/// A snapshot of an interpreter's GIL statistics.
///
/// Per-thread entries are kept for **live** threads only (like Python's
/// `threading.enumerate()`): when a thread leaves the interpreter (its closure returns,
/// panics or is unwound at shutdown; a thread that entered with
/// [`Interpreter::with_gil`](crate::Interpreter::with_gil) leaves when that call returns),
/// its counters are folded into [`exited`](Stats::exited), so a long-running interpreter that
/// starts many short threads does not grow. The last [`Stats::RECENT_EXITS`] threads to leave
/// are also kept, in [`recently_exited`](Stats::recently_exited), so that a thread just joined
/// can still be looked up with [`thread`](Stats::thread).
///
/// ```
/// use gil_threads::Interpreter;
///
/// let interp = Interpreter::new();
/// let id = interp.spawn(|gil| gil.current_thread().id).join().unwrap();
/// let stats = interp.stats();
/// assert!(stats.threads.is_empty()); // nobody is running now
/// assert_eq!(stats.exited_threads, 1);
/// assert!(stats.thread(id).is_some_and(|t| t.finished)); // recently exited
/// assert_eq!(stats.sum_of_threads(), stats.interpreter);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// How many times the GIL has changed hands (CPython's `switch_number`: a take by a
    /// thread other than the previous holder, the very first take included).
    pub switch_number: u64,
    /// Interpreter-wide totals.
    pub interpreter: GilCounters,
    /// The threads inside the interpreter now, by id.
    pub threads: Vec<ThreadStats>,
    /// The sum of the counters of every thread that has left the interpreter (`wait_max` is
    /// the maximum).
    pub exited: GilCounters,
    /// How many threads have left the interpreter (a foreign thread counts once per
    /// `with_gil` call).
    pub exited_threads: u64,
    /// The last threads to leave, at most [`Stats::RECENT_EXITS`], oldest first; already
    /// counted in [`exited`](Stats::exited).
    pub recently_exited: Vec<ThreadStats>,
}

impl Stats {
    /// How many of the threads that left most recently a snapshot still lists one by one.
    pub const RECENT_EXITS: usize = 16;

    /// The sum of the live threads' counters and the [`exited`](Stats::exited) aggregate
    /// (`wait_max` is the maximum); equal to [`interpreter`](Stats::interpreter) by
    /// construction.
    pub fn sum_of_threads(&self) -> GilCounters {
        let mut sum = self.exited.clone();
        for t in &self.threads {
            sum.absorb(&t.counters);
        }
        sum
    }

    /// The statistics of thread `id`, if it is live or among the
    /// [`recently_exited`](Stats::recently_exited) (the latest entry, for a foreign thread
    /// that entered more than once).
    pub fn thread(&self, id: ThreadId) -> Option<&ThreadStats> {
        self.threads
            .iter()
            .chain(self.recently_exited.iter().rev())
            .find(|t| t.id == id)
    }
}
