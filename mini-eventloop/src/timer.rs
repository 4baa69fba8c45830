//! Timers: the deadline queue the loop consults, and the [`sleep`], [`sleep_until`],
//! [`timeout`] and [`interval`] futures built on it.
//!
//! # The queue: an ordered map, not a wheel or a plain heap
//!
//! Pending timers live in a `BTreeMap` keyed by `(deadline in ns, sequence number)`: the nearest
//! deadline is the first key (the poll timeout), expired timers are popped from the front in
//! deadline order (so they fire in order; the sequence number breaks ties by creation order),
//! and a cancelled timer (a dropped [`Sleep`], a [`timeout`] whose future won) is removed by
//! its key in O(log n), so nothing piles up. A binary heap cannot remove an entry without an
//! index or tombstones (which pile up under `timeout`-heavy code); a hashed wheel is cheaper
//! per insert but rounds deadlines to its tick, and this loop promises sub-millisecond
//! precision. 100,000 pending timers cost one B-tree entry each (32 bytes of key and waker, in
//! nodes of up to 11 entries).
//!
//! # Never early, no extra tick
//!
//! The loop fires a timer only once `Instant::now() >= deadline`, and a [`Sleep`] polled
//! before it has fired checks the clock itself. The poll waits on a `timerfd` armed for the
//! nearest deadline (mio's own timeout is rounded up to whole milliseconds, tokio-rs/tokio#6866
//! is the same rounding in tokio), so a 1 ms sleep wakes about 1 ms later, not 2.
//!
//! Invariant: every key in the map belongs to a live, pending [`Sleep`]; a fired entry is
//! removed by the loop, a cancelled one by the `Sleep`'s destructor.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::runtime::{self, Core};

/// A timer's key: its deadline in nanoseconds after the queue's epoch, then its sequence
/// number. Two `u64`s rather than an `Instant` (16 bytes with padding) and a `u64`: 8 bytes
/// less per pending timer.
type Key = (u64, u64);

/// The runtime's pending timers.
pub(crate) struct TimerQueue {
    /// The instant deadlines are measured from (the queue's creation).
    epoch: Instant,
    /// Pending timers by deadline, then creation order.
    map: RefCell<BTreeMap<Key, Waker>>,
    /// The next sequence number.
    next_seq: Cell<u64>,
    /// Wakers of expired timers, woken once the map is no longer borrowed.
    expired: RefCell<Vec<Waker>>,
}

impl Default for TimerQueue {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            map: RefCell::default(),
            next_seq: Cell::new(0),
            expired: RefCell::default(),
        }
    }
}

impl TimerQueue {
    /// The key part for `deadline`, rounded **up** to whole nanoseconds so that a timer never
    /// fires before its deadline. Deadlines before the epoch are never registered (they are
    /// due at once), and `u64` nanoseconds last 584 years.
    fn nanos(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant of a key's deadline.
    fn instant(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// Adds a timer; returns its sequence number (with the deadline, its key).
    fn insert(&self, deadline: Instant, waker: Waker) -> u64 {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        self.map.borrow_mut().insert(self.key(deadline, seq), waker);
        seq
    }

    /// The key of the timer with this deadline and sequence number.
    fn key(&self, deadline: Instant, seq: u64) -> Key {
        (self.nanos(deadline), seq)
    }

    /// Replaces the waker of a pending timer; false if it has already fired.
    fn update(&self, key: Key, waker: &Waker) -> bool {
        match self.map.borrow_mut().get_mut(&key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    w.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Removes a cancelled timer (no-op if it already fired).
    fn remove(&self, key: Key) {
        let waker = self.map.borrow_mut().remove(&key);
        drop(waker);
    }

    /// The nearest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let first = self.map.borrow().first_key_value().map(|(k, _)| k.0);
        first.map(|nanos| self.instant(nanos))
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.map.borrow().len()
    }

    /// Wakes every timer whose deadline is at or before `now`, in deadline order; returns how
    /// many fired.
    pub(crate) fn fire_due(&self, now: Instant) -> u64 {
        // Instants carry whole nanoseconds, so the deadline's key is exact and comparing
        // keys is comparing instants.
        let now = self.nanos(now);
        let mut expired = std::mem::take(&mut *self.expired.borrow_mut());
        {
            let mut map = self.map.borrow_mut();
            while let Some(entry) = map.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                expired.push(entry.remove());
            }
        }
        let fired = expired.len() as u64;
        for w in expired.drain(..) {
            w.wake();
        }
        *self.expired.borrow_mut() = expired;
        fired
    }

    /// Drops every pending timer's waker (shutdown).
    pub(crate) fn clear(&self) {
        let map = std::mem::take(&mut *self.map.borrow_mut());
        drop(map);
    }
}

/// Waits until `duration` has passed. asyncio: `await asyncio.sleep(seconds)`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = mini_eventloop::Runtime::new().unwrap();
/// let start = Instant::now();
/// rt.block_on(mini_eventloop::sleep(Duration::from_millis(1)));
/// assert!(start.elapsed() >= Duration::from_millis(1));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`. asyncio: `await asyncio.sleep(deadline - loop.time())`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`]: ready once `Instant::now() >= deadline`.
///
/// It must be polled inside a runtime (it panics otherwise, naming the problem). Dropping it
/// before it fires removes its timer.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// When it becomes ready.
    deadline: Instant,
    /// Its registration: the runtime and the timer's sequence number, once polled (the key
    /// is recomputed from the deadline, which keeps a `Sleep` at 32 bytes).
    entry: Option<(Rc<Core>, u64)>,
}

impl Sleep {
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline (re-registering the timer at the next poll).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Removes the timer from its queue, if registered.
    fn cancel(&mut self) {
        if let Some((core, seq)) = self.entry.take() {
            core.timers.remove(core.timers.key(self.deadline, seq));
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.entry.is_some())
            .finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        if let Some((core, seq)) = &self.entry {
            // Still in the queue: not yet due (the loop removes entries only once due).
            if core
                .timers
                .update(core.timers.key(deadline, *seq), cx.waker())
            {
                return Poll::Pending;
            }
            self.entry = None;
            return Poll::Ready(());
        }
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let core = runtime::current().unwrap_or_else(|| {
            panic!("mini_eventloop::sleep polled outside a runtime: await it inside block_on")
        });
        let seq = core.timers.insert(deadline, cx.waker().clone());
        self.entry = Some((core, seq));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The error of [`timeout`]: the deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration`. asyncio: `asyncio.wait_for(aw, timeout)`.
///
/// The future is polled first, so one that is ready immediately wins even with a zero
/// duration. When the time runs out the future is dropped (cancelled) with the [`Timeout`].
///
/// ```
/// use std::time::Duration;
/// use mini_eventloop::{Runtime, timeout, Elapsed};
/// let rt = Runtime::new().unwrap();
/// let r = rt.block_on(timeout(Duration::from_millis(1), std::future::pending::<()>()));
/// assert!(r.is_err());
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    /// The future being limited.
    future: F,
    /// The deadline.
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `self` and
        // `Timeout` has no `Drop` impl and is not `Unpin` unless `F` is. `sleep` is `Unpin`
        // (and not treated as pinned), so a plain `&mut` to it is fine.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above: `this.future` stays pinned as long as `self` is.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What an [`Interval`] does when ticks were missed (the loop was busy for longer than a
/// period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up with the original schedule.
    Burst,
    /// Start a new schedule one period after the late tick.
    Delay,
    /// Drop the missed ticks; keep the original schedule's phase (the default: no bursts
    /// after a stall, no drift).
    #[default]
    Skip,
}

/// Ticks every `period`, the first tick immediately. asyncio has no built-in interval; this is
/// the usual `while True: ...; await asyncio.sleep(period)` without the drift.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
/// let rt = mini_eventloop::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut every = mini_eventloop::interval(Duration::from_micros(100));
///     for _ in 0..3 {
///         every.tick().await;
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval: the period must be non-zero");
    Interval {
        period,
        sleep: sleep_until(Instant::now()),
        missed: MissedTickBehavior::default(),
    }
}

/// A periodic timer; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// Time between ticks.
    period: Duration,
    /// The next tick.
    sleep: Sleep,
    /// The catch-up policy.
    missed: MissedTickBehavior,
}

impl Interval {
    /// Sets the missed-tick policy.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for the next tick and returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let mut next = scheduled + self.period;
        if next <= now {
            next = match self.missed {
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => now + self.period,
                MissedTickBehavior::Skip => {
                    let behind = now.duration_since(scheduled).as_nanos();
                    let period = self.period.as_nanos();
                    let periods = u32::try_from(behind / period + 1).unwrap_or(u32::MAX);
                    scheduled + self.period.saturating_mul(periods)
                }
            };
        }
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// Timers fire in deadline order (ties in creation order), only once due, and a removed
    /// timer never fires.
    #[test]
    fn queue_fires_due_timers_in_order() {
        let q = TimerQueue::default();
        let t = q.epoch + Duration::from_millis(10);
        let late = q.insert(t + Duration::from_millis(5), Waker::noop().clone());
        let a = q.insert(t, Waker::noop().clone());
        let b = q.insert(t, Waker::noop().clone());
        assert!(a < b);
        assert_eq!(q.next_deadline(), Some(t));
        assert_eq!(q.fire_due(t - Duration::from_nanos(1)), 0, "fired early");
        q.remove(q.key(t + Duration::from_millis(5), late));
        assert_eq!(q.fire_due(t), 2);
        assert_eq!(q.len(), 0);
        assert_eq!(q.fire_due(t + Duration::from_secs(1)), 0);
    }
}
