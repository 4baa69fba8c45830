//! What the GIL records into a [`Recorder`](crate::trace::Recorder) when built with the `trace`
//! feature and given one ([`InterpreterBuilder::recorder`](crate::InterpreterBuilder::recorder)):
//! each thread's spans holding and waiting for the GIL, the drop requests it made and its
//! forced switches.
//!
//! `GilTrace` lives in the GIL's state, and `src/gil.rs` calls its hooks (`granted`,
//! `released`, `drop_requested`, `forced_switch`, `registered`) with `state` locked, one line
//! each. Without the feature it is an empty type whose hooks are empty and inlined away: no
//! clock is read, no branch is taken, so the crate compiles to what it was without recording.
//! With the feature but no recorder, each hook is one test of an `Option`.
//!
//! Invariants (with the feature and a recorder):
//!
//! - **Held spans never overlap across threads.** A hold starts in `granted` and ends in
//!   `released`, both read from the one `CLOCK_MONOTONIC` clock with `state` locked, and the
//!   mutex orders every release before the next grant; so the next hold's start is never
//!   earlier than the last hold's end. The GIL has one holder, so one start time is all the
//!   state a hold needs.
//! - **A thread's spans are monotone.** A thread asks for the GIL (the start of its
//!   `GilWait`) after its previous hold ended, and its wait ends where its hold starts.
//! - **Stable lanes.** A thread's lane is `Lane::Thread(n)`, `n` counting the threads in the
//!   order they first entered this interpreter (the first, usually the main thread, is 0);
//!   a thread that leaves and enters again keeps its number, and a thread's events outlive it
//!   (the recorder keeps them). Numbering stops, with the numbers' memory, once the recorder
//!   is full: events past that point are dropped (and counted) anyway.
//! - **Same counts as the statistics.** A `DropRequest` is recorded exactly where
//!   [`GilCounters::drop_requests`](crate::GilCounters) is counted, a `ForcedSwitch` exactly
//!   where `forced_switches` is.

#[cfg(feature = "trace")]
pub(crate) use enabled::GilTrace;

#[cfg(not(feature = "trace"))]
pub(crate) use disabled::GilTrace;

/// The recording hooks, with the `trace` feature.
#[cfg(feature = "trace")]
mod enabled {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    use concurrency_shared::trace::{Event, Kind, Lane, Recorder, now_ns};

    use crate::gil::ThreadKey;

    /// The recording state of one interpreter's GIL; guarded by the GIL's `state` mutex.
    #[derive(Debug)]
    pub(crate) struct GilTrace {
        /// `None` unless the interpreter was given a recorder.
        on: Option<Recording>,
    }

    /// What recording needs.
    #[derive(Debug)]
    struct Recording {
        /// Where the events go.
        recorder: Arc<Recorder>,
        /// Each thread's lane number, by key; a thread keeps its number when it leaves.
        lanes: HashMap<ThreadKey, u32>,
        /// The next lane number to hand out.
        next_lane: u32,
        /// When the current hold began (`now_ns`), written at each grant.
        held_since: u64,
        /// The last holder's key (0, which no thread has, before the first grant) and lane,
        /// written at each grant, so that a release, and a thread retaking the GIL it last
        /// held, look nothing up.
        held_key: ThreadKey,
        /// See `held_key`.
        held_lane: Lane,
    }

    impl GilTrace {
        /// Records nothing (no recorder given).
        pub(crate) fn off() -> Self {
            Self { on: None }
        }

        /// Records into `recorder` from now on.
        pub(crate) fn new(recorder: Arc<Recorder>) -> Self {
            Self {
                on: Some(Recording {
                    recorder,
                    lanes: HashMap::new(),
                    next_lane: 0,
                    held_since: 0,
                    held_key: 0,
                    held_lane: Lane::Thread(UNNUMBERED),
                }),
            }
        }

        /// Whether events are recorded.
        #[cfg(test)]
        pub(crate) fn is_on(&self) -> bool {
            self.on.is_some()
        }

        /// Thread `key` enters the interpreter: gives it a lane number if it has none.
        #[inline]
        pub(crate) fn registered(&mut self, key: ThreadKey) {
            if let Some(rec) = &mut self.on
                && rec.recorder.dropped() == 0
                && !rec.lanes.contains_key(&key)
            {
                rec.lanes.insert(key, rec.next_lane);
                rec.next_lane = rec.next_lane.saturating_add(1);
            }
        }

        /// `key` has just been granted the GIL, having waited `waited` (measured with
        /// `Instant`s by the caller, up to a moment just before this call): records the wait
        /// and starts the hold.
        #[inline]
        pub(crate) fn granted(&mut self, key: ThreadKey, waited: Duration) {
            if let Some(rec) = &mut self.on {
                // `Instant` is `CLOCK_MONOTONIC` too, but opaque: the wait's start is found by
                // subtracting its length from a `now_ns` read after the caller's `Instant`,
                // so it is late by the few instructions between the two reads, never early
                // (never before the thread asked, nor before its previous hold ended); one
                // clock read fewer than reading an `Instant` here.
                let now = now_ns();
                let waited = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
                rec.held_since = now;
                if rec.held_key != key {
                    rec.held_key = key;
                    rec.held_lane = rec.lane(key);
                }
                rec.record(
                    rec.held_lane,
                    Kind::GilWait,
                    now.saturating_sub(waited),
                    now,
                );
            }
        }

        /// `key` has just given the GIL up: records the hold.
        #[inline]
        pub(crate) fn released(&mut self, key: ThreadKey) {
            if let Some(rec) = &mut self.on {
                // Only the holder releases, and the GIL was last granted to it.
                debug_assert_eq!(rec.held_lane, rec.lane(key));
                let now = now_ns().max(rec.held_since);
                rec.record(rec.held_lane, Kind::GilHeld, rec.held_since, now);
            }
        }

        /// `key`, waiting, has just asked the holder to drop the GIL.
        #[inline]
        pub(crate) fn drop_requested(&mut self, key: ThreadKey) {
            if let Some(rec) = &mut self.on {
                let now = now_ns();
                rec.record(rec.lane(key), Kind::DropRequest, now, now);
            }
        }

        /// `key` has just dropped the GIL on request, to wait for another thread to take it.
        #[inline]
        pub(crate) fn forced_switch(&mut self, key: ThreadKey) {
            if let Some(rec) = &mut self.on {
                let now = now_ns();
                rec.record(rec.lane(key), Kind::ForcedSwitch, now, now);
            }
        }
    }

    /// The lane of a thread that entered once the recorder was full: its events are dropped
    /// (and counted) by the full recorder anyway.
    const UNNUMBERED: u32 = u32::MAX;

    impl Recording {
        /// `key`'s lane.
        fn lane(&self, key: ThreadKey) -> Lane {
            Lane::Thread(self.lanes.get(&key).copied().unwrap_or(UNNUMBERED))
        }

        /// Records one event.
        fn record(&self, lane: Lane, kind: Kind, start_ns: u64, end_ns: u64) {
            self.recorder.record(Event {
                lane,
                kind,
                start_ns,
                end_ns,
            });
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::Arc;
        use std::time::{Duration, Instant};

        use concurrency_shared::trace::{Kind, Lane, Recorder, now_ns};

        use super::GilTrace;

        /// Without a recorder the hooks record nothing and number nobody.
        #[test]
        fn no_recorder_records_nothing() {
            let mut trace = GilTrace::off();
            trace.registered(7);
            trace.granted(7, Duration::from_millis(1));
            trace.released(7);
            trace.drop_requested(7);
            trace.forced_switch(7);
            assert!(!trace.is_on());
        }

        /// Lanes count first entries from 0; a thread entering again keeps its lane; a wait
        /// never starts before the thread asked, and ends where its hold starts.
        #[test]
        fn lanes_are_numbered_in_order_of_first_entry() {
            let rec = Arc::new(Recorder::with_capacity(16));
            let mut trace = GilTrace::new(Arc::clone(&rec));
            let before = now_ns();
            for key in [40, 12, 40, 99] {
                trace.registered(key);
                let since = Instant::now();
                trace.granted(key, Instant::now().saturating_duration_since(since));
                trace.released(key);
            }
            let held: Vec<Lane> = rec
                .events()
                .iter()
                .filter(|e| e.kind == Kind::GilHeld)
                .map(|e| e.lane)
                .collect();
            assert_eq!(
                held,
                [0, 1, 0, 2].map(Lane::Thread),
                "lanes by order of first entry"
            );
            let events = rec.events();
            for pair in events.chunks(2) {
                let (wait, hold) = (pair[0], pair[1]);
                assert_eq!((wait.kind, hold.kind), (Kind::GilWait, Kind::GilHeld));
                assert!(before <= wait.start_ns && wait.end_ns == hold.start_ns);
            }
        }

        /// Once the recorder is full, new threads get no number (no memory grows), and their
        /// events are counted as dropped.
        #[test]
        fn a_full_recorder_stops_numbering() {
            let rec = Arc::new(Recorder::with_capacity(1));
            let mut trace = GilTrace::new(Arc::clone(&rec));
            trace.registered(1);
            trace.drop_requested(1);
            trace.drop_requested(1);
            trace.registered(2);
            trace.drop_requested(2);
            assert_eq!(rec.events().len(), 1);
            assert_eq!(rec.dropped(), 2);
            assert_eq!(
                trace.on.as_ref().map(|r| r.lanes.len()),
                Some(1),
                "thread 2 was numbered"
            );
        }
    }
}

/// Without the `trace` feature: hooks that do nothing and vanish when inlined.
#[cfg(not(feature = "trace"))]
mod disabled {
    use std::time::Duration;

    use crate::gil::ThreadKey;

    /// Nothing: the crate records nothing without the `trace` feature.
    #[derive(Debug)]
    pub(crate) struct GilTrace;

    impl GilTrace {
        /// Nothing to record.
        #[inline(always)]
        pub(crate) fn off() -> Self {
            Self
        }

        /// Does nothing.
        #[inline(always)]
        pub(crate) fn registered(&mut self, _key: ThreadKey) {}

        /// Does nothing.
        #[inline(always)]
        pub(crate) fn granted(&mut self, _key: ThreadKey, _waited: Duration) {}

        /// Does nothing.
        #[inline(always)]
        pub(crate) fn released(&mut self, _key: ThreadKey) {}

        /// Does nothing.
        #[inline(always)]
        pub(crate) fn drop_requested(&mut self, _key: ThreadKey) {}

        /// Does nothing.
        #[inline(always)]
        pub(crate) fn forced_switch(&mut self, _key: ThreadKey) {}
    }
}
