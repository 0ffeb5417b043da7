//! The direct path: a frame written straight to an idle recipient's socket by the task
//! that received it, instead of waking the recipient's own task to write it.
//!
//! Owns: the contract between a session (which decides when a direct write may happen:
//! the recipient is connected and nothing else waits for it) and a transport's write
//! half (which tries the write without waiting). Must not touch session state or name
//! any transport type: `hub::socket` implements [`DirectWrite`] for its WebSocket.
//!
//! Why: handing each frame from the sender's task to the recipient's task costs a
//! wake-up, a second task poll and three more session locks per message, which was most
//! of the hub's CPU above a bare relay (BENCHMARKS.md).

use bytes::Bytes;

use crate::protocol::Kind;

/// A socket's write half that another socket's task may write one relayed frame to.
pub trait DirectWrite: Send + Sync + std::fmt::Debug {
    /// Tries to write `text` to this socket's client without waiting. Must never block:
    /// if the socket is busy (its own task is writing, or its send buffer is full), it
    /// answers [`WriteNow::NotNow`] without touching the socket.
    fn write_now(&self, kind: Kind, text: &Bytes) -> WriteNow;
}

/// How a [`DirectWrite::write_now`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteNow {
    /// The frame was written to the connection, as the socket's own task would have.
    Written,
    /// The frame was accepted by the socket but not all of it is written yet: the
    /// socket's own task must finish the write (see `Outbound::FinishWrite`).
    FlushOwed,
    /// Nothing was written; the socket's own task sends the frame from the queue.
    NotNow,
}
