//! `burst`: VM nodes 95% full and an ACI-like burst target with a raised quota, so most of the
//! pending pods (which tolerate the virtual-kubelet taint) fail every VM node and go through the
//! burst path: target compatibility, instance sizing, quota headroom and hourly cost. Each
//! iteration places 1,000 pods of the `basic` rule mix, snapshot compilation included.
//!
//! `cargo bench --bench burst`; without criterion:
//! `cargo run --release --example throughput -- --nodes 5000 --pods 1000 --mix burst`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::{Engine, Policy};

#[path = "support/gen.rs"]
mod generator;

use generator::{Gen, Mix};

fn burst(c: &mut Criterion) {
    let mut group = c.benchmark_group("burst");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    for (nodes, pods) in [(500, 1000), (5000, 1000)] {
        let mut g = Gen(42);
        let snapshot = generator::cluster(nodes, 95, true, &mut g);
        let pending = generator::pending(Mix::Burst, pods, &mut g);
        let plan = engine.place(&snapshot, &pending);
        println!(
            "burst/{nodes}_nodes: {} of {pods} pods burst, {} on VM nodes, {} unschedulable",
            plan.summary.bursts, plan.summary.nodes, plan.summary.unschedulable
        );
        group.throughput(Throughput::Elements(pods as u64));
        group.bench_with_input(BenchmarkId::new(format!("{nodes}_nodes"), pods), &pending, |b, pending| {
            b.iter(|| black_box(engine.place(&snapshot, pending)))
        });
    }
    group.finish();
}

criterion_group!(benches, burst);
criterion_main!(benches);
