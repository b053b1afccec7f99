//! `snapshot`: the cost of the cluster state itself on a large cluster, 5,000 nodes and 30,000
//! placed pods.
//!
//! - `build`: `Snapshot::with_burst` over owned node and pod vectors (consistency checks and
//!   name indexes); cloning the inputs is setup, not timed.
//! - `place_one`: `Engine::place` of a single pending pod onto that snapshot — the incremental
//!   update path as the public API offers it today (one pod arrives, one decision), and so the
//!   per-pod cost of an event-driven controller. Each call compiles the snapshot into the
//!   engine's per-run cluster state before placing, so this is dominated by that compilation.
//! - `place_100`: 100 pending pods in one call, for the per-pod cost when events are batched.
//! - `update_1000`: 1,000 watch events applied in place to that snapshot (`upsert_pod` of new
//!   and moved pods, `remove_pod`, `upsert_node` of changed nodes), the way the runtime keeps
//!   its snapshot current between steps; cloning the snapshot is setup, not timed. Compare with
//!   `build`, the cost of starting over.
//!
//! `cargo bench --bench snapshot`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::{Engine, Policy, Snapshot};

#[path = "support/gen.rs"]
mod generator;

use generator::{Gen, Mix};

const NODES: usize = 5000;
const PODS: usize = 30_000;

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    let mut g = Gen(42);
    // An empty cluster's nodes, then exactly 30,000 pods spread six to a node.
    let (nodes, _) = generator::cluster_parts(NODES, 0, &mut g);
    let pods = generator::placed_round_robin(&nodes, PODS, &mut g);
    let pending = generator::pending(Mix::Basic, 100, &mut g);

    group.throughput(Throughput::Elements((NODES + PODS) as u64));
    group.bench_function(BenchmarkId::new("build", format!("{NODES}_nodes_{PODS}_pods")), |b| {
        b.iter_batched(
            || (nodes.clone(), pods.clone()),
            |(nodes, pods)| black_box(Snapshot::with_burst(nodes, Vec::new(), pods).expect("consistent")),
            BatchSize::LargeInput,
        )
    });

    let snapshot = Snapshot::with_burst(nodes.clone(), Vec::new(), pods.clone()).expect("consistent snapshot");
    // 1,000 events: a quarter new pods, a quarter deletions, 45% pods moved to another node,
    // 5% node updates (a label or allocatable change).
    let events: Vec<Event> = (0..1000)
        .map(|i| {
            let pod = &pods[g.below(PODS as u64) as usize];
            let node = &nodes[g.below(NODES as u64) as usize];
            match g.below(100) {
                0..=24 => {
                    let mut p = pod.clone();
                    p.name = format!("new-{i}");
                    p.node_name = Some(node.name.clone());
                    Event::Pod(Box::new(p))
                }
                25..=49 => Event::Delete(pod.key()),
                50..=94 => Event::Pod(Box::new(pod.clone().on_node(&node.name))),
                _ => Event::Node(node.clone().with_label("spillway.rs/bench", format!("{i}"))),
            }
        })
        .collect();
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function(BenchmarkId::new("update_1000", format!("{NODES}_nodes_{PODS}_pods")), |b| {
        // `iter_batched_ref`: dropping the snapshot afterwards is not timed.
        b.iter_batched_ref(
            || (snapshot.clone(), events.clone()),
            |(s, events)| {
                for e in events.drain(..) {
                    match e {
                        Event::Pod(p) => {
                            s.upsert_pod(*p).expect("the pod's node exists");
                        }
                        Event::Delete(key) => {
                            s.remove_pod(&key);
                        }
                        Event::Node(n) => {
                            s.upsert_node(n).expect("a valid node");
                        }
                    }
                }
                black_box(&*s);
            },
            BatchSize::LargeInput,
        )
    });
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    for count in [1, 100] {
        let batch = &pending[..count];
        let name = if count == 1 { "place_one" } else { "place_100" };
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(BenchmarkId::new(name, format!("{NODES}_nodes_{PODS}_pods")), |b| {
            b.iter(|| black_box(engine.place(&snapshot, batch)))
        });
    }
    group.finish();
}

/// A watch event, as the benchmark applies it.
#[derive(Clone)]
enum Event {
    Pod(Box<spillway::Pod>),
    Delete(String),
    Node(spillway::Node),
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
