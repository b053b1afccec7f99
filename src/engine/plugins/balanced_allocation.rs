//! NodeResourcesBalancedAllocation: prefers nodes whose usage fractions of the configured
//! resources (default cpu and memory) stay close to each other after placing the pod.
//!
//! Score = `(1 − std) × 100`, truncated, where std is the population standard deviation of the
//! fractions `(node requested + pod requested) / allocatable`, each capped at 1 (for exactly two
//! fractions, `|f1 − f2| / 2`). Real requests are used, not the non-zero defaults. Resources the
//! node does not offer, and extended resources the pod does not request, are left out. Pods that
//! request nothing are not scored (kube-scheduler skips the plugin for them).

use crate::engine::cluster::{Cluster, ResourceId};
use crate::engine::pod_info::PodInfo;

use super::MAX_NODE_SCORE;

/// `resources` are the configured resources (None: the name is unknown to the cluster, so no
/// node offers it and it is skipped).
pub(crate) fn score(cluster: &Cluster<'_>, resources: &[Option<ResourceId>], pod: &PodInfo<'_>, node: usize) -> i64 {
    let mut fractions = [0f64; 16];
    let mut extra: Vec<f64> = Vec::new();
    let mut count = 0usize;
    let mut total = 0f64;
    for &id in resources.iter().flatten() {
        let alloc = cluster.alloc(node, id);
        if alloc == 0 {
            continue;
        }
        let pod_req = pod.request(id);
        if id > super::super::cluster::EPHEMERAL && pod_req == 0 {
            continue;
        }
        let f = ((cluster.requested(node, id) + pod_req) as f64 / alloc as f64).min(1.0);
        total += f;
        if count < fractions.len() {
            fractions[count] = f;
        } else {
            extra.push(f);
        }
        count += 1;
    }
    let all = fractions[..count.min(fractions.len())].iter().chain(extra.iter());
    let std = match count {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = total / n as f64;
            (all.map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}
