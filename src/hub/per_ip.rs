//! Per-client-address limits (not in PROTOCOL.md: a guard against hostile clients): open
//! sockets at once, and new sessions started per minute.
//!
//! Owns: the socket count of each client address (IPv6 grouped by /64, since one host
//! easily holds a whole /64) and the session budget of each network (IPv6 by a wider
//! prefix, /56 by default, since one home holds many /64s), behind its own small std
//! mutex; the [`ClientTicket`] that holds a socket's place; and [`PerMinute`], the
//! per-address budget also used for TURN credentials. Must not touch sessions or any
//! transport type: the socket edge finds the address and the hub says whether the
//! session is new.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use super::rate::RateLimiter;

/// What one client address may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientBounds {
    pub max_sockets: usize,
    pub new_sessions_per_minute: u32,
    /// New sessions of IPv6 clients are counted per network of this prefix length.
    pub ipv6_session_prefix: u8,
}

/// Why a client address may not open another socket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("this address holds its maximum number of open sockets")]
    TooManySockets,
    #[error("this address started its maximum number of sessions this minute")]
    TooManyNewSessions,
}

/// The address limits apply to: an IPv4 address, or the network of an IPv6 one (a /64
/// unless said otherwise; IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of `ip`, an IPv6 address counting by its /64.
    pub fn of(ip: IpAddr) -> Self {
        Self::with_ipv6_prefix(ip, 64)
    }

    /// The key of `ip`, an IPv6 address counting by its network of `prefix` bits (1–128).
    pub fn with_ipv6_prefix(ip: IpAddr, prefix: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let host_bits = 128 - u32::from(prefix.clamp(1, 128));
                let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
                ClientKey(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)))
            }
        }
    }
}

/// The address as text (the key of its counts in Redis).
impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A budget of actions per minute for each client key (new sessions, TURN credentials):
/// a token bucket each, forgotten once full again.
#[derive(Debug)]
pub struct PerMinute {
    per_minute: u32,
    buckets: HashMap<ClientKey, RateLimiter>,
}

impl PerMinute {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: HashMap::new(),
        }
    }

    /// Whether `key` may act once more now; if so, it is counted.
    pub fn try_take(&mut self, key: ClientKey, now: Instant) -> bool {
        let per_minute = self.per_minute;
        self.buckets
            .entry(key)
            .or_insert_with(|| RateLimiter::per_minute(per_minute, now))
            .try_take(now)
    }

    /// Forgets keys whose budget has refilled.
    pub fn sweep(&mut self, now: Instant) {
        self.buckets.retain(|_, bucket| !bucket.is_full(now));
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[derive(Debug)]
struct Entries {
    /// Open sockets per address (IPv6: per /64).
    sockets: HashMap<ClientKey, usize>,
    /// New sessions per address (IPv6: per `ipv6_session_prefix`).
    sessions: PerMinute,
}

/// Every client address with open sockets or a session budget still refilling.
#[derive(Debug)]
pub(crate) struct Clients {
    bounds: ClientBounds,
    /// std, not tokio: held for a look-up only, never across `.await`. Never taken while
    /// the hub's session map is locked, nor the other way round.
    entries: Mutex<Entries>,
}

impl Clients {
    pub fn new(bounds: ClientBounds) -> Self {
        Self {
            bounds,
            entries: Mutex::new(Entries {
                sockets: HashMap::new(),
                sessions: PerMinute::new(bounds.new_sessions_per_minute),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more socket for `ip`, and one more new session if `new_session`;
    /// refuses (changing nothing) if either bound is reached. Returns the key the socket
    /// is counted under, for [`Self::release`].
    pub fn admit(
        &self,
        ip: IpAddr,
        new_session: bool,
        now: Instant,
    ) -> Result<ClientKey, AdmitError> {
        let key = ClientKey::of(ip);
        let mut entries = self.lock();
        let sockets = entries.sockets.get(&key).copied().unwrap_or(0);
        if sockets >= self.bounds.max_sockets {
            return Err(AdmitError::TooManySockets);
        }
        let network = ClientKey::with_ipv6_prefix(ip, self.bounds.ipv6_session_prefix);
        if new_session && !entries.sessions.try_take(network, now) {
            return Err(AdmitError::TooManyNewSessions);
        }
        entries.sockets.insert(key, sockets + 1);
        Ok(key)
    }

    /// A socket of `key` ended; forgets the address if it has no socket left.
    pub fn release(&self, key: ClientKey) {
        let mut entries = self.lock();
        if let Some(count) = entries.sockets.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                entries.sockets.remove(&key);
            }
        }
    }

    /// Forgets addresses whose session budget has refilled.
    pub fn sweep(&self, now: Instant) {
        self.lock().sessions.sweep(now);
    }

    /// Addresses remembered, with sockets or a budget refilling (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let entries = self.lock();
        entries.sockets.len() + entries.sessions.len()
    }
}

/// A socket's place in its client address's count (in this process, or with Redis
/// across all nodes); given back on drop.
#[derive(Debug)]
pub struct ClientTicket {
    hub: Arc<super::Hub>,
    key: ClientKey,
    /// Whether the place was counted (with Redis unreachable it could not be: the join
    /// refuses such a socket anyway).
    counted: bool,
}

impl ClientTicket {
    pub(crate) fn new(hub: Arc<super::Hub>, key: ClientKey, counted: bool) -> Self {
        Self { hub, key, counted }
    }
}

impl Drop for ClientTicket {
    fn drop(&mut self) {
        if self.counted {
            self.hub.release_client(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn clients(max_sockets: usize, new_sessions_per_minute: u32) -> Clients {
        Clients::new(ClientBounds {
            max_sockets,
            new_sessions_per_minute,
            ipv6_session_prefix: 56,
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn key(text: &str) -> ClientKey {
        ClientKey::of(ip(text))
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn a_wider_ipv6_prefix_groups_a_whole_home() {
        let of = |text: &str, prefix| ClientKey::with_ipv6_prefix(ip(text), prefix);
        assert_eq!(of("2001:db8:1:2ff::1", 56), of("2001:db8:1:200::9", 56));
        assert_ne!(of("2001:db8:1:2ff::1", 64), of("2001:db8:1:200::9", 64));
        assert_ne!(of("2001:db8:1:300::1", 56), of("2001:db8:1:200::1", 56));
        assert_eq!(of("192.0.2.7", 56), key("192.0.2.7"));
    }

    #[test]
    fn sockets_are_bounded_per_address_and_given_back() {
        let now = Instant::now();
        let clients = clients(2, 30);
        let a = ip("192.0.2.1");
        let counted = clients.admit(a, false, now).unwrap();
        assert_eq!(counted, key("192.0.2.1"));
        assert!(clients.admit(a, false, now).is_ok());
        assert_eq!(
            clients.admit(a, false, now),
            Err(AdmitError::TooManySockets)
        );
        assert!(clients.admit(ip("192.0.2.2"), false, now).is_ok());
        clients.release(counted);
        assert!(clients.admit(a, false, now).is_ok());
    }

    #[test]
    fn new_sessions_are_bounded_per_minute_and_addresses_are_forgotten() {
        let now = Instant::now();
        let clients = clients(100, 2);
        let a = ip("192.0.2.1");
        assert!(clients.admit(a, true, now).is_ok());
        assert!(clients.admit(a, true, now).is_ok());
        assert_eq!(
            clients.admit(a, true, now),
            Err(AdmitError::TooManyNewSessions)
        );
        // Joining an existing session is not a new one.
        assert!(clients.admit(a, false, now).is_ok());
        let later = now + Duration::from_secs(30);
        assert!(clients.admit(a, true, later).is_ok());
        for _ in 0..4 {
            clients.release(key("192.0.2.1"));
        }
        clients.sweep(later);
        assert_eq!(clients.len(), 1, "the budget is still refilling");
        clients.sweep(later + Duration::from_secs(60));
        assert_eq!(clients.len(), 0);
    }

    #[test]
    fn ipv6_new_sessions_share_one_budget_per_56() {
        let now = Instant::now();
        let clients = clients(100, 2);
        assert!(clients.admit(ip("2001:db8:0:100::1"), true, now).is_ok());
        assert!(clients.admit(ip("2001:db8:0:1ff::1"), true, now).is_ok());
        assert_eq!(
            clients.admit(ip("2001:db8:0:1aa::1"), true, now),
            Err(AdmitError::TooManyNewSessions),
            "another /64 of the same /56"
        );
        assert!(clients.admit(ip("2001:db8:0:200::1"), true, now).is_ok());
    }
}
