//! A socket's write half, shared by its own task and, for direct writes
//! ([`crate::hub::direct`]), by the task of the other participant's socket.
//!
//! Owns: the WebSocket sink behind a std mutex held only for one poll, never across
//! `.await`, and the rule that a direct write happens only while the socket's own task is
//! not waiting on a write (a direct write polls with a no-op waker, which would replace
//! that task's waker). Must not touch session state.

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Waker, ready};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;

use crate::hub::direct::{DirectWrite, WriteNow};
use crate::protocol::Kind;

/// The write half of one socket.
#[derive(Debug)]
pub(super) struct SharedSink {
    state: Mutex<SinkState>,
    /// Whose socket this is: a direct write is logged as this socket's delivery.
    who: super::Who,
}

#[derive(Debug)]
struct SinkState {
    sink: SplitSink<WebSocket, Message>,
    /// The socket's own task is waiting for a write to finish, with its waker registered.
    owner_waiting: bool,
}

impl SinkState {
    /// Starts `message` (taking it once the sink accepts it) and flushes it.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), axum::Error>> {
        if message.is_some() {
            ready!(self.sink.poll_ready_unpin(cx))?;
            if let Some(message) = message.take() {
                self.sink.start_send_unpin(message)?;
            }
        }
        self.sink.poll_flush_unpin(cx)
    }
}

impl SharedSink {
    pub(super) fn new(sink: SplitSink<WebSocket, Message>, who: super::Who) -> Self {
        Self {
            state: Mutex::new(SinkState {
                sink,
                owner_waiting: false,
            }),
            who,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket's own task: polls sending `message` (`None`: only flushes what an
    /// unfinished direct write left).
    pub(super) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), axum::Error>> {
        let mut state = self.lock();
        let polled = state.poll_send(cx, message);
        state.owner_waiting = polled.is_pending();
        polled
    }

    /// The socket's own task gave up on a write (it timed out): the socket is ending.
    pub(super) fn abandon_write(&self) {
        self.lock().owner_waiting = false;
    }
}

impl DirectWrite for SharedSink {
    fn write_now(&self, kind: Kind, text: &Bytes) -> WriteNow {
        let Ok(text) = Utf8Bytes::try_from(text.clone()) else {
            return WriteNow::NotNow;
        };
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // The socket's own task is polling a write right now.
            Err(TryLockError::WouldBlock) => return WriteNow::NotNow,
        };
        if state.owner_waiting {
            return WriteNow::NotNow;
        }
        let size = text.len();
        let mut message = Some(Message::Text(text));
        let mut cx = Context::from_waker(Waker::noop());
        match state.poll_send(&mut cx, &mut message) {
            Poll::Ready(Ok(())) => {
                super::log_delivered(&self.who, kind, size);
                WriteNow::Written
            }
            // Not started: the socket could not take it now.
            Poll::Pending if message.is_some() => WriteNow::NotNow,
            Poll::Pending => WriteNow::FlushOwed,
            // A broken socket: its own task finds out and drops it; the frame stays queued.
            Poll::Ready(Err(_)) => WriteNow::NotNow,
        }
    }
}
