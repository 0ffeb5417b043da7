//! Logger: one API for both halves. On the server it writes through `tracing`; in the
//! browser it writes to the console. Every call names the session it belongs to. It must
//! never be handed SDP or ICE candidate contents: they carry users' addresses.

use std::fmt::Arguments;

/// Logs one event of the call identified by `session` (or `-` before there is one).
pub fn event(session: &str, what: Arguments<'_>) {
    #[cfg(feature = "hydrate")]
    web_sys::console::log_1(&format!("[homecall] session={session} {what}").into());
    #[cfg(not(feature = "hydrate"))]
    tracing::info!(session_id = session, "{what}");
}

/// Logs a failure of the call identified by `session`.
pub fn warn(session: &str, what: Arguments<'_>) {
    #[cfg(feature = "hydrate")]
    web_sys::console::warn_1(&format!("[homecall] session={session} {what}").into());
    #[cfg(not(feature = "hydrate"))]
    tracing::warn!(session_id = session, "{what}");
}
