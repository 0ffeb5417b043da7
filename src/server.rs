//! The server half: one axum router for the pages (server-rendered `<App/>`), the `/signal`
//! hub, the PWA files (`/manifest.webmanifest`, `/sw.js`), `/api/config`, `/healthz`,
//! `/metrics` and the built assets, and `serve`, which runs it (plain or TLS) until a
//! shutdown signal. Owns HTTP wiring only: the hub's rules live in `hub`, settings in
//! `config`, whom to trust in `trust`.
//!
//! - [`listen`]: the accept loop: connection caps, timeouts, TLS handshakes, HTTP/1.1.
//! - [`logging`]: the log filter, which keeps frame contents out of every log.
//! - [`security`]: the security headers every response carries.
//! - [`tls`]: built-in TLS (`--tls-cert`, `--tls-key`).
//! - [`page_config`]: `/api/config`, with TURN credentials only for a live signal socket.

pub mod listen;
pub mod logging;
pub mod page_config;
pub mod pwa;
pub mod qr;
pub mod security;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use leptos::config::{Env, LeptosOptions};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;

use crate::app::{App, PageOrigin, shell};
use crate::config::{Config, ConfigError};
use crate::hub::Hub;
use crate::hub::socket::{self, SignalState};
use crate::trust::Trust;
use page_config::PageConfigState;

/// How long shutdown waits for signal sockets to finish their closing handshake.
const SOCKET_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The Leptos settings, derived from ours (no `LEPTOS_*` variables needed).
pub fn leptos_options(config: &Config, hashed_assets: bool) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("homecall")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(Env::PROD)
        // The release build (scripts/build.sh) names assets by their hashes and lists them in
        // `hash.txt` beside the binary; a binary without one (tests, plain `cargo run`)
        // serves the plain names.
        .hash_files(hashed_assets)
        .build()
}

/// The whole HTTP surface of HomeCall.
pub fn router(
    config: &Config,
    hub: Arc<Hub>,
    trust: Arc<Trust>,
    connections: Arc<listen::ConnectionStats>,
) -> Router {
    let hash_file = pwa::hash_file_beside_binary();
    let options = leptos_options(config, hash_file.is_some());
    // Each page gets its security policy and knows its own origin (for absolute links).
    let page_context = {
        let trust = Arc::clone(&trust);
        move || {
            security::provide_page_csp();
            let parts = leptos::prelude::use_context::<axum::http::request::Parts>();
            let host = parts
                .as_ref()
                .and_then(|parts| parts.headers.get(axum::http::header::HOST))
                .and_then(|host| host.to_str().ok());
            if let Some(origin) = trust.own_origin(host) {
                leptos::prelude::provide_context(PageOrigin(origin));
            }
        }
    };
    let pages = Router::new()
        .leptos_routes_with_context(&options, generate_route_list(App), page_context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            page_context,
            shell,
        ))
        .with_state(options)
        .layer(axum::middleware::from_fn(cache_policy));
    let metrics = {
        let hub = Arc::clone(&hub);
        move || async move { render_metrics(&hub, &connections).await }
    };
    let pwa_files = Arc::new(pwa::PwaFiles::load(
        &config.site_root,
        config.build_id.as_deref(),
        hash_file.as_deref(),
    ));
    let page_config = Arc::new(PageConfigState::new(
        config.ice_settings(),
        Arc::clone(&hub),
        Arc::clone(&trust),
    ));
    let signal = socket::router(SignalState {
        hub: Arc::clone(&hub),
        trust: Arc::clone(&trust),
    });
    let app = Router::new()
        .route("/manifest.webmanifest", get(pwa::manifest))
        .route(
            "/sw.js",
            get(pwa::service_worker).with_state(Arc::clone(&pwa_files)),
        )
        .route("/offline", get(pwa::offline).with_state(pwa_files))
        .route("/share", post(pwa::share_without_worker))
        .route(
            "/api/config",
            get(page_config::page_config).with_state(page_config),
        )
        .route(
            "/qr.svg",
            get(qr::qr_code).with_state(qr::Scheme {
                https: config.clients_use_tls(),
            }),
        )
        .merge(signal)
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(trust, own_host_only))
        // Load balancers and Prometheus ask by address, whatever the public name.
        .route("/healthz", get(healthz).with_state(Arc::clone(&hub)))
        .route("/metrics", get(metrics));
    security::apply(app, config.clients_use_tls())
}

/// `GET /healthz`: 200 "ok" while this node can serve; 503 "not ready" while it is
/// draining (shutdown) or, with Redis, while its Redis connection or subscription is
/// broken, so that a load balancer sends new sockets to the other nodes.
async fn healthz(State(hub): State<Arc<Hub>>) -> axum::response::Response {
    if hub.is_ready() {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// Refuses a request for a `Host` that is not one of `--public-origin`'s with 421: a
/// page of another name that resolves here (DNS rebinding) gets nothing.
async fn own_host_only(
    State(trust): State<Arc<Trust>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    if trust.host_allowed(host) {
        next.run(request).await
    } else {
        tracing::info!("request refused: not for this server's host (421)");
        (
            StatusCode::MISDIRECTED_REQUEST,
            "This server does not answer for that host.\n",
        )
            .into_response()
    }
}

/// Whether `path` is a build asset whose name carries its content hash
/// (`/pkg/homecall.<hash>.wasm`): it never changes, so browsers may keep it for good.
pub fn is_hashed_asset(path: &str) -> bool {
    !path.ends_with(".d.ts")
        && path
            .strip_prefix("/pkg/homecall.")
            .is_some_and(|rest| rest.split('.').count() == 2)
}

/// Hashed assets are immutable; pages (a fresh nonce each) and anything else are
/// revalidated. The service worker keeps each build's own copies.
async fn cache_policy(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let immutable = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    let policy = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(policy));
    response
}

/// `GET /metrics`: the hub's and the accept loop's counters and gauges for Prometheus.
async fn render_metrics(
    hub: &Hub,
    connections: &listen::ConnectionStats,
) -> impl IntoResponse + use<> {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        hub.render_metrics().await + &connections.render(),
    )
}

/// Why the server stopped other than by its shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("serving HTTP failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Redis(#[from] crate::hub::redis::RedisStartError),
}

/// Turns Nagle's algorithm off for a connection: signaling frames are small and each is
/// written once, so holding one back until the previous is acknowledged only adds delay
/// (up to a delayed-ACK timeout in a burst of ICE candidates).
pub fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
}

/// Serves HomeCall on `listener` until `shutdown` completes, then closes every live signal
/// socket with 1001 (clients reconnect, to another instance if there is one) and lets
/// HTTP connections finish. With `--tls-cert` and `--tls-key` it speaks TLS itself.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let trust = Arc::new(config.trust().map_err(ConfigError::from)?);
    let hub = match config.redis_settings() {
        None => Hub::new(config.hub_limits()),
        Some(settings) => Hub::with_redis(config.hub_limits(), settings).await?,
    };
    tracing::info!(engine = hub.engine_name(), "hub ready");
    hub.spawn_sweeper();
    let limits = config.connection_limits().fitted_to_open_files();
    let connections = listen::ConnectionStats::new(&limits);
    let app = router(
        &config,
        Arc::clone(&hub),
        Arc::clone(&trust),
        Arc::clone(&connections),
    );
    let graceful = async move {
        shutdown.await;
        hub.shutdown();
        let closed = tokio::time::timeout(SOCKET_CLOSE_WAIT, hub.sockets_closed());
        if closed.await.is_err() {
            tracing::warn!("some signal sockets did not close in time");
        }
    };
    listen::serve_connections(listener, app, tls, limits, connections, trust, graceful).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_build_assets_are_immutable() {
        assert!(is_hashed_asset("/pkg/homecall.a1b2c3.wasm"));
        assert!(is_hashed_asset("/pkg/homecall.a1b2c3.css"));
        assert!(!is_hashed_asset("/pkg/homecall.wasm"));
        assert!(!is_hashed_asset("/pkg/homecall.d.ts"));
        assert!(!is_hashed_asset("/"));
        assert!(!is_hashed_asset("/sw.js"));
    }
}
