//! The global interpreter lock: who may run interpreter code, and how it changes hands.
//!
//! This file is the whole algorithm, meant to be read top to bottom. It follows CPython's
//! `Python/ceval_gil.c` (the "new GIL" of Python 3.2, by Antoine Pitrou) for [`Policy::Fair`],
//! and adds two policies that change only *who gets the GIL next*. Everything else in the crate
//! (the [`Gil`](crate::Gil) token, threads, cells, primitives) is built on the operations at
//! the bottom: `GilCore::take`, `GilCore::release`, `GilCore::yield_if_requested` (a
//! checkpoint's slow path), `GilCore::yield_now` (a voluntary switch),
//! `GilCore::begin_finalizing` and the statistics snapshot.
//!
//! # The model
//!
//! The GIL is a boolean, **locked**, guarded by one mutex (`state`) that is only ever held for
//! a few instructions. Beside it:
//!
//! - **holder**: the thread that owns the GIL (the one whose `Gil` token is live and not lent
//!   out through `allow_threads`);
//! - **switch_number**: how many times the GIL has changed hands (a take by a thread other
//!   than the last holder, as CPython counts it); a waiter uses it to tell "nobody else got the
//!   GIL while I slept" (even if the holder released and retook it) from "the GIL moved, just
//!   not to me";
//! - **drop_request**: a waiter's demand that the holder let go, and *which waiter made it*;
//!   mirrored into the `breaker` atomic so that the holder can notice it with one relaxed load;
//! - **interval**: the switch interval (default 5 ms, like `sys.getswitchinterval()`).
//!
//! # The protocol ([`Policy::Fair`], CPython's)
//!
//! 1. **take**: lock `state`. While the GIL is locked, wait on `gil_cond` for at most one
//!    interval.
//! 2. If that wait *timed out* and `switch_number` did not move while we slept, the holder has
//!    kept the GIL for a whole interval: set the **drop request** (and the breaker bit).
//! 3. When the GIL is free, take it: `locked = true`, `holder = me`, `switch_number += 1` if
//!    the last holder was another thread; clear any drop request (it was aimed at the previous
//!    holder); wake a forced-switch dropper.
//! 4. **checkpoint** (a "bytecode boundary"): one relaxed load of `breaker`. Zero: carry on.
//!    Non-zero: lock `state`; if the request is still pending, **drop**: `locked = false`,
//!    signal `gil_cond`.
//! 5. **forced switching**: a thread that dropped on request then waits on `switch_cond` until
//!    `switch_number` moves (another thread took the GIL), and only then takes it again
//!    (step 1). Without this, the dropper, already running on a CPU, would usually win the race
//!    against the waiter it just woke, and the request would achieve nothing.
//! 6. **allow_threads** (blocking work): drop, run the work, take (step 1) like any other
//!    thread. As in CPython's `drop_gil`, a drop while a request is pending is a forced
//!    switch: wait as in step 5 before running the work, or a holder that computes without a
//!    checkpoint and blocks briefly in a loop would retake the GIL every time.
//! 7. **yield_now** (not in CPython, where `time.sleep(0)` is a drop then a take): if anyone
//!    waits, drop and wait as in step 5, in one critical section, so turns alternate strictly.
//!    "Anyone" is a waiter on `gil_cond`, a dropper that will **retake** (one that dropped
//!    at a checkpoint or in `yield_now`), or (`IoPriority`) a dropper that handed the GIL to a
//!    returner and has not taken it back yet, never an `allow_threads` dropper still in its
//!    step-5 wait: that one leaves to run its blocking work, not to take the GIL. Every
//!    dropper that leaves its step-5 wait notifies the droppers still in it, so a yielder
//!    re-counts rather than sleeping beside a free GIL.
//!
//! ```text
//!   holder H                                   waiter W
//!   --------                                   --------
//!   runs, checkpoint: breaker == 0             take: GIL locked -> wait(gil_cond, interval)
//!   runs, checkpoint: breaker == 0               ... timed out, switch_number unchanged
//!                                                -> drop_request = W, breaker |= DROP
//!   checkpoint: breaker != 0
//!     lock; request pending -> drop:
//!     locked = false, notify gil_cond ------->   wakes; GIL free -> take:
//!     wait(switch_cond) until                    locked, holder = W, switch_number += 1,
//!       switch_number moves   <--------------    drop_request = none, notify switch_cond
//!     take: GIL locked -> wait(gil_cond, ...)    W runs
//! ```
//!
//! # The other policies: who is next
//!
//! - [`Policy::Fifo`] (Ruby's GVL, roughly): waiters queue in arrival order and park, and the
//!   releasing thread **hands the GIL directly** to the head of the queue: it makes the head
//!   the holder, sets the head's `granted` flag, and unparks it *after* unlocking `state`, so
//!   the woken thread neither competes for the GIL nor waits for the mutex. `locked` never
//!   goes false while anyone waits: no thundering herd, no race that the dropper could win,
//!   and forced switching is implied (the dropper joins the tail).
//! - [`Policy::IoPriority`] fixes the **convoy effect** (bpo-7946, python/cpython#52194): under
//!   `Fair` a thread coming back from blocking I/O waits a whole interval behind a CPU-bound
//!   thread before it may even *ask* for the GIL, so an echo loop beside one busy thread runs
//!   at about one round trip per interval. Here a thread returning from `allow_threads` (a
//!   **returner**) joins the queue and sets the drop request **at once**, and the holder
//!   **hands it the GIL directly** at its next checkpoint, as `Fifo` hands it to its head:
//!   nothing depends on the returner winning a race for a free GIL, which it loses on a busy
//!   machine where it has no CPU when the GIL is freed. The returner polls its `granted` flag
//!   briefly before parking, which only saves a wake-up. Everything else is `Fair`: the
//!   dropper then waits like any other thread, one waiter is woken at each free release
//!   (`notify_one`, as CPython), and a CPU-bound waiter still asks after a quiet interval; a
//!   drop made for *its* request frees the GIL for it instead of handing it to a returner
//!   (who asks the new holder at once). That alone would not do: two threads echoing through
//!   blocking calls hand the GIL from returner to returner, every grant re-arms the request
//!   for the next returner, and `switch_number` moves every round, so a fair waiter would
//!   never ask. Hence the **starved** mark: a fair waiter whose wait times out (a whole
//!   interval without the GIL, whether it moved or not) marks itself starved; while
//!   the mark is set no release hands the GIL to a returner, it is freed for the fair
//!   waiters; the grant to the starved thread (or its unwinding) clears the mark. Returners
//!   can thus delay the fair waiters by an interval or two at a time, never for ever.
//!   Last, a dropper that handed the GIL to a returner still polling for it (so running,
//!   and soon to block again) polls briefly for the GIL's return before it sleeps, unless
//!   another thread waits for the GIL (the poller would beat it every time): asleep, it
//!   would cost the returner a futex wake-up (and its core a halt) at that release. Polling
//!   or not, from the hand-off until it takes the GIL again such a dropper is counted as
//!   waiting (`after_hand_off`), so the returner's `yield_now` lets it run.
//!
//! # Races this prevents
//!
//! - *Lost wake-up*: every change of `locked`, `holder`, `switch_number` and the queues, and
//!   every wait on a condition variable, happens with `state` locked, and a condition variable
//!   wait releases the mutex atomically; a notify can therefore never fall between a waiter's
//!   check and its sleep.
//! - *Dropper retakes at once*: step 5 (Fair, IoPriority) and the direct hand-off (Fifo).
//! - *Dead waiter*: a wait that unwinds (nothing in it panics outside the crate's tests, but
//!   the protocol must not rest on that) undoes what it registered (its count, its queue
//!   place, its request, a hand-off already made to it) through a drop guard, `Undo`; and a
//!   release by a thread that does not hold the GIL ends the process (`fatal`), in release
//!   builds too, as CPython's `Py_FatalError("drop_gil: GIL is not locked")` does.
//! - *Caller's durations*: an interval too long for an `Instant` (`Duration::MAX`) waits
//!   without a deadline; no arithmetic on it can panic while a waiter is queued.
//! - *Stale request*: a request is cleared whenever the GIL changes hands (step 3), so it never
//!   survives to bother the next holder; and the holder re-checks it under the mutex (step 4),
//!   so a stale breaker bit costs one lock, never a switch.
//! - *Orphaned request* (the class of python/cpython#96387, where finalisation hung): a drop
//!   request belongs to the thread that made it. A daemon thread refused at finalisation
//!   withdraws its request and makes no new ones, and the forced-switch wait of step 5 also
//!   ends when nobody is waiting for the GIL any more, so a holder is never left waiting for a
//!   requester that is gone.
//!
//! # Why the orderings suffice
//!
//! All the protocol's state lives under the mutex, which gives every happens-before edge the
//! protocol needs. The `breaker` atomic is only a **hint** read with `Relaxed` ordering: a
//! stale zero delays a switch by one checkpoint (the store becomes visible promptly on every
//! cache-coherent machine), and a stale non-zero sends the holder into the slow path, which
//! re-reads the truth under the mutex. So are `free` (a mirror of `!locked`) and a seat's
//! `polling` flag, which only decide whether the `IoPriority` dropper polls before it takes
//! the GIL under the mutex like anyone. The `granted` flag of a direct hand-off is the one
//! atomic that publishes: set with `Release` after the grant, read with `Acquire` by the
//! thread it names, which then also re-checks `holder` under the mutex.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::record::GilTrace;
use crate::stats::{GilCounters, Stats, ThreadStats};
use crate::sync::{
    self, AtomicBool, AtomicU8, Clocked, Condvar, IntervalClock, Mutex, MutexGuard, Ordering,
    Thread,
};
use crate::thread::ThreadId;

/// How the GIL chooses the next thread to run, fixed per interpreter by
/// [`InterpreterBuilder::policy`](crate::InterpreterBuilder::policy).
///
/// | policy | next holder | wins when |
/// |---|---|---|
/// | `Fair` | whichever waiter the OS wakes first, after a forced switch | you want CPython's behaviour, to compare against it |
/// | `Fifo` | the longest waiting thread, handed the GIL directly | many threads pass the GIL around voluntarily: cheapest hand-off, strict turn-taking |
/// | `IoPriority` | a thread returning from blocking I/O, handed the GIL at the holder's next checkpoint | I/O-bound threads share the interpreter with CPU-bound ones (the convoy effect) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// CPython's algorithm: timed waits, drop requests, forced switching.
    #[default]
    Fair,
    /// A FIFO queue of waiters, each handed the GIL directly by the thread that releases it.
    Fifo,
    /// Like `Fair`, but a thread returning from `allow_threads` (blocking I/O) asks the holder
    /// to drop at once instead of after a switch interval, and the holder hands it the GIL
    /// directly at its next checkpoint; a CPU-bound waiter that has waited a whole interval
    /// goes first, so returners cannot starve it.
    IoPriority,
}

/// A thread's identity inside the GIL: a process-unique number (see [`ThreadId`]).
pub(crate) type ThreadKey = u64;

/// Bit of `breaker`: a drop request is pending.
const DROP_REQUEST: u8 = 1;
/// Bit of `breaker`: the interpreter is finalising; daemon threads must leave.
const FINALIZING: u8 = 2;

/// How long (`IoPriority`) a thread back from I/O polls its `granted` flag after asking for
/// the GIL, before it parks. The holder hands it the GIL at its next checkpoint, typically a
/// microsecond away, while parking and being woken costs tens of microseconds of futex and
/// scheduler latency, once per round trip. The poll only saves that latency: the hand-off
/// itself does not depend on it (a returner that has no CPU is handed the GIL all the same).
/// It never yields: on a loaded machine `sched_yield` puts the returner behind every other
/// runnable thread for a whole time slice, during which it would hold the GIL it was handed
/// without running; a parked returner woken by `unpark` is scheduled promptly instead.
const IO_SPIN_BUDGET: Duration = Duration::from_micros(50);

/// How long (`IoPriority`) a holder that has just handed the GIL to a returner which was
/// still polling for it, so is running on a CPU right now, polls for the GIL to come back
/// before it sleeps like any other waiter. Such a returner usually holds the GIL for a few
/// microseconds, until its next blocking call. A holder that goes to sleep instead leaves its
/// core idle, and the returner's release must then wake it: a futex call on the I/O
/// thread's path, and on a VM an inter-processor interrupt to a halted vCPU, twice per echo
/// round trip (measured on 2 cores: echo beside a CPU thread +20 % on a quiet machine, and
/// no loss under load). Never after a hand-off to a parked returner, which must be scheduled
/// before it can run (polling then could hold the very core it needs), nor while another
/// thread waits for the GIL (the poller would beat it to every release).
const DROPPER_POLL: Duration = Duration::from_micros(50);

/// `spin_loop` rounds between two looks at the clock in the I/O poll.
const IO_SPIN_BATCH: u32 = 64;

/// Why a thread is taking the GIL; [`Policy::IoPriority`] favours `Returning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The thread's first take.
    Start,
    /// Retaking after dropping on request at a checkpoint (a CPU-bound thread).
    Preempted,
    /// Retaking after `allow_threads` (blocking work, usually I/O).
    Returning,
}

/// What a thread holding the GIL must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Carry on.
    Admitted,
    /// The interpreter is finalising and this is a daemon thread: it holds the GIL now (so
    /// its destructors run under it) but must unwind out of the interpreter.
    ShuttingDown,
}

/// A thread's seat at the GIL: who it is, whether it is a daemon, and the flag by which a
/// releasing thread tells it, under `Fifo`, that the GIL has been handed to it.
#[derive(Debug)]
pub(crate) struct Seat {
    /// The thread's key; written once.
    pub(crate) key: ThreadKey,
    /// Whether finalisation refuses this thread; written once.
    pub(crate) daemon: bool,
    /// `Fifo`, `IoPriority`: set (`Release`, under `state`, after `holder` names this thread)
    /// by the thread that hands it the GIL; read (`Acquire`) by the waiting owner, which
    /// clears it. The `Release`/`Acquire` pair makes everything the previous holder did
    /// visible to the next.
    granted: AtomicBool,
    /// `IoPriority`: set (`Relaxed`) by the owner while it polls `granted` before parking,
    /// that is while it is running on a CPU; read by the holder that hands it the GIL, to
    /// decide whether to poll for the GIL's return rather than sleep (see `DROPPER_POLL`).
    polling: AtomicBool,
}

impl Seat {
    /// A seat for the thread `key`.
    pub(crate) fn new(key: ThreadKey, daemon: bool) -> Self {
        Self {
            key,
            daemon,
            granted: AtomicBool::new(false),
            polling: AtomicBool::new(false),
        }
    }
}

/// A thread waiting in the `Fifo` queue.
#[derive(Debug)]
struct Waiter {
    /// Whom to hand the GIL to.
    seat: Arc<Seat>,
    /// The waiting OS thread, to unpark (captured by the waiter itself when it queues).
    thread: Thread,
    /// When it started waiting, for the wait-time statistics.
    since: Instant,
}

/// What the GIL knows about one live thread: its statistics and when its current hold began.
#[derive(Debug)]
struct ThreadRecord {
    /// The thread's name, if it has one.
    name: Option<String>,
    /// Whether it is a daemon thread.
    daemon: bool,
    /// Its counters; written by whichever thread performs a take/release for it.
    counters: GilCounters,
    /// When its current hold began, while it holds the GIL.
    taken_at: Option<Instant>,
}

/// Everything guarded by `GilCore::state`.
#[derive(Debug)]
struct GilState {
    /// Fixed at construction.
    policy: Policy,
    /// The switch interval; written by `set_interval`.
    interval: Duration,
    /// Whether some thread holds the GIL.
    locked: bool,
    /// Which thread holds it (`Some` exactly when `locked`).
    holder: Option<ThreadKey>,
    /// The thread that held it last, to count real switches.
    last_holder: Option<ThreadKey>,
    /// How many times the GIL has changed hands (a take by a thread other than the last
    /// holder, as CPython counts it).
    switch_number: u64,
    /// The pending drop request and the thread that made it.
    drop_request: Option<ThreadKey>,
    /// `Fair`, `IoPriority`: threads waiting on `gil_cond`.
    fair_waiters: usize,
    /// `Fair`, `IoPriority`: droppers waiting on `switch_cond` for a switch (step 5).
    switch_waiters: usize,
    /// Those of `switch_waiters` that will take the GIL again when their wait ends (dropped at
    /// a checkpoint or in `yield_now`); the others dropped for `allow_threads` and will run
    /// their blocking work first, so `yield_now` must not count on them to take a free GIL.
    retaking_droppers: usize,
    /// `IoPriority`: threads that handed the GIL to a returner (at a checkpoint or in
    /// `yield_now`) and will take it again, counted from that hand-off until they lock `state`
    /// to take it (meanwhile they poll for it, `DROPPER_POLL`, or only unpark the returner).
    /// They wait for the GIL on no condition variable, so `yield_now` must count them: the
    /// returner yielding at once would otherwise find nobody waiting and keep the GIL.
    after_hand_off: usize,
    /// `IoPriority`: a fair waiter (not a returner) that has waited a whole interval without
    /// getting the GIL. While set, nobody hands the GIL to a returner: it is freed for the
    /// fair waiters, so returners passing it to each other cannot starve them.
    starved: Option<ThreadKey>,
    /// `Fifo`: the waiting threads, in arrival order.
    queue: VecDeque<Waiter>,
    /// Set once by `begin_finalizing`: daemon threads must leave.
    finalizing: bool,
    /// The records of the live threads, by key; removed by `retire`.
    threads: HashMap<ThreadKey, ThreadRecord>,
    /// The counters of every retired thread, summed: what keeps the totals adding up once
    /// the records are gone.
    exited: GilCounters,
    /// How many threads have been retired.
    exited_threads: u64,
    /// The last `Stats::RECENT_EXITS` retired threads, oldest first, for `Stats::thread`.
    recently_exited: VecDeque<ThreadStats>,
    /// Interpreter-wide counters (kept separately so that tests can check they add up).
    totals: GilCounters,
    /// What is recorded for the `trace` feature (`src/record.rs`; empty without it).
    trace: GilTrace,
    /// The switch-interval clock (explicit under loom, empty otherwise).
    #[cfg_attr(not(gil_threads_loom), allow(dead_code))]
    clock: IntervalClock,
    /// Tests only: the thread whose next wait for the GIL panics, to check that nothing a
    /// waiter registered outlives it.
    #[cfg(any(test, gil_threads_loom))]
    inject_panic: Option<ThreadKey>,
    /// Tests only: how many times a dropper chose to poll for the GIL's return.
    #[cfg(test)]
    dropper_polls: u64,
}

/// Tests only: panics here, with `state` unlocked (as during a wait, and so that loom's
/// mutex, which does not recover from poisoning, stays usable), if a test asked `key`'s wait
/// to (see `GilState::inject_panic`).
#[cfg(any(test, gil_threads_loom))]
fn injection_point<'a>(
    mut st: MutexGuard<'a, GilState>,
    key: ThreadKey,
) -> MutexGuard<'a, GilState> {
    if st.inject_panic == Some(key) {
        st.inject_panic = None;
        drop(st);
        panic!("injected panic in a wait for the GIL");
    }
    st
}

/// Without tests, nothing happens here.
#[cfg(not(any(test, gil_threads_loom)))]
#[inline(always)]
fn injection_point(st: MutexGuard<'_, GilState>, _key: ThreadKey) -> MutexGuard<'_, GilState> {
    st
}

impl Clocked for GilState {
    fn clock(&self) -> &IntervalClock {
        &self.clock
    }
}

/// One interpreter's GIL.
#[derive(Debug)]
pub(crate) struct GilCore {
    /// The eval breaker: `DROP_REQUEST | FINALIZING` bits, written under `state`, read
    /// relaxed by `checkpoint` as a hint (see "Why the orderings suffice").
    breaker: AtomicU8,
    /// Mirrors `!locked`, written under `state`: a hint for a dropper polling for the GIL's
    /// return (`DROPPER_POLL`), which then takes it under `state` like any taker.
    free: AtomicBool,
    /// The protocol's state.
    state: Mutex<GilState>,
    /// `Fair`, `IoPriority`: waiters for `locked == false`.
    gil_cond: Condvar,
    /// `Fair`, `IoPriority`: forced-switch droppers waiting for `switch_number` to move.
    switch_cond: Condvar,
}

impl GilCore {
    /// A free GIL with the given policy and switch interval.
    pub(crate) fn new(policy: Policy, interval: Duration) -> Self {
        Self {
            breaker: AtomicU8::new(0),
            free: AtomicBool::new(true),
            state: Mutex::new(GilState {
                policy,
                interval,
                locked: false,
                holder: None,
                last_holder: None,
                switch_number: 0,
                drop_request: None,
                fair_waiters: 0,
                switch_waiters: 0,
                retaking_droppers: 0,
                after_hand_off: 0,
                starved: None,
                queue: VecDeque::new(),
                finalizing: false,
                threads: HashMap::new(),
                exited: GilCounters::default(),
                exited_threads: 0,
                recently_exited: VecDeque::new(),
                totals: GilCounters::default(),
                trace: GilTrace::off(),
                clock: IntervalClock::default(),
                #[cfg(any(test, gil_threads_loom))]
                inject_panic: None,
                #[cfg(test)]
                dropper_polls: 0,
            }),
            gil_cond: Condvar::new(),
            switch_cond: Condvar::new(),
        }
    }

    /// Whether anything asks the holder to stop at a checkpoint: the one relaxed load of the
    /// fast path (step 4).
    #[inline]
    pub(crate) fn breaker_set(&self) -> bool {
        self.breaker.load(Ordering::Relaxed) != 0
    }

    /// Registers a thread for statistics, before its first take (idempotent: keeps the live
    /// record of a thread already inside).
    pub(crate) fn register(&self, key: ThreadKey, name: Option<String>, daemon: bool) {
        let mut st = sync::lock(&self.state);
        st.threads.entry(key).or_insert_with(|| ThreadRecord {
            name,
            daemon,
            counters: GilCounters::default(),
            taken_at: None,
        });
        st.trace.registered(key);
    }

    /// Records into `trace` from now on; set before any thread enters.
    #[cfg(feature = "trace")]
    pub(crate) fn set_trace(&self, trace: GilTrace) {
        sync::lock(&self.state).trace = trace;
    }

    /// A thread has left the interpreter (it no longer holds the GIL): drops its record and
    /// folds its counters into the `exited` aggregate, so that memory stays bounded by the
    /// live threads while the totals still add up. Idempotent.
    pub(crate) fn retire(&self, key: ThreadKey) {
        let mut st = sync::lock(&self.state);
        let Some(record) = st.threads.remove(&key) else {
            return;
        };
        debug_assert!(
            record.taken_at.is_none(),
            "a thread retires after releasing"
        );
        st.exited.absorb(&record.counters);
        st.exited_threads += 1;
        if st.recently_exited.len() == Stats::RECENT_EXITS {
            st.recently_exited.pop_front();
        }
        st.recently_exited.push_back(ThreadStats {
            id: ThreadId(key),
            name: record.name,
            daemon: record.daemon,
            finished: true,
            counters: record.counters,
        });
    }

    /// Steps 1–3: blocks until the calling thread holds the GIL.
    pub(crate) fn take(&self, seat: &Arc<Seat>, reason: Reason) -> Admission {
        let since = Instant::now();
        let mut st = sync::lock(&self.state);
        if st.policy == Policy::IoPriority && reason == Reason::Returning && st.locked {
            // The convoy fix: back from I/O, queue as a returner and ask at once; the holder
            // hands us the GIL directly at its next checkpoint (no race to win).
            st.queue.push_back(Waiter {
                seat: Arc::clone(seat),
                thread: sync::current_thread(),
                since,
            });
            self.request_drop(&mut st, seat);
            seat.polling.store(true, Ordering::Relaxed);
            drop(st);
            let granted = self.poll_granted(seat);
            seat.polling.store(false, Ordering::Relaxed);
            if granted {
                // The granter did the bookkeeping under the mutex, and its `Release` store of
                // `granted`, read with `Acquire`, orders all of it (and any `FINALIZING`
                // set before the grant) before us: no need to lock again.
                seat.granted.store(false, Ordering::Relaxed);
                return if seat.daemon && self.breaker.load(Ordering::Relaxed) & FINALIZING != 0 {
                    Admission::ShuttingDown
                } else {
                    Admission::Admitted
                };
            }
            let st = self.wait_in_queue(sync::lock(&self.state), seat, None);
            return admission(&st, seat);
        }
        let st = self.take_locked(st, seat, reason, since);
        admission(&st, seat)
    }

    /// Steps 1–3 with `state` already locked; returns with the GIL held by `seat`.
    fn take_locked<'a>(
        &'a self,
        mut st: MutexGuard<'a, GilState>,
        seat: &Arc<Seat>,
        reason: Reason,
        since: Instant,
    ) -> MutexGuard<'a, GilState> {
        if !st.locked {
            // Free, and (invariant of `Fifo`) nobody queued: take it.
            debug_assert!(st.policy != Policy::Fifo || st.queue.is_empty());
            self.grant(&mut st, seat.key, since);
            return st;
        }
        debug_assert!(reason != Reason::Returning || st.policy != Policy::IoPriority);
        if st.policy != Policy::Fifo {
            st.fair_waiters += 1;
            let undo = Undo::new(self, seat.key, Registration::FairWaiter);
            // Declared after `undo`, so an unwinding wait unlocks before `undo` relocks.
            let mut st = st;
            while st.locked {
                st = injection_point(st, seat.key);
                let switch_before = st.switch_number;
                let interval = st.interval;
                let (guard, timed_out) = sync::wait_interval(&self.gil_cond, st, interval);
                st = guard;
                // Step 2: a whole interval passed and the GIL did not move: ask the holder.
                // A notified (not timed-out) waiter must not ask: the GIL just changed hands.
                if st.locked && timed_out && st.switch_number == switch_before {
                    self.request_drop(&mut st, seat);
                }
                // `IoPriority`: a whole interval without the GIL is enough, moved or not
                // (returners handing it to each other move it every round): mark ourselves
                // starved, so that the next release frees it for the fair waiters. Not a
                // request: one that the GIL moved under would make a returner's next
                // `allow_threads` a forced switch, waiting for us before its I/O; a holder
                // that keeps the GIL is asked above after one more quiet interval.
                if st.locked && timed_out && st.policy == Policy::IoPriority && st.starved.is_none()
                {
                    st.starved = Some(seat.key);
                }
            }
            st.fair_waiters -= 1;
            undo.disarm();
            self.grant(&mut st, seat.key, since);
            return st;
        }
        // `Fifo`: join the queue; the releasing thread will grant us the GIL directly.
        st.queue.push_back(Waiter {
            seat: Arc::clone(seat),
            thread: sync::current_thread(),
            since,
        });
        self.wait_in_queue(st, seat, None)
    }

    /// `Fifo`, and `IoPriority`'s returners: waits, already queued, until a releasing thread
    /// grants `seat` the GIL. First
    /// unparks `hand_off` (the thread this one just handed the GIL to, if any) once `state` is
    /// unlocked, so that thread never finds the mutex held.
    fn wait_in_queue<'a>(
        &'a self,
        st: MutexGuard<'a, GilState>,
        seat: &Seat,
        hand_off: Option<Thread>,
    ) -> MutexGuard<'a, GilState> {
        let mut undo = Undo::new(self, seat.key, Registration::Queued);
        undo.hand_off = hand_off;
        undo.granted = Some(&seat.granted);
        // Declared after `undo`, so an unwinding wait unlocks before `undo` relocks.
        let mut st = st;
        let mut parked = false;
        while st.holder != Some(seat.key) {
            parked = true;
            st = injection_point(st, seat.key);
            let switch_before = st.switch_number;
            let interval = st.interval;
            #[cfg(gil_threads_loom)]
            let ticks_before = st.clock.ticks;
            drop(st);
            if let Some(thread) = undo.hand_off.take() {
                thread.unpark();
            }
            let granted = sync::park_interval(interval, || seat.granted.load(Ordering::Acquire));
            st = sync::lock(&self.state);
            if st.holder == Some(seat.key) {
                break;
            }
            #[cfg(not(gil_threads_loom))]
            let timed_out = !granted;
            #[cfg(gil_threads_loom)]
            let timed_out = !granted && st.clock.ticks != ticks_before;
            // Step 2, as for `Fair`.
            if timed_out && st.switch_number == switch_before {
                self.request_drop(&mut st, seat);
            }
        }
        seat.granted.store(false, Ordering::Relaxed);
        if let Some(thread) = undo.hand_off.take() {
            thread.unpark();
        }
        undo.disarm();
        if parked {
            // Our parking may have swallowed an `unpark` meant for the user's own `park`
            // (a thread has one token); give it back. At worst the user's next `park` returns
            // at once, a spurious wake-up that `park`'s contract already allows.
            sync::current_thread().unpark();
        }
        st
    }

    /// `IoPriority`'s returner, queued, `state` unlocked: polls its `granted` flag for at most
    /// `IO_SPIN_BUDGET` (once under loom, which explores both outcomes); whether it was
    /// handed the GIL. A panic cannot happen here (no user code, no arithmetic on a caller's
    /// value), so the queue place needs no guard until `wait_in_queue` arms one.
    fn poll_granted(&self, seat: &Seat) -> bool {
        if cfg!(gil_threads_loom) {
            return seat.granted.load(Ordering::Acquire);
        }
        let start = Instant::now();
        loop {
            for _ in 0..IO_SPIN_BATCH {
                if seat.granted.load(Ordering::Acquire) {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= IO_SPIN_BUDGET {
                return false;
            }
        }
    }

    /// `IoPriority`'s dropper, `state` unlocked, having handed the GIL to a running returner:
    /// polls the `free` hint for at most `DROPPER_POLL` (not at all under loom: the take that
    /// follows, under `state`, is the protocol; the poll only spares it a sleep). Registers
    /// nothing, so nothing is left if it is cut short; meanwhile a release wakes nobody for
    /// this thread, which will look at the GIL itself.
    fn poll_free(&self) {
        if cfg!(gil_threads_loom) {
            return;
        }
        let start = Instant::now();
        loop {
            for _ in 0..IO_SPIN_BATCH {
                if self.free.load(Ordering::Relaxed) {
                    return;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= DROPPER_POLL {
                return;
            }
        }
    }

    /// Step 3: makes `key` the holder. Called by the taker itself (free GIL) or, under
    /// `Fifo`, by the releasing thread on the taker's behalf.
    fn grant(&self, st: &mut GilState, key: ThreadKey, since: Instant) {
        let now = Instant::now();
        st.locked = true;
        self.free.store(false, Ordering::Relaxed);
        st.holder = Some(key);
        if st.starved == Some(key) {
            st.starved = None;
        }
        if st.last_holder != Some(key) {
            st.switch_number += 1;
        }
        // Any pending request was aimed at the previous holder: satisfied or moot now.
        if st.drop_request.take().is_some() {
            self.breaker.fetch_and(!DROP_REQUEST, Ordering::Relaxed);
        }
        let switched = st.last_holder.is_some_and(|last| last != key);
        let waited = now.saturating_duration_since(since);
        st.trace.granted(key, waited);
        st.totals.record_take(waited, switched);
        if let Some(record) = st.threads.get_mut(&key) {
            record.counters.record_take(waited, switched);
            record.taken_at = Some(now);
        }
        // `IoPriority`: returners still queued ask the new holder at once, as they did the
        // last one.
        if st.policy == Policy::IoPriority
            && let Some(head) = st.queue.front()
        {
            let head = Arc::clone(&head.seat);
            self.request_drop(st, &head);
        }
        // Step 5's other half: a forced-switch dropper is waiting for exactly this.
        if st.switch_waiters > 0 {
            self.switch_cond.notify_all();
        }
    }

    /// Step 2: records a drop request made by `seat`, unless one is pending already or the
    /// requester is a daemon being refused at finalisation (such a thread makes no requests).
    fn request_drop(&self, st: &mut GilState, seat: &Seat) {
        if st.drop_request.is_some() || (st.finalizing && seat.daemon) {
            return;
        }
        st.drop_request = Some(seat.key);
        self.breaker.fetch_or(DROP_REQUEST, Ordering::Relaxed);
        st.totals.drop_requests += 1;
        st.trace.drop_requested(seat.key);
        if let Some(record) = st.threads.get_mut(&seat.key) {
            record.counters.drop_requests += 1;
        }
    }

    /// The end of a thread's stay: gives the GIL up for good.
    pub(crate) fn release(&self, seat: &Seat) {
        let mut st = sync::lock(&self.state);
        let hand_off = self.release_locked(&mut st, seat.key);
        drop(st);
        if let Some(thread) = hand_off {
            thread.unpark();
        }
    }

    /// Step 6's first half: gives the GIL up around blocking work. Like CPython's `drop_gil`,
    /// if a drop request is pending this is a forced switch (step 5): the caller returns only
    /// once another thread has had the GIL, or else a holder that computes without a
    /// checkpoint and then blocks briefly, in a loop, would retake the GIL every time and
    /// starve the requester. (A direct hand-off, under `Fifo` or to an `IoPriority`
    /// returner, is a switch already.)
    pub(crate) fn release_for_blocking(&self, seat: &Seat) {
        let mut st = sync::lock(&self.state);
        let requested = st.drop_request.is_some();
        let hand_off = self.release_locked(&mut st, seat.key);
        if requested && st.policy != Policy::Fifo && hand_off.is_none() {
            // Not counted in `forced_switches`, which counts the drops at checkpoints: this
            // drop was the thread's own, the request only decides who runs next.
            st = self.wait_for_switch(st, seat.key, Dropper::Blocking);
        }
        drop(st);
        if let Some(thread) = hand_off {
            thread.unpark();
        }
    }

    /// Unparks `thread`, handed the GIL, with `state` unlocked (so that it does not find the
    /// mutex held), and locks `state` again.
    fn unpark_unlocked<'a>(
        &'a self,
        st: MutexGuard<'a, GilState>,
        thread: Thread,
    ) -> MutexGuard<'a, GilState> {
        drop(st);
        thread.unpark();
        sync::lock(&self.state)
    }

    /// Counts a forced switch of `key`.
    fn count_forced_switch(&self, st: &mut GilState, key: ThreadKey) {
        st.totals.forced_switches += 1;
        st.trace.forced_switch(key);
        if let Some(record) = st.threads.get_mut(&key) {
            record.counters.forced_switches += 1;
        }
    }

    /// Step 5 (FORCE_SWITCHING), `Fair` and `IoPriority`: `key` has just dropped the GIL and
    /// must not compete for it until another thread has had it. Also stops waiting when
    /// nobody else waits for the GIL any more (the requester is gone), so an orphaned request
    /// can never leave it here. A `Yielding` dropper also counts, as waiting, the other
    /// droppers that will *retake* the GIL (they were notified by the grant that gave it to
    /// us and will take it next), never the `Blocking` ones, which leave to run their work;
    /// and every dropper that leaves notifies the droppers still waiting, so that a yielder
    /// which counted on it re-counts instead of sleeping beside a free GIL.
    fn wait_for_switch<'a>(
        &'a self,
        mut st: MutexGuard<'a, GilState>,
        key: ThreadKey,
        dropper: Dropper,
    ) -> MutexGuard<'a, GilState> {
        let retakes = dropper != Dropper::Blocking;
        st.switch_waiters += 1;
        st.retaking_droppers += usize::from(retakes);
        let undo = Undo::new(self, key, Registration::SwitchWaiter { retakes });
        // Declared after `undo`, so an unwinding wait unlocks before `undo` relocks.
        let mut st = st;
        let switch_before = st.switch_number;
        loop {
            let others = if dropper == Dropper::Yielding {
                st.fair_waiters + st.retaking_droppers + st.after_hand_off - 1
            } else {
                st.fair_waiters
            };
            if st.switch_number != switch_before || others == 0 {
                break;
            }
            st = injection_point(st, key);
            st = sync::wait(&self.switch_cond, st);
        }
        st.switch_waiters -= 1;
        st.retaking_droppers -= usize::from(retakes);
        if st.switch_waiters > 0 {
            self.switch_cond.notify_all();
        }
        undo.disarm();
        st
    }

    /// Drops the GIL held by `key`: frees it (`Fair`), or hands it to the head of the queue
    /// (`Fifo`; `IoPriority` when a returner waits, no fair waiter is `starved` and the
    /// pending request, if any, is not a CPU-bound waiter's, which must get its turn),
    /// returning the thread to unpark once
    /// `state` is unlocked.
    #[must_use = "a thread handed the GIL must be unparked"]
    fn release_locked(&self, st: &mut GilState, key: ThreadKey) -> Option<Thread> {
        if st.holder != Some(key) {
            // Like CPython's `Py_FatalError("drop_gil: GIL is not locked")`: the holder would
            // keep running with the GIL while another thread is granted it. Not a panic: this
            // may be reached while unwinding, where a panic aborts without a message.
            fatal("drop_gil: a thread released a GIL it does not hold");
        }
        let now = Instant::now();
        if let Some(record) = st.threads.get_mut(&key)
            && let Some(taken_at) = record.taken_at.take()
        {
            let held = now.saturating_duration_since(taken_at);
            record.counters.hold_total += held;
            st.totals.hold_total += held;
        }
        st.trace.released(key);
        st.holder = None;
        st.last_holder = Some(key);
        let hand_to_queue = match st.policy {
            Policy::Fair => false,
            Policy::Fifo => true,
            Policy::IoPriority => {
                st.starved.is_none()
                    && st
                        .drop_request
                        .is_none_or(|asker| st.queue.iter().any(|w| w.seat.key == asker))
            }
        };
        if hand_to_queue && let Some(next) = st.queue.pop_front() {
            // Direct hand-off: `locked` stays true, so nobody can slip in between.
            self.grant(st, next.seat.key, next.since);
            next.seat.granted.store(true, Ordering::Release);
            return Some(next.thread);
        }
        st.locked = false;
        self.free.store(true, Ordering::Relaxed);
        if st.fair_waiters > 0 {
            self.gil_cond.notify_one();
        }
        None
    }

    /// Step 4's slow path and step 5: called by the holder at a checkpoint when the breaker is
    /// set. Drops and retakes the GIL if a drop request is really pending.
    pub(crate) fn yield_if_requested(&self, seat: &Arc<Seat>) -> Admission {
        let bits = self.breaker.load(Ordering::Relaxed);
        if bits & DROP_REQUEST == 0 {
            // Only FINALIZING: no need to lock for a non-daemon thread.
            return if seat.daemon && bits & FINALIZING != 0 {
                Admission::ShuttingDown
            } else {
                Admission::Admitted
            };
        }
        let mut st = sync::lock(&self.state);
        if st.drop_request.is_none() {
            // A stale hint: the request was withdrawn or satisfied.
            return admission(&st, seat);
        }
        self.count_forced_switch(&mut st, seat.key);
        // `IoPriority`: poll for the GIL's return (instead of sleeping) if the returner that
        // a hand-off would go to is on a CPU, and nobody else waits for the GIL: a poller
        // takes the GIL ahead of any sleeping waiter, which the release wakes in vain, and a
        // waiter woken every time never times out, so it would never ask, and starve.
        let poll = st.fair_waiters == 0
            && st
                .queue
                .front()
                .is_some_and(|w| w.seat.polling.load(Ordering::Relaxed));
        let hand_off = self.release_locked(&mut st, seat.key);
        match hand_off {
            Some(thread) if st.policy == Policy::Fifo => {
                // The GIL went to the head; queue behind it (forced switching is implied).
                st.queue.push_back(Waiter {
                    seat: Arc::clone(seat),
                    thread: sync::current_thread(),
                    since: Instant::now(),
                });
                let st = self.wait_in_queue(st, seat, Some(thread));
                return admission(&st, seat);
            }
            // `IoPriority`: the GIL went to a returner, so the switch has happened; wake it
            // with `state` unlocked, then wait for the GIL like any other thread.
            Some(thread) => {
                #[cfg(test)]
                {
                    st.dropper_polls += u64::from(poll);
                }
                // Nothing between the two counts can unwind (no user code, no caller's
                // value), so they need no guard.
                st.after_hand_off += 1;
                drop(st);
                thread.unpark();
                if poll {
                    self.poll_free();
                }
                st = sync::lock(&self.state);
                st.after_hand_off -= 1;
            }
            None => st = self.wait_for_switch(st, seat.key, Dropper::Preempted),
        }
        let st = self.take_locked(st, seat, Reason::Preempted, Instant::now());
        admission(&st, seat)
    }

    /// A voluntary switch (what Python code uses `time.sleep(0)` for): if another thread is
    /// waiting for the GIL, give it the GIL and take it back after that thread's turn; if
    /// nobody waits, return at once. Unlike a drop then a take (`allow_threads(|| ())`), the
    /// release and the re-queueing happen in one critical section, so the other thread cannot
    /// release the GIL into the gap, and turns alternate strictly without spinning.
    pub(crate) fn yield_now(&self, seat: &Arc<Seat>) -> Admission {
        let mut st = sync::lock(&self.state);
        // An `allow_threads` dropper in its switch wait is not waiting for the GIL: it will
        // run its blocking work first.
        let others_waiting =
            !st.queue.is_empty() || st.fair_waiters + st.retaking_droppers + st.after_hand_off > 0;
        if !others_waiting {
            return admission(&st, seat);
        }
        if st.policy == Policy::Fifo {
            // Hand the head the GIL, then queue behind it; the head is unparked only in our
            // own wait, once `state` is unlocked, so it rarely finds the mutex held. Our wait
            // starts after the release, so the statistics and the trace never count the end
            // of our hold as waiting.
            let Some(hand_off) = self.release_locked(&mut st, seat.key) else {
                // Under `Fifo` every waiter is queued, so the GIL went to the head; were the
                // queue empty, queueing now would park us beside a free GIL: take it back.
                let st = self.take_locked(st, seat, Reason::Preempted, Instant::now());
                return admission(&st, seat);
            };
            st.queue.push_back(Waiter {
                seat: Arc::clone(seat),
                thread: sync::current_thread(),
                since: Instant::now(),
            });
            let st = self.wait_in_queue(st, seat, Some(hand_off));
            return admission(&st, seat);
        }
        // `Fair`, `IoPriority`: the GIL is freed (waiters notified through `gil_cond`), or
        // handed to a returner (`IoPriority`), which is the switch already made.
        let st = match self.release_locked(&mut st, seat.key) {
            Some(thread) => {
                st.after_hand_off += 1;
                let mut st = self.unpark_unlocked(st, thread);
                st.after_hand_off -= 1;
                st
            }
            None => self.wait_for_switch(st, seat.key, Dropper::Yielding),
        };
        let st = self.take_locked(st, seat, Reason::Preempted, Instant::now());
        admission(&st, seat)
    }

    /// Finalisation: from now on daemon threads are refused. A pending request made by a
    /// daemon is withdrawn (it belongs to a thread that is leaving).
    pub(crate) fn begin_finalizing(&self) {
        let mut st = sync::lock(&self.state);
        if st.finalizing {
            return;
        }
        st.finalizing = true;
        let daemon_request = st
            .drop_request
            .is_some_and(|key| st.threads.get(&key).is_some_and(|r| r.daemon));
        if daemon_request {
            st.drop_request = None;
            self.breaker.fetch_and(!DROP_REQUEST, Ordering::Relaxed);
        }
        self.breaker.fetch_or(FINALIZING, Ordering::Relaxed);
    }

    /// The switch interval.
    pub(crate) fn interval(&self) -> Duration {
        sync::lock(&self.state).interval
    }

    /// Changes the switch interval; waiters pick it up at their next wait.
    pub(crate) fn set_interval(&self, interval: Duration) {
        sync::lock(&self.state).interval = interval;
    }

    /// The policy.
    pub(crate) fn policy(&self) -> Policy {
        sync::lock(&self.state).policy
    }

    /// How many times the GIL has changed hands. Stable while the caller holds the GIL.
    pub(crate) fn switch_number(&self) -> u64 {
        sync::lock(&self.state).switch_number
    }

    /// A consistent snapshot of the counters (the current hold counted up to now).
    pub(crate) fn stats(&self) -> Stats {
        let st = sync::lock(&self.state);
        let now = Instant::now();
        let mut interpreter = st.totals.clone();
        let mut threads: Vec<ThreadStats> = st
            .threads
            .iter()
            .map(|(&key, record)| {
                let mut counters = record.counters.clone();
                if let Some(taken_at) = record.taken_at {
                    let ongoing = now.saturating_duration_since(taken_at);
                    counters.hold_total += ongoing;
                    interpreter.hold_total += ongoing;
                }
                ThreadStats {
                    id: ThreadId(key),
                    name: record.name.clone(),
                    daemon: record.daemon,
                    finished: false,
                    counters,
                }
            })
            .collect();
        threads.sort_by_key(|t| t.id);
        Stats {
            switch_number: st.switch_number,
            interpreter,
            threads,
            exited: st.exited.clone(),
            exited_threads: st.exited_threads,
            recently_exited: st.recently_exited.iter().cloned().collect(),
        }
    }

    /// Advances the modelled switch-interval clock by one interval: every timed waiter wakes
    /// up "timed out". Only exists under loom, whose timed waits never time out.
    #[cfg(gil_threads_loom)]
    pub(crate) fn tick(&self) {
        let mut st = sync::lock(&self.state);
        st.clock.ticks += 1;
        self.gil_cond.notify_all();
        for waiter in &st.queue {
            waiter.thread.unpark();
        }
    }
}

/// Why a holder dropped the GIL into a forced-switch wait (step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropper {
    /// `allow_threads`: leaves the wait to run blocking work, not to take the GIL.
    Blocking,
    /// A checkpoint that honoured a drop request: takes the GIL again after the wait.
    Preempted,
    /// `yield_now`: takes the GIL again after the wait, and waits only while someone else
    /// will take it.
    Yielding,
}

/// What a waiting thread has registered in `GilState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registration {
    /// Counted in `fair_waiters`.
    FairWaiter,
    /// Counted in `switch_waiters`, and in `retaking_droppers` if it `retakes`.
    SwitchWaiter {
        /// Whether it will take the GIL again (not an `allow_threads` dropper).
        retakes: bool,
    },
    /// In the `Fifo` queue.
    Queued,
}

/// Undoes a waiting thread's registration if its wait unwinds, so that no count, queue place,
/// drop request or hand-off is left to a thread that is gone: otherwise the GIL could be
/// handed to a dead waiter (every later take hangs) or a wake-up lost. Disarmed on the normal
/// path, where the waiter undoes its registration itself under the same lock.
///
/// The waiter must not hold `state` when this drops: each wait declares its guard variable
/// after the `Undo`, so that unwinding unlocks first.
#[must_use = "an Undo undoes at once if dropped"]
struct Undo<'a> {
    /// The GIL waited for.
    core: &'a GilCore,
    /// The waiting thread.
    key: ThreadKey,
    /// What it registered.
    registration: Registration,
    /// `Fifo`: a thread handed the GIL by this waiter and not unparked yet.
    hand_off: Option<Thread>,
    /// A queued waiter's `granted` flag, cleared so that a later take by the same seat
    /// cannot mistake a hand-off it passed on for its own.
    granted: Option<&'a AtomicBool>,
}

impl<'a> Undo<'a> {
    /// Arms the undo of `registration`, already made by `key`.
    fn new(core: &'a GilCore, key: ThreadKey, registration: Registration) -> Self {
        Self {
            core,
            key,
            registration,
            hand_off: None,
            granted: None,
        }
    }

    /// The wait ended normally.
    fn disarm(self) {
        debug_assert!(self.hand_off.is_none(), "a hand-off left unparked");
        std::mem::forget(self);
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        let core = self.core;
        let mut st = sync::lock(&core.state);
        match self.registration {
            Registration::FairWaiter => st.fair_waiters -= 1,
            Registration::SwitchWaiter { retakes } => {
                st.switch_waiters -= 1;
                st.retaking_droppers -= usize::from(retakes);
            }
            Registration::Queued => st.queue.retain(|w| w.seat.key != self.key),
        }
        if st.drop_request == Some(self.key) {
            st.drop_request = None;
            core.breaker.fetch_and(!DROP_REQUEST, Ordering::Relaxed);
        }
        if st.starved == Some(self.key) {
            st.starved = None;
        }
        // `Fifo` may have handed us the GIL already: pass it on.
        let passed = if st.holder == Some(self.key) {
            core.release_locked(&mut st, self.key)
        } else {
            None
        };
        if let Some(granted) = self.granted {
            granted.store(false, Ordering::Relaxed);
        }
        // A wake-up meant for us is passed on too.
        if !st.locked && st.fair_waiters > 0 {
            core.gil_cond.notify_one();
        }
        if st.switch_waiters > 0 {
            core.switch_cond.notify_all();
        }
        drop(st);
        for thread in [self.hand_off.take(), passed].into_iter().flatten() {
            thread.unpark();
        }
    }
}

/// Ends the process with `message`: a broken soundness invariant, which no caller could
/// recover from (CPython's `Py_FatalError`).
#[cold]
pub(crate) fn fatal(message: &str) -> ! {
    eprintln!("gil-threads: fatal error: {message}");
    std::process::abort()
}

/// Whether a thread that now holds the GIL may carry on.
fn admission(st: &GilState, seat: &Seat) -> Admission {
    if st.finalizing && seat.daemon {
        Admission::ShuttingDown
    } else {
        Admission::Admitted
    }
}

/// The GIL core with a public face, for the loom model in `tests/loom_gil.rs` only.
#[cfg(gil_threads_loom)]
#[doc(hidden)]
pub mod model {
    use std::sync::Arc;

    use super::{Admission, GilCore, Policy, Reason, Seat};
    use crate::stats::Stats;

    /// A bare GIL.
    #[derive(Debug)]
    pub struct ModelGil(GilCore);

    /// A thread's seat at a [`ModelGil`].
    #[derive(Debug, Clone)]
    pub struct ModelSeat(Arc<Seat>);

    impl ModelGil {
        /// A free GIL (the interval is irrelevant: the clock is `tick`).
        pub fn new(policy: Policy) -> Self {
            Self(GilCore::new(policy, std::time::Duration::from_millis(5)))
        }

        /// Registers thread `key` and gives it a seat.
        pub fn seat(&self, key: u64, daemon: bool) -> ModelSeat {
            self.0.register(key, None, daemon);
            ModelSeat(Arc::new(Seat::new(key, daemon)))
        }

        /// Takes the GIL; `returning` marks a return from blocking work. False if refused.
        pub fn take(&self, seat: &ModelSeat, returning: bool) -> bool {
            let reason = if returning {
                Reason::Returning
            } else {
                Reason::Start
            };
            self.0.take(&seat.0, reason) == Admission::Admitted
        }

        /// Takes the GIL with a panic injected into its wait, caught here, on the calling
        /// (modelled) thread: `None` if the wait panicked (the thread does not hold the GIL),
        /// otherwise the take's outcome as for [`take`](ModelGil::take) (the GIL was free,
        /// so the take never waited).
        pub fn take_dying(&self, seat: &ModelSeat) -> Option<bool> {
            crate::sync::lock(&self.0.state).inject_panic = Some(seat.0.key);
            let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.0.take(&seat.0, Reason::Start) == Admission::Admitted
            }));
            crate::sync::lock(&self.0.state).inject_panic = None;
            taken.ok()
        }

        /// Whether nothing is registered: no waiter counted or queued, no pending request,
        /// the GIL free.
        pub fn is_quiet(&self) -> bool {
            let st = crate::sync::lock(&self.0.state);
            st.fair_waiters == 0
                && st.switch_waiters == 0
                && st.after_hand_off == 0
                && st.queue.is_empty()
                && st.drop_request.is_none()
                && st.starved.is_none()
                && !st.locked
                && st.holder.is_none()
        }

        /// Releases the GIL.
        pub fn release(&self, seat: &ModelSeat) {
            self.0.release(&seat.0);
        }

        /// Releases the GIL around blocking work (`allow_threads`' first half): a forced
        /// switch if a drop request is pending.
        pub fn release_for_blocking(&self, seat: &ModelSeat) {
            self.0.release_for_blocking(&seat.0);
        }

        /// The thread leaves for good (after releasing): its record is folded away.
        pub fn retire(&self, seat: &ModelSeat) {
            self.0.retire(seat.0.key);
        }

        /// A checkpoint: the fast path, then the slow one if the breaker is set. False if
        /// refused.
        pub fn checkpoint(&self, seat: &ModelSeat) -> bool {
            !self.0.breaker_set() || self.0.yield_if_requested(&seat.0) == Admission::Admitted
        }

        /// A voluntary switch. False if refused.
        pub fn yield_now(&self, seat: &ModelSeat) -> bool {
            self.0.yield_now(&seat.0) == Admission::Admitted
        }

        /// Begins finalisation.
        pub fn finalize(&self) {
            self.0.begin_finalizing();
        }

        /// One switch interval passes.
        pub fn tick(&self) {
            self.0.tick();
        }

        /// The statistics.
        pub fn stats(&self) -> Stats {
            self.0.stats()
        }
    }
}

#[cfg(all(test, not(gil_threads_loom)))]
mod tests {
    //! What no public call can reach: a release by a non-holder, and a wait for the GIL that
    //! unwinds (through the tests-only panic injection).

    use std::panic::{self, AssertUnwindSafe};
    use std::process::Command;
    use std::sync::Arc;
    use std::time::Duration;

    use super::{GilCore, Policy, Reason, Seat};
    use crate::sync;

    /// Set in the child process that must abort.
    const ABORT_CHILD: &str = "GIL_THREADS_ABORT_CHILD";

    /// A GIL with a long interval, so that only the test's own steps move it.
    fn core(policy: Policy) -> Arc<GilCore> {
        Arc::new(GilCore::new(policy, Duration::from_secs(3600)))
    }

    /// A registered seat.
    fn seat(core: &GilCore, key: u64) -> Arc<Seat> {
        core.register(key, None, false);
        Arc::new(Seat::new(key, false))
    }

    /// Nothing registered is left: no waiter counted or queued, no request, the GIL free.
    fn assert_clean(core: &GilCore) {
        let st = sync::lock(&core.state);
        assert_eq!(st.fair_waiters, 0);
        assert_eq!(st.switch_waiters, 0);
        assert_eq!(st.after_hand_off, 0);
        assert!(st.queue.is_empty());
        assert_eq!(st.drop_request, None);
        assert_eq!(st.starved, None);
        assert!(!st.locked);
        assert_eq!(st.holder, None);
    }

    /// Releasing a GIL this thread does not hold ends the process with a message, in release
    /// builds too (CPython's `Py_FatalError`): carrying on would let the real holder run
    /// beside the thread granted the GIL. Checked in a child process, which must abort.
    #[test]
    fn release_by_a_non_holder_aborts() {
        if std::env::var_os(ABORT_CHILD).is_some() {
            let core = core(Policy::Fair);
            let holder = seat(&core, 1);
            let other = seat(&core, 2);
            core.take(&holder, Reason::Start);
            core.release(&other);
            // Not reached when the check works; exiting cleanly makes the parent fail.
            std::process::exit(0);
        }
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["gil::tests::release_by_a_non_holder_aborts", "--exact"])
            .args(["--nocapture", "--test-threads=1"])
            .env(ABORT_CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the child went on: {stderr}");
        assert!(stderr.contains("drop_gil"), "{stderr}");
    }

    /// Under every policy, a waiter whose wait for the GIL panics leaves nothing behind: the
    /// holder's release reaches a live waiter (under `Fifo`, it is not handed to the dead
    /// one), and afterwards the GIL is free with no waiter counted.
    #[test]
    fn a_waiter_that_unwinds_leaves_nothing_behind() {
        for policy in [Policy::Fair, Policy::Fifo, Policy::IoPriority] {
            let core = core(policy);
            let holder = seat(&core, 1);
            let (dying, live) = (seat(&core, 2), seat(&core, 3));
            core.take(&holder, Reason::Start);
            sync::lock(&core.state).inject_panic = Some(dying.key);
            let (c, s) = (Arc::clone(&core), Arc::clone(&dying));
            let died = std::thread::spawn(move || {
                panic::catch_unwind(AssertUnwindSafe(|| c.take(&s, Reason::Returning))).is_err()
            });
            assert!(
                died.join().unwrap(),
                "{policy:?}: the injected panic did not happen"
            );
            let (c, s) = (Arc::clone(&core), Arc::clone(&live));
            let taker = std::thread::spawn(move || {
                c.take(&s, Reason::Start);
                c.release(&s);
            });
            core.release(&holder);
            taker.join().unwrap();
            assert_clean(&core);
        }
    }

    /// A dropper whose forced-switch wait panics (it holds no GIL then) leaves no switch
    /// waiter counted, and the thread it yielded to runs.
    #[test]
    fn a_dropper_that_unwinds_leaves_nothing_behind() {
        for policy in [Policy::Fair, Policy::IoPriority] {
            let core = core(policy);
            let (holder, waiter) = (seat(&core, 1), seat(&core, 2));
            core.take(&holder, Reason::Start);
            let (c, s) = (Arc::clone(&core), Arc::clone(&waiter));
            let taker = std::thread::spawn(move || {
                c.take(&s, Reason::Start);
                c.release(&s);
            });
            // Wait (bounded by the test harness) until the waiter is counted, so that the
            // yield below really drops the GIL.
            while sync::lock(&core.state).fair_waiters == 0 {
                std::thread::yield_now();
            }
            sync::lock(&core.state).inject_panic = Some(holder.key);
            // The waiter cannot take the GIL before the dropper reaches its switch wait: both
            // happen in one critical section.
            let unwound = panic::catch_unwind(AssertUnwindSafe(|| core.yield_now(&holder)));
            assert!(
                unwound.is_err(),
                "{policy:?}: the injected panic did not happen"
            );
            taker.join().unwrap();
            assert_clean(&core);
        }
    }

    /// `IoPriority`: a holder that hands the GIL to a returner still polling for it polls
    /// for the GIL's return only when nobody else waits. Beside a sleeping waiter it must
    /// sleep too: a poller would take every release ahead of that waiter, which, woken each
    /// time, never times out, so never asks, and starves. (The returner here is a queue
    /// place made by hand, so that its `polling` flag holds still; the test thread plays it.)
    #[test]
    fn the_dropper_polls_only_when_nobody_else_waits() {
        for other_waits in [false, true] {
            let core = core(Policy::IoPriority);
            let (holder, returner, other) = (seat(&core, 1), seat(&core, 2), seat(&core, 3));
            core.take(&holder, Reason::Start);
            let waiter = other_waits.then(|| {
                let (c, s) = (Arc::clone(&core), Arc::clone(&other));
                std::thread::spawn(move || {
                    c.take(&s, Reason::Start);
                    c.release(&s);
                })
            });
            while other_waits && sync::lock(&core.state).fair_waiters == 0 {
                std::thread::yield_now();
            }
            {
                let mut st = sync::lock(&core.state);
                st.queue.push_back(super::Waiter {
                    seat: Arc::clone(&returner),
                    thread: sync::current_thread(),
                    since: std::time::Instant::now(),
                });
                core.request_drop(&mut st, &returner);
                returner.polling.store(true, sync::Ordering::Relaxed);
            }
            let (c, s) = (Arc::clone(&core), Arc::clone(&holder));
            let dropper = std::thread::spawn(move || {
                c.yield_if_requested(&s);
                c.release(&s);
            });
            // The returner's turn: it holds the GIL once handed it, then lets it go.
            while sync::lock(&core.state).holder != Some(returner.key) {
                std::thread::yield_now();
            }
            returner.granted.store(false, sync::Ordering::Relaxed);
            returner.polling.store(false, sync::Ordering::Relaxed);
            core.release(&returner);
            dropper.join().unwrap();
            if let Some(waiter) = waiter {
                waiter.join().unwrap();
            }
            let polls = sync::lock(&core.state).dropper_polls;
            assert_eq!(
                polls,
                u64::from(!other_waits),
                "another thread waits: {other_waits}"
            );
            assert_clean(&core);
        }
    }
}
