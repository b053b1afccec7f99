//! `basic`: the hot scheduling loop on generated clusters with resources, taints, node selectors
//! and node affinity (no inter-pod rules). Each iteration places a batch of pending pods onto a
//! cluster that is about 60% full.
//!
//! `cargo bench --bench basic`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spillway::{Engine, Policy};

#[path = "support/gen.rs"]
mod generator;

use generator::{Gen, Mix};

fn basic(c: &mut Criterion) {
    let mut group = c.benchmark_group("basic");
    group.sample_size(10);
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    for (nodes, pods) in [(500, 1000), (5000, 1000)] {
        let mut g = Gen(42);
        let snapshot = generator::cluster(nodes, 60, false, &mut g);
        let pending = generator::pending(Mix::Basic, pods, &mut g);
        group.throughput(Throughput::Elements(pods as u64));
        group.bench_with_input(BenchmarkId::new(format!("{nodes}_nodes"), pods), &pending, |b, pending| {
            b.iter(|| engine.place(&snapshot, pending))
        });
    }
    group.finish();
}

criterion_group!(benches, basic);
criterion_main!(benches);
