//! The memory of ended session ids (PROTOCOL.md §4: an ended id is never active again).
//!
//! Owns: which ids ended and when, forgotten after a time to live, and never more than a
//! fixed number of them (the oldest goes first when full). Must not touch sessions,
//! sockets or the clock: callers pass `now`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::protocol::SessionId;

#[derive(Debug)]
pub(crate) struct EndedIds {
    /// When each remembered id ended. Keyed by the 16-byte UUID, not the 52-byte
    /// `SessionId` with its text: at a million ids that is the difference that matters.
    ended_at: HashMap<Uuid, Instant>,
    /// The same ids, oldest first, so expiry and eviction never scan the map.
    order: VecDeque<(Uuid, Instant)>,
    ttl: Duration,
    capacity: usize,
}

impl EndedIds {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ended_at: HashMap::new(),
            order: VecDeque::new(),
            ttl,
            capacity,
        }
    }

    /// Remembers that `id` ended at `now`. When full, the oldest id is forgotten first:
    /// the bound on memory wins over the time to live.
    pub fn insert(&mut self, id: &SessionId, now: Instant) {
        let id = id.uuid();
        if self.capacity == 0 || self.ended_at.contains_key(&id) {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some((oldest, _)) = self.order.pop_front() {
                self.ended_at.remove(&oldest);
            }
        }
        self.ended_at.insert(id, now);
        self.order.push_back((id, now));
    }

    /// Whether `id` ended less than the time to live before `now`.
    pub fn contains(&self, id: &SessionId, now: Instant) -> bool {
        self.ended_at
            .get(&id.uuid())
            .is_some_and(|&at| now.saturating_duration_since(at) < self.ttl)
    }

    /// Forgets ids older than the time to live; returns how many.
    pub fn forget_expired(&mut self, now: Instant) -> usize {
        let mut forgotten = 0;
        while let Some(&(id, at)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.ended_at.remove(&id);
            forgotten += 1;
        }
        if forgotten > 0 && self.order.capacity() > 4 * self.order.len().max(64) {
            self.order.shrink_to_fit();
            self.ended_at.shrink_to_fit();
        }
        forgotten
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> SessionId {
        SessionId::from_random_bytes([n; 16])
    }

    #[test]
    fn an_ended_id_is_remembered_for_its_time_to_live() {
        let start = Instant::now();
        let mut ended = EndedIds::new(Duration::from_secs(10), 100);
        ended.insert(&id(1), start);
        assert!(ended.contains(&id(1), start));
        assert!(ended.contains(&id(1), start + Duration::from_secs(9)));
        assert!(!ended.contains(&id(2), start));
        assert!(!ended.contains(&id(1), start + Duration::from_secs(10)));
    }

    #[test]
    fn expired_ids_are_forgotten_oldest_first() {
        let start = Instant::now();
        let mut ended = EndedIds::new(Duration::from_secs(10), 100);
        ended.insert(&id(1), start);
        ended.insert(&id(2), start + Duration::from_secs(5));
        assert_eq!(ended.forget_expired(start + Duration::from_secs(9)), 0);
        assert_eq!(ended.forget_expired(start + Duration::from_secs(10)), 1);
        assert_eq!(ended.len(), 1);
        assert!(ended.contains(&id(2), start + Duration::from_secs(10)));
        assert_eq!(ended.forget_expired(start + Duration::from_secs(15)), 1);
        assert_eq!(ended.len(), 0);
    }

    #[test]
    fn the_capacity_bounds_memory_by_forgetting_the_oldest() {
        let now = Instant::now();
        let mut ended = EndedIds::new(Duration::from_secs(10), 3);
        for n in 1..=5 {
            ended.insert(&id(n), now);
        }
        assert_eq!(ended.len(), 3);
        assert!(!ended.contains(&id(1), now));
        assert!(!ended.contains(&id(2), now));
        assert!((3..=5).all(|n| ended.contains(&id(n), now)));
    }

    #[test]
    fn inserting_twice_keeps_one_entry() {
        let now = Instant::now();
        let mut ended = EndedIds::new(Duration::from_secs(10), 3);
        ended.insert(&id(1), now);
        ended.insert(&id(1), now + Duration::from_secs(1));
        assert_eq!(ended.len(), 1);
    }
}
