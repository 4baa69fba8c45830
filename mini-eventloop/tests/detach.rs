//! Dropping a `JoinHandle` detaches the task: it runs to completion anyway.

mod util;

use mini_eventloop::{spawn, sync::oneshot, yield_now};

/// A detached task still runs to the end and its effects are visible.
#[test]
fn detached_task_runs_to_completion() {
    util::run(async {
        let (tx, rx) = oneshot::channel();
        drop(spawn(async move {
            for _ in 0..5 {
                yield_now().await;
            }
            tx.send("done").unwrap();
        }));
        assert_eq!(rx.await, Ok("done"));
    });
}

/// Tasks still pending when `block_on` returns run again at the next `block_on`.
#[test]
fn pending_tasks_survive_between_block_ons() {
    let rt = util::rt();
    let (tx, rx) = oneshot::channel();
    rt.block_on(async move {
        drop(spawn(async move {
            mini_eventloop::sleep(std::time::Duration::from_micros(10)).await;
            tx.send(1).unwrap();
        }));
    });
    assert_eq!(rt.block_on(rx), Ok(1));
}
