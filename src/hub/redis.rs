//! The Redis engine: the hub's rules kept in one Redis that any number of nodes share, so
//! that the two participants of a call, and a reconnect of either, may land on any node.
//!
//! Owns: the hub's state in Redis (see `redis/prelude.lua` for the keys), changed only by
//! the Lua scripts in `redis/*.lua`, each one atomic step (join, submit with the sender's
//! own acknowledgement, poll, a batch of acknowledgements, leave, hang-up, the sweep with
//! this node's heartbeat); Redis `TIME` is the one clock. This node's sockets wait on
//! local wake-ups ([`wake`]) that a per-node pub/sub channel triggers. A wake-up for a
//! frame carries it, so the recipient's node writes it without reading the stream; the
//! streams stay the record, read after a join, a resubscribe or any gap. Must not touch
//! any transport type or log a relayed message.
//!
//! Guarantees (PROTOCOL.md §3, §4 across nodes): a frame leaves its recipient's stream
//! only after the current socket wrote it (at-least-once, never reordered); a replaced
//! socket's generation no longer matches, so it can neither deliver nor acknowledge; a
//! node whose heartbeat stops has its sockets counted as dropped by the others.
//!
//! A relayed frame costs at most one script call, and under load a fraction of one: the
//! node's submits go in batches ([`submits`]), each frame carrying its socket's previous
//! acknowledgement when its reply comes within [`acks::ACK_DELAY`] (else a batch of
//! acknowledgements carries it).
//!
//! - [`wake`]: this node's subscription and the local sockets it wakes.
//! - [`acks`]: this node's acknowledgements not yet in Redis.
//! - [`submits`]: this node's submits, stored in batches.

mod acks;
mod submits;
mod wake;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, Value};
use tokio::task::JoinHandle;

use super::engine::{Decision, EndReason, JoinError, Outbound, SubmitError, Submitted};
use super::metrics::{HubMetrics, write_family};
use super::per_ip::{AdmitError, ClientKey};
use super::{Core, HubLimits};
use crate::protocol::{Kind, PeerId, SessionId};
use acks::{PendingAcks, SocketKey};
use submits::{Stored, Submit, Submits};
use wake::{Mailbox, Wakes};

/// How often a node renews its heartbeat (and sweeps), at most.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A node whose heartbeat is this old counts as dead: its sockets are dropped.
const HEARTBEAT_TTL: Duration = Duration::from_secs(3);
/// Frames one poll reads at most.
const POLL_BATCH: usize = 32;
/// Sessions one sweep ends at most (the next sweep takes the rest).
const SWEEP_BATCH: usize = 200;
/// A command that takes longer counts as failed (Redis down or overloaded).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// How the engine reaches Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prepended to every key and channel, so that several deployments can share one
    /// Redis.
    pub prefix: String,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisStartError {
    #[error("bad Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    #[error("cannot reach Redis: {0}")]
    Connect(#[source] redis::RedisError),
}

struct Scripts {
    admit: Script,
    release: Script,
    budget: Script,
    join: Script,
    submit: Script,
    poll: Script,
    ack: Script,
    leave: Script,
    hang_up: Script,
    sweep: Script,
}

impl Scripts {
    fn new() -> Self {
        const PRELUDE: &str = include_str!("redis/prelude.lua");
        let script = |body: &str| Script::new(&format!("{PRELUDE}\n{body}"));
        Self {
            admit: script(include_str!("redis/admit.lua")),
            release: script(include_str!("redis/release.lua")),
            budget: script(include_str!("redis/budget.lua")),
            join: script(include_str!("redis/join.lua")),
            submit: script(include_str!("redis/submit.lua")),
            poll: script(include_str!("redis/poll.lua")),
            ack: script(include_str!("redis/ack.lua")),
            leave: script(include_str!("redis/leave.lua")),
            hang_up: script(include_str!("redis/hang_up.lua")),
            sweep: script(include_str!("redis/sweep.lua")),
        }
    }
}

/// The engine's own counters, for `/metrics`.
#[derive(Debug, Default)]
struct RedisStats {
    commands: AtomicU64,
    errors: AtomicU64,
    micros: AtomicU64,
}

/// This node's view of the shared hub.
pub struct RedisEngine {
    limits: HubLimits,
    core: Arc<Core>,
    settings: RedisSettings,
    client: redis::Client,
    conn: ConnectionManager,
    scripts: Scripts,
    /// This node's id: random per process, so a restarted node is a new one.
    node: String,
    wakes: Wakes,
    acks: Arc<PendingAcks>,
    submits: Arc<Submits>,
    /// The last command reached Redis.
    reachable: AtomicBool,
    /// This node's heartbeat has been written at least once.
    heartbeat_written: AtomicBool,
    /// Bumped when this node finds the others had counted it dead (its heartbeat was
    /// late): the sockets it held before no longer hold their slots, and are closed.
    epoch: AtomicU64,
    stats: RedisStats,
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("node", &self.node)
            .field("prefix", &self.settings.prefix)
            .finish_non_exhaustive()
    }
}

/// A script's answer, read field by field.
struct Reply(VecDeque<Value>);

impl Reply {
    fn text(&mut self) -> String {
        match self.0.pop_front() {
            Some(Value::BulkString(bytes)) => String::from_utf8(bytes).unwrap_or_default(),
            Some(Value::SimpleString(text)) => text,
            Some(Value::Int(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    fn bytes(&mut self) -> Bytes {
        match self.0.pop_front() {
            Some(Value::BulkString(bytes)) => Bytes::from(bytes),
            _ => Bytes::new(),
        }
    }

    fn int(&mut self) -> u64 {
        match self.0.pop_front() {
            Some(Value::Int(n)) => u64::try_from(n).unwrap_or(0),
            Some(Value::BulkString(bytes)) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            _ => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl redis::FromRedisValue for Reply {
    fn from_redis_value(value: &Value) -> redis::RedisResult<Self> {
        match value {
            Value::Array(items) => Ok(Reply(items.iter().cloned().collect())),
            other => Ok(Reply(VecDeque::from([other.clone()]))),
        }
    }

    /// Takes the reply's values without copying them (every frame polled is in one).
    fn from_owned_redis_value(value: Value) -> redis::RedisResult<Self> {
        match value {
            Value::Array(items) => Ok(Reply(items.into())),
            other => Ok(Reply(VecDeque::from([other]))),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn kind_of(code: &str) -> Kind {
    match code {
        "offer" => Kind::Offer,
        "answer" => Kind::Answer,
        "error" => Kind::Error,
        _ => Kind::Candidate,
    }
}

impl RedisEngine {
    /// Connects to Redis (failing if it cannot be reached now) and returns the engine;
    /// [`Self::spawn_subscriber`] starts its subscription, and the hub's sweeper its
    /// heartbeat ([`Self::sweep`]).
    pub async fn connect(
        settings: RedisSettings,
        limits: HubLimits,
        core: Arc<Core>,
    ) -> Result<Arc<Self>, RedisStartError> {
        let client = redis::Client::open(settings.url.as_str()).map_err(RedisStartError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(RedisStartError::Connect)?;
        let node = uuid::Uuid::new_v4().simple().to_string();
        tracing::info!(node = %node, "hub engine: redis");
        Ok(Arc::new(Self {
            limits,
            core,
            settings,
            client,
            conn,
            scripts: Scripts::new(),
            node,
            wakes: Wakes::default(),
            acks: Arc::default(),
            submits: Arc::default(),
            reachable: AtomicBool::new(true),
            heartbeat_written: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            stats: RedisStats::default(),
        }))
    }

    /// This node's id (in logs and in Redis).
    pub fn node(&self) -> &str {
        &self.node
    }

    fn metrics(&self) -> &HubMetrics {
        &self.core.metrics
    }

    /// Whether this node can serve: its Redis connection answers and its subscription is
    /// up (a load balancer takes a node that is not out).
    pub fn is_ready(&self) -> bool {
        self.reachable.load(Ordering::Acquire) && self.wakes.is_subscribed()
    }

    /// Runs one command or script, counting it, its time and its failure.
    async fn run<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        invocation: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let started = std::time::Instant::now();
        let mut conn = self.conn.clone();
        let result = invocation(&mut conn).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.commands.fetch_add(1, Ordering::Relaxed);
        self.stats.micros.fetch_add(micros, Ordering::Relaxed);
        match &result {
            Ok(_) => self.reachable.store(true, Ordering::Release),
            Err(error) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                self.reachable.store(false, Ordering::Release);
                tracing::warn!(what, %error, "redis command failed");
            }
        }
        result
    }

    /// Runs one of the hub's scripts: `ARGV[1]` is always the key prefix (see
    /// `redis/prelude.lua`), `args` adds the script's own arguments after it.
    async fn script<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        script: &Script,
        args: impl Fn(&mut redis::ScriptInvocation<'_>),
    ) -> redis::RedisResult<T> {
        self.run(what, async |conn| {
            let mut call = script.prepare_invoke();
            call.arg(&self.settings.prefix);
            args(&mut call);
            call.invoke_async(conn).await
        })
        .await
    }

    /// The per-address limits across all nodes (one script): counts one more socket of
    /// `client` on this node, and one new session of `network` if `session` names neither
    /// an active nor an ended one; refuses past either bound. `Ok(false)`: Redis could
    /// not be asked, nothing was counted (the join then refuses with 1013).
    pub async fn admit_client(
        &self,
        client: ClientKey,
        network: ClientKey,
        session: Option<&SessionId>,
    ) -> Result<bool, AdmitError> {
        let limits = &self.limits;
        let answer: redis::RedisResult<String> = self
            .script("admit", &self.scripts.admit, |call| {
                call.arg(&self.node);
                call.arg(client.to_string());
                call.arg(network.to_string());
                call.arg(session.map_or("", SessionId::as_str));
                call.arg(limits.max_sockets_per_ip);
                call.arg(limits.new_sessions_per_ip_per_minute);
            })
            .await;
        match answer.as_deref() {
            Ok("ok") => Ok(true),
            Ok("sockets") => Err(AdmitError::TooManySockets),
            Ok("sessions") => Err(AdmitError::TooManyNewSessions),
            Ok(_) | Err(_) => Ok(false),
        }
    }

    /// Gives back a socket's place in `client`'s count, in the background (called from a
    /// drop). If that never runs, the count goes when this node's heartbeat stops.
    pub fn release_client(self: &Arc<Self>, client: ClientKey) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let engine = Arc::clone(self);
        runtime.spawn(async move {
            let _: redis::RedisResult<i64> = engine
                .script("release", &engine.scripts.release, |call| {
                    call.arg(&engine.node);
                    call.arg(client.to_string());
                })
                .await;
        });
    }

    /// Counts one TURN credential for `client` against `per_minute`, across all nodes
    /// (one script); `Ok(false)` once the budget is spent, `Err` if Redis could not be
    /// asked.
    pub async fn take_turn_credential(
        &self,
        client: ClientKey,
        per_minute: u32,
    ) -> redis::RedisResult<bool> {
        self.script("budget", &self.scripts.budget, |call| {
            call.arg(client.to_string());
            call.arg(per_minute);
        })
        .await
    }

    fn key(&self, kind: &str, id: &SessionId) -> String {
        format!("{}{kind}{}", self.settings.prefix, id.as_str())
    }

    /// Joins `peer` to `session_id` (one script: two slots, a third refused, a reconnect
    /// replacing the old socket wherever it lives).
    pub async fn join(
        self: &Arc<Self>,
        session_id: SessionId,
        peer: PeerId,
    ) -> Result<Member, JoinError> {
        if self.core.is_shutting_down() {
            return Err(JoinError::ShuttingDown);
        }
        let limits = &self.limits;
        let mut reply: Reply = self
            .script("join", &self.scripts.join, |call| {
                call.arg(session_id.as_str());
                call.arg(peer.as_str());
                call.arg(&self.node);
                call.arg(limits.max_sessions);
                call.arg(millis(limits.idle_timeout));
                call.arg(millis(limits.max_age));
            })
            .await
            .map_err(|_| JoinError::Unavailable)?;
        match reply.text().as_str() {
            "ok" => {}
            "ended" => return Err(JoinError::SessionEnded),
            "full" => {
                tracing::info!(session = %session_id, peer = %peer, "third participant refused");
                return Err(JoinError::SessionFull);
            }
            "overloaded" => return Err(JoinError::Overloaded),
            _ => return Err(JoinError::Unavailable),
        }
        let slot = reply.int() as u8;
        let generation = reply.int();
        let (created, new_participant, replaced) =
            (reply.int() == 1, reply.int() == 1, reply.int() == 1);
        if created {
            self.metrics().session_started();
            tracing::info!(session = %session_id, peer = %peer, "session started");
        } else if new_participant {
            tracing::info!(session = %session_id, peer = %peer, "peer joined");
        } else {
            tracing::info!(session = %session_id, peer = %peer, replaced, "peer reconnected");
        }
        let mailbox = self.wakes.register(session_id, slot, generation);
        // Queued frames are sent first: the socket reads its stream at once.
        mailbox.read_stream();
        Ok(Member {
            engine: Arc::clone(self),
            session: session_id,
            peer,
            slot,
            generation,
            epoch: self.epoch.load(Ordering::Acquire),
            mailbox,
            cursor: Mutex::new(Cursor::default()),
            left: AtomicBool::new(false),
        })
    }

    /// Starts this node's subscription to its wake-up channel, the task that stores its
    /// submits and the one that sends the acknowledgements no submit carried.
    pub fn spawn_subscriber(self: &Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(acks::flush(Arc::downgrade(self), Arc::clone(&self.acks)));
        tokio::spawn(submits::run(
            Arc::downgrade(self),
            Arc::clone(&self.submits),
        ));
        tokio::spawn(wake::subscribe(
            Arc::downgrade(self),
            self.client.clone(),
            format!("{}w:{}", self.settings.prefix, self.node),
        ))
    }

    /// How often the hub's sweeper runs [`Self::sweep`]: often enough for the heartbeat.
    pub fn sweep_period(&self) -> Duration {
        self.limits.sweep_interval.min(HEARTBEAT_EVERY)
    }

    /// Renews this node's heartbeat and runs one pass of the shared sweeper; returns how
    /// many sessions it ended.
    pub async fn sweep(&self) -> usize {
        let limits = &self.limits;
        let reply: redis::RedisResult<Reply> = self
            .script("sweep", &self.scripts.sweep, |call| {
                call.arg(&self.node);
                call.arg(millis(HEARTBEAT_TTL));
                call.arg(millis(limits.ended_ttl));
                call.arg(millis(limits.idle_timeout));
                call.arg(millis(limits.max_age));
                call.arg(SWEEP_BATCH);
            })
            .await;
        let Ok(mut reply) = reply else { return 0 };
        let registered = reply.int() == 1;
        let written_before = self.heartbeat_written.swap(true, Ordering::AcqRel);
        if !registered && written_before {
            // The others counted this node dead: its sockets lost their slots.
            tracing::warn!(node = %self.node, "this node's heartbeat was late; closing its sockets");
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.wakes.wake_all();
        }
        let dropped = reply.int();
        if dropped > 0 {
            tracing::info!(dropped, "sockets of a dead node counted as dropped");
        }
        let mut ended = 0;
        while !reply.is_empty() {
            let session = reply.text();
            let reason = EndReason::parse(&reply.text()).unwrap_or(EndReason::IdleTimeout);
            self.metrics().session_ended(reason);
            tracing::info!(session = %session, reason = reason.as_str(), "session ended");
            ended += 1;
        }
        ended
    }

    /// Wakes every socket of this node (shutdown, or a catch-up after a resubscribe).
    pub(super) fn wake_all(&self) {
        self.wakes.wake_all();
    }

    /// Sends a batch of this node's acknowledgements (one script); `false` if Redis could
    /// not take it.
    async fn acknowledge(&self, batch: &[(SocketKey, u64)]) -> bool {
        let acked: redis::RedisResult<u64> = self
            .script("ack", &self.scripts.ack, |call| {
                for ((session, slot, generation), through) in batch {
                    call.arg(session.as_str());
                    call.arg(*slot);
                    call.arg(*generation);
                    call.arg(*through);
                }
            })
            .await;
        let Ok(acked) = acked else { return false };
        self.metrics().delivered_many(acked);
        true
    }

    /// Stores a batch of this node's submits (one script); `None` if Redis could not
    /// take it.
    async fn store(&self, batch: &[Submit]) -> Option<Vec<Stored>> {
        let limits = &self.limits;
        let mut reply: Reply = self
            .script("submit", &self.scripts.submit, |call| {
                call.arg(limits.queue_messages);
                call.arg(limits.queue_bytes);
                call.arg(limits.max_queued_bytes);
                call.arg(millis(limits.max_age));
                for submit in batch {
                    let (session, slot, generation) = &submit.socket;
                    call.arg(session.as_str());
                    call.arg(*slot);
                    call.arg(*generation);
                    call.arg(submit.kind.as_str());
                    call.arg(submit.text.as_ref());
                    call.arg(submit.text.len());
                    call.arg(submit.ack);
                }
            })
            .await
            .ok()?;
        let stored = batch
            .iter()
            .map(|_| Stored {
                outcome: submits::outcome(&reply.text()),
                recipient_connected: reply.int() == 1,
                waiting: reply.int(),
                acked: reply.int(),
            })
            .collect();
        Some(stored)
    }

    async fn hash_fields(&self, id: &SessionId, fields: &[&str]) -> Vec<Option<String>> {
        let key = self.key("s:", id);
        self.run("hmget", async |conn| {
            redis::cmd("HMGET")
                .arg(&key)
                .arg(fields)
                .query_async(conn)
                .await
        })
        .await
        .unwrap_or_default()
    }

    pub async fn connected_count(&self, id: &SessionId) -> usize {
        self.hash_fields(id, &["n0", "n1"])
            .await
            .iter()
            .filter(|node| node.as_deref().is_some_and(|n| !n.is_empty()))
            .count()
    }

    pub async fn holds_socket(&self, id: &SessionId, peer: &PeerId) -> bool {
        let fields = self.hash_fields(id, &["p0", "p1", "n0", "n1"]).await;
        (0..2).any(|slot| {
            fields.get(slot).and_then(Option::as_deref) == Some(peer.as_str())
                && fields
                    .get(slot + 2)
                    .and_then(Option::as_deref)
                    .is_some_and(|n| !n.is_empty())
        })
    }

    pub async fn queued(&self, id: &SessionId) -> (usize, usize) {
        let fields = self.hash_fields(id, &["qm", "qb"]).await;
        let number = |i: usize| {
            fields
                .get(i)
                .and_then(Option::as_deref)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (number(0), number(1))
    }

    pub async fn session_count(&self) -> usize {
        let key = format!("{}active", self.settings.prefix);
        self.run("zcard", async |conn| conn.zcard(&key).await)
            .await
            .unwrap_or(0)
    }

    pub async fn queued_bytes_total(&self) -> usize {
        let key = format!("{}qbytes", self.settings.prefix);
        let bytes: Option<i64> = self
            .run("get", async |conn| conn.get(&key).await)
            .await
            .unwrap_or(None);
        bytes.and_then(|b| usize::try_from(b).ok()).unwrap_or(0)
    }

    /// The engine's lines for `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        write_family(
            out,
            "homecall_redis_commands_total",
            "counter",
            "Scripts and commands this node sent to Redis.",
            &[("", read(&self.stats.commands))],
        );
        write_family(
            out,
            "homecall_redis_errors_total",
            "counter",
            "Redis commands that failed or timed out.",
            &[("", read(&self.stats.errors))],
        );
        write_family(
            out,
            "homecall_redis_command_microseconds_total",
            "counter",
            "Time spent waiting for Redis, over all commands.",
            &[("", read(&self.stats.micros))],
        );
        write_family(
            out,
            "homecall_redis_ready",
            "gauge",
            "1 while Redis answers and this node's subscription is up.",
            &[("", u64::from(self.is_ready()))],
        );
    }
}

/// What a socket has read, from its stream or from wake-ups.
#[derive(Debug, Default)]
struct Cursor {
    /// Frames read by the last poll, not yet handed out.
    read: VecDeque<wake::Carried>,
    /// The newest seq handed out or waiting in `read`: the next poll reads after it,
    /// and a carried frame is taken only if it is the one after it.
    read_through: u64,
}

/// What [`Cursor::take_carried`] found in the mailbox.
enum Carried {
    /// The next frame in order.
    Next(wake::Carried),
    /// Nothing new.
    Nothing,
    /// The stream must be read: asked for, or a frame came out of order (some were
    /// missed).
    ReadStream,
}

impl Cursor {
    /// The first carried frame that is the next one in order, dropping those already
    /// read from the stream.
    fn take_carried(&mut self, mailbox: &Mailbox) -> Carried {
        let mut inbox = mailbox.inbox();
        if std::mem::take(&mut inbox.read_stream) {
            inbox.frames.clear();
            return Carried::ReadStream;
        }
        while let Some(frame) = inbox.frames.pop_front() {
            if frame.0 <= self.read_through {
                continue;
            }
            if frame.0 == self.read_through + 1 {
                self.read_through = frame.0;
                return Carried::Next(frame);
            }
            inbox.frames.clear();
            return Carried::ReadStream;
        }
        Carried::Nothing
    }
}

/// A socket's membership in a Redis session.
#[derive(Debug)]
pub struct Member {
    engine: Arc<RedisEngine>,
    session: SessionId,
    peer: PeerId,
    slot: u8,
    /// The slot's generation this socket got at join: the fence against a replaced socket.
    generation: u64,
    /// The engine's epoch at join (see [`RedisEngine::epoch`]).
    epoch: u64,
    mailbox: Arc<Mailbox>,
    cursor: Mutex<Cursor>,
    left: AtomicBool,
}

impl Member {
    pub fn session_id(&self) -> &SessionId {
        &self.session
    }

    pub fn peer_id(&self) -> &PeerId {
        &self.peer
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor> {
        self.cursor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket_key(&self) -> SocketKey {
        (self.session, self.slot, self.generation)
    }

    /// This socket's acknowledgement not yet sent, taken to send now (0: none).
    fn take_ack(&self) -> u64 {
        self.engine.acks.take(&self.socket_key())
    }

    /// Stores a valid frame in the other participant's stream (with the node's next
    /// batch: this socket's acknowledgement, the bounds, the append and the recipient
    /// node's wake-up, which carries the frame).
    pub async fn submit(&self, kind: Kind, text: Bytes) -> Result<Decision, SubmitError> {
        let engine = &self.engine;
        let ack = self.take_ack();
        let (answer, stored) = tokio::sync::oneshot::channel();
        engine.submits.push(Submit {
            socket: self.socket_key(),
            kind,
            text,
            ack,
            answer,
        });
        let Some(stored) = stored.await.ok().flatten() else {
            if ack > 0 {
                engine.acks.mark(self.socket_key(), ack);
            }
            return Err(SubmitError::Unavailable);
        };
        engine.metrics().delivered_many(stored.acked);
        stored.outcome?;
        engine.metrics().accepted(stored.recipient_connected);
        Ok(Decision {
            submitted: Submitted {
                recipient_connected: stored.recipient_connected,
                waiting: usize::try_from(stored.waiting).unwrap_or(usize::MAX),
            },
            direct: None,
        })
    }

    /// The next frame for this socket, or why it must close. Takes the frames that
    /// wake-ups carried while they come in order; reads the stream (one script, which
    /// also sends this socket's acknowledgement) when asked to or after a gap.
    pub async fn next_outbound(&self) -> Outbound {
        let engine = &self.engine;
        if engine.core.is_shutting_down() || engine.epoch.load(Ordering::Acquire) != self.epoch {
            return Outbound::ShuttingDown;
        }
        let after = {
            let mut cursor = self.cursor();
            if let Some((seq, kind, text)) = cursor.read.pop_front() {
                return Outbound::Frame { seq, kind, text };
            }
            match cursor.take_carried(&self.mailbox) {
                Carried::Next((seq, kind, text)) => return Outbound::Frame { seq, kind, text },
                Carried::Nothing => return Outbound::Idle,
                Carried::ReadStream => cursor.read_through,
            }
        };
        let ack = self.take_ack();
        let reply: redis::RedisResult<Reply> = engine
            .script("poll", &engine.scripts.poll, |call| {
                call.arg(self.session.as_str());
                call.arg(self.slot);
                call.arg(self.generation);
                call.arg(ack);
                call.arg(after);
                call.arg(POLL_BATCH);
            })
            .await;
        // Redis unreachable: nothing to send now; the stream is read on the next wake-up
        // (the subscription breaks too, and its resubscription wakes every socket).
        let Ok(mut reply) = reply else {
            if ack > 0 {
                engine.acks.mark(self.socket_key(), ack);
            }
            self.mailbox.inbox().read_stream = true;
            return Outbound::Idle;
        };
        match reply.text().as_str() {
            "ok" => {}
            "replaced" => return Outbound::Replaced,
            "ended" => {
                return Outbound::Ended(
                    EndReason::parse(&reply.text()).unwrap_or(EndReason::IdleTimeout),
                );
            }
            _ => return Outbound::Idle,
        }
        engine.metrics().delivered_many(reply.int());
        let mut cursor = self.cursor();
        let mut read = 0;
        while !reply.is_empty() {
            let seq = reply.int();
            let kind = kind_of(&reply.text());
            let text = reply.bytes();
            cursor.read_through = cursor.read_through.max(seq);
            cursor.read.push_back((seq, kind, text));
            read += 1;
        }
        if read == POLL_BATCH {
            // There may be more: read on after these.
            self.mailbox.inbox().read_stream = true;
        }
        match cursor.read.pop_front() {
            Some((seq, kind, text)) => Outbound::Frame { seq, kind, text },
            None => Outbound::Idle,
        }
    }

    /// The frame `seq` was written to the client; its acknowledgement goes to Redis with
    /// this socket's next submit, or in the node's next batch.
    pub fn delivered(&self, seq: u64) {
        self.engine.acks.mark(self.socket_key(), seq);
    }

    pub async fn count_invalid(&self) -> u32 {
        let key = self.engine.key("s:", &self.session);
        let field = format!("i{}", self.slot);
        self.engine
            .run("hincrby", async |conn| conn.hincr(&key, &field, 1).await)
            .await
            .unwrap_or(0)
    }

    pub async fn changed(&self) {
        self.mailbox.changed().await;
    }

    /// The participant closed with 1000: ends the session for both, wherever they are.
    pub async fn hang_up(self) -> bool {
        let engine = &self.engine;
        let ended: bool = engine
            .script("hang_up", &engine.scripts.hang_up, |call| {
                call.arg(self.session.as_str());
                call.arg(self.slot);
                call.arg(self.generation);
                call.arg(millis(engine.limits.ended_ttl));
            })
            .await
            .unwrap_or(false);
        // The session's queues are gone with it.
        self.take_ack();
        if ended {
            engine.metrics().session_ended(EndReason::HangUp);
            tracing::info!(session = %self.session, reason = "hang_up", "session ended");
        }
        self.left.store(true, Ordering::Release);
        ended
    }

    /// A drop: acknowledges what this socket wrote and frees its slot.
    pub async fn leave(self) {
        self.leave_now().await;
    }

    async fn leave_now(&self) {
        if self.left.swap(true, Ordering::AcqRel) {
            return;
        }
        let ack = self.take_ack();
        self.engine
            .leave_slot(self.session, self.slot, self.generation, ack)
            .await;
    }
}

impl RedisEngine {
    /// Frees `slot` of `session` if `generation` still holds it, after acknowledging the
    /// frames it wrote up to seq `ack`.
    async fn leave_slot(&self, session: SessionId, slot: u8, generation: u64, ack: u64) {
        let acked: redis::RedisResult<u64> = self
            .script("leave", &self.scripts.leave, |call| {
                call.arg(session.as_str());
                call.arg(slot);
                call.arg(generation);
                call.arg(&self.node);
                call.arg(ack);
                call.arg(millis(self.limits.idle_timeout));
                call.arg(millis(self.limits.max_age));
            })
            .await;
        self.metrics().delivered_many(acked.unwrap_or(0));
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.engine
            .wakes
            .unregister(self.session, self.slot, self.generation);
        if self.left.load(Ordering::Acquire) {
            return;
        }
        // Dropped without `leave` (its task was cancelled): leave in the background. If
        // that never runs (the runtime is ending), the node's heartbeat stops and the
        // others count the socket dropped.
        self.left.store(true, Ordering::Release);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let engine = Arc::clone(&self.engine);
        let (session, slot, generation) = (self.session, self.slot, self.generation);
        let ack = self.take_ack();
        runtime.spawn(async move { engine.leave_slot(session, slot, generation, ack).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> wake::Carried {
        (seq, Kind::Candidate, Bytes::from(seq.to_string()))
    }

    fn carried(cursor: &mut Cursor, mailbox: &Mailbox) -> Option<u64> {
        match cursor.take_carried(mailbox) {
            Carried::Next((seq, _, _)) => Some(seq),
            Carried::Nothing => None,
            Carried::ReadStream => Some(0),
        }
    }

    fn cursor_after(seq: u64) -> Cursor {
        Cursor {
            read_through: seq,
            ..Cursor::default()
        }
    }

    #[test]
    fn carried_frames_are_taken_in_order_and_those_already_read_are_dropped() {
        let mailbox = Mailbox::default();
        let mut cursor = cursor_after(4);
        mailbox.inbox().frames.extend([3, 4, 5, 6].map(frame));
        assert_eq!(carried(&mut cursor, &mailbox), Some(5));
        assert_eq!(carried(&mut cursor, &mailbox), Some(6));
        assert_eq!(carried(&mut cursor, &mailbox), None);
        assert_eq!(cursor.read_through, 6);
    }

    #[test]
    fn a_gap_in_the_carried_frames_sends_the_socket_to_its_stream() {
        let mailbox = Mailbox::default();
        let mut cursor = cursor_after(4);
        mailbox.inbox().frames.extend([6, 7].map(frame));
        assert_eq!(carried(&mut cursor, &mailbox), Some(0), "5 was missed");
        assert!(mailbox.inbox().frames.is_empty(), "the stream has them all");
        assert_eq!(cursor.read_through, 4, "the poll reads after 4");
    }

    #[test]
    fn a_wake_up_without_a_frame_sends_the_socket_to_its_stream_once() {
        let mailbox = Mailbox::default();
        let mut cursor = Cursor::default();
        mailbox.inbox().frames.push_back(frame(1));
        mailbox.read_stream();
        assert_eq!(carried(&mut cursor, &mailbox), Some(0));
        assert_eq!(carried(&mut cursor, &mailbox), None);
    }
}
