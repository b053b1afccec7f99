//! NodePorts: a pod's host ports must be free on the node (same port and protocol on an
//! overlapping host IP conflicts; `0.0.0.0` overlaps every IP).

use crate::engine::cluster::Cluster;
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::{NODE_PORTS, ReasonId};

pub(crate) fn filter(cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize, out: &mut Vec<ReasonId>) {
    let used = &cluster.ports[node];
    if pod.pod.host_ports.iter().any(|want| used.iter().any(|u| u.conflicts_with(want))) {
        out.push(NODE_PORTS);
    }
}
