//! PodTopologySpread: `DoNotSchedule` constraints filter nodes whose domain would exceed
//! `maxSkew`; `ScheduleAnyway` constraints score nodes in less crowded domains higher.
//!
//! Counts are computed once per pending pod over every node and its placed and assumed pods
//! (kube's PreFilter/PreScore); each node check is then a hash lookup per constraint.

use crate::engine::fxhash::FxHashMap as HashMap;

use std::rc::Rc;

use crate::engine::cluster::{Cluster, Domains, NO_DOMAIN};
use crate::engine::matchers::{Matcher, Part, Scope};
use crate::engine::plugins::node_affinity::Required;
use crate::engine::reasons::{ReasonId, SPREAD, SPREAD_MISSING_LABEL};
use crate::model::{
    InclusionPolicy, LabelSelector, LabelSelectorRequirement, Labels, Node, Pod, SelectorOperator, TaintEffect,
    TopologySpreadConstraint, WhenUnsatisfiable, WorkloadSelector,
};

use super::MAX_NODE_SCORE;

const HOSTNAME: &str = "kubernetes.io/hostname";

/// A constraint with its selector merged with `matchLabelKeys` and its defaults applied.
#[derive(Debug)]
struct Constraint<'a> {
    max_skew: i64,
    key: &'a str,
    selector: Option<LabelSelector>,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

impl<'a> Constraint<'a> {
    /// Compiles `c`; a default constraint takes the pod's deduced selector (`deduced`) instead.
    fn new(c: &'a TopologySpreadConstraint, pod: &Pod, deduced: Option<&LabelSelector>) -> Constraint<'a> {
        let own = c.label_selector.as_ref().map(|sel| {
            let mut sel = sel.clone();
            for key in &c.match_label_keys {
                if let Some(value) = pod.labels.get(key) {
                    sel.match_expressions.push(LabelSelectorRequirement {
                        key: key.clone(),
                        operator: SelectorOperator::In,
                        values: vec![value.clone()],
                    });
                }
            }
            sel
        });
        let selector = match deduced {
            Some(sel) => Some(sel.clone()),
            None => own,
        };
        Constraint {
            max_skew: i64::from(c.max_skew),
            key: &c.topology_key,
            selector,
            min_domains: i64::from(c.min_domains.unwrap_or(1)),
            honor_affinity: c.node_affinity_policy.unwrap_or(InclusionPolicy::Honor) == InclusionPolicy::Honor,
            honor_taints: c.node_taints_policy.unwrap_or(InclusionPolicy::Ignore) == InclusionPolicy::Honor,
        }
    }

    /// Whether `node` counts for this constraint under its inclusion policies.
    fn includes(&self, required: &Required<'_>, pod: &Pod, node: &Node) -> bool {
        (!self.honor_affinity || required.matches(node))
            && (!self.honor_taints
                || node
                    .taints
                    .iter()
                    .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
                    .all(|t| pod.tolerates(t)))
    }

    /// The pods that count: the pod's namespace, matched by a non-empty selector (an empty
    /// selector counts no pod, as in kube-scheduler).
    fn matcher(&self, namespace: &str) -> Matcher {
        Matcher {
            parts: vec![Part {
                scope: Scope::Namespace(namespace.to_string()),
                selector: self.selector.clone(),
                empty_selects_none: true,
            }],
        }
    }

    fn matches_self(&self, pod: &Pod) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(&pod.labels))
    }
}

/// Matching pods per node for `c` (kept incrementally by the cluster), copied out.
fn counts_per_node(cluster: &Cluster<'_>, c: &Constraint<'_>, pod: &Pod) -> Vec<u32> {
    cluster.node_counts(&c.matcher(&pod.namespace)).to_vec()
}

/// Default constraints: for pods without constraints of their own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defaults<'a> {
    /// The default constraints (kube's system defaults or the profile's list).
    pub(crate) constraints: &'a [TopologySpreadConstraint],
    /// Whether they are the system defaults (then nodes need not carry every key to be scored).
    pub(crate) system: bool,
}

/// The selector kube-scheduler deduces for a pod's default constraints: the selectors of the
/// Services, ReplicaSets, StatefulSets and ReplicationControllers of its namespace that select
/// it, combined (ANDed). `None` when no workload selects the pod.
pub(crate) fn deduced_selector(workloads: &[WorkloadSelector], pod: &Pod) -> Option<LabelSelector> {
    let mut merged = LabelSelector::default();
    for w in workloads {
        let empty = w.selector.match_labels.is_empty() && w.selector.match_expressions.is_empty();
        if w.namespace == pod.namespace && !empty && w.selector.matches(&pod.labels) {
            merged.match_labels.extend(w.selector.match_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            merged.match_expressions.extend(w.selector.match_expressions.iter().cloned());
        }
    }
    let empty = merged.match_labels.is_empty() && merged.match_expressions.is_empty();
    (!empty).then_some(merged)
}

/// The constraints of `pod` for `action`: its own, or else the defaults with the deduced
/// selector (none when no workload selects the pod). The flag says whether they are its own.
fn constraints_for<'a>(
    pod: &'a Pod,
    defaults: Defaults<'a>,
    deduced: Option<&LabelSelector>,
    action: WhenUnsatisfiable,
) -> (Vec<Constraint<'a>>, bool) {
    if !pod.topology_spread_constraints.is_empty() {
        let own = pod
            .topology_spread_constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
            .map(|c| Constraint::new(c, pod, None))
            .collect();
        return (own, true);
    }
    let Some(selector) = deduced else { return (Vec::new(), false) };
    let defaults = defaults
        .constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c| Constraint::new(c, pod, Some(selector)))
        .collect();
    (defaults, false)
}

/// Whether PodTopologySpread scores nothing for `pod`: it has no `ScheduleAnyway` constraint of
/// its own nor, failing constraints of its own, a default one with a deduced selector.
pub(crate) fn scores_nothing(pod: &Pod, defaults: Defaults<'_>, deduced: Option<&LabelSelector>) -> bool {
    constraints_for(pod, defaults, deduced, WhenUnsatisfiable::ScheduleAnyway).0.is_empty()
}

fn has_all_keys(labels: &Labels, constraints: &[Constraint<'_>]) -> bool {
    constraints.iter().all(|c| labels.contains_key(c.key))
}

/// Which nodes and domains one constraint counts for a pod: those with every key of the
/// pod's constraints that the constraint's inclusion policies admit.
#[derive(Debug)]
pub(crate) struct Counted {
    /// Per node.
    counted: Vec<bool>,
    /// Per domain of the constraint's key: whether it has a counted node.
    present: Vec<bool>,
    /// How many domains do.
    domain_count: i64,
}

/// [`Counted`] per constraint; the same for every pod that agrees on what it reads (the
/// constraints' keys and policies, node selector, node affinity and tolerations).
#[derive(Debug)]
pub(crate) struct Eligibility(Vec<Counted>);

/// What [`Eligibility`] depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EligibilityKey {
    constraints: Vec<(String, bool, bool)>,
    node_selector: Labels,
    node_affinity: crate::model::NodeAffinity,
    tolerations: Vec<crate::model::Toleration>,
}

impl Cluster<'_> {
    /// The [`Eligibility`] of `pod`'s `constraints`, kept for the run.
    fn spread_eligibility(&self, pod: &Pod, constraints: &[Constraint<'_>]) -> Rc<Eligibility> {
        let key = EligibilityKey {
            constraints: constraints.iter().map(|c| (c.key.to_string(), c.honor_affinity, c.honor_taints)).collect(),
            node_selector: pod.node_selector.clone(),
            node_affinity: pod.node_affinity.clone(),
            tolerations: pod.tolerations.clone(),
        };
        self.spread_memo(key, || {
            let required = Required::of_pod(pod);
            let eligible: Vec<bool> = self.nodes.iter().map(|n| has_all_keys(&n.labels, constraints)).collect();
            let per = constraints
                .iter()
                .map(|c| {
                    let domains = self.domains(c.key);
                    let mut present = vec![false; domains.count];
                    let counted: Vec<bool> = self
                        .nodes
                        .iter()
                        .enumerate()
                        .map(|(i, node)| {
                            let d = domains.of_node[i];
                            let yes = d != NO_DOMAIN && eligible[i] && c.includes(&required, pod, node);
                            if yes {
                                present[d as usize] = true;
                            }
                            yes
                        })
                        .collect();
                    let domain_count = present.iter().filter(|p| **p).count() as i64;
                    Counted { counted, present, domain_count }
                })
                .collect();
            Eligibility(per)
        })
    }
}

/// PreFilter state of one pending pod (its `DoNotSchedule` constraints).
#[derive(Debug, Default)]
pub(crate) struct SpreadFilter<'a> {
    constraints: Vec<Constraint<'a>>,
    /// Per constraint: the key's domains, matching pods per domain over eligible nodes, and the
    /// smallest count (`minDomains` applied).
    per_constraint: Vec<(Rc<Domains>, super::Sums, i64)>,
    self_match: Vec<bool>,
}

impl<'a> SpreadFilter<'a> {
    /// True when the pod has no `DoNotSchedule` constraint (the filter passes every node).
    pub(crate) fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// kube-scheduler's PreFilter. With `kept`, the nodes each constraint counts are kept
    /// from pod to pod ([`Eligibility`]) and the matching pods are summed over the nodes that
    /// hold some, instead of a pass over every node (the same state).
    pub(crate) fn new(
        cluster: &Cluster<'a>,
        pod: &'a Pod,
        defaults: Defaults<'a>,
        deduced: Option<&LabelSelector>,
        kept: bool,
    ) -> SpreadFilter<'a> {
        let (constraints, _) = constraints_for(pod, defaults, deduced, WhenUnsatisfiable::DoNotSchedule);
        let mut state = SpreadFilter::default();
        if constraints.is_empty() {
            return state;
        }
        if kept {
            let eligibility = cluster.spread_eligibility(pod, &constraints);
            for (c, e) in constraints.iter().zip(&eligibility.0) {
                let domains = cluster.domains(c.key);
                let (per_node, nonzero) = cluster.node_counts_sparse(&c.matcher(&pod.namespace));
                let mut counts = super::Sums::new(&domains);
                let mut touched = 0;
                for &node in nonzero.iter() {
                    let (node, d) = (node as usize, domains.of_node[node as usize]);
                    if d == NO_DOMAIN || !e.counted[node] {
                        continue;
                    }
                    touched += i64::from(counts.get(d) == 0);
                    counts.add(d, i64::from(per_node[node]));
                }
                // Every domain counted is present; one left at zero makes the minimum zero.
                let min = if e.domain_count < c.min_domains || touched < e.domain_count {
                    0
                } else {
                    // Every present domain has some: the sparse sums hold them all.
                    counts.min_present(&e.present).unwrap_or(i64::from(i32::MAX))
                };
                state.per_constraint.push((domains, counts, min));
            }
            state.self_match = constraints.iter().map(|c| c.matches_self(pod)).collect();
            state.constraints = constraints;
            return state;
        }
        let required = Required::of_pod(pod);
        let eligible: Vec<bool> = cluster.nodes.iter().map(|n| has_all_keys(&n.labels, &constraints)).collect();
        for c in &constraints {
            let domains = cluster.domains(c.key);
            let per_node = cluster.node_counts(&c.matcher(&pod.namespace));
            // Domains with at least one eligible node, and their matching pods.
            let mut counts = vec![0i64; domains.count];
            let mut present = vec![false; domains.count];
            for (i, node) in cluster.nodes.iter().enumerate() {
                let d = domains.of_node[i];
                if d == NO_DOMAIN || !eligible[i] || !c.includes(&required, pod, node) {
                    continue;
                }
                present[d as usize] = true;
                counts[d as usize] += i64::from(per_node[i]);
            }
            let domain_count = present.iter().filter(|p| **p).count() as i64;
            // kube's critical path starts at MaxInt32 when no domain is eligible.
            let min = counts.iter().zip(&present).filter(|(_, p)| **p).map(|(c, _)| *c).min();
            let min = if domain_count < c.min_domains { 0 } else { min.unwrap_or(i64::from(i32::MAX)) };
            state.per_constraint.push((domains, super::Sums::Dense(counts), min));
        }
        state.self_match = constraints.iter().map(|c| c.matches_self(pod)).collect();
        state.constraints = constraints;
        state
    }

    /// Fails a node that lacks a constraint's key, or whose domain would exceed `maxSkew`.
    pub(crate) fn filter(&self, node: usize) -> Option<ReasonId> {
        self.filter_where(node, |_| true)
    }

    /// The topology domains of the constraints' keys.
    pub(crate) fn domains(&self) -> impl Iterator<Item = &Rc<Domains>> {
        self.per_constraint.iter().map(|(domains, _, _)| domains)
    }

    /// [`filter`](Self::filter) with the constraints on coarse keys only
    /// ([`Domains::coarse`]): the same verdict on every node of a cell.
    pub(crate) fn filter_coarse(&self, node: usize) -> Option<ReasonId> {
        self.filter_where(node, |d| d.coarse)
    }

    /// Pushes to `out` the nodes that fail a constraint on a key that is not coarse.
    pub(crate) fn fine_blocked(&self, out: &mut Vec<usize>) {
        for ((c, &self_match), (domains, counts, min)) in
            self.constraints.iter().zip(&self.self_match).zip(&self.per_constraint)
        {
            if domains.coarse {
                continue;
            }
            out.extend(domains.missing.iter().map(|&n| n as usize));
            let skewed = |count: i64| count + i64::from(self_match) - min > c.max_skew;
            // Only domains holding pods can be too far ahead, unless even an empty one is.
            let candidates = if skewed(0) { (0..domains.count as u32).collect() } else { counts.positive() };
            for d in candidates {
                if skewed(counts.get(d)) {
                    out.extend(domains.nodes(d as usize).iter().map(|&n| n as usize));
                }
            }
        }
    }

    fn filter_where(&self, node: usize, check: impl Fn(&Domains) -> bool) -> Option<ReasonId> {
        for ((c, &self_match), (domains, counts, min)) in
            self.constraints.iter().zip(&self.self_match).zip(&self.per_constraint)
        {
            if !check(domains) {
                continue;
            }
            let d = domains.of_node[node];
            if d == NO_DOMAIN {
                return Some(SPREAD_MISSING_LABEL);
            }
            if counts.get(d) + i64::from(self_match) - min > c.max_skew {
                return Some(SPREAD);
            }
        }
        None
    }
}

/// PreScore state of one pending pod (its `ScheduleAnyway` constraints).
#[derive(Debug, Default)]
pub(crate) struct SpreadScore<'a> {
    constraints: Vec<Constraint<'a>>,
    /// Per constraint: matching pods per domain value (domains of non-ignored candidates).
    counts: Vec<HashMap<&'a str, i64>>,
    weights: Vec<f64>,
    /// Per candidate (by position): ignored for lacking a key.
    ignored: Vec<bool>,
    /// Per constraint: matching pods per node.
    per_node: Vec<Vec<u32>>,
}

impl<'a> SpreadScore<'a> {
    pub(crate) fn new(
        cluster: &Cluster<'a>,
        pod: &'a Pod,
        candidates: &[usize],
        defaults: Defaults<'a>,
        deduced: Option<&LabelSelector>,
    ) -> SpreadScore<'a> {
        let (constraints, own) = constraints_for(pod, defaults, deduced, WhenUnsatisfiable::ScheduleAnyway);
        // Only the system defaults let nodes without every key be scored (on the keys they have).
        let require_all = own || !defaults.system;
        let state = SpreadScore::default();
        if constraints.is_empty() {
            return state;
        }
        let mut counts: Vec<HashMap<&'a str, i64>> = vec![HashMap::default(); constraints.len()];
        let mut ignored = Vec::with_capacity(candidates.len());
        for &n in candidates {
            let labels = &cluster.nodes[n].labels;
            let skip = require_all && !has_all_keys(labels, &constraints);
            ignored.push(skip);
            if skip {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.key != HOSTNAME
                    && let Some(v) = labels.get(c.key)
                {
                    counts[i].entry(v.as_str()).or_insert(0);
                }
            }
        }
        let scored = ignored.iter().filter(|i| !**i).count();
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, domains)| {
                let size = if c.key == HOSTNAME { scored } else { domains.len() };
                ((size + 2) as f64).ln()
            })
            .collect();
        let per_node: Vec<Vec<u32>> = constraints.iter().map(|c| counts_per_node(cluster, c, pod)).collect();
        let required = Required::of_pod(pod);
        for (n, node) in cluster.nodes.iter().enumerate() {
            if require_all && !has_all_keys(&node.labels, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.key == HOSTNAME || !c.includes(&required, pod, node) {
                    continue;
                }
                let Some(v) = node.labels.get(c.key) else { continue };
                if let Some(slot) = counts[i].get_mut(v.as_str()) {
                    *slot += i64::from(per_node[i][n]);
                }
            }
        }
        SpreadScore { constraints, counts, weights, ignored, per_node }
    }

    /// True when the pod has no `ScheduleAnyway` constraints (the plugin is skipped).
    pub(crate) fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Raw score of the candidate at `position` (node `node`).
    pub(crate) fn score(&self, cluster: &Cluster<'_>, position: usize, node: usize) -> i64 {
        if self.ignored[position] {
            return 0;
        }
        let labels = &cluster.nodes[node].labels;
        let mut score = 0f64;
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(v) = labels.get(c.key) else { continue };
            let count = if c.key == HOSTNAME {
                i64::from(self.per_node[i][node])
            } else {
                self.counts[i].get(v.as_str()).copied().unwrap_or(0)
            };
            score += count as f64 * self.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    /// kube-scheduler's normalisation: `100 × (max + min − s) / max`; ignored nodes get 0.
    pub(crate) fn normalize(&self, scores: &mut [i64]) {
        if self.constraints.is_empty() {
            scores.iter_mut().for_each(|s| *s = 0);
            return;
        }
        let mut min = i64::MAX;
        let mut max = 0;
        for (s, ignored) in scores.iter().zip(&self.ignored) {
            if !ignored {
                min = min.min(*s);
                max = max.max(*s);
            }
        }
        for (s, ignored) in scores.iter_mut().zip(&self.ignored) {
            *s = if *ignored {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
    }
}
