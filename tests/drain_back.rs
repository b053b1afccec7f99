//! Drain-back: moves of burst pods back to VM nodes, biggest savings first, within the budget,
//! each to a node that passes every filter with the earlier moves assumed.

use proptest::prelude::*;
use spillway::model::{BurstTarget, Money};
use spillway::{DrainBudget, Engine, Node, Pod, Policy, Resources, Snapshot, Taint, TaintEffect};

fn vm(name: &str, cpu: &str) -> Node {
    Node::new(name)
        .with_label("kubernetes.io/hostname", name)
        .with_allocatable(Resources::parse([("cpu", cpu), ("memory", "32Gi"), ("pods", "110")]).unwrap())
}

fn burst_pod(name: &str, cpu: &str, owner: Option<&str>) -> Pod {
    let mut p = Pod::new("shop", name).with_container(Resources::parse([("cpu", cpu), ("memory", "1Gi")]).unwrap());
    if let Some(owner) = owner {
        p.owner_kind = Some("ReplicaSet".into());
        p.owner_name = Some(owner.into());
    }
    p.on_node("aci")
}

fn engine() -> Engine {
    Engine::new(Policy::default()).unwrap()
}

fn budget(max_moves: usize, max_per_owner: usize) -> DrainBudget {
    DrainBudget { max_moves, max_per_owner, min_savings_per_hour: Money::from_micros(1) }
}

#[test]
fn moves_go_biggest_savings_first_and_fill_only_free_capacity() {
    let snapshot = Snapshot::with_burst(
        vec![vm("a", "3")],
        vec![BurstTarget::aci_like("aci", "eastus")],
        vec![burst_pod("small", "500m", None), burst_pod("big", "2", None), burst_pod("mid", "1", None)],
    )
    .unwrap();
    let plan = engine().drain_back(&snapshot, &budget(10, 10));
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.pod.as_str()).collect();
    // big (2 cpu) first, then mid (1 cpu) fills the node; small no longer fits.
    assert_eq!(moved, ["shop/big", "shop/mid"]);
    assert!(plan.moves.windows(2).all(|w| w[0].savings_per_hour >= w[1].savings_per_hour));
    assert_eq!(plan.stays.len(), 1);
    assert_eq!(plan.stays[0].pod, "shop/small");
    assert_eq!(plan.stays[0].reason, "no VM node fits: 0/1 nodes are available: 1 Insufficient cpu.");
    let total: i64 = plan.moves.iter().map(|m| m.savings_per_hour.micros()).sum();
    assert_eq!(plan.savings_per_hour.micros(), total);
    assert!(plan.moves.iter().all(|m| m.savings_per_hour.micros() > 0 && m.from_target == "aci"));
}

#[test]
fn the_budget_limits_moves_per_round_and_per_owner() {
    let pods = vec![
        burst_pod("web-1", "1", Some("web")),
        burst_pod("web-2", "1", Some("web")),
        burst_pod("api-1", "1", Some("api")),
        burst_pod("solo", "1", None),
    ];
    let snapshot =
        Snapshot::with_burst(vec![vm("a", "16")], vec![BurstTarget::aci_like("aci", "eastus")], pods).unwrap();
    let plan = engine().drain_back(&snapshot, &budget(10, 1));
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.pod.as_str()).collect();
    assert_eq!(moved, ["shop/api-1", "shop/solo", "shop/web-1"], "one per owner");
    assert_eq!(plan.stays[0].reason, "ReplicaSet/shop/web already has 1 move(s) this round, its budget");
    let plan = engine().drain_back(&snapshot, &budget(2, 10));
    assert_eq!(plan.moves.len(), 2);
    assert!(plan.stays.iter().all(|s| s.reason == "the round's budget of 2 moves is used"));
}

#[test]
fn moves_respect_every_filter() {
    // The only free node is tainted; the burst pod does not tolerate the taint.
    let tainted = vm("gpu", "16").with_taint(Taint::new("sku", "gpu", TaintEffect::NoSchedule));
    let snapshot = Snapshot::with_burst(
        vec![tainted, vm("full", "1")],
        vec![BurstTarget::aci_like("aci", "eastus")],
        vec![
            Pod::new("shop", "busy").with_container(Resources::parse([("cpu", "1")]).unwrap()).on_node("full"),
            burst_pod("web", "500m", None),
        ],
    )
    .unwrap();
    let plan = engine().drain_back(&snapshot, &DrainBudget::default());
    assert!(plan.moves.is_empty());
    assert_eq!(
        plan.stays[0].reason,
        "no VM node fits: 0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {sku: gpu}."
    );
}

#[test]
fn moves_below_the_minimum_saving_are_not_proposed() {
    let snapshot = Snapshot::with_burst(
        vec![vm("a", "16")],
        vec![BurstTarget::aci_like("aci", "eastus")],
        vec![burst_pod("web", "10m", None)],
    )
    .unwrap();
    let plan = engine().drain_back(
        &snapshot,
        &DrainBudget { max_moves: 10, max_per_owner: 10, min_savings_per_hour: Money::from_micros(1_000_000) },
    );
    assert!(plan.moves.is_empty());
    assert!(plan.stays[0].reason.ends_with("less than the budget's minimum"), "{}", plan.stays[0].reason);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Applying the moves never overcommits a node, never exceeds the budget, and every move
    /// saves money; re-planning a moved pod onto the resulting snapshot leaves no move for it.
    #[test]
    fn moves_are_safe_and_within_budget(
        node_cpus in proptest::collection::vec(1u32..8, 1..5),
        placed in proptest::collection::vec((0usize..5, 100u32..3000), 0..8),
        bursts in proptest::collection::vec((100u32..3000, 0u8..3), 0..12),
        max_moves in 0usize..6,
        max_per_owner in 1usize..3,
    ) {
        let nodes: Vec<Node> = node_cpus.iter().enumerate().map(|(i, c)| vm(&format!("n{i}"), &c.to_string())).collect();
        let mut pods: Vec<Pod> = placed
            .iter()
            .enumerate()
            .map(|(i, (n, cpu))| {
                Pod::new("base", format!("p{i}"))
                    .with_container(Resources::parse([("cpu", &format!("{cpu}m") as &str)]).unwrap())
                    .on_node(format!("n{}", n % nodes.len()))
            })
            .collect();
        for (i, (cpu, owner)) in bursts.iter().enumerate() {
            pods.push(burst_pod(&format!("b{i}"), &format!("{cpu}m"), Some(&format!("rs{owner}"))));
        }
        let snapshot = Snapshot::with_burst(nodes.clone(), vec![BurstTarget::aci_like("aci", "eastus")], pods.clone()).unwrap();
        let budget = budget(max_moves, max_per_owner);
        let plan = engine().drain_back(&snapshot, &budget);
        prop_assert!(plan.moves.len() <= max_moves);
        prop_assert_eq!(plan.moves.len() + plan.stays.len(), bursts.len(), "every burst pod is accounted for");
        let mut per_owner = std::collections::BTreeMap::new();
        for m in &plan.moves {
            prop_assert!(m.savings_per_hour.micros() > 0);
            let pod = pods.iter().find(|p| p.key() == m.pod).unwrap();
            *per_owner.entry(pod.owner_name.clone()).or_insert(0) += 1;
        }
        prop_assert!(per_owner.values().all(|n| *n <= max_per_owner));
        // Apply the moves: the result must be a snapshot whose nodes are within allocatable
        // wherever they were before.
        let moved: Vec<Pod> = pods
            .iter()
            .map(|p| match plan.moves.iter().find(|m| m.pod == p.key()) {
                Some(m) => p.clone().on_node(&m.to_node),
                None => p.clone(),
            })
            .collect();
        let after = Snapshot::with_burst(nodes.clone(), vec![BurstTarget::aci_like("aci", "eastus")], moved).unwrap();
        for n in &nodes {
            let before = snapshot.usage(&n.name).cpu_millis;
            let now = after.usage(&n.name).cpu_millis;
            if before <= n.allocatable.cpu_millis {
                prop_assert!(now <= n.allocatable.cpu_millis, "{} overcommitted: {now} > {}", n.name, n.allocatable.cpu_millis);
            }
        }
        prop_assert_eq!(engine().drain_back(&snapshot, &budget), plan, "deterministic");
    }
}
