//! Whom a request comes from, and whether it was meant for this server: the client's
//! address (the TCP peer, or behind trusted proxies the first `X-Forwarded-For` address
//! they did not add), the server's own origins, and the `Host` check that keeps DNS
//! rebinding out.
//!
//! Owns these rules and the settings they come from (`--trusted-proxies`,
//! `--public-origin`, `--allowed-origins`, whether clients use TLS). Must not touch the
//! hub, routing or any socket: the socket edge, the accept loop and `/api/config` ask it.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies trusted when `--behind-tls-proxy` is given without `--trusted-proxies`: a
/// proxy on the same machine.
pub fn loopback_proxies() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .map(|net| net.parse().expect("a valid network"))
        .collect()
}

/// Parses one `--trusted-proxies` entry: an address (`10.0.0.5`) or a network
/// (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a network like 10.0.0.0/8"))
}

/// An origin as browsers send it, normalised: lower case, no trailing slash, no default
/// port (`https://call.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    /// `host[:port]`, the port only when it is not the scheme's default.
    authority: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> &'static str {
        match self {
            Scheme::Http => ":80",
            Scheme::Https => ":443",
        }
    }
}

/// A `--public-origin` or `--allowed-origins` value that is not an `http(s)://host` origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an origin like https://call.example or http://127.0.0.1:3000")]
pub struct BadOrigin(pub String);

impl Origin {
    pub fn parse(text: &str) -> Result<Self, BadOrigin> {
        let bad = || BadOrigin(text.to_owned());
        let lower = text.trim().trim_end_matches('/').to_ascii_lowercase();
        let (scheme, authority) = lower.split_once("://").ok_or_else(bad)?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(bad()),
        };
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        Ok(Self {
            scheme,
            authority: normal_authority(authority, scheme),
        })
    }

    /// The origin as text: `https://call.example`.
    pub fn to_url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}", self.authority)
    }

    /// The origin of a page reached at `host` (a `Host` header) over `scheme`.
    fn of_host(host: &str, scheme: Scheme) -> Self {
        Self {
            scheme,
            authority: normal_authority(&host.to_ascii_lowercase(), scheme),
        }
    }
}

/// `host[:port]` without the scheme's default port.
fn normal_authority(authority: &str, scheme: Scheme) -> String {
    authority
        .strip_suffix(scheme.default_port())
        .unwrap_or(authority)
        .to_owned()
}

/// The trust settings, checked once at start (see [`crate::config::Config::trust`]).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `X-Forwarded-For` is read only from these peers.
    proxies: Vec<IpNet>,
    /// When set: the server's own origins, and the only `Host`s it answers.
    public_origins: Vec<Origin>,
    /// More origins allowed to open `/signal` (`--allowed-origins`); when set, they
    /// replace the origin taken from `Host`.
    allowed_origins: Vec<Origin>,
    /// Browsers reach this server over TLS (its own or a proxy's): its own origin is
    /// `https://`.
    tls: bool,
}

impl Trust {
    pub fn new(
        proxies: Vec<IpNet>,
        public_origins: &[String],
        allowed_origins: &[String],
        tls: bool,
    ) -> Result<Self, BadOrigin> {
        let parse = |list: &[String]| -> Result<Vec<Origin>, BadOrigin> {
            list.iter().map(|text| Origin::parse(text)).collect()
        };
        Ok(Self {
            proxies,
            public_origins: parse(public_origins)?,
            allowed_origins: parse(allowed_origins)?,
            tls,
        })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_proxy(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. From a trusted proxy, `X-Forwarded-For` is read from the
    /// right, skipping the trusted proxies themselves: the first other address is the
    /// client (whatever stands left of it, the client wrote itself). From anyone else
    /// the header is ignored.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.ip();
        if !self.is_proxy(client) {
            return client;
        }
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let entries = values.iter().rev().flat_map(|value| value.rsplit(','));
        for entry in entries {
            let Some(hop) = parse_forwarded(entry.trim()) else {
                // A broken chain: trust nothing further left.
                return client;
            };
            client = hop;
            if !self.is_proxy(hop) {
                return hop;
            }
        }
        client
    }

    /// Whether a request naming `host` is meant for this server: any host without
    /// `--public-origin`, else only the hosts of those origins (DNS rebinding: a page
    /// of another name that resolves here is refused).
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        if self.public_origins.is_empty() {
            return true;
        }
        let Some(host) = host else { return false };
        self.public_origins
            .iter()
            .any(|own| Origin::of_host(host, own.scheme).authority == own.authority)
    }

    /// The origin pages of this server are served from, for absolute links (a link
    /// preview's image): the first `--public-origin`, else the scheme this server is
    /// reached over with `host`.
    pub fn own_origin(&self, host: Option<&str>) -> Option<String> {
        if let Some(own) = self.public_origins.first() {
            return Some(own.to_url());
        }
        let scheme = if self.tls {
            Scheme::Https
        } else {
            Scheme::Http
        };
        Some(Origin::of_host(host?, scheme).to_url())
    }

    /// Whether a page at `origin` may open `/signal` (PROTOCOL.md §1): one of the
    /// configured origins if any are set, else the server's own origin, which is the
    /// `--public-origin`s, or else `https://<Host>` with TLS (own or a proxy's) and
    /// `http://<Host>` without. Scheme, host and port must all match.
    pub fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Ok(origin) = Origin::parse(origin) else {
            return false;
        };
        if !self.allowed_origins.is_empty() || !self.public_origins.is_empty() {
            return self
                .allowed_origins
                .iter()
                .chain(&self.public_origins)
                .any(|ok| *ok == origin);
        }
        let scheme = if self.tls {
            Scheme::Https
        } else {
            Scheme::Http
        };
        host.is_some_and(|host| Origin::of_host(host, scheme) == origin)
    }
}

/// One `X-Forwarded-For` entry: an address, `address:port` or `[v6]:port`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn behind(proxies: &[&str]) -> Trust {
        let proxies = proxies.iter().map(|p| parse_proxy(p).unwrap()).collect();
        Trust::new(proxies, &[], &[], true).unwrap()
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let trust = behind(&["10.0.0.0/8"]);
        let headers = forwarded(&["198.51.100.1, 203.0.113.9"]);
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let stranger: SocketAddr = "192.0.2.50:5000".parse().unwrap();
        assert_eq!(trust.client_ip(proxy, &headers), ip("203.0.113.9"));
        assert_eq!(trust.client_ip(stranger, &headers), ip("192.0.2.50"));
        assert_eq!(
            Trust::default().client_ip(proxy, &headers),
            ip("10.1.2.3"),
            "no trusted proxies: the header is ignored"
        );
    }

    #[test]
    fn the_client_is_the_first_address_the_proxies_did_not_add() {
        let trust = behind(&["10.0.0.0/8", "127.0.0.1"]);
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        // The client claimed 198.51.100.1; 203.0.113.9 connected to the edge proxy
        // 10.0.0.2, which connected to the local one.
        let headers = forwarded(&["198.51.100.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(trust.client_ip(peer, &headers), ip("203.0.113.9"));
        let headers = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(trust.client_ip(peer, &headers), ip("2001:db8::1"));
        let headers = forwarded(&["203.0.113.9, garbage, 10.0.0.2"]);
        assert_eq!(
            trust.client_ip(peer, &headers),
            ip("10.0.0.2"),
            "nothing left of a broken entry is trusted"
        );
        assert_eq!(trust.client_ip(peer, &HeaderMap::new()), ip("127.0.0.1"));
        let all_proxies = forwarded(&["10.0.0.7, 10.0.0.2"]);
        assert_eq!(trust.client_ip(peer, &all_proxies), ip("10.0.0.7"));
    }

    #[test]
    fn proxies_are_addresses_or_networks() {
        assert_eq!(
            parse_proxy("192.0.2.7").unwrap(),
            "192.0.2.7/32".parse().unwrap()
        );
        assert_eq!(parse_proxy("::1").unwrap(), "::1/128".parse().unwrap());
        assert!(parse_proxy("10.0.0.0/8").is_ok());
        assert!(parse_proxy("proxy.example").is_err());
        let trust = Trust::new(loopback_proxies(), &[], &[], false).unwrap();
        assert!(trust.is_proxy(ip("127.0.0.5")));
        assert!(trust.is_proxy(ip("::ffff:127.0.0.1")));
        assert!(!trust.is_proxy(ip("10.0.0.1")));
    }

    #[test]
    fn the_own_origin_follows_host_and_scheme() {
        let plain = Trust::default();
        assert!(plain.origin_allowed("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(!plain.origin_allowed("https://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(!plain.origin_allowed("http://127.0.0.1:3001", Some("127.0.0.1:3000")));
        assert!(!plain.origin_allowed("http://evil.example", Some("call.example")));
        assert!(!plain.origin_allowed("null", Some("call.example")));
        assert!(!plain.origin_allowed("http://call.example", None));
        assert!(!plain.origin_allowed("ftp://call.example", Some("call.example")));
        let tls = Trust::new(Vec::new(), &[], &[], true).unwrap();
        assert!(tls.origin_allowed("https://Call.Example", Some("call.example")));
        assert!(tls.origin_allowed("https://call.example", Some("call.example:443")));
        assert!(tls.origin_allowed("https://call.example:443/", Some("call.example")));
        assert!(!tls.origin_allowed("http://call.example", Some("call.example")));
    }

    #[test]
    fn public_origins_fix_the_own_origin_and_the_hosts_answered() {
        let trust = Trust::new(
            Vec::new(),
            &[
                "https://call.example".into(),
                "https://www.call.example".into(),
            ],
            &[],
            true,
        )
        .unwrap();
        assert!(trust.host_allowed(Some("call.example")));
        assert!(trust.host_allowed(Some("CALL.example:443")));
        assert!(trust.host_allowed(Some("www.call.example")));
        assert!(!trust.host_allowed(Some("rebind.evil")));
        assert!(!trust.host_allowed(Some("call.example:8443")));
        assert!(!trust.host_allowed(None));
        assert!(trust.origin_allowed("https://call.example", Some("call.example")));
        assert!(
            !trust.origin_allowed("https://rebind.evil", Some("rebind.evil")),
            "Host = Origin of another name"
        );
        assert!(!trust.origin_allowed("http://call.example", Some("call.example")));
        assert!(Trust::default().host_allowed(Some("anything")));
    }

    #[test]
    fn configured_origins_replace_the_origin_from_host() {
        let trust = Trust::new(Vec::new(), &[], &["https://call.example".into()], false).unwrap();
        assert!(trust.origin_allowed("https://call.example", Some("internal:8080")));
        assert!(trust.origin_allowed("https://CALL.example/", Some("x")));
        assert!(!trust.origin_allowed("http://call.example", Some("call.example")));
        assert!(!trust.origin_allowed("http://internal:8080", Some("internal:8080")));
        assert!(Trust::new(Vec::new(), &["call.example".into()], &[], true).is_err());
        assert!(Trust::new(Vec::new(), &[], &["https://a.example/path".into()], true).is_err());
    }
}
