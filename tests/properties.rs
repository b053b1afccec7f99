//! Property tests of the placement engine, through the public API only.
//!
//! In the style of pubgrub's `tests/proptest.rs`: invariants every plan must keep (no overcommit,
//! every placement passes every filter), metamorphic relations (the same plan on repeated runs
//! and on reordered input; adding a node never hurts the first feasible pod; explain mode
//! changes nothing) and differential checks against an oracle written here from the model's own
//! predicates (`Toleration::tolerates`, `NodeSelector::matches`, `HostPort::conflicts_with`,
//! `Pod::requests`), including a brute-force re-computation of the default scores on tiny
//! clusters.
//!
//! The numbered properties use pods with node-level constraints only (resources, selectors,
//! node affinity, tolerations, host ports). `pod_to_pod_rules_keep_the_invariants` re-checks the
//! invariants that do not need an inter-pod oracle on pods that also carry labels, pod
//! (anti-)affinity, topology spread constraints and co-scheduled groups.
//!
//! A failing case's seed is saved under `tests/common_props/` and replayed first on later runs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use spillway::model::{
    LabelSelector, NodeSelectorOperator, NodeSelectorRequirement, POD_GROUP_LABEL, PodAffinity, PodAffinityTerm,
    PodGroup, PreferredSchedulingTerm, Protocol, RequestedToCapacityRatioParam, ResourceName, ScoringStrategyType,
    TolerationOperator, TopologySpreadConstraint, UtilizationShapePoint, WeightedPodAffinityTerm, WhenUnsatisfiable,
};
use spillway::{
    Container, Diagnosis, Engine, HostPort, Node, NodeAffinity, NodeSelector, NodeSelectorTerm, Outcome, PlaceOptions,
    Plan, Pod, Policy, Resources, Snapshot, Taint, TaintEffect, Toleration,
};

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

const GPU: &str = "example.com/gpu";
/// A second extended resource, rare, so that resource-name ordering is exercised too.
const FPGA: &str = "example.com/fpga";
const ZONE: &str = "topology.kubernetes.io/zone";
/// An integer-valued label (with one non-integer value), for `Gt`/`Lt`.
const GENERATION: &str = "example.com/generation";
const TIER: &str = "tier";
const HOSTNAME: &str = "kubernetes.io/hostname";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
const HUGE_NODE: &str = "zz-huge";
const MAX_NODES: usize = 12;
/// Where proptest records the seeds of failing cases, replayed first on the next run.
const REGRESSIONS: &str = "tests/common_props/properties.proptest-regressions";
const MI: i64 = 1 << 20;
const GI: i64 = 1 << 30;

const ZONES: &[&str] = &["zone-a", "zone-b", "zone-c"];
const GENERATIONS: &[&str] = &["1", "2", "3", "5", "8", "13", "x"];
const TIERS: &[&str] = &["fast", "slow"];
const SELECTOR_PAIRS: &[(&str, &str)] =
    &[(ZONE, "zone-a"), (ZONE, "zone-b"), (TIER, "fast"), (GENERATION, "3"), ("missing", "x")];
const REQUIREMENT_KEYS: &[&str] = &[ZONE, GENERATION, TIER, "missing"];
const BOUNDS: &[&str] = &["0", "2", "4", "9", "-1", "x"];
const ODD_VALUES: &[&str] = &["zone-a", "3", "fast", "not a label value!", "", "node-1"];
const OPERATORS: &[NodeSelectorOperator] = &[
    NodeSelectorOperator::In,
    NodeSelectorOperator::NotIn,
    NodeSelectorOperator::Exists,
    NodeSelectorOperator::DoesNotExist,
    NodeSelectorOperator::Gt,
    NodeSelectorOperator::Lt,
];
const TAINT_KEYS: &[&str] = &["dedicated", "gpu", "level", UNSCHEDULABLE_TAINT];
const TOLERATION_KEYS: &[&str] = &["", "dedicated", "gpu", "level", UNSCHEDULABLE_TAINT, "other"];
const TAINT_VALUES: &[&str] = &["", "a", "b", "3", "7", "03", "-2"];
const EFFECTS: &[TaintEffect] = &[TaintEffect::NoSchedule, TaintEffect::PreferNoSchedule, TaintEffect::NoExecute];
const TOLERATION_OPERATORS: &[TolerationOperator] =
    &[TolerationOperator::Equal, TolerationOperator::Exists, TolerationOperator::Gt, TolerationOperator::Lt];
const PORTS: &[u16] = &[80, 443, 8080];
const PROTOCOLS: &[Protocol] = &[Protocol::TCP, Protocol::UDP];
const HOST_IPS: &[&str] = &["", "0.0.0.0", "10.0.0.1", "10.0.0.2"];
const PRIORITIES: &[i32] = &[-5, 0, 0, 10, 1000];
const NAMESPACES: &[&str] = &["default", "team-a"];
const APPS: &[&str] = &["web", "db"];
const GROUPS: &[&str] = &["g1", "g2"];
const TOPOLOGY_KEYS: &[&str] = &[ZONE, HOSTNAME];
const STRATEGIES: &[ScoringStrategyType] = &[
    ScoringStrategyType::LeastAllocated,
    ScoringStrategyType::MostAllocated,
    ScoringStrategyType::RequestedToCapacityRatio,
];
/// Every resource the generators use, for per-resource checks.
const RESOURCE_NAMES: &[&str] = &["cpu", "memory", "ephemeral-storage", "pods", GPU, FPGA];

fn node_name(i: usize) -> String {
    format!("node-{i}")
}

fn label_values(key: &str) -> &'static [&'static str] {
    match key {
        ZONE => ZONES,
        GENERATION => GENERATIONS,
        TIER => TIERS,
        _ => &["x"],
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Zero with weight `zero`, else `step × (1..=max)` with weight 24.
fn amount(zero: u32, max: i64, step: i64) -> impl Strategy<Value = i64> {
    prop_oneof![zero => Just(0i64), 24 => (1..=max).prop_map(move |x| x * step)]
}

fn set_extended(r: &mut Resources, name: &str, amount: i64) {
    r.set(&ResourceName::Extended(name.to_string()), amount);
}

fn allocatable() -> impl Strategy<Value = Resources> {
    (
        amount(1, 48, 250),
        amount(1, 48, GI / 2),
        amount(1, 12, 10 * GI),
        prop_oneof![1 => Just(0i64), 30 => 1i64..=16],
        amount(3, 4, 1),
        amount(12, 2, 1),
    )
        .prop_map(|(cpu_millis, memory, ephemeral_storage, pods, gpu, fpga)| {
            let mut r = Resources { cpu_millis, memory, ephemeral_storage, pods, ..Resources::default() };
            set_extended(&mut r, GPU, gpu);
            set_extended(&mut r, FPGA, fpga);
            r
        })
}

/// Container requests; a zero cpu or memory request is either missing or an explicit zero.
fn container() -> impl Strategy<Value = Container> {
    (
        amount(8, 8, 250),
        amount(8, 8, 256 * MI),
        amount(72, 3, 5 * GI),
        amount(160, 2, 1),
        amount(400, 1, 1),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(cpu_millis, memory, ephemeral_storage, gpu, fpga, zero_cpu, zero_memory)| {
            let mut requests = Resources { cpu_millis, memory, ephemeral_storage, ..Resources::default() };
            set_extended(&mut requests, GPU, gpu);
            set_extended(&mut requests, FPGA, fpga);
            let mut c = Container::new("c", requests);
            if cpu_millis == 0 && zero_cpu {
                c.explicit_zero.push("cpu".into());
            }
            if memory == 0 && zero_memory {
                c.explicit_zero.push("memory".into());
            }
            c
        })
}

fn host_port() -> impl Strategy<Value = HostPort> {
    (select(PORTS), select(PROTOCOLS), select(HOST_IPS)).prop_map(|(port, protocol, ip)| HostPort {
        host_ip: ip.to_string(),
        protocol,
        port,
    })
}

fn overhead() -> impl Strategy<Value = Resources> {
    prop_oneof![
        4 => Just(Resources::default()),
        1 => (1..=4i64, 1..=4i64).prop_map(|(c, m)| Resources {
            cpu_millis: c * 50,
            memory: m * 32 * MI,
            ..Resources::default()
        }),
    ]
}

/// The resource side of a pod: app containers, init containers and sidecars, overhead, ports.
fn pod_shape() -> impl Strategy<Value = Pod> {
    (
        vec(container(), 0..=2),
        prop_oneof![3 => Just(vec![]), 1 => vec((container(), any::<bool>()), 1..=2)],
        overhead(),
        prop_oneof![3 => Just(vec![]), 1 => vec(host_port(), 1..=2)],
    )
        .prop_map(|(containers, inits, overhead, host_ports)| {
            let mut pod = Pod { overhead, host_ports, ..Pod::default() };
            for (i, c) in containers.into_iter().enumerate() {
                pod.containers.push(Container { name: format!("c{i}"), ..c });
            }
            for (i, (c, sidecar)) in inits.into_iter().enumerate() {
                pod.init_containers.push(Container { name: format!("init{i}"), sidecar, ..c });
            }
            pod
        })
}

fn taint() -> impl Strategy<Value = Taint> {
    (select(TAINT_KEYS), select(TAINT_VALUES), select(EFFECTS)).prop_map(|(k, v, e)| Taint::new(k, v, e))
}

fn toleration() -> impl Strategy<Value = Toleration> {
    (select(TOLERATION_KEYS), select(TOLERATION_OPERATORS), select(TAINT_VALUES), proptest::option::of(select(EFFECTS)))
        .prop_map(|(key, operator, value, effect)| Toleration {
            key: key.to_string(),
            operator,
            value: value.to_string(),
            effect,
            toleration_seconds: None,
        })
}

fn node() -> impl Strategy<Value = Node> {
    (
        allocatable(),
        proptest::option::of(select(ZONES)),
        proptest::option::of(select(GENERATIONS)),
        proptest::option::of(select(TIERS)),
        prop_oneof![4 => Just(vec![]), 1 => vec(taint(), 1..=2)],
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(allocatable, zone, generation, tier, taints, unschedulable)| {
            let mut node = Node { allocatable, taints, unschedulable, ..Node::default() };
            for (key, value) in [(ZONE, zone), (GENERATION, generation), (TIER, tier)] {
                if let Some(value) = value {
                    node.labels.insert(key.to_string(), value.to_string());
                }
            }
            node
        })
}

/// A label requirement; one in ten is malformed (wrong number of values, bad values).
fn requirement() -> impl Strategy<Value = NodeSelectorRequirement> {
    (select(REQUIREMENT_KEYS), select(OPERATORS), vec(0usize..16, 1..=2), proptest::bool::weighted(0.9)).prop_map(
        |(key, operator, picks, well_formed)| {
            use NodeSelectorOperator::*;
            let pick = |pool: &[&str], i: usize| pool[i % pool.len()].to_string();
            let values = if !well_formed {
                picks.iter().map(|&i| pick(ODD_VALUES, i)).collect()
            } else {
                match operator {
                    In | NotIn => picks.iter().map(|&i| pick(label_values(key), i)).collect(),
                    Exists | DoesNotExist => vec![],
                    Gt | Lt => vec![pick(BOUNDS, picks[0])],
                }
            };
            NodeSelectorRequirement { key: key.to_string(), operator, values }
        },
    )
}

/// A field requirement on `metadata.name`; occasionally malformed (other key or operator, two values).
fn field_requirement() -> impl Strategy<Value = NodeSelectorRequirement> {
    (
        0..MAX_NODES + 2,
        prop_oneof![4 => Just(NodeSelectorOperator::In), 2 => Just(NodeSelectorOperator::NotIn), 1 => select(OPERATORS)],
        proptest::bool::weighted(0.95),
        proptest::option::weighted(0.1, 0..MAX_NODES),
    )
        .prop_map(|(n, operator, name_key, second)| NodeSelectorRequirement {
            key: if name_key { "metadata.name" } else { "metadata.uid" }.to_string(),
            operator,
            values: std::iter::once(n).chain(second).map(node_name).collect(),
        })
}

fn term() -> impl Strategy<Value = NodeSelectorTerm> {
    (
        prop_oneof![1 => Just(vec![]), 4 => vec(requirement(), 1..=2)],
        prop_oneof![3 => Just(vec![]), 1 => vec(field_requirement(), 1..=2)],
    )
        .prop_map(|(match_expressions, match_fields)| NodeSelectorTerm { match_expressions, match_fields })
}

fn node_affinity() -> impl Strategy<Value = NodeAffinity> {
    (
        prop_oneof![5 => Just(None), 1 => vec(term(), 0..=2).prop_map(|node_selector_terms| Some(NodeSelector { node_selector_terms }))],
        prop_oneof![
            2 => Just(vec![]),
            1 => vec((1..=100i32, term()).prop_map(|(weight, preference)| PreferredSchedulingTerm { weight, preference }), 1..=2),
        ],
    )
        .prop_map(|(required, preferred)| NodeAffinity { required, preferred })
}

/// A pending pod with every scheduling constraint the engine honours. Names are set by [`case`].
fn pending_pod() -> impl Strategy<Value = Pod> {
    (
        pod_shape(),
        prop_oneof![5 => Just(vec![]), 1 => vec(select(SELECTOR_PAIRS), 1..=2)],
        node_affinity(),
        prop_oneof![2 => Just(vec![]), 1 => vec(toleration(), 1..=3)],
        select(PRIORITIES),
        0i64..4,
        select(NAMESPACES),
        proptest::option::weighted(0.05, 0..MAX_NODES),
    )
        .prop_map(
            |(pod, selector, node_affinity, tolerations, priority, creation_order, namespace, node_name_pin)| Pod {
                namespace: namespace.to_string(),
                node_selector: selector.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                node_affinity,
                tolerations,
                priority,
                creation_order,
                node_name: node_name_pin.map(node_name),
                ..pod
            },
        )
}

/// A cluster snapshot (as data) and the pods to place.
#[derive(Debug, Clone)]
struct Case {
    nodes: Vec<Node>,
    placed: Vec<Pod>,
    pending: Vec<Pod>,
    /// Co-scheduled groups (only in [`related_case`]).
    groups: Vec<PodGroup>,
}

impl Case {
    fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.nodes.clone(), self.placed.clone())
            .expect("generated snapshots are consistent")
            .with_groups(self.groups.clone())
    }
}

/// Nodes `node-0`.. (some copies of an earlier node but for the name, so that scores tie; each
/// labelled with its hostname), placed pods `<ns>/placed-<i>` bound to random nodes (their
/// total may overcommit a node), pending pods `<ns>/pend-<i>` with uid `uid-<i>`.
fn case_of(
    nodes: std::ops::RangeInclusive<usize>,
    placed: impl Strategy<Value = Vec<Pod>>,
    pending: impl Strategy<Value = Vec<Pod>>,
    groups: impl Strategy<Value = Vec<PodGroup>>,
) -> impl Strategy<Value = Case> {
    let node_or_clone = (node(), proptest::option::weighted(0.3, any::<Index>()));
    let placed = (placed, vec((select(NAMESPACES), any::<Index>()), 16));
    (vec(node_or_clone, nodes), placed, pending, groups).prop_map(|(specs, (placed, homes), pending, groups)| {
        let mut nodes: Vec<Node> = Vec::with_capacity(specs.len());
        for (i, (node, clone_of)) in specs.into_iter().enumerate() {
            let node = match clone_of {
                Some(j) if i > 0 => nodes[j.index(i)].clone(),
                _ => node,
            };
            nodes.push(Node { name: node_name(i), ..node }.with_label(HOSTNAME, node_name(i)));
        }
        let placed = placed
            .into_iter()
            .zip(homes.iter().cycle())
            .enumerate()
            .map(|(i, (pod, (namespace, at)))| Pod {
                namespace: namespace.to_string(),
                name: format!("placed-{i}"),
                uid: format!("uid-placed-{i}"),
                node_name: Some(nodes[at.index(nodes.len())].name.clone()),
                ..pod
            })
            .collect();
        let pending = pending
            .into_iter()
            .enumerate()
            .map(|(i, pod)| Pod { name: format!("pend-{i}"), uid: format!("uid-{i}"), ..pod })
            .collect();
        Case { nodes, placed, pending, groups }
    })
}

/// A case with the constraints the brief names: no pod labels, inter-pod terms or groups.
fn case(nodes: std::ops::RangeInclusive<usize>, placed: usize, pending: usize) -> impl Strategy<Value = Case> {
    case_of(nodes, vec(pod_shape(), 0..=placed), vec(pending_pod(), 0..=pending), Just(vec![]))
}

/// A case whose pods also carry labels, inter-pod affinity and anti-affinity, topology spread
/// constraints and pod-group labels, with some groups' `minMember` in the snapshot.
fn related_case() -> impl Strategy<Value = Case> {
    let placed = vec((pod_shape(), relations()).prop_map(|(pod, r)| r.apply(pod)), 0..=12);
    let pending = vec((pending_pod(), relations()).prop_map(|(pod, r)| r.apply(pod)), 0..=16);
    let groups = proptest::collection::btree_map((select(NAMESPACES), select(GROUPS)), 1..=3u32, 0..=2)
        .prop_map(|m| m.into_iter().map(|((ns, name), min)| PodGroup::new(ns, name, min)).collect());
    case_of(1..=8, placed, pending, groups)
}

/// Replicas of a few templates — the pods the engine's kept scores serve — some with pod-to-pod
/// rules, on nodes with placed pods that carry them too.
fn replica_case(nodes: std::ops::RangeInclusive<usize>, copies: usize) -> impl Strategy<Value = Case> {
    let template = (pending_pod(), relations(), proptest::bool::weighted(0.6), 1..=copies);
    let pending = vec(template, 1..=4).prop_map(|templates| {
        let mut pods = Vec::new();
        for (pod, relations, plain, copies) in templates {
            let pod = if plain { pod } else { relations.apply(pod) };
            pods.extend(std::iter::repeat_n(pod, copies));
        }
        pods
    });
    let placed = vec((pod_shape(), relations()).prop_map(|(pod, r)| r.apply(pod)), 0..=12);
    case_of(nodes, placed, pending, Just(vec![]))
}

/// Keys of the rules in [`topology_case`]: few domains (zones, tiers; some nodes lack them) and
/// one domain per node (hostnames).
const DOMAIN_KEYS: &[&str] = &[ZONE, TIER, HOSTNAME];

/// The rules the replicas of one workload carry, mostly about their own app: required spread
/// (`DoNotSchedule`, sometimes with `minDomains`), required anti-affinity and affinity,
/// preferred (anti-)affinity and, rarely, soft spread, over coarse and per-node keys.
fn replica_rules() -> impl Strategy<Value = Relations> {
    let rule = (
        prop_oneof![4 => Just(0u8), 3 => Just(1u8), 2 => Just(2u8), 1 => Just(3u8), 1 => Just(4u8), 1 => Just(5u8)],
        select(DOMAIN_KEYS),
        select(APPS),
        1..=2i32,
        proptest::bool::weighted(0.75),
        (1..=100i32, proptest::option::weighted(0.15, 2..=4i32)),
    );
    (select(APPS), vec(rule, 1..=2)).prop_map(|(app, rules)| {
        let mut r = Relations {
            app: Some(app),
            group: None,
            affinity: PodAffinity::default(),
            anti_affinity: PodAffinity::default(),
            spread: vec![],
        };
        for (kind, key, other, max_skew, own, (weight, min_domains)) in rules {
            let selector = Some(LabelSelector {
                match_labels: [("app".to_string(), if own { app } else { other }.to_string())].into(),
                ..LabelSelector::default()
            });
            let term = PodAffinityTerm {
                label_selector: selector.clone(),
                topology_key: key.to_string(),
                ..Default::default()
            };
            let spread = |when_unsatisfiable, min_domains| TopologySpreadConstraint {
                max_skew,
                topology_key: key.to_string(),
                when_unsatisfiable,
                label_selector: selector.clone(),
                min_domains,
                node_affinity_policy: None,
                node_taints_policy: None,
                match_label_keys: vec![],
            };
            match kind {
                0 => r.spread.push(spread(WhenUnsatisfiable::DoNotSchedule, min_domains)),
                1 => r.anti_affinity.required.push(term),
                2 => r.affinity.required.push(term),
                3 => r.affinity.preferred.push(WeightedPodAffinityTerm { weight, pod_affinity_term: term }),
                4 => r.anti_affinity.preferred.push(WeightedPodAffinityTerm { weight, pod_affinity_term: term }),
                _ => r.spread.push(spread(WhenUnsatisfiable::ScheduleAnyway, None)),
            }
        }
        r
    })
}

/// Replicas of a few workloads with topology rules ([`replica_rules`]) and some plain ones, on
/// nodes in zones and tiers, next to placed pods that carry such rules too: what the kept
/// scores serve per topology domain.
fn topology_case(nodes: std::ops::RangeInclusive<usize>, copies: usize) -> impl Strategy<Value = Case> {
    let template = (pending_pod(), replica_rules(), proptest::bool::weighted(0.2), 1..=copies);
    let pending = vec(template, 1..=5).prop_map(|templates| {
        let mut pods = Vec::new();
        for (pod, rules, plain, copies) in templates {
            let pod = if plain { pod } else { rules.apply(pod) };
            pods.extend(std::iter::repeat_n(pod, copies));
        }
        pods
    });
    let placed = vec(
        (pod_shape(), replica_rules(), proptest::bool::weighted(0.5))
            .prop_map(|(pod, rules, with)| if with { rules.apply(pod) } else { pod }),
        0..=16,
    );
    case_of(nodes, placed, pending, Just(vec![]))
}

/// With the filters that read usage ahead of the static ones, a node that first failed only a
/// taint fails for resources once another pod fills it, and the diagnosis must say so: the
/// kept verdict of a statically failing node is final only when no usage filter comes first.
#[test]
fn kept_verdicts_follow_usage_when_usage_filters_come_first() {
    let mut policy = Policy::default();
    policy.profile.filters.reverse();
    let engine = engine(policy);
    let alloc = |cpu: &str| Resources::parse([("cpu", cpu), ("memory", "8Gi"), ("pods", "10")]).unwrap();
    let taint = Taint::new("dedicated", "ml", TaintEffect::NoSchedule);
    let mut nodes = vec![
        Node::new("tainted").with_allocatable(alloc("2")).with_taint(taint),
        Node::new("small").with_allocatable(alloc("1")),
    ];
    // Cordoned nodes, so that few enough nodes change between two pods for the kept verdicts
    // to be updated rather than rebuilt.
    for i in 0..4 {
        nodes.push(Node { unschedulable: true, ..Node::new(format!("cordoned-{i}")).with_allocatable(alloc("8")) });
    }
    let snapshot = Snapshot::new(nodes, vec![]).unwrap();
    let pod = |name: &str, cpu: &str, order: i64| {
        let mut p = Pod::new("shop", name).with_container(Resources::parse([("cpu", cpu), ("memory", "1Gi")]).unwrap());
        p.creation_order = order;
        p
    };
    let ml = pod("ml", "1800m", 1).with_toleration(Toleration::equal("dedicated", "ml", Some(TaintEffect::NoSchedule)));
    let pending = vec![pod("web-1", "500m", 0), ml, pod("web-2", "500m", 2), pod("web-3", "500m", 3)];
    let plan = engine.place(&snapshot, &pending);
    assert_eq!(plan, engine.place_reference(&snapshot, &pending));
    let last = plan.decisions.iter().find(|d| d.pod == "shop/web-3").unwrap();
    match &last.outcome {
        Outcome::Unschedulable(d) => {
            assert_eq!(d.message, "0/6 nodes are available: 2 Insufficient cpu, 4 node(s) were unschedulable.")
        }
        other => panic!("web-3 should not fit: {other:?}"),
    }
}

/// Pod-to-pod rules of one pod.
#[derive(Debug, Clone)]
struct Relations {
    app: Option<&'static str>,
    group: Option<&'static str>,
    affinity: PodAffinity,
    anti_affinity: PodAffinity,
    spread: Vec<TopologySpreadConstraint>,
}

impl Relations {
    fn apply(self, pod: Pod) -> Pod {
        let mut pod = Pod {
            pod_affinity: self.affinity,
            pod_anti_affinity: self.anti_affinity,
            topology_spread_constraints: self.spread,
            ..pod
        };
        if let Some(app) = self.app {
            pod.labels.insert("app".into(), app.into());
        }
        if let Some(group) = self.group {
            pod.labels.insert(POD_GROUP_LABEL.into(), group.into());
        }
        pod
    }
}

fn app_selector() -> impl Strategy<Value = Option<LabelSelector>> {
    prop_oneof![
        1 => Just(None),
        6 => select(APPS).prop_map(|app| Some(LabelSelector {
            match_labels: [("app".to_string(), app.to_string())].into(),
            ..LabelSelector::default()
        })),
    ]
}

fn pod_term() -> impl Strategy<Value = PodAffinityTerm> {
    (app_selector(), select(TOPOLOGY_KEYS), proptest::bool::weighted(0.2)).prop_map(
        |(label_selector, key, every_namespace)| PodAffinityTerm {
            label_selector,
            namespace_selector: every_namespace.then(LabelSelector::default),
            topology_key: key.to_string(),
            ..PodAffinityTerm::default()
        },
    )
}

fn pod_affinity() -> impl Strategy<Value = PodAffinity> {
    let preferred = (1..=100i32, pod_term())
        .prop_map(|(weight, pod_affinity_term)| WeightedPodAffinityTerm { weight, pod_affinity_term });
    (
        prop_oneof![4 => Just(vec![]), 1 => vec(pod_term(), 1..=1)],
        prop_oneof![3 => Just(vec![]), 1 => vec(preferred, 1..=2)],
    )
        .prop_map(|(required, preferred)| PodAffinity { required, preferred })
}

fn spread_constraint() -> impl Strategy<Value = TopologySpreadConstraint> {
    (1..=2i32, select(TOPOLOGY_KEYS), any::<bool>(), app_selector()).prop_map(
        |(max_skew, key, hard, label_selector)| TopologySpreadConstraint {
            max_skew,
            topology_key: key.to_string(),
            when_unsatisfiable: if hard { WhenUnsatisfiable::DoNotSchedule } else { WhenUnsatisfiable::ScheduleAnyway },
            label_selector,
            min_domains: None,
            node_affinity_policy: None,
            node_taints_policy: None,
            match_label_keys: vec![],
        },
    )
}

fn relations() -> impl Strategy<Value = Relations> {
    (
        proptest::option::weighted(0.8, select(APPS)),
        proptest::option::weighted(0.15, select(GROUPS)),
        pod_affinity(),
        pod_affinity(),
        prop_oneof![3 => Just(vec![]), 1 => vec(spread_constraint(), 1..=2)],
    )
        .prop_map(|(app, group, affinity, anti_affinity, spread)| Relations {
            app,
            group,
            affinity,
            anti_affinity,
            spread,
        })
}

/// The default policy with NodeResourcesFit scoring by one of the three strategies.
fn policy() -> impl Strategy<Value = Policy> {
    select(STRATEGIES).prop_map(|kind| {
        let mut policy = Policy::default();
        let s = &mut policy.profile.node_resources_fit.scoring_strategy;
        s.kind = kind;
        if kind == ScoringStrategyType::RequestedToCapacityRatio {
            s.requested_to_capacity_ratio = Some(RequestedToCapacityRatioParam {
                shape: vec![
                    UtilizationShapePoint { utilization: 0, score: 10 },
                    UtilizationShapePoint { utilization: 100, score: 0 },
                ],
            });
        }
        policy
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

fn engine(policy: Policy) -> Engine {
    Engine::new(policy).expect("generated policies are valid")
}

fn explain() -> PlaceOptions {
    PlaceOptions { explain: true }
}

// ---------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------

/// One node's usage as the oracle tracks it.
#[derive(Debug, Clone, Default)]
struct Usage {
    /// Summed `Pod::requests`.
    requested: Resources,
    /// Summed `Pod::non_zero_requests` (scoring).
    non_zero: Resources,
    pods: i64,
    ports: Vec<HostPort>,
}

/// An independent filter (and default-score) oracle built from the model's own predicates.
struct Oracle<'a> {
    nodes: &'a [Node],
    usage: Vec<Usage>,
}

impl<'a> Oracle<'a> {
    fn new(snapshot: &'a Snapshot) -> Oracle<'a> {
        let nodes = snapshot.nodes();
        let mut oracle = Oracle { nodes, usage: vec![Usage::default(); nodes.len()] };
        for pod in snapshot.pods() {
            oracle.assume(pod.node_name.as_deref().expect("placed pods have a node"), pod);
        }
        oracle
    }

    fn index(&self, name: &str) -> usize {
        self.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("the plan names unknown node {name}"))
    }

    fn assume(&mut self, node: &str, pod: &Pod) {
        let i = self.index(node);
        let u = &mut self.usage[i];
        u.requested.add(&pod.requests());
        u.non_zero.add(&pod.non_zero_requests());
        u.pods += 1;
        u.ports.extend(pod.host_ports.iter().cloned());
    }

    /// Which filters `pod` fails on node `i`, given the usage so far (empty: it fits).
    fn failures(&self, i: usize, pod: &Pod) -> Vec<String> {
        let node = &self.nodes[i];
        let u = &self.usage[i];
        let tolerated = |taint: &Taint| pod.tolerations.iter().any(|t| t.tolerates(taint));
        let mut out = Vec::new();
        if node.unschedulable && !tolerated(&Taint::new(UNSCHEDULABLE_TAINT, "", TaintEffect::NoSchedule)) {
            out.push("NodeUnschedulable".to_string());
        }
        if pod.node_name.as_ref().is_some_and(|n| *n != node.name) {
            out.push("NodeName".to_string());
        }
        if node.taints.iter().any(|t| t.effect != TaintEffect::PreferNoSchedule && !tolerated(t)) {
            out.push("TaintToleration".to_string());
        }
        let selector_ok = pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v));
        let affinity_ok = pod.node_affinity.required.as_ref().is_none_or(|r| r.matches(&node.name, &node.labels));
        if !(selector_ok && affinity_ok) {
            out.push("NodeAffinity".to_string());
        }
        if pod.host_ports.iter().any(|want| u.ports.iter().any(|used| used.conflicts_with(want))) {
            out.push("NodePorts".to_string());
        }
        if u.pods + 1 > node.allocatable.pods {
            out.push("Too many pods".to_string());
        }
        for (name, amount) in pod.requests().iter() {
            if amount > node.allocatable.get(&name) - u.requested.get(&name) {
                out.push(format!("Insufficient {name}"));
            }
        }
        out
    }

    fn feasible(&self, pod: &Pod) -> BTreeSet<String> {
        (0..self.nodes.len())
            .filter(|&i| self.failures(i, pod).is_empty())
            .map(|i| self.nodes[i].name.clone())
            .collect()
    }

    /// kube-scheduler's default-profile scores (LeastAllocated) for a pod without pod-to-pod
    /// rules among pods without them, per feasible node and plugin,
    /// normalised, recomputed from scratch: node name → plugin → score.
    fn default_scores(&self, pod: &Pod, feasible: &[usize]) -> BTreeMap<String, BTreeMap<&'static str, i64>> {
        let prefer_tolerations: Vec<&Toleration> =
            pod.tolerations.iter().filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule)).collect();
        let taint_raw: Vec<i64> = feasible
            .iter()
            .map(|&i| {
                let taints = &self.nodes[i].taints;
                taints
                    .iter()
                    .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
                    .filter(|t| !prefer_tolerations.iter().any(|tol| tol.tolerates(t)))
                    .count() as i64
            })
            .collect();
        let affinity_raw: Vec<i64> = feasible
            .iter()
            .map(|&i| {
                let n = &self.nodes[i];
                let preferred = &pod.node_affinity.preferred;
                preferred.iter().filter(|t| t.preference.matches(&n.name, &n.labels)).map(|t| i64::from(t.weight)).sum()
            })
            .collect();
        let normalize = |raw: &[i64], reverse: bool| -> Vec<i64> {
            let max = raw.iter().copied().max().unwrap_or(0);
            raw.iter()
                .map(|&s| match (max, reverse) {
                    (0, true) => 100,
                    (0, false) => 0,
                    (m, true) => 100 - s * 100 / m,
                    (m, false) => s * 100 / m,
                })
                .collect()
        };
        let taint = normalize(&taint_raw, true);
        let affinity = normalize(&affinity_raw, false);
        let pod_nz = pod.non_zero_requests();
        let pod_req = pod.requests();
        let mut out = BTreeMap::new();
        for (k, &i) in feasible.iter().enumerate() {
            let alloc = &self.nodes[i].allocatable;
            let u = &self.usage[i];
            // NodeResourcesFit, LeastAllocated over cpu and memory (weight 1 each), non-zero requests.
            let mut sum = 0;
            let mut weights = 0;
            for (a, r) in [
                (alloc.cpu_millis, u.non_zero.cpu_millis + pod_nz.cpu_millis),
                (alloc.memory, u.non_zero.memory + pod_nz.memory),
            ] {
                if a == 0 {
                    continue;
                }
                sum += if r > a { 0 } else { (a - r) * 100 / a };
                weights += 1;
            }
            let fit = if weights == 0 { 0 } else { sum / weights };
            // BalancedAllocation over cpu and memory, real requests; skipped for pods requesting neither.
            let balanced = if pod_req.cpu_millis == 0 && pod_req.memory == 0 {
                0
            } else {
                let fractions: Vec<f64> = [
                    (alloc.cpu_millis, u.requested.cpu_millis + pod_req.cpu_millis),
                    (alloc.memory, u.requested.memory + pod_req.memory),
                ]
                .into_iter()
                .filter(|&(a, _)| a != 0)
                .map(|(a, r)| (r as f64 / a as f64).min(1.0))
                .collect();
                let std = if fractions.len() == 2 { ((fractions[0] - fractions[1]) / 2.0).abs() } else { 0.0 };
                ((1.0 - std) * 100.0) as i64
            };
            // The pod has no inter-pod terms or spread constraints and no placed pod has terms:
            // kube-scheduler skips InterPodAffinity and PodTopologySpread, scoring 0.
            let scores = BTreeMap::from([
                ("TaintToleration", taint[k]),
                ("NodeAffinity", affinity[k]),
                ("NodeResourcesFit", fit),
                ("PodTopologySpread", 0),
                ("InterPodAffinity", 0),
                ("NodeResourcesBalancedAllocation", balanced),
            ]);
            out.insert(self.nodes[i].name.clone(), scores);
        }
        out
    }
}

/// Pending pods by `namespace/name`.
fn by_key(pods: &[Pod]) -> BTreeMap<String, &Pod> {
    pods.iter().map(|p| (p.key(), p)).collect()
}

/// The plan's sequence of placements replayed through the oracle: calls `check` for each
/// decision with the oracle state *before* it, then assumes the placement.
fn replay(
    case: &Case,
    plan: &Plan,
    mut check: impl FnMut(&Oracle<'_>, &Pod, Option<&str>, &Outcome) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let snapshot = case.snapshot();
    let mut oracle = Oracle::new(&snapshot);
    let pods = by_key(&case.pending);
    for d in &plan.decisions {
        let pod = pods.get(&d.pod).copied();
        prop_assert!(pod.is_some(), "the plan decides for {} which is not pending", d.pod);
        let pod = pod.unwrap();
        check(&oracle, pod, d.node(), &d.outcome)?;
        if let Some(node) = d.node() {
            oracle.assume(node, pod);
        }
    }
    Ok(())
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

/// An empty, untainted, schedulable node with no labels and room for anything generated.
fn huge_node() -> Node {
    let mut allocatable = Resources {
        cpu_millis: 1 << 40,
        memory: 1 << 50,
        ephemeral_storage: 1 << 50,
        pods: 10_000,
        ..Resources::default()
    };
    set_extended(&mut allocatable, GPU, 1 << 20);
    set_extended(&mut allocatable, FPGA, 1 << 20);
    Node::new(HUGE_NODE).with_allocatable(allocatable)
}

/// Places `case` as given, again, shuffled by `seed` and reversed, and requires one plan.
fn check_order_independence(
    case: &Case,
    policy: Policy,
    seed: u64,
    options: PlaceOptions,
) -> Result<(), TestCaseError> {
    let engine = engine(policy);
    let plan = engine.place_with(&case.snapshot(), &case.pending, options);
    let again = engine.place_with(&case.snapshot(), &case.pending, options);
    prop_assert_eq!(&plan, &again, "placing twice gave different plans");
    let permuted = Case {
        nodes: shuffled(&case.nodes, seed),
        placed: shuffled(&case.placed, seed ^ 1),
        pending: shuffled(&case.pending, seed ^ 2),
        groups: shuffled(&case.groups, seed ^ 3),
    };
    let reordered = engine.place_with(&permuted.snapshot(), &permuted.pending, options);
    prop_assert_eq!(&plan, &reordered, "reordering the input (seed {}) changed the plan", seed);
    let reversed = Case {
        nodes: case.nodes.iter().rev().cloned().collect(),
        placed: case.placed.iter().rev().cloned().collect(),
        pending: case.pending.iter().rev().cloned().collect(),
        groups: case.groups.iter().rev().cloned().collect(),
    };
    let reversed = engine.place_with(&reversed.snapshot(), &reversed.pending, options);
    prop_assert_eq!(&plan, &reversed, "reversing the input changed the plan");
    Ok(())
}

/// Property 1: no resource of a node that started within allocatable ends above it.
fn check_no_overcommit(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    let snapshot = case.snapshot();
    let pods = by_key(&case.pending);
    let mut after: BTreeMap<&str, Resources> =
        case.nodes.iter().map(|n| (n.name.as_str(), snapshot.usage(&n.name))).collect();
    for d in &plan.decisions {
        if let Some(node) = d.node() {
            let usage = after.get_mut(node).expect("the plan names a known node");
            usage.add(&pods[&d.pod].requests());
            usage.pods += 1;
        }
    }
    for n in &case.nodes {
        let before = snapshot.usage(&n.name);
        for name in RESOURCE_NAMES.iter().map(|r| ResourceName::parse(r)) {
            let (alloc, was, now) = (n.allocatable.get(&name), before.get(&name), after[n.name.as_str()].get(&name));
            prop_assert!(
                was > alloc || now <= alloc,
                "node {} overcommitted on {}: allocatable {}, usage {} before the plan, {} after\nplan: {:?}",
                n.name,
                name,
                alloc,
                was,
                now,
                plan
            );
        }
    }
    Ok(())
}

/// Property 2: every placement passes the oracle's filters in plan order.
fn check_placements_pass_filters(case: &Case, plan: &Plan) -> Result<(), TestCaseError> {
    replay(case, plan, |oracle, pod, node, _| {
        if let Some(node) = node {
            let failures = oracle.failures(oracle.index(node), pod);
            prop_assert!(
                failures.is_empty(),
                "{} was placed on {} but the oracle says it fails {:?}",
                pod.key(),
                node,
                failures
            );
        }
        Ok(())
    })
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

/// A decision a co-scheduled group took back: the pod fitted, its group did not.
fn rolled_back(d: &Diagnosis) -> bool {
    d.reasons.is_empty() && d.message.contains("cannot be placed whole")
}

/// Property 7: explain mode gives the same outcomes, and its verdicts agree with them.
fn check_explain_agrees(case: &Case, policy: Policy) -> Result<(), TestCaseError> {
    let filters = policy.profile.filters.len();
    let engine = engine(policy);
    let snapshot = case.snapshot();
    let plain = engine.place(&snapshot, &case.pending);
    let explained = engine.place_with(&snapshot, &case.pending, explain());
    prop_assert_eq!(plain.decisions.len(), explained.decisions.len());
    let names: BTreeSet<&str> = case.nodes.iter().map(|n| n.name.as_str()).collect();
    for (p, e) in plain.decisions.iter().zip(&explained.decisions) {
        prop_assert_eq!(&p.pod, &e.pod);
        prop_assert_eq!(&p.outcome, &e.outcome, "explain mode changed the outcome of {}", p.pod);
        prop_assert!(p.explanation.is_none(), "{} has an explanation without explain mode", p.pod);
        let Some(ex) = &e.explanation else {
            return Err(TestCaseError::fail(format!("{} has no explanation in explain mode", e.pod)));
        };
        let explained_nodes: BTreeSet<&str> = ex.nodes.keys().map(String::as_str).collect();
        prop_assert_eq!(&explained_nodes, &names, "{}: explanation does not cover every node", e.pod);
        let mut best = None;
        for (name, v) in &ex.nodes {
            let failing = v.filters.values().filter(|r| !r.is_empty()).count();
            prop_assert_eq!(v.filters.len(), filters, "{} on {}: not every filter ran: {:?}", e.pod, name, v);
            prop_assert_eq!(
                v.feasible,
                failing == 0,
                "{} on {}: feasible disagrees with the reasons: {:?}",
                e.pod,
                name,
                v
            );
            prop_assert_eq!(
                v.feasible,
                v.total.is_some(),
                "{} on {}: only feasible nodes have totals: {:?}",
                e.pod,
                name,
                v
            );
            best = best.max(v.total);
        }
        match &e.outcome {
            Outcome::Node { node, score } => {
                let v = &ex.nodes[node];
                prop_assert!(v.feasible, "{} was placed on {} which its explanation calls infeasible", e.pod, node);
                prop_assert_eq!(v.total, Some(*score), "{}: score differs from the chosen node's total", e.pod);
                prop_assert_eq!(
                    v.total,
                    best,
                    "{}: chose {} with total {:?}, not the best {:?}",
                    e.pod,
                    node,
                    v.total,
                    best
                );
            }
            Outcome::Unschedulable(d) => prop_assert!(
                best.is_none() || rolled_back(d),
                "{} is unschedulable ({}) but some node is explained feasible",
                e.pod,
                d.message
            ),
            other => return Err(TestCaseError::fail(format!("unexpected outcome {other:?}"))),
        }
    }
    Ok(())
}

/// The plan survives a JSON round trip.
/// `place` and `place_reference` agree; `reversed` runs the filters in reverse order (those that
/// read usage before the static ones, so first failures change with usage).
fn check_kept_scores(case: &Case, mut policy: Policy, reversed: bool) -> Result<(), TestCaseError> {
    if reversed {
        policy.profile.filters.reverse();
    }
    let engine = engine(policy);
    let snapshot = case.snapshot();
    prop_assert_eq!(engine.place(&snapshot, &case.pending), engine.place_reference(&snapshot, &case.pending));
    Ok(())
}

fn check_json_round_trip(plan: &Plan) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(plan).map_err(|e| TestCaseError::fail(format!("a plan must serialize: {e}")))?;
    let back: Plan = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, plan, "JSON round trip changed the plan: {}", json);
    Ok(())
}

fn order_key(pod: &Pod) -> (Reverse<i32>, i64, &str, &str) {
    (Reverse(pod.priority), pod.creation_order, pod.namespace.as_str(), pod.name.as_str())
}

/// The default profile's score weights, by plugin name.
fn default_weights() -> BTreeMap<String, i64> {
    Policy::default().profile.scores.iter().map(|s| (s.name.name().to_string(), s.weight)).collect()
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(192))]

    /// 1. For every node whose initial usage of a resource was within allocatable, the usage
    /// after the plan still is; likewise the pod count.
    #[test]
    fn never_overcommits(case in case(1..=MAX_NODES, 16, 25), policy in policy()) {
        let plan = engine(policy).place(&case.snapshot(), &case.pending);
        check_no_overcommit(&case, &plan)?;
    }

    /// 2. Every placement passes every filter of an independent oracle, against the usage
    /// accumulated in plan order.
    #[test]
    fn every_placement_passes_every_filter(case in case(1..=MAX_NODES, 16, 25), policy in policy()) {
        let plan = engine(policy).place(&case.snapshot(), &case.pending);
        check_placements_pass_filters(&case, &plan)?;
    }

    /// 3. An unschedulable pod fits no node (given the placements before it), and its
    /// diagnosis accounts for every node in kube-scheduler's words.
    #[test]
    fn unschedulable_means_no_node_fits(case in case(1..=MAX_NODES, 16, 25), policy in policy()) {
        let nodes = case.nodes.len();
        let plan = engine(policy).place(&case.snapshot(), &case.pending);
        replay(&case, &plan, |oracle, pod, _, outcome| {
            if let Outcome::Unschedulable(diagnosis) = outcome {
                let feasible = oracle.feasible(pod);
                prop_assert!(
                    feasible.is_empty(),
                    "{} was declared unschedulable ({}) but the oracle says it fits {:?}",
                    pod.key(), diagnosis.message, feasible
                );
                let counted: usize = diagnosis.reasons.values().sum();
                prop_assert!(
                    counted >= nodes,
                    "{}: the reasons {:?} count {} nodes, fewer than the {} nodes",
                    pod.key(), diagnosis.reasons, counted, nodes
                );
                let prefix = format!("0/{nodes} nodes are available: ");
                prop_assert!(
                    diagnosis.message.starts_with(&prefix),
                    "{}: message {:?} does not start with {:?}", pod.key(), diagnosis.message, prefix
                );
            }
            Ok(())
        })?;
    }

}

proptest! {
    #![proptest_config(config(128))]

    /// 5. Decisions come one per pending pod, by priority descending, then creation order,
    /// then namespace and name.
    #[test]
    fn plan_is_in_priority_creation_name_order(case in case(1..=MAX_NODES, 8, 25)) {
        let plan = engine(Policy::default()).place(&case.snapshot(), &case.pending);
        check_one_decision_per_pod(&case, &plan)?;
        let pods = by_key(&case.pending);
        for w in plan.decisions.windows(2) {
            let (a, b) = (pods[&w[0].pod], pods[&w[1].pod]);
            prop_assert!(
                order_key(a) < order_key(b),
                "{} (priority {}, creation {}) is decided before {} (priority {}, creation {})",
                a.key(), a.priority, a.creation_order, b.key(), b.priority, b.creation_order
            );
        }
    }

    /// 4. The same input gives the same plan, and so does any reordering of the nodes, the
    /// placed pods and the pending pods.
    #[test]
    fn plan_is_deterministic_and_order_independent(
        case in case(1..=MAX_NODES, 16, 25),
        policy in policy(),
        seed in any::<u64>(),
    ) {
        check_order_independence(&case, policy, seed, PlaceOptions::default())?;
    }

    /// 4'. The same holds with explanations: node order does not change a plan or its
    /// explanations (the snapshot's documented contract).
    #[test]
    fn explanations_are_order_independent(
        case in case(1..=MAX_NODES, 16, 25),
        policy in policy(),
        seed in any::<u64>(),
    ) {
        check_order_independence(&case, policy, seed, explain())?;
    }

    /// 6a. Adding an empty, untainted, schedulable, unlabelled node with huge allocatable keeps
    /// the first placed pod placed. Pods before it (unschedulable without the node) are still
    /// unschedulable or go to the new node, since the old nodes are untouched until then.
    #[test]
    fn adding_a_node_keeps_the_first_feasible_pod_feasible(case in case(1..=MAX_NODES, 16, 25)) {
        let engine = engine(Policy::default());
        let before = engine.place(&case.snapshot(), &case.pending);
        let mut nodes = case.nodes.clone();
        nodes.push(huge_node());
        let bigger = Snapshot::new(nodes, case.placed.clone()).expect("the huge node's name is unique");
        let after = engine.place(&bigger, &case.pending);
        prop_assert_eq!(before.decisions.len(), after.decisions.len());
        for (b, a) in before.decisions.iter().zip(&after.decisions) {
            prop_assert_eq!(&b.pod, &a.pod, "adding a node changed the plan order");
            if b.node().is_some() {
                prop_assert!(
                    a.node().is_some(),
                    "{} was placed on {:?} but is unschedulable once {} is added: {:?}",
                    b.pod, b.node(), HUGE_NODE, a.outcome
                );
                break;
            }
            prop_assert!(
                a.node().is_none_or(|n| n == HUGE_NODE),
                "{} fitted no node, but once {} is added it goes to old node {:?}",
                b.pod, HUGE_NODE, a.node()
            );
        }
    }

    /// 6c. The scores the engine keeps from pod to pod change nothing: `place` gives the plan
    /// of `place_reference`, which evaluates every pod on every node (with the default filter
    /// order and with it reversed).
    #[test]
    fn kept_scores_give_the_reference_plan(case in replica_case(1..=MAX_NODES, 10), policy in policy(), reversed in any::<bool>()) {
        check_kept_scores(&case, policy, reversed)?;
    }

    /// 6d. The same on larger clusters filling up: many replicas, so that nodes fill, the
    /// feasible set shrinks and most pods find their key's scores only a few nodes stale.
    #[test]
    fn kept_scores_give_the_reference_plan_as_nodes_fill(case in replica_case(16..=40, 30), policy in policy(), reversed in any::<bool>()) {
        check_kept_scores(&case, policy, reversed)?;
    }

    /// 6e. The same for pods with topology spread constraints and inter-pod rules, whose kept
    /// scores are read per topology domain: zones and tiers (few domains, some nodes without
    /// the key) checked once per domain, hostnames (one node each) naming the nodes they keep
    /// out, the inter-pod affinity score one value per domain.
    #[test]
    fn topology_rules_give_the_reference_plan(case in topology_case(1..=48, 12), policy in policy(), reversed in any::<bool>()) {
        check_kept_scores(&case, policy, reversed)?;
    }

    /// 6f. The same with many replicas on larger clusters, so that domains fill up, skews
    /// bind and hostname rules keep many nodes out.
    #[test]
    fn topology_rules_give_the_reference_plan_as_domains_fill(case in topology_case(16..=64, 40), policy in policy(), reversed in any::<bool>()) {
        check_kept_scores(&case, policy, reversed)?;
    }

    /// 6b. A lone pod with no node selector, required affinity or node name always fits the
    /// huge node: unschedulable (e.g. only for resources) without it, placed on it once added;
    /// placed without it, still placed.
    #[test]
    fn a_huge_node_takes_an_unconstrained_pod(
        case in case(1..=3, 16, 0),
        pod in pending_pod(),
        scale in 1i64..=6,
    ) {
        let mut pod = Pod {
            name: "lone".into(),
            uid: "uid-lone".into(),
            node_selector: Default::default(),
            node_affinity: NodeAffinity { required: None, ..pod.node_affinity },
            node_name: None,
            ..pod
        };
        for c in pod.containers.iter_mut().chain(pod.init_containers.iter_mut()) {
            let r = &c.requests;
            c.requests = Resources {
                cpu_millis: r.cpu_millis * scale,
                memory: r.memory * scale,
                ephemeral_storage: r.ephemeral_storage * scale,
                pods: 0,
                extended: r.extended.iter().map(|(k, v)| (k.clone(), v * scale)).collect(),
            };
        }
        let engine = engine(Policy::default());
        let before = engine.place(&case.snapshot(), std::slice::from_ref(&pod));
        let mut nodes = case.nodes.clone();
        nodes.push(huge_node());
        let bigger = Snapshot::new(nodes, case.placed.clone()).expect("the huge node's name is unique");
        let after = engine.place(&bigger, std::slice::from_ref(&pod));
        match (&before.decisions[0].outcome, after.decisions[0].node()) {
            (Outcome::Unschedulable(d), placed) => prop_assert_eq!(
                placed, Some(HUGE_NODE),
                "{} was unschedulable ({}) and should go to {} once it is added", pod.key(), d.message, HUGE_NODE
            ),
            (_, placed) => prop_assert!(
                placed.is_some(),
                "{} was placed on {:?} but is unschedulable once {} is added",
                pod.key(), before.decisions[0].node(), HUGE_NODE
            ),
        }
    }

    /// 7. Explain mode yields the same outcomes; its verdicts agree with the outcome: the
    /// chosen node is feasible with the best total, infeasible nodes carry a reason.
    #[test]
    fn explain_mode_does_not_change_outcomes(case in case(1..=MAX_NODES, 16, 25), policy in policy()) {
        check_explain_agrees(&case, policy)?;
    }

    /// Plans, with and without explanations, survive a JSON round trip.
    #[test]
    fn plan_json_round_trips(case in case(1..=6, 8, 8), explain_it in any::<bool>()) {
        let options = PlaceOptions { explain: explain_it };
        check_json_round_trip(&engine(Policy::default()).place_with(&case.snapshot(), &case.pending, options))?;
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// The invariants that do not depend on pod-to-pod rules, on pods that carry them: labels,
    /// required and preferred pod affinity and anti-affinity, topology spread constraints and
    /// co-scheduled groups (placed all-or-nothing, with rollback). The oracle checks only the
    /// node-level filters here; it does not model the inter-pod ones.
    #[test]
    fn pod_to_pod_rules_keep_the_invariants(case in related_case(), policy in policy(), seed in any::<u64>()) {
        let plan = engine(policy.clone()).place(&case.snapshot(), &case.pending);
        check_one_decision_per_pod(&case, &plan)?;
        check_no_overcommit(&case, &plan)?;
        check_placements_pass_filters(&case, &plan)?;
        check_order_independence(&case, policy.clone(), seed, PlaceOptions::default())?;
        check_order_independence(&case, policy.clone(), seed, explain())?;
        check_explain_agrees(&case, policy)?;
        check_json_round_trip(&plan)?;
    }
}

proptest! {
    #![proptest_config(config(768))]

    /// 8. Brute force on tiny clusters with one pending pod: the explained feasible set is the
    /// oracle's, every feasible node's per-plugin scores and total equal kube-scheduler's
    /// default-profile scores recomputed here, and the chosen node has the maximum total.
    #[test]
    fn tiny_clusters_agree_with_brute_force(case in case(1..=4, 6, 0), pod in pending_pod()) {
        let pod = Pod { name: "only".into(), uid: "uid-only".into(), ..pod };
        let snapshot = case.snapshot();
        let plan = engine(Policy::default()).place_with(&snapshot, std::slice::from_ref(&pod), explain());
        prop_assert_eq!(plan.decisions.len(), 1);
        let decision = &plan.decisions[0];
        let ex = decision.explanation.as_ref().expect("explain mode explains");
        let oracle = Oracle::new(&snapshot);
        let want = oracle.feasible(&pod);
        let got: BTreeSet<String> = ex.nodes.iter().filter(|(_, v)| v.feasible).map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(&got, &want, "feasible nodes differ from the oracle's; explanation: {:?}", ex);

        let feasible: Vec<usize> = (0..case.nodes.len()).filter(|&i| want.contains(&case.nodes[i].name)).collect();
        let expected = oracle.default_scores(&pod, &feasible);
        let weights = default_weights();
        let total = |scores: &BTreeMap<&str, i64>| -> i64 { scores.iter().map(|(k, s)| s * weights[*k]).sum() };
        for (name, scores) in &expected {
            let v = &ex.nodes[name];
            let got_scores: BTreeMap<&str, i64> = v.scores.iter().map(|(k, s)| (k.as_str(), *s)).collect();
            prop_assert_eq!(&got_scores, scores, "per-plugin scores on {} differ from kube-scheduler's", name);
            prop_assert_eq!(v.total, Some(total(scores)), "total on {} differs from the weighted sum", name);
        }
        let best = expected.values().map(total).max();
        match &decision.outcome {
            Outcome::Node { node, score } => {
                prop_assert_eq!(Some(*score), best, "chose {} with {}, but the best total is {:?}", node, score, best);
                prop_assert!(want.contains(node), "chose {} outside the feasible set {:?}", node, want);
            }
            Outcome::Unschedulable(d) => {
                prop_assert!(want.is_empty(), "unschedulable ({}) although {:?} fit", d.message, want);
            }
            other => return Err(TestCaseError::fail(format!("unexpected outcome {other:?}"))),
        }
    }
}

/// The smallest case `explanations_are_order_independent` first found, kept as a plain test:
/// the "Insufficient <extended resource>" reasons of a node's NodeResourcesFit verdict must not
/// come in the order the resources were first seen among the nodes (NodeResourcesFit documents
/// cpu, memory, ephemeral-storage, then extended resources by name, and `Snapshot` documents
/// that node order does not affect a plan).
#[test]
fn explained_insufficient_resources_do_not_depend_on_node_order() {
    let extended = |name: &str, amount: i64| {
        let mut r = Resources { pods: 10, ..Resources::default() };
        set_extended(&mut r, name, amount);
        r
    };
    let gpu_node = Node::new("gpu-node").with_allocatable(extended(GPU, 1));
    let fpga_node = Node::new("fpga-node").with_allocatable(extended(FPGA, 1));
    let mut wants_both = extended(GPU, 2);
    set_extended(&mut wants_both, FPGA, 2);
    wants_both.pods = 0;
    let pod = Pod::new("default", "p").with_container(wants_both);
    let engine = engine(Policy::default());
    let fit_reasons = |nodes: Vec<Node>| {
        let snapshot = Snapshot::new(nodes, vec![]).expect("valid snapshot");
        let plan = engine.place_with(&snapshot, std::slice::from_ref(&pod), explain());
        let explanation = plan.decisions[0].explanation.clone().expect("explain mode explains");
        explanation.nodes["gpu-node"].filters["NodeResourcesFit"].clone()
    };
    let by_name = vec!["Insufficient example.com/fpga".to_string(), "Insufficient example.com/gpu".to_string()];
    assert_eq!(fit_reasons(vec![fpga_node.clone(), gpu_node.clone()]), by_name, "fpga-node listed first");
    assert_eq!(fit_reasons(vec![gpu_node, fpga_node]), by_name, "gpu-node listed first");
}

/// Nodes whose usage differs only where the non-zero defaults hide it must not share kept
/// verdicts: a pod with no memory request counts as 200Mi when scoring (kube's non-zero
/// default) but as 0 when fitting, so `a` (a 200Mi pod) and `b` (a pod requesting no memory)
/// score alike, yet only `b` has room for 900Mi. The engine evaluates nodes of one resource
/// state once per pod; the state must hold the real requests too.
#[test]
fn nodes_alike_only_in_non_zero_requests_are_told_apart() {
    let alloc = Resources::parse([("cpu", "4"), ("memory", "1Gi"), ("pods", "10")]).expect("valid");
    let nodes: Vec<Node> = ["a", "b"].iter().map(|n| Node::new(*n).with_allocatable(alloc.clone())).collect();
    let with_memory = Pod::new("default", "on-a")
        .with_container(Resources::parse([("cpu", "100m"), ("memory", "200Mi")]).expect("valid"))
        .on_node("a");
    let without_memory =
        Pod::new("default", "on-b").with_container(Resources::parse([("cpu", "100m")]).expect("valid")).on_node("b");
    let snapshot = Snapshot::new(nodes, vec![with_memory, without_memory]).expect("valid snapshot");
    let pending: Vec<Pod> = (0..2)
        .map(|i| {
            Pod::new("default", format!("big-{i}"))
                .with_container(Resources::parse([("cpu", "100m"), ("memory", "900Mi")]).expect("valid"))
        })
        .collect();
    let engine = engine(Policy::default());
    let plan = engine.place(&snapshot, &pending);
    assert_eq!(plan, engine.place_reference(&snapshot, &pending));
    assert!(
        matches!(&plan.decisions[0].outcome, Outcome::Node { node, .. } if node == "b"),
        "only b has 900Mi free: {:?}",
        plan.decisions[0].outcome
    );
}

/// The engine keeps scores from pod to pod in 32 bits. A policy whose weights could push a
/// total past that (kube-scheduler allows any positive weight) takes the plain path instead,
/// with the same plan and no overflow: here NodeResourcesFit weighs 50 million.
#[test]
fn huge_score_weights_give_the_reference_plan() {
    let mut policy = Policy::default();
    for s in &mut policy.profile.scores {
        s.weight = 50_000_000;
    }
    let engine = engine(policy);
    let nodes: Vec<Node> = (0..4)
        .map(|i| {
            Node::new(node_name(i))
                .with_allocatable(Resources::parse([("cpu", "4"), ("memory", "8Gi"), ("pods", "10")]).expect("valid"))
        })
        .collect();
    let snapshot = Snapshot::new(nodes, vec![]).expect("valid snapshot");
    let pending: Vec<Pod> = (0..12)
        .map(|i| {
            Pod::new("default", format!("p-{i}"))
                .with_container(Resources::parse([("cpu", "300m"), ("memory", "500Mi")]).expect("valid"))
        })
        .collect();
    let plan = engine.place(&snapshot, &pending);
    assert_eq!(plan, engine.place_reference(&snapshot, &pending));
    assert_eq!(plan.summary.nodes, 12);
    let top = plan.decisions.iter().filter_map(|d| match d.outcome {
        Outcome::Node { score, .. } => Some(score),
        _ => None,
    });
    assert!(top.max().is_some_and(|s| s > i64::from(i32::MAX)), "scores this large do not fit 32 bits");
}

/// A hostname spread constraint with `maxSkew: 0` (the API server refuses it, the model takes
/// it) keeps a self-matching pod off every node, even empty ones: the kept path, which lists
/// only the nodes a fine rule keeps out, must list them all and agree with the plain path.
#[test]
fn a_zero_max_skew_hostname_spread_gives_the_reference_plan() {
    let nodes: Vec<Node> = (0..4)
        .map(|i| {
            Node::new(node_name(i))
                .with_label("kubernetes.io/hostname", node_name(i))
                .with_allocatable(Resources::parse([("cpu", "4"), ("memory", "8Gi"), ("pods", "10")]).expect("valid"))
        })
        .collect();
    let snapshot = Snapshot::new(nodes, vec![]).expect("valid snapshot");
    let pending: Vec<Pod> = (0..3)
        .map(|i| {
            let mut pod = Pod::new("default", format!("p-{i}"))
                .with_container(Resources::parse([("cpu", "100m"), ("memory", "100Mi")]).expect("valid"))
                .with_label("app", "web");
            pod.topology_spread_constraints.push(TopologySpreadConstraint {
                max_skew: 0,
                topology_key: "kubernetes.io/hostname".into(),
                when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
                label_selector: Some(LabelSelector {
                    match_labels: [("app".to_string(), "web".to_string())].into(),
                    ..Default::default()
                }),
                min_domains: None,
                node_affinity_policy: None,
                node_taints_policy: None,
                match_label_keys: vec![],
            });
            pod
        })
        .collect();
    let engine = engine(Policy::default());
    let plan = engine.place(&snapshot, &pending);
    assert_eq!(plan, engine.place_reference(&snapshot, &pending));
    assert_eq!(plan.summary.unschedulable, 3, "{plan:?}");
}
