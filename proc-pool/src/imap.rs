//! Streaming results: [`Imap`], the iterator behind [`Pool::imap`](crate::Pool::imap) and
//! [`Pool::imap_unordered`](crate::Pool::imap_unordered).
//!
//! Invariants: memory stays bounded. At most `window` chunks are submitted and not yet handed
//! to the caller (in order mode, a slow chunk at the front holds the window: later chunks wait
//! for it instead of piling up); the input iterator is pulled only to refill the window, and
//! never once the pool refuses work (closed, terminated, broken, or a forked copy), so the
//! iterator ends even over an endless input.

use std::collections::{BTreeMap, VecDeque};

use crossbeam_channel::{Receiver, Sender};

use crate::error::TaskError;
use crate::pool::Pool;
use crate::result::{Received, receive};
use crate::task::{Chunk, ChunkOutcome, decode_outcome};
use crate::{Wire, worker};

/// An iterator over the results of `f` applied to each input, computed by the pool.
///
/// Dropping it early is fine: chunks already submitted still run, their results are discarded.
/// If the pool stops under it, each task in flight yields [`TaskError::PoolClosed`] and the
/// iterator ends there, without consuming the rest of its input. Once the pool refuses new
/// work (after [`close`](Pool::close), [`terminate`](Pool::terminate), when it is broken, or
/// in a forked copy), the iterator pulls no more input: it yields the results of the tasks
/// already submitted, then one error saying why ([`TaskError::PoolClosed`] or
/// [`TaskError::PoolBroken`]; its input may have had more), and ends. In a forked copy, the
/// answers still in flight go to the owner and never arrive: it yields the results it already
/// has, then one [`TaskError::PoolBroken`] for all the rest, at once, and ends.
pub struct Imap<'pool, T, U, I> {
    /// The pool doing the work.
    pool: &'pool Pool,
    /// The function applied.
    f: fn(T) -> U,
    /// The inputs not yet submitted.
    items: I,
    /// Inputs per chunk.
    chunksize: usize,
    /// Most chunks submitted and not yet handed out.
    window: usize,
    /// Chunks submitted and not yet handed out.
    outstanding: usize,
    /// Tasks in those chunks.
    outstanding_tasks: usize,
    /// The next chunk's sequence number.
    next_seq: usize,
    /// In order mode: the sequence number to hand out next. `None`: any order.
    next_out: Option<usize>,
    /// Outcomes that arrived ahead of `next_out`.
    early: BTreeMap<usize, ChunkOutcome>,
    /// Decoded results ready to hand out.
    ready: VecDeque<Result<U, TaskError>>,
    /// The sender cloned into each chunk; `None` once the input is exhausted.
    tx: Option<Sender<ChunkOutcome>>,
    /// Where outcomes arrive.
    rx: Receiver<ChunkOutcome>,
    /// Why the pool refused more input, until yielded after the results in flight.
    refused: Option<TaskError>,
}

impl<'pool, T: Wire, U: Wire, I: Iterator<Item = T>> Imap<'pool, T, U, I> {
    /// A lazy map over `items`, `chunksize` inputs per chunk, in input order if `ordered`.
    pub(crate) fn new(
        pool: &'pool Pool,
        f: fn(T) -> U,
        items: I,
        chunksize: usize,
        ordered: bool,
    ) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Imap {
            pool,
            f,
            items,
            chunksize: chunksize.max(1),
            // Enough to keep every worker busy with its prefetch, and no more.
            window: pool.workers() * (worker::PREFETCH + 1),
            outstanding: 0,
            outstanding_tasks: 0,
            next_seq: 0,
            next_out: ordered.then_some(0),
            early: BTreeMap::new(),
            ready: VecDeque::new(),
            tx: Some(tx),
            rx,
            refused: None,
        }
    }

    /// Submits chunks until the window is full or the input ends; once the pool refuses work,
    /// stops pulling input (one error says so, if any input may be left).
    fn refill(&mut self) {
        if self.tx.is_some()
            && let Some(refusal) = self.pool.refusal()
        {
            self.tx = None;
            self.refused = Some(refusal);
            return;
        }
        let mut batch = Vec::new();
        while self.outstanding + batch.len() < self.window {
            let Some(tx) = &self.tx else { break };
            let inputs: Vec<T> = self.items.by_ref().take(self.chunksize).collect();
            if inputs.is_empty() {
                self.tx = None;
                break;
            }
            self.outstanding_tasks += inputs.len();
            batch.push(Chunk::of_fn(self.f, &inputs, self.next_seq, tx.clone()));
            self.next_seq += 1;
        }
        self.outstanding += batch.len();
        if !batch.is_empty() {
            self.pool.submit(batch);
        }
    }

    /// Hands an outcome to the ready queue (in order mode, once its turn has come).
    fn accept(&mut self, outcome: ChunkOutcome) {
        match &mut self.next_out {
            None => {
                self.outstanding -= 1;
                self.outstanding_tasks -= outcome.len;
                decode_into(outcome, &mut self.ready);
            }
            Some(next) => {
                self.early.insert(outcome.seq, outcome);
                while let Some(outcome) = self.early.remove(next) {
                    *next += 1;
                    self.outstanding -= 1;
                    self.outstanding_tasks -= outcome.len;
                    decode_into(outcome, &mut self.ready);
                }
            }
        }
    }
}

/// Decodes a chunk's outcome onto the back of `ready`.
fn decode_into<U: Wire>(outcome: ChunkOutcome, ready: &mut VecDeque<Result<U, TaskError>>) {
    let mut decoded = Vec::with_capacity(outcome.len);
    decode_outcome(outcome, &mut decoded);
    ready.extend(decoded);
}

impl<T: Wire, U: Wire, I: Iterator<Item = T>> Iterator for Imap<'_, T, U, I> {
    type Item = Result<U, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.ready.pop_front() {
                return Some(result);
            }
            self.refill();
            if self.outstanding == 0 {
                return self.refused.take().map(Err);
            }
            if !self.pool.is_owner() {
                // A forked copy: the answers in flight go to the owner and never come here.
                self.tx = None;
                self.early.clear();
                self.outstanding = 0;
                self.outstanding_tasks = 0;
                self.refused = None;
                return Some(Err(TaskError::PoolBroken));
            }
            match receive(&self.rx, Some(self.pool.alive()), None) {
                Received::Outcome(outcome) => self.accept(outcome),
                Received::Lost | Received::Timeout => {
                    // The pool ended under us: every task in flight is lost; stop there.
                    self.tx = None;
                    self.early.clear();
                    self.outstanding = 0;
                    let lost = std::mem::take(&mut self.outstanding_tasks);
                    self.ready
                        .extend((0..lost).map(|_| Err(TaskError::PoolClosed)));
                }
            }
        }
    }
}

impl<T, U, I> std::fmt::Debug for Imap<'_, T, U, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("outstanding", &self.outstanding)
            .field("ordered", &self.next_out.is_some())
            .finish()
    }
}
