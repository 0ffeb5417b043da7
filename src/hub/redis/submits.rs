//! This node's submits on their way to Redis, sent in batches.
//!
//! Owns: the frames this node's sockets submitted that Redis has not yet stored, and the
//! task that stores them: one `submit.lua` call for everything that waits, at most
//! [`MAX_BATCH`] frames; while [`IN_FLIGHT`] batches are on their way the next one
//! gathers. A socket alone waits for nobody (its batch holds its frame only); under load
//! one script call, one round trip and one wake-up per recipient node carry many frames.
//! A socket has at most one submit in flight (it waits for the decision before reading
//! its client's next frame), so a batch never reorders one socket's frames. Must not
//! decide anything: the script applies the hub's rules to each frame in turn.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};

use super::RedisEngine;
use super::acks::SocketKey;
use crate::hub::engine::SubmitError;
use crate::protocol::Kind;

/// Frames one script call stores at most (its arguments stay a few hundred KiB).
const MAX_BATCH: usize = 64;

/// Batches in flight at once: a frame that comes while one is on its way goes at once in
/// the next (Redis runs them in order on the one connection), so batching adds no wait
/// until the load keeps both busy.
const IN_FLIGHT: usize = 2;

/// One frame to store, and where its answer goes.
pub(super) struct Submit {
    pub socket: SocketKey,
    pub kind: Kind,
    pub text: Bytes,
    /// The newest seq this socket wrote and Redis has not been told of (0: none).
    pub ack: u64,
    pub answer: oneshot::Sender<Option<Stored>>,
}

/// What the script said of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    /// Stored, or why not.
    pub outcome: Result<(), SubmitError>,
    pub recipient_connected: bool,
    pub waiting: u64,
    /// Frames the carried acknowledgement removed.
    pub acked: u64,
}

/// The submits waiting for the next batch.
#[derive(Default)]
pub(super) struct Submits {
    waiting: Mutex<VecDeque<Submit>>,
    added: Notify,
}

impl Submits {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Submit>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `submit` for the next batch.
    pub fn push(&self, submit: Submit) {
        self.lock().push_back(submit);
        self.added.notify_one();
    }

    /// The next batch: the oldest waiting submits, at most [`MAX_BATCH`].
    fn take_batch(&self) -> Vec<Submit> {
        let mut waiting = self.lock();
        let count = waiting.len().min(MAX_BATCH);
        waiting.drain(..count).collect()
    }
}

/// Stores this node's submits, at most [`IN_FLIGHT`] batches at a time, for as long as
/// the engine lives. A batch that Redis did not take answers `None` to each of its
/// submits (each socket then closes with 1013 and its client sends again).
pub(super) async fn run(engine: Weak<RedisEngine>, submits: Arc<Submits>) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(place) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let batch = submits.take_batch();
        if batch.is_empty() {
            drop(place);
            // Wakes at least once a second to see whether the engine is gone.
            let _ = tokio::time::timeout(Duration::from_secs(1), submits.added.notified()).await;
            if engine.strong_count() == 0 {
                return;
            }
            continue;
        }
        let Some(live) = engine.upgrade() else { return };
        tokio::spawn(async move {
            let answers = live.store(&batch).await;
            drop(live);
            drop(place);
            let mut answers = answers.map(Vec::into_iter);
            for submit in batch {
                let answer = answers.as_mut().and_then(Iterator::next);
                // The socket may have gone meanwhile; nothing waits for its answer then.
                let _ = submit.answer.send(answer);
            }
        });
    }
}

/// The script's word for one frame's outcome (see `submit.lua`).
pub(super) fn outcome(status: &str) -> Result<(), SubmitError> {
    match status {
        "ok" => Ok(()),
        "ended" => Err(SubmitError::Ended),
        "replaced" => Err(SubmitError::Replaced),
        "full" => Err(SubmitError::QueueFull),
        _ => Err(SubmitError::Unavailable),
    }
}
