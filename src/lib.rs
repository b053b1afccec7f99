//! # spillway
//!
//! A pure, deterministic placement engine for Kubernetes pods: given a cluster [`Snapshot`]
//! (VM nodes and the pods already placed on them) and a list of pending pods, [`Engine::place`]
//! decides where each pod goes, with the filter and score semantics of kube-scheduler's default
//! plugins, and explains every decision the way kube-scheduler does
//! (`0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {gpu: true}.`).
//!
//! The engine does no IO, reads no clock and draws no random numbers: the same input always
//! gives the same [`Plan`].
//!
//! ```
//! use spillway::{Engine, Node, Outcome, Pod, Policy, Resources, Snapshot};
//!
//! let node = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "4"), ("memory", "16Gi"), ("pods", "110")])?);
//! let snapshot = Snapshot::new(vec![node], vec![])?;
//! let web = Pod::new("default", "web-0").with_container(Resources::parse([("cpu", "500m"), ("memory", "1Gi")])?);
//! let huge = Pod::new("default", "huge").with_container(Resources::parse([("cpu", "16")])?);
//!
//! let engine = Engine::new(Policy::default())?;
//! let plan = engine.place(&snapshot, &[web, huge]);
//!
//! assert_eq!(plan.decision("default/web-0").and_then(|d| d.node()), Some("vm-1"));
//! match &plan.decision("default/huge").unwrap().outcome {
//!     Outcome::Unschedulable(d) => assert_eq!(d.message, "0/1 nodes are available: 1 Insufficient cpu."),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Layers
//! - [`model`]: pure data (quantities, resources, pods, nodes, selectors, snapshot, policy).
//! - [`engine`]: the pure placement pipeline (filter → score → select → [`Plan`]).
//! - `k8s` (feature `k8s`, on by default): conversion of `k8s-openapi` `Pod` and `Node` objects.
//! - `scenario` (feature `k8s`): multi-document YAML/JSON scenario files with Kubernetes
//!   objects, workloads and spillway's own documents.
//! - `backend` (feature `backend`; with `aci`, on by default): burst backends — the async
//!   `BurstBackend` trait, an in-memory mock with fault injection and the Azure Container
//!   Instances backend. The engine never calls them; a controller does.
//! - `runtime` (feature `runtime`, on by default): the reconciler that applies plans through a
//!   `NodeBinder` and the burst backends, fails over, drains back and recovers after a restart.
//! - `sim` (feature `sim`, on by default): what-if simulation of burst policies, running the
//!   real engine and reconciler against simulated time, workloads and traces.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "backend")]
#[cfg_attr(docsrs, doc(cfg(feature = "backend")))]
pub mod backend;
pub mod engine;
pub mod model;

#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod runtime;

#[cfg(feature = "k8s")]
#[cfg_attr(docsrs, doc(cfg(feature = "k8s")))]
pub mod k8s;
#[cfg(feature = "k8s")]
#[cfg_attr(docsrs, doc(cfg(feature = "k8s")))]
pub mod scenario;

#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;

pub use engine::{
    Decision, Diagnosis, DrainBudget, DrainPlan, Engine, Explanation, Move, NodeVerdict, Outcome, PlaceOptions, Plan,
};
pub use model::{
    Container, HostPort, LabelSelector, Money, Node, NodeAffinity, NodeSelector, NodeSelectorTerm, Pod, Policy,
    PolicyError, Resources, Snapshot, SnapshotError, Taint, TaintEffect, Toleration,
};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
