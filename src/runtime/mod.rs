//! The runtime (feature `runtime`, on by default): a reconciler that applies the engine's plans,
//! watches burst instances, fails over, drains back and survives restarts.
//!
//! - [`Reconciler`]: the cluster state (nodes; pods pending, bound, bursting, waiting,
//!   unschedulable or moving), fed by [`ClusterEvent`]s, acting on each
//!   [`reconcile`](Reconciler::reconcile) step; [`recover`](Reconciler::recover) after a restart;
//!   [`shutdown`](Reconciler::shutdown).
//! - [`NodeBinder`]: binds pods to VM nodes and evicts them; [`MemoryBinder`] for tests.
//! - [`RuntimeEvent`]: what the reconciler did and saw, as plain data
//!   ([`Reconciler::events`]).
//! - `kube` (feature `kube`): the Kubernetes side — `KubeBinder` (`pods/binding` and the
//!   Eviction API), `ClusterWatch` (watched Pods and Nodes as [`ClusterEvent`]s) and
//!   `LeaseLock` (leader election over a Lease).
//!
//! Time comes from a [`Clock`](crate::backend::Clock) (a
//! [`ManualClock`](crate::backend::ManualClock) in tests, or a
//! [`TokioClock`](crate::backend::TokioClock) on tokio's paused time), read once at the start of
//! each step: the reconciler reads no wall clock and draws no random numbers, so a test replays
//! exactly.
//!
//! # Observability
//!
//! Each [`reconcile`](Reconciler::reconcile) step runs in a `reconcile` [`tracing`] span
//! (fields `step`, `pods`, `unplaced`: counts, never times), and each action on a pod in a `pod`
//! span (fields `pod` = `namespace/name`, `action` = `bind`, `burst`, `wait`, `failover`,
//! `adopt` or `drain`). Every [`RuntimeEvent`] is logged as a tracing event within them and
//! counted through the [`metrics`] facade, both from the one place the event log is written, so
//! events, logs and counters agree. No span, log or label holds a pod's spec (images, commands,
//! environment values). Install any `metrics` recorder (a Prometheus exporter, say) and call
//! [`telemetry::describe_metrics`] for the descriptions:
//!
//! | metric | type | labels | counts |
//! |---|---|---|---|
//! | `spillway_placements_total` | counter | `kind` = `node`, `burst`, `wait`, `unschedulable` | binds (drain-back binds included), instances created, pods entering waiting or unschedulable |
//! | `spillway_adoptions_total` | counter | `backend` | instances of unplaced pods adopted |
//! | `spillway_instances_started_total` | counter | `backend` | instances seen running |
//! | `spillway_instances_succeeded_total` | counter | `backend` | instances run to completion |
//! | `spillway_instances_deleted_total` | counter | `backend` | instances deleted (orphans, leftovers, drained back) |
//! | `spillway_failovers_total` | counter | `backend`, `reason` = `failed`, `lost` | pods planned again after their instance failed or vanished |
//! | `spillway_node_losses_total` | counter | | pods planned again after their VM node went |
//! | `spillway_bind_failures_total` | counter | | failed binds |
//! | `spillway_backend_errors_total` | counter | `backend`, `operation` = `create`, `list`, `delete`; `kind` = `quota`, `throttled`, `invalid_spec`, `not_found`, `auth`, `transient` | failed backend calls |
//! | `spillway_drain_backs_started_total` | counter | | drain-back moves started |
//! | `spillway_drain_backs_total` | counter | | drain-back moves completed |
//! | `spillway_drain_backs_aborted_total` | counter | | drain-back moves given up |
//! | `spillway_evictions_refused_total` | counter | | evictions refused and retried (the last refusal of a move given up counts as aborted) |
//! | `spillway_snapshot_rejections_total` | counter | | steps whose state made no snapshot |
//! | `spillway_reconciles_total` | counter | | reconcile steps |
//! | `spillway_burst_spend_per_hour` | gauge | | hourly cost (currency units, dollars for ACI) of the bursting pods' instances, at the end of each step ([`Reconciler::burst_spend_per_hour`]) |
//! | `spillway_pods` | gauge | `placement` = `pending`, `bound`, `bursting`, `waiting`, `unschedulable`, `moving` | pods, at the end of each step |
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use spillway::backend::ManualClock;
//! use spillway::backend::mock::MockBackend;
//! use spillway::model::BurstTarget;
//! use spillway::runtime::{ClusterEvent, MemoryBinder, Placement, Reconciler};
//! use spillway::{Engine, Node, Pod, Policy, Resources, Toleration};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new();
//! let aci = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()));
//! let binder = Arc::new(MemoryBinder::new());
//! let engine = Arc::new(Engine::new(Policy::default())?);
//! let mut reconciler = Reconciler::new(engine, binder.clone(), clock.clone()).with_backend("aci", aci);
//!
//! let vm = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "2"), ("memory", "8Gi"), ("pods", "110")])?);
//! reconciler.handle(ClusterEvent::NodeAdded(vm));
//! for name in ["web-0", "web-1"] {
//!     let pod = Pod::new("shop", name)
//!         .with_container(Resources::parse([("cpu", "1500m"), ("memory", "1Gi")])?)
//!         .with_toleration(Toleration::exists("virtual-kubelet.io/provider", None));
//!     reconciler.handle(ClusterEvent::PodAdded(pod));
//! }
//! reconciler.reconcile().await;
//! assert_eq!(binder.node_of("shop/web-0").as_deref(), Some("vm-1"));
//! assert!(matches!(reconciler.placement("shop/web-1"), Some(Placement::Bursting { target, .. }) if target == "aci"));
//!
//! clock.advance(Duration::from_secs(40)); // ACI's start latency
//! reconciler.reconcile().await;
//! assert!(matches!(
//!     reconciler.placement("shop/web-1"),
//!     Some(Placement::Bursting { status: spillway::backend::InstanceStatus::Running, .. })
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod binder;
mod config;
mod event;
mod reconciler;
pub mod telemetry;

pub use binder::{BindError, MemoryBinder, NodeBinder};
pub use config::{Backoff, RuntimeConfig};
pub use event::{ClusterEvent, EventKind, RuntimeEvent};
pub use reconciler::{Placement, Reconciler, RecoverError, SpecSource, spec_from_model};

#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub mod kube;
