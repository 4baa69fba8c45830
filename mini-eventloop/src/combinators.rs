//! Several futures inside one task: [`join`], [`join_all`] and [`select`], so that users need
//! not pull in the `futures` crate. asyncio: `asyncio.gather(*aws)` and
//! `asyncio.wait(aws, return_when=FIRST_COMPLETED)`.
//!
//! # Invariants
//!
//! - **Concurrent, not parallel.** The children run inside the task that awaits the
//!   combinator, on the loop's thread; nothing is spawned, so they need not be `'static`.
//! - **Only woken children are polled.** Each child gets its own waker, which records the
//!   child's index in a shared ready set and then wakes the enclosing task. One poll of the
//!   combinator polls exactly the children woken since its previous poll (every child on the
//!   first poll), each at most once. So a child that keeps waking itself costs its siblings
//!   nothing, `join_all` over n futures does work in proportion to the children woken rather
//!   than to n, and a self-waking child cannot keep the task inside one poll: its wake
//!   re-queues the task at the back of the loop's FIFO ready queue (see `runtime.rs`).
//! - **Polling order is input order.** The children woken since the previous poll are polled
//!   in the order they were passed in (`a` before `b`), not in the order they were woken, so a
//!   run is deterministic whatever the timing of wakes from other threads.
//! - **[`select`] is biased towards `a`.** When both children are ready at the same poll, `a`
//!   wins and `b` is not polled. Biased because it is deterministic (the same program picks the
//!   same winner on every run, which tests and debugging rely on) and because one `select`
//!   resolves once, so the bias alone cannot starve anything. In a loop that calls `select`
//!   again and again with an `a` that is always ready, `b` would never win: put the rarer,
//!   more urgent event (a shutdown signal, a deadline) first. (The `select!` macros of tokio
//!   and of the `futures` crate pick at random by default to avoid that trap;
//!   `futures::future::select` is biased like this one.)
//! - **Cancellation is dropping.** A child that finishes is dropped at once (its output is
//!   kept); the loser of a `select` is dropped before `select` returns; dropping a combinator
//!   drops every unfinished child. A dropped future stops at the `.await` where it was
//!   suspended and never runs the code after it; only its destructors run (drop guards,
//!   sockets deregistering, timers being removed). Unlike asyncio's `CancelledError`, this
//!   cannot be caught: write futures so that stopping at any await point leaves things
//!   consistent.
//! - **Wakers are `Send + Sync`**, like the loop's own, so a child may be woken from another
//!   thread; the ready set is one mutex that is never held while a waker runs.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::sync::lock;
use crate::waiters::store_waker;

/// The children woken since the combinator last looked, and whom to tell about new ones.
struct ReadySet {
    /// The state; written by child wakers (any thread) and by the combinator's poll.
    state: Mutex<ReadyState>,
}

/// [`ReadySet`]'s guarded part.
struct ReadyState {
    /// The enclosing task's waker, as of the combinator's latest poll.
    parent: Option<Waker>,
    /// Indices of the children woken since the last drain, each at most once.
    woken: Vec<usize>,
    /// `queued[i]` is true while `i` is in `woken`.
    queued: Vec<bool>,
}

impl ReadySet {
    /// A set for `children` children, all of them woken (each must be polled once to start).
    fn new(children: usize) -> Arc<ReadySet> {
        Arc::new(ReadySet {
            state: Mutex::new(ReadyState {
                parent: None,
                woken: (0..children).collect(),
                queued: vec![true; children],
            }),
        })
    }

    /// The waker of child `index`.
    fn waker(self: &Arc<Self>, index: usize) -> Waker {
        Waker::from(Arc::new(ChildWaker {
            set: self.clone(),
            index,
        }))
    }

    /// Records `parent` as the waker to call on the next child wake, and moves the indices
    /// woken so far into `out`, in input order.
    fn drain(&self, parent: &Waker, out: &mut Vec<usize>) {
        out.clear();
        let replaced = {
            let mut s = lock(&self.state);
            // The replaced waker is dropped after the lock is released (the crate's rule: a
            // foreign waker's destructor may run any code, this set's wakers included).
            let replaced = match &mut s.parent {
                Some(w) => store_waker(w, parent),
                None => {
                    s.parent = Some(parent.clone());
                    None
                }
            };
            // Swapping keeps both buffers allocated: no allocation per poll.
            std::mem::swap(&mut s.woken, out);
            for &i in out.iter() {
                s.queued[i] = false;
            }
            replaced
        };
        drop(replaced);
        out.sort_unstable();
    }
}

/// One child's waker: marks the child woken, then wakes the enclosing task.
struct ChildWaker {
    /// The set this child belongs to.
    set: Arc<ReadySet>,
    /// The child's position among the combinator's inputs.
    index: usize,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parent = {
            let mut s = lock(&self.set.state);
            if s.queued[self.index] {
                // Already queued since the last drain, so the task has been woken already.
                return;
            }
            s.queued[self.index] = true;
            // Only the first wake since the last drain wakes the task (a non-empty `woken` means
            // that wake happened, or that the first poll, which drains everything, is still to
            // come); the next drain takes the rest. One task wake per poll, not per child.
            let first = s.woken.is_empty();
            s.woken.push(self.index);
            if first { s.parent.clone() } else { None }
        };
        // Woken outside the lock: the parent waker may run arbitrary code.
        if let Some(parent) = parent {
            crate::contain::wake(parent);
        }
    }
}

/// Polls `future` with `waker`; on completion drops it in place and returns its output.
fn poll_child<F: Future>(slot: Pin<&mut Option<F>>, waker: &Waker) -> Option<F::Output> {
    let mut slot = slot;
    let future = slot.as_mut().as_pin_mut()?;
    match future.poll(&mut Context::from_waker(waker)) {
        Poll::Ready(out) => {
            // A finished child is dropped at once, so it releases what it holds early.
            slot.set(None);
            Some(out)
        }
        Poll::Pending => None,
    }
}

/// Runs `a` and `b` concurrently in the current task and returns both outputs, in argument
/// order: the two-future `asyncio.gather(a, b)`.
///
/// Each is polled only when its own waker was called (both on the first poll; `a` before `b`
/// when both were woken), and a finished one is dropped at once, its output kept. Dropping
/// the `join` drops whichever is unfinished, at its current `.await`.
///
/// ```
/// use mini_eventloop::{Runtime, join, sync::oneshot};
///
/// let rt = Runtime::new().unwrap();
/// let (got, sent) = rt.block_on(async {
///     let (tx, rx) = oneshot::channel();
///     // `rx` waits for `tx`, which runs in the same task: only concurrency makes this finish.
///     join(rx, async move { tx.send("hello").unwrap(); 5 }).await
/// });
/// assert_eq!((got.unwrap(), sent), ("hello", 5));
/// ```
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(Some(a));
    let mut b = pin!(Some(b));
    let set = ReadySet::new(2);
    let wakers = [set.waker(0), set.waker(1)];
    let mut out_a = None;
    let mut out_b = None;
    let mut woken = Vec::with_capacity(2);
    poll_fn(|cx| {
        set.drain(cx.waker(), &mut woken);
        for &i in &woken {
            if i == 0 {
                if let Some(out) = poll_child(a.as_mut(), &wakers[0]) {
                    out_a = Some(out);
                }
            } else if let Some(out) = poll_child(b.as_mut(), &wakers[1]) {
                out_b = Some(out);
            }
        }
        match (out_a.take(), out_b.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                out_a = x;
                out_b = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// Runs every future of `futures` concurrently in the current task and returns their outputs
/// in input order, whatever order they finish in: `asyncio.gather(*aws)`.
///
/// A poll polls only the children woken since the previous one, in input order, so a wake
/// costs work for the woken child only, not for all n. The futures live in one allocation;
/// each child has its own small waker.
///
/// ```
/// use mini_eventloop::{Runtime, join_all, yield_now};
///
/// let rt = Runtime::new().unwrap();
/// let squares = rt.block_on(join_all((0..5u32).map(|i| async move {
///     // The later ones finish first; the output keeps input order anyway.
///     for _ in i..5 {
///         yield_now().await;
///     }
///     i * i
/// })));
/// assert_eq!(squares, vec![0, 1, 4, 9, 16]);
/// ```
pub fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures: Box<[Option<I::Item>]> = futures.into_iter().map(Some).collect();
    let n = futures.len();
    let set = ReadySet::new(n);
    JoinAll {
        futures: Box::into_pin(futures),
        outputs: (0..n).map(|_| None).collect(),
        wakers: (0..n).map(|i| set.waker(i)).collect(),
        set,
        woken: Vec::new(),
        remaining: n,
    }
}

/// The future returned by [`join_all`]: every input's output, in input order.
///
/// ```
/// use mini_eventloop::{JoinAll, Runtime, join_all};
/// use std::future::Ready;
///
/// let all: JoinAll<Ready<u8>> = join_all([std::future::ready(1), std::future::ready(2)]);
/// assert_eq!(Runtime::new().unwrap().block_on(all), vec![1, 2]);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    /// The inputs, in one pinned allocation; a slot is `None` once its future finished.
    futures: Pin<Box<[Option<F>]>>,
    /// The outputs so far, by input position.
    outputs: Vec<Option<F::Output>>,
    /// Child `i`'s waker, created once so that `Waker::will_wake` holds across polls.
    wakers: Vec<Waker>,
    /// Which children were woken.
    set: Arc<ReadySet>,
    /// Reused buffer for the drained indices.
    woken: Vec<usize>,
    /// Futures not finished yet.
    remaining: usize,
}

// The futures are pinned behind their own `Box`; nothing else in `JoinAll` is ever pinned, so
// moving a `JoinAll` moves no pinned data.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.outputs.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// Slot `i` of a pinned slice, pinned.
fn pinned_slot<T>(slots: Pin<&mut [T]>, i: usize) -> Option<Pin<&mut T>> {
    // SAFETY: the slice is pinned structurally: its elements are never moved out of it, the
    // boxed slice is never resized or reallocated, and an element is only replaced through
    // `Pin::set`, which drops the old value where it lies. So handing out `&mut` here and
    // re-pinning it at once does not let anything move a pinned element.
    let slots = unsafe { slots.get_unchecked_mut() };
    let slot = slots.get_mut(i)?;
    // SAFETY: `slot` lives inside the pinned slice; see above.
    Some(unsafe { Pin::new_unchecked(slot) })
}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        this.set.drain(cx.waker(), &mut this.woken);
        for &i in &this.woken {
            let Some(slot) = pinned_slot(this.futures.as_mut(), i) else {
                continue;
            };
            if let Some(out) = poll_child(slot, &this.wakers[i]) {
                this.outputs[i] = Some(out);
                this.remaining -= 1;
            }
        }
        if this.remaining > 0 {
            return Poll::Pending;
        }
        // Every slot is `Some` now, so nothing is lost by flattening.
        Poll::Ready(this.outputs.drain(..).flatten().collect())
    }
}

/// One of two values: the output of [`select`]'s winner.
///
/// ```
/// use mini_eventloop::Either;
///
/// let e: Either<u8, &str> = Either::Right("b won");
/// assert!(matches!(e, Either::Right("b won")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Either<L, R> {
    /// The first argument finished first.
    Left(L),
    /// The second argument finished first.
    Right(R),
}

/// Runs `a` and `b` concurrently in the current task until one finishes, returns its output,
/// and drops the other: `asyncio.wait({a, b}, return_when=FIRST_COMPLETED)` followed by
/// cancelling the pending one.
///
/// Biased: if both are ready at the same poll, `a` wins and `b` is not polled, which is
/// deterministic; so in a loop of `select`s, put the rarer, more urgent future (a shutdown
/// signal, a deadline) first, or an always-ready `a` starves `b`. Each is polled only when
/// its own waker was called. The loser is dropped before `select` returns: it stops at its
/// current `.await`, never runs the code after it, and runs only its destructors.
///
/// ```
/// use std::time::Duration;
/// use mini_eventloop::{Either, Runtime, select, sleep};
///
/// let rt = Runtime::new().unwrap();
/// let winner = rt.block_on(select(
///     std::future::pending::<()>(),
///     async {
///         sleep(Duration::from_millis(1)).await;
///         "slept"
///     },
/// ));
/// assert_eq!(winner, Either::Right("slept"));
/// ```
pub async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(Some(a));
    let mut b = pin!(Some(b));
    let set = ReadySet::new(2);
    let wakers = [set.waker(0), set.waker(1)];
    let mut woken = Vec::with_capacity(2);
    poll_fn(|cx| {
        set.drain(cx.waker(), &mut woken);
        // `woken` is in input order, so `a` is polled first: the bias.
        for &i in &woken {
            if i == 0 {
                if let Some(out) = poll_child(a.as_mut(), &wakers[0]) {
                    return Poll::Ready(Either::Left(out));
                }
            } else if let Some(out) = poll_child(b.as_mut(), &wakers[1]) {
                return Poll::Ready(Either::Right(out));
            }
        }
        Poll::Pending
    })
    .await
}
