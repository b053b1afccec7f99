//! `plan`: place the pending pods of one or more scenario files and print the plan as JSON.
//!
//! ```text
//! cargo run --release --example plan -- [FILE...] [--explain]
//! ```
//!
//! Files are multi-document YAML or JSON holding Kubernetes `v1` Nodes and Pods, workloads
//! (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job) and spillway documents (`Policy`, or a
//! `KubeSchedulerConfiguration`). Without files, the bundled scenario
//! `examples/scenarios/default.yaml` is used. Notes about skipped documents go to stderr; the
//! plan (see README, "The plan JSON") goes to stdout. Exit status: 0 on success, 1 when the input
//! cannot be loaded, 2 on a usage error.

use std::error::Error;
use std::process::ExitCode;

use spillway::scenario::Scenario;
use spillway::{Engine, PlaceOptions};

const DEFAULT_SCENARIO: &str = include_str!("scenarios/black-friday.yaml");

const USAGE: &str = "usage: plan [FILE...] [--explain]\n\n\
Places the pending pods of the scenario FILEs (multi-document YAML/JSON) and prints the plan as JSON.\n\
Without FILEs the bundled scenario examples/scenarios/default.yaml is used.\n\n\
  --explain   add, for every pod, each node's filter reasons and plugin scores\n\
  -h, --help  show this help";

fn main() -> ExitCode {
    let mut explain = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--explain" => explain = true,
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
    match run(&files, explain) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let mut message = format!("plan: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(files: &[String], explain: bool) -> Result<String, Box<dyn Error>> {
    let scenario = if files.is_empty() { Scenario::from_yaml_str(DEFAULT_SCENARIO)? } else { Scenario::load(files)? };
    for note in &scenario.notes {
        eprintln!("note: {note}");
    }
    let engine = Engine::new(scenario.policy.clone())?;
    let plan = engine.place_with(&scenario.snapshot, &scenario.pending, PlaceOptions { explain });
    Ok(serde_json::to_string_pretty(&plan)?)
}
