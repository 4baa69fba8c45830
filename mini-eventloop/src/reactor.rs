//! The reactor: one `mio::Poll`, one registration per I/O source, readiness kept per source.
//!
//! Invariants:
//! - each source is registered once, for both directions, edge-triggered; reading and writing
//!   each keep their own waker, so one task may wait to read while another waits to write;
//! - readiness is set by events and cleared **only** when an operation returns `WouldBlock`
//!   (an edge is reported once: clearing it on anything else would lose it, and a failed
//!   operation such as `accept` under `EMFILE` leaves it set, which is why the listener backs
//!   off on a timer instead of waiting for an edge);
//! - a source is deregistered when its owner is dropped; its token carries a generation, so
//!   an event still in flight for a freed slot is ignored.
//!
//! Wakers found for events are collected first and woken after every borrow is released, so
//! a waker (possibly foreign code) never runs while the reactor's state is borrowed.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Token};

use crate::runtime::{Core, Counters};
use crate::sys::TimerFd;

/// The token of the `mio::Waker` that other threads use to interrupt the poll.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
/// The token of the timerfd.
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Readiness bits of a source.
const READABLE: u8 = 1;
const WRITABLE: u8 = 2;
const READ_CLOSED: u8 = 4;
const WRITE_CLOSED: u8 = 8;
const ERROR: u8 = 16;

/// Which half of a source an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading, accepting, receiving.
    Read,
    /// Writing, connecting, sending.
    Write,
}

impl Direction {
    /// The bits that make this direction ready.
    fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }

    /// Index of this direction's waker.
    fn index(self) -> usize {
        match self {
            Direction::Read => 0,
            Direction::Write => 1,
        }
    }
}

/// Per-source state shared by the source's owner and the reactor's table.
#[derive(Default)]
pub(crate) struct IoState {
    /// Readiness bits; set by events, cleared on `WouldBlock`.
    readiness: Cell<u8>,
    /// The waker of the task waiting to read (index 0) and to write (index 1).
    wakers: [Cell<Option<Waker>>; 2],
}

impl std::fmt::Debug for IoState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoState")
            .field("readiness", &self.readiness.get())
            .finish_non_exhaustive()
    }
}

impl IoState {
    /// Stores `waker` for `dir`, keeping the old one if it wakes the same task.
    fn set_waker(&self, dir: Direction, waker: &Waker) {
        let slot = &self.wakers[dir.index()];
        let old = slot.take();
        slot.set(match old {
            Some(w) if w.will_wake(waker) => Some(w),
            _ => Some(waker.clone()),
        });
    }
}

/// The table of registered sources: slot index and generation make the token.
#[derive(Default)]
struct SourceTable {
    /// Slots: the generation and the state of the source now in it.
    slots: Vec<(u32, Option<Rc<IoState>>)>,
    /// Free slot indices.
    free: Vec<u32>,
}

/// Generations use 31 bits so no token ever equals [`WAKER_TOKEN`] or [`TIMER_TOKEN`].
const GENERATION_MASK: u32 = 0x7fff_ffff;

fn token_of(index: u32, generation: u32) -> Token {
    Token(((generation as usize) << 32) | index as usize)
}

/// The readiness side of the loop.
pub(crate) struct Reactor {
    /// The poll itself; borrowed mutably only inside [`Reactor::poll`].
    poll: RefCell<mio::Poll>,
    /// The event buffer reused by every poll.
    events: RefCell<Events>,
    /// Registered sources.
    sources: RefCell<SourceTable>,
    /// The sub-millisecond timer, if the system gave us one.
    timerfd: Option<TimerFd>,
    /// The deadline the timerfd is armed for, if any.
    armed: Cell<Option<Instant>>,
    /// Wakers collected from one batch of events, woken after the borrows end.
    to_wake: RefCell<Vec<Waker>>,
}

impl Reactor {
    /// A poll with a `mio::Waker` (returned, for the shared part) and, if `use_timerfd`, a
    /// registered timerfd.
    pub(crate) fn new(event_capacity: usize, use_timerfd: bool) -> io::Result<(Self, mio::Waker)> {
        let poll = mio::Poll::new()?;
        let poker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let timerfd = if use_timerfd {
            let t = TimerFd::new()?;
            poll.registry().register(
                &mut mio::unix::SourceFd(&t.raw()),
                TIMER_TOKEN,
                Interest::READABLE,
            )?;
            Some(t)
        } else {
            None
        };
        let reactor = Self {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(event_capacity)),
            sources: RefCell::default(),
            timerfd,
            armed: Cell::new(None),
            to_wake: RefCell::default(),
        };
        Ok((reactor, poker))
    }

    /// Registers `source` for both directions; readiness starts as "try it", so the first
    /// operation goes straight to the system call and only a `WouldBlock` makes it wait.
    fn register<S: Source>(&self, source: &mut S) -> io::Result<(Token, Rc<IoState>)> {
        let state = Rc::new(IoState::default());
        state.readiness.set(READABLE | WRITABLE);
        let token = {
            let mut table = self.sources.borrow_mut();
            let index = match table.free.pop() {
                Some(i) => i,
                None => {
                    let i = u32::try_from(table.slots.len())
                        .map_err(|_| io::Error::other("too many registered I/O sources"))?;
                    table.slots.push((0, None));
                    i
                }
            };
            let slot = &mut table.slots[index as usize];
            slot.1 = Some(state.clone());
            token_of(index, slot.0)
        };
        let registered = self.poll.borrow().registry().register(
            source,
            token,
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = registered {
            self.release(token);
            return Err(e);
        }
        Ok((token, state))
    }

    /// Frees the table slot of `token`, bumping its generation.
    fn release(&self, token: Token) {
        let index = (token.0 & 0xffff_ffff) as u32;
        let state = {
            let mut table = self.sources.borrow_mut();
            let slot = &mut table.slots[index as usize];
            slot.0 = (slot.0 + 1) & GENERATION_MASK;
            let state = slot.1.take();
            table.free.push(index);
            state
        };
        drop(state);
    }

    /// Arms the timerfd for `deadline` unless it already is. Returns false if there is no
    /// timerfd (the caller then falls back to the poll timeout) or arming failed.
    pub(crate) fn arm_timer(&self, deadline: Instant, now: Instant) -> bool {
        let Some(timerfd) = &self.timerfd else {
            return false;
        };
        if self.armed.get() == Some(deadline) {
            return true;
        }
        // `now` was read before this call, so the timer expires at or after `deadline`.
        if timerfd
            .set_after(deadline.saturating_duration_since(now))
            .is_err()
        {
            return false;
        }
        self.armed.set(Some(deadline));
        true
    }

    /// Waits for events (at most `timeout`; `None` = until something happens), records
    /// readiness and wakes the tasks waiting for it.
    pub(crate) fn poll(&self, timeout: Option<Duration>, counters: &Counters) {
        {
            let mut poll = self.poll.borrow_mut();
            let mut events = self.events.borrow_mut();
            if let Err(e) = poll.poll(&mut events, timeout) {
                // EINTR: a signal arrived; the loop simply turns again. Any other error from
                // epoll_wait means our epoll descriptor is broken, which the loop cannot fix;
                // it also turns again rather than panic.
                debug_assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait: {e}");
                return;
            }
            let table = self.sources.borrow();
            let mut to_wake = self.to_wake.borrow_mut();
            for event in events.iter() {
                counters.io_events.set(counters.io_events.get() + 1);
                match event.token() {
                    WAKER_TOKEN => {}
                    TIMER_TOKEN => {
                        if let Some(t) = &self.timerfd {
                            t.clear();
                        }
                        self.armed.set(None);
                    }
                    token => {
                        let index = token.0 & 0xffff_ffff;
                        let generation = (token.0 >> 32) as u32;
                        let Some((slot_gen, Some(state))) = table.slots.get(index) else {
                            continue;
                        };
                        if *slot_gen != generation {
                            continue;
                        }
                        let mut bits = 0;
                        if event.is_readable() {
                            bits |= READABLE;
                        }
                        if event.is_writable() {
                            bits |= WRITABLE;
                        }
                        if event.is_read_closed() {
                            bits |= READ_CLOSED;
                        }
                        if event.is_write_closed() {
                            bits |= WRITE_CLOSED;
                        }
                        if event.is_error() {
                            bits |= ERROR;
                        }
                        state.readiness.set(state.readiness.get() | bits);
                        for dir in [Direction::Read, Direction::Write] {
                            if bits & dir.mask() != 0 {
                                if let Some(w) = state.wakers[dir.index()].take() {
                                    to_wake.push(w);
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut batch = std::mem::take(&mut *self.to_wake.borrow_mut());
        for w in batch.drain(..) {
            w.wake();
        }
        *self.to_wake.borrow_mut() = batch;
    }
}

/// An I/O object registered with the current runtime's reactor; deregistered on drop.
pub(crate) struct IoSource<S: Source> {
    /// The mio object.
    source: S,
    /// Its token in the reactor.
    token: Token,
    /// Readiness and wakers, shared with the reactor's table.
    state: Rc<IoState>,
    /// The runtime, kept alive so deregistration on drop always has a poll to talk to.
    core: Rc<Core>,
}

impl<S: Source> IoSource<S> {
    /// Registers `source` with the current runtime.
    ///
    /// # Errors
    ///
    /// An `io::Error` if called outside a runtime, or if `epoll_ctl` fails.
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let core = crate::runtime::current().ok_or_else(|| {
            io::Error::other("mini-eventloop I/O objects must be created inside Runtime::block_on")
        })?;
        let (token, state) = core.reactor.register(&mut source)?;
        Ok(Self {
            source,
            token,
            state,
            core,
        })
    }

    /// The mio object.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// The runtime this source is registered with.
    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// True if `dir` may be ready (the next operation should be tried).
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.readiness.get() & dir.mask() != 0 {
            return Poll::Ready(());
        }
        self.state.set_waker(dir, cx.waker());
        Poll::Pending
    }

    /// Forgets `dir`'s readiness: only for an operation whose "not yet" is not reported as
    /// `WouldBlock` (a connect still in progress).
    pub(crate) fn clear_readiness(&self, dir: Direction) {
        self.state
            .readiness
            .set(self.state.readiness.get() & !dir.mask());
    }

    /// Runs `op` while `dir` is ready; on `WouldBlock` clears the readiness and waits.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if self.poll_ready(dir, cx).is_pending() {
                return Poll::Pending;
            }
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(dir),
                result => return Poll::Ready(result),
            }
        }
    }
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        // Failure means the descriptor is already gone from the poll; nothing to undo.
        let _ = self
            .core
            .reactor
            .poll
            .borrow()
            .registry()
            .deregister(&mut self.source);
        self.core.reactor.release(self.token);
        for w in &self.state.wakers {
            drop(w.take());
        }
    }
}

impl<S: Source> std::fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoSource")
            .field("token", &self.token)
            .field("readiness", &self.state.readiness.get())
            .finish()
    }
}
