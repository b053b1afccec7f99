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

#[test]
fn black_friday_scenario() {
    let plan = plan("black-friday.yaml");
    let count = |prefix: &str, outcome: &str| {
        plan.decisions
            .iter()
            .filter(|d| d.pod.starts_with(prefix))
            .filter(|d| {
                matches!(
                    (&d.outcome, outcome),
                    (Outcome::Node { .. }, "node")
                        | (Outcome::Burst { .. }, "burst")
                        | (Outcome::Wait { .. }, "wait")
                        | (Outcome::Unschedulable(_), "unschedulable")
                )
            })
            .count()
    };
    assert_eq!(count("shop/storefront-", "node"), 21);
    assert_eq!(count("shop/storefront-", "burst"), 9, "until the $0.25/h spend cap");
    assert_eq!(count("shop/storefront-", "wait"), 10);
    assert_eq!(count("monitoring/node-exporter-", "node"), 3);
    for d in plan.decisions.iter().filter(|d| d.pod.starts_with("shop/storefront-")) {
        if let Outcome::Burst { target, instance, cost_per_hour, start_seconds } = &d.outcome {
            assert_eq!(target, "aci-eastus");
            assert_eq!((instance.cpu_millis, instance.memory_bytes), (500, 1_100_000_000), "rounded up to 0.1 GB");
            assert_eq!(cost_per_hour.to_string(), "0.025145");
            assert_eq!(*start_seconds, 40);
        }
    }
    match &plan.decision("monitoring/log-collector").unwrap().outcome {
        Outcome::Wait { pool, reason, .. } => {
            assert_eq!(pool.as_deref(), Some("nodepool1"));
            assert!(reason.contains("burst target(s) don't support hostPath volumes"), "{reason}");
        }
        other => panic!("log-collector: {other:?}"),
    }
    assert_eq!(count("batch/export-", "wait"), 2);
    assert_eq!(plan.summary.bursts, 9);
    assert_eq!(plan.summary.burst_cost_per_hour.to_string(), "0.226305");
    assert!(plan.summary.total_burst_cost_per_hour.micros() <= 250_000);
}

#[test]
fn after_the_spike_drains_back_within_the_budget() {
    let path = format!("{}/examples/scenarios/after-the-spike.yaml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&[path]).unwrap();
    let engine = Engine::new(scenario.policy.clone()).unwrap();
    let budget = spillway::DrainBudget { max_per_owner: 2, ..Default::default() };
    let drain = engine.drain_back(&scenario.snapshot, &budget);
    let moved: Vec<&str> = drain.moves.iter().map(|m| m.pod.as_str()).collect();
    assert_eq!(
        moved,
        [
            "shop/search-6b8f9-b1",
            "shop/search-6b8f9-b2",
            "shop/storefront-85977bc579-a1",
            "shop/storefront-85977bc579-a2"
        ]
    );
    assert_eq!(drain.savings_per_hour.to_string(), "0.25056");
    assert_eq!(drain.stays.len(), 2);
}
