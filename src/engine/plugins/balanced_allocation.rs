//! NodeResourcesBalancedAllocation: prefers nodes whose usage fractions of the configured
//! resources (default cpu and memory) stay close to each other after placing the pod.
//!
//! Score = `(1 − std) × 100`, truncated, where std is the population standard deviation of the
//! fractions `(node requested + pod requested) / allocatable`, each capped at 1 (for exactly two
//! fractions, `|f1 − f2| / 2`). Real requests are used, not the non-zero defaults. Resources the
//! node does not offer, and extended resources the pod does not request, are left out. Pods that
//! request nothing are not scored (kube-scheduler skips the plugin for them).

use crate::engine::cluster::{Cluster, EPHEMERAL, ResourceId};
use crate::engine::pod_info::PodInfo;

use super::MAX_NODE_SCORE;

/// The pod's real requests of the configured resources (`None`: no node offers the name),
/// resolved once per pod; extended resources the pod does not request are left out.
pub(crate) fn prepare(resources: &[Option<ResourceId>], pod: &PodInfo<'_>) -> Vec<(ResourceId, i64)> {
    resources
        .iter()
        .flatten()
        .map(|&id| (id, pod.request(id)))
        .filter(|&(id, req)| id <= EPHEMERAL || req != 0)
        .collect()
}

/// The node's score; `requests` comes from [`prepare`].
pub(crate) fn score(cluster: &Cluster<'_>, requests: &[(ResourceId, i64)], node: usize) -> i64 {
    let fraction = |&(id, req): &(ResourceId, i64)| {
        let alloc = cluster.alloc(node, id);
        (alloc != 0).then(|| ((cluster.requested(node, id) + req) as f64 / alloc as f64).min(1.0))
    };
    let std = match requests {
        // The default (cpu and memory): two fractions, std = |f1 − f2| / 2.
        [a, b] => match (fraction(a), fraction(b)) {
            (Some(x), Some(y)) => ((x - y) / 2.0).abs(),
            _ => 0.0,
        },
        _ => {
            // Other configurations (rare): kube's two-pass population standard deviation.
            let fs: Vec<f64> = requests.iter().filter_map(fraction).collect();
            match fs.len() {
                0 | 1 => 0.0,
                2 => ((fs[0] - fs[1]) / 2.0).abs(),
                n => {
                    let mean = fs.iter().sum::<f64>() / n as f64;
                    (fs.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
                }
            }
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}
