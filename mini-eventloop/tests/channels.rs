//! Channels: oneshot and mpsc (bounded with back-pressure, unbounded), between tasks and from
//! other threads, including every closed-channel error.

mod util;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use mini_eventloop::sync::mpsc::{self, TryRecvError, TrySendError};
use mini_eventloop::sync::oneshot;
use mini_eventloop::{spawn, yield_now};

/// A oneshot value arrives; a dropped sender gives `RecvError`; a dropped receiver makes
/// `send` give the value back.
#[test]
fn oneshot_delivery_and_closed_errors() {
    util::run(async {
        let (tx, rx) = oneshot::channel();
        spawn(async move { tx.send(5).unwrap() });
        assert_eq!(rx.await, Ok(5));

        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        assert_eq!(rx.await, Err(oneshot::RecvError));

        let (tx, rx) = oneshot::channel();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(9), Err(9));
    });
}

/// A bounded queue never holds more than its capacity: the sender waits (back-pressure),
/// values arrive in order, and `try_send` reports `Full`.
#[test]
fn bounded_back_pressure_and_order() {
    const CAPACITY: usize = 4;
    util::run(async {
        let (tx, mut rx) = mpsc::channel(CAPACITY);
        for i in 0..CAPACITY {
            tx.try_send(i).unwrap();
        }
        assert!(matches!(tx.try_send(99), Err(TrySendError::Full(99))));
        let producer = spawn(async move {
            for i in CAPACITY..100 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
            yield_now().await; // let the producer fill up again
        }
        producer.await.unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    });
}

/// Senders on other threads (blocking and unbounded) feed a task on the loop.
#[test]
fn senders_on_other_threads() {
    const PER_THREAD: usize = 1_000;
    util::run(async {
        let (tx, mut rx) = mpsc::channel(8);
        let (utx, mut urx) = mpsc::unbounded();
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let tx = tx.clone();
                let utx = utx.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        tx.blocking_send((t, i)).unwrap();
                        utx.send((t, i)).unwrap();
                    }
                })
            })
            .collect();
        drop((tx, utx));
        let mut count = 0;
        let mut last = [None, None];
        while let Some((t, i)) = rx.recv().await {
            assert!(last[t].is_none_or(|l| l < i), "per-sender order kept");
            last[t] = Some(i);
            count += 1;
        }
        assert_eq!(count, 2 * PER_THREAD);
        let mut ucount = 0;
        while urx.recv().await.is_some() {
            ucount += 1;
        }
        assert_eq!(ucount, 2 * PER_THREAD);
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// Closed-channel errors: send after the receiver is gone gives the value back; recv after
/// every sender is gone drains then gives `None`; try_recv says `Empty` then `Disconnected`.
#[test]
fn mpsc_closed_errors() {
    util::run(async {
        let (tx, rx) = mpsc::channel::<u8>(1);
        drop(rx);
        assert_eq!(tx.send(1).await.unwrap_err().0, 1);
        assert!(matches!(tx.try_send(2), Err(TrySendError::Closed(2))));

        let (utx, urx) = mpsc::unbounded::<u8>();
        drop(urx);
        assert_eq!(utx.send(3).unwrap_err().0, 3);

        let (tx, mut rx) = mpsc::channel::<u8>(2);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.send(4).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(4));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

/// A sender blocked on a full queue is released with an error when the receiver closes.
#[test]
fn waiting_sender_sees_close() {
    util::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0u8).await.unwrap();
        let blocked = spawn(async move { tx.send(1).await });
        yield_now().await;
        rx.close();
        assert_eq!(blocked.await.unwrap().unwrap_err().0, 1);
        assert_eq!(rx.recv().await, Some(0));
    });
}

/// After `close()`, `recv` returns what is queued and then `None`, although a sender is still
/// alive (as tokio's does); it used to wait forever.
#[test]
fn recv_after_close_returns_none_once_drained() {
    util::run(async {
        let (tx, mut rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        rx.close();
        assert!(tx.try_send(2).is_err());
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        drop(tx);
    });
}

/// A waker that does nothing; its `Arc`'s count shows how many clones are alive.
struct Idle;
impl Wake for Idle {
    fn wake(self: Arc<Self>) {}
}

/// A bounded `send` future polled on a full queue and dropped leaves no waker behind (as with
/// `timeout(d, tx.send(v))` in a loop); each used to keep one.
#[test]
fn dropped_send_futures_leave_no_waker_behind() {
    const DROPPED_SENDS: usize = 10_000;
    util::run(async {
        let (tx, _rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let idle = Arc::new(Idle);
        let waker = Waker::from(idle.clone());
        for i in 0..DROPPED_SENDS {
            let mut send = pin!(tx.send(i));
            assert!(
                send.as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        // `idle` and `waker`: no clone is kept by the channel.
        assert_eq!(Arc::strong_count(&idle), 2);
    });
}

/// Each `recv` on a full bounded channel wakes one waiting sender, not all of them: draining
/// a channel with 1,000 blocked senders costs a number of polls linear in the senders (the
/// old wake-everyone rule cost about 500,000). Counted, not timed.
#[test]
fn each_recv_wakes_one_waiting_sender() {
    const SENDERS: u64 = 1_000;
    let polls = util::run(async {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        tx.send(0).await.unwrap(); // full
        for i in 0..SENDERS {
            let tx = tx.clone();
            drop(spawn(async move { tx.send(i).await.unwrap() }));
        }
        drop(tx);
        yield_now().await; // every sender is waiting now
        let before = mini_eventloop::stats().polls;
        let mut got = 0;
        while rx.recv().await.is_some() {
            got += 1;
        }
        assert_eq!(got, SENDERS + 1);
        mini_eventloop::stats().polls - before
    });
    assert!(
        polls < 4 * SENDERS,
        "{polls} polls to drain {SENDERS} blocked senders"
    );
}

/// A sender woken for a freed slot whose `send` future is then dropped passes the wake on:
/// the next waiting sender still gets the slot.
#[test]
fn dropped_woken_sender_passes_the_slot_on() {
    util::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.send(0).await.unwrap(); // full
        let mut first = Box::pin(tx.send(1));
        assert!(util::poll_once(&mut first).await.is_pending()); // waits first
        let tx2 = tx.clone();
        let second = spawn(async move { tx2.send(2).await });
        yield_now().await; // the second waits behind the first
        assert_eq!(rx.recv().await, Some(0)); // one slot: the first sender is woken
        drop(first); // ... and gives up without sending
        second.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
    });
}
