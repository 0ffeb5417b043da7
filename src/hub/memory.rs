//! The memory engine: the hub's rules kept in this process (the default, one node).
//!
//! Owns: the map of active sessions and the memory of ended ids, behind one small std
//! mutex that is taken once per socket at join and by the sweeper; each session then has
//! its own lock (see [`session`]). Must not touch any transport type or log a relayed
//! message: it decides, and the socket layer acts on its decisions.
//!
//! - [`queue`]: the two queues of a session and their shared bound.
//! - [`ended`]: ended ids, time-limited and bounded.
//! - [`session`]: slots, routing, reconnects, drops; the [`Member`] handle.

mod ended;
pub(crate) mod queue;
mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::direct::DirectWrite;
use super::engine::{EndReason, JoinError};
use super::metrics::HubMetrics;
use super::{Core, HubLimits};
use crate::protocol::{PeerId, SessionId};
use ended::EndedIds;
use queue::QueueBudget;
use session::{Joined, Session, SlotRefused};

pub use session::{DirectTicket, Member};

#[derive(Debug)]
struct Sessions {
    active: HashMap<SessionId, Arc<Session>>,
    ended: EndedIds,
}

/// The sessions of one process.
#[derive(Debug)]
pub struct MemoryEngine {
    limits: HubLimits,
    core: Arc<Core>,
    /// std, not tokio: held for map look-ups only, never across `.await`. Lock order:
    /// this one before a session's, never the other way round.
    sessions: Mutex<Sessions>,
    next_conn: AtomicU64,
    /// What all sessions' queues hold together, against `max_queued_bytes`.
    queue_budget: Arc<QueueBudget>,
}

impl MemoryEngine {
    pub(super) fn new(limits: HubLimits, core: Arc<Core>) -> Arc<Self> {
        let ended = EndedIds::new(limits.ended_ttl, limits.ended_capacity);
        let queue_budget = Arc::new(QueueBudget::new(limits.max_queued_bytes));
        Arc::new(Self {
            limits,
            core,
            sessions: Mutex::new(Sessions {
                active: HashMap::new(),
                ended,
            }),
            next_conn: AtomicU64::new(1),
            queue_budget,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn metrics(&self) -> &HubMetrics {
        &self.core.metrics
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.core.is_shutting_down()
    }

    /// Whether `id` names neither an active nor an ended session.
    pub fn is_new_session(&self, id: &SessionId, now: Instant) -> bool {
        let sessions = self.lock();
        !sessions.active.contains_key(id) && !sessions.ended.contains(id, now)
    }

    /// Joins `peer` to `session_id`, creating the session if the id is new. A peer that
    /// is already a participant replaces its old socket (which is told to close 4001).
    /// With a `writer`, a frame for this socket may be written straight to it while it is
    /// idle (a direct write in the sender's decision); without one, this socket's task
    /// sends every frame.
    pub fn join(
        self: &Arc<Self>,
        session_id: SessionId,
        peer: PeerId,
        writer: Option<Arc<dyn DirectWrite>>,
    ) -> Result<Member, JoinError> {
        if self.is_shutting_down() {
            return Err(JoinError::ShuttingDown);
        }
        let now = Instant::now();
        let (session, created) = {
            let mut sessions = self.lock();
            if sessions.ended.contains(&session_id, now) {
                return Err(JoinError::SessionEnded);
            }
            let count = sessions.active.len();
            match sessions.active.get(&session_id) {
                Some(session) => (Arc::clone(session), false),
                None if count >= self.limits.max_sessions => return Err(JoinError::Overloaded),
                None => {
                    let session = Arc::new(Session::new(
                        session_id,
                        now,
                        self.limits.queue_messages,
                        self.limits.queue_bytes,
                        Arc::clone(&self.queue_budget),
                    ));
                    sessions.active.insert(session_id, Arc::clone(&session));
                    self.metrics().session_started();
                    (session, true)
                }
            }
        };
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let (slot, joined) = match session.attach(&peer, conn, Arc::clone(&wake), writer) {
            Ok(attached) => attached,
            Err(SlotRefused::Ended) => return Err(JoinError::SessionEnded),
            Err(SlotRefused::Full) => {
                tracing::info!(session = %session_id, peer = %peer, "third participant refused");
                return Err(JoinError::SessionFull);
            }
        };
        match joined {
            Joined::New if created => {
                tracing::info!(session = %session_id, peer = %peer, "session started");
            }
            Joined::New => tracing::info!(session = %session_id, peer = %peer, "peer joined"),
            Joined::Reconnected { replaced } => {
                tracing::info!(session = %session_id, peer = %peer, replaced, "peer reconnected");
            }
        }
        Ok(Member::new(
            Arc::clone(self),
            session,
            peer,
            slot,
            conn,
            wake,
        ))
    }

    /// Ends `session` for `reason`: clears its queues, wakes its sockets, forgets it and
    /// remembers its id. Returns `false` if it had already ended.
    fn end_session(&self, session: &Arc<Session>, reason: EndReason) -> bool {
        if !session.end(reason) {
            return false;
        }
        let now = Instant::now();
        {
            let mut sessions = self.lock();
            if sessions
                .active
                .get(&session.id)
                .is_some_and(|active| Arc::ptr_eq(active, session))
            {
                sessions.active.remove(&session.id);
            }
            sessions.ended.insert(&session.id, now);
        }
        self.metrics().session_ended(reason);
        tracing::info!(session = %session.id, reason = reason.as_str(), "session ended");
        true
    }

    /// One pass of the sweeper at `now`: ends idle and old sessions, forgets old ids.
    /// Returns how many sessions it ended.
    pub fn sweep(&self, now: Instant) -> usize {
        let candidates: Vec<Arc<Session>> = {
            let mut sessions = self.lock();
            let forgotten = sessions.ended.forget_expired(now);
            if forgotten > 0 {
                tracing::debug!(forgotten, "ended session ids forgotten");
            }
            sessions.active.values().cloned().collect()
        };
        let mut ended = 0;
        for session in candidates {
            if let Some(reason) = session.expiry(now, self.limits.idle_timeout, self.limits.max_age)
                && self.end_session(&session, reason)
            {
                ended += 1;
            }
        }
        ended
    }

    /// Wakes every connected socket (the hub is shutting down).
    pub(super) fn wake_all(&self) {
        let sessions: Vec<Arc<Session>> = self.lock().active.values().cloned().collect();
        tracing::info!(sessions = sessions.len(), "hub shutting down");
        for session in sessions {
            session.wake_all();
        }
    }

    fn active(&self, session_id: &SessionId) -> Option<Arc<Session>> {
        self.lock().active.get(session_id).cloned()
    }

    pub fn session_count(&self) -> usize {
        self.lock().active.len()
    }

    pub fn ended_count(&self) -> usize {
        self.lock().ended.len()
    }

    pub fn connected_count(&self, session_id: &SessionId) -> usize {
        self.active(session_id)
            .map_or(0, |session| session.connected())
    }

    pub fn holds_socket(&self, session_id: &SessionId, peer: &PeerId) -> bool {
        self.active(session_id)
            .is_some_and(|session| session.is_connected(peer))
    }

    pub fn queued(&self, session_id: &SessionId) -> (usize, usize) {
        self.active(session_id)
            .map_or((0, 0), |session| session.queued())
    }

    /// Frames and bytes in every queue, and the ended ids remembered (for metrics).
    pub(super) fn totals(&self) -> (usize, usize, usize, usize) {
        let (sessions, ended) = {
            let sessions = self.lock();
            let list: Vec<Arc<Session>> = sessions.active.values().cloned().collect();
            (list, sessions.ended.len())
        };
        let (messages, bytes) = sessions
            .iter()
            .map(|session| session.queued())
            .fold((0, 0), |(m, b), (sm, sb)| (m + sm, b + sb));
        (sessions.len(), messages, bytes, ended)
    }

    pub fn queued_bytes_total(&self) -> usize {
        self.queue_budget.used()
    }
}
