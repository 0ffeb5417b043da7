//! Per-client-address limits (not in PROTOCOL.md: a guard against hostile clients): open
//! sockets at once, and new sessions started per minute.
//!
//! Owns: one entry per client address (IPv6 grouped by /64, since one host easily holds a
//! whole /64) with its socket count and its session budget, behind its own small std
//! mutex, and the [`ClientTicket`] that holds a socket's place. Must not touch sessions or
//! any transport type: the socket edge finds the address and the hub says whether the
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
}

/// Why a client address may not open another socket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("this address holds its maximum number of open sockets")]
    TooManySockets,
    #[error("this address started its maximum number of sessions this minute")]
    TooManyNewSessions,
}

/// The address limits apply to: an IPv4 address, or the /64 network of an IPv6 one
/// (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                ClientKey(IpAddr::V6(Ipv6Addr::from(network)))
            }
        }
    }
}

#[derive(Debug)]
struct Entry {
    sockets: usize,
    sessions: RateLimiter,
}

/// Every client address with open sockets or a session budget still refilling.
#[derive(Debug)]
pub(crate) struct Clients {
    bounds: ClientBounds,
    /// std, not tokio: held for a look-up only, never across `.await`. Never taken while
    /// the hub's session map is locked, nor the other way round.
    entries: Mutex<HashMap<ClientKey, Entry>>,
}

impl Clients {
    pub fn new(bounds: ClientBounds) -> Self {
        Self {
            bounds,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ClientKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more socket for `key`, and one more new session if `new_session`;
    /// refuses (changing nothing) if either bound is reached.
    pub fn admit(&self, key: ClientKey, new_session: bool, now: Instant) -> Result<(), AdmitError> {
        let mut entries = self.lock();
        let per_minute = self.bounds.new_sessions_per_minute;
        let entry = entries.entry(key).or_insert_with(|| Entry {
            sockets: 0,
            sessions: RateLimiter::per_minute(per_minute, now),
        });
        if entry.sockets >= self.bounds.max_sockets {
            return Err(AdmitError::TooManySockets);
        }
        if new_session && !entry.sessions.try_take(now) {
            return Err(AdmitError::TooManyNewSessions);
        }
        entry.sockets += 1;
        Ok(())
    }

    /// A socket of `key` ended; forgets the address if nothing is left to remember.
    pub fn release(&self, key: ClientKey, now: Instant) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(&key) {
            entry.sockets = entry.sockets.saturating_sub(1);
            if entry.sockets == 0 && entry.sessions.is_full(now) {
                entries.remove(&key);
            }
        }
    }

    /// Forgets addresses with no socket whose session budget has refilled.
    pub fn sweep(&self, now: Instant) {
        self.lock()
            .retain(|_, entry| entry.sockets > 0 || !entry.sessions.is_full(now));
    }

    /// Addresses remembered (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A socket's place in its client address's count; given back on drop.
#[derive(Debug)]
pub struct ClientTicket {
    hub: Arc<super::Hub>,
    key: ClientKey,
}

impl ClientTicket {
    pub(crate) fn new(hub: Arc<super::Hub>, key: ClientKey) -> Self {
        Self { hub, key }
    }
}

impl Drop for ClientTicket {
    fn drop(&mut self) {
        self.hub.clients().release(self.key, Instant::now());
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
        })
    }

    fn key(text: &str) -> ClientKey {
        ClientKey::of(text.parse().unwrap())
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn sockets_are_bounded_per_address_and_given_back() {
        let now = Instant::now();
        let clients = clients(2, 30);
        let a = key("192.0.2.1");
        assert_eq!(clients.admit(a, false, now), Ok(()));
        assert_eq!(clients.admit(a, false, now), Ok(()));
        assert_eq!(
            clients.admit(a, false, now),
            Err(AdmitError::TooManySockets)
        );
        assert_eq!(clients.admit(key("192.0.2.2"), false, now), Ok(()));
        clients.release(a, now);
        assert_eq!(clients.admit(a, false, now), Ok(()));
    }

    #[test]
    fn new_sessions_are_bounded_per_minute_and_addresses_are_forgotten() {
        let now = Instant::now();
        let clients = clients(100, 2);
        let a = key("192.0.2.1");
        assert_eq!(clients.admit(a, true, now), Ok(()));
        assert_eq!(clients.admit(a, true, now), Ok(()));
        assert_eq!(
            clients.admit(a, true, now),
            Err(AdmitError::TooManyNewSessions)
        );
        // Joining an existing session is not a new one.
        assert_eq!(clients.admit(a, false, now), Ok(()));
        let later = now + Duration::from_secs(30);
        assert_eq!(clients.admit(a, true, later), Ok(()));
        for _ in 0..4 {
            clients.release(a, later);
        }
        clients.sweep(later);
        assert_eq!(clients.len(), 1, "the budget is still refilling");
        clients.sweep(later + Duration::from_secs(60));
        assert_eq!(clients.len(), 0);
    }
}
