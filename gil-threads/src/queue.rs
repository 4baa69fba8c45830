//! [`Queue`]: a multi-producer multi-consumer FIFO (Python's `queue.Queue`), over an unbounded
//! `crossbeam-channel`, with the bound kept by a count.
//!
//! Invariants: the queue owns both ends of its channel, so it is never disconnected; a `put`
//! takes a slot (at most `capacity` are taken) and counts the item unfinished *before* the
//! item becomes visible (so a fast consumer's `task_done` never runs ahead of it), and a take
//! gives the slot back; a timed `put` that finds no slot changes nothing. No slot is
//! allocated in advance, so any capacity a caller passes, `usize::MAX` included, is honoured. Interpreter threads block with the GIL released; the non-blocking
//! attempt comes first so the common case never releases it. The `*_blocking` calls, for
//! threads outside the interpreter, refuse ([`WouldDeadlock`]) on a thread that holds a GIL.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

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
    /// The producing end (of an unbounded channel: the bound is `counts`').
    tx: Sender<T>,
    /// The consuming end.
    rx: Receiver<T>,
    /// The most items the queue holds (`usize::MAX`: no limit).
    capacity: usize,
    /// The slots taken and the items not yet marked done.
    counts: Mutex<Counts>,
    /// Signalled (to one) when a slot is given back.
    room: Condvar,
    /// Signalled (to all) when `Counts::unfinished` reaches zero.
    all_done: Condvar,
}

/// A [`Queue`]'s accounting, guarded by `Queue::counts`.
#[derive(Debug, Default)]
struct Counts {
    /// Slots taken: items put and not yet taken, counted before they become visible, so
    /// that it never exceeds the capacity. (Nothing is allocated per slot: a capacity of
    /// `usize::MAX` costs nothing.)
    taken: usize,
    /// Items put and not yet marked done.
    unfinished: usize,
}

impl<T> Queue<T> {
    /// A queue without a size limit.
    pub fn unbounded() -> Self {
        Self::bounded(0)
    }

    /// A queue holding at most `capacity` items; `put` blocks while it is full. As with
    /// Python's `maxsize`, a capacity of 0 means no limit; any other capacity, up to
    /// `usize::MAX`, is honoured exactly and allocates nothing in advance.
    pub fn bounded(capacity: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self {
            tx,
            rx,
            capacity: if capacity == 0 { usize::MAX } else { capacity },
            counts: Mutex::new(Counts::default()),
            room: Condvar::new(),
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

    /// Puts `item`, waiting until `deadline` (`None`: forever) for a slot. The slot is taken
    /// and the item counted unfinished before it becomes visible.
    fn put_raw(&self, item: T, deadline: Deadline) -> Result<(), Full<T>> {
        let counts = sync::lock(&self.counts);
        let (counts, slot) = wait::until(&self.room, counts, deadline, |c| {
            let free = c.taken < self.capacity;
            if free {
                c.taken += 1;
                c.unfinished += 1;
            }
            free
        });
        drop(counts);
        if !slot {
            return Err(Full(item));
        }
        // Never fails: the queue owns its receiver, and the channel is unbounded.
        let _ = self.tx.send(item);
        Ok(())
    }

    /// Gives back the slot of an item just taken.
    fn took(&self, item: T) -> T {
        sync::lock(&self.counts).taken -= 1;
        self.room.notify_one();
        item
    }

    /// Puts `item` if there is room now.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item if the queue is full.
    pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
        // A deadline already reached: the slot is looked for once, without waiting.
        self.put_raw(item, Some(Instant::now()))
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
                    return Ok(self.took(item));
                }
            },
            Some(deadline) => self
                .rx
                .recv_deadline(deadline)
                .map(|item| self.took(item))
                .map_err(|_| Timeout),
        }
    }

    /// Waits until every item put has been marked done (or `deadline`); whether they were.
    fn join_raw(&self, deadline: Deadline) -> bool {
        let counts = sync::lock(&self.counts);
        wait::until(&self.all_done, counts, deadline, |c| c.unfinished == 0).1
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
        self.rx.try_recv().ok().map(|item| self.took(item))
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
        let mut counts = sync::lock(&self.counts);
        if counts.unfinished == 0 {
            return Err(TooManyTaskDone);
        }
        counts.unfinished -= 1;
        if counts.unfinished == 0 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    /// Items put and not yet marked done.
    pub fn unfinished_tasks(&self) -> usize {
        sync::lock(&self.counts).unfinished
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
