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
//!
//! Time comes from a [`Clock`](crate::backend::Clock) (a
//! [`ManualClock`](crate::backend::ManualClock) in tests), read once at the start of each step:
//! the reconciler reads no wall clock and draws no random numbers, so a test replays exactly.
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

pub use binder::{BindError, MemoryBinder, NodeBinder};
pub use config::{Backoff, RuntimeConfig};
pub use event::{ClusterEvent, EventKind, RuntimeEvent};
pub use reconciler::{Placement, Reconciler, RecoverError, SpecSource, spec_from_model};

#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub mod kube;
