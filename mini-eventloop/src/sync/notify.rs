//! [`Notify`]: wake one waiting task, or every waiting task, with no data attached; the part
//! of asyncio's `Event` and `Condition` that does the waking (and tokio's `Notify`).
//!
//! Invariants (all state behind one mutex; no waker is woken or dropped while it is held):
//!
//! - **At most one stored permit.** [`Notify::notify_one`] with nobody waiting stores a permit
//!   (a second call adds nothing); the next [`Notified`] consumes it at its first poll.
//! - **A permit is never lost.** With waiters, `notify_one` hands the permit to the one that has
//!   waited longest (FIFO, by ticket) by moving it from *waiting* to *chosen*. A chosen waiter
//!   that is dropped before it ran passes the permit on, to the next waiter or into storage.
//! - **Nothing leaks.** A waiter that is dropped while waiting deregisters.
//! - **[`Notify::notify_waiters`] stores nothing.** It completes every `Notified` created before
//!   the call, whether it was polled yet or not (each records, when created, how many
//!   `notify_waiters` calls there had been), and none created after it. So "create the
//!   `Notified`, check the condition, then await" cannot miss a broadcast sent in between.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::lock;
use crate::waiters::{WaiterKey, Waiters, wake_all};

/// The guarded state of a [`Notify`].
#[derive(Debug)]
struct State {
    /// A `notify_one` arrived with nobody waiting.
    permit: bool,
    /// How many `notify_waiters` calls there have been.
    broadcasts: u64,
    /// Registered waiters not chosen yet, oldest first.
    waiting: Waiters,
    /// Waiters chosen by `notify_one` that have not yet seen it (they hold its permit).
    chosen: BTreeSet<WaiterKey>,
}

impl State {
    /// `notify_one`'s decision: choose the oldest waiter and return its waker to wake, or
    /// store the permit if nobody waits.
    fn hand_over(&mut self) -> Option<Waker> {
        match self.waiting.take_first() {
            Some((key, waker)) => {
                self.chosen.insert(key);
                Some(waker)
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

/// Wakes tasks waiting in [`Notify::notified`]: one with a permit ([`notify_one`]), or all
/// current ones ([`notify_waiters`]). Usable from any thread (share it in an `Arc`), and
/// `const`-constructible, so it may live in a `static`.
///
/// With a flag, it makes asyncio's `Event` (`set` = store + `notify_waiters`, `wait` = check
/// the flag, else `notified().await` and check again); with a lock around the condition, a
/// `Condition` (`notify` = `notify_one`, `notify_all` = `notify_waiters`).
///
/// [`notify_one`]: Notify::notify_one
/// [`notify_waiters`]: Notify::notify_waiters
///
/// ```
/// use std::sync::Arc;
/// use mini_eventloop::{Runtime, spawn, sync::Notify};
///
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let ready = Arc::new(Notify::new());
///     let waiter = spawn({
///         let ready = ready.clone();
///         async move { ready.notified().await; "woken" }
///     });
///     // Even if the waiter has not run yet, the permit is kept for it.
///     std::thread::spawn(move || ready.notify_one());
///     assert_eq!(waiter.await.unwrap(), "woken");
/// });
/// ```
pub struct Notify {
    /// The state; written by `notified` futures (the loop) and by notifiers (any thread).
    state: Mutex<State>,
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    ///
    /// ```
    /// use mini_eventloop::sync::Notify;
    /// static SHUTDOWN: Notify = Notify::new();
    /// SHUTDOWN.notify_one();
    /// ```
    pub const fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                broadcasts: 0,
                waiting: Waiters::new(),
                chosen: BTreeSet::new(),
            }),
        }
    }

    /// A future that completes when this `Notify` is notified: by a stored permit (consumed),
    /// by a [`notify_one`](Notify::notify_one) that chose it, or by a
    /// [`notify_waiters`](Notify::notify_waiters) called after this `Notified` was created.
    ///
    /// It registers as a waiter at its first poll; dropping it deregisters it (and passes on a
    /// permit it was chosen for but never saw).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use mini_eventloop::{Runtime, sync::Notify};
    ///
    /// // An asyncio.Event: create the future, check the flag, then await.
    /// async fn wait(flag: &AtomicBool, notify: &Notify) {
    ///     loop {
    ///         let notified = notify.notified();
    ///         if flag.load(Ordering::Acquire) {
    ///             return;
    ///         }
    ///         notified.await; // a notify_waiters after `notified()` is not missed
    ///     }
    /// }
    ///
    /// let (flag, notify) = (AtomicBool::new(false), Notify::new());
    /// Runtime::new().unwrap().block_on(mini_eventloop::join(wait(&flag, &notify), async {
    ///     flag.store(true, Ordering::Release);
    ///     notify.notify_waiters();
    /// }));
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        let broadcasts = lock(&self.state).broadcasts;
        Notified {
            notify: self,
            broadcasts,
            stage: Stage::Unregistered,
            key: None,
        }
    }

    /// Wakes the waiter that has waited longest, or, if nobody waits, stores a permit that the
    /// next [`notified`](Notify::notified) consumes at once. Permits do not add up: at most
    /// one is stored. Callable from any thread.
    ///
    /// ```
    /// use mini_eventloop::{Runtime, sync::Notify};
    ///
    /// let notify = Notify::new();
    /// notify.notify_one(); // nobody waits: stored
    /// notify.notify_one(); // still one permit
    /// Runtime::new().unwrap().block_on(notify.notified()); // consumes it, does not wait
    /// ```
    pub fn notify_one(&self) {
        let waker = lock(&self.state).hand_over();
        if let Some(waker) = waker {
            crate::contain::wake(waker);
        }
    }

    /// Wakes every [`Notified`] created before this call (registered or not yet polled), and
    /// stores no permit: a `Notified` created afterwards waits for the next notification.
    /// Callable from any thread.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use mini_eventloop::{Runtime, spawn, sync::Notify, yield_now};
    ///
    /// let rt = Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let notify = Rc::new(Notify::new());
    ///     let waiters: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let notify = notify.clone();
    ///             spawn(async move { notify.notified().await })
    ///         })
    ///         .collect();
    ///     yield_now().await; // let the three register
    ///     notify.notify_waiters();
    ///     for w in waiters {
    ///         w.await.unwrap();
    ///     }
    /// });
    /// ```
    pub fn notify_waiters(&self) {
        let waiters = {
            let mut s = lock(&self.state);
            s.broadcasts += 1;
            s.waiting.take_all_list()
        };
        wake_all(waiters);
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &s.permit)
            .field("waiting", &s.waiting.len())
            .field("chosen", &s.chosen.len())
            .finish()
    }
}

/// Where a [`Notified`] is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet: not registered.
    Unregistered,
    /// Registered (waiting, or chosen by `notify_one`).
    Registered,
    /// Completed.
    Done,
}

/// The future of [`Notify::notified`]. Dropping it deregisters it.
///
/// ```
/// use mini_eventloop::{Runtime, sync::{Notified, Notify}};
///
/// let notify = Notify::new();
/// let notified: Notified<'_> = notify.notified();
/// notify.notify_waiters(); // `notified` was created before: it counts as waiting
/// Runtime::new().unwrap().block_on(notified);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    /// The `Notify` waited on.
    notify: &'a Notify,
    /// `notify_waiters` calls before this future was created; more means it was broadcast to.
    broadcasts: u64,
    /// Registration.
    stage: Stage,
    /// Its entry in `waiting` (or its name in `chosen`), once registered.
    key: Option<WaiterKey>,
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // A waker replaced or removed here is dropped after the lock is released.
        let mut stale = None;
        let mut s = lock(&this.notify.state);
        let done = match this.stage {
            Stage::Done => true,
            Stage::Unregistered => {
                if s.broadcasts != this.broadcasts {
                    true
                } else if s.permit {
                    s.permit = false;
                    true
                } else {
                    stale = s.waiting.register(&mut this.key, cx.waker());
                    this.stage = Stage::Registered;
                    false
                }
            }
            Stage::Registered => {
                if this.key.is_some_and(|k| s.chosen.remove(&k)) {
                    true
                } else if s.broadcasts != this.broadcasts {
                    stale = s.waiting.remove(&mut this.key);
                    true
                } else {
                    // Still waiting (a broadcast or a choice would have been seen above):
                    // the entry is updated in place.
                    stale = s.waiting.register(&mut this.key, cx.waker());
                    false
                }
            }
        };
        drop(s);
        drop(stale);
        if done {
            this.stage = Stage::Done;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.stage != Stage::Registered {
            return;
        }
        let key = self.key;
        let (stale, next) = {
            let mut s = lock(&self.notify.state);
            match s.waiting.remove(&mut self.key) {
                Some(waker) => (Some(waker), None),
                // Chosen but never saw it: the permit goes to the next waiter, or is stored.
                None if key.is_some_and(|k| s.chosen.remove(&k)) => (None, s.hand_over()),
                None => (None, None),
            }
        };
        drop(stale);
        if let Some(waker) = next {
            crate::contain::wake(waker);
        }
    }
}
