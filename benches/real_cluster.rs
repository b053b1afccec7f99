//! `real_cluster`: the 1,523 nodes and 8,152 pods of Alibaba's cluster-trace-gpu-v2023
//! ("openb", Weng et al., "Beware of Fragmentation", USENIX ATC 2023), read from
//! `../shared/data/alibaba-gpu-v2023/` (see its SOURCE.md). Each iteration places all 8,152
//! pods, pending at once in trace creation order, onto the empty cluster.
//!
//! - Nodes (`openb_node_list_all_node.csv`): allocatable `cpu` (millicores), `memory` (MiB),
//!   `pods` 110 and, on GPU nodes, `alibabacloud.com/gpu-milli` = GPUs × 1000; labels
//!   `kubernetes.io/hostname` and, on GPU nodes, the GPU model as
//!   `aliyun.accelerator/nvidia_name` (G2, T4, P100, V100M16, G3, V100M32, A10).
//! - Pods: requests `cpu`, `memory` and `alibabacloud.com/gpu-milli` = `num_gpu` × `gpu_milli`
//!   (GPU-sharing pods ask for a share of one GPU; the sum per node is checked, not the
//!   per-device packing). A `gpu_spec` becomes a node selector on the GPU model (one model) or
//!   required node affinity `In` (several).
//! - `default`: `openb_pod_list_default.csv` as asked; its `gpu_spec` column is empty in every
//!   row, so it has no GPU-model constraints. `gpuspec33`: `openb_pod_list_gpuspec33.csv`, the
//!   same pods with a model constraint on about a third of the GPU pods.
//!
//! If the data directory is absent the bench prints why and measures nothing.
//!
//! `cargo bench --bench real_cluster`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use spillway::model::{NodeSelectorOperator, NodeSelectorRequirement};
use spillway::{Engine, Node, NodeSelector, NodeSelectorTerm, Pod, Policy, Resources, Snapshot};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/alibaba-gpu-v2023");
const GPU: &str = "alibabacloud.com/gpu-milli";
const MODEL: &str = "aliyun.accelerator/nvidia_name";

/// The rows of a CSV file with a header and no quoted fields, as maps from column to value.
fn rows(path: &Path) -> Result<Vec<Vec<(String, String)>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or_else(|| format!("{}: empty", path.display()))?.split(',').collect();
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| header.iter().zip(l.split(',')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
        .collect())
}

fn field<'a>(row: &'a [(String, String)], key: &str) -> &'a str {
    row.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
}

fn nodes(dir: &Path) -> Result<Vec<Node>, String> {
    rows(&dir.join("openb_node_list_all_node.csv"))?
        .iter()
        .map(|r| {
            let name = field(r, "sn");
            let gpus: i64 = field(r, "gpu").parse().map_err(|e| format!("node {name}: gpu: {e}"))?;
            let memory = format!("{}Mi", field(r, "memory_mib"));
            let cpu = format!("{}m", field(r, "cpu_milli"));
            let gpu_milli = (gpus * 1000).to_string();
            let mut list = vec![("cpu", cpu.as_str()), ("memory", memory.as_str()), ("pods", "110")];
            if gpus > 0 {
                list.push((GPU, gpu_milli.as_str()));
            }
            let allocatable = Resources::parse(list).map_err(|e| format!("node {name}: {e}"))?;
            let mut node = Node::new(name).with_allocatable(allocatable).with_label("kubernetes.io/hostname", name);
            let model = field(r, "model");
            if !model.is_empty() {
                node = node.with_label(MODEL, model);
            }
            Ok(node)
        })
        .collect()
}

fn pods(dir: &Path, file: &str) -> Result<Vec<Pod>, String> {
    rows(&dir.join(file))?
        .iter()
        .map(|r| {
            let name = field(r, "name");
            let num_gpu: i64 = field(r, "num_gpu").parse().map_err(|e| format!("pod {name}: num_gpu: {e}"))?;
            let gpu_milli: i64 = field(r, "gpu_milli").parse().map_err(|e| format!("pod {name}: gpu_milli: {e}"))?;
            let cpu = format!("{}m", field(r, "cpu_milli"));
            let memory = format!("{}Mi", field(r, "memory_mib"));
            let gpu = (num_gpu * gpu_milli).to_string();
            let mut list = vec![("cpu", cpu.as_str()), ("memory", memory.as_str())];
            if num_gpu * gpu_milli > 0 {
                list.push((GPU, gpu.as_str()));
            }
            let requests = Resources::parse(list).map_err(|e| format!("pod {name}: {e}"))?;
            let mut pod = Pod::new("default", name).with_container(requests).with_label("qos", field(r, "qos"));
            pod.creation_order =
                field(r, "creation_time").parse().map_err(|e| format!("pod {name}: creation_time: {e}"))?;
            let mut models: Vec<String> =
                field(r, "gpu_spec").split('|').filter(|m| !m.is_empty()).map(str::to_string).collect();
            models.sort();
            models.dedup();
            match models.len() {
                0 => {}
                1 => pod = pod.with_node_selector(MODEL, &models[0]),
                _ => {
                    pod.node_affinity.required = Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: vec![NodeSelectorRequirement {
                                key: MODEL.into(),
                                operator: NodeSelectorOperator::In,
                                values: models,
                            }],
                            match_fields: vec![],
                        }],
                    })
                }
            }
            Ok(pod)
        })
        .collect()
}

fn real_cluster(c: &mut Criterion) {
    let dir = Path::new(DATA);
    let loaded = nodes(dir).and_then(|n| Ok((n, pods(dir, "openb_pod_list_default.csv")?)));
    let (nodes, default_pods) = match loaded {
        Ok(data) => data,
        Err(e) => {
            eprintln!("real_cluster: skipped, the Alibaba GPU trace is not readable ({e}); expected it in {DATA}");
            return;
        }
    };
    let mut workloads = vec![("default", default_pods)];
    match pods(dir, "openb_pod_list_gpuspec33.csv") {
        Ok(p) => workloads.push(("gpuspec33", p)),
        Err(e) => eprintln!("real_cluster: gpuspec33 skipped ({e})"),
    }
    let snapshot = Snapshot::new(nodes, Vec::new()).expect("node names are unique");
    let engine = Engine::new(Policy::default()).expect("default policy is valid");

    let mut group = c.benchmark_group("real_cluster");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    for (name, pending) in &workloads {
        let plan = engine.place(&snapshot, pending);
        println!(
            "real_cluster/{name}: {} nodes, {} pods: {} placed, {} unschedulable",
            snapshot.nodes().len(),
            pending.len(),
            plan.summary.nodes,
            plan.summary.unschedulable
        );
        group.throughput(Throughput::Elements(pending.len() as u64));
        group.bench_with_input(
            BenchmarkId::new(*name, format!("{}_nodes_{}_pods", snapshot.nodes().len(), pending.len())),
            pending,
            |b, pending| b.iter(|| black_box(engine.place(&snapshot, pending))),
        );
    }
    group.finish();
}

criterion_group!(benches, real_cluster);
criterion_main!(benches);
