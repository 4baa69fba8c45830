//! What the runtimes record when asked to: [`Event`]s on [`Lane`]s, kept in a bounded,
//! lock-free [`Recorder`], stamped by one clock that every process on the machine shares.
//!
//! Invariants:
//!
//! - **Bounded.** A recorder holds at most the capacity it was created with; an event past it is
//!   counted in [`Recorder::dropped`], never stored, so a long run cannot grow memory.
//! - **No lock, no allocation after creation.** [`Recorder::record`] is one `fetch_add` and a
//!   write into a slot it alone owns, so a forked worker process may record into a recorder its
//!   parent created before the fork (a lock another parent thread held would never be freed in
//!   the child; `malloc` takes such locks).
//! - **One clock.** Timestamps are `CLOCK_MONOTONIC` nanoseconds ([`now_ns`]), the same clock in
//!   every process of the machine, so a worker's records line up with its parent's without any
//!   translation, whichever way the worker was started (fork or fork server).
//!
//! ```text
//!  thread / task / worker        Recorder (capacity N)                  compare program
//!  record(Event) ──fetch_add──▶ [e0][e1][e2] … [eN-1]   dropped: k  ──▶  events() → trace JSON, SVG
//! ```
//!
//! The runtimes record only when built with their `trace` cargo feature *and* given a recorder;
//! without the feature no recording code is compiled at all.
//!
//! What is recorded can be shown two ways, each a submodule over [`TrialTrace`] (one trial's
//! events, its time origin and lane order): [`chrome`], a Chrome trace-event JSON file for
//! Perfetto or `chrome://tracing`, and [`svg`], a picture of a window of time.

use std::cell::UnsafeCell;
use std::collections::TryReserveError;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::{Wire, WireError};

pub mod chrome;
pub mod svg;
mod trial;

pub use trial::TrialTrace;

/// Nanoseconds on `CLOCK_MONOTONIC`: the same clock in every process of this machine, so
/// records from worker processes and from their parent share one time axis.
#[must_use]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through a pointer to a live, writable local;
    // CLOCK_MONOTONIC exists on every Linux, so the call cannot fail with EINVAL, and it is
    // async-signal-safe, so a forked child may call it.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // Monotonic time is non-negative and fits u64 nanoseconds for 584 years of uptime.
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Where an event happened: one lane per unit of concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// A gil-threads thread, by the interpreter's thread number (main thread = 0).
    Thread(u32),
    /// A mini-eventloop task, by its task id.
    Task(u64),
    /// The event loop itself: its waits in the poller.
    Loop,
    /// A proc-pool worker, by its slot in the pool (0..workers), not its pid: a replaced
    /// worker keeps the lane of the one it replaces.
    Worker(u32),
    /// A proc-pool's manager thread, in the parent process.
    Manager,
}

/// What happened. A span kind has a start and an end; an instant kind has `start_ns == end_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Span: the thread held the GIL.
    GilHeld,
    /// Span: the thread waited for the GIL (from asking to getting it).
    GilWait,
    /// Instant: a waiting thread asked the holder to drop the GIL (its interval ran out).
    DropRequest,
    /// Instant: the holder dropped the GIL on request and waited until another thread took it
    /// (CPython's `FORCE_SWITCHING`).
    ForcedSwitch,
    /// Span: one poll of a task's future.
    TaskPoll,
    /// Span: the loop waited in the poller (`epoll_wait`) for I/O, a timer or a wake.
    PollerWait,
    /// Instant: the manager sent a chunk of tasks to a worker.
    ChunkSent,
    /// Span: a worker ran a chunk, from picking it up to having its answer ready (the write of
    /// the answer is not in it: the span travels inside that answer).
    ChunkRun,
}

impl Kind {
    /// Every kind, in the order of their wire tags.
    pub const ALL: [Kind; 8] = [
        Kind::GilHeld,
        Kind::GilWait,
        Kind::DropRequest,
        Kind::ForcedSwitch,
        Kind::TaskPoll,
        Kind::PollerWait,
        Kind::ChunkSent,
        Kind::ChunkRun,
    ];

    /// Whether events of this kind are points in time rather than spans.
    #[must_use]
    pub fn is_instant(self) -> bool {
        matches!(
            self,
            Kind::DropRequest | Kind::ForcedSwitch | Kind::ChunkSent
        )
    }

    /// A short human name (`"gil held"`, `"poll"`, …) for trace files and pictures.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::GilHeld => "gil held",
            Kind::GilWait => "gil wait",
            Kind::DropRequest => "drop request",
            Kind::ForcedSwitch => "forced switch",
            Kind::TaskPoll => "poll",
            Kind::PollerWait => "poller wait",
            Kind::ChunkSent => "chunk sent",
            Kind::ChunkRun => "chunk run",
        }
    }

    fn tag(self) -> u8 {
        // ALL lists every variant once, so the position always exists and fits a u8.
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }
}

/// One recorded event. Times are [`now_ns`] readings; for an instant kind `start_ns == end_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Where it happened.
    pub lane: Lane,
    /// What happened.
    pub kind: Kind,
    /// When it began (`CLOCK_MONOTONIC` nanoseconds).
    pub start_ns: u64,
    /// When it ended; equal to `start_ns` for an instant.
    pub end_ns: u64,
}

impl Event {
    /// A span from `start_ns` to now.
    #[must_use]
    pub fn span_until_now(lane: Lane, kind: Kind, start_ns: u64) -> Event {
        Event {
            lane,
            kind,
            start_ns,
            end_ns: now_ns().max(start_ns),
        }
    }

    /// An instant at now.
    #[must_use]
    pub fn instant_now(lane: Lane, kind: Kind) -> Event {
        let at = now_ns();
        Event {
            lane,
            kind,
            start_ns: at,
            end_ns: at,
        }
    }
}

/// One slot of a [`Recorder`]: written once by the writer that claimed its index, then
/// published by `ready`.
struct Slot {
    ready: AtomicBool,
    event: UnsafeCell<MaybeUninit<Event>>,
}

/// A bounded, lock-free, append-only store of [`Event`]s, shared by every thread of a runtime.
///
/// Create it before the runtime (and before any fork), hand the runtime an `Arc` of it, and
/// read [`events`](Recorder::events) whenever you like: only fully written events are returned.
///
/// ```
/// use concurrency_shared::trace::{Event, Kind, Lane, Recorder};
///
/// let rec = Recorder::with_capacity(2);
/// for _ in 0..3 {
///     rec.record(Event::instant_now(Lane::Thread(0), Kind::DropRequest));
/// }
/// assert_eq!(rec.events().len(), 2);
/// assert_eq!(rec.dropped(), 1);
/// ```
pub struct Recorder {
    slots: Box<[Slot]>,
    /// The next index to claim; may run past `slots.len()` (those claims are the dropped ones).
    next: AtomicUsize,
    dropped: AtomicU64,
}

// SAFETY: a slot's `event` is written only by the one writer whose `fetch_add` returned its
// index (indices are never handed out twice between resets, and `reset` takes `&mut self`), and
// read only after `ready` was seen true with Acquire, which pairs with the writer's Release
// store made after the write. So no slot is ever written concurrently with another access.
unsafe impl Sync for Recorder {}
// SAFETY: `Event` is plain `Copy` data with no thread affinity.
unsafe impl Send for Recorder {}

impl Recorder {
    /// A recorder for at most `capacity` events, all allocated now.
    ///
    /// # Panics
    ///
    /// As [`Vec::with_capacity`] does, if `capacity` events cannot be allocated (for example
    /// `usize::MAX`); [`try_with_capacity`](Recorder::try_with_capacity) returns that as an
    /// error instead.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Recorder {
        match Recorder::try_with_capacity(capacity) {
            Ok(recorder) => recorder,
            Err(e) => panic!("a recorder of {capacity} events cannot be allocated: {e}"),
        }
    }

    /// A recorder for at most `capacity` events, all allocated now, or the reason they cannot
    /// be (a capacity whose bytes overflow, or an allocation the system refuses).
    ///
    /// # Errors
    ///
    /// [`TryReserveError`] if the slots cannot be allocated.
    pub fn try_with_capacity(capacity: usize) -> Result<Recorder, TryReserveError> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity)?;
        slots.extend((0..capacity).map(|_| Slot {
            ready: AtomicBool::new(false),
            event: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        Ok(Recorder {
            slots: slots.into_boxed_slice(),
            next: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// How many events it can hold.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Stores `event`, or counts it as dropped if the recorder is full. Never blocks, never
    /// allocates.
    pub fn record(&self, event: Event) {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        match self.slots.get(index) {
            Some(slot) => {
                // SAFETY: `index` came from our own `fetch_add`, so no other writer has it, and
                // readers touch `event` only after seeing `ready`, which is still false.
                unsafe { (*slot.event.get()).write(event) };
                slot.ready.store(true, Ordering::Release);
            }
            None => {
                // Keep `next` from wrapping on a recorder left running for ages.
                self.next.store(self.slots.len(), Ordering::Relaxed);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many events did not fit.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// A copy of every event fully recorded so far, in the order their slots were claimed.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        self.for_each(|event| events.push(event));
        events
    }

    /// Calls `f` with every event fully recorded so far, in the order their slots were
    /// claimed, without allocating (a forked worker sends its records to its parent this way).
    pub fn for_each(&self, mut f: impl FnMut(Event)) {
        let claimed = self.next.load(Ordering::Acquire).min(self.slots.len());
        self.slots[..claimed]
            .iter()
            .filter(|slot| slot.ready.load(Ordering::Acquire))
            // SAFETY: `ready` was true (Acquire), so the writer's write to `event` happened
            // before, and nobody writes the slot again until `reset`, which needs `&mut self`.
            .for_each(|slot| f(unsafe { (*slot.event.get()).assume_init() }));
    }

    /// Empties the recorder, keeping its memory (a worker process does this after sending its
    /// records to its parent). Needs `&mut`: no writer can be mid-record.
    pub fn reset(&mut self) {
        let claimed = (*self.next.get_mut()).min(self.slots.len());
        for slot in &mut self.slots[..claimed] {
            *slot.ready.get_mut() = false;
        }
        *self.next.get_mut() = 0;
        *self.dropped.get_mut() = 0;
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("capacity", &self.capacity())
            .field(
                "recorded",
                &self.next.load(Ordering::Relaxed).min(self.capacity()),
            )
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Wire for Lane {
    const MIN_ENCODED_LEN: usize = 1;

    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Lane::Thread(n) => {
                out.push(0);
                n.encode(out);
            }
            Lane::Task(id) => {
                out.push(1);
                id.encode(out);
            }
            Lane::Loop => out.push(2),
            Lane::Worker(n) => {
                out.push(3);
                n.encode(out);
            }
            Lane::Manager => out.push(4),
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match u8::decode(input)? {
            0 => Ok(Lane::Thread(u32::decode(input)?)),
            1 => Ok(Lane::Task(u64::decode(input)?)),
            2 => Ok(Lane::Loop),
            3 => Ok(Lane::Worker(u32::decode(input)?)),
            4 => Ok(Lane::Manager),
            tag => Err(WireError::InvalidTag {
                type_name: "Lane",
                tag: u64::from(tag),
            }),
        }
    }
}

impl Wire for Kind {
    const MIN_ENCODED_LEN: usize = 1;

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let tag = u8::decode(input)?;
        Kind::ALL
            .get(usize::from(tag))
            .copied()
            .ok_or(WireError::InvalidTag {
                type_name: "Kind",
                tag: u64::from(tag),
            })
    }
}

impl Wire for Event {
    const MIN_ENCODED_LEN: usize = Lane::MIN_ENCODED_LEN + Kind::MIN_ENCODED_LEN + 16;

    fn encode(&self, out: &mut Vec<u8>) {
        self.lane.encode(out);
        self.kind.encode(out);
        self.start_ns.encode(out);
        self.end_ns.encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(Event {
            lane: Lane::decode(input)?,
            kind: Kind::decode(input)?,
            start_ns: u64::decode(input)?,
            end_ns: u64::decode(input)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_full_recorder_counts_what_it_drops() {
        let rec = Recorder::with_capacity(3);
        for i in 0..5 {
            rec.record(Event {
                lane: Lane::Worker(i),
                kind: Kind::ChunkSent,
                start_ns: 1,
                end_ns: 1,
            });
        }
        let lanes: Vec<Lane> = rec.events().iter().map(|e| e.lane).collect();
        assert_eq!(lanes, [Lane::Worker(0), Lane::Worker(1), Lane::Worker(2)]);
        assert_eq!(rec.dropped(), 2);
    }

    #[test]
    fn a_zero_capacity_recorder_drops_everything() {
        let rec = Recorder::with_capacity(0);
        rec.record(Event::instant_now(Lane::Loop, Kind::DropRequest));
        assert!(rec.events().is_empty());
        assert_eq!(rec.dropped(), 1);
    }

    /// A capacity that cannot be allocated is an error, not a panic or an abort; the
    /// capacities that can be are unchanged.
    #[test]
    fn an_impossible_capacity_is_an_error() {
        assert!(Recorder::try_with_capacity(usize::MAX).is_err());
        assert!(Recorder::try_with_capacity(usize::MAX / 2).is_err());
        let rec = Recorder::try_with_capacity(3).unwrap();
        assert_eq!(rec.capacity(), 3);
        assert!(std::panic::catch_unwind(|| Recorder::with_capacity(usize::MAX)).is_err());
    }

    #[test]
    fn reset_empties_and_keeps_capacity() {
        let mut rec = Recorder::with_capacity(2);
        rec.record(Event::instant_now(Lane::Loop, Kind::DropRequest));
        rec.record(Event::instant_now(Lane::Loop, Kind::DropRequest));
        rec.record(Event::instant_now(Lane::Loop, Kind::DropRequest));
        rec.reset();
        assert!(rec.events().is_empty());
        assert_eq!(rec.dropped(), 0);
        rec.record(Event::instant_now(Lane::Manager, Kind::ChunkSent));
        assert_eq!(rec.events().len(), 1);
        assert_eq!(rec.capacity(), 2);
    }

    #[test]
    fn concurrent_writers_lose_nothing_that_fits() {
        let rec = Arc::new(Recorder::with_capacity(4 * 1_000));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let rec = Arc::clone(&rec);
                std::thread::spawn(move || {
                    for i in 0..1_000 {
                        rec.record(Event {
                            lane: Lane::Thread(t),
                            kind: Kind::GilHeld,
                            start_ns: i,
                            end_ns: i + 1,
                        });
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let events = rec.events();
        assert_eq!(events.len(), 4_000);
        for t in 0..4 {
            let mut starts: Vec<u64> = events
                .iter()
                .filter(|e| e.lane == Lane::Thread(t))
                .map(|e| e.start_ns)
                .collect();
            starts.sort_unstable();
            assert_eq!(starts, (0..1_000).collect::<Vec<_>>());
        }
        assert_eq!(rec.dropped(), 0);
    }

    #[test]
    fn events_round_trip_through_wire_and_bad_tags_are_refused() {
        let lanes = [
            Lane::Thread(7),
            Lane::Task(u64::MAX),
            Lane::Loop,
            Lane::Worker(1),
            Lane::Manager,
        ];
        for lane in lanes {
            for kind in Kind::ALL {
                let e = Event {
                    lane,
                    kind,
                    start_ns: 5,
                    end_ns: 9,
                };
                assert_eq!(Event::from_bytes(&e.to_bytes()), Ok(e));
            }
        }
        assert!(matches!(
            Kind::from_bytes(&[Kind::ALL.len() as u8]),
            Err(WireError::InvalidTag { .. })
        ));
        assert!(matches!(
            Lane::from_bytes(&[9]),
            Err(WireError::InvalidTag { .. })
        ));
    }

    #[test]
    fn the_clock_is_monotonic_and_instants_have_no_length() {
        let a = now_ns();
        let e = Event::instant_now(Lane::Loop, Kind::ForcedSwitch);
        let b = now_ns();
        assert!(a <= e.start_ns && e.start_ns <= b);
        assert_eq!(e.start_ns, e.end_ns);
        assert!(Kind::ForcedSwitch.is_instant() && !Kind::GilHeld.is_instant());
        let span = Event::span_until_now(Lane::Loop, Kind::PollerWait, a);
        assert!(span.end_ns >= span.start_ns);
    }
}
