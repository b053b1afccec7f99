//! Retry policy: exponential backoff with jitter, honouring the backend's `Retry-After`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A source of jitter: numbers in `[0, 1)`. Injected so that tests are deterministic.
pub trait Jitter: Send + Sync + fmt::Debug {
    /// The next sample, in `[0, 1)`.
    fn sample(&self) -> f64;
}

/// Jitter that always returns the same value (for tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedJitter(pub f64);

impl Jitter for FixedJitter {
    fn sample(&self) -> f64 {
        self.0.clamp(0.0, 0.999_999)
    }
}

/// Pseudo-random jitter (SplitMix64 seeded from the standard library's random hasher keys);
/// not cryptographic, which jitter need not be.
#[derive(Debug)]
pub struct RandomJitter {
    state: AtomicU64,
}

impl RandomJitter {
    /// A randomly seeded source.
    pub fn new() -> RandomJitter {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5EED);
        RandomJitter { state: AtomicU64::new(h.finish()) }
    }

    /// A source with a fixed seed (reproducible sequences).
    pub fn seeded(seed: u64) -> RandomJitter {
        RandomJitter { state: AtomicU64::new(seed) }
    }
}

impl Default for RandomJitter {
    fn default() -> RandomJitter {
        RandomJitter::new()
    }
}

impl Jitter for RandomJitter {
    fn sample(&self) -> f64 {
        let mut z = self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How often and how patiently to retry a retryable failure.
///
/// The delay before retry `n` (0-based) is `min(base × 2ⁿ, max)` scaled by a jitter factor in
/// `[0.5, 1)`, and never less than the backend's `Retry-After`.
///
/// ```
/// use std::time::Duration;
/// use spillway::backend::{FixedJitter, RetryPolicy};
/// let policy = RetryPolicy { max_retries: 4, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(30) };
/// let jitter = FixedJitter(0.0); // the lowest factor, 0.5
/// assert_eq!(policy.delay(0, None, &jitter), Duration::from_millis(500));
/// assert_eq!(policy.delay(3, None, &jitter), Duration::from_secs(4));
/// assert_eq!(policy.delay(0, Some(Duration::from_secs(7)), &jitter), Duration::from_secs(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = no retries).
    pub max_retries: u32,
    /// Delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// Largest delay, before jitter (a `Retry-After` may exceed it).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries, from 1 s up to 32 s.
    fn default() -> RetryPolicy {
        RetryPolicy { max_retries: 5, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(32) }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: &dyn Jitter) -> Duration {
        let exp =
            self.base_delay.saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX)).min(self.max_delay);
        let factor = 0.5 + 0.5 * jitter.sample().clamp(0.0, 1.0);
        let backoff = exp.mul_f64(factor);
        retry_after.map_or(backoff, |r| r.max(backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_jitter_stays_in_range_and_seeds_reproduce() {
        let a = RandomJitter::seeded(7);
        let b = RandomJitter::seeded(7);
        for _ in 0..1000 {
            let x = a.sample();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x, b.sample());
        }
        let fresh = RandomJitter::new().sample();
        assert!((0.0..1.0).contains(&fresh));
    }

    #[test]
    fn delays_grow_to_the_cap() {
        let p = RetryPolicy { max_retries: 10, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(8) };
        let top = FixedJitter(1.0); // clamped just below 1: factor ~1
        let delays: Vec<u64> = (0..6).map(|n| p.delay(n, None, &top).as_secs()).collect();
        assert_eq!(delays, [0, 1, 3, 7, 7, 7], "just under 1, 2, 4, 8, 8, 8 s");
        assert_eq!(p.delay(40, None, &FixedJitter(0.0)), Duration::from_secs(4), "no overflow");
    }
}
