//! `GET /api/config`: the page's ICE configuration, and who may have TURN credentials.
//!
//! Owns the rule that credentials (when a TURN secret is set) go only to a page that
//! holds a live signal socket: `?session=<id>&peer=<id>` must name a participant whose
//! socket is connected now (the page opens its socket and asks at the same time, so the
//! answer waits briefly for the socket), and only so many a minute to one client address
//! (counted across all nodes when the hub runs on Redis).
//! Without the proof the page gets STUN only. Must not compute credentials (that is
//! [`crate::turn`]) or touch sessions beyond asking the hub.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::time::Instant;

use crate::hub::Hub;
use crate::hub::per_ip::{ClientKey, PerMinute};
use crate::protocol::{PeerId, SessionId};
use crate::trust::Trust;
use crate::turn::{self, IceSettings, Turn};

/// How long a request for credentials waits for its page's signal socket to join.
const SOCKET_WAIT: Duration = Duration::from_secs(3);
/// How often it looks meanwhile.
const SOCKET_POLL: Duration = Duration::from_millis(25);

/// What `/api/config` needs.
#[derive(Debug)]
pub struct PageConfigState {
    pub ice: IceSettings,
    pub hub: Arc<Hub>,
    pub trust: Arc<Trust>,
    /// Credentials handed out per client address in the last minute.
    issued: Mutex<PerMinute>,
}

impl PageConfigState {
    pub fn new(ice: IceSettings, hub: Arc<Hub>, trust: Arc<Trust>) -> Self {
        let issued = Mutex::new(PerMinute::new(ice.credentials_per_ip_per_minute));
        Self {
            ice,
            hub,
            trust,
            issued,
        }
    }

    /// Counts one credential for `key`, on every node's behalf with Redis: `Ok(false)` if
    /// its budget is spent, `Err` with the status to answer if it cannot be counted.
    async fn take_credential(&self, key: ClientKey) -> Result<bool, StatusCode> {
        let per_minute = self.ice.credentials_per_ip_per_minute;
        match self.hub.redis() {
            Some(shared) => shared
                .take_turn_credential(key, per_minute)
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE),
            None => Ok(self.take_local_credential(key)),
        }
    }

    fn take_local_credential(&self, key: ClientKey) -> bool {
        let now = Instant::now();
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        if issued.len() > 10_000 {
            issued.sweep(now);
        }
        issued.try_take(key, now)
    }
}

/// The proof a page offers: its call's ids.
#[derive(Debug, Deserialize)]
pub struct Proof {
    session: Option<String>,
    peer: Option<String>,
}

pub async fn page_config(
    State(state): State<Arc<PageConfigState>>,
    ConnectInfo(peer_addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(proof): Query<Proof>,
) -> Response {
    let turn_access = if state.ice.issues_credentials() && proof.session.is_some() {
        match credentials_allowed(&state, &proof).await {
            Ok(()) => {
                let ip = state.trust.client_ip(peer_addr, &headers);
                match state.take_credential(ClientKey::of(ip)).await {
                    Ok(true) => Turn::Credentials,
                    Ok(false) => {
                        tracing::info!("TURN credentials refused: 429");
                        return StatusCode::TOO_MANY_REQUESTS.into_response();
                    }
                    Err(status) => {
                        tracing::warn!(
                            "TURN credentials not counted: the hub's store is unavailable"
                        );
                        return status.into_response();
                    }
                }
            }
            Err(refused) => {
                tracing::info!("TURN credentials refused: no live signal socket");
                return refused.into_response();
            }
        }
    } else {
        Turn::Withheld
    };
    let config = turn::page_config(&state.ice, SystemTime::now(), turn_access);
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(config),
    )
        .into_response()
}

/// Waits (a little) until the proof names a live socket: `Err` with the status to answer.
async fn credentials_allowed(state: &PageConfigState, proof: &Proof) -> Result<(), StatusCode> {
    let session = proof
        .session
        .as_deref()
        .and_then(|s| SessionId::parse(s).ok());
    let peer = proof.peer.as_deref().and_then(|p| PeerId::parse(p).ok());
    let (Some(session), Some(peer)) = (session, peer) else {
        return Err(StatusCode::BAD_REQUEST);
    };
    let deadline = Instant::now() + SOCKET_WAIT;
    loop {
        if state.hub.holds_socket(&session, &peer).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StatusCode::FORBIDDEN);
        }
        tokio::time::sleep(SOCKET_POLL).await;
    }
}
