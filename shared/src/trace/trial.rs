//! [`TrialTrace`]: one trial's events as the renderers take them, with the two things both
//! renderers agree on: where a trial's time starts ([`TrialTrace::origin_ns`]) and in which
//! order its lanes are shown ([`TrialTrace::lanes`]).
//!
//! Invariant: every time a renderer shows is relative to the trial's origin, its earliest
//! event, so a trial reads from 0 whatever the machine's uptime was.

use super::{Event, Lane};

/// The events of one trial, named for the reader ("gil-threads · cpu").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrialTrace {
    /// What the trial was, shown as its heading (SVG) or process name (Chrome trace).
    pub name: String,
    /// What was recorded, in any order.
    pub events: Vec<Event>,
    /// Events that were not recorded or not kept (a full recorder, a size bound), shown so a
    /// reader knows the picture is partial.
    pub dropped: u64,
}

impl TrialTrace {
    /// A trace named `name` of `events`, none dropped.
    #[must_use]
    pub fn new(name: impl Into<String>, events: Vec<Event>) -> TrialTrace {
        TrialTrace {
            name: name.into(),
            events,
            dropped: 0,
        }
    }

    /// The start of the earliest event: time 0 of this trial. 0 for an empty trace.
    #[must_use]
    pub fn origin_ns(&self) -> u64 {
        self.events.iter().map(|e| e.start_ns).min().unwrap_or(0)
    }

    /// The end of the latest event, relative to the origin.
    #[must_use]
    pub fn length_ns(&self) -> u64 {
        let origin = self.origin_ns();
        self.events
            .iter()
            .map(|e| e.end_ns.max(e.start_ns) - origin)
            .max()
            .unwrap_or(0)
    }

    /// Every lane that has an event, each once, in display order: threads by number, then the
    /// event loop above its tasks, then a pool's manager above its workers.
    #[must_use]
    pub fn lanes(&self) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = self.events.iter().map(|e| e.lane).collect();
        lanes.sort_by_key(|lane| display_key(*lane));
        lanes.dedup();
        lanes
    }
}

/// The sort key of a lane on the page: (group, the group's head first, number).
fn display_key(lane: Lane) -> (u8, u8, u64) {
    match lane {
        Lane::Thread(n) => (0, 1, u64::from(n)),
        Lane::Loop => (1, 0, 0),
        Lane::Task(id) => (1, 1, id),
        Lane::Manager => (2, 0, 0),
        Lane::Worker(n) => (2, 1, u64::from(n)),
    }
}

impl Lane {
    /// How the lane is labelled for a reader: "thread 1", "task 7", "event loop", "worker 0",
    /// "manager".
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Lane::Thread(n) => format!("thread {n}"),
            Lane::Task(id) => format!("task {id}"),
            Lane::Loop => "event loop".to_owned(),
            Lane::Worker(n) => format!("worker {n}"),
            Lane::Manager => "manager".to_owned(),
        }
    }
}

/// An event, for the renderers' tests.
#[cfg(test)]
pub(super) fn event(lane: Lane, kind: super::Kind, start_ns: u64, end_ns: u64) -> Event {
    Event {
        lane,
        kind,
        start_ns,
        end_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Kind;

    fn at(lane: Lane, start_ns: u64, end_ns: u64) -> Event {
        event(lane, Kind::TaskPoll, start_ns, end_ns)
    }

    #[test]
    fn lanes_are_grouped_heads_first_and_times_start_at_the_first_event() {
        let trace = TrialTrace::new(
            "t",
            vec![
                at(Lane::Task(2), 150, 160),
                at(Lane::Worker(1), 120, 130),
                at(Lane::Loop, 100, 200),
                at(Lane::Manager, 110, 110),
                at(Lane::Task(0), 140, 145),
                at(Lane::Thread(3), 105, 106),
                at(Lane::Task(2), 170, 180),
            ],
        );
        assert_eq!(
            trace.lanes(),
            [
                Lane::Thread(3),
                Lane::Loop,
                Lane::Task(0),
                Lane::Task(2),
                Lane::Manager,
                Lane::Worker(1)
            ]
        );
        assert_eq!(trace.origin_ns(), 100);
        assert_eq!(trace.length_ns(), 100);
        assert_eq!(TrialTrace::default().length_ns(), 0);
    }
}
