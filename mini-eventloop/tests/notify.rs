//! `sync::Notify`: stored permits, broadcasts that reach current waiters only, FIFO hand-over,
//! dropped waiters that deregister and pass their permit on, and wakes from other threads.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use mini_eventloop::sync::Notify;
use mini_eventloop::{spawn, stats, yield_now};
use util::poll_once;

/// How many waiters the broadcast and deregistration tests use.
const WAITERS: usize = 1_000;

/// Spawns a task that counts itself in `registered` and waits on `notify`; the count goes up
/// in the same poll that registers the waiter, so `registered == n` means n are waiting.
fn spawn_waiter(
    notify: &Rc<Notify>,
    registered: &Rc<Cell<usize>>,
) -> mini_eventloop::JoinHandle<()> {
    let (notify, registered) = (notify.clone(), registered.clone());
    spawn(async move {
        registered.set(registered.get() + 1);
        notify.notified().await;
    })
}

/// Yields until `registered` reaches `n`.
async fn until_registered(registered: &Cell<usize>, n: usize) {
    while registered.get() < n {
        yield_now().await;
    }
}

/// `notify_one` with nobody waiting stores one permit (two calls still store one); the next
/// `notified()` consumes it without waiting, and the one after that waits.
#[test]
fn permit_is_stored_then_consumed() {
    util::run(async {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one();
        let mut first = notify.notified();
        assert!(poll_once(&mut first).await.is_ready(), "the stored permit");
        let mut second = notify.notified();
        assert!(
            poll_once(&mut second).await.is_pending(),
            "permits do not add up"
        );
        notify.notify_one();
        second.await;
    });
}

/// `notify_one` wakes the waiter that has waited longest, one per call.
#[test]
fn notify_one_is_fifo() {
    util::run(async {
        let notify = Notify::new();
        let mut waiters: Vec<_> = (0..3).map(|_| notify.notified()).collect();
        for w in &mut waiters {
            assert!(poll_once(w).await.is_pending());
        }
        for i in 0..3 {
            notify.notify_one();
            for (j, w) in waiters.iter_mut().enumerate().skip(i) {
                assert_eq!(
                    poll_once(w).await.is_ready(),
                    j == i,
                    "after {} calls",
                    i + 1
                );
            }
        }
    });
}

/// `notify_waiters` wakes every current waiter (1,000 tasks, and a `Notified` created before
/// the call but never polled), stores no permit, and does not reach a `Notified` created
/// after the call.
#[test]
fn notify_waiters_wakes_current_waiters_only() {
    util::run(async {
        let notify = Rc::new(Notify::new());
        notify.notify_waiters(); // nobody waits: no permit may be stored
        let registered = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..WAITERS)
            .map(|_| spawn_waiter(&notify, &registered))
            .collect();
        until_registered(&registered, WAITERS).await;
        let created_before = notify.notified();

        notify.notify_waiters();
        let mut created_after = notify.notified();

        for t in tasks {
            t.await.unwrap();
        }
        created_before.await;
        assert!(poll_once(&mut created_after).await.is_pending());
        notify.notify_one();
        created_after.await;
    });
}

/// A waiter chosen by `notify_one` and dropped before it saw the notification passes the
/// permit on: to the next waiter if there is one, else into storage.
#[test]
fn dropped_waiter_passes_its_permit_on() {
    util::run(async {
        let notify = Notify::new();
        let mut a = notify.notified();
        let mut b = notify.notified();
        assert!(poll_once(&mut a).await.is_pending());
        assert!(poll_once(&mut b).await.is_pending());
        notify.notify_one(); // chooses `a`, the older
        drop(a);
        assert!(poll_once(&mut b).await.is_ready(), "b inherits a's permit");

        let mut c = notify.notified();
        assert!(poll_once(&mut c).await.is_pending());
        notify.notify_one(); // chooses `c`, the only waiter
        drop(c);
        let mut d = notify.notified();
        assert!(poll_once(&mut d).await.is_ready(), "c's permit was stored");
    });
}

/// The same through tasks: a task woken by `notify_one` and aborted before it ran hands the
/// permit to the other waiting task.
#[test]
fn aborted_task_passes_its_permit_on() {
    util::run(async {
        let notify = Rc::new(Notify::new());
        let registered = Rc::new(Cell::new(0));
        let first = spawn_waiter(&notify, &registered);
        until_registered(&registered, 1).await;
        let second = spawn_waiter(&notify, &registered);
        until_registered(&registered, 2).await;

        notify.notify_one(); // chooses `first`
        first.abort();
        assert_eq!(second.await, Ok(()));
        assert!(first.await.unwrap_err().is_cancelled());
    });
}

/// Waiters dropped while waiting deregister: after 1,000 of them are dropped, `notify_one`
/// finds nobody and stores the permit (rather than handing it to a dropped waiter).
#[test]
fn dropped_waiters_deregister() {
    util::run(async {
        let notify = Notify::new();
        let mut waiters: Vec<_> = (0..WAITERS).map(|_| notify.notified()).collect();
        for w in &mut waiters {
            assert!(poll_once(w).await.is_pending());
        }
        drop(waiters);
        notify.notify_one();
        assert!(poll_once(&mut notify.notified()).await.is_ready());
    });
}

/// `notify_one` and `notify_waiters` from another OS thread wake tasks whose loop has nothing
/// else to do (it is asleep in its poll), through the waker's remote path. The thread notifies
/// only after the waiters have registered (a channel says when), so it is a real wake, not a
/// stored permit.
#[test]
fn notify_from_another_thread_wakes_the_loop() {
    let notify = Arc::new(Notify::new());
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let remote = {
        let notify = notify.clone();
        std::thread::spawn(move || {
            go_rx.recv().unwrap();
            notify.notify_one();
            go_rx.recv().unwrap();
            notify.notify_waiters();
        })
    };
    util::run(async {
        let remote_before = stats().remote_wakes;
        let mut one = notify.notified();
        assert!(poll_once(&mut one).await.is_pending());
        go_tx.send(()).unwrap();
        one.await;

        let mut a = notify.notified();
        let mut b = notify.notified();
        assert!(poll_once(&mut a).await.is_pending());
        assert!(poll_once(&mut b).await.is_pending());
        go_tx.send(()).unwrap();
        mini_eventloop::join(a, b).await;
        assert!(stats().remote_wakes > remote_before);
    });
    remote.join().unwrap();
}
