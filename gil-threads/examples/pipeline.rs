//! A producer, a bounded `Queue` and a `ThreadPoolExecutor`: Python's `queue` and
//! `concurrent.futures` patterns on interpreter threads.
//!
//! ```text
//! cargo run -p gil-threads --example pipeline
//! ```

use std::sync::Arc;

use gil_threads::{Interpreter, Queue, ThreadPoolExecutor};

fn main() {
    let interp = Interpreter::new();
    let queue = Arc::new(Queue::bounded(8));

    // A producer thread: blocks (with the GIL released) whenever the queue is full.
    let producer_queue = Arc::clone(&queue);
    let producer = interp.spawn(move |gil| {
        for word in ["alpha", "beta", "gamma", "delta", "epsilon"] {
            producer_queue.put(gil, Some(word.to_owned()));
        }
        producer_queue.put(gil, None);
    });

    // The main thread enters the interpreter, hands each word to the pool, collects results.
    let pool = ThreadPoolExecutor::new(&interp, 2);
    let lengths = interp
        .with_gil(|gil| {
            let mut handles = Vec::new();
            while let Some(word) = queue.get(gil) {
                let handle = pool
                    .submit(move |gil| {
                        gil.checkpoint();
                        (word.clone(), word.len())
                    })
                    .expect("the pool is running");
                handles.push(handle);
            }
            handles
                .into_iter()
                .map(|h| h.result(gil))
                .collect::<Vec<_>>()
        })
        .expect("entered the interpreter");
    for result in lengths {
        let (word, len) = result.expect("the task ran");
        println!("{word}: {len}");
    }
    producer.join().expect("the producer finished");
    pool.shutdown_blocking(true).unwrap();
    let stats = interp.stats();
    println!(
        "GIL taken {} times by {} threads, {} switches",
        stats.interpreter.acquisitions,
        stats.threads.len() as u64 + stats.exited_threads,
        stats.interpreter.switches
    );
}
