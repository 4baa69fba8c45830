//! `timeout`: a typed `Elapsed` when the deadline wins, the output when the future wins.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mini_eventloop::{Either, Elapsed, interval, select, sleep, timeout, yield_now};

/// A future that never finishes is cut off with `Elapsed`, no earlier than the deadline, and
/// is dropped.
#[test]
fn timeout_elapses() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    util::run(async {
        let dropped = Rc::new(Cell::new(false));
        let flag = Flag(dropped.clone());
        let start = Instant::now();
        let d = Duration::from_millis(2);
        let r = timeout(d, async move {
            let _flag = flag;
            std::future::pending::<()>().await
        })
        .await;
        assert_eq!(r, Err::<(), _>(Elapsed::clone(&r.unwrap_err())));
        assert!(start.elapsed() >= d);
        assert!(dropped.get());
        assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
    });
}

/// The future's output wins when it is first.
#[test]
fn future_beats_timeout() {
    util::run(async {
        let r = timeout(Duration::from_secs(3600), async {
            sleep(Duration::from_micros(50)).await;
            "first"
        })
        .await;
        assert_eq!(r, Ok("first"));
    });
}

/// A future that is ready at once wins even against a zero timeout.
#[test]
fn ready_future_wins_zero_timeout() {
    util::run(async {
        assert_eq!(timeout(Duration::ZERO, async { 3 }).await, Ok(3));
    });
}

/// No `Duration` a caller passes panics: `Duration::MAX` means "no deadline" (a timer that
/// never fires), and a zero interval period ticks without spinning the loop.
#[test]
fn huge_and_zero_durations_never_panic() {
    util::run(async {
        assert_eq!(timeout(Duration::MAX, async { 5 }).await, Ok(5));
        let later = async {
            yield_now().await;
            6
        };
        assert_eq!(timeout(Duration::MAX, later).await, Ok(6));
        let never = sleep(Duration::MAX);
        assert_eq!(never.deadline(), None);
        assert!(!never.is_elapsed());
        assert_eq!(select(never, yield_now()).await, Either::Right(()));
        let mut every = interval(Duration::MAX);
        every.tick().await;
        assert_eq!(select(every.tick(), yield_now()).await, Either::Right(()));
        let mut zero = interval(Duration::ZERO);
        for _ in 0..3 {
            zero.tick().await;
        }
    });
}
