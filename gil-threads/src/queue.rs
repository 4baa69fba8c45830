//! [`Queue`]: a multi-producer multi-consumer FIFO (Python's `queue.Queue`), over
//! `crossbeam-channel`.
//!
//! Invariants: the queue owns both ends of its channel, so it is never disconnected;
//! `unfinished` counts items put and not yet marked done, incremented *before* an item
//! becomes visible (so a fast consumer's `task_done` never runs ahead of it) and given back if
//! a timed `put` fails. Interpreter threads block with the GIL released; the non-blocking
//! attempt comes first so the common case never releases it. The `*_blocking` calls, for
//! threads outside the interpreter, refuse ([`WouldDeadlock`]) on a thread that holds a GIL.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::error::{Full, PutError, Timeout, TooManyTaskDone, WaitError, WouldDeadlock};
use crate::sync::{self, Condvar, Mutex};
use crate::token::{self, Gil};
use crate::wait::{self, Deadline};

/// A FIFO queue, bounded or not, with `task_done`/`join` accounting.
///
/// ```
/// use std::sync::Arc;
/// use gil_threads::{Interpreter, Queue};
///
/// let interp = Interpreter::new();
/// let jobs = Arc::new(Queue::bounded(2));
/// let consumer_jobs = Arc::clone(&jobs);
/// let consumer = interp.spawn(move |gil| {
///     let mut sum = 0;
///     for _ in 0..10 {
///         sum += consumer_jobs.get(gil);
///         consumer_jobs.task_done().unwrap();
///     }
///     sum
/// });
/// interp.with_gil(|gil| {
///     for i in 0..10 {
///         jobs.put(gil, i); // blocks (GIL released) while the queue is full
///     }
///     jobs.join(gil);
/// }).unwrap();
/// assert_eq!(consumer.join(), Ok(45));
/// ```
#[derive(Debug)]
pub struct Queue<T> {
    /// The producing end.
    tx: Sender<T>,
    /// The consuming end.
    rx: Receiver<T>,
    /// Items put and not yet marked done.
    unfinished: Mutex<usize>,
    /// Signalled (to all) when `unfinished` reaches zero.
    all_done: Condvar,
}

impl<T> Queue<T> {
    /// A queue without a size limit.
    pub fn unbounded() -> Self {
        Self::from_channel(crossbeam_channel::unbounded())
    }

    /// A queue holding at most `capacity` items; `put` blocks while it is full. As with
    /// Python's `maxsize`, a capacity of 0 means no limit.
    pub fn bounded(capacity: usize) -> Self {
        if capacity == 0 {
            return Self::unbounded();
        }
        Self::from_channel(crossbeam_channel::bounded(capacity))
    }

    /// A queue over a channel.
    fn from_channel((tx, rx): (Sender<T>, Receiver<T>)) -> Self {
        Self {
            tx,
            rx,
            unfinished: Mutex::new(0),
            all_done: Condvar::new(),
        }
    }

    /// Items in the queue right now (a snapshot).
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether the queue is empty right now (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Counts an item about to be put.
    fn count_put(&self) {
        *sync::lock(&self.unfinished) += 1;
    }

    /// Un-counts an item whose put failed.
    fn uncount_put(&self) {
        let mut unfinished = sync::lock(&self.unfinished);
        *unfinished -= 1;
        if *unfinished == 0 {
            self.all_done.notify_all();
        }
    }

    /// Puts `item`, waiting until `deadline` (`None`: forever) for room.
    fn put_raw(&self, item: T, deadline: Deadline) -> Result<(), Full<T>> {
        self.count_put();
        let sent = match deadline {
            None => self.tx.send(item).map_err(|e| Full(e.into_inner())),
            Some(deadline) => self
                .tx
                .send_deadline(item, deadline)
                .map_err(|e| Full(e.into_inner())),
        };
        if sent.is_err() {
            self.uncount_put();
        }
        sent
    }

    /// Puts `item` if there is room now.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item if the queue is full.
    pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
        self.count_put();
        match self.tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(item) | TrySendError::Disconnected(item)) => {
                self.uncount_put();
                Err(Full(item))
            }
        }
    }

    /// Puts `item` from an interpreter thread, waiting (GIL released) while the queue is full.
    pub fn put(&self, gil: &mut Gil, item: T) {
        if let Err(Full(item)) = self.try_put(item) {
            // Never fails: the queue owns its receiver, and there is no deadline.
            let _ = wait::released(gil, None, |deadline| self.put_raw(item, deadline));
        }
    }

    /// Waits for an item until `deadline`: the queue holds a sender, so the channel never
    /// disconnects and only a deadline ends the wait without an item.
    fn get_raw(&self, deadline: Deadline) -> Result<T, Timeout> {
        match deadline {
            None => loop {
                if let Ok(item) = self.rx.recv() {
                    return Ok(item);
                }
            },
            Some(deadline) => self.rx.recv_deadline(deadline).map_err(|_| Timeout),
        }
    }

    /// Waits until every item put has been marked done (or `deadline`); whether they were.
    fn join_raw(&self, deadline: Deadline) -> bool {
        let unfinished = sync::lock(&self.unfinished);
        wait::until(&self.all_done, unfinished, deadline, |u| *u == 0).1
    }

    /// Like [`put`](Queue::put), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item if there was no room in time.
    pub fn put_timeout(&self, gil: &mut Gil, item: T, timeout: Duration) -> Result<(), Full<T>> {
        let item = match self.try_put(item) {
            Ok(()) => return Ok(()),
            Err(Full(item)) => item,
        };
        wait::released(gil, Some(timeout), |deadline| self.put_raw(item, deadline))
    }

    /// [`put`](Queue::put) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// Only [`PutError::WouldDeadlock`] with the item, at once (even if there is room), if
    /// this thread holds a GIL (of any interpreter: the queue cannot tell which GIL its
    /// consumers need); use [`put`](Queue::put).
    ///
    /// ```
    /// use gil_threads::{Interpreter, PutError, Queue};
    ///
    /// let interp = Interpreter::new();
    /// let queue = Queue::bounded(1);
    /// let refused = interp.with_gil(|_gil| queue.put_blocking(1)).unwrap();
    /// assert_eq!(refused, Err(PutError::WouldDeadlock(1)));
    /// assert_eq!(queue.put_blocking(2), Ok(()));
    /// ```
    pub fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
        self.put_blocking_raw(item, None)
    }

    /// [`put_timeout`](Queue::put_timeout) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] with the item if there was no room in time,
    /// [`PutError::WouldDeadlock`] with the item (at once) if this thread holds a GIL.
    pub fn put_timeout_blocking(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_blocking_raw(item, Some(timeout))
    }

    /// The `put*_blocking` calls: refused with the item if this thread holds a GIL.
    fn put_blocking_raw(&self, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        // `wait::outside`'s refusal, by hand: this one must give the item back.
        if token::refuse_if_holding_any().is_err() {
            return Err(PutError::WouldDeadlock(item));
        }
        self.put_raw(item, wait::deadline(timeout))
            .map_err(|Full(item)| PutError::Full(item))
    }

    /// Takes the oldest item if there is one now.
    pub fn try_get(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// Takes the oldest item from an interpreter thread, waiting (GIL released) while the
    /// queue is empty.
    pub fn get(&self, gil: &mut Gil) -> T {
        if let Some(item) = self.try_get() {
            return item;
        }
        // Never times out: there is no deadline.
        let got = wait::released(gil, None, |deadline| self.get_raw(deadline));
        got.unwrap_or_else(|Timeout| unreachable!("an untimed wait"))
    }

    /// Like [`get`](Queue::get), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if the queue stayed empty.
    pub fn get_timeout(&self, gil: &mut Gil, timeout: Duration) -> Result<T, Timeout> {
        if let Some(item) = self.try_get() {
            return Ok(item);
        }
        if timeout.is_zero() {
            return Err(Timeout);
        }
        wait::released(gil, Some(timeout), |deadline| self.get_raw(deadline))
    }

    /// [`get`](Queue::get) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once (even if an item is there), if this thread holds a GIL (of
    /// any interpreter: the queue cannot tell which GIL its producers need); use
    /// [`get`](Queue::get).
    pub fn get_blocking(&self) -> Result<T, WouldDeadlock> {
        let got = wait::outside(None, |deadline| self.get_raw(deadline))?;
        Ok(got.unwrap_or_else(|Timeout| unreachable!("an untimed wait")))
    }

    /// [`get_timeout`](Queue::get_timeout) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] if the queue stayed empty, [`WaitError::WouldDeadlock`] (at
    /// once) if this thread holds a GIL.
    pub fn get_timeout_blocking(&self, timeout: Duration) -> Result<T, WaitError> {
        Ok(wait::outside(Some(timeout), |deadline| {
            self.get_raw(deadline)
        })??)
    }

    /// Marks one item taken by `get` as processed (Python's `task_done`).
    ///
    /// # Errors
    ///
    /// [`TooManyTaskDone`] if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TooManyTaskDone> {
        let mut unfinished = sync::lock(&self.unfinished);
        if *unfinished == 0 {
            return Err(TooManyTaskDone);
        }
        *unfinished -= 1;
        if *unfinished == 0 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    /// Items put and not yet marked done.
    pub fn unfinished_tasks(&self) -> usize {
        *sync::lock(&self.unfinished)
    }

    /// Waits (GIL released) until every item put has been marked done.
    pub fn join(&self, gil: &mut Gil) {
        if self.unfinished_tasks() != 0 {
            wait::released(gil, None, |deadline| self.join_raw(deadline));
        }
    }

    /// [`join`](Queue::join) for a thread outside the interpreter.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`], at once, if this thread holds a GIL (of any interpreter); use
    /// [`join`](Queue::join).
    pub fn join_blocking(&self) -> Result<(), WouldDeadlock> {
        wait::outside(None, |deadline| self.join_raw(deadline))?;
        Ok(())
    }

    /// Like [`join`](Queue::join), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if some items were still unfinished.
    pub fn join_timeout(&self, gil: &mut Gil, timeout: Duration) -> Result<(), Timeout> {
        if self.unfinished_tasks() == 0 {
            return Ok(());
        }
        if wait::released(gil, Some(timeout), |deadline| self.join_raw(deadline)) {
            Ok(())
        } else {
            Err(Timeout)
        }
    }
}
