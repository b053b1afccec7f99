//! The runtime's reconciler against the mock backend (manual clock, scripted faults) and the
//! in-memory binder: plans applied, failures retried with backoff or re-planned, failed and lost
//! instances recreated, nodes lost, drain-back moves with refused evictions, restarts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::rig::{Rig, reconciler};
use spillway::backend::mock::MockBackend;
use spillway::backend::{
    BackendError, BurstBackend, BurstPodSpec, ContainerSpec, CreateRequest, Instance, InstanceKey, InstanceStatus,
    ManualClock, PodRef, TokioClock,
};
use spillway::model::{BurstTarget, InstanceSize};
use spillway::runtime::{
    Backoff, BindError, ClusterEvent, EventKind, MemoryBinder, Placement, Reconciler, RecoverError, RuntimeConfig,
};
use spillway::{Engine, Node, Pod, Policy, Resources, Toleration};

const VK: &str = "virtual-kubelet.io/provider";

fn vm(name: &str, cpu: &str) -> Node {
    Node::new(name)
        .with_label("kubernetes.io/hostname", name)
        .with_allocatable(Resources::parse([("cpu", cpu), ("memory", "32Gi"), ("pods", "110")]).unwrap())
}

fn pod(name: &str, cpu: &str) -> Pod {
    Pod::new("shop", name)
        .with_container(Resources::parse([("cpu", cpu), ("memory", "1Gi")]).unwrap())
        .with_toleration(Toleration::exists(VK, None))
}

fn key(name: &str) -> InstanceKey {
    PodRef::of(&pod(name, "1")).key()
}

fn rig() -> Rig {
    rig_with(RuntimeConfig::default())
}

fn rig_with(config: RuntimeConfig) -> Rig {
    common::rig::rig_with(config, |r| r)
}

impl Rig {
    fn add(&mut self, pods: &[Pod]) {
        for p in pods {
            self.r.handle(ClusterEvent::PodAdded(p.clone()));
        }
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    fn creates(&self) -> usize {
        self.aci.calls().iter().filter(|c| c.starts_with("create ")).count()
    }

    async fn instances(&self) -> Vec<Instance> {
        self.aci.list().await.unwrap()
    }

    fn kinds(&self, pod: &str) -> Vec<&EventKind> {
        self.r.events().iter().filter(|e| e.pod.as_deref() == Some(pod)).map(|e| &e.kind).collect()
    }
}

fn bursting(p: Option<&Placement>) -> Option<(&str, &InstanceStatus)> {
    match p {
        Some(Placement::Bursting { target, status, .. }) => Some((target, status)),
        _ => None,
    }
}

fn bound(p: Option<&Placement>) -> Option<&str> {
    match p {
        Some(Placement::Bound { node }) => Some(node),
        _ => None,
    }
}

#[tokio::test]
async fn pods_bind_and_burst_as_planned() {
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "2")));
    t.add(&[pod("a", "1500m"), pod("b", "1500m"), pod("huge", "64")]);
    t.r.reconcile().await;

    assert_eq!(bound(t.r.placement("shop/a")), Some("vm-1"));
    assert_eq!(t.binder.node_of("shop/a").as_deref(), Some("vm-1"));
    assert_eq!(bursting(t.r.placement("shop/b")), Some(("aci", &InstanceStatus::Pending)));
    assert!(matches!(t.r.placement("shop/huge"), Some(Placement::Unschedulable { .. })));
    let instances = t.instances().await;
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].key, key("b"));
    assert_eq!(instances[0].size, InstanceSize::new(1500, 1_100_000_000));
    assert!(matches!(t.kinds("shop/a")[..], [EventKind::Bound { .. }]));
    assert!(matches!(t.kinds("shop/b")[..], [EventKind::BurstCreated { .. }]));

    // Nothing changes: nothing is created or bound again, and no new event is recorded.
    let events = t.r.events().len();
    t.r.reconcile().await;
    assert_eq!(t.creates(), 1);
    assert_eq!(t.r.events().len(), events);

    t.advance(40);
    t.r.reconcile().await;
    assert_eq!(bursting(t.r.placement("shop/b")), Some(("aci", &InstanceStatus::Running)));
    assert!(matches!(t.kinds("shop/b").last(), Some(EventKind::InstanceRunning { .. })));
}

#[tokio::test]
async fn a_failed_create_is_retried_with_exponential_backoff() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.aci.fail_next_creates(2, BackendError::transient("InternalServerError", "boom"));

    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    t.r.reconcile().await; // within the backoff: no new attempt
    assert_eq!(t.creates(), 1);

    t.advance(1);
    t.r.reconcile().await;
    assert_eq!(t.creates(), 2);
    t.advance(1); // the second backoff is 2 s
    t.r.reconcile().await;
    assert_eq!(t.creates(), 2);
    t.advance(1);
    t.r.reconcile().await;
    assert_eq!(t.creates(), 3);
    assert!(bursting(t.r.placement("shop/a")).is_some());

    let retries: Vec<Duration> = t
        .kinds("shop/a")
        .iter()
        .filter_map(|k| match k {
            EventKind::CreateFailed { retry_in, error, .. } => {
                assert_eq!(error.code(), "InternalServerError");
                Some(*retry_in)
            }
            _ => None,
        })
        .collect();
    assert_eq!(retries, [Duration::from_secs(1), Duration::from_secs(2)]);
    assert_eq!(t.instances().await.len(), 1);
}

#[tokio::test]
async fn a_throttled_create_waits_for_retry_after() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.aci.throttle_next(2, Duration::from_secs(20)); // the list, then the create
    t.r.reconcile().await;
    assert!(
        matches!(t.kinds("shop/a")[..], [EventKind::CreateFailed { retry_in, .. }] if *retry_in == Duration::from_secs(20))
    );
    t.advance(19);
    t.r.reconcile().await;
    assert_eq!(t.creates(), 1);
    t.advance(1);
    t.r.reconcile().await;
    assert_eq!(t.creates(), 2);
    assert!(bursting(t.r.placement("shop/a")).is_some());
}

#[tokio::test]
async fn a_failed_create_is_replanned_onto_a_vm_that_freed_up() {
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "2")));
    t.add(&[pod("x", "1500m").on_node("vm-1")]);
    t.binder.insert("shop/x", "vm-1");
    t.add(&[pod("y", "1500m")]);
    t.aci.fail_next_creates(1, BackendError::transient("InternalServerError", "boom"));
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/y"), Some(&Placement::Pending));

    t.r.handle(ClusterEvent::PodDeleted("shop/x".into()));
    t.binder.remove("shop/x");
    t.advance(1);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/y")), Some("vm-1"));
    assert_eq!(t.creates(), 1);
    assert!(t.instances().await.is_empty());
}

#[tokio::test]
async fn a_create_that_timed_out_but_created_is_adopted_not_duplicated() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.aci.time_out_next_creates(1);
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    assert_eq!(t.instances().await.len(), 1);

    t.r.reconcile().await; // the listing finds the instance of the unplaced pod
    assert!(bursting(t.r.placement("shop/a")).is_some());
    assert!(matches!(t.kinds("shop/a").last(), Some(EventKind::Adopted { .. })));
    t.advance(5);
    t.r.reconcile().await;
    assert_eq!(t.creates(), 1);
    assert_eq!(t.instances().await.len(), 1);
}

#[tokio::test]
async fn an_instance_failing_after_start_is_deleted_and_recreated() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.aci.fail_next_after_start(1, "exit code 137");
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    assert!(t.instances().await.is_empty(), "the failed instance is deleted");
    assert!(t.kinds("shop/a").iter().any(|k| matches!(k,
        EventKind::InstanceFailed { reason, retry_in, .. } if reason == "exit code 137" && *retry_in == Duration::from_secs(1))));
    assert!(
        t.r.events()
            .iter()
            .any(|e| matches!(&e.kind, EventKind::InstanceDeleted { reason, .. } if reason.contains("exit code 137")))
    );

    t.advance(1);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    assert_eq!(bursting(t.r.placement("shop/a")), Some(("aci", &InstanceStatus::Running)));
    let instances = t.instances().await;
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].status, InstanceStatus::Running);
}

#[tokio::test]
async fn a_lost_instance_is_recreated() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    t.aci.lose(&key("a"));
    t.r.reconcile().await;
    assert!(matches!(t.kinds("shop/a").last(), Some(EventKind::InstanceLost { .. })));
    t.advance(1);
    t.r.reconcile().await;
    assert!(bursting(t.r.placement("shop/a")).is_some());
    assert_eq!(t.creates(), 2);
    assert_eq!(t.instances().await.len(), 1);
}

#[tokio::test]
async fn an_instance_status_notification_is_applied() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    let mut instance = t.aci.get(&key("a")).await.unwrap();
    instance.status = InstanceStatus::Running;
    t.r.handle(ClusterEvent::InstanceStatus { target: "aci".into(), instance });
    assert_eq!(bursting(t.r.placement("shop/a")), Some(("aci", &InstanceStatus::Running)));
}

#[tokio::test]
async fn a_removed_node_sends_its_pods_back_to_planning() {
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "4")));
    t.add(&[pod("a", "1"), pod("b", "1")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/a")), Some("vm-1"));

    t.r.handle(ClusterEvent::NodeAdded(vm("vm-2", "1500m")));
    t.r.handle(ClusterEvent::NodeRemoved("vm-1".into()));
    t.binder.remove_node("vm-1");
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    assert!(matches!(t.kinds("shop/b").last(), Some(EventKind::NodeLost { node }) if node == "vm-1"));
    t.r.reconcile().await;
    // One fits on vm-2, the other bursts.
    let on_vm2 = ["shop/a", "shop/b"].iter().filter(|p| bound(t.r.placement(p)) == Some("vm-2")).count();
    let burst = ["shop/a", "shop/b"].iter().filter(|p| bursting(t.r.placement(p)).is_some()).count();
    assert_eq!((on_vm2, burst), (1, 1));
}

#[tokio::test]
async fn a_deleted_pod_loses_its_instance() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    t.r.handle(ClusterEvent::PodDeleted("shop/a".into()));
    t.r.reconcile().await;
    assert!(t.instances().await.is_empty());
    assert_eq!(t.r.placement("shop/a"), None);
}

#[tokio::test]
async fn drain_back_moves_pods_within_the_budget_and_retries_refused_evictions() {
    let mut t = rig();
    t.add(&[pod("a", "2"), pod("b", "1"), pod("c", "500m")]);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    assert_eq!(t.instances().await.len(), 3);

    // Capacity returns: a 3-cpu node. Budget: one move per round... then more.
    t.binder.refuse_evictions("shop/a", 1, "pdb shop-a allows 0 disruptions");
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "3")));
    t.r.reconcile().await;
    // a (2 cpu, biggest savings) and b (1 cpu) move; c no longer fits.
    assert!(matches!(t.r.placement("shop/a"), Some(Placement::Moving { node, .. }) if node == "vm-1"));
    assert_eq!(bound(t.r.placement("shop/b")), Some("vm-1"));
    assert!(bursting(t.r.placement("shop/c")).is_some());
    assert!(matches!(t.kinds("shop/a").last(), Some(EventKind::EvictionRefused { reason, retry_in })
        if reason.contains("pdb") && *retry_in == Duration::from_secs(30)));
    assert!(matches!(t.kinds("shop/b").last(), Some(EventKind::Drained { to_node, .. }) if to_node == "vm-1"));
    assert_eq!(t.instances().await.len(), 2, "b's instance is deleted; a's stays until a is evicted");

    // The reservation holds: a new pending pod does not take a's place on vm-1.
    t.add(&[pod("d", "2")]);
    t.r.reconcile().await;
    assert!(bursting(t.r.placement("shop/d")).is_some());
    assert!(matches!(t.r.placement("shop/a"), Some(Placement::Moving { .. })));

    t.advance(30);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/a")), Some("vm-1"));
    assert_eq!(t.binder.node_of("shop/a").as_deref(), Some("vm-1"));
    assert_eq!(t.binder.evictions(), ["shop/b", "shop/a"]);
    let keys: Vec<InstanceKey> = t.instances().await.into_iter().map(|i| i.key).collect();
    assert_eq!(keys.len(), 2);
    assert!(!keys.contains(&key("a")) && !keys.contains(&key("b")));
}

#[tokio::test]
async fn drain_back_respects_the_round_budget() {
    let mut config = RuntimeConfig::default();
    config.drain_budget.max_moves = 1;
    config.drain_budget.max_per_owner = 5;
    config.drain_interval = Some(Duration::from_secs(600));
    let mut t = rig_with(config);
    t.add(&[pod("a", "1"), pod("b", "1")]);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "4")));
    t.r.reconcile().await;
    assert_eq!(t.binder.evictions().len(), 1);
    t.advance(10);
    t.r.reconcile().await;
    assert_eq!(t.binder.evictions().len(), 1, "the next round waits for the schedule");
    t.advance(600);
    t.r.reconcile().await;
    assert_eq!(t.binder.evictions().len(), 2);
    assert!(t.instances().await.is_empty());
}

#[tokio::test]
async fn shutdown_rolls_back_moves_not_yet_evicted() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    t.binder.refuse_evictions("shop/a", 5, "pdb");
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "4")));
    t.r.reconcile().await;
    assert!(matches!(t.r.placement("shop/a"), Some(Placement::Moving { .. })));
    t.r.shutdown().await;
    assert_eq!(bursting(t.r.placement("shop/a")), Some(("aci", &InstanceStatus::Running)));
    assert!(matches!(t.kinds("shop/a").last(), Some(EventKind::DrainAborted { .. })));
    t.add(&[pod("b", "1")]);
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/b"), Some(&Placement::Pending), "nothing new after shutdown");
}

#[tokio::test]
async fn recover_adopts_deletes_orphans_and_creates_nothing_twice() {
    let clock = ManualClock::new();
    let aci = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()));
    let binder = Arc::new(MemoryBinder::new());
    // Before the restart: a bursts, b runs on vm-1 but a stale instance of it remains, gone's
    // pod was deleted while the reconciler was down.
    let spec = BurstPodSpec::new(vec![ContainerSpec::new("app", "nginx", Resources::default())]);
    for name in ["a", "b", "gone"] {
        let request = CreateRequest::new(&pod(name, "1"), InstanceSize::new(1000, 1_100_000_000), spec.clone());
        aci.create(&request).await.unwrap();
    }
    binder.insert("shop/b", "vm-1");

    let mut r = reconciler(&clock, &aci, &binder, RuntimeConfig::default());
    r.handle(ClusterEvent::NodeAdded(vm("vm-1", "4")));
    for name in ["a", "b", "c"] {
        r.handle(ClusterEvent::PodAdded(pod(name, "1")));
    }
    r.recover().await.unwrap();
    assert!(matches!(r.placement("shop/a"), Some(Placement::Bursting { key, .. }) if *key == self::key("a")));
    assert_eq!(bound(r.placement("shop/b")), Some("vm-1"));
    let keys: Vec<InstanceKey> = aci.list().await.unwrap().into_iter().map(|i| i.key).collect();
    assert_eq!(keys, [key("a")]);

    r.reconcile().await;
    r.reconcile().await;
    assert_eq!(bound(r.placement("shop/c")), Some("vm-1"));
    let creates: Vec<String> = aci.calls().into_iter().filter(|c| c.starts_with("create ")).collect();
    assert_eq!(creates.len(), 3, "only the three made before the restart");
    assert_eq!(aci.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn recover_reports_backends_it_could_not_list() {
    let mut t = rig();
    t.aci.throttle_next(1, Duration::from_secs(3));
    let err = t.r.recover().await.unwrap_err();
    assert!(matches!(&err, RecoverError::Backends { failures } if failures.len() == 1 && failures[0].0 == "aci"));
    assert!(err.to_string().starts_with("listing burst instances failed on aci"));
    t.r.recover().await.unwrap();
}

/// A backend that yields while creating, to observe how many creates run at once.
#[derive(Debug)]
struct Counting {
    inner: MockBackend,
    now: AtomicUsize,
    max: AtomicUsize,
}

#[async_trait]
impl BurstBackend for Counting {
    fn describe(&self) -> BurstTarget {
        self.inner.describe()
    }
    async fn create(&self, request: &CreateRequest) -> Result<Instance, BackendError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.inner.create(request).await
    }
    async fn get(&self, key: &InstanceKey) -> Result<Instance, BackendError> {
        self.inner.get(key).await
    }
    async fn delete(&self, key: &InstanceKey) -> Result<(), BackendError> {
        self.inner.delete(key).await
    }
    async fn list(&self) -> Result<Vec<Instance>, BackendError> {
        self.inner.list().await
    }
}

#[tokio::test]
async fn creates_are_bounded_per_backend() {
    let clock = ManualClock::new();
    let counting = Arc::new(Counting {
        inner: MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()),
        now: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
    });
    let config = RuntimeConfig {
        max_in_flight_per_backend: 2,
        backoff: Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(60) },
        ..RuntimeConfig::default()
    };
    let engine = Arc::new(Engine::new(Policy::default()).unwrap());
    let mut r = Reconciler::new(engine, Arc::new(MemoryBinder::new()), clock.clone())
        .with_config(config)
        .with_backend("aci", counting.clone());
    for i in 0..6 {
        r.handle(ClusterEvent::PodAdded(pod(&format!("p{i}"), "1")));
    }
    r.reconcile().await;
    assert_eq!(counting.max.load(Ordering::SeqCst), 2);
    assert_eq!(counting.inner.list().await.unwrap().len(), 6);
    assert_eq!(r.placements().filter(|(_, p)| matches!(p, Placement::Bursting { .. })).count(), 6);
}

#[tokio::test]
async fn a_failed_bind_is_retried_with_backoff() {
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "4")));
    t.add(&[pod("a", "1")]);
    t.binder.fail_next_binds([BindError::Transient { pod: "shop/a".into(), message: "apiserver unavailable".into() }]);
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    assert!(
        matches!(t.kinds("shop/a")[..], [EventKind::BindFailed { retry_in, .. }] if *retry_in == Duration::from_secs(1))
    );
    t.advance(1);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/a")), Some("vm-1"));
    assert_eq!(t.binder.calls(), ["bind shop/a vm-1", "bind shop/a vm-1"]);
}

#[tokio::test]
async fn run_handles_events_until_the_channel_closes_then_shuts_down() {
    let mut t = rig();
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    t.binder.refuse_evictions("shop/a", 5, "pdb");
    let (events, rx) = tokio::sync::mpsc::channel(8);
    events.send(ClusterEvent::NodeAdded(vm("vm-1", "4"))).await.unwrap();
    events.send(ClusterEvent::PodAdded(pod("b", "1"))).await.unwrap();
    drop(events);
    t.r.run(rx, Duration::from_secs(3600)).await;
    assert_eq!(bound(t.r.placement("shop/b")), Some("vm-1"));
    // The move of a started (its eviction was refused) and was rolled back at shutdown.
    let kinds = t.kinds("shop/a");
    assert!(matches!(
        kinds[kinds.len() - 3..],
        [EventKind::DrainStarted { .. }, EventKind::EvictionRefused { .. }, EventKind::DrainAborted { .. }]
    ));
    assert_eq!(bursting(t.r.placement("shop/a")), Some(("aci", &InstanceStatus::Running)));
}

#[tokio::test]
async fn a_move_is_given_up_after_too_many_refused_evictions() {
    let config = RuntimeConfig { max_eviction_refusals: 2, ..RuntimeConfig::default() };
    let mut t = rig_with(config);
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    t.binder.refuse_evictions("shop/a", 100, "pdb");
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "4")));
    t.r.reconcile().await;
    t.advance(30);
    t.r.reconcile().await;
    assert_eq!(bursting(t.r.placement("shop/a")), Some(("aci", &InstanceStatus::Running)));
    assert!(matches!(t.kinds("shop/a").last(), Some(EventKind::DrainAborted { reason })
        if reason == "the eviction was refused 2 times, last: pdb"));
    // The reservation is released: another pod takes the node.
    t.add(&[pod("b", "4")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/b")), Some("vm-1"));
    assert_eq!(t.instances().await.len(), 1);
}

#[tokio::test]
async fn a_bind_in_doubt_is_retried_to_the_same_node_never_placed_elsewhere() {
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "2")));
    t.add(&[pod("a", "1500m")]);
    t.binder.time_out_next_binds(1);
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    assert_eq!(t.binder.node_of("shop/a").as_deref(), Some("vm-1"), "the bind did happen");
    // vm-1 looks free to the reconciler, yet a new pod must not push `a` to a burst target.
    t.add(&[pod("b", "1500m")]);
    t.advance(1);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/a")), Some("vm-1"));
    assert!(bursting(t.r.placement("shop/b")).is_some());
    assert_eq!(t.instances().await.len(), 1);
}

/// `run` on tokio's paused time with a `TokioClock`: the interval between idle steps and the
/// reconciler's clock are one time, the one deployments use, so the instance (40 s to start) is
/// seen running on the step at 40 s, and nothing waits on the wall clock.
#[tokio::test(start_paused = true)]
async fn run_on_paused_tokio_time_steps_at_the_interval() {
    let clock = TokioClock::new();
    let aci = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock));
    let engine = Arc::new(Engine::new(Policy::default()).unwrap());
    let mut r = Reconciler::new(engine, Arc::new(MemoryBinder::new()), clock).with_backend("aci", aci);
    let (events, rx) = tokio::sync::mpsc::channel(8);
    let feed = async move {
        events.send(ClusterEvent::PodAdded(pod("a", "1"))).await.unwrap();
        tokio::time::sleep(Duration::from_secs(45)).await;
        drop(events); // shut down
    };
    tokio::join!(r.run(rx, Duration::from_secs(10)), feed);
    assert_eq!(r.steps(), 5, "steps at 0 s (the event), 10, 20, 30 and 40 s");
    let seen: Vec<(u64, &EventKind)> =
        r.events().iter().filter(|e| e.pod.as_deref() == Some("shop/a")).map(|e| (e.at.as_secs(), &e.kind)).collect();
    assert!(matches!(seen[..], [(0, EventKind::BurstCreated { .. }), (40, EventKind::InstanceRunning { .. })]));
    assert_eq!(spillway::backend::Clock::now(&clock), Duration::from_secs(45));
}

/// A pod moving back holds its reserved node, but its instance still runs (and bills) until the
/// move deletes it: the spend cap still counts it, so a new pod cannot burst on budget that is
/// not free yet.
#[tokio::test]
async fn a_pod_moving_back_still_counts_against_the_spend_cap() {
    let clock = ManualClock::new();
    let aci = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()));
    let binder = Arc::new(MemoryBinder::new());
    let target = aci.describe();
    let one = target.pricing.hourly(
        target.size_for(&pod("x", "1").containers[0].requests).unwrap(),
        &std::collections::BTreeMap::new(),
        false,
    );
    let mut policy = Policy::default();
    policy.burst.spend_cap_per_hour = Some(spillway::model::Money::from_micros(2 * one.micros()));
    let engine = Arc::new(Engine::new(policy).unwrap());
    let mut r = Reconciler::new(engine, binder.clone(), clock.clone()).with_backend("aci", aci.clone());
    for name in ["a", "b"] {
        r.handle(ClusterEvent::PodAdded(pod(name, "1")));
    }
    r.reconcile().await;
    clock.advance(Duration::from_secs(40));
    r.reconcile().await;
    assert_eq!(r.burst_spend_per_hour().micros(), 2 * one.micros());
    // A node for one of them; its eviction is refused, so the move stays in flight.
    binder.refuse_evictions("shop/a", 5, "pdb");
    binder.refuse_evictions("shop/b", 5, "pdb");
    r.handle(ClusterEvent::NodeAdded(vm("vm-1", "1")));
    r.reconcile().await;
    let moving = r.placements().filter(|(_, p)| matches!(p, Placement::Moving { .. })).count();
    assert_eq!(moving, 1);
    r.handle(ClusterEvent::PodAdded(pod("c", "1")));
    r.reconcile().await;
    assert!(
        matches!(r.placement("shop/c"), Some(Placement::Unschedulable { message }) if message.contains("burst spend cap reached")),
        "{:?}",
        r.placement("shop/c")
    );
    assert_eq!(aci.list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_updated_pod_is_seen_by_later_plans() {
    use spillway::model::{LabelSelector, PodAffinityTerm};
    // vm-1 is the roomier node: without rules the scorer prefers it.
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "8")));
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-2", "1500m")));
    let away_from_db = |name: &str| {
        let mut p = pod(name, "1");
        p.pod_anti_affinity.required.push(PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: [("app".to_string(), "db".to_string())].into(),
                ..LabelSelector::default()
            }),
            topology_key: "kubernetes.io/hostname".into(),
            ..PodAffinityTerm::default()
        });
        p
    };
    t.add(&[pod("a", "1")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/a")), Some("vm-1"));
    t.add(&[away_from_db("c")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/c")), Some("vm-1"), "a has no app=db label yet");

    // a gains the label it is avoided by: the next plan must see it on vm-1.
    let mut labelled = pod("a", "1").with_label("app", "db");
    labelled.node_name = Some("vm-1".into());
    t.r.handle(ClusterEvent::PodUpdated(labelled));
    t.add(&[away_from_db("b")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/b")), Some("vm-2"));
}

/// A pod of ReplicaSet `web-5d9`.
fn web(name: &str, cpu: &str) -> Pod {
    let mut p = pod(name, cpu).with_label("app", "web");
    p.owner_kind = Some("ReplicaSet".into());
    p.owner_name = Some("web-5d9".into());
    p
}

/// `web-1` bursts and runs; a 3-cpu node arrives and the drain-back evicts `web-1`, which (as
/// in Kubernetes) is deleted by the eviction, so its bind answers NotFound.
async fn drained_and_deleted() -> Rig {
    let mut t = rig();
    t.add(&[web("web-1", "2")]);
    t.r.reconcile().await;
    t.advance(40);
    t.r.reconcile().await;
    assert!(matches!(bursting(t.r.placement("shop/web-1")), Some((_, InstanceStatus::Running))));
    t.binder.fail_next_binds([BindError::NotFound { pod: "shop/web-1".into() }]);
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "3")));
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/web-1"), None, "a pod the binder reports gone is forgotten");
    assert!(t.instances().await.is_empty());
    assert!(matches!(
        t.kinds("shop/web-1")[..],
        [.., EventKind::PodGone { .. }, EventKind::ReplacementAwaited { node, owner, expires_in }]
            if node == "vm-1" && owner == "shop/ReplicaSet/web-5d9" && *expires_in == Duration::from_secs(60)
    ));
    // The watch delivers the deletion: nothing more happens.
    t.r.handle(ClusterEvent::PodDeleted("shop/web-1".into()));
    t
}

#[tokio::test]
async fn an_evicted_pods_replacement_takes_its_reserved_node() {
    let mut t = drained_and_deleted().await;
    // The reservation holds: an unrelated pod that would fit on vm-1 bursts instead.
    t.add(&[pod("other", "2")]);
    t.r.reconcile().await;
    assert!(bursting(t.r.placement("shop/other")).is_some());

    // The ReplicaSet's new pod takes the reserved node.
    t.advance(5);
    t.add(&[web("web-2", "2")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/web-2")), Some("vm-1"));
    assert_eq!(t.binder.node_of("shop/web-2").as_deref(), Some("vm-1"));
    assert!(matches!(
        t.kinds("shop/web-2")[..],
        [
            EventKind::ReplacementMatched { replaces, node: n1 },
            EventKind::Bound { node: n2 },
            EventKind::Drained { from_target, to_node },
        ] if replaces == "shop/web-1" && n1 == "vm-1" && n2 == "vm-1" && from_target == "aci" && to_node == "vm-1"
    ));
    // Taken, not released later.
    t.advance(120);
    t.r.reconcile().await;
    assert!(!t.kinds("shop/web-1").iter().any(|k| matches!(k, EventKind::ReservationReleased { .. })));
}

#[tokio::test]
async fn an_unclaimed_reservation_is_released_after_the_wait() {
    let mut t = drained_and_deleted().await;
    // Same owner, another template (a rollout changed its requests): not the replacement. It
    // is planned normally, onto what the reservation leaves of vm-1.
    t.add(&[web("web-new", "1")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/web-new")), Some("vm-1"));
    assert!(!t.kinds("shop/web-new").iter().any(|k| matches!(k, EventKind::ReplacementMatched { .. })));
    t.add(&[pod("other", "2")]);
    t.r.reconcile().await;
    assert!(bursting(t.r.placement("shop/other")).is_some(), "vm-1 still holds the reservation");

    t.advance(61);
    t.r.reconcile().await;
    assert!(matches!(t.kinds("shop/web-1").last(), Some(EventKind::ReservationReleased { node, reason })
        if node == "vm-1" && reason.contains("no replacement from shop/ReplicaSet/web-5d9")));
    // The capacity is free again: a late replacement is planned like any pod.
    t.add(&[web("web-2", "2")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/web-2")), Some("vm-1"));
    assert!(!t.kinds("shop/web-2").iter().any(|k| matches!(k, EventKind::Drained { .. })));
}

#[tokio::test]
async fn a_reservation_on_a_removed_node_is_released() {
    let mut t = drained_and_deleted().await;
    t.r.handle(ClusterEvent::NodeRemoved("vm-1".into()));
    assert!(matches!(t.kinds("shop/web-1").last(), Some(EventKind::ReservationReleased { reason, .. })
        if reason == "the node was removed"));
    t.add(&[web("web-2", "2")]);
    t.r.reconcile().await;
    assert!(bursting(t.r.placement("shop/web-2")).is_some());
}

#[tokio::test]
async fn a_rejected_bind_is_planned_again_and_holds_no_node() {
    let mut t = rig();
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "2")));
    t.add(&[pod("a", "2")]);
    t.binder.fail_next_binds([BindError::Rejected { pod: "shop/a".into(), message: "invalid binding".into() }]);
    t.r.reconcile().await;
    assert_eq!(t.r.placement("shop/a"), Some(&Placement::Pending));
    assert!(matches!(t.kinds("shop/a")[..], [EventKind::BindFailed { error, .. }] if error.contains("rejected")));
    // Not in doubt (unlike a timeout): vm-1 is free for another pod meanwhile.
    t.add(&[pod("b", "2")]);
    t.r.reconcile().await;
    assert_eq!(bound(t.r.placement("shop/b")), Some("vm-1"));
    // a, planned again after its backoff, bursts.
    t.advance(1);
    t.r.reconcile().await;
    assert!(bursting(t.r.placement("shop/a")).is_some());
    assert_eq!(t.binder.calls(), ["bind shop/a vm-1", "bind shop/b vm-1"]);
}

#[tokio::test]
async fn the_event_log_stays_bounded() {
    let config = RuntimeConfig { max_events: 4, ..RuntimeConfig::default() };
    let mut t = rig_with(config);
    // Each of these pods waits for capacity: one Unschedulable event apiece, ten in all.
    t.r.handle(ClusterEvent::NodeAdded(vm("vm-1", "1")));
    for i in 0..10 {
        t.add(&[Pod::new("shop", format!("big-{i}")).with_container(Resources::parse([("cpu", "8")]).unwrap())]);
        t.r.reconcile().await;
    }
    let kept: Vec<&str> = t.r.events().iter().filter_map(|e| e.pod.as_deref()).collect();
    assert!((4..8).contains(&kept.len()), "{kept:?}");
    assert_eq!(kept.last(), Some(&"shop/big-9"), "the latest event is kept");
}
