//! One simulated run: the event loop around the real reconciler.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::backend::ManualClock;
use crate::backend::mock::MockBackend;
use crate::engine::Engine;
use crate::model::{
    BurstMode, BurstTarget, Container, Money, Node, NodePool, Pod, Policy, Resources, TaintEffect, Toleration,
};
use crate::runtime::{BindError, ClusterEvent, EventKind, NodeBinder, Placement, Reconciler, RuntimeConfig};
use crate::scenario::Scenario;

use super::autoscaler::Autoscaler;
use super::progress::Progress;
use super::report::{Percentiles, PodCounts, PolicyReport, Sample};
use super::{Change, SimConfig, SimError, SimPolicy, Workload};

/// The virtual node's name (VirtualNode policy).
const VIRTUAL_NODE: &str = "virtual-node-aci";

/// A binder that only remembers: the simulated cluster's `pods/binding` and eviction.
#[derive(Debug, Default)]
struct SimBinder {
    bindings: Mutex<BTreeMap<String, String>>,
}

impl SimBinder {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.bindings.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl NodeBinder for SimBinder {
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), BindError> {
        self.lock().insert(pod.key(), node.to_string());
        Ok(())
    }

    async fn evict(&self, pod: &Pod) -> Result<(), BindError> {
        self.lock().remove(&pod.key());
        Ok(())
    }

    async fn bindings(&self) -> Result<BTreeMap<String, String>, BindError> {
        Ok(self.lock().clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    /// The workload's event of this index.
    Workload(usize),
    /// The pod of this track index completes.
    Complete(usize),
    /// An ordered node is ready.
    NodeReady(String),
    /// The autoscaler looks.
    Scan,
    /// A timeline sample.
    Sample,
    /// A reconcile step (housekeeping when `true`).
    Wake(bool),
}

/// A queued event: by time; at one time, cluster changes first (then the reconcile step they
/// call for), then the autoscaler's scan (which so sees the scheduler's verdicts), then the
/// sample; each in the order queued.
#[derive(Debug)]
struct Queued {
    at: u64,
    /// 0: cluster changes and wakes, 1: scan, 2: sample.
    class: u8,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.class, self.seq).cmp(&(other.at, other.class, other.seq))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum First {
    Vm,
    Burst,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Where {
    Unplaced,
    Vm(String),
    Burst,
    Virtual,
}

#[derive(Debug)]
struct Track {
    pod: Pod,
    /// `namespace/template` (the pod's own key for time-0 pods).
    template: String,
    arrived: u64,
    /// Runs from then (a burst pod after its start latency).
    started: Option<u64>,
    first: Option<First>,
    at: Where,
    duration: Option<u64>,
    /// Deleted at (completed or scaled down).
    gone_at: Option<u64>,
    gone: bool,
}

/// Billing of something with an hourly price, open since `since`.
#[derive(Debug, Clone, Copy)]
struct Meter {
    since: u64,
    hourly_micros: i64,
}

/// Money in micro-unit-seconds (hourly micros × seconds), exact.
#[derive(Debug, Default, Clone, Copy)]
struct Ledger(i128);

impl Ledger {
    fn close(&mut self, meter: Meter, now: u64) {
        self.0 += i128::from(meter.hourly_micros) * i128::from(now.saturating_sub(meter.since));
    }

    /// Rounded up to a micro-unit.
    fn money(self) -> Money {
        let micros = self.0 / 3600 + i128::from(self.0 % 3600 != 0);
        Money::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

struct Sim<'a> {
    config: &'a SimConfig,
    workload: &'a Workload,
    policy: SimPolicy,
    end: u64,
    now: u64,
    clock: ManualClock,
    rt: tokio::runtime::Runtime,
    rec: Option<Reconciler>,
    binder: Arc<SimBinder>,
    autoscaler: Autoscaler,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    templates: BTreeMap<String, Pod>,
    tracks: Vec<Track>,
    by_key: BTreeMap<String, usize>,
    /// Live pods per template, in creation order (replica bookkeeping).
    replicas: BTreeMap<String, Vec<usize>>,
    /// Pods created per template (for names).
    created: BTreeMap<String, u64>,
    /// Live tracks (pruned at samples).
    live: Vec<usize>,
    /// Pods bound per VM node.
    node_pods: BTreeMap<String, u64>,
    /// Pods placed in the scenario at time 0 (not arrivals).
    base_vm_pods: u64,
    targets: BTreeMap<String, BurstTarget>,
    /// The virtual node's billing target (VirtualNode).
    virtual_target: Option<BurstTarget>,
    nodes_billing: BTreeMap<String, Meter>,
    burst_billing: BTreeMap<String, Meter>,
    vm_ledger: Ledger,
    burst_ledger: Ledger,
    node_seconds: u64,
    ready_nodes: u64,
    peak_nodes: u64,
    peak_burst: u64,
    nodes_added: u64,
    nodes_removed: u64,
    moves: u64,
    evictions: u64,
    /// Allocatable of each VM node (the virtual node not).
    node_alloc: BTreeMap<String, Resources>,
    /// Requests of the pods on each VM node now (the scenario's and the simulated ones).
    node_used: BTreeMap<String, Resources>,
    dirty: bool,
    next_allowed: u64,
    last_reconcile: Option<u64>,
    housekeeping_at: Option<u64>,
    wake_at: Option<u64>,
    timeline: Vec<Sample>,
    sample_every: u64,
    progress: Progress,
}

/// The scenario's policy with every burst mode set to `mode`.
fn policy_with(base: &Policy, mode: BurstMode) -> Policy {
    let mut policy = base.clone();
    policy.burst.default_mode = mode;
    for rule in &mut policy.burst.rules {
        rule.mode = mode;
    }
    policy
}

/// The template pod for a workload event, and whether it came from the scenario.
fn template_for(scenario: &Scenario, namespace: &str, template: &str, tolerate: &[Toleration]) -> Pod {
    let prefix = format!("{template}-");
    if let Some(pod) = scenario.pending.iter().find(|p| {
        p.namespace == namespace && p.name.starts_with(&prefix) && p.owner_kind.as_deref() != Some("DaemonSet")
    }) {
        return pod.clone();
    }
    let mut pod = Pod::new(namespace, template).with_label("app", template);
    for t in tolerate {
        pod = pod.with_toleration(t.clone());
    }
    pod
}

pub(crate) fn simulate(
    scenario: &Scenario,
    workload: &Workload,
    policy: SimPolicy,
    config: &SimConfig,
    progress: Progress,
) -> Result<PolicyReport, SimError> {
    let mode = match policy {
        SimPolicy::Never | SimPolicy::VirtualNode => BurstMode::Never,
        SimPolicy::Overflow => BurstMode::Overflow,
        SimPolicy::CostAware => BurstMode::CostAware,
    };
    let engine_policy = policy_with(&scenario.policy, mode);
    let engine = Engine::new(engine_policy.clone()).map_err(|source| SimError::Policy { policy, source })?;
    let probe = Engine::new(policy_with(&scenario.policy, BurstMode::Never))
        .map_err(|source| SimError::Policy { policy, source })?;
    let clock = ManualClock::new();
    let binder = Arc::new(SimBinder::default());
    let housekeeping = config.housekeeping_interval.max(Duration::from_secs(1));
    let runtime_config = RuntimeConfig { drain_interval: Some(housekeeping), ..RuntimeConfig::default() };
    let mut rec = Reconciler::new(Arc::new(engine), binder.clone(), clock.clone()).with_config(runtime_config);
    let scenario_targets = scenario.snapshot.burst_targets();
    let mut targets = BTreeMap::new();
    if matches!(policy, SimPolicy::Overflow | SimPolicy::CostAware) {
        for t in scenario_targets {
            let backend = Arc::new(MockBackend::new(t.clone(), clock.clone()));
            rec = rec.with_backend(t.name.clone(), backend);
            targets.insert(t.name.clone(), t.clone());
        }
    }
    let pools: Vec<NodePool> = scenario.snapshot.node_pools().to_vec();
    rec = rec.with_node_pools(pools.clone());

    // Pods tolerate the targets' taints unless the scenario gives a template.
    let reference = scenario_targets.first().cloned().unwrap_or_else(|| BurstTarget::aci_like("aci", "eastus"));
    let tolerate: Vec<Toleration> = scenario_targets
        .iter()
        .chain(std::iter::once(&reference))
        .flat_map(|t| t.taints.iter().map(|taint| Toleration::exists(taint.key.clone(), None)))
        .fold(Vec::new(), |mut acc, t| {
            if !acc.contains(&t) {
                acc.push(t);
            }
            acc
        });

    let end = config.duration.map_or(workload.last_event_seconds() + config.tail.as_secs(), |d| d.as_secs());
    let sample_every = config.sample_interval.map_or((end / 240).max(1), |d| d.as_secs().max(1));
    let rt = tokio::runtime::Builder::new_current_thread().build().map_err(SimError::Runtime)?;

    let mut sim = Sim {
        config,
        workload,
        policy,
        end,
        now: 0,
        clock,
        rt,
        rec: None,
        binder,
        autoscaler: Autoscaler::new(config.autoscaler.clone(), pools, probe),
        queue: BinaryHeap::new(),
        seq: 0,
        templates: BTreeMap::new(),
        tracks: Vec::new(),
        by_key: BTreeMap::new(),
        replicas: BTreeMap::new(),
        created: BTreeMap::new(),
        live: Vec::new(),
        node_pods: BTreeMap::new(),
        base_vm_pods: 0,
        targets,
        virtual_target: None,
        nodes_billing: BTreeMap::new(),
        burst_billing: BTreeMap::new(),
        vm_ledger: Ledger::default(),
        burst_ledger: Ledger::default(),
        node_seconds: 0,
        ready_nodes: 0,
        peak_nodes: 0,
        peak_burst: 0,
        nodes_added: 0,
        nodes_removed: 0,
        moves: 0,
        evictions: 0,
        node_alloc: BTreeMap::new(),
        node_used: BTreeMap::new(),
        dirty: true,
        next_allowed: 0,
        last_reconcile: None,
        housekeeping_at: None,
        wake_at: None,
        timeline: Vec::new(),
        sample_every,
        progress,
    };

    // The cluster at time 0.
    for node in scenario.snapshot.nodes() {
        rec.handle(ClusterEvent::NodeAdded(node.clone()));
        sim.nodes_billing
            .insert(node.name.clone(), Meter { since: 0, hourly_micros: node.hourly_cost.map_or(0, |m| m.micros()) });
        sim.ready_nodes += 1;
        sim.node_alloc.insert(node.name.clone(), node.allocatable.clone());
    }
    for pod in scenario.snapshot.pods() {
        let Some(node) = &pod.node_name else { continue };
        if scenario.snapshot.node(node).is_none() {
            continue;
        }
        sim.binder.lock().insert(pod.key(), node.clone());
        rec.handle(ClusterEvent::PodAdded(pod.clone()));
        *sim.node_pods.entry(node.clone()).or_insert(0) += 1;
        sim.node_used.entry(node.clone()).or_default().add(&pod.requests());
        sim.base_vm_pods += 1;
    }
    if policy == SimPolicy::VirtualNode {
        let mut node = Node::new(VIRTUAL_NODE).with_allocatable(Resources {
            cpu_millis: 10_000_000,
            memory: 100 << 40,
            pods: 100_000,
            ..Resources::default()
        });
        node.labels = reference.labels.clone();
        node.labels.insert("kubernetes.io/hostname".into(), VIRTUAL_NODE.into());
        node.taints = reference.taints.clone();
        if node.taints.is_empty() {
            node.taints.push(crate::model::Taint::new("virtual-kubelet.io/provider", "azure", TaintEffect::NoSchedule));
        }
        rec.handle(ClusterEvent::NodeAdded(node));
        sim.virtual_target = Some(reference.clone());
    }
    sim.peak_nodes = sim.ready_nodes;
    sim.rec = Some(rec);

    // Templates: the workload's, from the scenario's pending pods; the other pending pods
    // arrive at time 0.
    let mut template_keys = Vec::new();
    for e in &workload.events {
        let key = format!("{}/{}", e.namespace, e.template);
        if !sim.templates.contains_key(&key) {
            let pod = template_for(scenario, &e.namespace, &e.template, &tolerate);
            sim.templates.insert(key.clone(), pod);
            template_keys.push((e.namespace.clone(), format!("{}-", e.template)));
        }
    }
    for pod in &scenario.pending {
        let is_template = template_keys.iter().any(|(ns, prefix)| pod.namespace == *ns && pod.name.starts_with(prefix));
        if !is_template {
            let mut pod = pod.clone();
            pod.node_name = None;
            let key = pod.key();
            sim.arrive(pod, key, None);
        }
    }

    for i in 0..workload.events.len() {
        sim.push(workload.events[i].at_seconds, Ev::Workload(i));
    }
    sim.push(0, Ev::Sample);
    sim.push(0, Ev::Scan);
    sim.push(0, Ev::Wake(false));
    sim.wake_at = Some(0);
    sim.run();
    Ok(sim.report())
}

impl Sim<'_> {
    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        let class = match ev {
            Ev::Scan => 1,
            Ev::Sample => 2,
            _ => 0,
        };
        self.queue.push(Reverse(Queued { at, class, seq: self.seq, ev }));
    }

    fn rec(&mut self) -> &mut Reconciler {
        self.rec.as_mut().expect("the reconciler is always put back")
    }

    fn run(&mut self) {
        while let Some(Reverse(q)) = self.queue.pop() {
            if q.at > self.end {
                break;
            }
            if q.at > self.now {
                self.clock.advance(Duration::from_secs(q.at - self.now));
                self.now = q.at;
                self.progress.update(self.now, self.end);
            }
            match q.ev {
                Ev::Workload(i) => self.apply(i),
                Ev::Complete(i) => self.complete(i),
                Ev::NodeReady(name) => self.node_ready(&name),
                Ev::Scan => {
                    self.scan();
                    let next = self.now + self.config.autoscaler.scan_interval.as_secs().max(1);
                    self.push(next, Ev::Scan);
                }
                Ev::Sample => {
                    // Samples come after everything else at their time (the queue's order) and
                    // after the reconcile step those events called for.
                    self.sample();
                    if self.now < self.end {
                        let next = (self.now + self.sample_every).min(self.end);
                        self.push(next, Ev::Sample);
                    }
                }
                Ev::Wake(housekeeping) => {
                    if self.wake_at == Some(self.now) {
                        self.wake_at = None;
                    }
                    if housekeeping {
                        self.housekeeping_at = None;
                        let due = self.last_reconcile.map_or(0, |l| l + self.housekeeping());
                        if due <= self.now {
                            self.dirty = true;
                        } else {
                            self.housekeeping_at = Some(due);
                            self.push(due, Ev::Wake(true));
                        }
                    }
                }
            }
            if self.queue.peek().is_some_and(|Reverse(n)| n.at == self.now && n.class == 0) {
                continue;
            }
            if self.dirty {
                if self.now >= self.next_allowed {
                    self.reconcile();
                } else if self.wake_at.is_none_or(|w| w > self.next_allowed) {
                    self.wake_at = Some(self.next_allowed);
                    self.push(self.next_allowed, Ev::Wake(false));
                }
            }
        }
        self.now = self.end;
        self.progress.finish(self.end);
    }

    fn housekeeping(&self) -> u64 {
        self.config.housekeeping_interval.as_secs().max(1)
    }

    fn reconcile(&mut self) {
        let mut rec = self.rec.take().expect("the reconciler is always put back");
        self.rt.block_on(rec.reconcile());
        let events = rec.take_events();
        self.rec = Some(rec);
        self.dirty = false;
        self.last_reconcile = Some(self.now);
        self.next_allowed = self.now + self.config.reconcile_interval.as_secs().max(1);
        for event in events {
            self.observe(event.pod.as_deref(), event.kind);
        }
        let busy = !self.burst_billing.is_empty() || self.live.iter().any(|&i| self.tracks[i].at == Where::Unplaced);
        if busy && self.housekeeping_at.is_none() {
            let at = self.now + self.housekeeping();
            self.housekeeping_at = Some(at);
            self.push(at, Ev::Wake(true));
        }
    }

    fn observe(&mut self, pod: Option<&str>, kind: EventKind) {
        let now = self.now;
        let track = pod.and_then(|p| self.by_key.get(p).copied());
        match kind {
            EventKind::Bound { node } => {
                let Some(i) = track else { return };
                if self.tracks[i].gone {
                    return;
                }
                if node == VIRTUAL_NODE {
                    let Some(target) = &self.virtual_target else { return };
                    let latency = target.start_latency_seconds.max(0) as u64;
                    let hourly = burst_price(target, &self.tracks[i].pod);
                    let key = self.tracks[i].pod.key();
                    self.burst_billing.insert(format!("vn/{key}"), Meter { since: now, hourly_micros: hourly });
                    self.peak_burst = self.peak_burst.max(self.burst_billing.len() as u64);
                    self.tracks[i].at = Where::Virtual;
                    self.start(i, now + latency, First::Burst);
                } else {
                    *self.node_pods.entry(node.clone()).or_insert(0) += 1;
                    self.node_used.entry(node.clone()).or_default().add(&self.tracks[i].pod.requests());
                    self.tracks[i].at = Where::Vm(node);
                    self.start(i, now, First::Vm);
                }
            }
            EventKind::BurstCreated { target, key } => {
                let Some(t) = self.targets.get(&target) else { return };
                let latency = t.start_latency_seconds.max(0) as u64;
                let hourly = track.map_or(0, |i| burst_price(t, &self.tracks[i].pod));
                self.burst_billing.insert(format!("{target}/{key}"), Meter { since: now, hourly_micros: hourly });
                self.peak_burst = self.peak_burst.max(self.burst_billing.len() as u64);
                if let Some(i) = track
                    && !self.tracks[i].gone
                {
                    self.tracks[i].at = Where::Burst;
                    self.start(i, now + latency, First::Burst);
                }
            }
            EventKind::InstanceDeleted { target, key, .. } => {
                if let Some(meter) = self.burst_billing.remove(&format!("{target}/{key}")) {
                    self.burst_ledger.close(meter, now);
                }
            }
            EventKind::Drained { .. } => self.moves += 1,
            _ => {}
        }
    }

    /// The pod runs from `at` (first placement `first`); its completion is scheduled.
    fn start(&mut self, i: usize, at: u64, first: First) {
        let t = &mut self.tracks[i];
        t.first.get_or_insert(first);
        if t.started.is_none() {
            t.started = Some(at);
            if let Some(d) = t.duration {
                self.push(at + d, Ev::Complete(i));
            }
        }
    }

    /// A new pod arrives.
    fn arrive(&mut self, pod: Pod, template: String, duration: Option<u64>) -> usize {
        let i = self.tracks.len();
        let key = pod.key();
        self.rec().handle(ClusterEvent::PodAdded(pod.clone()));
        self.tracks.push(Track {
            pod,
            template,
            arrived: self.now,
            started: None,
            first: None,
            at: Where::Unplaced,
            duration,
            gone_at: None,
            gone: false,
        });
        self.by_key.insert(key, i);
        self.live.push(i);
        self.dirty = true;
        i
    }

    fn new_pod(&mut self, template_key: &str, cpu_millis: i64, memory_bytes: i64) -> Pod {
        let n = self.created.entry(template_key.to_string()).or_insert(0);
        *n += 1;
        let n = *n;
        let mut pod = self.templates[template_key].clone();
        let (namespace, template) = template_key.split_once('/').unwrap_or(("default", template_key));
        pod.namespace = namespace.to_string();
        pod.name = format!("{template}-{n}");
        pod.uid = format!("sim-{}-{template_key}-{n}", self.tracks.len());
        pod.node_name = None;
        pod.creation_order = self.tracks.len() as i64;
        if cpu_millis > 0 || memory_bytes > 0 {
            let requests = Resources { cpu_millis, memory: memory_bytes, ..Resources::default() };
            pod.containers = vec![Container::new("app", requests)];
            pod.init_containers.clear();
        } else if pod.containers.is_empty() {
            pod.containers = vec![Container::new("app", Resources::default())];
        }
        pod
    }

    fn apply(&mut self, index: usize) {
        let e = &self.workload.events[index];
        let key = format!("{}/{}", e.namespace, e.template);
        let (cpu, memory, duration) = (e.cpu_millis, e.memory_bytes, e.duration_seconds);
        match e.change {
            Change::Arrivals(n) => {
                for _ in 0..n {
                    let pod = self.new_pod(&key, cpu, memory);
                    let i = self.arrive(pod, key.clone(), duration);
                    self.replicas.entry(key.clone()).or_default().push(i);
                }
            }
            Change::Replicas(want) => {
                let live = self.replicas.entry(key.clone()).or_default();
                live.retain(|&i| !self.tracks[i].gone);
                let have = live.len();
                let want = want as usize;
                if want > have {
                    for _ in have..want {
                        let pod = self.new_pod(&key, cpu, memory);
                        let i = self.arrive(pod, key.clone(), None);
                        self.replicas.entry(key.clone()).or_default().push(i);
                    }
                } else if want < have {
                    // A ReplicaSet deletes unplaced pods first, then the newest.
                    let live = self.replicas[&key].clone();
                    let mut order: Vec<usize> = live.iter().rev().copied().collect();
                    order.sort_by_key(|&i| self.tracks[i].started.is_some_and(|s| s <= self.now));
                    for &i in order.iter().take(have - want) {
                        self.delete(i);
                    }
                    if let Some(live) = self.replicas.get_mut(&key) {
                        live.retain(|&i| !self.tracks[i].gone);
                    }
                }
            }
        }
    }

    fn complete(&mut self, i: usize) {
        if !self.tracks[i].gone {
            self.delete(i);
        }
    }

    /// The pod is deleted (completed or scaled down).
    fn delete(&mut self, i: usize) {
        let now = self.now;
        let key = self.tracks[i].pod.key();
        self.tracks[i].gone = true;
        self.tracks[i].gone_at = Some(now);
        match std::mem::replace(&mut self.tracks[i].at, Where::Unplaced) {
            Where::Vm(node) => {
                if let Some(n) = self.node_pods.get_mut(&node) {
                    *n = n.saturating_sub(1);
                }
                if let Some(u) = self.node_used.get_mut(&node) {
                    u.sub(&self.tracks[i].pod.requests());
                }
            }
            Where::Virtual => {
                if let Some(meter) = self.burst_billing.remove(&format!("vn/{key}")) {
                    self.burst_ledger.close(meter, now);
                }
            }
            Where::Burst | Where::Unplaced => {}
        }
        self.binder.lock().remove(&key);
        self.rec().handle(ClusterEvent::PodDeleted(key));
        self.dirty = true;
    }

    fn node_ready(&mut self, name: &str) {
        let Some(added) = self.autoscaler.added.get_mut(name) else { return };
        added.ready = true;
        let pool = added.pool;
        let node = self.autoscaler.node(pool, name);
        self.node_alloc.insert(name.to_string(), node.allocatable.clone());
        self.rec().handle(ClusterEvent::NodeAdded(node));
        self.ready_nodes += 1;
        self.peak_nodes = self.peak_nodes.max(self.ready_nodes);
        self.dirty = true;
        self.refresh_pools();
    }

    /// Tells the reconciler (for the engine's waits) how many nodes each pool has.
    fn refresh_pools(&mut self) {
        let pools = self.autoscaler.pools_now();
        let rec = self.rec.take().expect("the reconciler is always put back");
        self.rec = Some(rec.with_node_pools(pools));
    }

    /// The autoscaler's scan: scale up for the pods the scheduler could not place, scale down
    /// empty nodes.
    fn scan(&mut self) {
        let now = self.now;
        let rec = self.rec.as_ref().expect("the reconciler is always put back");
        let unplaced: Vec<usize> = self
            .live
            .iter()
            .copied()
            .filter(|&i| {
                let t = &self.tracks[i];
                !t.gone
                    && t.at == Where::Unplaced
                    && matches!(
                        rec.placement(&t.pod.key()),
                        Some(Placement::Waiting { .. } | Placement::Unschedulable { .. })
                    )
            })
            .collect();
        let mut ordered = Vec::new();
        if !unplaced.is_empty() {
            let pods: Vec<(&Pod, &str)> =
                unplaced.iter().map(|&i| (&self.tracks[i].pod, self.tracks[i].template.as_str())).collect();
            ordered = self.autoscaler.scale_up(now, &pods);
        }
        let node_pods = &self.node_pods;
        let mut removed = self.autoscaler.scale_down(now, |n| node_pods.get(n).copied().unwrap_or(0));
        if let Some(threshold) = self.config.autoscaler.scale_down_utilization
            && let Some(node) = self.drain_underutilized(now, threshold)
        {
            removed.push(node);
        }
        let changed = !removed.is_empty();
        for (name, pool) in ordered {
            let ready_at = self.autoscaler.added[&name].ready_at;
            let hourly = self.autoscaler.hourly_cost(pool);
            self.nodes_billing.insert(name.clone(), Meter { since: now, hourly_micros: hourly });
            self.nodes_added += 1;
            self.push(ready_at, Ev::NodeReady(name));
        }
        for name in removed {
            if let Some(meter) = self.nodes_billing.remove(&name) {
                self.vm_ledger.close(meter, now);
                self.node_seconds += now - meter.since;
            }
            self.node_pods.remove(&name);
            self.node_used.remove(&name);
            self.node_alloc.remove(&name);
            self.rec().handle(ClusterEvent::NodeRemoved(name));
            self.ready_nodes -= 1;
            self.nodes_removed += 1;
        }
        if changed {
            self.refresh_pools();
        }
    }

    /// Drains one underutilized node the autoscaler added, when its pods fit elsewhere: its
    /// pods are recreated (new uid, same name) and scheduled again. Returns the node, to remove.
    fn drain_underutilized(&mut self, now: u64, threshold: u32) -> Option<String> {
        let used = &self.node_used;
        let percent = |used: i64, cap: i64| if cap <= 0 { 0 } else { (used.saturating_mul(100) / cap) as u32 };
        let (alloc, node_pods) = (&self.node_alloc, &self.node_pods);
        let candidates = self.autoscaler.underutilized(now, threshold, |name| {
            // A node without pods is not underutilized but empty (scale-down removes it).
            node_pods.get(name).filter(|n| **n > 0)?;
            let (a, u) = (alloc.get(name)?, used.get(name)?);
            Some(percent(u.cpu_millis, a.cpu_millis).max(percent(u.memory, a.memory)))
        });
        for node in candidates {
            let pods: Vec<usize> = self
                .live
                .iter()
                .copied()
                .filter(|&i| !self.tracks[i].gone && self.tracks[i].at == Where::Vm(node.clone()))
                .collect();
            // Room on the other nodes, first fit by requests.
            let mut free: Vec<Resources> = self
                .node_alloc
                .iter()
                .filter(|(name, _)| **name != node)
                .map(|(name, a)| {
                    let mut f = a.clone();
                    if let Some(u) = used.get(name) {
                        for (r, amount) in u.iter() {
                            let left = f.get(&r) - amount;
                            f.set(&r, left);
                        }
                    }
                    f.pods = a.pods - self.node_pods.get(name).copied().unwrap_or(0) as i64;
                    f
                })
                .collect();
            let all_fit = pods.iter().all(|&i| {
                let req = self.tracks[i].pod.requests();
                match free.iter_mut().find(|f| super::autoscaler::fits(f, &req)) {
                    Some(f) => {
                        for (r, amount) in req.iter() {
                            let left = f.get(&r) - amount;
                            f.set(&r, left);
                        }
                        f.pods -= 1;
                        true
                    }
                    None => false,
                }
            });
            if !all_fit {
                continue;
            }
            for i in pods {
                self.reschedule(i);
            }
            self.autoscaler.forget(&node);
            return Some(node);
        }
        None
    }

    /// The pod is evicted by a node drain: its controller recreates it (new uid, same name),
    /// and it is scheduled again. Its wait and first placement stay as they were.
    fn reschedule(&mut self, i: usize) {
        let key = self.tracks[i].pod.key();
        if let Where::Vm(node) = std::mem::replace(&mut self.tracks[i].at, Where::Unplaced) {
            if let Some(n) = self.node_pods.get_mut(&node) {
                *n = n.saturating_sub(1);
            }
            if let Some(u) = self.node_used.get_mut(&node) {
                u.sub(&self.tracks[i].pod.requests());
            }
        }
        self.seq += 1;
        let mut pod = self.tracks[i].pod.clone();
        pod.uid = format!("{}-r{}", pod.uid, self.seq);
        self.tracks[i].pod = pod.clone();
        self.binder.lock().remove(&key);
        self.rec().handle(ClusterEvent::PodAdded(pod));
        self.evictions += 1;
        self.dirty = true;
    }

    fn spend_so_far(&self) -> Money {
        let now = self.now;
        let mut vm = self.vm_ledger;
        for meter in self.nodes_billing.values() {
            vm.close(*meter, now);
        }
        let mut burst = self.burst_ledger;
        for meter in self.burst_billing.values() {
            burst.close(*meter, now);
        }
        Money::from_micros(vm.money().micros() + burst.money().micros())
    }

    fn sample(&mut self) {
        let now = self.now;
        self.live.retain(|&i| !self.tracks[i].gone);
        let mut s = Sample { t: now, nodes: self.ready_nodes, pods_vm: self.base_vm_pods, ..Sample::default() };
        for &i in &self.live {
            let t = &self.tracks[i];
            match &t.at {
                Where::Vm(_) => s.pods_vm += 1,
                Where::Burst | Where::Virtual => s.pods_burst += 1,
                Where::Unplaced => {}
            }
            if t.at == Where::Unplaced || t.started.is_none_or(|at| at > now) {
                s.pending += 1;
            }
        }
        s.spend = self.spend_so_far();
        self.timeline.push(s);
    }

    fn report(mut self) -> PolicyReport {
        let end = self.end;
        if self.timeline.last().is_none_or(|s| s.t < end) {
            self.sample();
        }
        for meter in std::mem::take(&mut self.nodes_billing).into_values() {
            self.vm_ledger.close(meter, end);
            self.node_seconds += end.saturating_sub(meter.since);
        }
        for meter in std::mem::take(&mut self.burst_billing).into_values() {
            self.burst_ledger.close(meter, end);
        }
        let mut pods = PodCounts::default();
        let mut waits = Vec::new();
        for t in &self.tracks {
            pods.arrived += 1;
            match (t.first, t.gone) {
                (Some(First::Vm), _) => pods.vm += 1,
                (Some(First::Burst), _) => pods.burst += 1,
                (None, true) => pods.withdrawn += 1,
                (None, false) => pods.pending += 1,
            }
            match t.started {
                Some(s) => waits.push(s.min(end).saturating_sub(t.arrived)),
                None => waits.push(t.gone_at.unwrap_or(end).min(end).saturating_sub(t.arrived)),
            }
        }
        let vm_cost = self.vm_ledger.money();
        let burst_cost = self.burst_ledger.money();
        PolicyReport {
            policy: self.policy,
            total_cost: Money::from_micros(vm_cost.micros() + burst_cost.micros()),
            vm_cost,
            burst_cost,
            pending_seconds: Percentiles::of(waits),
            pods,
            peak_burst_instances: self.peak_burst,
            peak_nodes: self.peak_nodes,
            node_seconds: self.node_seconds,
            node_hours: (self.node_seconds as f64 / 36.0).round() / 100.0,
            nodes_added: self.nodes_added,
            nodes_removed: self.nodes_removed,
            drain_back_moves: self.moves,
            scale_down_evictions: self.evictions,
            timeline: std::mem::take(&mut self.timeline),
        }
    }
}

/// The hourly price of `pod` on `target`: its requests rounded by the target's size model
/// (unrounded when no size fits, as a virtual node would still take it).
fn burst_price(target: &BurstTarget, pod: &Pod) -> i64 {
    let requests = pod.requests();
    let size =
        target.size_for(&requests).unwrap_or(crate::model::InstanceSize::new(requests.cpu_millis, requests.memory));
    target.pricing.hourly(size, &BTreeMap::new(), pod.features.windows).micros()
}
