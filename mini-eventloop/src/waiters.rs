//! [`Waiters`]: the one "store a waker / wake it" mechanism of the crate. Every primitive that
//! makes a task wait (a socket direction in the reactor, the channels,
//! [`Notify`](crate::sync::Notify)) keeps its waiting tasks in one of these, behind its own
//! lock (`RefCell` on the loop thread, `Mutex` where other threads notify); a
//! [`JoinHandle`](crate::JoinHandle) uses its one-waiter form, [`WakerSlot`] (see below).
//!
//! Invariants:
//! - **Every waiter is kept.** Each registration gets its own entry, so two futures waiting on
//!   one thing (two `recv_from` on one socket in a `join`, two tasks accepting on one listener)
//!   are both woken; nothing overwrites another waiter's waker.
//! - **Nothing piles up.** A waiter holds its [`WaiterKey`]; polling again updates its entry in
//!   place (keeping the old waker if it wakes the same task), and the waiter's destructor
//!   removes it ([`Waiters::remove`]). So a future polled and dropped a million times leaves
//!   nothing behind.
//! - **A stale key matches nothing.** Keys come from a counter that never repeats (64 bits), so
//!   a waiter whose entry was already taken by a wake registers afresh instead of overwriting
//!   somebody else's entry.
//! - **FIFO.** Entries are kept in registration order, so [`Waiters::take_first`] wakes the
//!   longest waiter (what `Notify::notify_one` promises).
//!
//! Waking and dropping wakers is the caller's job: the `take_*` methods hand the wakers out,
//! and `register` and `remove` hand back the waker they replace or remove, so the caller can
//! release its lock (or `RefCell` borrow) first. A foreign waker's `wake` or `drop` may run
//! any code, including code that comes back to the same primitive.
//!
//! Where the type system guarantees a single waiter, the same rule is kept in a 16-byte
//! [`WakerSlot`] instead of a list: a [`JoinHandle`](crate::JoinHandle) (not `Clone`, polled
//! through `&mut`), whose slot lives in every task's header. A list there cost 24 more bytes
//! per task and an allocation per awaited task (measured: spawn + await went from 78 to 153
//! ns, 100,000 sleeping tasks from 21.2 to 25.7 MiB). The timer queue (`timer.rs`) is keyed by
//! deadline, since its order is the deadline's; each of its entries updates its waker with
//! [`store_waker`], the same rule.

use std::cell::Cell;
use std::collections::VecDeque;
use std::task::Waker;

/// A waiter's name in a [`Waiters`] list; it stays with the waiting future.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WaiterKey(u64);

/// Replaces `slot` with `waker` unless it already wakes the same task (saves a clone, which
/// for a foreign waker may be an allocation). Returns the replaced waker, for the caller to
/// drop once its lock or borrow is released.
#[must_use = "drop the replaced waker after releasing the lock"]
pub(crate) fn store_waker(slot: &mut Waker, waker: &Waker) -> Option<Waker> {
    if slot.will_wake(waker) {
        None
    } else {
        Some(std::mem::replace(slot, waker.clone()))
    }
}

/// The one task waiting for something only one task can wait for (loop thread only): the
/// single-waiter form of [`Waiters`], with the same rules.
///
/// Not `concurrency_shared::WakerSlot`, on purpose: that one is woken from other threads, so
/// it pays a lock on every register and wake and is 24 bytes; this one lives in every task's
/// header and is only touched on the loop thread, where a `Cell` (16 bytes, no atomics)
/// suffices and the caller drops the replaced waker outside its own `RefCell` borrow.
#[derive(Default)]
pub(crate) struct WakerSlot(Cell<Option<Waker>>);

impl WakerSlot {
    /// Stores `waker`, keeping the old one if it wakes the same task; returns the replaced
    /// one, to drop after any borrow is released.
    #[must_use = "drop the replaced waker outside any borrow"]
    pub(crate) fn register(&self, waker: &Waker) -> Option<Waker> {
        match self.0.take() {
            Some(mut old) => {
                let replaced = store_waker(&mut old, waker);
                self.0.set(Some(old));
                replaced
            }
            None => {
                self.0.set(Some(waker.clone()));
                None
            }
        }
    }

    /// Takes the waiter's waker (to wake it, or because the waiter is gone).
    pub(crate) fn take(&self) -> Option<Waker> {
        self.0.take()
    }
}

impl std::fmt::Debug for WakerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakerSlot").finish_non_exhaustive()
    }
}

/// The tasks waiting for one thing, in registration order.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// The next key to hand out; never reused.
    next_key: u64,
    /// Registered waiters, oldest first, so sorted by key: a key is found by binary search,
    /// the oldest leaves from the front in O(1), and the allocation is kept between waits.
    /// (Usually zero or one entry; a `Notify` may have thousands.)
    entries: VecDeque<(u64, Waker)>,
}

impl Waiters {
    /// An empty list (`const`, so primitives that are `const`-constructible stay so).
    pub(crate) const fn new() -> Waiters {
        Waiters {
            next_key: 0,
            entries: VecDeque::new(),
        }
    }

    /// Registers (or re-registers) the waiter holding `key` with `waker`. A waiter whose entry
    /// is still here has its waker updated in place; one that was woken (its entry taken) or
    /// never registered gets a new entry at the back, and `key` is set to it. Returns the
    /// waker it replaced, if any, to be dropped after the caller's lock is released.
    #[must_use = "drop the replaced waker after releasing the lock"]
    pub(crate) fn register(&mut self, key: &mut Option<WaiterKey>, waker: &Waker) -> Option<Waker> {
        if let Some(WaiterKey(k)) = *key {
            if let Some(index) = self.position(k) {
                return store_waker(&mut self.entries[index].1, waker);
            }
        }
        let k = self.next_key;
        self.next_key += 1;
        self.entries.push_back((k, waker.clone()));
        *key = Some(WaiterKey(k));
        None
    }

    /// Removes the waiter holding `key` (its future was dropped or is done) and clears `key`.
    /// Returns its waker, if it was still registered, for the caller to drop outside its
    /// lock; `None` if a wake had already taken it.
    #[must_use = "drop the removed waker after releasing the lock"]
    pub(crate) fn remove(&mut self, key: &mut Option<WaiterKey>) -> Option<Waker> {
        let WaiterKey(k) = key.take()?;
        let index = self.position(k)?;
        self.entries.remove(index).map(|(_, w)| w)
    }

    /// Takes the longest-waiting waiter out of the list.
    pub(crate) fn take_first(&mut self) -> Option<(WaiterKey, Waker)> {
        let (k, w) = self.entries.pop_front()?;
        Some((WaiterKey(k), w))
    }

    /// Moves every waiter's waker into `out` (oldest first), emptying the list but keeping its
    /// allocation.
    pub(crate) fn take_all(&mut self, out: &mut Vec<Waker>) {
        out.extend(self.entries.drain(..).map(|(_, w)| w));
    }

    /// Takes every waiter's waker, for the caller to wake after releasing its lock. The
    /// usual single waiter costs no allocation.
    #[must_use = "wake the taken wakers"]
    pub(crate) fn take_all_list(&mut self) -> WakeList {
        let mut drain = self.entries.drain(..).map(|(_, w)| w);
        WakeList {
            first: drain.next(),
            rest: drain.collect(),
        }
    }

    /// The index of the entry with key `k`, if it is still registered.
    fn position(&self, k: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&k, |(e, _)| *e).ok()
    }

    /// How many waiters are registered.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Wakers taken from a [`Waiters`]: the first inline (the common case is one), the rest in a
/// `Vec` that allocates only when there are more.
#[derive(Debug, Default)]
pub(crate) struct WakeList {
    /// The oldest waiter's waker.
    first: Option<Waker>,
    /// The others, oldest first.
    rest: Vec<Waker>,
}

impl IntoIterator for WakeList {
    type Item = Waker;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Waker>, std::vec::IntoIter<Waker>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

/// Wakes every waker of `wakers` (taken from a [`Waiters`] under a lock that is now
/// released). A waker that panics does not stop the others: see `contain.rs`.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    for w in wakers {
        crate::contain::wake(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// Counts its wakes; clones of one `Arc` are "the same task" for `will_wake`.
    struct Counter(AtomicUsize);
    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Two waiters are both kept and both woken; re-registering one updates it in place.
    #[test]
    fn every_waiter_is_kept() {
        let (a, b) = (
            Arc::new(Counter(AtomicUsize::new(0))),
            Arc::new(Counter(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut list = Waiters::new();
        let (mut ka, mut kb) = (None, None);
        assert!(list.register(&mut ka, &wa).is_none());
        assert!(list.register(&mut kb, &wb).is_none());
        assert!(list.register(&mut ka, &wa).is_none(), "same task: kept");
        assert!(
            list.register(&mut ka, &wb).is_some(),
            "another task: replaced"
        );
        assert!(list.register(&mut ka, &wa).is_some());
        assert_eq!(list.len(), 2);
        wake_all(list.take_all_list());
        assert_eq!(a.0.load(Ordering::Relaxed), 1);
        assert_eq!(b.0.load(Ordering::Relaxed), 1);
        assert_eq!(list.len(), 0);
    }

    /// A dropped waiter's entry goes away; a stale key never matches a newer waiter.
    #[test]
    fn removal_and_stale_keys() {
        let w = Waker::noop().clone();
        let mut list = Waiters::new();
        for _ in 0..1000 {
            let mut key = None;
            drop(list.register(&mut key, &w));
            drop(list.remove(&mut key));
        }
        assert_eq!(list.len(), 0, "dropped waiters piled up");
        let mut old = None;
        drop(list.register(&mut old, &w));
        let mut taken = Vec::new();
        list.take_all(&mut taken);
        let mut new = None;
        drop(list.register(&mut new, &w));
        assert!(
            list.remove(&mut old).is_none(),
            "a woken waiter's key matched a new entry"
        );
        assert_eq!(list.len(), 1, "a stale key removed another waiter");
        assert_eq!(list.take_first().map(|(k, _)| k), new);
    }

    /// Many waiters leaving out of order: the rest stay, in registration order.
    #[test]
    fn fifo_survives_out_of_order_removal() {
        const WAITERS: usize = 1000;
        let w = Waker::noop().clone();
        let mut list = Waiters::new();
        let mut keys: Vec<Option<WaiterKey>> = vec![None; WAITERS];
        for key in &mut keys {
            drop(list.register(key, &w));
        }
        for key in keys.iter_mut().skip(1).step_by(2).rev() {
            assert!(list.remove(key).is_some());
        }
        let order: Vec<_> = std::iter::from_fn(|| list.take_first().map(|(k, _)| k)).collect();
        let expected: Vec<_> = keys.iter().step_by(2).map(|k| k.unwrap()).collect();
        assert_eq!(order, expected);
    }

    /// The single slot keeps a waker of the same task and hands back a replaced one.
    #[test]
    fn slot_replaces_only_other_tasks() {
        let a = Waker::from(Arc::new(Counter(AtomicUsize::new(0))));
        let b = Waker::from(Arc::new(Counter(AtomicUsize::new(0))));
        let slot = WakerSlot::default();
        assert!(slot.register(&a).is_none());
        assert!(slot.register(&a).is_none());
        assert!(slot.register(&b).is_some_and(|old| old.will_wake(&a)));
        assert!(slot.take().is_some_and(|w| w.will_wake(&b)));
        assert!(slot.take().is_none());
    }
}
