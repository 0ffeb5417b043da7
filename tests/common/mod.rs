//! A `/signal` server on port 0 (shut down on `Drop`) and a real WebSocket client. With
//! the Redis engine the server is two nodes sharing a `redis-server` of its own, and each
//! new connection goes to the other node.
#![allow(dead_code)]

pub mod redis_server;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use homecall::hub::socket::{SignalState, router};
use homecall::hub::{Hub, HubLimits};
use homecall::protocol::SessionId;
use homecall::trust::Trust;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub const SESSION: &str = "123e4567-e89b-42d3-a456-426614174000";
pub const ALICE: &str = "alice-0001";
pub const BOB: &str = "bob-00002";
pub const CAROL: &str = "carol-0003";

pub fn session_id() -> SessionId {
    SessionId::parse(SESSION).expect("a valid session id")
}

/// Limits for tests: the protocol's defaults, with a fast sweeper and a short close grace.
pub fn test_limits() -> HubLimits {
    HubLimits {
        sweep_interval: Duration::from_millis(50),
        close_grace: Duration::from_secs(1),
        ..HubLimits::default()
    }
}

/// Which engine a [`TestServer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One process, the in-memory hub.
    Memory,
    /// Two nodes sharing one Redis; connections alternate between them.
    Redis,
}

/// Runs a test case once per engine: `on_both_engines!(name)` before `async fn
/// name(engine: Engine)` makes the tests `name::memory` and `name::redis`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn memory() {
                super::$name($crate::common::Engine::Memory).await
            }
            #[tokio::test]
            async fn redis() {
                super::$name($crate::common::Engine::Redis).await
            }
        }
    )*};
}

/// One node: its hub and the task serving it.
struct Node {
    addr: SocketAddr,
    hub: Arc<Hub>,
    server: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

pub struct TestServer {
    /// The first node's address (the only one with the memory engine).
    pub addr: SocketAddr,
    /// The first node's hub: with Redis its session queries see the whole cluster.
    pub hub: Arc<Hub>,
    nodes: Vec<Node>,
    next: std::sync::atomic::AtomicUsize,
    pub redis: Option<redis_server::RedisServer>,
}

impl TestServer {
    pub async fn start(limits: HubLimits) -> Self {
        Self::start_on(Engine::Memory, limits).await
    }

    pub async fn start_on(engine: Engine, limits: HubLimits) -> Self {
        Self::start_with_origins(engine, limits, Vec::new()).await
    }

    pub async fn start_with_origins(
        engine: Engine,
        limits: HubLimits,
        allowed_origins: Vec<String>,
    ) -> Self {
        let (redis, count) = match engine {
            Engine::Memory => (None, 1),
            Engine::Redis => (Some(redis_server::RedisServer::start().await), 2),
        };
        let mut nodes = Vec::new();
        for _ in 0..count {
            let hub = match &redis {
                None => Hub::new(limits.clone()),
                Some(redis) => Hub::with_redis(limits.clone(), redis.settings())
                    .await
                    .expect("a node connects to redis"),
            };
            nodes.push(Node::start(hub, &allowed_origins).await);
        }
        Self {
            addr: nodes[0].addr,
            hub: Arc::clone(&nodes[0].hub),
            nodes,
            next: std::sync::atomic::AtomicUsize::new(0),
            redis,
        }
    }

    pub fn engine(&self) -> Engine {
        if self.redis.is_some() {
            Engine::Redis
        } else {
            Engine::Memory
        }
    }

    /// The node the next connection goes to: the other one each time.
    fn next_addr(&self) -> SocketAddr {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.nodes[n % self.nodes.len()].addr
    }

    /// A `/signal` URL on the next node (see [`Self::next_addr`]).
    pub fn url(&self, query: &str) -> String {
        format!("ws://{}/signal?{query}", self.next_addr())
    }

    /// Shuts every node down (sockets close with 1001).
    pub fn shutdown(&self) {
        for node in &self.nodes {
            node.hub.shutdown();
        }
    }

    /// Resolves when no node has a socket left.
    pub async fn sockets_closed(&self) {
        for node in &self.nodes {
            node.hub.sockets_closed().await;
        }
    }

    /// Sockets served by all nodes.
    pub fn live_socket_count(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| node.hub.live_socket_count())
            .sum()
    }

    /// Connects `peer` to `session`.
    pub async fn connect(&self, session: &str, peer: &str) -> Client {
        self.connect_query(&format!("session={session}&peer={peer}"))
            .await
    }

    pub async fn connect_query(&self, query: &str) -> Client {
        let (ws, response) = tokio_tungstenite::connect_async(self.url(query))
            .await
            .expect("websocket upgrade");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        Client { ws }
    }

    /// Tries to connect `peer` to `session` on the next node: `Ok` on 101, else the
    /// HTTP status.
    pub async fn try_connect(&self, session: &str, peer: &str) -> Result<Client, StatusCode> {
        match tokio_tungstenite::connect_async(self.url(&format!("session={session}&peer={peer}")))
            .await
        {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tungstenite::Error::Http(response)) => Err(response.status()),
            Err(other) => panic!("unexpected upgrade failure: {other}"),
        }
    }

    /// Tries an upgrade with an `Origin` header: `Ok` on 101, else the HTTP status.
    /// Always on the first node, whose address a test's own origin names.
    pub async fn connect_with_origin(&self, origin: &str) -> Result<Client, StatusCode> {
        let mut request = format!("ws://{}/signal?session={SESSION}&peer={ALICE}", self.addr)
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "origin",
            HeaderValue::from_str(origin).expect("origin header"),
        );
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tungstenite::Error::Http(response)) => Err(response.status()),
            Err(other) => panic!("unexpected upgrade failure: {other}"),
        }
    }

    /// Waits until `check` holds, or fails the test.
    pub async fn wait_until(&self, what: &str, check: impl AsyncFn(&Hub) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !check(&self.hub).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Node {
    async fn start(hub: Arc<Hub>, allowed_origins: &[String]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let sweeper = hub.spawn_sweeper();
        let trust = Trust::new(Vec::new(), &[], allowed_origins, false).expect("origins");
        let app = router(SignalState {
            hub: Arc::clone(&hub),
            trust: Arc::new(trust),
        });
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("serve");
        });
        Self {
            addr,
            hub,
            server,
            sweeper,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for node in &self.nodes {
            node.hub.shutdown();
            node.sweeper.abort();
            node.server.abort();
        }
    }
}

/// Log lines written while a [`LogCapture`] is alive on this thread (the tests' tokio
/// runtime is single-threaded, so the server's tasks log here too).
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes).expect("logs are UTF-8")
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures INFO logs on this thread, in the binary's line format, until the guard is
/// dropped.
pub fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        // The line format the binary ships with.
        .event_format(homecall::server::logging::Line)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // A callsite that another test's thread registered while this subscriber was being
    // set up can keep a stale "never" interest; recompute them all now.
    tracing::callsite::rebuild_interest_cache();
    (buffer, guard)
}

/// What the server sent, as the test sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<(u16, String)>),
    /// The stream ended (or broke) without a close frame.
    End,
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

impl Client {
    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send text");
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .await
            .expect("send binary");
    }

    /// The next message that is not a ping or pong.
    pub async fn next(&mut self) -> Got {
        within("a message", async {
            loop {
                return match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => Got::Text(text.as_str().to_owned()),
                    Some(Ok(Message::Binary(data))) => Got::Binary(data.to_vec()),
                    Some(Ok(Message::Close(frame))) => {
                        Got::Close(frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned())))
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Err(_)) | None => Got::End,
                };
            }
        })
        .await
    }

    /// The next message, which must be text.
    pub async fn recv(&mut self) -> String {
        match self.next().await {
            Got::Text(text) => text,
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The next message must be a close frame with `code` and `reason`; then the stream ends.
    pub async fn expect_close(&mut self, code: u16, reason: &str) {
        assert_eq!(
            self.next().await,
            Got::Close(Some((code, reason.to_owned())))
        );
        assert_eq!(self.next().await, Got::End);
    }

    /// Nothing but pings arrives for `time` (the socket is open and quiet).
    pub async fn expect_quiet(&mut self, time: Duration) {
        let got = tokio::time::timeout(time, self.next()).await;
        if let Ok(got) = got {
            panic!("expected no message, got {got:?}");
        }
    }

    /// Closes with `code` and waits for the server's reply.
    pub async fn close(mut self, code: Option<u16>) {
        let frame = code.map(|code| CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        });
        self.ws.close(frame).await.expect("send close");
        within("the close reply", async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// The hang-up: `close(1000)`.
    pub async fn hang_up(self) {
        self.close(Some(1000)).await;
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_abruptly(self) {
        drop(self.ws);
    }
}

/// The whole HomeCall server (`homecall::server::serve`) on port 0: pages, `/signal`,
/// PWA files, `/healthz`, `/metrics`. Shut down by [`AppServer::stop`] or on `Drop`.
pub struct AppServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), homecall::server::ServeError>>>,
}

impl AppServer {
    pub async fn start(args: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        Self::start_on(listener, args).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener, args: &[&str]) -> Self {
        use clap::Parser;
        let addr = listener.local_addr().expect("local addr");
        let config = homecall::config::Config::parse_from(
            std::iter::once("homecall").chain(args.iter().copied()),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(homecall::server::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws(&self, session: &str, peer: &str) -> String {
        format!("ws://{}/signal?session={session}&peer={peer}", self.addr)
    }

    /// Connects `peer` to `session` over plain `ws://`.
    pub async fn connect(&self, session: &str, peer: &str) -> Client {
        let (ws, response) = tokio_tungstenite::connect_async(self.ws(session, peer))
            .await
            .expect("websocket upgrade");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        Client { ws }
    }

    /// Tries an upgrade with extra headers: `Ok` on 101, else the HTTP status.
    pub async fn try_connect(
        &self,
        session: &str,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, StatusCode> {
        let mut request = self
            .ws(session, peer)
            .into_client_request()
            .expect("request");
        for (name, value) in headers {
            request.headers_mut().append(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tungstenite::Error::Http(response)) => Err(response.status()),
            Err(other) => panic!("unexpected upgrade failure: {other}"),
        }
    }

    /// Triggers shutdown; `serve` must then return within `within`.
    pub async fn stop(mut self, within: Duration) -> Result<(), homecall::server::ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("server task");
        tokio::time::timeout(within, task)
            .await
            .expect("serve returned in time")
            .expect("serve did not panic")
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
