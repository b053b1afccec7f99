//! The fault-injection world shared by `fault_injection.rs` (seeded schedules) and
//! `runtime_properties.rs` (proptest schedules): a reconciler on the mock backend and the memory
//! binder, both yielding to the scheduler around every call (so a step can be cut anywhere), a
//! schedule of cluster events, faults, time steps, kills and restarts, and the checks.
//!
//! Time is tokio's: the reconciler and the mock read a [`TokioClock`], and [`run`] must be
//! polled on a current-thread runtime with paused time (`start_paused(true)`), where
//! `tokio::time::advance` moves it. Nothing sleeps, so time moves only when a schedule says so.
//!
//! Checked after every operation: the drain-back budget (moves in flight), the target's quotas
//! (instances and cpu on the backend) and the spend cap (the summed hourly cost of every
//! instance the backend holds, leftovers included). Checked once the faults stop and the
//! reconciler settles: every live pod is bound to a live node or runs on exactly one burst
//! instance, no instance or binding exists without its pod, and no pod was lost.
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use spillway::backend::mock::MockBackend;
use spillway::backend::{
    BackendError, BurstBackend, CreateRequest, Instance, InstanceKey, InstanceStatus, PodRef, TokioClock,
};
use spillway::model::{BurstTarget, Money};
use spillway::runtime::{BindError, ClusterEvent, MemoryBinder, NodeBinder, Placement, Reconciler, RuntimeConfig};
use spillway::{Engine, Node, Pod, Policy, Resources, Toleration};

/// One step of a schedule.
#[derive(Debug, Clone)]
pub enum Op {
    /// Pod `p<i>` appears, with the `c`-th cpu request (500m, 1, 2, 3).
    AddPod(u8, u8),
    /// Pod `p<i>` is deleted.
    DeletePod(u8),
    /// Node `vm-<i>` appears (2, 3 or 4 cpu).
    AddNode(u8),
    /// Node `vm-<i>` is removed (its bindings go).
    RemoveNode(u8),
    /// The next N creates fail (nothing created).
    FailCreates(u8),
    /// The next create creates the instance but answers a timeout.
    TimeOutCreate,
    /// The next backend call (of any kind) is throttled.
    Throttle,
    /// Pod `p<i>`'s instance vanishes.
    Lose(u8),
    /// Pod `p<i>`'s instance fails once it has started.
    FailAfterStart(u8),
    /// Pod `p<i>`'s next two evictions are refused.
    RefuseEviction(u8),
    /// The next bind fails transiently.
    FailBind,
    /// The next bind binds but answers a timeout.
    TimeOutBind,
    /// Time moves on by this many seconds.
    Advance(u8),
    /// One reconcile step.
    Reconcile,
    /// The reconciler is replaced by a fresh one, recovered from the cluster.
    Restart,
    /// The reconciler is killed after this many scheduler yields into a step, and restarted.
    Kill(u8),
    /// A step is cancelled after this many yields; the same reconciler goes on.
    Cancel(u8),
}

/// What an eviction does to the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evictions {
    /// The pod stays (the binder only drops its binding), and the reconciler binds it to the
    /// reserved node itself.
    InPlace,
    /// As in Kubernetes: the eviction deletes the pod (a later bind of it answers `NotFound`)
    /// and its StatefulSet recreates it, same name and a new uid, right after the operation.
    Recreated,
}

/// Pods evicted in [`Evictions::Recreated`] mode.
#[derive(Debug, Default)]
struct Gone {
    /// Uids of evicted pods: binding them answers `NotFound`.
    uids: BTreeSet<String>,
    /// `(key, uid)` of pods evicted since the schedule last recreated them.
    fresh: Vec<(String, String)>,
}

/// splitmix64: a tiny deterministic generator for the seeded schedules.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u8) -> u8 {
        (self.next() % u64::from(n)) as u8
    }
}

/// The schedule of seed `seed`: up to 80 events, faults, time steps, kills and restarts.
pub fn schedule(seed: u64) -> Vec<Op> {
    let mut rng = SplitMix(seed);
    let len = 1 + rng.next() % 80;
    (0..len)
        .map(|_| match rng.below(25) {
            0..=2 => Op::AddPod(rng.below(6), rng.below(4)),
            3 => Op::DeletePod(rng.below(6)),
            4 | 5 => Op::AddNode(rng.below(3)),
            6 => Op::RemoveNode(rng.below(3)),
            7 => Op::FailCreates(1 + rng.below(2)),
            8 => Op::TimeOutCreate,
            9 => Op::Throttle,
            10 => Op::Lose(rng.below(6)),
            11 => Op::FailAfterStart(rng.below(6)),
            12 => Op::RefuseEviction(rng.below(6)),
            13 => Op::FailBind,
            14 | 15 => Op::Advance(rng.below(60)),
            16..=19 => Op::Reconcile,
            20 => Op::Restart,
            21 | 22 => Op::Kill(rng.below(16)),
            23 => Op::TimeOutBind,
            _ => Op::Cancel(rng.below(16)),
        })
        .collect()
}

/// The mock backend behind a fault layer: it yields to the scheduler before and after every
/// call, so a step can be cut anywhere, and throttles calls on request. (Throttling lives here
/// rather than in the mock so the checks can list the mock without using up a throttle.)
#[derive(Debug)]
struct Faulty {
    mock: Arc<MockBackend>,
    throttles: Arc<AtomicU32>,
}

impl Faulty {
    fn throttled(&self) -> Result<(), BackendError> {
        let taken = self.throttles.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match taken {
            Ok(_) => Err(BackendError::Throttled {
                retry_after: Some(Duration::from_secs(5)),
                code: "TooManyRequests".into(),
                message: "throttled by the fault schedule".into(),
            }),
            Err(_) => Ok(()),
        }
    }
}

#[async_trait]
impl BurstBackend for Faulty {
    fn describe(&self) -> BurstTarget {
        self.mock.describe()
    }
    async fn create(&self, request: &CreateRequest) -> Result<Instance, BackendError> {
        tokio::task::yield_now().await;
        self.throttled()?;
        let result = self.mock.create(request).await;
        tokio::task::yield_now().await;
        result
    }
    async fn get(&self, key: &InstanceKey) -> Result<Instance, BackendError> {
        tokio::task::yield_now().await;
        self.throttled()?;
        self.mock.get(key).await
    }
    async fn delete(&self, key: &InstanceKey) -> Result<(), BackendError> {
        tokio::task::yield_now().await;
        self.throttled()?;
        let result = self.mock.delete(key).await;
        tokio::task::yield_now().await;
        result
    }
    async fn list(&self) -> Result<Vec<Instance>, BackendError> {
        tokio::task::yield_now().await;
        self.throttled()?;
        self.mock.list().await
    }
}

/// The memory binder, yielding to the scheduler around every call; with `gone`, evictions
/// delete pods ([`Evictions::Recreated`]).
#[derive(Debug)]
struct YieldingBinder(Arc<MemoryBinder>, Option<Arc<Mutex<Gone>>>);

impl YieldingBinder {
    fn gone(&self) -> Option<std::sync::MutexGuard<'_, Gone>> {
        self.1.as_ref().map(|g| g.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[async_trait]
impl NodeBinder for YieldingBinder {
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), BindError> {
        tokio::task::yield_now().await;
        if self.gone().is_some_and(|g| g.uids.contains(&pod.uid)) {
            return Err(BindError::NotFound { pod: pod.key() });
        }
        let result = self.0.bind(pod, node).await;
        tokio::task::yield_now().await;
        result
    }
    async fn evict(&self, pod: &Pod) -> Result<(), BindError> {
        tokio::task::yield_now().await;
        if self.gone().is_some_and(|g| g.uids.contains(&pod.uid)) {
            return Err(BindError::NotFound { pod: pod.key() });
        }
        let result = self.0.evict(pod).await;
        if result.is_ok()
            && let Some(mut gone) = self.gone()
        {
            gone.uids.insert(pod.uid.clone());
            gone.fresh.push((pod.key(), pod.uid.clone()));
        }
        tokio::task::yield_now().await;
        result
    }
    async fn bindings(&self) -> Result<BTreeMap<String, String>, BindError> {
        self.0.bindings().await
    }
}

/// Runs one step, dropping it after `yields` scheduler yields if it has not finished.
async fn cut(r: &mut Reconciler, yields: u8) {
    let deadline = async {
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        biased;
        () = r.reconcile() => {}
        () = deadline => {}
    }
}

/// Pod `shop/p<i>` of StatefulSet `p<i>`, with the `cpu`-th request of 500m, 1, 2, 3 cpu,
/// tolerating burst targets.
pub fn pod(i: u8, cpu: u8) -> Pod {
    let cpu = ["500m", "1", "2", "3"][usize::from(cpu)];
    let mut p = Pod::new("shop", format!("p{i}"))
        .with_container(Resources::parse([("cpu", cpu), ("memory", "1Gi")]).unwrap())
        .with_toleration(Toleration::exists("virtual-kubelet.io/provider", None));
    p.owner_kind = Some("StatefulSet".into());
    p.owner_name = Some(format!("p{i}"));
    p
}

/// Node `vm-<i>`: 2, 3 or 4 cpu.
pub fn node(i: u8) -> Node {
    let cpu = ["2", "3", "4"][usize::from(i)];
    Node::new(format!("vm-{i}"))
        .with_label("kubernetes.io/hostname", format!("vm-{i}"))
        .with_allocatable(Resources::parse([("cpu", cpu), ("memory", "32Gi"), ("pods", "110")]).unwrap())
}

/// The burst target: ACI-like, with an instance quota of one per pod name and a cpu quota of
/// four of the largest pods.
fn target() -> BurstTarget {
    let mut target = BurstTarget::aci_like("aci", "eastus");
    target.quota.max_instances = Some(6);
    target.quota.max_cpu_millis = Some(12_000);
    target
}

/// The hourly cost of an instance, as the engine prices it (no GPUs, Linux).
fn hourly(target: &BurstTarget, instance: &Instance) -> Money {
    target.pricing.hourly(instance.size, &BTreeMap::new(), false)
}

/// The spend cap: four of the largest pods. It binds (six large pods cannot all burst) but never
/// leaves a pod unplaced once every node is back: four bursting pods leave a 3- and a 4-cpu node
/// free for the other two.
fn spend_cap(target: &BurstTarget) -> Money {
    let largest = target.size_for(&pod(0, 3).containers[0].requests).unwrap();
    let one = target.pricing.hourly(largest, &BTreeMap::new(), false);
    Money::from_micros(one.micros() * 4)
}

struct World {
    clock: TokioClock,
    target: BurstTarget,
    aci: Arc<MockBackend>,
    throttles: Arc<AtomicU32>,
    binder: Arc<MemoryBinder>,
    pods: BTreeMap<String, Pod>,
    nodes: BTreeMap<String, Node>,
    /// Set in [`Evictions::Recreated`] mode.
    gone: Option<Arc<Mutex<Gone>>>,
    /// Uid generation: a pod added again, or recreated, is a new pod with a new uid.
    generation: u32,
}

impl World {
    fn reconciler(&self) -> Reconciler {
        let config = RuntimeConfig { drain_interval: Some(Duration::from_secs(120)), ..RuntimeConfig::default() };
        let mut policy = Policy::default();
        policy.burst.spend_cap_per_hour = Some(spend_cap(&self.target));
        let engine = Arc::new(Engine::new(policy).unwrap());
        let backend = Faulty { mock: self.aci.clone(), throttles: self.throttles.clone() };
        Reconciler::new(engine, Arc::new(YieldingBinder(self.binder.clone(), self.gone.clone())), self.clock)
            .with_config(config)
            .with_backend("aci", Arc::new(backend))
    }

    /// A fresh reconciler fed with what the cluster holds, then recovered.
    async fn restart(&self) -> Reconciler {
        let mut r = self.reconciler();
        for n in self.nodes.values() {
            r.handle(ClusterEvent::NodeAdded(n.clone()));
        }
        for (key, p) in &self.pods {
            let mut p = p.clone();
            p.node_name = self.binder.node_of(key);
            r.handle(ClusterEvent::PodAdded(p));
        }
        for _ in 0..10 {
            if r.recover().await.is_ok() {
                break;
            }
        }
        r
    }

    /// [`Evictions::Recreated`]: the pods evicted since the last call are deleted and their
    /// StatefulSets recreate them (same name, new uid).
    fn recreate_evicted(&mut self, r: &mut Reconciler) {
        let Some(gone) = &self.gone else { return };
        let fresh = std::mem::take(&mut gone.lock().unwrap_or_else(|e| e.into_inner()).fresh);
        for (key, uid) in fresh {
            let Some(old) = self.pods.get(&key).filter(|p| p.uid == uid).cloned() else { continue };
            self.binder.remove(&key);
            r.handle(ClusterEvent::PodDeleted(key.clone()));
            let mut new = old;
            self.generation += 1;
            new.uid = format!("{key}-{}", self.generation);
            self.pods.insert(key, new.clone());
            r.handle(ClusterEvent::PodAdded(new));
        }
    }

    /// The budgets and quotas, on what the backend really holds and on what the reconciler
    /// believes.
    async fn check_budgets(&self, r: &Reconciler) -> Result<(), String> {
        let moving = r.placements().filter(|(_, p)| matches!(p, Placement::Moving { .. })).count();
        if moving > r.config().drain_budget.max_moves {
            return Err(format!("{moving} drain-back moves in flight, budget {}", r.config().drain_budget.max_moves));
        }
        let instances = self.aci.list().await.map_err(|e| format!("listing the mock: {e}"))?;
        let quota = &self.target.quota;
        let cpu: i64 = instances.iter().map(|i| i.size.cpu_millis).sum();
        if quota.max_instances.is_some_and(|max| instances.len() as i64 > max) {
            return Err(format!("{} instances, quota {:?}", instances.len(), quota.max_instances));
        }
        if quota.max_cpu_millis.is_some_and(|max| cpu > max) {
            return Err(format!("{cpu}m cpu on the backend, quota {:?}", quota.max_cpu_millis));
        }
        let believed =
            r.placements().filter(|(_, p)| matches!(p, Placement::Bursting { .. } | Placement::Moving { .. }));
        if quota.max_instances.is_some_and(|max| believed.count() as i64 > max) {
            return Err("the reconciler believes more instances than the quota allows".into());
        }
        let spend = instances.iter().map(|i| hourly(&self.target, i).micros()).sum::<i64>();
        let cap = spend_cap(&self.target);
        if r.burst_spend_per_hour() > cap {
            return Err(format!(
                "the reconciler's bursting pods cost {}/h, over the cap of {cap}/h",
                r.burst_spend_per_hour()
            ));
        }
        if spend > cap.micros() {
            let list: Vec<String> =
                instances.iter().map(|i| format!("{} {:?} {}", i.key, i.status, hourly(&self.target, i))).collect();
            return Err(format!(
                "the backend's instances cost {}/h, over the spend cap of {cap}/h: {list:?}; placements: {:?}",
                Money::from_micros(spend),
                r.placements().collect::<Vec<_>>()
            ));
        }
        Ok(())
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Runs a schedule, checking the budgets after every operation, then lets the reconciler settle
/// (faults stopped, every node back) and checks that nothing was lost or duplicated. Must run on
/// a current-thread runtime with paused time.
pub async fn run(ops: Vec<Op>) -> Result<(), String> {
    run_with(ops, Evictions::InPlace).await
}

/// [`run`] with evictions that do what `evictions` says.
pub async fn run_with(ops: Vec<Op>, evictions: Evictions) -> Result<(), String> {
    let clock = TokioClock::new();
    let target = target();
    let mut world = World {
        aci: Arc::new(MockBackend::new(target.clone(), clock)),
        target,
        clock,
        throttles: Arc::new(AtomicU32::new(0)),
        binder: Arc::new(MemoryBinder::new()),
        pods: BTreeMap::new(),
        nodes: BTreeMap::new(),
        gone: (evictions == Evictions::Recreated).then(Arc::default),
        generation: 0,
    };
    let mut r = world.restart().await;
    // The instance key of pod `p<i>` as it is now (any key when it does not exist).
    let key_of = |pods: &BTreeMap<String, Pod>, i: u8| {
        let p = pods.get(&format!("shop/p{i}")).cloned().unwrap_or_else(|| pod(i, 0));
        PodRef::of(&p).key()
    };
    for (step, op) in ops.into_iter().enumerate() {
        let shown = format!("{op:?}");
        match op {
            Op::AddPod(i, cpu) => {
                // A pod added again after a deletion is a new pod, with a new uid, as in Kubernetes.
                let mut p = pod(i, cpu);
                world.generation += 1;
                p.uid = format!("{}-{}", p.uid, world.generation);
                if let std::collections::btree_map::Entry::Vacant(slot) = world.pods.entry(p.key()) {
                    slot.insert(p.clone());
                    r.handle(ClusterEvent::PodAdded(p));
                }
            }
            Op::DeletePod(i) => {
                let key = format!("shop/p{i}");
                if world.pods.remove(&key).is_some() {
                    world.binder.remove(&key);
                    r.handle(ClusterEvent::PodDeleted(key));
                }
            }
            Op::AddNode(i) => {
                let n = node(i);
                world.nodes.insert(n.name.clone(), n.clone());
                r.handle(ClusterEvent::NodeAdded(n));
            }
            Op::RemoveNode(i) => {
                let name = format!("vm-{i}");
                if world.nodes.remove(&name).is_some() {
                    world.binder.remove_node(&name);
                    r.handle(ClusterEvent::NodeRemoved(name));
                }
            }
            Op::FailCreates(n) => {
                world.aci.fail_next_creates(usize::from(n), BackendError::transient("InternalServerError", "boom"))
            }
            Op::TimeOutCreate => world.aci.time_out_next_creates(1),
            Op::Throttle => {
                world.throttles.fetch_add(1, Ordering::SeqCst);
            }
            Op::Lose(i) => world.aci.lose(&key_of(&world.pods, i)),
            Op::FailAfterStart(i) => world.aci.fail_after_start(&key_of(&world.pods, i), "exit code 1"),
            Op::RefuseEviction(i) => world.binder.refuse_evictions(format!("shop/p{i}"), 2, "pdb"),
            Op::FailBind => world.binder.fail_next_binds([BindError::Transient {
                pod: String::new(),
                message: "apiserver unavailable".into(),
            }]),
            Op::TimeOutBind => world.binder.time_out_next_binds(1),
            Op::Advance(s) => tokio::time::advance(Duration::from_secs(u64::from(s))).await,
            Op::Reconcile => r.reconcile().await,
            Op::Restart => r = world.restart().await,
            Op::Kill(yields) => {
                cut(&mut r, yields).await;
                r = world.restart().await;
            }
            Op::Cancel(yields) => cut(&mut r, yields).await,
        }
        world.recreate_evicted(&mut r);
        world.check_budgets(&r).await.map_err(|e| format!("after step {step} ({shown}): {e}"))?;
    }
    // The faults stop, every node comes back; the reconciler settles.
    for i in 0..3 {
        let n = node(i);
        if world.nodes.insert(n.name.clone(), n.clone()).is_none() {
            r.handle(ClusterEvent::NodeAdded(n));
        }
    }
    world.throttles.store(0, Ordering::SeqCst);
    for step in 0..30 {
        tokio::time::advance(Duration::from_secs(400)).await;
        r.reconcile().await;
        world.recreate_evicted(&mut r);
        world.check_budgets(&r).await.map_err(|e| format!("settling, step {step}: {e}"))?;
    }

    let instances = world.aci.list().await.unwrap();
    let placements: BTreeMap<&str, &Placement> = r.placements().collect();
    let live: Vec<&str> = world.pods.keys().map(String::as_str).collect();
    ensure!(
        placements.keys().copied().collect::<Vec<_>>() == live,
        "every live pod, and only those, is known: {:?} vs {live:?}",
        placements.keys()
    );
    let mut bursting = 0;
    for (key, placement) in &placements {
        match placement {
            Placement::Bound { node } => {
                ensure!(world.nodes.contains_key(node), "{key} bound to missing node {node}");
                ensure!(
                    world.binder.node_of(key).as_ref() == Some(node),
                    "{key} bound to {node}, the binder says {:?}",
                    world.binder.node_of(key)
                );
            }
            Placement::Bursting { key: instance, status, .. } => {
                bursting += 1;
                let mine: Vec<_> = instances.iter().filter(|i| i.key == *instance).collect();
                ensure!(mine.len() == 1, "{key} has {} instances", mine.len());
                ensure!(mine[0].status == InstanceStatus::Running, "{key}'s instance is {:?}", mine[0].status);
                ensure!(*status == InstanceStatus::Running, "{key} is believed {status:?}");
                ensure!(world.binder.node_of(key).is_none(), "{key} bursts and is bound");
            }
            other => ensure!(false, "{key} is {other:?} after settling"),
        }
    }
    ensure!(instances.len() == bursting, "{} instances for {bursting} bursting pods", instances.len());
    for (pod, node) in world.binder.snapshot() {
        let agrees = matches!(placements.get(pod.as_str()), Some(Placement::Bound { node: n }) if *n == node);
        ensure!(agrees, "binding {pod} -> {node} without the pod bound there");
    }
    Ok(())
}

/// A current-thread runtime with paused time, for [`run`].
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}
