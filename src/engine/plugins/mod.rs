//! The filter and score plugins, one module each, named as in kube-scheduler.
//!
//! A filter pushes the ids of its failure reasons (none = pass). A score plugin writes one raw
//! score per feasible node; a normalisation (see [`default_normalize`]) then maps raw scores to 0–100 the way the plugin's
//! kube-scheduler counterpart does.

pub(crate) mod balanced_allocation;
pub(crate) mod inter_pod_affinity;
pub(crate) mod node_affinity;
pub(crate) mod node_name;
pub(crate) mod node_ports;
pub(crate) mod node_resources_fit;
pub(crate) mod node_unschedulable;
pub(crate) mod pod_topology_spread;
pub(crate) mod taint_toleration;

/// kube-scheduler's `MaxNodeScore`.
pub(crate) const MAX_NODE_SCORE: i64 = 100;

use crate::engine::cluster::Domains;
use crate::engine::fxhash::FxHashMap;

/// Counts per domain: a vector on coarse keys (few domains, zones say), a map of the domains
/// that have some on fine keys (hostnames), so that a pod's PreFilter costs what the placed
/// pods it counts cost rather than a zeroed entry per node.
#[derive(Debug)]
pub(crate) enum Sums {
    Dense(Vec<i64>),
    Sparse(FxHashMap<u32, i64>),
}

impl Sums {
    pub(crate) fn new(domains: &Domains) -> Sums {
        if domains.coarse { Sums::Dense(vec![0; domains.count]) } else { Sums::Sparse(FxHashMap::default()) }
    }

    pub(crate) fn add(&mut self, d: u32, v: i64) {
        match self {
            Sums::Dense(c) => c[d as usize] += v,
            Sums::Sparse(m) => *m.entry(d).or_insert(0) += v,
        }
    }

    #[inline]
    pub(crate) fn get(&self, d: u32) -> i64 {
        match self {
            Sums::Dense(c) => c[d as usize],
            Sums::Sparse(m) => m.get(&d).copied().unwrap_or(0),
        }
    }

    pub(crate) fn any_positive(&self) -> bool {
        match self {
            Sums::Dense(c) => c.iter().any(|&c| c > 0),
            Sums::Sparse(m) => m.values().any(|&c| c > 0),
        }
    }

    /// The smallest count among the domains `present` marks, `None` when none is. On a sparse
    /// key only the domains that have some are looked at: callers use it when every present
    /// domain has some.
    pub(crate) fn min_present(&self, present: &[bool]) -> Option<i64> {
        match self {
            Sums::Dense(c) => c.iter().zip(present).filter(|(_, p)| **p).map(|(c, _)| *c).min(),
            Sums::Sparse(m) => m.iter().filter(|&(&d, _)| present[d as usize]).map(|(_, &c)| c).min(),
        }
    }

    /// The domains with a positive count, in no particular order.
    pub(crate) fn positive(&self) -> Vec<u32> {
        match self {
            Sums::Dense(c) => (0..c.len() as u32).filter(|&d| c[d as usize] > 0).collect(),
            Sums::Sparse(m) => m.iter().filter(|&(_, &c)| c > 0).map(|(&d, _)| d).collect(),
        }
    }
}

/// kube-scheduler's default score normalisation: `score * 100 / max` (or, reversed,
/// `100 - score * 100 / max`); when every score is 0 all become 0 (or 100 when reversed).
pub(crate) fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        *s = normalize_one(*s, max, reverse);
    }
}

/// One score of [`default_normalize`], given the maximum over all scores.
#[inline]
pub(crate) fn normalize_one(score: i64, max: i64, reverse: bool) -> i64 {
    if max == 0 {
        return if reverse { MAX_NODE_SCORE } else { score };
    }
    let v = MAX_NODE_SCORE * score / max;
    if reverse { MAX_NODE_SCORE - v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_kube() {
        let mut s = [2, 11, 4];
        default_normalize(&mut s, false);
        assert_eq!(s, [18, 100, 36]);
        let mut s = [0, 1, 2];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
        let mut s = [0, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 0]);
    }
}
