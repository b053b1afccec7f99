//! Kubernetes integration (feature `kube`), on kube-rs:
//!
//! - [`KubeBinder`]: the [`NodeBinder`](super::NodeBinder) that binds pods through
//!   `pods/binding` and evicts them through the Eviction API (which honours
//!   PodDisruptionBudgets);
//! - [`ClusterWatch`]: kube-runtime watcher events for Pods and Nodes as
//!   [`ClusterEvent`](super::ClusterEvent)s — pods with `schedulerName: spillway` to place,
//!   pods bound by anyone as occupied capacity;
//! - [`LeaseLock`]: leader election over a `coordination.k8s.io/v1` Lease, so several replicas
//!   of a controller can run and one acts.
//!
//! The `kube_controller` example wires them together with a [`Reconciler`](super::Reconciler);
//! the README's "Running in Kubernetes" lists the RBAC rules it needs.

mod binder;
mod lease;
mod watch;

pub use binder::{FIELD_MANAGER, KubeBinder};
pub use lease::{LeaseConfig, LeaseError, LeaseLock, LeaseLost, LeaseState};
pub use watch::{ClusterWatch, SCHEDULER_NAME, VIRTUAL_KUBELET_LABEL, WatchError};
