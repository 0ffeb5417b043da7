//! The per-socket message rate limit (PROTOCOL.md §5 `rate_limited`): a token bucket.
//!
//! Owns: one socket's budget of messages. Must not touch sockets, sessions or the clock:
//! callers pass `now`, so it is tested without waiting.

use tokio::time::Instant;

/// Refills `per_second` tokens a second up to `burst`; each message takes one. Counted in
/// integer nano-tokens, so refills add up exactly (no floating-point drift).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    /// Credit in nano-tokens: one token is [`UNIT`].
    credit: u128,
    capacity: u128,
    per_second: u128,
    last: Instant,
}

/// Nano-tokens in one token: a nanosecond refills `per_second` of them.
const UNIT: u128 = 1_000_000_000;

impl RateLimiter {
    /// A full bucket.
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        let capacity = u128::from(burst) * UNIT;
        Self {
            credit: capacity,
            capacity,
            per_second: u128::from(per_second),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.last = self.last.max(now);
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(self.per_second))
            .min(self.capacity);
        if self.credit >= UNIT {
            self.credit -= UNIT;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_burst_passes_then_the_rate_holds() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(100, 400, start);
        assert_eq!((0..400).filter(|_| limiter.try_take(start)).count(), 400);
        assert!(!limiter.try_take(start));
        // 100 per second: one token every 10 ms.
        assert!(!limiter.try_take(start + Duration::from_millis(9)));
        assert!(limiter.try_take(start + Duration::from_millis(10)));
        assert!(!limiter.try_take(start + Duration::from_millis(10)));
        let later = start + Duration::from_millis(510);
        assert_eq!((0..100).filter(|_| limiter.try_take(later)).count(), 50);
    }

    #[test]
    fn a_long_pause_refills_no_more_than_the_burst() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(100, 400, start);
        let later = start + Duration::from_secs(3600);
        assert_eq!((0..1000).filter(|_| limiter.try_take(later)).count(), 400);
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let start = Instant::now() + Duration::from_secs(5);
        let mut limiter = RateLimiter::new(1, 1, start);
        assert!(limiter.try_take(start));
        assert!(!limiter.try_take(start - Duration::from_secs(5)));
        assert!(!limiter.try_take(start));
    }
}
