//! Load test of what ships: `cargo bench --features ssr --bench load`.
//!
//! **The release binary with its default settings and default logging**: 10,000
//! sessions (`LOAD_SESSIONS`), each with both participants connected and relaying
//! messages, from 1,000 loopback source addresses (`LOAD_ADDRESSES`), losing no message.
//!
//! # The server
//! `target/release/homecall` (the one `cargo bench` has just built beside this bench, or
//! `HOMECALL_BIN`; when missing it is built with
//! `cargo build --release --features ssr --bin homecall`), started as a child process
//! with `--listen 127.0.0.1:<free port> --site-root <empty temp dir>` and nothing else:
//! every other setting is its default (any `HOMECALL_*` variable is removed from the
//! child's environment), logging included (`--log info`, every message logged twice),
//! its stdout and stderr going to a file in a temp dir (kept when the run fails). The
//! child's `/proc/<pid>/stat` and `/proc/<pid>/status` are server CPU and memory only;
//! the clients run in this process, on the same 2 cores. The child is killed on exit,
//! also on a panic (a guard with `Drop`).
//!
//! # The clients
//! The default per-address limits are 20 open signal sockets, 30 new sessions a minute
//! and 64 TCP connections. Session `i` comes from address `i % LOAD_ADDRESSES`
//! (127.1.x.y, each client socket bound to it before it connects), both of its
//! participants from the same address: 10 sessions, 20 sockets per address, within the
//! defaults; the bench refuses a setting that is not. Each address starts its sessions
//! once (at most 10 ≤ 30 a minute), so no pacing beyond that is needed. This process
//! raises its own open-files limit (the hard one too when it may: the child inherits it)
//! and fails if fewer than 2 × sessions + 5,000 are allowed.
//!
//! Every socket has its own task that reads all the time (so the hub's pings get their
//! pongs) and stamps each frame with its arrival `Instant`. Every message carries two
//! extra fields, which travel unchanged (PROTOCOL.md §2): `seq`, numbered per direction
//! of a session, and `t`, its send time in µs on this process's one clock. The receiver
//! rebuilds the frame it expects from them and compares it byte for byte. A message that
//! does not arrive within 30 s, arrives twice, out of order or altered is a loss; any
//! `error` frame counts too. Any loss fails the run (exit code 1).
//!
//! # Phases (each bounded in time; passing a bound fails the run)
//! 1. connect: all 2 × sessions sockets, 64 sessions at a time (alice first, then bob).
//! 2. relay: every session at once, `LOAD_ROUNDS` (default 5) rounds of: alice sends an
//!    `offer` (SDP ≈ 500 bytes), bob answers, then 4 `candidate`s each way. Latency is
//!    send-to-arrival of these; server CPU per message and messages per second are over
//!    this phase.
//! 3. drop and reconnect: in 1,000 sessions bob's socket is reset (SO_LINGER 0, no close
//!    frame: a drop, PROTOCOL.md §4); once `/metrics` counts the sockets gone, alice
//!    sends 20 messages, which the hub must queue (`homecall_messages_queued_total`);
//!    bob reconnects with the same ids and alice at once sends 5 more: bob must get all
//!    25 in order, the queued ones first (§3); bob sends 3 back.
//! 4. hang-up: every alice closes with 1000; every bob must get `session_ended` and a
//!    1000 close (§4). Then `/metrics` must count 0 sessions, and after a settle time
//!    (`LOAD_SETTLE_SECS`, default 15: jemalloc purges on a 10 s decay) memory is read.
//!
//! The child's VmRSS and VmHWM are read at start, with all sockets connected, after the
//! relay, and after the hang-up and settle time. Only 127.0.0.0/8 is contacted; every
//! loop is bounded in count and time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use uuid::Uuid;

type Ws = WebSocketStream<TcpStream>;

/// The server's defaults this bench keeps within (`--max-sockets-per-ip`,
/// `--new-sessions-per-ip-per-minute`, `--max-connections-per-ip`).
const MAX_SOCKETS_PER_ADDRESS: usize = 20;
const NEW_SESSIONS_PER_MINUTE: usize = 30;
const MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// Linux reports CPU times in `/proc` in USER_HZ ticks, fixed at 100 per second.
const TICKS_PER_SECOND: f64 = 100.0;
/// Longest wait for one connect (TCP + upgrade).
const CONNECT_PATIENCE: Duration = Duration::from_secs(20);
/// A message that has not arrived this long after the receiver started waiting is lost.
const MESSAGE_PATIENCE: Duration = Duration::from_secs(30);
/// Longest wait for the server to start, or for `/metrics` to show a count.
const SERVER_PATIENCE: Duration = Duration::from_secs(30);
/// Bounds of the phases.
const CONNECT_BOUND: Duration = Duration::from_secs(180);
const RELAY_BOUND: Duration = Duration::from_secs(240);
const DROP_BOUND: Duration = Duration::from_secs(120);
const HANG_UP_BOUND: Duration = Duration::from_secs(120);
/// Sessions connecting at once (one socket each at a time): below the server's listen
/// backlog, so the rate is the server's and not SYN retransmits'. The reconnects of phase
/// 3 come all at once, a burst.
const CONNECT_CONCURRENCY: usize = 64;
/// Candidates each way per round.
const CANDIDATES: usize = 4;
/// Sessions whose bob drops and reconnects (at most), messages alice sends while he is
/// away, after he is back, and bob's answer messages.
const DROPS: usize = 1_000;
const QUEUED: usize = 20;
const AFTER: usize = 5;
const BOB_BACK: usize = 3;

/// The one clock of every latency: message `t` fields are µs since this instant.
static BASE: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_us() -> u64 {
    BASE.elapsed().as_micros() as u64
}

// ---------------------------------------------------------------- settings

#[derive(Clone, Copy, Debug)]
struct Knobs {
    sessions: usize,
    addresses: usize,
    rounds: usize,
    settle: Duration,
}

impl Knobs {
    fn from_env() -> anyhow::Result<Self> {
        let number = |name: &str, default: usize| -> anyhow::Result<usize> {
            match std::env::var(name) {
                Ok(value) => value
                    .trim()
                    .parse()
                    .with_context(|| format!("{name}={value:?} is not a number")),
                Err(_) => Ok(default),
            }
        };
        let knobs = Self {
            sessions: number("LOAD_SESSIONS", 10_000)?,
            addresses: number("LOAD_ADDRESSES", 1_000)?,
            rounds: number("LOAD_ROUNDS", 5)?,
            settle: Duration::from_secs(number("LOAD_SETTLE_SECS", 15)? as u64),
        };
        if knobs.sessions == 0 || knobs.addresses == 0 || knobs.rounds == 0 {
            bail!("LOAD_SESSIONS, LOAD_ADDRESSES and LOAD_ROUNDS must be at least 1");
        }
        if knobs.addresses > 60_000 {
            bail!("LOAD_ADDRESSES must be at most 60,000 (127.1.0.1 onwards)");
        }
        let per_address = knobs.sessions.div_ceil(knobs.addresses);
        if 2 * per_address > MAX_SOCKETS_PER_ADDRESS
            || per_address > NEW_SESSIONS_PER_MINUTE
            || 2 * per_address > MAX_CONNECTIONS_PER_ADDRESS
        {
            bail!(
                "{} sessions over {} addresses is {per_address} sessions ({} sockets) per address, \
                 beyond the server's default of {MAX_SOCKETS_PER_ADDRESS} sockets per address: \
                 raise LOAD_ADDRESSES to at least {}",
                knobs.sessions,
                knobs.addresses,
                2 * per_address,
                knobs.sessions.div_ceil(MAX_SOCKETS_PER_ADDRESS / 2)
            );
        }
        Ok(knobs)
    }

    fn drops(&self) -> usize {
        DROPS.min(self.sessions)
    }

    fn per_address(&self) -> usize {
        self.sessions.div_ceil(self.addresses)
    }
}

/// The source address of address index `n`: 127.1.0.1, …, 127.1.0.250, 127.1.1.1, …
fn address(n: usize) -> Ipv4Addr {
    let (x, y) = (n / 250, n % 250 + 1);
    Ipv4Addr::new(127, 1 + (x / 256) as u8, (x % 256) as u8, y as u8)
}

/// Raises this process's open-files limit (the hard one too when privileged, since the
/// child inherits it); fails unless at least `need` are allowed.
fn raise_open_files(need: u64) -> anyhow::Result<u64> {
    use rlimit::Resource;
    let want: u64 = (4 * need).max(262_144);
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).context("getrlimit(NOFILE)")?;
    let mut raise_error = None;
    if hard < want {
        // Works with CAP_SYS_RESOURCE; otherwise the hard limit stays as it is.
        raise_error = rlimit::setrlimit(Resource::NOFILE, soft, want).err();
    }
    let got = rlimit::increase_nofile_limit(want).context("raising RLIMIT_NOFILE")?;
    if got < need {
        let (_, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap_or((got, got));
        let why = raise_error.map_or(String::new(), |e| format!(" (raising the hard limit: {e})"));
        bail!(
            "this process may open only {got} files: hard limit {hard}{why}; the load test needs \
             at least {need} (2 × LOAD_SESSIONS + 5,000), and the server, which inherits the \
             limit, 2 × LOAD_SESSIONS + 256: raise it (as root `ulimit -Hn 262144; ulimit -n \
             262144`, a container's --ulimit nofile=, systemd's LimitNOFILE=) or lower \
             LOAD_SESSIONS (to at most {} here)",
            got.saturating_sub(5_000) / 2
        );
    }
    Ok(got)
}

// ---------------------------------------------------------------- the child server

/// The release binary running as a child; killed on drop. Its temp dir (site root and
/// log) is removed on drop unless `keep` is set.
struct Server {
    child: Child,
    port: u16,
    bin: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    command: String,
    keep: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.keep {
            eprintln!("server log kept at {}", self.log.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `HOMECALL_BIN`, else the binary `cargo bench` built beside this bench, else
/// `target/release/homecall`; built when missing.
fn server_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("HOMECALL_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("HOMECALL_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = option_env!("CARGO_BIN_EXE_homecall")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target/release/homecall"));
    if bin.is_file() {
        return Ok(bin);
    }
    let how = "cargo build --release --features ssr --bin homecall";
    eprintln!("{} is missing: running `{how}`", bin.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--features",
            "ssr",
            "--bin",
            "homecall",
        ])
        .current_dir(manifest)
        .status();
    match built {
        Ok(status) if status.success() && bin.is_file() => Ok(bin),
        _ => bail!(
            "no server binary at {}: build it with `{how}` (in {}), or point HOMECALL_BIN at one",
            bin.display(),
            manifest.display()
        ),
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    async fn start() -> anyhow::Result<Server> {
        let bin = server_binary()?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("homecall-load-{}-{stamp}", std::process::id()));
        let site = dir.join("site");
        std::fs::create_dir_all(&site).with_context(|| format!("create {}", site.display()))?;
        let log = dir.join("server.log");
        let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(&bin);
        command
            .args(["--listen", &listen, "--site-root"])
            .arg(&site)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // Default settings: no HOMECALL_* variable from this environment reaches it.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HOMECALL_") {
                command.env_remove(name);
            }
        }
        let shown = format!(
            "{} --listen {listen} --site-root {}",
            bin.display(),
            site.display()
        );
        let child = command
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let mut server = Server {
            child,
            port,
            bin,
            dir,
            log,
            command: shown,
            keep: true,
        };
        let deadline = Instant::now() + SERVER_PATIENCE;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited at start ({status}):\n{}",
                    log_tail(&server.log, 20)
                );
            }
            if let Ok((200, _)) = http_get(port, "/healthz").await {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "the server did not answer /healthz within {SERVER_PATIENCE:?}:\n{}",
                    log_tail(&server.log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds of the child.
    fn cpu(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) else {
            return f64::NAN;
        };
        // Fields after the parenthesised command name; utime and stime are fields 14, 15.
        let Some(close) = stat.rfind(')') else {
            return f64::NAN;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (tick(11) + tick(12)) as f64 / TICKS_PER_SECOND
    }

    /// VmRSS and VmHWM of the child, in bytes.
    fn memory(&self) -> Memory {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kib| kib * 1024)
        };
        Memory {
            rss: field("VmRSS:"),
            hwm: field("VmHWM:"),
        }
    }

    async fn metrics(&self) -> anyhow::Result<Metrics> {
        let (status, body) = http_get(self.port, "/metrics").await?;
        if status != 200 {
            bail!("GET /metrics answered {status}");
        }
        Ok(Metrics(body))
    }

    /// Waits until `check` holds of `/metrics`; returns the last scrape and whether it did.
    async fn wait_metrics(
        &self,
        check: impl Fn(&Metrics) -> bool,
    ) -> anyhow::Result<(Metrics, bool)> {
        let deadline = Instant::now() + SERVER_PATIENCE;
        loop {
            let metrics = self.metrics().await?;
            if check(&metrics) {
                return Ok((metrics, true));
            }
            if Instant::now() > deadline {
                return Ok((metrics, false));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Memory {
    rss: u64,
    hwm: u64,
}

/// One `/metrics` scrape.
struct Metrics(String);

impl Metrics {
    /// The sum of the samples of `name` (all label sets).
    fn get(&self, name: &str) -> u64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let rest = line.strip_prefix(name)?;
                if !(rest.starts_with(' ') || rest.starts_with('{')) {
                    return None;
                }
                rest.rsplit(' ').next()?.trim().parse::<f64>().ok()
            })
            .sum::<f64>() as u64
    }

    /// The samples of `name` with a label, non-zero ones only.
    fn labelled(&self, name: &str) -> Vec<(String, u64)> {
        self.0
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix('{')?;
                let (labels, value) = rest.split_once("} ")?;
                let value = value.trim().parse::<f64>().ok()? as u64;
                Some((labels.to_owned(), value))
            })
            .collect()
    }

    fn sessions(&self) -> u64 {
        self.get("homecall_sessions_active")
    }

    fn sockets(&self) -> u64 {
        self.get("homecall_sockets_connected")
    }
}

/// A plain HTTP/1.1 GET from 127.0.0.1 (not one of the clients' addresses): status, body.
async fn http_get(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.take(16 << 20).read_to_end(&mut response).await?;
        anyhow::Ok(String::from_utf8_lossy(&response).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .context("GET timed out")??;
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, body.to_owned()))
}

/// The kernel's `TcpExt` counter `name` (system-wide: `ListenOverflows` counts connections
/// dropped because a listener's accept queue was full).
fn tcp_ext(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let [names, values] = lines[..] else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What the server logged: lines, bytes, lines by level, the first warnings and errors.
#[derive(Default)]
struct LogSummary {
    lines: u64,
    bytes: u64,
    levels: BTreeMap<String, u64>,
    notable: Vec<String>,
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ … final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn summarise_log(path: &Path) -> LogSummary {
    let mut summary = LogSummary::default();
    let Ok(file) = File::open(path) else {
        return summary;
    };
    for line in BufReader::new(file).split(b'\n').map_while(Result::ok) {
        summary.lines += 1;
        summary.bytes += line.len() as u64 + 1;
        let line = strip_ansi(&String::from_utf8_lossy(&line));
        let level = line
            .split_whitespace()
            .find(|w| ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(w))
            .unwrap_or("other")
            .to_owned();
        if (level == "WARN" || level == "ERROR" || level == "other") && summary.notable.len() < 8 {
            summary.notable.push(line.chars().take(300).collect());
        }
        *summary.levels.entry(level).or_default() += 1;
    }
    summary
}

// ---------------------------------------------------------------- messages

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Offer,
    Answer,
    Candidate,
}

/// An SDP of about 500 bytes, JSON-escaped.
fn sdp() -> String {
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS 9a8b7c6d",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Zx3q",
        "a=ice-pwd:Qm8vJ3k9LpA2sD4fG6hJ8kL0",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:26:94:AE:C7:0E:2C:1E:56:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99",
        "a=setup:actpass",
        "a=mid:0",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtpmap:96 VP8/90000",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
    ]
    .join("\\r\\n")
        + "\\r\\n"
}

/// The frame `from` sends as message `seq` of its direction, sent at `t` µs.
fn frame(kind: Kind, session: &str, from: &str, seq: u64, t: u64, sdp: &str) -> String {
    match kind {
        Kind::Offer | Kind::Answer => {
            let name = if kind == Kind::Offer {
                "offer"
            } else {
                "answer"
            };
            format!(
                r#"{{"type":"{name}","sessionId":"{session}","from":"{from}","sdp":"{sdp}","seq":{seq},"t":{t}}}"#
            )
        }
        Kind::Candidate => format!(
            r#"{{"type":"candidate","sessionId":"{session}","from":"{from}","candidate":{{"candidate":"candidate:{c} 1 udp 2122260223 10.0.0.1 {port} typ host","sdpMid":"0","sdpMLineIndex":0}},"seq":{seq},"t":{t}}}"#,
            c = seq % 8 + 1,
            port = 50_000 + seq % 10_000
        ),
    }
}

#[derive(serde::Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<u64>,
    t: Option<u64>,
    code: Option<String>,
}

enum Checked {
    /// Exactly the frame sent as `seq` at `t`.
    Message { seq: u64, t: u64 },
    /// An `error` from the hub, by code.
    Error(String),
    /// Anything else: not JSON, not numbered, or not byte for byte what was sent.
    Garbled,
}

fn check(text: &str, session: &str, from: &str, sdp: &str) -> Checked {
    let Ok(incoming) = serde_json::from_str::<Incoming>(text) else {
        return Checked::Garbled;
    };
    let kind = match incoming.kind.as_str() {
        "offer" => Kind::Offer,
        "answer" => Kind::Answer,
        "candidate" => Kind::Candidate,
        "error" => return Checked::Error(incoming.code.unwrap_or_else(|| "?".to_owned())),
        _ => return Checked::Garbled,
    };
    match (incoming.seq, incoming.t) {
        (Some(seq), Some(t)) if frame(kind, session, from, seq, t, sdp) == text => {
            Checked::Message { seq, t }
        }
        _ => Checked::Garbled,
    }
}

// ---------------------------------------------------------------- client sockets

enum Cmd {
    Send(String),
    /// Close with 1000 and read until the server has closed too.
    HangUp,
    /// Reset the connection at once (SO_LINGER 0 was set): a drop, no close frame.
    Abort,
}

enum Event {
    Text(String, Instant),
    /// The socket ended; the code of the server's close frame, if any.
    Closed(Option<u16>),
}

/// One client socket, served by its own task, which reads all the time.
struct Peer {
    cmds: mpsc::UnboundedSender<Cmd>,
    events: mpsc::UnboundedReceiver<Event>,
    task: JoinHandle<()>,
}

impl Peer {
    fn start(ws: Ws) -> Peer {
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(socket_task(ws, cmd_rx, event_tx));
        Peer { cmds, events, task }
    }
}

async fn socket_task(
    mut ws: Ws,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut close_code = None;
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let _ = events.send(Event::Text(text.as_str().to_owned(), Instant::now()));
                }
                Some(Ok(Message::Close(frame))) => close_code = frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Send(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Cmd::HangUp) => {
                    let _ = ws
                        .close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))
                        .await;
                }
                Some(Cmd::Abort) => {
                    drop(ws);
                    let _ = events.send(Event::Closed(None));
                    return;
                }
                None => break,
            },
        }
    }
    let _ = events.send(Event::Closed(close_code));
}

/// Opens `/signal` for `peer` of `session` from `source`.
async fn open(
    source: Ipv4Addr,
    port: u16,
    session: &str,
    peer: &str,
    zero_linger: bool,
) -> Result<(Ws, Duration), String> {
    let attempt = async {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        socket
            .bind(SocketAddr::new(IpAddr::V4(source), 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
        let began = Instant::now();
        let stream = socket
            .connect(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))
            .await
            .map_err(|e| format!("connect from {source}: {e}"))?;
        let tcp = began.elapsed();
        let _ = stream.set_nodelay(true);
        if zero_linger {
            stream
                .set_zero_linger()
                .map_err(|e| format!("SO_LINGER: {e}"))?;
        }
        let url = format!("ws://127.0.0.1:{port}/signal?session={session}&peer={peer}");
        // Small client buffers: the clients' memory is not measured, but 20,000 × 128 KiB
        // would still cost time to fill.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        match tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await {
            Ok((ws, _)) => Ok((ws, tcp)),
            Err(tungstenite::Error::Http(response)) => Err(format!(
                "upgrade from {source} refused: HTTP {}",
                response.status()
            )),
            Err(error) => Err(format!("upgrade from {source}: {error}")),
        }
    };
    tokio::time::timeout(CONNECT_PATIENCE, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("connect from {source} timed out")))
}

// ---------------------------------------------------------------- sessions

#[derive(Clone, Copy)]
enum Side {
    Alice,
    Bob,
}

/// One direction's numbering: the next `seq` to send, the next one expected.
#[derive(Default)]
struct Seq {
    next: u64,
    expect: u64,
}

/// What a phase counted in one session (merged over sessions).
#[derive(Default)]
struct Stats {
    /// Messages the phase meant to relay.
    planned: u64,
    /// Arrived exactly once, in order, unchanged.
    ok: u64,
    /// Arrived twice, out of order or altered, or an `error` frame.
    wrong: u64,
    /// One-way latencies of the `ok` ones (µs), when the phase times them.
    latencies: Vec<u32>,
    errors: BTreeMap<String, u64>,
    /// Other per-session durations (reconnect until the queue is drained).
    durations: Vec<Duration>,
    /// Sessions that broke (a timeout, a closed socket), with the first reasons.
    broken: u64,
    reasons: Vec<String>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.planned += other.planned;
        self.ok += other.ok;
        self.wrong += other.wrong;
        self.latencies.extend(other.latencies);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.durations.extend(other.durations);
        self.broken += other.broken;
        for reason in other.reasons {
            if self.reasons.len() < 5 {
                self.reasons.push(reason);
            }
        }
    }

    /// Messages lost: never arrived in order, plus wrong arrivals.
    fn losses(&self) -> u64 {
        self.planned.saturating_sub(self.ok) + self.wrong
    }
}

struct Session {
    index: usize,
    source: Ipv4Addr,
    id: String,
    alice_id: String,
    bob_id: String,
    sdp: Arc<str>,
    alice: Peer,
    bob: Peer,
    a2b: Seq,
    b2a: Seq,
    /// Why this session stopped working; it then only counts its planned messages.
    broken: Option<String>,
    stats: Stats,
    /// Handshake times of its two sockets.
    connect_times: [Duration; 2],
    /// Their TCP connects alone.
    tcp_times: [Duration; 2],
}

impl Session {
    async fn connect(
        index: usize,
        source: Ipv4Addr,
        port: u16,
        drops: bool,
        sdp: Arc<str>,
    ) -> Result<Session, String> {
        let id = Uuid::new_v4().to_string();
        let alice_id = format!("alice-{}", Uuid::new_v4().simple());
        let bob_id = format!("bob-{}", Uuid::new_v4().simple());
        let began = Instant::now();
        let (alice, alice_tcp) = open(source, port, &id, &alice_id, false).await?;
        let alice_time = began.elapsed();
        let began = Instant::now();
        let (bob, bob_tcp) = open(source, port, &id, &bob_id, drops).await?;
        let bob_time = began.elapsed();
        Ok(Session {
            index,
            source,
            id,
            alice_id,
            bob_id,
            sdp,
            alice: Peer::start(alice),
            bob: Peer::start(bob),
            a2b: Seq::default(),
            b2a: Seq::default(),
            broken: None,
            stats: Stats::default(),
            connect_times: [alice_time, bob_time],
            tcp_times: [alice_tcp, bob_tcp],
        })
    }

    fn fail(&mut self, reason: String) {
        if self.broken.is_none() {
            self.stats.broken += 1;
            self.stats.reasons.push(format!(
                "session {} ({} from {}): {reason}",
                self.index, self.id, self.source
            ));
            self.broken = Some(reason);
        }
    }

    /// `side` sends its next message of `kind`.
    fn send(&mut self, side: Side, kind: Kind) {
        self.stats.planned += 1;
        if self.broken.is_some() {
            return;
        }
        let (peer, seq, from) = match side {
            Side::Alice => (&self.alice, &mut self.a2b, &self.alice_id),
            Side::Bob => (&self.bob, &mut self.b2a, &self.bob_id),
        };
        let text = frame(kind, &self.id, from, seq.next, now_us(), &self.sdp);
        seq.next += 1;
        if peer.cmds.send(Cmd::Send(text)).is_err() {
            self.fail("socket task gone".to_owned());
        }
    }

    /// `side` receives `count` messages of the other's, each within [`MESSAGE_PATIENCE`].
    async fn recv(&mut self, side: Side, count: usize, timed: bool) {
        if self.broken.is_some() {
            return;
        }
        let (peer, seq, from) = match side {
            Side::Bob => (&mut self.bob, &mut self.a2b, &self.alice_id),
            Side::Alice => (&mut self.alice, &mut self.b2a, &self.bob_id),
        };
        let stats = &mut self.stats;
        let mut failure = None;
        let mut got = 0;
        while got < count {
            let event = tokio::time::timeout(MESSAGE_PATIENCE, peer.events.recv()).await;
            let (text, at) = match event {
                Err(_) => {
                    failure = Some(format!(
                        "message {} not received in {MESSAGE_PATIENCE:?}",
                        seq.expect
                    ));
                    break;
                }
                Ok(None) => {
                    failure = Some("socket task ended".to_owned());
                    break;
                }
                Ok(Some(Event::Closed(code))) => {
                    failure = Some(format!(
                        "socket closed (close code {code:?}) waiting for message {}",
                        seq.expect
                    ));
                    break;
                }
                Ok(Some(Event::Text(text, at))) => (text, at),
            };
            match check(&text, &self.id, from, &self.sdp) {
                Checked::Message { seq: n, t } => {
                    got += 1;
                    if n == seq.expect {
                        seq.expect += 1;
                        stats.ok += 1;
                        if timed {
                            let sent = *BASE + Duration::from_micros(t);
                            let latency = at.saturating_duration_since(sent).as_micros();
                            stats.latencies.push(latency.min(u32::MAX as u128) as u32);
                        }
                    } else {
                        stats.wrong += 1;
                        if stats.reasons.len() < 5 {
                            stats.reasons.push(format!(
                                "session {}: got message {n}, expected {}",
                                self.index, seq.expect
                            ));
                        }
                        seq.expect = seq.expect.max(n + 1);
                    }
                }
                Checked::Error(code) => {
                    stats.wrong += 1;
                    *stats.errors.entry(code).or_default() += 1;
                }
                Checked::Garbled => {
                    got += 1;
                    stats.wrong += 1;
                    if stats.reasons.len() < 5 {
                        let shown: String = text.chars().take(200).collect();
                        stats
                            .reasons
                            .push(format!("session {}: unexpected frame {shown}", self.index));
                    }
                }
            }
        }
        if let Some(reason) = failure {
            self.fail(reason);
        }
    }

    /// Phase 2: `rounds` × (offer, answer, 4 candidates each way), timed.
    async fn relay(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.send(Side::Alice, Kind::Offer);
            self.recv(Side::Bob, 1, true).await;
            self.send(Side::Bob, Kind::Answer);
            self.recv(Side::Alice, 1, true).await;
            for _ in 0..CANDIDATES {
                self.send(Side::Alice, Kind::Candidate);
                self.send(Side::Bob, Kind::Candidate);
            }
            self.recv(Side::Bob, CANDIDATES, true).await;
            self.recv(Side::Alice, CANDIDATES, true).await;
        }
    }

    /// Phase 3, first step: bob's socket is reset; returns once its task is gone.
    async fn drop_bob(&mut self) {
        if self.broken.is_some() {
            return;
        }
        let _ = self.bob.cmds.send(Cmd::Abort);
        if tokio::time::timeout(MESSAGE_PATIENCE, &mut self.bob.task)
            .await
            .is_err()
        {
            self.fail("bob's socket task did not end".to_owned());
        }
    }

    /// Phase 3, second step: alice sends while bob is away.
    fn send_while_away(&mut self) {
        self.send(Side::Alice, Kind::Offer);
        for _ in 1..QUEUED {
            self.send(Side::Alice, Kind::Candidate);
        }
    }

    /// Phase 3, last step: bob reconnects; alice sends more at once; bob gets all in
    /// order, the queued ones first; then he answers.
    async fn reconnect(&mut self, port: u16) {
        let began = Instant::now();
        if self.broken.is_none() {
            match open(self.source, port, &self.id, &self.bob_id, false).await {
                Ok((ws, _)) => self.bob = Peer::start(ws),
                Err(error) => self.fail(format!("bob's reconnect: {error}")),
            }
        }
        self.send(Side::Alice, Kind::Offer);
        for _ in 1..AFTER {
            self.send(Side::Alice, Kind::Candidate);
        }
        self.recv(Side::Bob, QUEUED, false).await;
        if self.broken.is_none() {
            self.stats.durations.push(began.elapsed());
        }
        self.recv(Side::Bob, AFTER, false).await;
        self.send(Side::Bob, Kind::Answer);
        for _ in 1..BOB_BACK {
            self.send(Side::Bob, Kind::Candidate);
        }
        self.recv(Side::Alice, BOB_BACK, false).await;
    }

    /// Phase 4: alice hangs up; returns (alice's close acknowledged with 1000, bob got
    /// `session_ended` and a 1000 close).
    async fn hang_up(&mut self) -> (bool, bool) {
        let _ = self.alice.cmds.send(Cmd::HangUp);
        let ((alice_code, _), (bob_code, bob_ended)) = tokio::join!(
            wait_closed(&mut self.alice.events),
            wait_closed(&mut self.bob.events)
        );
        (
            alice_code == Some(1000),
            bob_code == Some(1000) && bob_ended,
        )
    }
}

/// Reads a socket's events until it has closed: (the server's close code, whether a
/// `session_ended` error came first).
async fn wait_closed(events: &mut mpsc::UnboundedReceiver<Event>) -> (Option<u16>, bool) {
    let mut ended = false;
    let wait = async {
        while let Some(event) = events.recv().await {
            match event {
                Event::Text(text, _) => {
                    ended |= matches!(
                        serde_json::from_str::<Incoming>(&text),
                        Ok(Incoming { code: Some(code), .. }) if code == "session_ended"
                    );
                }
                Event::Closed(code) => return code,
            }
        }
        None
    };
    let code = tokio::time::timeout(MESSAGE_PATIENCE, wait)
        .await
        .ok()
        .flatten();
    (code, ended)
}

/// Runs `work` on every session, each in its own task, within `bound`.
async fn each<F, Fut>(
    sessions: Vec<Session>,
    bound: Duration,
    what: &str,
    work: F,
) -> anyhow::Result<Vec<Session>>
where
    F: Fn(Session) -> Fut,
    Fut: Future<Output = Session> + Send + 'static,
{
    let tasks: Vec<JoinHandle<Session>> = sessions
        .into_iter()
        .map(|s| tokio::spawn(work(s)))
        .collect();
    let joined = tokio::time::timeout(bound, futures_util::future::join_all(tasks))
        .await
        .map_err(|_| anyhow::anyhow!("phase {what:?} passed its bound of {bound:?}"))?;
    joined
        .into_iter()
        .map(|r| r.map_err(|e| anyhow::anyhow!("a session task of {what:?} failed: {e}")))
        .collect()
}

fn take_stats(sessions: &mut [Session]) -> Stats {
    let mut all = Stats::default();
    for session in sessions {
        all.merge(std::mem::take(&mut session.stats));
    }
    all
}

// ---------------------------------------------------------------- the run

#[derive(Default)]
struct Report {
    knobs: Option<Knobs>,
    open_files: u64,
    bin: String,
    bin_built: String,
    command: String,
    log: String,
    memory_start: Memory,
    memory_connected: Memory,
    memory_relayed: Memory,
    memory_end: Memory,
    sessions_before: u64,
    sessions_connected: u64,
    sessions_after: u64,
    sockets_after: u64,
    connect_time: Duration,
    connect_cpu: f64,
    connect_latency: Vec<Duration>,
    tcp_latency: Vec<Duration>,
    /// Kernel ListenOverflows (system-wide) during the connects, and up to the end of
    /// the reconnects.
    overflows_connect: u64,
    overflows_total: u64,
    relay: Stats,
    relay_time: Duration,
    relay_cpu: f64,
    drop: Stats,
    dropped: usize,
    queued_seen: u64,
    queued_expected: u64,
    drop_time: Duration,
    hang_ups_ok: usize,
    bobs_ended_ok: usize,
    hang_up_time: Duration,
    total_cpu: f64,
    refused: Vec<(String, u64)>,
    rejected: Vec<(String, u64)>,
    log_summary: LogSummary,
    failures: Vec<String>,
}

async fn run(report: &mut Report, server: &mut Server, knobs: Knobs) -> anyhow::Result<()> {
    let sdp: Arc<str> = sdp().into();
    let port = server.port;
    report.bin = server.bin.display().to_string();
    report.bin_built = std::fs::metadata(&server.bin)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or("?".to_owned(), |age| {
            format!("built {} s ago", age.as_secs())
        });
    report.command = server.command.clone();
    report.log = server.log.display().to_string();

    // Start.
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.memory_start = server.memory();
    let before = server.metrics().await?;
    report.sessions_before = before.sessions();
    let cpu_start = server.cpu();
    let overflows_start = tcp_ext("ListenOverflows");

    // Phase 1: connect.
    println!(
        "connecting {} sockets from {} addresses…",
        2 * knobs.sessions,
        knobs.addresses
    );
    let drops = knobs.drops();
    let began = Instant::now();
    let connecting = futures_util::stream::iter((0..knobs.sessions).map(|index| {
        let sdp = Arc::clone(&sdp);
        tokio::spawn(Session::connect(
            index,
            address(index % knobs.addresses),
            port,
            index < drops,
            sdp,
        ))
    }))
    .buffer_unordered(CONNECT_CONCURRENCY)
    .collect::<Vec<_>>();
    let connected = tokio::time::timeout(CONNECT_BOUND, connecting)
        .await
        .map_err(|_| anyhow::anyhow!("connecting passed its bound of {CONNECT_BOUND:?}"))?;
    report.connect_time = began.elapsed();
    report.overflows_connect = tcp_ext("ListenOverflows") - overflows_start;
    report.connect_cpu = server.cpu() - cpu_start;
    let mut sessions = Vec::with_capacity(knobs.sessions);
    let mut connect_errors = Vec::new();
    for result in connected {
        match result {
            Ok(Ok(session)) => sessions.push(session),
            Ok(Err(error)) => connect_errors.push(error),
            Err(error) => connect_errors.push(format!("a connect task failed: {error}")),
        }
    }
    if !connect_errors.is_empty() {
        bail!(
            "{} of {} sessions failed to connect; first: {}",
            connect_errors.len(),
            knobs.sessions,
            connect_errors[..connect_errors.len().min(5)].join("; ")
        );
    }
    sessions.sort_by_key(|s| s.index);
    report.connect_latency = sessions.iter().flat_map(|s| s.connect_times).collect();
    report.tcp_latency = sessions.iter().flat_map(|s| s.tcp_times).collect();
    let want_sessions = report.sessions_before + knobs.sessions as u64;
    let want_sockets = 2 * knobs.sessions as u64;
    let (metrics, ok) = server
        .wait_metrics(|m| m.sessions() == want_sessions && m.sockets() == want_sockets)
        .await?;
    report.sessions_connected = metrics.sessions();
    if !ok {
        bail!(
            "after connecting, /metrics counts {} sessions and {} sockets, not {want_sessions} and {want_sockets}",
            metrics.sessions(),
            metrics.sockets()
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.memory_connected = server.memory();
    println!(
        "connected in {:.1} s; relaying {} rounds…",
        report.connect_time.as_secs_f64(),
        knobs.rounds
    );

    // Phase 2: relay.
    let rounds = knobs.rounds;
    let cpu_before = server.cpu();
    let began = Instant::now();
    sessions = each(sessions, RELAY_BOUND, "relay", move |mut s| async move {
        s.relay(rounds).await;
        s
    })
    .await?;
    report.relay_time = began.elapsed();
    report.relay_cpu = server.cpu() - cpu_before;
    report.relay = take_stats(&mut sessions);
    report.memory_relayed = server.memory();
    println!(
        "relayed {} messages in {:.1} s; dropping and reconnecting {drops} bobs…",
        report.relay.ok,
        report.relay_time.as_secs_f64()
    );

    // Phase 3: drop and reconnect.
    let began = Instant::now();
    let rest = sessions.split_off(drops);
    let dropping = sessions;
    let phase3 = async {
        let mut dropping = dropping;
        let sockets_before = server.metrics().await?.sockets();
        let alive = dropping.iter().filter(|s| s.broken.is_none()).count() as u64;
        dropping = each(dropping, DROP_BOUND, "drop", |mut s| async move {
            s.drop_bob().await;
            s
        })
        .await?;
        let want = sockets_before.saturating_sub(alive);
        let (metrics, ok) = server.wait_metrics(|m| m.sockets() == want).await?;
        if !ok {
            bail!(
                "after {alive} bobs dropped, /metrics counts {} sockets, not {want}",
                metrics.sockets()
            );
        }
        let queued_before = metrics.get("homecall_messages_queued_total");
        let alive = dropping.iter().filter(|s| s.broken.is_none()).count() as u64;
        for session in &mut dropping {
            session.send_while_away();
        }
        let expected = alive * QUEUED as u64;
        let want = queued_before + expected;
        let (metrics, _) = server
            .wait_metrics(|m| m.get("homecall_messages_queued_total") >= want)
            .await?;
        let seen = metrics.get("homecall_messages_queued_total") - queued_before;
        dropping = each(dropping, DROP_BOUND, "reconnect", move |mut s| async move {
            s.reconnect(port).await;
            s
        })
        .await?;
        anyhow::Ok((dropping, seen, expected))
    };
    let (mut dropping, seen, expected) = tokio::time::timeout(DROP_BOUND * 2, phase3)
        .await
        .map_err(|_| anyhow::anyhow!("phase \"drop and reconnect\" passed its bound"))??;
    report.queued_seen = seen;
    report.queued_expected = expected;
    report.drop_time = began.elapsed();
    report.overflows_total = tcp_ext("ListenOverflows") - overflows_start;
    report.dropped = dropping.len();
    report.drop = take_stats(&mut dropping);
    let mut sessions = dropping;
    sessions.extend(rest);
    println!("hanging up…");

    // Phase 4: hang up.
    let began = Instant::now();
    let outcomes = tokio::time::timeout(
        HANG_UP_BOUND,
        futures_util::future::join_all(
            sessions
                .into_iter()
                .map(|mut s| tokio::spawn(async move { s.hang_up().await })),
        ),
    )
    .await
    .map_err(|_| anyhow::anyhow!("hanging up passed its bound of {HANG_UP_BOUND:?}"))?;
    for outcome in outcomes {
        let (alice, bob) = outcome.context("a hang-up task failed")?;
        report.hang_ups_ok += usize::from(alice);
        report.bobs_ended_ok += usize::from(bob);
    }
    report.hang_up_time = began.elapsed();
    let want = report.sessions_before;
    let (metrics, _) = server
        .wait_metrics(|m| m.sessions() == want && m.sockets() == 0)
        .await?;
    report.sessions_after = metrics.sessions();
    report.sockets_after = metrics.sockets();
    println!("settling {} s…", knobs.settle.as_secs());
    tokio::time::sleep(knobs.settle).await;
    report.memory_end = server.memory();
    report.total_cpu = server.cpu() - cpu_start;
    let last = server.metrics().await?;
    report.refused = last.labelled("homecall_upgrades_refused_total");
    report.rejected = last.labelled("homecall_rejected_total");
    Ok(())
}

// ---------------------------------------------------------------- the report

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn percentile<T: Copy + Ord>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let at = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    Some(sorted[at])
}

fn print_report(report: &mut Report) -> bool {
    let Some(knobs) = report.knobs else {
        return false;
    };
    let mut checks: Vec<(&str, bool)> = Vec::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |name: &str, value: String| rows.push((name.to_owned(), value));

    report.connect_latency.sort();
    report.tcp_latency.sort();
    let sockets = 2 * knobs.sessions;
    let connects_per_second = sockets as f64 / report.connect_time.as_secs_f64().max(1e-9);
    row(
        "connect: sockets, time, rate",
        format!(
            "{sockets} in {:.2} s = {connects_per_second:.0} connects/s",
            report.connect_time.as_secs_f64()
        ),
    );
    let handshake = |p| percentile(&report.connect_latency, p).map_or("—".into(), ms);
    let tcp = |p| percentile(&report.tcp_latency, p).map_or("—".into(), ms);
    row(
        "connect: TCP + upgrade p50 / p99 / max (64 sessions at a time)",
        format!(
            "{} / {} / {}",
            handshake(0.5),
            handshake(0.99),
            handshake(1.0)
        ),
    );
    row(
        "connect: of which TCP connect p50 / p99 / max",
        format!("{} / {} / {}", tcp(0.5), tcp(0.99), tcp(1.0)),
    );
    row(
        "kernel ListenOverflows (system-wide): connect phase / up to the reconnects' end",
        format!("{} / {}", report.overflows_connect, report.overflows_total),
    );
    row(
        "connect: server CPU per connect",
        format!("{:.0} µs", report.connect_cpu / sockets as f64 * 1e6),
    );

    let relay = &mut report.relay;
    relay.latencies.sort_unstable();
    let us = |p: f64| {
        percentile(&relay.latencies, p)
            .map_or("—".to_owned(), |v| ms(Duration::from_micros(v as u64)))
    };
    let relayed = relay.ok + relay.wrong;
    row(
        "relay: messages, time, rate",
        format!(
            "{relayed} in {:.2} s = {:.0} msg/s",
            report.relay_time.as_secs_f64(),
            relayed as f64 / report.relay_time.as_secs_f64().max(1e-9)
        ),
    );
    row(
        "relay: latency p50 / p99 / max",
        format!(
            "{} / {} / {}",
            us(0.5),
            us(0.99),
            relay
                .latencies
                .last()
                .map_or("—".to_owned(), |v| ms(Duration::from_micros(*v as u64)))
        ),
    );
    row(
        "relay: server CPU per message",
        format!(
            "{:.1} µs ({:.2} CPU s)",
            report.relay_cpu / relayed.max(1) as f64 * 1e6,
            report.relay_cpu
        ),
    );
    row(
        "relay: LOST (missing + twice/out of order/altered)",
        format!(
            "{} of {} ({} missing, {} wrong, {} sessions broken)",
            relay.losses(),
            relay.planned,
            relay.planned.saturating_sub(relay.ok),
            relay.wrong,
            relay.broken
        ),
    );
    checks.push(("no message lost in the relay", relay.losses() == 0));

    let drop = &mut report.drop;
    drop.durations.sort();
    let drained = |p| percentile(&drop.durations, p).map_or("—".to_owned(), ms);
    row(
        "drop + reconnect: sessions, time",
        format!(
            "{} in {:.2} s",
            report.dropped,
            report.drop_time.as_secs_f64()
        ),
    );
    row(
        "drop + reconnect: queued by the hub (metric)",
        format!("{} of {}", report.queued_seen, report.queued_expected),
    );
    row(
        "drop + reconnect: reconnect → queue drained p50 / p99",
        format!("{} / {}", drained(0.5), drained(0.99)),
    );
    row(
        "drop + reconnect: LOST",
        format!(
            "{} of {} ({} missing, {} wrong, {} sessions broken)",
            drop.losses(),
            drop.planned,
            drop.planned.saturating_sub(drop.ok),
            drop.wrong,
            drop.broken
        ),
    );
    checks.push((
        "no message lost across drop + reconnect",
        drop.losses() == 0,
    ));
    checks.push((
        "every message to an absent bob queued",
        report.queued_seen == report.queued_expected,
    ));

    row(
        "hang-up: alice closes acknowledged 1000 / bobs told session_ended + 1000",
        format!(
            "{} / {} of {} in {:.2} s",
            report.hang_ups_ok,
            report.bobs_ended_ok,
            knobs.sessions,
            report.hang_up_time.as_secs_f64()
        ),
    );
    checks.push((
        "every hang-up ends its session",
        report.hang_ups_ok == knobs.sessions && report.bobs_ended_ok == knobs.sessions,
    ));
    row(
        "homecall_sessions_active: before / connected / after",
        format!(
            "{} / {} / {} (sockets after: {})",
            report.sessions_before,
            report.sessions_connected,
            report.sessions_after,
            report.sockets_after
        ),
    );
    checks.push((
        "sessions back to the start",
        report.sessions_after == report.sessions_before && report.sockets_after == 0,
    ));
    let memory = |m: Memory| format!("{} / {}", mib(m.rss), mib(m.hwm));
    row("server VmRSS / VmHWM: start", memory(report.memory_start));
    row(
        "server VmRSS / VmHWM: all sockets connected",
        memory(report.memory_connected),
    );
    row(
        "server VmRSS / VmHWM: after the relay",
        memory(report.memory_relayed),
    );
    row(
        &format!(
            "server VmRSS / VmHWM: after hang-up + {} s settle",
            knobs.settle.as_secs()
        ),
        memory(report.memory_end),
    );
    row(
        "server RSS per connected socket",
        format!(
            "{:.0} B",
            report
                .memory_connected
                .rss
                .saturating_sub(report.memory_start.rss) as f64
                / sockets as f64
        ),
    );
    row(
        "server CPU, whole run",
        format!("{:.2} s", report.total_cpu),
    );
    let listed = |samples: &[(String, u64)]| {
        let nonzero: Vec<String> = samples
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(labels, n)| format!("{labels} {n}"))
            .collect();
        if nonzero.is_empty() {
            "none".to_owned()
        } else {
            nonzero.join(", ")
        }
    };
    row("upgrades refused (metric)", listed(&report.refused));
    row("messages rejected (metric)", listed(&report.rejected));
    let log = &report.log_summary;
    row(
        "server log",
        format!(
            "{} lines, {}; {}",
            log.lines,
            mib(log.bytes),
            log.levels
                .iter()
                .map(|(level, n)| format!("{level} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    println!();
    println!(
        "HomeCall load test: the RELEASE build, DEFAULT settings, DEFAULT logging (--log info, to a file)"
    );
    println!("server binary: {} ({})", report.bin, report.bin_built);
    println!("server command: {}", report.command);
    println!("server log: {}", report.log);
    println!(
        "clients: {} sessions × 2 sockets from {} addresses ({}–{}), {} sessions per address; \
         {} rounds × (offer, answer, {CANDIDATES} candidates each way); {} drops × ({QUEUED} queued + {AFTER} after + {BOB_BACK} back); \
         open-files limit {}",
        knobs.sessions,
        knobs.addresses,
        address(0),
        address(knobs.addresses - 1),
        knobs.per_address(),
        knobs.rounds,
        knobs.drops(),
        report.open_files
    );
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    for (name, value) in &rows {
        println!("| {name} | {value} |");
    }
    for reason in report.relay.reasons.iter().chain(&report.drop.reasons) {
        println!("  first problems: {reason}");
    }
    for (code, n) in report.relay.errors.iter().chain(&report.drop.errors) {
        println!("  error frames received: {code} × {n}");
    }
    if !log.notable.is_empty() {
        println!(
            "\nserver WARN/ERROR/unparsed log lines (first {}):",
            log.notable.len()
        );
        for line in &log.notable {
            println!("  {line}");
        }
    }
    println!();
    for (name, ok) in &checks {
        println!("{} {name}", if *ok { "PASS" } else { "FAIL" });
    }
    for failure in &report.failures {
        println!("FAIL {failure}");
    }
    checks.iter().all(|(_, ok)| *ok) && report.failures.is_empty()
}

fn main() {
    let code = outer();
    std::process::exit(code);
}

/// Everything, with the server guard dropped before the process exits.
fn outer() -> i32 {
    LazyLock::force(&BASE);
    let args: Vec<String> = std::env::args().collect();
    let knobs = match Knobs::from_env() {
        Ok(knobs) => knobs,
        Err(error) => {
            eprintln!("load: {error:#}");
            return 2;
        }
    };
    let need = 2 * knobs.sessions as u64 + 5_000;
    let open_files = match raise_open_files(need) {
        Ok(n) => n,
        Err(error) => {
            eprintln!("load: {error:#}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("load: no tokio runtime: {error}");
            return 2;
        }
    };
    let mut report = Report {
        knobs: Some(knobs),
        open_files,
        ..Report::default()
    };
    let ok = runtime.block_on(async {
        let mut server = match Server::start().await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("load: {error:#}");
                return false;
            }
        };
        if let Err(error) = run(&mut report, &mut server, knobs).await {
            eprintln!("load: {error:#}");
            report.failures.push(format!("{error:#}"));
        }
        report.log_summary = summarise_log(&server.log);
        let ok = print_report(&mut report);
        println!("\nrun: nice -n 10 cargo bench --features ssr --bench load");
        println!("this binary: {}", args.join(" "));
        println!(
            "env: LOAD_SESSIONS={} LOAD_ADDRESSES={} LOAD_ROUNDS={} LOAD_SETTLE_SECS={}",
            knobs.sessions,
            knobs.addresses,
            knobs.rounds,
            knobs.settle.as_secs()
        );
        println!("\nall checks: {}", if ok { "PASS" } else { "FAIL" });
        server.keep = !ok;
        drop(server);
        ok
    });
    // Sockets still open (after a failure) go with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(2));
    if ok { 0 } else { 1 }
}
