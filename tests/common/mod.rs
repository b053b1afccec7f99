//! Builders shared by the plugin integration tests (`plugin_filters.rs`, `plugin_scores.rs`); the
//! runtime tests share `rig`.
//!
//! The tests mirror kube-scheduler's plugin test tables and use only spillway's public API.
#![allow(dead_code)] // each test crate uses a different subset of the helpers

pub mod rig;

use spillway::model::{
    NodeSelectorOperator, NodeSelectorRequirement, PreferredSchedulingTerm, ScorePlugin, WeightedScorePlugin,
};
use spillway::{
    Container, Decision, Engine, Node, NodeAffinity, NodeSelector, NodeSelectorTerm, NodeVerdict, Outcome,
    PlaceOptions, Plan, Pod, Policy, Resources, Snapshot,
};

/// Resources from `(name, quantity)` pairs in Kubernetes syntax (`"10m"`, `"20"`, `"1Gi"`).
pub fn res(pairs: &[(&str, &str)]) -> Resources {
    Resources::parse(pairs.iter().copied()).expect("valid test quantities")
}

/// A container requesting `pairs`. A pair whose quantity is `"0"` is an explicit zero (kept as 0
/// by the scorers instead of the 100m / 200Mi non-zero default), as in kube's tests.
pub fn container(pairs: &[(&str, &str)]) -> Container {
    let mut c = Container::new("c", res(pairs));
    c.explicit_zero = pairs.iter().filter(|(_, v)| *v == "0").map(|(k, _)| k.to_string()).collect();
    c
}

/// A node with this allocatable; `pods` defaults to 110 when not given.
pub fn node(name: &str, alloc: &[(&str, &str)]) -> Node {
    let mut r = res(alloc);
    if !alloc.iter().any(|(k, _)| *k == "pods") {
        r.pods = 110;
    }
    Node::new(name).with_allocatable(r)
}

/// A pending pod `default/<name>` without containers.
pub fn pod(name: &str) -> Pod {
    Pod::new("default", name)
}

/// Fluent builders for test pods, mirroring kube's `st.MakePod()` wrappers.
pub trait PodExt: Sized {
    /// Adds an app container (`"0"` quantities are explicit zeros).
    fn c(self, pairs: &[(&str, &str)]) -> Self;
    /// Adds a regular init container.
    fn init(self, pairs: &[(&str, &str)]) -> Self;
    /// Adds a sidecar (`restartPolicy: Always` init container).
    fn sidecar(self, pairs: &[(&str, &str)]) -> Self;
    /// Sets the pod overhead.
    fn overhead(self, pairs: &[(&str, &str)]) -> Self;
    /// Adds a required node affinity term (terms are ORed).
    fn required_term(self, term: NodeSelectorTerm) -> Self;
    /// Adds a preferred node affinity term.
    fn preferred(self, weight: i32, term: NodeSelectorTerm) -> Self;
}

impl PodExt for Pod {
    fn c(mut self, pairs: &[(&str, &str)]) -> Pod {
        self.containers.push(container(pairs));
        self
    }

    fn init(mut self, pairs: &[(&str, &str)]) -> Pod {
        self.init_containers.push(container(pairs));
        self
    }

    fn sidecar(mut self, pairs: &[(&str, &str)]) -> Pod {
        self.init_containers.push(Container { sidecar: true, ..container(pairs) });
        self
    }

    fn overhead(mut self, pairs: &[(&str, &str)]) -> Pod {
        self.overhead = res(pairs);
        self
    }

    fn required_term(mut self, term: NodeSelectorTerm) -> Pod {
        self.node_affinity.required.get_or_insert_with(NodeSelector::default).node_selector_terms.push(term);
        self
    }

    fn preferred(mut self, weight: i32, term: NodeSelectorTerm) -> Pod {
        self.node_affinity.preferred.push(PreferredSchedulingTerm { weight, preference: term });
        self
    }
}

/// A node selector requirement.
pub fn req(key: &str, operator: NodeSelectorOperator, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement { key: key.into(), operator, values: values.iter().map(|v| v.to_string()).collect() }
}

/// A term with these label expressions (ANDed).
pub fn exprs(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm { match_expressions: reqs, match_fields: vec![] }
}

/// A term with these field requirements (ANDed).
pub fn fields(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm { match_expressions: vec![], match_fields: reqs }
}

/// A required node selector with these terms.
pub fn selector(terms: Vec<NodeSelectorTerm>) -> NodeSelector {
    NodeSelector { node_selector_terms: terms }
}

/// Node affinity with a required part only.
pub fn required_affinity(terms: Vec<NodeSelectorTerm>) -> NodeAffinity {
    NodeAffinity { required: Some(selector(terms)), preferred: vec![] }
}

/// A policy whose only score plugin is `plugin` (weight 1) and whose filters are `filters`.
/// Score tables ported from kube call the scorer directly, without the filters; passing no
/// filters here does the same (every node is feasible and scored).
pub fn score_only(plugin: ScorePlugin, filters: &[spillway::model::FilterPlugin]) -> Policy {
    let mut p = Policy::default();
    p.profile.filters = filters.to_vec();
    p.profile.scores = vec![WeightedScorePlugin { name: plugin, weight: 1 }];
    p
}

/// Places `pending` with explanations on `nodes` holding `existing` pods (given as
/// `(node, pod)`; they are renamed `existing-<i>` so tables need not name them). Also places
/// without explanations and checks both runs agree on every outcome, and that a second run
/// is identical (the engine is deterministic).
pub fn run(policy: &Policy, nodes: Vec<Node>, existing: Vec<(&str, Pod)>, pending: &[Pod]) -> Plan {
    let placed = existing
        .into_iter()
        .enumerate()
        .map(|(i, (n, mut p))| {
            p.name = format!("existing-{i}");
            p.uid = format!("uid-existing-{i}");
            p.on_node(n)
        })
        .collect();
    let snapshot = Snapshot::new(nodes, placed).expect("consistent snapshot");
    let engine = Engine::new(policy.clone()).expect("valid policy");
    let explained = engine.place_with(&snapshot, pending, PlaceOptions { explain: true });
    let plain = engine.place(&snapshot, pending);
    assert_eq!(plain.decisions.len(), explained.decisions.len());
    for (a, b) in plain.decisions.iter().zip(&explained.decisions) {
        assert_eq!((&a.pod, &a.outcome), (&b.pod, &b.outcome), "explain mode changed the outcome");
        assert!(a.explanation.is_none());
    }
    assert_eq!(engine.place_with(&snapshot, pending, PlaceOptions { explain: true }), explained, "not deterministic");
    explained
}

/// The verdict for `node` in a decision made with explanations.
pub fn verdict<'a>(d: &'a Decision, node: &str) -> &'a NodeVerdict {
    d.explanation
        .as_ref()
        .expect("explanations were requested")
        .nodes
        .get(node)
        .unwrap_or_else(|| panic!("{}: no verdict for node {node}", d.pod))
}

/// The diagnosis message of an unschedulable decision (panics when the pod was placed).
pub fn message(d: &Decision) -> &str {
    match &d.outcome {
        Outcome::Unschedulable(diag) => &diag.message,
        other => panic!("{}: expected unschedulable, got {other:?}", d.pod),
    }
}

/// kube's message for one node failing with `reasons`: `0/1 nodes are available: 1 a, 1 b.`
/// (items sorted as strings).
pub fn one_node_message(reasons: &[&str]) -> String {
    let mut items: Vec<String> = reasons.iter().map(|r| format!("1 {r}")).collect();
    items.sort();
    format!("0/1 nodes are available: {}.", items.join(", "))
}
