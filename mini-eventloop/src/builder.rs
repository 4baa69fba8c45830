//! [`Builder`]: the settings of a [`Runtime`], with their defaults and why.
//!
//! Invariant: every setting is clamped to a usable value here (at least one poll per tick, one
//! blocking thread, one event and at most 65,536, one checkpoint per yield), so the loop never
//! checks them and no count a caller passes can make `build` panic.

use std::io;
use std::time::Duration;

use crate::runtime::Runtime;

/// Default polls per tick; see the fairness policy in `runtime.rs`.
const DEFAULT_POLLS_PER_TICK: u32 = 61;
/// Default size of the event buffer of one poll.
const DEFAULT_EVENT_CAPACITY: usize = 1024;
/// Default number of `spawn_blocking` threads: asyncio's default executor uses
/// `min(32, cpus + 4)`; blocking calls mostly wait, so a few more than the cores.
const DEFAULT_BLOCKING_THREADS: usize = 16;
/// The most events one poll may fetch: `epoll_wait` takes an `int` count and mio allocates the
/// buffer up front, so a caller's `usize::MAX` must not reach it (it would abort on the
/// allocation). 65,536 events of 12 bytes is a 768 KiB buffer, far past any useful batch.
const MAX_EVENT_CAPACITY: usize = 1 << 16;
/// Default number of `Ctx::checkpoint` calls between real yields of a job; see `job.rs`.
pub(crate) const DEFAULT_CHECKPOINTS_PER_YIELD: u32 = 32;

/// Settings fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The runtime's name, for reports.
    pub(crate) name: Option<String>,
    /// Polls per tick before I/O is polled.
    pub(crate) polls_per_tick: u32,
    /// Polls longer than this are counted and logged.
    pub(crate) slow_poll_threshold: Option<Duration>,
    /// Size of the blocking pool.
    pub(crate) blocking_threads: usize,
    /// Checkpoints between real yields of a job.
    pub(crate) checkpoints_per_yield: u32,
    /// Events per poll.
    pub(crate) event_capacity: usize,
    /// Whether to use a timerfd for sub-millisecond deadlines.
    pub(crate) timerfd: bool,
    /// Where task polls and poller waits are recorded (`record.rs`); `None`: nowhere.
    #[cfg(feature = "trace")]
    pub(crate) recorder: Option<std::sync::Arc<crate::trace::Recorder>>,
}

/// Settings for a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = mini_eventloop::Runtime::builder()
///     .name("worker")
///     .slow_poll_threshold(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// # drop(rt);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// The settings being built.
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults.
    pub fn new() -> Builder {
        Builder {
            config: Config {
                name: None,
                polls_per_tick: DEFAULT_POLLS_PER_TICK,
                slow_poll_threshold: None,
                blocking_threads: DEFAULT_BLOCKING_THREADS,
                checkpoints_per_yield: DEFAULT_CHECKPOINTS_PER_YIELD,
                event_capacity: DEFAULT_EVENT_CAPACITY,
                timerfd: true,
                #[cfg(feature = "trace")]
                recorder: None,
            },
        }
    }

    /// Names the runtime (shown in its `Debug` output).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.config.name = Some(name.into());
        self
    }

    /// Task polls per tick before I/O and timers are polled (default 61; at least 1).
    pub fn polls_per_tick(mut self, polls: u32) -> Builder {
        self.config.polls_per_tick = polls.max(1);
        self
    }

    /// Counts (and logs, see [`Runtime::slow_polls`]) every task poll that takes at least
    /// `threshold`. Off by default, since it reads the clock twice per poll.
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.config.slow_poll_threshold = Some(threshold);
        self
    }

    /// The most threads [`spawn_blocking`](crate::spawn_blocking) may use (default 16; at
    /// least 1).
    pub fn blocking_threads(mut self, threads: usize) -> Builder {
        self.config.blocking_threads = threads.max(1);
        self
    }

    /// How many [`Ctx::checkpoint`](crate::Ctx::checkpoint) calls a job makes between real
    /// yields (default 32; 1 yields at every checkpoint).
    pub fn checkpoints_per_yield(mut self, checkpoints: u32) -> Builder {
        self.config.checkpoints_per_yield = checkpoints.max(1);
        self
    }

    /// Events fetched per poll (default 1024; clamped to 1..=65,536).
    pub fn event_capacity(mut self, events: usize) -> Builder {
        self.config.event_capacity = events.clamp(1, MAX_EVENT_CAPACITY);
        self
    }

    /// Whether deadlines use a `timerfd` (sub-millisecond precision, the default) or only the
    /// poll timeout (rounded up to whole milliseconds by mio).
    pub fn precise_timers(mut self, on: bool) -> Builder {
        self.config.timerfd = on;
        self
    }

    /// Records what the loop does into `recorder` (needs the `trace` feature): a
    /// [`TaskPoll`](crate::trace::Kind::TaskPoll) span for every poll of a task's future, and
    /// a [`PollerWait`](crate::trace::Kind::PollerWait) span on
    /// [`Lane::Loop`](crate::trace::Lane::Loop) for every call of the poller that may block
    /// (one with a non-zero timeout: nothing was ready); the zero-timeout look at I/O that
    /// the loop takes between busy ticks is not recorded.
    ///
    /// Task lanes: the [`block_on`](crate::Runtime::block_on) future is always
    /// [`Lane::Task(0)`](crate::trace::Lane::Task); spawned tasks are `Task(1)`, `Task(2)`, …
    /// in spawn order (from this runtime's own counter: a lane is never reused, though task
    /// slots are). A span is stored when it ends, so [`events`](crate::trace::Recorder::events)
    /// lists them in order of their ends. Give each runtime its own recorder: two runtimes
    /// both number their tasks from 1. A full recorder counts what it drops and the loop goes
    /// on. Without a recorder nothing is read or stored.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mini_eventloop::trace::{Kind, Lane, Recorder};
    ///
    /// let recorder = Arc::new(Recorder::with_capacity(1_000));
    /// let rt = mini_eventloop::Runtime::builder()
    ///     .recorder(recorder.clone())
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { mini_eventloop::spawn(async {}).await.unwrap() });
    /// let polled: Vec<Lane> = recorder
    ///     .events()
    ///     .iter()
    ///     .filter(|e| e.kind == Kind::TaskPoll)
    ///     .map(|e| e.lane)
    ///     .collect();
    /// assert!(polled.contains(&Lane::Task(0)) && polled.contains(&Lane::Task(1)));
    /// ```
    #[cfg(feature = "trace")]
    pub fn recorder(mut self, recorder: std::sync::Arc<crate::trace::Recorder>) -> Builder {
        self.config.recorder = Some(recorder);
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// If the poll, its waker or the timerfd cannot be created.
    pub fn build(self) -> io::Result<Runtime> {
        Runtime::from_config(self.config)
    }
}
