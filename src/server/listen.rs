//! The server's own accept loop: every TCP connection from accept to close.
//!
//! Owns: a global and a per-address cap on open connections (a newcomer beyond either is
//! closed at once, so accepting never stalls); each connection's TLS handshake, in a task
//! of its own with a timeout and a per-address cap; HTTP/1.1 by hyper with a timer, so a
//! request head must arrive within the header-read timeout (also while a kept-alive
//! connection waits for its next request) and within [`MAX_REQUEST_HEAD_BYTES`]; the
//! open-files limit; and the graceful end of HTTP connections. Must not touch routing,
//! headers or the hub: it serves the [`Router`] it is given, which sees each request's
//! `ConnectInfo<SocketAddr>`.
//!
//! HTTP/1.1 only: WebSockets upgrade over it, and TLS offers only `http/1.1` by ALPN.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::hub::metrics::write_family;
use crate::hub::per_ip::ClientKey;
use crate::trust::Trust;

/// The largest request head (request line and headers). Beyond it hyper answers 431, or
/// 414 for a request line whose URI alone passes 65,534 bytes, which is why the cap sits
/// just above that.
pub const MAX_REQUEST_HEAD_BYTES: usize = 68 * 1024;
/// Connections the kernel may hold ready before they are accepted (capped by
/// `net.core.somaxconn`). The standard library's 128 overflows when every client of a
/// restarted server reconnects at once: the kernel drops their SYNs and each waits a
/// second to retry.
const LISTEN_BACKLOG: u32 = 4096;
/// Open files kept for everything but connections (assets, logs, the runtime).
const RESERVED_FILES: u64 = 256;
/// How long to wait before accepting again when accepting failed for want of resources.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long shutdown waits for HTTP connections to finish their current request.
const DRAIN_WAIT: Duration = Duration::from_secs(3);

/// The accept loop's caps and timeouts (from `Config::connection_limits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub max_tls_handshakes_per_ip: usize,
}

impl ConnectionLimits {
    /// Raises the open-files limit as far as `max_connections` needs and the system
    /// allows, and lowers `max_connections` to what the limit then holds (with a
    /// warning), so that accepting never fails for want of descriptors.
    pub fn fitted_to_open_files(mut self) -> Self {
        let wanted = (self.max_connections as u64).saturating_add(RESERVED_FILES);
        let limit = match rlimit::increase_nofile_limit(wanted) {
            Ok(limit) => limit,
            Err(error) => {
                tracing::warn!(%error, "cannot read or raise the open-files limit");
                return self;
            }
        };
        let fitted = connection_cap(self.max_connections, limit);
        if fitted < self.max_connections {
            tracing::warn!(
                open_files_limit = limit,
                max_connections = fitted,
                "the open-files limit holds fewer connections than --max-connections; raise it (ulimit -n) to allow more"
            );
            self.max_connections = fitted;
        }
        self
    }
}

/// Listens on `address` with a backlog that holds a reconnect storm ([`LISTEN_BACKLOG`]).
pub fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How many connections fit in `open_files` descriptors beside the reserved ones.
fn connection_cap(wanted: usize, open_files: u64) -> usize {
    let room = open_files.saturating_sub(RESERVED_FILES).max(16);
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// Open things (connections, handshakes) in total and per client address.
#[derive(Debug)]
struct Tally {
    max_total: usize,
    max_per_address: usize,
    state: Mutex<TallyState>,
}

#[derive(Debug, Default)]
struct TallyState {
    open: usize,
    by_address: HashMap<ClientKey, usize>,
}

/// Why a newcomer was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `--max-connections` are open.
    Total,
    /// Its address holds `--max-connections-per-ip` (or, for handshakes,
    /// `--max-tls-handshakes-per-ip`).
    PerAddress,
}

/// The accept loop's counts for `/metrics`: open connections, and newcomers closed at once.
#[derive(Debug)]
pub struct ConnectionStats {
    connections: Arc<Tally>,
    refused_total: AtomicU64,
    refused_per_address: AtomicU64,
    refused_handshakes: AtomicU64,
    handshakes_failed: AtomicU64,
}

impl ConnectionStats {
    pub fn new(limits: &ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            connections: Tally::new(limits.max_connections, limits.max_connections_per_ip),
            refused_total: AtomicU64::new(0),
            refused_per_address: AtomicU64::new(0),
            refused_handshakes: AtomicU64::new(0),
            handshakes_failed: AtomicU64::new(0),
        })
    }

    fn refused_handshake(&self) {
        self.refused_handshakes.fetch_add(1, Ordering::Relaxed);
    }

    fn handshake_failed(&self) {
        self.handshakes_failed.fetch_add(1, Ordering::Relaxed);
    }

    fn refused(&self, refusal: Refusal) {
        let counter = match refusal {
            Refusal::Total => &self.refused_total,
            Refusal::PerAddress => &self.refused_per_address,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts in the Prometheus text format, to follow the hub's.
    pub fn render(&self) -> String {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let open = u64::try_from(self.connections.open()).unwrap_or(u64::MAX);
        let mut out = String::new();
        write_family(
            &mut out,
            "homecall_connections_open",
            "gauge",
            "TCP connections open (pages and sockets).",
            &[("", open)],
        );
        write_family(
            &mut out,
            "homecall_connections_refused_total",
            "counter",
            "Connections closed at once, by the cap reached.",
            &[
                (r#"{reason="max_connections"}"#, read(&self.refused_total)),
                (
                    r#"{reason="max_connections_per_ip"}"#,
                    read(&self.refused_per_address),
                ),
                (
                    r#"{reason="max_tls_handshakes_per_ip"}"#,
                    read(&self.refused_handshakes),
                ),
            ],
        );
        write_family(
            &mut out,
            "homecall_tls_handshakes_failed_total",
            "counter",
            "TLS handshakes that failed or timed out.",
            &[("", read(&self.handshakes_failed))],
        );
        out
    }
}

/// One counted thing; uncounted on drop.
#[derive(Debug)]
struct Place {
    tally: Arc<Tally>,
    /// `None`: not counted per address (a trusted proxy speaks for many clients).
    key: Option<ClientKey>,
}

impl Tally {
    fn new(max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_address,
            state: Mutex::new(TallyState::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, TallyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more for `key`, or says which cap is reached.
    fn take(self: &Arc<Self>, key: Option<ClientKey>) -> Result<Place, Refusal> {
        let mut state = self.lock();
        if state.open >= self.max_total {
            return Err(Refusal::Total);
        }
        if let Some(key) = key {
            let held = state.by_address.entry(key).or_insert(0);
            if *held >= self.max_per_address {
                return Err(Refusal::PerAddress);
            }
            *held += 1;
        }
        state.open += 1;
        Ok(Place {
            tally: Arc::clone(self),
            key,
        })
    }

    fn open(&self) -> usize {
        self.lock().open
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = self.tally.lock();
        state.open = state.open.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(held) = state.by_address.get_mut(&key)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                state.by_address.remove(&key);
            }
        }
    }
}

/// A connection's stream that holds its place in the tally for as long as it lives,
/// also after a WebSocket upgrade has taken it over.
#[derive(Debug)]
struct Counted<Io> {
    io: Io,
    _place: Place,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Counted<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Counted<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// What every connection task shares.
struct Shared {
    app: Router,
    http: http1::Builder,
    tls: Option<TlsAcceptor>,
    tls_handshake_timeout: Duration,
    handshakes: Arc<Tally>,
    stats: Arc<ConnectionStats>,
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` completes, then
/// stops accepting, lets each HTTP connection finish its current request and waits (a
/// little) for the connections to close. WebSocket connections are the hub's to close:
/// do that inside `shutdown`.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    trust: Arc<Trust>,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::clone(&stats.connections);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        // Also what an unfinished head may hold while it waits for the rest.
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);
    let shared = Arc::new(Shared {
        app,
        http,
        tls,
        tls_handshake_timeout: limits.tls_handshake_timeout,
        handshakes: Tally::new(usize::MAX, limits.max_tls_handshakes_per_ip),
        stats,
    });
    let (stop, stopped) = watch::channel(());
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error, &mut last_warning).await;
                    continue;
                }
            },
        };
        let Some((stream, handshake)) = admit(&shared, &connections, &trust, stream, peer) else {
            continue;
        };
        let shared = Arc::clone(&shared);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, handshake, &shared, stopped).await;
        });
    }
    drop(listener);
    // Keep-alive connections close after their current request.
    let _ = stop.send(());
    let deadline = Instant::now() + DRAIN_WAIT;
    while connections.open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Counts a new connection against the caps (and, with TLS, its handshake): its counted
/// stream, or `None` when a cap is reached and the newcomer is closed at once, so that
/// it learns now and nobody else waits.
fn admit(
    shared: &Shared,
    connections: &Arc<Tally>,
    trust: &Trust,
    mut stream: TcpStream,
    peer: SocketAddr,
) -> Option<(Counted<TcpStream>, Option<Place>)> {
    let key = (!trust.is_proxy(peer.ip())).then(|| ClientKey::of(peer.ip()));
    let place = match connections.take(key) {
        Ok(place) => place,
        Err(refusal) => {
            tracing::debug!(?refusal, "connection refused");
            shared.stats.refused(refusal);
            return None;
        }
    };
    let handshake = match &shared.tls {
        Some(_) => match shared.handshakes.take(key) {
            Ok(handshake) => Some(handshake),
            Err(_) => {
                tracing::debug!("connection refused: too many TLS handshakes from one address");
                shared.stats.refused_handshake();
                return None;
            }
        },
        None => None,
    };
    super::no_delay(&mut stream);
    let stream = Counted {
        io: stream,
        _place: place,
    };
    Some((stream, handshake))
}

/// An accept error: a connection that died in the backlog is skipped; anything else
/// (out of descriptors or memory) waits a moment, warning at most once a second.
async fn accept_failed(error: &io::Error, last_warning: &mut Option<Instant>) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    let now = Instant::now();
    if last_warning.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
        tracing::warn!(%error, "accepting a connection failed");
        *last_warning = Some(now);
    }
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// One connection: its TLS handshake if the server speaks TLS, then HTTP.
async fn serve_connection(
    stream: Counted<TcpStream>,
    peer: SocketAddr,
    handshake: Option<Place>,
    shared: &Shared,
    stopped: watch::Receiver<()>,
) {
    let Some(tls) = &shared.tls else {
        serve_http(stream, peer, shared, stopped).await;
        return;
    };
    let accepted = tokio::time::timeout(shared.tls_handshake_timeout, tls.accept(stream)).await;
    drop(handshake);
    match accepted {
        Ok(Ok(stream)) => return serve_http(stream, peer, shared, stopped).await,
        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
    shared.stats.handshake_failed();
}

/// HTTP/1.1 on one connection until it closes, or until shutdown lets it finish.
async fn serve_http<Io>(io: Io, peer: SocketAddr, shared: &Shared, mut stopped: watch::Receiver<()>)
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = shared.app.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let connection = shared
        .http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(error) = served {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            return;
        }
        _ = stopped.changed() => connection.as_mut().graceful_shutdown(),
    }
    if let Err(error) = connection.await {
        tracing::debug!(%error, "HTTP connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Option<ClientKey> {
        Some(ClientKey::of(text.parse().unwrap()))
    }

    #[test]
    fn the_tally_caps_each_address_and_the_total_and_gives_places_back() {
        let tally = Tally::new(3, 2);
        let a1 = tally.take(key("192.0.2.1")).unwrap();
        let _a2 = tally.take(key("192.0.2.1")).unwrap();
        let refused = |key| tally.take(key).map(drop).unwrap_err();
        assert_eq!(refused(key("192.0.2.1")), Refusal::PerAddress);
        let _b = tally.take(key("192.0.2.2")).unwrap();
        assert_eq!(refused(key("192.0.2.3")), Refusal::Total);
        assert_eq!(refused(None), Refusal::Total, "a proxy counts in the total");
        drop(a1);
        assert_eq!(tally.open(), 2);
        assert!(tally.take(key("192.0.2.1")).is_ok());
    }

    #[test]
    fn proxies_are_not_capped_per_address() {
        let tally = Tally::new(10, 1);
        let places: Vec<Place> = (0..5).filter_map(|_| tally.take(None).ok()).collect();
        assert_eq!(places.len(), 5);
    }

    #[tokio::test]
    async fn the_backlog_holds_a_reconnect_storm_before_anything_is_accepted() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = listener.local_addr().unwrap();
        // Nothing accepts: each connect completes only if the kernel queues it.
        let storm = (0..1000)
            .map(|_| tokio::time::timeout(Duration::from_millis(800), TcpStream::connect(address)));
        let connected = futures_util::future::join_all(storm)
            .await
            .into_iter()
            .filter(|connect| matches!(connect, Ok(Ok(_))))
            .count();
        assert_eq!(connected, 1000, "connections queued before any accept");
        drop(listener);
    }

    #[test]
    fn connections_fit_the_open_files_limit() {
        assert_eq!(connection_cap(200_000, 1_048_576), 200_000);
        assert_eq!(connection_cap(200_000, 1024), 1024 - 256);
        assert_eq!(connection_cap(200_000, 100), 16, "never none at all");
    }
}
