//! `affinity`: the `basic` workload (resources, taints, node selectors and node affinity) with
//! 30% of the pods under inter-pod rules: one deployment in five with required hostname
//! anti-affinity against its own pods, one in ten with a zonal topology spread constraint
//! (maxSkew 1, DoNotSchedule). Each iteration places 1,000 pending pods onto a generated cluster
//! that is about 60% full, snapshot compilation included.
//!
//! `cargo bench --bench affinity`; the same workload without criterion:
//! `cargo run --release --example throughput -- --nodes 5000 --pods 1000 --mix affinity`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::{Engine, Policy};

#[path = "support/gen.rs"]
mod generator;

use generator::{Gen, Mix};

fn affinity(c: &mut Criterion) {
    let mut group = c.benchmark_group("affinity");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    for (nodes, pods) in [(500, 1000), (5000, 1000)] {
        let mut g = Gen(42);
        let snapshot = generator::cluster(nodes, 60, false, &mut g);
        let pending = generator::pending(Mix::Affinity, pods, &mut g);
        group.throughput(Throughput::Elements(pods as u64));
        group.bench_with_input(BenchmarkId::new(format!("{nodes}_nodes"), pods), &pending, |b, pending| {
            b.iter(|| black_box(engine.place(&snapshot, pending)))
        });
    }
    group.finish();
}

criterion_group!(benches, affinity);
criterion_main!(benches);
