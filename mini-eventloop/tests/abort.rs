//! `JoinHandle::abort`: the task's future is dropped at its await and the handle reports
//! `Cancelled`; a finished task keeps its result.

mod util;

use std::cell::Cell;
use std::rc::Rc;

use mini_eventloop::{spawn, yield_now};

/// Sets a flag when dropped.
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Aborting a pending task drops its future (destructors run) and the handle says so.
#[test]
fn abort_pending_task() {
    util::run(async {
        let dropped = Rc::new(Cell::new(false));
        let flag = DropFlag(dropped.clone());
        let h = spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        yield_now().await;
        assert!(!h.is_finished());
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(dropped.get());
    });
}

/// Aborting a task that already finished changes nothing: the result is still there.
#[test]
fn abort_after_finish_keeps_the_result() {
    util::run(async {
        let h = spawn(async { 5 });
        while !h.is_finished() {
            yield_now().await;
        }
        h.abort();
        assert_eq!(h.await, Ok(5));
    });
}

/// A task may abort itself through its own handle; it stops at its next await.
#[test]
fn task_aborts_itself() {
    util::run(async {
        let (tx, rx) = mini_eventloop::sync::oneshot::channel();
        let reached = Rc::new(Cell::new(false));
        let r = reached.clone();
        let h = spawn(async move {
            let me: mini_eventloop::JoinHandle<()> = rx.await.unwrap();
            me.abort();
            yield_now().await;
            r.set(true);
        });
        // The handle is moved into the task itself (a cycle broken by the abort).
        let _ = tx.send(h);
        for _ in 0..8 {
            yield_now().await;
        }
        assert!(!reached.get());
        assert_eq!(mini_eventloop::stats().tasks_alive, 0);
    });
}
