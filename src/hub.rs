//! The `/signal` hub (PROTOCOL.md §3, §4): sessions of two participants, bounded FIFO
//! queues between them, and their lifecycle (hang-up, idle timeout, maximum age, ended ids).
//!
//! Owns: the limits, the counters and the socket bookkeeping every engine shares, and the
//! choice of engine that keeps the rules: [`memory`] (one process, the default) or
//! [`redis`] (nodes sharing one Redis, `--redis-url`). Must not touch any transport type:
//! axum lives only in [`socket`], which acts on the decisions a [`Membership`] returns.
//!
//! - [`engine`]: the seam: what a socket asks, what the engine decides.
//! - [`memory`]: sessions, queues and ended ids in this process.
//! - [`redis`]: the same rules in Redis, for more than one node.
//! - [`rate`]: the per-socket token bucket.
//! - [`direct`]: the contract for writing a frame straight to an idle recipient's socket.
//! - [`metrics`]: counters and their Prometheus rendering.
//! - [`per_ip`]: open sockets and new sessions per client address.
//! - [`socket`]: the WebSocket upgrade and the per-socket task.

pub mod direct;
pub mod engine;
pub mod memory;
pub mod metrics;
pub mod per_ip;
mod rate;
pub mod redis;
pub mod socket;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::protocol::{MAX_INVALID_MESSAGES, PeerId, SessionId};
use memory::MemoryEngine;
use metrics::{Gauges, HubMetrics};
use per_ip::{AdmitError, ClientBounds, ClientKey, ClientTicket, Clients};
use redis::{RedisEngine, RedisSettings, RedisStartError};

pub use direct::{DirectWrite, WriteNow};
pub use engine::{Decision, EndReason, JoinError, Membership, Outbound, SubmitError, Submitted};
pub use memory::DirectTicket;

/// Every limit and timer of the hub. `Default` gives PROTOCOL.md's values; tests shorten
/// the timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubLimits {
    /// Largest valid message; a larger frame up to `hard_frame_bytes` is `bad_message`.
    pub max_message_bytes: usize,
    /// The WebSocket layer refuses frames beyond this and the socket is closed (1009).
    pub hard_frame_bytes: usize,
    /// Frames stored per session, both directions together.
    pub queue_messages: usize,
    /// Bytes stored per session, both directions together.
    pub queue_bytes: usize,
    /// Messages per second one socket may send, on average ...
    pub rate_per_second: u32,
    /// ... and in one burst.
    pub rate_burst: u32,
    /// A session nobody has been connected to for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after it began, connected or not.
    pub max_age: Duration,
    /// How often the server pings each socket.
    pub ping_interval: Duration,
    /// A socket from which nothing arrived for this long is dropped; also the longest a
    /// single write to a client may take.
    pub silence_timeout: Duration,
    /// Ended ids are remembered this long ...
    pub ended_ttl: Duration,
    /// ... but never more than this many (the oldest are forgotten first).
    pub ended_capacity: usize,
    /// Invalid messages one socket may send; the last one closes it with 1008.
    pub max_invalid_messages: u32,
    /// Active sessions the hub keeps; a socket naming a new session beyond this is closed
    /// with 1013 (try again later). Not in PROTOCOL.md: a guard on memory.
    pub max_sessions: usize,
    /// Bytes all sessions' queues may hold together (text plus a small per-frame
    /// overhead); a message past it gets `queue_full`. Not in PROTOCOL.md: a guard on
    /// memory against many sessions each filling its own bound.
    pub max_queued_bytes: usize,
    /// Sockets that may hold a read buffer grown by a frame over `max_message_bytes`
    /// (up to `hard_frame_bytes` each, kept for the socket's life): beyond it, such a
    /// frame closes its socket with 1013 instead of getting `bad_message`. Not in
    /// PROTOCOL.md: a guard on memory (no page sends such frames).
    pub max_large_frame_sockets: usize,
    /// The IPv6 prefix length by which new sessions are counted per address: one home or
    /// customer usually holds a /56 (sockets are still counted per /64).
    pub ipv6_session_prefix: u8,
    /// Signal sockets one client address may hold open at once (IPv6: one /64). Not in
    /// PROTOCOL.md: a guard against hostile clients; beyond it the upgrade gets HTTP 429.
    pub max_sockets_per_ip: usize,
    /// Sessions one client address may start per minute (a bucket of this many, refilled
    /// over a minute). Beyond it an upgrade naming a new session gets HTTP 429.
    pub new_sessions_per_ip_per_minute: u32,
    /// How often the sweeper looks for idle, old and forgotten sessions.
    pub sweep_interval: Duration,
    /// How long the hub waits for a client's close reply after sending its own close.
    pub close_grace: Duration,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            hard_frame_bytes: 1024 * 1024,
            queue_messages: 256,
            queue_bytes: 512 * 1024,
            rate_per_second: 100,
            rate_burst: 400,
            idle_timeout: Duration::from_secs(10 * 60),
            max_age: Duration::from_secs(12 * 60 * 60),
            ping_interval: Duration::from_secs(20),
            silence_timeout: Duration::from_secs(60),
            ended_ttl: Duration::from_secs(24 * 60 * 60),
            ended_capacity: 1_000_000,
            max_invalid_messages: MAX_INVALID_MESSAGES,
            max_sessions: 100_000,
            max_queued_bytes: 256 * 1024 * 1024,
            max_large_frame_sockets: 256,
            ipv6_session_prefix: 56,
            max_sockets_per_ip: 20,
            new_sessions_per_ip_per_minute: 30,
            sweep_interval: Duration::from_secs(5),
            close_grace: Duration::from_secs(5),
        }
    }
}

/// A [`HubLimits`] the hub cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("hub limit `{0}` must be greater than zero")]
    Zero(&'static str),
    #[error("max_message_bytes must not exceed hard_frame_bytes")]
    MessageOverHardLimit,
    #[error("ping_interval must be shorter than silence_timeout")]
    PingNotBeforeSilence,
    #[error("ipv6_session_prefix must be between 1 and 64, not {0}")]
    Ipv6Prefix(u8),
}

impl HubLimits {
    /// Checks the limits a configuration produced (the defaults pass). [`Hub::new`] does
    /// not fail: it raises zero timers to one millisecond instead.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let counts = [
            ("max_message_bytes", self.max_message_bytes),
            ("hard_frame_bytes", self.hard_frame_bytes),
            ("queue_messages", self.queue_messages),
            ("queue_bytes", self.queue_bytes),
            ("rate_per_second", self.rate_per_second as usize),
            ("rate_burst", self.rate_burst as usize),
            ("ended_capacity", self.ended_capacity),
            ("max_invalid_messages", self.max_invalid_messages as usize),
            ("max_sessions", self.max_sessions),
            ("max_queued_bytes", self.max_queued_bytes),
            ("max_large_frame_sockets", self.max_large_frame_sockets),
            ("max_sockets_per_ip", self.max_sockets_per_ip),
            (
                "new_sessions_per_ip_per_minute",
                self.new_sessions_per_ip_per_minute as usize,
            ),
        ];
        let timers = [
            ("idle_timeout", self.idle_timeout),
            ("max_age", self.max_age),
            ("ping_interval", self.ping_interval),
            ("silence_timeout", self.silence_timeout),
            ("ended_ttl", self.ended_ttl),
            ("sweep_interval", self.sweep_interval),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, value)| *value == 0) {
            return Err(LimitsError::Zero(name));
        }
        if let Some((name, _)) = timers.iter().find(|(_, value)| value.is_zero()) {
            return Err(LimitsError::Zero(name));
        }
        if self.max_message_bytes > self.hard_frame_bytes {
            return Err(LimitsError::MessageOverHardLimit);
        }
        if self.ping_interval >= self.silence_timeout {
            return Err(LimitsError::PingNotBeforeSilence);
        }
        if !(1..=64).contains(&self.ipv6_session_prefix) {
            return Err(LimitsError::Ipv6Prefix(self.ipv6_session_prefix));
        }
        Ok(())
    }
}

/// What every engine shares: the counters and the shutdown flag.
#[derive(Debug, Default)]
pub struct Core {
    metrics: HubMetrics,
    shutting_down: AtomicBool,
}

impl Core {
    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// The engine that keeps the hub's rules.
#[derive(Debug)]
enum Engine {
    Memory(Arc<MemoryEngine>),
    Redis(Arc<RedisEngine>),
}

/// The hub: shared by every socket as `Arc<Hub>`.
#[derive(Debug)]
pub struct Hub {
    limits: HubLimits,
    core: Arc<Core>,
    engine: Engine,
    /// Woken when a socket leaves; lets shutdown wait for the sockets to close.
    left: Notify,
    live_sockets: AtomicU64,
    /// Per-address counts; its own lock, never nested with an engine's.
    clients: Clients,
    /// Sockets holding a read buffer grown by a large frame, against
    /// `max_large_frame_sockets`.
    large_frame_sockets: AtomicU64,
}

impl Hub {
    /// A hub with the memory engine (one process).
    pub fn new(limits: HubLimits) -> Arc<Hub> {
        let limits = Self::usable(limits);
        let core = Arc::new(Core::default());
        let engine = Engine::Memory(MemoryEngine::new(limits.clone(), Arc::clone(&core)));
        Self::with_engine(limits, core, engine)
    }

    /// A hub with the Redis engine: this process is one node of many sharing `settings`'
    /// Redis. Fails if Redis cannot be reached now.
    pub async fn with_redis(
        limits: HubLimits,
        settings: RedisSettings,
    ) -> Result<Arc<Hub>, RedisStartError> {
        let limits = Self::usable(limits);
        let core = Arc::new(Core::default());
        let engine = RedisEngine::connect(settings, limits.clone(), Arc::clone(&core)).await?;
        Ok(Self::with_engine(limits, core, Engine::Redis(engine)))
    }

    fn usable(mut limits: HubLimits) -> HubLimits {
        // tokio intervals panic on a zero period.
        for timer in [&mut limits.ping_interval, &mut limits.sweep_interval] {
            *timer = (*timer).max(Duration::from_millis(1));
        }
        limits
    }

    fn with_engine(limits: HubLimits, core: Arc<Core>, engine: Engine) -> Arc<Hub> {
        let clients = Clients::new(ClientBounds {
            max_sockets: limits.max_sockets_per_ip,
            new_sessions_per_minute: limits.new_sessions_per_ip_per_minute,
            ipv6_session_prefix: limits.ipv6_session_prefix,
        });
        Arc::new(Hub {
            limits,
            core,
            engine,
            left: Notify::new(),
            live_sockets: AtomicU64::new(0),
            clients,
            large_frame_sockets: AtomicU64::new(0),
        })
    }

    pub fn limits(&self) -> &HubLimits {
        &self.limits
    }

    /// The memory engine, if this hub runs it (its synchronous API, for property tests).
    pub fn memory(&self) -> Option<&Arc<MemoryEngine>> {
        match &self.engine {
            Engine::Memory(engine) => Some(engine),
            Engine::Redis(_) => None,
        }
    }

    /// The Redis engine, if this hub runs it (for what is shared across nodes beyond
    /// the sessions, such as the TURN credential budget).
    pub fn redis(&self) -> Option<&Arc<RedisEngine>> {
        match &self.engine {
            Engine::Memory(_) => None,
            Engine::Redis(engine) => Some(engine),
        }
    }

    /// The engine's name, for logs and `/metrics`.
    pub fn engine_name(&self) -> &'static str {
        match &self.engine {
            Engine::Memory(_) => "memory",
            Engine::Redis(_) => "redis",
        }
    }

    /// Whether this node can serve (`/healthz`): always with the memory engine; with
    /// Redis, while Redis answers and this node's subscription is up.
    pub fn is_ready(&self) -> bool {
        match &self.engine {
            Engine::Memory(_) => !self.is_shutting_down(),
            Engine::Redis(engine) => !self.is_shutting_down() && engine.is_ready(),
        }
    }

    /// Lets a client at `ip` open one more socket, naming `session` if its link has a
    /// good one: refused when the address holds `max_sockets_per_ip` sockets, or when the
    /// session is new (neither active nor ended) and the address has started
    /// `new_sessions_per_ip_per_minute` sessions in the last minute. The ticket holds the
    /// socket's place until it is dropped.
    pub async fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        session: Option<&SessionId>,
    ) -> Result<ClientTicket, AdmitError> {
        let now = Instant::now();
        match &self.engine {
            Engine::Memory(engine) => {
                let new_session = session.is_some_and(|id| engine.is_new_session(id, now));
                let key = self.clients.admit(ip, new_session, now)?;
                Ok(ClientTicket::new(Arc::clone(self), key, true))
            }
            Engine::Redis(engine) => {
                let key = ClientKey::of(ip);
                let network = ClientKey::with_ipv6_prefix(ip, self.limits.ipv6_session_prefix);
                let counted = engine.admit_client(key, network, session).await?;
                Ok(ClientTicket::new(Arc::clone(self), key, counted))
            }
        }
    }

    /// Gives back a socket's place in its address's count.
    pub(crate) fn release_client(&self, key: ClientKey) {
        match &self.engine {
            Engine::Memory(_) => self.clients.release(key),
            Engine::Redis(engine) => engine.release_client(key),
        }
    }

    /// Joins `peer` to `session_id`, creating the session if the id is new. A peer that
    /// is already a participant replaces its old socket (which is told to close 4001),
    /// wherever it lives. With a `writer` (memory engine), a frame for this socket may be
    /// written straight to it while it is idle; without one, this socket's task sends
    /// every frame.
    pub async fn join(
        self: &Arc<Self>,
        session_id: SessionId,
        peer: PeerId,
        writer: Option<Arc<dyn DirectWrite>>,
    ) -> Result<Membership, JoinError> {
        match &self.engine {
            Engine::Memory(engine) => engine
                .join(session_id, peer, writer)
                .map(|member| Membership::memory(Arc::clone(self), member)),
            Engine::Redis(engine) => engine
                .join(session_id, peer)
                .await
                .map(|member| Membership::redis(Arc::clone(self), member)),
        }
    }

    /// One pass of the sweeper: ends idle and old sessions, forgets old ids (and with
    /// Redis renews this node's heartbeat). Returns how many sessions it ended.
    pub async fn sweep(&self) -> usize {
        let now = Instant::now();
        self.clients.sweep(now);
        match &self.engine {
            Engine::Memory(engine) => engine.sweep(now),
            Engine::Redis(engine) => engine.sweep().await,
        }
    }

    /// Starts the sweeper (and with Redis this node's subscription): every sweep period
    /// it ends idle and old sessions and forgets old ended ids (with Redis it also renews
    /// this node's heartbeat). It stops on shutdown or when the hub is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>) -> JoinHandle<()> {
        let (period, subscriber) = match &self.engine {
            Engine::Memory(_) => (self.limits.sweep_interval, None),
            Engine::Redis(engine) => (engine.sweep_period(), Some(engine.spawn_subscriber())),
        };
        let hub: Weak<Hub> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(hub) = hub.upgrade() else { break };
                if hub.is_shutting_down() {
                    break;
                }
                hub.sweep().await;
            }
            if let Some(subscriber) = subscriber {
                subscriber.abort();
            }
        })
    }

    /// Closes every live socket with 1001 and refuses new ones. Sessions are not ended:
    /// for clients this is a drop, and they reconnect (to another node).
    pub fn shutdown(&self) {
        if self.core.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        match &self.engine {
            Engine::Memory(engine) => engine.wake_all(),
            Engine::Redis(engine) => {
                tracing::info!("hub shutting down");
                engine.wake_all();
            }
        }
    }

    /// Resolves when no socket is left (after [`Hub::shutdown`], bounded by each
    /// socket's `close_grace`). Wrap it in a timeout if a bound is needed.
    pub async fn sockets_closed(&self) {
        loop {
            let left = self.left.notified();
            if self.live_sockets.load(Ordering::SeqCst) == 0 {
                return;
            }
            left.await;
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.core.is_shutting_down()
    }

    /// Active sessions (with Redis: on all nodes).
    pub async fn session_count(&self) -> usize {
        match &self.engine {
            Engine::Memory(engine) => engine.session_count(),
            Engine::Redis(engine) => engine.session_count().await,
        }
    }

    /// Ended ids remembered by the memory engine (Redis keeps them as keys with a TTL).
    pub fn ended_count(&self) -> usize {
        self.memory().map_or(0, |engine| engine.ended_count())
    }

    /// Sockets connected to `session_id` (0 if it is not active).
    pub async fn connected_count(&self, session_id: &SessionId) -> usize {
        match &self.engine {
            Engine::Memory(engine) => engine.connected_count(session_id),
            Engine::Redis(engine) => engine.connected_count(session_id).await,
        }
    }

    /// Whether `peer` holds a live socket of the active session `session_id` (the proof a
    /// page gives for TURN credentials).
    pub async fn holds_socket(&self, session_id: &SessionId, peer: &PeerId) -> bool {
        match &self.engine {
            Engine::Memory(engine) => engine.holds_socket(session_id, peer),
            Engine::Redis(engine) => engine.holds_socket(session_id, peer).await,
        }
    }

    /// Frames and bytes queued in `session_id`, both directions (0 if it is not active).
    pub async fn queued(&self, session_id: &SessionId) -> (usize, usize) {
        match &self.engine {
            Engine::Memory(engine) => engine.queued(session_id),
            Engine::Redis(engine) => engine.queued(session_id).await,
        }
    }

    /// Bytes all queues hold together, as counted against `max_queued_bytes`.
    pub async fn queued_bytes_total(&self) -> usize {
        match &self.engine {
            Engine::Memory(engine) => engine.queued_bytes_total(),
            Engine::Redis(engine) => engine.queued_bytes_total().await,
        }
    }

    /// The hub's counters (the socket edge bumps the ones it sees).
    pub fn metrics(&self) -> &HubMetrics {
        &self.core.metrics
    }

    /// Every counter and gauge in the Prometheus text format. With Redis the session
    /// gauges are this node's view of the whole cluster, the socket gauge this node's.
    pub async fn render_metrics(&self) -> String {
        let (gauges, extra) = match &self.engine {
            Engine::Memory(engine) => {
                let (sessions_active, queued_messages, queued_bytes, ended_ids_remembered) =
                    engine.totals();
                let gauges = Gauges {
                    sessions_active,
                    sockets_connected: self.live_socket_count(),
                    queued_messages,
                    queued_bytes,
                    ended_ids_remembered,
                };
                (gauges, String::new())
            }
            Engine::Redis(engine) => {
                let gauges = Gauges {
                    sessions_active: engine.session_count().await,
                    sockets_connected: self.live_socket_count(),
                    queued_messages: 0,
                    queued_bytes: engine.queued_bytes_total().await,
                    ended_ids_remembered: 0,
                };
                let mut extra = String::new();
                engine.render_metrics(&mut extra);
                (gauges, extra)
            }
        };
        metrics::render(self.metrics(), gauges) + &extra
    }

    /// Sockets being served, from upgrade to close (for metrics and tests).
    pub fn live_socket_count(&self) -> u64 {
        self.live_sockets.load(Ordering::SeqCst)
    }

    /// A place for one socket whose read buffer a frame over `max_message_bytes` grew, or
    /// `None` when `max_large_frame_sockets` hold one. The place is given back on drop.
    pub(crate) fn large_frame_place(self: &Arc<Self>) -> Option<LargeFramePlace> {
        let max = self.limits.max_large_frame_sockets as u64;
        self.large_frame_sockets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < max).then_some(held + 1)
            })
            .ok()?;
        Some(LargeFramePlace {
            hub: Arc::clone(self),
        })
    }

    /// Counts a socket task for [`Hub::sockets_closed`]; the guard uncounts it on drop.
    pub(crate) fn socket_guard(self: &Arc<Self>) -> SocketGuard {
        self.live_sockets.fetch_add(1, Ordering::SeqCst);
        SocketGuard {
            hub: Arc::clone(self),
        }
    }
}

/// One socket holding a grown read buffer (see [`Hub::large_frame_place`]).
#[derive(Debug)]
pub(crate) struct LargeFramePlace {
    hub: Arc<Hub>,
}

impl Drop for LargeFramePlace {
    fn drop(&mut self) {
        self.hub.large_frame_sockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One live socket task (see [`Hub::socket_guard`]).
#[derive(Debug)]
pub(crate) struct SocketGuard {
    hub: Arc<Hub>,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.hub.live_sockets.fetch_sub(1, Ordering::SeqCst);
        self.hub.left.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Kind;
    use bytes::Bytes;
    use memory::Member;

    /// The hub and its memory engine, whose synchronous API these tests drive.
    fn memory_hub(limits: HubLimits) -> (Arc<Hub>, Arc<MemoryEngine>) {
        let hub = Hub::new(limits);
        let engine = Arc::clone(hub.memory().expect("the default engine"));
        (hub, engine)
    }

    fn ids() -> (SessionId, PeerId, PeerId, PeerId) {
        (
            SessionId::from_random_bytes([1; 16]),
            PeerId::parse("alice-0001").unwrap(),
            PeerId::parse("bob-00002").unwrap(),
            PeerId::parse("carol-0003").unwrap(),
        )
    }

    fn frame(member: &Member) -> Option<Bytes> {
        match member.next_outbound() {
            Outbound::Frame { seq, text, .. } => {
                member.delivered(seq);
                Some(text)
            }
            _ => None,
        }
    }

    #[test]
    fn the_defaults_are_the_protocol_values() {
        let limits = HubLimits::default();
        assert_eq!(limits.max_message_bytes, 65_536);
        assert_eq!(limits.hard_frame_bytes, 1_048_576);
        assert_eq!((limits.queue_messages, limits.queue_bytes), (256, 524_288));
        assert_eq!((limits.rate_per_second, limits.rate_burst), (100, 400));
        assert_eq!(limits.idle_timeout, Duration::from_secs(600));
        assert_eq!(limits.max_age, Duration::from_secs(43_200));
        assert_eq!(limits.ping_interval, Duration::from_secs(20));
        assert_eq!(limits.silence_timeout, Duration::from_secs(60));
        assert!(limits.ended_ttl >= Duration::from_secs(86_400));
        assert_eq!(limits.max_invalid_messages, 20);
        assert_eq!(limits.validate(), Ok(()));
    }

    #[test]
    fn unusable_limits_are_named() {
        let zero = HubLimits {
            queue_bytes: 0,
            ..HubLimits::default()
        };
        assert_eq!(zero.validate(), Err(LimitsError::Zero("queue_bytes")));
        let timer = HubLimits {
            sweep_interval: Duration::ZERO,
            ..HubLimits::default()
        };
        assert_eq!(timer.validate(), Err(LimitsError::Zero("sweep_interval")));
        let over = HubLimits {
            max_message_bytes: 2 << 20,
            ..HubLimits::default()
        };
        assert_eq!(over.validate(), Err(LimitsError::MessageOverHardLimit));
        let ping = HubLimits {
            ping_interval: Duration::from_secs(60),
            ..HubLimits::default()
        };
        assert_eq!(ping.validate(), Err(LimitsError::PingNotBeforeSilence));
    }

    #[tokio::test]
    async fn frames_wait_for_the_other_peer_and_arrive_in_order() {
        let (_hub, mem) = memory_hub(HubLimits::default());
        let (id, a, b, _) = ids();
        let alice = mem.join(id, a, None).unwrap();
        for text in ["1", "2", "3"] {
            let sent = alice
                .submit(Kind::Candidate, Bytes::from(text))
                .unwrap()
                .submitted;
            assert!(!sent.recipient_connected);
        }
        let bob = mem.join(id, b, None).unwrap();
        let got: Vec<Bytes> = std::iter::from_fn(|| frame(&bob)).collect();
        assert_eq!(got, ["1", "2", "3"]);
        assert_eq!(bob.next_outbound(), Outbound::Idle);
        assert_eq!(alice.next_outbound(), Outbound::Idle);
    }

    #[tokio::test]
    async fn a_third_peer_is_refused_and_the_session_is_untouched() {
        let (_hub, mem) = memory_hub(HubLimits::default());
        let (id, a, b, c) = ids();
        let alice = mem.join(id, a, None).unwrap();
        let _bob = mem.join(id, b, None).unwrap();
        alice.submit(Kind::Offer, Bytes::from("x")).unwrap();
        assert_eq!(mem.join(id, c, None).unwrap_err(), JoinError::SessionFull);
        assert_eq!(mem.connected_count(&id), 2);
    }

    #[tokio::test]
    async fn a_reconnect_replaces_the_old_socket_and_keeps_the_queue() {
        let (_hub, mem) = memory_hub(HubLimits::default());
        let (id, a, b, _) = ids();
        let alice = mem.join(id, a, None).unwrap();
        let old_bob = mem.join(id, b.clone(), None).unwrap();
        alice.submit(Kind::Offer, Bytes::from("offer")).unwrap();
        let new_bob = mem.join(id, b, None).unwrap();
        assert_eq!(old_bob.next_outbound(), Outbound::Replaced);
        drop(old_bob);
        assert_eq!(mem.connected_count(&id), 2);
        assert_eq!(frame(&new_bob), Some(Bytes::from("offer")));
    }

    #[tokio::test]
    async fn hang_up_ends_the_session_and_its_id_stays_ended() {
        let (_hub, mem) = memory_hub(HubLimits::default());
        let (id, a, b, _) = ids();
        let alice = mem.join(id, a.clone(), None).unwrap();
        let bob = mem.join(id, b, None).unwrap();
        bob.submit(Kind::Offer, Bytes::from("x")).unwrap();
        assert!(alice.hang_up());
        assert_eq!(bob.next_outbound(), Outbound::Ended(EndReason::HangUp));
        assert_eq!(mem.session_count(), 0);
        assert_eq!(mem.join(id, a, None).unwrap_err(), JoinError::SessionEnded);
    }

    #[tokio::test]
    async fn a_dropped_socket_keeps_its_place() {
        let (_hub, mem) = memory_hub(HubLimits::default());
        let (id, a, b, c) = ids();
        let alice = mem.join(id, a.clone(), None).unwrap();
        let _bob = mem.join(id, b, None).unwrap();
        drop(alice);
        assert_eq!(mem.connected_count(&id), 1);
        assert_eq!(mem.join(id, c, None).unwrap_err(), JoinError::SessionFull);
        assert!(mem.join(id, a, None).is_ok());
    }

    #[tokio::test]
    async fn the_sweeper_ends_idle_and_old_sessions() {
        let limits = HubLimits {
            idle_timeout: Duration::from_secs(10),
            max_age: Duration::from_secs(100),
            ..HubLimits::default()
        };
        let (_hub, mem) = memory_hub(limits);
        let (idle, a, b, _) = ids();
        let old = SessionId::from_random_bytes([2; 16]);
        drop(mem.join(idle, a, None).unwrap());
        let bob = mem.join(old, b, None).unwrap();
        let now = Instant::now();
        assert_eq!(mem.sweep(now + Duration::from_secs(9)), 0);
        assert_eq!(mem.sweep(now + Duration::from_secs(11)), 1);
        assert_eq!(mem.session_count(), 1);
        assert_eq!(mem.sweep(now + Duration::from_secs(101)), 1);
        assert_eq!(bob.next_outbound(), Outbound::Ended(EndReason::MaxAge));
        assert_eq!(mem.session_count(), 0);
        assert_eq!(mem.ended_count(), 2);
    }

    #[tokio::test]
    async fn shutdown_tells_sockets_and_refuses_new_ones_without_ending_sessions() {
        let (hub, mem) = memory_hub(HubLimits::default());
        let (id, a, b, _) = ids();
        let alice = mem.join(id, a, None).unwrap();
        hub.shutdown();
        assert_eq!(alice.next_outbound(), Outbound::ShuttingDown);
        assert_eq!(mem.join(id, b, None).unwrap_err(), JoinError::ShuttingDown);
        assert_eq!(mem.session_count(), 1);
    }

    #[tokio::test]
    async fn the_hub_wide_queue_bound_refuses_past_it_across_sessions() {
        let (_hub, mem) = memory_hub(HubLimits {
            max_queued_bytes: 2 * (100 + memory::queue::FRAME_OVERHEAD),
            ..HubLimits::default()
        });
        let (first, a, b, _) = ids();
        let second = SessionId::from_random_bytes([7; 16]);
        let alice = mem.join(first, a, None).unwrap();
        let bob = mem.join(second, b, None).unwrap();
        let text = Bytes::from(vec![b'x'; 100]);
        alice.submit(Kind::Offer, text.clone()).unwrap();
        bob.submit(Kind::Offer, text.clone()).unwrap();
        assert_eq!(
            alice
                .submit(Kind::Candidate, Bytes::from("1"))
                .map(|decision| decision.submitted),
            Err(SubmitError::QueueFull)
        );
        assert!(alice.hang_up());
        assert_eq!(
            mem.queued_bytes_total(),
            100 + memory::queue::FRAME_OVERHEAD
        );
        assert!(bob.submit(Kind::Candidate, Bytes::from("1")).is_ok());
    }

    #[test]
    fn only_so_many_sockets_may_hold_a_grown_buffer() {
        let hub = Hub::new(HubLimits {
            max_large_frame_sockets: 2,
            ..HubLimits::default()
        });
        let first = hub.large_frame_place().unwrap();
        let _second = hub.large_frame_place().unwrap();
        assert!(hub.large_frame_place().is_none());
        drop(first);
        assert!(hub.large_frame_place().is_some());
    }

    #[tokio::test]
    async fn invalid_messages_are_counted_per_participant_across_reconnects() {
        let (_hub, mem) = memory_hub(HubLimits::default());
        let (id, a, _, _) = ids();
        let first = mem.join(id, a.clone(), None).unwrap();
        assert_eq!(first.count_invalid(), 1);
        assert_eq!(first.count_invalid(), 2);
        let second = mem.join(id, a, None).unwrap();
        drop(first);
        assert_eq!(second.count_invalid(), 3);
    }

    #[tokio::test]
    async fn new_sessions_beyond_the_bound_are_refused() {
        let (_hub, mem) = memory_hub(HubLimits {
            max_sessions: 1,
            ..HubLimits::default()
        });
        let (id, a, b, _) = ids();
        let _alice = mem.join(id, a, None).unwrap();
        let other = SessionId::from_random_bytes([9; 16]);
        assert_eq!(
            mem.join(other, b.clone(), None).unwrap_err(),
            JoinError::Overloaded
        );
        assert!(mem.join(id, b, None).is_ok());
    }
}
