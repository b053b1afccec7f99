//! NodeResourcesFit: the filter checks that the node has room for the pod's requests; the score
//! follows the profile's strategy (LeastAllocated, MostAllocated or RequestedToCapacityRatio).

use crate::engine::cluster::{CPU, Cluster, EPHEMERAL, MEMORY, ResourceId};
use crate::engine::pod_info::PodInfo;
use crate::engine::reasons::{ReasonId, TOO_MANY_PODS};
use crate::model::{NodeResourcesFitArgs, ScoringStrategyType, UtilizationShapePoint};

use super::MAX_NODE_SCORE;

/// The plugin's arguments, resolved against one cluster's resource ids.
#[derive(Debug)]
pub(crate) struct Fit {
    /// Per resource id: skipped by the filter (ignoredResources / ignoredResourceGroups).
    ignored: Vec<bool>,
    strategy: ScoringStrategyType,
    /// Scored resources with weights; `None` when no node or pod knows the resource.
    resources: Vec<(Option<ResourceId>, i64)>,
    /// RequestedToCapacityRatio shape, scores already scaled to 0–100.
    shape: Vec<UtilizationShapePoint>,
}

/// Whether `name` is an extended resource (a domain-prefixed name outside `kubernetes.io/`),
/// the only kind `ignoredResources` and `ignoredResourceGroups` apply to.
fn is_extended(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

impl Fit {
    pub(crate) fn new(args: &NodeResourcesFitArgs, cluster: &Cluster<'_>) -> Fit {
        let idx = &cluster.resources;
        let ignored = (0..idx.len())
            .map(|id| {
                let name = idx.name(id);
                is_extended(name)
                    && (args.ignored_resources.iter().any(|r| r == name)
                        || name
                            .split_once('/')
                            .is_some_and(|(group, _)| args.ignored_resource_groups.iter().any(|g| g == group)))
            })
            .collect();
        let s = &args.scoring_strategy;
        let shape = s
            .requested_to_capacity_ratio
            .as_ref()
            .map(|p| {
                p.shape
                    .iter()
                    .map(|pt| UtilizationShapePoint { utilization: pt.utilization, score: pt.score * 10 })
                    .collect()
            })
            .unwrap_or_default();
        Fit {
            ignored,
            strategy: s.kind,
            resources: s.resources.iter().map(|r| (idx.id(&r.name), r.weight)).collect(),
            shape,
        }
    }

    /// Fails with "Too many pods" when the node is full, then with "Insufficient <resource>" for
    /// every requested resource (amount > 0) that exceeds the node's free allocatable, in the
    /// order cpu, memory, ephemeral-storage, extended resources by name.
    pub(crate) fn filter(&self, cluster: &Cluster<'_>, pod: &PodInfo<'_>, node: usize, out: &mut Vec<ReasonId>) {
        if cluster.pod_count[node] + 1 > cluster.allowed_pods[node] {
            out.push(TOO_MANY_PODS);
        }
        // `pod.req` is sorted by resource id: cpu, memory, ephemeral-storage come first.
        let mut scalars = out.len();
        for &(id, amount) in &pod.req {
            if amount > 0 && !self.ignored[id] && amount > cluster.alloc(node, id) - cluster.requested(node, id) {
                out.push(cluster.insufficient[id]);
                if id <= EPHEMERAL {
                    scalars = out.len();
                }
            }
        }
        // Scalar ids follow the order in which the cluster first saw each name, which depends
        // on node and pod order; kube walks scalars in Go map order (random). Sort the scalar
        // reasons by name ("Insufficient <name>") so the list is stable, as documented above.
        if out.len() - scalars > 1 {
            out[scalars..].sort_unstable_by(|&a, &b| cluster.reasons.text(a).cmp(cluster.reasons.text(b)));
        }
    }

    /// What the score needs of `pod`, resolved once per pod: for each scored resource the node
    /// side to read and the pod's request (non-zero defaulted for cpu and memory). Extended
    /// resources the pod does not request are left out, as kube-scheduler skips them.
    pub(crate) fn prepare(&self, pod: &PodInfo<'_>) -> Vec<Scored> {
        self.resources
            .iter()
            .filter_map(|&(id, weight)| {
                let id = id?;
                let (side, request) = match id {
                    CPU => (Side::NonZeroCpu, pod.nz_cpu),
                    MEMORY => (Side::NonZeroMemory, pod.nz_mem),
                    EPHEMERAL => (Side::Requested, pod.request(id)),
                    _ => {
                        let req = pod.request(id);
                        if req == 0 {
                            return None;
                        }
                        (Side::Requested, req)
                    }
                };
                Some(Scored { id, side, request, weight })
            })
            .collect()
    }

    /// The node's score 0–100 under the configured strategy (no further normalisation);
    /// `scored` comes from [`prepare`](Self::prepare).
    pub(crate) fn score(&self, cluster: &Cluster<'_>, scored: &[Scored], node: usize) -> i64 {
        let mut node_score = 0i64;
        let mut weight_sum = 0i64;
        let mut rtcr_sum = 0i64;
        for r in scored {
            let alloc = cluster.alloc(node, r.id);
            if alloc == 0 {
                continue;
            }
            let on_node = match r.side {
                Side::NonZeroCpu => cluster.nz_cpu[node],
                Side::NonZeroMemory => cluster.nz_mem[node],
                Side::Requested => cluster.requested(node, r.id),
            };
            let requested = on_node + r.request;
            let weight = r.weight;
            match self.strategy {
                ScoringStrategyType::LeastAllocated => {
                    let s = if requested > alloc { 0 } else { (alloc - requested) * MAX_NODE_SCORE / alloc };
                    node_score += s * weight;
                    weight_sum += weight;
                }
                ScoringStrategyType::MostAllocated => {
                    node_score += requested.min(alloc) * MAX_NODE_SCORE / alloc * weight;
                    weight_sum += weight;
                }
                ScoringStrategyType::RequestedToCapacityRatio => {
                    let utilization = if requested > alloc { 100 } else { requested * 100 / alloc };
                    let s = broken_linear(&self.shape, utilization);
                    if s > 0 {
                        rtcr_sum += s * weight;
                        weight_sum += weight;
                    }
                }
            }
        }
        if weight_sum == 0 {
            return 0;
        }
        match self.strategy {
            ScoringStrategyType::RequestedToCapacityRatio => (rtcr_sum as f64 / weight_sum as f64).round() as i64,
            _ => node_score / weight_sum,
        }
    }
}

/// Which node-side amount a scored resource compares with (kube-scheduler's
/// `calculateResourceAllocatableRequest`: cpu and memory use the non-zero defaulted requests of
/// the pods on the node, other resources their real requests).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    NonZeroCpu,
    NonZeroMemory,
    Requested,
}

/// One scored resource of one pod.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored {
    id: ResourceId,
    side: Side,
    request: i64,
    weight: i64,
}

/// The piecewise-linear shape function (integer arithmetic, as kube-scheduler).
fn broken_linear(shape: &[UtilizationShapePoint], p: i64) -> i64 {
    for (i, pt) in shape.iter().enumerate() {
        if p <= pt.utilization {
            if i == 0 {
                return pt.score;
            }
            let prev = shape[i - 1];
            return prev.score + (pt.score - prev.score) * (p - prev.utilization) / (pt.utilization - prev.utilization);
        }
    }
    shape.last().map_or(0, |pt| pt.score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_interpolates_with_integer_division() {
        let shape = [
            UtilizationShapePoint { utilization: 0, score: 0 },
            UtilizationShapePoint { utilization: 100, score: 100 },
        ];
        assert_eq!(broken_linear(&shape, 33), 33);
        let shape = [
            UtilizationShapePoint { utilization: 10, score: 20 },
            UtilizationShapePoint { utilization: 40, score: 50 },
        ];
        assert_eq!(broken_linear(&shape, 5), 20);
        assert_eq!(broken_linear(&shape, 25), 35);
        assert_eq!(broken_linear(&shape, 90), 50);
    }

    #[test]
    fn extended_resource_names() {
        assert!(is_extended("example.com/foo"));
        assert!(is_extended("nvidia.com/gpu"));
        assert!(!is_extended("hugepages-2Mi"));
        assert!(!is_extended("kubernetes.io/something"));
        assert!(!is_extended("cpu"));
    }
}
