//! Every server setting in one place: command-line flags, each also read from a
//! `HOMECALL_*` environment variable. Owns parsing and the checks that refuse an unsafe
//! setup; it must not start anything (the binary's `main` does that).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::hub::{HubLimits, LimitsError};
use crate::server::listen::ConnectionLimits;
use crate::trust::{self, BadOrigin, Trust};
use crate::turn::IceSettings;

/// HomeCall server: pages, PWA files and the `/signal` hub.
#[derive(Debug, Clone, Parser)]
#[command(name = "homecall", version, about)]
pub struct Config {
    /// Address to listen on. Anything but loopback needs TLS in front (see --behind-tls-proxy).
    #[arg(long, env = "HOMECALL_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Folder with the built site (`pkg/` with the wasm, JS and CSS; public assets).
    #[arg(long, env = "HOMECALL_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// A TLS-terminating proxy stands in front of this server, so clients speak `wss://`
    /// to the proxy even though this server listens in plain text. Unless
    /// --trusted-proxies says otherwise, a proxy on this machine (loopback) is trusted to
    /// append the client's address to `X-Forwarded-For`.
    #[arg(long, env = "HOMECALL_BEHIND_TLS_PROXY")]
    pub behind_tls_proxy: bool,

    /// Proxies whose `X-Forwarded-For` is believed (addresses or networks,
    /// comma-separated, e.g. `10.0.0.0/8,192.0.2.7`): the client is the first address
    /// from the right that is not one of them. From any other peer the header is ignored.
    /// Default: loopback with --behind-tls-proxy, none without.
    #[arg(long, env = "HOMECALL_TRUSTED_PROXIES", value_delimiter = ',', value_parser = trust::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The origins people reach this server at (comma-separated, e.g.
    /// `https://call.example`): the server's own origin for `/signal`, and the only
    /// `Host`s it answers (421 for any other: no DNS rebinding). Unset: any `Host`, and
    /// the own origin is `https://<Host>` with TLS (own or a proxy's), else `http://<Host>`.
    #[arg(long, env = "HOMECALL_PUBLIC_ORIGIN", value_delimiter = ',')]
    pub public_origin: Vec<String>,

    /// Redis shared by all nodes of a cluster (`redis://host:port/db`): the hub's
    /// sessions, queues and ended ids live there, so any node serves any socket. Unset:
    /// one process with the in-memory hub.
    #[arg(long, env = "HOMECALL_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every key and channel this cluster uses in --redis-url's Redis.
    #[arg(long, env = "HOMECALL_REDIS_PREFIX", default_value = "hc:")]
    pub redis_prefix: String,

    /// PEM certificate chain. With --tls-key, this server speaks `https://` and `wss://`
    /// itself (no proxy needed).
    #[arg(long, env = "HOMECALL_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "HOMECALL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// More origins allowed to open `/signal` (comma-separated, e.g.
    /// `https://app.example`). When set they replace the origin taken from `Host`; the
    /// --public-origin ones are always allowed.
    #[arg(long, env = "HOMECALL_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Log filter in `tracing` syntax, e.g. `info` or `homecall=debug`.
    #[arg(long, env = "HOMECALL_LOG", default_value = "info")]
    pub log: String,

    /// Largest signal message in bytes; larger ones (up to 1 MiB) are refused as invalid.
    #[arg(long, env = "HOMECALL_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,

    /// Most messages a session may hold queued for absent participants.
    #[arg(long, env = "HOMECALL_QUEUE_MESSAGES", default_value_t = 256)]
    pub queue_messages: usize,

    /// Most bytes a session may hold queued for absent participants.
    #[arg(long, env = "HOMECALL_QUEUE_BYTES", default_value_t = 512 * 1024)]
    pub queue_bytes: usize,

    /// Most bytes all sessions together may hold queued (plus 64 bytes a message);
    /// beyond it messages get `queue_full`.
    #[arg(long, env = "HOMECALL_MAX_QUEUED_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_queued_bytes: usize,

    /// Sockets that may keep a read buffer grown by a frame over --max-message-bytes
    /// (up to 1 MiB each); beyond it such a frame closes its socket with 1013.
    #[arg(long, env = "HOMECALL_MAX_LARGE_FRAME_SOCKETS", default_value_t = 256)]
    pub max_large_frame_sockets: usize,

    /// Most sessions active at once; a socket naming a new one beyond it is closed with
    /// 1013 (try again later).
    #[arg(long, env = "HOMECALL_MAX_SESSIONS", default_value_t = 100_000)]
    pub max_sessions: usize,

    /// Messages per second one socket may send on average.
    #[arg(long, env = "HOMECALL_RATE_PER_SECOND", default_value_t = 100)]
    pub rate_per_second: u32,

    /// Messages one socket may send in a burst above its average rate.
    #[arg(long, env = "HOMECALL_RATE_BURST", default_value_t = 400)]
    pub rate_burst: u32,

    /// A session with no participant connected for this long ends (e.g. `10m`).
    #[arg(long, env = "HOMECALL_IDLE_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// A session ends at this age whatever happens (e.g. `12h`).
    #[arg(long, env = "HOMECALL_MAX_SESSION_AGE", default_value = "12h", value_parser = humantime::parse_duration)]
    pub max_session_age: Duration,

    /// How often the hub pings each socket.
    #[arg(long, env = "HOMECALL_PING_INTERVAL", default_value = "20s", value_parser = humantime::parse_duration)]
    pub ping_interval: Duration,

    /// A socket silent (no frame, no pong) for this long counts as dropped.
    #[arg(long, env = "HOMECALL_SILENCE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub silence_timeout: Duration,

    /// Signal sockets one client address may hold open at once (IPv6: per /64); beyond
    /// it the upgrade gets HTTP 429.
    #[arg(long, env = "HOMECALL_MAX_SOCKETS_PER_IP", default_value_t = 20)]
    pub max_sockets_per_ip: usize,

    /// Sessions one client address may start per minute; beyond it an upgrade naming a
    /// new session gets HTTP 429.
    #[arg(
        long,
        env = "HOMECALL_NEW_SESSIONS_PER_IP_PER_MINUTE",
        default_value_t = 30
    )]
    pub new_sessions_per_ip_per_minute: u32,

    /// New sessions of IPv6 clients are counted per network of this prefix length (one
    /// home usually holds a /56; open sockets are counted per /64).
    #[arg(long, env = "HOMECALL_IPV6_SESSION_PREFIX", default_value_t = 56)]
    pub ipv6_session_prefix: u8,

    /// Open TCP connections at most (pages and sockets together); a newcomer beyond it
    /// is closed at once. Lowered at start to what the open-files limit allows.
    #[arg(long, env = "HOMECALL_MAX_CONNECTIONS", default_value_t = 200_000)]
    pub max_connections: usize,

    /// Open TCP connections one client address may hold (IPv6: per /64); a newcomer
    /// beyond it is closed at once. Trusted proxies are not limited.
    #[arg(long, env = "HOMECALL_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,

    /// A connection must send a whole request head within this long, also while it
    /// waits idle for its next request (keep-alive).
    #[arg(long, env = "HOMECALL_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// A TLS handshake must finish within this long.
    #[arg(long, env = "HOMECALL_TLS_HANDSHAKE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub tls_handshake_timeout: Duration,

    /// TLS handshakes one client address may have under way at once; a newcomer beyond
    /// it is closed at once.
    #[arg(long, env = "HOMECALL_MAX_TLS_HANDSHAKES_PER_IP", default_value_t = 8)]
    pub max_tls_handshakes_per_ip: usize,

    /// How long ended session ids are remembered (they can never be used again).
    #[arg(long, env = "HOMECALL_ENDED_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub ended_ttl: Duration,

    /// How many ended session ids are remembered at most (about 64 bytes each).
    #[arg(long, env = "HOMECALL_ENDED_CAPACITY", default_value_t = 1_000_000)]
    pub ended_capacity: usize,

    /// STUN/TURN URLs handed to pages, comma-separated
    /// (e.g. `stun:turn.example:3478,turn:turn.example:3478?transport=udp`).
    #[arg(long, env = "HOMECALL_ICE_SERVERS", value_delimiter = ',')]
    pub ice_servers: Vec<String>,

    /// coturn's `static-auth-secret`: TURN URLs then get short-lived credentials.
    #[arg(long, env = "HOMECALL_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// How long TURN credentials stay valid; pages renew theirs while the call lasts.
    #[arg(long, env = "HOMECALL_TURN_CREDENTIAL_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub turn_credential_ttl: Duration,

    /// TURN credentials one client address may get per minute.
    #[arg(
        long,
        env = "HOMECALL_TURN_CREDENTIALS_PER_IP_PER_MINUTE",
        default_value_t = 10
    )]
    pub turn_credentials_per_ip_per_minute: u32,

    /// The build's id, which names the service worker's cache; by default a hash of the
    /// built assets, so each release gets its own cache.
    #[arg(long, env = "HOMECALL_BUILD_ID")]
    pub build_id: Option<String>,

    /// Tell pages to relay all media through TURN (`iceTransportPolicy: "relay"`).
    #[arg(long, env = "HOMECALL_RELAY_ONLY")]
    pub relay_only: bool,
}

/// A setup the server refuses to start with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "refusing to listen on {0} without TLS: browsers need wss:// on the internet. \
         Listen on 127.0.0.1 for development, give this server a certificate \
         (--tls-cert and --tls-key), or put a TLS-terminating proxy in front and pass \
         --behind-tls-proxy (HOMECALL_BEHIND_TLS_PROXY=true)"
    )]
    PlainTextOnPublicAddress(SocketAddr),
    #[error("bad hub limits: {0}")]
    Limits(#[from] LimitsError),
    #[error("bad origin setting: {0}")]
    Origin(#[from] BadOrigin),
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

impl Config {
    /// Checks the settings as a whole.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() && !self.clients_use_tls() {
            return Err(ConfigError::PlainTextOnPublicAddress(self.listen));
        }
        self.hub_limits().validate()?;
        self.trust()?;
        let counts = [
            ("--max-connections", self.max_connections),
            ("--max-connections-per-ip", self.max_connections_per_ip),
            (
                "--max-tls-handshakes-per-ip",
                self.max_tls_handshakes_per_ip,
            ),
            (
                "--turn-credentials-per-ip-per-minute",
                self.turn_credentials_per_ip_per_minute as usize,
            ),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::Zero(name));
        }
        Ok(())
    }

    /// Whom requests are trusted to come from, and the server's own origins.
    pub fn trust(&self) -> Result<Trust, BadOrigin> {
        let proxies = if self.trusted_proxies.is_empty() && self.behind_tls_proxy {
            trust::loopback_proxies()
        } else {
            self.trusted_proxies.clone()
        };
        Trust::new(
            proxies,
            &self.public_origin,
            &self.allowed_origins,
            self.clients_use_tls(),
        )
    }

    /// The accept loop's caps and timeouts.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_read_timeout: self.header_read_timeout,
            tls_handshake_timeout: self.tls_handshake_timeout,
            max_tls_handshakes_per_ip: self.max_tls_handshakes_per_ip,
        }
    }

    /// Whether browsers reach this server over TLS, its own or a proxy's (so public
    /// addresses are allowed and `Strict-Transport-Security` is sent).
    pub fn clients_use_tls(&self) -> bool {
        self.behind_tls_proxy || self.tls_cert.is_some()
    }

    /// The Redis engine's settings, if --redis-url is set.
    pub fn redis_settings(&self) -> Option<crate::hub::redis::RedisSettings> {
        self.redis_url
            .as_ref()
            .map(|url| crate::hub::redis::RedisSettings {
                url: url.clone(),
                prefix: self.redis_prefix.clone(),
            })
    }

    /// The hub's limits and timers.
    pub fn hub_limits(&self) -> HubLimits {
        HubLimits {
            max_message_bytes: self.max_message_bytes,
            queue_messages: self.queue_messages,
            queue_bytes: self.queue_bytes,
            rate_per_second: self.rate_per_second,
            rate_burst: self.rate_burst,
            idle_timeout: self.idle_timeout,
            max_age: self.max_session_age,
            ping_interval: self.ping_interval,
            silence_timeout: self.silence_timeout,
            ended_ttl: self.ended_ttl,
            ended_capacity: self.ended_capacity,
            max_sockets_per_ip: self.max_sockets_per_ip,
            new_sessions_per_ip_per_minute: self.new_sessions_per_ip_per_minute,
            max_sessions: self.max_sessions,
            max_queued_bytes: self.max_queued_bytes,
            max_large_frame_sockets: self.max_large_frame_sockets,
            ipv6_session_prefix: self.ipv6_session_prefix,
            ..HubLimits::default()
        }
    }

    /// What pages are told about STUN and TURN.
    pub fn ice_settings(&self) -> IceSettings {
        IceSettings {
            urls: self.ice_servers.clone(),
            turn_secret: self.turn_secret.clone(),
            credential_ttl: self.turn_credential_ttl,
            credentials_per_ip_per_minute: self.turn_credentials_per_ip_per_minute,
            relay_only: self.relay_only,
        }
    }

    /// The defaults, as if started with no flags and no variables (for tests).
    pub fn defaults() -> Self {
        Self::parse_from(["homecall"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_protocol() {
        let config = Config::defaults();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.max_message_bytes, 65_536);
        assert_eq!(config.idle_timeout, Duration::from_secs(600));
        assert_eq!(config.max_session_age, Duration::from_secs(12 * 3600));
        let limits = config.hub_limits();
        assert_eq!(limits.max_sockets_per_ip, 20);
        assert_eq!(limits.new_sessions_per_ip_per_minute, 30);
        assert_eq!(limits, HubLimits::default(), "flags and hub agree");
        assert_eq!(config.turn_credential_ttl, Duration::from_secs(3600));
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.tls_handshake_timeout, Duration::from_secs(5));
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn a_public_address_needs_tls_or_a_proxy() {
        let config = Config::parse_from(["homecall", "--listen", "0.0.0.0:3000"]);
        let refused = config.validate().unwrap_err();
        assert!(refused.to_string().contains("--behind-tls-proxy"));
        let config =
            Config::parse_from(["homecall", "--listen", "0.0.0.0:3000", "--behind-tls-proxy"]);
        assert_eq!(config.validate(), Ok(()));
        let config = Config::parse_from([
            "homecall",
            "--listen",
            "[::]:443",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ]);
        assert_eq!(config.validate(), Ok(()));
        assert!(config.clients_use_tls());
    }

    #[test]
    fn behind_the_proxy_loopback_is_trusted_unless_told_otherwise() {
        let peer = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        let plain = Config::defaults().trust().unwrap();
        assert!(!plain.is_proxy(peer("127.0.0.1")));
        let behind = Config::parse_from(["homecall", "--behind-tls-proxy"]);
        assert!(behind.trust().unwrap().is_proxy(peer("127.0.0.1")));
        let listed = Config::parse_from([
            "homecall",
            "--behind-tls-proxy",
            "--trusted-proxies",
            "10.0.0.0/8,192.0.2.7",
        ]);
        let trust = listed.trust().unwrap();
        assert!(trust.is_proxy(peer("10.9.8.7")) && trust.is_proxy(peer("192.0.2.7")));
        assert!(!trust.is_proxy(peer("127.0.0.1")));
        assert!(Config::try_parse_from(["homecall", "--trusted-proxies", "proxy"]).is_err());
        let bad = Config::parse_from(["homecall", "--public-origin", "call.example"]);
        assert!(matches!(bad.validate(), Err(ConfigError::Origin(_))));
    }

    #[test]
    fn a_certificate_needs_its_key() {
        let alone = Config::try_parse_from(["homecall", "--tls-cert", "cert.pem"]);
        assert!(alone.is_err());
        let alone = Config::try_parse_from(["homecall", "--tls-key", "key.pem"]);
        assert!(alone.is_err());
    }
}
