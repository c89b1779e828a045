//! The wall clock leases are computed from, with an offset tests can advance.
//!
//! Lease timestamps travel on the wire and sit in shared directories, so they must be wall
//! time like Kotlin's (milliseconds since the epoch). Kotlin servers inject a clock for the
//! same reason: tests move it forward instead of sleeping through a lease.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use compat_proto::Timestamp;

/// Wall-clock time plus an adjustable offset.
#[derive(Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; only tests change it.
    offset_millis: AtomicI64,
}

impl Clock {
    /// Returns the current time, truncated to milliseconds.
    pub fn now(&self) -> Timestamp {
        Timestamp::now().plus_millis(self.offset_millis.load(Ordering::Relaxed))
    }

    /// Moves this clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_millis.fetch_add(millis, Ordering::Relaxed);
    }
}

/// Plain millisecond arithmetic on timestamps.
trait PlusMillis {
    fn plus_millis(self, millis: i64) -> Self;
}

impl PlusMillis for Timestamp {
    fn plus_millis(self, millis: i64) -> Self {
        Timestamp::from_millis(self.as_millis().saturating_add(millis))
    }
}

/// A lease length and when to renew it, as Kotlin's `LeaseDuration(seconds)` derives them:
/// expire after `n` seconds, renew after `n / 2` whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseDuration {
    /// How long a lease stays valid after issue.
    pub expires_in: Duration,
    /// How soon after issue the owner should renew.
    pub renew_in: Duration,
}

impl LeaseDuration {
    /// Returns the lease duration of `seconds` seconds.
    pub fn from_secs(seconds: u64) -> Self {
        Self { expires_in: Duration::from_secs(seconds), renew_in: Duration::from_secs(seconds / 2) }
    }

    /// Returns `(expires_at, renew_at)` for a lease issued at `now`.
    pub fn timestamps_from(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        (now.plus(self.expires_in), now.plus(self.renew_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_duration_halves_in_whole_seconds() {
        let lease = LeaseDuration::from_secs(5);
        assert_eq!(lease.expires_in, Duration::from_secs(5));
        assert_eq!(lease.renew_in, Duration::from_secs(2));
        let now = Timestamp::from_millis(1_000_123);
        assert_eq!(lease.timestamps_from(now), (Timestamp::from_millis(1_005_123), Timestamp::from_millis(1_002_123)));
    }

    #[test]
    fn advancing_the_clock_moves_now() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now().as_millis() - before.as_millis() >= 3_600_000);
    }
}
