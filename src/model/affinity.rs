//! Inter-pod affinity, anti-affinity and topology spread constraints (the rules that relate
//! pods to each other).

use serde::{Deserialize, Serialize};

use super::selector::LabelSelector;

/// A required inter-pod (anti-)affinity term: pods matching `label_selector` in the selected
/// namespaces, counted per topology domain (`topology_key`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTerm {
    /// Which pods the term is about; `None` selects no pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Namespaces whose pods the term considers (with `namespace_selector` unset and this empty,
    /// the namespace of the pod that owns the term).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces selected by their labels; an empty selector selects every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// The node label whose values define the topology domains (e.g. `topology.kubernetes.io/zone`).
    pub topology_key: String,
    /// Label keys whose values on the incoming pod are added to the selector as `key In (value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
    /// Label keys whose values on the incoming pod are added to the selector as `key NotIn (value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatch_label_keys: Vec<String>,
}

/// A weighted preferred inter-pod (anti-)affinity term.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedPodAffinityTerm {
    /// Weight 1–100.
    pub weight: i32,
    /// The term.
    pub pod_affinity_term: PodAffinityTerm,
}

/// Inter-pod affinity or anti-affinity of a pod: required terms (filter) and preferred terms
/// (score).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    #[serde(default, rename = "requiredDuringSchedulingIgnoredDuringExecution", skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<PodAffinityTerm>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    #[serde(
        default,
        rename = "preferredDuringSchedulingIgnoredDuringExecution",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub preferred: Vec<WeightedPodAffinityTerm>,
}

impl PodAffinity {
    /// True when there are no terms.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// What a topology spread constraint does when it cannot be satisfied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WhenUnsatisfiable {
    /// Filter: nodes that would break `maxSkew` are infeasible.
    #[default]
    DoNotSchedule,
    /// Score: nodes that keep the skew low are preferred.
    ScheduleAnyway,
}

/// Whether a topology spread constraint takes the pod's node affinity or the node taints into
/// account when counting domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InclusionPolicy {
    /// Only nodes that pass the pod's node affinity / tolerate the taints count.
    Honor,
    /// All nodes count.
    Ignore,
}

/// A topology spread constraint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// The largest allowed difference between the most and least loaded domains.
    pub max_skew: i32,
    /// The node label whose values define the domains.
    pub topology_key: String,
    /// Filter or score.
    #[serde(default)]
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// Which pods are counted; `None` counts none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Minimum number of eligible domains (filter only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<i32>,
    /// Node affinity policy (default `Honor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity_policy: Option<InclusionPolicy>,
    /// Node taints policy (default `Ignore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_taints_policy: Option<InclusionPolicy>,
    /// Label keys whose values on the incoming pod are added to the selector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
}
