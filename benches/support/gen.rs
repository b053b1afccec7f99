//! Deterministic generators of clusters and pending pods for the benches and the `throughput`
//! example: realistic label, taint and zone distributions, seeded, no randomness at run time.

#![allow(dead_code)] // Each bench uses part of the generators.

use spillway::model::{
    BurstTarget, LabelSelector, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, POD_GROUP_LABEL,
    PodAffinityTerm, PodGroup, PreferredSchedulingTerm, TopologySpreadConstraint, WhenUnsatisfiable,
};
use spillway::{Node, Pod, Resources, Snapshot, Taint, TaintEffect, Toleration};

/// splitmix64: a tiny deterministic generator.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub const ZONES: [&str; 3] = ["eastus-1", "eastus-2", "eastus-3"];
const SHAPES: [(&str, &str, &str); 3] = [
    ("Standard_D4s_v5", "3860m", "12698Mi"),
    ("Standard_D8s_v5", "7820m", "28Gi"),
    ("Standard_E8s_v5", "7820m", "56Gi"),
];

pub fn res(cpu: &str, mem: &str) -> Resources {
    Resources::parse([("cpu", cpu), ("memory", mem)]).expect("valid quantities")
}

/// Which workload a generated set of pods models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Resources, taints, node selectors and node affinity.
    Basic,
    /// Basic plus 30% of pods with hostname anti-affinity or zone spread.
    Affinity,
    /// VM nodes nearly full: most pods go through the burst and cost path.
    Burst,
    /// Karpenter's "diverse" benchmark: fifths of plain, zonal spread, hostname spread, zonal
    /// self-affinity and hostname anti-affinity pods.
    Karpenter,
}

impl Mix {
    pub fn parse(s: &str) -> Option<Mix> {
        match s {
            "basic" => Some(Mix::Basic),
            "affinity" => Some(Mix::Affinity),
            "burst" => Some(Mix::Burst),
            "karpenter" => Some(Mix::Karpenter),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mix::Basic => "basic",
            Mix::Affinity => "affinity",
            Mix::Burst => "burst",
            Mix::Karpenter => "karpenter",
        }
    }
}

/// A cluster of `n` nodes over three zones and three VM shapes; 5% of nodes carry a dedicated
/// taint, 2% are cordoned, 10% are spot (PreferNoSchedule); placed pods fill each node to
/// `fill_percent` of its CPU. The burst mix adds an ACI-like target.
pub fn cluster(n: usize, fill_percent: i64, with_target: bool, g: &mut Gen) -> Snapshot {
    let (nodes, pods) = cluster_parts(n, fill_percent, g);
    // Room for the whole burst: a raised quota, as a large customer has.
    let target = BurstTarget {
        quota: spillway::model::BurstQuota {
            max_cpu_millis: Some(10_000_000),
            max_instances: Some(100_000),
            ..Default::default()
        },
        ..BurstTarget::aci_like("aci-eastus", "eastus")
    };
    let targets = if with_target { vec![target] } else { Vec::new() };
    Snapshot::with_burst(nodes, targets, pods).expect("consistent snapshot")
}

/// The nodes and placed pods of [`cluster`], before they become a snapshot (same draws, same
/// result), for benches that time the snapshot build itself.
pub fn cluster_parts(n: usize, fill_percent: i64, g: &mut Gen) -> (Vec<Node>, Vec<Pod>) {
    let mut nodes = Vec::with_capacity(n);
    let mut pods = Vec::new();
    for i in 0..n {
        let (shape, cpu, mem) = *g.pick(&SHAPES);
        let name = format!("node-{i:05}");
        let mut node = Node::new(&name)
            .with_allocatable(Resources::parse([("cpu", cpu), ("memory", mem), ("pods", "110")]).expect("valid"))
            .with_label("kubernetes.io/hostname", &name)
            .with_label("topology.kubernetes.io/zone", ZONES[i % 3])
            .with_label("node.kubernetes.io/instance-type", shape)
            .with_label("pool", if g.below(4) == 0 { "batch" } else { "general" });
        if g.below(20) == 0 {
            node = node.with_taint(Taint::new("dedicated", "ml", TaintEffect::NoSchedule));
        }
        if g.below(50) == 0 {
            node.unschedulable = true;
        }
        if g.below(10) == 0 {
            node = node.with_taint(Taint::new("spot", "true", TaintEffect::PreferNoSchedule));
        }
        let filled = node.allocatable.cpu_millis * fill_percent / 100;
        let mut used = 0;
        let mut k = 0;
        while used + 500 <= filled {
            let app = format!("svc-{}", g.below(200));
            pods.push(
                Pod::new("placed", format!("{name}-p{k}"))
                    .with_container(res("500m", "1Gi"))
                    .with_label("app", app)
                    .on_node(&name),
            );
            used += 500;
            k += 1;
        }
        nodes.push(node);
    }
    (nodes, pods)
}

fn selector(app: &str) -> LabelSelector {
    LabelSelector { match_labels: [("app".to_string(), app.to_string())].into(), ..Default::default() }
}

fn spread(key: &str, app: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.into(),
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        label_selector: Some(selector(app)),
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: vec![],
    }
}

fn term(key: &str, app: &str) -> PodAffinityTerm {
    PodAffinityTerm { label_selector: Some(selector(app)), topology_key: key.into(), ..Default::default() }
}

/// `count` pending pods of `mix`, in groups of 20 sharing an `app` label (one "deployment").
pub fn pending(mix: Mix, count: usize, g: &mut Gen) -> Vec<Pod> {
    let cpus = ["100m", "250m", "500m", "1", "1500m"];
    let mems = ["100Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi"];
    (0..count)
        .map(|i| {
            let group = i / 20;
            let app = format!("app-{group}");
            let (cpu, mem): (&&str, &&str) = (g.pick(&cpus), g.pick(&mems));
            let mut pod = Pod::new("web", format!("pod-{i:06}")).with_container(res(cpu, mem)).with_label("app", &app);
            pod.creation_order = i as i64;
            match mix {
                Mix::Basic | Mix::Burst => basic_rules(&mut pod, g),
                Mix::Affinity => {
                    basic_rules(&mut pod, g);
                    match group % 10 {
                        0..=1 => pod.pod_anti_affinity.required.push(term("kubernetes.io/hostname", &app)),
                        2 => pod.topology_spread_constraints.push(spread("topology.kubernetes.io/zone", &app)),
                        _ => {}
                    }
                }
                Mix::Karpenter => match group % 5 {
                    0 => {}
                    1 => pod.topology_spread_constraints.push(spread("topology.kubernetes.io/zone", &app)),
                    2 => pod.topology_spread_constraints.push(spread("kubernetes.io/hostname", &app)),
                    3 => pod.pod_affinity.required.push(term("topology.kubernetes.io/zone", &app)),
                    _ => pod.pod_anti_affinity.required.push(term("kubernetes.io/hostname", &app)),
                },
            }
            if mix == Mix::Burst {
                pod = pod.with_toleration(Toleration::exists("virtual-kubelet.io/provider", None));
            }
            pod
        })
        .collect()
}

/// A quarter each: plain, zone node selector, preferred pool affinity, dedicated toleration.
fn basic_rules(pod: &mut Pod, g: &mut Gen) {
    match g.below(4) {
        0 => {
            pod.node_selector.insert("topology.kubernetes.io/zone".into(), g.pick(&ZONES).to_string());
        }
        1 => pod.node_affinity.preferred.push(PreferredSchedulingTerm {
            weight: 50,
            preference: NodeSelectorTerm {
                match_expressions: vec![NodeSelectorRequirement {
                    key: "pool".into(),
                    operator: NodeSelectorOperator::In,
                    values: vec!["batch".into()],
                }],
                match_fields: vec![],
            },
        }),
        2 => pod.tolerations.push(Toleration::equal("dedicated", "ml", Some(TaintEffect::NoSchedule))),
        _ => {}
    }
}

/// `count` placed pods (500m, 1Gi, one of 200 `app` labels) spread round-robin over `nodes`:
/// 30,000 pods on 5,000 nodes is 6 a node, 3 vCPU, which fits every shape of [`cluster_parts`].
pub fn placed_round_robin(nodes: &[Node], count: usize, g: &mut Gen) -> Vec<Pod> {
    (0..count)
        .map(|i| {
            let node = &nodes[i % nodes.len()].name;
            Pod::new("placed", format!("rr-{i:06}"))
                .with_container(res("500m", "1Gi"))
                .with_label("app", format!("svc-{}", g.below(200)))
                .on_node(node)
        })
        .collect()
}

/// `count` pending pods in gangs (pod groups, label [`POD_GROUP_LABEL`]) of 4, 8, 16 or 32
/// members, 1–2 vCPU and 2–4 GiB each, in namespace `batch`, with the groups to pass to
/// `Snapshot::with_groups`: 75% need every member (`minMember` = size), 15% are elastic
/// (half), and 10% wait for members not created yet (`minMember` = size + 2), so the engine
/// places them and rolls them back. A quarter of the gangs spread their members one per node
/// (hostname anti-affinity), as MPI workers do.
pub fn gangs(count: usize, g: &mut Gen) -> (Vec<Pod>, Vec<PodGroup>) {
    let mut pods = Vec::with_capacity(count);
    let mut groups = Vec::new();
    while pods.len() < count {
        let k = groups.len();
        let size = (*g.pick(&[4usize, 8, 16, 32])).min(count - pods.len());
        let name = format!("gang-{k:04}");
        let min = match g.below(20) {
            0..=14 => size,
            15..=17 => size.div_ceil(2),
            _ => size + 2,
        };
        let spread_out = g.below(4) == 0;
        let (cpu, mem) = (*g.pick(&["1", "1500m", "2"]), *g.pick(&["2Gi", "3Gi", "4Gi"]));
        for m in 0..size {
            let i = pods.len();
            let mut pod = Pod::new("batch", format!("{name}-{m:02}"))
                .with_container(res(cpu, mem))
                .with_label("app", &name)
                .with_label(POD_GROUP_LABEL, &name);
            pod.creation_order = i as i64;
            if spread_out {
                pod.pod_anti_affinity.required.push(term("kubernetes.io/hostname", &name));
            }
            pods.push(pod);
        }
        groups.push(PodGroup::new("batch", name, min as u32));
    }
    (pods, groups)
}

/// `count` pods of the burst mix already running on burst target `target`, owned by one
/// ReplicaSet per `app` (20 pods each): what drain-back moves home once VM capacity returns.
pub fn running_on_target(count: usize, target: &str, g: &mut Gen) -> Vec<Pod> {
    pending(Mix::Burst, count, g)
        .into_iter()
        .map(|mut pod| {
            pod.name = format!("burst-{}", pod.name);
            pod.uid = pod.key();
            pod.owner_kind = Some("ReplicaSet".into());
            pod.owner_name = pod.labels.get("app").cloned();
            pod.on_node(target)
        })
        .collect()
}
