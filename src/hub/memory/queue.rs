//! The two FIFO queues of one session and their shared bound (PROTOCOL.md §3), and the
//! hub-wide bound on what all queues hold together.
//!
//! Owns: the frames waiting for each participant, in the order they were sent, the
//! per-session bound (a count and a byte total over both queues), and its share of the
//! hub's [`QueueBudget`]. Must not touch locks, sockets or clocks: it is plain data, kept
//! inside the session's own mutex (the budget is one atomic counter).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use crate::protocol::Kind;

/// A participant's place in a session: slot 0 is whoever joined first.
pub(crate) type SlotIndex = usize;

/// One frame waiting for a participant: the sender's original text, never re-serialised.
#[derive(Debug, Clone)]
pub(crate) struct QueuedFrame {
    /// Increases by one per stored frame in a session; lets a socket task remove exactly
    /// the frame it has just written, even if the queue changed while it was writing.
    pub seq: u64,
    /// The message type, for logs (never the content).
    pub kind: Kind,
    /// The frame's text as UTF-8 bytes (cheap to clone: reference counted).
    pub text: Bytes,
}

/// Why a frame was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session's signal queue is full")]
pub(crate) struct QueueFull;

/// What one queued frame costs the hub beside its text: its record in the queue and its
/// allocation's bookkeeping. Counted in the hub-wide budget, so that many tiny frames
/// are bounded too.
pub(crate) const FRAME_OVERHEAD: usize = 64;

/// The hub-wide bound on queued memory, shared by every session: one atomic counter of
/// the bytes (text plus [`FRAME_OVERHEAD`]) all queues hold. Not in PROTOCOL.md: a guard
/// against many sessions each filling its own bound.
#[derive(Debug)]
pub struct QueueBudget {
    used: AtomicUsize,
    max: usize,
}

impl QueueBudget {
    pub fn new(max: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            max,
        }
    }

    /// Takes `bytes` from the budget, or nothing if that would pass the bound.
    fn try_reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.max)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held by all queues now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// What `len` bytes of text cost the hub-wide budget.
fn cost(len: usize) -> usize {
    len + FRAME_OVERHEAD
}

/// Both participants' queues under one bound: `max_messages` frames and `max_bytes` bytes
/// in total. A frame that would take either past its bound is refused; later frames that
/// still fit are stored.
#[derive(Debug)]
pub(crate) struct SessionQueues {
    queues: [VecDeque<QueuedFrame>; 2],
    messages: usize,
    bytes: usize,
    next_seq: u64,
    max_messages: usize,
    max_bytes: usize,
    budget: Arc<QueueBudget>,
}

impl SessionQueues {
    pub fn new(max_messages: usize, max_bytes: usize, budget: Arc<QueueBudget>) -> Self {
        Self {
            queues: [VecDeque::new(), VecDeque::new()],
            messages: 0,
            bytes: 0,
            next_seq: 0,
            max_messages,
            max_bytes,
            budget,
        }
    }

    /// Stores `text` at the back of `to`'s queue; returns how many frames wait for `to`.
    /// Refused past the session's bound or the hub's budget.
    pub fn push(&mut self, to: SlotIndex, kind: Kind, text: Bytes) -> Result<usize, QueueFull> {
        let len = text.len();
        if self.messages + 1 > self.max_messages || self.bytes + len > self.max_bytes {
            return Err(QueueFull);
        }
        if !self.budget.try_reserve(cost(len)) {
            return Err(QueueFull);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.messages += 1;
        self.bytes += len;
        let queue = &mut self.queues[to];
        queue.push_back(QueuedFrame { seq, kind, text });
        Ok(queue.len())
    }

    /// The oldest frame waiting for `slot`, left in place until [`Self::remove_front`].
    pub fn front(&self, slot: SlotIndex) -> Option<&QueuedFrame> {
        self.queues[slot].front()
    }

    /// Removes `slot`'s oldest frame if it is still the one numbered `seq`.
    pub fn remove_front(&mut self, slot: SlotIndex, seq: u64) -> bool {
        let queue = &mut self.queues[slot];
        if queue.front().is_some_and(|frame| frame.seq == seq) {
            if let Some(frame) = queue.pop_front() {
                self.messages -= 1;
                self.bytes -= frame.text.len();
                self.budget.release(cost(frame.text.len()));
            }
            true
        } else {
            false
        }
    }

    /// Drops everything (the session ended).
    pub fn clear(&mut self) {
        for queue in &mut self.queues {
            queue.clear();
            queue.shrink_to_fit();
        }
        self.budget
            .release(self.bytes + self.messages * FRAME_OVERHEAD);
        self.messages = 0;
        self.bytes = 0;
    }

    #[cfg(test)]
    pub fn len(&self, slot: SlotIndex) -> usize {
        self.queues[slot].len()
    }

    /// Frames and bytes stored over both queues.
    pub fn totals(&self) -> (usize, usize) {
        (self.messages, self.bytes)
    }
}

impl Drop for SessionQueues {
    /// A session that is forgotten gives back what its queues still held.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(len: usize) -> Bytes {
        Bytes::from(vec![b'x'; len])
    }

    fn unbounded() -> Arc<QueueBudget> {
        Arc::new(QueueBudget::new(usize::MAX))
    }

    #[test]
    fn frames_come_out_in_the_order_they_went_in() {
        let mut queues = SessionQueues::new(10, 1000, unbounded());
        for n in 0..3u8 {
            queues.push(1, Kind::Offer, Bytes::from(vec![n])).unwrap();
        }
        let mut out = Vec::new();
        while let Some(front) = queues.front(1).cloned() {
            assert!(queues.remove_front(1, front.seq));
            out.push(front.text[0]);
        }
        assert_eq!(out, [0, 1, 2]);
        assert_eq!(queues.totals(), (0, 0));
    }

    #[test]
    fn the_count_bound_covers_both_queues() {
        let mut queues = SessionQueues::new(3, 1000, unbounded());
        assert_eq!(queues.push(0, Kind::Offer, text(1)), Ok(1));
        assert_eq!(queues.push(1, Kind::Answer, text(1)), Ok(1));
        assert_eq!(queues.push(1, Kind::Candidate, text(1)), Ok(2));
        assert_eq!(queues.push(0, Kind::Candidate, text(1)), Err(QueueFull));
        assert_eq!(queues.push(1, Kind::Candidate, text(1)), Err(QueueFull));
        assert_eq!(queues.totals(), (3, 3));
        let seq = queues.front(0).unwrap().seq;
        assert!(queues.remove_front(0, seq));
        assert_eq!(queues.push(1, Kind::Candidate, text(1)), Ok(3));
    }

    #[test]
    fn a_frame_past_the_byte_bound_is_refused_and_a_smaller_one_still_fits() {
        let mut queues = SessionQueues::new(100, 100, unbounded());
        assert_eq!(queues.push(1, Kind::Offer, text(60)), Ok(1));
        assert_eq!(queues.push(1, Kind::Offer, text(41)), Err(QueueFull));
        assert_eq!(queues.totals(), (1, 60));
        assert_eq!(queues.push(1, Kind::Offer, text(40)), Ok(2));
        assert_eq!(queues.totals(), (2, 100));
        assert_eq!(queues.push(1, Kind::Offer, text(0)), Ok(3));
        assert_eq!(queues.push(1, Kind::Offer, text(1)), Err(QueueFull));
    }

    #[test]
    fn remove_front_only_removes_the_frame_it_names() {
        let mut queues = SessionQueues::new(10, 1000, unbounded());
        queues.push(1, Kind::Offer, text(5)).unwrap();
        queues.push(1, Kind::Answer, text(7)).unwrap();
        let first = queues.front(1).unwrap().seq;
        assert!(!queues.remove_front(1, first + 1));
        assert!(!queues.remove_front(0, first));
        assert!(queues.remove_front(1, first));
        assert!(!queues.remove_front(1, first));
        assert_eq!(queues.len(1), 1);
        assert_eq!(queues.totals(), (1, 7));
    }

    #[test]
    fn the_hub_budget_bounds_all_sessions_together_and_is_given_back() {
        let budget = Arc::new(QueueBudget::new(2 * cost(100)));
        let mut first = SessionQueues::new(100, 1000, Arc::clone(&budget));
        let mut second = SessionQueues::new(100, 1000, Arc::clone(&budget));
        assert_eq!(first.push(1, Kind::Offer, text(100)), Ok(1));
        assert_eq!(second.push(1, Kind::Offer, text(100)), Ok(1));
        assert_eq!(second.push(0, Kind::Offer, text(1)), Err(QueueFull));
        assert_eq!(budget.used(), 2 * cost(100));
        let seq = first.front(1).unwrap().seq;
        assert!(first.remove_front(1, seq));
        assert_eq!(second.push(0, Kind::Offer, text(1)), Ok(1));
        second.clear();
        assert_eq!(budget.used(), 0);
        first.push(0, Kind::Answer, text(10)).unwrap();
        drop(first);
        assert_eq!(budget.used(), 0, "a dropped session gives its share back");
    }

    #[test]
    fn clear_empties_everything() {
        let mut queues = SessionQueues::new(10, 1000, unbounded());
        queues.push(0, Kind::Offer, text(5)).unwrap();
        queues.push(1, Kind::Offer, text(5)).unwrap();
        queues.clear();
        assert_eq!(queues.totals(), (0, 0));
        assert!(queues.front(0).is_none() && queues.front(1).is_none());
    }
}
