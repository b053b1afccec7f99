//! Properties of burst decisions over random small clusters, 1–3 burst targets with random
//! quotas, caps and features, node pools and up to 30 pending pods with random needs,
//! tolerations and burst modes:
//!
//! 1. per target, running plus planned cores and instances never exceed the quota, and the
//!    creations of one plan never exceed the creation rate limit;
//! 2. the hourly spend of running plus planned bursts never exceeds the spend cap, and the plan
//!    summary adds it up;
//! 3. an Overflow or CostAware pod never bursts while a VM node fits it at its turn;
//! 4. a Never pod never bursts; a Prefer pod only takes a VM node when no target can take it; a
//!    pod waits for a pool although a target could take it only in CostAware mode, for a pool
//!    whose node comes in time at a cheaper share, and a CostAware pod bursts only when no such
//!    pool exists;
//! 5. a pod only bursts to a target that an independent oracle (over the model: taints, node
//!    selector and affinity, features, GPUs, per-instance limits) calls compatible, at the size
//!    and price the oracle computes; a waiting pod only waits for a pool whose new node could
//!    take it, and the waiting pods fit, first-fit, into the nodes the pool may still add;
//! 6. the plan is deterministic, explanations do not change it, and its JSON round-trips.

use std::collections::BTreeMap;

use proptest::prelude::*;
use spillway::model::{
    BurstMode, BurstRule, BurstTarget, InstanceSize, LabelSelector, NodePool, NodeSelectorOperator,
    NodeSelectorRequirement, PodAffinityTerm, ResourceName, SizeModel,
};
use spillway::{
    Engine, Money, Node, NodeSelector, NodeSelectorTerm, Outcome, PlaceOptions, Plan, Pod, Policy, Resources, Snapshot,
    Taint, TaintEffect, Toleration,
};

const GPU: &str = "nvidia.com/gpu";
const VOLUMES: [&str; 5] = ["emptyDir", "hostPath", "persistentVolumeClaim", "azureFile", "csi:efs.csi.aws.com"];
const CPUS: [&str; 10] = ["", "100m", "250m", "333m", "500m", "1", "1500m", "2", "3", "5"];
const MEMORIES: [&str; 7] = ["", "128Mi", "512Mi", "1Gi", "2Gi", "4Gi", "17G"];
const MODES: [BurstMode; 4] = [BurstMode::Never, BurstMode::Overflow, BurstMode::CostAware, BurstMode::Prefer];

fn res(pairs: &[(&str, &str)]) -> Resources {
    let pairs: Vec<(&str, &str)> = pairs.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
    Resources::parse(pairs).expect("valid quantities")
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

fn node() -> impl Strategy<Value = (usize, usize, bool, u8, bool)> {
    // cpu index, memory index, tainted, zone, cordoned
    (0..3usize, 0..3usize, prop::bool::weighted(0.2), 0..2u8, prop::bool::weighted(0.1))
}

fn build_node(i: usize, (cpu, memory, tainted, zone, cordoned): (usize, usize, bool, u8, bool)) -> Node {
    let name = format!("vm-{i}");
    let mut n = Node::new(&name)
        .with_label("kubernetes.io/hostname", &name)
        .with_label("topology.kubernetes.io/zone", format!("z{zone}"))
        .with_allocatable(res(&[
            ("cpu", ["1", "2", "4"][cpu]),
            ("memory", ["2Gi", "4Gi", "8Gi"][memory]),
            ("pods", "8"),
        ]));
    if tainted {
        n = n.with_taint(Taint::new("dedicated", "infra", TaintEffect::NoSchedule));
    }
    n.unschedulable = cordoned;
    n
}

/// What varies between targets.
#[derive(Debug, Clone)]
struct TargetSpec {
    /// 0: ACI-like, 1: Fargate-like, 2: an untainted mock with coarse steps.
    base: u8,
    max_cpu: Option<i64>,
    max_instances: Option<i64>,
    max_creates: Option<i64>,
    /// privileged, hostNetwork, DaemonSets, IPv6, startup probes, lifecycle hooks, Windows.
    features: [bool; 7],
    /// Which of [`VOLUMES`] it mounts.
    volumes: u8,
    gpus: Option<i64>,
    spot: Option<i64>,
    latency: i64,
    /// Pods already running on it: (cpu index, memory index).
    running: Vec<(usize, usize)>,
}

fn target_spec() -> impl Strategy<Value = TargetSpec> {
    (
        0..3u8,
        prop::option::weighted(0.5, (1..12i64).prop_map(|c| c * 500)),
        prop::option::weighted(0.5, 0..8i64),
        prop::option::weighted(0.3, 1..4i64),
        prop::array::uniform7(prop::bool::weighted(0.3)),
        any::<u8>(),
        prop::option::weighted(0.3, 1..3i64),
        prop::option::weighted(0.3, 0..=100i64),
        prop::sample::select(vec![20i64, 40, 60]),
        prop::collection::vec((0..CPUS.len(), 0..MEMORIES.len() - 1), 0..3),
    )
        .prop_map(
            |(base, max_cpu, max_instances, max_creates, features, volumes, gpus, spot, latency, running)| TargetSpec {
                base,
                max_cpu,
                max_instances,
                max_creates,
                features,
                volumes,
                gpus,
                spot,
                latency,
                running,
            },
        )
}

fn build_target(i: usize, s: &TargetSpec) -> BurstTarget {
    let name = format!("t{i}");
    let mut t = match s.base {
        0 => BurstTarget::aci_like(&name, "eastus"),
        1 => BurstTarget::fargate_like(&name, "us-east-1"),
        _ => {
            let mut t = BurstTarget::aci_like(&name, "eastus");
            t.backend = "mock".into();
            t.taints.clear();
            t.sizing = SizeModel::Granular {
                cpu_step_millis: 250,
                memory_step_bytes: 500_000_000,
                min_cpu_millis: 250,
                min_memory_bytes: 500_000_000,
            };
            t.default_size = InstanceSize::new(500, 1_000_000_000);
            t.pricing.per_vcpu_hour = Money::from_micros(30_000);
            t
        }
    };
    t.quota.max_cpu_millis = s.max_cpu;
    t.quota.max_instances = s.max_instances;
    t.quota.max_creates_per_window = s.max_creates;
    t.quota.create_window_seconds = s.max_creates.map(|_| 300);
    let f = s.features;
    (
        t.features.privileged,
        t.features.host_network,
        t.features.daemon_sets,
        t.features.ipv6,
        t.features.startup_probes,
        t.features.lifecycle_hooks,
        t.features.windows,
    ) = (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    // Every target mounts emptyDir; the others vary.
    t.features.volumes = VOLUMES
        .iter()
        .enumerate()
        .filter(|(b, _)| *b == 0 || s.volumes & (1 << b) != 0)
        .map(|(_, v)| v.to_string())
        .collect();
    if let Some(max) = s.gpus {
        t.limits.gpus.insert(GPU.into(), max);
        t.pricing.per_gpu_hour.insert(GPU.into(), Money::from_micros(900_000));
    }
    if let Some(discount) = s.spot {
        t.spot = discount % 2 == 0;
        t.pricing.spot_discount_percent = discount;
    }
    t.start_latency_seconds = s.latency;
    t
}

fn pool() -> impl Strategy<Value = (usize, i64, i64, i64, i64, bool)> {
    // shape, cost in milli-units, provisioning seconds, max nodes, current nodes, tainted
    (
        0..3usize,
        20..400i64,
        prop::sample::select(vec![0i64, 120, 300, 600]),
        0..4i64,
        0..2i64,
        prop::bool::weighted(0.2),
    )
}

fn build_pool(i: usize, (shape, cost, seconds, max, current, tainted): (usize, i64, i64, i64, i64, bool)) -> NodePool {
    let (cpu, memory) = [("2", "8Gi"), ("4", "16Gi"), ("8", "32Gi")][shape];
    NodePool {
        name: format!("p{i}"),
        allocatable: res(&[("cpu", cpu), ("memory", memory), ("pods", "6")]),
        labels: [("agentpool".to_string(), format!("p{i}"))].into(),
        taints: if tainted { vec![Taint::new("dedicated", "infra", TaintEffect::NoSchedule)] } else { vec![] },
        hourly_cost: Money::from_micros(cost * 1000),
        provisioning_seconds: seconds,
        max_nodes: max,
        current_nodes: current,
    }
}

/// What varies between pending pods.
#[derive(Debug, Clone)]
struct PodSpec {
    batch: bool,
    cpu: usize,
    memory: usize,
    gpus: i64,
    volumes: u8,
    /// privileged, hostNetwork, DaemonSet-owned, IPv6-only, startup probe, lifecycle hooks, Windows.
    needs: [bool; 7],
    /// 0: none, 1: the virtual-kubelet taint, 2: Fargate's taint, 3: everything, 4: infra.
    tolerations: u8,
    /// 0: none, 1: `type=virtual-kubelet`, 2: zone z0, 3: pool p0, 4: required affinity on the
    /// name of target t0, 5: required affinity `type NotIn [virtual-kubelet]`.
    selector: u8,
    anti_affinity: bool,
    max_wait: Option<i64>,
    lifetime: Option<i64>,
    priority: i32,
    /// Bound by `spec.nodeName` (to `vm-0` or `t0`).
    bound: Option<bool>,
}

fn pod_spec() -> impl Strategy<Value = PodSpec> {
    (
        (prop::bool::weighted(0.3), 0..CPUS.len(), 0..MEMORIES.len(), prop::option::weighted(0.05, 1..3i64)),
        (
            prop::sample::select(vec![0u8, 0, 0, 1, 2, 4, 8, 9, 16, 17]),
            prop::array::uniform7(prop::bool::weighted(0.04)),
            prop::sample::select(vec![0u8, 1, 1, 1, 1, 2, 2, 3, 3, 4]),
            prop::sample::select(vec![0u8, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]),
        ),
        (
            prop::bool::weighted(0.1),
            prop::option::weighted(0.3, prop::sample::select(vec![0i64, 100, 300, 900])),
            prop::option::weighted(0.3, prop::sample::select(vec![60i64, 300, 7200])),
            0..3i32,
            prop::option::weighted(0.05, any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (batch, cpu, memory, gpus),
                (volumes, needs, tolerations, selector),
                (anti_affinity, max_wait, lifetime, priority, bound),
            )| PodSpec {
                batch,
                cpu,
                memory,
                gpus: gpus.unwrap_or(0),
                volumes,
                needs,
                tolerations,
                selector,
                anti_affinity,
                max_wait,
                lifetime,
                priority,
                bound,
            },
        )
}

fn affinity(term: NodeSelectorRequirement) -> NodeSelector {
    NodeSelector {
        node_selector_terms: vec![if term.key == "metadata.name" {
            NodeSelectorTerm { match_expressions: vec![], match_fields: vec![term] }
        } else {
            NodeSelectorTerm { match_expressions: vec![term], match_fields: vec![] }
        }],
    }
}

fn build_pod(i: usize, s: &PodSpec) -> Pod {
    let mut requests = res(&[("cpu", CPUS[s.cpu]), ("memory", MEMORIES[s.memory])]);
    if s.gpus > 0 {
        requests.extended.insert(GPU.into(), s.gpus);
    }
    let ns = if s.batch { "batch" } else { "shop" };
    let mut p = Pod::new(ns, format!("p{i:02}")).with_container(requests).with_label("app", "web");
    p.creation_order = i as i64;
    p.priority = s.priority;
    p.features.volumes =
        VOLUMES.iter().enumerate().filter(|(b, _)| s.volumes & (1 << b) != 0).map(|(_, v)| v.to_string()).collect();
    let n = s.needs;
    (
        p.features.privileged,
        p.features.host_network,
        p.features.ipv6_only,
        p.features.startup_probe,
        p.features.lifecycle_hooks,
        p.features.windows,
    ) = (n[0], n[1], n[3], n[4], n[5], n[6]);
    if n[2] {
        p.owner_kind = Some("DaemonSet".into());
    }
    p.tolerations = match s.tolerations {
        1 => vec![Toleration::exists("virtual-kubelet.io/provider", None)],
        2 => vec![Toleration::equal("eks.amazonaws.com/compute-type", "fargate", Some(TaintEffect::NoSchedule))],
        3 => vec![Toleration::exists("", None)],
        4 => vec![Toleration::equal("dedicated", "infra", None)],
        _ => vec![],
    };
    let req = |key: &str, operator, values: &[&str]| NodeSelectorRequirement {
        key: key.into(),
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    match s.selector {
        1 => p = p.with_node_selector("type", "virtual-kubelet"),
        2 => p = p.with_node_selector("topology.kubernetes.io/zone", "z0"),
        3 => p = p.with_node_selector("agentpool", "p0"),
        4 => p.node_affinity.required = Some(affinity(req("metadata.name", NodeSelectorOperator::In, &["t0"]))),
        5 => {
            p.node_affinity.required = Some(affinity(req("type", NodeSelectorOperator::NotIn, &["virtual-kubelet"])));
        }
        _ => {}
    }
    if s.anti_affinity {
        p.pod_anti_affinity.required.push(PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: [("app".to_string(), "web".to_string())].into(),
                ..LabelSelector::default()
            }),
            topology_key: "kubernetes.io/hostname".into(),
            ..PodAffinityTerm::default()
        });
    }
    p.max_wait_seconds = s.max_wait;
    p.expected_lifetime_seconds = s.lifetime;
    p.node_name = s.bound.map(|vm| if vm { "vm-0".to_string() } else { "t0".to_string() });
    p
}

#[derive(Debug, Clone)]
struct World {
    snapshot: Snapshot,
    pending: Vec<Pod>,
    policy: Policy,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(node(), 0..4),
        prop::collection::vec(target_spec(), 1..4),
        prop::collection::vec(pool(), 0..4),
        prop::collection::vec(pod_spec(), 0..31),
        (
            prop::sample::select(MODES.to_vec()),
            prop::option::weighted(0.5, prop::sample::select(MODES.to_vec())),
            prop::option::weighted(0.5, 0..1_000_000i64),
            prop::sample::select(vec![0i64, 300, 600]),
        ),
    )
        .prop_map(|(nodes, targets, pools, pods, (default_mode, batch_mode, cap, max_wait))| {
            let nodes: Vec<Node> = nodes.into_iter().enumerate().map(|(i, n)| build_node(i, n)).collect();
            let mut running = Vec::new();
            for (i, spec) in targets.iter().enumerate() {
                for (j, &(cpu, memory)) in spec.running.iter().enumerate() {
                    let requests = res(&[("cpu", CPUS[cpu]), ("memory", MEMORIES[memory])]);
                    running.push(
                        Pod::new("shop", format!("running-{i}-{j}")).with_container(requests).on_node(format!("t{i}")),
                    );
                }
            }
            let targets: Vec<BurstTarget> = targets.iter().enumerate().map(|(i, s)| build_target(i, s)).collect();
            let pools: Vec<NodePool> = pools.into_iter().enumerate().map(|(i, p)| build_pool(i, p)).collect();
            let snapshot = Snapshot::with_burst(nodes, targets, running).unwrap().with_node_pools(pools).unwrap();
            let pending = pods.iter().enumerate().map(|(i, s)| build_pod(i, s)).collect();
            let mut policy = Policy::default();
            policy.burst.default_mode = default_mode;
            policy.burst.spend_cap_per_hour = cap.map(Money::from_micros);
            policy.burst.default_max_wait_seconds = max_wait;
            if let Some(mode) = batch_mode {
                policy.burst.rules.push(BurstRule {
                    namespaces: vec!["batch".into()],
                    mode,
                    max_wait_seconds: Some(900),
                    ..BurstRule::default()
                });
            }
            World { snapshot, pending, policy }
        })
}

// ---------------------------------------------------------------------------------------------
// The oracle: what a target or pool can take, computed from the model alone
// ---------------------------------------------------------------------------------------------

/// The size `pod` runs at on `target`: its requests rounded by the size model, or the target's
/// default size when it requests no cpu and no memory.
fn oracle_size(target: &BurstTarget, pod: &Pod) -> Option<InstanceSize> {
    let r = pod.requests();
    if r.cpu_millis == 0 && r.memory == 0 {
        Some(target.default_size)
    } else {
        target.sizing.size_for(r.cpu_millis, r.memory)
    }
}

fn oracle_cost(target: &BurstTarget, pod: &Pod, size: InstanceSize) -> Money {
    let gpus: BTreeMap<String, i64> =
        pod.requests().extended.into_iter().filter(|(k, n)| target.limits.gpus.contains_key(k) && *n > 0).collect();
    let mut pricing = target.pricing.clone();
    if !target.spot {
        pricing.spot_discount_percent = 0;
    }
    pricing.hourly(size, &gpus, pod.features.windows)
}

fn filtering(t: &Taint) -> bool {
    matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
}

fn selected(pod: &Pod, name: &str, labels: &BTreeMap<String, String>) -> bool {
    pod.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        && pod.node_affinity.required.as_ref().is_none_or(|r| r.matches(name, labels))
}

/// Why `target` can never run `pod` (quotas and spend aside), or `None` when it can.
fn incompatible(target: &BurstTarget, pod: &Pod) -> Option<String> {
    let f = &pod.features;
    let o = &target.features;
    let checks = [
        (target.taints.iter().filter(|t| filtering(t)).any(|t| !pod.tolerates(t)), "taint"),
        (!selected(pod, &target.name, &target.labels), "selector"),
        (f.volumes.iter().any(|v| !o.volumes.contains(v)), "volume"),
        (f.privileged && !o.privileged, "privileged"),
        (f.host_network && !o.host_network, "hostNetwork"),
        (pod.owner_kind.as_deref() == Some("DaemonSet") && !o.daemon_sets, "DaemonSet"),
        (f.ipv6_only && !o.ipv6, "IPv6"),
        (f.startup_probe && !o.startup_probes, "startup probe"),
        (f.lifecycle_hooks && !o.lifecycle_hooks, "lifecycle hooks"),
        (f.windows && !o.windows, "Windows"),
        (!pod.pod_affinity.required.is_empty() || !pod.pod_anti_affinity.required.is_empty(), "pod rules"),
        (pod.node_name.as_ref().is_some_and(|n| *n != target.name), "nodeName"),
    ];
    if let Some((_, why)) = checks.iter().find(|(bad, _)| *bad) {
        return Some(why.to_string());
    }
    for (name, count) in &pod.requests().extended {
        if target.limits.gpus.get(name).is_none_or(|max| count > max) {
            return Some(format!("{name} ×{count}"));
        }
    }
    match oracle_size(target, pod) {
        None => Some("no size".into()),
        Some(s) if s.cpu_millis > target.limits.max_cpu_millis || s.memory_bytes > target.limits.max_memory_bytes => {
            Some(format!("{s:?} above the instance limits"))
        }
        Some(_) => None,
    }
}

/// Whether an empty new node of `pool` could take `pod`.
fn pool_takes(pool: &NodePool, pod: &Pod) -> bool {
    pool.taints.iter().filter(|t| filtering(t)).all(|t| pod.tolerates(t))
        && selected(pod, "", &pool.labels)
        && pod.node_name.is_none()
        && fits(&pod.requests(), &pool.allocatable)
}

/// The pod's share of a new node's hourly price: the larger of its cpu and memory fractions.
fn share(pool: &NodePool, pod: &Pod) -> Money {
    let req = pod.requests();
    let fraction = |used: i64, cap: i64| if cap > 0 { (used as f64 / cap as f64).min(1.0) } else { 0.0 };
    let f = fraction(req.cpu_millis, pool.allocatable.cpu_millis).max(fraction(req.memory, pool.allocatable.memory));
    Money::from_micros((pool.hourly_cost.micros() as f64 * f).ceil() as i64)
}

/// Whether the pool's new node comes within the pod's tolerated wait and before its expected end.
fn timely(pool: &NodePool, policy: &Policy, pod: &Pod) -> bool {
    let terms = policy.burst.terms_for(pod);
    pool.provisioning_seconds <= terms.max_wait_seconds && pool.provisioning_seconds < terms.expected_lifetime_seconds
}

fn fits(req: &Resources, free: &Resources) -> bool {
    free.pods >= 1 && req.iter().all(|(name, amount)| name == ResourceName::Pods || amount <= free.get(&name))
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn check(w: &World) -> Result<(), TestCaseError> {
    let engine = Engine::new(w.policy.clone()).unwrap();
    let plan = engine.place_with(&w.snapshot, &w.pending, PlaceOptions { explain: true });
    let quiet = engine.place(&w.snapshot, &w.pending);

    // 6. Determinism, explanations change nothing, JSON round trip.
    prop_assert_eq!(&quiet, &engine.place(&w.snapshot, &w.pending));
    let outcomes = |p: &Plan| p.decisions.iter().map(|d| (d.pod.clone(), d.outcome.clone())).collect::<Vec<_>>();
    prop_assert_eq!(outcomes(&plan), outcomes(&quiet));
    prop_assert_eq!(&plan.summary, &quiet.summary);
    let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    prop_assert_eq!(&back, &plan);
    prop_assert_eq!(plan.decisions.len(), w.pending.len());

    let pods: BTreeMap<String, &Pod> = w.pending.iter().map(|p| (p.key(), p)).collect();
    let targets = w.snapshot.burst_targets();
    let pools = w.snapshot.node_pools();

    // Running use per target, from the model.
    let mut cpu = vec![0i64; targets.len()];
    let mut instances = vec![0i64; targets.len()];
    let mut creates = vec![0i64; targets.len()];
    let mut spend = 0i64;
    for (pod, target) in w.snapshot.burst_pods() {
        let i = targets.iter().position(|t| t.name == target.name).unwrap();
        let size = oracle_size(target, pod).unwrap();
        cpu[i] += size.cpu_millis;
        instances[i] += 1;
        spend += oracle_cost(target, pod, size).micros();
    }
    let (running_cpu, running_instances, running_spend) = (cpu.clone(), instances.clone(), spend);
    let mut planned_spend = 0i64;
    // Free room of the nodes each pool adds, first fit, in placement order.
    let mut planned: Vec<Vec<Resources>> = vec![Vec::new(); pools.len()];

    for d in &plan.decisions {
        let pod = pods[&d.pod];
        let mode = w.policy.burst.terms_for(pod).mode;
        let vm_fits = d.explanation.as_ref().unwrap().nodes.values().any(|v| v.feasible);
        match &d.outcome {
            Outcome::Burst { target, instance, cost_per_hour, start_seconds } => {
                // 3, 4.
                prop_assert!(mode != BurstMode::Never, "{}: a Never pod burst", d.pod);
                if matches!(mode, BurstMode::Overflow | BurstMode::CostAware) {
                    prop_assert!(!vm_fits, "{}: {:?} burst while a VM node fit", d.pod, mode);
                }
                // 5.
                let i = targets.iter().position(|t| t.name == *target).unwrap();
                let t = &targets[i];
                prop_assert_eq!(incompatible(t, pod), None, "{} burst to {}", d.pod, target);
                let size = oracle_size(t, pod).unwrap();
                prop_assert_eq!(*instance, size, "{}", d.pod);
                prop_assert_eq!(*cost_per_hour, oracle_cost(t, pod, size), "{}", d.pod);
                prop_assert_eq!(*start_seconds, t.start_latency_seconds);
                // No feasible target is cheaper.
                let verdicts = d.targets.as_ref().unwrap();
                for (name, v) in verdicts {
                    if v.feasible {
                        prop_assert!(v.cost_per_hour.unwrap() >= *cost_per_hour, "{}: {} is cheaper", d.pod, name);
                    }
                }
                // CostAware: no pool whose node comes in time had a cheaper share.
                if mode == BurstMode::CostAware {
                    for (name, v) in d.pools.iter().flatten() {
                        let p = pools.iter().find(|p| p.name == *name).unwrap();
                        if v.feasible && timely(p, &w.policy, pod) {
                            prop_assert!(share(p, pod) >= *cost_per_hour, "{}: {} was cheaper", d.pod, name);
                        }
                    }
                }
                cpu[i] += instance.cpu_millis;
                instances[i] += 1;
                creates[i] += 1;
                planned_spend += cost_per_hour.micros();
                // 1.
                if let Some(max) = t.quota.max_cpu_millis {
                    prop_assert!(cpu[i] <= max, "{}: cores {} > {}", target, cpu[i], max);
                }
                if let Some(max) = t.quota.max_instances {
                    prop_assert!(instances[i] <= max, "{}: instances {} > {}", target, instances[i], max);
                }
                if let Some(max) = t.quota.max_creates_per_window {
                    prop_assert!(creates[i] <= max, "{}: creates {} > {}", target, creates[i], max);
                }
                // 2.
                if let Some(cap) = w.policy.burst.spend_cap_per_hour {
                    prop_assert!(
                        spend + planned_spend <= cap.micros(),
                        "spend {} > cap {}",
                        spend + planned_spend,
                        cap
                    );
                }
            }
            Outcome::Node { .. } => {
                prop_assert!(vm_fits);
                if mode == BurstMode::Prefer {
                    let verdicts = d.targets.as_ref().unwrap();
                    prop_assert!(verdicts.values().all(|v| !v.feasible), "{}: Prefer took a VM node", d.pod);
                }
            }
            Outcome::Wait { pool: Some(name), target: None, expected_seconds, .. } => {
                prop_assert!(!vm_fits, "{}: waits while a VM node fits", d.pod);
                let i = pools.iter().position(|p| p.name == *name).unwrap();
                let p = &pools[i];
                prop_assert!(pool_takes(p, pod), "{}: waits for {}, which cannot take it", d.pod, name);
                prop_assert_eq!(*expected_seconds, p.provisioning_seconds);
                let req = pod.requests();
                match planned[i].iter_mut().find(|free| fits(&req, free)) {
                    Some(free) => take(free, &req),
                    None => {
                        let mut free = p.allocatable.clone();
                        take(&mut free, &req);
                        planned[i].push(free);
                    }
                }
                prop_assert!(
                    p.current_nodes + planned[i].len() as i64 <= p.max_nodes,
                    "{}: more than {} nodes",
                    name,
                    p.max_nodes
                );
                let cheapest =
                    d.targets.as_ref().unwrap().values().filter(|v| v.feasible).map(|v| v.cost_per_hour).min();
                if let Some(burst_cost) = cheapest {
                    // Waiting although a target could take the pod: only CostAware does that, for
                    // a pool whose node comes in time at a cheaper share.
                    prop_assert_eq!(mode, BurstMode::CostAware, "{}", d.pod);
                    prop_assert!(timely(p, &w.policy, pod), "{}: {} is too slow", d.pod, name);
                    prop_assert!(share(p, pod) < burst_cost.unwrap(), "{}: {} is dearer", d.pod, name);
                }
            }
            Outcome::Wait { pool: None, target: Some(name), expected_seconds, .. } => {
                prop_assert!(!vm_fits && mode != BurstMode::Never);
                let i = targets.iter().position(|t| t.name == *name).unwrap();
                let max = targets[i].quota.max_creates_per_window;
                prop_assert!(max.is_some_and(|m| creates[i] >= m), "{}: waits for {} without a limit", d.pod, name);
                prop_assert_eq!(*expected_seconds, 300);
                prop_assert_eq!(incompatible(&targets[i], pod), None);
            }
            Outcome::Unschedulable(diagnosis) => {
                prop_assert!(!vm_fits);
                if mode != BurstMode::Never {
                    prop_assert!(d.targets.as_ref().unwrap().values().all(|v| !v.feasible), "{}", diagnosis.message);
                }
                prop_assert!(d.pools.as_ref().is_none_or(|p| p.values().all(|v| !v.feasible)), "{}", diagnosis.message);
            }
            other => prop_assert!(false, "{}: unexpected outcome {:?}", d.pod, other),
        }
    }

    // 1, 2: the totals, and the summary adds them up.
    for (i, t) in targets.iter().enumerate() {
        if creates[i] > 0 {
            prop_assert!(t.quota.max_cpu_millis.is_none_or(|m| cpu[i] <= m));
            prop_assert!(t.quota.max_instances.is_none_or(|m| instances[i] <= m));
        } else {
            prop_assert_eq!((cpu[i], instances[i]), (running_cpu[i], running_instances[i]));
        }
    }
    prop_assert_eq!(plan.summary.burst_cost_per_hour, Money::from_micros(planned_spend));
    prop_assert_eq!(plan.summary.total_burst_cost_per_hour, Money::from_micros(running_spend + planned_spend));
    let count = |f: fn(&Outcome) -> bool| plan.decisions.iter().filter(|d| f(&d.outcome)).count();
    prop_assert_eq!(plan.summary.bursts, count(|o| matches!(o, Outcome::Burst { .. })));
    prop_assert_eq!(plan.summary.nodes, count(|o| matches!(o, Outcome::Node { .. })));
    prop_assert_eq!(plan.summary.waits, count(|o| matches!(o, Outcome::Wait { .. })));
    prop_assert_eq!(plan.summary.unschedulable, count(|o| matches!(o, Outcome::Unschedulable(_))));
    Ok(())
}

fn take(free: &mut Resources, req: &Resources) {
    for (name, amount) in req.iter() {
        if name != ResourceName::Pods {
            let left = free.get(&name) - amount;
            free.set(&name, left);
        }
    }
    free.pods -= 1;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn burst_decisions_respect_quotas_caps_modes_and_compatibility(w in world()) {
        check(&w)?;
    }
}

/// The generators reach every outcome, so the properties are not vacuous.
#[test]
fn the_generators_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut nodes, mut bursts, mut pool_waits, mut rate_waits, mut unschedulable) = (0, 0, 0, 0, 0);
    for _ in 0..100 {
        let w = world().new_tree(&mut runner).unwrap().current();
        let plan = Engine::new(w.policy.clone()).unwrap().place(&w.snapshot, &w.pending);
        for d in &plan.decisions {
            match &d.outcome {
                Outcome::Node { .. } => nodes += 1,
                Outcome::Burst { .. } => bursts += 1,
                Outcome::Wait { pool: Some(_), .. } => pool_waits += 1,
                Outcome::Wait { target: Some(_), .. } => rate_waits += 1,
                Outcome::Unschedulable(_) => unschedulable += 1,
                _ => {}
            }
        }
    }
    let counts = [nodes, bursts, pool_waits, rate_waits, unschedulable];
    assert!(counts.iter().all(|&c| c >= 5), "nodes, bursts, pool waits, rate waits, unschedulable: {counts:?}");
}
