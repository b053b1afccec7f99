//! InterPodAffinity tables modelled on kube-scheduler's
//! `pkg/scheduler/framework/plugins/interpodaffinity/{filtering,scoring}_test.go`, run through
//! spillway's public API with explanations on.
//!
//! Filter rows read every node's `filters["InterPodAffinity"]`; score rows read every node's
//! normalised `scores["InterPodAffinity"]` (min-max over the candidates, as in current kube).
//! The last section places several pending pods in one plan, so each placement is assumed
//! before the next pod is considered.

use std::collections::BTreeMap;

use spillway::model::{
    InterPodAffinityArgs, LabelSelector, LabelSelectorRequirement, Labels, PodAffinityTerm, SelectorOperator,
    WeightedPodAffinityTerm,
};
use spillway::{Decision, Engine, Node, Outcome, PlaceOptions, Plan, Pod, Policy, Resources, Snapshot};

const PLUGIN: &str = "InterPodAffinity";
/// The node passes the plugin.
const OK: &str = "";
const AFFINITY: &str = "node(s) didn't match pod affinity rules";
const ANTI: &str = "node(s) didn't match pod anti-affinity rules";
const EXISTING: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

const HOST: &str = "kubernetes.io/hostname";

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

/// A node labelled with its own hostname (and the extra labels).
fn host(name: &str, pairs: &[(&str, &str)]) -> Node {
    node(name, pairs).with_label(HOST, name)
}

/// A pod in namespace `ns` (existing pods are renamed by the runner).
fn pod(ns: &str, pairs: &[(&str, &str)]) -> Pod {
    let mut p = Pod::new(ns, "incoming");
    p.labels = labels(pairs);
    p
}

fn op(key: &str, operator: SelectorOperator, values: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement { key: key.into(), operator, values: values.iter().map(|v| v.to_string()).collect() }
}

/// A selector of `matchExpressions` (ANDed).
fn exprs(reqs: Vec<LabelSelectorRequirement>) -> LabelSelector {
    LabelSelector { match_labels: Labels::new(), match_expressions: reqs }
}

fn is_in(key: &str, values: &[&str]) -> LabelSelector {
    exprs(vec![op(key, SelectorOperator::In, values)])
}

fn not_in(key: &str, values: &[&str]) -> LabelSelector {
    exprs(vec![op(key, SelectorOperator::NotIn, values)])
}

fn exists(key: &str) -> LabelSelector {
    exprs(vec![op(key, SelectorOperator::Exists, &[])])
}

fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector { match_labels: labels(pairs), match_expressions: vec![] }
}

/// A term selecting pods with `selector` in the owner's namespace, per `key` domain.
fn term(selector: LabelSelector, key: &str) -> PodAffinityTerm {
    PodAffinityTerm { label_selector: Some(selector), topology_key: key.into(), ..PodAffinityTerm::default() }
}

trait TermExt {
    fn namespaces(self, ns: &[&str]) -> Self;
    fn namespace_selector(self, selector: LabelSelector) -> Self;
    fn match_label_keys(self, keys: &[&str]) -> Self;
    fn mismatch_label_keys(self, keys: &[&str]) -> Self;
}

impl TermExt for PodAffinityTerm {
    fn namespaces(mut self, ns: &[&str]) -> Self {
        self.namespaces = ns.iter().map(|n| n.to_string()).collect();
        self
    }

    fn namespace_selector(mut self, selector: LabelSelector) -> Self {
        self.namespace_selector = Some(selector);
        self
    }

    fn match_label_keys(mut self, keys: &[&str]) -> Self {
        self.match_label_keys = keys.iter().map(|k| k.to_string()).collect();
        self
    }

    fn mismatch_label_keys(mut self, keys: &[&str]) -> Self {
        self.mismatch_label_keys = keys.iter().map(|k| k.to_string()).collect();
        self
    }
}

trait PodExt {
    /// Adds a required affinity term.
    fn affinity(self, term: PodAffinityTerm) -> Self;
    /// Adds a required anti-affinity term.
    fn anti(self, term: PodAffinityTerm) -> Self;
    /// Adds a preferred affinity term.
    fn prefer(self, weight: i32, term: PodAffinityTerm) -> Self;
    /// Adds a preferred anti-affinity term.
    fn prefer_anti(self, weight: i32, term: PodAffinityTerm) -> Self;
    /// Renames the pod.
    fn named(self, name: &str) -> Self;
}

impl PodExt for Pod {
    fn affinity(mut self, term: PodAffinityTerm) -> Pod {
        self.pod_affinity.required.push(term);
        self
    }

    fn anti(mut self, term: PodAffinityTerm) -> Pod {
        self.pod_anti_affinity.required.push(term);
        self
    }

    fn prefer(mut self, weight: i32, term: PodAffinityTerm) -> Pod {
        self.pod_affinity.preferred.push(WeightedPodAffinityTerm { weight, pod_affinity_term: term });
        self
    }

    fn prefer_anti(mut self, weight: i32, term: PodAffinityTerm) -> Pod {
        self.pod_anti_affinity.preferred.push(WeightedPodAffinityTerm { weight, pod_affinity_term: term });
        self
    }

    fn named(mut self, name: &str) -> Pod {
        self.uid = format!("{}/{name}", self.namespace);
        self.name = name.into();
        self
    }
}

/// The namespaces of kube's scoring/filtering tests: `subteam{1,2}.team{1,2}` labelled
/// `team=team{1,2}`.
fn team_namespaces() -> Vec<(&'static str, Labels)> {
    vec![
        ("subteam1.team1", labels(&[("team", "team1")])),
        ("subteam2.team1", labels(&[("team", "team1")])),
        ("subteam1.team2", labels(&[("team", "team2")])),
        ("subteam2.team2", labels(&[("team", "team2")])),
    ]
}

// ---------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------

/// Places `pending` with explanations on `nodes` holding `existing` (each given with its node;
/// renamed `existing-<i>`), with these namespace labels. Also checks that explain mode does not
/// change any outcome and that a second run is identical.
fn run(
    policy: &Policy,
    nodes: Vec<Node>,
    existing: Vec<(&str, Pod)>,
    namespaces: Vec<(&str, Labels)>,
    pending: &[Pod],
) -> Plan {
    let placed =
        existing.into_iter().enumerate().map(|(i, (n, p))| p.named(&format!("existing-{i}")).on_node(n)).collect();
    let ns: BTreeMap<String, Labels> = namespaces.into_iter().map(|(n, l)| (n.to_string(), l)).collect();
    let snapshot = Snapshot::new(nodes, placed).expect("consistent snapshot").with_namespaces(ns);
    let engine = Engine::new(policy.clone()).expect("valid policy");
    let explained = engine.place_with(&snapshot, pending, PlaceOptions { explain: true });
    let plain = engine.place(&snapshot, pending);
    for (a, b) in plain.decisions.iter().zip(&explained.decisions) {
        assert_eq!((&a.pod, &a.outcome), (&b.pod, &b.outcome), "explain mode changed the outcome");
    }
    assert_eq!(engine.place_with(&snapshot, pending, PlaceOptions { explain: true }), explained, "not deterministic");
    explained
}

/// The InterPodAffinity reason of every node, in node-name order (`""` when it passed).
fn reasons(d: &Decision) -> Vec<(String, String)> {
    let nodes = &d.explanation.as_ref().expect("explanations were requested").nodes;
    nodes
        .iter()
        .map(|(name, v)| {
            let r = v.filters.get(PLUGIN).unwrap_or_else(|| panic!("{name}: {PLUGIN} did not run"));
            assert!(r.len() <= 1, "{name}: one reason at most, got {r:?}");
            (name.clone(), r.first().cloned().unwrap_or_default())
        })
        .collect()
}

/// The normalised InterPodAffinity score of every node, in node-name order.
fn scores(d: &Decision) -> Vec<(String, i64)> {
    let nodes = &d.explanation.as_ref().expect("explanations were requested").nodes;
    nodes
        .iter()
        .map(|(name, v)| {
            assert!(v.feasible, "{}: node {name} should be feasible: {:?}", d.pod, v.filters);
            (name.clone(), *v.scores.get(PLUGIN).unwrap_or_else(|| panic!("{name}: no {PLUGIN} score")))
        })
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

// ---------------------------------------------------------------------------------------------
// Filter: one node (kube's TestRequiredAffinitySingleNode)
// ---------------------------------------------------------------------------------------------

struct FilterCase {
    name: &'static str,
    pod: Pod,
    existing: Vec<(&'static str, Pod)>,
    nodes: Vec<Node>,
    /// Expected reason per node, in the order of `nodes`.
    want: Vec<&'static str>,
}

fn check_filters(cases: Vec<FilterCase>) {
    for c in cases {
        let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
        let want: Vec<(String, String)> = pairs(&names, &c.want).into_iter().map(|(n, r)| (n, r.to_string())).collect();
        let plan = run(&Policy::default(), c.nodes, c.existing, team_namespaces(), std::slice::from_ref(&c.pod));
        assert_eq!(reasons(&plan.decisions[0]), want, "case: {}", c.name);
    }
}

fn node1() -> Node {
    node("node1", &[("region", "r1"), ("zone", "z11")])
}

/// The existing pod of the single-node table: `service=securityscan` on node1.
fn securityscan() -> (&'static str, Pod) {
    ("node1", pod("default", &[("service", "securityscan")]))
}

#[test]
fn required_terms_on_a_single_node() {
    let s1 = [("security", "S1")];
    let scan = [("service", "securityscan")];
    let scan_or_v2 = || is_in("service", &["securityscan", "value2"]);
    let one = |name, pod: Pod, existing: Vec<(&'static str, Pod)>, want| FilterCase {
        name,
        pod,
        existing,
        nodes: vec![node1()],
        want: vec![want],
    };
    check_filters(vec![
        one("no required terms, no existing pods", pod("default", &[]), vec![], OK),
        one(
            "affinity, In operator matching the existing pod",
            pod("default", &s1).affinity(term(scan_or_v2(), "region")),
            vec![securityscan()],
            OK,
        ),
        one(
            "affinity, NotIn operator matching the existing pod",
            pod("default", &s1).affinity(term(not_in("service", &["securityscan3", "value3"]), "region")),
            vec![securityscan()],
            OK,
        ),
        one(
            "affinity, matchLabels matching the existing pod",
            pod("default", &s1).affinity(term(match_labels(&scan), "region")),
            vec![securityscan()],
            OK,
        ),
        one(
            "affinity not met: the existing pod is in another namespace than the term lists",
            pod("default", &s1).affinity(term(scan_or_v2(), "region").namespaces(&["DiffNameSpace"])),
            vec![("node1", pod("ns", &scan))],
            AFFINITY,
        ),
        one(
            "affinity not met: the existing pod is in another namespace than the owner",
            pod("default", &s1).affinity(term(scan_or_v2(), "region")),
            vec![("node1", pod("other", &scan))],
            AFFINITY,
        ),
        one(
            "affinity met: the term lists the existing pod's namespace",
            pod("default", &s1).affinity(term(scan_or_v2(), "region").namespaces(&["other", "x"])),
            vec![("node1", pod("other", &scan))],
            OK,
        ),
        one(
            "affinity not met: the selector does not match the existing pod",
            pod("default", &scan).affinity(term(is_in("service", &["antivirusscan", "value2"]), "region")),
            vec![securityscan()],
            AFFINITY,
        ),
        one(
            "affinity, several terms with Exists / DoesNotExist / In / NotIn all met by one pod",
            pod("default", &s1)
                .affinity(term(
                    exprs(vec![
                        op("service", SelectorOperator::Exists, &[]),
                        op("wrongkey", SelectorOperator::DoesNotExist, &[]),
                    ]),
                    "region",
                ))
                .affinity(term(
                    exprs(vec![
                        op("service", SelectorOperator::In, &["securityscan"]),
                        op("service", SelectorOperator::NotIn, &["WrongValue"]),
                    ]),
                    "region",
                )),
            vec![securityscan()],
            OK,
        ),
        one(
            "affinity: the requirements of a selector are ANDed, one does not match",
            pod("default", &s1)
                .affinity(term(
                    exprs(vec![
                        op("service", SelectorOperator::Exists, &[]),
                        op("wrongkey", SelectorOperator::DoesNotExist, &[]),
                    ]),
                    "region",
                ))
                .affinity(term(
                    exprs(vec![
                        op("service", SelectorOperator::In, &["securityscan2"]),
                        op("service", SelectorOperator::NotIn, &["WrongValue"]),
                    ]),
                    "region",
                )),
            vec![securityscan()],
            AFFINITY,
        ),
        one(
            "affinity: DoesNotExist excludes the existing pod (and the pod itself)",
            pod("default", &[("service", "other")])
                .affinity(term(exprs(vec![op("service", SelectorOperator::DoesNotExist, &[])]), "region")),
            vec![securityscan()],
            AFFINITY,
        ),
        one(
            "affinity and anti-affinity both satisfied",
            pod("default", &s1)
                .affinity(term(scan_or_v2(), "region"))
                .anti(term(is_in("service", &["antivirusscan", "value2"]), "node")),
            vec![securityscan()],
            OK,
        ),
        one(
            "affinity, anti-affinity and the existing pod's anti-affinity all satisfied",
            pod("default", &s1)
                .affinity(term(scan_or_v2(), "region"))
                .anti(term(is_in("service", &["antivirusscan", "value2"]), "node")),
            vec![("node1", pod("default", &scan).anti(term(is_in("service", &["antivirusscan", "value2"]), "node")))],
            OK,
        ),
        one(
            "affinity met but anti-affinity not",
            pod("default", &s1).affinity(term(scan_or_v2(), "region")).anti(term(scan_or_v2(), "zone")),
            vec![securityscan()],
            ANTI,
        ),
        one(
            "affinity and anti-affinity met but the existing pod's anti-affinity selects the newcomer",
            pod("default", &scan)
                .affinity(term(scan_or_v2(), "region"))
                .anti(term(is_in("service", &["antivirusscan", "value2"]), "node")),
            vec![("node1", pod("default", &scan).anti(term(scan_or_v2(), "zone")))],
            EXISTING,
        ),
        one(
            "the pod does not match its own NotIn term and no pod matches it: no first-pod exception",
            pod("default", &scan).affinity(term(not_in("service", &["securityscan", "value2"]), "region")),
            vec![securityscan()],
            AFFINITY,
        ),
        one(
            "an existing pod's anti-affinity applies to a pod without terms",
            pod("default", &scan),
            vec![("node1", pod("default", &scan).anti(term(scan_or_v2(), "zone")))],
            EXISTING,
        ),
        one(
            "an existing pod's NotIn anti-affinity does not select the newcomer",
            pod("default", &scan),
            vec![("node1", pod("default", &scan).anti(term(not_in("service", &["securityscan", "value2"]), "zone")))],
            OK,
        ),
        one(
            "the newcomer's anti-affinity is checked before the existing pod's",
            pod("default", &scan).anti(term(exists("service"), "region")).anti(term(exists("security"), "region")),
            vec![("node1", pod("default", &s1).anti(term(exists("security"), "zone")))],
            ANTI,
        ),
        // Symmetry cases a1/a2/b1/b2: the two pods partially match each other's terms.
        one(
            "symmetry a1",
            pod("default", &scan).anti(term(exists("service"), "zone")).anti(term(exists("security"), "zone")),
            vec![("node1", pod("default", &s1).anti(term(exists("security"), "zone")))],
            ANTI,
        ),
        one(
            "symmetry a2",
            pod("default", &s1).anti(term(exists("security"), "zone")),
            vec![(
                "node1",
                pod("default", &scan).anti(term(exists("service"), "zone")).anti(term(exists("security"), "zone")),
            )],
            EXISTING,
        ),
        one(
            "symmetry b1: both directions match, the newcomer's own rule is reported",
            pod("default", &[("abc", ""), ("xyz", "")])
                .anti(term(exists("abc"), "zone"))
                .anti(term(exists("def"), "zone")),
            vec![(
                "node1",
                pod("default", &[("def", ""), ("xyz", "")])
                    .anti(term(exists("abc"), "zone"))
                    .anti(term(exists("def"), "zone")),
            )],
            ANTI,
        ),
        one(
            "symmetry b2",
            pod("default", &[("def", ""), ("xyz", "")])
                .anti(term(exists("abc"), "zone"))
                .anti(term(exists("def"), "zone")),
            vec![(
                "node1",
                pod("default", &[("abc", ""), ("xyz", "")])
                    .anti(term(exists("abc"), "zone"))
                    .anti(term(exists("def"), "zone")),
            )],
            ANTI,
        ),
        // Namespace selectors (namespace labels from `Snapshot::with_namespaces`).
        one(
            "affinity with a matching namespaceSelector",
            pod("default", &s1).affinity(term(scan_or_v2(), "region").namespace_selector(is_in("team", &["team1"]))),
            vec![("node1", pod("subteam1.team1", &scan))],
            OK,
        ),
        one(
            "affinity with a non-matching namespaceSelector",
            pod("default", &s1).affinity(term(scan_or_v2(), "region").namespace_selector(is_in("team", &["team1"]))),
            vec![("node1", pod("subteam1.team2", &scan))],
            AFFINITY,
        ),
        one(
            "namespaceSelector and namespaces are ORed",
            pod("default", &s1).affinity(
                term(scan_or_v2(), "region")
                    .namespaces(&["subteam1.team2"])
                    .namespace_selector(is_in("team", &["team9"])),
            ),
            vec![("node1", pod("subteam1.team2", &scan))],
            OK,
        ),
        one(
            "a namespaceSelector replaces the owner's namespace",
            pod("subteam1.team2", &s1)
                .affinity(term(scan_or_v2(), "region").namespace_selector(is_in("team", &["team1"]))),
            vec![("node1", pod("subteam1.team2", &scan))],
            AFFINITY,
        ),
        one(
            "anti-affinity with a matching namespaceSelector",
            pod("subteam1.team1", &s1).anti(term(scan_or_v2(), "zone").namespace_selector(is_in("team", &["team1"]))),
            vec![("node1", pod("subteam2.team1", &scan))],
            ANTI,
        ),
        one(
            "anti-affinity with an empty namespaceSelector selects every namespace",
            pod("subteam1.team1", &s1).anti(term(scan_or_v2(), "zone").namespace_selector(LabelSelector::default())),
            vec![("node1", pod("unlisted-namespace", &scan))],
            ANTI,
        ),
        one(
            "anti-affinity with a non-matching namespaceSelector",
            pod("subteam1.team1", &s1).anti(term(scan_or_v2(), "zone").namespace_selector(is_in("team", &["team1"]))),
            vec![("node1", pod("subteam1.team2", &scan))],
            OK,
        ),
        one(
            "an existing pod's anti-affinity namespaceSelector is matched against the newcomer's namespace",
            pod("subteam1.team1", &scan),
            vec![(
                "node1",
                pod("default", &s1).anti(term(exists("service"), "zone").namespace_selector(is_in("team", &["team1"]))),
            )],
            EXISTING,
        ),
        one(
            "an existing pod's anti-affinity namespaceSelector not matching the newcomer's namespace",
            pod("subteam1.team2", &scan),
            vec![(
                "node1",
                pod("default", &s1).anti(term(exists("service"), "zone").namespace_selector(is_in("team", &["team1"]))),
            )],
            OK,
        ),
        one(
            "a missing label selector selects no pod",
            pod("default", &s1)
                .affinity(PodAffinityTerm { topology_key: "region".into(), ..PodAffinityTerm::default() }),
            vec![securityscan()],
            AFFINITY,
        ),
        one(
            "an empty label selector selects every pod of the namespace",
            pod("default", &s1).anti(term(LabelSelector::default(), "region")),
            vec![securityscan()],
            ANTI,
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Filter: several nodes (kube's TestRequiredAffinityMultipleNodes)
// ---------------------------------------------------------------------------------------------

#[test]
fn required_terms_over_several_nodes() {
    let china = || vec![("region", "China")];
    let abc_nodes = || {
        vec![
            node("nodeA", &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeA")]),
            node("nodeB", &[("region", "r1"), ("zone", "z2"), ("hostname", "nodeB")]),
        ]
    };
    let same_zone = || {
        vec![
            node("nodeA", &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeA")]),
            node("nodeB", &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeB")]),
        ]
    };
    let rg = || {
        vec![
            node("nodeA", &china()),
            node("nodeB", &[("region", "China"), ("az", "az1")]),
            node("nodeC", &[("region", "India")]),
        ]
    };
    let foo_bar = [("foo", "bar"), ("service", "securityscan")];
    check_filters(vec![
        FilterCase {
            name: "every node in the domain of a matching pod passes",
            pod: pod("default", &[]).affinity(term(is_in("foo", &["bar"]), "region")),
            existing: vec![("nodeA", pod("default", &[("foo", "bar")]))],
            nodes: rg(),
            want: vec![OK, OK, AFFINITY],
        },
        FilterCase {
            name: "first pod of a self-affine collection may go to any node with the keys",
            pod: pod("default", &foo_bar)
                .affinity(term(is_in("foo", &["bar"]), "zone"))
                .affinity(term(is_in("service", &["securityscan"]), "zone")),
            existing: vec![("nodeA", pod("default", &[("foo", "bar")]))],
            nodes: vec![
                node("nodeA", &[("zone", "az1"), ("hostname", "h1")]),
                node("nodeB", &[("zone", "az2"), ("hostname", "h2")]),
            ],
            want: vec![OK, OK],
        },
        FilterCase {
            name: "first pod of a self-affine collection still needs the topology keys",
            pod: pod("default", &foo_bar)
                .affinity(term(is_in("foo", &["bar"]), "zone"))
                .affinity(term(is_in("service", &["securityscan"]), "zone")),
            existing: vec![("nodeA", pod("default", &[("foo", "bar")]))],
            nodes: vec![
                node("nodeA", &[("zoneLabel", "az1"), ("hostname", "h1")]),
                node("nodeB", &[("zoneLabel", "az2"), ("hostname", "h2")]),
            ],
            want: vec![AFFINITY, AFFINITY],
        },
        FilterCase {
            name: "the node must carry every term's topology key, even in the domain of a match",
            pod: pod("default", &[]).affinity(term(exists("foo"), "region")).affinity(term(exists("foo"), "rack")),
            existing: vec![("nodeA", pod("default", &[("foo", "")]))],
            nodes: vec![
                node("nodeA", &[("region", "r1"), ("rack", "k1")]),
                node("nodeB", &[("region", "r1")]),
                node("nodeC", &[("region", "r1"), ("rack", "k1")]),
            ],
            want: vec![OK, AFFINITY, OK],
        },
        FilterCase {
            name: "anti-affinity blocks every node of the matching pod's domain",
            pod: pod("default", &[]).anti(term(is_in("foo", &["abc"]), "region")),
            existing: vec![("nodeA", pod("default", &[("foo", "abc")]))],
            nodes: vec![
                node("nodeA", &[("region", "r1"), ("hostname", "nodeA")]),
                node("nodeB", &[("region", "r1"), ("hostname", "nodeB")]),
            ],
            want: vec![ANTI, ANTI],
        },
        FilterCase {
            name: "anti-affinity: any single term matching suffices",
            pod: pod("default", &[])
                .anti(term(is_in("foo", &["abc"]), "region"))
                .anti(term(is_in("service", &["securityscan"]), "zone")),
            existing: vec![("nodeA", pod("default", &[("foo", "abc"), ("service", "securityscan")]))],
            nodes: vec![
                node("nodeA", &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeA")]),
                node("nodeB", &[("region", "r1"), ("zone", "z2"), ("hostname", "nodeB")]),
            ],
            want: vec![ANTI, ANTI],
        },
        FilterCase {
            name: "anti-affinity leaves other domains free",
            pod: pod("default", &[]).anti(term(is_in("foo", &["abc"]), "region")),
            existing: vec![("nodeA", pod("default", &[("foo", "abc")]))],
            nodes: rg(),
            want: vec![ANTI, ANTI, OK],
        },
        FilterCase {
            name: "namespaces: the NS2 pod's anti-affinity only covers NS2",
            pod: pod("NS1", &[("foo", "123")]).anti(term(is_in("foo", &["bar"]), "region")),
            existing: vec![
                ("nodeA", pod("NS1", &[("foo", "bar")])),
                ("nodeC", pod("NS2", &[]).anti(term(is_in("foo", &["123"]), "region"))),
            ],
            nodes: rg(),
            want: vec![ANTI, ANTI, OK],
        },
        FilterCase {
            name: "an existing pod's term whose key no node carries blocks nothing",
            pod: pod("default", &[("foo", "")]),
            existing: vec![("nodeA", pod("default", &[]).anti(term(exists("foo"), "invalid-node-label")))],
            nodes: same_zone(),
            want: vec![OK, OK],
        },
        FilterCase {
            name: "the newcomer's term whose key no node carries blocks nothing",
            pod: pod("default", &[]).anti(term(exists("foo"), "invalid-node-label")),
            existing: vec![("nodeA", pod("default", &[("foo", "")]))],
            nodes: same_zone(),
            want: vec![OK, OK],
        },
        FilterCase {
            name: "existing pods' anti-affinity terms each block their domain",
            pod: pod("default", &[("foo", ""), ("bar", "")]),
            existing: vec![
                ("nodeA", pod("default", &[]).anti(term(exists("foo"), "zone"))),
                ("nodeA", pod("default", &[]).anti(term(exists("bar"), "region"))),
            ],
            nodes: abc_nodes(),
            want: vec![EXISTING, EXISTING],
        },
        FilterCase {
            name: "the newcomer's anti-affinity terms each block their domain",
            pod: pod("default", &[]).anti(term(exists("foo"), "zone")).anti(term(exists("bar"), "region")),
            existing: vec![("nodeA", pod("default", &[("foo", "")])), ("nodeB", pod("default", &[("bar", "")]))],
            nodes: abc_nodes(),
            want: vec![ANTI, ANTI],
        },
        FilterCase {
            name: "existing pod's anti-affinity: selector and key must both match (one invalid key)",
            pod: pod("default", &[("foo", ""), ("bar", "")]),
            existing: vec![(
                "nodeA",
                pod("default", &[]).anti(term(exists("foo"), "invalid-node-label")).anti(term(exists("bar"), "zone")),
            )],
            nodes: abc_nodes(),
            want: vec![EXISTING, OK],
        },
        FilterCase {
            name: "newcomer's anti-affinity: selector and key must both match (one invalid key)",
            pod: pod("default", &[]).anti(term(exists("foo"), "invalid-node-label")).anti(term(exists("bar"), "zone")),
            existing: vec![("nodeA", pod("default", &[("foo", ""), ("bar", "")]))],
            nodes: abc_nodes(),
            want: vec![ANTI, OK],
        },
        FilterCase {
            name: "existing pod's anti-affinity: region and zone terms",
            pod: pod("default", &[("foo", ""), ("bar", "")]),
            existing: vec![(
                "nodeA",
                pod("default", &[]).anti(term(exists("foo"), "region")).anti(term(exists("bar"), "zone")),
            )],
            nodes: abc_nodes(),
            want: vec![EXISTING, EXISTING],
        },
        FilterCase {
            name: "existing pods on nodeA and nodeB each select the newcomer: only nodeC is left",
            pod: pod("default", &[("foo", ""), ("bar", "")]),
            existing: vec![
                ("nodeA", pod("default", &[]).anti(term(exists("foo"), "zone")).anti(term(exists("labelA"), "zone"))),
                ("nodeB", pod("default", &[]).anti(term(exists("bar"), "zone")).anti(term(exists("labelB"), "zone"))),
            ],
            nodes: vec![
                node("nodeA", &[("region", "r1"), ("zone", "z1")]),
                node("nodeB", &[("region", "r1"), ("zone", "z2")]),
                node("nodeC", &[("region", "r1"), ("zone", "z3")]),
            ],
            want: vec![EXISTING, EXISTING, OK],
        },
        FilterCase {
            name: "affinity: one pod matches all terms",
            pod: pod("default", &[]).affinity(term(exists("foo"), "region")).affinity(term(exists("bar"), "zone")),
            existing: vec![("nodeA", pod("default", &[("foo", ""), ("bar", "")]))],
            nodes: same_zone(),
            want: vec![OK, OK],
        },
        FilterCase {
            name: "affinity: the terms must be met by the same pod",
            pod: pod("default", &[]).affinity(term(exists("foo"), "region")).affinity(term(exists("bar"), "zone")),
            existing: vec![("nodeA", pod("default", &[("foo", "")])), ("nodeB", pod("default", &[("bar", "")]))],
            nodes: abc_nodes(),
            want: vec![AFFINITY, AFFINITY],
        },
    ]);
}

#[test]
fn match_label_keys_and_mismatch_label_keys() {
    let hosts = || vec![host("node-a", &[("zone", "z1")]), host("node-b", &[("zone", "z2")])];
    let web = |hash: &str| pod("default", &[("app", "web"), ("pod-template-hash", hash)]);
    check_filters(vec![
        FilterCase {
            name: "matchLabelKeys: anti-affinity only against pods of the same revision",
            pod: web("v2").anti(term(match_labels(&[("app", "web")]), HOST).match_label_keys(&["pod-template-hash"])),
            existing: vec![("node-a", web("v1")), ("node-b", web("v2"))],
            nodes: hosts(),
            want: vec![OK, ANTI],
        },
        FilterCase {
            name: "matchLabelKeys: a key the owner lacks adds nothing",
            pod: pod("default", &[("app", "web")])
                .anti(term(match_labels(&[("app", "web")]), HOST).match_label_keys(&["pod-template-hash"])),
            existing: vec![("node-a", web("v1")), ("node-b", web("v2"))],
            nodes: hosts(),
            want: vec![ANTI, ANTI],
        },
        FilterCase {
            name: "matchLabelKeys on a missing label selector: still selects no pod",
            pod: web("v1").anti(
                PodAffinityTerm { topology_key: HOST.into(), ..PodAffinityTerm::default() }
                    .match_label_keys(&["pod-template-hash"]),
            ),
            existing: vec![("node-a", web("v1")), ("node-b", web("v1"))],
            nodes: hosts(),
            want: vec![OK, OK],
        },
        FilterCase {
            name: "matchLabelKeys of an existing pod's anti-affinity use the existing pod's labels",
            pod: web("v2"),
            existing: vec![
                (
                    "node-a",
                    web("v1")
                        .anti(term(match_labels(&[("app", "web")]), HOST).match_label_keys(&["pod-template-hash"])),
                ),
                (
                    "node-b",
                    web("v2")
                        .anti(term(match_labels(&[("app", "web")]), HOST).match_label_keys(&["pod-template-hash"])),
                ),
            ],
            nodes: hosts(),
            want: vec![OK, EXISTING],
        },
        FilterCase {
            name: "mismatchLabelKeys: affinity to the same app of another tenant",
            pod: pod("default", &[("app", "web"), ("tenant", "t1")])
                .affinity(term(match_labels(&[("app", "web")]), "zone").mismatch_label_keys(&["tenant"])),
            existing: vec![
                ("node-a", pod("default", &[("app", "web"), ("tenant", "t1")])),
                ("node-b", pod("default", &[("app", "web"), ("tenant", "t2")])),
            ],
            nodes: hosts(),
            want: vec![AFFINITY, OK],
        },
        FilterCase {
            name: "mismatchLabelKeys: tenant isolation by anti-affinity",
            pod: pod("default", &[("tenant", "t1")])
                .anti(term(exists("tenant"), "zone").mismatch_label_keys(&["tenant"])),
            existing: vec![
                ("node-a", pod("default", &[("tenant", "t1")])),
                ("node-b", pod("default", &[("tenant", "t2")])),
            ],
            nodes: hosts(),
            want: vec![OK, ANTI],
        },
    ]);
}

#[test]
fn unschedulable_diagnosis_counts_each_reason() {
    // nodeA: no pod matches the affinity in region r2... nodeB: the affinity is met but an
    // existing pod's anti-affinity blocks it; nodeC: lacks the key.
    let nodes = vec![
        node("nodeA", &[("region", "r2")]),
        node("nodeB", &[("region", "r1")]),
        node("nodeC", &[("zone", "z1")]),
        node("nodeD", &[("region", "r1")]),
    ];
    let existing =
        vec![("nodeB", pod("default", &[("app", "db")]).anti(term(match_labels(&[("app", "web")]), "region")))];
    let incoming = pod("default", &[("app", "web")]).affinity(term(match_labels(&[("app", "db")]), "region"));
    let plan = run(&Policy::default(), nodes, existing, vec![], &[incoming]);
    let d = &plan.decisions[0];
    assert_eq!(
        reasons(d),
        pairs(&["nodeA", "nodeB", "nodeC", "nodeD"], &[AFFINITY, EXISTING, AFFINITY, EXISTING].map(String::from))
    );
    assert_eq!(
        message(d),
        "0/4 nodes are available: 2 node(s) didn't match pod affinity rules, \
         2 node(s) didn't satisfy existing pods anti-affinity rules."
    );
    let reasons = match &d.outcome {
        Outcome::Unschedulable(diag) => diag.reasons.clone(),
        _ => unreachable!(),
    };
    assert_eq!(reasons.get(AFFINITY), Some(&2));
    assert_eq!(reasons.get(EXISTING), Some(&2));
}

// ---------------------------------------------------------------------------------------------
// Score (kube's TestPreferredAffinity and TestPreferredAffinityWithHardPodAffinitySymmetricWeight)
// ---------------------------------------------------------------------------------------------

struct ScoreCase {
    name: &'static str,
    pod: Pod,
    existing: Vec<(&'static str, Pod)>,
    nodes: Vec<Node>,
    args: InterPodAffinityArgs,
    /// Normalised score per node, in the order of `nodes`.
    want: Vec<i64>,
}

fn check_scores(cases: Vec<ScoreCase>) {
    for c in cases {
        let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
        let want = pairs(&names, &c.want);
        let mut policy = Policy::default();
        policy.profile.inter_pod_affinity = c.args;
        let plan = run(&policy, c.nodes, c.existing, team_namespaces(), std::slice::from_ref(&c.pod));
        assert_eq!(scores(&plan.decisions[0]), want, "case: {}", c.name);
    }
}

fn default_args() -> InterPodAffinityArgs {
    InterPodAffinityArgs::default()
}

#[test]
fn preferred_terms_score_with_min_max_normalisation() {
    let s1 = || pod("default", &[("security", "S1")]);
    let s2 = || pod("default", &[("security", "S2")]);
    let bare = || pod("default", &[]);
    let china = || vec![("region", "China")];
    let india = || vec![("region", "India")];
    let az1 = || vec![("az", "az1")];
    let az2 = || vec![("az", "az2")];
    let china_az1 = || vec![("region", "China"), ("az", "az1")];
    // Terms of kube's table.
    let stay_with_s1_in_region = |p: Pod| p.prefer(5, term(is_in("security", &["S1"]), "region"));
    let stay_with_s2_in_region = |p: Pod| p.prefer(6, term(is_in("security", &["S2"]), "region"));
    let affinity3 = |p: Pod| {
        p.prefer(
            8,
            term(
                exprs(vec![
                    op("security", SelectorOperator::NotIn, &["S1"]),
                    op("security", SelectorOperator::In, &["S2"]),
                ]),
                "region",
            ),
        )
        .prefer(
            2,
            term(
                exprs(vec![
                    op("security", SelectorOperator::Exists, &[]),
                    op("wrongkey", SelectorOperator::DoesNotExist, &[]),
                ]),
                "region",
            ),
        )
    };
    let hard_affinity = |p: Pod| {
        p.affinity(term(is_in("security", &["S1", "value2"]), "region")).affinity(term(
            exprs(vec![
                op("security", SelectorOperator::Exists, &[]),
                op("wrongkey", SelectorOperator::DoesNotExist, &[]),
            ]),
            "region",
        ))
    };
    let away_from_s1_in_az = |p: Pod| p.prefer_anti(5, term(is_in("security", &["S1"]), "az"));
    let away_from_s2_in_az = |p: Pod| p.prefer_anti(5, term(is_in("security", &["S2"]), "az"));
    let stay_s1_away_s2 = |p: Pod| {
        p.prefer(8, term(is_in("security", &["S1"]), "region")).prefer_anti(5, term(is_in("security", &["S2"]), "az"))
    };
    let ns_term = || {
        term(is_in("security", &["S1"]), "region")
            .namespaces(&["subteam2.team2"])
            .namespace_selector(is_in("team", &["team1"]))
    };
    let affinity_ns_selector = |p: Pod| p.prefer(5, ns_term());
    let anti_affinity_ns_selector = |p: Pod| p.prefer_anti(5, ns_term());
    let in_ns = |ns: &str| pod(ns, &[("security", "S1")]);

    let three = || vec![node("node1", &china()), node("node2", &india()), node("node3", &az1())];
    check_scores(vec![
        ScoreCase {
            name: "no affinity anywhere: every node scores 0",
            pod: s1(),
            existing: vec![],
            nodes: three(),
            args: default_args(),
            want: vec![0, 0, 0],
        },
        ScoreCase {
            name: "affinity: the node in the matching pod's region scores highest",
            pod: stay_with_s1_in_region(s1()),
            existing: vec![("node1", s1()), ("node2", s2()), ("node3", s1())],
            nodes: three(),
            args: default_args(),
            want: vec![100, 0, 0],
        },
        ScoreCase {
            name: "affinity: every node sharing the region scores the same",
            pod: stay_with_s1_in_region(bare()),
            existing: vec![("node1", s1())],
            nodes: vec![node("node1", &china()), node("node2", &china_az1()), node("node3", &india())],
            args: default_args(),
            want: vec![100, 100, 0],
        },
        ScoreCase {
            name: "affinity: the region with more matching pods scores highest",
            pod: stay_with_s2_in_region(s1()),
            existing: vec![
                ("node1", s2()),
                ("node1", s2()),
                ("node2", s2()),
                ("node3", s2()),
                ("node4", s2()),
                ("node5", s2()),
            ],
            nodes: vec![
                node("node1", &china()),
                node("node2", &india()),
                node("node3", &china()),
                node("node4", &china()),
                node("node5", &india()),
            ],
            args: default_args(),
            want: vec![100, 0, 100, 100, 0],
        },
        ScoreCase {
            name: "affinity: several operators and weights (raw 2 / 10 / 0)",
            pod: affinity3(s1()),
            existing: vec![("node1", s1()), ("node2", s2()), ("node3", s1())],
            nodes: three(),
            args: default_args(),
            want: vec![20, 100, 0],
        },
        ScoreCase {
            name: "symmetry: existing pods' preferred affinity",
            pod: s2(),
            existing: vec![("node1", stay_with_s1_in_region(s1())), ("node2", stay_with_s2_in_region(s2()))],
            nodes: three(),
            args: default_args(),
            want: vec![0, 100, 0],
        },
        ScoreCase {
            name: "symmetry with a namespace selector",
            pod: pod("subteam1.team1", &[("security", "S1")]),
            existing: vec![("node1", affinity_ns_selector(s1())), ("node2", stay_with_s2_in_region(s2()))],
            nodes: three(),
            args: default_args(),
            want: vec![100, 0, 0],
        },
        ScoreCase {
            name: "anti-affinity symmetry with a namespace selector",
            pod: pod("subteam1.team1", &[("security", "S1")]),
            existing: vec![("node1", anti_affinity_ns_selector(s1())), ("node2", stay_with_s2_in_region(s2()))],
            nodes: three(),
            args: default_args(),
            want: vec![0, 100, 100],
        },
        ScoreCase {
            name: "symmetry: existing pods' required affinity counts hardPodAffinityWeight per term",
            pod: s1(),
            existing: vec![("node1", hard_affinity(s1())), ("node2", hard_affinity(s2()))],
            nodes: three(),
            args: default_args(),
            want: vec![100, 100, 0],
        },
        ScoreCase {
            name: "anti-affinity: the node with the matching pod scores lowest",
            pod: away_from_s1_in_az(s1()),
            existing: vec![("node1", s1()), ("node2", s2())],
            nodes: vec![node("node1", &az1()), node("node2", &china())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            name: "anti-affinity: a node without the key is not penalised",
            pod: away_from_s1_in_az(s1()),
            existing: vec![("node1", s1()), ("node2", s1())],
            nodes: vec![node("node1", &az1()), node("node2", &china())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            name: "anti-affinity: more matching pods, lower score",
            pod: away_from_s1_in_az(s1()),
            existing: vec![("node1", s1()), ("node1", s1()), ("node2", s2())],
            nodes: vec![node("node1", &az1()), node("node2", &india())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            name: "anti-affinity symmetry: existing pods' preferred anti-affinity",
            pod: s2(),
            existing: vec![("node1", away_from_s2_in_az(s1())), ("node2", away_from_s1_in_az(s2()))],
            nodes: vec![node("node1", &az1()), node("node2", &az2())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            name: "affinity and anti-affinity together",
            pod: stay_s1_away_s2(s1()),
            existing: vec![("node1", s1()), ("node2", s1())],
            nodes: vec![node("node1", &china()), node("node2", &az1())],
            args: default_args(),
            want: vec![100, 0],
        },
        ScoreCase {
            name: "affinity and anti-affinity with pods of the same service",
            pod: stay_s1_away_s2(s1()),
            existing: vec![
                ("node1", s1()),
                ("node1", s1()),
                ("node2", s1()),
                ("node3", s1()),
                ("node3", s1()),
                ("node4", s1()),
                ("node5", s1()),
            ],
            nodes: vec![
                node("node1", &china_az1()),
                node("node2", &india()),
                node("node3", &china()),
                node("node4", &china()),
                node("node5", &india()),
            ],
            args: default_args(),
            want: vec![100, 0, 100, 100, 0],
        },
        ScoreCase {
            // Raw: 8 (affinity), -5 (anti-affinity), 8 (affinity symmetry), -5 (anti symmetry).
            name: "affinity, anti-affinity and both symmetries",
            pod: stay_s1_away_s2(s1()),
            existing: vec![
                ("node1", s1()),
                ("node2", s2()),
                ("node3", stay_s1_away_s2(bare())),
                ("node4", away_from_s1_in_az(bare())),
            ],
            nodes: vec![node("node1", &china()), node("node2", &az1()), node("node3", &india()), node("node4", &az2())],
            args: default_args(),
            want: vec![100, 0, 100, 0],
        },
        ScoreCase {
            name: "some nodes of a domain hold pods with affinity, the pod has none",
            pod: s1(),
            existing: vec![("node1", s1()), ("node2", stay_s1_away_s2(bare()))],
            nodes: vec![node("node1", &china()), node("node2", &china())],
            args: default_args(),
            want: vec![0, 0],
        },
        ScoreCase {
            name: "affinity with pods matching the namespaceSelector",
            pod: affinity_ns_selector(in_ns("subteam1.team1")),
            existing: vec![
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam1.team2")),
                ("node2", in_ns("subteam2.team1")),
            ],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: default_args(),
            want: vec![100, 0],
        },
        ScoreCase {
            name: "affinity with pods matching the namespaceSelector or the namespaces",
            pod: affinity_ns_selector(in_ns("subteam1.team1")),
            existing: vec![
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam2.team2")),
                ("node2", in_ns("subteam2.team1")),
            ],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: default_args(),
            want: vec![100, 0],
        },
        ScoreCase {
            // Raw -10 / -5: min-max normalisation over the candidates gives 0 / 100 (an anchor
            // at 0, as in older releases, would give 0 / 50).
            name: "anti-affinity with pods matching the namespaceSelector",
            pod: anti_affinity_ns_selector(in_ns("subteam1.team1")),
            existing: vec![
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam1.team2")),
                ("node2", in_ns("subteam2.team1")),
            ],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            name: "anti-affinity with pods matching the namespaceSelector or the namespaces",
            pod: anti_affinity_ns_selector(in_ns("subteam1.team1")),
            existing: vec![
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam1.team1")),
                ("node1", in_ns("subteam2.team2")),
                ("node2", in_ns("subteam2.team1")),
            ],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            name: "positive raw scores are normalised from their minimum (24 / 12 -> 100 / 0)",
            pod: s1().prefer(12, term(exists("security"), "region")),
            existing: vec![("node1", s1()), ("node1", s2()), ("node2", s1())],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: default_args(),
            want: vec![100, 0],
        },
        ScoreCase {
            name: "non-integer normalisation truncates (raw 1 / 2 / 4 -> 0 / 33 / 100)",
            pod: s1().prefer(1, term(exists("security"), "region")),
            existing: vec![
                ("node1", s1()),
                ("node2", s1()),
                ("node2", s1()),
                ("node3", s1()),
                ("node3", s1()),
                ("node3", s1()),
                ("node3", s1()),
            ],
            nodes: vec![node("node1", &china()), node("node2", &india()), node("node3", &[("region", "Japan")])],
            args: default_args(),
            want: vec![0, 33, 100],
        },
        ScoreCase {
            name: "ignorePreferredTermsOfExistingPods: the pod has no preferred terms, nothing counts",
            pod: s2(),
            existing: vec![("node1", stay_s1_away_s2(s1())), ("node2", stay_with_s2_in_region(s2()))],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: InterPodAffinityArgs { ignore_preferred_terms_of_existing_pods: true, ..default_args() },
            want: vec![0, 0],
        },
        ScoreCase {
            name: "existing pods' preferred terms count when not ignored",
            pod: s2(),
            existing: vec![("node1", stay_s1_away_s2(s1())), ("node2", stay_with_s2_in_region(s2()))],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: default_args(),
            want: vec![0, 100],
        },
        ScoreCase {
            // kube: "ignore existing pods' preferred affinity rules when scoring candidate nodes,
            // unless the incoming pod has inter-pod affinities" - with preferred terms of its own,
            // existing pods' preferred terms count again.
            name: "ignorePreferredTermsOfExistingPods: the pod has preferred terms, existing pods' count",
            pod: s2().prefer(1, term(is_in("security", &["S3"]), "region")),
            existing: vec![("node1", stay_s1_away_s2(s1())), ("node2", stay_with_s2_in_region(s2()))],
            nodes: vec![node("node1", &china()), node("node2", &india())],
            args: InterPodAffinityArgs { ignore_preferred_terms_of_existing_pods: true, ..default_args() },
            want: vec![0, 100],
        },
    ]);
}

#[test]
fn hard_pod_affinity_weight_symmetry() {
    let service_s1 = |ns: &str| pod(ns, &[("service", "S1")]);
    let hard = |p: Pod| {
        p.affinity(
            term(is_in("service", &["S1"]), "region")
                .namespaces(&["default", "subteam2.team2"])
                .namespace_selector(is_in("team", &["team1"])),
        )
    };
    let nodes = || {
        vec![
            node("node1", &[("region", "China")]),
            node("node2", &[("region", "India")]),
            node("node3", &[("az", "az1")]),
        ]
    };
    let existing = || vec![("node1", hard(pod("default", &[]))), ("node2", hard(pod("default", &[])))];
    let weight = |w| InterPodAffinityArgs { hard_pod_affinity_weight: w, ..default_args() };
    check_scores(vec![
        ScoreCase {
            name: "default weight",
            pod: service_s1("default"),
            existing: existing(),
            nodes: nodes(),
            args: weight(1),
            want: vec![100, 100, 0],
        },
        ScoreCase {
            name: "zero weight: existing required terms do not score",
            pod: service_s1("default"),
            existing: existing(),
            nodes: nodes(),
            args: weight(0),
            want: vec![0, 0, 0],
        },
        ScoreCase {
            name: "no matching namespace",
            pod: service_s1("subteam1.team2"),
            existing: existing(),
            nodes: nodes(),
            args: weight(1),
            want: vec![0, 0, 0],
        },
        ScoreCase {
            name: "matching namespaceSelector",
            pod: service_s1("subteam1.team1"),
            existing: existing(),
            nodes: nodes(),
            args: weight(1),
            want: vec![100, 100, 0],
        },
        ScoreCase {
            name: "matching namespaces",
            pod: service_s1("subteam2.team2"),
            existing: existing(),
            nodes: nodes(),
            args: weight(1),
            want: vec![100, 100, 0],
        },
        ScoreCase {
            // node1: +5 (hard weight) -3 (preferred anti-affinity of its second pod): 2;
            // node2: -3; node3: 0 -> min-max over -3..2.
            name: "hard weight mixes with preferred terms of existing pods",
            pod: service_s1("default"),
            existing: vec![
                ("node1", hard(pod("default", &[]))),
                ("node1", pod("default", &[]).prefer_anti(3, term(exists("service"), "region"))),
                ("node2", pod("default", &[]).prefer_anti(3, term(exists("service"), "region"))),
            ],
            nodes: nodes(),
            args: weight(5),
            want: vec![100, 0, 60],
        },
    ]);
}

#[test]
fn preferred_terms_decide_the_node() {
    // Everything else equal, the pod goes where its preferred affinity points.
    let nodes = vec![host("a", &[("zone", "z1")]), host("b", &[("zone", "z2")]), host("c", &[("zone", "z3")])];
    let existing = vec![("b", pod("default", &[("app", "cache")]))];
    let web =
        pod("default", &[("app", "web")]).named("web").prefer(50, term(match_labels(&[("app", "cache")]), "zone"));
    let plan = run(&Policy::default(), nodes.clone(), existing.clone(), vec![], &[web]);
    assert_eq!(plan.decisions[0].node(), Some("b"));
    // And away from where its preferred anti-affinity points.
    let web =
        pod("default", &[("app", "web")]).named("web").prefer_anti(50, term(match_labels(&[("app", "cache")]), "zone"));
    let plan = run(&Policy::default(), nodes, existing, vec![], &[web]);
    assert_ne!(plan.decisions[0].node(), Some("b"));
    assert_eq!(scores(&plan.decisions[0]), pairs(&["a", "b", "c"], &[100, 0, 100]));
}

// ---------------------------------------------------------------------------------------------
// Assumed placements within one plan
// ---------------------------------------------------------------------------------------------

fn replicas(n: usize, build: impl Fn(Pod) -> Pod) -> Vec<Pod> {
    (0..n)
        .map(|i| {
            let mut p = build(pod("default", &[("app", "web")]).named(&format!("web-{i}")));
            p.creation_order = i as i64;
            p
        })
        .collect()
}

#[test]
fn hostname_anti_affinity_spreads_replicas_and_the_third_does_not_fit_on_two_nodes() {
    let nodes = vec![host("node-a", &[]), host("node-b", &[])];
    let pending = replicas(3, |p| p.anti(term(match_labels(&[("app", "web")]), HOST)));
    let plan = run(&Policy::default(), nodes, vec![], vec![], &pending);
    let first = plan.decision("default/web-0").and_then(Decision::node).expect("web-0 placed");
    let second = plan.decision("default/web-1").and_then(Decision::node).expect("web-1 placed");
    assert_ne!(first, second, "anti-affinity keeps the replicas apart");
    let third = plan.decision("default/web-2").expect("decision");
    // The newcomer's own anti-affinity is checked before the placed replicas' (symmetric) terms.
    assert_eq!(message(third), "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
    assert_eq!(reasons(third), pairs(&["node-a", "node-b"], &[ANTI, ANTI].map(String::from)));
}

#[test]
fn an_assumed_pods_anti_affinity_blocks_later_pods_it_selects() {
    let nodes = vec![host("node-a", &[]), host("node-b", &[])];
    let mut db = pod("default", &[("app", "db")]).named("db").anti(term(match_labels(&[("app", "web")]), HOST));
    db.priority = 10; // placed first
    let web = pod("default", &[("app", "web")]).named("web");
    let plan = run(&Policy::default(), nodes, vec![], vec![], &[web, db]);
    let db_node = plan.decision("default/db").and_then(Decision::node).expect("db placed").to_string();
    let web = plan.decision("default/web").expect("decision");
    assert!(web.node().is_some_and(|n| n != db_node), "web avoids the db node: {web:?}");
    let r: BTreeMap<String, String> = reasons(web).into_iter().collect();
    assert_eq!(r[&db_node], EXISTING);
}

#[test]
fn zone_self_affinity_co_locates_replicas() {
    let nodes = vec![
        host("a1", &[("zone", "za")]),
        host("a2", &[("zone", "za")]),
        host("b1", &[("zone", "zb")]),
        host("b2", &[("zone", "zb")]),
    ];
    let pending = replicas(3, |p| p.affinity(term(match_labels(&[("app", "web")]), "zone")));
    let plan = run(&Policy::default(), nodes, vec![], vec![], &pending);
    let zones: Vec<char> = plan
        .decisions
        .iter()
        .map(|d| {
            d.node().unwrap_or_else(|| panic!("{} unplaced: {:?}", d.pod, d.outcome)).chars().next().unwrap_or('?')
        })
        .collect();
    assert_eq!(zones.len(), 3);
    assert!(zones.iter().all(|z| *z == zones[0]), "all replicas share one zone: {zones:?}");
}

#[test]
fn zone_self_affinity_joins_an_existing_replica() {
    let nodes = vec![host("a1", &[("zone", "za")]), host("b1", &[("zone", "zb")]), host("b2", &[("zone", "zb")])];
    let existing = vec![("b2", pod("default", &[("app", "web")]))];
    let pending = replicas(2, |p| p.affinity(term(match_labels(&[("app", "web")]), "zone")));
    let plan = run(&Policy::default(), nodes, existing, vec![], &pending);
    for d in &plan.decisions {
        assert!(d.node().is_some_and(|n| n.starts_with('b')), "{} joins zone zb: {:?}", d.pod, d.outcome);
        assert_eq!(reasons(d), pairs(&["a1", "b1", "b2"], &[AFFINITY, OK, OK].map(String::from)));
    }
}

#[test]
fn preferred_anti_affinity_spreads_assumed_replicas() {
    let nodes = vec![host("node-a", &[]), host("node-b", &[]), host("node-c", &[])];
    let pending = replicas(3, |p| p.prefer_anti(100, term(match_labels(&[("app", "web")]), HOST)));
    let plan = run(&Policy::default(), nodes, vec![], vec![], &pending);
    let mut placed: Vec<&str> = plan.decisions.iter().filter_map(Decision::node).collect();
    placed.sort_unstable();
    assert_eq!(placed, ["node-a", "node-b", "node-c"]);
    // The last replica sees both earlier ones: their nodes score 0, the free node 100.
    let last = plan.decision("default/web-2").expect("decision");
    let free = last.node().expect("placed");
    for (name, score) in scores(last) {
        assert_eq!(score, if name == free { 100 } else { 0 }, "{name}");
    }
}

#[test]
fn a_rolled_back_affinity_group_leaves_no_terms_behind() {
    // Each zone holds two pods only, so the three co-located replicas cannot be placed whole and
    // are all taken back. Had they stayed, their anti-affinity to `db` (symmetric rule) and the
    // db's own anti-affinity to `web` would block the nodes they used.
    let mut nodes = vec![
        host("a1", &[("zone", "za")]),
        host("a2", &[("zone", "za")]),
        host("b1", &[("zone", "zb")]),
        host("b2", &[("zone", "zb")]),
    ];
    nodes.iter_mut().for_each(|n| n.allocatable.pods = 1);
    let mut pending = replicas(3, |p| {
        p.affinity(term(match_labels(&[("app", "web")]), "zone")).anti(term(match_labels(&[("app", "db")]), HOST))
    });
    let mut db = pod("default", &[("app", "db")]).named("db").anti(term(match_labels(&[("app", "web")]), HOST));
    db.creation_order = 10;
    pending.push(db);
    let plan = run(&Policy::default(), nodes, vec![], vec![], &pending);
    for i in 0..3 {
        let d = plan.decision(&format!("default/web-{i}")).expect("decision");
        assert!(d.node().is_none(), "web-{i} must not be placed: {:?}", d.outcome);
    }
    let db = plan.decision("default/db").expect("decision");
    assert!(db.node().is_some(), "{:?}", db.outcome);
    assert_eq!(reasons(db), pairs(&["a1", "a2", "b1", "b2"], &[OK; 4].map(String::from)));
}

#[test]
fn namespace_selector_on_the_metadata_name_label_matches_undeclared_namespaces() {
    // The API server labels every namespace `kubernetes.io/metadata.name=<name>`; selecting on it
    // must work even when the snapshot carries no Namespace objects.
    let mut incoming = pod("shop", &[]);
    incoming.pod_anti_affinity.required.push(
        term(match_labels(&[("app", "db")]), HOST).namespace_selector(is_in("kubernetes.io/metadata.name", &["data"])),
    );
    let existing = vec![("a", pod("data", &[("app", "db")])), ("b", pod("other", &[("app", "db")]))];
    let plan = run(&Policy::default(), vec![host("a", &[]), host("b", &[])], existing, vec![], &[incoming]);
    let d = &plan.decisions[0];
    assert_eq!(
        reasons(d),
        vec![
            ("a".to_string(), "node(s) didn't match pod anti-affinity rules".to_string()),
            ("b".to_string(), String::new())
        ]
    );
    assert_eq!(d.node(), Some("b"));
}
