//! A panicking task never takes the loop down: the panic is caught at the task boundary and
//! reported through its handle.

mod util;

use mini_eventloop::{JoinError, spawn, yield_now};

/// The panic message comes back as `JoinError::Panicked`, and other tasks keep running.
#[test]
fn panicking_task_is_reported_and_the_loop_survives() {
    util::run(async {
        let survivor = spawn(async {
            for _ in 0..10 {
                yield_now().await;
            }
            "alive"
        });
        let bad = spawn(async {
            yield_now().await;
            panic!("boom {}", 42);
        });
        assert_eq!(bad.await, Err(JoinError::Panicked("boom 42".into())));
        assert_eq!(survivor.await, Ok("alive"));
    });
}

/// A detached panicking task is dropped quietly; the loop goes on.
#[test]
fn detached_panicking_task() {
    util::run(async {
        drop(spawn(async { panic!("nobody listens") }));
        for _ in 0..4 {
            yield_now().await;
        }
        assert_eq!(mini_eventloop::stats().tasks_alive, 0);
    });
}

/// A panic inside a future's destructor (during abort) is caught too.
#[test]
fn panicking_destructor_on_abort() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop panic");
        }
    }
    util::run(async {
        let h = spawn(async {
            let _p = PanicsOnDrop;
            std::future::pending::<()>().await;
        });
        yield_now().await;
        h.abort();
        assert_eq!(h.await, Err(JoinError::Panicked("drop panic".into())));
    });
}
