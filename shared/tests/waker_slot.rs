//! `WakerSlot` and `WakeOnDrop`: no lost wake-up when registering and waking race on many
//! threads, nothing leaked, and no waker code run under the slot's lock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::task::{Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use concurrency_shared::{WakeOnDrop, WakerSlot};

/// Poller/producer pairs racing at once (more threads than the machine has cores, on purpose).
const PAIRS: usize = 8;

/// Races per pair.
const ROUNDS: usize = 2_000;

/// A bound against hangs only: a lost wake-up or a deadlock fails the test instead of
/// hanging it.
const GUARD: Duration = Duration::from_secs(60);

/// A waker that counts its wakes and unparks the thread that made it.
struct Signal {
    /// Wakes so far.
    woken: AtomicUsize,
    /// The polling thread.
    thread: Thread,
}

impl Signal {
    fn new() -> Arc<Signal> {
        Arc::new(Signal {
            woken: AtomicUsize::new(0),
            thread: thread::current(),
        })
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `body` on its own thread and fails if it does not finish within [`GUARD`] (a body
/// that deadlocks on the slot's lock would otherwise hang the test binary).
#[track_caller]
fn within_guard(body: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        body();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(GUARD) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlocked (still running after {GUARD:?})")
        }
    }
}

/// The protocol raced [`ROUNDS`] times on each of [`PAIRS`] pairs of threads: the poller
/// registers then looks for the outcome, the producer publishes it then wakes. Every poller
/// that found nothing is woken: it never waits past the guard.
#[test]
fn no_lost_wake_up_under_races() {
    let pairs: Vec<_> = (0..PAIRS)
        .map(|_| {
            let start = Arc::new(Barrier::new(2));
            let rounds: Arc<Vec<(WakerSlot, AtomicBool)>> = Arc::new(
                (0..ROUNDS)
                    .map(|_| (WakerSlot::new(), AtomicBool::new(false)))
                    .collect(),
            );
            let producer = {
                let (start, rounds) = (Arc::clone(&start), Arc::clone(&rounds));
                thread::spawn(move || {
                    for (slot, outcome) in rounds.iter() {
                        start.wait();
                        outcome.store(true, Ordering::Relaxed);
                        slot.wake();
                    }
                })
            };
            let poller = thread::spawn(move || {
                for (slot, outcome) in rounds.iter() {
                    let signal = Signal::new();
                    let waker = Waker::from(Arc::clone(&signal));
                    start.wait();
                    slot.register(&waker);
                    if outcome.load(Ordering::Relaxed) {
                        continue;
                    }
                    // Pending: only the producer's wake can end this wait.
                    let deadline = Instant::now() + GUARD;
                    while signal.woken.load(Ordering::SeqCst) == 0 {
                        let left = deadline.checked_duration_since(Instant::now());
                        thread::park_timeout(left.expect("a lost wake-up"));
                    }
                    assert!(outcome.load(Ordering::Relaxed), "woken before the outcome");
                }
            });
            (producer, poller)
        })
        .collect();
    for (producer, poller) in pairs {
        producer.join().unwrap();
        poller.join().unwrap();
    }
}

/// Many threads registering their own wakers on one slot while another wakes it: no panic,
/// no deadlock, and once the slot is gone every waker clone it took has been dropped.
#[test]
fn concurrent_registrations_leak_nothing() {
    const THREADS: usize = 8;
    const REGISTRATIONS: usize = 5_000;
    let slot = Arc::new(WakerSlot::new());
    let stop = Arc::new(AtomicBool::new(false));
    let waking = {
        let (slot, stop) = (Arc::clone(&slot), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                slot.wake();
                thread::yield_now();
            }
        })
    };
    let registering: Vec<_> = (0..THREADS)
        .map(|_| {
            let slot = Arc::clone(&slot);
            thread::spawn(move || {
                let signal = Signal::new();
                for _ in 0..REGISTRATIONS {
                    // A fresh waker each time (not `will_wake` the stored one from this
                    // thread), so every registration clones and replaces.
                    let waker = Waker::from(Arc::clone(&signal));
                    slot.register(&waker);
                }
                signal
            })
        })
        .collect();
    let signals: Vec<_> = registering.into_iter().map(|t| t.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    waking.join().unwrap();
    drop(Arc::into_inner(slot).expect("every other owner is gone"));
    for signal in signals {
        assert_eq!(Arc::strong_count(&signal), 1, "a waker clone leaked");
    }
}

/// Registering the waker already stored (the same task polling again) keeps it: no clone.
#[test]
fn same_task_registration_keeps_its_waker() {
    let signal = Signal::new();
    let waker = Waker::from(Arc::clone(&signal));
    let slot = WakerSlot::new();
    slot.register(&waker);
    let stored = Arc::strong_count(&signal);
    slot.register(&waker.clone());
    assert_eq!(Arc::strong_count(&signal), stored);
    slot.wake();
    assert_eq!(signal.woken.load(Ordering::SeqCst), 1);
    // Woken once and forgotten: a second wake finds nothing.
    slot.wake();
    assert_eq!(signal.woken.load(Ordering::SeqCst), 1);
}

/// A waker whose destructor registers on the same slot (any code may run there): the
/// replaced waker is dropped after the lock is released, so this does not deadlock.
#[test]
fn replaced_waker_is_dropped_outside_the_lock() {
    /// Registers a no-op waker on `slot` when its last clone is dropped.
    struct ComesBack(Arc<WakerSlot>);
    impl Wake for ComesBack {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for ComesBack {
        fn drop(&mut self) {
            self.0.register(Waker::noop());
        }
    }
    within_guard(|| {
        let slot = Arc::new(WakerSlot::new());
        slot.register(&Waker::from(Arc::new(ComesBack(Arc::clone(&slot)))));
        // Replaces (and drops) the only clone of the `ComesBack` waker.
        slot.register(&Waker::from(Signal::new()));
        // The same through `wake`, which drops the waker after waking it.
        slot.register(&Waker::from(Arc::new(ComesBack(Arc::clone(&slot)))));
        slot.wake();
    });
}

/// A waker that registers again when woken (a task polled at once by its executor) is woken
/// outside the lock: no deadlock, and the new registration is kept.
#[test]
fn waker_is_woken_outside_the_lock() {
    /// Registers `next` on `slot` when woken.
    struct Repolls {
        slot: Arc<WakerSlot>,
        next: Waker,
    }
    impl Wake for Repolls {
        fn wake(self: Arc<Self>) {
            self.slot.register(&self.next);
        }
    }
    within_guard(|| {
        let slot = Arc::new(WakerSlot::new());
        let signal = Signal::new();
        slot.register(&Waker::from(Arc::new(Repolls {
            slot: Arc::clone(&slot),
            next: Waker::from(Arc::clone(&signal)),
        })));
        slot.wake();
        slot.wake();
        assert_eq!(signal.woken.load(Ordering::SeqCst), 1);
    });
}

/// A panicking waker does not unwind into the producer, and the slot stays usable.
#[test]
fn panicking_waker_is_contained() {
    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics");
        }
    }
    let slot = WakerSlot::new();
    slot.register(&Waker::from(Arc::new(Panics)));
    slot.wake();
    let signal = Signal::new();
    slot.register(&Waker::from(Arc::clone(&signal)));
    slot.wake();
    assert_eq!(signal.woken.load(Ordering::SeqCst), 1);
}

/// `WakeOnDrop` wakes when dropped, over a bare slot or a struct that holds one.
#[test]
fn wake_on_drop_wakes() {
    /// A slot beside other shared state, in one allocation.
    struct WithFlag {
        slot: WakerSlot,
        _flag: AtomicBool,
    }
    impl AsRef<WakerSlot> for WithFlag {
        fn as_ref(&self) -> &WakerSlot {
            &self.slot
        }
    }
    let signal = Signal::new();
    let bare = Arc::new(WakerSlot::new());
    bare.register(&Waker::from(Arc::clone(&signal)));
    drop(WakeOnDrop(Arc::clone(&bare)));
    assert_eq!(signal.woken.load(Ordering::SeqCst), 1);
    let shared = Arc::new(WithFlag {
        slot: WakerSlot::new(),
        _flag: AtomicBool::new(false),
    });
    shared.slot.register(&Waker::from(Arc::clone(&signal)));
    drop(WakeOnDrop(Arc::clone(&shared)));
    assert_eq!(signal.woken.load(Ordering::SeqCst), 2);
}
