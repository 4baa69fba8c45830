//! `join`, `join_all` and `select`: both sides complete, order is kept, only woken children
//! are polled, the winner is returned and the loser is dropped at its await point.

mod util;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use mini_eventloop::sync::oneshot;
use mini_eventloop::{Either, join, join_all, select, spawn, yield_now};

/// How many futures `join_all` runs at once.
const MANY: usize = 1_000;

/// Counts its polls into a shared cell, then delegates to the inner future.
struct CountPolls<F> {
    /// How many times this future was polled.
    polls: Rc<Cell<u32>>,
    /// The future being counted.
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.inner.as_mut().poll(cx)
    }
}

/// Wraps `inner` so that its polls are counted in `polls`.
fn count_polls<F: Future>(polls: &Rc<Cell<u32>>, inner: F) -> CountPolls<F> {
    CountPolls {
        polls: polls.clone(),
        inner: Box::pin(inner),
    }
}

/// Sets its flag when dropped: observes that a future was dropped, and when.
struct DropGuard(Rc<Cell<bool>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// `join` finishes both futures, even when the first can only finish after the second has
/// run (so they really run concurrently), and returns the outputs in argument order, with
/// their own types.
#[test]
fn join_completes_both_in_argument_order() {
    util::run(async {
        let (tx, rx) = oneshot::channel();
        let (got, sent) = join(async move { rx.await.unwrap() * 2 }, async move {
            yield_now().await;
            tx.send(21u32).unwrap();
            "sent"
        })
        .await;
        assert_eq!((got, sent), (42, "sent"));

        // Both already ready, and the other way round: order still follows the arguments.
        assert_eq!(join(async { 1u8 }, async { 'b' }).await, (1, 'b'));
    });
}

/// `join` polls a child only when that child's waker was called: a sibling that wakes itself
/// 100 times does not make a waiting child be polled again.
#[test]
fn join_polls_only_woken_children() {
    const SELF_WAKES: u32 = 100;
    util::run(async {
        let waiting_polls = Rc::new(Cell::new(0));
        let busy_polls = Rc::new(Cell::new(0));
        let (tx, rx) = oneshot::channel::<()>();
        // The sender is released by another task after the busy child is done.
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let releaser = spawn(async move {
            done_rx.await.unwrap();
            tx.send(()).unwrap();
        });
        join(
            count_polls(&waiting_polls, async move { rx.await.unwrap() }),
            count_polls(&busy_polls, async move {
                for _ in 0..SELF_WAKES {
                    yield_now().await;
                }
                done_tx.send(()).unwrap();
            }),
        )
        .await;
        releaser.await.unwrap();
        assert_eq!(busy_polls.get(), SELF_WAKES + 1);
        // Once to register, once after the value arrived.
        assert_eq!(waiting_polls.get(), 2);
    });
}

/// `join_all` over 1,000 futures that finish in scrambled order returns every output in input
/// order, and polls each child exactly once per wake of its own (no child is polled just
/// because a sibling was woken).
#[test]
fn join_all_many_in_input_order() {
    util::run(async {
        let polls = Rc::new(Cell::new(0u32));
        // Child i yields (i * 7) % 13 times: finish order differs from input order.
        let yields = |i: usize| ((i * 7) % 13) as u32;
        let out = join_all((0..MANY).map(|i| {
            count_polls(&polls, async move {
                for _ in 0..yields(i) {
                    yield_now().await;
                }
                i
            })
        }))
        .await;
        assert_eq!(out, (0..MANY).collect::<Vec<_>>());
        let expected_polls: u32 = (0..MANY).map(|i| yields(i) + 1).sum();
        assert_eq!(polls.get(), expected_polls);

        let none: Vec<u8> = join_all(Vec::<std::future::Ready<u8>>::new()).await;
        assert!(none.is_empty());
    });
}

/// `select` returns the first future to finish, and the loser is dropped before `select`
/// returns: its drop guard has run, and the code after its await point never runs.
#[test]
fn select_returns_first_and_drops_loser() {
    util::run(async {
        let loser_dropped = Rc::new(Cell::new(false));
        let loser_resumed = Rc::new(Cell::new(false));
        let (_tx, rx) = oneshot::channel::<()>();
        let winner = select(
            {
                let guard = DropGuard(loser_dropped.clone());
                let resumed = loser_resumed.clone();
                async move {
                    let _guard = guard;
                    let _ = rx.await; // never completes: `_tx` outlives the select
                    resumed.set(true);
                    "loser"
                }
            },
            async {
                yield_now().await;
                7
            },
        )
        .await;
        assert_eq!(winner, Either::Right(7));
        assert!(
            loser_dropped.get(),
            "the loser must be dropped before select returns"
        );
        assert!(
            !loser_resumed.get(),
            "the loser must stop at its await point"
        );

        // And with the winner first.
        let dropped = Rc::new(Cell::new(false));
        let guard = DropGuard(dropped.clone());
        let winner = select(async { 'a' }, async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .await;
        assert_eq!(winner, Either::Left('a'));
        assert!(dropped.get());
    });
}

/// `select` is biased: when both futures are ready at the same poll, the first argument wins
/// and the second is never polled.
#[test]
fn select_is_biased_towards_the_first() {
    util::run(async {
        let second_polls = Rc::new(Cell::new(0));
        for _ in 0..100 {
            let winner = select(async { 1 }, count_polls(&second_polls, async { 2 })).await;
            assert_eq!(winner, Either::Left(1));
        }
        assert_eq!(second_polls.get(), 0);
    });
}

/// Children woken from other OS threads, many at once and in any order, all finish: no wake
/// is lost between a child's waker (on a foreign thread) and the task's next poll.
#[test]
fn join_all_children_woken_from_other_threads() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 250;
    util::run(async {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS * PER_THREAD)
            .map(|_| oneshot::channel())
            .unzip();
        let mut senders = senders.into_iter().enumerate().collect::<Vec<_>>();
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let mine: Vec<_> = senders.drain(..PER_THREAD).collect();
                std::thread::spawn(move || {
                    // Send in reverse so the wake order differs from the input order.
                    for (i, tx) in mine.into_iter().rev() {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        let out: Vec<usize> = join_all(receivers)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, (0..THREADS * PER_THREAD).collect::<Vec<_>>());
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// A `join` whose enclosing waker changes drops the old waker outside its lock: that
/// waker's destructor may wake a child of the same `join` (here it does) without deadlocking.
#[test]
fn replaced_parent_waker_is_dropped_outside_the_lock() {
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};
    /// A parent waker whose destructor wakes the stored child waker.
    struct WakesChildOnDrop(Arc<Mutex<Option<Waker>>>);
    impl Wake for WakesChildOnDrop {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for WakesChildOnDrop {
        fn drop(&mut self) {
            if let Some(w) = self.0.lock().unwrap().take() {
                w.wake();
            }
        }
    }
    util::must_finish("a join re-polled with another waker", || {
        let child_waker = Arc::new(Mutex::new(None::<Waker>));
        let stash = child_waker.clone();
        let child = std::future::poll_fn(move |cx: &mut Context<'_>| {
            *stash.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        });
        let mut both = Box::pin(mini_eventloop::join(child, std::future::pending::<()>()));
        let first = Waker::from(Arc::new(WakesChildOnDrop(child_waker)));
        assert!(
            both.as_mut()
                .poll(&mut Context::from_waker(&first))
                .is_pending()
        );
        drop(first); // the join now holds the only reference
        assert!(
            both.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
    });
}
