//! NodeAffinity: `spec.nodeSelector` and required node affinity filter; preferred terms score.
//! The profile's `addedAffinity` applies to every pod and is checked first.

use crate::engine::cluster::Cluster;
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::{ENFORCED_AFFINITY, NODE_AFFINITY, ReasonId};
use crate::model::{Labels, Node, NodeAffinity, NodeSelector, NodeSelectorTerm, Pod};

/// A required node selector with its usable terms picked out once (empty and malformed terms
/// match nothing, so they are dropped), so the per-node check does no validation.
#[derive(Debug, Default)]
pub(crate) struct Required<'a> {
    node_selector: Option<&'a Labels>,
    /// `None`: no required affinity (every node passes); `Some`: the usable terms, ORed.
    terms: Option<Vec<&'a NodeSelectorTerm>>,
}

impl<'a> Required<'a> {
    fn from_selector(selector: Option<&'a NodeSelector>, node_selector: Option<&'a Labels>) -> Required<'a> {
        Required {
            node_selector: node_selector.filter(|s| !s.is_empty()),
            terms: selector.map(|s| s.node_selector_terms.iter().filter(|t| t.is_usable()).collect()),
        }
    }

    /// The pod's `nodeSelector` and required node affinity.
    pub(crate) fn of_pod(pod: &'a Pod) -> Required<'a> {
        Required::from_selector(pod.node_affinity.required.as_ref(), Some(&pod.node_selector))
    }

    /// The profile's `addedAffinity` required part.
    pub(crate) fn added(added: Option<&'a NodeAffinity>) -> Required<'a> {
        Required::from_selector(added.and_then(|a| a.required.as_ref()), None)
    }

    /// Whether anything is required at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.node_selector.is_none() && self.terms.is_none()
    }

    /// Whether `node` satisfies the selector and one of the terms.
    pub(crate) fn matches(&self, node: &Node) -> bool {
        self.node_selector.is_none_or(|sel| sel.iter().all(|(k, v)| node.labels.get(k) == Some(v)))
            && self.terms.as_ref().is_none_or(|terms| terms.iter().any(|t| t.matches_valid(&node.name, &node.labels)))
    }
}

/// Preferred terms (the profile's added ones and the pod's) with their weights, usable ones only.
pub(crate) fn preferred<'a>(added: Option<&'a NodeAffinity>, pod: &'a Pod) -> Vec<(&'a NodeSelectorTerm, i64)> {
    added
        .into_iter()
        .flat_map(|a| a.preferred.iter())
        .chain(pod.node_affinity.preferred.iter())
        .filter(|t| t.weight != 0 && t.preference.is_usable())
        .map(|t| (&t.preference, i64::from(t.weight)))
        .collect()
}

pub(crate) fn filter(
    cluster: &Cluster<'_>,
    added: &Required<'_>,
    pod: &PodInfo<'_>,
    node: usize,
    out: &mut Vec<ReasonId>,
) {
    let n = &cluster.nodes[node];
    if !added.is_empty() && !added.matches(n) {
        out.push(ENFORCED_AFFINITY);
        return;
    }
    if !pod.required.matches(n) {
        out.push(NODE_AFFINITY);
    }
}

/// Raw score: the summed weights of the pod's (and the profile's added) preferred terms the
/// node matches. Normalised with the default normalisation.
pub(crate) fn score(cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize) -> i64 {
    let n = &cluster.nodes[node];
    pod.preferred.iter().filter(|(t, _)| t.matches_valid(&n.name, &n.labels)).map(|(_, w)| w).sum()
}
