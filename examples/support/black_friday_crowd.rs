//! The flash crowd of the `black_friday` example, shared with the test that pins the README's
//! table (`tests/sim.rs`), so the two cannot drift apart.

use spillway::sim::FlashCrowd;

/// The crowd: storefront's HPA from 12 to 45 replicas of 0.5 vCPU / 1 GiB.
pub fn crowd() -> FlashCrowd {
    FlashCrowd {
        namespace: "shop".into(),
        template: "storefront".into(),
        cpu_millis: 0,
        memory_bytes: 0,
        baseline: 12,
        peak: 45,
        start_seconds: 600,
        ramp_seconds: 300,
        hold_seconds: 2400,
        decay_seconds: 900,
        step_seconds: 15,
    }
}
