//! The per-socket message rate limit (PROTOCOL.md §5 `rate_limited`), and the per-address
//! budget of new sessions: a token bucket.
//!
//! Owns: one socket's budget of messages, or one address's budget of sessions. Must not touch sockets, sessions or the clock:
//! callers pass `now`, so it is tested without waiting.

use tokio::time::Instant;

/// Refills `rate` tokens per period (a second or a minute) up to `burst`; each message
/// takes one. Counted in integer fractions of a token, so refills add up exactly (no
/// floating-point drift).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    /// Credit in fractions of a token: one token is `unit`.
    credit: u128,
    capacity: u128,
    /// Fractions refilled per nanosecond.
    per_period: u128,
    /// Fractions in one token: the period in nanoseconds, so a period refills `rate` tokens.
    unit: u128,
    last: Instant,
}

/// Nanoseconds in a second.
const SECOND: u128 = 1_000_000_000;

impl RateLimiter {
    /// A full bucket refilling `per_second` tokens a second.
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        Self::with_unit(per_second, burst, SECOND, now)
    }

    /// A full bucket of `per_minute` tokens, refilling that many a minute.
    pub fn per_minute(per_minute: u32, now: Instant) -> Self {
        Self::with_unit(per_minute, per_minute, 60 * SECOND, now)
    }

    fn with_unit(rate: u32, burst: u32, unit: u128, now: Instant) -> Self {
        let capacity = u128::from(burst) * unit;
        Self {
            credit: capacity,
            capacity,
            per_period: u128::from(rate),
            unit,
            last: now,
        }
    }

    /// Whether the bucket would be full at `now` (nothing taken lately).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.credit
            .saturating_add(elapsed.saturating_mul(self.per_period))
            >= self.capacity
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        self.last = self.last.max(now);
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(self.per_period))
            .min(self.capacity);
        if self.credit >= self.unit {
            self.credit -= self.unit;
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
    fn a_minute_budget_refills_one_token_per_minute_over_rate() {
        let start = Instant::now();
        let mut limiter = RateLimiter::per_minute(30, start);
        assert_eq!((0..100).filter(|_| limiter.try_take(start)).count(), 30);
        assert!(!limiter.is_full(start));
        // 30 a minute: one every 2 s.
        assert!(!limiter.try_take(start + Duration::from_millis(1999)));
        assert!(limiter.try_take(start + Duration::from_secs(2)));
        assert!(!limiter.is_full(start + Duration::from_secs(61)));
        assert!(limiter.is_full(start + Duration::from_secs(62)));
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
