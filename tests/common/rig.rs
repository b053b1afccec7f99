//! A reconciler on a manual clock with one mock ACI-like backend, shared by the runtime tests
//! (`runtime.rs`, `runtime_observability.rs`).

use std::sync::Arc;

use spillway::backend::ManualClock;
use spillway::backend::mock::MockBackend;
use spillway::model::BurstTarget;
use spillway::runtime::{MemoryBinder, Reconciler, RuntimeConfig};
use spillway::{Engine, Policy};

/// The reconciler `r` and the clock, backend (`"aci"`) and binder it runs on.
pub struct Rig {
    pub clock: ManualClock,
    pub aci: Arc<MockBackend>,
    pub binder: Arc<MemoryBinder>,
    pub r: Reconciler,
}

/// A [`Rig`] whose reconciler has the default policy and `config`; `customize` may add to the
/// reconciler (a spec source, say).
pub fn rig_with(config: RuntimeConfig, customize: impl FnOnce(Reconciler) -> Reconciler) -> Rig {
    let clock = ManualClock::new();
    let aci = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()));
    let binder = Arc::new(MemoryBinder::new());
    let r = customize(reconciler(&clock, &aci, &binder, config));
    Rig { clock, aci, binder, r }
}

/// A reconciler with the default policy and `config`, on `clock`, binding with `binder` and
/// bursting to `aci` (named `"aci"`).
pub fn reconciler(
    clock: &ManualClock,
    aci: &Arc<MockBackend>,
    binder: &Arc<MemoryBinder>,
    config: RuntimeConfig,
) -> Reconciler {
    let engine = Arc::new(Engine::new(Policy::default()).unwrap());
    Reconciler::new(engine, binder.clone(), clock.clone()).with_config(config).with_backend("aci", aci.clone())
}
