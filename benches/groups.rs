//! `groups`: gang scheduling. 1,000 pending pods in pod groups of 4–32 members (label
//! `scheduling.x-k8s.io/pod-group`, `minMember` from `Snapshot::with_groups`): most gangs need
//! every member, some are elastic, one in ten waits for members that do not exist yet (placed,
//! then rolled back), and a quarter spread their members one per node with hostname
//! anti-affinity. The cluster is about 60% full; snapshot compilation is included.
//!
//! `cargo bench --bench groups`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::{Engine, Policy, Snapshot};

#[path = "support/gen.rs"]
mod generator;

use generator::Gen;

fn groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("groups");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    for (nodes, pods) in [(500, 1000), (5000, 1000)] {
        let mut g = Gen(42);
        let base = generator::cluster(nodes, 60, false, &mut g);
        let (pending, gangs) = generator::gangs(pods, &mut g);
        let gang_count = gangs.len();
        let snapshot: Snapshot = base.with_groups(gangs);
        let plan = engine.place(&snapshot, &pending);
        println!(
            "groups/{nodes}_nodes: {gang_count} gangs, {} of {pods} pods placed, {} unschedulable",
            plan.summary.nodes, plan.summary.unschedulable
        );
        group.throughput(Throughput::Elements(pods as u64));
        group.bench_with_input(BenchmarkId::new(format!("{nodes}_nodes"), pods), &pending, |b, pending| {
            b.iter(|| black_box(engine.place(&snapshot, pending)))
        });
    }
    group.finish();
}

criterion_group!(benches, groups);
criterion_main!(benches);
