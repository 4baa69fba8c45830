//! A one-shot channel: one value, from one sender (any thread) to one receiver (a task).
//!
//! Invariant: the value is delivered at most once; the receiver learns that the sender is
//! gone ([`RecvError`]) and the sender learns that the receiver is gone (`send` gives the
//! value back).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::lock;
use crate::waiters::{WaiterKey, Waiters, wake_all};

/// The channel's state.
#[derive(Debug)]
struct State<T> {
    /// The value, once sent and until received.
    value: Option<T>,
    /// The waiting receiver.
    receiver: Waiters,
    /// The sender has been dropped (after sending or not).
    tx_gone: bool,
    /// The receiver has been dropped.
    rx_gone: bool,
}

/// Creates a one-shot channel. asyncio: `fut = loop.create_future()`; `fut.set_result(v)`.
///
/// ```
/// use mini_eventloop::{Runtime, spawn, sync::oneshot};
/// let rt = Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let (tx, rx) = oneshot::channel();
///     std::thread::spawn(move || tx.send(7).unwrap());
///     rx.await.unwrap()
/// });
/// assert_eq!(v, 7);
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let state = Arc::new(Mutex::new(State {
        value: None,
        receiver: Waiters::new(),
        tx_gone: false,
        rx_gone: false,
    }));
    (
        Sender {
            state: state.clone(),
        },
        Receiver { state, key: None },
    )
}

/// The sending half; usable from any thread.
#[derive(Debug)]
pub struct Sender<T> {
    /// Shared state.
    state: Arc<Mutex<State<T>>>,
}

/// The receiving half: a future of the value.
#[derive(Debug)]
pub struct Receiver<T> {
    /// Shared state.
    state: Arc<Mutex<State<T>>>,
    /// Its entry in `receiver` while it waits.
    key: Option<WaiterKey>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

impl<T> Sender<T> {
    /// Sends `value`; gives it back if the receiver is gone.
    ///
    /// # Errors
    ///
    /// `Err(value)` if the receiver was dropped.
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut s = lock(&self.state);
            if s.rx_gone {
                return Err(value);
            }
            s.value = Some(value);
            s.receiver.take_all_list()
        };
        wake_all(waker);
        Ok(())
    }

    /// True if the receiver has been dropped.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).rx_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut s = lock(&self.state);
            s.tx_gone = true;
            s.receiver.take_all_list()
        };
        wake_all(waker);
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has arrived: `Ok(None)` if not yet, `Err` if it never will.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender was dropped without sending.
    pub fn try_recv(&mut self) -> Result<Option<T>, RecvError> {
        let mut s = lock(&self.state);
        match s.value.take() {
            Some(v) => Ok(Some(v)),
            None if s.tx_gone => Err(RecvError),
            None => Ok(None),
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut s = lock(&this.state);
        if let Some(v) = s.value.take() {
            return Poll::Ready(Ok(v));
        }
        if s.tx_gone {
            return Poll::Ready(Err(RecvError));
        }
        let replaced = s.receiver.register(&mut this.key, cx.waker());
        drop(s);
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (value, waker) = {
            let mut s = lock(&self.state);
            s.rx_gone = true;
            let waker = s.receiver.remove(&mut self.key);
            (s.value.take(), waker)
        };
        // Dropped outside the lock: the value's destructor may do anything.
        drop(value);
        drop(waker);
    }
}
