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

mod burst;
mod classes;
mod cluster;
mod drain;
pub(crate) mod fxhash;
mod groups;
mod matchers;
mod plan;
mod plugins;
mod pod_info;
mod reasons;
mod score_cache;
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

pub use plan::{Decision, Diagnosis, Explanation, NodeVerdict, Outcome, Plan, PoolVerdict, Summary, TargetVerdict};

use crate::model::{BurstMode, BurstPolicy, BurstTarget, Money, NodePool};
use burst::Books;

pub use drain::{DrainBudget, DrainPlan, Move, Stay};

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
    burst: &'a BurstPolicy,
    targets: &'a [BurstTarget],
    /// Per target, a hash of its name (tie-breaking between equally priced targets).
    target_hash: Vec<u64>,
    pools: &'a [NodePool],
    /// Every total fits the kept scores ([`score_cache::MAX_TOTAL`]): the plugins' weights
    /// times the highest node score sum to no more. Else every pod takes the plain path.
    keep_scores: bool,
}

/// What the filters and scores know of the pod being placed (kube's PreFilter state).
struct PodCtx<'a> {
    info: PodInfo<'a>,
    terms: PodTerms<'a>,
    affinity: Option<AffinityFilter>,
    spread: Option<SpreadFilter<'a>>,
    /// The selector of the pod's default spread constraints (when it has none of its own).
    spread_selector: Option<crate::model::LabelSelector>,
    /// InterPodAffinity's PreScore state (when the plugin scores).
    affinity_score: Option<AffinityScore<'a>>,
}

/// Buffers reused from pod to pod so the hot loop does not allocate per node.
#[derive(Default)]
struct Scratch {
    classes: classes::Classes,
    reasons: Vec<ReasonId>,
    counts: Vec<usize>,
    feasible: Vec<usize>,
    raw: Vec<i64>,
    totals: Vec<i64>,
    /// Node verdicts and scores kept from pod to pod (see [`score_cache`]).
    scores: score_cache::ScoreCache,
    /// Evaluate every pod on every node, without `scores` ([`Engine::place_reference`]).
    reference: bool,
    /// The placed pods whose inter-pod terms may concern the pod being placed.
    about: Vec<usize>,
    /// The pod's node-local evaluations per resource state.
    memo: StateMemo,
}

/// The node-local evaluations of the pod being placed, per resource state
/// ([`Cluster::state`]): nodes that pass every static filter and share a state get the same
/// verdict and node-local scores, so each state is evaluated once per pod (freshly built
/// clusters, autoscaled nodes and nodes running only DaemonSets share a few states).
#[derive(Default)]
struct StateMemo {
    /// Per state, the generation its value was computed in.
    stamp: Vec<u32>,
    value: Vec<score_cache::NodeEval>,
    generation: u32,
}

impl StateMemo {
    /// Forgets every value (a new pod), with room for `states` states.
    fn start(&mut self, states: usize) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
        if self.stamp.len() < states {
            self.stamp.resize(states, 0);
            self.value.resize(states, score_cache::NodeEval::feasible(0));
        }
    }

    /// The value of `state`, computed with `eval` unless known.
    #[inline]
    fn get(&mut self, state: u32, eval: impl FnOnce() -> score_cache::NodeEval) -> score_cache::NodeEval {
        let i = state as usize;
        if self.stamp[i] == self.generation {
            return self.value[i];
        }
        let v = eval();
        self.stamp[i] = self.generation;
        self.value[i] = v;
        v
    }
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

    /// Resolves the policy against one run's cluster. `vm_only` leaves burst targets and pools
    /// out (drain-back moves pods onto VM nodes only).
    fn resolve<'a>(&'a self, snapshot: &'a Snapshot, cluster: &Cluster<'_>, vm_only: bool) -> Resolved<'a> {
        let profile = &self.policy.profile;
        Resolved {
            filters: &profile.filters,
            scores: profile.scores.iter().map(|s| (s.name, s.weight)).collect(),
            fit: Fit::new(&profile.node_resources_fit, cluster),
            balanced: profile.balanced_allocation.resources.iter().map(|r| cluster.resources.id(&r.name)).collect(),
            added: profile.node_affinity.added_affinity.as_ref(),
            added_required: node_affinity::Required::added(profile.node_affinity.added_affinity.as_ref()),
            inter_pod: &profile.inter_pod_affinity,
            spread_defaults: SpreadDefaults {
                constraints: &self.spread_defaults,
                system: profile.pod_topology_spread.defaulting_type == crate::model::DefaultingType::System,
            },
            burst: &self.policy.burst,
            targets: if vm_only { &[] } else { snapshot.burst_targets() },
            target_hash: snapshot.burst_targets().iter().map(|t| cluster::tie_hash(t.name.as_bytes())).collect(),
            pools: if vm_only { &[] } else { snapshot.node_pools() },
            keep_scores: profile
                .scores
                .iter()
                .try_fold(0i64, |sum, s| sum.checked_add(s.weight.checked_mul(plugins::MAX_NODE_SCORE)?))
                .is_some_and(|most| most <= score_cache::MAX_TOTAL),
        }
    }

    /// Places `pending` pods onto the snapshot's nodes. Infallible: a pod that fits nowhere gets
    /// an [`Outcome::Unschedulable`] decision with kube-scheduler's diagnosis.
    pub fn place(&self, snapshot: &Snapshot, pending: &[Pod]) -> Plan {
        self.place_with(snapshot, pending, PlaceOptions::default())
    }

    /// [`place`](Self::place) with options (e.g. explanations).
    pub fn place_with(&self, snapshot: &Snapshot, pending: &[Pod], options: PlaceOptions) -> Plan {
        let pending: Vec<&Pod> = pending.iter().collect();
        self.run(snapshot, &pending, options, false, &mut |_| {})
    }

    /// [`place`](Self::place) over borrowed pods, for callers that keep their pending pods
    /// elsewhere (a controller's state, say) and would otherwise clone them for each call.
    ///
    /// ```
    /// use spillway::{Engine, Node, Pod, Policy, Resources, Snapshot};
    /// let node = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "2"), ("pods", "110")])?);
    /// let snapshot = Snapshot::new(vec![node], vec![])?;
    /// let kept = vec![Pod::new("shop", "web-0"), Pod::new("shop", "web-1")];
    /// let engine = Engine::new(Policy::default())?;
    /// let plan = engine.place_refs(&snapshot, &kept.iter().collect::<Vec<_>>());
    /// assert_eq!(plan, engine.place(&snapshot, &kept));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn place_refs(&self, snapshot: &Snapshot, pending: &[&Pod]) -> Plan {
        self.run(snapshot, pending, PlaceOptions::default(), false, &mut |_| {})
    }

    /// [`place_refs`](Self::place_refs) with options, handing each decision to `observe` as
    /// soon as it is final, in placement order (highest priority first, then oldest): a
    /// controller can start binding the first pods while later ones are still being placed,
    /// and a benchmark can time each pod. The members of a co-scheduled group are handed over
    /// together once the group is placed whole or not at all. The plan returned is the same
    /// as [`place_with`](Self::place_with)'s, and holds the same decisions in its order.
    ///
    /// ```
    /// use spillway::{Engine, Node, Pod, Policy, Resources, Snapshot, PlaceOptions};
    /// let node = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "2"), ("pods", "110")])?);
    /// let snapshot = Snapshot::new(vec![node], vec![])?;
    /// let pending = vec![Pod::new("shop", "web-0"), Pod::new("shop", "web-1")];
    /// let engine = Engine::new(Policy::default())?;
    /// let mut seen = Vec::new();
    /// let refs: Vec<&Pod> = pending.iter().collect();
    /// let plan = engine.place_observed(&snapshot, &refs, PlaceOptions::default(), |d| seen.push(d.pod.clone()));
    /// assert_eq!(seen, ["shop/web-0", "shop/web-1"]);
    /// assert_eq!(plan, engine.place(&snapshot, &pending));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn place_observed(
        &self,
        snapshot: &Snapshot,
        pending: &[&Pod],
        options: PlaceOptions,
        mut observe: impl FnMut(&Decision),
    ) -> Plan {
        self.run(snapshot, pending, options, false, &mut observe)
    }

    /// [`place`](Self::place) the simple way: every pending pod's filters and scores run on
    /// every node, with none of the scores kept from one pod to the next. It gives the same
    /// plan as [`place`](Self::place), more slowly; it exists so that tests (and users who
    /// doubt an answer) can check the optimised path against it.
    ///
    /// ```
    /// use spillway::{Engine, Node, Pod, Policy, Resources, Snapshot};
    ///
    /// let nodes = (0..3)
    ///     .map(|i| Node::new(format!("vm-{i}")).with_allocatable(Resources::parse([("cpu", "2"), ("memory", "4Gi"), ("pods", "110")]).unwrap()))
    ///     .collect();
    /// let snapshot = Snapshot::new(nodes, vec![])?;
    /// let pending: Vec<Pod> = (0..5)
    ///     .map(|i| Pod::new("shop", format!("web-{i}")).with_container(Resources::parse([("cpu", "500m"), ("memory", "1Gi")]).unwrap()))
    ///     .collect();
    /// let engine = Engine::new(Policy::default())?;
    /// assert_eq!(engine.place(&snapshot, &pending), engine.place_reference(&snapshot, &pending));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn place_reference(&self, snapshot: &Snapshot, pending: &[Pod]) -> Plan {
        let pending: Vec<&Pod> = pending.iter().collect();
        self.run(snapshot, &pending, PlaceOptions::default(), true, &mut |_| {})
    }

    fn run(
        &self,
        snapshot: &Snapshot,
        pending: &[&Pod],
        options: PlaceOptions,
        reference: bool,
        observe: &mut dyn FnMut(&Decision),
    ) -> Plan {
        let profile = &self.policy.profile;
        let mut cluster = Cluster::new(snapshot, pending, profile.inter_pod_affinity.hard_pod_affinity_weight);
        let resolved = self.resolve(snapshot, &cluster, false);
        let mut books = Books::new(snapshot);
        let spend_before = books.spend();
        let mut order: Vec<&Pod> = pending.to_vec();
        order.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.creation_order.cmp(&b.creation_order))
                .then_with(|| a.namespace.cmp(&b.namespace))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut scratch = Scratch { reference, ..Scratch::default() };
        if !reference && !options.explain && resolved.keep_scores {
            register_classes(&cluster, &resolved, &order, &mut scratch);
        }
        let units =
            groups::units(&order, snapshot.groups(), &cluster, profile.inter_pod_affinity.hard_pod_affinity_weight);
        let mut decisions = Vec::with_capacity(order.len());
        for unit in units {
            if unit.requirements.is_empty() {
                for &m in unit.members() {
                    let d = place_one(&mut cluster, &mut books, &resolved, order[m], options, &mut scratch);
                    observe(&d);
                    decisions.push(d);
                }
                continue;
            }
            let mark = cluster.mark();
            let books_before = books.clone();
            let placed: Vec<(usize, Decision)> = unit
                .members()
                .iter()
                .map(|&m| (m, place_one(&mut cluster, &mut books, &resolved, order[m], options, &mut scratch)))
                .collect();
            let unmet: Vec<String> = unit
                .requirements
                .iter()
                .filter_map(|req| {
                    let fit = placed.iter().filter(|(m, d)| req.members.contains(m) && d.is_placed()).count();
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
                for (_, d) in placed {
                    observe(&d);
                    decisions.push(d);
                }
                continue;
            }
            // All or nothing: take back the members that fit and tell each why.
            cluster.rollback(mark);
            books = books_before;
            let message = format!("{}.", unmet.join("; "));
            for (_, mut d) in placed {
                if !matches!(d.outcome, Outcome::Unschedulable(_)) {
                    d.outcome =
                        Outcome::Unschedulable(Diagnosis { message: message.clone(), reasons: BTreeMap::new() });
                }
                observe(&d);
                decisions.push(d);
            }
        }
        let summary = summarize(&decisions, spend_before, books.spend());
        Plan { decisions, summary }
    }
}

fn summarize(decisions: &[Decision], spend_before: Money, spend_after: Money) -> Summary {
    let mut summary = Summary {
        burst_cost_per_hour: Money::from_micros(spend_after.micros() - spend_before.micros()),
        total_burst_cost_per_hour: spend_after,
        ..Summary::default()
    };
    for d in decisions {
        match d.outcome {
            Outcome::Node { .. } => summary.nodes += 1,
            Outcome::Burst { .. } => summary.bursts += 1,
            Outcome::Wait { .. } => summary.waits += 1,
            Outcome::Unschedulable(_) => summary.unschedulable += 1,
        }
    }
    summary
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
            if let Some(reason) = ctx.spread.as_ref().and_then(|s| s.filter(node)) {
                out.push(reason);
            }
        }
        FilterPlugin::InterPodAffinity => {
            if let Some(reason) = ctx.affinity.as_ref().and_then(|a| a.filter(node)) {
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
    class: Option<&classes::Class>,
    feasible: &[usize],
    out: &mut Vec<i64>,
) {
    let pod = &ctx.info;
    let nodes = cluster.nodes.len();
    out.clear();
    match plugin {
        ScorePlugin::TaintToleration => {
            match class {
                Some(c) => {
                    let raw = c.taint_raw(nodes, |n| taint_toleration::score(cluster, pod, n));
                    out.extend(feasible.iter().map(|&n| raw[n]));
                }
                None => out.extend(feasible.iter().map(|&n| taint_toleration::score(cluster, pod, n))),
            }
            default_normalize(out, true);
        }
        ScorePlugin::NodeAffinity => {
            match class {
                Some(c) if !pod.preferred.is_empty() => {
                    let raw = c.affinity_raw(nodes, |n| node_affinity::score(cluster, pod, n));
                    out.extend(feasible.iter().map(|&n| raw[n]));
                }
                _ => out.extend(feasible.iter().map(|&n| node_affinity::score(cluster, pod, n))),
            }
            default_normalize(out, false);
        }
        ScorePlugin::NodeResourcesFit => {
            let scored = r.fit.prepare(pod);
            out.extend(feasible.iter().map(|&n| r.fit.score(cluster, &scored, n)));
        }
        ScorePlugin::PodTopologySpread => {
            let state = SpreadScore::new(cluster, pod.pod, feasible, r.spread_defaults, ctx.spread_selector.as_ref());
            out.extend(feasible.iter().enumerate().map(
                |(i, &n)| {
                    if state.is_empty() { 0 } else { state.score(cluster, i, n) }
                },
            ));
            state.normalize(out);
        }
        ScorePlugin::InterPodAffinity => {
            let empty = AffinityScore::default();
            let state = ctx.affinity_score.as_ref().unwrap_or(&empty);
            if state.is_empty() {
                // Nothing counted: every node scores 0 (kube skips the plugin).
                out.resize(feasible.len(), 0);
            } else {
                out.extend(feasible.iter().map(|&n| state.score(&cluster.nodes[n].labels)));
                state.normalize(out);
            }
        }
        ScorePlugin::NodeResourcesBalancedAllocation => match balanced_requests(r, pod) {
            None => out.resize(feasible.len(), 0),
            Some(requests) => out.extend(feasible.iter().map(|&n| balanced_allocation::score(cluster, &requests, n))),
        },
    }
}

/// BalancedAllocation's per-pod input; `None` when kube-scheduler skips the plugin because the
/// pod requests none of its resources.
fn balanced_requests(r: &Resolved<'_>, pod: &PodInfo<'_>) -> Option<Vec<(ResourceId, i64)>> {
    if r.balanced.iter().flatten().all(|&id| pod.request(id) == 0) {
        None
    } else {
        Some(balanced_allocation::prepare(&r.balanced, pod))
    }
}

/// The reasons of the first filter that fails on `node`, pushed to `out` (none: the node is
/// feasible): what kube-scheduler's diagnosis counts. `active` are the filters that can fail
/// for the pod, with their position in the profile; static ones are read off `class`.
#[allow(clippy::too_many_arguments)] // the pod's whole context, shared by two call sites
fn node_reasons(
    cluster: &Cluster<'_>,
    r: &Resolved<'_>,
    ctx: &PodCtx<'_>,
    class: Option<&classes::Class>,
    active: &[(usize, FilterPlugin)],
    use_subset: bool,
    node: usize,
    out: &mut Vec<ReasonId>,
) {
    // Nodes outside NodeAffinity's PreFilter subset are not evaluated by kube-scheduler; they
    // all share one reason.
    if use_subset && ctx.info.name_subset.excludes(&cluster.nodes[node].name) {
        out.push(outside_reason(&ctx.info));
        return;
    }
    for &(i, f) in active {
        match class {
            Some(c) if classes::is_static(f) => {
                if usize::from(c.fail_at[node]) == i {
                    out.push(c.fail_reason[node]);
                }
            }
            _ => run_filter(f, cluster, r, ctx, node, out),
        }
        if !out.is_empty() {
            break;
        }
    }
}

/// Whether every filter and score of the pod reads only the node it evaluates: no topology
/// spread constraint and no inter-pod term (its own or a placed pod's) applies to it. Such a
/// pod's verdicts and scores can be kept per node ([`score_cache`]).
fn local_only(r: &Resolved<'_>, ctx: &PodCtx<'_>) -> bool {
    ctx.spread.as_ref().is_none_or(|sp| sp.is_empty())
        && ctx.affinity.as_ref().is_none_or(|a| a.passes_all(&ctx.terms))
        && r.scores.iter().all(|&(plugin, _)| match plugin {
            ScorePlugin::PodTopologySpread => plugins::pod_topology_spread::scores_nothing(
                ctx.info.pod,
                r.spread_defaults,
                ctx.spread_selector.as_ref(),
            ),
            ScorePlugin::InterPodAffinity => ctx.affinity_score.as_ref().is_none_or(AffinityScore::is_empty),
            _ => true,
        })
}

/// What the kept-score paths read of the pod being placed: the cluster and resolved policy,
/// the pod's PreFilter state and class, the filters that can fail for it (with their position
/// in the profile), and whether NodeAffinity's name subset applies.
#[derive(Clone, Copy)]
struct Query<'q, 'a, 'p> {
    cluster: &'q Cluster<'a>,
    r: &'q Resolved<'a>,
    ctx: &'q PodCtx<'p>,
    class: &'q std::rc::Rc<classes::Class>,
    active: &'q [(usize, FilterPlugin)],
    use_subset: bool,
}

/// The best node for a [`local_only`] pod from the kept scores of its key: `None` when the
/// key cannot be kept; else the best node and total, and (when no node is feasible) the
/// reason counts of the diagnosis.
#[allow(clippy::type_complexity)] // the kept path's answer, as the plain path reads it
fn cached_best(
    q: Query<'_, '_, '_>,
    cache: &mut score_cache::ScoreCache,
    buf: &mut Vec<ReasonId>,
    memo: &mut StateMemo,
) -> Option<(Option<(usize, i64)>, Option<Vec<usize>>)> {
    let Query { cluster, ctx, .. } = q;
    let partition = cache.partition(&[], &cluster.name_hash, || (vec![0; cluster.nodes.len()], 1))?;
    let (kept, view, order, _) = kept_scores(q, cache, buf, memo, partition)?;
    let best = kept.best(view, order, ctx.info.hash);
    let counts = best.is_none().then(|| kept.counts.clone());
    Some((best, counts))
}

/// What a pod's node-local scores need: its class's raw TaintToleration and NodeAffinity
/// scores, and its requests as NodeResourcesFit and BalancedAllocation read them.
struct LocalScoring<'c> {
    raw: score_cache::Normalised<'c>,
    fit: Option<(Vec<plugins::node_resources_fit::Scored>, i64)>,
    balanced: Option<(Vec<(ResourceId, i64)>, i64)>,
}

impl<'c> LocalScoring<'c> {
    fn new(cluster: &Cluster<'_>, r: &Resolved<'_>, info: &PodInfo<'_>, class: &'c classes::Class) -> LocalScoring<'c> {
        let n = cluster.nodes.len();
        let mut s =
            LocalScoring { raw: score_cache::Normalised { taint: None, affinity: None }, fit: None, balanced: None };
        for &(plugin, weight) in &r.scores {
            match plugin {
                ScorePlugin::TaintToleration => {
                    let scores = class.taint_raw(n, |n| taint_toleration::score(cluster, info, n));
                    s.raw.taint = Some((scores, weight));
                }
                // Without preferred terms every node's raw score is 0, and so is the normalised one.
                ScorePlugin::NodeAffinity if !info.preferred.is_empty() => {
                    let scores = class.affinity_raw(n, |n| node_affinity::score(cluster, info, n));
                    s.raw.affinity = Some((scores, weight));
                }
                ScorePlugin::NodeResourcesFit => s.fit = Some((r.fit.prepare(info), weight)),
                ScorePlugin::NodeResourcesBalancedAllocation => {
                    s.balanced = balanced_requests(r, info).map(|b| (b, weight));
                }
                // Scored per topology domain, if at all (see `local_only` and `domain_best`).
                ScorePlugin::NodeAffinity | ScorePlugin::PodTopologySpread | ScorePlugin::InterPodAffinity => {}
            }
        }
        s
    }

    /// The weighted node-local scores of a feasible `node`.
    fn local(&self, cluster: &Cluster<'_>, r: &Resolved<'_>, node: usize) -> i64 {
        let mut local = 0;
        if let Some((scored, weight)) = &self.fit {
            local += weight * r.fit.score(cluster, scored, node);
        }
        if let Some((requests, weight)) = &self.balanced {
            local += weight * balanced_allocation::score(cluster, requests, node);
        }
        local
    }
}

/// The position in the profile of the first of `active` that reads usage (`usize::MAX`:
/// none): the kept verdicts hold only where every static failure comes before it.
fn first_dynamic(active: &[(usize, FilterPlugin)]) -> usize {
    active.iter().find(|(_, f)| !classes::is_static(*f)).map_or(usize::MAX, |&(i, _)| i)
}

/// The verdict of the pod's filters that read usage (`active`'s dynamic ones) on a node
/// past every static filter, and its weighted node-local score.
#[allow(clippy::too_many_arguments)] // the pod's whole context
fn dynamic_eval(
    cluster: &Cluster<'_>,
    r: &Resolved<'_>,
    ctx: &PodCtx<'_>,
    active: &[(usize, FilterPlugin)],
    scoring: &LocalScoring<'_>,
    node: usize,
    buf: &mut Vec<ReasonId>,
    lists: &mut score_cache::ReasonLists,
) -> score_cache::NodeEval {
    buf.clear();
    for &(_, f) in active.iter().filter(|(_, f)| !classes::is_static(*f)) {
        run_filter(f, cluster, r, ctx, node, buf);
        if !buf.is_empty() {
            return score_cache::NodeEval::infeasible(lists.intern(buf), false);
        }
    }
    score_cache::NodeEval::feasible(scoring.local(cluster, r, node))
}

/// The best node for a pod from the kept scores of its request key, shared with the pods of
/// other classes ([`score_cache`]'s `shared`), under its `topology` rules if any (see
/// [`domain_best`]; `None` for a [`local_only`] pod): `None` when they cannot serve it.
fn shared_best(
    q: Query<'_, '_, '_>,
    cache: &mut score_cache::ScoreCache,
    buf: &mut Vec<ReasonId>,
    topology: Option<&score_cache::Topology<'_>>,
) -> Option<score_cache::SharedBest> {
    let Query { cluster, r, ctx, class, active, use_subset } = q;
    let info = &ctx.info;
    if use_subset && info.name_subset != NameSubset::All {
        return None;
    }
    let scoring = LocalScoring::new(cluster, r, info, class);
    let statics = |node: usize| class_static(class, &scoring, node);
    let query = score_cache::SharedQuery {
        class: std::rc::Rc::as_ptr(class) as usize,
        statics: &statics,
        first_dynamic: first_dynamic(active),
        raw: scoring.raw,
        pod_hash: info.hash,
        reasons: cluster.reasons.len(),
        states: &cluster.state,
    };
    let key = score_cache::ResKey {
        req: info.req.clone(),
        nz_cpu: info.nz_cpu,
        nz_mem: info.nz_mem,
        host_ports: info.pod.host_ports.clone(),
    };
    // The shared scores remember each state's evaluation themselves.
    cache.shared_best(key, &query, topology, &cluster.changes, &cluster.name_hash, |node, lists| {
        dynamic_eval(cluster, r, ctx, active, &scoring, node, buf, lists)
    })
}

/// The kept scores of the pod's key in node order `partition`, brought up to date: `None`
/// when the key cannot be kept. `active` are the pod's filters that read only the node.
fn kept_scores<'c>(
    q: Query<'c, '_, '_>,
    cache: &'c mut score_cache::ScoreCache,
    buf: &mut Vec<ReasonId>,
    memo: &mut StateMemo,
    partition: usize,
) -> Option<(&'c mut score_cache::KeyScores, usize, &'c score_cache::HashOrder, score_cache::Normalised<'c>)> {
    let Query { cluster, r, ctx, class, active, use_subset } = q;
    let info = &ctx.info;
    let scoring = LocalScoring::new(cluster, r, info, class);
    let raw = scoring.raw;
    let first_dynamic = first_dynamic(active);
    // Every node is evaluated (no NodeAffinity name subset): the per-state memo applies.
    let whole = !use_subset || info.name_subset == NameSubset::All;
    memo.start(cluster.states());
    let key = score_cache::ScoreKey {
        class: std::rc::Rc::as_ptr(class) as usize,
        req: info.req.clone(),
        nz_cpu: info.nz_cpu,
        nz_mem: info.nz_mem,
        host_ports: info.pod.host_ports.clone(),
    };
    let (kept, view, order) = cache.get(
        key,
        partition,
        cluster.reasons.len(),
        raw,
        &cluster.changes,
        &cluster.name_hash,
        |node, lists| {
            let fail_at = class.fail_at[node];
            if whole && fail_at == classes::PASS {
                // A node past every static filter is evaluated on its resource state alone.
                memo.get(cluster.state[node], || dynamic_eval(cluster, r, ctx, active, &scoring, node, buf, lists))
            } else if whole && usize::from(fail_at) < first_dynamic {
                // A static filter fails before any that reads usage: that failure alone.
                score_cache::NodeEval::infeasible(lists.intern_one(class.fail_reason[node]), true)
            } else {
                buf.clear();
                node_reasons(cluster, r, ctx, Some(class), active, use_subset, node, buf);
                if !buf.is_empty() {
                    // Outside the name subset, or failing a static filter before any that reads usage.
                    let fixed = (use_subset && info.name_subset.excludes(&cluster.nodes[node].name))
                        || (fail_at != classes::PASS && usize::from(fail_at) < first_dynamic);
                    return score_cache::NodeEval::infeasible(lists.intern(buf), fixed);
                }
                score_cache::NodeEval::feasible(scoring.local(cluster, r, node))
            }
        },
    )?;
    Some((kept, view, order, raw))
}

/// Whether `f` reads other pods' placements across a topology domain.
fn is_topological(f: FilterPlugin) -> bool {
    matches!(f, FilterPlugin::PodTopologySpread | FilterPlugin::InterPodAffinity)
}

/// The best node for a pod with topology spread constraints or inter-pod rules, from the kept
/// scores of its key: the node-local verdicts and scores are kept per node as for a
/// [`local_only`] pod, in a node order grouped by *cells* (the combinations of the pod's
/// coarse topology domains, zones say); the rules on coarse keys are checked once per cell,
/// those on fine keys (hostnames) name the few nodes they keep out, and the inter-pod
/// affinity score is one value per cell. `None` when the pod does not fit that mould (its
/// rules read a node's own pods in a way that passes only a few nodes, spread scoring, the
/// filters in an order where a rule on other pods comes before a node-local one, too many
/// nodes kept out) or the kept totals are not the pod's: it takes the plain path.
#[allow(clippy::type_complexity)] // the kept path's answer, as the plain path reads it
fn domain_best(
    q: Query<'_, '_, '_>,
    cache: &mut score_cache::ScoreCache,
    buf: &mut Vec<ReasonId>,
    memo: &mut StateMemo,
) -> Option<(Option<(usize, i64)>, Option<Vec<usize>>)> {
    let Query { cluster, r, ctx, active, .. } = q;
    let n = cluster.nodes.len();
    if n == 0 {
        return None;
    }
    // The rules on other pods come last, so a node-local failure is a node's first failure.
    let split = active.iter().position(|(_, f)| is_topological(*f)).unwrap_or(active.len());
    let (local, topological) = active.split_at(split);
    if topological.iter().any(|(_, f)| !is_topological(*f)) {
        return None;
    }
    let mut ipa = None;
    for &(plugin, weight) in &r.scores {
        match plugin {
            ScorePlugin::PodTopologySpread
                if !plugins::pod_topology_spread::scores_nothing(
                    ctx.info.pod,
                    r.spread_defaults,
                    ctx.spread_selector.as_ref(),
                ) =>
            {
                return None;
            }
            ScorePlugin::InterPodAffinity => {
                if let Some(state) = ctx.affinity_score.as_ref().filter(|s| !s.is_empty()) {
                    ipa = Some((state, weight));
                }
            }
            _ => {}
        }
    }
    // The coarse keys the pod's rules and scores read, and the nodes its fine rules keep out.
    let spread = ctx.spread.as_ref().filter(|sp| !sp.is_empty());
    let affinity = ctx.affinity.as_ref().filter(|a| !a.passes_all(&ctx.terms));
    let mut coarse: Vec<std::rc::Rc<cluster::Domains>> = Vec::new();
    let mut blocked = Vec::new();
    if let Some(sp) = spread {
        coarse.extend(sp.domains().filter(|d| d.coarse).cloned());
        sp.fine_blocked(&mut blocked);
    }
    if let Some(a) = affinity {
        coarse.extend(a.domains().filter(|d| d.coarse).cloned());
        if !a.fine_blocked(&mut blocked) {
            return None;
        }
    }
    if let Some((state, _)) = &ipa {
        for key in state.keys() {
            let d = cluster.domains(key);
            if !d.coarse {
                return None;
            }
            coarse.push(d);
        }
    }
    blocked.sort_unstable();
    blocked.dedup();
    if blocked.len() * 2 > n {
        return None;
    }
    coarse.sort_by_key(|d| d.id);
    coarse.dedup_by_key(|d| d.id);
    let ids: Vec<u32> = coarse.iter().map(|d| d.id).collect();
    // The inter-pod affinity score adds one value per coarse domain, normalised over the
    // domains the pod may use (one node of each given).
    let ipa_extra = |nodes: &[usize]| -> Vec<i64> {
        let Some((state, weight)) = &ipa else { return vec![0; nodes.len()] };
        let mut scores: Vec<i64> = nodes.iter().map(|&node| state.score(&cluster.nodes[node].labels)).collect();
        state.normalize(&mut scores);
        scores.into_iter().map(|s| s * weight).collect()
    };
    let passes = |node: usize| {
        spread.is_none_or(|sp| sp.filter_coarse(node).is_none())
            && affinity.is_none_or(|a| a.filter_coarse(node).is_none())
    };
    // The kept scores shared between classes first (`score_cache`'s `shared`).
    let domains = |node: usize| coarse.iter().map(|d| d.of_node[node]).collect::<Vec<u32>>();
    let topology =
        score_cache::Topology { keys: &ids, domains: &domains, passes: &passes, blocked: &blocked, extra: &ipa_extra };
    // The rules on other pods are checked per cell: the kept scores read the node-local filters.
    let q = Query { active: local, ..q };
    if let Some(found) = shared_best(q, cache, buf, Some(&topology)) {
        return match found {
            score_cache::SharedBest::Node(node, total) => Some((Some((node, total)), None)),
            score_cache::SharedBest::Infeasible { mut counts, passing } => {
                rules_diagnosis(cluster, r, ctx, topological, passing.into_iter(), &mut counts, buf)?;
                Some((None, Some(counts)))
            }
        };
    }
    let partition = cache.partition(&ids, &cluster.name_hash, || {
        let mut cells: fxhash::FxHashMap<Vec<u32>, u32> = fxhash::FxHashMap::default();
        let of_node = (0..n)
            .map(|node| {
                let next = cells.len() as u32;
                *cells.entry(domains(node)).or_insert(next)
            })
            .collect();
        (of_node, cells.len())
    })?;
    let order = cache.order(partition)?;
    let cell_ok: Vec<bool> = (0..order.cells.len()).map(|c| passes(order.some_node(c))).collect();
    let (kept, view, order, raw) = kept_scores(q, cache, buf, memo, partition)?;
    if cell_ok.len() != order.cells.len() {
        return None;
    }
    let found = kept.best_in_cells(view, order, &raw, ctx.info.hash, &cell_ok, &blocked, |cells| {
        let nodes: Vec<usize> = cells.iter().map(|&(c, _)| order.some_node(c)).collect();
        Some(ipa_extra(&nodes))
    });
    match found {
        score_cache::CellBest::Node(node, total) => Some((Some((node, total)), None)),
        score_cache::CellBest::Unknown => None,
        score_cache::CellBest::Infeasible => {
            let mut counts = kept.counts.clone();
            counts.resize(cluster.reasons.len(), 0);
            rules_diagnosis(
                cluster,
                r,
                ctx,
                topological,
                (0..n).filter(|&node| kept.feasible(node)),
                &mut counts,
                buf,
            )?;
            Some((None, Some(counts)))
        }
    }
}

/// The diagnosis of a pod no node passes, for the nodes that pass every node-local filter
/// (`passing`): each is counted under the first of the pod's topology rules it fails, on top
/// of `counts` (the node-local failures). `None` when a rule passes one of them after all:
/// the cells ruled out a node they should not have, so the plain path must decide.
fn rules_diagnosis(
    cluster: &Cluster<'_>,
    r: &Resolved<'_>,
    ctx: &PodCtx<'_>,
    topological: &[(usize, FilterPlugin)],
    passing: impl Iterator<Item = usize>,
    counts: &mut [usize],
    buf: &mut Vec<ReasonId>,
) -> Option<()> {
    for node in passing {
        buf.clear();
        for &(_, f) in topological {
            run_filter(f, cluster, r, ctx, node, buf);
            if !buf.is_empty() {
                break;
            }
        }
        if buf.is_empty() {
            return None;
        }
        for &id in buf.iter() {
            counts[id as usize] += 1;
        }
    }
    Some(())
}

fn outside_reason(info: &PodInfo<'_>) -> ReasonId {
    if info.name_subset == NameSubset::Conflict { reasons::TERMS_CONFLICT } else { reasons::OUTSIDE_NODE_NAMES }
}

/// The static filters' verdicts of the pod's class on every node (see [`classes`]): once per
/// node profile ([`classes::Profiles`]), or on every node for the plain path (`per_node`), which
/// the property tests compare with.
fn build_class(cluster: &Cluster<'_>, r: &Resolved<'_>, ctx: &PodCtx<'_>, per_node: bool) -> classes::Class {
    let n = cluster.nodes.len();
    let profiles = if per_node {
        None
    } else {
        classes::static_keys(ctx.info.pod, r.added).map(|keys| {
            let domains: Vec<_> = keys.iter().map(|k| cluster.domains(k)).collect();
            classes::Profiles::new(cluster.static_profiles(), domains.iter().map(|d| &d.of_node[..]))
        })
    };
    let buf = std::cell::RefCell::new(Vec::new());
    let verdict = |node: usize| {
        let mut buf = buf.borrow_mut();
        let mut out = (classes::PASS, 0);
        for (i, &f) in r.filters.iter().enumerate().filter(|(_, f)| classes::is_static(**f)) {
            buf.clear();
            run_filter(f, cluster, r, ctx, node, &mut buf);
            if let Some(&reason) = buf.first() {
                out = (u8::try_from(i).unwrap_or(classes::PASS - 1), reason);
                break;
            }
        }
        out
    };
    let verdicts: Vec<(u8, ReasonId)> = match &profiles {
        Some(p) => p.per_node(verdict),
        None => (0..n).map(verdict).collect(),
    };
    let (fail_at, fail_reason) = verdicts.into_iter().unzip();
    classes::Class::new(fail_at, fail_reason, profiles)
}

/// A class's static verdict and raw scores on a node, as the shared kept scores group nodes
/// by them.
fn class_static(class: &classes::Class, scoring: &LocalScoring<'_>, node: usize) -> score_cache::Static {
    let fail_at = class.fail_at[node];
    if fail_at == classes::PASS {
        score_cache::Static::passing(scoring.raw.taint(node), scoring.raw.affinity(node))
    } else {
        score_cache::Static::failing(fail_at, class.fail_reason[node])
    }
}

/// Builds the class of every pending pod up front and has the shared kept scores group the
/// nodes by them before any request key's scores are built: cells refined after a key is
/// built make it regroup its tries (on 50,000 nodes, a sixth of the run).
fn register_classes<'a>(cluster: &Cluster<'a>, r: &Resolved<'a>, order: &[&'a Pod], s: &mut Scratch) {
    for &pod in order {
        if s.classes.contains(pod) {
            continue;
        }
        let info = PodInfo::new(pod, cluster, r.added);
        if r.filters.contains(&FilterPlugin::NodeAffinity) && info.name_subset != NameSubset::All {
            // Pods pinned to named nodes do not use the shared scores (see `shared_best`).
            continue;
        }
        let ctx = PodCtx {
            info,
            terms: PodTerms::default(),
            affinity: None,
            spread: None,
            spread_selector: None,
            affinity_score: None,
        };
        let Some(class) = s.classes.get(pod, || build_class(cluster, r, &ctx, false)) else { return };
        let scoring = LocalScoring::new(cluster, r, &ctx.info, &class);
        let statics = |node: usize| class_static(&class, &scoring, node);
        s.scores.register_class(std::rc::Rc::as_ptr(&class) as usize, &cluster.name_hash, &statics);
    }
}

fn place_one<'a>(
    cluster: &mut Cluster<'a>,
    books: &mut Books,
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
    // The placed pods whose inter-pod terms may select the pod: every one with terms on the
    // plain path, those the cluster's index of the terms' labels names otherwise.
    let mut about = std::mem::take(&mut s.about);
    let members: &[usize] = if s.reference {
        &cluster.with_affinity
    } else {
        cluster.members_about(pod, &mut about);
        &about
    };
    let ctx = PodCtx {
        info: PodInfo::new(pod, cluster, r.added),
        affinity: r
            .filters
            .contains(&FilterPlugin::InterPodAffinity)
            .then(|| AffinityFilter::new(cluster, pod, &terms, members, !s.reference)),
        affinity_score: r.scores.iter().any(|(p, _)| *p == ScorePlugin::InterPodAffinity).then(|| {
            AffinityScore::new(
                cluster,
                pod,
                &terms,
                r.inter_pod.hard_pod_affinity_weight,
                r.inter_pod.ignore_preferred_terms_of_existing_pods,
                members,
            )
        }),
        spread: r
            .filters
            .contains(&FilterPlugin::PodTopologySpread)
            .then(|| SpreadFilter::new(cluster, pod, r.spread_defaults, spread_selector.as_ref(), !s.reference)),
        terms,
        spread_selector,
    };
    s.about = about;
    let info = &ctx.info;
    let n = cluster.nodes.len();
    s.counts.clear();
    s.counts.resize(cluster.reasons.len(), 0);
    s.feasible.clear();
    let mut verdicts: Option<BTreeMap<String, NodeVerdict>> = options.explain.then(BTreeMap::new);

    let use_subset = r.filters.contains(&FilterPlugin::NodeAffinity);
    // The pod's equivalence class: static filter verdicts shared with pods of its template.
    let class = if options.explain { None } else { s.classes.get(pod, || build_class(cluster, r, &ctx, s.reference)) };
    // The filters that can fail for this pod, with their position in the profile: a filter
    // that passes every node for this pod (no host ports, no spread constraints, no inter-pod
    // terms) is left out of the per-node loop.
    let active: Vec<(usize, FilterPlugin)> = r
        .filters
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, f)| match f {
            FilterPlugin::NodePorts => !pod.host_ports.is_empty(),
            FilterPlugin::PodTopologySpread => ctx.spread.as_ref().is_some_and(|sp| !sp.is_empty()),
            FilterPlugin::InterPodAffinity => ctx.affinity.as_ref().is_some_and(|a| !a.passes_all(&ctx.terms)),
            _ => true,
        })
        .collect();
    // The best VM node, if any: every feasible node scored, ties broken by a stable hash.
    let mut vm: Option<(usize, i64)> = None;
    let cached = match &class {
        Some(c) if !s.reference && r.keep_scores => {
            let q = Query { cluster, r, ctx: &ctx, class: c, active: &active, use_subset };
            if local_only(r, &ctx) {
                shared_best(q, &mut s.scores, &mut s.reasons, None)
                    .map(|found| match found {
                        score_cache::SharedBest::Node(node, total) => (Some((node, total)), None),
                        score_cache::SharedBest::Infeasible { counts, .. } => (None, Some(counts)),
                    })
                    .or_else(|| cached_best(q, &mut s.scores, &mut s.reasons, &mut s.memo))
            } else {
                domain_best(q, &mut s.scores, &mut s.reasons, &mut s.memo)
            }
        }
        _ => None,
    };
    if let Some((best, counts)) = cached {
        vm = best;
        if let Some(counts) = counts {
            for (slot, count) in s.counts.iter_mut().zip(counts) {
                *slot = count;
            }
        }
    } else {
        for node in 0..n {
            s.reasons.clear();
            match verdicts.as_mut() {
                None => {
                    node_reasons(cluster, r, &ctx, class.as_deref(), &active, use_subset, node, &mut s.reasons);
                    for &id in &s.reasons {
                        s.counts[id as usize] += 1;
                    }
                }
                Some(verdicts) => {
                    let mut verdict = NodeVerdict::default();
                    let mut counted = false;
                    // Nodes outside NodeAffinity's PreFilter subset are not evaluated by
                    // kube-scheduler; they all share one reason.
                    let outside = use_subset && info.name_subset.excludes(&cluster.nodes[node].name);
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

        if !s.feasible.is_empty() {
            s.totals.clear();
            s.totals.resize(s.feasible.len(), 0);
            for &(plugin, weight) in &r.scores {
                run_score(plugin, cluster, r, &ctx, class.as_deref(), &s.feasible, &mut s.raw);
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
            // Highest total; among equal totals the smallest tie key (computed only on a tie).
            let mut best = 0;
            let mut best_key: Option<u64> = None;
            for i in 1..s.feasible.len() {
                let (total, top) = (s.totals[i], s.totals[best]);
                if total < top {
                    continue;
                }
                let key = tie_key(info.hash, cluster.name_hash[s.feasible[i]]);
                let top_key = *best_key.get_or_insert_with(|| tie_key(info.hash, cluster.name_hash[s.feasible[best]]));
                if total > top || key < top_key {
                    best = i;
                    best_key = Some(key);
                }
            }
            if let Some(verdicts) = verdicts.as_mut() {
                for (i, &node) in s.feasible.iter().enumerate() {
                    if let Some(v) = verdicts.get_mut(&cluster.nodes[node].name) {
                        v.total = Some(s.totals[i]);
                    }
                }
            }
            vm = Some((s.feasible[best], s.totals[best]));
        }
    }

    let choice = decide(cluster, books, r, pod, info, vm, options.explain, &s.counts);
    match &choice.outcome {
        Outcome::Node { .. } => {
            if let Some((node, _)) = vm {
                let PodCtx { info, terms, .. } = ctx;
                cluster.assume(node, pod, terms, &info.req, info.nz_cpu, info.nz_mem);
            }
        }
        Outcome::Burst { instance, cost_per_hour, .. } => {
            if let Some(i) = choice.target {
                books.burst(i, *instance, *cost_per_hour);
            }
        }
        Outcome::Wait { pool: Some(_), .. } => {
            if let Some(i) = choice.pool {
                books.wait(i, &r.pools[i], &ctx.info.requests);
            }
        }
        _ => {}
    }
    Decision {
        pod: pod.key(),
        outcome: choice.outcome,
        explanation: verdicts.map(|nodes| Explanation { nodes }),
        targets: choice.targets,
        pools: choice.pools,
    }
}

/// The outcome for one pod, and what the books must record.
struct Choice {
    outcome: Outcome,
    target: Option<usize>,
    pool: Option<usize>,
    targets: Option<BTreeMap<String, TargetVerdict>>,
    pools: Option<BTreeMap<String, PoolVerdict>>,
}

/// Chooses between the best VM node (`vm`), the cheapest burst target and waiting for a node
/// pool, as the pod's burst mode says. `counts` are the node reasons (kube's diagnosis).
#[allow(clippy::too_many_arguments)] // one call site; the pieces are the pod's whole context
fn decide(
    cluster: &Cluster<'_>,
    books: &Books,
    r: &Resolved<'_>,
    pod: &Pod,
    info: &PodInfo<'_>,
    vm: Option<(usize, i64)>,
    explain: bool,
    counts: &[usize],
) -> Choice {
    let terms = r.burst.terms_for(pod);
    let req = &info.requests;
    let pod_hash = info.hash;
    let burst_allowed = terms.mode != BurstMode::Never;
    // Burst targets are considered when the mode could use them (for Overflow and CostAware
    // only when no VM node fits), or to explain.
    let consider_targets =
        !r.targets.is_empty() && ((burst_allowed && (vm.is_none() || terms.mode == BurstMode::Prefer)) || explain);
    let checks: Vec<burst::TargetCheck> = if consider_targets {
        r.targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut check = books.check_target(i, t, pod, req, r.burst.spend_cap_per_hour);
                if !burst_allowed {
                    check.reasons.insert(0, "the pod's burst mode is Never".to_string());
                    check.rate_limited = false;
                }
                check
            })
            .collect()
    } else {
        Vec::new()
    };
    let best_target = checks
        .iter()
        .enumerate()
        .filter(|(_, c)| burst_allowed && c.reasons.is_empty())
        .filter_map(|(i, c)| c.size.map(|(size, cost)| (i, size, cost)))
        .min_by_key(|(i, _, cost)| {
            (cost.micros(), r.targets[*i].start_latency_seconds, tie_key(pod_hash, r.target_hash[*i]))
        });
    let rate_wait = checks.iter().position(|c| c.rate_limited);
    let consider_pools = !r.pools.is_empty() && (vm.is_none() || explain);
    let (pool_choices, pool_verdicts) =
        if consider_pools { books.check_pools(r.pools, pod, req) } else { (Vec::new(), Vec::new()) };
    let pool = pool_choices.first().copied();

    let node_outcome = vm.map(|(node, score)| Outcome::Node { node: cluster.nodes[node].name.clone(), score });
    let burst_outcome = best_target.map(|(i, size, cost)| {
        (
            i,
            Outcome::Burst {
                target: r.targets[i].name.clone(),
                instance: size,
                cost_per_hour: cost,
                start_seconds: r.targets[i].start_latency_seconds,
            },
        )
    });
    let pool_wait = |pool: Option<burst::PoolChoice>, why: String| {
        pool.map(|c| {
            let p = &r.pools[c.pool];
            (
                c.pool,
                Outcome::Wait {
                    pool: Some(p.name.clone()),
                    target: None,
                    expected_seconds: p.provisioning_seconds,
                    reason: why,
                },
            )
        })
    };
    let rate_outcome = rate_wait.map(|i| {
        let t = &r.targets[i];
        Outcome::Wait {
            pool: None,
            target: Some(t.name.clone()),
            expected_seconds: t.quota.create_window_seconds.unwrap_or(0),
            reason: format!(
                "burst target {} reached its creation rate limit ({} per {} s)",
                t.name,
                t.quota.max_creates_per_window.unwrap_or(0),
                t.quota.create_window_seconds.unwrap_or(0)
            ),
        }
    });

    let mut target = None;
    let mut pool_index = None;
    let no_burst_reason = |mode: BurstMode| match mode {
        BurstMode::Never => "no VM node fits and the pod's burst mode is Never".to_string(),
        _ if r.targets.is_empty() => "no VM node fits and there is no burst target".to_string(),
        _ => {
            let mut why: Vec<&str> = checks.iter().flat_map(|c| c.reasons.iter().map(String::as_str)).collect();
            why.sort_unstable();
            why.dedup();
            format!("no VM node fits and no burst target can take the pod ({})", why.join("; "))
        }
    };
    let outcome = match terms.mode {
        BurstMode::Prefer if burst_outcome.is_some() => burst_outcome.map(|(i, o)| {
            target = Some(i);
            o
        }),
        _ if node_outcome.is_some() => node_outcome,
        BurstMode::CostAware if burst_outcome.is_some() => {
            let (i, burst) = burst_outcome.clone().expect("checked above");
            let burst_cost = best_target.map_or(Money::ZERO, |(_, _, c)| c);
            // The cheapest pool whose node comes within the pod's tolerance and lifetime, not
            // merely the cheapest pool: a cheaper but slower one must not hide it.
            let timely = pool_choices.iter().copied().find(|c| {
                let seconds = r.pools[c.pool].provisioning_seconds;
                seconds <= terms.max_wait_seconds && seconds < terms.expected_lifetime_seconds
            });
            match timely {
                Some(c) if c.share_cost < burst_cost => {
                    let p = &r.pools[c.pool];
                    let why = format!(
                        "waiting {} s for a new {} node costs {}/h for the pod's share against {}/h on {}, \
                         within the pod's {} s tolerance",
                        p.provisioning_seconds,
                        p.name,
                        c.share_cost,
                        burst_cost,
                        r.targets[i].name,
                        terms.max_wait_seconds
                    );
                    pool_wait(Some(c), why).map(|(pi, o)| {
                        pool_index = Some(pi);
                        o
                    })
                }
                _ => {
                    target = Some(i);
                    Some(burst)
                }
            }
        }
        BurstMode::Never => pool_wait(pool, no_burst_reason(BurstMode::Never)).map(|(pi, o)| {
            pool_index = Some(pi);
            o
        }),
        _ => match burst_outcome {
            Some((i, o)) => {
                target = Some(i);
                Some(o)
            }
            None => rate_outcome.or_else(|| {
                pool_wait(pool, no_burst_reason(terms.mode)).map(|(pi, o)| {
                    pool_index = Some(pi);
                    o
                })
            }),
        },
    };
    let outcome = outcome.unwrap_or_else(|| {
        // Nothing can take the pod: kube's node diagnosis, then the targets' and pools' reasons.
        let mut diagnosis = cluster.reasons.diagnosis(cluster.nodes.len(), counts);
        let mut extend = |what: &str, verdicts: &mut dyn Iterator<Item = &Vec<String>>, total: usize| {
            let mut tally: BTreeMap<String, usize> = BTreeMap::new();
            for reasons in verdicts {
                for reason in reasons {
                    *tally.entry(reason.clone()).or_insert(0) += 1;
                }
            }
            if total > 0 {
                diagnosis.message.push(' ');
                diagnosis.message.push_str(&burst::sentence(what, total, &tally));
                for (reason, n) in tally {
                    *diagnosis.reasons.entry(reason).or_insert(0) += n;
                }
            }
        };
        if burst_allowed && !checks.is_empty() {
            extend("burst targets", &mut checks.iter().map(|c| &c.reasons), checks.len());
        }
        if !pool_verdicts.is_empty() {
            extend("node pools", &mut pool_verdicts.iter().map(|(_, v)| v), pool_verdicts.len());
        }
        Outcome::Unschedulable(diagnosis)
    });

    let targets = (explain && !checks.is_empty()).then(|| {
        r.targets
            .iter()
            .zip(&checks)
            .map(|(t, c)| {
                let verdict = TargetVerdict {
                    feasible: c.reasons.is_empty(),
                    reasons: c.reasons.clone(),
                    instance: c.size.map(|(size, _)| size),
                    cost_per_hour: c.size.map(|(_, cost)| cost),
                };
                (t.name.clone(), verdict)
            })
            .collect()
    });
    let pools = (explain && !pool_verdicts.is_empty()).then(|| {
        pool_verdicts
            .into_iter()
            .map(|(name, reasons)| (name, PoolVerdict { feasible: reasons.is_empty(), reasons }))
            .collect()
    });
    Choice { outcome, target, pool: pool_index, targets, pools }
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
