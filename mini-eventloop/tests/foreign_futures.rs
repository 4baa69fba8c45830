//! Futures from another crate (`futures`) run correctly on the loop: its channels (woken from
//! other threads too), `join_all` and `select`.

mod util;

use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{Either, join_all, select};
use futures::{SinkExt, StreamExt};
use mini_eventloop::{sleep, spawn};

/// A `futures` oneshot completed from another thread wakes the loop.
#[test]
fn futures_oneshot_from_another_thread() {
    util::run(async {
        let (tx, rx) = oneshot::channel();
        let t = std::thread::spawn(move || tx.send(11).unwrap());
        assert_eq!(rx.await, Ok(11));
        t.join().unwrap();
    });
}

/// A `futures` mpsc between tasks and from a thread, with its sink back-pressure.
#[test]
fn futures_mpsc() {
    util::run(async {
        let (mut tx, mut rx) = mpsc::channel::<u32>(2);
        let mut tx2 = tx.clone();
        spawn(async move {
            for i in 0..50 {
                tx.send(i).await.unwrap();
            }
        });
        let t = std::thread::spawn(move || {
            futures::executor::block_on(async {
                for i in 50..100 {
                    tx2.send(i).await.unwrap();
                }
            })
        });
        let mut got = Vec::new();
        while let Some(v) = rx.next().await {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        t.join().unwrap();
    });
}

/// `join_all` over loop tasks and timers.
#[test]
fn futures_join_all() {
    util::run(async {
        let handles = (0..20u64).map(|i| {
            spawn(async move {
                sleep(Duration::from_micros(20 * i)).await;
                i
            })
        });
        let out: Vec<u64> = join_all(handles)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, (0..20).collect::<Vec<_>>());
    });
}

/// `select` between a short and a very long timer picks the short one, and dropping the
/// loser cancels its timer.
#[test]
fn futures_select() {
    util::run(async {
        let short = Box::pin(sleep(Duration::from_micros(100)));
        let long = Box::pin(sleep(Duration::from_secs(3600)));
        match select(short, long).await {
            Either::Left(((), long)) => drop(long),
            Either::Right(..) => panic!("the long timer won"),
        }
        // Only the hang guard's timer is left.
        assert_eq!(mini_eventloop::stats().timers_pending, 1);
    });
}
