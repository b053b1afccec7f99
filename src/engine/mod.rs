//! The pure placement engine: filter → score → select, for each pending pod in turn.
//!
//! [`Engine::place`] runs kube-scheduler's default filter and score plugins (as configured by
//! the [`Policy`]) over **every** node — kube-scheduler samples a share of the nodes on large
//! clusters; spillway scores all feasible ones — and picks the best total. Ties are broken by a
//! stable hash of the pod's uid and the node's name, so equal nodes share the load
//! deterministically instead of "first node by name". Each placement is assumed before the next
//! pod is considered, so later pods see earlier pods' usage.
//!
//! Differences from kube-scheduler, all deliberate:
//! - every feasible node is scored (no `percentageOfNodesToScore` sampling);
//! - a single feasible node is still scored, so its score is reported;
//! - tie-breaking is a deterministic hash instead of reservoir sampling.

mod cluster;
mod groups;
mod plan;
mod plugins;
mod pod_info;
mod reasons;
mod terms;

use std::collections::BTreeMap;

use crate::model::{FilterPlugin, Pod, Policy, PolicyError, ScorePlugin, Snapshot};

use cluster::{Cluster, ResourceId, tie_key};
use plugins::inter_pod_affinity::{AffinityFilter, AffinityScore};
use plugins::node_resources_fit::Fit;
use plugins::pod_topology_spread::{Defaults as SpreadDefaults, SpreadFilter, SpreadScore, deduced_selector};
use plugins::{
    balanced_allocation, default_normalize, node_affinity, node_name, node_ports, node_unschedulable, taint_toleration,
};
use pod_info::{NameSubset, PodInfo};
use reasons::ReasonId;
use terms::PodTerms;

pub use plan::{Decision, Diagnosis, Explanation, NodeVerdict, Outcome, Plan};

/// Options of one placement run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaceOptions {
    /// Record, for every pod, every node's filter reasons and scores ([`Decision::explanation`]).
    /// Every filter plugin then runs on every node, not only up to the first failure.
    pub explain: bool,
}

/// The placement engine: a validated policy, ready to place pods. Cheap to share (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
    /// PodTopologySpread's default constraints in force (system or listed).
    spread_defaults: Vec<crate::model::TopologySpreadConstraint>,
}

/// Per-run resolution of the policy against a cluster's resource ids.
struct Resolved<'a> {
    filters: &'a [FilterPlugin],
    scores: Vec<(ScorePlugin, i64)>,
    fit: Fit,
    balanced: Vec<Option<ResourceId>>,
    added: Option<&'a crate::model::NodeAffinity>,
    added_required: node_affinity::Required<'a>,
    inter_pod: &'a crate::model::InterPodAffinityArgs,
    spread_defaults: SpreadDefaults<'a>,
}

/// What the filters and scores know of the pod being placed (kube's PreFilter state).
struct PodCtx<'a> {
    info: PodInfo<'a>,
    terms: PodTerms<'a>,
    affinity: Option<AffinityFilter<'a>>,
    spread: Option<SpreadFilter<'a>>,
    /// The selector of the pod's default spread constraints (when it has none of its own).
    spread_selector: Option<crate::model::LabelSelector>,
}

/// Buffers reused from pod to pod so the hot loop does not allocate per node.
#[derive(Default)]
struct Scratch {
    reasons: Vec<ReasonId>,
    counts: Vec<usize>,
    feasible: Vec<usize>,
    raw: Vec<i64>,
    totals: Vec<i64>,
}

impl Engine {
    /// Validates `policy` and builds an engine.
    pub fn new(policy: Policy) -> Result<Engine, PolicyError> {
        policy.validate()?;
        let spread_defaults = policy.profile.pod_topology_spread.effective_defaults();
        Ok(Engine { policy, spread_defaults })
    }

    /// The engine's policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Places `pending` pods onto the snapshot's nodes. Infallible: a pod that fits nowhere gets
    /// an [`Outcome::Unschedulable`] decision with kube-scheduler's diagnosis.
    pub fn place(&self, snapshot: &Snapshot, pending: &[Pod]) -> Plan {
        self.place_with(snapshot, pending, PlaceOptions::default())
    }

    /// [`place`](Self::place) with options (e.g. explanations).
    pub fn place_with(&self, snapshot: &Snapshot, pending: &[Pod], options: PlaceOptions) -> Plan {
        let profile = &self.policy.profile;
        let mut cluster = Cluster::new(snapshot, pending, profile.inter_pod_affinity.hard_pod_affinity_weight);
        let resolved = Resolved {
            filters: &profile.filters,
            scores: profile.scores.iter().map(|s| (s.name, s.weight)).collect(),
            fit: Fit::new(&profile.node_resources_fit, &cluster),
            balanced: profile.balanced_allocation.resources.iter().map(|r| cluster.resources.id(&r.name)).collect(),
            added: profile.node_affinity.added_affinity.as_ref(),
            added_required: node_affinity::Required::added(profile.node_affinity.added_affinity.as_ref()),
            inter_pod: &profile.inter_pod_affinity,
            spread_defaults: SpreadDefaults {
                constraints: &self.spread_defaults,
                system: profile.pod_topology_spread.defaulting_type == crate::model::DefaultingType::System,
            },
        };
        let mut order: Vec<&Pod> = pending.iter().collect();
        order.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.creation_order.cmp(&b.creation_order))
                .then_with(|| a.namespace.cmp(&b.namespace))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut scratch = Scratch::default();
        let units =
            groups::units(&order, snapshot.groups(), &cluster, profile.inter_pod_affinity.hard_pod_affinity_weight);
        let mut decisions = Vec::with_capacity(order.len());
        for unit in units {
            if unit.requirements.is_empty() {
                for &m in &unit.members {
                    decisions.push(place_one(&mut cluster, &resolved, order[m], options, &mut scratch));
                }
                continue;
            }
            let mark = cluster.mark();
            let placed: Vec<(usize, Decision)> = unit
                .members
                .iter()
                .map(|&m| (m, place_one(&mut cluster, &resolved, order[m], options, &mut scratch)))
                .collect();
            let unmet: Vec<String> = unit
                .requirements
                .iter()
                .filter_map(|req| {
                    let fit = placed.iter().filter(|(m, d)| req.members.contains(m) && d.node().is_some()).count();
                    (fit < req.min).then(|| {
                        format!(
                            "{} cannot be placed whole: {fit} of its {} pending pods fit, {} needed",
                            req.label,
                            req.members.len(),
                            req.min
                        )
                    })
                })
                .collect();
            if unmet.is_empty() {
                decisions.extend(placed.into_iter().map(|(_, d)| d));
                continue;
            }
            // All or nothing: take back the members that fit and tell each why.
            cluster.rollback(mark);
            let message = format!("{}.", unmet.join("; "));
            for (_, mut d) in placed {
                if d.node().is_some() {
                    d.outcome =
                        Outcome::Unschedulable(Diagnosis { message: message.clone(), reasons: BTreeMap::new() });
                }
                decisions.push(d);
            }
        }
        Plan { decisions }
    }
}

fn run_filter(
    plugin: FilterPlugin,
    cluster: &Cluster<'_>,
    r: &Resolved<'_>,
    ctx: &PodCtx<'_>,
    node: usize,
    out: &mut Vec<ReasonId>,
) {
    let pod = &ctx.info;
    match plugin {
        FilterPlugin::NodeUnschedulable => node_unschedulable::filter(cluster, pod, node, out),
        FilterPlugin::NodeName => node_name::filter(cluster, pod, node, out),
        FilterPlugin::TaintToleration => taint_toleration::filter(cluster, pod, node, out),
        FilterPlugin::NodeAffinity => node_affinity::filter(cluster, &r.added_required, pod, node, out),
        FilterPlugin::NodePorts => node_ports::filter(cluster, pod, node, out),
        FilterPlugin::NodeResourcesFit => r.fit.filter(cluster, pod, node, out),
        FilterPlugin::PodTopologySpread => {
            if let Some(reason) = ctx.spread.as_ref().and_then(|s| s.filter(&cluster.nodes[node].labels)) {
                out.push(reason);
            }
        }
        FilterPlugin::InterPodAffinity => {
            if let Some(reason) = ctx.affinity.as_ref().and_then(|a| a.filter(&ctx.terms, &cluster.nodes[node].labels))
            {
                out.push(reason);
            }
        }
    }
}

/// Raw scores of one plugin over the feasible nodes, normalised in place to 0–100.
fn run_score<'a>(
    plugin: ScorePlugin,
    cluster: &Cluster<'a>,
    r: &Resolved<'_>,
    ctx: &PodCtx<'a>,
    feasible: &[usize],
    out: &mut Vec<i64>,
) {
    let pod = &ctx.info;
    out.clear();
    match plugin {
        ScorePlugin::TaintToleration => {
            out.extend(feasible.iter().map(|&n| taint_toleration::score(cluster, pod, n)));
            default_normalize(out, true);
        }
        ScorePlugin::NodeAffinity => {
            out.extend(feasible.iter().map(|&n| node_affinity::score(cluster, pod, n)));
            default_normalize(out, false);
        }
        ScorePlugin::NodeResourcesFit => out.extend(feasible.iter().map(|&n| r.fit.score(cluster, pod, n))),
        ScorePlugin::PodTopologySpread => {
            let state = SpreadScore::new(cluster, pod.pod, feasible, r.spread_defaults, ctx.spread_selector.as_ref());
            out.extend(
                feasible.iter().enumerate().map(
                    |(i, &n)| {
                        if state.is_empty() { 0 } else { state.score(cluster, pod.pod, i, n) }
                    },
                ),
            );
            state.normalize(out);
        }
        ScorePlugin::InterPodAffinity => {
            let state = AffinityScore::new(
                cluster,
                pod.pod,
                &ctx.terms,
                r.inter_pod.hard_pod_affinity_weight,
                r.inter_pod.ignore_preferred_terms_of_existing_pods,
            );
            out.extend(feasible.iter().map(|&n| state.score(&cluster.nodes[n].labels)));
            state.normalize(out);
        }
        ScorePlugin::NodeResourcesBalancedAllocation => {
            // kube-scheduler skips the plugin for pods that request none of its resources.
            if r.balanced.iter().flatten().all(|&id| pod.request(id) == 0) {
                out.resize(feasible.len(), 0);
            } else {
                out.extend(feasible.iter().map(|&n| balanced_allocation::score(cluster, &r.balanced, pod, n)));
            }
        }
    }
}

fn outside_reason(info: &PodInfo<'_>) -> ReasonId {
    if info.name_subset == NameSubset::Conflict { reasons::TERMS_CONFLICT } else { reasons::OUTSIDE_NODE_NAMES }
}

fn place_one<'a>(
    cluster: &mut Cluster<'a>,
    r: &Resolved<'a>,
    pod: &'a Pod,
    options: PlaceOptions,
    s: &mut Scratch,
) -> Decision {
    let terms = PodTerms::new(pod, r.inter_pod.hard_pod_affinity_weight);
    let spread_on = r.filters.contains(&FilterPlugin::PodTopologySpread)
        || r.scores.iter().any(|(p, _)| *p == ScorePlugin::PodTopologySpread);
    let spread_selector =
        (spread_on && pod.topology_spread_constraints.is_empty() && !r.spread_defaults.constraints.is_empty())
            .then(|| deduced_selector(cluster.workloads, pod))
            .flatten();
    let ctx = PodCtx {
        info: PodInfo::new(pod, cluster, r.added),
        affinity: r
            .filters
            .contains(&FilterPlugin::InterPodAffinity)
            .then(|| AffinityFilter::new(cluster, pod, &terms)),
        spread: r
            .filters
            .contains(&FilterPlugin::PodTopologySpread)
            .then(|| SpreadFilter::new(cluster, pod, r.spread_defaults, spread_selector.as_ref())),
        terms,
        spread_selector,
    };
    let info = &ctx.info;
    let n = cluster.nodes.len();
    s.counts.clear();
    s.counts.resize(cluster.reasons.len(), 0);
    s.feasible.clear();
    let mut verdicts: Option<BTreeMap<String, NodeVerdict>> = options.explain.then(BTreeMap::new);

    let use_subset = r.filters.contains(&FilterPlugin::NodeAffinity);
    for node in 0..n {
        s.reasons.clear();
        // Nodes outside NodeAffinity's PreFilter subset are not evaluated by kube-scheduler;
        // they all share one reason.
        let outside = use_subset && info.name_subset.excludes(&cluster.nodes[node].name);
        match verdicts.as_mut() {
            None if outside => {
                s.reasons.push(outside_reason(info));
                s.counts[s.reasons[0] as usize] += 1;
            }
            None => {
                for &f in r.filters {
                    run_filter(f, cluster, r, &ctx, node, &mut s.reasons);
                    if !s.reasons.is_empty() {
                        break;
                    }
                }
                for &id in &s.reasons {
                    s.counts[id as usize] += 1;
                }
            }
            Some(verdicts) => {
                let mut verdict = NodeVerdict::default();
                let mut counted = false;
                if outside {
                    counted = true;
                    s.counts[outside_reason(info) as usize] += 1;
                }
                for &f in r.filters {
                    let start = s.reasons.len();
                    if outside && f == FilterPlugin::NodeAffinity {
                        s.reasons.push(outside_reason(info));
                    } else {
                        run_filter(f, cluster, r, &ctx, node, &mut s.reasons);
                    }
                    let mine = &s.reasons[start..];
                    if !mine.is_empty() && !counted {
                        // The diagnosis counts the first failing plugin only, as kube-scheduler does.
                        counted = true;
                        for &id in mine {
                            s.counts[id as usize] += 1;
                        }
                    }
                    let texts = mine.iter().map(|&id| cluster.reasons.text(id).to_string()).collect();
                    verdict.filters.insert(f.name().to_string(), texts);
                }
                verdict.feasible = s.reasons.is_empty();
                verdicts.insert(cluster.nodes[node].name.clone(), verdict);
            }
        }
        if s.reasons.is_empty() {
            s.feasible.push(node);
        }
    }

    if s.feasible.is_empty() {
        let diagnosis = cluster.reasons.diagnosis(n, &s.counts);
        return Decision {
            pod: pod.key(),
            outcome: Outcome::Unschedulable(diagnosis),
            explanation: verdicts.map(|nodes| Explanation { nodes }),
        };
    }

    s.totals.clear();
    s.totals.resize(s.feasible.len(), 0);
    for &(plugin, weight) in &r.scores {
        run_score(plugin, cluster, r, &ctx, &s.feasible, &mut s.raw);
        for (i, score) in s.raw.iter().enumerate() {
            s.totals[i] += score * weight;
        }
        if let Some(verdicts) = verdicts.as_mut() {
            for (i, &node) in s.feasible.iter().enumerate() {
                if let Some(v) = verdicts.get_mut(&cluster.nodes[node].name) {
                    v.scores.insert(plugin.name().to_string(), s.raw[i]);
                }
            }
        }
    }

    let mut best = 0;
    for i in 1..s.feasible.len() {
        let (a, b) = (s.feasible[i], s.feasible[best]);
        let better = s.totals[i] > s.totals[best]
            || (s.totals[i] == s.totals[best]
                && tie_key(info.hash, cluster.name_hash[a]) < tie_key(info.hash, cluster.name_hash[b]));
        if better {
            best = i;
        }
    }
    if let Some(verdicts) = verdicts.as_mut() {
        for (i, &node) in s.feasible.iter().enumerate() {
            if let Some(v) = verdicts.get_mut(&cluster.nodes[node].name) {
                v.total = Some(s.totals[i]);
            }
        }
    }
    let node = s.feasible[best];
    let score = s.totals[best];
    let PodCtx { info, terms, .. } = ctx;
    cluster.assume(node, pod, terms, &info.req, info.nz_cpu, info.nz_mem);
    Decision {
        pod: pod.key(),
        outcome: Outcome::Node { node: cluster.nodes[node].name.clone(), score },
        explanation: verdicts.map(|nodes| Explanation { nodes }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }
}
