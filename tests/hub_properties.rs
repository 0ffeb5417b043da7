//! Property tests of the hub's routing (PROTOCOL.md §3): random interleavings of connects,
//! drops, reconnects, sends and socket writes by the two participants of one session,
//! driven through the transport-free API ([`Hub::join`], [`Membership`]) exactly as
//! `hub::socket` drives it, and checked against a small model of the two queues.
//!
//! What must hold, for every interleaving:
//! - each participant receives exactly the frames the other had accepted, in order, once;
//! - the only repeat allowed is the one `hub/session.rs` documents: a frame stays queued
//!   until the *current* socket confirms its write ([`Membership::delivered`]), so a frame
//!   whose write was not confirmed (the socket broke after the bytes left, or it had been
//!   replaced meanwhile) is sent again by the next socket, and only that frame;
//! - `queue_full` is answered exactly when the frame would take the session past its
//!   bound, never below it; the hub's queue totals always equal the model's;
//! - no wake-up is lost: a socket with something new to do finds `changed()` ready;
//! - a frame is written directly to the recipient's socket (its [`DirectWrite`]) exactly
//!   when that socket is connected and nothing else waits for it; a direct write that
//!   finishes wakes nobody, one that is left unfinished is finished by the recipient's own
//!   task (`Outbound::FinishWrite`), one that could not start leaves the frame queued.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::FutureExt;
use homecall::hub::memory::Member as Membership;
use homecall::hub::{DirectWrite, Hub, HubLimits, Outbound, SubmitError, WriteNow};
use homecall::protocol::{Kind, PeerId, SessionId};
use proptest::prelude::*;
use proptest::sample::Index;

const PEERS: [&str; 2] = ["alice-0001", "bob-00002"];

/// How a write the socket task started ends.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// The client got the frame and the task confirmed it with `delivered`.
    Confirmed,
    /// The connection broke before the frame left: the client did not get it.
    Lost,
    /// The client got the frame, but the write reported an error (a timeout after the
    /// bytes left): the task drops the socket without confirming.
    ArrivedUnconfirmed,
}

/// A socket's write half as the hub sees it through [`DirectWrite`]: each direct write
/// ends as the running operation says, and the frames it was asked to write are recorded.
#[derive(Debug)]
struct ScriptedWriter {
    next: Mutex<WriteNow>,
    asked: Mutex<Vec<Bytes>>,
}

impl ScriptedWriter {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            next: Mutex::new(WriteNow::NotNow),
            asked: Mutex::new(Vec::new()),
        })
    }

    fn will(&self, outcome: WriteNow) {
        *self.next.lock().unwrap() = outcome;
    }

    fn take_asked(&self) -> Vec<Bytes> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

impl DirectWrite for ScriptedWriter {
    fn write_now(&self, _kind: Kind, text: &Bytes) -> WriteNow {
        self.asked.lock().unwrap().push(text.clone());
        *self.next.lock().unwrap()
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Participant `p` opens a socket (a first connect or a reconnect), with or without a
    /// write half for direct writes.
    Connect(usize, bool),
    /// One of `p`'s live sockets is dropped (any close but a hang-up).
    Drop(usize, Index),
    /// `p`'s current socket submits a frame of about `len` bytes; a direct write of it
    /// to the other participant's socket, if the hub tries one, ends as given.
    Send(usize, usize, WriteNow),
    /// A replaced (stale) socket of `p` tries to submit: it must be refused.
    SendStale(usize, Index),
    /// One of `p`'s sockets asks what to do next and starts writing a frame if there is one.
    Take(usize, Index),
    /// One of `p`'s sockets finishes the write it started.
    Finish(usize, Index, Write),
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..2usize;
    let write = prop_oneof![
        6 => Just(Write::Confirmed),
        1 => Just(Write::Lost),
        1 => Just(Write::ArrivedUnconfirmed),
    ];
    let direct = prop_oneof![
        4 => Just(WriteNow::Written),
        1 => Just(WriteNow::FlushOwed),
        1 => Just(WriteNow::NotNow),
    ];
    prop_oneof![
        2 => (p.clone(), prop::bool::weighted(0.8)).prop_map(|(p, w)| Op::Connect(p, w)),
        1 => (p.clone(), any::<Index>()).prop_map(|(p, i)| Op::Drop(p, i)),
        5 => (p.clone(), 1..300usize, direct).prop_map(|(p, len, d)| Op::Send(p, len, d)),
        1 => (p.clone(), any::<Index>()).prop_map(|(p, i)| Op::SendStale(p, i)),
        4 => (p.clone(), any::<Index>()).prop_map(|(p, i)| Op::Take(p, i)),
        4 => (p, any::<Index>(), write).prop_map(|(p, i, w)| Op::Finish(p, i, w)),
    ]
}

/// One received frame and whether its write was confirmed by the then-current socket.
#[derive(Debug, Clone)]
struct Receipt {
    text: Bytes,
    confirmed: bool,
}

/// A live socket of one participant, as its task would hold it.
struct Conn {
    /// Global connection number: receipts are read back in connection order.
    number: usize,
    member: Membership,
    writer: Option<Arc<ScriptedWriter>>,
    /// A direct write to this socket was left unfinished: the socket must finish it.
    owed: Option<Bytes>,
    /// The frame this socket is writing (`next_outbound` gave it, `delivered` not yet).
    in_flight: Option<(u64, Bytes)>,
}

struct Model {
    hub: std::sync::Arc<Hub>,
    session: SessionId,
    limits: HubLimits,
    /// Live sockets per participant; the current one (if any) is `current[p]`.
    conns: [Vec<Conn>; 2],
    current: [Option<usize>; 2],
    next_conn: usize,
    /// Frames accepted from each participant, in order.
    sent: [Vec<Bytes>; 2],
    /// Frames the hub should still hold for each participant (front = oldest).
    pending: [VecDeque<Bytes>; 2],
    /// Receipts per participant, tagged with the connection number that got them.
    received: [Vec<(usize, Receipt)>; 2],
    counter: usize,
}

impl Model {
    fn new(limits: HubLimits) -> Self {
        let hub = Hub::new(limits.clone());
        Self {
            hub,
            session: SessionId::from_random_bytes([7; 16]),
            limits,
            conns: [Vec::new(), Vec::new()],
            current: [None, None],
            next_conn: 0,
            sent: [Vec::new(), Vec::new()],
            pending: [VecDeque::new(), VecDeque::new()],
            received: [Vec::new(), Vec::new()],
            counter: 0,
        }
    }

    fn is_current(&self, p: usize, number: usize) -> bool {
        self.current[p] == Some(number)
    }

    fn totals(&self) -> (usize, usize) {
        let frames = self.pending.iter().map(VecDeque::len).sum();
        let bytes = self
            .pending
            .iter()
            .flat_map(|queue| queue.iter().map(Bytes::len))
            .sum();
        (frames, bytes)
    }

    fn frame(&mut self, from: usize, len: usize) -> Bytes {
        self.counter += 1;
        let head = format!("{from}:{}:", self.counter);
        let pad = len.saturating_sub(head.len());
        Bytes::from(format!("{head}{}", "x".repeat(pad)))
    }

    fn pick(&self, p: usize, index: &Index) -> Option<usize> {
        (!self.conns[p].is_empty()).then(|| index.index(self.conns[p].len()))
    }

    fn current_conn(&self, p: usize) -> Option<&Conn> {
        let number = self.current[p]?;
        self.conns[p].iter().find(|c| c.number == number)
    }

    fn connect(&mut self, p: usize, with_writer: bool) {
        let peer = PeerId::parse(PEERS[p]).expect("a valid peer id");
        let writer = with_writer.then(ScriptedWriter::new);
        let direct = writer.clone().map(|w| w as Arc<dyn DirectWrite>);
        let member = self
            .hub
            .memory()
            .expect("the memory engine")
            .join(self.session, peer, direct)
            .expect("a participant may always (re)join");
        // The new socket is woken at once (its queue is sent first) ...
        assert!(
            member.changed().now_or_never().is_some(),
            "new socket not woken"
        );
        // ... and the socket it replaces is woken to learn that it was replaced.
        if let Some(old) = self.current[p] {
            let old = self.conns[p]
                .iter()
                .find(|c| c.number == old)
                .expect("old conn");
            assert!(
                old.member.changed().now_or_never().is_some(),
                "old socket not woken"
            );
        }
        let number = self.next_conn;
        self.next_conn += 1;
        self.conns[p].push(Conn {
            number,
            member,
            writer,
            owed: None,
            in_flight: None,
        });
        self.current[p] = Some(number);
    }

    fn drop_conn(&mut self, p: usize, at: usize) {
        let conn = self.conns[p].remove(at);
        if self.is_current(p, conn.number) {
            self.current[p] = None;
        }
        // An unfinished write never reaches the client.
        drop(conn);
    }

    fn send(&mut self, p: usize, len: usize, direct: WriteNow) {
        let Some(number) = self.current[p] else {
            return;
        };
        let text = self.frame(p, len);
        let to = 1 - p;
        let (frames, bytes) = self.totals();
        let fits =
            frames < self.limits.queue_messages && bytes + text.len() <= self.limits.queue_bytes;
        let recipient_writer = self.current_conn(to).and_then(|c| c.writer.clone());
        let expect_direct = fits && recipient_writer.is_some() && self.pending[to].is_empty();
        if let Some(writer) = &recipient_writer {
            writer.will(direct);
        }
        let conn = self.conns[p]
            .iter()
            .find(|c| c.number == number)
            .expect("current conn");
        // As the socket layer does: the decision may carry a direct write to perform.
        let result = conn
            .member
            .submit(Kind::Candidate, text.clone())
            .map(|decision| {
                if let Some(direct) = decision.direct {
                    let written = direct.writer().write_now(Kind::Candidate, &text);
                    direct.settle(written);
                }
                decision.submitted
            });
        let asked = recipient_writer.map(|w| w.take_asked()).unwrap_or_default();
        if expect_direct {
            assert_eq!(
                asked,
                std::slice::from_ref(&text),
                "an idle recipient was not written to"
            );
        } else {
            assert!(
                asked.is_empty(),
                "a direct write with frames waiting: {asked:?}"
            );
        }
        if !fits {
            assert_eq!(result, Err(SubmitError::QueueFull), "over the bound");
            return;
        }
        let submitted = result.expect("a frame below the bound is stored");
        self.pending[to].push_back(text.clone());
        self.sent[p].push(text.clone());
        assert_eq!(submitted.waiting, self.pending[to].len());
        assert_eq!(submitted.recipient_connected, self.current[to].is_some());
        let Some(recipient) = self.current[to] else {
            return;
        };
        let written = expect_direct && direct == WriteNow::Written;
        if written {
            self.pending[to].pop_back();
            self.received[to].push((
                recipient,
                Receipt {
                    text: text.clone(),
                    confirmed: true,
                },
            ));
        }
        let conn = self.conns[to]
            .iter_mut()
            .find(|c| c.number == recipient)
            .expect("conn");
        if expect_direct && direct == WriteNow::FlushOwed {
            conn.owed = Some(text);
        }
        let woken = conn.member.changed().now_or_never().is_some();
        if written {
            assert!(!woken, "a finished direct write woke the recipient");
        } else {
            assert!(woken, "recipient not woken");
        }
    }

    fn send_stale(&mut self, p: usize, at: usize) {
        if self.is_current(p, self.conns[p][at].number) {
            return;
        }
        let text = self.frame(p, 10);
        assert_eq!(
            self.conns[p][at]
                .member
                .submit(Kind::Candidate, text)
                .map(|decision| decision.submitted),
            Err(SubmitError::Replaced)
        );
    }

    fn take(&mut self, p: usize, at: usize) {
        let current = self.is_current(p, self.conns[p][at].number);
        if self.conns[p][at].in_flight.is_some() {
            return; // one write at a time, as the socket task does
        }
        match self.conns[p][at].member.next_outbound() {
            Outbound::Frame { seq, text, .. } => {
                assert!(current, "a replaced socket was given a frame");
                assert!(
                    self.conns[p][at].owed.is_none(),
                    "an owed write was skipped"
                );
                assert_eq!(Some(&text), self.pending[p].front(), "not the oldest frame");
                self.conns[p][at].in_flight = Some((seq, text));
            }
            Outbound::FinishWrite { seq, .. } => {
                assert!(current, "a replaced socket was told to finish a write");
                let text = self.conns[p][at]
                    .owed
                    .take()
                    .expect("told to finish a write nobody started");
                assert_eq!(Some(&text), self.pending[p].front(), "not the oldest frame");
                self.conns[p][at].in_flight = Some((seq, text));
            }
            Outbound::Idle => {
                assert!(current, "a replaced socket was not told so");
                assert!(self.pending[p].is_empty(), "idle with frames waiting");
            }
            Outbound::Replaced => {
                assert!(!current, "the current socket was told it was replaced");
                // The socket task closes it with 4001.
                self.drop_conn(p, at);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn finish(&mut self, p: usize, at: usize, write: Write) {
        let number = self.conns[p][at].number;
        let Some((seq, text)) = self.conns[p][at].in_flight.take() else {
            return;
        };
        match write {
            Write::Confirmed => {
                let current = self.is_current(p, number);
                self.conns[p][at].member.delivered(seq);
                let removed = current && self.pending[p].front() == Some(&text);
                if removed {
                    self.pending[p].pop_front();
                }
                self.received[p].push((
                    number,
                    Receipt {
                        text,
                        confirmed: removed,
                    },
                ));
            }
            Write::Lost => self.drop_conn(p, at),
            Write::ArrivedUnconfirmed => {
                self.received[p].push((
                    number,
                    Receipt {
                        text,
                        confirmed: false,
                    },
                ));
                self.drop_conn(p, at);
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Connect(p, with_writer) => self.connect(p, with_writer),
            Op::Drop(p, ref i) => {
                if let Some(at) = self.pick(p, i) {
                    self.drop_conn(p, at);
                }
            }
            Op::Send(p, len, direct) => self.send(p, len, direct),
            Op::SendStale(p, ref i) => {
                if let Some(at) = self.pick(p, i) {
                    self.send_stale(p, at);
                }
            }
            Op::Take(p, ref i) => {
                if let Some(at) = self.pick(p, i) {
                    self.take(p, at);
                }
            }
            Op::Finish(p, ref i, write) => {
                if let Some(at) = self.pick(p, i) {
                    self.finish(p, at, write);
                }
            }
        }
        assert_eq!(
            self.hub
                .memory()
                .expect("the memory engine")
                .queued(&self.session),
            self.totals(),
            "after {op:?}"
        );
    }

    /// Ends every stale socket, connects both participants and lets them write until
    /// nothing is left, as live socket tasks eventually would.
    fn settle(&mut self) {
        for p in 0..2 {
            while let Some(at) = self.conns[p]
                .iter()
                .position(|c| !self.is_current(p, c.number))
            {
                self.finish(p, at, Write::Confirmed);
                self.drop_conn(p, at);
            }
            if self.current[p].is_none() {
                self.connect(p, false);
            } else if let Some(at) = self.conns[p].iter().position(|c| c.in_flight.is_some()) {
                self.finish(p, at, Write::Confirmed);
            }
        }
        for p in 0..2 {
            let mut budget = 10_000;
            loop {
                budget -= 1;
                assert!(budget > 0, "the queue never drained");
                self.take(p, 0);
                if self.conns[p][0].in_flight.is_none() {
                    break;
                }
                self.finish(p, 0, Write::Confirmed);
            }
        }
        assert_eq!(
            self.hub
                .memory()
                .expect("the memory engine")
                .queued(&self.session),
            (0, 0)
        );
    }

    /// Each participant's receipts, read in connection order, are the other's accepted
    /// frames in order, each once, apart from re-sends of unconfirmed writes.
    fn check_delivery(&self) {
        for p in 0..2 {
            let mut by_conn = self.received[p].clone();
            // Stable: within one connection, receipts keep the order they arrived in.
            by_conn.sort_by_key(|(number, _)| *number);
            let mut stream: Vec<Receipt> = Vec::new();
            for (_, receipt) in by_conn {
                if let Some(seen) = stream.iter().find(|r| r.text == receipt.text) {
                    assert!(
                        !seen.confirmed,
                        "participant {p} got a confirmed frame twice: {:?}",
                        receipt.text
                    );
                    assert_eq!(
                        stream.last().map(|r| &r.text),
                        Some(&receipt.text),
                        "participant {p}: a re-sent frame came after newer ones"
                    );
                    // The repeat stands in for the earlier receipt.
                    stream.pop();
                }
                stream.push(receipt);
            }
            let texts: Vec<&Bytes> = stream.iter().map(|r| &r.text).collect();
            let sent: Vec<&Bytes> = self.sent[1 - p].iter().collect();
            assert_eq!(
                texts, sent,
                "participant {p} did not get exactly what was sent"
            );
        }
    }
}

fn limits() -> impl Strategy<Value = HubLimits> {
    // Small bounds so `queue_full` is reached often; large ones so it is not.
    prop_oneof![
        (1..12usize, 100..2_000usize).prop_map(|(messages, bytes)| HubLimits {
            queue_messages: messages,
            queue_bytes: bytes,
            ..HubLimits::default()
        }),
        Just(HubLimits::default()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_interleaving_reorders_or_loses_a_frame_below_the_bound(
        limits in limits(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let mut model = Model::new(limits);
        for op in &ops {
            model.apply(op);
        }
        model.settle();
        model.check_delivery();
    }
}

/// The check itself can fail: a participant that misses a frame is caught.
#[test]
#[should_panic(expected = "did not get exactly what was sent")]
fn a_lost_frame_is_caught() {
    let mut model = Model::new(HubLimits::default());
    model.connect(0, true);
    model.send(0, 20, WriteNow::NotNow);
    model.send(0, 20, WriteNow::NotNow);
    model.settle();
    model.received[1].remove(0);
    model.check_delivery();
}

/// A repeat of a confirmed frame is caught too.
#[test]
#[should_panic(expected = "a confirmed frame twice")]
fn a_repeated_confirmed_frame_is_caught() {
    let mut model = Model::new(HubLimits::default());
    model.connect(0, true);
    model.send(0, 20, WriteNow::Written);
    model.settle();
    let again = model.received[1][0].clone();
    model.received[1].push((usize::MAX, again.1));
    model.check_delivery();
}
