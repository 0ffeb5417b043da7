//! Hostile clients against the real server binary, started as a child process on a free
//! loopback port: each test mounts one attack and checks the defence from the outside,
//! with memory read from `/proc/<pid>/status` and a "canary" call (two clients of their
//! own, from 127.0.0.9) that must keep relaying in under a second meanwhile.
//!
//! The binary is `$HOMECALL_ATTACK_BIN` if set, else cargo's `homecall` (build it with
//! `--release` and point the variable at it to test the release build). Memory figures
//! are printed with `eprintln!` (run with `--nocapture` to see them); run one test at a
//! time (`--test-threads=1`), since they measure time and memory.
//!
//! Settings added with the defences are passed as flags. With
//! `HOMECALL_ATTACK_NEW_FLAGS_AS_ENV=1` they are passed as their `HOMECALL_*` variables
//! instead, which an older binary ignores: that measures how it behaves under the same
//! attack rather than failing at start-up on an unknown flag.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should happen.
const PATIENCE: Duration = Duration::from_secs(5);
/// The canary must relay faster than this while an attack runs.
const CANARY_LIMIT: Duration = Duration::from_secs(1);
/// An attack may grow the server's peak RSS by less than this (kB).
const MAX_GROWTH_KB: u64 = 64 * 1024;
const MIB: usize = 1024 * 1024;

const ALICE: &str = "alice-0001";
const BOB: &str = "bob-00002";
/// Not a protocol message: answered with `bad_message`.
const INVALID: &str = r#"{"type":"nonsense"}"#;

/// Source addresses (127.0.0.N) of the clients.
const ATTACKER: u8 = 1;
const BYSTANDER: u8 = 2;
const CANARY: u8 = 9;
/// The start-up check's address, apart from every client's.
const PROBE: u8 = 250;

fn loopback(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

// ---------------------------------------------------------------------------------------
// The child server

fn binary() -> String {
    std::env::var("HOMECALL_ATTACK_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_homecall").to_owned())
}

fn new_settings_as_env() -> bool {
    std::env::var("HOMECALL_ATTACK_NEW_FLAGS_AS_ENV").is_ok_and(|value| value == "1")
}

/// `--max-queued-bytes` → `HOMECALL_MAX_QUEUED_BYTES`.
fn env_name(flag: &str) -> String {
    format!(
        "HOMECALL_{}",
        flag.trim_start_matches('-')
            .replace('-', "_")
            .to_ascii_uppercase()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

static SERVERS: AtomicU64 = AtomicU64::new(0);
static SESSIONS: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone, Copy)]
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
}

/// The server binary as a child process; killed (and waited for) on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    output: PathBuf,
    /// With `--tls-cert`: a client configuration that trusts its certificate.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Print the end of the server's output when a test fails.
    show_output: bool,
    /// One attack at a time: the tests time what the server does (cut within a second,
    /// a canary within a second), which 20 attacks at once on 2 cores would blur. Last,
    /// so it is released after the child is gone.
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

/// Held by each test's [`Server`] for its life.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Server {
    /// Starts the server with `flags`, and `new` settings (the defences' flags; see the
    /// module comment), and waits until `/healthz` answers.
    async fn start(flags: &[&str], new: &[(&str, &str)]) -> Self {
        Self::launch(flags, new, false).await
    }

    /// The same, with a self-signed certificate for `localhost` (`--tls-cert`).
    async fn start_tls(flags: &[&str], new: &[(&str, &str)]) -> Self {
        Self::launch(flags, new, true).await
    }

    async fn launch(flags: &[&str], new: &[(&str, &str)], tls: bool) -> Self {
        let one_at_a_time = ONE_AT_A_TIME.lock().await;
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("homecall-attacks-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let site = dir.join("site");
        std::fs::create_dir_all(&site).expect("temp folder");
        let output = dir.join("output.log");
        let log = std::fs::File::create(&output).expect("output file");
        let addr = SocketAddr::from((loopback(1), free_port()));

        let mut command = Command::new(binary());
        command
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--site-root")
            .arg(&site)
            .args(flags);
        let mut client_tls = None;
        if tls {
            let (cert, key, der) = self_signed(&dir);
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
            client_tls = Some(trusting(&der));
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HOMECALL_") {
                command.env_remove(key);
            }
        }
        for (flag, value) in new {
            if new_settings_as_env() {
                command.env(env_name(flag), value);
            } else {
                command.arg(flag).arg(value);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("output file"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary()));
        let mut server = Self {
            child,
            addr,
            dir,
            output,
            tls: client_tls,
            show_output: true,
            _one_at_a_time: one_at_a_time,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!(
                    "homecall exited at start-up ({status}):\n{}",
                    self.output_tail(20)
                );
            }
            let probe = timeout(
                Duration::from_secs(1),
                self.get_from(PROBE, "/healthz", None),
            );
            if let Ok(Ok(response)) = probe.await
                && response.status == 200
                && response.body == b"ok"
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "homecall did not answer /healthz within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The host name clients use: `localhost` over TLS (the certificate's name).
    fn host(&self) -> &'static str {
        if self.tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        }
    }

    fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc status"))
        };
        Memory {
            rss_kb: field("VmRSS:"),
            hwm_kb: field("VmHWM:"),
        }
    }

    /// Prints the figures and returns how much the peak RSS grew (kB).
    fn report_memory(&self, what: &str, before: Memory, after: Memory) -> u64 {
        let mb = |kb: u64| kb as f64 / 1024.0;
        let growth = after.hwm_kb.saturating_sub(before.hwm_kb);
        eprintln!(
            "[{what}] VmRSS {:.1} -> {:.1} MB, VmHWM {:.1} -> {:.1} MB: peak RSS grew {:.1} MB",
            mb(before.rss_kb),
            mb(after.rss_kb),
            mb(before.hwm_kb),
            mb(after.hwm_kb),
            mb(growth)
        );
        growth
    }

    /// The server's sockets on its port (not the listener): (state, tx queue, rx queue)
    /// from `/proc/net/tcp`.
    fn server_sockets(&self) -> Vec<(u8, u64, u64)> {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let port = format!(":{:04X}", self.port());
        table
            .lines()
            .skip(1)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.len() < 5 || !fields[1].ends_with(&port) {
                    return None;
                }
                let state = u8::from_str_radix(fields[3], 16).ok()?;
                let (tx, rx) = fields[4].split_once(':')?;
                let queue = |hex| u64::from_str_radix(hex, 16).ok();
                (state != 0x0A).then_some((state, queue(tx)?, queue(rx)?))
            })
            .collect()
    }

    /// Waits (bounded) until the server holds no open connection, e.g. the start-up
    /// check's, before an attack that counts connections.
    async fn wait_no_open_connections(&self) {
        const ESTABLISHED: u8 = 0x01;
        const CLOSE_WAIT: u8 = 0x08;
        let deadline = Instant::now() + PATIENCE;
        while self
            .server_sockets()
            .iter()
            .any(|(state, _, _)| [ESTABLISHED, CLOSE_WAIT].contains(state))
        {
            assert!(
                Instant::now() < deadline,
                "the start-up check's connection stayed open"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (bounded) until the server has read everything clients sent to it; returns
    /// the bytes still unread then.
    async fn wait_all_read(&self) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let unread: u64 = self.server_sockets().iter().map(|(_, _, rx)| rx).sum();
            if unread == 0 || Instant::now() >= deadline {
                return unread;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server and returns everything it wrote to stdout and stderr. It first
    /// waits out the log writer's interval, so every line logged so far is in the file.
    fn stop(&mut self) -> String {
        std::thread::sleep(homecall::server::logging::writer::FLUSH_EVERY * 3);
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.output).expect("the server's output")
    }

    /// The last `lines` lines of the server's output, each cut to 300 characters.
    fn output_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..]
            .iter()
            .map(|line| line.chars().take(300).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    // -- HTTP --------------------------------------------------------------------------

    /// `GET path` from 127.0.0.`from` with `Connection: close`; `host` replaces the
    /// `Host` header. Over TLS when the server has a certificate.
    async fn get_from(&self, from: u8, path: &str, host: Option<&str>) -> io::Result<Response> {
        let default_host = format!("{}:{}", self.host(), self.port());
        let host = host.unwrap_or(&default_host);
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let exchange = async {
            let tcp = connect_from(from, self.addr).await?;
            match &self.tls {
                None => exchange(tcp, request.as_bytes()).await,
                Some(tls) => {
                    let name =
                        rustls::pki_types::ServerName::try_from("localhost").expect("server name");
                    let tls = tokio_rustls::TlsConnector::from(Arc::clone(tls))
                        .connect(name, tcp)
                        .await?;
                    exchange(tls, request.as_bytes()).await
                }
            }
        };
        timeout(Duration::from_secs(6), exchange)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in 6 s")))
    }

    async fn get(&self, path: &str) -> Response {
        self.get_from(ATTACKER, path, None)
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    // -- WebSockets --------------------------------------------------------------------

    /// Opens `/signal` for `session` and `peer` from 127.0.0.`from` with extra `headers`
    /// (replacing any of the same name, e.g. `host`), within `limit`: `Err` is the HTTP
    /// status of a refused upgrade.
    async fn try_ws_within(
        &self,
        from: u8,
        session: &str,
        peer: &str,
        headers: &[(&str, &str)],
        limit: Duration,
    ) -> Result<Client, u16> {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let url = format!(
            "{scheme}://{}:{}/signal?session={session}&peer={peer}",
            self.host(),
            self.port()
        );
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        let upgrade = async {
            let tcp = connect_from(from, self.addr).await.expect("TCP connect");
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await,
                Some(tls) => {
                    let connector = Connector::Rustls(Arc::clone(tls));
                    tokio_tungstenite::client_async_tls_with_config(
                        request,
                        tcp,
                        None,
                        Some(connector),
                    )
                    .await
                }
            }
        };
        match timeout(limit, upgrade).await {
            Err(_) => panic!("no answer to a /signal upgrade within {limit:?}"),
            Ok(Ok((ws, _))) => Ok(Client { ws }),
            Ok(Err(tungstenite::Error::Http(response))) => Err(response.status().as_u16()),
            Ok(Err(other)) => panic!("/signal upgrade failed: {other}"),
        }
    }

    async fn try_ws(
        &self,
        from: u8,
        session: &str,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, u16> {
        self.try_ws_within(from, session, peer, headers, PATIENCE)
            .await
    }

    async fn ws(&self, from: u8, session: &str, peer: &str) -> Client {
        self.try_ws(from, session, peer, &[])
            .await
            .unwrap_or_else(|status| panic!("/signal upgrade refused with HTTP {status}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() && self.show_output {
            eprintln!(
                "--- the end of homecall's output ---\n{}",
                self.output_tail(30)
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A self-signed certificate for localhost in `dir`: (certificate, key, certificate DER).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("self-signed certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, signing_key.serialize_pem()).expect("write key");
    (cert_path, key_path, cert.der().to_vec())
}

/// A rustls client configuration that trusts only `cert_der`.
fn trusting(cert_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .expect("trust the test certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

// ---------------------------------------------------------------------------------------
// Raw TCP and HTTP

/// A TCP connection from 127.0.0.`from` (the whole 127/8 is loopback).
async fn connect_from(from: u8, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((loopback(from), 0)))?;
    socket.connect(to).await
}

/// Connects within `PATIENCE` or fails the test.
async fn tcp_from(from: u8, to: SocketAddr) -> TcpStream {
    timeout(PATIENCE, connect_from(from, to))
        .await
        .expect("TCP connect in time")
        .expect("TCP connect")
}

#[derive(Debug)]
struct Response {
    status: u16,
    body: Vec<u8>,
}

fn parse_response(data: &[u8]) -> io::Result<Response> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no complete response head"))?;
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let mut body = data[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok(Response { status, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|text| usize::from_str_radix(text.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|&size| size > 0) else {
            break;
        };
        let start = line_end + 2;
        let Some(chunk) = data.get(start..start + size) else {
            break;
        };
        body.extend_from_slice(chunk);
        data = data.get(start + size + 2..).unwrap_or_default();
    }
    body
}

/// Sends `request` (which says `Connection: close`) and reads the response to its end.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> io::Result<Response> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut data = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
            // A TLS peer that closes without close_notify, or a reset after the answer.
            Err(_) if !data.is_empty() => break,
            Err(error) => return Err(error),
        }
    }
    parse_response(&data)
}

/// Reads one response whose body has a `Content-Length`, leaving the connection open.
async fn read_one_response(stream: &mut TcpStream) -> Response {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .expect("a Content-Length");
            if data.len() >= end + 4 + length {
                return parse_response(&data).expect("a response");
            }
        }
        let n = timeout_at(deadline, stream.read(&mut buffer))
            .await
            .expect("a response in time")
            .expect("read the response");
        assert!(n > 0, "the connection ended before the response");
        data.extend_from_slice(&buffer[..n]);
    }
}

/// Reads until the server ends the connection (EOF or reset), for at most until
/// `since + limit`: how long after `since` it ended, or `None` if it stayed open. Data
/// the server sends first (e.g. an error response) is read and skipped.
async fn closed_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let mut buffer = [0u8; 4096];
    loop {
        match timeout_at(since + limit, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// WebSocket clients and messages

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Client {
    ws: Ws,
}

/// What the server sent, as the test sees it.
#[derive(PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(usize),
    Close(Option<u16>),
    /// The stream ended (or broke) without a close frame.
    End,
}

impl std::fmt::Debug for Got {
    // Texts cut short: never print whole SDP.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Text(text) => write!(f, "Text({} bytes: {:?})", text.len(), short(text)),
            Got::Binary(len) => write!(f, "Binary({len} bytes)"),
            Got::Close(code) => write!(f, "Close({code:?})"),
            Got::End => write!(f, "End"),
        }
    }
}

/// What became of a socket within a bound.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// A close frame arrived (with its code).
    Closed(Option<u16>),
    /// The connection ended without a close frame.
    Ended,
    /// Still open at the bound.
    Open,
}

fn short(text: &str) -> String {
    text.chars().take(120).collect()
}

impl Client {
    async fn send(&mut self, text: &str) {
        timeout(PATIENCE, self.ws.send(Message::text(text)))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// The next message that is not a ping or pong, if one comes within `time`.
    async fn next_within(&mut self, time: Duration) -> Option<Got> {
        timeout(time, async {
            loop {
                return match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => Got::Text(text.as_str().to_owned()),
                    Some(Ok(Message::Binary(data))) => Got::Binary(data.len()),
                    Some(Ok(Message::Close(frame))) => Got::Close(frame.map(|f| u16::from(f.code))),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Err(_)) | None => Got::End,
                };
            }
        })
        .await
        .ok()
    }

    async fn next(&mut self) -> Got {
        self.next_within(PATIENCE)
            .await
            .expect("a message within the patience")
    }

    async fn recv(&mut self) -> String {
        match self.next().await {
            Got::Text(text) => text,
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The next message must be an `error`: its code.
    async fn error(&mut self) -> String {
        let text = self.recv().await;
        error_code(&text).unwrap_or_else(|| panic!("expected an error, got {:?}", short(&text)))
    }

    async fn expect_error(&mut self, code: &str) {
        assert_eq!(self.error().await, code);
    }

    /// Sends an invalid message and waits for its `bad_message`: the socket has joined
    /// and its task reads (this spends one of its 20 invalid messages).
    async fn sync(&mut self) {
        self.send(INVALID).await;
        self.expect_error("bad_message").await;
    }

    /// Reads (skipping texts) until the socket closes or `limit` passes.
    async fn fate(&mut self, limit: Duration) -> Fate {
        let deadline = Instant::now() + limit;
        loop {
            match self.next_within(deadline - Instant::now()).await {
                None => return Fate::Open,
                Some(Got::Close(code)) => return Fate::Closed(code),
                Some(Got::End) => return Fate::Ended,
                Some(Got::Text(_) | Got::Binary(_)) => {}
            }
        }
    }
}

fn session_id() -> String {
    // Version nibble 4, variant nibble a: a valid UUID v4.
    format!(
        "123e4567-e89b-42d3-a456-{:012x}",
        SESSIONS.fetch_add(1, Ordering::Relaxed)
    )
}

fn candidate(session: &str, from: &str, n: usize) -> String {
    format!(
        r#"{{"type":"candidate","sessionId":"{session}","from":"{from}","candidate":{{"candidate":"candidate:{n} 1 udp 1 10.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}}}"#
    )
}

fn offer(session: &str, from: &str, sdp: &str) -> String {
    serde_json::json!({"type": "offer", "sessionId": session, "from": from, "sdp": sdp}).to_string()
}

/// An offer of exactly `size` bytes, numbered `n`.
fn offer_of_size(session: &str, from: &str, n: usize, size: usize) -> String {
    let prefix = format!("v=0 {n:04} ");
    let bare = offer(session, from, "").len() + prefix.len();
    let text = offer(session, from, &(prefix + &"a".repeat(size - bare)));
    assert_eq!(text.len(), size);
    text
}

fn error_code(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value["type"] != "error" {
        return None;
    }
    value["code"].as_str().map(str::to_owned)
}

/// Two clients in a session of their own, from 127.0.0.9, relaying one message at a time.
struct Canary {
    alice: Client,
    bob: Client,
    session: String,
    sent: usize,
    rounds: usize,
    worst: Duration,
}

impl Canary {
    async fn start(server: &Server) -> Self {
        let session = session_id();
        let alice = server.ws(CANARY, &session, ALICE).await;
        let bob = server.ws(CANARY, &session, BOB).await;
        let mut canary = Self {
            alice,
            bob,
            session,
            sent: 0,
            rounds: 0,
            worst: Duration::ZERO,
        };
        // The first message also proves that both have joined.
        canary.relay().await;
        canary.rounds = 0;
        canary.worst = Duration::ZERO;
        canary
    }

    /// One message from alice to bob: the time from alice's send to bob's receive.
    async fn relay(&mut self) -> Duration {
        self.sent += 1;
        let message = candidate(&self.session, ALICE, self.sent);
        let started = Instant::now();
        self.alice.send(&message).await;
        let got = self.bob.next_within(PATIENCE).await;
        let took = started.elapsed();
        match got {
            Some(Got::Text(text)) if text == message => {}
            other => panic!("the canary's message did not arrive in {took:?}: {other:?}"),
        }
        self.rounds += 1;
        self.worst = self.worst.max(took);
        took
    }

    /// Relays every 100 ms until `attack` finishes (at least once, at most 300 times);
    /// returns what the attack returned.
    async fn watch<T>(&mut self, attack: tokio::task::JoinHandle<T>) -> T {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for _ in 0..300 {
            tick.tick().await;
            self.relay().await;
            if attack.is_finished() {
                break;
            }
        }
        attack.await.expect("the attack task")
    }

    fn assert_fast(&self, what: &str) {
        eprintln!(
            "[{what}] canary: {} relays, slowest {:?}",
            self.rounds, self.worst
        );
        assert!(self.rounds > 0, "the canary never ran");
        assert!(
            self.worst < CANARY_LIMIT,
            "{what}: the canary took {:?} to relay one message (limit {CANARY_LIMIT:?})",
            self.worst
        );
    }
}

// ---------------------------------------------------------------------------------------
// 1. Ping flood

/// Pings a flood socket sends at most (each 125 bytes of payload, 131 on the wire).
const FLOOD_PINGS: u64 = 2_000_000;
const FLOOD_TIME: Duration = Duration::from_secs(5);

/// `count` masked client ping frames with 125-byte payloads, back to back.
fn ping_frames(count: usize) -> Vec<u8> {
    let key = [0x3a, 0x91, 0x5c, 0xe7];
    let mut frames = Vec::with_capacity(count * 131);
    for _ in 0..count {
        frames.extend_from_slice(&[0x89, 0x80 | 125]);
        frames.extend_from_slice(&key);
        frames.extend((0..125).map(|i| b'p' ^ key[i % 4]));
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_that_never_reads_is_cut_with_1008_and_cannot_grow_memory() {
    let server = Server::start(&[], &[]).await;
    let mut canary = Canary::start(&server).await;
    let before = server.memory();

    let session = session_id();
    let flood = server.ws(ATTACKER, &session, ALICE).await;
    let attack = tokio::spawn(async move {
        let mut ws = flood.ws;
        // Written straight to the TCP stream, as fast as it takes them; never read.
        let block = ping_frames(500);
        let started = Instant::now();
        let deadline = started + FLOOD_TIME;
        let mut sent = 0u64;
        let mut write_failed_after = None;
        while sent < FLOOD_PINGS {
            match timeout_at(deadline, ws.get_mut().write_all(&block)).await {
                Ok(Ok(())) => sent += 500,
                Ok(Err(_)) => {
                    write_failed_after = Some(started.elapsed());
                    break;
                }
                Err(_) => break,
            }
        }
        (ws, sent, started.elapsed(), write_failed_after)
    });
    let (mut ws, sent, flooded_for, write_failed_after) = canary.watch(attack).await;
    eprintln!(
        "[ping flood] {sent} pings in {flooded_for:?}; writes failed after: {write_failed_after:?}"
    );

    // Now read the flood socket: pongs, then the server's close.
    let deadline = Instant::now() + PATIENCE;
    let mut pongs = 0u64;
    let fate = loop {
        match timeout_at(deadline, ws.next()).await {
            Err(_) => break Fate::Open,
            Ok(Some(Ok(Message::Close(frame)))) => {
                break Fate::Closed(frame.map(|f| f.code.into()));
            }
            Ok(Some(Ok(Message::Pong(_)))) => pongs += 1,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => break Fate::Ended,
        }
    };
    let after = server.memory();
    eprintln!("[ping flood] then read {pongs} pongs and {fate:?}");
    let growth = server.report_memory("ping flood", before, after);

    assert!(
        growth < MAX_GROWTH_KB,
        "a ping flood grew the server's peak RSS by {} MB",
        growth / 1024
    );
    canary.assert_fast("ping flood");
    // A 1008 close, or (when the server could not get its close frame through the full
    // buffers) at least a connection the server ended.
    assert!(
        matches!(fate, Fate::Closed(Some(1008)) | Fate::Ended),
        "the flooding socket was not closed with 1008: {fate:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Queue pinning

/// Sessions of the pinning attack, and the 1 MB frames each sends (18, plus the final
/// marker, keeps a socket under the 20 invalid messages that close it).
const PINNING_SESSIONS: usize = 16;
const BIG_FRAMES: usize = 18;

/// A client text frame carrying `payload`, masked with the all-zero key (so the payload
/// goes as it is: no masking work for the test).
fn raw_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_queued_frames_do_not_pin_the_large_read_buffers_before_them() {
    let server = Server::start(&[], &[]).await;
    let mut canary = Canary::start(&server).await;
    let before = server.memory();

    // A small frame read right after a large one shares the large one's read buffer: if
    // it is queued as a slice of that buffer, it keeps the whole megabyte alive.
    let big = raw_text_frame("x".repeat(1_000_000).as_bytes());
    let mut sessions = Vec::new();
    for _ in 0..PINNING_SESSIONS {
        let session = session_id();
        let mut alice = server.ws(ATTACKER, &session, ALICE).await;
        for n in 0..255 {
            if n < BIG_FRAMES {
                timeout(PATIENCE, alice.ws.get_mut().write_all(&big))
                    .await
                    .expect("write in time")
                    .expect("write the 1 MB frame");
                alice.expect_error("bad_message").await;
            }
            alice.send(&candidate(&session, ALICE, n)).await;
        }
        // Replies come in order: when the first is this one's, no candidate was refused.
        alice.send(INVALID).await;
        alice.expect_error("bad_message").await;
        sessions.push((session, alice));
    }
    canary.relay().await;
    let after = server.memory();
    let growth = server.report_memory(
        &format!(
            "queue pinning: {PINNING_SESSIONS} sessions, {BIG_FRAMES} x (1 MB frame, candidate) + 237 candidates each"
        ),
        before,
        after,
    );

    // The candidates really wait in the queue: the second participant gets them all.
    let (session, _alice) = &sessions[PINNING_SESSIONS - 1];
    let mut bob = server.ws(ATTACKER, session, BOB).await;
    for n in 0..255 {
        assert_eq!(bob.recv().await, candidate(session, ALICE, n));
    }

    assert!(
        growth < MAX_GROWTH_KB,
        "{PINNING_SESSIONS} sessions of 255 queued candidates, 18 of them read after a 1 MB frame, \
         grew the peak RSS by {} MB",
        growth / 1024
    );
    canary.assert_fast("queue pinning");
}

/// Sockets, and the hub's places for sockets whose read buffer a large frame grew.
const LARGE_FRAME_SOCKETS: usize = 100;
const LARGE_FRAME_PLACES: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_frames_on_many_sockets_cannot_grow_memory_past_the_hub_bound() {
    let places = LARGE_FRAME_PLACES.to_string();
    let server = Server::start(&[], &[("--max-large-frame-sockets", &places)]).await;
    let mut canary = Canary::start(&server).await;
    let before = server.memory();

    // Each socket's read buffer grows to hold the 1 MB frame and keeps that size for the
    // socket's life: 100 such sockets would hold 100 MB (20 from each of 5 addresses,
    // within the per-address limits).
    let big = raw_text_frame("x".repeat(1_000_000).as_bytes());
    let mut sockets = Vec::new();
    let (mut answered, mut cut) = (0, 0);
    for n in 0..LARGE_FRAME_SOCKETS {
        let from = 20 + (n / 20) as u8;
        let mut socket = server.ws(from, &session_id(), ALICE).await;
        timeout(PATIENCE, socket.ws.get_mut().write_all(&big))
            .await
            .expect("write in time")
            .expect("write the 1 MB frame");
        match socket.next_within(PATIENCE).await {
            Some(Got::Text(text)) if error_code(&text).as_deref() == Some("bad_message") => {
                answered += 1;
            }
            Some(Got::Close(Some(1013))) => cut += 1,
            other => panic!("socket {n}: expected bad_message or a 1013 close, got {other:?}"),
        }
        sockets.push(socket);
    }
    canary.relay().await;
    let after = server.memory();
    let growth = server.report_memory(
        &format!(
            "large frames: {LARGE_FRAME_SOCKETS} sockets x 1 MB frame, {LARGE_FRAME_PLACES} places"
        ),
        before,
        after,
    );
    eprintln!("[large frames] {answered} answered bad_message, {cut} closed with 1013");
    assert_eq!(
        (answered, cut),
        (LARGE_FRAME_PLACES, LARGE_FRAME_SOCKETS - LARGE_FRAME_PLACES),
        "(answered, closed with 1013)"
    );
    assert!(
        growth < 40 * 1024,
        "{LARGE_FRAME_SOCKETS} sockets that sent a 1 MB frame grew the peak RSS by {} MB",
        growth / 1024
    );
    canary.assert_fast("large frames");
}

// ---------------------------------------------------------------------------------------
// 3. Invalid messages across reconnects

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invalid_message_count_survives_a_reconnect() {
    let server = Server::start(&[], &[]).await;
    let session = session_id();
    let mut first = server.ws(ATTACKER, &session, ALICE).await;
    for _ in 0..10 {
        first.send(INVALID).await;
        first.expect_error("bad_message").await;
    }
    let mut second = server.ws(ATTACKER, &session, ALICE).await;
    assert_eq!(first.fate(PATIENCE).await, Fate::Closed(Some(4001)));
    for n in 11..=20 {
        second.send(INVALID).await;
        assert_eq!(second.error().await, "bad_message", "invalid message {n}");
    }
    let fate = second.fate(Duration::from_secs(3)).await;
    assert_eq!(
        fate,
        Fate::Closed(Some(1008)),
        "the 20th invalid message of alice (10 before a reconnect, 10 after) did not close her socket"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Hub-wide queued bytes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_holds_at_most_max_queued_bytes_in_all_queues() {
    const OFFER: usize = 50 * 1024;
    const OFFERS: usize = 8;
    let server = Server::start(&[], &[("--max-queued-bytes", "1048576")]).await;
    let sessions: Vec<String> = (0..3).map(|_| session_id()).collect();
    let offers: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            (0..OFFERS)
                .map(|n| offer_of_size(s, ALICE, n, OFFER))
                .collect()
        })
        .collect();

    // Two sessions queue 400 KiB each (under the 512 KiB session bound): all stored.
    let mut alices = Vec::new();
    for session in &sessions {
        alices.push(server.ws(ATTACKER, session, ALICE).await);
    }
    for i in 0..2 {
        for text in &offers[i] {
            alices[i].send(text).await;
        }
        alices[i].send(INVALID).await;
        assert_eq!(
            alices[i].error().await,
            "bad_message",
            "an offer of session {i} was refused"
        );
    }
    // The third fills the hub to 1 MiB: the rest is refused with queue_full, though its
    // own queue is far from its bound.
    for text in &offers[2] {
        alices[2].send(text).await;
    }
    alices[2].send(INVALID).await;
    let mut refused = 0;
    loop {
        match alices[2].error().await.as_str() {
            "queue_full" => refused += 1,
            "bad_message" => break,
            other => panic!("unexpected error {other}"),
        }
        assert!(refused <= OFFERS, "more errors than offers");
    }
    let queued = (2 * OFFERS + OFFERS - refused) * OFFER;
    eprintln!(
        "[hub queue bound] third session: {refused} of {OFFERS} offers refused; {queued} bytes queued in all"
    );
    assert!(
        refused > 0,
        "the hub queued {queued} bytes in all with --max-queued-bytes 1048576"
    );
    assert!(
        queued <= MIB && queued + 2 * OFFER > MIB,
        "the hub stopped at {queued} bytes, not near 1 MiB"
    );

    // The first two sessions' peers connect and read everything: room again.
    for i in 0..2 {
        let mut bob = server.ws(ATTACKER, &sessions[i], BOB).await;
        for (n, text) in offers[i].iter().enumerate() {
            assert!(
                bob.recv().await == *text,
                "offer {n} of session {i} differs"
            );
        }
    }
    let fresh = offer_of_size(&sessions[2], ALICE, 100, OFFER);
    let mut fitted = false;
    for _ in 0..10 {
        alices[2].send(&fresh).await;
        alices[2].send(INVALID).await;
        match alices[2].error().await.as_str() {
            "bad_message" => {
                fitted = true;
                break;
            }
            "queue_full" => {
                alices[2].expect_error("bad_message").await;
                // The drained frames may take a moment to leave the hub's count.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("unexpected error {other}"),
        }
    }
    assert!(
        fitted,
        "after the other queues were drained a 50 KiB offer still got queue_full"
    );
}

// ---------------------------------------------------------------------------------------
// 5. --max-sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_sessions_a_new_session_is_closed_with_1013() {
    let server = Server::start(&[], &[("--max-sessions", "2")]).await;
    let (first, second, third) = (session_id(), session_id(), session_id());
    let mut alice = server.ws(ATTACKER, &first, ALICE).await;
    alice.sync().await;
    let mut other = server.ws(ATTACKER, &second, ALICE).await;
    other.sync().await;

    let mut refused = server.ws(ATTACKER, &third, ALICE).await;
    assert_eq!(
        refused.fate(PATIENCE).await,
        Fate::Closed(Some(1013)),
        "a third session with --max-sessions 2"
    );

    // Joining an existing session still works.
    let mut bob = server.ws(ATTACKER, &first, BOB).await;
    let message = candidate(&first, ALICE, 1);
    alice.send(&message).await;
    assert_eq!(bob.recv().await, message);
}

// ---------------------------------------------------------------------------------------
// 6. Slowloris and idle connections

const CUT_WITHIN: Duration = Duration::from_secs(3);
const WATCH_FOR: Duration = Duration::from_secs(5);

fn assert_cut(what: &str, closed: Option<Duration>) {
    eprintln!("[{what}] closed by the server after {closed:?} (None: open after {WATCH_FOR:?})");
    match closed {
        Some(after) => assert!(after < CUT_WITHIN, "{what}: closed only after {after:?}"),
        None => panic!("{what}: still open after {WATCH_FOR:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_one_byte_at_a_time_is_cut() {
    let server = Server::start(&[], &[("--header-read-timeout", "1s")]).await;
    let mut tcp = tcp_from(ATTACKER, server.addr).await;
    let started = Instant::now();
    tcp.write_all(b"GET / HTTP/1.1\r\n")
        .await
        .expect("request line");
    let header = b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut next = 0;
    let mut buffer = [0u8; 4096];
    let closed = loop {
        tokio::select! {
            read = tcp.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break Some(started.elapsed()),
                Ok(_) => {} // e.g. a 408 before the close
            },
            _ = tick.tick() => {
                if next < header.len() {
                    if tcp.write_all(&header[next..next + 1]).await.is_err() {
                        break Some(started.elapsed());
                    }
                    next += 1;
                }
            }
            () = tokio::time::sleep_until(started + WATCH_FOR) => break None,
        }
    };
    assert_cut("slowloris, one header byte every 200 ms", closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_cut() {
    let server = Server::start(&[], &[("--header-read-timeout", "1s")]).await;
    let mut tcp = tcp_from(ATTACKER, server.addr).await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port()
    );
    tcp.write_all(request.as_bytes()).await.expect("request");
    let response = read_one_response(&mut tcp).await;
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"ok"[..])
    );
    let answered = Instant::now();
    let closed = closed_within(&mut tcp, answered, WATCH_FOR).await;
    assert_cut("idle keep-alive after one request", closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_cut() {
    let server = Server::start(&[], &[("--header-read-timeout", "1s")]).await;
    let mut tcp = tcp_from(ATTACKER, server.addr).await;
    let connected = Instant::now();
    let closed = closed_within(&mut tcp, connected, WATCH_FOR).await;
    assert_cut("silent TCP connection", closed);
}

// ---------------------------------------------------------------------------------------
// 7. Connection caps

/// Opens `count` silent connections from 127.0.0.`from`, noting when each was made.
async fn silent_connections(from: u8, count: usize, to: SocketAddr) -> Vec<(TcpStream, Instant)> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push((tcp_from(from, to).await, Instant::now()));
    }
    connections
}

/// For each connection: closed by the server within `limit` of its connect, or not.
async fn closed_at_once(
    connections: &mut [(TcpStream, Instant)],
    limit: Duration,
) -> Vec<Option<Duration>> {
    join_all(
        connections
            .iter_mut()
            .map(|(tcp, at)| closed_within(tcp, *at, limit)),
    )
    .await
}

/// `[0, 1, 2, 5]` → `0-2, 5`.
fn ranges(numbers: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_max_connections_per_ip() {
    let server = Server::start(
        &[],
        &[
            ("--max-connections-per-ip", "50"),
            ("--header-read-timeout", "30s"),
        ],
    )
    .await;
    let mut connections = silent_connections(ATTACKER, 200, server.addr).await;
    let fates = closed_at_once(&mut connections, Duration::from_secs(1)).await;
    let open: Vec<usize> = (0..fates.len()).filter(|&i| fates[i].is_none()).collect();
    let slowest_cut = fates.iter().flatten().max();

    // Meanwhile another address is served at once.
    let started = Instant::now();
    let health = server.get_from(BYSTANDER, "/healthz", None).await;
    let took = started.elapsed();
    eprintln!(
        "[per-ip connection cap] {} of 200 silent connections held (numbers {}), slowest cut \
         {slowest_cut:?}; /healthz from 127.0.0.2 in {took:?}",
        open.len(),
        ranges(&open)
    );
    let health = health.expect("GET /healthz from 127.0.0.2");
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]));
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    assert_eq!(
        open.len(),
        50,
        "connections from 127.0.0.1 still open 1 s after connecting"
    );
    let metrics = server.get_from(BYSTANDER, "/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics.expect("GET /metrics").body).into_owned();
    assert!(
        metrics
            .contains("homecall_connections_refused_total{reason=\"max_connections_per_ip\"} 150"),
        "the refusals are counted:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_holds_only_max_connections_in_all() {
    let server = Server::start(
        &[],
        &[
            ("--max-connections", "100"),
            ("--max-connections-per-ip", "100"),
            ("--header-read-timeout", "30s"),
        ],
    )
    .await;
    server.wait_no_open_connections().await;
    let mut connections = silent_connections(3, 60, server.addr).await;
    connections.extend(silent_connections(4, 60, server.addr).await);
    let fates = closed_at_once(&mut connections, Duration::from_secs(1)).await;
    let open = fates.iter().filter(|fate| fate.is_none()).count();
    eprintln!(
        "[global connection cap] {open} of 120 silent connections (60 from each of 127.0.0.3 and .4) held"
    );
    assert_eq!(open, 100, "connections still open 1 s after connecting");
}

// ---------------------------------------------------------------------------------------
// 8. Big request heads

/// Sends one request with `Connection: close` from the attacker's address: its status, or
/// `None` if the server closed without answering.
async fn status_of(server: &Server, request: &str) -> Option<u16> {
    let tcp = tcp_from(ATTACKER, server.addr).await;
    let answer = timeout(PATIENCE, exchange(tcp, request.as_bytes()))
        .await
        .expect("an answer or a close in time");
    answer.ok().map(|response| response.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_beyond_68_kib_gets_431_and_a_longer_uri_414() {
    let server = Server::start(&[], &[]).await;
    let host = format!("Host: 127.0.0.1:{}\r\nConnection: close\r\n", server.port());
    let mut request = format!("GET /healthz HTTP/1.1\r\n{host}");
    for i in 0..72 {
        request.push_str(&format!("X-Pad-{i:02}: {}\r\n", "a".repeat(1000)));
    }
    request.push_str("\r\n");
    assert!(request.len() > 70 * 1024, "a head beyond the 68 KiB cap");
    let status = status_of(&server, &request).await;
    eprintln!("[72 KiB request head] {status:?}");
    // hyper answers 431; a close without an answer would also hold nothing.
    if let Some(status) = status {
        assert_eq!(status, 431, "a 72 KiB request head");
    }
    let long_uri = format!("GET /?pad={} HTTP/1.1\r\n{host}\r\n", "b".repeat(66_000));
    let status = status_of(&server, &long_uri).await;
    eprintln!("[66,000-byte URI] {status:?}");
    assert_eq!(status, Some(414), "a URI beyond 65,534 bytes");
    let ordinary = format!(
        "GET /healthz HTTP/1.1\r\n{host}X-Pad: {}\r\n\r\n",
        "c".repeat(8000)
    );
    assert_eq!(
        status_of(&server, &ordinary).await,
        Some(200),
        "an 8 KB head is fine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_unfinished_big_request_heads_cannot_grow_memory() {
    let server = Server::start(&[], &[("--max-connections-per-ip", "100")]).await;
    let mut canary = Canary::start(&server).await;
    let before = server.memory();

    // 15 KiB of header lines (just under the cap), then on towards 400 KiB (under the
    // 408 KiB hyper allows by default), never the blank line that ends the head.
    let mut head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
    let mut line = 0;
    while head.len() + 1024 <= 15 * 1024 {
        head.extend_from_slice(format!("X-Pad-{line:03}: {}\r\n", "a".repeat(1010)).as_bytes());
        line += 1;
    }
    while head.len() + 8192 <= 400 * 1024 {
        head.extend_from_slice(format!("X-Big-{line:03}: {}\r\n", "b".repeat(8178)).as_bytes());
        line += 1;
    }
    let head = Arc::new(head);

    let mut connections = Vec::new();
    for from in 10..16 {
        for _ in 0..50 {
            connections.push(tcp_from(from, server.addr).await);
        }
    }
    let started = Instant::now();
    let deadline = started + PATIENCE;
    let sent = join_all(connections.iter_mut().map(|tcp| {
        let head = Arc::clone(&head);
        async move { matches!(timeout_at(deadline, tcp.write_all(&head)).await, Ok(Ok(()))) }
    }))
    .await;
    let complete = sent.iter().filter(|&&ok| ok).count();
    let unread = server.wait_all_read().await;
    let after = server.memory();
    canary.relay().await;
    eprintln!(
        "[unfinished heads] 300 connections, {} KiB each: {complete} sent it all in {:?}; \
         {unread} bytes left unread",
        head.len() / 1024,
        started.elapsed()
    );
    let growth = server.report_memory("unfinished heads", before, after);
    assert!(
        growth < MAX_GROWTH_KB,
        "300 unfinished request heads grew the peak RSS by {} MB",
        growth / 1024
    );
    canary.assert_fast("unfinished heads");
    drop(connections);
}

// ---------------------------------------------------------------------------------------
// 9. TLS handshakes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connection_without_a_client_hello_is_cut() {
    let server = Server::start_tls(&[], &[("--tls-handshake-timeout", "1s")]).await;
    let mut tcp = tcp_from(ATTACKER, server.addr).await;
    let connected = Instant::now();
    let closed = closed_within(&mut tcp, connected, WATCH_FOR).await;
    assert_cut("TLS connection with no ClientHello", closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_connections_do_not_stall_a_real_client() {
    let server = Server::start_tls(&[], &[("--tls-handshake-timeout", "1s")]).await;
    let mut silent = silent_connections(ATTACKER, 300, server.addr).await;

    let limit = Duration::from_secs(12);
    let call = async {
        let session = session_id();
        let started = Instant::now();
        let mut alice = server
            .try_ws_within(BYSTANDER, &session, ALICE, &[], limit)
            .await
            .expect("alice's wss upgrade");
        let mut bob = server
            .try_ws_within(BYSTANDER, &session, BOB, &[], limit)
            .await
            .expect("bob's wss upgrade");
        let message = candidate(&session, ALICE, 1);
        alice.send(&message).await;
        let got = bob.next_within(limit).await;
        assert_eq!(got, Some(Got::Text(message)));
        started.elapsed()
    };
    let (took, fates) = tokio::join!(
        call,
        closed_at_once(&mut silent, Duration::from_millis(500))
    );
    let cut = fates.iter().filter(|fate| fate.is_some()).count();
    eprintln!(
        "[silent TLS connections] wss connect + join + relay from 127.0.0.2 took {took:?}; \
         {cut} of 300 silent connections cut within 500 ms"
    );
    assert!(
        took < CANARY_LIMIT,
        "with 300 silent TLS connections open a real call needed {took:?} to relay its first message"
    );
    assert!(
        cut >= 280,
        "only {cut} of 300 silent TLS connections from one address were cut at once"
    );
}

// ---------------------------------------------------------------------------------------
// 10. TURN credentials

const ICE: [&str; 4] = [
    "--ice-servers",
    "stun:127.0.0.1:3478,turn:127.0.0.1:3478",
    "--turn-secret",
    "s3cret",
];

fn ice_servers(response: &Response) -> Vec<serde_json::Value> {
    assert_eq!(response.status, 200, "GET /api/config");
    let config: serde_json::Value =
        serde_json::from_slice(&response.body).expect("/api/config is JSON");
    config["iceServers"]
        .as_array()
        .expect("an iceServers list")
        .clone()
}

fn serves(server: &serde_json::Value, scheme: &str) -> bool {
    server["urls"].as_array().is_some_and(|urls| {
        urls.iter()
            .any(|url| url.as_str().is_some_and(|u| u.starts_with(scheme)))
    })
}

/// The TURN entry's username must be `<expiry>:<random>` with an expiry within the hour.
fn assert_fresh_turn_credentials(response: &Response) {
    let servers = ice_servers(response);
    let turn = servers
        .iter()
        .find(|server| serves(server, "turn:"))
        .expect("a TURN entry for a live participant");
    let username = turn["username"].as_str().expect("a TURN username");
    assert!(
        turn["credential"].as_str().is_some_and(|c| !c.is_empty()),
        "a TURN credential"
    );
    let (expiry, random) = username.split_once(':').expect("username expiry:random");
    let expiry: u64 = expiry.parse().expect("a numeric expiry");
    assert!(!random.is_empty(), "a random part in the username");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    eprintln!(
        "[turn] credentials valid for {} s",
        expiry as i64 - now as i64
    );
    assert!(
        expiry > now && expiry <= now + 3600 + 5,
        "TURN credentials valid for {} s",
        expiry as i64 - now as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_go_only_to_live_participants_and_last_an_hour() {
    let server = Server::start(&ICE, &[]).await;

    // Anyone gets STUN, nobody gets TURN credentials without a call.
    let anonymous = server.get("/api/config").await;
    let servers = ice_servers(&anonymous);
    let body = String::from_utf8_lossy(&anonymous.body);
    assert!(
        servers.iter().any(|server| serves(server, "stun:")),
        "the STUN entry"
    );
    assert!(
        !servers.iter().any(|server| serves(server, "turn:"))
            && !body.contains("username")
            && !body.contains("credential"),
        "/api/config with no call gave TURN credentials"
    );

    // A participant with a live socket from this address gets them, for an hour.
    let session = session_id();
    let mut alice = server.ws(ATTACKER, &session, ALICE).await;
    alice.sync().await;
    let live = server
        .get(&format!("/api/config?session={session}&peer={ALICE}"))
        .await;
    assert_fresh_turn_credentials(&live);

    // Nobody else: another peer of that session, a session with no socket. (The ids are
    // not bound to the asking address: a dual-stack phone may open its socket over IPv6
    // and fetch over IPv4. The peer id is the secret: only the page and the hub know it
    // before its socket sends.)
    let started = Instant::now();
    let other_peer = format!("/api/config?session={session}&peer={BOB}");
    let other_session = format!("/api/config?session={}&peer={ALICE}", session_id());
    let (a, b) = tokio::join!(
        server.get_from(ATTACKER, &other_peer, None),
        server.get_from(ATTACKER, &other_session, None),
    );
    let statuses: Vec<Option<u16>> = [a, b]
        .into_iter()
        .map(|answer| answer.ok().map(|r| r.status))
        .collect();
    eprintln!(
        "[turn] statuses for no live socket (other peer, other session): {statuses:?} within {:?}",
        started.elapsed()
    );
    assert_eq!(
        statuses,
        vec![Some(403); 2],
        "credentials for ids with no live socket"
    );

    // A page asks while its socket is still connecting: the answer waits for it.
    let asked = server.get_from(BYSTANDER, &other_peer, None);
    let joins = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut bob = server.ws(BYSTANDER, &session, BOB).await;
        bob.sync().await;
        bob
    };
    let (answer, _bob) = tokio::join!(asked, joins);
    assert_fresh_turn_credentials(&answer.expect("an answer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_only_so_many_turn_credentials_a_minute() {
    let server = Server::start(&ICE, &[("--turn-credentials-per-ip-per-minute", "3")]).await;
    let session = session_id();
    let mut alice = server.ws(ATTACKER, &session, ALICE).await;
    alice.sync().await;
    let path = format!("/api/config?session={session}&peer={ALICE}");
    for _ in 0..3 {
        assert_fresh_turn_credentials(&server.get(&path).await);
    }
    assert_eq!(
        server.get(&path).await.status,
        429,
        "the 4th credential request within a minute"
    );
}

// ---------------------------------------------------------------------------------------
// 11. Trusted proxies

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let server = Server::start(
        &["--behind-tls-proxy", "--max-sockets-per-ip", "3"],
        &[("--trusted-proxies", "127.0.0.1/32")],
    )
    .await;
    let mut held = Vec::new();
    let mut upgrade = async |from: u8, xff: &str| -> Result<(), u16> {
        let client = server
            .try_ws(from, &session_id(), ALICE, &[("x-forwarded-for", xff)])
            .await?;
        held.push(client);
        Ok(())
    };

    // An untrusted peer's header is ignored: all four are 127.0.0.2.
    let mut untrusted = Vec::new();
    for n in 1..=4 {
        untrusted.push(upgrade(BYSTANDER, &format!("198.51.100.{n}")).await);
    }
    // The trusted proxy's clients are told apart by the header.
    let mut distinct = Vec::new();
    for n in 11..=14 {
        distinct.push(upgrade(ATTACKER, &format!("198.51.100.{n}")).await);
    }
    // Walking from the right past the trusted proxy: all four are 203.0.113.7.
    let mut same = Vec::new();
    for _ in 0..4 {
        same.push(upgrade(ATTACKER, "203.0.113.7, 127.0.0.1").await);
    }
    eprintln!(
        "[trusted proxies] untrusted peer {untrusted:?}; distinct clients {distinct:?}; \
         one client behind two proxies {same:?}"
    );
    assert_eq!(
        untrusted,
        vec![Ok(()), Ok(()), Ok(()), Err(429)],
        "X-Forwarded-For from an untrusted peer"
    );
    assert_eq!(
        distinct,
        vec![Ok(()); 4],
        "four clients of the trusted proxy"
    );
    assert_eq!(
        same,
        vec![Ok(()), Ok(()), Ok(()), Err(429)],
        "X-Forwarded-For: 203.0.113.7, 127.0.0.1 from the trusted proxy"
    );
}

// ---------------------------------------------------------------------------------------
// 12. Host and Origin

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_gets_421_with_a_public_origin() {
    let server = Server::start(&[], &[("--public-origin", "http://call.test")]).await;
    let page = server
        .get_from(ATTACKER, "/", Some("rebind.evil"))
        .await
        .expect("GET / with Host: rebind.evil");
    let health = server
        .get_from(ATTACKER, "/healthz", Some("rebind.evil"))
        .await
        .expect("GET /healthz with Host: rebind.evil");
    let config = server
        .get_from(ATTACKER, "/api/config", Some("rebind.evil"))
        .await
        .expect("GET /api/config with Host: rebind.evil");
    let metrics = server
        .get_from(ATTACKER, "/metrics", Some("10.0.0.5:3000"))
        .await
        .expect("GET /metrics by address");
    let rebound = server
        .try_ws(
            ATTACKER,
            &session_id(),
            ALICE,
            &[("host", "rebind.evil"), ("origin", "http://rebind.evil")],
        )
        .await
        .map(|_| 101);
    let own = server
        .try_ws(
            ATTACKER,
            &session_id(),
            ALICE,
            &[("host", "call.test"), ("origin", "http://call.test")],
        )
        .await
        .map(|_| 101);
    eprintln!(
        "[public origin] Host rebind.evil: / {}, /healthz {}, /signal {rebound:?}; Host call.test: /signal {own:?}",
        page.status, health.status
    );
    assert_eq!(page.status, 421, "GET / with Host: rebind.evil");
    assert_eq!(
        rebound,
        Err(421),
        "/signal with Host and Origin rebind.evil"
    );
    assert_eq!(config.status, 421, "GET /api/config with Host: rebind.evil");
    assert_eq!(health.status, 200, "/healthz whatever the Host");
    assert_eq!(
        metrics.status, 200,
        "/metrics whatever the Host (scrapers use addresses)"
    );
    assert_eq!(own, Ok(101), "/signal from the public origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_with_another_scheme_is_foreign() {
    let server = Server::start(&[], &[]).await;
    let https = format!("https://127.0.0.1:{}", server.port());
    let http = format!("http://127.0.0.1:{}", server.port());
    let other_scheme = server
        .try_ws(ATTACKER, &session_id(), ALICE, &[("origin", &https)])
        .await
        .map(|_| 101);
    let own = server
        .try_ws(ATTACKER, &session_id(), ALICE, &[("origin", &http)])
        .await
        .map(|_| 101);
    assert_eq!(
        other_scheme,
        Err(403),
        "Origin {https} on a plain-HTTP server"
    );
    assert_eq!(own, Ok(101), "Origin {http}");
}

// ---------------------------------------------------------------------------------------
// 13. Invalid UTF-8

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_gets_close_1007() {
    let server = Server::start(&[], &[]).await;
    let mut alice = server.ws(ATTACKER, &session_id(), ALICE).await;
    alice.sync().await;
    // tungstenite masks every frame a client sends, raw ones too.
    let frame = Frame::message(vec![b'{', 0xC3, 0x28, b'}'], OpCode::Data(Data::Text), true);
    timeout(PATIENCE, alice.ws.send(Message::Frame(frame)))
        .await
        .expect("send in time")
        .expect("send the raw frame");
    assert_eq!(alice.fate(PATIENCE).await, Fate::Closed(Some(1007)));
}

// ---------------------------------------------------------------------------------------
// 14. Frame contents never logged

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdp_and_candidates_never_reach_the_log_even_at_trace() {
    const SDP_MARKER: &str = "MARKER-SDP-7f3a";
    const ICE_MARKER: &str = "MARKER-ICE-91c2";
    let mut server = Server::start(&["--log", "trace"], &[]).await;
    server.show_output = false;
    let session = session_id();
    let mut alice = server.ws(ATTACKER, &session, ALICE).await;
    let mut bob = server.ws(ATTACKER, &session, BOB).await;

    let sdp = format!("v=0\r\no=- {SDP_MARKER} 2 IN IP4 127.0.0.1\r\ns=-\r\n");
    let offer = offer(&session, ALICE, &sdp);
    alice.send(&offer).await;
    assert!(bob.recv().await == offer, "the offer arrived changed");
    let candidate = serde_json::json!({
        "type": "candidate", "sessionId": session, "from": ALICE,
        "candidate": {
            "candidate": format!("candidate:1 1 udp 1 10.0.0.1 9 typ host {ICE_MARKER}"),
            "sdpMid": "0", "sdpMLineIndex": 0
        }
    })
    .to_string();
    alice.send(&candidate).await;
    assert!(
        bob.recv().await == candidate,
        "the candidate arrived changed"
    );

    let output = server.stop();
    eprintln!("[trace logs] {} bytes of output", output.len());
    assert!(!output.is_empty(), "the server wrote nothing");
    assert!(
        output.contains(&session),
        "the capture lacks the hub's lines for this session"
    );
    for marker in [SDP_MARKER, ICE_MARKER] {
        let count = output.matches(marker).count();
        assert_eq!(
            count, 0,
            "{marker} appears {count} times in the server's output"
        );
    }
}
