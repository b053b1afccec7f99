//! What-if simulation (feature `sim`, on by default): for a cluster and its traffic, what does
//! each burst policy cost and how long do pods wait?
//!
//! [`compare`] runs the real [`Reconciler`](crate::runtime::Reconciler) and
//! [`Engine`](crate::Engine) against simulated time, once per [`SimPolicy`], and returns a
//! [`Report`]: total cost (VM + burst), pending-time percentiles, pods burst, peak burst
//! instances, node-hours and drain-back moves, plus a timeline for the chart
//! ([`Report::to_svg`]) and a terminal table ([`Report::table`]).
//!
//! The simulation is discrete-event on a [`ManualClock`](crate::backend::ManualClock): burst
//! targets are [`MockBackend`](crate::backend::mock::MockBackend)s with their start latency,
//! pods are bound by an in-memory binder, and the models around them are:
//! - the **workload** ([`Workload`]): pod arrivals with lifetimes, or replica counts over time
//!   as an HPA sets them; from a CSV trace, a generator ([`FlashCrowd`], [`Diurnal`]) or a real
//!   trace ([`traces`]);
//! - the **cluster autoscaler**: every [`scan`](AutoscalerConfig::scan_interval) it packs the
//!   pods the scheduler could not place onto nodes already on their way, then onto new nodes
//!   of the first [`NodePool`](crate::model::NodePool) that can run them (first fit, in pod
//!   order, up to the pool's `maxNodes`); a new node is ready after the pool's
//!   `provisioningSeconds` and billed from the moment it is ordered; a node it added is removed
//!   once it has been empty for [`scale_down_after`](AutoscalerConfig::scale_down_after), or
//!   drained and removed once it has been underutilized that long
//!   ([`scale_down_utilization`](AutoscalerConfig::scale_down_utilization)) (the scenario's own
//!   nodes stay);
//! - **pricing**: VM nodes by their hourly cost, burst instances by the target's price of
//!   their rounded size, from creation to deletion, summed exactly in micro-units.
//!
//! The same scenario, workload and seed give the same report, number for number: time is
//! simulated, maps are ordered, and nothing reads the wall clock.
//!
//! ```
//! use spillway::scenario::Scenario;
//! use spillway::sim::{FlashCrowd, SimConfig, SimPolicy, compare};
//!
//! let scenario = Scenario::from_yaml_str(r#"
//! apiVersion: v1
//! kind: Node
//! metadata: {name: vm-1}
//! status: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}}
//! ---
//! apiVersion: spillway.rs/v1alpha1
//! kind: BurstTarget
//! metadata: {name: aci}
//! spec: {preset: aci, region: eastus}
//! ---
//! apiVersion: spillway.rs/v1alpha1
//! kind: NodePool
//! metadata: {name: pool}
//! spec: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}, hourlyCost: 0.192, provisioningSeconds: 300, maxNodes: 5}
//! "#)?;
//! let crowd = FlashCrowd {
//!     namespace: "shop".into(), template: "web".into(), cpu_millis: 1000, memory_bytes: 1 << 30,
//!     baseline: 2, peak: 12, start_seconds: 60, ramp_seconds: 60, hold_seconds: 600, decay_seconds: 60,
//!     step_seconds: 15,
//! };
//! let report = compare(&scenario, &crowd.workload(), &[SimPolicy::Never, SimPolicy::Overflow], &SimConfig::default())?;
//! let never = &report.policies[0];
//! let overflow = &report.policies[1];
//! assert_eq!(never.burst_cost.micros(), 0, "Never bursts nothing");
//! assert!(overflow.pods.burst > 0);
//! assert!(overflow.pending_seconds.max < never.pending_seconds.max, "bursting beats waiting 5 minutes");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod autoscaler;
mod chart;
mod progress;
mod report;
mod rng;
mod run;
pub mod traces;
mod workload;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::scenario::Scenario;

pub use report::{Percentiles, PodCounts, PolicyReport, Report, Sample};
pub use workload::{Change, Diurnal, FlashCrowd, Workload, WorkloadEvent};

/// A burst policy to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SimPolicy {
    /// No bursting: pods wait for the cluster autoscaler.
    Never,
    /// The AKS virtual node: one tainted node of practically unlimited capacity (10,000
    /// cores, 100 Ti, 100,000 pods) that pods tolerating its taint fill through the normal
    /// scheduler scoring (the least-allocated node wins, so they go there even when VM nodes
    /// have room); each pod billed like an instance of the scenario's first burst target
    /// (ACI-like if none), after its start latency. No drain-back.
    VirtualNode,
    /// spillway's `Overflow`: VM nodes first, burst only what does not fit, drain back.
    Overflow,
    /// spillway's `CostAware`: burst, or wait for a pool's node when that is cheaper and
    /// within the pod's tolerated wait; drain back.
    CostAware,
}

impl SimPolicy {
    /// Every policy, in the report's order.
    pub const ALL: [SimPolicy; 4] =
        [SimPolicy::Never, SimPolicy::VirtualNode, SimPolicy::Overflow, SimPolicy::CostAware];

    /// The name (`Never`, `VirtualNode`, `Overflow`, `CostAware`).
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Never => "Never",
            SimPolicy::VirtualNode => "VirtualNode",
            SimPolicy::Overflow => "Overflow",
            SimPolicy::CostAware => "CostAware",
        }
    }
}

impl fmt::Display for SimPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimPolicy {
    type Err = SimError;
    fn from_str(s: &str) -> Result<SimPolicy, SimError> {
        SimPolicy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| SimError::UnknownPolicy { name: s.to_string() })
    }
}

impl Serialize for SimPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The cluster autoscaler model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoscalerConfig {
    /// How often it looks at unplaced pods and idle nodes (cluster-autoscaler: 10 s).
    pub scan_interval: Duration,
    /// How long a node it added stays empty before it is removed (cluster-autoscaler's
    /// `scale-down-unneeded-time`: 10 minutes).
    pub scale_down_after: Duration,
    /// A node it added whose requested cpu and memory both stay below this percentage of its
    /// allocatable for `scale_down_after` is drained, when its pods fit on the other VM nodes
    /// (by requests, first fit; taints and affinity are left to the scheduler), and removed;
    /// its pods are recreated and scheduled again, one node per scan (cluster-autoscaler's
    /// `scale-down-utilization-threshold`: 50). `None`: only empty nodes go.
    pub scale_down_utilization: Option<u32>,
}

impl Default for AutoscalerConfig {
    fn default() -> AutoscalerConfig {
        AutoscalerConfig {
            scan_interval: Duration::from_secs(10),
            scale_down_after: Duration::from_secs(600),
            scale_down_utilization: Some(50),
        }
    }
}

/// How a simulation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of the generators that need one (recorded in the report).
    pub seed: u64,
    /// Simulated time; `None`: the workload's last event plus [`tail`](Self::tail).
    pub duration: Option<Duration>,
    /// Time simulated after the workload's last event when `duration` is `None`.
    pub tail: Duration,
    /// Shortest time between two reconcile steps: a change (arrival, completion, new node) is
    /// acted on at once when the last step is at least this old, else at the next allowed
    /// step. Waits are measured to the second; a larger interval is faster and coarser.
    pub reconcile_interval: Duration,
    /// While pods are unplaced or burst instances run, a reconcile step at least this often
    /// (creation windows, spend caps, drain-back of instances that started since).
    pub housekeeping_interval: Duration,
    /// Time between two timeline samples (`None`: the run's length / 240, at least 1 s).
    pub sample_interval: Option<Duration>,
    /// The cluster autoscaler.
    pub autoscaler: AutoscalerConfig,
    /// Show a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 42,
            duration: None,
            tail: Duration::from_secs(1800),
            reconcile_interval: Duration::from_secs(1),
            housekeeping_interval: Duration::from_secs(60),
            sample_interval: None,
            autoscaler: AutoscalerConfig::default(),
            progress: false,
        }
    }
}

/// Why a simulation could not run, or its input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A trace's data directory or file is missing.
    #[error("{path} not found: {hint}")]
    MissingData {
        /// What is missing.
        path: String,
        /// What to do about it.
        hint: String,
    },
    /// A bad row of a CSV file.
    #[error("{file}:{line}: {message}")]
    Csv {
        /// The file.
        file: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A policy name that is none of `Never`, `VirtualNode`, `Overflow`, `CostAware`.
    #[error("unknown policy {name:?}: expected Never, VirtualNode, Overflow or CostAware")]
    UnknownPolicy {
        /// The name given.
        name: String,
    },
    /// The scenario's policy is invalid once the compared burst mode is applied.
    #[error("the scenario's policy is invalid for {policy}")]
    Policy {
        /// The compared policy.
        policy: SimPolicy,
        /// Why.
        #[source]
        source: crate::model::PolicyError,
    },
    /// The scenario's nodes and pods do not form a valid cluster.
    #[error("the scenario's cluster is invalid")]
    Snapshot(#[source] crate::model::SnapshotError),
    /// The single-threaded async runtime the reconciler runs on could not be started.
    #[error("starting the simulation's async runtime failed")]
    Runtime(#[source] std::io::Error),
    /// The SVG chart could not be drawn.
    #[error("drawing the chart failed: {0}")]
    Chart(String),
}

/// Simulates `scenario` under `workload` once for each of `policies` and gathers the reports.
///
/// The scenario's VM nodes and placed pods are the cluster at time 0; its burst targets become
/// mock backends, its node pools the autoscaler's pools, its policy the engine's profile and
/// burst terms (every rule's mode and the default mode replaced by the compared policy's). Its
/// pending pods are templates for the workload's events that name them (`<template>-…`); the
/// other pending pods arrive at time 0 and run to the end.
///
/// The policies are simulated side by side on up to [`std::thread::available_parallelism`]
/// threads (each simulation is independent and deterministic, so the report is the same however
/// many run at once); with a progress bar wanted, it follows the first policy of each batch.
///
/// # Errors
///
/// [`SimError::Policy`] or [`SimError::Snapshot`] when the scenario cannot be simulated (the
/// first policy's error, in the order given).
pub fn compare(
    scenario: &Scenario,
    workload: &Workload,
    policies: &[SimPolicy],
    config: &SimConfig,
) -> Result<Report, SimError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).max(1);
    let mut reports = Vec::with_capacity(policies.len());
    for (b, batch) in policies.chunks(threads).enumerate() {
        let results: Vec<Result<PolicyReport, SimError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .enumerate()
                .map(|(j, &policy)| {
                    let i = b * threads + j;
                    let label = format!("{policy} ({}/{})", i + 1, policies.len());
                    let progress = progress::Progress::new(config.progress && j == 0, label);
                    scope.spawn(move || run::simulate(scenario, workload, policy, config, progress))
                })
                .collect();
            // A simulation that panicked is a bug: the panic goes on in this thread.
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        for result in results {
            reports.push(result?);
        }
    }
    Ok(Report::new(workload, config, reports))
}
