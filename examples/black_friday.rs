//! `black_friday`: what does each burst policy cost, and how long do pods wait, when a flash
//! crowd hits a shop's front end?
//!
//! ```text
//! cargo run --release --example black_friday -- [SCENARIO...] [--out-dir DIR] [--seed N] [--policies P,P...]
//! ```
//!
//! The scenario (default: the bundled `examples/scenarios/black-friday.yaml`: three
//! Standard_D4s_v3 nodes, a node pool that adds a node in 5 minutes, an ACI-like burst target)
//! meets a flash crowd on its `shop/storefront` Deployment, as its HPA would scale it: 12
//! replicas, ramping to 45 from minute 10 over 5 minutes, held for 40 minutes, back to 12 over
//! 15 minutes. The real engine and reconciler run it on simulated time once per policy
//! (`Never`, `VirtualNode`, `Overflow`, `CostAware`).
//!
//! Prints the comparison table; writes `black_friday.svg` (the timeline chart) and
//! `black_friday.json` (the report, see README "Simulation") into `--out-dir` (default: the
//! current directory). Exit status: 0 on success, 1 when the input cannot be loaded, 2 on a
//! usage error.

#[path = "support/black_friday_crowd.rs"]
mod black_friday_crowd;
use black_friday_crowd::crowd;

#[path = "support/cli.rs"]
mod cli;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use spillway::scenario::Scenario;
use spillway::sim::{SimConfig, SimPolicy, compare};

const DEFAULT_SCENARIO: &str = include_str!("scenarios/black-friday.yaml");

const USAGE: &str = "usage: black_friday [SCENARIO...] [--out-dir DIR] [--seed N] [--policies P,P...]\n\n\
Simulates a flash crowd on shop/storefront under each burst policy and compares cost and waits.\n\
Without SCENARIO the bundled examples/scenarios/black-friday.yaml is used.\n\n\
  --out-dir DIR        where black_friday.svg and black_friday.json go (default: .)\n\
  --seed N             seed of the run (default 42)\n\
  --policies P,P...    policies to compare (default Never,VirtualNode,Overflow,CostAware)\n\
  -h, --help           show this help";

struct Args {
    files: Vec<String>,
    out_dir: PathBuf,
    seed: u64,
    policies: Vec<SimPolicy>,
}

fn parse() -> Result<Option<Args>, String> {
    let mut args = Args { files: Vec::new(), out_dir: PathBuf::from("."), seed: 42, policies: SimPolicy::ALL.to_vec() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out-dir" => args.out_dir = it.next().ok_or("--out-dir needs a directory")?.into(),
            "--seed" => args.seed = it.next().and_then(|v| v.parse().ok()).ok_or("--seed needs a whole number")?,
            "--policies" => {
                let list = it.next().ok_or("--policies needs a list")?;
                args.policies = list
                    .split(',')
                    .map(|p| p.trim().parse::<SimPolicy>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
            }
            "-h" | "--help" => return Ok(None),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag:?}")),
            file => args.files.push(file.to_string()),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    cli::main("black_friday", USAGE, parse, run)
}

fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let scenario =
        if args.files.is_empty() { Scenario::from_yaml_str(DEFAULT_SCENARIO)? } else { Scenario::load(&args.files)? };
    let workload = crowd().workload();
    let config = SimConfig { seed: args.seed, progress: true, ..SimConfig::default() };
    let started = Instant::now();
    let report = compare(&scenario, &workload, &args.policies, &config)?;
    let elapsed = started.elapsed();
    println!(
        "Black Friday: storefront 12 → 45 → 12 replicas over {} simulated minutes, {} policies in {:.2} s\n",
        report.duration_seconds / 60,
        report.policies.len(),
        elapsed.as_secs_f64()
    );
    print!("{}", report.table());
    std::fs::create_dir_all(&args.out_dir)?;
    let svg = args.out_dir.join("black_friday.svg");
    let json = args.out_dir.join("black_friday.json");
    std::fs::write(&svg, report.to_svg()?)?;
    std::fs::write(&json, report.to_json())?;
    println!("\nwrote {} and {}", svg.display(), json.display());
    Ok(())
}
