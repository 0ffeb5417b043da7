//! This node's wake-ups: its pub/sub subscription and the local sockets it wakes.
//!
//! Owns: the map from a slot (session and slot number) to the wake-ups of this node's
//! sockets for it, and the subscription task that turns a `"<sid> <slot>"` message on this
//! node's channel into a wake-up. Pub/sub is fire-and-forget: after every (re)subscribe
//! every local socket is woken, so each reads its stream and catches up. Must not read
//! or change the hub's state in Redis: a woken socket polls its own stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;

use super::RedisEngine;
use crate::protocol::SessionId;

/// The wake-ups of this node's sockets for one slot, each with its socket's generation.
type SlotWakes = Vec<(u64, Arc<Notify>)>;
type WakeMap = HashMap<(SessionId, u8), SlotWakes>;

/// The wake-ups of this node's sockets, by slot.
#[derive(Debug, Default)]
pub(super) struct Wakes {
    slots: Mutex<WakeMap>,
    subscribed: AtomicBool,
}

impl Wakes {
    fn lock(&self) -> MutexGuard<'_, WakeMap> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wake-up of a socket that joined `slot` of `session` with `generation`.
    pub fn register(&self, session: SessionId, slot: u8, generation: u64) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.lock()
            .entry((session, slot))
            .or_default()
            .push((generation, Arc::clone(&wake)));
        wake
    }

    pub fn unregister(&self, session: SessionId, slot: u8, generation: u64) {
        let mut slots = self.lock();
        if let Some(list) = slots.get_mut(&(session, slot)) {
            list.retain(|(g, _)| *g != generation);
            if list.is_empty() {
                slots.remove(&(session, slot));
            }
        }
    }

    /// Wakes this node's sockets of `slot` (a frame for it, its replacement, its end).
    pub fn wake(&self, session: &SessionId, slot: u8) {
        if let Some(list) = self.lock().get(&(*session, slot)) {
            for (_, wake) in list {
                wake.notify_one();
            }
        }
    }

    pub fn wake_all(&self) {
        for list in self.lock().values() {
            for (_, wake) in list {
                wake.notify_one();
            }
        }
    }

    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }
}

/// Parses a wake-up message: `"<sid> <slot>"`.
fn parse(message: &[u8]) -> Option<(SessionId, u8)> {
    let text = std::str::from_utf8(message).ok()?;
    let (session, slot) = text.split_once(' ')?;
    let slot = match slot {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    Some((SessionId::parse(session).ok()?, slot))
}

/// Keeps this node subscribed to `channel` for as long as the engine lives: reconnects
/// with a growing pause when the subscription breaks, and wakes every local socket after
/// each subscribe so that none misses what was published meanwhile.
pub(super) async fn subscribe(engine: Weak<RedisEngine>, client: redis::Client, channel: String) {
    let mut pause = Duration::from_millis(50);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let Some(live) = engine.upgrade() else { return };
                    live.wakes.subscribed.store(true, Ordering::Release);
                    tracing::info!("redis subscription up");
                    live.wakes.wake_all();
                    drop(live);
                    pause = Duration::from_millis(50);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Some(live) = engine.upgrade() else { return };
                        if let Some((session, slot)) = parse(message.get_payload_bytes()) {
                            live.wakes.wake(&session, slot);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "redis subscribe failed"),
            },
            Err(error) => tracing::warn!(%error, "redis subscription connection failed"),
        }
        let Some(live) = engine.upgrade() else { return };
        if live.wakes.subscribed.swap(false, Ordering::AcqRel) {
            tracing::warn!("redis subscription lost; reconnecting");
        }
        if live.core.is_shutting_down() {
            return;
        }
        drop(live);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_messages_name_a_session_and_a_slot() {
        let sid = "123e4567-e89b-42d3-a456-426614174000";
        let (session, slot) = parse(format!("{sid} 1").as_bytes()).unwrap();
        assert_eq!((session.as_str(), slot), (sid, 1));
        assert!(parse(format!("{sid} 2").as_bytes()).is_none());
        assert!(parse(b"nonsense").is_none());
    }
}
