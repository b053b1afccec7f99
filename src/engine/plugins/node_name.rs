//! NodeName: a pod that names a node in `spec.nodeName` fits only there.

use crate::engine::cluster::Cluster;
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::{NODE_NAME, ReasonId};

pub(crate) fn filter(cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize, out: &mut Vec<ReasonId>) {
    if pod.pod.node_name.as_deref().is_some_and(|n| n != cluster.nodes[node].name) {
        out.push(NODE_NAME);
    }
}
