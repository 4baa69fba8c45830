//! Recording what the pool does (cargo feature `trace`, off by default): the shared recording
//! types, re-exported, and the two ends of a traced pool, the manager's `Tap` and the
//! worker's `WorkerLog`.
//!
//! ```text
//!  manager thread (parent)                              worker process (slot i)
//!  ───────────────────────                              ───────────────────────
//!  Worker::send: ChunkSent on Worker(i) ── task frame ─▶ read it: start = now_ns()
//!     into the pool's Recorder                          run the chunk
//!                                                       WorkerLog: ChunkRun [start, now]
//!  Worker::receive: footer → ChunkRun on Worker(i) ◀──── answer frame + footer, log emptied
//!     into the pool's Recorder, then the answer goes to its caller
//! ```
//!
//! Invariants:
//! - **Without a recorder nothing changes on the wire.** Only a pool built with
//!   [`Builder::recorder`](crate::Builder::recorder) has its workers append a footer to their
//!   answers; both ends know it from the pool's settings (a fork server learns it in its
//!   handshake), never from the bytes. Without the feature none of this is compiled.
//! - **A worker records without a lock or an allocation.** Its `WorkerLog` is allocated
//!   before the fork that creates the worker: under `Fork` by the manager thread, under
//!   `ForkServer` by the server, which is single-threaded (so there an allocation after the
//!   fork would be safe too; the rule is kept the same for both). Recording into the log and
//!   reading it back ([`Recorder::for_each`]) neither lock nor allocate. The footer is written
//!   into the worker's answer buffer, reused from chunk to chunk, which grows like any answer
//!   does (with `malloc`, safe in a forked child under glibc: see `worker.rs`).
//! - **A worker never names its own lane.** A fork-server worker is forked without knowing its
//!   slot, and the bytes of a worker are not trusted to choose one: the manager puts every
//!   record that arrives on the pipe of slot `i` on `Lane::Worker(i)`, the lane a replacement
//!   worker keeps.
//! - **A record is in the recorder before its answer reaches the caller**, so a caller that has
//!   its results finds the chunks' records already there.
//! - **One clock**: the manager's and the workers' stamps are `CLOCK_MONOTONIC`
//!   ([`now_ns`], the same as `sys::monotonic_ns`), so a chunk's `ChunkSent` (stamped before its
//!   frame is written) precedes its `ChunkRun` (stamped after the worker read it).
//!
//! The footer, after the last outcome of a result frame's body:
//!
//! ```text
//!   k x ([u8 kind][u64 start ns][u64 end ns])  [u32 byte length of those k records]
//! ```

use std::sync::Arc;

pub use concurrency_shared::trace::{Event, Kind, Lane, Recorder, now_ns};

use crate::{Wire, WireError};

/// The records a worker makes per chunk: one `ChunkRun` span. It sends its log with every
/// answer and empties it, so the log never holds more than one chunk's records.
const RECORDS_PER_CHUNK: usize = 1;

/// The lane a worker's records carry inside the worker: a placeholder, never sent (see the
/// module's invariants: the manager names the lane).
const UNNAMED: Lane = Lane::Worker(u32::MAX);

/// The size of the footer's trailing length.
const FOOTER_LEN: usize = 4;

/// A worker's own record buffer, allocated before the fork and emptied after each answer.
pub(crate) struct WorkerLog(Recorder);

impl WorkerLog {
    /// A log for one worker: call before the fork that creates it.
    pub(crate) fn before_fork() -> WorkerLog {
        WorkerLog(Recorder::with_capacity(RECORDS_PER_CHUNK))
    }

    /// Records the chunk that began at `started_at` as run until now, appends the log to
    /// `answer` (one complete result frame) as its footer, and empties the log.
    pub(crate) fn close_chunk(&mut self, started_at: u64, answer: &mut Vec<u8>) {
        self.0
            .record(Event::span_until_now(UNNAMED, Kind::ChunkRun, started_at));
        let at = answer.len();
        self.0.for_each(|event| {
            event.kind.encode(answer);
            event.start_ns.encode(answer);
            event.end_ns.encode(answer);
        });
        let len = u32::try_from(answer.len() - at).unwrap_or(u32::MAX);
        answer.extend_from_slice(&len.to_le_bytes());
        crate::frame::finish_frame(answer, 0);
        self.0.reset();
    }
}

/// The manager's side of one traced worker: the pool's recorder and the worker's lane.
pub(crate) struct Tap {
    /// The recorder given to the pool's builder.
    recorder: Arc<Recorder>,
    /// `Lane::Worker(slot)`.
    lane: Lane,
}

impl Tap {
    /// The tap of the worker in `slot`.
    pub(crate) fn new(recorder: Arc<Recorder>, slot: usize) -> Tap {
        Tap {
            recorder,
            lane: Lane::Worker(u32::try_from(slot).unwrap_or(u32::MAX)),
        }
    }

    /// Records that a chunk was handed to the worker at `at` (monotonic ns).
    pub(crate) fn chunk_sent(&self, at: u64) {
        self.recorder.record(Event {
            lane: self.lane,
            kind: Kind::ChunkSent,
            start_ns: at,
            end_ns: at,
        });
    }

    /// Records the footer of an answer's `body` on this worker's lane; returns how much of
    /// the body precedes the footer (the result frame proper).
    ///
    /// # Errors
    ///
    /// A [`WireError`] if the body does not end with a well-formed footer, or if a record in
    /// it is not what a worker makes (a `ChunkRun` span, ending no earlier than it starts);
    /// then nothing is recorded.
    pub(crate) fn take_footer(&self, body: &[u8]) -> Result<usize, WireError> {
        const FOOTER: &str = "proc-pool trace footer";
        let Some(len_at) = body.len().checked_sub(FOOTER_LEN) else {
            return Err(WireError::Truncated);
        };
        let mut len = [0; FOOTER_LEN];
        len.copy_from_slice(&body[len_at..]);
        let len = u32::from_le_bytes(len) as usize;
        let Some(records_at) = len_at.checked_sub(len) else {
            return Err(WireError::Invalid {
                type_name: FOOTER,
                reason: "its length is longer than the answer",
            });
        };
        let mut records = &body[records_at..len_at];
        let mut events = [None; RECORDS_PER_CHUNK];
        for slot in &mut events {
            if records.is_empty() {
                break;
            }
            let event = Event {
                lane: self.lane,
                kind: Kind::decode(&mut records)?,
                start_ns: u64::decode(&mut records)?,
                end_ns: u64::decode(&mut records)?,
            };
            // Only what `WorkerLog` makes: the recorder's readers rely on every event's kind
            // being its lane's and on a span not ending before it starts.
            if event.kind != Kind::ChunkRun || event.end_ns < event.start_ns {
                return Err(WireError::Invalid {
                    type_name: FOOTER,
                    reason: "a record a worker does not make",
                });
            }
            *slot = Some(event);
        }
        if !records.is_empty() {
            return Err(WireError::TrailingBytes {
                remaining: records.len(),
            });
        }
        events
            .into_iter()
            .flatten()
            .for_each(|e| self.recorder.record(e));
        Ok(records_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_with_footer(started_at: u64) -> Vec<u8> {
        let mut answer = Vec::new();
        let at = crate::frame::begin_frame(&mut answer);
        answer.extend_from_slice(b"results");
        crate::frame::finish_frame(&mut answer, at);
        WorkerLog::before_fork().close_chunk(started_at, &mut answer);
        answer
    }

    /// A footer comes off an answer whole: the results before it, one `ChunkRun` on the
    /// tap's lane (whatever the worker called it), and the frame's length covers both.
    #[test]
    fn a_footer_round_trips_onto_the_taps_lane() {
        let start = now_ns();
        let answer = answer_with_footer(start);
        let body = &answer[8..];
        assert_eq!(
            u64::from_le_bytes(answer[..8].try_into().unwrap()),
            body.len() as u64
        );
        let rec = Arc::new(Recorder::with_capacity(4));
        let tap = Tap::new(Arc::clone(&rec), 1);
        assert_eq!(tap.take_footer(body), Ok(b"results".len()));
        let events = rec.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].lane, Lane::Worker(1));
        assert_eq!(events[0].kind, Kind::ChunkRun);
        assert_eq!(events[0].start_ns, start);
        assert!(events[0].end_ns >= start);
    }

    /// A garbled footer is an error and records nothing; it never panics.
    #[test]
    fn a_garbled_footer_is_an_error() {
        let rec = Arc::new(Recorder::with_capacity(4));
        let tap = Tap::new(Arc::clone(&rec), 0);
        let good = answer_with_footer(now_ns());
        let body = &good[8..];
        assert!(tap.take_footer(&body[..body.len() - 1]).is_err());
        assert!(tap.take_footer(b"").is_err());
        assert!(tap.take_footer(&[0xff; 4]).is_err());
        let mut two = body.to_vec();
        let len_at = two.len() - FOOTER_LEN;
        let record = two[len_at - 17..len_at].to_vec();
        two.splice(len_at..len_at, record);
        two[len_at + 17..].copy_from_slice(&34u32.to_le_bytes());
        assert!(
            tap.take_footer(&two).is_err(),
            "more records than a chunk makes"
        );
        let mut bad_kind = body.to_vec();
        bad_kind[body.len() - FOOTER_LEN - 17] = 200;
        assert!(tap.take_footer(&bad_kind).is_err());
        assert!(rec.events().is_empty());
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 53 + 7) as u8).collect();
            let _ = tap.take_footer(&junk);
        }
    }

    /// A footer whose record is not what a worker makes (another kind, which may be an
    /// instant or some other runtime's; a span that ends before it starts) is refused like
    /// any garbled footer: nothing reaches the recorder that breaks an event's invariants.
    #[test]
    fn a_footer_record_a_worker_cannot_make_is_refused() {
        let rec = Arc::new(Recorder::with_capacity(8));
        let tap = Tap::new(Arc::clone(&rec), 0);
        let good = answer_with_footer(now_ns());
        let body = &good[8..];
        let kind_at = body.len() - FOOTER_LEN - 17;
        for kind in Kind::ALL.into_iter().filter(|&k| k != Kind::ChunkRun) {
            let mut other = body.to_vec();
            other[kind_at] = Kind::ALL.iter().position(|&k| k == kind).unwrap() as u8;
            assert!(tap.take_footer(&other).is_err(), "{kind:?}");
        }
        let mut backwards = body.to_vec();
        backwards[kind_at + 1..kind_at + 9].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(
            tap.take_footer(&backwards).is_err(),
            "a span ending before it starts"
        );
        assert!(rec.events().is_empty(), "{:?}", rec.events());
        assert_eq!(tap.take_footer(body), Ok(b"results".len()));
    }

    /// The pool's clock and the shared trace clock are one clock.
    #[test]
    fn the_pools_clock_is_the_trace_clock() {
        let a = crate::sys::monotonic_ns();
        let b = now_ns();
        let c = crate::sys::monotonic_ns();
        assert!(a <= b && b <= c);
    }
}
