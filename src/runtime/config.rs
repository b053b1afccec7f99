//! The reconciler's settings: concurrency, backoff and drain-back.

use std::time::Duration;

use crate::engine::DrainBudget;

/// Exponential backoff per pod: the `n`-th consecutive failure waits `initial · 2ⁿ⁻¹`, at most
/// `max`.
///
/// ```
/// use std::time::Duration;
/// use spillway::runtime::Backoff;
/// let b = Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(60) };
/// assert_eq!(b.delay(1), Duration::from_secs(2));
/// assert_eq!(b.delay(3), Duration::from_secs(8));
/// assert_eq!(b.delay(30), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(300) }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (zero failures: no delay).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.initial.checked_mul(factor).unwrap_or(self.max).min(self.max)
    }
}

/// How the [`Reconciler`](super::Reconciler) works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Most backend creates in flight at once, per backend (at least 1).
    pub max_in_flight_per_backend: usize,
    /// Backoff per pod after a failed bind, create, or a failed or lost instance.
    pub backoff: Backoff,
    /// The disruption budget of one drain-back round.
    pub drain_budget: DrainBudget,
    /// Drain-back runs after every VM capacity change (a node added or updated) and, when set,
    /// also at this interval.
    pub drain_interval: Option<Duration>,
    /// Delay before an eviction refused by a disruption budget is tried again.
    pub eviction_retry: Duration,
    /// After this many refused evictions a move is given up (the pod stays on its burst
    /// target and the reserved capacity is released); a later drain-back round may propose it
    /// again.
    pub max_eviction_refusals: u32,
    /// How long the VM capacity of a pod drained back stays reserved after the pod itself was
    /// deleted instead of bound (in Kubernetes the eviction deletes a pod and its controller
    /// creates a replacement under a new name): a new pending pod of the same owner and template
    /// arriving within this time is bound to the reserved node; after it the capacity is
    /// released and the replacement, if it comes, is planned like any pending pod.
    pub replacement_wait: Duration,
    /// The event log keeps at least this many latest events (see
    /// [`Reconciler::events`](super::Reconciler::events)); the older ones go once twice as many
    /// have gathered, so a long [`run`](super::Reconciler::run) stays bounded.
    pub max_events: usize,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            max_in_flight_per_backend: 8,
            backoff: Backoff::default(),
            drain_budget: DrainBudget::default(),
            drain_interval: None,
            eviction_retry: Duration::from_secs(30),
            max_eviction_refusals: 10,
            replacement_wait: Duration::from_secs(60),
            max_events: 10_000,
        }
    }
}
