//! Score-plugin tables modelled on kube-scheduler's own plugin tests
//! (least_allocated_test.go, most_allocated_test.go, requested_to_capacity_ratio_test.go,
//! balanced_allocation_test.go, taint_toleration_test.go, node_affinity_test.go), run through
//! spillway's public API with explanations on.
//!
//! kube's score tests call the scorer directly without filtering; the tables here do the same
//! by running a policy with no filters and the tested plugin as the only scorer (weight 1), so
//! `NodeVerdict::scores[plugin]` is the plugin's normalised score and `total` equals it.

mod common;

use common::*;
use spillway::model::{
    FilterPlugin, NodeSelectorOperator::*, PreferredSchedulingTerm, RequestedToCapacityRatioParam, ResourceWeight,
    ScorePlugin, ScoringStrategyType, UtilizationShapePoint, WeightedScorePlugin,
};
use spillway::{Node, NodeAffinity, Pod, Policy, Taint, TaintEffect, Toleration};

/// One row: `pod` scored on `nodes` holding `existing` pods; `want` lists the plugin's
/// normalised score per node, in `nodes` order.
struct Case {
    name: &'static str,
    nodes: Vec<Node>,
    existing: Vec<(&'static str, Pod)>,
    pod: Pod,
    want: Vec<i64>,
}

fn case(name: &'static str, nodes: Vec<Node>, pod: Pod, want: &[i64]) -> Case {
    Case { name, nodes, existing: vec![], pod, want: want.to_vec() }
}

impl Case {
    fn on(mut self, node: &'static str, p: Pod) -> Case {
        self.existing.push((node, p));
        self
    }
}

fn check(plugin: ScorePlugin, policy: &Policy, cases: Vec<Case>) {
    for c in cases {
        let names: Vec<String> = c.nodes.iter().map(|n| n.name.clone()).collect();
        let plan = run(policy, c.nodes, c.existing, std::slice::from_ref(&c.pod));
        let d = &plan.decisions[0];
        let got: Vec<i64> = names
            .iter()
            .map(|n| {
                let v = verdict(d, n);
                assert!(v.feasible, "{}: {n} infeasible: {:?}", c.name, v.filters);
                *v.scores.get(plugin.name()).unwrap_or_else(|| panic!("{}: no {plugin} score on {n}", c.name))
            })
            .collect();
        assert_eq!(got, c.want, "{}: {plugin} scores", c.name);
        // With a single weight-1 scorer the total is the plugin's score and the chosen node has
        // the best one.
        let weight = policy.profile.scores.iter().find(|s| s.name == plugin).map_or(0, |s| s.weight);
        for (n, s) in names.iter().zip(&got) {
            assert_eq!(verdict(d, n).total, Some(s * weight), "{}: total on {n}", c.name);
        }
        let best = got.iter().max().copied().unwrap_or_default() * weight;
        assert!(matches!(&d.outcome, spillway::Outcome::Node { score, .. } if *score == best), "{}", c.name);
    }
}

fn fit_policy(kind: ScoringStrategyType, resources: &[(&str, i64)]) -> Policy {
    let mut p = score_only(ScorePlugin::NodeResourcesFit, &[]);
    let s = &mut p.profile.node_resources_fit.scoring_strategy;
    s.kind = kind;
    s.resources = resources.iter().map(|(n, w)| ResourceWeight::new(*n, *w)).collect();
    p
}

fn rtcr_policy(shape: &[(i64, i64)], resources: &[(&str, i64)]) -> Policy {
    let mut p = fit_policy(ScoringStrategyType::RequestedToCapacityRatio, resources);
    p.profile.node_resources_fit.scoring_strategy.requested_to_capacity_ratio = Some(RequestedToCapacityRatioParam {
        shape: shape.iter().map(|&(utilization, score)| UtilizationShapePoint { utilization, score }).collect(),
    });
    p
}

const CPU_MEM: &[(&str, i64)] = &[("cpu", 1), ("memory", 1)];
const XYZ: &str = "abc.com/xyz";

/// A node with `cpu` and `memory` capacity (kube's `Capacity(map{"cpu": .., "memory": ..})`).
fn cm(name: &str, cpu: &str, mem: &str) -> Node {
    node(name, &[("cpu", cpu), ("memory", mem)])
}

fn cm_x(name: &str, cpu: &str, mem: &str, xyz: &str) -> Node {
    node(name, &[("cpu", cpu), ("memory", mem), (XYZ, xyz)])
}

/// A pod whose containers request (cpu, memory) each, as kube's `st.MakePod().Req(..)`.
fn req_pod(containers: &[(&str, &str)]) -> Pod {
    containers.iter().fold(pod("p"), |p, (c, m)| p.c(&[("cpu", c), ("memory", m)]))
}

fn two_containers() -> Pod {
    req_pod(&[("1000", "2000"), ("2000", "3000")])
}

#[test]
fn least_allocated() {
    use ScoringStrategyType::LeastAllocated;
    let policy = fit_policy(LeastAllocated, CPU_MEM);
    let existing = |c: &str, m: &str| pod("e").c(&[("cpu", c), ("memory", m)]);
    check(
        ScorePlugin::NodeResourcesFit,
        &policy,
        vec![
            case(
                "nothing scheduled, nothing requested",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                pod("p"),
                &[100, 100],
            ),
            case(
                "nothing scheduled, resources requested, differently sized nodes",
                vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
                two_containers(),
                &[37, 50],
            ),
            case(
                "no resources requested, pods scheduled",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                pod("p"),
                &[100, 100],
            )
            .on("node1", pod("e"))
            .on("node1", pod("e"))
            .on("node2", pod("e"))
            .on("node2", pod("e")),
            case(
                "no resources requested, pods scheduled with resources (explicit zero memory stays 0)",
                vec![cm("node1", "10000", "20000"), cm("node2", "10000", "20000")],
                pod("p"),
                &[70, 57],
            )
            .on("node1", existing("3000", "0"))
            .on("node1", existing("3000", "0"))
            .on("node2", existing("3000", "0"))
            .on("node2", existing("3000", "5000")),
            case(
                "resources requested, pods scheduled with resources",
                vec![cm("node1", "10000", "20000"), cm("node2", "10000", "20000")],
                two_containers(),
                &[57, 45],
            )
            .on("node1", existing("3000", "0"))
            .on("node2", existing("3000", "5000")),
            case(
                "resources requested, pods scheduled with resources, differently sized nodes",
                vec![cm("node1", "10000", "20000"), cm("node2", "10000", "50000")],
                two_containers(),
                &[57, 60],
            )
            .on("node1", existing("3000", "0"))
            .on("node2", existing("3000", "5000")),
            case(
                "requested resources exceed node capacity",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                pod("p").c(&[("cpu", "3000"), ("memory", "0")]),
                &[50, 25],
            )
            .on("node1", existing("3000", "0"))
            .on("node2", existing("3000", "5000")),
            case(
                "zero node resources, pods scheduled with resources",
                vec![node("node1", &[]), node("node2", &[])],
                pod("p"),
                &[0, 0],
            )
            .on("node1", existing("3000", "0"))
            .on("node2", existing("3000", "5000")),
        ],
    );
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(LeastAllocated, &[("memory", 2), ("cpu", 1)]),
        vec![case(
            "nothing scheduled, resources requested with different weight on CPU and memory, differently sized nodes",
            vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
            two_containers(),
            &[41, 50],
        )],
    );
    let extended = fit_policy(LeastAllocated, &[("cpu", 1), ("memory", 1), (XYZ, 1)]);
    check(
        ScorePlugin::NodeResourcesFit,
        &extended,
        vec![
            case(
                "bypass extended resource if the pod does not request",
                vec![cm("node1", "6000", "10000"), cm_x("node2", "6000", "10000", "4")],
                two_containers(),
                &[50, 50],
            ),
            case(
                "honor extended resource if the pod requests",
                vec![cm_x("node1", "6000", "10000", "4"), cm_x("node2", "6000", "10000", "10")],
                pod("p").c(&[("cpu", "3000"), ("memory", "5000"), (XYZ, "2")]),
                &[50, 60],
            ),
            case(
                "extended resource already in use on the node",
                vec![cm_x("node1", "6000", "10000", "4"), cm_x("node2", "6000", "10000", "4")],
                pod("p").c(&[("cpu", "3000"), ("memory", "5000"), (XYZ, "1")]),
                // node1: (50 + 50 + 75) / 3 = 58; node2 has 2 more in use: (50 + 50 + 25) / 3 = 41
                &[58, 41],
            )
            .on("node2", pod("e").c(&[("cpu", "0"), ("memory", "0"), (XYZ, "2")])),
        ],
    );
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(LeastAllocated, &[(XYZ, 2), ("cpu", 1), ("memory", 1)]),
        vec![
            case(
                "if the node doesn't have a resource",
                vec![cm("node1", "6000", "10000"), cm_x("node2", "6000", "10000", "4")],
                req_pod(&[("3000", "4000")]),
                &[55, 55],
            ),
            case(
                "if the node doesn't have a resource the pod requests, it is scored on the others",
                vec![cm("node1", "6000", "10000"), cm_x("node2", "6000", "10000", "4")],
                pod("p").c(&[("cpu", "3000"), ("memory", "4000"), (XYZ, "2")]),
                // node1 lacks xyz: (50 + 60) / 2 = 55; node2: (50×2 + 50 + 60) / 4 = 52
                &[55, 52],
            ),
        ],
    );
    // ephemeral-storage is scored from the real requests and is not skipped when the pod asks
    // for none of it (unlike extended resources).
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(LeastAllocated, &[("ephemeral-storage", 1)]),
        vec![
            case(
                "ephemeral-storage counts the node's usage even when the pod requests none",
                vec![node("node1", &[("ephemeral-storage", "100")]), node("node2", &[("ephemeral-storage", "100")])],
                pod("p").c(&[]),
                &[100, 75],
            )
            .on("node2", pod("e").c(&[("ephemeral-storage", "25")])),
        ],
    );
    // `pods` is never scored: no node offers it as a scalar.
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(LeastAllocated, &[("pods", 1)]),
        vec![case("pods is not a scored resource", vec![cm("node1", "1", "1Gi")], pod("p").c(&[]), &[0])],
    );
}

#[test]
fn most_allocated() {
    use ScoringStrategyType::MostAllocated;
    let policy = fit_policy(MostAllocated, CPU_MEM);
    check(
        ScorePlugin::NodeResourcesFit,
        &policy,
        vec![
            case(
                "nothing scheduled, nothing requested",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                pod("p"),
                &[0, 0],
            ),
            case(
                "nothing scheduled, resources requested, differently sized nodes",
                vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
                two_containers(),
                &[62, 50],
            ),
            case(
                "no resources requested, pods scheduled with resources",
                vec![cm("node1", "10000", "20000"), cm("node2", "10000", "20000")],
                pod("p"),
                // node1: cpu 60, memory 0 → 30; node2: cpu 60, memory 25 → 42
                &[30, 42],
            )
            .on("node1", pod("e").c(&[("cpu", "3000"), ("memory", "0")]))
            .on("node1", pod("e").c(&[("cpu", "3000"), ("memory", "0")]))
            .on("node2", pod("e").c(&[("cpu", "3000"), ("memory", "0")]))
            .on("node2", pod("e").c(&[("cpu", "3000"), ("memory", "5000")])),
            case(
                "resources requested, pods scheduled with resources",
                vec![cm("node1", "10000", "20000"), cm("node2", "10000", "20000")],
                two_containers(),
                &[42, 55],
            )
            .on("node1", pod("e").c(&[("cpu", "3000"), ("memory", "0")]))
            .on("node2", pod("e").c(&[("cpu", "3000"), ("memory", "5000")])),
            case(
                "resources requested, pods scheduled with resources, differently sized nodes",
                vec![cm("node1", "5000", "10000"), cm("node2", "10000", "9000")],
                req_pod(&[("2000", "4000"), ("3000", "5000")]),
                &[95, 75],
            ),
            case(
                "requested resources exceed node capacity: capped at 100",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                pod("p").c(&[("cpu", "6000"), ("memory", "10000")]),
                &[100, 100],
            ),
            case(
                "no requests: the 100m / 200Mi non-zero defaults apply; cpu over capacity is capped",
                vec![cm("node1", "250m", "1000Mi"), cm("node2", "250m", "1000Mi")],
                pod("p").c(&[]),
                &[80, 30],
            )
            .on("node1", pod("e").c(&[]))
            .on("node1", pod("e").c(&[])),
            case(
                "existing pod with a restartable init container",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                req_pod(&[("1000", "2000")]),
                &[67, 45],
            )
            .on("node1", req_pod(&[("1000", "2000")]).sidecar(&[("cpu", "1000"), ("memory", "2000")]))
            .on("node2", req_pod(&[("1000", "2000")])),
        ],
    );
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(MostAllocated, &[("memory", 2), ("cpu", 1)]),
        vec![case(
            "resources requested with more weight on memory",
            vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
            two_containers(),
            // node1: (75 + 50*2) / 3 = 58; node2: (50 + 50*2) / 3 = 50
            &[58, 50],
        )],
    );
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(MostAllocated, &[("cpu", 1), ("memory", 1), (XYZ, 1)]),
        vec![
            case(
                "bypass extended resource if the pod does not request",
                vec![cm("node1", "6000", "10000"), cm_x("node2", "6000", "10000", "4")],
                two_containers(),
                &[50, 50],
            ),
            case(
                "honor extended resource if the pod requests",
                vec![cm_x("node1", "6000", "10000", "4"), cm_x("node2", "6000", "10000", "10")],
                pod("p").c(&[("cpu", "3000"), ("memory", "5000"), (XYZ, "2")]),
                &[50, 40],
            ),
        ],
    );
    // The same existing-sidecar layout under LeastAllocated.
    check(
        ScorePlugin::NodeResourcesFit,
        &fit_policy(ScoringStrategyType::LeastAllocated, CPU_MEM),
        vec![
            case(
                "existing pod with a restartable init container (LeastAllocated)",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                req_pod(&[("1000", "2000")]),
                &[32, 55],
            )
            .on("node1", req_pod(&[("1000", "2000")]).sidecar(&[("cpu", "1000"), ("memory", "2000")]))
            .on("node2", req_pod(&[("1000", "2000")])),
        ],
    );
}

#[test]
fn requested_to_capacity_ratio() {
    let down = rtcr_policy(&[(0, 10), (100, 0)], CPU_MEM);
    check(
        ScorePlugin::NodeResourcesFit,
        &down,
        vec![
            case(
                "nothing scheduled, nothing requested (default - least requested nodes have priority)",
                vec![cm("node1", "4000", "10000"), cm("node2", "4000", "10000")],
                pod("p"),
                &[100, 100],
            )
            .on("node1", pod("e"))
            .on("node1", pod("e")),
            case(
                "nothing scheduled, resources requested, differently sized nodes (default - least requested nodes have priority)",
                vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
                two_containers(),
                // 37.5 rounds to 38 (LeastAllocated's integer division gives 37)
                &[38, 50],
            ),
            case(
                "no resources requested, pods scheduled with resources (default - least requested nodes have priority)",
                vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
                req_pod(&[("3000", "5000")]),
                // node1 cpu 5000 > 4000 → f(100) = 0, dropped; memory 90% → 10
                &[10, 32],
            )
            .on("node1", req_pod(&[("2000", "4000")]))
            .on("node2", req_pod(&[("1000", "2000")])),
        ],
    );
    let up = rtcr_policy(&[(0, 0), (100, 10)], CPU_MEM);
    check(
        ScorePlugin::NodeResourcesFit,
        &up,
        vec![
            case(
                "resources requested, pods scheduled with resources (most requested nodes have priority)",
                vec![cm("node1", "4000", "10000"), cm("node2", "6000", "10000")],
                req_pod(&[("3000", "5000")]),
                &[95, 68],
            )
            .on("node1", req_pod(&[("2000", "4000")]))
            .on("node2", req_pod(&[("1000", "2000")])),
        ],
    );

    let foo = |n: &str| pod("p").c(&[("intel.com/foo", n)]);
    let foo_nodes = || vec![node("node1", &[("intel.com/foo", "8")]), node("node2", &[("intel.com/foo", "4")])];
    let single = rtcr_policy(&[(0, 0), (100, 1)], &[("intel.com/foo", 1)]);
    check(
        ScorePlugin::NodeResourcesFit,
        &single,
        vec![
            case("nothing scheduled, nothing requested", foo_nodes(), pod("p"), &[0, 0]),
            case("resources requested, pods scheduled with less resources", foo_nodes(), foo("2"), &[2, 5]),
            case(
                "resources requested, pods scheduled with resources, on node with existing pod running",
                foo_nodes(),
                foo("2"),
                &[2, 10],
            )
            .on("node2", foo("2")),
            case("resources requested, pods scheduled with more resources", foo_nodes(), foo("4"), &[5, 10]),
        ],
    );

    let foobar = |f: &str, b: &str| pod("p").c(&[("intel.com/foo", f), ("intel.com/bar", b)]);
    let fb_nodes = || {
        vec![
            node("node1", &[("intel.com/foo", "8"), ("intel.com/bar", "4")]),
            node("node2", &[("intel.com/foo", "4"), ("intel.com/bar", "8")]),
        ]
    };
    let multi = rtcr_policy(&[(0, 0), (100, 1)], &[("intel.com/foo", 3), ("intel.com/bar", 5)]);
    check(
        ScorePlugin::NodeResourcesFit,
        &multi,
        vec![
            case("nothing scheduled, nothing requested", fb_nodes(), pod("p"), &[0, 0]),
            case("resources requested, pods scheduled with less resources", fb_nodes(), foobar("2", "2"), &[4, 3]),
            case(
                "resources requested, pods scheduled with resources, on node with existing pod running",
                fb_nodes(),
                foobar("2", "2"),
                &[4, 7],
            )
            .on("node2", foobar("4", "2")),
            case("resources requested, pods scheduled with more resources", fb_nodes(), foobar("4", "2"), &[5, 5]),
        ],
    );
}

#[test]
fn requested_to_capacity_ratio_shape_function() {
    // kube's BuildBrokenLinearFunction cases, driven through one cpu-scored node of 100 cores:
    // the pod's cpu request in cores is the utilisation. Shape scores are scaled ×10.
    let policy = rtcr_policy(&[(0, 2), (40, 10), (100, 0)], &[("cpu", 1)]);
    let at = |p: &str| if p == "0" { pod("p").c(&[("cpu", "0")]) } else { pod("p").c(&[("cpu", p)]) };
    let rows: &[(&str, i64)] = &[
        ("0", 20),
        ("20", 60),
        ("30", 80),
        ("40", 100),
        // decreasing segment: 100 + (-100 × 1) / 60 truncates toward 0 → 99
        ("41", 99),
        ("70", 50),
        ("99", 2),
        ("100", 0),
        // over capacity → f(100) = 0, which drops the resource: no resource left → 0
        ("110", 0),
    ];
    for &(p, want) in rows {
        let plan = run(&policy, vec![node("n", &[("cpu", "100")])], vec![], &[at(p)]);
        assert_eq!(verdict(&plan.decisions[0], "n").scores["NodeResourcesFit"], want, "utilisation {p}");
    }
    let policy = rtcr_policy(&[(10, 1), (90, 9)], &[("cpu", 1)]);
    let rows: &[(&str, i64)] = &[
        ("0", 10),
        ("9", 10),
        ("10", 10),
        ("15", 15),
        ("20", 20),
        ("89", 89),
        ("90", 90),
        ("99", 90),
        ("100", 90),
        ("110", 90),
    ];
    for &(p, want) in rows {
        let plan = run(&policy, vec![node("n", &[("cpu", "100")])], vec![], &[at(p)]);
        assert_eq!(verdict(&plan.decisions[0], "n").scores["NodeResourcesFit"], want, "utilisation {p}");
    }
}

#[test]
fn non_zero_request_defaults() {
    // LeastAllocated on a 1000m / 1000Mi node: the scorers replace a *missing* cpu or memory
    // request of each container with 100m / 200Mi; an explicit 0 stays 0.
    let policy = fit_policy(ScoringStrategyType::LeastAllocated, CPU_MEM);
    let n = || vec![cm("n1", "1000m", "1000Mi")];
    check(
        ScorePlugin::NodeResourcesFit,
        &policy,
        vec![
            case("container without requests gets 100m and 200Mi", n(), pod("p").c(&[]), &[85]),
            case("pod without containers gets no defaults", n(), pod("p"), &[100]),
            case("explicit zero cpu stays zero, memory is defaulted", n(), pod("p").c(&[("cpu", "0")]), &[90]),
            case("explicit zero cpu and memory", n(), pod("p").c(&[("cpu", "0"), ("memory", "0")]), &[100]),
            case("memory request only: cpu is defaulted", n(), pod("p").c(&[("memory", "500Mi")]), &[70]),
            case(
                "extended request only: cpu and memory are defaulted",
                n(),
                pod("p").c(&[("example.com/x", "1")]),
                &[85],
            ),
            case("defaults apply per container", n(), pod("p").c(&[]).c(&[("cpu", "300m")]), &[60]),
            case("init container without requests: max(100m, 100m)", n(), pod("p").c(&[]).init(&[]), &[85]),
            case("sidecar without requests adds its own defaults", n(), pod("p").c(&[]).sidecar(&[]), &[70]),
            case("an existing request-less pod counts with the defaults", n(), pod("p").c(&[]), &[70])
                .on("n1", pod("e").c(&[])),
            case("an existing pod with explicit zeros counts 0", n(), pod("p").c(&[]), &[85])
                .on("n1", pod("e").c(&[("cpu", "0"), ("memory", "0")])),
            case(
                "overhead is added to the defaulted requests",
                n(),
                pod("p").c(&[]).overhead(&[("cpu", "100m")]),
                &[80],
            ),
        ],
    );
    // The filter uses the real requests: a request-less pod fits a node whose cpu is fully used.
    let full = vec![cm("n1", "1000m", "1000Mi")];
    let plan = run(&Policy::default(), full, vec![("n1", pod("e").c(&[("cpu", "1000m")]))], &[pod("p").c(&[])]);
    assert_eq!(plan.decisions[0].node(), Some("n1"));
}

#[test]
fn balanced_allocation() {
    let policy = score_only(ScorePlugin::NodeResourcesBalancedAllocation, &[]);
    let cm_pod = || req_pod(&[("1000m", "2000"), ("2000m", "3000")]);
    let cpu_only = || req_pod(&[("1000m", "0"), ("2000m", "0")]);
    let mem_only = || req_pod(&[("0", "2000"), ("0", "3000")]);
    check(
        ScorePlugin::NodeResourcesBalancedAllocation,
        &policy,
        vec![
            case(
                "nothing scheduled, nothing requested: skipped (score 0)",
                vec![cm("node1", "4000m", "10000"), cm("node2", "4000m", "10000")],
                pod("p"),
                &[0, 0],
            ),
            case(
                "nothing scheduled, resources requested, differently sized nodes",
                vec![cm("node1", "4000m", "10000"), cm("node2", "6000m", "10000")],
                cm_pod(),
                &[87, 100],
            ),
            case(
                "resources requested, pods scheduled with resources",
                vec![cm("node1", "10000m", "20000"), cm("node2", "10000m", "20000")],
                cm_pod(),
                &[82, 95],
            )
            .on("node1", cpu_only())
            .on("node2", cm_pod()),
            case(
                "resources requested, pods scheduled with resources, differently sized nodes",
                vec![cm("node1", "10000m", "20000"), cm("node2", "10000m", "50000")],
                cm_pod(),
                &[82, 80],
            )
            .on("node1", cpu_only())
            .on("node2", cm_pod()),
            case(
                "requested resources at node capacity",
                vec![cm("node1", "3000m", "5000"), cm("node2", "3000m", "5000")],
                mem_only(),
                &[100, 50],
            )
            .on("node1", cpu_only()),
            case(
                "cpu-only pod: fractions capped at 1",
                vec![cm("node1", "6000m", "10000"), cm("node2", "6000m", "10000")],
                cpu_only(),
                &[50, 75],
            )
            .on("node1", cpu_only())
            .on("node2", cm_pod()),
            case(
                "real requests, not the non-zero defaults: 500m of 1000m and no memory → 75",
                vec![cm("node1", "1000m", "1000Mi")],
                pod("p").c(&[("cpu", "500m")]),
                &[75],
            ),
            case(
                "container without requests is best effort: skipped",
                vec![cm("node1", "1000m", "1000Mi")],
                pod("p").c(&[]),
                &[0],
            ),
            case(
                "requesting only ephemeral-storage is best effort for cpu/memory: skipped",
                vec![node("node1", &[("cpu", "1"), ("memory", "1Gi"), ("ephemeral-storage", "10Gi")])],
                pod("p").c(&[("ephemeral-storage", "1Gi")]),
                &[0],
            ),
        ],
    );
    let gpu = {
        let mut p = policy.clone();
        p.profile.balanced_allocation.resources = vec![
            ResourceWeight::new("cpu", 1),
            ResourceWeight::new("memory", 1),
            ResourceWeight::new("nvidia.com/gpu", 1),
        ];
        p
    };
    let gpu_node = |name: &str| node(name, &[("cpu", "3500m"), ("memory", "40000"), ("nvidia.com/gpu", "8")]);
    check(
        ScorePlugin::NodeResourcesBalancedAllocation,
        &gpu,
        vec![
            case(
                "include scalar resource on a node for balanced resource allocation",
                vec![gpu_node("node1"), gpu_node("node2")],
                pod("p").c(&[("memory", "0"), ("nvidia.com/gpu", "1")]),
                &[70, 65],
            )
            .on(
                "node1",
                pod("e").c(&[("cpu", "1000m"), ("memory", "2000")]).c(&[
                    ("cpu", "2000m"),
                    ("memory", "3000"),
                    ("nvidia.com/gpu", "3"),
                ]),
            )
            .on("node2", cm_pod()),
            case(
                "node without the scalar resource, pod not requesting it",
                vec![gpu_node("node1"), node("node2", &[("cpu", "3500m"), ("memory", "40000")])],
                cm_pod(),
                &[63, 63],
            ),
            case(
                "only an unlisted scalar requested: skipped",
                vec![gpu_node("node1")],
                pod("p").c(&[("cpu", "0"), ("memory", "0"), ("example.com/fpga", "1")]),
                &[0],
            ),
        ],
    );
}

fn tol(key: &str, value: &str, effect: Option<TaintEffect>) -> Toleration {
    Toleration::equal(key, value, effect)
}

#[test]
fn taint_toleration_score() {
    use TaintEffect::*;
    let policy = score_only(ScorePlugin::TaintToleration, &[]);
    let tainted = |name: &str, taints: &[(&str, &str, TaintEffect)]| {
        taints.iter().fold(node(name, &[("cpu", "1")]), |n, (k, v, e)| n.with_taint(Taint::new(*k, *v, *e)))
    };
    let tolerating = |tols: Vec<Toleration>| tols.into_iter().fold(pod("p"), Pod::with_toleration);
    check(
        ScorePlugin::TaintToleration,
        &policy,
        vec![
            case(
                "node with taints tolerated by the pod, gets a higher score than those node with intolerable taints",
                vec![
                    tainted("nodeA", &[("foo", "bar", PreferNoSchedule)]),
                    tainted("nodeB", &[("foo", "blah", PreferNoSchedule)]),
                ],
                tolerating(vec![tol("foo", "bar", Some(PreferNoSchedule))]),
                &[100, 0],
            ),
            case(
                "the nodes that all of their taints are tolerated by the pod, get the same score, no matter how many tolerable taints a node has",
                vec![
                    tainted("nodeA", &[]),
                    tainted("nodeB", &[("cpu-type", "arm64", PreferNoSchedule)]),
                    tainted(
                        "nodeC",
                        &[("cpu-type", "arm64", PreferNoSchedule), ("disk-type", "ssd", PreferNoSchedule)],
                    ),
                ],
                tolerating(vec![
                    tol("cpu-type", "arm64", Some(PreferNoSchedule)),
                    tol("disk-type", "ssd", Some(PreferNoSchedule)),
                ]),
                &[100, 100, 100],
            ),
            case(
                "the more intolerable taints a node has, the lower score it gets.",
                vec![
                    tainted("nodeA", &[]),
                    tainted("nodeB", &[("cpu-type", "arm64", PreferNoSchedule)]),
                    tainted(
                        "nodeC",
                        &[("cpu-type", "arm64", PreferNoSchedule), ("disk-type", "ssd", PreferNoSchedule)],
                    ),
                ],
                tolerating(vec![tol("foo", "bar", Some(PreferNoSchedule))]),
                &[100, 50, 0],
            ),
            case(
                "only taints and tolerations that have effect PreferNoSchedule are checked by prioritizer function",
                vec![
                    tainted("nodeA", &[]),
                    tainted("nodeB", &[("cpu-type", "arm64", NoSchedule)]),
                    tainted(
                        "nodeC",
                        &[("cpu-type", "arm64", PreferNoSchedule), ("disk-type", "ssd", PreferNoSchedule)],
                    ),
                ],
                tolerating(vec![tol("cpu-type", "arm64", Some(NoSchedule)), tol("disk-type", "ssd", Some(NoSchedule))]),
                &[100, 100, 0],
            ),
            case(
                "Default behaviour No taints and tolerations, lands on node with no taints",
                vec![tainted("nodeA", &[]), tainted("nodeB", &[("cpu-type", "arm64", PreferNoSchedule)])],
                pod("p"),
                &[100, 0],
            ),
            case(
                "a toleration without effect counts for scoring",
                vec![
                    tainted("nodeA", &[("foo", "bar", PreferNoSchedule)]),
                    tainted("nodeB", &[("x", "y", PreferNoSchedule)]),
                ],
                tolerating(vec![tol("foo", "bar", None)]),
                &[100, 0],
            ),
            case(
                "empty key with Exists tolerates every PreferNoSchedule taint",
                vec![
                    tainted("nodeA", &[("a", "1", PreferNoSchedule)]),
                    tainted("nodeB", &[("b", "2", PreferNoSchedule)]),
                ],
                tolerating(vec![Toleration::exists("", None)]),
                &[100, 100],
            ),
            case(
                "NoExecute tolerations do not help scoring either",
                vec![tainted("nodeA", &[]), tainted("nodeB", &[("a", "1", PreferNoSchedule)])],
                tolerating(vec![Toleration::exists("a", Some(NoExecute))]),
                &[100, 0],
            ),
            case(
                "reverse normalisation with integer division: raw 0, 1, 3 → 100, 67, 0",
                vec![
                    tainted("nodeA", &[]),
                    tainted("nodeB", &[("a", "1", PreferNoSchedule)]),
                    tainted(
                        "nodeC",
                        &[("a", "1", PreferNoSchedule), ("b", "", PreferNoSchedule), ("c", "", PreferNoSchedule)],
                    ),
                ],
                pod("p"),
                &[100, 67, 0],
            ),
        ],
    );
}

fn pref(weight: i32, term: spillway::NodeSelectorTerm) -> PreferredSchedulingTerm {
    PreferredSchedulingTerm { weight, preference: term }
}

#[test]
fn node_affinity_score() {
    let policy = score_only(ScorePlugin::NodeAffinity, &[]);
    let labelled = |name: &str, labels: &[(&str, &str)]| {
        labels.iter().fold(node(name, &[("cpu", "1")]), |n, (k, v)| n.with_label(*k, *v))
    };
    let affinity1 = || pod("p").preferred(2, exprs(vec![req("foo", In, &["bar"])]));
    let affinity2 = || {
        pod("p")
            .preferred(2, exprs(vec![req("foo", In, &["bar"])]))
            .preferred(4, exprs(vec![req("key", In, &["value"])]))
            .preferred(5, exprs(vec![req("foo", In, &["bar"]), req("key", In, &["value"]), req("az", In, &["az1"])]))
    };
    let label1 = [("foo", "bar")];
    let label2 = [("key", "value")];
    let label3 = [("az", "az1")];
    let label4 = [("abc", "az11"), ("def", "az22")];
    let label5 = [("foo", "bar"), ("key", "value"), ("az", "az1")];
    check(
        ScorePlugin::NodeAffinity,
        &policy,
        vec![
            case(
                "all nodes are same priority as NodeAffinity is nil",
                vec![labelled("node1", &label1), labelled("node2", &label2), labelled("node3", &label3)],
                pod("p"),
                &[0, 0, 0],
            ),
            case(
                "no node matches preferred scheduling requirements in NodeAffinity of pod so all nodes' priority is zero",
                vec![labelled("node1", &label4), labelled("node2", &label2), labelled("node3", &label3)],
                affinity1(),
                &[0, 0, 0],
            ),
            case(
                "only node1 matches the preferred scheduling requirements of pod",
                vec![labelled("node1", &label1), labelled("node2", &label2), labelled("node3", &label3)],
                affinity1(),
                &[100, 0, 0],
            ),
            case(
                "all nodes matches the preferred scheduling requirements of pod but with different priorities",
                vec![labelled("node1", &label1), labelled("node5", &label5), labelled("node2", &label2)],
                affinity2(),
                &[18, 100, 36],
            ),
            case(
                "an empty preference matches nothing",
                vec![labelled("node1", &label1), labelled("node2", &label2)],
                pod("p").preferred(5, exprs(vec![])).preferred(1, exprs(vec![req("key", Exists, &[])])),
                &[0, 100],
            ),
            case(
                "preferred matchFields on metadata.name",
                vec![labelled("node1", &[]), labelled("node2", &[])],
                pod("p").preferred(7, fields(vec![req("metadata.name", In, &["node2"])])),
                &[0, 100],
            ),
            case(
                "a preference with an invalid requirement matches nothing",
                vec![labelled("node1", &label1), labelled("node2", &label2)],
                pod("p")
                    .preferred(9, exprs(vec![req("foo", In, &[])]))
                    .preferred(3, exprs(vec![req("key", In, &["value"])])),
                &[0, 100],
            ),
        ],
    );
    let added = |preferred: Vec<PreferredSchedulingTerm>| {
        let mut p = policy.clone();
        p.profile.node_affinity.added_affinity = Some(NodeAffinity { required: None, preferred });
        p
    };
    check(
        ScorePlugin::NodeAffinity,
        &added(vec![pref(2, exprs(vec![req("foo", In, &["bar"])]))]),
        vec![case("added affinity", vec![labelled("node1", &label1), labelled("node2", &label2)], pod("p"), &[100, 0])],
    );
    check(
        ScorePlugin::NodeAffinity,
        &added(vec![pref(3, exprs(vec![req("key", In, &["value"])]))]),
        vec![case(
            "added affinity and pod has default affinity",
            vec![labelled("node1", &label1), labelled("node2", &label2), labelled("node3", &label5)],
            affinity1(),
            &[40, 60, 100],
        )],
    );
}

/// The four scorers this suite covers, with kube's default weights: TaintToleration 3,
/// NodeAffinity 2, NodeResourcesFit 1, NodeResourcesBalancedAllocation 1.
fn four_scorers(weight: impl Fn(ScorePlugin) -> i64) -> Policy {
    let mut p = Policy::default();
    p.profile.scores = [
        ScorePlugin::TaintToleration,
        ScorePlugin::NodeAffinity,
        ScorePlugin::NodeResourcesFit,
        ScorePlugin::NodeResourcesBalancedAllocation,
    ]
    .into_iter()
    .map(|name| WeightedScorePlugin { name, weight: weight(name) })
    .collect();
    p
}

/// `total` is Σ weight × normalised score over the enabled score plugins.
fn assert_weighted_totals(policy: &Policy, d: &spillway::Decision) {
    for (name, v) in &d.explanation.as_ref().unwrap().nodes {
        if !v.feasible {
            continue;
        }
        let sum: i64 = policy.profile.scores.iter().map(|s| s.weight * v.scores[s.name.name()]).sum();
        assert_eq!(v.total, Some(sum), "{name}: {v:?}");
        assert_eq!(v.scores.len(), policy.profile.scores.len(), "{name}");
    }
}

#[test]
fn weighted_total_with_default_and_custom_weights() {
    let nodes = || {
        vec![
            cm("a", "4", "8Gi").with_label("zone", "a").with_taint(Taint::new(
                "soft",
                "x",
                TaintEffect::PreferNoSchedule,
            )),
            cm("b", "8", "8Gi").with_label("zone", "b"),
        ]
    };
    let p = pod("p").c(&[("cpu", "2"), ("memory", "4Gi")]).preferred(10, exprs(vec![req("zone", In, &["a"])]));

    // The default profile carries kube's weights, and the total is the weighted sum.
    let defaults = Policy::default();
    let weight_of = |name: &str| defaults.profile.scores.iter().find(|s| s.name.name() == name).map(|s| s.weight);
    assert_eq!(weight_of("TaintToleration"), Some(3));
    assert_eq!(weight_of("NodeAffinity"), Some(2));
    assert_eq!(weight_of("NodeResourcesFit"), Some(1));
    assert_eq!(weight_of("NodeResourcesBalancedAllocation"), Some(1));
    let plan = run(&defaults, nodes(), vec![], std::slice::from_ref(&p));
    assert_weighted_totals(&defaults, &plan.decisions[0]);

    let policy = four_scorers(ScorePlugin::default_weight);
    let plan = run(&policy, nodes(), vec![], std::slice::from_ref(&p));
    let d = &plan.decisions[0];
    assert_weighted_totals(&policy, d);
    let scores = |n: &str| {
        let v = verdict(d, n);
        ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "NodeResourcesBalancedAllocation"].map(|k| v.scores[k])
    };
    // a: PNS taint untolerated (0), preferred zone (100), Least (50+50)/2, balanced 0.5/0.5 → 100
    // b: no taint (100), no preference (0), Least (75+50)/2 = 62, |0.25-0.5|/2 → 87
    assert_eq!(scores("a"), [0, 100, 50, 100]);
    assert_eq!(scores("b"), [100, 0, 62, 87]);
    // 3×TaintToleration + 2×NodeAffinity + NodeResourcesFit + BalancedAllocation
    assert_eq!(verdict(d, "a").total, Some(200 + 50 + 100));
    assert_eq!(verdict(d, "b").total, Some(300 + 62 + 87));
    assert!(matches!(&d.outcome, spillway::Outcome::Node { node, score: 449 } if node == "b"));

    // Custom weights change the choice: NodeAffinity 5, TaintToleration 1.
    let custom = four_scorers(|s| match s {
        ScorePlugin::NodeAffinity => 5,
        ScorePlugin::TaintToleration => 1,
        other => other.default_weight(),
    });
    let plan = run(&custom, nodes(), vec![], std::slice::from_ref(&p));
    let d = &plan.decisions[0];
    assert_weighted_totals(&custom, d);
    assert_eq!(verdict(d, "a").total, Some(5 * 100 + 50 + 100));
    assert_eq!(verdict(d, "b").total, Some(100 + 62 + 87));
    assert!(matches!(&d.outcome, spillway::Outcome::Node { node, score: 650 } if node == "a"));

    // A disabled score plugin is not reported and adds nothing; with MostAllocated b packs worse.
    let mut fewer = four_scorers(ScorePlugin::default_weight);
    fewer.profile.scores.retain(|s| s.name != ScorePlugin::TaintToleration);
    fewer.profile.node_resources_fit.scoring_strategy.kind = ScoringStrategyType::MostAllocated;
    let plan = run(&fewer, nodes(), vec![], std::slice::from_ref(&p));
    let d = &plan.decisions[0];
    assert!(!verdict(d, "a").scores.contains_key("TaintToleration"));
    assert_eq!(verdict(d, "a").scores["NodeResourcesFit"], 50);
    assert_eq!(verdict(d, "b").scores["NodeResourcesFit"], 37);
    assert_eq!(verdict(d, "a").total, Some(200 + 50 + 100));
    assert_eq!(d.node(), Some("a"));

    // Weights are checked: 0 is rejected (kube's v1 API would default it to 1 before validation).
    let zero = four_scorers(|s| if s == ScorePlugin::TaintToleration { 0 } else { 1 });
    assert!(spillway::Engine::new(zero).is_err());

    // Infeasible nodes get no scores; a single feasible node is still scored (spillway scores
    // it where kube would skip scoring).
    let plan = run(&policy, vec![cm("a", "1", "1Gi"), cm("b", "4", "8Gi")], vec![], &[pod("q").c(&[("cpu", "2")])]);
    let d = &plan.decisions[0];
    assert!(verdict(d, "a").scores.is_empty() && verdict(d, "a").total.is_none());
    assert_weighted_totals(&policy, d);
    assert_eq!(d.node(), Some("b"));
    let total = verdict(d, "b").total.unwrap();
    assert!(matches!(&d.outcome, spillway::Outcome::Node { score, .. } if *score == total));

    // The filters can be disabled entirely: every node is feasible.
    let mut open = Policy::default();
    open.profile.filters = Vec::<FilterPlugin>::new();
    let plan = run(&open, vec![cm("a", "1", "1Gi").cordoned()], vec![], &[pod("q").c(&[("cpu", "2")])]);
    assert_eq!(plan.decisions[0].node(), Some("a"));
}

/// Equal nodes are chosen by a stable hash of the pod uid and the node name, not "first by
/// name": the same input always gives the same plan, and equal pods spread over equal nodes.
#[test]
fn deterministic_hash_tie_break() {
    let names: Vec<String> = (0..20).map(|i| format!("n{i:02}")).collect();
    // Huge nodes and tiny requests: every node scores the same before and after placements
    // (LeastAllocated 99, BalancedAllocation 99, no taints or affinity).
    let big = |name: &str| cm(name, "1000", "1Ti");
    let nodes: Vec<Node> = names.iter().map(|n| big(n)).collect();
    let pods: Vec<Pod> = (0..20).map(|i| pod(&format!("p{i:02}")).c(&[("cpu", "1m"), ("memory", "1Mi")])).collect();

    // Each pod alone: all 20 nodes tie, and the winner varies with the pod's uid.
    let mut alone = Vec::new();
    for p in &pods {
        let plan = run(&Policy::default(), nodes.clone(), vec![], std::slice::from_ref(p));
        let d = &plan.decisions[0];
        let totals: Vec<Option<i64>> = names.iter().map(|n| verdict(d, n).total).collect();
        assert!(totals.iter().all(|t| *t == totals[0] && t.is_some()), "not a tie: {totals:?}");
        alone.push(d.node().unwrap().to_string());
    }
    let distinct: std::collections::BTreeSet<&String> = alone.iter().collect();
    assert!(alone.iter().any(|n| n != "n00"), "every pod went to the first node: {alone:?}");
    assert!(distinct.len() >= 8, "ties are not spread: {alone:?}");

    // All 20 together: still tied after each placement, so the hash decides every time.
    let plan = run(&Policy::default(), nodes.clone(), vec![], &pods);
    let placed: Vec<&str> = plan.decisions.iter().map(|d| d.node().unwrap()).collect();
    for d in &plan.decisions {
        let totals: Vec<Option<i64>> = names.iter().map(|n| verdict(d, n).total).collect();
        assert!(totals.iter().all(|t| *t == totals[0]), "{}: not a tie: {totals:?}", d.pod);
    }
    assert!(placed.iter().any(|n| *n != "n00"), "{placed:?}");
    let distinct: std::collections::BTreeSet<&&str> = placed.iter().collect();
    assert!(distinct.len() >= 8, "ties are not spread: {placed:?}");
    // Placing together matches placing alone (nothing else changed between pods).
    assert_eq!(placed, alone.iter().map(String::as_str).collect::<Vec<_>>());

    // Re-running gives the identical plan; so does a reversed node order.
    let engine = spillway::Engine::new(Policy::default()).unwrap();
    let snapshot = spillway::Snapshot::new(nodes.clone(), vec![]).unwrap();
    let first = engine.place(&snapshot, &pods);
    assert_eq!(engine.place(&snapshot, &pods), first);
    let reversed = spillway::Snapshot::new(nodes.iter().rev().cloned().collect(), vec![]).unwrap();
    assert_eq!(engine.place(&reversed, &pods), first);
    let opts = spillway::PlaceOptions { explain: true };
    assert_eq!(engine.place_with(&reversed, &pods, opts), engine.place_with(&snapshot, &pods, opts));

    // The uid seeds the tie-break: renaming nothing but the uid can move the pod.
    let moved = (0..20).any(|i| {
        let mut p = pods[0].clone();
        p.uid = format!("other-uid-{i}");
        engine.place(&snapshot, &[p]).decisions[0].node() != Some(alone[0].as_str())
    });
    assert!(moved, "the uid does not influence the tie-break");

    // A strictly better node always wins over the hash: every other node carries a
    // PreferNoSchedule taint.
    let soft = Taint::new("soft", "", TaintEffect::PreferNoSchedule);
    let with_better: Vec<Node> =
        nodes.iter().map(|n| if n.name == "n07" { n.clone() } else { n.clone().with_taint(soft.clone()) }).collect();
    let plan = run(&Policy::default(), with_better, vec![], &pods[..5]);
    assert!(plan.decisions.iter().all(|d| d.node() == Some("n07")), "{:?}", plan.decisions);
}

/// Under the default LeastAllocated strategy each placement lowers its node's score, so equal
/// pods on equal nodes spread out one per node.
#[test]
fn least_allocated_spreads_equal_pods() {
    let nodes: Vec<Node> = (0..4).map(|i| cm(&format!("n{i}"), "4", "16Gi")).collect();
    let pods: Vec<Pod> = (0..4).map(|i| pod(&format!("p{i}")).c(&[("cpu", "1"), ("memory", "4Gi")])).collect();
    let plan = run(&Policy::default(), nodes, vec![], &pods);
    let placed: std::collections::BTreeSet<&str> = plan.decisions.iter().map(|d| d.node().unwrap()).collect();
    assert_eq!(placed.len(), 4, "{:?}", plan.decisions);
}
