//! `Queue`: FIFO order, bounded back-pressure, timeouts, `task_done`/`join`.

mod util;

use std::sync::Arc;
use std::time::Duration;

use gil_threads::{Full, Policy, PutError, Queue, Timeout, TooManyTaskDone, WaitError};
use util::POLICIES;

/// Items through the queue.
const ITEMS: u64 = 5_000;

/// Producers and consumers on a bounded queue move every item exactly once, under every
/// policy, and `join` returns once every item was marked done.
#[test]
fn bounded_producer_consumer() {
    for policy in POLICIES {
        let interp = util::interpreter(policy);
        let queue = Arc::new(Queue::bounded(4));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let queue = Arc::clone(&queue);
                interp.spawn(move |gil| {
                    let mut sum = 0u64;
                    loop {
                        let item: u64 = queue.get(gil);
                        queue.task_done().unwrap();
                        if item == u64::MAX {
                            return sum;
                        }
                        sum += item;
                    }
                })
            })
            .collect();
        let producer_queue = Arc::clone(&queue);
        let producer = interp.spawn(move |gil| {
            for i in 0..ITEMS {
                producer_queue.put(gil, i);
            }
            producer_queue.join(gil);
            producer_queue.put(gil, u64::MAX);
            producer_queue.put(gil, u64::MAX);
        });
        producer.join().unwrap();
        let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, ITEMS * (ITEMS - 1) / 2, "{policy:?}");
    }
}

/// Items come out in the order they went in.
#[test]
fn fifo_order() {
    let interp = util::interpreter(Policy::Fair);
    let queue = Queue::unbounded();
    interp
        .with_gil(|gil| {
            for i in 0..100 {
                queue.put(gil, i);
            }
            let out: Vec<i32> = (0..100).map(|_| queue.get(gil)).collect();
            assert_eq!(out, (0..100).collect::<Vec<_>>());
        })
        .unwrap();
    assert!(queue.is_empty());
}

/// A full queue that nobody drains times out and gives the item back; an empty queue that
/// nobody fills times out; both with and without a token.
#[test]
fn timeouts() {
    let interp = util::interpreter(Policy::Fifo);
    let queue = Queue::bounded(1);
    queue.put_blocking("a").unwrap();
    assert_eq!(queue.try_put("b"), Err(Full("b")));
    assert_eq!(
        queue.put_timeout_blocking("c", Duration::from_millis(1)),
        Err(PutError::Full("c"))
    );
    interp
        .with_gil(|gil| {
            assert_eq!(
                queue.put_timeout(gil, "d", Duration::from_millis(1)),
                Err(Full("d"))
            );
            assert_eq!(queue.get(gil), "a");
            assert_eq!(
                queue.get_timeout(gil, Duration::from_millis(1)),
                Err(Timeout)
            );
            assert_eq!(
                queue.join_timeout(gil, Duration::from_millis(1)),
                Err(Timeout)
            );
        })
        .unwrap();
    assert_eq!(
        queue.get_timeout_blocking(Duration::from_millis(1)),
        Err(WaitError::Timeout)
    );
    assert_eq!(queue.unfinished_tasks(), 1, "failed puts are not counted");
    assert_eq!(queue.task_done(), Ok(()));
    assert_eq!(queue.task_done(), Err(TooManyTaskDone));
    queue.join_blocking().unwrap();
    assert_eq!(
        Queue::<u8>::bounded(0).try_put(1),
        Ok(()),
        "capacity 0 means unbounded"
    );
}

/// Any capacity is honoured exactly and allocates nothing in advance: `usize::MAX` works
/// (it used to be preallocated, and panicked), and a small bound still refuses the item too
/// many and takes it once a slot is given back.
#[test]
fn any_capacity_is_honoured() {
    let huge = Queue::bounded(usize::MAX);
    for i in 0..1_000 {
        assert_eq!(huge.try_put(i), Ok(()));
    }
    assert_eq!(huge.len(), 1_000);
    assert_eq!(huge.try_get(), Some(0));

    let small = Queue::bounded(2);
    assert_eq!(small.try_put(1), Ok(()));
    assert_eq!(small.try_put(2), Ok(()));
    assert!(small.try_put(3).is_err(), "a third item in a queue of two");
    assert_eq!(
        small.put_timeout_blocking(3, std::time::Duration::ZERO),
        Err(gil_threads::PutError::Full(3))
    );
    assert_eq!(small.try_get(), Some(1));
    assert_eq!(small.try_put(3), Ok(()));
    assert_eq!(small.unfinished_tasks(), 3, "a refused put is not counted");
}
