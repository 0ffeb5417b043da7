//! This node's wake-ups: its pub/sub subscription and the local sockets it wakes.
//!
//! Owns: the map from a slot (session and slot number) to the mailboxes of this node's
//! sockets for it, and the subscription task that turns a message on this node's channel
//! into a wake-up: `"<sid> <slot>"` asks the slot's sockets to read their stream (a
//! replacement, an end); one or more records `"<sid> <slot> <gen> <seq> <kind> <len>
//! <text>"` (text of `len` bytes, the next record right after it) carry frames, each to
//! the socket of that generation, which writes it only if it is the next one it expects
//! (see `Member::next_outbound`). Pub/sub is fire-and-forget: after every (re)subscribe
//! every local socket reads its stream and catches up. Must not read or change the
//! hub's state in Redis: the stream is the record, read by the socket itself.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::Notify;

use super::{RedisEngine, kind_of};
use crate::protocol::{Kind, SessionId};

/// A frame carried in a wake-up: its seq in the slot's stream, its kind and text.
pub(super) type Carried = (u64, Kind, Bytes);

/// What one socket's wake-ups left for it.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    /// Frames carried to it, in the order published.
    pub frames: VecDeque<Carried>,
    /// Its stream must be read: it joined, a wake-up named no frame, or some may have
    /// been missed.
    pub read_stream: bool,
}

/// One socket's wake-up and what came with it.
#[derive(Debug, Default)]
pub(super) struct Mailbox {
    inbox: Mutex<Inbox>,
    notify: Notify,
}

impl Mailbox {
    pub fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the socket to read its stream, and wakes it.
    pub fn read_stream(&self) {
        self.inbox().read_stream = true;
        self.notify.notify_one();
    }

    fn carry(&self, frame: Carried) {
        self.inbox().frames.push_back(frame);
        self.notify.notify_one();
    }

    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

/// The mailboxes of this node's sockets for one slot, each with its socket's generation.
type SlotWakes = Vec<(u64, Arc<Mailbox>)>;
type WakeMap = HashMap<(SessionId, u8), SlotWakes>;

/// The mailboxes of this node's sockets, by slot.
#[derive(Debug, Default)]
pub(super) struct Wakes {
    slots: Mutex<WakeMap>,
    subscribed: AtomicBool,
}

impl Wakes {
    fn lock(&self) -> MutexGuard<'_, WakeMap> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The mailbox of a socket that joined `slot` of `session` with `generation`.
    pub fn register(&self, session: SessionId, slot: u8, generation: u64) -> Arc<Mailbox> {
        let mailbox = Arc::new(Mailbox::default());
        self.lock()
            .entry((session, slot))
            .or_default()
            .push((generation, Arc::clone(&mailbox)));
        mailbox
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

    /// Asks this node's sockets of `slot` to read their stream (its replacement, its end).
    pub fn wake(&self, session: &SessionId, slot: u8) {
        if let Some(list) = self.lock().get(&(*session, slot)) {
            for (_, mailbox) in list {
                mailbox.read_stream();
            }
        }
    }

    /// Hands a frame to this node's socket of `slot` with `generation`, if there is one
    /// (a socket that joins later reads its stream first).
    fn carry(&self, session: &SessionId, slot: u8, generation: u64, frame: Carried) {
        if let Some(list) = self.lock().get(&(*session, slot))
            && let Some((_, mailbox)) = list.iter().find(|(g, _)| *g == generation)
        {
            mailbox.carry(frame);
        }
    }

    /// Asks every socket of this node to read its stream (a resubscribe, a late
    /// heartbeat, shutdown).
    pub fn wake_all(&self) {
        for list in self.lock().values() {
            for (_, mailbox) in list {
                mailbox.read_stream();
            }
        }
    }

    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }
}

/// One wake-up, parsed from a message.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// `"<sid> <slot>"`: read the stream.
    ReadStream(SessionId, u8),
    /// `"<sid> <slot> <gen> <seq> <kind> <len> <text>"`: a frame for the socket of `gen`.
    Carry(SessionId, u8, u64, Carried),
}

/// Parses a wake-up message (see [`Wake`]): one `ReadStream`, or the carried frames in
/// the order published. `None` if any part of it is malformed.
fn parse(message: &[u8]) -> Option<Vec<Wake>> {
    let mut rest = message;
    let mut wakes = Vec::new();
    while !rest.is_empty() {
        let session = SessionId::parse(std::str::from_utf8(field(&mut rest)?).ok()?).ok()?;
        let slot = match field(&mut rest)? {
            b"0" => 0,
            b"1" => 1,
            _ => return None,
        };
        if rest.is_empty() && wakes.is_empty() {
            return Some(vec![Wake::ReadStream(session, slot)]);
        }
        let number = |field: &[u8]| std::str::from_utf8(field).ok()?.parse::<u64>().ok();
        let generation = number(field(&mut rest)?)?;
        let seq = number(field(&mut rest)?)?;
        let kind = kind_of(std::str::from_utf8(field(&mut rest)?).ok()?);
        let len = usize::try_from(number(field(&mut rest)?)?).ok()?;
        let text = rest.get(..len)?;
        rest = &rest[len..];
        let frame = (seq, kind, Bytes::copy_from_slice(text));
        wakes.push(Wake::Carry(session, slot, generation, frame));
    }
    Some(wakes)
}

/// The bytes of `rest` up to its next space (or its end), taking them and the space off.
fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    if rest.is_empty() {
        return None;
    }
    let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
    let found = &rest[..end];
    *rest = rest.get(end + 1..).unwrap_or_default();
    Some(found)
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
                        for wake in parse(message.get_payload_bytes()).unwrap_or_default() {
                            match wake {
                                Wake::ReadStream(session, slot) => live.wakes.wake(&session, slot),
                                Wake::Carry(session, slot, generation, frame) => {
                                    live.wakes.carry(&session, slot, generation, frame);
                                }
                            }
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

    const SID: &str = "123e4567-e89b-42d3-a456-426614174000";

    #[test]
    fn wake_messages_name_a_session_and_a_slot() {
        let session = SessionId::parse(SID).unwrap();
        assert_eq!(
            parse(format!("{SID} 1").as_bytes()),
            Some(vec![Wake::ReadStream(session, 1)])
        );
        assert!(parse(format!("{SID} 2").as_bytes()).is_none());
        assert!(parse(b"nonsense").is_none());
    }

    #[test]
    fn carried_frames_keep_their_text_whole_spaces_included_and_their_order() {
        let offer = r#"{"type":"offer","sdp":"v=0 o=- 1 2 IN IP4"}"#;
        let candidate = r#"{"type":"candidate", "x": 1}"#;
        let message = format!(
            "{SID} 0 7 42 offer {} {offer}{SID} 1 3 9 candidate {} {candidate}",
            offer.len(),
            candidate.len()
        );
        let wakes = parse(message.as_bytes()).expect("two records");
        let [
            Wake::Carry(first, 0, 7, (42, Kind::Offer, offer_text)),
            Wake::Carry(second, 1, 3, (9, Kind::Candidate, candidate_text)),
        ] = wakes.as_slice()
        else {
            panic!("not two carried frames: {wakes:?}");
        };
        assert_eq!((first.as_str(), second.as_str()), (SID, SID));
        assert_eq!(offer_text.as_ref(), offer.as_bytes());
        assert_eq!(candidate_text.as_ref(), candidate.as_bytes());
    }

    #[test]
    fn a_malformed_record_is_refused_whole() {
        let text = r#"{"type":"offer"}"#;
        let len = text.len();
        assert!(parse(format!("{SID} 0 7 x offer {len} {text}").as_bytes()).is_none());
        assert!(parse(format!("{SID} 0 7 42 offer {len}").as_bytes()).is_none());
        assert!(parse(format!("{SID} 0 7 42 offer {} {text}", len + 1).as_bytes()).is_none());
    }
}
