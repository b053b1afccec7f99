//! PodTopologySpread tables modelled on kube-scheduler's
//! `pkg/scheduler/framework/plugins/podtopologyspread/{filtering,scoring}_test.go`, run through
//! spillway's public API with explanations on (node inclusion policies and matchLabelKeys on,
//! as in current kube).
//!
//! Filter rows read every node's `filters["PodTopologySpread"]`; score rows read every feasible
//! node's normalised `scores["PodTopologySpread"]`. The last section places replicas in one plan,
//! each placement assumed before the next replica is considered.

use spillway::model::{
    InclusionPolicy, LabelSelector, LabelSelectorRequirement, Labels, NodeSelectorOperator, NodeSelectorRequirement,
    NodeSelectorTerm, SelectorOperator, TopologySpreadConstraint, WhenUnsatisfiable,
};
use spillway::{
    Decision, Engine, Node, NodeAffinity, NodeSelector, Outcome, PlaceOptions, Plan, Pod, Policy, Resources, Snapshot,
    Taint, TaintEffect, Toleration,
};

const PLUGIN: &str = "PodTopologySpread";
/// The node passes the plugin.
const OK: &str = "";
const SPREAD: &str = "node(s) didn't match pod topology spread constraints";
const MISSING: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
const NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

const HOST: &str = "kubernetes.io/hostname";

use WhenUnsatisfiable::{DoNotSchedule, ScheduleAnyway};

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A node with room for plenty of pods and these labels.
fn node(name: &str, pairs: &[(&str, &str)]) -> Node {
    let alloc = Resources::parse([("cpu", "8"), ("memory", "32Gi"), ("pods", "110")]).expect("valid quantities");
    let mut n = Node::new(name).with_allocatable(alloc);
    n.labels = labels(pairs);
    n
}

/// kube's four-node table: node-a, node-b in zone1; node-x, node-y in zone2; each labelled
/// `node=<name>`.
fn four() -> Vec<Node> {
    ["node-a", "node-b", "node-x", "node-y"]
        .iter()
        .map(|&n| node(n, &[("zone", if n < "node-x" { "zone1" } else { "zone2" }), ("node", n)]))
        .collect()
}

/// kube's default nodes: node-0, node-1 in zone-0; node-2, node-3 in zone-1.
fn default_nodes() -> Vec<Node> {
    (0..4)
        .map(|i| node(&format!("node-{i}"), &[("node", &format!("node-{i}")), ("zone", &format!("zone-{}", i / 2))]))
        .collect()
}

/// A pod in `default` with these labels.
fn pod(pairs: &[(&str, &str)]) -> Pod {
    let mut p = Pod::new("default", "incoming");
    p.labels = labels(pairs);
    p
}

/// A pod labelled `foo=""` (matched by the tables' `foo Exists` selector).
fn foo() -> Pod {
    pod(&[("foo", "")])
}

/// `n` copies of `p` on `node` (the runner names them).
fn on(node: &'static str, n: usize, p: Pod) -> Vec<(&'static str, Pod)> {
    vec![(node, p); n]
}

fn exists(key: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Labels::new(),
        match_expressions: vec![LabelSelectorRequirement {
            key: key.into(),
            operator: SelectorOperator::Exists,
            values: vec![],
        }],
    }
}

fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector { match_labels: labels(pairs), match_expressions: vec![] }
}

/// A constraint with defaults for everything optional.
fn constraint(
    max_skew: i32,
    key: &str,
    when: WhenUnsatisfiable,
    selector: Option<LabelSelector>,
) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: key.into(),
        when_unsatisfiable: when,
        label_selector: selector,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: vec![],
    }
}

/// `maxSkew` over `key`, DoNotSchedule, counting `foo` pods.
fn hard(max_skew: i32, key: &str) -> TopologySpreadConstraint {
    constraint(max_skew, key, DoNotSchedule, Some(exists("foo")))
}

/// `maxSkew` over `key`, ScheduleAnyway, counting `foo` pods.
fn soft(max_skew: i32, key: &str) -> TopologySpreadConstraint {
    constraint(max_skew, key, ScheduleAnyway, Some(exists("foo")))
}

trait ConstraintExt {
    fn min_domains(self, n: i32) -> Self;
    fn affinity_policy(self, p: InclusionPolicy) -> Self;
    fn taints_policy(self, p: InclusionPolicy) -> Self;
    fn match_label_keys(self, keys: &[&str]) -> Self;
}

impl ConstraintExt for TopologySpreadConstraint {
    fn min_domains(mut self, n: i32) -> Self {
        self.min_domains = Some(n);
        self
    }

    fn affinity_policy(mut self, p: InclusionPolicy) -> Self {
        self.node_affinity_policy = Some(p);
        self
    }

    fn taints_policy(mut self, p: InclusionPolicy) -> Self {
        self.node_taints_policy = Some(p);
        self
    }

    fn match_label_keys(mut self, keys: &[&str]) -> Self {
        self.match_label_keys = keys.iter().map(|k| k.to_string()).collect();
        self
    }
}

trait PodExt {
    fn spread(self, c: TopologySpreadConstraint) -> Self;
    /// Required node affinity: `key In values`.
    fn node_in(self, key: &str, values: &[&str]) -> Self;
    /// Required node affinity: `key NotIn values`.
    fn node_not_in(self, key: &str, values: &[&str]) -> Self;
    fn named(self, name: &str) -> Self;
}

impl PodExt for Pod {
    fn spread(mut self, c: TopologySpreadConstraint) -> Pod {
        self.topology_spread_constraints.push(c);
        self
    }

    fn node_in(self, key: &str, values: &[&str]) -> Pod {
        with_node_requirement(self, key, NodeSelectorOperator::In, values)
    }

    fn node_not_in(self, key: &str, values: &[&str]) -> Pod {
        with_node_requirement(self, key, NodeSelectorOperator::NotIn, values)
    }

    fn named(mut self, name: &str) -> Pod {
        self.uid = format!("{}/{name}", self.namespace);
        self.name = name.into();
        self
    }
}

fn with_node_requirement(mut p: Pod, key: &str, operator: NodeSelectorOperator, values: &[&str]) -> Pod {
    let req =
        NodeSelectorRequirement { key: key.into(), operator, values: values.iter().map(|v| v.to_string()).collect() };
    p.node_affinity = NodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm { match_expressions: vec![req], match_fields: vec![] }],
        }),
        preferred: vec![],
    };
    p
}

// ---------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------

/// Places `pending` with explanations on `nodes` holding `existing` (renamed `existing-<i>`).
/// Also checks that explain mode does not change any outcome and that a second run is identical.
fn run(nodes: Vec<Node>, existing: Vec<(&str, Pod)>, pending: &[Pod]) -> Plan {
    let placed =
        existing.into_iter().enumerate().map(|(i, (n, p))| p.named(&format!("existing-{i}")).on_node(n)).collect();
    let snapshot = Snapshot::new(nodes, placed).expect("consistent snapshot");
    let engine = Engine::new(Policy::default()).expect("valid policy");
    let explained = engine.place_with(&snapshot, pending, PlaceOptions { explain: true });
    let plain = engine.place(&snapshot, pending);
    for (a, b) in plain.decisions.iter().zip(&explained.decisions) {
        assert_eq!((&a.pod, &a.outcome), (&b.pod, &b.outcome), "explain mode changed the outcome");
    }
    assert_eq!(engine.place_with(&snapshot, pending, PlaceOptions { explain: true }), explained, "not deterministic");
    explained
}

fn verdicts(d: &Decision) -> &std::collections::BTreeMap<String, spillway::NodeVerdict> {
    &d.explanation.as_ref().expect("explanations were requested").nodes
}

/// The PodTopologySpread reason of every node, in node-name order (`""` when it passed).
fn reasons(d: &Decision) -> Vec<(String, String)> {
    verdicts(d)
        .iter()
        .map(|(name, v)| {
            let r = v.filters.get(PLUGIN).unwrap_or_else(|| panic!("{name}: {PLUGIN} did not run"));
            assert!(r.len() <= 1, "{name}: one reason at most, got {r:?}");
            (name.clone(), r.first().cloned().unwrap_or_default())
        })
        .collect()
}

/// The feasible nodes, by name.
fn feasible(d: &Decision) -> Vec<String> {
    verdicts(d).iter().filter(|(_, v)| v.feasible).map(|(n, _)| n.clone()).collect()
}

/// The normalised PodTopologySpread score of every feasible node, in node-name order.
fn scores(d: &Decision) -> Vec<(String, i64)> {
    verdicts(d)
        .iter()
        .filter(|(_, v)| v.feasible)
        .map(|(name, v)| (name.clone(), *v.scores.get(PLUGIN).unwrap_or_else(|| panic!("{name}: no {PLUGIN} score"))))
        .collect()
}

fn message(d: &Decision) -> &str {
    match &d.outcome {
        Outcome::Unschedulable(diag) => &diag.message,
        other => panic!("{}: expected unschedulable, got {other:?}", d.pod),
    }
}

fn pairs<T: Clone>(names: &[&str], values: &[T]) -> Vec<(String, T)> {
    assert_eq!(names.len(), values.len(), "one expectation per node");
    let mut v: Vec<(String, T)> = names.iter().map(|n| n.to_string()).zip(values.iter().cloned()).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn names(nodes: &[Node]) -> Vec<&str> {
    nodes.iter().map(|n| n.name.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Filter (kube's TestSingleConstraint / TestMultipleConstraints and the node inclusion rows)
// ---------------------------------------------------------------------------------------------

struct FilterCase {
    name: &'static str,
    pod: Pod,
    existing: Vec<(&'static str, Pod)>,
    nodes: Vec<Node>,
    /// Expected PodTopologySpread reason per node, in the order of `nodes`.
    want: Vec<&'static str>,
    /// Expected feasible nodes (all filters), when the row checks them.
    fits: Option<Vec<&'static str>>,
}

fn case(
    name: &'static str,
    pod: Pod,
    existing: Vec<(&'static str, Pod)>,
    nodes: Vec<Node>,
    want: Vec<&'static str>,
) -> FilterCase {
    FilterCase { name, pod, existing, nodes, want, fits: None }
}

impl FilterCase {
    fn fits(mut self, nodes: &[&'static str]) -> FilterCase {
        self.fits = Some(nodes.to_vec());
        self
    }
}

fn check_filters(cases: Vec<FilterCase>) {
    for c in cases {
        let want: Vec<(String, String)> =
            pairs(&names(&c.nodes), &c.want).into_iter().map(|(n, r)| (n, r.to_string())).collect();
        let plan = run(c.nodes, c.existing, std::slice::from_ref(&c.pod));
        let d = &plan.decisions[0];
        assert_eq!(reasons(d), want, "case: {}", c.name);
        if let Some(fits) = c.fits {
            let mut fits: Vec<String> = fits.iter().map(|n| n.to_string()).collect();
            fits.sort();
            assert_eq!(feasible(d), fits, "case (feasible nodes): {}", c.name);
        }
    }
}

#[test]
fn single_constraint_skew() {
    let zone = || foo().spread(hard(1, "zone"));
    let by_node = |skew| foo().spread(hard(skew, "node"));
    let spread_2_1_0_3 = || [on("node-a", 2, foo()), on("node-b", 1, foo()), on("node-y", 3, foo())].concat();
    check_filters(vec![
        case("no existing pods", zone(), vec![], four(), vec![OK, OK, OK, OK]),
        case(
            "no existing pods, the pod does not match itself",
            pod(&[]).spread(hard(1, "zone")),
            vec![],
            four(),
            vec![OK; 4],
        ),
        case(
            "pods of another namespace do not count",
            zone(),
            [
                on("node-a", 2, Pod::new("ns2", "x").with_label("foo", "")),
                on("node-b", 1, Pod::new("ns2", "x").with_label("foo", "")),
            ]
            .concat(),
            four(),
            vec![OK; 4],
        ),
        case(
            "pods not matching the selector do not count",
            zone(),
            on("node-a", 3, pod(&[("bar", "")])),
            four(),
            vec![OK; 4],
        ),
        case(
            "zones 3/3: every node fits",
            zone(),
            [on("node-a", 1, foo()), on("node-b", 2, foo()), on("node-x", 2, foo()), on("node-y", 1, foo())].concat(),
            four(),
            vec![OK; 4],
        ),
        case(
            "zones 1/2 as node-b has no zone label (its pods are not counted)",
            zone(),
            [on("node-a", 1, foo()), on("node-b", 2, foo()), on("node-x", 1, foo()), on("node-y", 1, foo())].concat(),
            vec![
                node("node-a", &[("zone", "zone1"), ("node", "node-a")]),
                node("node-b", &[("node", "node-b")]),
                node("node-x", &[("zone", "zone2"), ("node", "node-x")]),
                node("node-y", &[("zone", "zone2"), ("node", "node-y")]),
            ],
            vec![OK, MISSING, SPREAD, SPREAD],
        )
        .fits(&["node-a"]),
        case(
            "nodes 2/1/0/3, maxSkew 1: only node-x fits",
            by_node(1),
            spread_2_1_0_3(),
            four(),
            vec![SPREAD, SPREAD, OK, SPREAD],
        )
        .fits(&["node-x"]),
        case(
            "nodes 2/1/0/3, maxSkew 2: node-b and node-x fit",
            by_node(2),
            spread_2_1_0_3(),
            four(),
            vec![SPREAD, OK, OK, SPREAD],
        ),
        case(
            "nodes 2/1/0/3, the pod does not match itself",
            pod(&[("bar", "")]).spread(hard(1, "node")),
            spread_2_1_0_3(),
            four(),
            vec![SPREAD, OK, OK, SPREAD],
        ),
        case(
            "nodes 2/~1~/~0~/3 with node affinity to node-a and node-y: only their domains count",
            by_node(1).node_in("node", &["node-a", "node-y"]),
            spread_2_1_0_3(),
            four(),
            vec![OK, OK, OK, SPREAD],
        )
        .fits(&["node-a"]),
        case(
            "the same with nodeAffinityPolicy Ignore: every domain counts",
            foo()
                .spread(hard(1, "node").affinity_policy(InclusionPolicy::Ignore))
                .node_in("node", &["node-a", "node-y"]),
            spread_2_1_0_3(),
            four(),
            vec![SPREAD, SPREAD, OK, SPREAD],
        )
        .fits(&[]),
    ]);
}

#[test]
fn missing_topology_label() {
    let plan = run(four(), vec![], &[foo().spread(hard(1, "rack"))]);
    let d = &plan.decisions[0];
    assert_eq!(reasons(d), pairs(&names(&four()), &[MISSING; 4].map(String::from)));
    assert_eq!(
        message(d),
        "0/4 nodes are available: 4 node(s) didn't match pod topology spread constraints (missing required label)."
    );

    // With two constraints the node must carry both keys.
    let nodes = vec![node("r1", &[("zone", "z1"), ("rack", "k1")]), node("r2", &[("zone", "z1")])];
    let plan = run(nodes, vec![], &[foo().spread(hard(1, "zone")).spread(hard(1, "rack"))]);
    let d = &plan.decisions[0];
    assert_eq!(reasons(d), pairs(&["r1", "r2"], &[OK, MISSING].map(String::from)));
    assert_eq!(d.node(), Some("r1"));

    // A ScheduleAnyway constraint never filters.
    let plan = run(four(), vec![], &[foo().spread(soft(1, "rack"))]);
    assert_eq!(reasons(&plan.decisions[0]), pairs(&names(&four()), &[OK; 4].map(String::from)));
}

#[test]
fn multiple_constraints_are_anded() {
    let both = || foo().spread(hard(1, "zone")).spread(hard(1, "node"));
    check_filters(vec![
        // zones 2/2; nodes 1/1/0/2.
        case(
            "two constraints: only zone-1/node-2 fits",
            both(),
            [on("node-0", 1, foo()), on("node-1", 1, foo()), on("node-3", 2, foo())].concat(),
            default_nodes(),
            vec![SPREAD, SPREAD, OK, SPREAD],
        )
        .fits(&["node-2"]),
        // zones 2/1 (zone-0 full); nodes 1/1/0/1 - node-3 passes the zone rule but not the node rule.
        case(
            "two constraints: the zone rule removes zone-0, the node rule node-3",
            both(),
            [on("node-0", 1, foo()), on("node-1", 1, foo()), on("node-3", 1, foo())].concat(),
            default_nodes(),
            vec![SPREAD, SPREAD, OK, SPREAD],
        )
        .fits(&["node-2"]),
    ]);

    // Node affinity keeps node-0 out (of the candidates and of the counts): zone-0 2 / zone-1 3
    // fails zone-1; nodes 2/2/1 fails node-1. Nothing fits.
    let pod = both().node_not_in("node", &["node-0"]);
    let existing = [on("node-1", 2, foo()), on("node-2", 2, foo()), on("node-3", 1, foo())].concat();
    let plan = run(default_nodes(), existing, &[pod]);
    let d = &plan.decisions[0];
    assert_eq!(reasons(d), pairs(&names(&default_nodes()), &[OK, SPREAD, SPREAD, SPREAD].map(String::from)));
    assert_eq!(
        message(d),
        format!("0/4 nodes are available: 1 {NODE_AFFINITY}, 3 node(s) didn't match pod topology spread constraints.")
    );
}

#[test]
fn min_domains() {
    // node-0 is kept out by node affinity, so the node rule sees three domains 2/2/1.
    let by_node = |min| foo().node_not_in("node", &["node-0"]).spread(hard(2, "node").min_domains(min));
    let nodes_2_2_1 = || [on("node-1", 2, foo()), on("node-2", 2, foo()), on("node-3", 1, foo())].concat();
    let by_zone = |min| foo().spread(hard(2, "zone").min_domains(min));
    let zones_2_1 = || [on("node-0", 1, foo()), on("node-1", 1, foo()), on("node-2", 1, foo())].concat();
    check_filters(vec![
        case(
            "nodes 2/2/1, maxSkew 2, 3 domains < minDomains 4: the global minimum is 0",
            by_node(4),
            nodes_2_2_1(),
            default_nodes(),
            vec![OK, SPREAD, SPREAD, OK],
        )
        .fits(&["node-3"]),
        case(
            "nodes 2/2/1, maxSkew 2, 3 domains >= minDomains 2: every node fits",
            by_node(2),
            nodes_2_2_1(),
            default_nodes(),
            vec![OK, OK, OK, OK],
        )
        .fits(&["node-1", "node-2", "node-3"]),
        case(
            "nodes 2/2/1, maxSkew 2, minDomains 3 = domains: every node fits",
            by_node(3),
            nodes_2_2_1(),
            default_nodes(),
            vec![OK, OK, OK, OK],
        ),
        case(
            "zones 2/1, maxSkew 2, 2 domains < minDomains 3: zone-0 is full",
            by_zone(3),
            zones_2_1(),
            default_nodes(),
            vec![SPREAD, SPREAD, OK, OK],
        ),
        case(
            "zones 2/1, maxSkew 2, minDomains 1: every node fits",
            by_zone(1),
            zones_2_1(),
            default_nodes(),
            vec![OK; 4],
        ),
        case(
            "no existing pods, minDomains 3 over 2 zones: skew 1 still fits maxSkew 1",
            foo().spread(hard(1, "zone").min_domains(3)),
            vec![],
            default_nodes(),
            vec![OK; 4],
        ),
    ]);
}

#[test]
fn node_inclusion_policies() {
    use InclusionPolicy::{Honor, Ignore};
    // node-1, node-2 in zone-1 labelled foo; node-3 (zone-2) without foo; node-4 (zone-2) with foo.
    let nodes = || {
        vec![
            node("node-1", &[("node", "node-1"), ("zone", "zone-1"), ("foo", "")]),
            node("node-2", &[("node", "node-2"), ("zone", "zone-1"), ("foo", "")]),
            node("node-3", &[("node", "node-3"), ("zone", "zone-2")]),
            node("node-4", &[("node", "node-4"), ("zone", "zone-2"), ("foo", "")]),
        ]
    };
    let tainted = |effect| {
        let mut n = nodes();
        n.iter_mut().for_each(|n| {
            n.labels.remove("foo");
        });
        n[2] = n[2].clone().with_taint(Taint::new("k1", "v1", effect));
        n
    };
    let one_each =
        || [on("node-1", 1, foo()), on("node-2", 1, foo()), on("node-3", 1, foo()), on("node-4", 1, foo())].concat();
    let with_selector = |p: Pod| p.with_node_selector("foo", "");
    check_filters(vec![
        case(
            "nodeAffinityPolicy Honor (default) with a nodeSelector: zones 2/~2~ count as 2/1",
            with_selector(foo().spread(hard(1, "zone"))),
            one_each(),
            nodes(),
            vec![SPREAD, SPREAD, OK, OK],
        )
        .fits(&["node-4"]),
        case(
            "nodeAffinityPolicy Ignore with a nodeSelector: zones 1/2 as they are",
            with_selector(foo().spread(hard(1, "zone").affinity_policy(Ignore))),
            [on("node-1", 1, foo()), on("node-3", 1, foo()), on("node-4", 1, foo())].concat(),
            nodes(),
            vec![OK, OK, SPREAD, SPREAD],
        )
        .fits(&["node-1", "node-2"]),
        case(
            "nodeTaintsPolicy Honor: the tainted node's pods do not count, zones 2/1",
            foo().spread(hard(1, "zone").taints_policy(Honor)),
            one_each(),
            tainted(TaintEffect::NoSchedule),
            vec![SPREAD, SPREAD, OK, OK],
        )
        .fits(&["node-4"]),
        case(
            "nodeTaintsPolicy Honor, NoExecute taint: likewise",
            foo().spread(hard(1, "zone").taints_policy(Honor)),
            one_each(),
            tainted(TaintEffect::NoExecute),
            vec![SPREAD, SPREAD, OK, OK],
        ),
        case(
            "nodeTaintsPolicy Honor, PreferNoSchedule taint: the node counts",
            foo().spread(hard(1, "zone").taints_policy(Honor)),
            one_each(),
            tainted(TaintEffect::PreferNoSchedule),
            vec![OK; 4],
        ),
        case(
            "nodeTaintsPolicy Honor, tolerated taint: the node counts",
            foo().spread(hard(1, "zone").taints_policy(Honor)).with_toleration(Toleration::equal(
                "k1",
                "v1",
                Some(TaintEffect::NoSchedule),
            )),
            one_each(),
            tainted(TaintEffect::NoSchedule),
            vec![OK; 4],
        )
        .fits(&["node-1", "node-2", "node-3", "node-4"]),
        case(
            "nodeTaintsPolicy Ignore (default): zones 2/2",
            foo().spread(hard(1, "zone")),
            one_each(),
            tainted(TaintEffect::NoSchedule),
            vec![OK; 4],
        )
        .fits(&["node-1", "node-2", "node-4"]),
        // Zone rule Honor: 2/1 -> node-4 only; node rule Honor: 1/1/~1~/1 -> every node.
        case(
            "two constraints, both honouring node affinity",
            with_selector(foo().spread(hard(1, "zone")).spread(hard(1, "node"))),
            one_each(),
            nodes(),
            vec![SPREAD, SPREAD, OK, OK],
        )
        .fits(&["node-4"]),
    ]);
}

#[test]
fn selectors_null_empty_and_match_label_keys() {
    let web = |hash: &str| pod(&[("app", "web"), ("pod-template-hash", hash)]);
    let zone = |selector| constraint(1, "zone", DoNotSchedule, selector);
    check_filters(vec![
        case(
            "an empty selector counts no existing pod (kube skips empty selectors)",
            foo().spread(zone(Some(LabelSelector::default()))),
            on("node-a", 3, foo()),
            four(),
            vec![OK; 4],
        ),
        case("a missing selector counts no pod", foo().spread(zone(None)), on("node-a", 3, foo()), four(), vec![OK; 4]),
        case(
            "matchLabelKeys merged into an empty selector make it count",
            web("v1").spread(zone(Some(LabelSelector::default())).match_label_keys(&["app"])),
            [on("node-a", 2, web("v1")), on("node-x", 2, pod(&[("app", "db")]))].concat(),
            four(),
            vec![SPREAD, SPREAD, OK, OK],
        ),
        case(
            "matchLabelKeys do not turn a missing selector into one",
            web("v1").spread(zone(None).match_label_keys(&["app"])),
            on("node-a", 2, web("v1")),
            four(),
            vec![OK; 4],
        ),
        case(
            "without matchLabelKeys an old revision counts",
            web("v2").spread(zone(Some(match_labels(&[("app", "web")])))),
            on("node-a", 2, web("v1")),
            four(),
            vec![SPREAD, SPREAD, OK, OK],
        ),
        case(
            "matchLabelKeys: only the pod's own revision counts",
            web("v2").spread(zone(Some(match_labels(&[("app", "web")]))).match_label_keys(&["pod-template-hash"])),
            [on("node-a", 2, web("v1")), on("node-x", 1, web("v2"))].concat(),
            four(),
            vec![OK, OK, SPREAD, SPREAD],
        ),
        case(
            "matchLabelKeys: a key the pod lacks is ignored",
            pod(&[("app", "web")])
                .spread(zone(Some(match_labels(&[("app", "web")]))).match_label_keys(&["pod-template-hash"])),
            on("node-a", 2, web("v1")),
            four(),
            vec![SPREAD, SPREAD, OK, OK],
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Score (kube's TestPodTopologySpreadScore)
// ---------------------------------------------------------------------------------------------

/// Normalised PodTopologySpread scores of `pod` over `nodes`, in node-name order.
fn score_of(nodes: Vec<Node>, existing: Vec<(&'static str, Pod)>, pod: Pod) -> Vec<(String, i64)> {
    let plan = run(nodes, existing, &[pod]);
    scores(&plan.decisions[0])
}

fn hosts(names: &[&str]) -> Vec<Node> {
    names.iter().map(|n| node(n, &[(HOST, n)])).collect()
}

#[test]
fn hostname_scores_match_the_kube_examples() {
    let existing = || [on("node-a", 2, foo()), on("node-b", 1, foo()), on("node-d", 3, foo())].concat();
    let nodes = || hosts(&["node-a", "node-b", "node-c", "node-d"]);
    // raw = round(count * ln(4 + 2)) = 4 / 2 / 0 / 5.
    assert_eq!(score_of(nodes(), existing(), foo().spread(soft(1, HOST))), pairs(&names(&nodes()), &[20, 60, 100, 0]));
    // maxSkew 2 adds 1 to every raw score: 5 / 3 / 1 / 6.
    assert_eq!(score_of(nodes(), existing(), foo().spread(soft(2, HOST))), pairs(&names(&nodes()), &[33, 66, 100, 16]));
    // No matching pod anywhere: every node scores 100.
    assert_eq!(score_of(nodes(), vec![], foo().spread(soft(1, HOST))), pairs(&names(&nodes()), &[100; 4]));
    // A pod without ScheduleAnyway constraints is not scored by the plugin.
    assert_eq!(score_of(nodes(), existing(), foo().spread(hard(10, HOST))), pairs(&names(&nodes()), &[0; 4]));
    assert_eq!(score_of(nodes(), existing(), foo()), pairs(&names(&nodes()), &[0; 4]));
}

#[test]
fn candidates_lacking_a_key_are_ignored() {
    // node-y has no zone: it scores 0 and is left out of min and max (its pods are not counted).
    // zone1 raw round(2 ln 4) = 3, zone2 raw round(ln 4) = 1 -> 100 (4 - 3) / 3, 100 (4 - 1) / 3.
    let nodes = vec![
        node("node-a", &[("zone", "zone1")]),
        node("node-b", &[("zone", "zone1")]),
        node("node-x", &[("zone", "zone2")]),
        node("node-y", &[]),
    ];
    let existing =
        [on("node-a", 1, foo()), on("node-b", 1, foo()), on("node-x", 1, foo()), on("node-y", 5, foo())].concat();
    assert_eq!(
        score_of(nodes.clone(), existing, foo().spread(soft(1, "zone"))),
        pairs(&names(&nodes), &[33, 33, 100, 0])
    );
    // Every candidate lacks the key: all 0.
    assert_eq!(score_of(hosts(&["h1", "h2"]), vec![], foo().spread(soft(1, "zone"))), pairs(&["h1", "h2"], &[0, 0]));
}

#[test]
fn domain_counts_include_nodes_that_are_not_candidates() {
    // node-c (zone1) is cordoned, so it is not a candidate, but its pods count for zone1:
    // zone1 raw round(3 ln 4) = 4, zone2 raw round(ln 4) = 1 -> 25 / 25 / 100.
    let nodes = vec![
        node("node-a", &[("zone", "zone1")]),
        node("node-b", &[("zone", "zone1")]),
        node("node-c", &[("zone", "zone1")]).cordoned(),
        node("node-x", &[("zone", "zone2")]),
    ];
    let existing = [on("node-c", 3, foo()), on("node-x", 1, foo())].concat();
    assert_eq!(
        score_of(nodes, existing, foo().spread(soft(1, "zone"))),
        pairs(&["node-a", "node-b", "node-x"], &[25, 25, 100])
    );
}

#[test]
fn score_counts_follow_the_node_affinity_policy() {
    use InclusionPolicy::Ignore;
    // node-z (zone2) fails the pod's nodeSelector: not a candidate; with Honor its 3 pods do
    // not count (zones 1/1: all 100), with Ignore they do (zone2 raw round(4 ln 4) = 6,
    // zone1 round(ln 4) = 1 -> 100 / 100 / 100 (7 - 6) / 6).
    let nodes = || {
        vec![
            node("node-a", &[("zone", "zone1"), ("foo", "")]),
            node("node-b", &[("zone", "zone1"), ("foo", "")]),
            node("node-x", &[("zone", "zone2"), ("foo", "")]),
            node("node-z", &[("zone", "zone2")]),
        ]
    };
    let existing = || [on("node-a", 1, foo()), on("node-x", 1, foo()), on("node-z", 3, foo())].concat();
    let candidates = ["node-a", "node-b", "node-x"];
    let honor = foo().with_node_selector("foo", "").spread(soft(1, "zone"));
    assert_eq!(score_of(nodes(), existing(), honor), pairs(&candidates, &[100, 100, 100]));
    let ignore = foo().with_node_selector("foo", "").spread(soft(1, "zone").affinity_policy(Ignore));
    assert_eq!(score_of(nodes(), existing(), ignore), pairs(&candidates, &[100, 100, 16]));
}

#[test]
fn two_soft_constraints_add_up() {
    // zone weight ln(2 + 2), hostname weight ln(4 + 2); pods 2/1/0/3, zones 3/3.
    // raw: a round(3 ln4 + 2 ln6) = 8, b 6, x 4, y 10 -> 100 (14 - s) / 10.
    let nodes = || {
        ["node-a", "node-b", "node-x", "node-y"]
            .iter()
            .map(|&n| node(n, &[("zone", if n < "node-x" { "zone1" } else { "zone2" }), (HOST, n)]))
            .collect::<Vec<_>>()
    };
    let existing = [on("node-a", 2, foo()), on("node-b", 1, foo()), on("node-y", 3, foo())].concat();
    assert_eq!(
        score_of(nodes(), existing, foo().spread(soft(1, "zone")).spread(soft(1, HOST))),
        pairs(&names(&nodes()), &[60, 80, 100, 40])
    );
}

#[test]
fn hostname_weight_counts_only_candidates_that_are_not_ignored() {
    // node-y lacks the zone key: ignored (score 0) and left out of the hostname weight, which is
    // ln(3 + 2) over the other candidates; zone weight ln(2 + 2).
    // raw: a round(3 ln4 + 2 ln5) = 7, b round(3 ln4 + ln5) = 6, x 0 -> 100 (7 - s) / 7.
    let nodes = vec![
        node("node-a", &[("zone", "zone1"), (HOST, "node-a")]),
        node("node-b", &[("zone", "zone1"), (HOST, "node-b")]),
        node("node-x", &[("zone", "zone2"), (HOST, "node-x")]),
        node("node-y", &[(HOST, "node-y")]),
    ];
    let existing = [on("node-a", 2, foo()), on("node-b", 1, foo()), on("node-y", 3, foo())].concat();
    assert_eq!(
        score_of(nodes.clone(), existing, foo().spread(soft(1, "zone")).spread(soft(1, HOST))),
        pairs(&names(&nodes), &[0, 14, 100, 0])
    );
}

// ---------------------------------------------------------------------------------------------
// Replicas placed in one plan
// ---------------------------------------------------------------------------------------------

fn zone_nodes() -> Vec<Node> {
    [("za-1", "a"), ("za-2", "a"), ("zb-1", "b"), ("zc-1", "c"), ("zc-2", "c"), ("zc-3", "c")]
        .iter()
        .map(|(n, z)| node(n, &[("zone", z), (HOST, n)]))
        .collect()
}

fn replicas(n: usize, c: TopologySpreadConstraint) -> Vec<Pod> {
    (0..n)
        .map(|i| {
            let mut p = pod(&[("app", "web")]).named(&format!("web-{i}")).spread(c.clone());
            p.creation_order = i as i64;
            p
        })
        .collect()
}

/// Placed replicas per zone (`a`, `b`, `c`).
fn per_zone(plan: &Plan) -> [usize; 3] {
    let mut counts = [0; 3];
    for d in &plan.decisions {
        if let Some(n) = d.node() {
            counts[match n.as_bytes()[1] {
                b'a' => 0,
                b'b' => 1,
                _ => 2,
            }] += 1;
        }
    }
    counts
}

#[test]
fn six_replicas_spread_two_per_zone() {
    let web = || Some(match_labels(&[("app", "web")]));
    let plan = run(zone_nodes(), vec![], &replicas(6, constraint(1, "zone", DoNotSchedule, web())));
    assert!(plan.decisions.iter().all(|d| d.node().is_some()), "{plan:?}");
    assert_eq!(per_zone(&plan), [2, 2, 2]);
    // The same with ScheduleAnyway: scoring alone spreads them.
    let plan = run(zone_nodes(), vec![], &replicas(6, constraint(1, "zone", ScheduleAnyway, web())));
    assert_eq!(per_zone(&plan), [2, 2, 2]);
}

#[test]
fn a_full_domain_holds_the_others_back() {
    // zb-1 takes two pods only. After 2/2/2 the 7th and 8th replicas go to zones a and c (skew
    // 1 over zone b's 2); the 9th would make skew 2 and zone b is full.
    let mut nodes = zone_nodes();
    nodes[2].allocatable.pods = 2;
    let plan =
        run(nodes, vec![], &replicas(9, constraint(1, "zone", DoNotSchedule, Some(match_labels(&[("app", "web")])))));
    assert_eq!(per_zone(&plan), [3, 2, 3]);
    let last = plan.decision("default/web-8").expect("decision");
    assert_eq!(
        message(last),
        "0/6 nodes are available: 1 Too many pods, 5 node(s) didn't match pod topology spread constraints."
    );
    let r: Vec<(String, String)> = reasons(last);
    assert_eq!(r.iter().filter(|(_, reason)| reason == SPREAD).count(), 5, "{r:?}");
}

#[test]
fn existing_replicas_steer_new_ones() {
    // Zones a/b/c hold 2/0/1 replicas: with maxSkew 1 the next one must go to b (the only zone
    // at the minimum); then, at 2/1/1, b or c may take the one after.
    let existing = [on("za-1", 2, pod(&[("app", "web")])), on("zc-2", 1, pod(&[("app", "web")]))].concat();
    let plan = run(
        zone_nodes(),
        existing,
        &replicas(2, constraint(1, "zone", DoNotSchedule, Some(match_labels(&[("app", "web")])))),
    );
    let first = plan.decision("default/web-0").expect("decision");
    assert_eq!(first.node(), Some("zb-1"), "zone b is the only one at the minimum");
    let zones: Vec<(String, String)> = reasons(first);
    for (n, r) in zones {
        let want = if n.starts_with("zb") { OK } else { SPREAD };
        assert_eq!(r, want, "{n}");
    }
    let second = plan.decision("default/web-1").and_then(Decision::node).expect("placed");
    assert!(second.starts_with("zb") || second.starts_with("zc"), "{second}");
}
