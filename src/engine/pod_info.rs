//! A pending pod compiled once for the hot loop.

use crate::model::{NodeAffinity, NodeSelectorOperator, NodeSelectorTerm, Pod, Taint, TaintEffect, Toleration};

use super::cluster::{Cluster, ResourceId, tie_hash};
use super::plugins::node_affinity::{Required, preferred};

/// The taint kube puts on cordoned nodes; NodeUnschedulable lets pods that tolerate it through.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// What the filters and scores need of a pending pod, computed once per pod.
#[derive(Debug)]
pub(crate) struct PodInfo<'p> {
    pub(crate) pod: &'p Pod,
    /// Effective real requests, non-zero entries only, by resource id.
    pub(crate) req: Vec<(ResourceId, i64)>,
    /// Effective real requests as a resource list (burst sizing, pool fit).
    pub(crate) requests: crate::model::Resources,
    /// Non-zero-defaulted cpu and memory (scoring).
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
    /// Tie hash of the uid (or `namespace/name`), for tie-breaking.
    pub(crate) hash: u64,
    /// Whether the pod tolerates `node.kubernetes.io/unschedulable:NoSchedule`.
    pub(crate) tolerates_unschedulable: bool,
    /// Tolerations with effect unset or PreferNoSchedule (TaintToleration scoring).
    pub(crate) prefer_tolerations: Vec<&'p Toleration>,
    /// NodeAffinity's PreFilter node-name subset, from `matchFields` on `metadata.name`.
    pub(crate) name_subset: NameSubset<'p>,
    /// `nodeSelector` and required node affinity, checked once.
    pub(crate) required: Required<'p>,
    /// Preferred node affinity terms (the profile's added ones first) with weights.
    pub(crate) preferred: Vec<(&'p NodeSelectorTerm, i64)>,
}

/// The nodes NodeAffinity's PreFilter lets through, by name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NameSubset<'p> {
    /// Every node is evaluated.
    All,
    /// Only these nodes (sorted, deduplicated) are evaluated; others fail with
    /// "node(s) didn't satisfy plugin(s) [NodeAffinity]".
    Only(Vec<&'p str>),
    /// The terms name no node at all: "pod affinity terms conflict".
    Conflict,
}

impl NameSubset<'_> {
    /// Whether the node called `name` is outside the subset.
    pub(crate) fn excludes(&self, name: &str) -> bool {
        match self {
            NameSubset::All => false,
            NameSubset::Only(names) => names.binary_search(&name).is_err(),
            NameSubset::Conflict => true,
        }
    }
}

/// kube-scheduler's NodeAffinity PreFilter result: when every required term pins
/// `metadata.name In [...]`, the union over terms of the intersection within each term.
fn name_subset(pod: &Pod) -> NameSubset<'_> {
    let Some(required) = &pod.node_affinity.required else { return NameSubset::All };
    let mut union: Vec<&str> = Vec::new();
    for term in &required.node_selector_terms {
        let mut names: Option<Vec<&str>> = None;
        for f in term.match_fields.iter().filter(|f| f.key == "metadata.name" && f.operator == NodeSelectorOperator::In)
        {
            let values: Vec<&str> = f.values.iter().map(String::as_str).collect();
            names = Some(match names {
                None => values,
                Some(prev) => prev.into_iter().filter(|n| values.contains(n)).collect(),
            });
        }
        match names {
            None => return NameSubset::All,
            Some(names) => union.extend(names),
        }
    }
    if required.node_selector_terms.is_empty() {
        return NameSubset::All;
    }
    union.sort_unstable();
    union.dedup();
    if union.is_empty() { NameSubset::Conflict } else { NameSubset::Only(union) }
}

impl<'p> PodInfo<'p> {
    pub(crate) fn new(pod: &'p Pod, cluster: &Cluster<'_>, added: Option<&'p NodeAffinity>) -> PodInfo<'p> {
        let requests = pod.requests();
        let req = cluster.resources.sparse(&requests);
        let (nz_cpu, nz_mem) = pod.non_zero_cpu_memory();
        // The tie hash of the uid (of `namespace/name` without one), hashed where it lies.
        let hash = if pod.uid.is_empty() { tie_hash(pod.key().as_bytes()) } else { tie_hash(pod.uid.as_bytes()) };
        static UNSCHEDULABLE: std::sync::LazyLock<Taint> =
            std::sync::LazyLock::new(|| Taint::new(UNSCHEDULABLE_TAINT, "", TaintEffect::NoSchedule));
        PodInfo {
            pod,
            req,
            requests,
            nz_cpu,
            nz_mem,
            hash,
            tolerates_unschedulable: pod.tolerates(&UNSCHEDULABLE),
            prefer_tolerations: pod
                .tolerations
                .iter()
                .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
                .collect(),
            name_subset: name_subset(pod),
            required: Required::of_pod(pod),
            preferred: preferred(added, pod),
        }
    }

    /// The pod's real request of `resource`.
    #[inline]
    pub(crate) fn request(&self, resource: ResourceId) -> i64 {
        self.req.iter().find(|(id, _)| *id == resource).map_or(0, |(_, v)| *v)
    }
}
