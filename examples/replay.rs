//! `replay`: a real trace (or a day of generated arrivals) on a generated cluster, under each
//! burst policy.
//!
//! ```text
//! cargo run --release --example replay -- --trace alibaba-2017|alibaba-gpu-2023|google-2011|azure-llm
//!     [--data-dir DIR] [--scale F] [--hours H] [--speedup N] [--nodes N] [--node-cpu C]
//!     [--node-memory M] [--node-price P] [--pool-max N] [--policies P,P...] [--seed N] [--reconcile-seconds N]
//!     [--json FILE] [--svg FILE]
//! cargo run --release --example replay -- --diurnal PODS [--hours H] [--nodes N] ...
//! ```
//!
//! The cluster: `--nodes` VM nodes (default 1,000) of `--node-cpu` / `--node-memory` (default
//! 4 vCPU / 16 GiB, 3.86 vCPU / 12.4 GiB allocatable like Standard_D4s_v3, $0.192/h), a node
//! pool of the same nodes (5 minutes to provision, at most `--pool-max` nodes, default 1.2 ×
//! the nodes) and an ACI-like burst target without its default quotas. The traces are read
//! from `--data-dir` (default `../shared/data`, the folders with their SOURCE.md); see
//! `spillway::sim::traces` for how each becomes pods. Prints the comparison table and the
//! wall time; `--json` and `--svg` write the report and chart.

#[path = "support/cli.rs"]
mod cli;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use spillway::model::{BurstTarget, NodePool};
use spillway::scenario::Scenario;
use spillway::sim::traces::{Trace, TraceOptions};
use spillway::sim::{Diurnal, SimConfig, SimPolicy, compare};
use spillway::{Money, Node, Policy, Resources, Snapshot};

const USAGE: &str = "usage: replay (--trace NAME | --diurnal PODS) [options]\n\n\
Simulates a trace on a generated cluster under each burst policy and compares cost and waits.\n\n\
  --trace NAME        alibaba-2017, alibaba-gpu-2023, google-2011 or azure-llm\n\
  --diurnal PODS      instead of a trace: PODS arrivals over --hours (default 24) with a daily cycle\n\
  --data-dir DIR      folder holding the traces (default ../shared/data)\n\
  --scale F           fraction of the trace's pods kept (default: alibaba-2017 0.01, google-2011 0.2, else 1)\n\
  --hours H           keep the first H hours of the trace\n\
  --speedup N         divide the trace's times by N (default: alibaba-gpu-2023 100, else 1)\n\
  --nodes N           VM nodes at the start (default 1000)\n\
  --node-cpu C        allocatable cpu of a node (default 3860m)\n\
  --node-memory M     allocatable memory of a node (default 12698Mi)\n\
  --node-price P      hourly price of a node (default 0.192; alibaba-gpu-2023: 310 nodes of 32 / 256Gi at 1.536)\n\
  --pool-max N        most nodes the autoscaler may reach (default 1.2 x nodes)\n\
  --policies P,P...   policies to compare (default Never,VirtualNode,Overflow,CostAware)\n\
  --seed N            seed (default 42)\n\
  --reconcile-seconds N  shortest time between reconcile steps (default 10; waits are measured to it)\n\
  --json FILE         write the report as JSON\n\
  --svg FILE          write the chart\n\
  -h, --help          show this help";

#[derive(Debug)]
struct Args {
    trace: Option<Trace>,
    diurnal: Option<u64>,
    data_dir: PathBuf,
    scale: Option<f64>,
    hours: Option<u64>,
    speedup: Option<u64>,
    nodes: usize,
    node_cpu: String,
    node_memory: String,
    node_price: String,
    pool_max: Option<i64>,
    policies: Vec<SimPolicy>,
    seed: u64,
    reconcile_seconds: u64,
    json: Option<PathBuf>,
    svg: Option<PathBuf>,
}

fn parse() -> Result<Option<Args>, String> {
    let mut a = Args {
        trace: None,
        diurnal: None,
        data_dir: PathBuf::from("../shared/data"),
        scale: None,
        hours: None,
        speedup: None,
        nodes: 1000,
        node_cpu: "3860m".into(),
        node_memory: "12698Mi".into(),
        node_price: "0.192".into(),
        pool_max: None,
        policies: SimPolicy::ALL.to_vec(),
        seed: 42,
        reconcile_seconds: 10,
        json: None,
        svg: None,
    };
    let mut it = std::env::args().skip(1);
    fn value<T: std::str::FromStr>(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<T, String> {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse().map_err(|_| format!("{flag}: {v:?} is not valid"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--trace" => a.trace = Some(it.next().ok_or("--trace needs a name")?.parse()?),
            "--diurnal" => a.diurnal = Some(value(&mut it, "--diurnal")?),
            "--data-dir" => a.data_dir = value(&mut it, "--data-dir")?,
            "--scale" => a.scale = Some(value(&mut it, "--scale")?),
            "--hours" => a.hours = Some(value(&mut it, "--hours")?),
            "--speedup" => a.speedup = Some(value(&mut it, "--speedup")?),
            "--nodes" => a.nodes = value(&mut it, "--nodes")?,
            "--node-cpu" => a.node_cpu = value(&mut it, "--node-cpu")?,
            "--node-memory" => a.node_memory = value(&mut it, "--node-memory")?,
            "--node-price" => a.node_price = value(&mut it, "--node-price")?,
            "--pool-max" => a.pool_max = Some(value(&mut it, "--pool-max")?),
            "--seed" => a.seed = value(&mut it, "--seed")?,
            "--reconcile-seconds" => a.reconcile_seconds = value(&mut it, "--reconcile-seconds")?,
            "--json" => a.json = Some(value(&mut it, "--json")?),
            "--svg" => a.svg = Some(value(&mut it, "--svg")?),
            "--policies" => {
                let list: String = value(&mut it, "--policies")?;
                a.policies =
                    list.split(',').map(|p| p.trim().parse()).collect::<Result<_, _>>().map_err(|e| format!("{e}"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.trace.is_none() == a.diurnal.is_none() {
        return Err("give exactly one of --trace NAME and --diurnal PODS".into());
    }
    if a.trace == Some(Trace::AlibabaGpu2023) {
        // The GPU trace's pods are sized for its 310 CPU-only machines (32 vCPU, 256 GiB): unless
        // told otherwise, the cluster is those machines (priced like Standard_D32s_v3).
        let given = |flag: &str| std::env::args().any(|x| x == flag);
        if !given("--nodes") {
            a.nodes = 310;
        }
        if !given("--node-cpu") {
            a.node_cpu = "32".into();
        }
        if !given("--node-memory") {
            a.node_memory = "256Gi".into();
        }
        if !given("--node-price") {
            a.node_price = "1.536".into();
        }
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    cli::main("replay", USAGE, parse, run)
}

/// `n` VM nodes, their pool and an ACI-like target without quotas; Overflow by default.
fn cluster(a: &Args) -> Result<Scenario, Box<dyn Error>> {
    let allocatable =
        Resources::parse([("cpu", a.node_cpu.as_str()), ("memory", a.node_memory.as_str()), ("pods", "110")])?;
    let price: Money = a.node_price.parse()?;
    let zones = ["eastus-1", "eastus-2", "eastus-3"];
    let nodes: Vec<Node> = (0..a.nodes)
        .map(|i| {
            let mut node = Node::new(format!("aks-nodepool1-{i}"))
                .with_allocatable(allocatable.clone())
                .with_label("agentpool", "nodepool1")
                .with_label("kubernetes.io/hostname", format!("aks-nodepool1-{i}"))
                .with_label("topology.kubernetes.io/zone", zones[i % 3]);
            node.hourly_cost = Some(price);
            node
        })
        .collect();
    let mut aci = BurstTarget::aci_like("aci-eastus", "eastus");
    aci.quota = Default::default();
    let pool = NodePool {
        name: "nodepool1".into(),
        allocatable,
        labels: [("agentpool".to_string(), "nodepool1".to_string())].into_iter().collect(),
        taints: Vec::new(),
        hourly_cost: price,
        provisioning_seconds: 300,
        max_nodes: a.pool_max.unwrap_or((a.nodes as i64 * 6 + 4) / 5),
        current_nodes: a.nodes as i64,
    };
    let snapshot = Snapshot::with_burst(nodes, vec![aci], Vec::new())?.with_node_pools(vec![pool])?;
    Ok(Scenario {
        snapshot,
        pending: Vec::new(),
        policy: Policy::default(),
        notes: Vec::new(),
        namespaces: Default::default(),
    })
}

fn run(a: &Args) -> Result<(), Box<dyn Error>> {
    let workload = match (a.trace, a.diurnal) {
        (Some(trace), _) => {
            let options = TraceOptions {
                scale: a.scale.unwrap_or(match trace {
                    Trace::Alibaba2017 => 0.01,
                    Trace::Google2011 => 0.2,
                    _ => 1.0,
                }),
                hours: a.hours,
                speedup: a.speedup.unwrap_or(if trace == Trace::AlibabaGpu2023 { 100 } else { 1 }),
                seed: a.seed,
                ..TraceOptions::default()
            };
            trace.load(&a.data_dir, &options)?
        }
        (None, Some(pods)) => Diurnal {
            namespace: "web".into(),
            template: "api".into(),
            cpu_millis: 1000,
            memory_bytes: 2 << 30,
            pods,
            hours: a.hours.unwrap_or(24),
            amplitude: 0.9,
            mean_duration_seconds: 1800,
        }
        .workload(a.seed),
        (None, None) => unreachable!("checked by parse"),
    };
    let scenario = cluster(a)?;
    let config = SimConfig {
        seed: a.seed,
        progress: true,
        reconcile_interval: std::time::Duration::from_secs(a.reconcile_seconds.max(1)),
        ..SimConfig::default()
    };
    eprintln!(
        "replay: {} — {} events, {} arrivals, {} nodes",
        workload.name,
        workload.events.len(),
        workload.arrivals(),
        a.nodes
    );
    let started = Instant::now();
    let report = compare(&scenario, &workload, &a.policies, &config)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}: {} simulated hours, {} policies in {seconds:.1} s ({:.1} s per policy)\n",
        workload.name,
        report.duration_seconds / 3600,
        report.policies.len(),
        seconds / report.policies.len().max(1) as f64
    );
    print!("{}", report.table());
    if let Some(path) = &a.json {
        std::fs::write(path, report.to_json())?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &a.svg {
        std::fs::write(path, report.to_svg()?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
