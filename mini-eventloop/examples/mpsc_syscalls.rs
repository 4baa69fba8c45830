//! Counts what an mpsc `recv` costs in system calls when no thread blocks in `blocking_send`
//! (the condition variable is signalled only when one does: expect no futex call per value).
//!   cargo build --release -p mini-eventloop --example mpsc_syscalls
//!   strace -f -c -e trace=futex target/release/examples/mpsc_syscalls 100000
use mini_eventloop::{Runtime, sync::mpsc};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().unwrap());
    let rt = Runtime::new().unwrap();
    let sum = rt.block_on(async move {
        let (tx, mut rx) = mpsc::unbounded::<u64>();
        let mut sum = 0;
        for i in 0..n {
            tx.send(i).unwrap();
            sum += rx.recv().await.unwrap();
        }
        sum
    });
    println!("received {n} values (sum {sum}) on one thread; no thread ever blocked");
}
