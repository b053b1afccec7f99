//! `plan`: place the pending pods of one or more scenario files and print the plan as JSON.
//!
//! ```text
//! cargo run --release --example plan -- [FILE...] [--explain] [--drain-back [--max-moves N] [--max-per-owner N]]
//! ```
//!
//! Files are multi-document YAML or JSON holding Kubernetes `v1` Nodes and Pods, workloads
//! (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job) and spillway documents (`Policy`, or a
//! `KubeSchedulerConfiguration`). Without files, the bundled scenario
//! `examples/scenarios/black-friday.yaml` is used. With `--drain-back`, the output also holds
//! `"drain_back"`: the moves of pods running on burst targets back to VM nodes. Notes about skipped documents go to stderr; the
//! plan (see README, "The plan JSON") goes to stdout. Exit status: 0 on success, 1 when the input
//! cannot be loaded, 2 on a usage error.

#[path = "support/cli.rs"]
mod cli;

use std::error::Error;
use std::process::ExitCode;

use spillway::scenario::Scenario;
use spillway::{DrainBudget, Engine, PlaceOptions};

const DEFAULT_SCENARIO: &str = include_str!("scenarios/black-friday.yaml");

const USAGE: &str = "usage: plan [FILE...] [--explain] [--drain-back [--max-moves N] [--max-per-owner N]]\n\n\
Places the pending pods of the scenario FILEs (multi-document YAML/JSON) and prints the plan as JSON.\n\
Without FILEs the bundled scenario examples/scenarios/black-friday.yaml is used.\n\n\
  --explain            add, for every pod, each node's filter reasons and plugin scores,\n\
                       each burst target's reasons or cost, and each node pool's verdict\n\
  --drain-back         add \"drain_back\": moves of burst pods back to VM nodes\n\
  --max-moves N        drain-back budget: moves per round (default 10)\n\
  --max-per-owner N    drain-back budget: moves per owning controller (default 1)\n\
  -h, --help           show this help";

fn main() -> ExitCode {
    let mut explain = false;
    let mut drain: Option<DrainBudget> = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--explain" => explain = true,
            "--drain-back" => {
                drain.get_or_insert_with(DrainBudget::default);
            }
            "--max-moves" | "--max-per-owner" => {
                let Some(n) = args.next().and_then(|v| v.parse::<usize>().ok()) else {
                    eprintln!("plan: {arg} needs a whole number\n\n{USAGE}");
                    return ExitCode::from(2);
                };
                let budget = drain.get_or_insert_with(DrainBudget::default);
                if arg == "--max-moves" {
                    budget.max_moves = n;
                } else {
                    budget.max_per_owner = n;
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') && flag != "-" => {
                eprintln!("plan: unknown option {flag:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
            file => files.push(file.to_string()),
        }
    }
    match run(&files, explain, drain) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => cli::fail("plan", &*err),
    }
}

fn run(files: &[String], explain: bool, drain: Option<DrainBudget>) -> Result<String, Box<dyn Error>> {
    let scenario = if files.is_empty() { Scenario::from_yaml_str(DEFAULT_SCENARIO)? } else { Scenario::load(files)? };
    for note in &scenario.notes {
        eprintln!("note: {note}");
    }
    let engine = Engine::new(scenario.policy.clone())?;
    let plan = engine.place_with(&scenario.snapshot, &scenario.pending, PlaceOptions { explain });
    let mut json = serde_json::to_value(&plan)?;
    if let (Some(budget), Some(object)) = (drain, json.as_object_mut()) {
        let moves = engine.drain_back(&scenario.snapshot, &budget);
        object.insert("drain_back".to_string(), serde_json::to_value(moves)?);
    }
    Ok(serde_json::to_string_pretty(&json)?)
}
