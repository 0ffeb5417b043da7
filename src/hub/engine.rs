//! The engine seam: "the session decides, the socket acts".
//!
//! Owns: what a socket task may ask of the hub's rules (slots, routing, queues, lifecycle,
//! ended ids) and what it gets back, whichever engine keeps them: [`super::memory`] (one
//! process, the default) or [`super::redis`] (any number of nodes sharing one Redis). A
//! socket task holds a [`Membership`]; every call on it returns a decision (a frame to
//! write, a reason to close, a direct write to perform) and never performs socket I/O or
//! logs a message itself. Must not touch any transport type: the socket layer acts.

use std::sync::Arc;

use bytes::Bytes;

use super::memory;
use super::redis;
use super::{Hub, LargeFramePlace};
use crate::protocol::{Kind, PeerId, SessionId};

/// Why a session ended (PROTOCOL.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// A participant closed its socket with 1000.
    HangUp,
    /// Nobody was connected for the idle timeout.
    IdleTimeout,
    /// The session reached its maximum age.
    MaxAge,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::HangUp => "hang_up",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::MaxAge => "max_age",
        }
    }

    /// The reason named by [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hang_up" => Some(EndReason::HangUp),
            "idle_timeout" => Some(EndReason::IdleTimeout),
            "max_age" => Some(EndReason::MaxAge),
            _ => None,
        }
    }
}

/// Why a socket could not join its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The id names an ended session: answer `session_ended`, close 1000.
    #[error("the session has ended")]
    SessionEnded,
    /// Two other participants hold the session: answer `session_full`, close 1008.
    #[error("the session already has two participants")]
    SessionFull,
    /// The hub is shutting down: close 1001 (the client reconnects elsewhere).
    #[error("the hub is shutting down")]
    ShuttingDown,
    /// `max_sessions` are active: close 1013 (try again later).
    #[error("the hub holds its maximum number of sessions")]
    Overloaded,
    /// The engine's store (Redis) cannot be reached: close 1013 (try again later).
    #[error("the hub's store is unavailable")]
    Unavailable,
}

/// What a socket task should do next for its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Send this frame (the oldest queued for this participant), then call
    /// [`Membership::delivered`] with its `seq`.
    Frame { seq: u64, kind: Kind, text: Bytes },
    /// The other participant's task started writing frame `seq` to this socket but could
    /// not finish at once ([`super::WriteNow::FlushOwed`]): finish the write (flush),
    /// then call [`Membership::delivered`] with `seq`. Memory engine only.
    FinishWrite { seq: u64, kind: Kind, size: usize },
    /// Nothing to send: wait for [`Membership::changed`] or the client.
    Idle,
    /// The same peer connected again elsewhere: close with 4001 `replaced`.
    Replaced,
    /// The session ended: send `session_ended` and close with 1000.
    Ended(EndReason),
    /// The hub is shutting down: close with 1001.
    ShuttingDown,
}

/// A frame the hub stored for the other participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    /// Whether the other participant has a socket now (it is woken to send the frame, or
    /// the decision carries a direct write to it).
    pub recipient_connected: bool,
    /// How many frames wait for the other participant, this one included.
    pub waiting: usize,
}

/// Why a valid frame was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The session's queue bound was reached: answer `queue_full`.
    #[error("the session's signal queue is full")]
    QueueFull,
    /// The session has ended; the socket learns it from [`Membership::next_outbound`].
    #[error("the session has ended")]
    Ended,
    /// This socket was replaced by a newer one of the same peer.
    #[error("this socket was replaced")]
    Replaced,
    /// The engine's store (Redis) could not take the frame: close 1013, so the client
    /// reconnects and sends again (nothing it sent was accepted).
    #[error("the hub's store is unavailable")]
    Unavailable,
}

/// The hub's answer to a submitted frame: it is stored, and perhaps the socket layer
/// may write it straight to the recipient's idle socket now.
#[derive(Debug)]
pub struct Decision {
    pub submitted: Submitted,
    /// Memory engine only: write the frame to this recipient's socket, then settle.
    pub direct: Option<memory::DirectTicket>,
}

/// A socket's membership in a session, returned by [`Hub::join`]. The socket task holds
/// it for the socket's life; [`Membership::leave`] (or dropping it) is a drop: the
/// participant keeps its place and queue. [`Membership::hang_up`] ends the session.
#[derive(Debug)]
pub struct Membership {
    hub: Arc<Hub>,
    member: Member,
}

#[derive(Debug)]
enum Member {
    Memory(memory::Member),
    Redis(redis::Member),
}

impl Membership {
    pub(super) fn memory(hub: Arc<Hub>, member: memory::Member) -> Self {
        Self {
            hub,
            member: Member::Memory(member),
        }
    }

    pub(super) fn redis(hub: Arc<Hub>, member: redis::Member) -> Self {
        Self {
            hub,
            member: Member::Redis(member),
        }
    }

    pub fn session_id(&self) -> &SessionId {
        match &self.member {
            Member::Memory(member) => member.session_id(),
            Member::Redis(member) => member.session_id(),
        }
    }

    pub fn peer_id(&self) -> &PeerId {
        match &self.member {
            Member::Memory(member) => member.peer_id(),
            Member::Redis(member) => member.peer_id(),
        }
    }

    /// The hub's counters.
    pub fn metrics(&self) -> &super::metrics::HubMetrics {
        self.hub.metrics()
    }

    /// A place for this socket's read buffer, grown by a large frame (see
    /// [`Hub::large_frame_place`]).
    pub(crate) fn large_frame_place(&self) -> Option<LargeFramePlace> {
        self.hub.large_frame_place()
    }

    /// Stores a valid frame (its original text) for the other participant. The frame
    /// goes through the queue first and leaves it only once written, so the order per
    /// direction is always kept.
    pub async fn submit(&self, kind: Kind, text: Bytes) -> Result<Decision, SubmitError> {
        match &self.member {
            Member::Memory(member) => member.submit(kind, text),
            Member::Redis(member) => member.submit(kind, text).await,
        }
    }

    /// The next thing to do for this socket's client. A frame stays queued until
    /// [`Self::delivered`], so a socket that breaks while writing loses nothing.
    pub async fn next_outbound(&self) -> Outbound {
        match &self.member {
            Member::Memory(member) => member.next_outbound(),
            Member::Redis(member) => member.next_outbound().await,
        }
    }

    /// The frame `seq` from [`Self::next_outbound`] was written to the socket.
    pub async fn delivered(&self, seq: u64) {
        match &self.member {
            Member::Memory(member) => member.delivered(seq),
            Member::Redis(member) => member.delivered(seq),
        }
    }

    /// Counts one more invalid message from this participant; returns how many it has sent
    /// in this session, over all its sockets (so a reconnect does not reset the count).
    pub async fn count_invalid(&self) -> u32 {
        match &self.member {
            Member::Memory(member) => member.count_invalid(),
            Member::Redis(member) => member.count_invalid().await,
        }
    }

    /// Resolves when [`Self::next_outbound`] may have something new. A wake-up that came
    /// while nobody waited is kept, so none is lost.
    pub async fn changed(&self) {
        match &self.member {
            Member::Memory(member) => member.changed().await,
            Member::Redis(member) => member.changed().await,
        }
    }

    /// The participant closed with 1000: the session ends for both (PROTOCOL.md §4).
    /// Returns `false` if this socket no longer spoke for the participant (it was
    /// replaced, or the session had already ended), in which case nothing changes.
    pub async fn hang_up(self) -> bool {
        match self.member {
            Member::Memory(member) => member.hang_up(),
            Member::Redis(member) => member.hang_up().await,
        }
    }

    /// A drop: the socket leaves its slot; the participant keeps its place and queue.
    pub async fn leave(self) {
        match self.member {
            Member::Memory(member) => drop(member),
            Member::Redis(member) => member.leave().await,
        }
    }
}
