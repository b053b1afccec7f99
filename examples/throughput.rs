//! `throughput`: places generated pods onto a generated cluster and prints one JSON line, so
//! anyone can reproduce spillway's numbers without criterion.
//!
//! ```text
//! cargo run --release --example throughput -- --nodes 5000 --pods 20000 --mix karpenter [--seed 7]
//! ```
//!
//! Mixes: `basic` (resources, taints, node selectors/affinity), `affinity` (30% with hostname
//! anti-affinity or zone spread), `burst` (nodes 95% full, an ACI-like target takes the
//! overflow), `karpenter` (Karpenter's "diverse" scheduling benchmark proportions). The time
//! covers one `Engine::place` call, snapshot compilation included; generation is not timed.
//!
//! Memory: `peak_rss_bytes` is the process's peak resident set (generator and snapshot
//! included); `engine_bytes` is how far the run raised it above the resident set just before
//! `Engine::place` (the engine's working memory: compiled snapshot, classes, kept scores,
//! plan), and `engine_bytes_per_node` divides that by the node count.
//!
//! Per-pod latency: each decision is timestamped as the engine hands it over
//! ([`Engine::place_observed`]); a pod's latency is the time since the previous decision (the
//! first pod's includes compiling the snapshot). `pod_p50_us`, `pod_p99_us` and `pod_max_us`
//! are their percentiles in microseconds.

use std::process::ExitCode;
use std::time::Instant;

use spillway::{Engine, Outcome, PlaceOptions, Pod, Policy};

#[path = "../benches/support/gen.rs"]
mod generator;

use generator::{Gen, Mix};

const USAGE: &str = "usage: throughput --nodes N --pods P --mix basic|affinity|burst|karpenter [--seed S]";

fn main() -> ExitCode {
    let (mut nodes, mut pods, mut mix, mut seed) = (5000usize, 10_000usize, Mix::Basic, 42u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let ok = match (flag.as_str(), value.as_deref()) {
            ("--nodes", Some(v)) => v.parse().map(|v| nodes = v).is_ok(),
            ("--pods", Some(v)) => v.parse().map(|v| pods = v).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            ("--mix", Some(v)) => Mix::parse(v).map(|m| mix = m).is_some(),
            _ => false,
        };
        if !ok {
            eprintln!("throughput: bad argument {flag:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let mut g = Gen(seed);
    let fill = if mix == Mix::Burst { 95 } else { 60 };
    let snapshot = generator::cluster(nodes, fill, mix == Mix::Burst, &mut g);
    let pending = generator::pending(mix, pods, &mut g);
    let engine = Engine::new(Policy::default()).expect("the default policy is valid");

    let refs: Vec<&Pod> = pending.iter().collect();
    let mut stamps: Vec<Instant> = Vec::with_capacity(pods);
    let rss_before = proc_status_bytes("VmRSS:");
    let start = Instant::now();
    let plan = engine.place_observed(&snapshot, &refs, PlaceOptions::default(), |_| stamps.push(Instant::now()));
    let seconds = start.elapsed().as_secs_f64();
    let peak = proc_status_bytes("VmHWM:");
    let engine_bytes = peak.saturating_sub(rss_before);
    let mut latencies: Vec<f64> = stamps
        .iter()
        .scan(start, |previous, &t| {
            let gap = t.duration_since(*previous).as_secs_f64() * 1e6;
            *previous = t;
            Some(gap)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies.get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
    };

    let count = |f: fn(&Outcome) -> bool| plan.decisions.iter().filter(|d| f(&d.outcome)).count();
    let placed = count(|o| matches!(o, Outcome::Node { .. }));
    let burst = count(|o| matches!(o, Outcome::Burst { .. }));
    let unschedulable = count(|o| matches!(o, Outcome::Unschedulable(_)));
    println!(
        "{{\"nodes\":{nodes},\"pods\":{pods},\"mix\":\"{}\",\"seed\":{seed},\"seconds\":{seconds:.6},\"pods_per_second\":{:.1},\"placed\":{placed},\"burst\":{burst},\"unschedulable\":{unschedulable},\"peak_rss_bytes\":{peak},\"engine_bytes\":{engine_bytes},\"engine_bytes_per_node\":{:.0},\"pod_p50_us\":{:.1},\"pod_p99_us\":{:.1},\"pod_max_us\":{:.1}}}",
        mix.name(),
        pods as f64 / seconds,
        engine_bytes as f64 / nodes.max(1) as f64,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    );
    ExitCode::SUCCESS
}

/// A size line of `/proc/self/status` (Linux: `VmHWM:` the peak resident set, `VmRSS:` the
/// current one) in bytes, or 0 where unknown.
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}
