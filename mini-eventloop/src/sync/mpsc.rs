//! Multi-producer, single-consumer queues: bounded with back-pressure ([`channel`]) and
//! unbounded ([`unbounded`]). asyncio: `asyncio.Queue(maxsize)`.
//!
//! Invariants: values come out in the order they went in; a bounded queue never holds more
//! than its capacity; each value received wakes one waiting sender, the longest waiting (one
//! freed slot, one wake: draining a queue with N waiting senders costs O(N) polls, not
//! O(N²)), and a woken sender whose `send` future is dropped before it used the slot passes
//! the wake on to the next (as [`Notify`](crate::sync::Notify) passes a permit on), so a
//! dropped future can never absorb the only wake; a dropped `send` future removes its waiter
//! (nothing piles up under `timeout(d, tx.send(v))` in a loop); threads in
//! [`Sender::blocking_send`] are counted, so the condition variable is signalled (a system
//! call) only when one is waiting; once the receiver is gone or closed every send fails and gives
//! the value back; once every sender is gone, or the receiver closed the queue, the receiver
//! drains what is left and then sees `None`.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

use super::lock;
use crate::waiters::{WaiterKey, Waiters, WakeList, wake_all};

/// The queue's state.
#[derive(Debug)]
struct State<T> {
    /// Queued values.
    queue: VecDeque<T>,
    /// Capacity; `None` for unbounded.
    capacity: Option<usize>,
    /// The receiver, while it waits for a value.
    receiver: Waiters,
    /// Senders waiting for room.
    senders_waiting: Waiters,
    /// Live senders.
    senders: usize,
    /// The receiver has been dropped or closed.
    rx_gone: bool,
    /// Threads blocked in [`Sender::blocking_send`] on the condition variable.
    blocked_threads: usize,
}

impl<T> State<T> {
    /// True if a value can be queued now (the receiver's presence aside).
    fn has_room(&self) -> bool {
        self.capacity.is_none_or(|c| self.queue.len() < c)
    }

    /// After a value left the queue: the longest-waiting sender to wake, and whether a
    /// thread blocks in `blocking_send` (then the condition variable must be signalled).
    fn freed_one_slot(&mut self) -> (Option<Waker>, bool) {
        let sender = self.senders_waiting.take_first().map(|(_, w)| w);
        (sender, self.blocked_threads > 0)
    }
}

/// State plus the condition variable that threads in [`Sender::blocking_send`] wait on.
#[derive(Debug)]
struct Chan<T> {
    /// The state.
    state: Mutex<State<T>>,
    /// Signalled whenever room appears or the receiver goes away.
    room: Condvar,
}

/// The value could not be sent: the receiver is gone. Holds the value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the receiver was dropped")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] failed. Holds the value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue is at capacity.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => f.write_str("the receiver was dropped"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// Nothing queued and every sender is gone.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Disconnected => f.write_str("the channel is empty and closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}

fn new_chan<T>(capacity: Option<usize>) -> Arc<Chan<T>> {
    Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            capacity,
            receiver: Waiters::new(),
            senders_waiting: Waiters::new(),
            blocked_threads: 0,
            senders: 1,
            rx_gone: false,
        }),
        room: Condvar::new(),
    })
}

/// A bounded queue of `capacity` values (at least 1): `send` waits while it is full.
///
/// ```
/// use mini_eventloop::{Runtime, spawn, sync::mpsc};
/// let rt = Runtime::new().unwrap();
/// let got = rt.block_on(async {
///     let (tx, mut rx) = mpsc::channel(2);
///     spawn(async move {
///         for i in 0..5 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut got = Vec::new();
///     while let Some(v) = rx.recv().await {
///         got.push(v);
///     }
///     got
/// });
/// assert_eq!(got, vec![0, 1, 2, 3, 4]);
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = new_chan(Some(capacity.max(1)));
    (Sender { chan: chan.clone() }, Receiver::new(chan))
}

/// An unbounded queue: sending never waits.
pub fn unbounded<T>() -> (UnboundedSender<T>, Receiver<T>) {
    let chan = new_chan(None);
    (UnboundedSender { chan: chan.clone() }, Receiver::new(chan))
}

/// Queues `value` if there is room; returns the receiver's waker to wake after unlocking.
fn try_push<T>(chan: &Chan<T>, value: T) -> Result<WakeList, TrySendError<T>> {
    let mut s = lock(&chan.state);
    if s.rx_gone {
        return Err(TrySendError::Closed(value));
    }
    if s.capacity.is_some_and(|c| s.queue.len() >= c) {
        return Err(TrySendError::Full(value));
    }
    s.queue.push_back(value);
    Ok(s.receiver.take_all_list())
}

/// A `send` future's entry among the senders waiting for room; removed when the future is
/// dropped, sent or not.
struct SendWaiter<'a, T> {
    /// The queue.
    chan: &'a Chan<T>,
    /// The entry, while registered.
    key: Option<WaiterKey>,
}

impl<T> SendWaiter<'_, T> {
    /// The send succeeded: removes the entry if it is still registered (a woken one has
    /// used its wake, which is not passed on).
    fn settle(&mut self) {
        if self.key.is_some() {
            let removed = lock(&self.chan.state).senders_waiting.remove(&mut self.key);
            drop(removed);
        }
    }
}

impl<T> Drop for SendWaiter<'_, T> {
    fn drop(&mut self) {
        if self.key.is_none() {
            return;
        }
        let (removed, passed_on) = {
            let mut s = lock(&self.chan.state);
            let removed = s.senders_waiting.remove(&mut self.key);
            // No entry: a receive took it to wake this sender for a freed slot, and the
            // future is gone without using it, so the next waiting sender gets the wake.
            let passed_on = if removed.is_none() && s.has_room() {
                s.senders_waiting.take_first().map(|(_, w)| w)
            } else {
                None
            };
            (removed, passed_on)
        };
        drop(removed);
        wake_all(passed_on);
    }
}

/// The sending half of a bounded queue; clone it for more producers, any thread.
#[derive(Debug)]
pub struct Sender<T> {
    /// The queue.
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is gone.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut value = Some(value);
        let mut waiter = SendWaiter {
            chan: &self.chan,
            key: None,
        };
        poll_fn(|cx| self.poll_send(cx, &mut value, &mut waiter)).await
    }

    /// One attempt of [`Sender::send`].
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        value: &mut Option<T>,
        waiter: &mut SendWaiter<'_, T>,
    ) -> Poll<Result<(), SendError<T>>> {
        let Some(v) = value.take() else {
            return Poll::Ready(Ok(()));
        };
        match try_push(&self.chan, v) {
            Ok(waker) => {
                waiter.settle();
                wake_all(waker);
                Poll::Ready(Ok(()))
            }
            Err(TrySendError::Closed(v)) => Poll::Ready(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                let mut s = lock(&self.chan.state);
                // Room may have appeared between the two locks: retry at once if so.
                if s.has_room() || s.rx_gone {
                    drop(s);
                    *value = Some(v);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let replaced = s.senders_waiting.register(&mut waiter.key, cx.waker());
                drop(s);
                drop(replaced);
                *value = Some(v);
                Poll::Pending
            }
        }
    }

    /// Sends `value` if there is room right now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        try_push(&self.chan, value).map(wake_all)
    }

    /// Sends `value` from a thread outside the loop, blocking that thread while the queue is
    /// full. Never call it on the loop's own thread: it would block the loop.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is gone.
    pub fn blocking_send(&self, mut value: T) -> Result<(), SendError<T>> {
        loop {
            match try_push(&self.chan, value) {
                Ok(waker) => {
                    wake_all(waker);
                    return Ok(());
                }
                Err(TrySendError::Closed(v)) => return Err(SendError(v)),
                Err(TrySendError::Full(v)) => {
                    value = v;
                    let mut s = lock(&self.chan.state);
                    if !s.has_room() && !s.rx_gone {
                        s.blocked_threads += 1;
                        s = self.chan.room.wait(s).unwrap_or_else(|p| p.into_inner());
                        s.blocked_threads -= 1;
                    }
                }
            }
        }
    }

    /// True if the receiver is gone.
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).rx_gone
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.chan.state).senders += 1;
        Self {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        drop_sender(&self.chan);
    }
}

/// The last sender going away wakes the receiver so it can see the end.
fn drop_sender<T>(chan: &Chan<T>) {
    let waker = {
        let mut s = lock(&chan.state);
        s.senders -= 1;
        if s.senders == 0 {
            s.receiver.take_all_list()
        } else {
            WakeList::default()
        }
    };
    wake_all(waker);
}

/// The sending half of an unbounded queue; clone it for more producers, any thread.
#[derive(Debug)]
pub struct UnboundedSender<T> {
    /// The queue.
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` (never waits).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match try_push(&self.chan, value) {
            Ok(waker) => {
                wake_all(waker);
                Ok(())
            }
            Err(TrySendError::Closed(v) | TrySendError::Full(v)) => Err(SendError(v)),
        }
    }

    /// True if the receiver is gone.
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).rx_gone
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        lock(&self.chan.state).senders += 1;
        Self {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        drop_sender(&self.chan);
    }
}

/// The receiving half of either queue.
#[derive(Debug)]
pub struct Receiver<T> {
    /// The queue.
    chan: Arc<Chan<T>>,
    /// Its entry in `receiver` while it waits (one receiver, so at most one entry, updated in
    /// place by every poll).
    key: Option<WaiterKey>,
}

impl<T> Receiver<T> {
    /// The receiving end of `chan`.
    fn new(chan: Arc<Chan<T>>) -> Self {
        Receiver { chan, key: None }
    }

    /// The next value, or `None` once the queue is empty and every sender is gone or
    /// [`close`](Receiver::close) was called.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let (value, freed) = {
            let mut s = lock(&self.chan.state);
            match s.queue.pop_front() {
                Some(v) => (Some(v), s.freed_one_slot()),
                None if s.senders == 0 || s.rx_gone => return Poll::Ready(None),
                None => {
                    let replaced = s.receiver.register(&mut self.key, cx.waker());
                    drop(s);
                    drop(replaced);
                    return Poll::Pending;
                }
            }
        };
        self.wake_for(freed);
        Poll::Ready(value)
    }

    /// The next value if one is queued.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] once the queue is empty and
    /// every sender is gone or the queue was closed.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let (value, freed) = {
            let mut s = lock(&self.chan.state);
            match s.queue.pop_front() {
                Some(v) => (v, s.freed_one_slot()),
                None if s.senders == 0 || s.rx_gone => return Err(TryRecvError::Disconnected),
                None => return Err(TryRecvError::Empty),
            }
        };
        self.wake_for(freed);
        Ok(value)
    }

    /// Wakes the sender and signals the threads chosen by [`State::freed_one_slot`], after
    /// the lock is released.
    fn wake_for(&self, (sender, threads): (Option<Waker>, bool)) {
        if threads {
            self.chan.room.notify_all();
        }
        wake_all(sender);
    }

    /// Closes the queue: later sends fail; queued values can still be received, and then
    /// [`recv`](Receiver::recv) returns `None` (as tokio's does), whether senders are left or
    /// not.
    pub fn close(&mut self) {
        let (senders, threads) = {
            let mut s = lock(&self.chan.state);
            s.rx_gone = true;
            (s.senders_waiting.take_all_list(), s.blocked_threads > 0)
        };
        if threads {
            self.chan.room.notify_all();
        }
        wake_all(senders);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        let (queued, waker) = {
            let mut s = lock(&self.chan.state);
            (
                std::mem::take(&mut s.queue),
                s.receiver.remove(&mut self.key),
            )
        };
        drop(queued);
        drop(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads in `blocking_send` are counted while they wait, and only then does a receive
    /// ask for the condition variable to be signalled (no system call for nobody).
    #[test]
    fn blocked_threads_are_counted_and_signalled_only_when_present() {
        let (tx, mut rx) = channel::<u32>(1);
        tx.try_send(0).unwrap();
        assert!(!lock(&tx.chan.state).freed_one_slot().1);
        let blocker = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.blocking_send(1))
        };
        // A bounded wait for the thread to block (a guard against hangs, not a timing).
        let start = std::time::Instant::now();
        while lock(&tx.chan.state).blocked_threads == 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "never blocked"
            );
            std::thread::yield_now();
        }
        assert!(lock(&tx.chan.state).freed_one_slot().1);
        assert_eq!(rx.try_recv(), Ok(0));
        blocker.join().unwrap().unwrap();
        assert_eq!(lock(&tx.chan.state).blocked_threads, 0);
        assert_eq!(rx.try_recv(), Ok(1));
    }
}
