//! Benchmark of the `/signal` hub as it ships against a bare WebSocket relay, in one run:
//! `cargo bench --features ssr --bench hub` (see BENCHMARKS.md for numbers and targets).
//!
//! # What runs
//! - **memory**: the release `homecall` binary, default settings (the in-memory engine,
//!   logging at INFO as shipped, its log written to a file as an operator's would be),
//!   with only the per-socket rate limit and the per-address limits lifted, since every
//!   benchmark client comes from 127.0.0.1 in a closed loop.
//! - **redis**: the same binary as two nodes sharing one Debian `redis-server`
//!   (append-only file on, fsync every second); the two participants of each session are
//!   on different nodes, so every frame crosses Redis.
//! - **bare**: a bare relay written for the benchmark (this binary re-executed with
//!   `serve-child`), served by `axum::serve`: two sockets paired by `?session=`, no
//!   validation, no queues, no logs.
//!
//! Servers are child processes on ports of 127.0.0.1; the clients (tokio-tungstenite)
//! run in this parent process. CPU is the children's `/proc/<pid>/stat` utime+stime
//! (for redis: both nodes and Redis together); memory is the nodes' `VmRSS`.
//!
//! # Method
//! - latency: `BENCH_SESSIONS` sessions in parallel, each a task owning both sockets; a
//!   round is one frame A → B (an offer every tenth round, else a candidate) and one back
//!   (an answer or a candidate). One-way latency is send-to-receive in this process (one
//!   clock); warm-up rounds are not counted. Every frame must arrive unchanged and in
//!   order within 20 s, or the bench fails: messages lost is counted as 0 only then.
//! - CPU per message: the servers' CPU ticks (USER_HZ, 100 per second) over the
//!   measured rounds divided by the frames relayed; messages per second over the same
//!   wall time. The servers run side by side and are measured in alternating runs
//!   (`BENCH_REPEATS`, default 5), medians kept, so drift in the machine's load hits all
//!   alike. One more run with a single session gives the latency of a hop alone, and one
//!   paced run (100 sessions each starting a round every 20 ms: 10,000 messages per
//!   second, far below saturation) the latency at a fixed load, without the queueing
//!   of the closed loop.
//! - Redis commands per message: the nodes' `homecall_redis_commands_total` over the
//!   measured rounds divided by the frames relayed.
//! - bytes per idle socket: RSS with `BENCH_IDLE_SESSIONS` idle pairs open, less the RSS
//!   before, divided by the sockets.
//! - memory after sessions end: every idle client hangs up (close 1000); the server must
//!   count 0 live sessions (`/metrics`) and its RSS return to the level before the idle
//!   sockets, within 10 % of the idle sockets' memory or 1 MiB, waiting up to
//!   `BENCH_SETTLE_SECS` (default 25) for the allocator to give pages back. A second
//!   identical round must fit in the first one's memory: no leak.
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
use homecall::hub::socket::SOCKET_BUFFER_BYTES;
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
    /// The shipped binary, in-memory engine.
    Memory,
    /// The shipped binary, two nodes and Redis.
    Redis,
    /// The bare relay.
    Bare,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Redis => "redis",
            Kind::Bare => "bare",
        }
    }
}

/// Runs the bare relay until stdin closes. Prints `port N`, then answers each `count`
/// line on stdin with the number of live sessions.
fn serve_bare_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
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
    let mut out = std::io::stdout().lock();
    writeln!(out, "port {port}").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "count" {
            writeln!(out, "{}", relay.live.load(Ordering::SeqCst)).expect("stdout");
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

/// The shipped binary: cargo's build of it for this bench, or `$BENCH_HOMECALL_BIN`.
fn homecall_binary() -> String {
    std::env::var("BENCH_HOMECALL_BIN")
        .ok()
        .or_else(|| option_env!("CARGO_BIN_EXE_homecall").map(str::to_owned))
        .unwrap_or_else(|| "target/release/homecall".to_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// One GET on 127.0.0.1:`port`; the body, if the answer is 200.
async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8(answer).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

/// The value of metric `name` (the sum of its lines) in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| matches!(line.as_bytes().get(name.len()), Some(b' ' | b'{')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// (user + system CPU seconds, resident bytes) of process `pid`.
fn process_usage(pid: u32) -> (f64, u64) {
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

/// A running server: one or two nodes (or the bare relay), and Redis for `Kind::Redis`.
struct Server {
    kind: Kind,
    /// The processes that serve sockets, with their ports.
    nodes: Vec<(Child, u16)>,
    redis: Option<Child>,
    /// The bare relay's control pipe (its session count).
    bare: Option<(ChildStdin, BufReader<ChildStdout>)>,
    dir: std::path::PathBuf,
}

impl Server {
    async fn start(kind: Kind) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "homecall-bench-{}-{}",
            std::process::id(),
            kind.name()
        ));
        std::fs::create_dir_all(dir.join("site")).expect("a folder for the bench");
        let mut server = Server {
            kind,
            nodes: Vec::new(),
            redis: None,
            bare: None,
            dir,
        };
        match kind {
            Kind::Bare => server.start_bare(),
            Kind::Memory => server.start_node(None).await,
            Kind::Redis => {
                let url = server.start_redis().await;
                server.start_node(Some(&url)).await;
                server.start_node(Some(&url)).await;
            }
        }
        server
    }

    fn start_bare(&mut self) {
        let exe = std::env::current_exe().expect("this binary's path");
        let mut child = Command::new(exe)
            .arg("serve-child")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the bare relay");
        let stdin = child.stdin.take().expect("child stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the child's port line");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("bad port line {line:?}"));
        self.nodes.push((child, port));
        self.bare = Some((stdin, stdout));
    }

    /// Redis as an operator runs it for HomeCall: append-only file, fsync every second.
    async fn start_redis(&mut self) -> String {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/setup.sh installs it)");
        self.redis = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        format!("redis://127.0.0.1:{port}/0")
    }

    /// The shipped binary with its default settings and logging (to a file), the
    /// benchmark's clients let through the per-address and per-socket limits.
    async fn start_node(&mut self, redis_url: Option<&str>) {
        let port = free_port();
        let log =
            std::fs::File::create(self.dir.join(format!("node-{port}.log"))).expect("a log file");
        let mut command = Command::new(homecall_binary());
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--site-root")
            .arg(self.dir.join("site"))
            .args(["--rate-per-second", "1000000", "--rate-burst", "1000000"])
            .args(["--max-sockets-per-ip", "1000000"])
            .args(["--new-sessions-per-ip-per-minute", "1000000"])
            .args(["--max-connections-per-ip", "1000000"]);
        if let Some(url) = redis_url {
            command.arg("--redis-url").arg(url);
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HOMECALL_") {
                command.env_remove(key);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", homecall_binary()));
        self.nodes.push((child, port));
        let deadline = Instant::now() + PATIENCE;
        while http_get(port, "/healthz").await.is_none() {
            assert!(Instant::now() < deadline, "homecall did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Where `side` (0 or 1) of a session connects: with two nodes, each side to its own.
    fn url(&self, session: &SessionId, peer: &str, side: usize) -> String {
        let port = self.nodes[side % self.nodes.len()].1;
        match self.kind {
            Kind::Bare => format!("ws://127.0.0.1:{port}/relay?session={session}"),
            Kind::Memory | Kind::Redis => {
                format!("ws://127.0.0.1:{port}/signal?session={session}&peer={peer}")
            }
        }
    }

    /// The sum of metric `name` over the nodes' `/metrics`.
    async fn node_metric(&self, name: &str) -> f64 {
        let mut sum = 0.0;
        for (_, port) in &self.nodes {
            let text = http_get(*port, "/metrics").await.expect("/metrics answers");
            sum += metric(&text, name);
        }
        sum
    }

    /// Live sessions, as the server counts them (with Redis: all nodes', once).
    async fn sessions(&mut self) -> usize {
        match (&mut self.bare, self.kind) {
            (Some((stdin, stdout)), _) => {
                writeln!(stdin, "count").expect("child stdin");
                stdin.flush().expect("child stdin");
                let mut line = String::new();
                stdout.read_line(&mut line).expect("child count");
                line.trim().parse().expect("a count")
            }
            (None, Kind::Redis) => {
                let text = http_get(self.nodes[0].1, "/metrics")
                    .await
                    .expect("/metrics");
                metric(&text, "homecall_sessions_active") as usize
            }
            (None, _) => self.node_metric("homecall_sessions_active").await as usize,
        }
    }

    /// Redis commands the nodes have sent so far.
    async fn redis_commands(&self) -> f64 {
        match self.kind {
            Kind::Redis => self.node_metric("homecall_redis_commands_total").await,
            Kind::Memory | Kind::Bare => 0.0,
        }
    }

    /// (CPU seconds of every process serving, Redis included; resident bytes of the
    /// nodes).
    fn usage(&self) -> (f64, u64) {
        let (mut cpu, mut rss) = (0.0, 0);
        for (child, _) in &self.nodes {
            let (c, r) = process_usage(child.id());
            cpu += c;
            rss += r;
        }
        if let Some(redis) = &self.redis {
            cpu += process_usage(redis.id()).0;
        }
        (cpu, rss)
    }

    /// CPU seconds of `redis-server` alone (0 without one).
    fn redis_cpu(&self) -> f64 {
        self.redis
            .as_ref()
            .map_or(0.0, |redis| process_usage(redis.id()).0)
    }

    /// Waits until the server counts `want` live sessions; returns whether it did in time.
    async fn wait_sessions(&mut self, want: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.sessions().await == want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for (child, _) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(redis) = &mut self.redis {
            let _ = redis.kill();
            let _ = redis.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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
    Schedule {
        rounds,
        pacing,
        start,
        done,
    }: Schedule,
) -> (Vec<Duration>, Ws, Ws) {
    let sdp = sdp();
    let mut latencies = Vec::with_capacity(rounds * 2);
    let mut measured_from = Instant::now();
    for round in 0..WARMUP_ROUNDS + rounds {
        if round == WARMUP_ROUNDS {
            start.wait().await;
            measured_from = Instant::now();
        }
        if let Some(Pacing { every, offset }) = pacing
            && round >= WARMUP_ROUNDS
        {
            let due = measured_from + offset + every * (round - WARMUP_ROUNDS) as u32;
            tokio::time::sleep_until(due.into()).await;
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

/// When a session's rounds run: how many, paced or not, and the barriers that start and
/// end the measured part together with the other sessions.
struct Schedule {
    rounds: usize,
    pacing: Option<Pacing>,
    start: Arc<Barrier>,
    done: Arc<Barrier>,
}

/// A paced run: each session starts a round every `every`, sessions spread by `offset`.
#[derive(Clone, Copy, Debug)]
struct Pacing {
    every: Duration,
    offset: Duration,
}

/// The fixed load of the paced run: 100 sessions, a round (two frames) every 20 ms each,
/// i.e. 10,000 messages per second, well below what any of the servers can carry here.
const PACED_SESSIONS: usize = 100;
const PACED_EVERY: Duration = Duration::from_millis(20);
const PACED_ROUNDS: usize = 250;

/// What one server measured.
#[derive(Debug, Default)]
struct Results {
    p50: Duration,
    /// p50 with a single session (no queueing behind other sessions).
    p50_alone: Duration,
    /// p50 and p99 at a fixed load of 10,000 messages per second (no saturation).
    p50_paced: Duration,
    p99_paced: Duration,
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
    redis_cpu_per_message: Duration,
    redis_commands_per_message: f64,
    /// Frames relayed in the measured rounds (each checked to arrive unchanged).
    messages_relayed: usize,
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
    /// `BENCH_SKIP_REDIS=1`: a quick loop on the memory engine and the bare relay only
    /// (the redis column stays empty and its verdicts fail).
    skip_redis: bool,
    /// `BENCH_ONLY_REDIS=1`: the redis engine alone, for profiling it (the other
    /// columns stay empty and their verdicts fail).
    only_redis: bool,
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
            repeats: number("BENCH_REPEATS", 5).max(1),
            idle_sessions: number("BENCH_IDLE_SESSIONS", 2_000),
            settle: Duration::from_secs(number("BENCH_SETTLE_SECS", 25) as u64),
            skip_redis: number("BENCH_SKIP_REDIS", 0) != 0,
            only_redis: number("BENCH_ONLY_REDIS", 0) != 0,
        }
    }
}

/// Latency, CPU and throughput of one run of `sessions` × `rounds` on `server`.
#[derive(Clone, Copy)]
struct LatencyRun {
    p50: Duration,
    p99: Duration,
    cpu_per_message: Duration,
    /// The part of `cpu_per_message` that `redis-server` spent.
    redis_cpu_per_message: Duration,
    messages_per_second: f64,
    redis_commands_per_message: f64,
    messages: usize,
}

async fn latency_run(server: &mut Server, phase: u8, sessions: usize, rounds: usize) -> LatencyRun {
    latency_run_paced(server, phase, sessions, rounds, None).await
}

/// [`latency_run`], each session starting its rounds on a fixed clock if `every` is set.
async fn latency_run_paced(
    server: &mut Server,
    phase: u8,
    sessions: usize,
    rounds: usize,
    every: Option<Duration>,
) -> LatencyRun {
    let start = Arc::new(Barrier::new(sessions + 1));
    let done = Arc::new(Barrier::new(sessions + 1));
    let mut tasks = Vec::new();
    for n in 0..sessions {
        let session = session_id(phase, n);
        let ids = peers(n);
        let (url_a, url_b) = (
            server.url(&session, &ids.0, 0),
            server.url(&session, &ids.1, 1),
        );
        let schedule = Schedule {
            rounds,
            pacing: every.map(|every| Pacing {
                every,
                offset: every * n as u32 / sessions as u32,
            }),
            start: Arc::clone(&start),
            done: Arc::clone(&done),
        };
        tasks.push(tokio::spawn(async move {
            let a = connect(url_a).await;
            let b = connect(url_b).await;
            ping_pong(a, b, session, ids, schedule).await
        }));
    }
    start.wait().await;
    let commands_before = server.redis_commands().await;
    let (cpu_before, _) = server.usage();
    let redis_before = server.redis_cpu();
    let began = Instant::now();
    done.wait().await;
    let wall = began.elapsed();
    let (cpu_after, _) = server.usage();
    let redis_after = server.redis_cpu();
    let commands_after = server.redis_commands().await;
    let mut latencies = Vec::new();
    let mut sockets = Vec::new();
    for task in tasks {
        let (lat, a, b) = task.await.expect("a session task: a frame lost or changed");
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
        redis_cpu_per_message: Duration::from_secs_f64(
            (redis_after - redis_before) / messages as f64,
        ),
        messages_per_second: messages as f64 / wall.as_secs_f64(),
        // The two reads of the counters are themselves no Redis commands.
        redis_commands_per_message: (commands_after - commands_before) / messages as f64,
        messages,
    }
}

/// Opens `idle_sessions` idle pairs (session ids of `phase`), returns the RSS with them
/// open, then hangs them all up.
async fn idle_round(server: &mut Server, phase: u8, idle_sessions: usize) -> (u64, usize) {
    let urls: Vec<String> = (0..idle_sessions)
        .flat_map(|n| {
            let session = session_id(phase, n);
            let (a, b) = peers(n);
            [server.url(&session, &a, 0), server.url(&session, &b, 1)]
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

/// The nodes' RSS once it is at most `target`, or after `BENCH_SETTLE_SECS` (default
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
    results.sessions_after = server.sessions().await;
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

/// Every server's results, in [`KINDS`] order.
const KINDS: [Kind; 3] = [Kind::Memory, Kind::Redis, Kind::Bare];

async fn measure_all(knobs: Knobs) -> [Results; 3] {
    let Knobs {
        sessions,
        rounds,
        repeats,
        ..
    } = knobs;
    let mut servers = Vec::new();
    for kind in KINDS {
        let skipped =
            (kind == Kind::Redis && knobs.skip_redis) || (kind != Kind::Redis && knobs.only_redis);
        servers.push(if skipped {
            None
        } else {
            Some(Server::start(kind).await)
        });
    }
    let mut runs: [Vec<LatencyRun>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    // Alternating runs, medians kept: drift in the machine's load hits all alike.
    let mut results = [Results::default(), Results::default(), Results::default()];
    for repeat in 0..repeats {
        for (server, runs) in servers.iter_mut().zip(runs.iter_mut()) {
            if let Some(server) = server {
                let phase = 10 + repeat as u8;
                runs.push(latency_run(server, phase, sessions, rounds).await);
            }
        }
    }
    // One session alone: the cost of a hop without queueing behind other sessions.
    for (server, results) in servers.iter_mut().zip(results.iter_mut()) {
        if let Some(server) = server {
            results.p50_alone = latency_run(server, 9, 1, 1_000).await.p50;
            let paced =
                latency_run_paced(server, 8, PACED_SESSIONS, PACED_ROUNDS, Some(PACED_EVERY)).await;
            (results.p50_paced, results.p99_paced) = (paced.p50, paced.p99);
        }
    }
    for ((server, runs), results) in servers.iter_mut().zip(&runs).zip(results.iter_mut()) {
        let Some(server) = server else { continue };
        results.p50 = median(runs, |r| r.p50);
        results.p99 = median(runs, |r| r.p99);
        results.cpu_per_message = median(runs, |r| r.cpu_per_message);
        results.redis_cpu_per_message = median(runs, |r| r.redis_cpu_per_message);
        results.messages_per_second = median(runs, |r| r.messages_per_second);
        results.redis_commands_per_message = median(runs, |r| r.redis_commands_per_message);
        results.messages_relayed = runs.iter().map(|r| r.messages).sum();
        tokio::time::sleep(Duration::from_secs(1)).await;
        memory(server, results, knobs).await;
    }
    results
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

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// One row of the table: the metric, its value for each of [`KINDS`], and its target.
struct Row {
    name: &'static str,
    values: [String; 3],
    target: String,
    ok: Option<bool>,
}

fn row(
    name: &'static str,
    results: &[Results; 3],
    value: impl Fn(&Results) -> String,
    target: &str,
    ok: Option<bool>,
) -> Row {
    Row {
        name,
        values: [value(&results[0]), value(&results[1]), value(&results[2])],
        target: target.to_owned(),
        ok,
    }
}

/// `r`'s CPU per message as a multiple of `base`'s.
fn cpu_over(r: &Results, base: &Results) -> String {
    let times = ratio(
        r.cpu_per_message.as_secs_f64(),
        base.cpu_per_message.as_secs_f64(),
    );
    format!("{times:.2}×")
}

fn report(results: &[Results; 3], knobs: Knobs) -> bool {
    let [memory, redis, bare] = results;
    let cpu_ratio = ratio(
        memory.cpu_per_message.as_secs_f64(),
        bare.cpu_per_message.as_secs_f64(),
    );
    let p50_ratio = ratio(memory.p50.as_secs_f64(), bare.p50.as_secs_f64());
    let redis_extra = redis.p50.saturating_sub(memory.p50);
    let redis_cpu_ratio = ratio(
        redis.cpu_per_message.as_secs_f64(),
        memory.cpu_per_message.as_secs_f64(),
    );
    let two_gib = 2.0 * 1024.0 * 1024.0 * 1024.0;
    let rss3 = |r: &Results| {
        format!(
            "{} / {} / {}",
            mib(r.rss_start as f64),
            mib(r.rss_idle as f64),
            mib(r.rss_end as f64)
        )
    };
    let rows = [
        row(
            "one-way latency p50",
            results,
            |r| micros(r.p50),
            "memory ≤ 1.15× bare",
            Some(p50_ratio <= 1.15),
        ),
        row(
            "redis p50 over memory",
            results,
            |r| micros(r.p50.saturating_sub(memory.p50)),
            "≤ +150 µs",
            Some(redis_extra <= Duration::from_micros(150)),
        ),
        row(
            "one-way latency p50, 1 session alone",
            results,
            |r| micros(r.p50_alone),
            "",
            None,
        ),
        row("one-way latency p99", results, |r| micros(r.p99), "", None),
        row(
            "p50 / p99 at a fixed 10,000 messages/s",
            results,
            |r| format!("{} / {}", micros(r.p50_paced), micros(r.p99_paced)),
            "",
            None,
        ),
        row(
            "server CPU per message (redis: 2 nodes + Redis)",
            results,
            |r| micros(r.cpu_per_message),
            "memory ≤ 1.3× bare",
            Some(cpu_ratio <= 1.3),
        ),
        row(
            "CPU per message over the bare relay's",
            results,
            |r| cpu_over(r, bare),
            "",
            None,
        ),
        row(
            "CPU per message over the memory engine's",
            results,
            |r| cpu_over(r, memory),
            "redis ≤ 2.5× memory",
            Some(redis_cpu_ratio <= 2.5),
        ),
        row(
            "of which redis-server",
            results,
            |r| micros(r.redis_cpu_per_message),
            "",
            None,
        ),
        row(
            "messages per second",
            results,
            |r| format!("{:.0}", r.messages_per_second),
            "",
            None,
        ),
        row(
            "Redis commands per message",
            results,
            |r| format!("{:.2}", r.redis_commands_per_message),
            "",
            None,
        ),
        row(
            "messages relayed / lost",
            results,
            |r| format!("{} / 0", r.messages_relayed),
            "0 lost",
            Some(results.iter().all(|r| r.messages_relayed > 0)),
        ),
        row(
            "bytes per idle socket",
            results,
            |r| format!("{:.0} B", r.bytes_per_idle_socket),
            "memory ≤ 8 KiB",
            Some(memory.bytes_per_idle_socket <= 8192.0),
        ),
        row(
            "RSS start / idle / end",
            results,
            rss3,
            "memory: end ≈ start",
            Some(memory.memory_back()),
        ),
        row(
            "RSS 2nd round idle / end (reuse, no leak)",
            results,
            |r| {
                format!(
                    "{} / {}",
                    mib(r.rss_idle_again as f64),
                    mib(r.rss_end_again as f64)
                )
            },
            "≤ 1st round",
            Some(memory.memory_reused() && redis.memory_reused()),
        ),
        row(
            "live sessions after all ended",
            results,
            |r| r.sessions_after.to_string(),
            "0",
            Some(memory.sessions_after == 0 && redis.sessions_after == 0),
        ),
        row(
            "projected RSS, 100,000 sessions",
            results,
            |r| mib(r.projected_100k()),
            "≤ 2 GiB",
            Some(memory.projected_100k() <= two_gib),
        ),
    ];
    println!(
        "\n{} idle sockets; latency: {} sessions × {} rounds, median of {} alternating runs",
        memory.idle_sockets, knobs.sessions, knobs.rounds, knobs.repeats
    );
    println!(
        "memory and redis: the release binary `{}`, default settings, INFO logs to a file\n",
        homecall_binary()
    );
    println!("| metric | memory engine | redis engine | bare relay | target | |");
    println!("| --- | ---: | ---: | ---: | --- | --- |");
    let mut all = true;
    for Row {
        name,
        values: [m, r, b],
        target,
        ok,
    } in rows
    {
        all &= ok.unwrap_or(true);
        let ok = ok.map_or("", verdict);
        println!("| {name} | {m} | {r} | {b} | {target} | {ok} |");
    }
    all
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "serve-child") {
        serve_bare_child();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let knobs = Knobs::from_env();
    let results = runtime.block_on(measure_all(knobs));
    let all = report(&results, knobs);
    println!("\nall targets: {}", verdict(all));
}
