//! `basic`: the hot scheduling loop on generated clusters with resources, taints, node selectors
//! and node affinity (no inter-pod rules). Each iteration places a batch of pending pods onto a
//! cluster that is about 60% full.
//!
//! `cargo bench --bench basic`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spillway::model::{NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm};
use spillway::{Engine, Node, Pod, Policy, Resources, Snapshot, Taint, TaintEffect, Toleration};

/// splitmix64: a tiny deterministic generator, so the benchmark input never changes.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ZONES: [&str; 3] = ["eastus-1", "eastus-2", "eastus-3"];
const SHAPES: [(&str, &str, &str); 3] = [
    ("Standard_D4s_v5", "3860m", "12698Mi"),
    ("Standard_D8s_v5", "7820m", "28Gi"),
    ("Standard_E8s_v5", "7820m", "56Gi"),
];

fn res(cpu: &str, mem: &str) -> Resources {
    Resources::parse([("cpu", cpu), ("memory", mem)]).expect("valid quantities")
}

/// A cluster of `n` nodes over three zones and three VM shapes; 5% of nodes carry a dedicated
/// taint, 2% are cordoned; each node runs placed pods filling it to about 60%.
fn cluster(n: usize, g: &mut Gen) -> Snapshot {
    let mut nodes = Vec::with_capacity(n);
    let mut pods = Vec::new();
    for i in 0..n {
        let (shape, cpu, mem) = SHAPES[g.below(3) as usize];
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
        let filled = node.allocatable.cpu_millis * 6 / 10;
        let mut used = 0;
        let mut k = 0;
        while used + 500 <= filled {
            pods.push(Pod::new("placed", format!("{name}-p{k}")).with_container(res("500m", "1Gi")).on_node(&name));
            used += 500;
            k += 1;
        }
        nodes.push(node);
    }
    Snapshot::new(nodes, pods).expect("consistent snapshot")
}

/// `count` pending pods: plain pods, pods with a zone node selector, pods with preferred pool
/// affinity, and pods tolerating the dedicated taint.
fn pending(count: usize, g: &mut Gen) -> Vec<Pod> {
    let cpus = ["100m", "250m", "500m", "1", "1500m"];
    let mems = ["128Mi", "256Mi", "512Mi", "1Gi", "2Gi"];
    (0..count)
        .map(|i| {
            let mut pod = Pod::new("web", format!("pod-{i:06}"))
                .with_container(res(cpus[g.below(5) as usize], mems[g.below(5) as usize]));
            pod.creation_order = i as i64;
            match g.below(4) {
                0 => pod = pod.with_node_selector("topology.kubernetes.io/zone", ZONES[g.below(3) as usize]),
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
                2 => pod = pod.with_toleration(Toleration::equal("dedicated", "ml", Some(TaintEffect::NoSchedule))),
                _ => {}
            }
            pod
        })
        .collect()
}

fn basic(c: &mut Criterion) {
    let mut group = c.benchmark_group("basic");
    group.sample_size(10);
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    for (nodes, pods) in [(500, 1000), (5000, 1000)] {
        let mut g = Gen(42);
        let snapshot = cluster(nodes, &mut g);
        let pending = pending(pods, &mut g);
        group.throughput(Throughput::Elements(pods as u64));
        group.bench_with_input(BenchmarkId::new(format!("{nodes}_nodes"), pods), &pending, |b, pending| {
            b.iter(|| engine.place(&snapshot, pending))
        });
    }
    group.finish();
}

criterion_group!(benches, basic);
criterion_main!(benches);
