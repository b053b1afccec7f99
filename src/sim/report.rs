//! What a simulation reports: per policy, cost, waits, bursts, nodes and moves, with a
//! timeline; as a table, JSON or an SVG chart.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::Money;

use super::{SimConfig, SimError, SimPolicy, Workload};

/// The comparison: one [`PolicyReport`] per policy simulated, in the order asked.
///
/// Its JSON ([`to_json`](Self::to_json)) is a stable interface: fields are added, never renamed
/// or removed. Money is in the cluster's currency (exact to the micro-unit), times in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The workload's name.
    pub workload: String,
    /// The seed of the run.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_seconds: u64,
    /// One report per policy.
    pub policies: Vec<PolicyReport>,
}

/// What one policy did over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    /// The policy.
    pub policy: SimPolicy,
    /// VM cost plus burst cost.
    pub total_cost: Money,
    /// VM nodes: each node's hourly cost over the time it existed (from its order for nodes
    /// the autoscaler added).
    pub vm_cost: Money,
    /// Burst instances (VirtualNode: pods on the virtual node), from creation to deletion.
    pub burst_cost: Money,
    /// Seconds from a pod's arrival until it runs: bound to a VM node, or its burst instance
    /// started. Pods still waiting at the end count with their wait so far, pods deleted by a
    /// scale-down before they ran with their wait until then.
    pub pending_seconds: Percentiles,
    /// Where the pods that arrived went.
    pub pods: PodCounts,
    /// Most burst instances at once.
    pub peak_burst_instances: u64,
    /// Most VM nodes at once (ready ones; the virtual node is not a VM node).
    pub peak_nodes: u64,
    /// VM node-seconds (including nodes still provisioning).
    pub node_seconds: u64,
    /// `node_seconds / 3600`, rounded to 0.01.
    pub node_hours: f64,
    /// Nodes the autoscaler ordered.
    pub nodes_added: u64,
    /// Nodes the autoscaler removed.
    pub nodes_removed: u64,
    /// Pods moved back from burst targets to VM nodes.
    pub drain_back_moves: u64,
    /// Pods evicted (and recreated) by the autoscaler draining an underutilized node.
    pub scale_down_evictions: u64,
    /// The timeline, one sample per sample interval.
    pub timeline: Vec<Sample>,
}

/// Percentiles by the nearest-rank method: the smallest value with at least `q` of the values
/// at or below it (0 when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `values` (sorted here).
    ///
    /// ```
    /// use spillway::sim::Percentiles;
    /// let p = Percentiles::of((1..=100).collect());
    /// assert_eq!((p.p50, p.p95, p.p99, p.max), (50, 95, 99, 100));
    /// ```
    pub fn of(mut values: Vec<u64>) -> Percentiles {
        values.sort_unstable();
        let rank = |pct: usize| -> u64 {
            if values.is_empty() {
                return 0;
            }
            // ceil(pct/100 · n), as a 1-based rank.
            let r = (pct * values.len()).div_ceil(100).max(1);
            values[r - 1]
        };
        Percentiles { p50: rank(50), p95: rank(95), p99: rank(99), max: values.last().copied().unwrap_or(0) }
    }
}

/// Where the pods that arrived went, by their first placement. Every pod is counted once:
/// `arrived = vm + burst + pending + withdrawn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PodCounts {
    /// Pods that arrived (time-0 pods of the scenario included).
    pub arrived: u64,
    /// First placed on a VM node.
    pub vm: u64,
    /// First placed on a burst target (VirtualNode: the virtual node).
    pub burst: u64,
    /// Still waiting at the end (never placed).
    pub pending: u64,
    /// Deleted by a scale-down before they were placed.
    pub withdrawn: u64,
}

/// One point of the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Seconds from the start.
    pub t: u64,
    /// Pods running on VM nodes.
    pub pods_vm: u64,
    /// Pods on burst targets (starting or running).
    pub pods_burst: u64,
    /// Pods that arrived and do not run yet.
    pub pending: u64,
    /// VM nodes ready.
    pub nodes: u64,
    /// Spend so far (VM + burst).
    pub spend: Money,
}

impl Report {
    pub(crate) fn new(workload: &Workload, config: &SimConfig, policies: Vec<PolicyReport>) -> Report {
        let duration_seconds = policies.first().and_then(|p| p.timeline.last()).map_or(0, |s| s.t);
        Report { workload: workload.name.clone(), seed: config.seed, duration_seconds, policies }
    }

    /// The report of `policy`, if it was simulated.
    pub fn policy(&self, policy: SimPolicy) -> Option<&PolicyReport> {
        self.policies.iter().find(|p| p.policy == policy)
    }

    /// The report as pretty JSON (see the README's "Simulation" section).
    pub fn to_json(&self) -> String {
        // Plain data of numbers and strings: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The comparison as a text table, one row per policy.
    pub fn table(&self) -> String {
        let header = [
            "policy",
            "total $",
            "VM $",
            "burst $",
            "wait p50",
            "p95",
            "p99",
            "max",
            "pods",
            "burst",
            "pending",
            "peak burst",
            "node-h",
            "moves",
        ];
        let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
        for p in &self.policies {
            let w = p.pending_seconds;
            rows.push(vec![
                p.policy.name().to_string(),
                money2(p.total_cost),
                money2(p.vm_cost),
                money2(p.burst_cost),
                seconds(w.p50),
                seconds(w.p95),
                seconds(w.p99),
                seconds(w.max),
                p.pods.arrived.to_string(),
                p.pods.burst.to_string(),
                p.pods.pending.to_string(),
                p.peak_burst_instances.to_string(),
                format!("{:.2}", p.node_hours),
                p.drain_back_moves.to_string(),
            ]);
        }
        let widths: Vec<usize> =
            (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> =
                row.iter()
                    .enumerate()
                    .map(|(c, cell)| {
                        if c == 0 { format!("{cell:<w$}", w = widths[c]) } else { format!("{cell:>w$}", w = widths[c]) }
                    })
                    .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
            if i == 0 {
                let _ = writeln!(out, "{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            }
        }
        out
    }

    /// The timeline as an SVG chart: four panels over time (pods on burst targets, pending
    /// pods, VM nodes, spend so far), one line per policy.
    ///
    /// # Errors
    ///
    /// [`SimError::Chart`] when drawing fails.
    pub fn to_svg(&self) -> Result<String, SimError> {
        super::chart::svg(self)
    }
}

/// Money with two decimals, rounded half up (for the table; JSON keeps every micro-unit).
fn money2(m: Money) -> String {
    let cents = (m.micros() + 5_000).div_euclid(10_000);
    format!("{}.{:02}", cents.div_euclid(100), cents.rem_euclid(100))
}

/// Seconds as `42s`, `5m03s` or `2h05m`.
fn seconds(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
