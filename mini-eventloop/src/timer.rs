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

use concurrency_shared::{deadline_after, deadline_from};

use crate::runtime::{self, Core};
use crate::waiters::{store_waker, wake_all};

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
    /// The key part for `deadline`: exact, since an `Instant` on Linux is a whole number of
    /// nanoseconds, so comparing keys is comparing instants. Deadlines before the epoch are
    /// never registered (they are due at once); one more than 584 years (`u64` nanoseconds)
    /// after the epoch saturates and never fires, which is what such a deadline means.
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
        let replaced = match self.map.borrow_mut().get_mut(&key) {
            Some(w) => store_waker(w, waker),
            None => return false,
        };
        // Dropped after the borrow ends: a foreign waker's destructor may drop a `Sleep`,
        // which removes its own timer from this map.
        drop(replaced);
        true
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
        wake_all(expired.drain(..));
        *self.expired.borrow_mut() = expired;
        fired
    }

    /// Drops every pending timer's waker (shutdown).
    pub(crate) fn clear(&self) {
        let map = std::mem::take(&mut *self.map.borrow_mut());
        // Each waker dropped on its own: a foreign one's destructor may panic (`contain.rs`).
        for (_, waker) in map {
            crate::contain::contain(move || drop(waker));
        }
    }
}

/// Waits until `duration` has passed. asyncio: `await asyncio.sleep(seconds)`.
///
/// Any `Duration` is accepted: one so long that the deadline lies past what an [`Instant`]
/// can hold (`Duration::MAX`) means "never" (the workspace's rule,
/// [`concurrency_shared::deadline_after`]), a timer that never fires.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = mini_eventloop::Runtime::new().unwrap();
/// let start = Instant::now();
/// rt.block_on(mini_eventloop::sleep(Duration::from_millis(1)));
/// assert!(start.elapsed() >= Duration::from_millis(1));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::at(deadline_after(duration))
}

/// Waits until `deadline`. asyncio: `await asyncio.sleep(deadline - loop.time())`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::at(Some(deadline))
}

/// The future of [`sleep`] and [`sleep_until`]: ready once `Instant::now() >= deadline`, and
/// never with no deadline.
///
/// It must be polled inside a runtime (it panics otherwise, naming the problem). Dropping it
/// before it fires removes its timer. Polled under another runtime than the one it was
/// registered with (or after that runtime was dropped), it moves its timer to the runtime
/// polling it: it still completes only once its deadline has passed.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// When it becomes ready; `None` for never.
    deadline: Option<Instant>,
    /// Its registration: the runtime and the timer's sequence number, once polled (the key
    /// is recomputed from the deadline, which keeps a `Sleep` at 32 bytes).
    entry: Option<(Rc<Core>, u64)>,
}

impl Sleep {
    /// A sleep until `deadline` (`None`: never).
    fn at(deadline: Option<Instant>) -> Sleep {
        Sleep {
            deadline,
            entry: None,
        }
    }

    /// The deadline; `None` if it never fires (a duration past what an `Instant` can hold).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Moves the deadline (re-registering the timer at the next poll).
    pub fn reset(&mut self, deadline: Instant) {
        self.set_deadline(Some(deadline));
    }

    /// Moves the deadline, `None` for never.
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.cancel();
        self.deadline = deadline;
    }

    /// True once the deadline has passed (never, with no deadline).
    pub fn is_elapsed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Removes the timer from its queue, if registered.
    fn cancel(&mut self) {
        if let (Some((core, seq)), Some(deadline)) = (self.entry.take(), self.deadline) {
            core.timers.remove(core.timers.key(deadline, seq));
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
        let Some(deadline) = self.deadline else {
            // No deadline: nothing will ever wake it, and nothing needs to.
            return Poll::Pending;
        };
        if let Some((core, seq)) = &self.entry {
            if runtime::is_current(core) {
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
            // Registered with a runtime that is not polling it (another one, or one that was
            // dropped and cleared its queue): a missing entry there proves nothing, so move
            // the timer to the runtime polling it rather than complete early.
            self.cancel();
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
/// A zero `period` is raised to one nanosecond (tokio panics instead; a caller's `Duration`
/// never panics here), and a period too long for an `Instant` to hold gives one tick and then
/// none.
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
    Interval {
        period: period.max(Duration::from_nanos(1)),
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
        // A sleep with no deadline never completes, so this one has a deadline.
        let Some(scheduled) = self.sleep.deadline() else {
            return Poll::Pending;
        };
        let now = Instant::now();
        // Every sum goes through `deadline_from`: `None` (past an `Instant`'s range) means no
        // further tick, never a panic.
        let mut next = deadline_from(scheduled, self.period);
        if next.is_some_and(|next| next <= now) {
            next = match self.missed {
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => deadline_from(now, self.period),
                MissedTickBehavior::Skip => first_tick_after(scheduled, now, self.period),
            };
        }
        self.sleep.set_deadline(next);
        Poll::Ready(scheduled)
    }
}

/// The first tick of the grid `scheduled + k * period` (k >= 1) strictly after `now`, in
/// exact integer nanoseconds (a `u32` count of periods would stop short, and tick in a burst,
/// once more than 2^32 periods were missed); `None` past an `Instant`'s range.
fn first_tick_after(scheduled: Instant, now: Instant, period: Duration) -> Option<Instant> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let behind = now.saturating_duration_since(scheduled).as_nanos();
    // At least 1 ns (`interval` keeps it so), and the product fits: both are below 2^97.
    let period = period.as_nanos().max(1);
    let skip = (behind / period + 1) * period;
    let secs = u64::try_from(skip / NANOS_PER_SEC).ok()?;
    // The remainder is below 10^9, so it fits a u32.
    let nanos = (skip % NANOS_PER_SEC) as u32;
    deadline_from(scheduled, Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// `Skip` lands strictly after `now` on the period's grid, even with a 1 ns period more
    /// than 2^32 periods behind (the old `u32` count stopped 4.3 s short of `now`).
    #[test]
    fn skip_lands_after_now_however_far_behind() {
        let scheduled = Instant::now();
        for (behind, period) in [
            (Duration::from_secs(10), Duration::from_nanos(1)),
            (Duration::from_secs(10), Duration::from_nanos(3)),
            (Duration::from_nanos(5), Duration::from_secs(1)),
            (Duration::from_secs(1), Duration::from_secs(1)),
        ] {
            let now = scheduled + behind;
            let next = first_tick_after(scheduled, now, period).unwrap();
            assert!(
                next > now,
                "{behind:?} behind, period {period:?}: not after now"
            );
            assert!(
                next - now <= period,
                "skipped more than one period past now"
            );
            assert_eq!(
                (next - scheduled).as_nanos() % period.as_nanos(),
                0,
                "off the grid"
            );
        }
        assert!(first_tick_after(scheduled, scheduled, Duration::MAX).is_none());
    }

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
