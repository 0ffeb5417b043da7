//! The page configuration served at `GET /api/config`: STUN/TURN servers from the
//! settings and, when a TURN shared secret is set, short-lived credentials made per
//! coturn's REST scheme (`use-auth-secret`): username `expiry:random`, password
//! base64(HMAC-SHA1(secret, username)). Owns that computation only (who may have
//! credentials is `server::page_config`'s to decide); must not log the secret or the
//! credentials.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::contours::env::{IceServer, PageConfig};

/// What the page configuration is made from (a part of `Config`).
#[derive(Debug, Clone, Default)]
pub struct IceSettings {
    /// STUN and TURN URLs (`stun:host:3478`, `turn:host:3478?transport=udp`, `turns:…`).
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`; TURN URLs get credentials only when it is set.
    pub turn_secret: Option<String>,
    /// How long TURN credentials stay valid.
    pub credential_ttl: Duration,
    /// TURN credentials one client address may get per minute.
    pub credentials_per_ip_per_minute: u32,
    /// Tell pages to relay through TURN only.
    pub relay_only: bool,
}

/// TURN credentials for `random`, valid until `now + ttl` (coturn REST scheme).
pub fn turn_credentials(
    secret: &str,
    ttl: Duration,
    now: SystemTime,
    random: &str,
) -> (String, String) {
    let expiry = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(ttl)
        .as_secs();
    let username = format!("{expiry}:{random}");
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

fn is_turn(url: &str) -> bool {
    url.starts_with("turn:") || url.starts_with("turns:")
}

impl IceSettings {
    /// Whether TURN URLs need per-call credentials (a shared secret is set), which only a
    /// page with a live signal socket gets.
    pub fn issues_credentials(&self) -> bool {
        self.turn_secret.is_some() && self.urls.iter().any(|url| is_turn(url))
    }
}

/// Whether a page's configuration may carry TURN credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// With fresh credentials (the page proved a live signal socket).
    Credentials,
    /// STUN only: TURN URLs that need credentials are left out.
    Withheld,
}

/// The configuration one page gets for one call.
pub fn page_config(settings: &IceSettings, now: SystemTime, turn_access: Turn) -> PageConfig {
    let (stun, mut turn): (Vec<String>, Vec<String>) =
        settings.urls.iter().cloned().partition(|u| !is_turn(u));
    if settings.turn_secret.is_some() && turn_access == Turn::Withheld {
        turn.clear();
    }
    let mut ice_servers = Vec::new();
    if !stun.is_empty() {
        ice_servers.push(IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty() {
        let (username, credential) = match &settings.turn_secret {
            Some(secret) => {
                let random = uuid::Uuid::new_v4().simple().to_string();
                let (u, c) = turn_credentials(secret, settings.credential_ttl, now, &random);
                (Some(u), Some(c))
            }
            None => (None, None),
        };
        ice_servers.push(IceServer {
            urls: turn,
            username,
            credential,
        });
    }
    let renew_after_seconds = (settings.issues_credentials() && turn_access == Turn::Credentials)
        .then(|| renewal_delay(settings.credential_ttl).as_secs());
    PageConfig {
        ice_servers,
        relay_only: settings.relay_only,
        renew_after_seconds,
    }
}

/// When a page should fetch fresh credentials: at four fifths of their life, so a
/// renewal that fails once still has time to be tried again.
fn renewal_delay(ttl: Duration) -> Duration {
    (ttl * 4 / 5).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_coturns_rest_scheme() {
        // Checked against Python: base64(hmac.new(b"north-secret", b"1700000000:homecall", sha1)).
        let now = UNIX_EPOCH + Duration::from_secs(1_699_996_400);
        let (username, password) =
            turn_credentials("north-secret", Duration::from_secs(3600), now, "homecall");
        assert_eq!(username, "1700000000:homecall");
        assert_eq!(password, "JJTbaNus7ZkFW+M679fIGpwziKY=");
    }

    #[test]
    fn turn_urls_get_fresh_credentials_and_stun_urls_none() {
        let settings = IceSettings {
            urls: vec![
                "stun:127.0.0.1:3478".into(),
                "turn:127.0.0.1:3478?transport=udp".into(),
            ],
            turn_secret: Some("s3cret".into()),
            credential_ttl: Duration::from_secs(600),
            credentials_per_ip_per_minute: 10,
            relay_only: true,
        };
        let now = SystemTime::now();
        let config = page_config(&settings, now, Turn::Credentials);
        assert_eq!(config.renew_after_seconds, Some(480));
        assert!(config.relay_only);
        assert_eq!(config.ice_servers.len(), 2);
        assert_eq!(config.ice_servers[0].urls, vec!["stun:127.0.0.1:3478"]);
        assert_eq!(config.ice_servers[0].username, None);
        let turn = &config.ice_servers[1];
        let username = turn.username.as_deref().unwrap();
        let expiry: u64 = username.split(':').next().unwrap().parse().unwrap();
        let expected = now.duration_since(UNIX_EPOCH).unwrap().as_secs() + 600;
        assert!(expiry.abs_diff(expected) <= 1);
        let random = username.split_once(':').unwrap().1;
        let (_, password) = turn_credentials(
            "s3cret",
            Duration::ZERO,
            UNIX_EPOCH + Duration::from_secs(expiry),
            random,
        );
        assert_eq!(turn.credential.as_deref(), Some(password.as_str()));
        let again = page_config(&settings, now, Turn::Credentials);
        assert_ne!(
            again.ice_servers[1].username, turn.username,
            "each page gets its own"
        );
    }

    #[test]
    fn withheld_credentials_leave_the_turn_urls_out() {
        let settings = IceSettings {
            urls: vec!["stun:s.example:3478".into(), "turn:t.example:3478".into()],
            turn_secret: Some("s3cret".into()),
            credential_ttl: Duration::from_secs(3600),
            ..IceSettings::default()
        };
        let config = page_config(&settings, SystemTime::now(), Turn::Withheld);
        assert_eq!(config.ice_servers.len(), 1);
        assert_eq!(config.ice_servers[0].urls, vec!["stun:s.example:3478"]);
        assert_eq!(config.renew_after_seconds, None);
        // Without a secret there are no credentials to withhold: the URLs are the
        // operator's to hand out (for example a TURN server with its own users).
        let open = IceSettings {
            turn_secret: None,
            ..settings
        };
        let config = page_config(&open, SystemTime::now(), Turn::Withheld);
        assert_eq!(config.ice_servers.len(), 2);
        assert_eq!(config.ice_servers[1].username, None);
    }

    #[test]
    fn without_urls_the_page_connects_directly() {
        let config = page_config(&IceSettings::default(), SystemTime::now(), Turn::Withheld);
        assert_eq!(config, PageConfig::default());
    }
}
