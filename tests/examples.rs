//! The bundled scenarios in `examples/scenarios/` plan as their comments say.

use spillway::scenario::Scenario;
use spillway::{Engine, Outcome, Plan};

fn plan(file: &str) -> Plan {
    let path = format!("{}/examples/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&[path]).expect("bundled scenario loads");
    Engine::new(scenario.policy.clone()).expect("valid policy").place(&scenario.snapshot, &scenario.pending)
}

fn nodes_of<'a>(plan: &'a Plan, prefix: &str) -> Vec<Option<&'a str>> {
    plan.decisions.iter().filter(|d| d.pod.starts_with(prefix)).map(|d| d.node()).collect()
}

fn message<'a>(plan: &'a Plan, pod: &str) -> &'a str {
    match &plan.decision(pod).unwrap_or_else(|| panic!("no decision for {pod}")).outcome {
        Outcome::Unschedulable(d) => &d.message,
        other => panic!("{pod}: expected unschedulable, got {other:?}"),
    }
}

#[test]
fn default_scenario() {
    let plan = plan("default.yaml");
    let web = nodes_of(&plan, "shop/web-");
    assert_eq!(web.len(), 6);
    assert!(web.iter().all(|n| matches!(n, Some("aks-general-0" | "aks-general-1"))), "{web:?}");
    // The DaemonSet tolerates the cordon but not the GPU taint: three pods, one per general node.
    let mut shippers: Vec<_> = nodes_of(&plan, "kube-system/log-shipper-").into_iter().flatten().collect();
    shippers.sort_unstable();
    assert_eq!(shippers, ["aks-general-0", "aks-general-1", "aks-general-2"]);
    assert_eq!(plan.decision("shop/cache-0").unwrap().node(), Some("aks-general-0"), "zone-1 nodeSelector");
    assert_eq!(
        message(&plan, "ml/train-resnet"),
        "0/4 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu, 2 Insufficient memory, \
         3 Insufficient nvidia.com/gpu."
    );
    let export = nodes_of(&plan, "analytics/export-");
    assert_eq!(export.len(), 2, "parallelism 2");
}

#[test]
fn spread_and_anti_affinity_scenario() {
    let plan = plan("spread-and-anti-affinity.yaml");
    let mut per_zone = std::collections::BTreeMap::new();
    for node in nodes_of(&plan, "shop/web-") {
        let node = node.expect("every web replica is placed");
        *per_zone.entry(&node[..4]).or_insert(0) += 1;
    }
    assert_eq!(per_zone.into_values().collect::<Vec<_>>(), [2, 2, 2]);
    let mut caches: Vec<_> =
        (0..6).map(|i| plan.decision(&format!("shop/cache-{i}")).unwrap().node().unwrap()).collect();
    caches.sort_unstable();
    caches.dedup();
    assert_eq!(caches.len(), 6, "one cache replica per node");
    assert_eq!(
        message(&plan, "shop/cache-6"),
        "0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules."
    );
    assert_eq!(plan.decision("shop/metrics").unwrap().node(), Some("vm-c2"));
}
