//! What the loop records with the `trace` feature: a `TaskPoll` span on
//! `Lane::Task(n)` for every poll of a task's future, and a `PollerWait` span on `Lane::Loop`
//! for every wait in the poller that may block, into the `Recorder` given to
//! `Builder::recorder`.
//!
//! Invariants:
//!
//! - **Off means absent.** Without the feature, [`Recording`] and [`TaskLane`] are zero-sized
//!   and their methods are inline no-ops that just run the closure they are given, so the
//!   loop's call sites stay one line each and compile to exactly what they were before.
//! - **A lane per task, never reused.** The `block_on` future is lane [`TaskLane::ROOT`] (0);
//!   spawned tasks get 1, 2, 3, … in spawn order from a counter of the runtime, unlike their
//!   slab slots, which are reused. So two tasks never share a lane, whatever their lifetimes.
//! - **Spans end where the work ends.** A span is recorded when its closure returns or
//!   unwinds (a panicking `block_on` future), so every poll that started is recorded, and on
//!   the loop's one thread the spans never overlap and each lane's are in time order.

#[cfg(feature = "trace")]
pub(crate) use on::{Recording, TaskLane};

#[cfg(not(feature = "trace"))]
pub(crate) use off::{Recording, TaskLane};

/// The recording half: a real recorder, when the runtime was given one.
#[cfg(feature = "trace")]
mod on {
    use std::cell::Cell;
    use std::sync::Arc;

    use concurrency_shared::trace::{Event, Kind, Lane, Recorder, now_ns};

    use crate::builder::Config;

    /// A task's lane number: 0 for the `block_on` future, then 1, 2, … in spawn order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct TaskLane(u64);

    impl TaskLane {
        /// The lane of every `block_on` future (one runs at a time, so they never overlap).
        pub(crate) const ROOT: TaskLane = TaskLane(0);
    }

    /// One runtime's recording state (loop thread only).
    pub(crate) struct Recording {
        /// Where spans go; `None`: the feature is on but nobody asked, so nothing is read or
        /// stored (lanes are still numbered, one `Cell` add per spawn).
        recorder: Option<Arc<Recorder>>,
        /// The last lane handed out; written by `new_task` only.
        last_lane: Cell<u64>,
    }

    /// A span being timed; records itself when dropped, so an unwinding poll is recorded too.
    struct Span<'a> {
        /// Where it goes.
        recorder: &'a Recorder,
        /// Its lane.
        lane: Lane,
        /// Its kind.
        kind: Kind,
        /// When it began.
        start_ns: u64,
    }

    impl Drop for Span<'_> {
        fn drop(&mut self) {
            self.recorder
                .record(Event::span_until_now(self.lane, self.kind, self.start_ns));
        }
    }

    impl Recording {
        /// The recording a runtime built from `config` does.
        pub(crate) fn new(config: &Config) -> Recording {
            Recording {
                recorder: config.recorder.clone(),
                last_lane: Cell::new(TaskLane::ROOT.0),
            }
        }

        /// The lane of a task being spawned.
        pub(crate) fn new_task(&self) -> TaskLane {
            // 2^64 spawns would take centuries at a nanosecond each: it cannot wrap.
            let lane = self.last_lane.get() + 1;
            self.last_lane.set(lane);
            TaskLane(lane)
        }

        /// Runs `poll`, one poll of the future of the task on `lane`, as a `TaskPoll` span.
        #[inline]
        pub(crate) fn poll<R>(&self, lane: TaskLane, poll: impl FnOnce() -> R) -> R {
            self.span(Lane::Task(lane.0), Kind::TaskPoll, poll)
        }

        /// Runs `wait`, one call of the poller, as a `PollerWait` span if it `may_block` (a
        /// non-zero timeout); the zero-timeout look at I/O between busy ticks is not a wait.
        #[inline]
        pub(crate) fn wait<R>(&self, may_block: bool, wait: impl FnOnce() -> R) -> R {
            if may_block {
                self.span(Lane::Loop, Kind::PollerWait, wait)
            } else {
                wait()
            }
        }

        /// Runs `work` as a span of `kind` on `lane`, if there is a recorder.
        #[inline]
        fn span<R>(&self, lane: Lane, kind: Kind, work: impl FnOnce() -> R) -> R {
            // One call of `work` on both paths, so it is inlined once, as without the feature.
            let _span = self.recorder.as_deref().map(|recorder| Span {
                recorder,
                lane,
                kind,
                start_ns: now_ns(),
            });
            work()
        }
    }
}

/// The feature is off: nothing to store, nothing to do.
#[cfg(not(feature = "trace"))]
mod off {
    use crate::builder::Config;

    /// Nothing: there are no lanes without the feature.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct TaskLane;

    impl TaskLane {
        /// The `block_on` future's (absent) lane.
        pub(crate) const ROOT: TaskLane = TaskLane;
    }

    /// Nothing: no recorder without the feature.
    pub(crate) struct Recording;

    impl Recording {
        /// Nothing to set up.
        pub(crate) fn new(_config: &Config) -> Recording {
            Recording
        }

        /// No lane to number.
        #[inline(always)]
        pub(crate) fn new_task(&self) -> TaskLane {
            TaskLane
        }

        /// Just the poll.
        #[inline(always)]
        pub(crate) fn poll<R>(&self, _lane: TaskLane, poll: impl FnOnce() -> R) -> R {
            poll()
        }

        /// Just the wait.
        #[inline(always)]
        pub(crate) fn wait<R>(&self, _may_block: bool, wait: impl FnOnce() -> R) -> R {
            wait()
        }
    }
}
