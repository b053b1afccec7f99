//! Real manifests: every YAML file under `../shared/data/manifests/` (Go templates excepted; a
//! byte-for-byte copy with its SOURCE.md lives in `tests/data/manifests/` for checkouts without
//! the shared data set)
//! loads onto a model cluster and plans without error, with per-file expectations.
//!
//! The model cluster: three zones with two 32-core workers each, a tainted control-plane node
//! (`node-role.kubernetes.io/master`), and an AKS-style virtual node (`type: virtual-kubelet`,
//! tainted `virtual-kubelet.io/provider`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use spillway::scenario::{Scenario, ScenarioBuilder};
use spillway::{Engine, Outcome, Plan};

/// The shared data set, when the crate sits beside it.
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/manifests");
/// A byte-for-byte copy kept in the crate (with its SOURCE.md), so the test runs anywhere.
const VENDORED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/manifests");
const WORKERS: usize = 6;
const VIRTUAL: &str = "virtual-node-aci-linux";
const MASTER: &str = "master-0";

fn cluster() -> String {
    let mut yaml = String::new();
    for zone in ["a", "b", "c"] {
        for i in 1..=2 {
            let name = format!("worker-{zone}{i}");
            // The kubernetes.io website pod prefers label-1=key-1 (weight 1) and label-2=key-2 (50).
            let extra = match name.as_str() {
                "worker-a1" => ", label-1: key-1",
                "worker-b2" => ", label-2: key-2",
                _ => "",
            };
            write!(
                yaml,
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels: {{kubernetes.io/hostname: {name}, \
                 topology.kubernetes.io/zone: zone-{zone}, kubernetes.io/os: linux, beta.kubernetes.io/os: linux, \
                 kubernetes.io/arch: amd64{extra}}}\nstatus:\n  allocatable: {{cpu: \"32\", memory: 128Gi, pods: \"110\", \
                 ephemeral-storage: 200Gi}}\n---\n"
            )
            .unwrap();
        }
    }
    write!(
        yaml,
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {MASTER}\n  labels: {{kubernetes.io/hostname: {MASTER}, \
         node-role.kubernetes.io/master: \"\", kubernetes.io/os: linux, beta.kubernetes.io/os: linux}}\n\
         spec:\n  taints: [{{key: node-role.kubernetes.io/master, effect: NoSchedule}}]\n\
         status:\n  allocatable: {{cpu: \"16\", memory: 64Gi, pods: \"110\"}}\n---\n\
         apiVersion: v1\nkind: Node\nmetadata:\n  name: {VIRTUAL}\n  labels: {{kubernetes.io/hostname: {VIRTUAL}, \
         type: virtual-kubelet, kubernetes.io/role: agent, kubernetes.io/os: linux, beta.kubernetes.io/os: linux}}\n\
         spec:\n  taints: [{{key: virtual-kubelet.io/provider, value: azure, effect: NoSchedule}}]\n\
         status:\n  allocatable: {{cpu: \"10k\", memory: 4Ti, pods: \"5000\"}}\n"
    )
    .unwrap();
    yaml
}

/// What a manifest is expected to give on the model cluster.
struct Expect {
    /// Nodes the file adds.
    nodes: usize,
    /// Pending pods the file expands to.
    pods: usize,
    /// How many of them are unschedulable, and a reason they all report.
    unschedulable: usize,
    reason: &'static str,
    /// A bespoke check.
    check: fn(&Scenario, &Plan),
}

const fn pods(n: usize) -> Expect {
    Expect { nodes: 0, pods: n, unschedulable: 0, reason: "", check: |_, _| {} }
}

const fn node() -> Expect {
    Expect { nodes: 1, pods: 0, unschedulable: 0, reason: "", check: |_, _| {} }
}

/// `n` pods with required anti-affinity per hostname that fit on `fit` nodes.
const fn anti(n: usize, fit: usize) -> Expect {
    Expect {
        nodes: 0,
        pods: n,
        unschedulable: n - fit,
        reason: "didn't match pod anti-affinity rules",
        check: |_, _| {},
    }
}

const fn with(mut e: Expect, check: fn(&Scenario, &Plan)) -> Expect {
    e.check = check;
    e
}

fn expectations() -> BTreeMap<&'static str, Expect> {
    BTreeMap::from([
        (
            "kubernetes-website/pod-with-affinity-anti-affinity.yaml",
            with(pods(1), |_, plan| {
                // Required: kubernetes.io/os In [linux, macOs]; preferred label-2=key-2 weighs 50.
                assert_eq!(plan.decisions[0].node(), Some("worker-b2"));
            }),
        ),
        ("microservices-demo/adservice.yaml", pods(1)),
        (
            "microservices-demo/cartservice.yaml",
            with(pods(2), |s, _| {
                // The cart service and its redis; the ServiceAccount is skipped with a note; the
                // Services' and ReplicaSets' selectors are kept for default topology spreading.
                let names: Vec<&str> = s.pending.iter().map(|p| p.name.as_str()).collect();
                assert!(names[0].starts_with("cartservice-") && names[1].starts_with("redis-cart-"), "{names:?}");
                assert_eq!(s.notes.iter().filter(|n| n.contains("skipped")).count(), 1, "{:?}", s.notes);
                let kinds: Vec<&str> = s.snapshot.workload_selectors().iter().map(|w| w.kind.as_str()).collect();
                assert_eq!(kinds, ["ReplicaSet", "Service", "ReplicaSet", "Service"]);
            }),
        ),
        ("microservices-demo/checkoutservice.yaml", pods(1)),
        ("microservices-demo/currencyservice.yaml", pods(1)),
        ("microservices-demo/emailservice.yaml", pods(1)),
        (
            "microservices-demo/frontend.yaml",
            with(pods(1), |s, _| {
                let p = &s.pending[0];
                assert_eq!((p.requests().cpu_millis, p.requests().memory), (100, 64 << 20));
                assert_eq!(p.owner_kind.as_deref(), Some("ReplicaSet"));
                assert_eq!(p.labels.get("app").map(String::as_str), Some("frontend"));
                assert!(p.labels.contains_key("pod-template-hash"));
            }),
        ),
        (
            "microservices-demo/loadgenerator.yaml",
            with(pods(1), |s, _| {
                // The init container requests nothing; the app container 300m.
                assert_eq!(s.pending[0].init_containers.len(), 1);
                assert_eq!(s.pending[0].requests().cpu_millis, 300);
            }),
        ),
        ("microservices-demo/paymentservice.yaml", pods(1)),
        ("microservices-demo/productcatalogservice.yaml", pods(1)),
        ("microservices-demo/recommendationservice.yaml", pods(1)),
        ("microservices-demo/shippingservice.yaml", pods(1)),
        (
            "open-simulator/cluster__gpushare__nodes__pai-node-00.yaml",
            with(node(), |s, _| {
                let n = s.snapshot.node("pai-node-00").unwrap();
                assert_eq!(n.allocatable.get_str("alibabacloud.com/gpu-count"), 2);
                assert_eq!(n.allocatable.cpu_millis, 64_000);
            }),
        ),
        ("open-simulator/cluster__gpushare__nodes__pai-node-01.yaml", node()),
        ("open-simulator/complicate__deploy-busybox.yaml", pods(8)),
        ("open-simulator/complicate__deploy-nginx.yaml", pods(4)),
        // Required anti-affinity per hostname; tolerates harm.cn/system only: the six workers.
        ("open-simulator/complicate__deploy-webapp.yaml", anti(8, WORKERS)),
        ("open-simulator/complicate__node.yaml", node()),
        (
            "open-simulator/complicate__pod.yaml",
            with(pods(1), |_, plan| {
                assert_eq!(
                    plan.decisions[0].node(),
                    Some(MASTER),
                    "nodeSelector on the master label, with its toleration"
                );
            }),
        ),
        (
            "open-simulator/complicate__sts-busybox.yaml",
            with(pods(8), |s, _| {
                let names: Vec<&str> = s.pending.iter().map(|p| p.name.as_str()).collect();
                assert_eq!(names, (0..8).map(|i| format!("busybox-sts-{i}")).collect::<Vec<_>>());
                assert_eq!(
                    s.pending[3].labels.get("statefulset.kubernetes.io/pod-name").map(String::as_str),
                    Some("busybox-sts-3")
                );
            }),
        ),
        ("open-simulator/complicate__sts-database.yaml", anti(8, WORKERS)),
        ("open-simulator/complicate__sts-nginx.yaml", pods(8)),
        ("open-simulator/gpushare__gpu-pod-00.yaml", pods(1)),
        ("open-simulator/gpushare__gpu-pod-01.yaml", pods(1)),
        (
            "open-simulator/gpushare__gpu-pod-02.yaml",
            with(pods(1), |s, _| {
                // gpushare asks for GPU memory in annotations, which the scheduler does not read.
                assert_eq!(s.pending[0].requests().extended.len(), 0);
                assert_eq!(s.pending[0].key(), "pai-gpu/gpu-pod-02");
            }),
        ),
        (
            "open-simulator/gpushare__gpu-rs-03.yaml",
            with(pods(6), |s, _| {
                assert!(
                    s.pending
                        .iter()
                        .all(|p| p.name.starts_with("gpu-rs-03-") && p.owner_kind.as_deref() == Some("ReplicaSet"))
                );
            }),
        ),
        ("open-simulator/more_pods__deploy-busybox.yaml", pods(48)),
        ("open-simulator/more_pods__deploy-nginx.yaml", pods(40)),
        ("open-simulator/more_pods__deploy-webapp.yaml", anti(8, WORKERS)),
        ("open-simulator/more_pods__sts-busybox.yaml", pods(48)),
        ("open-simulator/more_pods__sts-database.yaml", anti(8, WORKERS)),
        ("open-simulator/more_pods__sts-nginx.yaml", pods(48)),
        ("open-simulator/newnode__demo_1__node-1.yaml", node()),
        (
            "open-simulator/newnode__gpushare__new-node.yaml",
            with(node(), |s, _| {
                assert_eq!(
                    s.snapshot.node("new-node").unwrap().allocatable.get_str("alibabacloud.com/gpu-mem"),
                    32 << 30
                );
            }),
        ),
        ("open-simulator/simple__deploy-busybox.yaml", pods(4)),
        (
            "open-simulator/simple__ds-busybox.yaml",
            with(pods(WORKERS), |s, plan| {
                // Not on the master (DoesNotExist on its label) nor the virtual node (taint).
                for p in &s.pending {
                    assert_eq!(p.owner_kind.as_deref(), Some("DaemonSet"));
                    let pinned =
                        &p.node_affinity.required.as_ref().unwrap().node_selector_terms[0].match_fields[0].values[0];
                    assert!(pinned.starts_with("worker-"), "{pinned}");
                    assert_eq!(plan.decision(&p.key()).unwrap().node(), Some(pinned.as_str()));
                }
                assert!(
                    s.notes.iter().any(|n| n.contains("6 pods, one per eligible node; 2 of 8 nodes not eligible")),
                    "{:?}",
                    s.notes
                );
            }),
        ),
        (
            "open-simulator/simple__job.yaml",
            with(pods(1), |s, _| {
                assert_eq!(s.pending[0].owner_kind.as_deref(), Some("Job"));
                assert_eq!(s.pending[0].labels.get("job-name").map(String::as_str), Some("pi"));
            }),
        ),
        ("open-simulator/simple__pod.yaml", pods(1)),
        (
            "open-simulator/simple__rs-calico.yaml",
            with(pods(2), |s, _| {
                assert!(s.pending.iter().all(|p| p.priority == 2_000_000_000), "system-cluster-critical");
            }),
        ),
        // Tolerates the master taint: six workers and the master, one pod each.
        ("open-simulator/simple__sts-busybox.yaml", anti(8, WORKERS + 1)),
        (
            "virtual-node/azure-aci-e2e-mi-pull-image.yaml",
            with(pods(1), |s, plan| {
                assert_eq!(plan.decisions[0].node(), Some(VIRTUAL));
                assert!(s.namespaces.contains_key("vk-test"));
                assert_eq!(s.pending[0].requests().cpu_millis, 500);
            }),
        ),
    ])
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The manifests to read: the shared data set when present, else the vendored copy.
fn manifests_root() -> &'static Path {
    if Path::new(SHARED).is_dir() { Path::new(SHARED) } else { Path::new(VENDORED) }
}

#[test]
fn the_vendored_copy_matches_the_shared_data_set() {
    let shared = Path::new(SHARED);
    if !shared.is_dir() {
        eprintln!("{SHARED} is not here; the vendored copy is used as it stands");
        return;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    yaml_files(shared, &mut a);
    yaml_files(Path::new(VENDORED), &mut b);
    let rel = |root: &str, files: &[PathBuf]| -> Vec<String> {
        let mut out: Vec<String> =
            files.iter().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect();
        out.sort();
        out
    };
    assert_eq!(rel(SHARED, &a), rel(VENDORED, &b), "the same files");
    for f in &a {
        let twin = Path::new(VENDORED).join(f.strip_prefix(SHARED).unwrap());
        assert_eq!(std::fs::read(f).unwrap(), std::fs::read(&twin).unwrap(), "{} differs", twin.display());
    }
}

#[test]
fn every_manifest_loads_and_plans() {
    let root = manifests_root();
    assert!(root.is_dir(), "{} is missing", root.display());
    let mut files = Vec::new();
    yaml_files(root, &mut files);
    files.sort();
    let expectations = expectations();
    assert!(files.len() >= expectations.len(), "found {} manifests, expected {}", files.len(), expectations.len());
    let cluster = cluster();
    let base_nodes = WORKERS + 2;
    for path in &files {
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        let expect = expectations.get(rel.as_str()).unwrap_or_else(|| panic!("no expectation for {rel}; add one"));
        let scenario = ScenarioBuilder::new()
            .add_yaml(&cluster, "cluster.yaml")
            .and_then(|b| b.add_file(path))
            .and_then(ScenarioBuilder::build)
            .unwrap_or_else(|e| panic!("{rel}: {e}: {:?}", std::error::Error::source(&e).map(ToString::to_string)));
        assert_eq!(scenario.snapshot.nodes().len(), base_nodes + expect.nodes, "{rel}: nodes");
        assert_eq!(scenario.pending.len(), expect.pods, "{rel}: pending pods");
        let plan = Engine::new(scenario.policy.clone()).unwrap().place(&scenario.snapshot, &scenario.pending);
        assert_eq!(plan.decisions.len(), expect.pods, "{rel}: decisions");
        let unschedulable: Vec<&str> = plan
            .decisions
            .iter()
            .filter_map(|d| match &d.outcome {
                Outcome::Unschedulable(diag) => Some(diag.message.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(unschedulable.len(), expect.unschedulable, "{rel}: unschedulable {unschedulable:#?}");
        for message in &unschedulable {
            assert!(message.contains(expect.reason), "{rel}: {message}");
        }
        (expect.check)(&scenario, &plan);
    }
    assert_eq!(files.len(), expectations.len(), "every expectation has a file");
}
