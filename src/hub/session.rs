//! One session: two participant slots, their queues, and the handle a socket holds.
//!
//! Owns: the session's state behind its own small std mutex (never held across `.await`),
//! joining a slot, replacing a participant's socket, routing a frame into the other slot's
//! queue and then either writing it straight to an idle recipient ([`super::direct`]) or
//! waking that slot's socket, and detaching a socket on a drop. Must not touch the hub's
//! session map (it asks [`Hub`] to end a session) or any transport type.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Hub;
use super::direct::{DirectWrite, WriteNow};
use super::queue::{QueueBudget, QueueFull, SessionQueues, SlotIndex};
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
}

/// A live socket in a slot: its number (to tell a replaced socket from the current one),
/// the wake-up its task waits on, and its write half for direct writes, if it offers one.
#[derive(Debug)]
struct Conn {
    id: u64,
    wake: Arc<Notify>,
    writer: Option<Arc<dyn DirectWrite>>,
}

/// The frame at the front of a slot's queue is being written directly to the slot's
/// current socket by the other participant's task. While it is set, the socket's own
/// task does not send that frame, so it is never written twice to one socket. It is
/// cleared when the socket is replaced or dropped, so it always concerns the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    seq: u64,
    kind: Kind,
    size: usize,
    /// The direct write started but did not finish: the socket's own task finishes it.
    owed: bool,
}

#[derive(Debug, Default)]
struct Slot {
    /// Set by the first socket that takes the slot, then kept for the session's life.
    peer: Option<PeerId>,
    /// The participant's current socket, if it is connected.
    conn: Option<Conn>,
    claim: Option<Claim>,
    /// Invalid messages this participant sent, over all its sockets: a reconnect does
    /// not reset the count (PROTOCOL.md §2 counts per socket; this is stricter).
    invalid: u32,
}

#[derive(Debug)]
struct State {
    slots: [Slot; 2],
    queues: SessionQueues,
    ended: Option<EndReason>,
    /// Since when no socket has been connected (`None` while one is).
    idle_since: Option<Instant>,
}

impl State {
    fn connected(&self) -> usize {
        self.slots.iter().filter(|slot| slot.conn.is_some()).count()
    }

    fn is_current(&self, slot: SlotIndex, conn: u64) -> bool {
        self.slots[slot].conn.as_ref().is_some_and(|c| c.id == conn)
    }

    /// Wakes `slot`'s socket, if one is connected.
    fn wake(&self, slot: SlotIndex) {
        if let Some(conn) = &self.slots[slot].conn {
            conn.wake.notify_one();
        }
    }

    /// If the frame just stored for `to` may be written directly, claims it and returns
    /// the writer: `to` is connected with a writer, and this frame is the only one waiting
    /// for it (so nothing older is still being sent, and the order is kept).
    fn claim_direct_write(
        &mut self,
        to: SlotIndex,
        waiting: usize,
    ) -> Option<(Arc<dyn DirectWrite>, Claim)> {
        let slot = &self.slots[to];
        if waiting != 1 || slot.claim.is_some() {
            return None;
        }
        let writer = slot.conn.as_ref()?.writer.clone()?;
        let frame = self.queues.front(to)?;
        let claim = Claim {
            seq: frame.seq,
            kind: frame.kind,
            size: frame.text.len(),
            owed: false,
        };
        self.slots[to].claim = Some(claim);
        Some((writer, claim))
    }
}

/// A session the hub keeps while it is active.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: SessionId,
    pub created: Instant,
    /// std, not tokio: held only for short, synchronous updates, never across `.await`.
    state: Mutex<State>,
}

/// What happened when a socket joined a slot.
pub(crate) enum Joined {
    /// A new participant took a free slot.
    New,
    /// A participant connected again; its previous socket, if any, was told to close.
    Reconnected { replaced: bool },
}

/// Why a socket could not join (the hub adds its own reasons).
pub(crate) enum SlotRefused {
    Ended,
    Full,
}

impl Session {
    pub fn new(
        id: SessionId,
        now: Instant,
        max_messages: usize,
        max_bytes: usize,
        budget: Arc<QueueBudget>,
    ) -> Self {
        Self {
            id,
            created: now,
            state: Mutex::new(State {
                slots: [Slot::default(), Slot::default()],
                queues: SessionQueues::new(max_messages, max_bytes, budget),
                ended: None,
                idle_since: Some(now),
            }),
        }
    }

    /// Locks the state; a panic elsewhere while it was held does not poison the hub.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts socket `conn` of `peer` into its slot (a free one, or its own on a reconnect).
    pub fn attach(
        &self,
        peer: &PeerId,
        conn: u64,
        wake: Arc<Notify>,
        writer: Option<Arc<dyn DirectWrite>>,
    ) -> Result<(SlotIndex, Joined), SlotRefused> {
        let mut state = self.lock();
        if state.ended.is_some() {
            return Err(SlotRefused::Ended);
        }
        let (slot, joined) = if let Some(slot) = state
            .slots
            .iter()
            .position(|s| s.peer.as_ref() == Some(peer))
        {
            (slot, None)
        } else if let Some(slot) = state.slots.iter().position(|s| s.peer.is_none()) {
            state.slots[slot].peer = Some(peer.clone());
            (slot, Some(Joined::New))
        } else {
            return Err(SlotRefused::Full);
        };
        // Queued frames are sent first by the new socket's task: wake it at once.
        wake.notify_one();
        let old = state.slots[slot].conn.replace(Conn {
            id: conn,
            wake,
            writer,
        });
        // A direct write to the old socket no longer counts: the new one sends that frame.
        state.slots[slot].claim = None;
        state.idle_since = None;
        let replaced = old.is_some();
        if let Some(old) = old {
            old.wake.notify_one();
        }
        Ok((slot, joined.unwrap_or(Joined::Reconnected { replaced })))
    }

    /// Marks the session ended and clears its queues; returns `false` if it already was.
    /// Connected sockets are woken and find out through [`Membership::next_outbound`].
    pub fn end(&self, reason: EndReason) -> bool {
        let mut state = self.lock();
        if state.ended.is_some() {
            return false;
        }
        state.ended = Some(reason);
        state.queues.clear();
        for slot in &mut state.slots {
            slot.claim = None;
        }
        for conn in state.slots.iter().filter_map(|slot| slot.conn.as_ref()) {
            conn.wake.notify_one();
        }
        true
    }

    /// Why this session should end at `now`, if it should.
    pub fn expiry(
        &self,
        now: Instant,
        idle_timeout: std::time::Duration,
        max_age: std::time::Duration,
    ) -> Option<EndReason> {
        let state = self.lock();
        if state.ended.is_some() {
            None
        } else if now.saturating_duration_since(self.created) >= max_age {
            Some(EndReason::MaxAge)
        } else if state
            .idle_since
            .is_some_and(|since| now.saturating_duration_since(since) >= idle_timeout)
        {
            Some(EndReason::IdleTimeout)
        } else {
            None
        }
    }

    /// Wakes every connected socket (the hub is shutting down).
    pub fn wake_all(&self) {
        let state = self.lock();
        for conn in state.slots.iter().filter_map(|slot| slot.conn.as_ref()) {
            conn.wake.notify_one();
        }
    }

    /// Whether `peer` is a participant with a socket connected now.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.lock()
            .slots
            .iter()
            .any(|slot| slot.peer.as_ref() == Some(peer) && slot.conn.is_some())
    }

    /// How many sockets are connected.
    pub fn connected(&self) -> usize {
        self.lock().connected()
    }

    /// Frames and bytes waiting, both directions together.
    pub fn queued(&self) -> (usize, usize) {
        self.lock().queues.totals()
    }
}

/// A socket's membership in a session, returned by [`Hub::join`]. The socket task holds
/// it for the socket's life; dropping it is a drop (the participant keeps its place and
/// queue), [`Membership::hang_up`] ends the session.
#[derive(Debug)]
pub struct Membership {
    hub: Arc<Hub>,
    session: Arc<Session>,
    peer: PeerId,
    slot: SlotIndex,
    conn: u64,
    wake: Arc<Notify>,
}

/// What a socket task should do next for its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Send this frame (the oldest queued for this participant), then call
    /// [`Membership::delivered`] with its `seq`.
    Frame { seq: u64, kind: Kind, text: Bytes },
    /// The other participant's task started writing frame `seq` to this socket but could
    /// not finish at once ([`WriteNow::FlushOwed`]): finish the write (flush), then call
    /// [`Membership::delivered`] with `seq`.
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
    /// Whether the other participant has a socket now (the frame was written to it, or
    /// it is woken to send the frame).
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
}

impl From<QueueFull> for SubmitError {
    fn from(_: QueueFull) -> Self {
        SubmitError::QueueFull
    }
}

impl Membership {
    pub(crate) fn new(
        hub: Arc<Hub>,
        session: Arc<Session>,
        peer: PeerId,
        slot: SlotIndex,
        conn: u64,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            hub,
            session,
            peer,
            slot,
            conn,
            wake,
        }
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session.id
    }

    pub fn peer_id(&self) -> &PeerId {
        &self.peer
    }

    /// The hub's counters.
    pub fn metrics(&self) -> &super::metrics::HubMetrics {
        self.hub.metrics()
    }

    /// A place for this socket's read buffer, grown by a large frame (see
    /// [`Hub::large_frame_place`]).
    pub(crate) fn large_frame_place(&self) -> Option<super::LargeFramePlace> {
        self.hub.large_frame_place()
    }

    fn other(&self) -> SlotIndex {
        1 - self.slot
    }

    /// Stores a valid frame (its original text) for the other participant, then writes it
    /// straight to the other participant's socket if that socket is idle, or else wakes
    /// that socket's task to send it. Either way the frame goes through the queue first
    /// and leaves it only once written, so the order per direction is always kept.
    pub fn submit(&self, kind: Kind, text: Bytes) -> Result<Submitted, SubmitError> {
        self.submit_then(kind, text, |_| {})
    }

    /// [`Self::submit`], calling `stored` once the frame is stored and before any direct
    /// write, so that what it logs comes before the recipient's delivery.
    pub fn submit_then(
        &self,
        kind: Kind,
        text: Bytes,
        stored: impl FnOnce(&Submitted),
    ) -> Result<Submitted, SubmitError> {
        let to = self.other();
        let (submitted, direct) = {
            let mut state = self.session.lock();
            if state.ended.is_some() {
                return Err(SubmitError::Ended);
            }
            if !state.is_current(self.slot, self.conn) {
                return Err(SubmitError::Replaced);
            }
            let waiting = state.queues.push(to, kind, text.clone())?;
            let recipient_connected = state.slots[to].conn.is_some();
            let direct = state.claim_direct_write(to, waiting);
            if direct.is_none() {
                state.wake(to);
            }
            self.hub.metrics().accepted(recipient_connected);
            let submitted = Submitted {
                recipient_connected,
                waiting,
            };
            (submitted, direct)
        };
        stored(&submitted);
        if let Some((writer, claim)) = direct {
            // Outside the session lock: the write touches the recipient's socket.
            let written = writer.write_now(kind, &text);
            self.settle_direct_write(to, claim, written);
        }
        Ok(submitted)
    }

    /// Records how a direct write to `to`'s socket ended.
    fn settle_direct_write(&self, to: SlotIndex, claim: Claim, written: WriteNow) {
        let mut state = self.session.lock();
        if state.slots[to].claim != Some(claim) {
            // The socket was replaced or dropped, or the session ended, meanwhile: the
            // frame (if still queued) is the next socket's to send.
            return;
        }
        match written {
            WriteNow::Written => {
                state.slots[to].claim = None;
                if state.queues.remove_front(to, claim.seq) {
                    self.hub.metrics().delivered();
                }
                if state.queues.front(to).is_some() {
                    state.wake(to);
                }
            }
            WriteNow::FlushOwed => {
                state.slots[to].claim = Some(Claim {
                    owed: true,
                    ..claim
                });
                state.wake(to);
            }
            WriteNow::NotNow => {
                state.slots[to].claim = None;
                state.wake(to);
            }
        }
    }

    /// The next thing to do for this socket's client. A frame stays queued until
    /// [`Self::delivered`], so a socket that breaks while writing loses nothing.
    pub fn next_outbound(&self) -> Outbound {
        let state = self.session.lock();
        if let Some(reason) = state.ended {
            return Outbound::Ended(reason);
        }
        if !state.is_current(self.slot, self.conn) {
            return Outbound::Replaced;
        }
        if self.hub.is_shutting_down() {
            return Outbound::ShuttingDown;
        }
        match state.slots[self.slot].claim {
            Some(Claim {
                seq,
                kind,
                size,
                owed: true,
            }) => return Outbound::FinishWrite { seq, kind, size },
            // The other participant's task is writing the front frame right now; it wakes
            // this socket if anything is left for it afterwards.
            Some(Claim { owed: false, .. }) => return Outbound::Idle,
            None => {}
        }
        match state.queues.front(self.slot) {
            Some(frame) => Outbound::Frame {
                seq: frame.seq,
                kind: frame.kind,
                text: frame.text.clone(),
            },
            None => Outbound::Idle,
        }
    }

    /// Counts one more invalid message from this participant; returns how many it has sent
    /// in this session, over all its sockets (so a reconnect does not reset the count).
    pub fn count_invalid(&self) -> u32 {
        let mut state = self.session.lock();
        let slot = &mut state.slots[self.slot];
        slot.invalid = slot.invalid.saturating_add(1);
        slot.invalid
    }

    /// The frame `seq` from [`Self::next_outbound`] was written to the socket.
    pub fn delivered(&self, seq: u64) {
        let mut state = self.session.lock();
        if state.ended.is_some() || !state.is_current(self.slot, self.conn) {
            return;
        }
        let slot = &mut state.slots[self.slot];
        if slot.claim.is_some_and(|claim| claim.seq == seq) {
            slot.claim = None;
        }
        if state.queues.remove_front(self.slot, seq) {
            self.hub.metrics().delivered();
        }
    }

    /// Resolves when [`Self::next_outbound`] may have something new. A wake-up that came
    /// while nobody waited is kept, so none is lost.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// The participant closed with 1000: the session ends for both (PROTOCOL.md §4).
    /// Returns `false` if this socket no longer spoke for the participant (it was
    /// replaced, or the session had already ended), in which case nothing changes.
    pub fn hang_up(self) -> bool {
        let current = {
            let state = self.session.lock();
            state.ended.is_none() && state.is_current(self.slot, self.conn)
        };
        current && self.hub.end_session(&self.session, EndReason::HangUp)
    }
}

impl Drop for Membership {
    /// A drop: the socket leaves its slot, the participant keeps its place and queue.
    fn drop(&mut self) {
        let mut state = self.session.lock();
        if state.is_current(self.slot, self.conn) {
            state.slots[self.slot].conn = None;
            state.slots[self.slot].claim = None;
            if state.connected() == 0 {
                state.idle_since = Some(Instant::now());
            }
        }
    }
}
