//! Loop statistics: counts move as documented, and slow polls are reported with the task's
//! name.

mod util;

use std::future::Future;
use std::time::Duration;

use mini_eventloop::{Runtime, spawn, spawn_named, yield_now};

/// A task that blocks the loop longer than the threshold is counted and named; quick tasks
/// are not. (The blocking sleep is the behaviour under test, not synchronisation.)
#[test]
fn slow_poll_is_reported_with_the_task_name() {
    let threshold = Duration::from_millis(5);
    let rt = Runtime::builder()
        .name("stats-test")
        .slow_poll_threshold(threshold)
        .build()
        .unwrap();
    rt.block_on(async {
        spawn_named("blocker", async move {
            std::thread::sleep(threshold * 2);
        })
        .await
        .unwrap();
        for _ in 0..10 {
            spawn(async {}).await.unwrap();
        }
    });
    let slow = rt.slow_polls();
    assert_eq!(rt.stats().slow_polls, 1);
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].task.as_deref(), Some("blocker"));
    assert!(slow[0].took >= threshold);
}

/// Spawned, alive, polls and wakes count what happened.
#[test]
fn counters_track_tasks_polls_and_wakes() {
    let rt = util::rt();
    rt.block_on(async {
        let h = spawn(async {
            for _ in 0..3 {
                yield_now().await;
            }
        });
        h.await.unwrap();
    });
    let s = rt.stats();
    assert_eq!(s.tasks_spawned, 1);
    assert_eq!(s.tasks_alive, 0);
    assert_eq!(s.polls, 4, "one poll per yield plus the last");
    assert!(s.local_wakes >= 4);
    assert_eq!(s.remote_wakes, 0);
}

/// Remote wakes and timer firings are counted.
#[test]
fn counters_track_remote_wakes_and_timers() {
    let rt = util::rt();
    rt.block_on(async {
        mini_eventloop::sleep(Duration::from_micros(100)).await;
        let (tx, mut rx) = mini_eventloop::sync::oneshot::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        // The thread sends only after the receiver has registered its waker, so exactly one
        // remote wake happens.
        let sender = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            tx.send(()).unwrap();
        });
        let mut go = Some(go_tx);
        std::future::poll_fn(|cx| {
            let polled = std::pin::Pin::new(&mut rx).poll(cx);
            if polled.is_pending() {
                if let Some(go) = go.take() {
                    go.send(()).unwrap();
                }
            }
            polled
        })
        .await
        .unwrap();
        sender.join().unwrap();
    });
    let s = rt.stats();
    assert_eq!(s.timers_fired, 1);
    assert_eq!(s.remote_wakes, 1);
}

/// `spawn` outside a runtime panics with a message saying what to do.
#[test]
fn spawn_outside_runtime_panics_clearly() {
    let err = std::panic::catch_unwind(|| drop(spawn(async {}))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("outside a runtime"), "{msg}");
}
