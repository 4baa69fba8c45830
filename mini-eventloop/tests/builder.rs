//! No setting a caller passes makes `Builder::build` panic or the runtime misbehave: zero and
//! the largest counts and durations are clamped to usable values.

mod util;

use std::time::Duration;

use mini_eventloop::{Runtime, sleep, spawn, spawn_blocking, yield_now};

/// Every setting at zero, then at its maximum: the runtime builds and runs tasks, timers and
/// blocking closures.
#[test]
fn extreme_settings_build_a_working_runtime() {
    let builders = [
        Runtime::builder()
            .polls_per_tick(0)
            .blocking_threads(0)
            .checkpoints_per_yield(0)
            .event_capacity(0)
            .slow_poll_threshold(Duration::ZERO),
        Runtime::builder()
            .polls_per_tick(u32::MAX)
            .blocking_threads(usize::MAX)
            .checkpoints_per_yield(u32::MAX)
            .event_capacity(usize::MAX)
            .slow_poll_threshold(Duration::MAX),
    ];
    for builder in builders {
        let rt = builder.build().unwrap();
        let out = rt.block_on(async {
            let task = spawn(async {
                yield_now().await;
                sleep(Duration::from_micros(10)).await;
                1
            });
            task.await.unwrap() + spawn_blocking(|| 2).await.unwrap()
        });
        assert_eq!(out, 3);
    }
}
