//! PodTopologySpread default constraints: kube's system defaults (hostname maxSkew 3, zone
//! maxSkew 5, ScheduleAnyway) or a listed set, applied to pods without constraints of their own,
//! with the selector deduced from the Services and controllers that select the pod.

use spillway::model::{
    DefaultingType, LabelSelector, PodTopologySpreadArgs, TopologySpreadConstraint, WhenUnsatisfiable, WorkloadSelector,
};
use spillway::{Engine, Node, PlaceOptions, Pod, Policy, PolicyError, Resources, Snapshot};

fn node(name: &str) -> Node {
    Node::new(name)
        .with_label("kubernetes.io/hostname", name)
        .with_allocatable(Resources::parse([("cpu", "8"), ("memory", "32Gi"), ("pods", "110")]).unwrap())
}

/// A container-less pod: it requests nothing, so only the spread score separates the nodes.
fn web(name: &str) -> Pod {
    Pod::new("shop", name).with_label("app", "web")
}

fn web_selector() -> WorkloadSelector {
    WorkloadSelector {
        kind: "ReplicaSet".into(),
        namespace: "shop".into(),
        selector: LabelSelector { match_labels: [("app".to_string(), "web".to_string())].into(), ..Default::default() },
    }
}

fn spread_scores(snapshot: &Snapshot, policy: Policy) -> (Option<String>, Vec<(String, i64)>) {
    let plan = Engine::new(policy).unwrap().place_with(snapshot, &[web("new")], PlaceOptions { explain: true });
    let d = &plan.decisions[0];
    let scores =
        d.explanation.as_ref().unwrap().nodes.iter().map(|(n, v)| (n.clone(), v.scores["PodTopologySpread"])).collect();
    (d.node().map(str::to_string), scores)
}

#[test]
fn system_defaults_spread_replicas_selected_by_a_workload() {
    let placed = vec![web("w0").on_node("a"), web("w1").on_node("a")];
    let snapshot =
        Snapshot::new(vec![node("a"), node("b")], placed).unwrap().with_workload_selectors(vec![web_selector()]);
    let (chosen, scores) = spread_scores(&snapshot, Policy::default());
    // a: round(2 × ln(2 + 2) + (3 − 1)) = 5, b: 2 → normalised 100 × (5 + 2 − s) / 5.
    assert_eq!(scores, vec![("a".to_string(), 40), ("b".to_string(), 100)]);
    assert_eq!(chosen.as_deref(), Some("b"));
}

#[test]
fn without_a_selecting_workload_there_are_no_default_constraints() {
    let placed = vec![web("w0").on_node("a"), web("w1").on_node("a")];
    let snapshot = Snapshot::new(vec![node("a"), node("b")], placed).unwrap();
    let (_, scores) = spread_scores(&snapshot, Policy::default());
    assert_eq!(scores, vec![("a".to_string(), 0), ("b".to_string(), 0)], "the plugin is skipped");
    // A workload in another namespace selects nothing here either.
    let other = WorkloadSelector { namespace: "other".into(), ..web_selector() };
    let placed = vec![web("w0").on_node("a")];
    let snapshot = Snapshot::new(vec![node("a"), node("b")], placed).unwrap().with_workload_selectors(vec![other]);
    let (_, scores) = spread_scores(&snapshot, Policy::default());
    assert_eq!(scores, vec![("a".to_string(), 0), ("b".to_string(), 0)]);
}

fn hostname_constraint(when: WhenUnsatisfiable) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".into(),
        when_unsatisfiable: when,
        label_selector: None,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: vec![],
    }
}

#[test]
fn listed_default_constraints_can_filter() {
    let mut policy = Policy::default();
    policy.profile.pod_topology_spread = PodTopologySpreadArgs {
        default_constraints: vec![hostname_constraint(WhenUnsatisfiable::DoNotSchedule)],
        defaulting_type: DefaultingType::List,
    };
    let placed = vec![web("w0").on_node("a")];
    let snapshot =
        Snapshot::new(vec![node("a"), node("b")], placed).unwrap().with_workload_selectors(vec![web_selector()]);
    let plan = Engine::new(policy).unwrap().place_with(
        &snapshot,
        &[web("n0"), web("n1"), web("n2")],
        PlaceOptions { explain: true },
    );
    let nodes: Vec<_> = plan.decisions.iter().map(|d| d.node().unwrap_or("-")).collect();
    // n0 must go to b (a would reach skew 2); then one each, alternating.
    assert_eq!(nodes[0], "b");
    let reasons = &plan.decisions[0].explanation.as_ref().unwrap().nodes["a"].filters["PodTopologySpread"];
    assert_eq!(reasons, &vec!["node(s) didn't match pod topology spread constraints".to_string()]);
    let on_a = nodes.iter().filter(|n| **n == "a").count() + 1;
    let on_b = nodes.iter().filter(|n| **n == "b").count();
    assert!(on_a.abs_diff(on_b) <= 1, "a {on_a} b {on_b}");
}

#[test]
fn bad_default_constraints_are_rejected() {
    let mut policy = Policy::default();
    policy.profile.pod_topology_spread.default_constraints =
        vec![hostname_constraint(WhenUnsatisfiable::ScheduleAnyway)];
    let err = Engine::new(policy.clone()).unwrap_err();
    assert!(matches!(err, PolicyError::SpreadDefaults { .. }));
    assert!(err.to_string().contains("defaultingType is System"), "{err}");

    policy.profile.pod_topology_spread.defaulting_type = DefaultingType::List;
    policy.profile.pod_topology_spread.default_constraints[0].label_selector = Some(LabelSelector::default());
    assert!(Engine::new(policy.clone()).unwrap_err().to_string().contains("must not define a labelSelector"));

    policy.profile.pod_topology_spread.default_constraints[0].label_selector = None;
    policy.profile.pod_topology_spread.default_constraints[0].max_skew = 0;
    assert!(Engine::new(policy).unwrap_err().to_string().contains("maxSkew must be 1 or more"));
}
