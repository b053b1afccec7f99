//! Filter-plugin tables modelled on kube-scheduler's own plugin tests
//! (pkg/scheduler/framework/plugins/*/..._test.go), run through spillway's public API.
//!
//! Each row places one pod on a single node (unless stated) with explanations on and checks the
//! tested plugin's reasons for that node, that every other filter passed, and the diagnosis
//! message kube-scheduler would print. `common::run` also checks that explain mode does not
//! change the outcome and that a second run is identical.

mod common;

use common::*;
use spillway::model::{FilterPlugin, NodeSelectorOperator::*, Protocol, TolerationOperator};
use spillway::{HostPort, Node, Outcome, Pod, Policy, Taint, TaintEffect, Toleration};

const FIT: &str = "NodeResourcesFit";
const UNSCHEDULABLE: &str = "NodeUnschedulable";
const NODE_NAME: &str = "NodeName";
const TAINTS: &str = "TaintToleration";
const AFFINITY: &str = "NodeAffinity";
const PORTS: &str = "NodePorts";

const POD_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
const ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
const OUTSIDE_SUBSET: &str = "node(s) didn't satisfy plugin(s) [NodeAffinity]";
const PORTS_TAKEN: &str = "node(s) didn't have free ports for the requested pod ports";
const CORDONED: &str = "node(s) were unschedulable";
const WRONG_NAME: &str = "node(s) didn't match the requested node name";

/// One row: `pod` against the single node `node` holding `existing` pods.
struct Case {
    name: &'static str,
    node: Node,
    existing: Vec<Pod>,
    pod: Pod,
    policy: Policy,
    /// The tested plugin's reasons on the node, in order; empty when it passes.
    want: Vec<String>,
}

fn case(name: &'static str, node: Node, pod: Pod) -> Case {
    Case { name, node, existing: vec![], pod, policy: Policy::default(), want: vec![] }
}

impl Case {
    fn existing(mut self, p: Pod) -> Case {
        self.existing.push(p);
        self
    }
    fn policy(mut self, policy: Policy) -> Case {
        self.policy = policy;
        self
    }
    fn want<S: AsRef<str>>(mut self, reasons: &[S]) -> Case {
        self.want = reasons.iter().map(|r| r.as_ref().to_string()).collect();
        self
    }
}

/// Runs a table of single-node rows for `plugin`.
fn check(plugin: &str, cases: Vec<Case>) {
    for c in cases {
        let node_name = c.node.name.clone();
        let existing = c.existing.into_iter().map(|p| (node_name.as_str(), p)).collect();
        let plan = run(&c.policy, vec![c.node.clone()], existing, std::slice::from_ref(&c.pod));
        let d = &plan.decisions[0];
        let v = verdict(d, &node_name);
        let got: Vec<&str> = v
            .filters
            .get(plugin)
            .unwrap_or_else(|| panic!("{}: {plugin} did not run", c.name))
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(got, c.want, "{}: {plugin} reasons", c.name);
        for (other, reasons) in &v.filters {
            assert!(
                other == plugin || reasons.is_empty(),
                "{}: row is not isolated, {other} failed: {reasons:?}",
                c.name
            );
        }
        if c.want.is_empty() {
            assert!(v.feasible, "{}", c.name);
            assert_eq!(d.node(), Some(node_name.as_str()), "{}", c.name);
        } else {
            assert!(!v.feasible, "{}", c.name);
            let want: Vec<&str> = c.want.iter().map(String::as_str).collect();
            assert_eq!(message(d), one_node_message(&want), "{}", c.name);
            let Outcome::Unschedulable(diag) = &d.outcome else { unreachable!() };
            assert!(diag.reasons.values().all(|&n| n == 1), "{}: {:?}", c.name, diag.reasons);
            assert_eq!(diag.reasons.len(), c.want.len(), "{}: {:?}", c.name, diag.reasons);
        }
    }
}

/// A pod with one container requesting `cpu` millicores and `mem` bytes (kube's
/// `newResourcePod(framework.Resource{MilliCPU, Memory})`).
fn rp(cpu: u32, mem: u32) -> Pod {
    pod("p").c(&[("cpu", &format!("{cpu}m")), ("memory", &mem.to_string())])
}

/// The fit_test node: cpu 10m, memory 20, pods 32, example.com/aaa 5, ephemeral-storage 20,
/// hugepages-2Mi 5.
fn fit_node() -> Node {
    node(
        "n1",
        &[
            ("cpu", "10m"),
            ("memory", "20"),
            ("pods", "32"),
            ("example.com/aaa", "5"),
            ("ephemeral-storage", "20"),
            ("hugepages-2Mi", "5"),
        ],
    )
}

fn fit_args(ignored: &[&str], groups: &[&str]) -> Policy {
    let mut p = Policy::default();
    p.profile.node_resources_fit.ignored_resources = ignored.iter().map(|s| s.to_string()).collect();
    p.profile.node_resources_fit.ignored_resource_groups = groups.iter().map(|s| s.to_string()).collect();
    p
}

const CPU: &str = "Insufficient cpu";
const MEM: &str = "Insufficient memory";
const EPH: &str = "Insufficient ephemeral-storage";
const AAA: &str = "Insufficient example.com/aaa";

#[test]
fn node_resources_fit_enough_requests() {
    let aaa = |n: &str| pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", n)]);
    let existing_aaa = |n: &str| pod("e").c(&[("example.com/aaa", n)]);
    check(
        FIT,
        vec![
            case("no resources requested always fits", fit_node(), pod("p")).existing(rp(10, 20)),
            case("too many resources fails", fit_node(), rp(1, 1)).existing(rp(10, 20)).want(&[CPU, MEM]),
            case(
                "too many resources fails due to init container cpu",
                fit_node(),
                rp(1, 1).init(&[("cpu", "3m"), ("memory", "1")]),
            )
            .existing(rp(8, 19))
            .want(&[CPU]),
            case(
                "too many resources fails due to highest init container cpu",
                fit_node(),
                rp(1, 1).init(&[("cpu", "3m"), ("memory", "1")]).init(&[("cpu", "2m"), ("memory", "1")]),
            )
            .existing(rp(8, 19))
            .want(&[CPU]),
            case(
                "too many resources fails due to init container memory",
                fit_node(),
                rp(1, 1).init(&[("cpu", "1m"), ("memory", "3")]),
            )
            .existing(rp(9, 19))
            .want(&[MEM]),
            case(
                "too many resources fails due to highest init container memory",
                fit_node(),
                rp(1, 1).init(&[("cpu", "1m"), ("memory", "3")]).init(&[("cpu", "1m"), ("memory", "2")]),
            )
            .existing(rp(9, 19))
            .want(&[MEM]),
            case(
                "init container fits because it's the max, not sum, of containers and init containers",
                fit_node(),
                rp(1, 1).init(&[("cpu", "1m"), ("memory", "1")]),
            )
            .existing(rp(9, 19)),
            case(
                "multiple init containers fit because it's the max, not sum, of containers and init containers",
                fit_node(),
                rp(1, 1).init(&[("cpu", "1m"), ("memory", "1")]).init(&[("cpu", "1m"), ("memory", "1")]),
            )
            .existing(rp(9, 19)),
            case("both resources fit", fit_node(), rp(1, 1)).existing(rp(5, 5)),
            case("one resource memory fits", fit_node(), rp(2, 1)).existing(rp(9, 5)).want(&[CPU]),
            case("one resource cpu fits", fit_node(), rp(1, 2)).existing(rp(5, 19)).want(&[MEM]),
            case("equal edge case", fit_node(), rp(5, 1)).existing(rp(5, 19)),
            case("equal edge case for init container", fit_node(), rp(4, 1).init(&[("cpu", "5m"), ("memory", "1")]))
                .existing(rp(5, 19)),
            case("extended resource fits", fit_node(), pod("p").c(&[("example.com/aaa", "1")]))
                .existing(pod("e").c(&[])),
            case(
                "extended resource fits for init container",
                fit_node(),
                pod("p").c(&[]).init(&[("example.com/aaa", "1")]),
            )
            .existing(pod("e").c(&[])),
            case("extended resource capacity enforced", fit_node(), aaa("10")).existing(rp(0, 0)).want(&[AAA]),
            case(
                "extended resource capacity enforced for init container",
                fit_node(),
                pod("p").c(&[]).init(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", "10")]),
            )
            .existing(rp(0, 0))
            .want(&[AAA]),
            case("extended resource allocatable enforced", fit_node(), aaa("1"))
                .existing(existing_aaa("5"))
                .want(&[AAA]),
            case(
                "extended resource allocatable enforced for init container",
                fit_node(),
                pod("p").c(&[]).init(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", "1")]),
            )
            .existing(existing_aaa("5"))
            .want(&[AAA]),
            case(
                "extended resource allocatable enforced for multiple containers",
                fit_node(),
                aaa("3").c(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", "3")]),
            )
            .existing(existing_aaa("2"))
            .want(&[AAA]),
            case(
                "extended resource allocatable admits multiple init containers",
                fit_node(),
                pod("p").c(&[]).init(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", "3")]).init(&[
                    ("cpu", "1m"),
                    ("memory", "1"),
                    ("example.com/aaa", "3"),
                ]),
            )
            .existing(existing_aaa("2")),
            case(
                "extended resource allocatable enforced for multiple init containers",
                fit_node(),
                pod("p").c(&[]).init(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", "6")]).init(&[
                    ("cpu", "1m"),
                    ("memory", "1"),
                    ("example.com/aaa", "3"),
                ]),
            )
            .existing(existing_aaa("2"))
            .want(&[AAA]),
            case(
                "extended resource allocatable enforced for unknown resource",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("example.com/bbb", "1")]),
            )
            .existing(rp(0, 0))
            .want(&["Insufficient example.com/bbb"]),
            case(
                "extended resource allocatable enforced for unknown resource for init container",
                fit_node(),
                pod("p").c(&[]).init(&[("cpu", "1m"), ("memory", "1"), ("example.com/bbb", "1")]),
            )
            .existing(rp(0, 0))
            .want(&["Insufficient example.com/bbb"]),
            case(
                "kubernetes.io resource capacity enforced",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("kubernetes.io/something", "10")]),
            )
            .existing(rp(0, 0))
            .want(&["Insufficient kubernetes.io/something"]),
            case(
                "subdomain.kubernetes.io resource capacity enforced",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("subdomain.kubernetes.io/something", "10")]),
            )
            .existing(rp(0, 0))
            .want(&["Insufficient subdomain.kubernetes.io/something"]),
            case(
                "hugepages resource capacity enforced",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("hugepages-2Mi", "10")]),
            )
            .existing(rp(0, 0))
            .want(&["Insufficient hugepages-2Mi"]),
            case(
                "hugepages resource capacity enforced for init container",
                fit_node(),
                pod("p").c(&[]).init(&[("cpu", "1m"), ("memory", "1"), ("hugepages-2Mi", "10")]),
            )
            .existing(rp(0, 0))
            .want(&["Insufficient hugepages-2Mi"]),
            case(
                "hugepages resource allocatable enforced for multiple containers",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("hugepages-2Mi", "3")]).c(&[
                    ("cpu", "1m"),
                    ("memory", "1"),
                    ("hugepages-2Mi", "3"),
                ]),
            )
            .existing(pod("e").c(&[("hugepages-2Mi", "2")]))
            .want(&["Insufficient hugepages-2Mi"]),
            case(
                "hugepages fit next to an existing hugepages user (equal edge)",
                fit_node(),
                pod("p").c(&[("hugepages-2Mi", "3")]),
            )
            .existing(pod("e").c(&[("hugepages-2Mi", "2")])),
            case(
                "skip checking ignored extended resource",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("example.com/bbb", "1")]),
            )
            .existing(rp(0, 0))
            .policy(fit_args(&["example.com/bbb"], &[])),
            case(
                "skip checking ignored extended resource via resource groups",
                fit_node(),
                pod("p").c(&[
                    ("cpu", "1m"),
                    ("memory", "1"),
                    ("example.com/bbb", "1"),
                    ("kubernetes.io/something", "1"),
                ]),
            )
            .existing(rp(0, 0))
            .policy(fit_args(&[], &["example.com"]))
            .want(&["Insufficient kubernetes.io/something"]),
            case(
                "ignoredResources does not apply to prefixed native (kubernetes.io/) resources",
                fit_node(),
                pod("p").c(&[("kubernetes.io/something", "1")]),
            )
            .policy(fit_args(&["kubernetes.io/something"], &["kubernetes.io"]))
            .want(&["Insufficient kubernetes.io/something"]),
            case("ignoredResources does not apply to hugepages", fit_node(), pod("p").c(&[("hugepages-2Mi", "6")]))
                .policy(fit_args(&["hugepages-2Mi"], &[]))
                .want(&["Insufficient hugepages-2Mi"]),
            case(
                "ignoredResources only skips the named resource",
                fit_node(),
                pod("p").c(&[("example.com/bbb", "1"), ("example.com/ccc", "1")]),
            )
            .policy(fit_args(&["example.com/bbb"], &["other.com"]))
            .want(&["Insufficient example.com/ccc"]),
            case(
                "ignored resource is skipped even when the node is over its capacity",
                fit_node(),
                pod("p").c(&[("example.com/aaa", "6")]),
            )
            .policy(fit_args(&["example.com/aaa"], &[]))
            .existing(existing_aaa("5")),
            case("resources + pod overhead fits", fit_node(), rp(1, 1).overhead(&[("cpu", "3m"), ("memory", "13")]))
                .existing(rp(5, 5)),
            case(
                "requests + overhead does not fit for memory",
                fit_node(),
                rp(1, 1).overhead(&[("cpu", "1m"), ("memory", "15")]),
            )
            .existing(rp(5, 5))
            .want(&[MEM]),
            case(
                "skip checking resource request with quantity zero",
                fit_node(),
                pod("p").c(&[("cpu", "1m"), ("memory", "1"), ("example.com/aaa", "0")]),
            )
            .existing(existing_aaa("6")),
            case(
                "skip checking cpu and memory requested as zero on an overcommitted node",
                fit_node(),
                pod("p").c(&[("cpu", "0"), ("memory", "0"), ("example.com/aaa", "1")]),
            )
            .existing(pod("e").c(&[("cpu", "20m"), ("memory", "30"), ("example.com/aaa", "1")])),
            case("pod without requests fits an overcommitted node", fit_node(), pod("p").c(&[])).existing(rp(20, 30)),
            case(
                "ephemeral-storage request exceeds allocatable",
                fit_node(),
                pod("p").c(&[("ephemeral-storage", "25")]),
            )
            .existing(pod("e").c(&[("cpu", "2m"), ("memory", "2")]))
            .want(&[EPH]),
            case(
                "ephemeral-storage request does not fit next to existing usage",
                fit_node(),
                pod("p").c(&[("ephemeral-storage", "11")]),
            )
            .existing(pod("e").c(&[("ephemeral-storage", "10")]))
            .want(&[EPH]),
            case("ephemeral-storage equal edge case", fit_node(), pod("p").c(&[("ephemeral-storage", "10")]))
                .existing(pod("e").c(&[("ephemeral-storage", "10")])),
            case(
                "memory in binary units: 1Gi does not fit next to 15Gi on a 16Gi node",
                node("n1", &[("cpu", "4"), ("memory", "16Gi")]),
                pod("p").c(&[("memory", "1025Mi")]),
            )
            .existing(pod("e").c(&[("memory", "15Gi")]))
            .want(&[MEM]),
            case(
                "a cpu quantity in cores equals the same amount in millicores",
                node("n1", &[("cpu", "2"), ("memory", "1Gi")]),
                pod("p").c(&[("cpu", "1500m")]),
            )
            .existing(pod("e").c(&[("cpu", "0.5")])),
        ],
    );
}

#[test]
fn node_resources_fit_not_enough_pods() {
    let small = || node("n1", &[("cpu", "10m"), ("memory", "20"), ("pods", "1")]);
    check(
        FIT,
        vec![
            case("even without specified resources, predicate fails when there's no space for additional pod", small(), pod("p"))
                .existing(rp(10, 20))
                .want(&["Too many pods"]),
            case("even if both resources fit, predicate fails when there's no space for additional pod", small(), rp(1, 1))
                .existing(rp(5, 5))
                .want(&["Too many pods"]),
            case("even for equal edge case, predicate fails when there's no space for additional pod", small(), rp(5, 1))
                .existing(rp(5, 19))
                .want(&["Too many pods"]),
            case(
                "even for equal edge case with init container, predicate fails when there's no space for additional pod",
                small(),
                rp(5, 1).init(&[("cpu", "5m"), ("memory", "1")]),
            )
            .existing(rp(5, 19))
            .want(&["Too many pods"]),
            case("a node without pods allocatable holds no pod", Node::new("n1").with_allocatable(res(&[("cpu", "1")])), pod("p"))
                .want(&["Too many pods"]),
            case("the last free pod slot fits", small(), rp(1, 1)),
        ],
    );
}

#[test]
fn node_resources_fit_reports_every_reason_in_kube_order() {
    // "Too many pods" first, then cpu, memory, ephemeral-storage, then the scalar resources. kube
    // walks scalars in Go map order (random); spillway sorts them by name. The node lists
    // example.com/aaa and hugepages-2Mi, the pod adds example.com/bbb and kubernetes.io/something,
    // so name order differs from first-seen order.
    let n = node(
        "n1",
        &[
            ("cpu", "10m"),
            ("memory", "20"),
            ("pods", "1"),
            ("ephemeral-storage", "20"),
            ("hugepages-2Mi", "5"),
            ("example.com/aaa", "5"),
        ],
    );
    let greedy = pod("p").c(&[
        ("cpu", "10m"),
        ("memory", "20"),
        ("ephemeral-storage", "21"),
        ("kubernetes.io/something", "1"),
        ("hugepages-2Mi", "6"),
        ("example.com/bbb", "1"),
        ("example.com/aaa", "6"),
    ]);
    check(
        FIT,
        vec![
            case("every resource and the pod count fail", n.clone(), greedy.clone()).existing(rp(1, 1)).want(&[
                "Too many pods",
                CPU,
                MEM,
                EPH,
                AAA,
                "Insufficient example.com/bbb",
                "Insufficient hugepages-2Mi",
                "Insufficient kubernetes.io/something",
            ]),
            case("ignored scalars drop out of the list", n.clone(), greedy)
                .existing(rp(1, 1))
                .policy(fit_args(&["example.com/aaa"], &["example.com"]))
                .want(&[
                    "Too many pods",
                    CPU,
                    MEM,
                    EPH,
                    "Insufficient hugepages-2Mi",
                    "Insufficient kubernetes.io/something",
                ]),
            case(
                "with a free pod slot only the resources are listed",
                node("n1", &[("cpu", "10m"), ("memory", "20"), ("ephemeral-storage", "20")]),
                pod("p").c(&[("ephemeral-storage", "21"), ("memory", "21"), ("cpu", "11m")]),
            )
            .want(&[CPU, MEM, EPH]),
        ],
    );
}

#[test]
fn node_resources_fit_scalar_reason_order_does_not_depend_on_node_order() {
    // Each node lists one of two extended resources; whichever node comes first, both report
    // the two scalar reasons sorted by name.
    let a = node("a", &[("cpu", "1"), ("example.com/zzz", "1")]);
    let b = node("b", &[("cpu", "1"), ("example.com/aaa", "1")]);
    let p = pod("p").c(&[("example.com/zzz", "2"), ("example.com/aaa", "2")]);
    let want = vec!["Insufficient example.com/aaa", "Insufficient example.com/zzz"];
    for nodes in [vec![a.clone(), b.clone()], vec![b, a]] {
        let plan = run(&Policy::default(), nodes, vec![], std::slice::from_ref(&p));
        let d = &plan.decisions[0];
        assert_eq!(verdict(d, "a").filters[FIT], want);
        assert_eq!(verdict(d, "b").filters[FIT], want);
        assert_eq!(
            message(d),
            "0/2 nodes are available: 2 Insufficient example.com/aaa, 2 Insufficient example.com/zzz."
        );
    }
}

#[test]
fn node_resources_fit_restartable_init_containers() {
    let n = || node("n1", &[("cpu", "2"), ("pods", "1")]);
    check(
        FIT,
        vec![
            case("restartable init container fits", n(), pod("p").c(&cpu("1")).sidecar(&cpu("1"))),
            case(
                "restartable init container's requests are added to the containers'",
                n(),
                pod("p").c(&cpu("1")).sidecar(&cpu("2")),
            )
            .want(&[CPU]),
            case(
                "init container after a sidecar runs beside it: C1, [S1, I3, S2] needs 4",
                node("n1", &[("cpu", "4")]),
                pod("p").c(&cpu("1")).sidecar(&cpu("1")).init(&cpu("3")).sidecar(&cpu("2")),
            ),
            case(
                "init container after a sidecar runs beside it: C1, [S1, I3, S2] does not fit 3999m",
                node("n1", &[("cpu", "3999m")]),
                pod("p").c(&cpu("1")).sidecar(&cpu("1")).init(&cpu("3")).sidecar(&cpu("2")),
            )
            .want(&[CPU]),
            case(
                "init container before a sidecar ignores it: C1, [I5, S1] needs 5",
                node("n1", &[("cpu", "5")]),
                pod("p").c(&cpu("1")).init(&cpu("5")).sidecar(&cpu("1")),
            ),
            case(
                "init container before a sidecar ignores it: C1, [I5, S1] does not fit 4999m",
                node("n1", &[("cpu", "4999m")]),
                pod("p").c(&cpu("1")).init(&cpu("5")).sidecar(&cpu("1")),
            )
            .want(&[CPU]),
            case(
                "overhead is added on top of sidecars",
                node("n1", &[("cpu", "2")]),
                pod("p").c(&cpu("1")).sidecar(&cpu("1")).overhead(&cpu("1m")),
            )
            .want(&[CPU]),
        ],
    );
}

fn cpu(c: &str) -> [(&str, &str); 1] {
    [("cpu", c)]
}

fn plain_node() -> Node {
    node("n1", &[("cpu", "4"), ("memory", "16Gi")])
}

fn tol(key: &str, operator: TolerationOperator, value: &str, effect: Option<TaintEffect>) -> Toleration {
    Toleration { key: key.into(), operator, value: value.into(), effect, toleration_seconds: None }
}

#[test]
fn node_unschedulable() {
    use TaintEffect::*;
    use TolerationOperator::*;
    let with = |t: Toleration| pod("p").with_toleration(t);
    let key = "node.kubernetes.io/unschedulable";
    check(
        UNSCHEDULABLE,
        vec![
            case("Does not schedule pod to unschedulable node", plain_node().cordoned(), pod("p")).want(&[CORDONED]),
            case("Schedule pod to normal node", plain_node(), pod("p")),
            case(
                "Schedule pod with toleration to unschedulable node (operator empty, value empty)",
                plain_node().cordoned(),
                with(tol(key, Equal, "", Some(NoSchedule))),
            ),
            case("Exists toleration of the key", plain_node().cordoned(), with(tol(key, Exists, "", None))),
            case(
                "empty key with Exists tolerates the cordon",
                plain_node().cordoned(),
                with(tol("", Exists, "", None)),
            ),
            case(
                "NoExecute toleration does not tolerate the NoSchedule cordon",
                plain_node().cordoned(),
                with(tol(key, Exists, "", Some(NoExecute))),
            )
            .want(&[CORDONED]),
            case(
                "Equal toleration with a non-empty value does not tolerate the cordon",
                plain_node().cordoned(),
                with(tol(key, Equal, "true", Some(NoSchedule))),
            )
            .want(&[CORDONED]),
            case(
                "toleration of another key does not help",
                plain_node().cordoned(),
                with(tol("node.kubernetes.io/not-ready", Exists, "", None)),
            )
            .want(&[CORDONED]),
        ],
    );
}

#[test]
fn node_name() {
    let named = |n: &str| {
        let mut p = pod("p");
        p.node_name = Some(n.into());
        p
    };
    check(
        NODE_NAME,
        vec![
            case("no host specified", plain_node(), pod("p")),
            case("host matches", plain_node(), named("n1")),
            case("host doesn't match", plain_node(), named("n2")).want(&[WRONG_NAME]),
        ],
    );

    // Among several nodes, only the named one is feasible.
    let nodes = vec![node("n1", &[("cpu", "1")]), node("n2", &[("cpu", "1")]), node("n3", &[("cpu", "1")])];
    let plan = run(&Policy::default(), nodes.clone(), vec![], &[named("n2")]);
    assert_eq!(plan.decisions[0].node(), Some("n2"));
    assert_eq!(verdict(&plan.decisions[0], "n1").filters[NODE_NAME], vec![WRONG_NAME]);
    let plan = run(&Policy::default(), nodes, vec![], &[named("gone")]);
    assert_eq!(message(&plan.decisions[0]), format!("0/3 nodes are available: 3 {WRONG_NAME}."));
}

fn untolerated(key: &str, value: &str) -> String {
    // spillway keeps the v1.33–v1.34 wording, which names the first untolerated taint.
    format!("node(s) had untolerated taint {{{key}: {value}}}")
}

#[test]
fn taint_toleration_filter() {
    use TaintEffect::*;
    use TolerationOperator::*;
    let tainted = |taints: &[(&str, &str, TaintEffect)]| {
        taints.iter().fold(plain_node(), |n, (k, v, e)| n.with_taint(Taint::new(*k, *v, *e)))
    };
    let tolerating = |tols: Vec<Toleration>| tols.into_iter().fold(pod("p"), Pod::with_toleration);
    check(
        TAINTS,
        vec![
            case(
                "A pod having no tolerations can't be scheduled onto a node with nonempty taints",
                tainted(&[("dedicated", "user1", NoSchedule)]),
                pod("p"),
            )
            .want(&[untolerated("dedicated", "user1")]),
            case(
                "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
                tainted(&[("dedicated", "user1", NoSchedule)]),
                tolerating(vec![tol("dedicated", Equal, "user1", Some(NoSchedule))]),
            ),
            case(
                "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
                tainted(&[("dedicated", "user1", NoSchedule)]),
                tolerating(vec![tol("dedicated", Equal, "user2", Some(NoSchedule))]),
            )
            .want(&[untolerated("dedicated", "user1")]),
            case(
                "A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints on the node",
                tainted(&[("foo", "bar", NoSchedule)]),
                tolerating(vec![tol("foo", Exists, "", Some(NoSchedule))]),
            ),
            case(
                "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, pod can be scheduled onto the node",
                tainted(&[("dedicated", "user2", NoSchedule), ("foo", "bar", NoSchedule)]),
                tolerating(vec![
                    tol("dedicated", Equal, "user2", Some(NoSchedule)),
                    tol("foo", Exists, "", Some(NoSchedule)),
                ]),
            ),
            case(
                "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match, can't be scheduled onto the node",
                tainted(&[("foo", "bar", NoSchedule)]),
                tolerating(vec![tol("foo", Equal, "bar", Some(PreferNoSchedule))]),
            )
            .want(&[untolerated("foo", "bar")]),
            case(
                "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty, and the effect of taint is NoSchedule. Pod can be scheduled onto the node",
                tainted(&[("foo", "bar", NoSchedule)]),
                tolerating(vec![tol("foo", Equal, "bar", None)]),
            ),
            case(
                "The pod has a toleration that key and value don't match the taint on the node, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
                tainted(&[("dedicated", "user1", PreferNoSchedule)]),
                tolerating(vec![tol("dedicated", Equal, "user2", Some(NoSchedule))]),
            ),
            case(
                "The pod has no toleration, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
                tainted(&[("dedicated", "user1", PreferNoSchedule)]),
                pod("p"),
            ),
            case(
                "empty key with Exists and no effect tolerates every taint",
                tainted(&[("a", "1", NoSchedule), ("b", "", NoExecute), ("c", "x", PreferNoSchedule)]),
                tolerating(vec![tol("", Exists, "", None)]),
            ),
            case(
                "empty key with Exists limited to NoSchedule leaves a NoExecute taint untolerated",
                tainted(&[("a", "1", NoSchedule), ("b", "2", NoExecute)]),
                tolerating(vec![tol("", Exists, "", Some(NoSchedule))]),
            )
            .want(&[untolerated("b", "2")]),
            case("untolerated NoExecute taint filters", tainted(&[("evict", "now", NoExecute)]), pod("p"))
                .want(&[untolerated("evict", "now")]),
            case(
                "NoExecute taint tolerated by an effect-less Exists toleration",
                tainted(&[("evict", "now", NoExecute)]),
                tolerating(vec![tol("evict", Exists, "", None)]),
            ),
            case(
                "NoSchedule toleration does not tolerate a NoExecute taint",
                tainted(&[("evict", "now", NoExecute)]),
                tolerating(vec![tol("evict", Equal, "now", Some(NoSchedule))]),
            )
            .want(&[untolerated("evict", "now")]),
            case(
                "Exists toleration of another key does not help",
                tainted(&[("dedicated", "user1", NoSchedule)]),
                tolerating(vec![tol("other", Exists, "", None)]),
            )
            .want(&[untolerated("dedicated", "user1")]),
            case(
                "the first untolerated taint in node order is reported",
                tainted(&[
                    ("ok", "1", NoSchedule),
                    ("soft", "x", PreferNoSchedule),
                    ("second", "2", NoExecute),
                    ("third", "3", NoSchedule),
                ]),
                tolerating(vec![tol("ok", Equal, "1", None)]),
            )
            .want(&[untolerated("second", "2")]),
            case(
                "a taint with an empty value renders as {key: }",
                tainted(&[("node-role.kubernetes.io/control-plane", "", NoSchedule)]),
                pod("p"),
            )
            .want(&["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]),
            case(
                "Equal toleration with empty value tolerates a taint with empty value",
                tainted(&[("node-role.kubernetes.io/control-plane", "", NoSchedule)]),
                tolerating(vec![tol("node-role.kubernetes.io/control-plane", Equal, "", Some(NoSchedule))]),
            ),
            case(
                "empty key with Equal tolerates any key with an equal value (ToleratesTaint does not check the operator)",
                tainted(&[("a", "v", NoSchedule), ("b", "v", NoExecute)]),
                tolerating(vec![tol("", Equal, "v", None)]),
            ),
            case(
                "empty key with Equal does not tolerate a different value",
                tainted(&[("a", "v", NoSchedule), ("b", "w", NoSchedule)]),
                tolerating(vec![tol("", Equal, "v", None)]),
            )
            .want(&[untolerated("b", "w")]),
            case(
                "Gt tolerates a strictly greater taint value",
                tainted(&[("level", "5", NoSchedule)]),
                tolerating(vec![tol("level", Gt, "4", None)]),
            ),
            case(
                "Gt does not tolerate an equal taint value",
                tainted(&[("level", "5", NoSchedule)]),
                tolerating(vec![tol("level", Gt, "5", None)]),
            )
            .want(&[untolerated("level", "5")]),
            case(
                "Lt tolerates a strictly smaller taint value",
                tainted(&[("level", "5", NoSchedule)]),
                tolerating(vec![tol("level", Lt, "6", None)]),
            ),
            case(
                "Lt does not tolerate an equal taint value",
                tainted(&[("level", "5", NoSchedule)]),
                tolerating(vec![tol("level", Lt, "5", None)]),
            )
            .want(&[untolerated("level", "5")]),
            case(
                "Gt with a non-canonical toleration value (leading zero) never tolerates",
                tainted(&[("level", "5", NoSchedule)]),
                tolerating(vec![tol("level", Gt, "04", None)]),
            )
            .want(&[untolerated("level", "5")]),
            case(
                "Lt with a non-integer taint value never tolerates",
                tainted(&[("level", "high", NoSchedule)]),
                tolerating(vec![tol("level", Lt, "10", None)]),
            )
            .want(&[untolerated("level", "high")]),
            case(
                "Gt with a mismatched effect does not tolerate",
                tainted(&[("level", "5", NoSchedule)]),
                tolerating(vec![tol("level", Gt, "4", Some(NoExecute))]),
            )
            .want(&[untolerated("level", "5")]),
        ],
    );
}

#[test]
fn node_affinity_filter() {
    let node_with = |name: &str, labels: &[(&str, &str)]| {
        labels.iter().fold(node(name, &[("cpu", "4"), ("memory", "16Gi")]), |n, (k, v)| n.with_label(*k, *v))
    };
    let n1 = |labels: &[(&str, &str)]| node_with("node1", labels);
    let n2 = |labels: &[(&str, &str)]| node_with("node2", labels);
    let affine = |terms: Vec<spillway::NodeSelectorTerm>| terms.into_iter().fold(pod("p"), PodExt::required_term);
    let added = |aff: spillway::NodeAffinity| {
        let mut p = Policy::default();
        p.profile.node_affinity.added_affinity = Some(aff);
        p
    };
    let mut empty_terms = pod("p");
    empty_terms.node_affinity.required = Some(selector(vec![]));
    check(
        AFFINITY,
        vec![
            case("missing labels", n1(&[]), pod("p").with_node_selector("foo", "bar")).want(&[POD_AFFINITY]),
            case("same labels", n1(&[("foo", "bar")]), pod("p").with_node_selector("foo", "bar")),
            case(
                "node labels are superset",
                n1(&[("foo", "bar"), ("baz", "blah")]),
                pod("p").with_node_selector("foo", "bar"),
            ),
            case(
                "node labels are subset",
                n1(&[("foo", "bar")]),
                pod("p").with_node_selector("foo", "bar").with_node_selector("baz", "blah"),
            )
            .want(&[POD_AFFINITY]),
            case("nodeSelector value differs", n1(&[("foo", "baz")]), pod("p").with_node_selector("foo", "bar"))
                .want(&[POD_AFFINITY]),
            case(
                "Pod with matchExpressions using In operator that matches the existing node",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![req("foo", In, &["bar", "value2"])])]),
            ),
            case(
                "Pod with matchExpressions using Gt operator that matches the existing node",
                n1(&[("kernel-version", "0206")]),
                affine(vec![exprs(vec![req("kernel-version", Gt, &["0204"])])]),
            ),
            case(
                "Pod with matchExpressions using NotIn operator that matches the existing node",
                n1(&[("mem-type", "DDR3")]),
                affine(vec![exprs(vec![req("mem-type", NotIn, &["DDR", "DDR2"])])]),
            ),
            case(
                "NotIn matches a node without the key",
                n1(&[]),
                affine(vec![exprs(vec![req("mem-type", NotIn, &["DDR", "DDR2"])])]),
            ),
            case(
                "NotIn fails a node whose value is listed",
                n1(&[("mem-type", "DDR2")]),
                affine(vec![exprs(vec![req("mem-type", NotIn, &["DDR", "DDR2"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Pod with matchExpressions using In operator that does not match the existing node",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![req("foo", In, &["value1", "value2"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "In fails a node without the key",
                n1(&[]),
                affine(vec![exprs(vec![req("foo", In, &["bar"])])]),
            )
            .want(&[POD_AFFINITY]),
            case("Exists matches a node with the key", n1(&[("gpu", "")]), affine(vec![exprs(vec![req("gpu", Exists, &[])])])),
            case("Exists fails a node without the key", n1(&[]), affine(vec![exprs(vec![req("gpu", Exists, &[])])]))
                .want(&[POD_AFFINITY]),
            case("DoesNotExist matches a node without the key", n1(&[]), affine(vec![exprs(vec![req("gpu", DoesNotExist, &[])])])),
            case(
                "DoesNotExist fails a node with the key",
                n1(&[("gpu", "a100")]),
                affine(vec![exprs(vec![req("gpu", DoesNotExist, &[])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Gt is strict",
                n1(&[("kernel-version", "204")]),
                affine(vec![exprs(vec![req("kernel-version", Gt, &["0204"])])]),
            )
            .want(&[POD_AFFINITY]),
            case("Lt matches a smaller value", n1(&[("cores", "8")]), affine(vec![exprs(vec![req("cores", Lt, &["16"])])])),
            case("Lt is strict", n1(&[("cores", "16")]), affine(vec![exprs(vec![req("cores", Lt, &["16"])])]))
                .want(&[POD_AFFINITY]),
            case(
                "Gt fails a node whose label is not an integer",
                n1(&[("cores", "many")]),
                affine(vec![exprs(vec![req("cores", Gt, &["1"])])]),
            )
            .want(&[POD_AFFINITY]),
            case("Gt fails a node without the key", n1(&[]), affine(vec![exprs(vec![req("cores", Gt, &["1"])])]))
                .want(&[POD_AFFINITY]),
            case(
                "Pod with matchExpressions using Gt with a non-integer value matches nothing",
                n1(&[("cores", "8")]),
                affine(vec![exprs(vec![req("cores", Gt, &["x"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Gt with two values is invalid and matches nothing",
                n1(&[("cores", "8")]),
                affine(vec![exprs(vec![req("cores", Gt, &["1", "2"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "In without values is invalid and matches nothing",
                n1(&[("foo", "")]),
                affine(vec![exprs(vec![req("foo", In, &[])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Exists with values is invalid and matches nothing",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![req("foo", Exists, &["bar"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Pod with affinity that don't match node's labels won't schedule onto the node (empty matchExpressions)",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![])]),
            )
            .want(&[POD_AFFINITY]),
            case("empty nodeSelectorTerms matches no node", n1(&[("foo", "bar")]), empty_terms).want(&[POD_AFFINITY]),
            case("Pod with no Affinity will schedule onto a node", n1(&[("foo", "bar")]), pod("p")),
            case(
                "Pod with multiple matchExpressions ANDed that matches the existing node",
                n1(&[("GPU", "NVIDIA-GRID-K1")]),
                affine(vec![exprs(vec![req("GPU", Exists, &[]), req("GPU", NotIn, &["AMD", "INTER"])])]),
            ),
            case(
                "Pod with multiple matchExpressions ANDed that doesn't match the existing node",
                n1(&[("GPU", "NVIDIA-GRID-K1")]),
                affine(vec![exprs(vec![req("GPU", Exists, &[]), req("GPU", In, &["AMD", "INTER"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will schedule onto the node",
                n1(&[("foo", "bar")]),
                affine(vec![
                    exprs(vec![req("foo", In, &["bar", "value2"])]),
                    exprs(vec![req("diffkey", In, &["wrong", "value2"])]),
                ]),
            ),
            case(
                "Pod with an Affinity and a PodSpec.NodeSelector(the old thing that we are deprecating) both are satisfied, will schedule onto the node",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![req("foo", Exists, &[])])]).with_node_selector("foo", "bar"),
            ),
            case(
                "Pod with an Affinity matches node's labels but the PodSpec.NodeSelector(the old thing that we are deprecating) is not satisfied, won't schedule onto the node",
                n1(&[("foo", "barrrrrr")]),
                affine(vec![exprs(vec![req("foo", Exists, &[])])]).with_node_selector("foo", "bar"),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Pod with an invalid value in Affinity term won't be scheduled onto the node",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![req("foo", NotIn, &["invalid value: ___@#$%^"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "an invalid term does not stop a valid ORed term from matching",
                n1(&[("foo", "bar")]),
                affine(vec![exprs(vec![req("foo", In, &[])]), exprs(vec![req("foo", In, &["bar"])])]),
            ),
            case(
                "Pod with matchFields using In operator that matches the existing node",
                n1(&[]),
                affine(vec![fields(vec![req("metadata.name", In, &["node1"])])]),
            ),
            case(
                "Pod with matchFields using In operator that does not match the existing node",
                n2(&[]),
                affine(vec![fields(vec![req("metadata.name", In, &["node1"])])]),
            )
            .want(&[OUTSIDE_SUBSET]),
            case(
                "Pod with two terms: matchFields does not match, but matchExpressions matches",
                n2(&[("foo", "bar")]),
                affine(vec![
                    fields(vec![req("metadata.name", In, &["node1"]), req("metadata.name", In, &["node2"])]),
                    exprs(vec![req("foo", In, &["bar"])]),
                ]),
            ),
            case(
                "Pod with one term: matchFields does not match, but matchExpressions matches",
                n2(&[("foo", "bar")]),
                affine(vec![spillway::NodeSelectorTerm {
                    match_expressions: vec![req("foo", In, &["bar"])],
                    match_fields: vec![req("metadata.name", In, &["node1"])],
                }]),
            )
            .want(&[OUTSIDE_SUBSET]),
            case(
                "Pod with one term: both matchFields and matchExpressions match",
                n1(&[("foo", "bar")]),
                affine(vec![spillway::NodeSelectorTerm {
                    match_expressions: vec![req("foo", In, &["bar"])],
                    match_fields: vec![req("metadata.name", In, &["node1"])],
                }]),
            ),
            case(
                "Pod with two terms: both matchFields and matchExpressions do not match",
                n2(&[("foo", "bar")]),
                affine(vec![
                    fields(vec![req("metadata.name", In, &["node1"])]),
                    exprs(vec![req("foo", In, &["not-match-to-bar"])]),
                ]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Pod with two terms of node.Name affinity",
                n2(&[]),
                affine(vec![
                    fields(vec![req("metadata.name", In, &["node1"])]),
                    fields(vec![req("metadata.name", In, &["node2"])]),
                ]),
            ),
            case(
                "matchFields NotIn metadata.name excludes the named node",
                n1(&[]),
                affine(vec![fields(vec![req("metadata.name", NotIn, &["node1"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "matchFields NotIn metadata.name admits other nodes",
                n2(&[]),
                affine(vec![fields(vec![req("metadata.name", NotIn, &["node1"])])]),
            ),
            case(
                "matchFields In with two values is invalid (exactly one value) even for a listed node",
                n1(&[]),
                affine(vec![fields(vec![req("metadata.name", In, &["node1", "node2"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "matchFields on an unsupported field matches nothing",
                n1(&[]),
                affine(vec![fields(vec![req("metadata.uid", In, &["node1"])])]),
            )
            .want(&[POD_AFFINITY]),
            case(
                "Matches added affinity and Pod's node affinity",
                n2(&[("zone", "foo")]),
                affine(vec![exprs(vec![req("zone", In, &["foo"])])]),
            )
            .policy(added(required_affinity(vec![fields(vec![req("metadata.name", In, &["node2"])])]))),
            case(
                "Matches added affinity but not Pod's node affinity",
                n2(&[("zone", "foo")]),
                affine(vec![exprs(vec![req("zone", In, &["bar"])])]),
            )
            .policy(added(required_affinity(vec![fields(vec![req("metadata.name", In, &["node2"])])])))
            .want(&[POD_AFFINITY]),
            case("Doesn't match added affinity", n2(&[("zone", "foo")]), pod("p"))
                .policy(added(required_affinity(vec![exprs(vec![req("zone", In, &["bar"])])])))
                .want(&[ENFORCED]),
            case(
                "added affinity is checked first and reported alone",
                n2(&[("zone", "foo")]),
                pod("p").with_node_selector("zone", "bar"),
            )
            .policy(added(required_affinity(vec![exprs(vec![req("zone", In, &["bar"])])])))
            .want(&[ENFORCED]),
            case("added affinity with only preferred terms does not filter", n2(&[("zone", "foo")]), pod("p")).policy(
                added(spillway::NodeAffinity {
                    required: None,
                    preferred: vec![spillway::model::PreferredSchedulingTerm {
                        weight: 5,
                        preference: exprs(vec![req("zone", In, &["bar"])]),
                    }],
                }),
            ),
            case(
                "preferred terms never filter",
                n1(&[]),
                pod("p").preferred(10, exprs(vec![req("foo", In, &["bar"])])),
            ),
        ],
    );
}

#[test]
fn node_affinity_prefilter_node_name_subset() {
    let nodes = || (1..=4).map(|i| node(&format!("node{i}"), &[("cpu", "1")])).collect::<Vec<_>>();
    let by_name = |names: &[&[&str]]| {
        names.iter().fold(pod("p"), |p, term| {
            p.required_term(fields(term.iter().map(|n| req("metadata.name", In, &[n])).collect()))
        })
    };

    // A single pinned node: the other three are never evaluated by kube and share one reason.
    let plan = run(&Policy::default(), nodes(), vec![], &[by_name(&[&["node3"]])]);
    let d = &plan.decisions[0];
    assert_eq!(d.node(), Some("node3"));
    for n in ["node1", "node2", "node4"] {
        assert_eq!(verdict(d, n).filters[AFFINITY], vec![OUTSIDE_SUBSET], "{n}");
        assert!(!verdict(d, n).feasible);
    }

    // Two ORed terms: the union {node1, node2}.
    let plan = run(&Policy::default(), nodes(), vec![], &[by_name(&[&["node1"], &["node2"]])]);
    let d = &plan.decisions[0];
    assert!(matches!(d.node(), Some("node1" | "node2")));
    assert!(verdict(d, "node1").feasible && verdict(d, "node2").feasible);
    assert_eq!(verdict(d, "node4").filters[AFFINITY], vec![OUTSIDE_SUBSET]);

    // A subset naming a node the snapshot lacks: every real node is outside it.
    let plan = run(&Policy::default(), nodes(), vec![], &[by_name(&[&["node9"]])]);
    assert_eq!(message(&plan.decisions[0]), format!("0/4 nodes are available: 4 {OUTSIDE_SUBSET}."));

    // One term pinning two different names: PreFilter rejects the pod outright and the message
    // carries only the PreFilter reason.
    let plan = run(&Policy::default(), nodes(), vec![], &[by_name(&[&["node1", "node2"]])]);
    let d = &plan.decisions[0];
    assert_eq!(message(d), "0/4 nodes are available: pod affinity terms conflict.");
    let Outcome::Unschedulable(diag) = &d.outcome else { unreachable!() };
    assert_eq!(diag.reasons, [("pod affinity terms conflict".to_string(), 4)].into());
    assert!(!verdict(d, "node1").feasible);

    // The subset comes from the pod's own terms only; addedAffinity pinning a name filters but
    // does not narrow the evaluated set.
    let mut policy = Policy::default();
    policy.profile.node_affinity.added_affinity =
        Some(required_affinity(vec![fields(vec![req("metadata.name", In, &["node2"])])]));
    let plan = run(&policy, nodes(), vec![], &[pod("p")]);
    assert_eq!(plan.decisions[0].node(), Some("node2"));
    assert_eq!(verdict(&plan.decisions[0], "node1").filters[AFFINITY], vec![ENFORCED]);
    let plan = run(&policy, nodes(), vec![], &[pod("p").c(&[("cpu", "2")])]);
    assert_eq!(message(&plan.decisions[0]), format!("0/4 nodes are available: 1 Insufficient cpu, 3 {ENFORCED}."));

    // Without the NodeAffinity filter there is no PreFilter subset either.
    let mut policy = Policy::default();
    policy.profile.filters.retain(|f| *f != FilterPlugin::NodeAffinity);
    let plan = run(&policy, nodes(), vec![], &[by_name(&[&["node9"]])]);
    assert!(plan.decisions[0].node().is_some());
}

fn port(ip: &str, protocol: Protocol, port: u16) -> HostPort {
    HostPort { host_ip: ip.into(), protocol, port }
}

#[test]
fn node_ports() {
    use Protocol::*;
    let wanting = |ports: Vec<HostPort>| ports.into_iter().fold(pod("p"), Pod::with_host_port);
    let using = |ports: Vec<HostPort>| ports.into_iter().fold(pod("e"), Pod::with_host_port);
    check(
        PORTS,
        vec![
            case("nothing running", plain_node(), pod("p")),
            case("nothing running, pod with ports", plain_node(), wanting(vec![port("127.0.0.1", UDP, 8080)])),
            case("other port", plain_node(), wanting(vec![port("127.0.0.1", UDP, 8080)])).existing(using(vec![port(
                "127.0.0.1",
                UDP,
                9090,
            )])),
            case("same udp port", plain_node(), wanting(vec![port("127.0.0.1", UDP, 8080)]))
                .existing(using(vec![port("127.0.0.1", UDP, 8080)]))
                .want(&[PORTS_TAKEN]),
            case("same tcp port", plain_node(), wanting(vec![port("127.0.0.1", TCP, 8080)]))
                .existing(using(vec![port("127.0.0.1", TCP, 8080)]))
                .want(&[PORTS_TAKEN]),
            case("different host ip", plain_node(), wanting(vec![port("127.0.0.1", TCP, 8080)]))
                .existing(using(vec![port("127.0.0.2", TCP, 8080)])),
            case("different protocol", plain_node(), wanting(vec![port("127.0.0.1", UDP, 8080)]))
                .existing(using(vec![port("127.0.0.1", TCP, 8080)])),
            case(
                "second udp port conflict",
                plain_node(),
                wanting(vec![port("127.0.0.1", TCP, 8001), port("127.0.0.1", UDP, 8080)]),
            )
            .existing(using(vec![port("127.0.0.1", TCP, 8001), port("127.0.0.1", UDP, 8081)]))
            .want(&[PORTS_TAKEN]),
            case(
                "first tcp port conflict",
                plain_node(),
                wanting(vec![port("127.0.0.1", TCP, 8001), port("127.0.0.1", UDP, 8080)]),
            )
            .existing(using(vec![port("127.0.0.1", TCP, 8001), port("127.0.0.1", UDP, 8081)]))
            .want(&[PORTS_TAKEN]),
            case(
                "first tcp port conflict due to 0.0.0.0 hostIP",
                plain_node(),
                wanting(vec![port("0.0.0.0", TCP, 8001)]),
            )
            .existing(using(vec![port("127.0.0.1", TCP, 8001)]))
            .want(&[PORTS_TAKEN]),
            case(
                "TCP hostPort conflict due to 0.0.0.0 hostIP",
                plain_node(),
                wanting(vec![port("10.0.10.10", TCP, 8001), port("0.0.0.0", TCP, 8001)]),
            )
            .existing(using(vec![port("127.0.0.1", TCP, 8001)]))
            .want(&[PORTS_TAKEN]),
            case(
                "second tcp port conflict to 0.0.0.0 hostIP",
                plain_node(),
                wanting(vec![port("127.0.0.1", TCP, 8001)]),
            )
            .existing(using(vec![port("0.0.0.0", TCP, 8001)]))
            .want(&[PORTS_TAKEN]),
            case("second different protocol", plain_node(), wanting(vec![port("127.0.0.1", UDP, 8001)]))
                .existing(using(vec![port("0.0.0.0", TCP, 8001)])),
            case(
                "UDP hostPort conflict due to 0.0.0.0 hostIP",
                plain_node(),
                wanting(vec![port("127.0.0.1", UDP, 8001)]),
            )
            .existing(using(vec![port("0.0.0.0", TCP, 8001), port("0.0.0.0", UDP, 8001)]))
            .want(&[PORTS_TAKEN]),
            case("an empty hostIP is the 0.0.0.0 wildcard", plain_node(), wanting(vec![HostPort::tcp(8001)]))
                .existing(using(vec![port("10.1.2.3", TCP, 8001)]))
                .want(&[PORTS_TAKEN]),
            case(
                "an empty hostIP is the 0.0.0.0 wildcard (used side)",
                plain_node(),
                wanting(vec![port("10.1.2.3", TCP, 8001)]),
            )
            .existing(using(vec![HostPort::tcp(8001)]))
            .want(&[PORTS_TAKEN]),
            case("SCTP does not collide with TCP", plain_node(), wanting(vec![port("", SCTP, 8001)]))
                .existing(using(vec![HostPort::tcp(8001)])),
            case("SCTP collides with SCTP", plain_node(), wanting(vec![port("", SCTP, 8001)]))
                .existing(using(vec![port("0.0.0.0", SCTP, 8001)]))
                .want(&[PORTS_TAKEN]),
            case("ports of several existing pods add up", plain_node(), wanting(vec![HostPort::tcp(81)]))
                .existing(using(vec![HostPort::tcp(80)]))
                .existing(using(vec![HostPort::tcp(81)]))
                .want(&[PORTS_TAKEN]),
        ],
    );

    // A port taken by an earlier pending pod (assumed on the node) is no longer free.
    let one = vec![node("n1", &[("cpu", "4")])];
    let a = pod("a").with_host_port(HostPort::tcp(8080));
    let b = pod("b").with_host_port(HostPort::tcp(8080));
    let plan = run(&Policy::default(), one, vec![], &[a, b]);
    assert_eq!(plan.decisions[0].node(), Some("n1"));
    assert_eq!(message(&plan.decisions[1]), one_node_message(&[PORTS_TAKEN]));
}

#[test]
fn diagnosis_messages() {
    use TaintEffect::*;
    // kube's FitError: "count reason" items sorted as strings, so "1 I..." < "1 n..." < "2 ...".
    let nodes = vec![
        node("n1", &[("cpu", "1"), ("memory", "1Gi")]),
        node("n2", &[("cpu", "1"), ("memory", "8Gi")]),
        node("n3", &[("cpu", "8"), ("memory", "8Gi")]).with_taint(Taint::new("gpu", "true", NoSchedule)),
    ];
    let p = pod("p").c(&[("cpu", "2"), ("memory", "2Gi")]);
    let plan = run(&Policy::default(), nodes, vec![], &[p]);
    let d = &plan.decisions[0];
    assert_eq!(
        message(d),
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {gpu: true}, 2 Insufficient cpu."
    );
    let Outcome::Unschedulable(diag) = &d.outcome else { unreachable!() };
    assert_eq!(
        diag.reasons,
        [
            ("Insufficient cpu".to_string(), 2),
            ("Insufficient memory".to_string(), 1),
            ("node(s) had untolerated taint {gpu: true}".to_string(), 1),
        ]
        .into()
    );

    // "10 X" sorts before "2 Y".
    let mut nodes: Vec<Node> = (0..10).map(|i| node(&format!("m{i:02}"), &[("cpu", "8"), ("memory", "1Gi")])).collect();
    nodes.extend((0..2).map(|i| node(&format!("c{i}"), &[("cpu", "1"), ("memory", "8Gi")])));
    let plan = run(&Policy::default(), nodes, vec![], &[pod("p").c(&[("cpu", "2"), ("memory", "2Gi")])]);
    assert_eq!(message(&plan.decisions[0]), "0/12 nodes are available: 10 Insufficient memory, 2 Insufficient cpu.");

    // Different taints are different reasons.
    let nodes = vec![
        node("a", &[("cpu", "1")]).with_taint(Taint::new("team", "a", NoSchedule)),
        node("b", &[("cpu", "1")]).with_taint(Taint::new("team", "b", NoExecute)),
        node("c", &[("cpu", "1")]).with_taint(Taint::new("team", "b", NoSchedule)),
    ];
    let plan = run(&Policy::default(), nodes, vec![], &[pod("p")]);
    assert_eq!(
        message(&plan.decisions[0]),
        "0/3 nodes are available: 1 node(s) had untolerated taint {team: a}, 2 node(s) had untolerated taint {team: b}."
    );

    // DaemonSet-style pod pinned to one of 7 nodes by matchFields, failing NodePorts there.
    let nodes: Vec<Node> = (1..=7).map(|i| node(&format!("n{i}"), &[("cpu", "1")])).collect();
    let ds =
        pod("ds").required_term(fields(vec![req("metadata.name", In, &["n2"])])).with_host_port(HostPort::tcp(9100));
    let holder = pod("e").with_host_port(HostPort::tcp(9100));
    let plan = run(&Policy::default(), nodes, vec![("n2", holder)], &[ds]);
    assert_eq!(message(&plan.decisions[0]), format!("0/7 nodes are available: 1 {PORTS_TAKEN}, 6 {OUTSIDE_SUBSET}."));

    // No nodes at all.
    let plan = run(&Policy::default(), vec![], vec![], &[pod("p")]);
    assert_eq!(message(&plan.decisions[0]), "no nodes available to schedule pods");

    // Filters run in kube's order and the first failing plugin is the one counted.
    let everything_wrong = node("n1", &[("cpu", "1"), ("pods", "0")])
        .cordoned()
        .with_taint(Taint::new("t", "v", NoSchedule))
        .with_label("zone", "a");
    let holder = pod("e").with_host_port(HostPort::tcp(80));
    let p = pod("p").with_node_selector("zone", "b").with_host_port(HostPort::tcp(80));
    let mut policy = Policy::default();
    let order = ["NodeUnschedulable", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit"];
    let reasons = [CORDONED, "node(s) had untolerated taint {t: v}", POD_AFFINITY, PORTS_TAKEN, "Too many pods"];
    for (i, first) in order.iter().enumerate() {
        // Pods listed in a snapshot may exceed a node's pod allocatable; the filter still runs.
        let plan = run(&policy, vec![everything_wrong.clone()], vec![("n1", holder.clone())], std::slice::from_ref(&p));
        let d = &plan.decisions[0];
        assert_eq!(message(d), one_node_message(&reasons[i..=i]), "first failing plugin {first}");
        let v = verdict(d, "n1");
        for (plugin, reason) in order.iter().zip(reasons).skip(i) {
            assert_eq!(v.filters[*plugin].first().map(String::as_str), Some(reason), "{plugin}");
        }
        policy.profile.filters.retain(|f| f.name() != *first);
    }
}

#[test]
fn explain_counts_only_the_first_failing_plugin() {
    use TaintEffect::*;
    let nodes = vec![
        node("n1", &[("cpu", "1"), ("memory", "1Gi")]).with_taint(Taint::new("gpu", "true", NoSchedule)),
        node("n2", &[("cpu", "1"), ("memory", "1Gi")]),
        node("n3", &[("cpu", "8"), ("memory", "8Gi")]).cordoned().with_label("zone", "x"),
    ];
    let p = pod("p").c(&[("cpu", "2"), ("memory", "2Gi")]).with_node_selector("zone", "y");
    let plan = run(&Policy::default(), nodes, vec![], &[p]);
    let d = &plan.decisions[0];
    assert_eq!(
        message(d),
        format!(
            "0/3 nodes are available: 1 {POD_AFFINITY}, 1 node(s) had untolerated taint {{gpu: true}}, 1 {CORDONED}."
        )
    );
    // Every filter ran on every node and lists its own reasons.
    let n1 = verdict(d, "n1");
    assert_eq!(n1.filters.len(), Policy::default().profile.filters.len());
    assert_eq!(n1.filters[TAINTS], vec!["node(s) had untolerated taint {gpu: true}"]);
    assert_eq!(n1.filters[AFFINITY], vec![POD_AFFINITY]);
    assert_eq!(n1.filters[FIT], vec![CPU, MEM]);
    assert!(n1.filters[UNSCHEDULABLE].is_empty() && n1.filters[PORTS].is_empty() && n1.filters[NODE_NAME].is_empty());
    assert!(n1.scores.is_empty() && n1.total.is_none());
    let n2 = verdict(d, "n2");
    assert_eq!(n2.filters[AFFINITY], vec![POD_AFFINITY]);
    assert_eq!(n2.filters[FIT], vec![CPU, MEM]);
    let n3 = verdict(d, "n3");
    assert_eq!(n3.filters[UNSCHEDULABLE], vec![CORDONED]);
    assert_eq!(n3.filters[AFFINITY], vec![POD_AFFINITY]);
    assert!(n3.filters[FIT].is_empty());
    let Outcome::Unschedulable(diag) = &d.outcome else { unreachable!() };
    assert_eq!(diag.reasons.values().sum::<usize>(), 3);
    assert!(!diag.reasons.contains_key(CPU));

    // Only the enabled filters are listed.
    let mut policy = Policy::default();
    policy.profile.filters = vec![FilterPlugin::NodeResourcesFit];
    let plan = run(&policy, vec![node("n1", &[("cpu", "1")]).cordoned()], vec![], &[pod("p")]);
    let v = verdict(&plan.decisions[0], "n1");
    assert_eq!(v.filters.keys().collect::<Vec<_>>(), vec![FIT]);
    assert!(v.feasible);
}

#[test]
fn pending_pods_see_earlier_placements() {
    // Each placement is assumed before the next pod: the third pod no longer fits.
    let nodes = vec![node("n1", &[("cpu", "2"), ("memory", "4Gi"), ("pods", "3")])];
    let pods: Vec<Pod> = (0..3).map(|i| pod(&format!("p{i}")).c(&[("cpu", "1")])).collect();
    let plan = run(&Policy::default(), nodes.clone(), vec![], &pods);
    assert_eq!(plan.decisions[0].node(), Some("n1"));
    assert_eq!(plan.decisions[1].node(), Some("n1"));
    assert_eq!(message(&plan.decisions[2]), one_node_message(&[CPU]));
    // And pod slots are consumed too.
    let pods: Vec<Pod> = (0..4).map(|i| pod(&format!("q{i}"))).collect();
    let plan = run(&Policy::default(), nodes, vec![], &pods);
    assert_eq!(message(&plan.decisions[3]), one_node_message(&["Too many pods"]));
}
