//! Seeded fault schedules (the fault-injection contract): cluster events, create
//! failures, throttling, lost instances, instances failing after start, refused evictions,
//! failed binds, and the reconciler killed and restarted mid-step, drawn from a seed. Budgets
//! and quotas are checked after every operation; once the faults stop and the reconciler
//! settles, every live pod is bound or runs on exactly one burst instance, no instance exists
//! without a live pod, and no pod was lost. Each schedule runs twice: once with evictions that
//! leave the pod for the reconciler to bind to its reserved node, once with evictions that
//! delete it as Kubernetes does, its StatefulSet recreating it (the node is held for the
//! replacement).
//!
//! `SPILLWAY_FAULT_SEEDS=N cargo test --release --test fault_injection` runs N seeds (64 by
//! default) from `SPILLWAY_FAULT_SEED0` (0 by default). Time is tokio's, paused: the runs take
//! no wall time waiting and replay exactly.

#[path = "common/faults.rs"]
mod faults;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn reproduce(seed: u64) -> String {
    format!("SPILLWAY_FAULT_SEED0={seed} SPILLWAY_FAULT_SEEDS=1 cargo test --release --test fault_injection")
}

/// Names the seed when a run panics (rather than failing a check), so every failure says how to
/// reproduce it.
struct SeedGuard(u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("seed {} panicked; reproduce with: {}", self.0, reproduce(self.0));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn seeded_fault_schedules() {
    let first = env_u64("SPILLWAY_FAULT_SEED0", 0);
    let count = env_u64("SPILLWAY_FAULT_SEEDS", 64);
    for seed in first..first.saturating_add(count) {
        let ops = faults::schedule(seed);
        // Each schedule twice: evicted pods bound back by the reconciler, and (as in
        // Kubernetes) deleted and recreated by their controller, their node held for them.
        for evictions in [faults::Evictions::InPlace, faults::Evictions::Recreated] {
            let guard = SeedGuard(seed);
            if let Err(e) = faults::run_with(ops.clone(), evictions).await {
                std::mem::forget(guard); // this message names the seed already
                panic!(
                    "seed {seed} fails with evictions {evictions:?}: {e}\nreproduce with: {}\nschedule: {ops:?}",
                    reproduce(seed)
                );
            }
            drop(guard);
        }
    }
}

/// The reconciler's clock is tokio's: paused time moves only when advanced.
#[tokio::test(start_paused = true)]
async fn time_is_paused_tokio_time() {
    use spillway::backend::{Clock, TokioClock};
    let clock = TokioClock::new();
    tokio::task::yield_now().await;
    assert_eq!(clock.now(), std::time::Duration::ZERO);
    tokio::time::advance(std::time::Duration::from_secs(400)).await;
    assert_eq!(clock.now(), std::time::Duration::from_secs(400));
}
