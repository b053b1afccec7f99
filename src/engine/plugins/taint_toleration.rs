//! TaintToleration: `NoSchedule` and `NoExecute` taints the pod does not tolerate filter the
//! node out (the first such taint is reported); `PreferNoSchedule` taints it does not tolerate
//! lower the node's score.

use crate::engine::cluster::Cluster;
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::ReasonId;
use crate::model::TaintEffect;

pub(crate) fn filter(cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize, out: &mut Vec<ReasonId>) {
    let taints = &cluster.nodes[node].taints;
    for &(ti, reason) in &cluster.hard_taints[node] {
        if !pod.pod.tolerates(&taints[ti]) {
            out.push(reason);
            return;
        }
    }
}

/// Raw score: the number of `PreferNoSchedule` taints not tolerated by the pod's tolerations
/// whose effect is unset or `PreferNoSchedule`. Normalised reversed (fewer is better).
pub(crate) fn score(cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize) -> i64 {
    cluster.nodes[node]
        .taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
        .filter(|t| !pod.prefer_tolerations.iter().any(|tol| tol.tolerates(t)))
        .count() as i64
}
