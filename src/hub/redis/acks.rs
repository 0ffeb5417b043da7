//! This node's acknowledgements waiting to reach Redis.
//!
//! Owns: for each local socket (session, slot, generation), the newest seq it wrote to
//! its client and Redis has not yet been told of. A socket's next submit takes its own
//! and carries it in the same script; what no submit took within [`ACK_DELAY`] goes in
//! one batch for all of this node's sockets (`ack.lua`). Until then the frames stay in
//! their stream: a node that dies first loses nothing, its frames are sent again. Must
//! not decide whether an acknowledgement holds: the scripts check each generation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::RedisEngine;
use crate::protocol::SessionId;

/// How long an acknowledgement waits for a submit of its socket to carry it.
pub(super) const ACK_DELAY: Duration = Duration::from_millis(5);

/// How long the batch waits after Redis could not be reached.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// A local socket: its session, slot and generation.
pub(super) type SocketKey = (SessionId, u8, u64);

/// The acknowledgements of this node's sockets that Redis has not had yet.
#[derive(Debug, Default)]
pub(super) struct PendingAcks {
    through: Mutex<HashMap<SocketKey, u64>>,
    marked: Notify,
}

impl PendingAcks {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketKey, u64>> {
        self.through.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `socket` wrote every frame up to `seq`.
    pub fn mark(&self, socket: SocketKey, seq: u64) {
        let mut through = self.lock();
        let was_empty = through.is_empty();
        let newest = through.entry(socket).or_insert(0);
        *newest = (*newest).max(seq);
        drop(through);
        if was_empty {
            self.marked.notify_one();
        }
    }

    /// Takes `socket`'s acknowledgement to send now (0: none).
    pub fn take(&self, socket: &SocketKey) -> u64 {
        self.lock().remove(socket).unwrap_or(0)
    }

    fn take_all(&self) -> Vec<(SocketKey, u64)> {
        self.lock().drain().collect()
    }
}

/// Sends, every [`ACK_DELAY`] while there are any, the acknowledgements no submit took,
/// in one script call; puts them back if Redis could not be reached. Ends with the engine.
pub(super) async fn flush(engine: Weak<RedisEngine>, acks: Arc<PendingAcks>) {
    loop {
        // Wakes at least once a second to see whether the engine is gone.
        let _ = tokio::time::timeout(Duration::from_secs(1), acks.marked.notified()).await;
        tokio::time::sleep(ACK_DELAY).await;
        let Some(live) = engine.upgrade() else { return };
        let batch = acks.take_all();
        if batch.is_empty() {
            continue;
        }
        if !live.acknowledge(&batch).await {
            for (socket, seq) in batch {
                acks.mark(socket, seq);
            }
            drop(live);
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
