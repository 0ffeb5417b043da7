//! One session of the memory engine: two participant slots, their queues, and the handle
//! a socket holds.
//!
//! Owns: the session's state behind its own small std mutex (never held across `.await`),
//! joining a slot, replacing a participant's socket, routing a frame into the other slot's
//! queue and deciding whether the socket layer may write it straight to an idle recipient
//! (a [`DirectTicket`] in the decision) or that slot's socket is woken, and detaching a
//! socket on a drop. Must not touch the engine's session map (it asks [`MemoryEngine`] to
//! end a session), perform any write, or name any transport type.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::MemoryEngine;
use super::queue::{QueueBudget, QueueFull, SessionQueues, SlotIndex};
use crate::hub::direct::{DirectWrite, WriteNow};
use crate::hub::engine::{Decision, EndReason, Outbound, SubmitError, Submitted};
use crate::protocol::{Kind, PeerId, SessionId};

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

/// A socket's membership in a memory session, returned by [`MemoryEngine::join`]. The
/// socket task holds it (inside the engine-neutral `Membership`) for the socket's life;
/// dropping it is a drop (the participant keeps its place and queue),
/// [`Member::hang_up`] ends the session.
#[derive(Debug)]
pub struct Member {
    engine: Arc<MemoryEngine>,
    session: Arc<Session>,
    peer: PeerId,
    slot: SlotIndex,
    conn: u64,
    wake: Arc<Notify>,
}

impl From<QueueFull> for SubmitError {
    fn from(_: QueueFull) -> Self {
        SubmitError::QueueFull
    }
}

/// The decision to write one frame straight to the recipient's idle socket: the socket
/// layer calls [`DirectWrite::write_now`] on [`Self::writer`] (outside every session
/// lock), then hands the outcome back with [`Self::settle`]. The session only decides;
/// it never calls the writer itself.
#[derive(Debug)]
pub struct DirectTicket {
    engine: Arc<MemoryEngine>,
    session: Arc<Session>,
    to: SlotIndex,
    claim: Claim,
    writer: Arc<dyn DirectWrite>,
}

impl DirectTicket {
    /// The recipient's write half.
    pub fn writer(&self) -> &dyn DirectWrite {
        &*self.writer
    }

    /// Records how the direct write ended.
    pub fn settle(self, written: WriteNow) {
        let mut state = self.session.lock();
        let to = self.to;
        let claim = self.claim;
        if state.slots[to].claim != Some(claim) {
            // The socket was replaced or dropped, or the session ended, meanwhile: the
            // frame (if still queued) is the next socket's to send.
            return;
        }
        match written {
            WriteNow::Written => {
                state.slots[to].claim = None;
                if state.queues.remove_front(to, claim.seq) {
                    self.engine.metrics().delivered();
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
}

impl Member {
    pub(crate) fn new(
        engine: Arc<MemoryEngine>,
        session: Arc<Session>,
        peer: PeerId,
        slot: SlotIndex,
        conn: u64,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            engine,
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

    fn other(&self) -> SlotIndex {
        1 - self.slot
    }

    /// Stores a valid frame (its original text) for the other participant. The decision
    /// carries a direct write when the other participant's socket is idle (the socket
    /// layer performs it); otherwise that socket's task is woken to send the frame.
    /// Either way the frame goes through the queue first and leaves it only once
    /// written, so the order per direction is always kept.
    pub fn submit(&self, kind: Kind, text: Bytes) -> Result<Decision, SubmitError> {
        let to = self.other();
        let mut state = self.session.lock();
        if state.ended.is_some() {
            return Err(SubmitError::Ended);
        }
        if !state.is_current(self.slot, self.conn) {
            return Err(SubmitError::Replaced);
        }
        let waiting = state.queues.push(to, kind, text)?;
        let recipient_connected = state.slots[to].conn.is_some();
        let direct = state
            .claim_direct_write(to, waiting)
            .map(|(writer, claim)| DirectTicket {
                engine: Arc::clone(&self.engine),
                session: Arc::clone(&self.session),
                to,
                claim,
                writer,
            });
        if direct.is_none() {
            state.wake(to);
        }
        self.engine.metrics().accepted(recipient_connected);
        Ok(Decision {
            submitted: Submitted {
                recipient_connected,
                waiting,
            },
            direct,
        })
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
        if self.engine.is_shutting_down() {
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
            self.engine.metrics().delivered();
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
        current && self.engine.end_session(&self.session, EndReason::HangUp)
    }
}

impl Drop for Member {
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
