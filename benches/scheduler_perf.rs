//! `scheduler_perf`: kube-scheduler's own benchmark workloads
//! (kubernetes/kubernetes test/integration/scheduler_perf), rebuilt from the node and pod
//! templates and the sizes in `../shared/data/scheduler-perf/` (templates and `workloads.csv`,
//! see its SOURCE.md), so spillway's pods/s stand beside kube-scheduler's CI floors test for test.
//!
//! For each row of `workloads.csv` whose templates spillway can express (SchedulingBasic,
//! SchedulingPodAntiAffinity, SchedulingPodAffinity, SchedulingPreferredPodAffinity,
//! SchedulingPreferredPodAntiAffinity, SchedulingNodeAffinity, TopologySpreading,
//! PreferredTopologySpreading, MixedSchedulingBasePod, Unschedulable and
//! SchedulingRequiredPodAntiAffinityWithNSSelector, at 500 and 5,000 nodes):
//!
//! 1. the node template is rendered once per node (`apiVersion: v1`, `kind: Node`, name
//!    `scheduler-perf-NNNNN`, label `kubernetes.io/hostname` as a kubelet sets it, plus the
//!    row's `node_labels`, values assigned round-robin) and the init pod templates once per init
//!    pod (name `<generateName><index>`, namespace `sched-setup`, or `init-ns-<j>` for the
//!    namespace-selector rows), all loaded with `spillway::scenario::ScenarioBuilder`;
//! 2. a first `Engine::place` run plans the init pods, which are then bound to their nodes;
//!    init pods it cannot place stay pending (the Unschedulable rows), as in kube-scheduler's
//!    queue, and are passed again with the measured pods;
//! 3. the bench times one `Engine::place` of the measure pods (namespace `sched-test`, or
//!    `measure-ns-0`) onto that snapshot, snapshot compilation included.
//!
//! Namespaces: the affinity templates list `namespaces: ["sched-test", "sched-setup"]`, the
//! namespaces of the scheduler_perf harness these templates were written for, so init and
//! measure pods are put there and the terms select each other as intended. The
//! namespace-selector rows get Namespace documents labelled `team: devops`, as upstream's
//! `namespace-with-labels.yaml`.
//!
//! Once per workload the bench prints spillway's pods/s (the median of its own per-iteration
//! times) beside the kube-scheduler CI floor of the same test from
//! `../shared/reference/kube-scheduler.md` §5. The floors are for 5,000-node runs with more
//! pods, measured end to end through an API server; spillway's figure is the in-memory
//! algorithm alone. Rows using volumes, secrets, preemption, churn or templates that are not in
//! the data directory are listed as skipped. Without the data directory the bench prints why
//! and measures nothing.
//!
//! `cargo bench --bench scheduler_perf [-- FILTER]`

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::scenario::ScenarioBuilder;
use spillway::{Engine, Pod, Policy, Snapshot};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/scheduler-perf");

/// Tests spillway cannot express, and why.
const NOT_EXPRESSIBLE: &[(&str, &str)] = &[
    ("SchedulingSecrets", "secret volumes (template not in the data)"),
    ("SchedulingInTreePVs", "PV/PVC binding is not simulated"),
    ("SchedulingMigratedInTreePVs", "PV/PVC binding and attachable-volume limits are not simulated"),
    ("SchedulingCSIPVs", "PV/PVC binding and attachable-volume limits are not simulated"),
    ("PreemptionBasic", "spillway does not preempt"),
    ("PreemptionPVs", "spillway does not preempt; volumes"),
    ("SchedulingWithMixedChurn", "churn operations over time"),
];

/// kube-scheduler's CI floor (pods/s) per test, with the upstream workload it belongs to
/// (`kube-scheduler.md` §5).
const FLOORS: &[(&str, f64, &str)] = &[
    ("SchedulingBasic", 680.0, "5000Nodes_10000Pods"),
    ("SchedulingPodAntiAffinity", 60.0, "5000Nodes_2000Pods"),
    ("SchedulingPodAffinity", 35.0, "5000Nodes_5000Pods"),
    ("SchedulingPreferredPodAffinity", 90.0, "5000Nodes_5000Pods"),
    ("SchedulingPreferredPodAntiAffinity", 90.0, "5000Nodes_5000Pods"),
    ("SchedulingNodeAffinity", 220.0, "5000Nodes_10000Pods"),
    ("TopologySpreading", 460.0, "5000Nodes_5000Pods"),
    ("PreferredTopologySpreading", 340.0, "5000Nodes_5000Pods"),
    ("MixedSchedulingBasePod", 140.0, "5000Nodes_5000Pods"),
    ("Unschedulable", 590.0, "5kNodes/100Init/10kPods"),
    ("SchedulingRequiredPodAntiAffinityWithNSSelector", 24.0, "6000Nodes_2000Pods"),
];

/// One expressible row of `workloads.csv`.
#[derive(Debug, Clone)]
struct Workload {
    test: String,
    workload: String,
    nodes: usize,
    node_template: String,
    /// `(key, values)`: values assigned to nodes round-robin.
    node_labels: Option<(String, Vec<String>)>,
    /// `(template, count, namespace)` groups of init pods.
    init: Vec<(String, usize, String)>,
    measure_template: String,
    measure: usize,
    measure_namespace: String,
    /// Namespaces to create, labelled `team: devops`.
    namespaces: Vec<String>,
}

/// A workload ready to measure.
struct Prepared {
    snapshot: Snapshot,
    pending: Vec<Pod>,
    init_bound: usize,
    init_total: usize,
}

fn template(dir: &Path, name: &str) -> Result<String, String> {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::read_to_string(&path).map_err(|_| format!("template {name}.yaml is not in the data"))
}

/// Parses a row, or says why it is skipped.
fn parse_row(dir: &Path, line: &str) -> Result<Workload, String> {
    let cols: Vec<&str> = line.split(',').collect();
    if cols.len() < 10 {
        return Err(format!("malformed row {line:?}"));
    }
    let (test, workload) = (cols[0].to_string(), cols[1].to_string());
    if let Some((_, why)) = NOT_EXPRESSIBLE.iter().find(|(t, _)| *t == test) {
        return Err((*why).to_string());
    }
    let nodes: usize =
        cols[3].parse().map_err(|_| format!("node set {:?} needs templates not in the data", cols[3]))?;
    if nodes != 500 && nodes != 5000 {
        return Err(format!("{nodes} nodes (only the 500- and 5000-node sizes are rebuilt)"));
    }
    let node_template = "node-default".to_string(); // "default" has node-default.yaml's capacity.
    let node_labels = (!cols[7].is_empty())
        .then(|| {
            let (key, values) = cols[7].split_once('=')?;
            Some((key.to_string(), values.split('|').map(str::to_string).collect()))
        })
        .flatten();
    let init_templates: Vec<&str> = cols[8].split('|').filter(|t| !t.is_empty()).collect();
    let (mut init, mut namespaces, mut measure_namespace) = (Vec::new(), Vec::new(), "sched-test".to_string());
    let spec = cols[4];
    if let Some(per_ns) = spec.strip_suffix("ns") {
        let (n, m) = per_ns.split_once('x').ok_or_else(|| format!("init pods {spec:?}"))?;
        let (n, m): (usize, usize) = (n.parse().map_err(|_| spec)?, m.parse().map_err(|_| spec)?);
        for j in 0..m {
            let ns = format!("init-ns-{j}");
            init.push((init_templates[0].to_string(), n, ns.clone()));
            namespaces.push(ns);
        }
        measure_namespace = "measure-ns-0".into();
        namespaces.push(measure_namespace.clone());
    } else if let Some((n, m)) = spec.split_once('x') {
        let (n, m): (usize, usize) = (n.parse().map_err(|_| spec)?, m.parse().map_err(|_| spec)?);
        if m != init_templates.len() {
            return Err(format!("init pods {spec:?} do not match {} templates", init_templates.len()));
        }
        init.extend(init_templates.iter().map(|t| (t.to_string(), n, "sched-setup".to_string())));
    } else {
        let n: usize = spec.parse().map_err(|_| format!("init pods {spec:?}"))?;
        if n > 0 {
            init.push((init_templates.first().ok_or("no init template")?.to_string(), n, "sched-setup".into()));
        }
    }
    let measure: usize = cols[5].parse().map_err(|_| format!("measure pods {:?}", cols[5]))?;
    let measure_template = cols[9].to_string();
    for t in init.iter().map(|(t, _, _)| t.as_str()).chain([measure_template.as_str(), node_template.as_str()]) {
        template(dir, t)?;
    }
    Ok(Workload {
        test,
        workload,
        nodes,
        node_template,
        node_labels,
        init,
        measure_template,
        measure,
        measure_namespace,
        namespaces,
    })
}

/// Renders one object from a template: `generateName: x` becomes `name`, plus `namespace` and
/// extra labels, at the indentation of `generateName`.
fn render(template: &str, name: &str, namespace: Option<&str>, labels: &[(&str, &str)], out: &mut String) {
    if !template.trim_start().starts_with("apiVersion") {
        out.push_str("apiVersion: v1\nkind: Node\n"); // node-default.yaml has neither.
    }
    for line in template.trim_end().lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("generateName:") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}name: {name}\n"));
            if let Some(ns) = namespace {
                out.push_str(&format!("{indent}namespace: {ns}\n"));
            }
            if !labels.is_empty() {
                out.push_str(&format!("{indent}labels:\n"));
                for (k, v) in labels {
                    out.push_str(&format!("{indent}  {k}: {v}\n"));
                }
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("---\n");
}

fn generate_name(template: &str) -> &str {
    template.lines().find_map(|l| l.trim_start().strip_prefix("generateName:")).map_or("obj-", str::trim)
}

fn pods_yaml(dir: &Path, template_name: &str, count: usize, namespace: &str, start: usize) -> String {
    let text = template(dir, template_name).expect("checked when the row was parsed");
    let prefix = generate_name(&text).to_string();
    let mut out = String::with_capacity(count * (text.len() + 64));
    for i in start..start + count {
        render(&text, &format!("{prefix}{i:05}"), Some(namespace), &[], &mut out);
    }
    out
}

fn prepare(dir: &Path, w: &Workload, engine: &Engine) -> Result<Prepared, String> {
    let node_text = template(dir, &w.node_template)?;
    let mut nodes = String::new();
    for i in 0..w.nodes {
        let name = format!("scheduler-perf-{i:05}");
        let mut labels = vec![("kubernetes.io/hostname", name.as_str())];
        if let Some((key, values)) = &w.node_labels {
            labels.push((key.as_str(), values[i % values.len()].as_str()));
        }
        render(&node_text, &name, None, &labels, &mut nodes);
    }
    let mut builder = ScenarioBuilder::new().add_yaml(&nodes, "nodes").map_err(|e| format!("nodes: {e:?}"))?;
    for ns in &w.namespaces {
        let doc = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    team: devops\n");
        builder = builder.add_yaml(&doc, ns.as_str()).map_err(|e| format!("namespace {ns}: {e:?}"))?;
    }
    let mut index = 0;
    for (t, count, ns) in &w.init {
        let text = pods_yaml(dir, t, *count, ns, index);
        index += count;
        builder = builder.add_yaml(&text, format!("init {t}")).map_err(|e| format!("init pods {t}: {e:?}"))?;
    }
    let scenario = builder.build().map_err(|e| format!("init scenario: {e:?}"))?;
    let plan = engine.place(&scenario.snapshot, &scenario.pending);
    let placed: HashMap<&str, &str> = plan.decisions.iter().filter_map(|d| Some((d.pod.as_str(), d.node()?))).collect();
    let (mut bound, mut leftover) = (Vec::new(), Vec::new());
    for pod in &scenario.pending {
        match placed.get(pod.key().as_str()) {
            Some(node) => bound.push(pod.clone().on_node(*node)),
            None => leftover.push(pod.clone()),
        }
    }
    let init_bound = bound.len();
    let snapshot = Snapshot::new(scenario.snapshot.nodes().to_vec(), bound)
        .map_err(|e| format!("snapshot: {e}"))?
        .with_namespaces(scenario.snapshot.namespaces().clone());
    let text = pods_yaml(dir, &w.measure_template, w.measure, &w.measure_namespace, index);
    let measure = ScenarioBuilder::new()
        .add_yaml(&text, "measure")
        .and_then(ScenarioBuilder::build)
        .map_err(|e| format!("measure pods: {e:?}"))?;
    let mut pending = leftover;
    pending.extend(measure.pending);
    Ok(Prepared { snapshot, pending, init_bound, init_total: scenario.pending.len() })
}

fn scheduler_perf(c: &mut Criterion) {
    let dir = PathBuf::from(DATA);
    let csv = match std::fs::read_to_string(dir.join("workloads.csv")) {
        Ok(csv) => csv,
        Err(e) => {
            eprintln!("scheduler_perf: skipped, {DATA}/workloads.csv is not readable ({e})");
            return;
        }
    };
    let mut workloads = Vec::new();
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        match parse_row(&dir, line) {
            Ok(w) => workloads.push(w),
            Err(why) => {
                let mut cols = line.split(',');
                let (test, workload) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
                println!("scheduler_perf: skipping {test}/{workload}: {why}");
            }
        }
    }
    let engine = Engine::new(Policy::default()).expect("default policy is valid");
    let mut group = c.benchmark_group("scheduler_perf");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for w in &workloads {
        // Prepared on first use, so a filter that skips the workload skips its set-up too.
        let prepared: OnceCell<Prepared> = OnceCell::new();
        let times = RefCell::new(Vec::new());
        group.throughput(Throughput::Elements(w.measure as u64));
        group.bench_function(BenchmarkId::new(&w.test, &w.workload), |b| {
            let p = prepared
                .get_or_init(|| prepare(&dir, w, &engine).unwrap_or_else(|e| panic!("{}/{}: {e}", w.test, w.workload)));
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(engine.place(&p.snapshot, &p.pending));
                }
                let elapsed = start.elapsed();
                times.borrow_mut().push(elapsed.as_secs_f64() / iters as f64);
                elapsed
            })
        });
        let mut times = times.into_inner();
        let Some(p) = prepared.get() else { continue };
        if times.is_empty() {
            continue;
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let rate = w.measure as f64 / median;
        let plan = engine.place(&p.snapshot, &p.pending);
        let placed = plan.summary.nodes;
        let floor = FLOORS.iter().find(|(t, _, _)| *t == w.test);
        let versus = floor.map_or_else(
            || "no kube-scheduler CI floor listed".to_string(),
            |(_, f, at)| format!("kube-scheduler CI floor {f:.0} pods/s ({} {at}): {:.0}x", w.test, rate / f),
        );
        println!(
            "scheduler_perf {}/{}: spillway {rate:.0} pods/s ({:.1} ms for {} measure pods; {} of {} pending placed; \
             init {} of {} bound) vs {versus}",
            w.test,
            w.workload,
            median * 1e3,
            w.measure,
            placed,
            p.pending.len(),
            p.init_bound,
            p.init_total,
        );
    }
    group.finish();
}

criterion_group!(benches, scheduler_perf);
criterion_main!(benches);
