//! `drain_back`: after a spike, 2,000 pods of the burst mix still run on an ACI-like burst
//! target while the VM nodes are only 30% full. `Engine::drain_back` ranks every burst pod by
//! the hourly cost it would save and checks each move with every filter, earlier moves assumed.
//! Two budgets: the default (10 moves a round, 1 per owner) and an unlimited round that plans
//! a move for every pod.
//!
//! `cargo bench --bench drain_back`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::{DrainBudget, Engine, Policy, Snapshot};

#[path = "support/gen.rs"]
mod generator;

use generator::Gen;

fn drain_back(c: &mut Criterion) {
    let mut group = c.benchmark_group("drain_back");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    let burst_pods = 2000;
    for nodes in [500, 5000] {
        let mut g = Gen(42);
        let base = generator::cluster(nodes, 30, true, &mut g);
        let target = base.burst_targets()[0].name.clone();
        let mut pods = base.pods().to_vec();
        pods.extend(generator::running_on_target(burst_pods, &target, &mut g));
        let snapshot = Snapshot::with_burst(base.nodes().to_vec(), base.burst_targets().to_vec(), pods)
            .expect("consistent snapshot");
        let unlimited = DrainBudget { max_moves: usize::MAX, max_per_owner: usize::MAX, ..DrainBudget::default() };
        for (name, budget) in [("default_budget", DrainBudget::default()), ("unlimited", unlimited)] {
            let plan = engine.drain_back(&snapshot, &budget);
            println!(
                "drain_back/{name}/{nodes}_nodes: {} moves, {} stay, saving {}/h",
                plan.moves.len(),
                plan.stays.len(),
                plan.savings_per_hour
            );
            group.throughput(Throughput::Elements(burst_pods as u64));
            group.bench_with_input(BenchmarkId::new(name, format!("{nodes}_nodes")), &budget, |b, budget| {
                b.iter(|| black_box(engine.drain_back(&snapshot, budget)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, drain_back);
criterion_main!(benches);
