//! The reactor: one `mio::Poll`, one registration per I/O source, readiness kept per source.
//!
//! Invariants:
//! - each source is registered once, for both directions, edge-triggered; reading and writing
//!   each keep their own [`Waiters`] list with **every** waiting task (as tokio's
//!   `ScheduledIo` does), so one task may wait to read while another writes, and two tasks (or
//!   two futures of one `join`) may wait on the same direction: an event wakes them all, and
//!   the ones that find nothing wait again;
//! - readiness is set by events and cleared when an operation returns `WouldBlock` (an edge
//!   is reported once: clearing it on anything else could lose it, and a failed operation such
//!   as `accept` under `EMFILE` leaves it set, which is why the listener backs off on a timer
//!   instead of waiting for an edge), with **one exception**: a read on a stream socket that
//!   returns less than asked, but more than 0, clears *readable* (as tokio does), sparing the
//!   `EAGAIN` read that would otherwise follow every request. It is safe because (1) a short
//!   read of a non-blocking TCP socket means the receive queue held less than asked, so the
//!   read emptied it, *unless* the read stopped at the urgent mark of the peer's out-of-band
//!   data (`MSG_OOB`), with data still queued behind it: the kernel announces urgent data
//!   with `EPOLLPRI`, for which every source is registered, and a source that has seen it
//!   keeps the `WouldBlock` rule until its next `WouldBlock`
//!   (`short_read_at_the_urgent_mark_does_not_strand_data`); (2) under edge-triggered epoll
//!   every later arrival of data (or urgent data) queues a new event, and events are only
//!   collected by the loop's next `epoll_wait`, after this clear, so the clear can never
//!   erase an edge that came after the data it read; (3) the final states (peer closed,
//!   error) are not cleared, since their edges are not reported again. A read of 0 (end of
//!   stream) and datagram sockets (a short datagram says nothing about the
//!   queue) keep the `WouldBlock` rule;
//! - a source is deregistered when its owner is dropped; its token carries a generation, so
//!   an event still in flight for a freed slot is ignored;
//! - a source is only ever operated on by the runtime it is registered with: polled under
//!   another runtime, or after its runtime was dropped, an operation fails at once with an
//!   [`IoRuntimeError`] instead of waiting for events that no poll will ever deliver.
//!
//! Wakers found for events are collected first and woken after every borrow is released, so
//! a waker (possibly foreign code) never runs while the reactor's state is borrowed.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Token};

use crate::record::Recording;
use crate::runtime::{Core, Counters};
use crate::sys::TimerFd;
use crate::waiters::{WaiterKey, Waiters, wake_all};

/// Why an I/O object refused an operation: the runtime polling it is not the one it is
/// registered with. It comes inside the operation's `io::Error` (kind `Other`); find it with
/// `err.get_ref().and_then(|e| e.downcast_ref::<IoRuntimeError>())`.
///
/// An I/O object stays registered with the runtime that created it, for its whole life: it is
/// not moved to another runtime, because its readiness events arrive only at its own poll.
/// tokio answers the same way once the owning runtime has shut down.
///
/// ```
/// use mini_eventloop::{IoRuntimeError, Runtime, net::TcpListener};
///
/// let first = Runtime::new().unwrap();
/// let listener = first.block_on(async { TcpListener::bind("127.0.0.1:0".parse().unwrap()) });
/// let listener = listener.unwrap();
/// drop(first);
/// let second = Runtime::new().unwrap();
/// let err = second.block_on(listener.accept()).unwrap_err();
/// let why = err.get_ref().and_then(|e| e.downcast_ref::<IoRuntimeError>());
/// assert_eq!(why, Some(&IoRuntimeError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoRuntimeError {
    /// The runtime the object was created in has been dropped.
    ShutDown,
    /// The object was polled under another runtime, or outside any.
    OtherRuntime,
}

impl fmt::Display for IoRuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoRuntimeError::ShutDown => {
                "the mini-eventloop runtime this I/O object belongs to has been dropped"
            }
            IoRuntimeError::OtherRuntime => {
                "a mini-eventloop I/O object was polled outside the runtime that created it"
            }
        })
    }
}

impl std::error::Error for IoRuntimeError {}

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
/// `EPOLLPRI` seen (urgent data): a short read no longer proves the queue empty. Cleared with
/// *readable* on `WouldBlock`; never part of a direction's mask (it makes nothing ready).
const URGENT: u8 = 32;

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

    /// Index of this direction's waiter list.
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
    /// The tasks waiting to read (index 0) and to write (index 1); loop thread only.
    waiters: [RefCell<Waiters>; 2],
}

impl std::fmt::Debug for IoState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoState")
            .field("readiness", &self.readiness.get())
            .finish_non_exhaustive()
    }
}

/// One waiter's registration with one direction of a source: it holds the waiter's key in
/// that direction's [`Waiters`] and removes the entry when dropped. A future keeps one for
/// the operation it waits on; a stream polled through `poll_read`/`poll_write` keeps one per
/// direction for its whole life.
pub(crate) struct IoWaiter {
    /// The source's state.
    state: Rc<IoState>,
    /// The direction waited for.
    dir: Direction,
    /// The entry, once registered.
    key: Option<WaiterKey>,
}

impl std::fmt::Debug for IoWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoWaiter")
            .field("dir", &self.dir)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

impl Drop for IoWaiter {
    fn drop(&mut self) {
        let removed = self.state.waiters[self.dir.index()]
            .borrow_mut()
            .remove(&mut self.key);
        drop(removed);
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
        // PRIORITY: urgent data must be seen, see the module docs (the short-read rule).
        let registered = self.poll.borrow().registry().register(
            source,
            token,
            Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
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
    /// readiness and wakes the tasks waiting for it. `recording` times the wait itself.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        counters: &Counters,
        recording: &Recording,
    ) {
        {
            let mut poll = self.poll.borrow_mut();
            let mut events = self.events.borrow_mut();
            let may_block = timeout != Some(Duration::ZERO);
            let waited = recording.wait(may_block, || poll.poll(&mut events, timeout));
            if let Err(e) = waited {
                // EINTR: a signal arrived; the loop simply turns again. Any other error from
                // epoll_wait (EBADF, EINVAL, EFAULT) means the epoll descriptor itself is
                // broken (closed behind our back, say): it would fail again at once, forever,
                // so turning again would spin a core. Nothing can repair it: stop loudly.
                assert!(
                    e.kind() == io::ErrorKind::Interrupted,
                    "mini-eventloop: epoll_wait failed ({e}): the runtime's poll descriptor \
                     is unusable, so its loop cannot go on"
                );
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
                        if event.is_priority() {
                            bits |= URGENT;
                        }
                        state.readiness.set(state.readiness.get() | bits);
                        for dir in [Direction::Read, Direction::Write] {
                            if bits & dir.mask() != 0 {
                                state.waiters[dir.index()]
                                    .borrow_mut()
                                    .take_all(&mut to_wake);
                            }
                        }
                    }
                }
            }
        }
        let mut batch = std::mem::take(&mut *self.to_wake.borrow_mut());
        wake_all(batch.drain(..));
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

    /// A registration for a future that will wait for `dir`; keep it in the future, so it is
    /// removed when the future is dropped.
    pub(crate) fn waiter(&self, dir: Direction) -> IoWaiter {
        IoWaiter {
            state: self.state.clone(),
            dir,
            key: None,
        }
    }

    /// `Ok` if `waiter`'s direction may be ready (the next operation should be tried); else
    /// registers `waiter` and waits. Fails with [`IoRuntimeError`] unless polled by the
    /// runtime this source belongs to.
    pub(crate) fn poll_ready(
        &self,
        waiter: &mut IoWaiter,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if !crate::runtime::is_current(&self.core) {
            let why = if self.core.is_shut_down() {
                IoRuntimeError::ShutDown
            } else {
                IoRuntimeError::OtherRuntime
            };
            return Poll::Ready(Err(io::Error::other(why)));
        }
        if self.state.readiness.get() & waiter.dir.mask() != 0 {
            return Poll::Ready(Ok(()));
        }
        let replaced = self.state.waiters[waiter.dir.index()]
            .borrow_mut()
            .register(&mut waiter.key, cx.waker());
        // Dropped after the borrow ends (a foreign waker's destructor may drop a waiter).
        drop(replaced);
        Poll::Pending
    }

    /// Forgets `dir`'s readiness: only for an operation whose "not yet" is not reported as
    /// `WouldBlock` (a connect still in progress).
    pub(crate) fn clear_readiness(&self, dir: Direction) {
        // A read that would block has passed any urgent mark: the shortcut applies again.
        let extra = if dir == Direction::Read { URGENT } else { 0 };
        self.state
            .readiness
            .set(self.state.readiness.get() & !(dir.mask() | extra));
    }

    /// Forgets read readiness after a stream read returned less than asked, keeping the final
    /// states (peer closed, error), whose edges are not reported again; a no-op once urgent
    /// data was announced, since the read may have stopped at its mark. See the module docs.
    pub(crate) fn clear_readable_after_short_read(&self) {
        let readiness = self.state.readiness.get();
        if readiness & URGENT == 0 {
            self.state.readiness.set(readiness & !READABLE);
        }
    }

    /// Runs `op` while `waiter`'s direction is ready; on `WouldBlock` clears the readiness
    /// and waits.
    pub(crate) fn poll_io<R>(
        &self,
        waiter: &mut IoWaiter,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            match self.poll_ready(waiter, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(waiter.dir),
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
        // Waiters still registered (a stream's own, kept for `poll_read`) would only be woken
        // by events for this source, which stop now.
        for list in &self.state.waiters {
            let wakers = list.borrow_mut().take_all_list();
            drop(wakers);
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
