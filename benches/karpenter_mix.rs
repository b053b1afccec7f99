//! `karpenter_mix`: the proportions of Karpenter's "diverse" scheduling benchmark
//! (kubernetes-sigs/karpenter, pkg/controllers/provisioning/scheduling/
//! scheduling_benchmark_test.go): one fifth each of plain pods, zonal spread (maxSkew 1,
//! DoNotSchedule), hostname spread, zonal self-affinity and hostname anti-affinity, in
//! deployments of 20; CPU from {100, 250, 500, 1000, 1500}m, memory from {100Mi, 256Mi, 512Mi,
//! 1Gi, 2Gi, 4Gi}; placed onto 5,000 existing nodes over 3 zones (about 60% full).
//!
//! 20,000 pods, as in Karpenter's benchmark: one iteration takes about 0.6 s on the shared 2-core
//! machine (the cluster is too full for the last ~2,000 pods, which end unschedulable).
//! Reproduce one iteration without criterion with
//! `cargo run --release --example throughput -- --nodes 5000 --pods 20000 --mix karpenter`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::{Engine, Policy};

#[path = "support/gen.rs"]
mod generator;

use generator::{Gen, Mix};

const NODES: usize = 5000;
const PODS: usize = 20_000;

fn karpenter_mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("karpenter_mix");
    // About 0.6 s an iteration: ten flat samples (one iteration each) and a one-second warm-up
    // take well under a minute.
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    let mut g = Gen(42);
    let snapshot = generator::cluster(NODES, 60, false, &mut g);
    let pending = generator::pending(Mix::Karpenter, PODS, &mut g);
    group.throughput(Throughput::Elements(PODS as u64));
    group.bench_with_input(BenchmarkId::new(format!("{NODES}_nodes"), PODS), &pending, |b, pending| {
        b.iter(|| black_box(engine.place(&snapshot, pending)))
    });
    group.finish();
}

criterion_group!(benches, karpenter_mix);
criterion_main!(benches);
