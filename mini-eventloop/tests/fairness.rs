//! The fairness policy: a task that keeps waking itself starves neither the other tasks nor
//! I/O nor timers, and the loop polls I/O at least once every `polls_per_tick` polls.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::{Runtime, sleep, spawn, yield_now};

/// Two busy tasks that yield forever; a timer, a TCP round trip and a plain task still finish.
#[test]
fn self_waking_tasks_do_not_starve_io_or_timers() {
    util::run(async {
        let stop = Rc::new(Cell::new(false));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                spawn(async move {
                    let mut spins = 0u64;
                    while !stop.get() {
                        spins += 1;
                        yield_now().await;
                    }
                    spins
                })
            })
            .collect();
        sleep(Duration::from_micros(200)).await;
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0; 1];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(&b).await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"!").await.unwrap();
        let mut b = [0; 1];
        c.read_exact(&mut b).await.unwrap();
        server.await.unwrap();
        assert_eq!(spawn(async { 3 }).await, Ok(3));
        stop.set(true);
        for s in spinners {
            assert!(s.await.unwrap() > 0);
        }
    });
}

/// With a budget of 4 polls per tick, a loop full of self-waking work still turns (polls I/O)
/// about once per 4 polls.
#[test]
fn io_is_polled_every_tick() {
    let rt = Runtime::builder().polls_per_tick(4).build().unwrap();
    rt.block_on(async {
        let spinner = spawn(async {
            for _ in 0..400 {
                yield_now().await;
            }
        });
        spinner.await.unwrap();
    });
    let s = rt.stats();
    // 401 task polls plus the main future's: at most 4 per turn.
    assert!(s.loop_iterations >= s.polls / 4, "{s:?}");
}

/// A task that never stops yielding does not delay wakes from other threads: a
/// `spawn_blocking` result reaches its task, which stops the spinner, while the spinner still
/// spins. (Remote wakes used to be drained only when the ready queue ran empty, which it never
/// does here.)
#[test]
fn a_yielding_task_does_not_starve_remote_wakes() {
    util::run(async {
        let done = Rc::new(Cell::new(false));
        let spinner = spawn({
            let done = done.clone();
            async move {
                while !done.get() {
                    yield_now().await;
                }
            }
        });
        let waiter = spawn(async move {
            let n = mini_eventloop::spawn_blocking(|| 7).await.unwrap();
            done.set(true);
            n
        });
        spinner.await.unwrap();
        assert_eq!(waiter.await.unwrap(), 7);
    });
}
