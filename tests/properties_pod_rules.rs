//! Property tests of the pod-to-pod rules (inter-pod affinity and anti-affinity, topology
//! spread constraints) and of co-scheduled groups, through the public API only.
//!
//! Each property is checked against an oracle written here from the Kubernetes semantics
//! (kube-scheduler's InterPodAffinity and PodTopologySpread filters, the coscheduling
//! convention of [`PodGroup`]); the oracle re-implements label selectors, term scoping and
//! topology domains itself and never calls into the engine:
//!
//! 1. a plan never creates a required anti-affinity violation, in either direction;
//! 2. every planned pod's required affinity holds (or it used the first-pod exception);
//! 3. every `DoNotSchedule` spread constraint held when its pod was planned;
//! 4. pod groups are placed whole (at least `minMember`) or not at all;
//! 5. plans do not depend on the order of nodes, placed pods and pending pods;
//! 6. placing pods one at a time (each on a snapshot holding the earlier placements as placed
//!    pods) gives the same outcome as one plan, for pods without a pod-group label outside
//!    units the plan took back (so every pod without group ties, and more);
//! 7. in explain mode, every node's filter verdicts are the oracle's (1–3 only check the chosen
//!    node, so they cannot see a filter that is too strict; this one can).
//!
//! A failing case's seed is saved under `tests/common_props/` and replayed first on later runs.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRng, TestRunner};
use spillway::model::{
    InclusionPolicy, LabelSelector, LabelSelectorRequirement, Labels, NodeSelectorOperator, NodeSelectorRequirement,
    POD_GROUP_LABEL, PodAffinity, PodAffinityTerm, PodGroup, SelectorOperator, TopologySpreadConstraint,
    WeightedPodAffinityTerm, WhenUnsatisfiable,
};
use spillway::{
    Engine, Node, NodeAffinity, NodeSelector, NodeSelectorTerm, Outcome, PlaceOptions, Plan, Pod, Policy, Resources,
    Snapshot, Taint, TaintEffect, Toleration,
};

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";
/// The label the API server puts on every namespace, holding its name.
const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";
const APP: &str = "app";
/// The key used by `matchLabelKeys` / `mismatchLabelKeys`.
const VERSION: &str = "version";
const ENV: &str = "env";
const DISK: &str = "disk";
const DEDICATED: &str = "dedicated";
const APPS: &[&str] = &["web", "db", "cache"];
const VERSIONS: &[&str] = &["v1", "v2"];
const ENVS: &[&str] = &["prod", "dev"];
const ZONES: &[&str] = &["zone-a", "zone-b", "zone-c"];
const NAMESPACES: &[&str] = &["default", "team-a", "team-b"];
const GROUPS: &[&str] = &["g1", "g2"];
const TOPOLOGY_KEYS: &[&str] = &[HOSTNAME, ZONE];
const MI: i64 = 1 << 20;
/// Where proptest records the seeds of failing cases, replayed first on the next run.
const REGRESSIONS: &str = "tests/common_props/properties_pod_rules.proptest-regressions";

fn requirement(key: &str, operator: SelectorOperator, values: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement { key: key.into(), operator, values: values.iter().map(|v| v.to_string()).collect() }
}

fn match_label(key: &str, value: &str) -> LabelSelector {
    LabelSelector { match_labels: [(key.to_string(), value.to_string())].into(), ..LabelSelector::default() }
}

fn expression(key: &str, operator: SelectorOperator, values: &[&str]) -> LabelSelector {
    LabelSelector { match_expressions: vec![requirement(key, operator, values)], ..LabelSelector::default() }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

// The hot generators draw integer "rolls" and map them to variants instead of using
// `prop_oneof!`: a union builds a lazily cloned test runner for every alternative before the
// one picked, which dominates the run time in debug builds. Roll 0 maps to the most common
// variant, so shrinking still goes towards simple cases.

/// A pod label selector, from `roll` in `0..17`: mostly `app=<x>` (`cache` three times in five
/// with `cache`, else any app), sometimes set-based, empty (`{}`) or missing.
fn pod_selector(cache: bool) -> impl Strategy<Value = Option<LabelSelector>> {
    use SelectorOperator::*;
    (0u32..17, 0usize..5, select(APPS), select(APPS)).prop_map(move |(roll, favour, a, b)| match roll {
        0..10 => Some(match_label(APP, if cache && favour >= 2 { APPS[2] } else { a })),
        10..12 => Some(expression(APP, In, &[a, b])),
        12 => Some(expression(APP, NotIn, &[a])),
        13 => Some(expression(APP, Exists, &[])),
        14 => Some(expression(APP, DoesNotExist, &[])),
        15 => Some(LabelSelector::default()),
        _ => None,
    })
}

/// The namespaces a term applies to, from `roll` in `0..14`: its owner's (the usual case), a
/// list, a namespace selector (`{}`, by label, by the implicit name label), or both.
fn namespace_scope() -> impl Strategy<Value = (Vec<String>, Option<LabelSelector>)> {
    (0u32..14, select(NAMESPACES), select(NAMESPACES), select(ENVS)).prop_map(|(roll, a, b, env)| match roll {
        0..8 => (vec![], None),
        8 => (vec![a.to_string()], None),
        9 => (BTreeSet::from([a, b]).into_iter().map(String::from).collect(), None),
        10 => (vec![], Some(LabelSelector::default())),
        11 => (vec![], Some(match_label(ENV, env))),
        12 => (vec![], Some(match_label(NAMESPACE_NAME, a))),
        _ => (vec![a.to_string()], Some(expression(ENV, SelectorOperator::NotIn, &[env]))),
    })
}

/// A pod (anti-)affinity term; with `cache`, its selector favours `cache` pods.
fn pod_term(cache: bool) -> impl Strategy<Value = PodAffinityTerm> {
    (pod_selector(cache), namespace_scope(), select(TOPOLOGY_KEYS), 0u32..8).prop_map(
        |(label_selector, (namespaces, namespace_selector), key, label_keys)| {
            // The API requires a label selector with (mis)matchLabelKeys, and a key in only one.
            let keys = |wanted: u32| {
                if label_selector.is_some() && label_keys == wanted { vec![VERSION.to_string()] } else { vec![] }
            };
            PodAffinityTerm {
                match_label_keys: keys(6),
                mismatch_label_keys: keys(7),
                label_selector,
                namespaces,
                namespace_selector,
                topology_key: key.to_string(),
            }
        },
    )
}

/// Pod (anti-)affinity: required terms for `percent`% of pods (one in eight of them has two),
/// and up to two preferred terms (for one pod in four). Affinity terms favour `cache` pods
/// (only placed pods are cache, so such affinity is met without tying pending pods together);
/// anti-affinity terms do not.
fn pod_affinity(percent: u32, cache: bool) -> impl Strategy<Value = PodAffinity> {
    let preferred = (1..=100i32, pod_term(cache))
        .prop_map(|(weight, pod_affinity_term)| WeightedPodAffinityTerm { weight, pod_affinity_term });
    let required = prop_oneof![
        800 - 8 * percent => Just(vec![]),
        7 * percent => vec(pod_term(cache), 1..=1),
        percent => vec(pod_term(cache), 2..=2),
    ];
    let preferred = prop_oneof![3 => Just(vec![]), 1 => vec(preferred, 1..=2)];
    (required, preferred).prop_map(|(required, preferred)| PodAffinity { required, preferred })
}

/// How much of each rule a case has, so that some cases have few ties between pending pods
/// (a pod with required affinity to pending pods is placed with them, all or nothing) and
/// others many.
#[derive(Debug, Clone, Copy)]
struct Mix {
    /// Percent of pods with required pod affinity.
    affinity: u32,
    /// Percent of pods with required pod anti-affinity.
    anti_affinity: u32,
    /// Percent of pending pods with a pod-group label.
    group: u32,
}

fn mix() -> impl Strategy<Value = Mix> {
    (select(vec![0u32, 8, 15, 30]), select(vec![20u32, 45]), select(vec![0u32, 10, 25]))
        .prop_map(|(affinity, anti_affinity, group)| Mix { affinity, anti_affinity, group })
}

fn inclusion() -> impl Strategy<Value = Option<InclusionPolicy>> {
    (0u32..4).prop_map(|roll| [None, None, Some(InclusionPolicy::Honor), Some(InclusionPolicy::Ignore)][roll as usize])
}

fn spread(key: &'static str, when: WhenUnsatisfiable) -> impl Strategy<Value = TopologySpreadConstraint> {
    (1..=3i32, pod_selector(false), (0u32..10, 1..=4i32), inclusion(), inclusion(), any::<bool>()).prop_map(
        move |(max_skew, label_selector, (roll, min_domains), affinity_policy, taints_policy, label_keys)| {
            TopologySpreadConstraint {
                max_skew,
                topology_key: key.to_string(),
                when_unsatisfiable: when,
                match_label_keys: if label_keys && label_selector.is_some() {
                    vec![VERSION.to_string()]
                } else {
                    vec![]
                },
                label_selector,
                // minDomains for three constraints in ten; the API allows it with DoNotSchedule only.
                min_domains: (roll < 3 && when == WhenUnsatisfiable::DoNotSchedule).then_some(min_domains),
                node_affinity_policy: affinity_policy,
                node_taints_policy: taints_policy,
            }
        },
    )
}

/// Topology spread constraints; as the API requires, at most one per (key, whenUnsatisfiable).
fn spread_constraints() -> impl Strategy<Value = Vec<TopologySpreadConstraint>> {
    use WhenUnsatisfiable::{DoNotSchedule, ScheduleAnyway};
    use proptest::option::weighted;
    (
        weighted(0.2, spread(HOSTNAME, DoNotSchedule)),
        weighted(0.2, spread(ZONE, DoNotSchedule)),
        weighted(0.1, spread(HOSTNAME, ScheduleAnyway)),
        weighted(0.1, spread(ZONE, ScheduleAnyway)),
    )
        .prop_map(|(a, b, c, d)| [a, b, c, d].into_iter().flatten().collect())
}

/// A node selector or required node affinity (for the spread constraints' `nodeAffinityPolicy`).
fn node_constraint() -> impl Strategy<Value = (Labels, NodeAffinity)> {
    let zones_in = |zones: [&str; 2]| NodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: vec![NodeSelectorRequirement {
                    key: ZONE.into(),
                    operator: NodeSelectorOperator::In,
                    values: zones.iter().map(|z| z.to_string()).collect(),
                }],
                match_fields: vec![],
            }],
        }),
        preferred: vec![],
    };
    prop_oneof![
        10 => Just((Labels::new(), NodeAffinity::default())),
        1 => select(ZONES).prop_map(|z| ([(ZONE.to_string(), z.to_string())].into(), NodeAffinity::default())),
        1 => Just(([(DISK.to_string(), "ssd".to_string())].into(), NodeAffinity::default())),
        1 => (select(ZONES), select(ZONES)).prop_map(move |(a, b)| (Labels::new(), zones_in([a, b]))),
    ]
}

fn tolerations() -> impl Strategy<Value = Vec<Toleration>> {
    prop_oneof![
        4 => Just(vec![]),
        1 => Just(vec![Toleration::exists(DEDICATED, None)]),
        1 => Just(vec![Toleration::equal(DEDICATED, "infra", Some(TaintEffect::NoSchedule))]),
    ]
}

/// A pod (named later by [`case`]); `group` percent of them carry a pod-group label. Placed
/// pods are web, db or (half of them) cache; pending pods web or db only, so that affinity to
/// cache pods ties no pending pods together.
fn pod(mix: Mix, group: u32, placed: bool) -> impl Strategy<Value = Pod> {
    let apps: &'static [&str] = if placed { &["web", "db", "cache", "cache"] } else { &APPS[..2] };
    (
        (
            (0u32..100, select(apps)).prop_map(|(roll, app)| (roll < 85).then_some(app)),
            (any::<bool>(), select(VERSIONS)).prop_map(|(has, v)| has.then_some(v)),
            (0u32..100, select(GROUPS)).prop_map(move |(roll, g)| (roll < group).then_some(g)),
            (0usize..11).prop_map(|roll| NAMESPACES[[0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2][roll]]),
        ),
        (0i64..=6, 0i64..=4, tolerations(), node_constraint()),
        (pod_affinity(mix.affinity, true), pod_affinity(mix.anti_affinity, false), spread_constraints()),
        (prop_oneof![4 => Just(0), 1 => Just(10)], 0i64..3),
    )
        .prop_map(
            |(
                (app, version, group, namespace),
                (cpu, memory, tolerations, (node_selector, node_affinity)),
                (pod_affinity, pod_anti_affinity, topology_spread_constraints),
                (priority, creation_order),
            )| {
                let mut pod = Pod {
                    namespace: namespace.to_string(),
                    tolerations,
                    node_selector,
                    node_affinity,
                    pod_affinity,
                    pod_anti_affinity,
                    topology_spread_constraints,
                    priority,
                    creation_order,
                    ..Pod::default()
                };
                for (key, value) in [(APP, app), (VERSION, version), (POD_GROUP_LABEL, group)] {
                    if let Some(value) = value {
                        pod.labels.insert(key.to_string(), value.to_string());
                    }
                }
                pod.with_container(Resources {
                    cpu_millis: cpu * 250,
                    memory: memory * 512 * MI,
                    ..Resources::default()
                })
            },
        )
}

/// Node traits: zone (an index into the case's zones, or none), cpu cores, pod slots, a
/// `dedicated` taint, an ssd label.
type NodeSpec = (Option<Index>, i64, i64, Option<TaintEffect>, bool);

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        (0u32..10, any::<Index>()).prop_map(|(roll, zone)| (roll > 0).then_some(zone)),
        2i64..=8,
        3i64..=12,
        prop_oneof![
            6 => Just(None),
            1 => Just(Some(TaintEffect::NoSchedule)),
            1 => Just(Some(TaintEffect::NoExecute)),
            1 => Just(Some(TaintEffect::PreferNoSchedule)),
        ],
        proptest::bool::weighted(0.3),
    )
}

/// Labels of a namespace, or `None` for one the snapshot does not describe (it still carries
/// the implicit name label).
fn namespace_labels() -> impl Strategy<Value = Option<Labels>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Labels::new())),
        3 => select(ENVS).prop_map(|env| Some([(ENV.to_string(), env.to_string())].into())),
    ]
}

/// A cluster snapshot (as data) and the pods to place.
#[derive(Debug, Clone)]
struct Case {
    nodes: Vec<Node>,
    placed: Vec<Pod>,
    pending: Vec<Pod>,
    groups: Vec<PodGroup>,
    namespaces: BTreeMap<String, Labels>,
}

impl Case {
    fn snapshot_with(&self, placed: Vec<Pod>) -> Snapshot {
        Snapshot::new(self.nodes.clone(), placed)
            .expect("generated snapshots are consistent")
            .with_namespaces(self.namespaces.clone())
            .with_groups(self.groups.clone())
    }

    fn snapshot(&self) -> Snapshot {
        self.snapshot_with(self.placed.clone())
    }

    /// Labels of a namespace as the API server has them: the snapshot's, plus its name label.
    fn namespace_labels(&self, namespace: &str) -> Labels {
        let mut labels = self.namespaces.get(namespace).cloned().unwrap_or_default();
        labels.insert(NAMESPACE_NAME.to_string(), namespace.to_string());
        labels
    }
}

/// A [`Mix`] of rules, 2–10 nodes `node-<i>` (hostname-labelled) over 1–3 zones, 0–14 placed
/// pods `placed-<i>` (no group labels) on random nodes, 1–20 pending pods `pend-<i>` with
/// unique uids, 0–3 pod groups and labels for some namespaces.
fn case() -> impl Strategy<Value = Case> {
    mix()
        .prop_flat_map(|mix| {
            (
                1usize..=3,
                vec(node_spec(), 2..=10),
                vec((pod(mix, 0, true), any::<Index>()), 0..=14),
                vec(pod(mix, mix.group, false), 1..=20),
                btree_map((select(NAMESPACES), select(GROUPS)), 1..=4u32, 0..=3),
                vec(namespace_labels(), NAMESPACES.len()),
            )
        })
        .prop_map(|(zones, specs, placed, pending, groups, namespaces)| {
            let nodes: Vec<Node> = specs
                .into_iter()
                .enumerate()
                .map(|(i, (zone, cores, pods, taint, ssd))| {
                    let name = format!("node-{i}");
                    let mut node = Node::new(&name).with_label(HOSTNAME, &name).with_allocatable(Resources {
                        cpu_millis: cores * 1000,
                        memory: cores * 2048 * MI,
                        pods,
                        ..Resources::default()
                    });
                    if let Some(zone) = zone {
                        node = node.with_label(ZONE, ZONES[zone.index(zones)]);
                    }
                    if let Some(effect) = taint {
                        node = node.with_taint(Taint::new(DEDICATED, "infra", effect));
                    }
                    if ssd {
                        node = node.with_label(DISK, "ssd");
                    }
                    node
                })
                .collect();
            let placed = placed
                .into_iter()
                .enumerate()
                .map(|(i, (pod, at))| Pod {
                    name: format!("placed-{i}"),
                    uid: format!("uid-placed-{i}"),
                    node_name: Some(nodes[at.index(nodes.len())].name.clone()),
                    ..pod
                })
                .collect();
            let pending = pending
                .into_iter()
                .enumerate()
                .map(|(i, pod)| Pod { name: format!("pend-{i}"), uid: format!("uid-pend-{i}"), ..pod })
                .collect();
            let groups = groups.into_iter().map(|((ns, name), min)| PodGroup::new(ns, name, min)).collect();
            let namespaces = NAMESPACES
                .iter()
                .zip(namespaces)
                .filter_map(|(ns, labels)| labels.map(|l| (ns.to_string(), l)))
                .collect();
            Case { nodes, placed, pending, groups, namespaces }
        })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

fn engine() -> Engine {
    Engine::new(Policy::default()).expect("the default policy is valid")
}

// ---------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------

/// Whether `labels` satisfy a label selector (Kubernetes semantics; an empty selector matches
/// everything).
fn selects(selector: &LabelSelector, labels: &Labels) -> bool {
    selector.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        && selector.match_expressions.iter().all(|r| {
            let value = labels.get(&r.key);
            match r.operator {
                SelectorOperator::In => value.is_some_and(|v| r.values.contains(v)),
                SelectorOperator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                SelectorOperator::Exists => value.is_some(),
                SelectorOperator::DoesNotExist => value.is_none(),
            }
        })
}

/// Whether `term` of pod `owner` is about pod `other` (whose namespace has `other_ns` labels):
/// `other` is in the term's namespaces (the owner's when neither `namespaces` nor
/// `namespaceSelector` is given), matches its label selector (a missing one matches nothing),
/// has the owner's value of every `matchLabelKeys` key and not the owner's value of any
/// `mismatchLabelKeys` key (keys the owner lacks are ignored).
fn term_selects(term: &PodAffinityTerm, owner: &Pod, other: &Pod, other_ns: &Labels) -> bool {
    let Some(selector) = &term.label_selector else { return false };
    let in_scope = if term.namespaces.is_empty() && term.namespace_selector.is_none() {
        other.namespace == owner.namespace
    } else {
        term.namespaces.contains(&other.namespace)
            || term.namespace_selector.as_ref().is_some_and(|s| selects(s, other_ns))
    };
    let same = term.match_label_keys.iter().all(|k| owner.labels.get(k).is_none_or(|v| other.labels.get(k) == Some(v)));
    let different =
        term.mismatch_label_keys.iter().all(|k| owner.labels.get(k).is_none_or(|v| other.labels.get(k) != Some(v)));
    in_scope && selects(selector, &other.labels) && same && different
}

/// Whether two nodes share a topology domain for `key` (both carry it, with one value).
fn same_domain(a: &Node, b: &Node, key: &str) -> bool {
    a.labels.get(key).is_some_and(|v| b.labels.get(key) == Some(v))
}

/// Whether `node` passes the pod's `nodeSelector` and required node affinity.
fn passes_node_affinity(pod: &Pod, node: &Node) -> bool {
    pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
        && pod.node_affinity.required.as_ref().is_none_or(|r| r.matches(&node.name, &node.labels))
}

/// Whether a spread constraint of `owner` counts pod `other`: same namespace, matched by the
/// selector merged with `matchLabelKeys`; a missing or (merged) empty selector counts nothing.
fn spread_counts(c: &TopologySpreadConstraint, owner: &Pod, other: &Pod) -> bool {
    let Some(selector) = &c.label_selector else { return false };
    let keys: Vec<(&String, &String)> =
        c.match_label_keys.iter().filter_map(|k| owner.labels.get_key_value(k)).collect();
    let empty = selector.match_labels.is_empty() && selector.match_expressions.is_empty() && keys.is_empty();
    !empty
        && other.namespace == owner.namespace
        && selects(selector, &other.labels)
        && keys.iter().all(|(k, v)| other.labels.get(*k) == Some(*v))
}

/// Whether a node is one of the constraint's domains under its inclusion policies
/// (`nodeAffinityPolicy` defaults to Honor, `nodeTaintsPolicy` to Ignore).
fn spread_includes(c: &TopologySpreadConstraint, pod: &Pod, node: &Node) -> bool {
    let honor_affinity = c.node_affinity_policy.unwrap_or(InclusionPolicy::Honor) == InclusionPolicy::Honor;
    let honor_taints = c.node_taints_policy.unwrap_or(InclusionPolicy::Ignore) == InclusionPolicy::Honor;
    (!honor_affinity || passes_node_affinity(pod, node))
        && (!honor_taints
            || node
                .taints
                .iter()
                .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
                .all(|t| pod.tolerates(t)))
}

/// A pod on a node in the oracle's view of the cluster.
#[derive(Debug, Clone, Copy)]
struct Seated<'a> {
    pod: &'a Pod,
    node: usize,
    /// Placed in the snapshot before the plan.
    before: bool,
}

/// kube-scheduler's reasons for the InterPodAffinity and PodTopologySpread filters.
const AFFINITY_REASON: &str = "node(s) didn't match pod affinity rules";
const ANTI_AFFINITY_REASON: &str = "node(s) didn't match pod anti-affinity rules";
const EXISTING_ANTI_AFFINITY_REASON: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
const SPREAD_REASON: &str = "node(s) didn't match pod topology spread constraints";
const SPREAD_MISSING_LABEL_REASON: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// A failed check: kube-scheduler's reason, and what the oracle saw.
type Failure = (&'static str, String);

/// The cluster as the plan builds it: the snapshot's pods, then each placement in plan order.
struct World<'a> {
    case: &'a Case,
    pods: Vec<Seated<'a>>,
    namespaces: BTreeMap<&'a str, Labels>,
}

impl<'a> World<'a> {
    fn new(case: &'a Case) -> World<'a> {
        let mut world = World { case, pods: Vec::new(), namespaces: BTreeMap::new() };
        for ns in NAMESPACES {
            world.namespaces.insert(ns, case.namespace_labels(ns));
        }
        for pod in &case.placed {
            let node = world.node_index(pod.node_name.as_deref().expect("placed pods have a node"));
            world.pods.push(Seated { pod, node, before: true });
        }
        world
    }

    fn node_index(&self, name: &str) -> usize {
        self.case.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("unknown node {name}"))
    }

    fn node(&self, i: usize) -> &'a Node {
        &self.case.nodes[i]
    }

    fn ns(&self, namespace: &str) -> &Labels {
        &self.namespaces[namespace]
    }

    /// Seats a pod the plan placed on node `name`.
    fn seat(&mut self, pod: &'a Pod, name: &str) {
        let node = self.node_index(name);
        self.pods.push(Seated { pod, node, before: false });
    }

    /// The node-level filters `pod` fails on node `i`: TaintToleration (an untolerated
    /// NoSchedule or NoExecute taint), NodeAffinity (nodeSelector and required node affinity),
    /// NodeResourcesFit (pod slots; cpu or memory requested above what is free).
    fn node_failures(&self, pod: &Pod, i: usize) -> BTreeSet<&'static str> {
        let node = self.node(i);
        let mut out = BTreeSet::new();
        if node.taints.iter().any(|t| t.effect != TaintEffect::PreferNoSchedule && !pod.tolerates(t)) {
            out.insert("TaintToleration");
        }
        if !passes_node_affinity(pod, node) {
            out.insert("NodeAffinity");
        }
        let mut used = Resources::default();
        for s in self.pods.iter().filter(|s| s.node == i) {
            used.add(&s.pod.requests());
            used.pods += 1;
        }
        let want = pod.requests();
        let short = |want: i64, free: i64| want > 0 && want > free;
        let alloc = &node.allocatable;
        if used.pods + 1 > alloc.pods
            || short(want.cpu_millis, alloc.cpu_millis - used.cpu_millis)
            || short(want.memory, alloc.memory - used.memory)
        {
            out.insert("NodeResourcesFit");
        }
        out
    }

    /// The pod's required affinity on node `i`: the node carries every term's key and, for each
    /// term, some pod matching *all* the terms sits in the node's domain; or else no pod
    /// matching all terms sits on a node carrying one of the terms' keys and the pod matches its
    /// own terms (kube-scheduler's first-pod exception).
    fn affinity_failure(&self, pod: &Pod, i: usize) -> Option<Failure> {
        let terms = &pod.pod_affinity.required;
        if terms.is_empty() {
            return None;
        }
        let here = self.node(i);
        if let Some(t) = terms.iter().find(|t| !here.labels.contains_key(&t.topology_key)) {
            return Some((AFFINITY_REASON, format!("{} lacks the affinity key {}", here.name, t.topology_key)));
        }
        let matching: Vec<&Seated<'_>> = self
            .pods
            .iter()
            .filter(|s| terms.iter().all(|t| term_selects(t, pod, s.pod, self.ns(&s.pod.namespace))))
            .collect();
        if terms.iter().all(|t| matching.iter().any(|s| same_domain(self.node(s.node), here, &t.topology_key))) {
            return None;
        }
        let counted =
            matching.iter().any(|s| terms.iter().any(|t| self.node(s.node).labels.contains_key(&t.topology_key)));
        let own = terms.iter().all(|t| term_selects(t, pod, pod, self.ns(&pod.namespace)));
        (counted || !own).then(|| {
            let elsewhere: Vec<(String, &str)> =
                matching.iter().map(|s| (s.pod.key(), self.node(s.node).name.as_str())).collect();
            let why = format!(
                "required affinity {terms:?} is not met on {}; the first-pod exception does not apply \
                 (pods matching every term: {elsewhere:?}; matches its own terms: {own})",
                here.name
            );
            (AFFINITY_REASON, why)
        })
    }

    /// The pod's required anti-affinity on node `i`: no pod its terms select in the node's
    /// domain of the term's key.
    fn anti_affinity_failure(&self, pod: &Pod, i: usize) -> Option<Failure> {
        let here = self.node(i);
        pod.pod_anti_affinity.required.iter().find_map(|t| {
            self.pods
                .iter()
                .find(|s| {
                    term_selects(t, pod, s.pod, self.ns(&s.pod.namespace))
                        && same_domain(here, self.node(s.node), &t.topology_key)
                })
                .map(|s| {
                    let why = format!("its anti-affinity {t:?} selects {} on {}", s.pod.key(), self.node(s.node).name);
                    (ANTI_AFFINITY_REASON, why)
                })
        })
    }

    /// Placed pods' required anti-affinity (symmetry): no pod with a term selecting `pod` whose
    /// node shares the node's domain of the term's key.
    fn existing_anti_affinity_failure(&self, pod: &Pod, i: usize) -> Option<Failure> {
        let here = self.node(i);
        self.pods.iter().find_map(|s| {
            s.pod
                .pod_anti_affinity
                .required
                .iter()
                .find(|t| {
                    term_selects(t, s.pod, pod, self.ns(&pod.namespace))
                        && same_domain(self.node(s.node), here, &t.topology_key)
                })
                .map(|t| {
                    let why = format!("{} on {} has anti-affinity {t:?}", s.pod.key(), self.node(s.node).name);
                    (EXISTING_ANTI_AFFINITY_REASON, why)
                })
        })
    }

    /// kube-scheduler's InterPodAffinity filter: the first failing check, in its order.
    fn inter_pod_failure(&self, pod: &Pod, i: usize) -> Option<Failure> {
        self.affinity_failure(pod, i)
            .or_else(|| self.anti_affinity_failure(pod, i))
            .or_else(|| self.existing_anti_affinity_failure(pod, i))
    }

    /// The pod's `DoNotSchedule` spread constraints on node `i`: the node carries each key, and
    /// matchNum(node's domain) + selfMatch − min ≤ maxSkew, where matchNum counts the matching
    /// pods per domain over the eligible nodes (carrying every DoNotSchedule key, passing the
    /// inclusion policies) and min is the smallest matchNum (0 with fewer domains than
    /// minDomains).
    fn spread_failure(&self, pod: &Pod, i: usize) -> Option<Failure> {
        let hard: Vec<&TopologySpreadConstraint> = pod
            .topology_spread_constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule)
            .collect();
        let here = self.node(i);
        for c in &hard {
            let Some(value) = here.labels.get(&c.topology_key) else {
                return Some((SPREAD_MISSING_LABEL_REASON, format!("{} lacks {}", here.name, c.topology_key)));
            };
            let mut domains: BTreeMap<&str, i64> = BTreeMap::new();
            for (n, node) in self.case.nodes.iter().enumerate() {
                let has_keys = hard.iter().all(|h| node.labels.contains_key(&h.topology_key));
                if !has_keys || !spread_includes(c, pod, node) {
                    continue;
                }
                let count = self.pods.iter().filter(|s| s.node == n && spread_counts(c, pod, s.pod)).count();
                *domains.entry(node.labels[&c.topology_key].as_str()).or_insert(0) += count as i64;
            }
            let min = if (domains.len() as i64) < i64::from(c.min_domains.unwrap_or(1)) {
                0
            } else {
                domains.values().copied().min().unwrap_or(0)
            };
            let match_num = domains.get(value.as_str()).copied().unwrap_or(0);
            let self_match = i64::from(c.label_selector.as_ref().is_some_and(|s| selects(s, &pod.labels)));
            if match_num + self_match - min > i64::from(c.max_skew) {
                let why = format!(
                    "{} ({}={value}) breaks {c:?}: matchNum {match_num} + self {self_match} - min {min} > maxSkew; \
                     domains {domains:?}",
                    here.name, c.topology_key
                );
                return Some((SPREAD_REASON, why));
            }
        }
        None
    }
}

/// Replays the plan's placements in plan order: calls `check` with the world *before* each
/// placement, then seats the pod. Returns the final world.
fn replay<'a>(
    case: &'a Case,
    plan: &Plan,
    mut check: impl FnMut(&World<'a>, &'a Pod, usize) -> Result<(), TestCaseError>,
) -> Result<World<'a>, TestCaseError> {
    let pending: BTreeMap<String, &Pod> = case.pending.iter().map(|p| (p.key(), p)).collect();
    let mut world = World::new(case);
    for d in &plan.decisions {
        let Some(&pod) = pending.get(&d.pod) else {
            return Err(TestCaseError::fail(format!("the plan decides for {} which is not pending", d.pod)));
        };
        if let Some(name) = d.node() {
            check(&world, pod, world.node_index(name))?;
            world.seat(pod, name);
        }
    }
    Ok(world)
}

/// Every pending pod is decided exactly once.
fn check_one_decision_per_pod(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    let mut decided: Vec<&str> = plan.decisions.iter().map(|d| d.pod.as_str()).collect();
    decided.sort_unstable();
    let mut pending: Vec<String> = case.pending.iter().map(Pod::key).collect();
    pending.sort_unstable();
    prop_assert_eq!(decided, pending, "the plan does not decide each pending pod exactly once");
    Ok(())
}

/// Property 1: no pair of pods violates a required anti-affinity term unless both were placed
/// before the plan.
fn check_anti_affinity(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    let world = replay(case, plan, |_, _, _| Ok(()))?;
    for (i, a) in world.pods.iter().enumerate() {
        for (j, b) in world.pods.iter().enumerate() {
            if i == j || (a.before && b.before) {
                continue;
            }
            for term in &a.pod.pod_anti_affinity.required {
                prop_assert!(
                    !(term_selects(term, a.pod, b.pod, world.ns(&b.pod.namespace))
                        && same_domain(world.node(a.node), world.node(b.node), &term.topology_key)),
                    "{} on {} has required anti-affinity {:?} matching {} on {} (same {} domain); \
                     placed before the plan: {} / {}\nplan: {:?}",
                    a.pod.key(),
                    world.node(a.node).name,
                    term,
                    b.pod.key(),
                    world.node(b.node).name,
                    term.topology_key,
                    a.before,
                    b.before,
                    plan
                );
            }
        }
    }
    Ok(())
}

/// Property 2: every planned pod's required affinity held when it was planned.
fn check_affinity(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    replay(case, plan, |world, pod, node| match world.affinity_failure(pod, node) {
        Some((_, why)) => Err(TestCaseError::fail(format!("{} was placed: {why}\nplan: {plan:?}", pod.key()))),
        None => Ok(()),
    })
    .map(|_| ())
}

/// Property 3: every planned pod's `DoNotSchedule` constraints held when it was planned.
fn check_spread(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    replay(case, plan, |world, pod, node| match world.spread_failure(pod, node) {
        Some((_, why)) => Err(TestCaseError::fail(format!("{} was placed: {why}\nplan: {plan:?}", pod.key()))),
        None => Ok(()),
    })
    .map(|_| ())
}

/// Property 7: for each pod outside units the plan took back, in plan order, every node's explained filter
/// verdicts are the oracle's: the same node-level filters fail, and InterPodAffinity and
/// PodTopologySpread give kube-scheduler's reason exactly when the oracle finds one.
fn check_verdicts(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    let skip = rolled_back(case, plan);
    let pending: BTreeMap<String, &Pod> = case.pending.iter().map(|p| (p.key(), p)).collect();
    let mut world = World::new(case);
    for d in &plan.decisions {
        let pod = pending[&d.pod];
        if !skip.contains(&d.pod) {
            let Some(explanation) = &d.explanation else {
                return Err(TestCaseError::fail(format!("{} has no explanation in explain mode", d.pod)));
            };
            for (i, node) in case.nodes.iter().enumerate() {
                let verdict = &explanation.nodes[&node.name];
                let failing = |plugin: &str| verdict.filters.get(plugin).is_some_and(|r| !r.is_empty());
                let node_level = world.node_failures(pod, i);
                for plugin in [
                    "TaintToleration",
                    "NodeAffinity",
                    "NodeResourcesFit",
                    "NodeUnschedulable",
                    "NodeName",
                    "NodePorts",
                ] {
                    prop_assert_eq!(
                        failing(plugin),
                        node_level.contains(plugin),
                        "{} on {}: {} verdict {:?} disagrees with the oracle",
                        d.pod,
                        node.name,
                        plugin,
                        verdict.filters.get(plugin)
                    );
                }
                for (plugin, expected) in [
                    ("InterPodAffinity", world.inter_pod_failure(pod, i)),
                    ("PodTopologySpread", world.spread_failure(pod, i)),
                ] {
                    let got = verdict.filters.get(plugin).cloned().unwrap_or_default();
                    let want: Vec<String> = expected.iter().map(|(reason, _)| reason.to_string()).collect();
                    prop_assert_eq!(
                        &got,
                        &want,
                        "{} on {}: {} says {:?}, the oracle {:?}\nplan: {:?}",
                        d.pod,
                        node.name,
                        plugin,
                        got,
                        expected,
                        plan
                    );
                }
                let feasible = node_level.is_empty()
                    && world.inter_pod_failure(pod, i).is_none()
                    && world.spread_failure(pod, i).is_none();
                prop_assert_eq!(verdict.feasible, feasible, "{} on {}: feasibility disagrees", d.pod, node.name);
            }
        }
        if let Some(name) = d.node() {
            world.seat(pod, name);
        }
    }
    Ok(())
}

/// Property 4: each pod group's placed members number 0 or at least its `minMember` (all its
/// pending members for a group the snapshot does not describe).
fn check_groups(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    let mut members: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let decisions: BTreeMap<&str, Option<&str>> = plan.decisions.iter().map(|d| (d.pod.as_str(), d.node())).collect();
    for pod in &case.pending {
        if let Some(group) = pod.labels.get(POD_GROUP_LABEL) {
            let entry = members.entry((pod.namespace.as_str(), group.as_str())).or_insert((0, 0));
            entry.0 += 1;
            if decisions.get(pod.key().as_str()).copied().flatten().is_some() {
                entry.1 += 1;
            }
        }
    }
    for ((namespace, name), (pending, placed)) in members {
        let min = case
            .groups
            .iter()
            .find(|g| g.namespace == namespace && g.name == name)
            .map_or(pending, |g| g.min_member as usize);
        prop_assert!(
            placed == 0 || placed >= min,
            "pod group {}/{} has {} of {} pending members placed, below its minMember {}\nplan: {:?}",
            namespace,
            name,
            placed,
            pending,
            min,
            plan
        );
    }
    Ok(())
}

/// The placement units of the pending pods, as `namespace/name` sets: pods sharing a
/// pod-group label (in one namespace), and pods one of whose required affinity terms selects
/// the other, are placed together all-or-nothing; units are the connected components.
fn units(case: &Case) -> Vec<BTreeSet<String>> {
    let n = case.pending.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, a) in case.pending.iter().enumerate() {
        for (j, b) in case.pending.iter().enumerate() {
            let group = |p: &Pod| p.labels.get(POD_GROUP_LABEL).map(|g| (p.namespace.clone(), g.clone()));
            let same_group = group(a).is_some() && group(a) == group(b);
            let ns = case.namespace_labels(&b.namespace);
            if i != j && (same_group || a.pod_affinity.required.iter().any(|t| term_selects(t, a, b, &ns))) {
                let (x, y) = (root(&mut parent, i), root(&mut parent, j));
                parent[x] = y;
            }
        }
    }
    let mut out: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (i, pod) in case.pending.iter().enumerate() {
        out.entry(root(&mut parent, i)).or_default().insert(pod.key());
    }
    out.into_values().collect()
}

/// Pods of units the plan took back (a member says it "cannot be placed whole"): their
/// decisions were made with members assumed that the plan does not hold.
fn rolled_back(case: &Case, plan: &Plan) -> BTreeSet<String> {
    let whole = |d: &spillway::Decision| match &d.outcome {
        Outcome::Unschedulable(diagnosis) => diagnosis.message.contains("cannot be placed whole"),
        _ => false,
    };
    let taken_back: BTreeSet<&str> = plan.decisions.iter().filter(|d| whole(d)).map(|d| d.pod.as_str()).collect();
    units(case).into_iter().filter(|u| u.iter().any(|p| taken_back.contains(p.as_str()))).flatten().collect()
}

fn reversed<T: Clone>(items: &[T]) -> Vec<T> {
    items.iter().rev().cloned().collect()
}

/// A deterministic Fisher–Yates shuffle driven by splitmix64.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut state = seed;
    for i in (1..out.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.swap(i, (z % (i as u64 + 1)) as usize);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    /// 1. A plan never creates a required anti-affinity violation: for every two pods A ≠ B
    /// (placed or planned) where a required anti-affinity term of A selects B and their nodes
    /// share the term's topology domain, both were placed before the plan.
    #[test]
    fn plans_create_no_anti_affinity_violation(case in case()) {
        let plan = engine().place(&case.snapshot(), &case.pending);
        check_one_decision_per_pod(&case, &plan)?;
        check_anti_affinity(&case, &plan)?;
    }

    /// 2. Every planned pod's required affinity holds against the pods placed or planned
    /// before it, or the first-pod exception applies.
    #[test]
    fn planned_pods_meet_their_required_affinity(case in case()) {
        let plan = engine().place(&case.snapshot(), &case.pending);
        check_affinity(&case, &plan)?;
    }

    /// 3. Every `DoNotSchedule` topology spread constraint held when its pod was planned.
    #[test]
    fn hard_spread_constraints_hold_when_each_pod_is_planned(case in case()) {
        let plan = engine().place(&case.snapshot(), &case.pending);
        check_spread(&case, &plan)?;
    }

    /// 4. Pod groups are placed whole (at least minMember members) or not at all.
    #[test]
    fn pod_groups_are_whole_or_absent(case in case()) {
        let plan = engine().place(&case.snapshot(), &case.pending);
        check_groups(&case, &plan)?;
    }

    /// 7. For every pod outside the co-scheduled units the plan took back, in plan order, each
    /// node's explained filter verdicts agree with the oracle (node-level filters, and the
    /// InterPodAffinity and PodTopologySpread reasons), so the pod-to-pod filters are neither
    /// too lax nor too strict.
    #[test]
    fn filter_verdicts_agree_with_the_oracle(case in case()) {
        let plan = engine().place_with(&case.snapshot(), &case.pending, PlaceOptions { explain: true });
        check_verdicts(&case, &plan)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// 5. The plan does not depend on the order of the nodes, the placed pods, the pending
    /// pods or the groups.
    #[test]
    fn plans_do_not_depend_on_input_order(case in case(), seed in any::<u64>()) {
        let engine = engine();
        let plan = engine.place(&case.snapshot(), &case.pending);
        prop_assert_eq!(&plan, &engine.place(&case.snapshot(), &case.pending), "placing twice gave different plans");
        let orders = [
            (shuffled(&case.nodes, seed), shuffled(&case.placed, seed ^ 1), shuffled(&case.pending, seed ^ 2)),
            (reversed(&case.nodes), reversed(&case.placed), reversed(&case.pending)),
        ];
        for (i, (nodes, placed, pending)) in orders.into_iter().enumerate() {
            let groups = shuffled(&case.groups, seed ^ 3);
            let permuted = Case { nodes, placed, pending, groups, namespaces: case.namespaces.clone() };
            let other = engine.place(&permuted.snapshot(), &permuted.pending);
            let how = ["shuffling", "reversing"][i];
            prop_assert_eq!(&plan, &other, "{} the input (seed {}) changed the plan", how, seed);
        }
    }

    /// 6. Incremental vs from scratch: in plan order, placing a pod alone on a snapshot
    /// holding every earlier placement of the plan as a placed pod gives the outcome it has in
    /// the plan, so assumed placements count exactly like placed pods. This holds for every pod
    /// without a pod-group label outside the units the plan took back (not only for pods with
    /// no ties: a pod tied by affinity is placed as it would be alone, only all-or-nothing).
    #[test]
    fn one_at_a_time_equals_one_plan(case in case()) {
        let engine = engine();
        let plan = engine.place(&case.snapshot(), &case.pending);
        let mut skip = rolled_back(&case, &plan);
        skip.extend(case.pending.iter().filter(|p| p.labels.contains_key(POD_GROUP_LABEL)).map(Pod::key));
        let pending: BTreeMap<String, &Pod> = case.pending.iter().map(|p| (p.key(), p)).collect();
        let mut placed = case.placed.clone();
        for d in &plan.decisions {
            let pod = pending[&d.pod];
            if !skip.contains(&d.pod) {
                let alone = engine.place(&case.snapshot_with(placed.clone()), std::slice::from_ref(pod));
                prop_assert_eq!(
                    &alone.decisions[0].outcome, &d.outcome,
                    "{} placed alone after the plan's earlier placements differs from the plan\nplan: {:?}",
                    d.pod, plan
                );
            }
            if let Some(node) = d.node() {
                placed.push(Pod { node_name: Some(node.to_string()), ..pod.clone() });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The generators are not vacuous
// ---------------------------------------------------------------------------------------------

/// The generated cases exercise the rules: over a fixed sample of cases, planned pods meet
/// required affinity through other pods (not only the first-pod exception), anti-affinity and
/// hard spread constraints reject nodes, groups are placed and rolled back.
#[test]
fn the_generators_exercise_the_rules() {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = case();
    let engine = engine();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..48 {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let plan = engine.place(&case.snapshot(), &case.pending);
        let pending: BTreeMap<String, &Pod> = case.pending.iter().map(|p| (p.key(), p)).collect();
        let mut tally = |what| *seen.entry(what).or_insert(0) += 1;
        for d in &plan.decisions {
            let pod = pending[&d.pod];
            match &d.outcome {
                Outcome::Node { .. } => {
                    tally("placed");
                    if !pod.pod_affinity.required.is_empty() {
                        tally("placed with required affinity");
                    }
                    if !pod.pod_anti_affinity.required.is_empty() {
                        tally("placed with required anti-affinity");
                    }
                    if pod
                        .topology_spread_constraints
                        .iter()
                        .any(|c| c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule)
                    {
                        tally("placed with hard spread");
                    }
                    if pod.labels.contains_key(POD_GROUP_LABEL) {
                        tally("group member placed");
                    }
                }
                Outcome::Unschedulable(diagnosis) => {
                    for (reason, label) in [
                        ("didn't match pod affinity rules", "rejected by affinity"),
                        ("didn't match pod anti-affinity rules", "rejected by anti-affinity"),
                        ("didn't satisfy existing pods anti-affinity rules", "rejected by existing anti-affinity"),
                        ("didn't match pod topology spread constraints", "rejected by spread"),
                        ("cannot be placed whole", "group rolled back"),
                    ] {
                        if diagnosis.message.contains(reason) {
                            tally(label);
                        }
                    }
                }
                _ => {}
            }
        }
        // Required affinity met through another pod rather than the first-pod exception.
        let _ = replay(&case, &plan, |world, pod, node| {
            let terms = &pod.pod_affinity.required;
            let met = !terms.is_empty()
                && terms.iter().all(|t| {
                    world.pods.iter().any(|s| {
                        terms.iter().all(|u| term_selects(u, pod, s.pod, world.ns(&s.pod.namespace)))
                            && same_domain(world.node(s.node), world.node(node), &t.topology_key)
                    })
                });
            if met {
                tally("affinity met by another pod");
            }
            Ok(())
        });
    }
    for what in [
        "placed",
        "placed with required affinity",
        "placed with required anti-affinity",
        "placed with hard spread",
        "group member placed",
        "rejected by affinity",
        "rejected by anti-affinity",
        "rejected by existing anti-affinity",
        "rejected by spread",
        "group rolled back",
        "affinity met by another pod",
    ] {
        assert!(seen.get(what).copied().unwrap_or(0) >= 3, "the generators rarely produce {what:?}: {seen:?}");
    }
}

/// The smallest case `pod_groups_are_whole_or_absent` first found: a group whose PodGroup needs
/// two members but has one pending pod must not be placed (it was, being tied to no other pod).
#[test]
fn a_lone_member_of_a_group_needing_two_is_not_placed() {
    let node = Node::new("node-0").with_label(HOSTNAME, "node-0").with_allocatable(Resources {
        cpu_millis: 2000,
        memory: 4096 * MI,
        pods: 10,
        ..Resources::default()
    });
    let snapshot = Snapshot::new(vec![node], vec![]).unwrap().with_groups(vec![PodGroup::new("default", "g2", 2)]);
    let pod = Pod::new("default", "pend-0").with_label(POD_GROUP_LABEL, "g2");
    let plan = engine().place(&snapshot, &[pod]);
    match &plan.decisions[0].outcome {
        Outcome::Unschedulable(d) => {
            assert_eq!(d.message, "pod group default/g2 cannot be placed whole: 1 of its 1 pending pods fit, 2 needed.")
        }
        other => panic!("a lone member of a group needing two was placed: {other:?}"),
    }
    // A label-only group (or minMember 1) of one pod is placed as usual.
    let snapshot = Snapshot::new(snapshot.nodes().to_vec(), vec![]).unwrap();
    let pod = Pod::new("default", "pend-0").with_label(POD_GROUP_LABEL, "g2");
    assert_eq!(engine().place(&snapshot, &[pod]).decisions[0].node(), Some("node-0"));
}
