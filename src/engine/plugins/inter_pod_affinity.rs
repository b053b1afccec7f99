//! InterPodAffinity: required pod affinity and anti-affinity filter (including the symmetric
//! rule: a placed pod's required anti-affinity keeps out the pods it selects); preferred terms
//! (of the incoming pod and, symmetrically, of placed pods) score.
//!
//! The counts are computed once per pending pod over every placed and assumed pod (kube's
//! PreFilter/PreScore), so each node check is a few hash lookups.

use crate::engine::fxhash::FxHashMap as HashMap;

use std::rc::Rc;

use crate::engine::cluster::{Cluster, Domains, NO_DOMAIN};
use crate::engine::reasons::{AFFINITY_RULES, ANTI_AFFINITY_RULES, EXISTING_ANTI_AFFINITY, ReasonId};
use crate::engine::terms::{PodTerms, Term, matcher_of};
use crate::model::{Labels, Pod};

use super::{MAX_NODE_SCORE, Sums};

/// Per-domain counts over one topology key's domains.
type DomainCounts = (Rc<Domains>, Sums);

/// PreFilter state of one pending pod.
#[derive(Debug, Default)]
pub(crate) struct AffinityFilter {
    /// Per required affinity term: placed pods matching ALL of the terms, per domain of its key.
    affinity: Vec<DomainCounts>,
    /// Whether any domain holds such a pod (kube: the affinity map is not empty).
    any_affinity: bool,
    /// Per required anti-affinity term: placed pods matching it, per domain of its key.
    anti_affinity: Vec<DomainCounts>,
    /// Per topology key: domains blocked by placed pods whose required anti-affinity selects
    /// the pod.
    existing_anti_affinity: Vec<DomainCounts>,
    /// Whether the pod matches all of its own required affinity terms (first-pod exception).
    matches_own_terms: bool,
}

/// Whether `pod` matches every term (and there is at least one).
fn matches_all(terms: &[Term<'_>], pod: &Pod, ns: &Labels) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, ns))
}

/// Sums per-node counts into the domains of `key`.
fn per_domain(cluster: &Cluster<'_>, key: &str, per_node: &[u32]) -> DomainCounts {
    let domains = cluster.domains(key);
    let mut counts = Sums::new(&domains);
    for (node, &n) in per_node.iter().enumerate() {
        let d = domains.of_node[node];
        if n > 0 && d != NO_DOMAIN {
            counts.add(d, i64::from(n));
        }
    }
    (domains, counts)
}

/// [`per_domain`] from the nodes whose count is not zero: the same sums without a pass over
/// every node.
fn per_domain_sparse(cluster: &Cluster<'_>, key: &str, per_node: &[u32], nonzero: &[u32]) -> DomainCounts {
    let domains = cluster.domains(key);
    let mut counts = Sums::new(&domains);
    for &node in nonzero {
        let d = domains.of_node[node as usize];
        if d != NO_DOMAIN {
            counts.add(d, i64::from(per_node[node as usize]));
        }
    }
    (domains, counts)
}

impl AffinityFilter {
    /// True when the filter passes every node: the pod has no required terms and no placed
    /// pod's required anti-affinity selects it.
    pub(crate) fn passes_all(&self, terms: &PodTerms<'_>) -> bool {
        terms.required_affinity.is_empty()
            && terms.required_anti_affinity.is_empty()
            && self.existing_anti_affinity.is_empty()
    }

    /// kube-scheduler's PreFilter: count, per domain, the placed pods relevant to `pod`.
    /// `members` are the placed pods with inter-pod terms to consider: the cluster's
    /// `with_affinity`, or any part of it (ascending) that holds every one of them whose terms
    /// may select `pod`. `sparse` sums the per-node counts over the nodes that have some
    /// rather than over every node (the same counts).
    pub(crate) fn new<'a>(
        cluster: &Cluster<'a>,
        pod: &'a Pod,
        terms: &PodTerms<'a>,
        members: &[usize],
        sparse: bool,
    ) -> AffinityFilter {
        let mut state = AffinityFilter::default();
        let incoming_ns = cluster.namespace_labels(&pod.namespace);
        let mut existing_keys: HashMap<&str, usize> = HashMap::default();
        for &m in members {
            let member = cluster.member(m);
            for t in &member.terms().required_anti_affinity {
                if !t.matches(pod, incoming_ns) {
                    continue;
                }
                let slot = *existing_keys.entry(t.topology_key).or_insert_with(|| {
                    let domains = cluster.domains(t.topology_key);
                    let counts = Sums::new(&domains);
                    state.existing_anti_affinity.push((domains, counts));
                    state.existing_anti_affinity.len() - 1
                });
                let (domains, counts) = &mut state.existing_anti_affinity[slot];
                let d = domains.of_node[member.node];
                if d != NO_DOMAIN {
                    counts.add(d, 1);
                }
            }
        }
        // Keys where no domain is blocked block nothing.
        state.existing_anti_affinity.retain(|(_, counts)| counts.any_positive());
        // Per-node counts of the placed pods matching all affinity terms, and each anti-affinity
        // term, kept incrementally by the cluster; summed here into topology domains.
        let sums = |terms: &[Term<'_>], key: &str| {
            if sparse {
                let (per_node, nonzero) = cluster.node_counts_sparse(&matcher_of(terms));
                per_domain_sparse(cluster, key, &per_node, &nonzero)
            } else {
                let per_node = cluster.node_counts(&matcher_of(terms)).to_vec();
                per_domain(cluster, key, &per_node)
            }
        };
        if !terms.required_affinity.is_empty() {
            for t in &terms.required_affinity {
                let (domains, counts) = sums(&terms.required_affinity, t.topology_key);
                state.any_affinity |= counts.any_positive();
                state.affinity.push((domains, counts));
            }
            state.matches_own_terms = matches_all(&terms.required_affinity, pod, incoming_ns);
        }
        for t in &terms.required_anti_affinity {
            state.anti_affinity.push(sums(std::slice::from_ref(t), t.topology_key));
        }
        state
    }

    /// The filter, in kube-scheduler's order: the pod's affinity, its anti-affinity, then placed
    /// pods' anti-affinity.
    pub(crate) fn filter(&self, node: usize) -> Option<ReasonId> {
        self.filter_where(node, |_| true)
    }

    /// The topology domains of the keys of every count kept.
    pub(crate) fn domains(&self) -> impl Iterator<Item = &Rc<Domains>> {
        self.affinity.iter().chain(&self.anti_affinity).chain(&self.existing_anti_affinity).map(|(d, _)| d)
    }

    /// [`filter`](Self::filter) with the terms on coarse keys only ([`Domains::coarse`]): the
    /// same verdict on every node of a cell. Meaningful only when
    /// [`fine_blocked`](Self::fine_blocked) succeeds (every affinity term is on a coarse key).
    pub(crate) fn filter_coarse(&self, node: usize) -> Option<ReasonId> {
        self.filter_where(node, |d| d.coarse)
    }

    /// Pushes to `out` the nodes that the anti-affinity terms on keys that are not coarse keep
    /// out (the pod's own and placed pods'). `false` when a required affinity term is on such
    /// a key (its nodes are the few that pass, not the few that fail).
    pub(crate) fn fine_blocked(&self, out: &mut Vec<usize>) -> bool {
        if self.affinity.iter().any(|(d, _)| !d.coarse) {
            return false;
        }
        for (domains, counts) in self.anti_affinity.iter().chain(&self.existing_anti_affinity) {
            if domains.coarse {
                continue;
            }
            for d in counts.positive() {
                out.extend(domains.nodes(d as usize).iter().map(|&n| n as usize));
            }
        }
        true
    }

    fn filter_where(&self, node: usize, check: impl Fn(&Domains) -> bool) -> Option<ReasonId> {
        let mut pods_exist = true;
        for (domains, counts) in self.affinity.iter().filter(|(d, _)| check(d)) {
            let d = domains.of_node[node];
            if d == NO_DOMAIN {
                // All topology labels must exist on the node.
                return Some(AFFINITY_RULES);
            }
            if counts.get(d) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group with affinity to itself may go anywhere that has the keys.
        if !(pods_exist || !self.any_affinity && self.matches_own_terms) {
            return Some(AFFINITY_RULES);
        }
        let blocked = |(domains, counts): &DomainCounts| {
            let d = domains.of_node[node];
            check(domains) && d != NO_DOMAIN && counts.get(d) > 0
        };
        if self.anti_affinity.iter().any(blocked) {
            return Some(ANTI_AFFINITY_RULES);
        }
        if self.existing_anti_affinity.iter().any(blocked) {
            return Some(EXISTING_ANTI_AFFINITY);
        }
        None
    }
}

/// PreScore state: per topology key and value, the summed weights.
#[derive(Debug, Default)]
pub(crate) struct AffinityScore<'a> {
    topology: HashMap<&'a str, HashMap<&'a str, i64>>,
}

impl<'a> AffinityScore<'a> {
    fn process(&mut self, term: &Term<'a>, weight: i64, pod: &Pod, ns: &Labels, node_labels: &'a Labels) {
        if term.matches(pod, ns)
            && let Some((k, v)) = node_labels.get_key_value(term.topology_key)
        {
            *self.topology.entry(k.as_str()).or_default().entry(v.as_str()).or_insert(0) += weight;
        }
    }

    /// kube-scheduler's PreScore. `hard_weight` is `hardPodAffinityWeight`; with
    /// `ignore_existing_preferred` (`ignorePreferredTermsOfExistingPods`), a pod without
    /// preferred terms of its own is not scored at all (kube returns Skip). `members` as for
    /// [`AffinityFilter::new`].
    pub(crate) fn new(
        cluster: &Cluster<'a>,
        pod: &'a Pod,
        terms: &PodTerms<'a>,
        hard_weight: i64,
        ignore_existing_preferred: bool,
        members: &[usize],
    ) -> AffinityScore<'a> {
        let mut state = AffinityScore::default();
        let has_preferred = !terms.preferred_affinity.is_empty() || !terms.preferred_anti_affinity.is_empty();
        if ignore_existing_preferred && !has_preferred {
            return state;
        }
        let incoming_ns = cluster.namespace_labels(&pod.namespace);
        // The pod's preferred terms, over the per-node counts of the pods each term selects.
        for (t, sign) in
            terms.preferred_affinity.iter().map(|t| (t, 1)).chain(terms.preferred_anti_affinity.iter().map(|t| (t, -1)))
        {
            let counts = cluster.node_counts(&matcher_of(std::slice::from_ref(t)));
            for (node, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                if let Some((k, v)) = cluster.nodes[node].labels.get_key_value(t.topology_key) {
                    *state.topology.entry(k.as_str()).or_default().entry(v.as_str()).or_insert(0) +=
                        sign * t.weight * i64::from(n);
                }
            }
        }
        // Placed pods' terms that select the pod (the symmetric part).
        for &m in members {
            let member = cluster.member(m);
            let labels = &cluster.nodes[member.node].labels;
            if labels.is_empty() {
                continue;
            }
            if hard_weight > 0 {
                for t in &member.terms().required_affinity {
                    state.process(t, hard_weight, pod, incoming_ns, labels);
                }
            }
            // `ignorePreferredTermsOfExistingPods` only skips the whole plugin for a pod without
            // preferred terms (the early return above); once the pod has preferred terms of its
            // own, kube's processExistingPod counts placed pods' preferred terms again.
            for t in &member.terms().preferred_affinity {
                state.process(t, t.weight, pod, incoming_ns, labels);
            }
            for t in &member.terms().preferred_anti_affinity {
                state.process(t, -t.weight, pod, incoming_ns, labels);
            }
        }
        state
    }

    /// True when no domain has a score (the plugin gives every node 0).
    pub(crate) fn is_empty(&self) -> bool {
        self.topology.is_empty()
    }

    /// The topology keys the scores are summed over.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.topology.keys().copied()
    }

    /// Raw score of a node: the sums of the domains it belongs to.
    pub(crate) fn score(&self, labels: &Labels) -> i64 {
        self.topology.iter().filter_map(|(key, values)| labels.get(*key).and_then(|v| values.get(v.as_str()))).sum()
    }

    /// Min-max normalisation over the candidates (all 0 when nothing counted or all equal).
    pub(crate) fn normalize(&self, scores: &mut [i64]) {
        if self.topology.is_empty() {
            scores.iter_mut().for_each(|s| *s = 0);
            return;
        }
        let (min, max) = scores.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let diff = max.saturating_sub(min);
        for s in scores.iter_mut() {
            *s = if diff > 0 { (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64 } else { 0 };
        }
    }
}
