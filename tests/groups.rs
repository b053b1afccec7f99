//! Co-scheduled groups: all-or-nothing placement of pod groups and of pending pods tied by
//! required pod affinity.

use spillway::model::{LabelSelector, POD_GROUP_LABEL, PodAffinityTerm, PodGroup};
use spillway::{Engine, Node, Outcome, Pod, Policy, Resources, Snapshot};

fn node(name: &str, cpu: &str) -> Node {
    Node::new(name)
        .with_label("kubernetes.io/hostname", name)
        .with_allocatable(Resources::parse([("cpu", cpu), ("memory", "64Gi"), ("pods", "110")]).unwrap())
}

fn pod(name: &str, cpu: &str, order: i64) -> Pod {
    let mut p = Pod::new("ml", name).with_container(Resources::parse([("cpu", cpu), ("memory", "1Gi")]).unwrap());
    p.creation_order = order;
    p
}

fn member(name: &str, cpu: &str, order: i64, group: &str) -> Pod {
    pod(name, cpu, order).with_label(POD_GROUP_LABEL, group)
}

fn message(plan: &spillway::Plan, pod: &str) -> String {
    match &plan.decision(pod).unwrap().outcome {
        Outcome::Unschedulable(d) => d.message.clone(),
        other => panic!("{pod}: expected unschedulable, got {other:?}"),
    }
}

#[test]
fn a_gang_that_does_not_fit_whole_is_not_placed_at_all() {
    let snapshot = Snapshot::new(vec![node("a", "4"), node("b", "4")], vec![])
        .unwrap()
        .with_groups(vec![PodGroup::new("ml", "train", 3)]);
    let pending = vec![member("w0", "3", 0, "train"), member("w1", "3", 1, "train"), member("w2", "3", 2, "train")];
    let plan = Engine::new(Policy::default()).unwrap().place(&snapshot, &pending);
    assert_eq!(plan.decisions.len(), 3);
    for name in ["ml/w0", "ml/w1"] {
        assert_eq!(
            message(&plan, name),
            "pod group ml/train cannot be placed whole: 2 of its 3 pending pods fit, 3 needed."
        );
    }
    // The member that did not fit keeps kube-scheduler's own diagnosis.
    assert_eq!(message(&plan, "ml/w2"), "0/2 nodes are available: 2 Insufficient cpu.");
}

#[test]
fn a_gang_reaching_min_member_is_placed_and_the_rest_reports_its_own_reason() {
    let snapshot = Snapshot::new(vec![node("a", "4"), node("b", "4")], vec![])
        .unwrap()
        .with_groups(vec![PodGroup::new("ml", "train", 2)]);
    let pending = vec![member("w0", "3", 0, "train"), member("w1", "3", 1, "train"), member("w2", "3", 2, "train")];
    let plan = Engine::new(Policy::default()).unwrap().place(&snapshot, &pending);
    let placed: Vec<_> = plan.decisions.iter().filter_map(|d| d.node()).collect();
    assert_eq!(placed.len(), 2);
    assert_ne!(placed[0], placed[1]);
    assert_eq!(message(&plan, "ml/w2"), "0/2 nodes are available: 2 Insufficient cpu.");
}

#[test]
fn a_failed_gang_gives_its_capacity_back_to_later_pods() {
    let snapshot = Snapshot::new(vec![node("a", "4")], vec![]).unwrap();
    // Two members of a label-only group (minMember = all pending members) cannot both fit.
    let pending = vec![member("g0", "3", 0, "pair"), member("g1", "3", 1, "pair"), pod("solo", "4", 2)];
    let plan = Engine::new(Policy::default()).unwrap().place(&snapshot, &pending);
    assert!(message(&plan, "ml/g0").starts_with("pod group ml/pair cannot be placed whole: 1 of its 2"));
    assert_eq!(plan.decision("ml/solo").unwrap().node(), Some("a"), "the rolled-back gang freed the node");
}

#[test]
fn pods_tied_by_required_affinity_are_placed_together_needed_pod_first() {
    let snapshot = Snapshot::new(vec![node("a", "8"), node("b", "8"), node("c", "8")], vec![]).unwrap();
    // `web` needs a `cache` pod on the same host; it is older, so it comes first in plan order,
    // but the group places the cache first so the affinity can be met.
    let mut web = pod("web", "1", 0);
    web.pod_affinity.required.push(PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: [("app".to_string(), "cache".to_string())].into(),
            ..Default::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..Default::default()
    });
    let cache = pod("cache", "1", 1).with_label("app", "cache");
    let plan = Engine::new(Policy::default()).unwrap().place(&snapshot, &[web, cache]);
    let order: Vec<&str> = plan.decisions.iter().map(|d| d.pod.as_str()).collect();
    assert_eq!(order, ["ml/cache", "ml/web"], "decisions come in placement order");
    let cache_node = plan.decision("ml/cache").unwrap().node().expect("cache placed");
    assert_eq!(plan.decision("ml/web").unwrap().node(), Some(cache_node));
}

#[test]
fn a_tie_whose_needed_pod_cannot_be_placed_places_neither() {
    let snapshot = Snapshot::new(vec![node("a", "8")], vec![]).unwrap();
    let mut web = pod("web", "1", 0).with_label("app", "cache");
    // `web` matches its own term, so alone it could use the first-pod exception; tied to the
    // too-large cache it must not be placed without it.
    web.pod_affinity.required.push(PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: [("app".to_string(), "cache".to_string())].into(),
            ..Default::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..Default::default()
    });
    let cache = pod("cache", "16", 1).with_label("app", "cache");
    let plan = Engine::new(Policy::default()).unwrap().place(&snapshot, &[web, cache]);
    assert_eq!(message(&plan, "ml/cache"), "0/1 nodes are available: 1 Insufficient cpu.");
    assert_eq!(
        message(&plan, "ml/web"),
        "pods tied by required pod affinity cannot be placed whole: 1 of its 2 pending pods fit, 2 needed."
    );
}
