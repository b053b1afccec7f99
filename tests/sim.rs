//! The what-if simulator: a golden scenario checked number by number, determinism,
//! conservation of pods, sanity properties across policies, inputs (CSV, traces) and outputs.

#[path = "../examples/support/black_friday_crowd.rs"]
mod black_friday_crowd;

use std::path::Path;
use std::time::Duration;

use spillway::scenario::Scenario;
use spillway::sim::traces::{Trace, TraceOptions};
use spillway::sim::{
    AutoscalerConfig, Change, Diurnal, FlashCrowd, PolicyReport, Report, SimConfig, SimError, SimPolicy, Workload,
    compare,
};

/// One VM node of 2 vCPU at $0.08/h, a pool of the same nodes (120 s to provision, at most 2),
/// an ACI-like target starting in 30 s.
const GOLDEN: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: vm-1, labels: {pool: p}, annotations: {spillway.rs/hourly-cost: "0.08"}}
status: {allocatable: {cpu: "2", memory: 8Gi, pods: "110"}}
---
apiVersion: spillway.rs/v1alpha1
kind: BurstTarget
metadata: {name: aci}
spec: {preset: aci, region: eastus, startLatencySeconds: 30}
---
apiVersion: spillway.rs/v1alpha1
kind: NodePool
metadata: {name: pool}
spec: {allocatable: {cpu: "2", memory: 8Gi, pods: "110"}, labels: {pool: p}, hourlyCost: 0.08, provisioningSeconds: 120, maxNodes: 2}
"#;

/// Two pods of 1 vCPU / 1 GB at 0 s and two more at 60 s, each running 600 s.
const GOLDEN_TRACE: &str = "time,namespace,template,arrivals,cpu,memory,duration\n\
0,shop,web,2,1,1G,600\n\
60,shop,web,2,1,1G,600\n";

fn golden_config() -> SimConfig {
    SimConfig {
        duration: Some(Duration::from_secs(1200)),
        reconcile_interval: Duration::from_secs(1),
        housekeeping_interval: Duration::from_secs(60),
        sample_interval: Some(Duration::from_secs(60)),
        autoscaler: AutoscalerConfig {
            scan_interval: Duration::from_secs(10),
            scale_down_after: Duration::from_secs(600),
            ..AutoscalerConfig::default()
        },
        ..SimConfig::default()
    }
}

fn golden() -> Report {
    let scenario = Scenario::from_yaml_str(GOLDEN).unwrap();
    let workload = Workload::from_csv_str("golden.csv", GOLDEN_TRACE).unwrap();
    compare(&scenario, &workload, &SimPolicy::ALL, &golden_config()).unwrap()
}

fn counts(p: &PolicyReport) -> (u64, u64, u64, u64, u64) {
    (p.pods.arrived, p.pods.vm, p.pods.burst, p.pods.pending, p.pods.withdrawn)
}

fn waits(p: &PolicyReport) -> (u64, u64, u64, u64) {
    (p.pending_seconds.p50, p.pending_seconds.p95, p.pending_seconds.p99, p.pending_seconds.max)
}

/// The golden scenario, number by number. Prices: the node and the pool's nodes $0.08/h
/// (80,000 µ$/h); a 1 vCPU / 1 GB pod on ACI is exactly 1 vCPU / 1.0 GB, 0.0405 + 0.00445 =
/// $0.04495/h (44,950 µ$/h). Costs are summed in µ$·s and divided by 3,600 once, rounded up.
/// Percentiles by nearest rank over the four waits: p50 is the 2nd smallest, p95 and p99 the
/// 4th.
///
/// **Never.** At 0 s web-1 and web-2 fill vm-1 (2 × 1 vCPU): waits 0, 0. At 60 s web-3 and
/// web-4 find no room; the engine says wait for `pool` (current 1 < max 2). The autoscaler
/// scans every 10 s, after the reconcile step of the same instant, so at 60 s it sees them
/// waiting and packs both onto one new node (2 vCPU), ordered at 60 s, ready at 180 s, where
/// both bind: waits 120, 120 → p50 0, p95 = p99 = max 120. web-1/2 end at 600 s, web-3/4 at
/// 780 s; the new node is empty from 780 s and would go at 1,380 s, after the end (1,200 s).
/// VM: vm-1 80,000 × 1,200 = 96,000,000; new node 80,000 × (1,200 − 60) = 91,200,000;
/// 187,200,000 / 3,600 = 52,000 µ$. Node-seconds 1,200 + 1,140 = 2,340 (0.65 h).
///
/// **VirtualNode.** The virtual node is the least allocated node by far, so every pod (they
/// tolerate its taint) lands there and starts after 30 s: waits 30 × 4. Each is billed from its
/// bind to its end: web-1/2 0 → 630 s, web-3/4 60 → 690 s, 630 s each: 4 × 44,950 × 630 =
/// 113,274,000 / 3,600 = 31,465 µ$. VM: vm-1 alone, 96,000,000 / 3,600 = 26,666.7 → 26,667 µ$.
/// Total 58,132 µ$. Peak burst 4.
///
/// **Overflow.** web-1/2 on vm-1; at 60 s web-3/4 burst to ACI (created at 60 s, running at
/// 90 s): waits 0, 0, 30, 30 → p50 0, p95 30. At 600 s web-1/2 end; that step is also a
/// drain-back round (every 60 s from 0 s): both burst pods move back to vm-1 (no owner: one
/// move each allowed), their instances deleted at 600 s. Burst 2 × 44,950 × 540 = 48,546,000 /
/// 3,600 = 13,485 µ$; VM 26,667 µ$; total 40,152 µ$. No node added (nothing waited). Moves 2.
///
/// **CostAware.** At 60 s waiting for a pool node costs the pod's share of it, 1/2 × $0.08 =
/// $0.04/h, less than $0.04495/h on ACI, and the node comes in 120 s, within the default 300 s
/// tolerance: the pods wait, exactly as under Never.
#[test]
fn golden_scenario_number_by_number() {
    let report = golden();
    assert_eq!(report.duration_seconds, 1200);
    let [never, virtual_node, overflow, cost_aware] = &report.policies[..] else { panic!("four policies") };

    assert_eq!(never.policy, SimPolicy::Never);
    assert_eq!(counts(never), (4, 4, 0, 0, 0));
    assert_eq!(waits(never), (0, 120, 120, 120));
    assert_eq!(never.vm_cost.micros(), 52_000);
    assert_eq!(never.burst_cost.micros(), 0);
    assert_eq!(never.total_cost.micros(), 52_000);
    assert_eq!((never.node_seconds, never.node_hours), (2_340, 0.65));
    assert_eq!((never.nodes_added, never.nodes_removed, never.peak_nodes), (1, 0, 2));
    assert_eq!((never.peak_burst_instances, never.drain_back_moves), (0, 0));

    assert_eq!(virtual_node.policy, SimPolicy::VirtualNode);
    assert_eq!(counts(virtual_node), (4, 0, 4, 0, 0));
    assert_eq!(waits(virtual_node), (30, 30, 30, 30));
    assert_eq!(virtual_node.burst_cost.micros(), 31_465);
    assert_eq!(virtual_node.vm_cost.micros(), 26_667);
    assert_eq!(virtual_node.total_cost.micros(), 58_132);
    assert_eq!((virtual_node.node_seconds, virtual_node.nodes_added, virtual_node.peak_nodes), (1_200, 0, 1));
    assert_eq!((virtual_node.peak_burst_instances, virtual_node.drain_back_moves), (4, 0));

    assert_eq!(overflow.policy, SimPolicy::Overflow);
    assert_eq!(counts(overflow), (4, 2, 2, 0, 0));
    assert_eq!(waits(overflow), (0, 30, 30, 30));
    assert_eq!(overflow.burst_cost.micros(), 13_485);
    assert_eq!(overflow.vm_cost.micros(), 26_667);
    assert_eq!(overflow.total_cost.micros(), 40_152);
    assert_eq!((overflow.node_seconds, overflow.nodes_added), (1_200, 0));
    assert_eq!((overflow.peak_burst_instances, overflow.drain_back_moves), (2, 2));

    assert_eq!(cost_aware.policy, SimPolicy::CostAware);
    assert_eq!(counts(cost_aware), counts(never));
    assert_eq!(waits(cost_aware), waits(never));
    assert_eq!(cost_aware.total_cost, never.total_cost);
    assert_eq!(cost_aware.node_seconds, never.node_seconds);

    // The timeline: a sample a minute from 0 to 1,200 s; spend ends at the total.
    for p in &report.policies {
        assert_eq!(p.timeline.len(), 21, "{}", p.policy);
        assert_eq!(p.timeline.last().map(|s| s.spend), Some(p.total_cost), "{}", p.policy);
    }
    // Overflow at 60 s: two pods on vm-1, two starting on ACI (pending until 90 s).
    let at60 = overflow.timeline[1];
    assert_eq!((at60.t, at60.pods_vm, at60.pods_burst, at60.pending, at60.nodes), (60, 2, 2, 2, 1));
    // Never at 120 s: two waiting, the new node not ready (180 s); at 240 s all four on VMs, two
    // nodes.
    assert_eq!((never.timeline[2].pending, never.timeline[2].nodes), (2, 1));
    assert_eq!((never.timeline[4].pods_vm, never.timeline[4].nodes), (4, 2));
}

fn black_friday() -> Scenario {
    let path = format!("{}/examples/scenarios/black-friday.yaml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load(&[path]).unwrap()
}

fn crowd(peak: u32) -> Workload {
    FlashCrowd {
        namespace: "shop".into(),
        template: "storefront".into(),
        cpu_millis: 0,
        memory_bytes: 0,
        baseline: 12,
        peak,
        start_seconds: 300,
        ramp_seconds: 300,
        hold_seconds: 1200,
        decay_seconds: 600,
        step_seconds: 15,
    }
    .workload()
}

#[test]
fn same_input_same_report() {
    let config = SimConfig::default();
    let a = compare(&black_friday(), &crowd(45), &SimPolicy::ALL, &config).unwrap();
    let b = compare(&black_friday(), &crowd(45), &SimPolicy::ALL, &config).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.to_svg().unwrap(), b.to_svg().unwrap());

    let diurnal = |seed| {
        Diurnal {
            namespace: "web".into(),
            template: "api".into(),
            cpu_millis: 500,
            memory_bytes: 1 << 30,
            pods: 300,
            hours: 2,
            amplitude: 0.5,
            mean_duration_seconds: 600,
        }
        .workload(seed)
    };
    assert_eq!(diurnal(7), diurnal(7));
    assert_ne!(diurnal(7), diurnal(8), "another seed, another workload");
    let scenario = Scenario::from_yaml_str(GOLDEN).unwrap();
    let config = SimConfig { seed: 7, ..SimConfig::default() };
    let x = compare(&scenario, &diurnal(7), &SimPolicy::ALL, &config).unwrap();
    let y = compare(&scenario, &diurnal(7), &SimPolicy::ALL, &config).unwrap();
    assert_eq!(x, y);
    assert_eq!(x.seed, 7);
}

/// Every pod that arrived is counted exactly once: on a VM node, burst, still pending, or
/// withdrawn by a scale-down before it ran.
#[test]
fn every_pod_is_counted_once() {
    let scenario = black_friday();
    // Replica counts (withdrawals when the crowd ebbs) and arrivals with lifetimes, plus a pod
    // nothing can run (64 vCPU) that stays pending.
    let mut events = crowd(60).events;
    events.extend(
        Workload::from_csv_str(
            "extra.csv",
            "time,namespace,template,arrivals,cpu,memory,duration\n\
             100,batch,report,5,1,2Gi,900\n\
             200,batch,huge,1,64,1Gi,60\n",
        )
        .unwrap()
        .events,
    );
    let workload = Workload::new("mixed", events);
    let report = compare(&scenario, &workload, &SimPolicy::ALL, &SimConfig::default()).unwrap();
    for p in &report.policies {
        let c = p.pods;
        assert_eq!(c.arrived, c.vm + c.burst + c.pending + c.withdrawn, "{}: {c:?}", p.policy);
        // The 64 vCPU pod fits no VM node and no ACI instance; only the virtual node, which
        // advertises 10,000 cores, takes it.
        let huge_runs = p.policy == SimPolicy::VirtualNode;
        assert_eq!(c.pending >= 1, !huge_runs, "{}: {c:?}", p.policy);
        // The black-friday scenario's own pending pods (DaemonSet, log collector, export job)
        // arrive at 0, the storefront replicas from the crowd, the batch pods from the CSV.
        let replicas_created: u64 = 60 - 12 + 12; // the crowd's peak, each replica created once
        assert!(c.arrived >= replicas_created + 6, "{}: {c:?}", p.policy);
        if !huge_runs {
            assert!(p.timeline.last().unwrap().pending >= 1);
            assert!(p.pending_seconds.max >= report.duration_seconds - 200, "the huge pod waits to the end");
        }
    }
}

#[test]
fn never_bursts_nothing_and_bursting_shortens_waits() {
    let report = compare(&black_friday(), &crowd(45), &SimPolicy::ALL, &SimConfig::default()).unwrap();
    let never = report.policy(SimPolicy::Never).unwrap();
    assert_eq!((never.burst_cost.micros(), never.pods.burst, never.peak_burst_instances), (0, 0, 0));
    assert!(never.timeline.iter().all(|s| s.pods_burst == 0));
    let overflow = report.policy(SimPolicy::Overflow).unwrap();
    assert!(overflow.pods.burst > 0 && overflow.burst_cost.micros() > 0);
    assert!(overflow.pending_seconds.p95 < never.pending_seconds.p95);
    // The scenario's spend cap ($0.25/h) bounds what runs on ACI at once.
    assert!(overflow.peak_burst_instances <= 9, "{}", overflow.peak_burst_instances);
    let virtual_node = report.policy(SimPolicy::VirtualNode).unwrap();
    assert!(virtual_node.burst_cost > overflow.burst_cost, "the virtual node takes pods VM nodes had room for");
}

/// With VM capacity for everything from the start (and a pool that would be instant), nothing
/// waits and nothing bursts: Never, Overflow and CostAware agree on every number. VirtualNode
/// agrees too when the pods do not tolerate the virtual node's taint (pods that do are drawn
/// to it by the scheduler's least-allocated scoring: the point of that policy).
#[test]
fn with_unlimited_vm_capacity_policies_agree() {
    let scenario = Scenario::from_yaml_str(
        r#"
apiVersion: v1
kind: Node
metadata: {name: big, labels: {pool: p}, annotations: {spillway.rs/hourly-cost: "3.2"}}
status: {allocatable: {cpu: "10000", memory: 40Ti, pods: "100000"}}
---
apiVersion: spillway.rs/v1alpha1
kind: BurstTarget
metadata: {name: aci}
spec: {preset: aci, region: eastus}
---
apiVersion: spillway.rs/v1alpha1
kind: NodePool
metadata: {name: pool}
spec: {allocatable: {cpu: "10000", memory: 40Ti, pods: "100000"}, labels: {pool: p}, hourlyCost: 3.2, provisioningSeconds: 0, maxNodes: 100}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api, resources: {requests: {cpu: 500m, memory: 1Gi}}}]
"#,
    )
    .unwrap();
    let workload = Diurnal {
        namespace: "web".into(),
        template: "api".into(),
        cpu_millis: 500,
        memory_bytes: 1 << 30,
        pods: 400,
        hours: 2,
        amplitude: 0.8,
        mean_duration_seconds: 900,
    }
    .workload(3);
    let report = compare(&scenario, &workload, &SimPolicy::ALL, &SimConfig::default()).unwrap();
    let strip = |p: &PolicyReport| {
        let mut p = p.clone();
        p.policy = SimPolicy::Never;
        p
    };
    let never = strip(&report.policies[0]);
    assert_eq!(never.pods.vm, never.pods.arrived);
    assert_eq!(never.pending_seconds.max, 0);
    assert_eq!((never.burst_cost.micros(), never.nodes_added), (0, 0));
    for p in &report.policies {
        assert_eq!(strip(p), never, "{} differs from Never", p.policy);
    }
}

#[test]
fn csv_errors_name_file_and_line() {
    let bad = |text: &str| Workload::from_csv_str("t.csv", text).unwrap_err().to_string();
    let header = "time,namespace,template,arrivals,cpu,memory,duration\n";
    assert_eq!(
        bad(&format!("{header}0,ns,web,1,1,1Gi,60\n5,ns,web,1,lots,1Gi,60\n")).split(':').take(2).collect::<Vec<_>>(),
        ["t.csv", "3"]
    );
    assert!(bad(&format!("{header}0,ns,web,1,1,1Gi\n")).starts_with("t.csv:2: 6 columns, the header has 7"));
    assert!(bad(&format!("{header}-5,ns,web,1,1,1Gi,60\n")).starts_with("t.csv:2: column time"));
    assert!(bad(&format!("{header}0,,web,1,1,1Gi,60\n")).contains("namespace is empty"));
    assert!(bad("time,namespace,template,cpu,memory,duration\n").contains("replicas|arrivals"));
    assert!(bad("").starts_with("t.csv:1: empty file"));
    let e = Workload::from_csv_file("/nonexistent/trace.csv").unwrap_err();
    assert!(matches!(e, SimError::Read { .. }), "{e}");
    assert!("Sometimes".parse::<SimPolicy>().unwrap_err().to_string().contains("expected Never, VirtualNode"));
    assert_eq!("costaware".parse::<SimPolicy>().unwrap(), SimPolicy::CostAware);
}

#[test]
fn csv_round_trips_and_replicas_mode() {
    let w = Workload::from_csv_str("g.csv", GOLDEN_TRACE).unwrap();
    assert_eq!(w.arrivals(), 4);
    assert_eq!(Workload::from_csv_str("g.csv", &w.to_csv()).unwrap().events, w.events);
    let r = Workload::from_csv_str(
        "r.csv",
        "# an HPA's decisions\ntemplate,time,namespace,replicas,cpu,memory,duration\nweb,0,shop,3,250m,512Mi,\nweb,30,shop,1,250m,512Mi,\n",
    )
    .unwrap();
    assert_eq!(r.events.iter().map(|e| e.change).collect::<Vec<_>>(), [Change::Replicas(3), Change::Replicas(1)]);
    assert_eq!(
        (r.events[0].cpu_millis, r.events[0].memory_bytes, r.events[0].duration_seconds),
        (250, 512 << 20, None)
    );
}

#[test]
fn outputs_table_json_and_svg() {
    let report = golden();
    let table = report.table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("policy") && lines[0].contains("total $") && lines[0].contains("moves"));
    assert!(lines[2].starts_with("Never") && lines[2].contains("0.05") && lines[2].contains("2m00s"), "{table}");
    assert!(lines[4].starts_with("Overflow") && lines[4].contains("0.04"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let overflow = &json["policies"][2];
    assert_eq!(overflow["policy"], "Overflow");
    assert_eq!(overflow["total_cost"], 0.040152);
    assert_eq!(overflow["pending_seconds"]["p95"], 30);
    assert_eq!(overflow["pods"]["burst"], 2);
    assert_eq!(overflow["drain_back_moves"], 2);
    assert_eq!(overflow["timeline"][1]["pods_burst"], 2);
    for field in [
        "total_cost",
        "vm_cost",
        "burst_cost",
        "pending_seconds",
        "pods",
        "peak_burst_instances",
        "peak_nodes",
        "node_seconds",
        "node_hours",
        "nodes_added",
        "nodes_removed",
        "drain_back_moves",
        "timeline",
    ] {
        assert!(overflow.get(field).is_some(), "{field}");
    }
    let svg = report.to_svg().unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for text in ["Pods on burst targets", "Pending pods", "VM nodes", "Spend so far", "VirtualNode", "CostAware"] {
        assert!(svg.contains(text), "{text}");
    }
}

/// The vendored excerpts (tests/data/traces, with their SOURCE.md) load as each trace does.
#[test]
fn trace_excerpts_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/traces");
    let options = TraceOptions { scale: 0.01, ..TraceOptions::default() };
    let alibaba = Trace::Alibaba2017.load(&dir, &options).unwrap();
    // 35,266 instances in the excerpt's tasks with requests, 1% kept with the rounding carried
    // over: 352.
    assert_eq!(alibaba.arrivals(), 352);
    assert_eq!(alibaba.events[0].at_seconds, 0);
    assert!(alibaba.events.iter().all(|e| e.cpu_millis > 0 && e.memory_bytes > 0 && e.duration_seconds.is_some()));
    let gpu = Trace::AlibabaGpu2023.load(&dir, &TraceOptions { speedup: 100, ..TraceOptions::default() }).unwrap();
    assert!(gpu.arrivals() > 0 && gpu.arrivals() < 40, "only the CPU-only pods");
    let google = Trace::Google2011.load(&dir, &TraceOptions { scale: 0.1, ..TraceOptions::default() }).unwrap();
    assert!(google.arrivals() > 0);
    let azure = Trace::AzureLlm.load(&dir, &TraceOptions::default()).unwrap();
    assert!(azure.events.iter().all(|e| matches!(e.change, Change::Replicas(n) if n >= 1)));
    assert!(azure.events.len() > 1);

    let missing = Trace::Google2011.load("/nonexistent", &options).unwrap_err();
    assert!(matches!(missing, SimError::MissingData { .. }));
    assert!(missing.to_string().contains("--data-dir"), "{missing}");
    assert_eq!("azure-llm".parse::<Trace>(), Ok(Trace::AzureLlm));
    assert!("alibaba".parse::<Trace>().unwrap_err().contains("alibaba-2017"));

    // A short simulation of the Alibaba excerpt on the golden cluster runs and conserves pods.
    let scenario = Scenario::from_yaml_str(GOLDEN).unwrap();
    let report = compare(&scenario, &alibaba, &[SimPolicy::Overflow], &SimConfig::default()).unwrap();
    let c = report.policies[0].pods;
    assert_eq!(c.arrived, 352);
    assert_eq!(c.arrived, c.vm + c.burst + c.pending + c.withdrawn);
}

/// The full traces, when spillway's shared data is next to the checkout (skipped otherwise).
#[test]
fn full_traces_load_when_present() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if !dir.join("alibaba-v2017-batch-task").exists() {
        eprintln!("skipped: {} not found (the full traces live in spillway's shared data)", dir.display());
        return;
    }
    let alibaba = Trace::Alibaba2017.load(&dir, &TraceOptions { scale: 0.01, ..TraceOptions::default() }).unwrap();
    assert!((105_000..115_000).contains(&alibaba.arrivals()), "{}", alibaba.arrivals());
    let gpu = Trace::AlibabaGpu2023.load(&dir, &TraceOptions::default()).unwrap();
    assert_eq!(gpu.arrivals(), 1_088, "the CPU-only pods");
    let google = Trace::Google2011.load(&dir, &TraceOptions { scale: 0.01, ..TraceOptions::default() }).unwrap();
    assert!((6_000..7_000).contains(&google.arrivals()), "{}", google.arrivals());
    let azure = Trace::AzureLlm.load(&dir, &TraceOptions::default()).unwrap();
    assert!(azure.last_event_seconds() > 3_000);
}

/// The autoscaler drains a node it added once it is underutilized and its pods fit elsewhere:
/// vm-1 (4 vCPU) is full of short pods when a long pod arrives, so a pool node is added for it
/// (25% used); when the short pods end, the long pod fits on vm-1, and after ten minutes under
/// 50% the pool node is drained (the pod recreated and bound to vm-1) and removed.
#[test]
fn underutilized_nodes_are_drained() {
    let scenario = Scenario::from_yaml_str(
        r#"
apiVersion: v1
kind: Node
metadata: {name: vm-1, labels: {pool: p}, annotations: {spillway.rs/hourly-cost: "0.2"}}
status: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}}
---
apiVersion: spillway.rs/v1alpha1
kind: NodePool
metadata: {name: pool}
spec: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}, labels: {pool: p}, hourlyCost: 0.2, provisioningSeconds: 60, maxNodes: 3}
"#,
    )
    .unwrap();
    let workload = Workload::from_csv_str(
        "drain.csv",
        "time,namespace,template,arrivals,cpu,memory,duration\n0,web,short,4,1,1Gi,300\n10,web,long,1,1,1Gi,5000\n",
    )
    .unwrap();
    let config = SimConfig { duration: Some(Duration::from_secs(1500)), ..SimConfig::default() };
    let report = compare(&scenario, &workload, &[SimPolicy::Never], &config).unwrap();
    let never = &report.policies[0];
    assert_eq!((never.nodes_added, never.nodes_removed, never.scale_down_evictions), (1, 1, 1));
    assert_eq!(counts(never), (5, 5, 0, 0, 0));
    assert_eq!(never.timeline.last().map(|s| (s.nodes, s.pods_vm, s.pending)), Some((1, 1, 0)));
    let off = SimConfig {
        autoscaler: AutoscalerConfig { scale_down_utilization: None, ..AutoscalerConfig::default() },
        ..config
    };
    let kept = compare(&scenario, &workload, &[SimPolicy::Never], &off).unwrap();
    assert_eq!((kept.policies[0].nodes_removed, kept.policies[0].scale_down_evictions), (0, 0));
    assert!(kept.policies[0].vm_cost > never.vm_cost);
}

/// The README's black_friday table (the example's crowd: 12 → 45 replicas from minute 10 for
/// 40 minutes, seed 42), policy by policy: total cost in cents, node-hours in hundredths, pods
/// burst, peak burst instances, drain-back moves, and the p95 wait in seconds. A change to the
/// simulator or the runtime that moves any of these must come with the README's new table.
#[test]
fn the_readme_black_friday_table_holds() {
    let crowd = black_friday_crowd::crowd().workload();
    let config = SimConfig { seed: 42, ..SimConfig::default() };
    let report = compare(&black_friday(), &crowd, &SimPolicy::ALL, &config).unwrap();
    let rows: Vec<(SimPolicy, i64, i64, u64, u64, u64, u64)> = report
        .policies
        .iter()
        .map(|p| {
            (
                p.policy,
                (p.total_cost.micros() + 5_000) / 10_000,
                (p.node_hours * 100.0).round() as i64,
                p.pods.burst,
                p.peak_burst_instances,
                p.drain_back_moves,
                p.pending_seconds.p95,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (SimPolicy::Never, 157, 816, 0, 0, 0, 2610),
            (SimPolicy::VirtualNode, 236, 500, 48, 48, 0, 40),
            (SimPolicy::Overflow, 172, 814, 9, 9, 9, 305),
            (SimPolicy::CostAware, 171, 816, 8, 8, 0, 300),
        ]
    );
}
