//! NodeUnschedulable: a cordoned node takes only pods that tolerate
//! `node.kubernetes.io/unschedulable:NoSchedule`.

use crate::engine::cluster::Cluster;
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::{ReasonId, UNSCHEDULABLE};

pub(crate) fn filter(cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize, out: &mut Vec<ReasonId>) {
    if cluster.nodes[node].unschedulable && !pod.tolerates_unschedulable {
        out.push(UNSCHEDULABLE);
    }
}
