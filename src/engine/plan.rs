//! The engine's output: one [`Decision`] per pending pod.
//!
//! The JSON form of a [`Plan`] is spillway's public interface (the `plan` example prints it):
//!
//! ```json
//! {"decisions":[
//!   {"pod":"default/web-0","outcome":"node","node":"vm-1","score":512},
//!   {"pod":"default/huge","outcome":"unschedulable",
//!    "message":"0/1 nodes are available: 1 Insufficient cpu.","reasons":{"Insufficient cpu":1}}
//! ]}
//! ```
//!
//! With explanations on, each decision also holds `"nodes"`: for every node, whether it was
//! feasible, every filter plugin's reasons (an empty list means the plugin passed), and for
//! feasible nodes every score plugin's normalised score and the weighted total; and, when the
//! snapshot has them, `"targets"` (each burst target's reasons, or its instance size and cost)
//! and `"pools"` (whether a new node of each pool could take the pod).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{InstanceSize, Money};

/// The result of [`Engine::place`](crate::Engine::place): one decision per pending pod, in
/// placement order: priority descending, then creation order, then namespace and name — except
/// that the members of a co-scheduled group (a pod group, or pending pods tied by required pod
/// affinity) are placed, and listed, together at the position of the group's first member, the
/// pods the others depend on first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The decisions, in placement order.
    pub decisions: Vec<Decision>,
    /// Counts per outcome and the burst spend.
    #[serde(default)]
    pub summary: Summary,
}

/// What a plan adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Pods placed on VM nodes.
    pub nodes: usize,
    /// Pods sent to burst targets.
    pub bursts: usize,
    /// Pods waiting for a new VM node (or for a burst target's creation window).
    pub waits: usize,
    /// Pods that fit nowhere.
    pub unschedulable: usize,
    /// Hourly cost of the burst instances this plan creates.
    pub burst_cost_per_hour: Money,
    /// Hourly cost of all burst instances after this plan (running ones included).
    pub total_burst_cost_per_hour: Money,
}

impl Plan {
    /// The decision for pod `namespace/name`.
    pub fn decision(&self, pod: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.pod == pod)
    }
}

/// What the engine decided for one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// Where it goes, or why it cannot go anywhere.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Per-node verdicts, when explanations were asked for.
    #[serde(rename = "nodes", default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// Per-burst-target verdicts, when explanations were asked for and targets exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<BTreeMap<String, TargetVerdict>>,
    /// Per-node-pool verdicts, when explanations were asked for and pools exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pools: Option<BTreeMap<String, PoolVerdict>>,
}

/// One burst target's verdict for one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetVerdict {
    /// Whether the target could take the pod.
    pub feasible: bool,
    /// Why not (empty when feasible).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The instance size the pod would run at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceSize>,
    /// What that instance costs per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<Money>,
}

/// One node pool's verdict for one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolVerdict {
    /// Whether a new node of the pool could take the pod.
    pub feasible: bool,
    /// Why not (empty when feasible).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl Decision {
    /// Whether the pod got a place to run: a VM node or a burst target.
    pub fn is_placed(&self) -> bool {
        matches!(self.outcome, Outcome::Node { .. } | Outcome::Burst { .. })
    }

    /// The chosen node, if the pod was placed on one.
    pub fn node(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Node { node, .. } => Some(node),
            _ => None,
        }
    }
}

/// The outcome for one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// Placed on a VM node.
    Node {
        /// The node's name.
        node: String,
        /// The node's weighted total score.
        score: i64,
    },
    /// Sent to a burst target.
    Burst {
        /// The target's name.
        target: String,
        /// The size it runs (and is billed) at.
        instance: InstanceSize,
        /// What the instance costs per hour.
        cost_per_hour: Money,
        /// Expected seconds until it runs (the target's start latency).
        start_seconds: i64,
    },
    /// Waits: for a new VM node from a pool, or for a burst target's creation window.
    Wait {
        /// The node pool whose next node the pod waits for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<String>,
        /// The burst target whose creation rate limit the pod waits out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// Expected wait in seconds.
        expected_seconds: i64,
        /// Why waiting was chosen.
        reason: String,
    },
    /// Nothing can take the pod.
    Unschedulable(Diagnosis),
}

/// Why a pod fits nowhere, in kube-scheduler's words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// `0/N nodes are available: <count> <reason>, ....` as kube-scheduler writes it.
    pub message: String,
    /// How many nodes failed for each reason (a node may count under several reasons).
    pub reasons: BTreeMap<String, usize>,
}

/// Per-node verdicts for one pod, keyed by node name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Explanation {
    /// Node name → verdict.
    pub nodes: BTreeMap<String, NodeVerdict>,
}

/// One node's verdict for one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeVerdict {
    /// Whether every filter passed.
    pub feasible: bool,
    /// Filter plugin → its reasons (empty when it passed). Every enabled filter runs.
    pub filters: BTreeMap<String, Vec<String>>,
    /// Score plugin → normalised score 0–100 (feasible nodes only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scores: BTreeMap<String, i64>,
    /// Weighted total score (feasible nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}
