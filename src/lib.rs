//! HomeCall: one-to-one video calls by link.
//!
//! One crate, two halves. With the `ssr` feature it is the server: an axum app that renders
//! the pages, hosts the `/signal` hub and serves the PWA files. With `hydrate` it is the
//! browser client, compiled to wasm, that takes over the server-rendered page.
//!
//! # Layout
//! - [`protocol`]: the wire types of `/signal` (PROTOCOL.md), shared by the hub and `Net`.
//! - [`app`]: the page shell, `<App/>` and the views (home, share-link, call, end).
//! - [`contours`]: the client's contours: Core (call phases), Env (URL, ids, storage),
//!   Media (camera, microphone), Rtc (RTCPeerConnection), Net (signal client), and the
//!   call conductor that wires them together.
//! - [`i18n`]: the UI's words in Russian and English, and the choice between them.
//! - [`pwa`]: service worker registration, update notices, the install button.
//! - [`logger`]: one logging API: `tracing` on the server, the console in the browser.
//! - `config` (ssr): every server setting, from flags and `HOMECALL_*` variables.
//! - `hub` (ssr): sessions, participants, queues, expiry; `hub::socket` is its WebSocket edge.
//! - `server` (ssr): the axum router (pages, `/signal`, PWA files, `/api/config`,
//!   `/healthz`, `/metrics`) and serving; `server::listen` is the accept loop with its
//!   caps and timeouts, `server::security` sets the security headers, `server::tls` is
//!   the built-in TLS.
//! - `trust` (ssr): whom a request comes from (trusted proxies) and which origins and
//!   hosts are the server's own.
//! - `turn` (ssr): the page's ICE configuration, with coturn REST TURN credentials.

pub mod app;
pub mod contours;
pub mod i18n;
pub mod logger;
pub mod protocol;
pub mod pwa;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod hub;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod trust;
#[cfg(feature = "ssr")]
pub mod turn;

/// The server's allocator. With glibc's, the memory of ended sessions stayed resident
/// (it is reused, but freed chunks below the top of a heap are never returned to the OS);
/// jemalloc's background threads return unused pages within its decay time (10 s).
/// See BENCHMARKS.md.
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
