//! NodeAffinity: `spec.nodeSelector` and required node affinity filter; preferred terms score.
//! The profile's `addedAffinity` applies to every pod and is checked first.

use crate::engine::cluster::Cluster;
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::{ENFORCED_AFFINITY, NODE_AFFINITY, ReasonId};
use crate::model::{Node, NodeAffinity, Pod};

pub(crate) fn filter(
    cluster: &Cluster<'_>,
    added: Option<&NodeAffinity>,
    pod: &PodInfo<'_>,
    node: usize,
    out: &mut Vec<ReasonId>,
) {
    let n = &cluster.nodes[node];
    if let Some(required) = added.and_then(|a| a.required.as_ref())
        && !required.matches(&n.name, &n.labels)
    {
        out.push(ENFORCED_AFFINITY);
        return;
    }
    if !matches_required(pod.pod, n) {
        out.push(NODE_AFFINITY);
    }
}

/// Whether `node` satisfies the pod's `nodeSelector` and required node affinity.
pub(crate) fn matches_required(pod: &Pod, node: &Node) -> bool {
    pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
        && pod.node_affinity.required.as_ref().is_none_or(|r| r.matches(&node.name, &node.labels))
}

/// Raw score: the summed weights of the pod's (and the profile's added) preferred terms the
/// node matches. Normalised with the default normalisation.
pub(crate) fn score(cluster: &Cluster<'_>, added: Option<&NodeAffinity>, pod: &PodInfo<'_>, node: usize) -> i64 {
    let n = &cluster.nodes[node];
    added
        .into_iter()
        .flat_map(|a| a.preferred.iter())
        .chain(pod.pod.node_affinity.preferred.iter())
        .filter(|t| t.weight != 0 && t.preference.matches(&n.name, &n.labels))
        .map(|t| i64::from(t.weight))
        .sum()
}
