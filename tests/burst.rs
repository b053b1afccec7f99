//! Burst targets, node pools and the burst policy through the engine's public API: sizing and
//! pricing of burst decisions, every compatibility reason, quota and spend accounting, each burst
//! mode, node pools, target choice, the plan summary and JSON, scenario documents and
//! co-scheduled groups.

use std::collections::BTreeMap;

use serde_json::json;
use spillway::engine::{PoolVerdict, Summary, TargetVerdict};
use spillway::model::{
    BurstMode, BurstRule, BurstTarget, InstanceSize, LabelSelector, NodePool, NodeSelectorOperator,
    NodeSelectorRequirement, POD_GROUP_LABEL, PodAffinityTerm, PodGroup, TopologySpreadConstraint, WhenUnsatisfiable,
};
use spillway::scenario::Scenario;
use spillway::{
    Diagnosis, Engine, Money, Node, NodeSelector, NodeSelectorTerm, Outcome, PlaceOptions, Plan, Pod, Policy,
    Resources, Snapshot, Taint, TaintEffect, Toleration,
};

const GB: i64 = 1_000_000_000;
const GIB: i64 = 1 << 30;
const VK: &str = "virtual-kubelet.io/provider";

fn res(pairs: &[(&str, &str)]) -> Resources {
    Resources::parse(pairs.iter().copied()).expect("valid test quantities")
}

fn money(text: &str) -> Money {
    text.parse().expect("valid test amount")
}

fn vm(name: &str, cpu: &str, memory: &str) -> Node {
    Node::new(name).with_label("kubernetes.io/hostname", name).with_allocatable(res(&[
        ("cpu", cpu),
        ("memory", memory),
        ("pods", "110"),
    ]))
}

/// A cordoned VM node: it takes no pod, and its diagnosis is always "node(s) were unschedulable".
fn cordoned() -> Node {
    vm("vm-1", "64", "256Gi").cordoned()
}

/// A pending pod `shop/<name>` requesting `cpu` and `memory` (empty: not requested) that
/// tolerates the virtual-kubelet taint.
fn pod(name: &str, cpu: &str, memory: &str) -> Pod {
    bare(name, cpu, memory).with_toleration(Toleration::exists(VK, None))
}

/// Like [`pod`], without any toleration.
fn bare(name: &str, cpu: &str, memory: &str) -> Pod {
    let pairs: Vec<(&str, &str)> =
        [("cpu", cpu), ("memory", memory)].into_iter().filter(|(_, v)| !v.is_empty()).collect();
    Pod::new("shop", name).with_container(res(&pairs))
}

fn aci() -> BurstTarget {
    BurstTarget::aci_like("aci", "eastus")
}

fn pool(name: &str, cpu: &str, memory: &str, cost: &str, seconds: i64, max_nodes: i64) -> NodePool {
    NodePool {
        name: name.into(),
        allocatable: res(&[("cpu", cpu), ("memory", memory), ("pods", "110")]),
        labels: [("agentpool".to_string(), name.to_string())].into(),
        taints: vec![],
        hourly_cost: money(cost),
        provisioning_seconds: seconds,
        max_nodes,
        current_nodes: 0,
    }
}

/// A cluster with burst targets and pools, and the policy to place pods with.
#[derive(Clone, Default)]
struct Case {
    nodes: Vec<Node>,
    targets: Vec<BurstTarget>,
    pools: Vec<NodePool>,
    running: Vec<Pod>,
    groups: Vec<PodGroup>,
    policy: Policy,
}

impl Case {
    /// One cordoned VM node and the ACI-like target `aci`.
    fn aci() -> Case {
        Case::default().node(cordoned()).target(aci())
    }
    fn node(mut self, n: Node) -> Case {
        self.nodes.push(n);
        self
    }
    fn target(mut self, t: BurstTarget) -> Case {
        self.targets.push(t);
        self
    }
    fn pool(mut self, p: NodePool) -> Case {
        self.pools.push(p);
        self
    }
    fn running(mut self, p: Pod) -> Case {
        self.running.push(p);
        self
    }
    fn group(mut self, g: PodGroup) -> Case {
        self.groups.push(g);
        self
    }
    fn mode(mut self, mode: BurstMode) -> Case {
        self.policy.burst.default_mode = mode;
        self
    }
    fn cap(mut self, cap: &str) -> Case {
        self.policy.burst.spend_cap_per_hour = Some(money(cap));
        self
    }
    fn snapshot(&self) -> Snapshot {
        Snapshot::with_burst(self.nodes.clone(), self.targets.clone(), self.running.clone())
            .unwrap()
            .with_node_pools(self.pools.clone())
            .unwrap()
            .with_groups(self.groups.clone())
    }
    fn plan_with(&self, pending: &[Pod], explain: bool) -> Plan {
        let plan =
            Engine::new(self.policy.clone()).unwrap().place_with(&self.snapshot(), pending, PlaceOptions { explain });
        assert_eq!(plan.decisions.len(), pending.len());
        plan
    }
    fn plan(&self, pending: &[Pod]) -> Plan {
        let plan = self.plan_with(pending, false);
        // Explanations never change a decision.
        let explained = self.plan_with(pending, true);
        let outcomes = |p: &Plan| p.decisions.iter().map(|d| (d.pod.clone(), d.outcome.clone())).collect::<Vec<_>>();
        assert_eq!(outcomes(&plan), outcomes(&explained));
        assert_eq!(plan.summary, explained.summary);
        plan
    }
    fn explain(&self, pending: &[Pod]) -> Plan {
        self.plan_with(pending, true)
    }
}

/// The burst of `pod`: target, instance size, hourly cost.
fn burst<'a>(plan: &'a Plan, pod: &str) -> (&'a str, InstanceSize, Money) {
    match &plan.decision(pod).unwrap_or_else(|| panic!("no decision for {pod}")).outcome {
        Outcome::Burst { target, instance, cost_per_hour, .. } => (target, *instance, *cost_per_hour),
        other => panic!("{pod}: expected a burst, got {other:?}"),
    }
}

/// The wait of `pod`: pool, target, expected seconds, reason.
fn wait<'a>(plan: &'a Plan, pod: &str) -> (Option<&'a str>, Option<&'a str>, i64, &'a str) {
    match &plan.decision(pod).unwrap_or_else(|| panic!("no decision for {pod}")).outcome {
        Outcome::Wait { pool, target, expected_seconds, reason } => {
            (pool.as_deref(), target.as_deref(), *expected_seconds, reason)
        }
        other => panic!("{pod}: expected a wait, got {other:?}"),
    }
}

fn unschedulable<'a>(plan: &'a Plan, pod: &str) -> &'a Diagnosis {
    match &plan.decision(pod).unwrap_or_else(|| panic!("no decision for {pod}")).outcome {
        Outcome::Unschedulable(d) => d,
        other => panic!("{pod}: expected unschedulable, got {other:?}"),
    }
}

fn node_of<'a>(plan: &'a Plan, pod: &str) -> &'a str {
    plan.decision(pod).and_then(|d| d.node()).unwrap_or_else(|| panic!("{pod}: expected a VM node, got {plan:?}"))
}

fn target_verdicts<'a>(plan: &'a Plan, pod: &str) -> &'a BTreeMap<String, TargetVerdict> {
    plan.decision(pod).unwrap().targets.as_ref().expect("explained targets")
}

fn pool_verdicts<'a>(plan: &'a Plan, pod: &str) -> &'a BTreeMap<String, PoolVerdict> {
    plan.decision(pod).unwrap().pools.as_ref().expect("explained pools")
}

// ---------------------------------------------------------------------------------------------
// Sizing and pricing
// ---------------------------------------------------------------------------------------------

#[test]
fn aci_rounds_requests_up_and_bills_the_rounded_size() {
    // (cpu, memory) → (size, micro-units per hour) at 0.0405 per vCPU-hour and 0.00445 per GB-hour.
    let rows: &[(&str, &str, InstanceSize, i64)] = &[
        ("250m", "1Gi", InstanceSize::new(250, 1_100_000_000), 15_020),
        ("1001m", "1000000001", InstanceSize::new(1010, 1_100_000_000), 45_800),
        ("500m", "1Gi", InstanceSize::new(500, 1_100_000_000), 25_145),
        ("1", "2Gi", InstanceSize::new(1000, 2_200_000_000), 50_290),
        // Exactly on the steps: no rounding.
        ("4", "16G", InstanceSize::new(4000, 16 * GB), 233_200),
        // Memory unrequested: the 0.1 GB minimum; CPU unrequested: the 10m minimum.
        ("500m", "", InstanceSize::new(500, GB / 10), 20_695),
        ("", "100M", InstanceSize::new(10, GB / 10), 850),
        ("1m", "1", InstanceSize::new(10, GB / 10), 850),
    ];
    let case = Case::aci();
    for (i, &(cpu, memory, size, micros)) in rows.iter().enumerate() {
        let plan = case.plan(&[pod("p", cpu, memory)]);
        assert_eq!(burst(&plan, "shop/p"), ("aci", size, Money::from_micros(micros)), "row {i}: {cpu} / {memory}");
        let Outcome::Burst { start_seconds, .. } = plan.decisions[0].outcome else { unreachable!() };
        assert_eq!(start_seconds, 40, "the target's start latency");
    }
}

#[test]
fn a_pod_without_requests_gets_the_default_size() {
    let plan = Case::aci().plan(&[pod("p", "", "")]);
    // azure-aci's default: 1 vCPU / 1.5 GB = 0.0405 + 1.5 × 0.00445.
    assert_eq!(burst(&plan, "shop/p"), ("aci", InstanceSize::new(1000, 1_500_000_000), Money::from_micros(47_175)));

    // The pod overhead counts as a request: this pod is not request-less.
    let with_overhead = Pod { overhead: res(&[("cpu", "250m")]), ..pod("o", "", "") };
    let plan = Case::aci().plan(&[with_overhead]);
    assert_eq!(burst(&plan, "shop/o").1, InstanceSize::new(250, GB / 10));
}

/// The same engine with a Fargate-like target: the 256 MiB overhead and the tier table, EKS's
/// taint and labels, AWS's prices. Nothing in the engine is ACI-specific.
#[test]
fn a_fargate_like_target_sizes_by_its_tier_table() {
    let fargate = BurstTarget::fargate_like("fargate", "us-east-1");
    let case = Case::default().node(cordoned()).target(fargate);
    let tolerate = |p: Pod| p.with_toleration(Toleration::exists("eks.amazonaws.com/compute-type", None));
    let rows: &[(&str, &str, InstanceSize, i64)] = &[
        // 1 vCPU / 8 GiB + 256 MiB needs the 2 vCPU tier with 9 GiB.
        ("1", "8Gi", InstanceSize::new(2000, 9 * GIB), 123_916),
        // 1 GiB + 256 MiB does not fit 1 GiB: 2 GiB at 0.25 vCPU.
        ("250m", "1Gi", InstanceSize::new(250, 2 * GIB), 19_666),
        // 256 MiB overhead on 256 MiB: the smallest size.
        ("100m", "256Mi", InstanceSize::new(250, GIB / 2), 12_507),
        ("300m", "256Mi", InstanceSize::new(500, GIB), 0),
    ];
    for (i, &(cpu, memory, size, micros)) in rows.iter().enumerate() {
        let plan = case.plan(&[tolerate(bare("p", cpu, memory))]);
        let (target, got, cost) = burst(&plan, "shop/p");
        assert_eq!((target, got), ("fargate", size), "row {i}: {cpu} / {memory}");
        if micros > 0 {
            assert_eq!(cost, Money::from_micros(micros), "row {i}");
        }
        // The cost is the price model's, for the rounded size.
        let pricing = &case.targets[0].pricing;
        assert_eq!(cost, pricing.hourly(size, &BTreeMap::new(), false), "row {i}");
    }
    // Fargate's own default for a pod without requests: 0.25 vCPU / 0.5 GiB.
    let plan = case.plan(&[tolerate(bare("p", "", ""))]);
    assert_eq!(burst(&plan, "shop/p"), ("fargate", InstanceSize::new(250, GIB / 2), Money::from_micros(12_507)));

    // The ACI-tolerating pod does not tolerate EKS's taint.
    let plan = case.plan(&[pod("aci-only", "1", "1Gi")]);
    assert_eq!(
        unschedulable(&plan, "shop/aci-only").message,
        "0/1 nodes are available: 1 node(s) were unschedulable. 0/1 burst targets are available: \
         1 burst target(s) had untolerated taint {eks.amazonaws.com/compute-type: fargate}."
    );
    // Beyond the largest combination.
    let plan = case.plan(&[tolerate(bare("huge", "16", "120Gi"))]);
    assert!(
        unschedulable(&plan, "shop/huge")
            .message
            .ends_with("1 Insufficient burst instance size: no allowed size covers the requests."),
        "{plan:?}"
    );
}

#[test]
fn spot_targets_get_their_discount_and_others_do_not() {
    let mut spot = aci();
    spot.spot = true;
    spot.pricing.spot_discount_percent = 70;
    let plan = Case::default().node(cordoned()).target(spot.clone()).plan(&[pod("p", "4", "16G")]);
    // 0.2332 × 30 %
    assert_eq!(burst(&plan, "shop/p").2, Money::from_micros(69_960));

    // A discount on a target that does not run spot instances is not applied.
    spot.spot = false;
    let plan = Case::default().node(cordoned()).target(spot).plan(&[pod("p", "4", "16G")]);
    assert_eq!(burst(&plan, "shop/p").2, Money::from_micros(233_200));
}

#[test]
fn windows_pods_pay_the_surcharge_on_a_target_that_runs_them() {
    let mut target = aci();
    target.features.windows = true;
    let mut win = pod("win", "1", "1G");
    win.features.windows = true;
    let plan = Case::default().node(cordoned()).target(target).plan(&[win, pod("linux", "1", "1G")]);
    // (0.0405 + 0.0432) per vCPU-hour + 1 GB × 0.00445
    assert_eq!(burst(&plan, "shop/win"), ("aci", InstanceSize::new(1000, GB), Money::from_micros(88_150)));
    assert_eq!(burst(&plan, "shop/linux").2, Money::from_micros(44_950));
}

#[test]
fn gpus_are_priced_on_a_target_that_offers_them() {
    let mut gpu = BurstTarget::aci_like("gpu", "eastus");
    gpu.limits.gpus.insert("nvidia.com/gpu".into(), 4);
    gpu.pricing.per_gpu_hour.insert("nvidia.com/gpu".into(), money("0.9"));
    let case = Case::default().node(cordoned()).target(gpu).target(aci());
    let mut p = pod("train", "1", "1G");
    p.containers[0].requests.extended.insert("nvidia.com/gpu".into(), 2);
    let plan = case.explain(&[p]);
    // 2 × 0.9 + 0.0405 + 0.00445; the GPU-less target cannot take it.
    assert_eq!(burst(&plan, "shop/train"), ("gpu", InstanceSize::new(1000, GB), Money::from_micros(1_844_950)));
    assert_eq!(target_verdicts(&plan, "shop/train")["aci"].reasons, ["burst target(s) don't offer nvidia.com/gpu"]);
}

// ---------------------------------------------------------------------------------------------
// Compatibility reasons
// ---------------------------------------------------------------------------------------------

struct Row {
    name: &'static str,
    pod: fn(Pod) -> Pod,
    target: fn(BurstTarget) -> BurstTarget,
    policy: fn(&mut Policy),
    /// Expected reasons, sorted.
    reasons: &'static [&'static str],
}

fn with_volume(kind: &'static str) -> impl Fn(Pod) -> Pod {
    move |mut p| {
        p.features.volumes.push(kind.into());
        p
    }
}

fn term(key: &str, operator: NodeSelectorOperator, values: &[&str]) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: vec![NodeSelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }],
        match_fields: vec![],
    }
}

fn pod_term(app: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: [("app".to_string(), app.to_string())].into(),
            ..LabelSelector::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..PodAffinityTerm::default()
    }
}

fn keep<T>(t: T) -> T {
    t
}

fn no_policy(_: &mut Policy) {}

fn rows() -> Vec<Row> {
    fn gpu(p: Pod) -> Pod {
        let mut p = p;
        p.containers[0].requests.extended.insert("nvidia.com/gpu".into(), 2);
        p
    }
    vec![
        Row {
            name: "hostPath",
            pod: |p| with_volume("hostPath")(p),
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support hostPath volumes"],
        },
        Row {
            name: "persistentVolumeClaim",
            pod: |p| with_volume("persistentVolumeClaim")(p),
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support persistentVolumeClaim volumes"],
        },
        Row {
            name: "nfs",
            pod: |p| with_volume("nfs")(p),
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support nfs volumes"],
        },
        Row {
            name: "a CSI driver the target lacks",
            pod: |p| with_volume("csi:disk.csi.azure.com")(p),
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support csi:disk.csi.azure.com volumes"],
        },
        Row {
            name: "privileged",
            pod: |mut p| {
                p.features.privileged = true;
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support privileged containers"],
        },
        Row {
            name: "hostNetwork",
            pod: |mut p| {
                p.features.host_network = true;
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support host networking"],
        },
        Row {
            name: "DaemonSet-owned",
            pod: |mut p| {
                p.owner_kind = Some("DaemonSet".into());
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't run DaemonSet pods"],
        },
        Row {
            name: "IPv6-only",
            pod: |mut p| {
                p.features.ipv6_only = true;
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support IPv6"],
        },
        Row {
            name: "startup probe",
            pod: |mut p| {
                p.features.startup_probe = true;
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support startup probes"],
        },
        Row {
            name: "lifecycle hooks",
            pod: |mut p| {
                p.features.lifecycle_hooks = true;
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't support lifecycle hooks"],
        },
        Row {
            name: "Windows",
            pod: |mut p| {
                p.features.windows = true;
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't run Windows pods"],
        },
        Row {
            name: "GPU not offered",
            pod: gpu,
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) don't offer nvidia.com/gpu"],
        },
        Row {
            name: "more GPUs than one instance has",
            pod: gpu,
            target: |mut t| {
                t.limits.gpus.insert("nvidia.com/gpu".into(), 1);
                t
            },
            policy: no_policy,
            reasons: &["Insufficient burst instance size: nvidia.com/gpu"],
        },
        Row {
            name: "too much cpu for one instance",
            pod: |p| Pod { containers: vec![spillway::Container::new("c", res(&[("cpu", "4001m")]))], ..p },
            target: keep,
            policy: no_policy,
            reasons: &["Insufficient burst instance size: cpu"],
        },
        Row {
            name: "too much memory for one instance",
            pod: |p| Pod { containers: vec![spillway::Container::new("c", res(&[("memory", "16000000001")]))], ..p },
            target: keep,
            policy: no_policy,
            reasons: &["Insufficient burst instance size: memory"],
        },
        Row {
            name: "quota cores",
            pod: keep,
            target: |mut t| {
                t.quota.max_cpu_millis = Some(400);
                t
            },
            policy: no_policy,
            reasons: &["Insufficient burst quota: cores"],
        },
        Row {
            name: "quota instances",
            pod: keep,
            target: |mut t| {
                t.quota.max_instances = Some(0);
                t
            },
            policy: no_policy,
            reasons: &["Insufficient burst quota: instances"],
        },
        Row {
            name: "spend cap",
            pod: keep,
            target: keep,
            // The pod costs 0.025145 per hour.
            policy: |p| p.burst.spend_cap_per_hour = Some(money("0.025144")),
            reasons: &["burst spend cap reached"],
        },
        Row {
            name: "untolerated virtual-kubelet taint",
            pod: |mut p| {
                p.tolerations.clear();
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) had untolerated taint {virtual-kubelet.io/provider: azure}"],
        },
        Row {
            name: "toleration of another effect",
            pod: |mut p| {
                p.tolerations = vec![Toleration::exists(VK, Some(TaintEffect::NoExecute))];
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) had untolerated taint {virtual-kubelet.io/provider: azure}"],
        },
        Row {
            name: "untolerated NoExecute taint",
            pod: keep,
            target: |mut t| {
                t.taints.push(Taint::new("maintenance", "true", TaintEffect::NoExecute));
                t
            },
            policy: no_policy,
            reasons: &["burst target(s) had untolerated taint {maintenance: true}"],
        },
        Row {
            name: "node selector",
            pod: |p| p.with_node_selector("agentpool", "nodepool1"),
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) didn't match Pod's node affinity/selector"],
        },
        Row {
            name: "node selector on a label value",
            pod: |p| p.with_node_selector("topology.kubernetes.io/region", "westeurope"),
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) didn't match Pod's node affinity/selector"],
        },
        Row {
            name: "required node affinity",
            pod: |mut p| {
                p.node_affinity.required = Some(NodeSelector {
                    node_selector_terms: vec![term("type", NodeSelectorOperator::NotIn, &["virtual-kubelet"])],
                });
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) didn't match Pod's node affinity/selector"],
        },
        Row {
            name: "required pod affinity",
            pod: |mut p| {
                p.pod_affinity.required.push(pod_term("db"));
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) can't honour required pod affinity, anti-affinity or topology spread"],
        },
        Row {
            name: "required pod anti-affinity",
            pod: |mut p| {
                p.pod_anti_affinity.required.push(pod_term("web"));
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) can't honour required pod affinity, anti-affinity or topology spread"],
        },
        Row {
            name: "DoNotSchedule topology spread",
            pod: |mut p| {
                p.topology_spread_constraints.push(TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: "topology.kubernetes.io/zone".into(),
                    when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
                    label_selector: Some(LabelSelector::default()),
                    min_domains: None,
                    node_affinity_policy: None,
                    node_taints_policy: None,
                    match_label_keys: vec![],
                });
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &["burst target(s) can't honour required pod affinity, anti-affinity or topology spread"],
        },
        Row {
            name: "several at once",
            pod: |mut p| {
                p.features.privileged = true;
                p.features.volumes = vec!["hostPath".into(), "emptyDir".into()];
                p.tolerations.clear();
                p
            },
            target: keep,
            policy: no_policy,
            reasons: &[
                "burst target(s) don't support hostPath volumes",
                "burst target(s) don't support privileged containers",
                "burst target(s) had untolerated taint {virtual-kubelet.io/provider: azure}",
            ],
        },
    ]
}

#[test]
fn every_compatibility_reason_reads_like_kube() {
    for row in rows() {
        let mut case = Case::default().node(cordoned()).target((row.target)(aci()));
        (row.policy)(&mut case.policy);
        let p = (row.pod)(pod("p", "500m", "1Gi"));
        let plan = case.plan(std::slice::from_ref(&p));
        let d = unschedulable(&plan, "shop/p");
        let items: Vec<String> = row.reasons.iter().map(|r| format!("1 {r}")).collect();
        assert_eq!(
            d.message,
            format!(
                "0/1 nodes are available: 1 node(s) were unschedulable. 0/1 burst targets are available: {}.",
                items.join(", ")
            ),
            "{}",
            row.name
        );
        let mut expected: BTreeMap<String, usize> = row.reasons.iter().map(|r| (r.to_string(), 1)).collect();
        expected.insert("node(s) were unschedulable".into(), 1);
        assert_eq!(d.reasons, expected, "{}", row.name);

        // The explanation lists the same reasons for the target (and no size when none covers).
        let plan = case.explain(&[p]);
        let verdict = &target_verdicts(&plan, "shop/p")["aci"];
        assert!(!verdict.feasible, "{}", row.name);
        let mut got = verdict.reasons.clone();
        got.sort();
        assert_eq!(got, row.reasons, "{}", row.name);

        // Without the obstacle, the same pod bursts: each row tests one thing only.
        let plain = Case::default().node(cordoned()).target(aci()).plan(&[pod("p", "500m", "1Gi")]);
        assert_eq!(burst(&plain, "shop/p").0, "aci");
    }
}

#[test]
fn each_target_counts_once_per_reason_in_the_diagnosis() {
    let mut b = BurstTarget::aci_like("aci-b", "westeurope");
    b.quota.max_instances = Some(0);
    let case = Case::aci().target(b).target(BurstTarget::fargate_like("fargate", "us-east-1"));
    let mut p = pod("p", "500m", "1Gi");
    p.features.volumes.push("hostPath".into());
    let plan = case.plan(&[p]);
    assert_eq!(
        unschedulable(&plan, "shop/p").message,
        "0/1 nodes are available: 1 node(s) were unschedulable. 0/3 burst targets are available: \
         1 Insufficient burst quota: instances, 1 burst target(s) had untolerated taint \
         {eks.amazonaws.com/compute-type: fargate}, 3 burst target(s) don't support hostPath volumes."
    );
}

#[test]
fn targets_honour_what_they_offer_and_prefer_no_schedule_taints_do_not_filter() {
    let mut open = aci();
    open.features.volumes.push("persistentVolumeClaim".into());
    open.features.privileged = true;
    open.features.host_network = true;
    open.features.daemon_sets = true;
    open.features.ipv6 = true;
    open.features.startup_probes = true;
    open.features.lifecycle_hooks = true;
    open.taints.push(Taint::new("spot", "true", TaintEffect::PreferNoSchedule));
    let mut p = pod("p", "500m", "1Gi");
    p.features.volumes = vec!["persistentVolumeClaim".into(), "azureFile".into()];
    p.features.privileged = true;
    p.features.host_network = true;
    p.features.ipv6_only = true;
    p.features.startup_probe = true;
    p.features.lifecycle_hooks = true;
    p.owner_kind = Some("DaemonSet".into());
    // Pinned by name (matchFields), selected by label.
    p.node_affinity.required = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: NodeSelectorOperator::In,
                values: vec!["aci".into()],
            }],
        }],
    });
    let p = p.with_node_selector("type", "virtual-kubelet");
    let plan = Case::default().node(cordoned()).target(open).plan(&[p]);
    assert_eq!(burst(&plan, "shop/p").0, "aci");
}

#[test]
fn the_creation_rate_limit_makes_later_pods_wait_or_go_elsewhere() {
    let mut limited = aci();
    limited.quota.max_creates_per_window = Some(2);
    limited.quota.create_window_seconds = Some(300);
    let pending: Vec<Pod> = (0..3).map(|i| pod(&format!("p{i}"), "500m", "1Gi")).collect();
    let plan = Case::default().node(cordoned()).target(limited.clone()).explain(&pending);
    assert_eq!(burst(&plan, "shop/p0").0, "aci");
    assert_eq!(burst(&plan, "shop/p1").0, "aci");
    assert_eq!(
        wait(&plan, "shop/p2"),
        (None, Some("aci"), 300, "burst target aci reached its creation rate limit (2 per 300 s)")
    );
    assert_eq!(target_verdicts(&plan, "shop/p2")["aci"].reasons, ["burst target(s) reached their creation rate limit"]);
    assert_eq!(plan.summary.waits, 1);
    assert_eq!(plan.summary.bursts, 2);
    // JSON: a wait on a target names the target, not a pool.
    assert_eq!(serde_json::to_value(plan.decision("shop/p2").unwrap()).unwrap()["target"], json!("aci"),);

    // Pods already running were created before the window this plan opens.
    let running = (0..5).map(|i| pod(&format!("r{i}"), "500m", "1Gi").on_node("aci"));
    let case = running.fold(Case::default().node(cordoned()).target(limited.clone()), Case::running);
    let plan = case.plan(&pending);
    assert_eq!(plan.summary.bursts, 2);

    // With a second target the third pod goes there instead of waiting.
    let mut other = BurstTarget::aci_like("aci-westus", "westus");
    other.pricing.per_vcpu_hour = money("0.05");
    let plan = Case::default().node(cordoned()).target(limited.clone()).target(other).plan(&pending);
    assert_eq!(burst(&plan, "shop/p2").0, "aci-westus");

    // A pod that the rate-limited target cannot take anyway does not wait for its window.
    let mut host = pod("host", "500m", "1Gi");
    host.features.volumes.push("hostPath".into());
    let mut pending2 = pending.clone();
    pending2.push(Pod { creation_order: 9, ..host });
    let plan = Case::default().node(cordoned()).target(limited).plan(&pending2);
    assert!(
        unschedulable(&plan, "shop/host").message.ends_with(
            "0/1 burst targets are available: 1 burst target(s) don't support hostPath volumes, \
             1 burst target(s) reached their creation rate limit."
        ),
        "{plan:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Quota and spend accounting
// ---------------------------------------------------------------------------------------------

#[test]
fn bursts_within_one_plan_accumulate_against_the_quota() {
    let mut small = aci();
    small.quota.max_cpu_millis = Some(1000);
    // 333m rounds up to 340m: the rounded size counts, so only two fit in one core.
    let pending: Vec<Pod> = (0..3).map(|i| pod(&format!("p{i}"), "333m", "100M")).collect();
    let plan = Case::default().node(cordoned()).target(small).plan(&pending);
    assert_eq!(burst(&plan, "shop/p0").1, InstanceSize::new(340, GB / 10));
    assert_eq!(burst(&plan, "shop/p1").0, "aci");
    assert!(unschedulable(&plan, "shop/p2").message.ends_with("1 Insufficient burst quota: cores."));

    let mut few = aci();
    few.quota.max_instances = Some(2);
    let plan = Case::default().node(cordoned()).target(few).plan(&pending);
    assert_eq!(plan.summary.bursts, 2);
    assert!(unschedulable(&plan, "shop/p2").message.ends_with("1 Insufficient burst quota: instances."));
}

#[test]
fn pods_running_on_a_target_count_against_its_quota() {
    // 1.5 cores running of 2: one more 500m pod fits.
    let mut t = aci();
    t.quota.max_cpu_millis = Some(2000);
    let case = Case::default().node(cordoned()).target(t).running(pod("r0", "1500m", "1Gi").on_node("aci"));
    let plan = case.plan(&[pod("p0", "500m", "1Gi"), pod("p1", "10m", "100M")]);
    assert_eq!(burst(&plan, "shop/p0").0, "aci");
    assert!(unschedulable(&plan, "shop/p1").message.ends_with("1 Insufficient burst quota: cores."));

    // Running pods count at their rounded size: 1995m runs as 2 vCPU.
    let mut t = aci();
    t.quota.max_cpu_millis = Some(2000);
    let case = Case::default().node(cordoned()).target(t).running(pod("r0", "1995m", "1Gi").on_node("aci"));
    let plan = case.plan(&[pod("p0", "10m", "100M")]);
    assert!(unschedulable(&plan, "shop/p0").message.ends_with("1 Insufficient burst quota: cores."));

    // Instances: two running of three.
    let mut t = aci();
    t.quota.max_instances = Some(3);
    let case = Case::default()
        .node(cordoned())
        .target(t)
        .running(pod("r0", "100m", "100M").on_node("aci"))
        .running(pod("r1", "", "").on_node("aci"));
    let plan = case.plan(&[pod("p0", "500m", "1Gi"), pod("p1", "500m", "1Gi")]);
    assert_eq!(burst(&plan, "shop/p0").0, "aci");
    assert!(unschedulable(&plan, "shop/p1").message.ends_with("1 Insufficient burst quota: instances."));

    // Pods on another target or on VM nodes do not count.
    let mut t = aci();
    t.quota.max_instances = Some(1);
    let mut dear = BurstTarget::aci_like("aci-2", "westus");
    dear.pricing.per_vcpu_hour = money("0.05");
    let case = Case::default()
        .node(vm("vm-2", "1", "1Gi"))
        .target(t)
        .target(dear)
        .running(pod("r0", "100m", "100M").on_node("aci-2"))
        .running(pod("r1", "100m", "100M").on_node("vm-2"));
    let plan = case.plan(&[pod("p0", "2", "1Gi")]);
    assert_eq!(burst(&plan, "shop/p0").0, "aci");
}

#[test]
fn the_spend_cap_counts_running_and_planned_bursts() {
    // Each 500m / 1Gi pod costs 0.025145 per hour; one runs already; the cap fits two.
    let case = Case::aci().cap("0.06").running(pod("r0", "500m", "1Gi").on_node("aci"));
    let pending: Vec<Pod> = (0..3).map(|i| pod(&format!("p{i}"), "500m", "1Gi")).collect();
    let plan = case.plan(&pending);
    assert_eq!(burst(&plan, "shop/p0").0, "aci");
    assert!(unschedulable(&plan, "shop/p1").message.ends_with("1 burst spend cap reached."));
    // A cheaper pod still fits under the cap: the cap is on spend, not on a count.
    let plan = case.plan(&[pod("p0", "500m", "1Gi"), pod("small", "10m", "100M")]);
    assert_eq!(burst(&plan, "shop/small").2, Money::from_micros(850));
    assert_eq!(plan.summary.burst_cost_per_hour, Money::from_micros(25_145 + 850));
    assert_eq!(plan.summary.total_burst_cost_per_hour, Money::from_micros(2 * 25_145 + 850));

    // A cap exactly at the spend is allowed.
    let plan = Case::aci().cap("0.05029").plan(&pending);
    assert_eq!(plan.summary.bursts, 2);
    // The cap spans all targets.
    let plan = Case::aci().target(BurstTarget::aci_like("aci-2", "westus")).cap("0.05029").plan(&pending);
    assert_eq!(plan.summary.bursts, 2);
    assert!(unschedulable(&plan, "shop/p2").message.ends_with("2 burst spend cap reached."));
}

// ---------------------------------------------------------------------------------------------
// Burst modes and rules
// ---------------------------------------------------------------------------------------------

#[test]
fn never_waits_for_a_pool_or_is_unschedulable() {
    let case = Case::aci().mode(BurstMode::Never);
    let plan = case.explain(&[pod("p", "500m", "1Gi")]);
    // The targets are not part of the diagnosis of a pod that may not burst ...
    assert_eq!(unschedulable(&plan, "shop/p").message, "0/1 nodes are available: 1 node(s) were unschedulable.");
    // ... but the explanation says why.
    assert_eq!(target_verdicts(&plan, "shop/p")["aci"].reasons, ["the pod's burst mode is Never"]);

    let case = case.pool(pool("pool", "4", "16Gi", "0.192", 300, 5));
    let plan = case.plan(&[pod("p", "500m", "1Gi")]);
    assert_eq!(wait(&plan, "shop/p"), (Some("pool"), None, 300, "no VM node fits and the pod's burst mode is Never"));

    // A VM node that fits is taken.
    let plan = case.node(vm("vm-2", "4", "16Gi")).plan(&[pod("p", "500m", "1Gi")]);
    assert_eq!(node_of(&plan, "shop/p"), "vm-2");
}

#[test]
fn overflow_takes_a_vm_first_then_bursts_then_waits() {
    // A target cheaper than anything still comes second to a VM node that fits.
    let mut cheap = aci();
    cheap.pricing.per_vcpu_hour = Money::ZERO;
    cheap.pricing.per_gb_hour = Money::ZERO;
    let case = Case::default()
        .node(vm("vm-2", "1", "4Gi"))
        .target(cheap)
        .pool(pool("pool", "4", "16Gi", "0.192", 300, 5))
        .mode(BurstMode::Overflow);
    let mut host = pod("host", "500m", "1Gi");
    host.features.volumes.push("hostPath".into());
    host.creation_order = 3;
    let mut first = pod("a-first", "800m", "1Gi");
    first.creation_order = 1;
    let mut second = pod("b-second", "800m", "1Gi");
    second.creation_order = 2;
    let plan = case.plan(&[first, second, host, Pod { creation_order: 4, ..bare("untolerant", "500m", "1Gi") }]);
    assert_eq!(node_of(&plan, "shop/a-first"), "vm-2");
    assert_eq!(burst(&plan, "shop/b-second").0, "aci");
    assert_eq!(
        wait(&plan, "shop/host"),
        (
            Some("pool"),
            None,
            300,
            "no VM node fits and no burst target can take the pod (burst target(s) don't support hostPath volumes)"
        )
    );
    assert_eq!(
        wait(&plan, "shop/untolerant").3,
        "no VM node fits and no burst target can take the pod (burst target(s) had untolerated taint \
         {virtual-kubelet.io/provider: azure})"
    );

    // Without targets the pool is the only way.
    let case = Case::default().node(cordoned()).pool(pool("pool", "4", "16Gi", "0.192", 300, 5));
    let plan = case.plan(&[pod("p", "500m", "1Gi")]);
    assert_eq!(wait(&plan, "shop/p").3, "no VM node fits and there is no burst target");
    // And with neither, kube's diagnosis plus the pools'.
    let plan = Case::default().node(cordoned()).plan(&[pod("p", "500m", "1Gi")]);
    assert_eq!(unschedulable(&plan, "shop/p").message, "0/1 nodes are available: 1 node(s) were unschedulable.");
}

/// CostAware with a pool of 4 vCPU / 16 GiB nodes: a 1 vCPU / 2 GiB pod takes a quarter of a
/// node. On ACI it runs as 1 vCPU / 2.2 GB for 0.05029 per hour.
#[test]
fn cost_aware_waits_only_when_cheaper_within_tolerance_and_lifetime() {
    struct Row {
        cost: &'static str,
        seconds: i64,
        max_wait: Option<i64>,
        lifetime: Option<i64>,
        waits: bool,
    }
    let rows = [
        // A quarter of 0.192 is 0.048 < 0.05029; 300 s ≤ the default 300 s, < the default 3600 s.
        Row { cost: "0.192", seconds: 300, max_wait: None, lifetime: None, waits: true },
        // Slower than the default tolerance.
        Row { cost: "0.192", seconds: 301, max_wait: None, lifetime: None, waits: false },
        // The pod's own tolerance wins.
        Row { cost: "0.192", seconds: 400, max_wait: Some(600), lifetime: None, waits: true },
        Row { cost: "0.192", seconds: 300, max_wait: Some(299), lifetime: None, waits: false },
        // A pod that lives no longer than the wait bursts.
        Row { cost: "0.192", seconds: 300, max_wait: None, lifetime: Some(300), waits: false },
        Row { cost: "0.192", seconds: 300, max_wait: None, lifetime: Some(301), waits: true },
        // Dearer than bursting, or equal: burst.
        Row { cost: "0.25", seconds: 60, max_wait: None, lifetime: None, waits: false },
        Row { cost: "0.20116", seconds: 60, max_wait: None, lifetime: None, waits: false },
        Row { cost: "0.201156", seconds: 60, max_wait: None, lifetime: None, waits: true },
        // Zero tolerance.
        Row { cost: "0.01", seconds: 1, max_wait: Some(0), lifetime: None, waits: false },
        Row { cost: "0.01", seconds: 0, max_wait: Some(0), lifetime: None, waits: true },
    ];
    for (i, row) in rows.iter().enumerate() {
        let case = Case::aci().mode(BurstMode::CostAware).pool(pool("pool", "4", "16Gi", row.cost, row.seconds, 5));
        let p = Pod { max_wait_seconds: row.max_wait, expected_lifetime_seconds: row.lifetime, ..pod("p", "1", "2Gi") };
        let plan = case.plan(&[p]);
        if row.waits {
            let (pool_name, target, seconds, _) = wait(&plan, "shop/p");
            assert_eq!((pool_name, target, seconds), (Some("pool"), None, row.seconds), "row {i}");
        } else {
            assert_eq!(
                burst(&plan, "shop/p"),
                ("aci", InstanceSize::new(1000, 2_200_000_000), Money::from_micros(50_290)),
                "row {i}"
            );
        }
    }

    let case = Case::aci().mode(BurstMode::CostAware).pool(pool("pool", "4", "16Gi", "0.192", 300, 5));
    let plan = case.plan(&[pod("p", "1", "2Gi")]);
    assert_eq!(
        wait(&plan, "shop/p").3,
        "waiting 300 s for a new pool node costs 0.048/h for the pod's share against 0.05029/h on aci, \
         within the pod's 300 s tolerance"
    );
    // A VM node that fits comes first.
    let plan = case.clone().node(vm("vm-2", "2", "4Gi")).plan(&[pod("p", "1", "2Gi")]);
    assert_eq!(node_of(&plan, "shop/p"), "vm-2");
    // A pod that cannot burst waits whatever the price.
    let plan = case.plan(&[bare("p", "1", "2Gi")]);
    assert_eq!(wait(&plan, "shop/p").0, Some("pool"));
    // The memory share counts when it is the larger: 8 GiB of 16 is half a node, 0.096 per hour,
    // dearer than 0.5 vCPU / 8.6 GB on ACI (0.05852).
    let plan = case.plan(&[pod("p", "500m", "8Gi")]);
    assert_eq!(burst(&plan, "shop/p").0, "aci");
}

#[test]
fn rules_and_pod_fields_override_the_defaults() {
    let web =
        LabelSelector { match_labels: [("app".to_string(), "web".to_string())].into(), ..LabelSelector::default() };
    let mut case = Case::aci().pool(pool("pool", "4", "16Gi", "0.192", 500, 5));
    case.policy.burst.rules = vec![
        BurstRule {
            namespaces: vec!["batch".into()],
            mode: BurstMode::CostAware,
            max_wait_seconds: Some(600),
            ..Default::default()
        },
        BurstRule { selector: Some(web.clone()), mode: BurstMode::Never, ..Default::default() },
        // Never reached for shop's web pods: the rule above matches first.
        BurstRule {
            namespaces: vec!["shop".into()],
            selector: Some(web),
            mode: BurstMode::Prefer,
            ..Default::default()
        },
        BurstRule {
            namespaces: vec!["jobs".into()],
            mode: BurstMode::Prefer,
            expected_lifetime_seconds: Some(60),
            ..Default::default()
        },
    ];
    case.policy.burst.default_max_wait_seconds = 100;
    let terms = |p: &Pod| case.policy.burst.terms_for(p);

    let batch = Pod { namespace: "batch".into(), ..pod("export", "1", "2Gi") };
    let batch_impatient = Pod { max_wait_seconds: Some(10), ..Pod { name: "impatient".into(), ..batch.clone() } };
    let web = pod("web", "1", "2Gi").with_label("app", "web");
    let job = Pod { namespace: "jobs".into(), expected_lifetime_seconds: Some(7200), ..pod("job", "1", "2Gi") };
    let other = pod("other", "1", "2Gi");
    assert_eq!(
        (terms(&batch).mode, terms(&batch).max_wait_seconds, terms(&batch).expected_lifetime_seconds),
        (BurstMode::CostAware, 600, 3600)
    );
    assert_eq!(terms(&batch_impatient).max_wait_seconds, 10);
    assert_eq!(terms(&web).mode, BurstMode::Never);
    assert_eq!((terms(&job).mode, terms(&job).expected_lifetime_seconds), (BurstMode::Prefer, 7200));
    assert_eq!((terms(&other).mode, terms(&other).max_wait_seconds), (BurstMode::Overflow, 100));

    let case = case.node(vm("vm-2", "8", "32Gi"));
    // The VM node holds the first pods by order; set the order so that it fills up first with
    // `filler`, and the rest must choose.
    let filler = Pod { creation_order: -1, ..pod("filler", "8", "32Gi") };
    let plan = case.plan(&[filler, batch.clone(), batch_impatient, web, job.clone(), other]);
    assert_eq!(node_of(&plan, "shop/filler"), "vm-2");
    assert_eq!(wait(&plan, "batch/export").0, Some("pool"), "CostAware within the rule's 600 s");
    assert_eq!(burst(&plan, "batch/impatient").0, "aci", "the pod's 10 s beat the rule's 600 s");
    assert_eq!(wait(&plan, "shop/web").3, "no VM node fits and the pod's burst mode is Never");
    assert_eq!(burst(&plan, "jobs/job").0, "aci");
    assert_eq!(burst(&plan, "shop/other").0, "aci", "Overflow by default");

    // Prefer bursts even with room on a VM node.
    let plan = case.plan(&[job]);
    assert_eq!(burst(&plan, "jobs/job").0, "aci");
}

#[test]
fn prefer_bursts_first_and_falls_back_to_vm_nodes() {
    let case = Case::default()
        .node(vm("vm-2", "4", "16Gi"))
        .target(aci())
        .pool(pool("pool", "4", "16Gi", "0.192", 300, 5))
        .mode(BurstMode::Prefer);
    let plan = case.explain(&[pod("p", "500m", "1Gi"), bare("untolerant", "500m", "1Gi")]);
    assert_eq!(burst(&plan, "shop/p").0, "aci");
    // Explained: the VM node was feasible all the same.
    assert!(plan.decision("shop/p").unwrap().explanation.as_ref().unwrap().nodes["vm-2"].feasible);
    assert_eq!(node_of(&plan, "shop/untolerant"), "vm-2");

    // Neither: the pool, then nothing.
    let case = Case::aci().pool(pool("pool", "4", "16Gi", "0.192", 300, 1)).mode(BurstMode::Prefer);
    let plan = case.plan(&[bare("a", "3", "1Gi"), bare("b", "3", "1Gi")]);
    assert_eq!(wait(&plan, "shop/a").0, Some("pool"));
    assert_eq!(
        unschedulable(&plan, "shop/b").message,
        "0/1 nodes are available: 1 node(s) were unschedulable. 0/1 burst targets are available: \
         1 burst target(s) had untolerated taint {virtual-kubelet.io/provider: azure}. \
         0/1 node pools are available: 1 node pool(s) at their maximum size."
    );
}

// ---------------------------------------------------------------------------------------------
// Node pools
// ---------------------------------------------------------------------------------------------

#[test]
fn pool_taints_labels_affinity_and_shape_filter_like_a_node() {
    let mut gpu = pool("gpu", "8", "64Gi", "1.2", 420, 3);
    gpu.taints.push(Taint::new("sku", "gpu", TaintEffect::NoSchedule));
    gpu.taints.push(Taint::new("cheap", "no", TaintEffect::PreferNoSchedule));
    let case = Case::default()
        .node(cordoned())
        .pool(gpu)
        .pool(pool("general", "4", "16Gi", "0.192", 300, 3))
        .mode(BurstMode::Never);
    let msg = |plan: &Plan, p: &str| unschedulable(plan, p).message.clone();

    let plan = case.explain(&[bare("big", "6", "1Gi")]);
    assert_eq!(
        msg(&plan, "shop/big"),
        "0/1 nodes are available: 1 node(s) were unschedulable. 0/2 node pools are available: \
         1 Insufficient resources on a new node of the pool, 1 node pool(s) had untolerated taint {sku: gpu}."
    );
    assert_eq!(
        pool_verdicts(&plan, "shop/big")["gpu"],
        PoolVerdict { feasible: false, reasons: vec!["node pool(s) had untolerated taint {sku: gpu}".into()] }
    );
    // Tolerating the taint opens the GPU pool.
    let plan = case.plan(&[bare("big", "6", "1Gi").with_toleration(Toleration::equal("sku", "gpu", None))]);
    assert_eq!(wait(&plan, "shop/big"), (Some("gpu"), None, 420, "no VM node fits and the pod's burst mode is Never"));
    // Selecting a pool by its labels; a selector no pool matches.
    let plan = case.plan(&[
        bare("sel", "1", "1Gi").with_node_selector("agentpool", "general"),
        bare("nomatch", "1", "1Gi").with_node_selector("agentpool", "other"),
    ]);
    assert_eq!(wait(&plan, "shop/sel").0, Some("general"));
    assert_eq!(
        msg(&plan, "shop/nomatch"),
        "0/1 nodes are available: 1 node(s) were unschedulable. 0/2 node pools are available: \
         1 node pool(s) had untolerated taint {sku: gpu}, 2 node pool(s) didn't match Pod's node affinity/selector."
    );
    // Required node affinity; matchFields cannot pin a node that does not exist yet.
    let mut aff = bare("aff", "1", "1Gi");
    aff.node_affinity.required =
        Some(NodeSelector { node_selector_terms: vec![term("agentpool", NodeSelectorOperator::In, &["general"])] });
    let mut pinned = bare("pinned", "1", "1Gi");
    pinned.node_affinity.required = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: NodeSelectorOperator::In,
                values: vec!["general".into()],
            }],
        }],
    });
    let plan = case.plan(&[aff, pinned]);
    assert_eq!(wait(&plan, "shop/aff").0, Some("general"));
    assert!(msg(&plan, "shop/pinned").ends_with("2 node pool(s) didn't match Pod's node affinity/selector."));
    // Extended resources of a new node count.
    let mut gpu_pod = bare("gpu-pod", "1", "1Gi").with_toleration(Toleration::exists("sku", None));
    gpu_pod.containers[0].requests.extended.insert("nvidia.com/gpu".into(), 1);
    let plan = case.plan(&[gpu_pod.clone()]);
    assert!(msg(&plan, "shop/gpu-pod").ends_with("2 Insufficient resources on a new node of the pool."));
    let mut with_gpus = case.clone();
    with_gpus.pools[0].allocatable.extended.insert("nvidia.com/gpu".into(), 2);
    assert_eq!(wait(&with_gpus.plan(&[gpu_pod]), "shop/gpu-pod").0, Some("gpu"));
}

#[test]
fn planned_nodes_fill_first_fit_up_to_max_nodes() {
    // Max 3 nodes with one already there: two new nodes may be planned.
    let mut p = pool("pool", "4", "16Gi", "0.192", 300, 3);
    p.current_nodes = 1;
    let case = Case::default().node(cordoned()).pool(p).mode(BurstMode::Never);
    // p1 (3) opens node A, p2 (2) opens node B; p3 (1) takes A's last core (first fit), so p4 (2)
    // fits B; p5 would need a third new node.
    let sizes = [("p1", "3"), ("p2", "2"), ("p3", "1"), ("p4", "2"), ("p5", "1")];
    let pending: Vec<Pod> =
        sizes.iter().enumerate().map(|(i, (n, cpu))| Pod { creation_order: i as i64, ..bare(n, cpu, "1Gi") }).collect();
    let plan = case.explain(&pending);
    for n in ["p1", "p2", "p3", "p4"] {
        assert_eq!(wait(&plan, &format!("shop/{n}")).0, Some("pool"), "{n}");
    }
    assert_eq!(
        unschedulable(&plan, "shop/p5").message,
        "0/1 nodes are available: 1 node(s) were unschedulable. 0/1 node pools are available: \
         1 node pool(s) at their maximum size."
    );
    assert_eq!(pool_verdicts(&plan, "shop/p5")["pool"].reasons, ["node pool(s) at their maximum size"]);
    assert_eq!(plan.summary, Summary { waits: 4, unschedulable: 1, ..Summary::default() });

    // Many small pods share one planned node (pods allocatable counts too).
    let mut p = pool("pool", "4", "16Gi", "0.192", 300, 1);
    p.allocatable.pods = 3;
    let case = Case::default().node(cordoned()).pool(p).mode(BurstMode::Never);
    let pending: Vec<Pod> =
        (0..4).map(|i| Pod { creation_order: i, ..bare(&format!("s{i}"), "100m", "100Mi") }).collect();
    let plan = case.plan(&pending);
    assert_eq!(plan.summary.waits, 3);
    assert!(unschedulable(&plan, "shop/s3").message.ends_with("1 node pool(s) at their maximum size."));

    // A pool already at its maximum plans nothing.
    let mut full = pool("pool", "4", "16Gi", "0.192", 300, 2);
    full.current_nodes = 2;
    let plan = Case::default().node(cordoned()).pool(full).mode(BurstMode::Never).plan(&[bare("x", "1", "1Gi")]);
    assert!(unschedulable(&plan, "shop/x").message.ends_with("1 node pool(s) at their maximum size."));
}

#[test]
fn the_cheapest_pool_share_is_waited_for() {
    let case = Case::default()
        .node(cordoned())
        .pool(pool("big", "16", "64Gi", "0.768", 300, 5))
        .pool(pool("small", "2", "8Gi", "0.2", 200, 5))
        .mode(BurstMode::Never);
    // 1 vCPU: 1/16 of 0.768 = 0.048 beats 1/2 of 0.2 = 0.1.
    let plan = case.plan(&[bare("p", "1", "1Gi")]);
    assert_eq!(wait(&plan, "shop/p"), (Some("big"), None, 300, "no VM node fits and the pod's burst mode is Never"));
}

// ---------------------------------------------------------------------------------------------
// Choosing among targets
// ---------------------------------------------------------------------------------------------

#[test]
fn the_cheapest_target_wins_and_ties_are_deterministic() {
    let mut cheap = BurstTarget::aci_like("aci-cheap", "westus");
    cheap.pricing.per_vcpu_hour = money("0.03");
    let fargate = BurstTarget::fargate_like("fargate", "us-east-1");
    let both = |p: Pod| p.with_toleration(Toleration::exists("eks.amazonaws.com/compute-type", None));
    let case = Case::aci().target(cheap).target(fargate);
    let plan = case.explain(&[both(pod("p", "1", "1G"))]);
    let verdicts = target_verdicts(&plan, "shop/p");
    let costs: BTreeMap<&str, Money> = verdicts.iter().map(|(k, v)| (k.as_str(), v.cost_per_hour.unwrap())).collect();
    assert!(verdicts.values().all(|v| v.feasible));
    let cheapest = costs.iter().min_by_key(|(_, c)| **c).map(|(k, _)| *k).unwrap();
    assert_eq!(cheapest, "aci-cheap");
    assert_eq!(burst(&plan, "shop/p"), ("aci-cheap", InstanceSize::new(1000, GB), costs["aci-cheap"]));
    // Fargate's 1 vCPU / 1 GB becomes 1 vCPU / 2 GiB: dearer than ACI here.
    assert_eq!(verdicts["fargate"].instance, Some(InstanceSize::new(1000, 2 * GIB)));

    // Equal prices: the quicker start wins.
    let mut quick = BurstTarget::aci_like("aci-quick", "westus");
    quick.start_latency_seconds = 20;
    let plan = Case::aci().target(quick).plan(&[pod("p", "1", "1G")]);
    assert_eq!(burst(&plan, "shop/p").0, "aci-quick");

    // Equal in everything: the choice does not depend on the order of the targets, and repeats.
    let twin = BurstTarget::aci_like("aci-twin", "eastus");
    let pending: Vec<Pod> = (0..12).map(|i| pod(&format!("p{i}"), "1", "1G")).collect();
    let a = Case::aci().target(twin.clone()).plan(&pending);
    let b = Case::default().node(cordoned()).target(twin).target(aci()).plan(&pending);
    assert_eq!(a, b);
    assert_eq!(a.summary.bursts, 12);
}

// ---------------------------------------------------------------------------------------------
// Summary, explanations and JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn the_summary_counts_outcomes_and_burst_spend() {
    let case = Case::default()
        .node(vm("vm-2", "1", "4Gi"))
        .target(aci())
        .pool(pool("pool", "4", "16Gi", "0.192", 300, 1))
        .running(pod("r0", "250m", "1Gi").on_node("aci"));
    let mut host = pod("host", "500m", "1Gi");
    host.features.volumes.push("hostPath".into());
    let pending = vec![
        Pod { creation_order: 0, ..pod("vm", "1", "1Gi") },
        Pod { creation_order: 1, ..pod("b1", "250m", "1Gi") },
        Pod { creation_order: 2, ..pod("b2", "500m", "1Gi") },
        Pod { creation_order: 3, ..host.clone() },
        Pod { creation_order: 4, ..Pod { name: "host2".into(), ..host.clone() } },
        Pod { creation_order: 5, ..Pod { name: "host3".into(), ..pod("x", "5", "1Gi") } },
        Pod { creation_order: 6, ..Pod { name: "host4".into(), ..host } },
    ];
    let plan = case.plan(&pending);
    assert_eq!(
        plan.summary,
        Summary {
            nodes: 1,
            bursts: 2,
            waits: 3,
            unschedulable: 1,
            burst_cost_per_hour: Money::from_micros(15_020 + 25_145),
            total_burst_cost_per_hour: Money::from_micros(2 * 15_020 + 25_145),
        }
    );
    assert!(matches!(plan.decision("shop/host3").unwrap().outcome, Outcome::Unschedulable(_)), "5 vCPU on ACI");

    // JSON of the summary.
    let v = serde_json::to_value(&plan.summary).unwrap();
    assert_eq!(
        v,
        json!({"nodes": 1, "bursts": 2, "waits": 3, "unschedulable": 1,
               "burst_cost_per_hour": 0.040165, "total_burst_cost_per_hour": 0.055185})
    );
}

#[test]
fn decisions_serialize_as_documented_and_round_trip() {
    let case = Case::aci().pool(pool("pool", "4", "16Gi", "0.192", 300, 5));
    let mut host = pod("host", "250m", "1Gi");
    host.features.volumes.push("hostPath".into());
    host.creation_order = 1;
    let plan = case.plan(&[pod("web", "250m", "1Gi"), host]);
    let v = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        v["decisions"][0],
        json!({"pod": "shop/web", "outcome": "burst", "target": "aci",
               "instance": {"cpu": "250m", "memory": "1100M"}, "cost_per_hour": 0.01502, "start_seconds": 40})
    );
    assert!(v["decisions"][0]["cost_per_hour"].is_number());
    assert_eq!(
        v["decisions"][1],
        json!({"pod": "shop/host", "outcome": "wait", "pool": "pool", "expected_seconds": 300,
               "reason": "no VM node fits and no burst target can take the pod (burst target(s) don't support hostPath volumes)"})
    );
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains(r#""outcome":"burst","target":"aci""#), "{text}");
    assert!(text.contains(r#""cost_per_hour":0.01502"#), "{text}");
    assert!(text.contains(r#""outcome":"wait","pool":"pool","expected_seconds":300"#), "{text}");
    let back: Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(back, plan);

    // Explained plans round-trip too.
    let explained = case.explain(&[pod("web", "250m", "1Gi")]);
    let back: Plan = serde_json::from_str(&serde_json::to_string(&explained).unwrap()).unwrap();
    assert_eq!(back, explained);
}

#[test]
fn explanations_list_every_target_and_pool() {
    let mut full = BurstTarget::aci_like("aci-full", "westus");
    full.quota.max_instances = Some(0);
    let mut p = pool("pool", "4", "16Gi", "0.192", 300, 5);
    p.taints.push(Taint::new("pool", "x", TaintEffect::NoSchedule));
    let case = Case::default()
        .node(vm("vm-2", "2", "8Gi"))
        .target(aci())
        .target(full)
        .pool(p)
        .pool(pool("open", "4", "16Gi", "0.192", 300, 5));
    let plan = case.explain(&[pod("fits", "1", "1Gi"), Pod { creation_order: 1, ..pod("over", "2", "1Gi") }]);
    // A pod placed on a VM node still gets every target's and pool's verdict.
    assert_eq!(node_of(&plan, "shop/fits"), "vm-2");
    let targets = target_verdicts(&plan, "shop/fits");
    assert_eq!(
        targets["aci"],
        TargetVerdict {
            feasible: true,
            reasons: vec![],
            instance: Some(InstanceSize::new(1000, 1_100_000_000)),
            cost_per_hour: Some(Money::from_micros(45_395)),
        }
    );
    assert_eq!(targets["aci-full"].reasons, ["Insufficient burst quota: instances"]);
    assert_eq!(targets["aci-full"].instance, Some(InstanceSize::new(1000, 1_100_000_000)));
    let pools = pool_verdicts(&plan, "shop/fits");
    assert_eq!(pools["open"], PoolVerdict { feasible: true, reasons: vec![] });
    assert_eq!(pools["pool"].reasons, ["node pool(s) had untolerated taint {pool: x}"]);
    assert_eq!(burst(&plan, "shop/over").0, "aci");

    let v = serde_json::to_value(plan.decision("shop/over").unwrap()).unwrap();
    assert_eq!(
        v["targets"]["aci-full"],
        json!({"feasible": false, "reasons": ["Insufficient burst quota: instances"],
               "instance": {"cpu": "2", "memory": "1100M"}, "cost_per_hour": 0.085895})
    );
    assert_eq!(v["pools"]["open"], json!({"feasible": true}));

    // Without targets or pools there is nothing to explain about them.
    let plan = Case::default().node(vm("vm-2", "2", "8Gi")).explain(&[pod("p", "1", "1Gi")]);
    let d = plan.decision("shop/p").unwrap();
    assert!(d.targets.is_none() && d.pools.is_none());
    // And without explain, nothing either.
    let plan = case.plan(&[pod("p", "1", "1Gi")]);
    let d = plan.decision("shop/p").unwrap();
    assert!(d.targets.is_none() && d.pools.is_none() && d.explanation.is_none());
}

// ---------------------------------------------------------------------------------------------
// Scenario documents
// ---------------------------------------------------------------------------------------------

fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(" / ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn load_err(yaml: &str) -> String {
    match Scenario::from_yaml_str(yaml) {
        Ok(_) => panic!("expected an error"),
        Err(e) => chain(&e),
    }
}

#[test]
fn burst_target_documents_start_from_presets() {
    let s = Scenario::from_yaml_str(
        r#"
apiVersion: spillway.rs/v1alpha1
kind: BurstTarget
metadata: {name: aci-westeurope}
spec:
  preset: aci
  region: westeurope
  quota: {maxCpuMillis: 8000}
  startLatencySeconds: 25
  spot: true
  pricing: {spotDiscountPercent: 60}
---
apiVersion: spillway.rs/v1alpha1
kind: BurstTarget
metadata: {name: fargate}
spec: {preset: fargate, region: us-east-1}
---
apiVersion: spillway.rs/v1alpha1
kind: BurstTarget
metadata: {name: mock}
spec:
  backend: mock
  limits: {maxCpuMillis: 2000, maxMemoryBytes: 4000000000}
  sizing: {type: granular, cpuStepMillis: 100, memoryStepBytes: 500000000}
  defaultSize: {cpu: 500m, memory: 1G}
  pricing: {perVcpuHour: 0.01, perGbHour: 0.001}
"#,
    )
    .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let targets = s.snapshot.burst_targets();
    let mut expected = BurstTarget::aci_like("aci-westeurope", "westeurope");
    // Overrides merge into the preset key by key: the other quotas stay.
    expected.quota.max_cpu_millis = Some(8000);
    expected.start_latency_seconds = 25;
    expected.spot = true;
    expected.pricing.spot_discount_percent = 60;
    assert_eq!(targets[0], expected);
    assert_eq!(targets[0].quota.max_instances, Some(100));
    assert_eq!(targets[1], BurstTarget::fargate_like("fargate", "us-east-1"));
    assert_eq!(targets[2].backend, "mock");
    assert!(targets[2].taints.is_empty() && targets[2].quota.max_cpu_millis.is_none());

    // The loaded targets plan like the built ones. The mock target (no taint) runs 250m / 1 GiB
    // as 0.3 vCPU / 1.5 GB for 0.003 + 0.0015; ACI at 60 % off 0.01502 is dearer; the pod does
    // not tolerate Fargate's taint.
    let pending = vec![pod("p", "250m", "1Gi")];
    let engine = Engine::new(Policy::default()).unwrap();
    let plan = engine.place_with(&s.snapshot, &pending, PlaceOptions { explain: true });
    assert_eq!(burst(&plan, "shop/p"), ("mock", InstanceSize::new(300, 1_500_000_000), Money::from_micros(4_500)));
    let verdicts = target_verdicts(&plan, "shop/p");
    assert_eq!(verdicts["aci-westeurope"].cost_per_hour, Some(Money::from_micros(6_008)));
    assert!(!verdicts["fargate"].feasible);

    let unknown_preset = load_err(
        "apiVersion: spillway.rs/v1alpha1\nkind: BurstTarget\nmetadata: {name: gke}\nspec: {preset: autopilot}\n",
    );
    assert!(unknown_preset.contains("spec.preset"), "{unknown_preset}");
    assert!(unknown_preset.contains("autopilot") && unknown_preset.contains("aci or fargate"), "{unknown_preset}");
    let unknown_field = load_err(
        "apiVersion: spillway.rs/v1alpha1\nkind: BurstTarget\nmetadata: {name: aci}\nspec: {preset: aci, colour: blue}\n",
    );
    assert!(unknown_field.contains("unknown field `colour`"), "{unknown_field}");
    let nested = load_err(
        "apiVersion: spillway.rs/v1alpha1\nkind: BurstTarget\nmetadata: {name: aci}\nspec: {preset: aci, quota: {maxCores: 5}}\n",
    );
    assert!(nested.contains("unknown field `maxCores`"), "{nested}");
    // Target names must differ from node names.
    let clash = load_err(
        "apiVersion: v1\nkind: Node\nmetadata: {name: aci}\n---\napiVersion: spillway.rs/v1alpha1\nkind: BurstTarget\nmetadata: {name: aci}\nspec: {preset: aci}\n",
    );
    assert!(clash.contains("duplicate burst target name \"aci\""), "{clash}");
}

#[test]
fn node_pool_documents_count_their_current_nodes() {
    let node = |name: &str, pool: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{agentpool: {pool}, size: d4}}}}\n\
             status: {{allocatable: {{cpu: '4', memory: 16Gi, pods: '110'}}}}\n---\n"
        )
    };
    let pool_doc = |name: &str, extra: &str| {
        format!(
            "apiVersion: spillway.rs/v1alpha1\nkind: NodePool\nmetadata: {{name: {name}}}\nspec:\n  \
             allocatable: {{cpu: 3860m, memory: 12698Mi, pods: '110'}}\n  labels: {{agentpool: {name}, size: d4}}\n  \
             taints: [{{key: pool, value: {name}, effect: NoSchedule}}]\n  \
             hourlyCost: 0.192\n  provisioningSeconds: 300\n  maxNodes: 5\n{extra}---\n"
        )
    };
    let yaml = [
        node("a-0", "np1"),
        node("a-1", "np1"),
        node("b-0", "np2"),
        pool_doc("np1", ""),
        pool_doc("np2", "  currentNodes: 4\n"),
        pool_doc("np3", ""),
    ]
    .concat();
    let s = Scenario::from_yaml_str(&yaml).unwrap_or_else(|e| panic!("{}", chain(&e)));
    let pools = s.snapshot.node_pools();
    let counts: Vec<(&str, i64)> = pools.iter().map(|p| (p.name.as_str(), p.current_nodes)).collect();
    assert_eq!(counts, [("np1", 2), ("np2", 4), ("np3", 0)]);
    assert_eq!(pools[0].allocatable, res(&[("cpu", "3860m"), ("memory", "12698Mi"), ("pods", "110")]));
    assert_eq!(pools[0].hourly_cost, money("0.192"));
    assert_eq!(pools[0].taints, [Taint::new("pool", "np1", TaintEffect::NoSchedule)]);
    assert_eq!(pools[0].labels.get("size").map(String::as_str), Some("d4"));
}

#[test]
fn the_black_friday_scenario_plans_as_its_comment_says() {
    let path = format!("{}/examples/scenarios/black-friday.yaml", env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(&[path]).unwrap_or_else(|e| panic!("{}", chain(&e)));
    let plan = Engine::new(s.policy.clone()).unwrap().place(&s.snapshot, &s.pending);
    assert_eq!(
        plan.summary,
        Summary {
            nodes: 24,
            bursts: 9,
            waits: 13,
            unschedulable: 0,
            burst_cost_per_hour: Money::from_micros(9 * 25_145),
            total_burst_cost_per_hour: Money::from_micros(9 * 25_145),
        }
    );
    for d in &plan.decisions {
        if let Outcome::Burst { target, instance, cost_per_hour, .. } = &d.outcome {
            assert!(d.pod.starts_with("shop/storefront-"), "{}", d.pod);
            assert_eq!(
                (target.as_str(), *instance, *cost_per_hour),
                ("aci-eastus", InstanceSize::new(500, 1_100_000_000), Money::from_micros(25_145))
            );
        }
        if d.pod.starts_with("monitoring/node-exporter-") {
            assert!(d.node().is_some(), "{d:?}");
        }
    }
    assert_eq!(
        wait(&plan, "monitoring/log-collector"),
        (
            Some("nodepool1"),
            None,
            300,
            "no VM node fits and no burst target can take the pod (burst target(s) don't support hostPath volumes)"
        )
    );
    let exports: Vec<_> = plan.decisions.iter().filter(|d| d.pod.starts_with("batch/export-")).collect();
    assert_eq!(exports.len(), 2);
    assert!(exports.iter().all(|d| matches!(&d.outcome, Outcome::Wait { pool: Some(p), .. } if p == "nodepool1")));
}

// ---------------------------------------------------------------------------------------------
// Co-scheduled groups
// ---------------------------------------------------------------------------------------------

fn member(name: &str, cpu: &str, order: i64, group: &str) -> Pod {
    Pod { creation_order: order, priority: 10, ..pod(name, cpu, "1Gi").with_label(POD_GROUP_LABEL, group) }
}

#[test]
fn a_gang_may_be_placed_partly_on_vm_nodes_and_partly_on_targets() {
    let case = Case::default().node(vm("vm-2", "2", "8Gi")).target(aci()).group(PodGroup::new("shop", "train", 3));
    let pending =
        [member("w0", "1500m", 0, "train"), member("w1", "1500m", 1, "train"), member("w2", "1500m", 2, "train")];
    let plan = case.plan(&pending);
    assert_eq!(node_of(&plan, "shop/w0"), "vm-2");
    assert_eq!(burst(&plan, "shop/w1").0, "aci");
    assert_eq!(burst(&plan, "shop/w2").0, "aci");
    assert_eq!((plan.summary.nodes, plan.summary.bursts), (1, 2));
}

#[test]
fn a_failed_gang_gives_back_its_quota_and_spend() {
    let mut t = aci();
    t.quota.max_instances = Some(2);
    let case = Case::aci().group(PodGroup::new("shop", "train", 3));
    let case = Case { targets: vec![t], ..case };
    let pending = [
        member("w0", "1", 0, "train"),
        member("w1", "1", 1, "train"),
        member("w2", "1", 2, "train"),
        Pod { creation_order: 3, ..pod("solo-0", "1", "1Gi") },
        Pod { creation_order: 4, ..pod("solo-1", "1", "1Gi") },
    ];
    let plan = case.plan(&pending);
    for w in ["shop/w0", "shop/w1"] {
        assert_eq!(
            unschedulable(&plan, w).message,
            "pod group shop/train cannot be placed whole: 2 of its 3 pending pods fit, 3 needed."
        );
    }
    assert!(unschedulable(&plan, "shop/w2").message.ends_with("1 Insufficient burst quota: instances."));
    // The instances the gang held are free again.
    assert_eq!(burst(&plan, "shop/solo-0").0, "aci");
    assert_eq!(burst(&plan, "shop/solo-1").0, "aci");
    assert_eq!(
        plan.summary,
        Summary {
            bursts: 2,
            unschedulable: 3,
            burst_cost_per_hour: Money::from_micros(2 * 45_395),
            total_burst_cost_per_hour: Money::from_micros(2 * 45_395),
            ..Summary::default()
        }
    );

    // The same with the spend cap: 1 vCPU / 1 GiB costs 0.045395; the cap fits two.
    let case = Case::aci().group(PodGroup::new("shop", "train", 3)).cap("0.09079");
    let plan = case.plan(&pending);
    assert!(unschedulable(&plan, "shop/w2").message.ends_with("1 burst spend cap reached."));
    assert_eq!(burst(&plan, "shop/solo-1").0, "aci");
    assert_eq!(plan.summary.total_burst_cost_per_hour, money("0.09079"));

    // Waits of a failed gang are taken back too: the planned node is free for later pods.
    let case = Case::default()
        .node(cordoned())
        .pool(pool("pool", "2", "16Gi", "0.192", 300, 1))
        .group(PodGroup::new("shop", "train", 3))
        .mode(BurstMode::Never);
    let plan = case.plan(&pending);
    assert!(unschedulable(&plan, "shop/w0").message.starts_with("pod group shop/train cannot be placed whole"));
    assert_eq!(wait(&plan, "shop/solo-0").0, Some("pool"));
    assert_eq!(wait(&plan, "shop/solo-1").0, Some("pool"));
}

/// Regression: CostAware compared bursting only with the cheapest pool overall, so a cheap pool
/// whose nodes come too late hid a fast pool that is still cheaper than bursting.
#[test]
fn cost_aware_waits_for_the_cheapest_pool_that_comes_in_time() {
    let case = Case::aci()
        .mode(BurstMode::CostAware)
        .pool(pool("slow", "4", "16Gi", "0.1", 900, 5))
        .pool(pool("fast", "4", "16Gi", "0.192", 300, 5));
    // Shares: slow 0.025 (900 s, beyond the default 300 s), fast 0.048 (< 0.05029 on ACI).
    let plan = case.explain(&[pod("p", "1", "2Gi")]);
    assert_eq!(
        wait(&plan, "shop/p"),
        (
            Some("fast"),
            None,
            300,
            "waiting 300 s for a new fast node costs 0.048/h for the pod's share against 0.05029/h on aci, \
             within the pod's 300 s tolerance"
        )
    );
    assert!(pool_verdicts(&plan, "shop/p").values().all(|v| v.feasible));
    // A pod that tolerates the slow pool's delay waits for the cheaper one.
    let plan = case.plan(&[Pod { max_wait_seconds: Some(900), ..pod("p", "1", "2Gi") }]);
    assert_eq!(wait(&plan, "shop/p").0, Some("slow"));
    // Without a timely pool cheaper than bursting, the pod bursts.
    let case = Case::aci()
        .mode(BurstMode::CostAware)
        .pool(pool("slow", "4", "16Gi", "0.1", 900, 5))
        .pool(pool("fast", "4", "16Gi", "0.25", 300, 5));
    assert_eq!(burst(&case.plan(&[pod("p", "1", "2Gi")]), "shop/p").0, "aci");
    // A pod that cannot burst waits for the cheapest pool, however slow.
    assert_eq!(wait(&case.plan(&[bare("p", "1", "2Gi")]), "shop/p").0, Some("slow"));
}

/// Regression: a pending pod bound to a node by `spec.nodeName` was sent to a burst target or to
/// a new pool node when its node had no room; it runs on that node or nowhere.
#[test]
fn a_pod_bound_by_node_name_never_bursts_or_waits_for_a_pool() {
    let case = Case::default()
        .node(vm("vm-2", "1", "1Gi"))
        .target(aci())
        .pool(pool("pool", "4", "16Gi", "0.192", 300, 5))
        .mode(BurstMode::Prefer);
    let plan = case.explain(&[pod("p", "2", "2Gi").on_node("vm-2"), pod("q", "500m", "500Mi").on_node("vm-2")]);
    let d = unschedulable(&plan, "shop/p");
    assert_eq!(
        d.message,
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. 0/1 burst targets are available: \
         1 burst target(s) didn't match the requested node name. 0/1 node pools are available: \
         1 node pool(s) didn't match the requested node name."
    );
    assert_eq!(
        target_verdicts(&plan, "shop/p")["aci"].reasons,
        ["burst target(s) didn't match the requested node name"]
    );
    // Prefer does not take a bound pod off its node either.
    assert_eq!(node_of(&plan, "shop/q"), "vm-2");
    // A pod bound to the target itself (the virtual-kubelet node) runs there.
    let plan = case.plan(&[pod("v", "2", "2Gi").on_node("aci")]);
    assert_eq!(burst(&plan, "shop/v").0, "aci");
}
