//! The HTTP side of `/signal` (PROTOCOL.md §1, §6): everything decided before a socket
//! exists.
//!
//! Owns: the `Origin` check, the client's address (through [`Trust`]), reading `session`
//! and `peer` from the URL, the per-address limits (asking the [`Hub`]), and the upgrade
//! with its buffer and size limits. Must not touch session state or run the socket: the
//! accepted socket goes to [`super::serve`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::SOCKET_BUFFER_BYTES;
use crate::hub::Hub;
use crate::hub::metrics::UpgradeRefusal;
use crate::hub::per_ip::AdmitError;
use crate::protocol::{PeerId, SessionId};
use crate::trust::Trust;

/// Room in a socket's write buffer beside one message of the largest size: a pong, a
/// close and an error reply. Past it a write fails instead of growing the buffer, so a
/// client that never reads cannot make the server hold more (its pongs replace each
/// other while they cannot be sent).
const WRITE_HEADROOM_BYTES: usize = 16 * 1024;

/// What the `/signal` route needs.
#[derive(Debug, Clone)]
pub struct SignalState {
    pub hub: Arc<Hub>,
    /// Allowed origins and the client's address.
    pub trust: Arc<Trust>,
}

/// `GET /signal?session=<sessionId>&peer=<peerId>`, upgraded to a WebSocket. The router
/// must be served with `ConnectInfo<SocketAddr>` (the per-address limits need it).
pub fn router(state: SignalState) -> Router {
    Router::new()
        .route("/signal", get(upgrade))
        .with_state(Arc::new(state))
}

/// The ids named by the URL, or why they are unusable: `Err(Some(id))` when only the peer
/// is bad (the error then names the session), `Err(None)` when the session is bad.
pub(super) type Link = Result<(SessionId, PeerId), Option<SessionId>>;

async fn upgrade(
    State(state): State<Arc<SignalState>>,
    ConnectInfo(peer_addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok());
        let allowed = origin
            .to_str()
            .is_ok_and(|origin| state.trust.origin_allowed(origin, host));
        if !allowed {
            tracing::info!(origin = ?origin, "signal upgrade refused: origin not allowed");
            state.hub.metrics().upgrade_refused(UpgradeRefusal::Origin);
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let link = match query {
        Ok(Query(pairs)) => parse_link(&pairs),
        Err(_) => Err(None),
    };
    let hub = Arc::clone(&state.hub);
    let ip = state.trust.client_ip(peer_addr, &headers);
    let ticket = match hub
        .admit(ip, link.as_ref().ok().map(|(session, _)| session))
        .await
    {
        Ok(ticket) => ticket,
        Err(refused) => {
            // The address itself is not logged: it is the user's.
            let who = super::Who::of(&link);
            socket_info!(who, outcome = %refused, "signal upgrade refused: 429");
            hub.metrics().upgrade_refused(match refused {
                AdmitError::TooManySockets => UpgradeRefusal::TooManySockets,
                AdmitError::TooManyNewSessions => UpgradeRefusal::TooManyNewSessions,
            });
            return StatusCode::TOO_MANY_REQUESTS.into_response();
        }
    };
    let limits = hub.limits();
    let hard = limits.hard_frame_bytes;
    ws.read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .max_write_buffer_size(limits.max_message_bytes + WRITE_HEADROOM_BYTES)
        .max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| async move {
            let _ticket = ticket;
            super::serve(socket, hub, link).await;
        })
}

/// Reads `session` and `peer`; each must appear exactly once and be well formed.
fn parse_link(pairs: &[(String, String)]) -> Link {
    let single = |name: &str| -> Option<&str> {
        let mut values = pairs.iter().filter(|(key, _)| key == name);
        match (values.next(), values.next()) {
            (Some((_, value)), None) => Some(value),
            _ => None,
        }
    };
    let session = single("session")
        .and_then(|text| SessionId::parse(text).ok())
        .ok_or(None)?;
    let peer = single("peer")
        .and_then(|text| PeerId::parse(text).ok())
        .ok_or(Some(session))?;
    Ok((session, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "123e4567-e89b-42d3-a456-426614174000";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn links_need_one_good_session_and_one_good_peer() {
        let session = SessionId::parse(SESSION).unwrap();
        let peer = PeerId::parse("peer-0001").unwrap();
        assert_eq!(
            parse_link(&pairs(&[("session", SESSION), ("peer", "peer-0001")])),
            Ok((session, peer))
        );
        assert_eq!(parse_link(&pairs(&[("peer", "peer-0001")])), Err(None));
        assert_eq!(
            parse_link(&pairs(&[("session", "nope"), ("peer", "peer-0001")])),
            Err(None)
        );
        assert_eq!(
            parse_link(&pairs(&[("session", SESSION), ("peer", "short")])),
            Err(Some(session))
        );
        assert_eq!(
            parse_link(&pairs(&[("session", SESSION)])),
            Err(Some(session))
        );
        assert_eq!(
            parse_link(&pairs(&[
                ("session", SESSION),
                ("session", SESSION),
                ("peer", "peer-0001")
            ])),
            Err(None)
        );
    }
}
