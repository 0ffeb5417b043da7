//! Benchmark of the `/signal` hub against a bare WebSocket relay, in one run:
//! `cargo bench --features ssr --bench hub` (see BENCHMARKS.md for numbers and targets).
//!
//! # Method
//! Each server runs in its **own child process** (this binary re-executed with
//! `serve-child homecall|bare`), bound to a port-0 listener on 127.0.0.1. The hub is
//! served by the server's own accept loop (`server::listen::serve_connections`, with its
//! default timeouts and caps) as `server::serve` does; the bare relay by `axum::serve`. The clients (tokio-tungstenite) run in
//! this parent process. So the child's `/proc/<pid>/stat` utime+stime is server CPU only
//! and its `/proc/<pid>/status` VmRSS is server memory only: no subtraction of client
//! work, no shared allocator. Both servers get the same runtime, the same client load and
//! the same 2 cores (clients included), one after the other.
//!
//! - latency: `BENCH_SESSIONS` sessions in parallel, each a task owning both sockets; a
//!   round is one frame A → B (an offer every tenth round, else a candidate) and one back
//!   (an answer or a candidate). One-way latency is send-to-receive in this process (one
//!   clock); warm-up rounds are not counted.
//! - CPU per message: the child's CPU ticks (USER_HZ, 100 per second on Linux) over the
//!   measured rounds divided by the frames relayed; messages per second over the same
//!   wall time (a closed loop: one frame in flight per session). Both servers run side
//!   by side and are measured in alternating runs (`BENCH_REPEATS`, default 7), medians
//!   kept, so drift in the machine's load hits both alike. One more run with a single
//!   session gives the latency of a hop without queueing.
//! - bytes per idle socket: RSS with `BENCH_IDLE_SESSIONS` idle pairs open, less the RSS
//!   before, divided by the sockets.
//! - memory after sessions end: every idle client hangs up (close 1000); the child must
//!   report 0 live sessions (`Hub::session_count`) and its RSS return to the level
//!   before the idle sockets, within 10 % of the idle sockets' memory or 1 MiB, waiting
//!   up to `BENCH_SETTLE_SECS` (default 25) for the allocator to give pages back. A
//!   second identical round must fit in the first one's memory: no leak.
//!
//! The HomeCall hub runs with the protocol's default limits except the per-socket rate
//! limit, raised so the closed loop is never throttled (the limiter still runs). No
//! tracing subscriber is installed in either child: the cost of writing logs depends on
//! the sink, not on the hub.
//!
//! Only 127.0.0.1 is contacted; every loop is bounded in count and time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use homecall::hub::socket::{SOCKET_BUFFER_BYTES, SignalState, router};
use homecall::hub::{Hub, HubLimits};
use homecall::protocol::{PeerId, SessionId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Linux reports CPU times in `/proc` in USER_HZ ticks, fixed at 100 per second.
const TICKS_PER_SECOND: f64 = 100.0;
const WARMUP_ROUNDS: usize = 20;
/// Longest the bench waits for any one thing before it gives up.
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- child: the servers

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    HomeCall,
    Bare,
}

impl Kind {
    fn arg(self) -> &'static str {
        match self {
            Kind::HomeCall => "homecall",
            Kind::Bare => "bare",
        }
    }
}

/// Runs one server until stdin closes. Prints `port N`, then answers each `count` line on
/// stdin with the number of live sessions.
fn serve_child(kind: Kind) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let count: Box<dyn Fn() -> usize> = match kind {
        Kind::HomeCall => {
            let limits = HubLimits {
                rate_per_second: 1_000_000,
                rate_burst: 1_000_000,
                // every benchmark client comes from 127.0.0.1
                max_sockets_per_ip: 1_000_000,
                new_sessions_per_ip_per_minute: 1_000_000,
                ..HubLimits::default()
            };
            let hub = Hub::new(limits);
            let app = router(SignalState {
                hub: Arc::clone(&hub),
                trust: Arc::new(homecall::trust::Trust::default()),
            });
            // The server's own accept loop, with its default timeouts and caps (the
            // per-address cap lifted: every benchmark client comes from 127.0.0.1).
            let mut connections = homecall::config::Config::defaults().connection_limits();
            connections.max_connections_per_ip = connections.max_connections;
            let stats = homecall::server::listen::ConnectionStats::new(&connections);
            runtime.spawn(homecall::server::listen::serve_connections(
                listener,
                app,
                None,
                connections,
                stats,
                Arc::new(homecall::trust::Trust::default()),
                std::future::pending::<()>(),
            ));
            runtime.block_on(async { drop(hub.spawn_sweeper()) });
            Box::new(move || hub.memory().map_or(0, |engine| engine.session_count()))
        }
        Kind::Bare => {
            let relay = Arc::new(Relay::default());
            let app = Router::new()
                .route("/relay", get(relay_upgrade))
                .with_state(Arc::clone(&relay));
            runtime.spawn(async move {
                axum::serve(
                    listener.tap_io(homecall::server::no_delay),
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
                .expect("serve");
            });
            Box::new(move || relay.live.load(Ordering::SeqCst))
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "port {port}").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "count" {
            writeln!(out, "{}", count()).expect("stdout");
            out.flush().expect("stdout");
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// The bare relay written for the benchmark: two sockets paired by `?session=`, frames
/// forwarded as they come, no validation, no queues. Its socket buffers are the hub's
/// (axum's default is 128 KiB each), so the ratios show what the hub's own work costs.
#[derive(Default)]
struct Relay {
    /// First sockets waiting for their partner, by session.
    waiting: Mutex<HashMap<String, oneshot::Sender<WebSocket>>>,
    /// Sessions waiting or paired.
    live: AtomicUsize,
}

async fn relay_upgrade(
    State(relay): State<Arc<Relay>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let session = query.get("session").cloned().unwrap_or_default();
    ws.read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .on_upgrade(move |socket| relay_pair(relay, session, socket))
}

async fn relay_pair(relay: Arc<Relay>, session: String, socket: WebSocket) {
    let (tx, rx) = oneshot::channel();
    let first = {
        let mut waiting = relay.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match waiting.remove(&session) {
            Some(first) => Some(first),
            None => {
                waiting.insert(session, tx);
                None
            }
        }
    };
    match first {
        // The first socket's task forwards both directions.
        Some(first) => drop(first.send(socket)),
        None => {
            relay.live.fetch_add(1, Ordering::SeqCst);
            if let Ok(second) = rx.await {
                relay_forward(socket, second).await;
            }
            relay.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

async fn relay_forward(a: WebSocket, b: WebSocket) {
    let (mut a_tx, mut a_rx) = a.split();
    let (mut b_tx, mut b_rx) = b.split();
    let a_to_b = async {
        while let Some(Ok(message)) = a_rx.next().await {
            if matches!(message, AxumMessage::Close(_)) || b_tx.send(message).await.is_err() {
                break;
            }
        }
    };
    let b_to_a = async {
        while let Some(Ok(message)) = b_rx.next().await {
            if matches!(message, AxumMessage::Close(_)) || a_tx.send(message).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = a_to_b => {}
        () = b_to_a => {}
    }
}

// ---------------------------------------------------------------- parent: the clients

/// A running child server.
struct Server {
    kind: Kind,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Server {
    fn start(kind: Kind) -> Server {
        let exe = std::env::current_exe().expect("this binary's path");
        let mut child = Command::new(exe)
            .args(["serve-child", kind.arg()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server child");
        let stdin = child.stdin.take().expect("child stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the child's port line");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("bad port line {line:?}"));
        Server {
            kind,
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn url(&self, session: &SessionId, peer: &str) -> String {
        match self.kind {
            Kind::HomeCall => format!(
                "ws://127.0.0.1:{}/signal?session={session}&peer={peer}",
                self.port
            ),
            Kind::Bare => format!("ws://127.0.0.1:{}/relay?session={session}", self.port),
        }
    }

    /// Live sessions, as the child counts them.
    fn sessions(&mut self) -> usize {
        writeln!(self.stdin, "count").expect("child stdin");
        self.stdin.flush().expect("child stdin");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("child count");
        line.trim().parse().expect("a count")
    }

    /// (user + system CPU seconds, resident bytes) of the child.
    fn usage(&self) -> (f64, u64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("child stat");
        // Fields after the parenthesised command name; utime and stime are fields 14, 15.
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("child status");
        let rss_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        (ticks as f64 / TICKS_PER_SECOND, rss_kib * 1024)
    }

    /// Waits until the child counts `want` live sessions; returns whether it did in time.
    async fn wait_sessions(&mut self, want: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.sessions() == want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(url: String) -> Ws {
    // Small client buffers: the parent's memory is not measured, but 2 × 128 KiB per
    // client would still cost time to zero-fill.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) =
        tokio::time::timeout(PATIENCE, connect_async_with_config(url, Some(config), true))
            .await
            .expect("connect in time")
            .expect("websocket upgrade");
    ws
}

async fn recv_text(ws: &mut Ws) -> String {
    let next = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, next)
        .await
        .expect("a frame in time")
}

/// Hangs up (close 1000) and reads until the server has closed too.
async fn hang_up(mut ws: Ws) {
    let _ = ws
        .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await;
    let _ = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// A realistic SDP of about 2.5 KB (audio + video, one data channel), JSON-escaped.
fn sdp() -> String {
    let mut lines = vec![
        "v=0".to_owned(),
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        "a=group:BUNDLE 0 1".to_owned(),
        "a=extmap-allow-mixed".to_owned(),
        "a=msid-semantic: WMS 9a8b7c6d".to_owned(),
    ];
    for (media, pts) in [
        ("audio", "111 63 9 0 8 13 110 126"),
        ("video", "96 97 98 99 100 101 45"),
    ] {
        lines.push(format!("m={media} 9 UDP/TLS/RTP/SAVPF {pts}"));
        lines.push("c=IN IP4 0.0.0.0".to_owned());
        lines.push("a=rtcp:9 IN IP4 0.0.0.0".to_owned());
        lines.push("a=ice-ufrag:Zx3q".to_owned());
        lines.push("a=ice-pwd:Qm8vJ3k9LpA2sD4fG6hJ8kL0".to_owned());
        lines.push("a=ice-options:trickle".to_owned());
        lines.push("a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:26:94:AE:C7:0E:2C:1E:56:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99".to_owned());
        lines.push("a=setup:actpass".to_owned());
        lines.push("a=sendrecv".to_owned());
        lines.push("a=rtcp-mux".to_owned());
        for pt in pts.split(' ') {
            lines.push(format!("a=rtpmap:{pt} codec{pt}/90000"));
            lines.push(format!("a=rtcp-fb:{pt} nack"));
            lines.push(format!(
                "a=fmtp:{pt} level-asymmetry-allowed=1;packetization-mode=1"
            ));
        }
        lines.push("a=ssrc:1234567890 cname:abcdefghijklmnop".to_owned());
    }
    lines.join("\\r\\n") + "\\r\\n"
}

fn offer(kind: &str, session: &SessionId, from: &str, sdp: &str) -> String {
    format!(r#"{{"type":"{kind}","sessionId":"{session}","from":"{from}","sdp":"{sdp}"}}"#)
}

fn candidate(session: &SessionId, from: &str, n: usize) -> String {
    format!(
        r#"{{"type":"candidate","sessionId":"{session}","from":"{from}","candidate":{{"candidate":"candidate:{n} 1 udp 2122260223 192.168.1.2 {} typ host generation 0 ufrag Zx3q network-id 1","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Zx3q"}}}}"#,
        50_000 + n % 10_000
    )
}

fn session_id(phase: u8, n: usize) -> SessionId {
    // Bytes 6 and 8 carry the UUID's version and variant bits: keep `n` out of them.
    let mut bytes = [phase; 16];
    bytes[..6].copy_from_slice(&(n as u64).to_le_bytes()[..6]);
    SessionId::from_random_bytes(bytes)
}

fn peers(n: usize) -> (String, String) {
    (
        PeerId::from_random_bytes([0xa0 ^ (n as u8); 16])
            .as_str()
            .to_owned(),
        PeerId::from_random_bytes([0xb0 ^ (n as u8); 16])
            .as_str()
            .to_owned(),
    )
}

/// One round trip per round between the two sockets of a session; returns the one-way
/// latencies of the measured rounds.
async fn ping_pong(
    mut a: Ws,
    mut b: Ws,
    session: SessionId,
    (pa, pb): (String, String),
    rounds: usize,
    start: Arc<Barrier>,
    done: Arc<Barrier>,
) -> (Vec<Duration>, Ws, Ws) {
    let sdp = sdp();
    let mut latencies = Vec::with_capacity(rounds * 2);
    for round in 0..WARMUP_ROUNDS + rounds {
        if round == WARMUP_ROUNDS {
            start.wait().await;
        }
        let (to_b, to_a) = if round % 10 == 0 {
            (
                offer("offer", &session, &pa, &sdp),
                offer("answer", &session, &pb, &sdp),
            )
        } else {
            (
                candidate(&session, &pa, round),
                candidate(&session, &pb, round),
            )
        };
        let sent = Instant::now();
        a.send(Message::text(to_b.clone())).await.expect("send");
        assert_eq!(recv_text(&mut b).await, to_b, "the frame arrives unchanged");
        let there = sent.elapsed();
        let sent = Instant::now();
        b.send(Message::text(to_a.clone())).await.expect("send");
        assert_eq!(recv_text(&mut a).await, to_a, "the frame arrives unchanged");
        let back = sent.elapsed();
        if round >= WARMUP_ROUNDS {
            latencies.extend([there, back]);
        }
    }
    done.wait().await;
    (latencies, a, b)
}

/// What one server measured.
#[derive(Debug, Default)]
struct Results {
    p50: Duration,
    /// p50 with a single session (no queueing behind other sessions).
    p50_alone: Duration,
    p99: Duration,
    cpu_per_message: Duration,
    messages_per_second: f64,
    bytes_per_idle_socket: f64,
    rss_start: u64,
    rss_idle: u64,
    rss_end: u64,
    /// RSS with a second, identical round of idle sockets open, and after it ends.
    rss_idle_again: u64,
    rss_end_again: u64,
    sessions_after: usize,
    idle_sockets: usize,
}

impl Results {
    /// How far RSS may stay above its start: 10 % of the idle sockets' memory, or 1 MiB.
    fn tolerance(&self) -> u64 {
        (self.rss_idle.saturating_sub(self.rss_start) / 10).max(1 << 20)
    }

    fn memory_back(&self) -> bool {
        self.sessions_after == 0 && self.rss_end <= self.rss_start + self.tolerance()
    }

    /// The second round fits in the memory the first one left (nothing leaked).
    fn memory_reused(&self) -> bool {
        self.rss_idle_again <= self.rss_idle + self.tolerance()
            && self.rss_end_again <= self.rss_end + self.tolerance()
    }

    /// RSS for 100,000 sessions (200,000 sockets) at the measured cost per socket.
    fn projected_100k(&self) -> f64 {
        self.rss_start as f64 + self.bytes_per_idle_socket * 200_000.0
    }
}

/// The bench's settings, read once from the `BENCH_*` variables; the defaults live here
/// only.
#[derive(Clone, Copy)]
struct Knobs {
    /// Sessions in parallel in a latency run.
    sessions: usize,
    /// Measured rounds per session in a latency run.
    rounds: usize,
    /// Latency runs per server, alternating; medians kept.
    repeats: usize,
    /// Idle sessions opened for the memory phases.
    idle_sessions: usize,
    /// Longest wait for the allocator to give pages back.
    settle: Duration,
}

impl Knobs {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|value| value.parse().ok())
                .unwrap_or(default)
        };
        Self {
            sessions: number("BENCH_SESSIONS", 100),
            rounds: number("BENCH_ROUNDS", 1000),
            repeats: number("BENCH_REPEATS", 7).max(1),
            idle_sessions: number("BENCH_IDLE_SESSIONS", 2_000),
            settle: Duration::from_secs(number("BENCH_SETTLE_SECS", 25) as u64),
        }
    }
}

/// Latency, CPU and throughput of one run of `sessions` × `rounds` on `server`.
#[derive(Clone, Copy)]
struct LatencyRun {
    p50: Duration,
    p99: Duration,
    cpu_per_message: Duration,
    messages_per_second: f64,
}

async fn latency_run(server: &mut Server, phase: u8, sessions: usize, rounds: usize) -> LatencyRun {
    let start = Arc::new(Barrier::new(sessions + 1));
    let done = Arc::new(Barrier::new(sessions + 1));
    let mut tasks = Vec::new();
    for n in 0..sessions {
        let session = session_id(phase, n);
        let ids = peers(n);
        let (url_a, url_b) = (server.url(&session, &ids.0), server.url(&session, &ids.1));
        let (start, done) = (Arc::clone(&start), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let a = connect(url_a).await;
            let b = connect(url_b).await;
            ping_pong(a, b, session, ids, rounds, start, done).await
        }));
    }
    start.wait().await;
    let (cpu_before, _) = server.usage();
    let began = Instant::now();
    done.wait().await;
    let wall = began.elapsed();
    let (cpu_after, _) = server.usage();
    let mut latencies = Vec::new();
    let mut sockets = Vec::new();
    for task in tasks {
        let (lat, a, b) = task.await.expect("a session task");
        latencies.extend(lat);
        sockets.extend([a, b]);
    }
    let messages = latencies.len();
    latencies.sort();
    futures_util::future::join_all(sockets.into_iter().map(hang_up)).await;
    assert!(
        server.wait_sessions(0).await,
        "latency sessions did not end"
    );
    LatencyRun {
        p50: latencies[messages / 2],
        p99: latencies[messages * 99 / 100],
        cpu_per_message: Duration::from_secs_f64((cpu_after - cpu_before) / messages as f64),
        messages_per_second: messages as f64 / wall.as_secs_f64(),
    }
}

/// Opens `idle_sessions` idle pairs (session ids of `phase`), returns the RSS with them
/// open, then hangs them all up.
async fn idle_round(server: &mut Server, phase: u8, idle_sessions: usize) -> (u64, usize) {
    let urls: Vec<String> = (0..idle_sessions)
        .flat_map(|n| {
            let session = session_id(phase, n);
            let (a, b) = peers(n);
            [server.url(&session, &a), server.url(&session, &b)]
        })
        .collect();
    let idle: Vec<Ws> = futures_util::stream::iter(urls.into_iter().map(connect))
        .buffered(64)
        .collect()
        .await;
    assert!(
        server.wait_sessions(idle_sessions).await,
        "idle sessions not all live"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.usage().1;
    let sockets = idle.len();
    futures_util::stream::iter(idle.into_iter().map(hang_up))
        .buffer_unordered(256)
        .collect::<Vec<()>>()
        .await;
    server.wait_sessions(0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    (rss, sockets)
}

/// The child's RSS once it is at most `target`, or after `BENCH_SETTLE_SECS` (default
/// 25): an allocator that purges on a timer (jemalloc: 10 s decay) needs the time.
async fn settle_rss(server: &Server, target: u64, settle: Duration) -> u64 {
    let deadline = Instant::now() + settle;
    loop {
        let rss = server.usage().1;
        if rss <= target || Instant::now() >= deadline {
            return rss;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The median of `runs` by `key`.
fn median<T: Copy, K: PartialOrd>(runs: &[T], key: impl Fn(&T) -> K) -> K {
    let mut keys: Vec<K> = runs.iter().map(key).collect();
    keys.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    keys.swap_remove(keys.len() / 2)
}

/// Memory phases: RSS before, with idle sockets, after they end; then a second round to
/// tell memory kept for reuse by the allocator from memory leaked.
async fn memory(server: &mut Server, results: &mut Results, knobs: Knobs) {
    let idle_sessions = knobs.idle_sessions;
    results.rss_start = server.usage().1;
    let (rss_idle, sockets) = idle_round(server, 2, idle_sessions).await;
    results.rss_idle = rss_idle;
    results.idle_sockets = sockets;
    results.bytes_per_idle_socket =
        rss_idle.saturating_sub(results.rss_start) as f64 / sockets as f64;
    results.sessions_after = server.sessions();
    results.rss_end = settle_rss(
        server,
        results.rss_start + results.tolerance(),
        knobs.settle,
    )
    .await;
    let (rss_idle_again, _) = idle_round(server, 3, idle_sessions).await;
    results.rss_idle_again = rss_idle_again;
    results.rss_end_again = settle_rss(
        server,
        results.rss_start + results.tolerance(),
        knobs.settle,
    )
    .await;
}

async fn measure_both(knobs: Knobs) -> (Results, Results) {
    let Knobs {
        sessions,
        rounds,
        repeats,
        ..
    } = knobs;
    let mut servers = [Server::start(Kind::Bare), Server::start(Kind::HomeCall)];
    let mut runs: [Vec<LatencyRun>; 2] = [Vec::new(), Vec::new()];
    // Alternating runs, medians kept: drift in the machine's load hits both alike.
    let mut results = [Results::default(), Results::default()];
    for repeat in 0..repeats {
        for (server, runs) in servers.iter_mut().zip(runs.iter_mut()) {
            let phase = 10 + repeat as u8;
            runs.push(latency_run(server, phase, sessions, rounds).await);
        }
    }
    // One session alone: the cost of a hop without queueing behind other sessions.
    for (server, results) in servers.iter_mut().zip(results.iter_mut()) {
        results.p50_alone = latency_run(server, 9, 1, 1_000).await.p50;
    }
    for ((server, runs), results) in servers.iter_mut().zip(&runs).zip(results.iter_mut()) {
        results.p50 = median(runs, |r| r.p50);
        results.p99 = median(runs, |r| r.p99);
        results.cpu_per_message = median(runs, |r| r.cpu_per_message);
        results.messages_per_second = median(runs, |r| r.messages_per_second);
        tokio::time::sleep(Duration::from_secs(1)).await;
        memory(server, results, knobs).await;
    }
    let [bare, home] = results;
    (home, bare)
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn report(home: &Results, bare: &Results, knobs: Knobs) -> bool {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    // A ratio column: hub over bare.
    let times = |a: f64, b: f64| format!("{:.2}×", ratio(a, b));
    let cpu_ratio = ratio(
        home.cpu_per_message.as_secs_f64(),
        bare.cpu_per_message.as_secs_f64(),
    );
    let p50_ratio = ratio(home.p50.as_secs_f64(), bare.p50.as_secs_f64());
    let two_gib = 2.0 * 1024.0 * 1024.0 * 1024.0;
    let checks = [
        cpu_ratio <= 1.2,
        p50_ratio <= 1.15,
        home.bytes_per_idle_socket <= 8192.0,
        home.memory_back(),
        home.projected_100k() <= two_gib,
    ];
    let rows = [
        (
            "one-way latency p50",
            micros(home.p50),
            micros(bare.p50),
            format!("{p50_ratio:.2}×"),
            "≤ 1.15× bare",
            Some(checks[1]),
        ),
        (
            "one-way latency p50, 1 session alone",
            micros(home.p50_alone),
            micros(bare.p50_alone),
            times(home.p50_alone.as_secs_f64(), bare.p50_alone.as_secs_f64()),
            "",
            None,
        ),
        (
            "one-way latency p99",
            micros(home.p99),
            micros(bare.p99),
            times(home.p99.as_secs_f64(), bare.p99.as_secs_f64()),
            "",
            None,
        ),
        (
            "server CPU per message",
            micros(home.cpu_per_message),
            micros(bare.cpu_per_message),
            format!("{cpu_ratio:.2}×"),
            "≤ 1.2× bare",
            Some(checks[0]),
        ),
        (
            "messages per second",
            format!("{:.0}", home.messages_per_second),
            format!("{:.0}", bare.messages_per_second),
            times(home.messages_per_second, bare.messages_per_second),
            "",
            None,
        ),
        (
            "bytes per idle socket",
            format!("{:.0} B", home.bytes_per_idle_socket),
            format!("{:.0} B", bare.bytes_per_idle_socket),
            times(home.bytes_per_idle_socket, bare.bytes_per_idle_socket),
            "≤ 8 KiB",
            Some(checks[2]),
        ),
        (
            "RSS start / idle / end",
            format!(
                "{} / {} / {}",
                mib(home.rss_start as f64),
                mib(home.rss_idle as f64),
                mib(home.rss_end as f64)
            ),
            format!(
                "{} / {} / {}",
                mib(bare.rss_start as f64),
                mib(bare.rss_idle as f64),
                mib(bare.rss_end as f64)
            ),
            String::new(),
            "end ≈ start",
            Some(checks[3]),
        ),
        (
            "RSS 2nd round idle / end (reuse, no leak)",
            format!(
                "{} / {}",
                mib(home.rss_idle_again as f64),
                mib(home.rss_end_again as f64)
            ),
            format!(
                "{} / {}",
                mib(bare.rss_idle_again as f64),
                mib(bare.rss_end_again as f64)
            ),
            String::new(),
            "≤ 1st round",
            Some(home.memory_reused()),
        ),
        (
            "live sessions after all ended",
            home.sessions_after.to_string(),
            bare.sessions_after.to_string(),
            String::new(),
            "0",
            Some(home.sessions_after == 0),
        ),
        (
            "projected RSS, 100,000 sessions",
            mib(home.projected_100k()),
            mib(bare.projected_100k()),
            String::new(),
            "≤ 2 GiB",
            Some(checks[4]),
        ),
    ];
    println!(
        "\n{} idle sockets; latency: {} sessions × {} rounds, median of {} alternating runs\n",
        home.idle_sockets, knobs.sessions, knobs.rounds, knobs.repeats
    );
    println!("| metric | HomeCall hub | bare relay | ratio | target | |");
    println!("| --- | ---: | ---: | ---: | --- | --- |");
    for (name, home, bare, ratio, target, ok) in rows {
        let ok = ok.map_or("", verdict);
        println!("| {name} | {home} | {bare} | {ratio} | {target} | {ok} |");
    }
    checks.iter().all(|ok| *ok)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "serve-child") {
        let kind = match args.get(at + 1).map(String::as_str) {
            Some("homecall") => Kind::HomeCall,
            Some("bare") => Kind::Bare,
            other => panic!("unknown server {other:?}"),
        };
        serve_child(kind);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let knobs = Knobs::from_env();
    let (home, bare) = runtime.block_on(measure_both(knobs));
    let all = report(&home, &bare, knobs);
    println!("\nall targets: {}", verdict(all));
}
