//! The [`Reconciler`]: cluster state, the engine's plans applied through a [`NodeBinder`] and
//! the burst backends, health checks, failover, drain-back and recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::backend::{
    BackendError, BurstBackend, BurstPodSpec, Clock, ContainerSpec, CreateRequest, Instance, InstanceKey,
    InstanceStatus,
};
use crate::engine::{Engine, Outcome};
use crate::model::{BurstTarget, InstanceSize, Money, Node, NodePool, Pod, Snapshot};

use super::binder::{BindError, NodeBinder};
use super::config::RuntimeConfig;
use super::event::{ClusterEvent, EventKind, RuntimeEvent};
use super::telemetry::{self, PodCounts};

/// Where a pod is, as the reconciler knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Not placed yet (new, or back to planning after a failure); planned on the next
    /// [`reconcile`](Reconciler::reconcile) once its backoff has passed.
    Pending,
    /// Bound to a VM node.
    Bound {
        /// The node.
        node: String,
    },
    /// Running (or starting) on a burst target.
    Bursting {
        /// The burst target.
        target: String,
        /// Its instance.
        key: InstanceKey,
        /// The instance's last known status.
        status: InstanceStatus,
    },
    /// Waiting for a new VM node or a target's creation window; planned again on every
    /// reconcile.
    Waiting {
        /// Why.
        reason: String,
    },
    /// Nothing can take it now; planned again on every reconcile.
    Unschedulable {
        /// kube-scheduler's diagnosis.
        message: String,
    },
    /// Being drained back: still on its burst target, with capacity on `node` reserved for it
    /// until it is evicted and bound there.
    Moving {
        /// The burst target it runs on.
        target: String,
        /// Its instance.
        key: InstanceKey,
        /// The VM node reserved for it.
        node: String,
        /// The instance's last known status.
        status: InstanceStatus,
    },
}

impl Placement {
    /// Whether the pod runs nowhere and is (re)planned: pending, waiting or unschedulable.
    pub fn is_unplaced(&self) -> bool {
        matches!(self, Placement::Pending | Placement::Waiting { .. } | Placement::Unschedulable { .. })
    }
}

/// Turns a pod into what a backend needs to run it (images, commands, env). See
/// [`Reconciler::with_spec_source`].
pub type SpecSource = Arc<dyn Fn(&Pod) -> BurstPodSpec + Send + Sync>;

/// The default [`SpecSource`]: one container per model container, named after it, with its
/// requests and no image. Good for tests with the mock backend; real backends need images,
/// so controllers set their own (with feature `k8s`, from `k8s::burst_spec_from_k8s`).
pub fn spec_from_model(pod: &Pod) -> BurstPodSpec {
    let mut containers: Vec<ContainerSpec> = pod
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = if c.name.is_empty() { format!("c{i}") } else { c.name.clone() };
            ContainerSpec::new(name, "", c.requests.clone())
        })
        .collect();
    if containers.is_empty() {
        containers.push(ContainerSpec::new("app", "", Default::default()));
    }
    BurstPodSpec::new(containers)
}

/// The hourly cost of `pod`'s instance of `size` on `target`, priced as the engine prices a
/// burst: its GPUs, Windows, and the spot discount on spot targets only.
fn instance_cost(target: &BurstTarget, pod: &Pod, size: InstanceSize) -> Money {
    let requests = pod.requests();
    let gpus: BTreeMap<String, i64> = target
        .limits
        .gpus
        .keys()
        .filter_map(|g| Some((g.clone(), requests.extended.get(g).copied().filter(|n| *n > 0)?)))
        .collect();
    let mut pricing = target.pricing.clone();
    if !target.spot {
        pricing.spot_discount_percent = 0;
    }
    pricing.hourly(size, &gpus, pod.features.windows)
}

/// A stand-in for `pod`'s burst instance on `target` in the engine's snapshot: the pod's
/// requests and features (so its size, quota share and cost), under a name no Kubernetes pod
/// can have, with no labels, affinity, spread constraints or ports (so it weighs on no
/// placement rule).
fn instance_stand_in(pod: &Pod, target: &str) -> Pod {
    Pod {
        namespace: pod.namespace.clone(),
        name: format!("{}{INSTANCE}", pod.name),
        uid: format!("{}{INSTANCE}", pod.uid),
        containers: pod.containers.clone(),
        init_containers: pod.init_containers.clone(),
        overhead: pod.overhead.clone(),
        features: pod.features.clone(),
        tolerations: pod.tolerations.clone(),
        node_name: Some(target.to_string()),
        ..Pod::default()
    }
}

/// A stand-in for a leftover instance of `size` on `target` in the engine's snapshot (see
/// [`instance_stand_in`]): one container requesting the instance's size.
fn leftover_stand_in(target: &str, key: &InstanceKey, size: InstanceSize) -> Pod {
    let requests =
        crate::model::Resources { cpu_millis: size.cpu_millis, memory: size.memory_bytes, ..Default::default() };
    let mut pod = Pod::new(LEFTOVERS, leftover_name(target, key)).with_container(requests);
    pod.node_name = Some(target.to_string());
    pod
}

/// A span for one action on one pod: `pod` (`namespace/name`) and `action` (`bind`, `burst`,
/// `wait`, `failover`, `adopt`, `drain`).
fn pod_span(pod: &str, action: &'static str) -> tracing::Span {
    tracing::info_span!("pod", pod, action)
}

/// Why [`Reconciler::recover`] could not read the whole truth.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// The binder's view could not be read; nothing was changed.
    #[error("reading the binder's bindings failed: {0}")]
    Binder(#[source] BindError),
    /// Some backends could not be listed; the others were recovered. Call `recover` again
    /// before reconciling, or their pods' instances are found (and adopted or deleted) by a
    /// later reconcile.
    #[error("listing burst instances failed on {}", .failures.iter().map(|(t, e)| format!("{t} ({e})")).collect::<Vec<_>>().join(", "))]
    Backends {
        /// Target name and error, per backend that failed.
        failures: Vec<(String, BackendError)>,
    },
}

struct PodState {
    /// The pod, without a node name (its place is `placement`).
    pod: Pod,
    /// The key of its burst instance (from its uid).
    instance: InstanceKey,
    /// The node of a bind under way (or left in doubt by a cancelled step).
    binding: Option<String>,
    /// A moving pod was evicted: its move can only go forward (delete, bind).
    evicted: bool,
    placement: Placement,
    /// Consecutive failures (reset when the pod runs).
    failures: u32,
    /// Not planned (or, when moving, not evicted) before this time.
    retry_at: Duration,
    /// The size of its burst instance, as the backend last reported it (read while bursting or
    /// moving, for the spend gauge; while unplaced, the size last asked for).
    size: Option<InstanceSize>,
    /// A create on this target is under way, was cut short by a cancelled step, or failed
    /// ambiguously (a timeout, a transient error): the instance may exist. Until a listing of
    /// the target settles it (adopted, deleted or absent), it counts against the target's
    /// quotas and the spend cap.
    maybe_created: Option<String>,
    /// Where the pod itself sits in the reconciler's kept snapshot (`None`: not in it).
    in_view: Option<String>,
    /// The target of its instance stand-in in the kept snapshot.
    stand_in_view: Option<String>,
    /// The pod changed since it was put in the kept snapshot.
    view_stale: bool,
    /// A drain-back move committed the pod to a node (it was evicted from its burst target, or
    /// it replaces a pod that was): `Drained` is recorded when it is bound there, and if it is
    /// deleted first, the node stays reserved for its replacement.
    drain: Option<DrainedTo>,
}

/// Where a drain-back move takes a pod.
#[derive(Debug, Clone)]
struct DrainedTo {
    from_target: String,
    node: String,
}

/// VM capacity held for the replacement of a pod drained back and deleted before its bind.
struct Reservation {
    /// The deleted pod, `namespace/name`.
    evicted: String,
    /// The deleted pod as it was: its requests hold the capacity (a stand-in in the engine's
    /// snapshot), and a replacement must match it.
    template: Pod,
    /// `namespace/kind/name` of its owner.
    owner: String,
    drain: DrainedTo,
    /// Released at this time if no replacement took it.
    until: Duration,
}

/// `namespace/kind/name` of `pod`'s controlling owner.
fn owner_of(pod: &Pod) -> Option<String> {
    Some(format!("{}/{}/{}", pod.namespace, pod.owner_kind.as_deref()?, pod.owner_name.as_deref()?))
}

/// Whether `pod` could be `template`'s replacement: the same owner and the same scheduling
/// inputs (requests, labels, selectors, affinity, tolerations, ...), whatever its name and uid.
fn same_template(template: &Pod, pod: &Pod) -> bool {
    if owner_of(pod).is_none() || owner_of(pod) != owner_of(template) {
        return false;
    }
    let mut candidate = pod.clone();
    candidate.name.clone_from(&template.name);
    candidate.uid.clone_from(&template.uid);
    candidate.creation_order = template.creation_order;
    candidate.node_name.clone_from(&template.node_name);
    candidate == *template
}

/// The stand-in holding a reservation's capacity on its node: the deleted pod under a name no
/// Kubernetes pod can have, with its labels and rules (its replacement will have them).
fn reservation_stand_in(r: &Reservation) -> Pod {
    let mut pod = r.template.clone();
    pod.name = format!("{}{RESERVED}", pod.name);
    pod.uid = format!("{}{RESERVED}", pod.uid);
    pod.node_name = Some(r.drain.node.clone());
    pod
}

/// Where a pod's entries belong in the engine's snapshot: the pod itself (on its node, or on
/// the target its instance runs on) and a stand-in for an instance that runs or may run while
/// the pod is elsewhere or nowhere (see [`instance_stand_in`]).
fn view_places<'a>(
    s: &'a PodState,
    nodes: &BTreeMap<String, Node>,
    backends: &BTreeMap<String, BackendSlot>,
) -> (Option<&'a str>, Option<&'a str>) {
    let main = match (&s.placement, &s.binding) {
        (Placement::Bound { node } | Placement::Moving { node, .. }, _) if nodes.contains_key(node) => Some(node),
        (Placement::Bursting { target, .. }, _) => Some(target),
        // A bind in doubt holds its node: the pod may run there.
        (p, Some(node)) if p.is_unplaced() && nodes.contains_key(node) => Some(node),
        _ => None,
    };
    // A pod moving back holds its reserved node, but its instance runs (and bills) on its burst
    // target until the move deletes it: a stand-in keeps the instance in the target's quotas
    // and the spend cap meanwhile, so no burst is planned on budget not yet freed. So does an
    // instance a create may have made (it timed out) that no listing has settled yet.
    let stand_in = match (&s.placement, &s.maybe_created) {
        (Placement::Moving { target, .. }, _) if backends.contains_key(target) => Some(target),
        (p, Some(target)) if p.is_unplaced() && backends.contains_key(target) => Some(target),
        _ => None,
    };
    (main.map(String::as_str), stand_in.map(String::as_str))
}

/// The snapshot key of the stand-in for the instance of pod `key` (see [`instance_stand_in`]).
fn stand_in_key(key: &str) -> String {
    format!("{key}{INSTANCE}")
}

/// The suffixes and namespace that name the engine's stand-ins (`~` is in no Kubernetes name),
/// in one place so building a stand-in and finding it again agree.
const INSTANCE: &str = "~instance";
const RESERVED: &str = "~reserved";
const LEFTOVERS: &str = "~leftover";

fn leftover_name(target: &str, key: &InstanceKey) -> String {
    format!("{key}~{target}")
}

/// The snapshot key of the stand-in for a leftover instance (see [`leftover_stand_in`]).
fn leftover_key(target: &str, key: &InstanceKey) -> String {
    format!("{LEFTOVERS}/{}", leftover_name(target, key))
}

/// The snapshot key of a reservation's stand-in (see [`reservation_stand_in`]).
fn reservation_key(r: &Reservation) -> String {
    format!("{}{RESERVED}", r.evicted)
}

/// The leftover instances that count in the engine's snapshot, with their sizes: those still
/// to be deleted, of a known size, on a target still configured.
fn counted_leftovers<'a>(
    sizes: &'a BTreeMap<(String, InstanceKey), InstanceSize>,
    leftovers: &BTreeMap<(String, InstanceKey), String>,
    backends: &BTreeMap<String, BackendSlot>,
) -> BTreeMap<&'a (String, InstanceKey), InstanceSize> {
    sizes
        .iter()
        .filter(|(place, _)| leftovers.contains_key(*place) && backends.contains_key(&place.0))
        .map(|(place, size)| (place, *size))
        .collect()
}

struct BackendSlot {
    backend: Arc<dyn BurstBackend>,
    target: BurstTarget,
    limit: Arc<Semaphore>,
}

/// The runtime's reconciler: holds the cluster state, fed by [`ClusterEvent`]s through
/// [`handle`](Self::handle), and acts on each [`reconcile`](Self::reconcile) step.
///
/// A step, at the time its [`Clock`] reads when it starts:
/// 1. lists every backend's instances: status changes are recorded; a failed instance is
///    deleted and a lost one forgotten, and their pods are planned again with exponential
///    backoff; an instance of an unplaced pod is adopted; any other instance (its pod gone,
///    replaced or running elsewhere) is deleted;
/// 2. deletes leftover instances (of deleted pods, failed instances, moved pods);
/// 3. runs [`Engine::place`] on the unplaced pods whose backoff has passed and applies the
///    plan: VM placements through the [`NodeBinder`], bursts through the target's
///    [`BurstBackend`] (at most [`max_in_flight_per_backend`](RuntimeConfig::max_in_flight_per_backend)
///    creates at once per backend); waiting and unschedulable pods are planned again next step;
/// 4. after a VM capacity change (or at [`drain_interval`](RuntimeConfig::drain_interval)), when
///    no move is in flight, runs [`Engine::drain_back`] within the budget and reserves each
///    move's node;
/// 5. carries out moves: evicts the pod (a refusal is retried after
///    [`eviction_retry`](RuntimeConfig::eviction_retry), never forced), deletes its instance
///    and binds it to the reserved node. In Kubernetes the eviction deletes the pod and its
///    controller creates a replacement under a new name: the binder then answers the bind
///    [`NotFound`](BindError::NotFound), and the node stays reserved (a stand-in holds the
///    pod's requests in the engine's snapshot) for up to
///    [`replacement_wait`](RuntimeConfig::replacement_wait) for the first new pending pod of
///    the same owner and template, which is bound there and recorded as
///    [`Drained`](EventKind::Drained). Reservations live in memory: after a restart the
///    replacement is planned like any pod.
///
/// Every step awaits all the work it starts, so between steps nothing is in flight. A step
/// cancelled midway (its future dropped) leaves nothing lost: creates are idempotent and their
/// instances adopted by the next listing, a bind repeated to the same node succeeds, a move
/// resumes with the eviction, and deletes are idempotent.
pub struct Reconciler {
    engine: Arc<Engine>,
    binder: Arc<dyn NodeBinder>,
    clock: Arc<dyn Clock>,
    config: RuntimeConfig,
    spec_source: SpecSource,
    backends: BTreeMap<String, BackendSlot>,
    pools: Vec<NodePool>,
    nodes: BTreeMap<String, Node>,
    pods: BTreeMap<String, PodState>,
    /// Instances to delete: (target, key) → why.
    leftovers: BTreeMap<(String, InstanceKey), String>,
    /// The sizes of the leftovers, where known: until deleted they still count against their
    /// target's quotas and the spend cap.
    leftover_sizes: BTreeMap<(String, InstanceKey), InstanceSize>,
    events: Vec<RuntimeEvent>,
    capacity_changed: bool,
    next_drain: Option<Duration>,
    shutting_down: bool,
    /// Reconcile steps started, for the `reconcile` span.
    steps: u64,
    /// The engine's view, kept current between steps (see [`sync_view`](Self::sync_view));
    /// `None`: rebuilt from the state on next use.
    view: Option<Snapshot>,
    /// Nodes added, updated or removed since the view was last brought up to date.
    view_nodes: BTreeSet<String>,
    /// The leftover stand-ins in the view, with the size each stands for.
    view_leftovers: BTreeMap<(String, InstanceKey), InstanceSize>,
    /// Capacity held for replacements of pods drained back and deleted.
    reservations: Vec<Reservation>,
    /// The keys of the reservation stand-ins in the view.
    view_reservations: BTreeSet<String>,
}

impl fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconciler")
            .field("backends", &self.backends.keys().collect::<Vec<_>>())
            .field("nodes", &self.nodes.len())
            .field("pods", &self.pods.len())
            .field("leftovers", &self.leftovers.len())
            .field("shutting_down", &self.shutting_down)
            .finish_non_exhaustive()
    }
}

/// What a backend listing means for one instance.
enum Verdict {
    /// The instance of a pod bursting (or moving) there: record its status.
    Observe(String),
    /// An instance of an unplaced pod: adopt it.
    Adopt(String),
    /// Delete it, for this reason.
    Delete(String),
}

impl Reconciler {
    /// A reconciler placing with `engine`, binding through `binder`, keeping time with `clock`,
    /// with no backends, nodes or pods and the default [`RuntimeConfig`].
    pub fn new(engine: Arc<Engine>, binder: Arc<dyn NodeBinder>, clock: impl Clock + 'static) -> Reconciler {
        Reconciler {
            engine,
            binder,
            clock: Arc::new(clock),
            config: RuntimeConfig::default(),
            spec_source: Arc::new(spec_from_model),
            backends: BTreeMap::new(),
            pools: Vec::new(),
            nodes: BTreeMap::new(),
            pods: BTreeMap::new(),
            leftovers: BTreeMap::new(),
            leftover_sizes: BTreeMap::new(),
            events: Vec::new(),
            capacity_changed: false,
            next_drain: None,
            shutting_down: false,
            steps: 0,
            view: None,
            view_nodes: BTreeSet::new(),
            view_leftovers: BTreeMap::new(),
            reservations: Vec::new(),
            view_reservations: BTreeSet::new(),
        }
    }

    /// Adds a burst target served by `backend`, under `name` (the target the engine sees is
    /// the backend's [`describe`](BurstBackend::describe), renamed `name`).
    pub fn with_backend(mut self, name: impl Into<String>, backend: Arc<dyn BurstBackend>) -> Reconciler {
        let name = name.into();
        let mut target = backend.describe();
        target.name = name.clone();
        let limit = Arc::new(Semaphore::new(self.config.max_in_flight_per_backend.max(1)));
        self.backends.insert(name, BackendSlot { backend, target, limit });
        self.view = None;
        self
    }

    /// Sets the configuration (before adding backends, whose concurrency limit it sets).
    pub fn with_config(mut self, config: RuntimeConfig) -> Reconciler {
        for slot in self.backends.values_mut() {
            slot.limit = Arc::new(Semaphore::new(config.max_in_flight_per_backend.max(1)));
        }
        self.next_drain = config.drain_interval.map(|_| Duration::ZERO);
        self.config = config;
        self
    }

    /// Sets how a pod becomes a backend's [`BurstPodSpec`] (default: [`spec_from_model`]).
    pub fn with_spec_source(mut self, source: impl Fn(&Pod) -> BurstPodSpec + Send + Sync + 'static) -> Reconciler {
        self.spec_source = Arc::new(source);
        self
    }

    /// Sets the node pools the cluster autoscaler can grow (for the engine's waits).
    pub fn with_node_pools(mut self, pools: Vec<NodePool>) -> Reconciler {
        if let Some(view) = &mut self.view
            && view.set_node_pools(pools.clone()).is_err()
        {
            // Rebuilt (and its error recorded) on next use.
            self.view = None;
        }
        self.pools = pools;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Where pod `namespace/name` is.
    pub fn placement(&self, pod: &str) -> Option<&Placement> {
        self.pods.get(pod).map(|s| &s.placement)
    }

    /// Every pod (`namespace/name`) and its placement, by name.
    pub fn placements(&self) -> impl Iterator<Item = (&str, &Placement)> + '_ {
        self.pods.iter().map(|(k, s)| (k.as_str(), &s.placement))
    }

    /// The VM nodes, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.values()
    }

    /// The events so far, oldest first: at least the latest
    /// [`max_events`](RuntimeConfig::max_events) (older ones are dropped once twice as many
    /// have gathered; every event was logged and counted when it happened).
    pub fn events(&self) -> &[RuntimeEvent] {
        &self.events
    }

    /// Takes the events so far, leaving none.
    pub fn take_events(&mut self) -> Vec<RuntimeEvent> {
        std::mem::take(&mut self.events)
    }

    /// Instances waiting to be deleted (target, key), e.g. after a failed delete.
    pub fn leftovers(&self) -> impl Iterator<Item = (&str, &InstanceKey)> + '_ {
        self.leftovers.keys().map(|(t, k)| (t.as_str(), k))
    }

    /// The one place events are written: each is also counted and logged (see
    /// [`telemetry`]), so the event log, the metrics and the logs agree.
    fn record(&mut self, pod: Option<&str>, kind: EventKind) {
        let at = self.clock.now();
        let event = RuntimeEvent { at, pod: pod.map(str::to_string), kind };
        telemetry::emit(&event);
        self.events.push(event);
        // Bounded for long runs (`run` holds the reconciler, so nobody takes them meanwhile).
        let max = self.config.max_events.max(1);
        if self.events.len() >= max.saturating_mul(2) {
            self.events.drain(..self.events.len() - max);
        }
    }

    /// Reconcile steps started so far (the `step` field of the `reconcile` span).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The summed hourly cost of the instances of the pods bursting (or moving back) now, at
    /// their targets' prices and the sizes the backends last reported; what the
    /// `spillway_burst_spend_per_hour` gauge shows.
    pub fn burst_spend_per_hour(&self) -> Money {
        let micros = self
            .pods
            .values()
            .filter_map(|s| match &s.placement {
                Placement::Bursting { target, .. } | Placement::Moving { target, .. } => {
                    let target = &self.backends.get(target)?.target;
                    Some(instance_cost(target, &s.pod, s.size?).micros())
                }
                _ => None,
            })
            .fold(0i64, i64::saturating_add);
        Money::from_micros(micros)
    }

    /// Sets the gauges from the state.
    fn publish_gauges(&self) {
        let mut counts = PodCounts::default();
        for state in self.pods.values() {
            let n = match &state.placement {
                Placement::Pending => &mut counts.pending,
                Placement::Bound { .. } => &mut counts.bound,
                Placement::Bursting { .. } => &mut counts.bursting,
                Placement::Waiting { .. } => &mut counts.waiting,
                Placement::Unschedulable { .. } => &mut counts.unschedulable,
                Placement::Moving { .. } => &mut counts.moving,
            };
            *n += 1;
        }
        telemetry::publish_gauges(self.burst_spend_per_hour(), counts);
    }

    /// Applies a cluster change to the state. Nothing is called here: deletions and plans
    /// happen on the next [`reconcile`](Self::reconcile).
    pub fn handle(&mut self, event: ClusterEvent) {
        match event {
            ClusterEvent::PodAdded(pod) | ClusterEvent::PodUpdated(pod) => self.upsert_pod(pod),
            ClusterEvent::PodDeleted(key) => self.delete_pod(&key),
            ClusterEvent::NodeAdded(node) | ClusterEvent::NodeUpdated(node) => {
                self.view_nodes.insert(node.name.clone());
                self.nodes.insert(node.name.clone(), node);
                self.capacity_changed = true;
            }
            ClusterEvent::NodeRemoved(name) => self.remove_node(&name),
            ClusterEvent::InstanceStatus { target, instance } => {
                let pod = format!("{}/{}", instance.pod.namespace, instance.pod.name);
                let ours = self.pods.get(&pod).is_some_and(|s| match &s.placement {
                    Placement::Bursting { target: t, key, .. } | Placement::Moving { target: t, key, .. } => {
                        *t == target && *key == instance.key
                    }
                    _ => false,
                });
                // Anything else (orphans, adoption) is settled by the next listing.
                if ours {
                    self.observe(&pod, &target, &instance);
                }
            }
        }
    }

    fn upsert_pod(&mut self, mut pod: Pod) {
        let key = pod.key();
        if self.pods.get(&key).is_some_and(|s| s.pod.uid != pod.uid) {
            // Same name, new pod: the old one is gone.
            self.delete_pod(&key);
        }
        let node = pod.node_name.take().filter(|n| !self.backends.contains_key(n));
        match self.pods.get_mut(&key) {
            Some(state) => {
                state.pod = pod;
                state.view_stale = true;
                if let Some(node) = node
                    && state.placement.is_unplaced()
                {
                    state.placement = Placement::Bound { node };
                }
            }
            None => {
                let placement = match node {
                    Some(node) => Placement::Bound { node },
                    None => Placement::Pending,
                };
                let instance = crate::backend::PodRef::of(&pod).key();
                self.pods.insert(
                    key.clone(),
                    PodState {
                        pod,
                        instance,
                        binding: None,
                        evicted: false,
                        placement,
                        failures: 0,
                        retry_at: Duration::ZERO,
                        size: None,
                        maybe_created: None,
                        in_view: None,
                        stand_in_view: None,
                        view_stale: false,
                        drain: None,
                    },
                );
                self.match_reservation(&key);
            }
        }
    }

    fn delete_pod(&mut self, key: &str) {
        let Some(state) = self.pods.remove(key) else { return };
        if let Some(view) = &mut self.view {
            if state.in_view.is_some() {
                view.remove_pod(key);
            }
            if state.stand_in_view.is_some() {
                view.remove_pod(&stand_in_key(key));
            }
        }
        if let Some(target) = state.maybe_created
            && state.placement.is_unplaced()
        {
            // Its instance may exist: deleting one that does not is harmless.
            self.leave(target, state.instance.clone(), "its pod was deleted".into(), state.size);
        }
        let bound = matches!(state.placement, Placement::Bound { .. });
        if let Placement::Bursting { target, key: instance, .. } | Placement::Moving { target, key: instance, .. } =
            state.placement
        {
            self.leave(target, instance, "its pod was deleted".into(), state.size);
        }
        // Evicted for a drain-back and deleted before its bind: its replacement is expected.
        if let (Some(drain), false, Some(owner)) = (state.drain, bound, owner_of(&state.pod))
            && self.nodes.contains_key(&drain.node)
            && !self.shutting_down
        {
            let expires_in = self.config.replacement_wait;
            let node = drain.node.clone();
            let until = self.clock.now() + expires_in;
            self.reservations.push(Reservation {
                evicted: key.to_string(),
                template: state.pod,
                owner: owner.clone(),
                drain,
                until,
            });
            let _span = pod_span(key, "drain").entered();
            self.record(Some(key), EventKind::ReplacementAwaited { node, owner, expires_in });
        }
    }

    /// A new pending pod that replaces a pod drained back and deleted takes its reservation:
    /// it is committed to the reserved node (bound first thing on the next step).
    fn match_reservation(&mut self, key: &str) {
        let Some(state) = self.pods.get(key) else { return };
        if self.reservations.is_empty() || state.placement != Placement::Pending {
            return;
        }
        let Some(i) = self.reservations.iter().position(|r| same_template(&r.template, &state.pod)) else {
            return;
        };
        let r = self.reservations.remove(i);
        if let Some(state) = self.pods.get_mut(key) {
            state.binding = Some(r.drain.node.clone());
            let node = r.drain.node.clone();
            state.drain = Some(r.drain);
            let _span = pod_span(key, "drain").entered();
            self.record(Some(key), EventKind::ReplacementMatched { replaces: r.evicted, node });
        }
    }

    /// Releases reservations whose time is up, or (with `node`) those on a removed node.
    fn release_reservations(&mut self, now: Duration, node: Option<&str>) {
        let (released, kept): (Vec<Reservation>, Vec<Reservation>) = std::mem::take(&mut self.reservations)
            .into_iter()
            .partition(|r| r.until <= now || node == Some(r.drain.node.as_str()));
        self.reservations = kept;
        for r in released {
            let reason = if node == Some(r.drain.node.as_str()) {
                "the node was removed".to_string()
            } else {
                format!("no replacement from {} came in time", r.owner)
            };
            let _span = pod_span(&r.evicted, "drain").entered();
            self.record(Some(&r.evicted), EventKind::ReservationReleased { node: r.drain.node, reason });
        }
    }

    fn remove_node(&mut self, name: &str) {
        if self.nodes.remove(name).is_none() {
            return;
        }
        self.view_nodes.insert(name.to_string());
        let now = self.clock.now();
        self.release_reservations(now, Some(name));
        let mut lost = Vec::new();
        let mut aborted = Vec::new();
        for (key, state) in &mut self.pods {
            if state.binding.as_deref() == Some(name) {
                // A bind in doubt to the removed node: the pod is planned anew.
                state.binding = None;
            }
            if state.drain.as_ref().is_some_and(|d| d.node == name) {
                state.drain = None;
            }
            match &state.placement {
                Placement::Bound { node } if node == name => {
                    state.placement = Placement::Pending;
                    state.retry_at = now;
                    lost.push(key.clone());
                }
                Placement::Moving { target, key: instance, node, .. } if node == name && state.evicted => {
                    // Evicted already: it runs nowhere now; its instance goes, it is planned anew.
                    self.leftovers.insert((target.clone(), instance.clone()), "drained back".into());
                    if let Some(size) = state.size {
                        self.leftover_sizes.insert((target.clone(), instance.clone()), size);
                    }
                    state.evicted = false;
                    state.placement = Placement::Pending;
                    state.retry_at = now;
                    lost.push(key.clone());
                }
                Placement::Moving { target, key: instance, node, status } if node == name => {
                    state.placement =
                        Placement::Bursting { target: target.clone(), key: instance.clone(), status: status.clone() };
                    aborted.push(key.clone());
                }
                _ => {}
            }
        }
        for key in lost {
            let _span = pod_span(&key, "failover").entered();
            self.record(Some(&key), EventKind::NodeLost { node: name.to_string() });
        }
        for key in aborted {
            let _span = pod_span(&key, "drain").entered();
            self.record(Some(&key), EventKind::DrainAborted { reason: format!("node {name} was removed") });
        }
    }

    /// Marks an instance for deletion, remembering its size (when known) for the budgets.
    fn leave(&mut self, target: String, key: InstanceKey, reason: String, size: Option<InstanceSize>) {
        if let Some(size) = size {
            self.leftover_sizes.insert((target.clone(), key.clone()), size);
        }
        self.leftovers.insert((target, key), reason);
    }

    /// A failure of `pod`: back to planning after the backoff; returns the backoff.
    fn fail(&mut self, pod: &str, at_least: Option<Duration>) -> Duration {
        let now = self.clock.now();
        let Some(state) = self.pods.get_mut(pod) else { return Duration::ZERO };
        state.failures = state.failures.saturating_add(1);
        let delay = self.config.backoff.delay(state.failures).max(at_least.unwrap_or_default());
        // No longer committed to a drain-back's node: planned like any pod.
        state.drain = None;
        state.placement = Placement::Pending;
        state.retry_at = now + delay;
        delay
    }

    /// Records the status of `instance`, the instance of `pod` on `target`.
    fn observe(&mut self, pod: &str, target: &str, instance: &Instance) {
        let Some(state) = self.pods.get_mut(pod) else { return };
        let status = instance.status.clone();
        if matches!(state.placement, Placement::Moving { .. } | Placement::Bursting { .. }) {
            state.size = Some(instance.size);
        }
        match &mut state.placement {
            Placement::Moving { status: s, .. } => *s = status,
            Placement::Bursting { status: s, .. } => {
                let changed = *s != status;
                *s = status.clone();
                let key = instance.key.clone();
                let target = target.to_string();
                match status {
                    InstanceStatus::Running if changed => {
                        state.failures = 0;
                        self.record(Some(pod), EventKind::InstanceRunning { target, key });
                    }
                    InstanceStatus::Succeeded if changed => {
                        self.record(Some(pod), EventKind::InstanceSucceeded { target, key })
                    }
                    InstanceStatus::Failed { reason } => {
                        let _span = pod_span(pod, "failover").entered();
                        self.leave(target.clone(), key.clone(), format!("it failed: {reason}"), Some(instance.size));
                        let retry_in = self.fail(pod, None);
                        self.record(Some(pod), EventKind::InstanceFailed { target, key, reason, retry_in });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Settles one backend's listing: statuses, losses, adoptions, orphans.
    fn observe_listing(&mut self, target: &str, instances: Vec<Instance>) {
        let mut seen = BTreeSet::new();
        for instance in instances {
            let pod = format!("{}/{}", instance.pod.namespace, instance.pod.name);
            let place = (target.to_string(), instance.key.clone());
            let verdict = match self.pods.get(&pod) {
                None => Verdict::Delete("orphan: its pod is gone".into()),
                Some(s) if s.pod.uid != instance.pod.uid => Verdict::Delete("orphan: its pod was replaced".into()),
                Some(s) => match &s.placement {
                    Placement::Bursting { target: t, key, .. } | Placement::Moving { target: t, key, .. }
                        if t == target && *key == instance.key =>
                    {
                        Verdict::Observe(pod.clone())
                    }
                    // (A pod with a bind in doubt is committed to its node: no adoption.)
                    p if p.is_unplaced()
                        && s.binding.is_none()
                        && !instance.status.is_terminal()
                        && !self.leftovers.contains_key(&place) =>
                    {
                        Verdict::Adopt(pod.clone())
                    }
                    _ if self.leftovers.contains_key(&place) => continue,
                    _ => Verdict::Delete("its pod runs elsewhere".into()),
                },
            };
            match verdict {
                Verdict::Observe(pod) => {
                    seen.insert(pod.clone());
                    self.observe(&pod, target, &instance);
                }
                Verdict::Adopt(pod) => {
                    let _span = pod_span(&pod, "adopt").entered();
                    seen.insert(pod.clone());
                    if let Some(s) = self.pods.get_mut(&pod) {
                        s.placement = Placement::Bursting {
                            target: target.to_string(),
                            key: instance.key.clone(),
                            status: instance.status.clone(),
                        };
                        s.size = Some(instance.size);
                    }
                    self.record(Some(&pod), EventKind::Adopted { target: target.to_string(), key: instance.key });
                }
                Verdict::Delete(reason) => {
                    self.leave(place.0, place.1, reason, Some(instance.size));
                }
            }
        }
        let lost: Vec<(String, InstanceKey)> = self
            .pods
            .iter()
            .filter(|(k, _)| !seen.contains(*k))
            .filter_map(|(k, s)| match &s.placement {
                Placement::Bursting { target: t, key, .. } if t == target => Some((k.clone(), key.clone())),
                _ => None,
            })
            .collect();
        // The listing settled every create in doubt on this target: adopted, marked for deletion,
        // or not there.
        for state in self.pods.values_mut() {
            if state.maybe_created.as_deref() == Some(target) {
                state.maybe_created = None;
            }
        }
        for (pod, key) in lost {
            let _span = pod_span(&pod, "failover").entered();
            let retry_in = self.fail(&pod, None);
            self.record(Some(&pod), EventKind::InstanceLost { target: target.to_string(), key, retry_in });
        }
    }

    /// Lists every backend and settles what it holds. Returns the backends that failed.
    async fn poll_backends(&mut self) -> Vec<(String, BackendError)> {
        let backends: Vec<(String, Arc<dyn BurstBackend>)> =
            self.backends.iter().map(|(n, s)| (n.clone(), s.backend.clone())).collect();
        let mut failures = Vec::new();
        for (name, backend) in backends {
            match backend.list().await {
                Ok(instances) => self.observe_listing(&name, instances),
                Err(error) => {
                    self.record(
                        None,
                        EventKind::BackendError {
                            target: name.clone(),
                            operation: "list".into(),
                            error: error.clone(),
                        },
                    );
                    failures.push((name, error));
                }
            }
        }
        failures
    }

    /// Deletes the leftover instances; those that fail stay for the next step.
    async fn clean_leftovers(&mut self) {
        let leftovers: Vec<((String, InstanceKey), String)> =
            self.leftovers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for ((target, key), reason) in leftovers {
            let Some(backend) = self.backends.get(&target).map(|s| s.backend.clone()) else {
                // A target no longer configured: nothing can delete it here.
                self.leftover_sizes.remove(&(target.clone(), key.clone()));
                self.leftovers.remove(&(target, key));
                continue;
            };
            match backend.delete(&key).await {
                Ok(()) => {
                    self.leftovers.remove(&(target.clone(), key.clone()));
                    self.leftover_sizes.remove(&(target.clone(), key.clone()));
                    self.record(None, EventKind::InstanceDeleted { target, key, reason });
                }
                Err(error) => {
                    let operation = format!("delete {key}");
                    self.record(None, EventKind::BackendError { target, operation, error });
                }
            }
        }
    }

    /// The engine's view of the state, or `None` (recorded as [`EventKind::SnapshotRejected`])
    /// when it is inconsistent.
    fn checked_snapshot(&mut self) -> Option<&Snapshot> {
        match self.sync_view() {
            Ok(()) => self.view.as_ref(),
            Err(error) => {
                // Rebuilt from scratch next time.
                self.view = None;
                self.record(None, EventKind::SnapshotRejected { error: error.to_string() });
                None
            }
        }
    }

    /// Brings the kept snapshot up to date: the nodes changed since the last time, then each
    /// pod whose place in it (or whose content) changed, then the leftover stand-ins. A step
    /// costs O(pods) comparisons plus O(1) per change, instead of cloning every node and pod.
    /// In debug builds the result is checked against a snapshot built from scratch.
    fn sync_view(&mut self) -> Result<(), crate::model::SnapshotError> {
        if self.view.is_none() {
            let targets = self.backends.values().map(|s| s.target.clone()).collect();
            self.view =
                Some(Snapshot::with_burst(Vec::new(), targets, Vec::new())?.with_node_pools(self.pools.clone())?);
            for state in self.pods.values_mut() {
                state.in_view = None;
                state.stand_in_view = None;
            }
            self.view_leftovers.clear();
            self.view_reservations.clear();
            self.view_nodes = self.nodes.keys().cloned().collect();
        }
        let Some(view) = self.view.as_mut() else { return Ok(()) };
        for name in std::mem::take(&mut self.view_nodes) {
            match self.nodes.get(&name) {
                Some(node) => {
                    view.upsert_node(node.clone())?;
                }
                None => {
                    for pod in view.remove_node(&name).map(|(_, pods)| pods).unwrap_or_default() {
                        if let Some(state) = self.pods.get_mut(&pod.key()) {
                            state.in_view = None;
                        }
                    }
                }
            }
        }
        let (nodes, backends) = (&self.nodes, &self.backends);
        for (key, state) in &mut self.pods {
            let (main, stand_in) = view_places(state, nodes, backends);
            // Owned copies only of what changed (the borrow of `state` ends here).
            let main = (state.view_stale || state.in_view.as_deref() != main).then(|| main.map(str::to_string));
            let stand_in =
                (state.view_stale || state.stand_in_view.as_deref() != stand_in).then(|| stand_in.map(str::to_string));
            if let Some(main) = main {
                match &main {
                    Some(at) => {
                        let mut pod = state.pod.clone();
                        pod.node_name = Some(at.clone());
                        view.upsert_pod(pod)?;
                    }
                    None if state.in_view.is_some() => {
                        view.remove_pod(key);
                    }
                    None => {}
                }
                state.in_view = main;
            }
            if let Some(stand_in) = stand_in {
                match &stand_in {
                    Some(target) => {
                        view.upsert_pod(instance_stand_in(&state.pod, target))?;
                    }
                    None if state.stand_in_view.is_some() => {
                        view.remove_pod(&stand_in_key(key));
                    }
                    None => {}
                }
                state.stand_in_view = stand_in;
            }
            state.view_stale = false;
        }
        // An instance still to be deleted (a failed one, an orphan, a drained-back pod's whose
        // delete failed) counts against its target's quotas and the spend cap until it is gone.
        let leftovers = counted_leftovers(&self.leftover_sizes, &self.leftovers, &self.backends);
        let gone: Vec<(String, InstanceKey)> = self
            .view_leftovers
            .iter()
            .filter(|(place, size)| leftovers.get(place) != Some(*size))
            .map(|(place, _)| place.clone())
            .collect();
        for (target, key) in gone {
            view.remove_pod(&leftover_key(&target, &key));
            self.view_leftovers.remove(&(target, key));
        }
        for (place, size) in leftovers {
            if !self.view_leftovers.contains_key(place) {
                view.upsert_pod(leftover_stand_in(&place.0, &place.1, size))?;
                self.view_leftovers.insert(place.clone(), size);
            }
        }
        // Capacity held for replacements.
        let reserved: BTreeSet<String> = self.reservations.iter().map(reservation_key).collect();
        for key in self.view_reservations.difference(&reserved) {
            view.remove_pod(key);
        }
        for r in &self.reservations {
            if !self.view_reservations.contains(&reservation_key(r)) {
                view.upsert_pod(reservation_stand_in(r))?;
            }
        }
        self.view_reservations = reserved;
        #[cfg(debug_assertions)]
        self.check_view();
        Ok(())
    }

    /// Debug builds: the kept snapshot holds exactly what one built from scratch would.
    #[cfg(debug_assertions)]
    fn check_view(&self) {
        let Some(view) = &self.view else { return };
        let nodes: Vec<&Node> = self.nodes.values().collect();
        let mut kept_nodes: Vec<&Node> = view.nodes().iter().collect();
        kept_nodes.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(nodes, kept_nodes, "the kept snapshot's nodes drifted from the reconciler's");
        let mut placed: Vec<Pod> = Vec::new();
        for state in self.pods.values() {
            let (main, stand_in) = view_places(state, &self.nodes, &self.backends);
            if let Some(at) = main {
                let mut pod = state.pod.clone();
                pod.node_name = Some(at.to_string());
                placed.push(pod);
            }
            if let Some(target) = stand_in {
                placed.push(instance_stand_in(&state.pod, target));
            }
        }
        for ((target, key), size) in counted_leftovers(&self.leftover_sizes, &self.leftovers, &self.backends) {
            placed.push(leftover_stand_in(target, key, size));
        }
        placed.extend(self.reservations.iter().map(reservation_stand_in));
        placed.sort_by_key(Pod::key);
        let mut kept: Vec<Pod> = view.pods().to_vec();
        kept.sort_by_key(Pod::key);
        assert_eq!(placed, kept, "the kept snapshot's pods drifted from the reconciler's");
        assert_eq!(view.node_pools(), &self.pools[..], "the kept snapshot's pools drifted");
    }

    /// Rebuilds the state after a (re)start, from the binder's bindings and every backend's
    /// instances: pods bound to VM nodes are taken as bound; an instance of a live, unplaced pod
    /// is adopted (so no second instance is ever created for it); an instance whose pod is
    /// gone, was replaced, or runs elsewhere (a second instance of a pod) is deleted.
    ///
    /// Feed the current pods and nodes through [`handle`](Self::handle) first.
    ///
    /// # Errors
    ///
    /// When the binder or a backend cannot be read; see [`RecoverError`].
    pub async fn recover(&mut self) -> Result<(), RecoverError> {
        let bindings = self.binder.bindings().await.map_err(RecoverError::Binder)?;
        for (pod, node) in bindings {
            if let Some(state) = self.pods.get_mut(&pod)
                && state.placement.is_unplaced()
            {
                state.placement = Placement::Bound { node };
            }
        }
        let failures = self.poll_backends().await;
        self.clean_leftovers().await;
        self.publish_gauges();
        if failures.is_empty() { Ok(()) } else { Err(RecoverError::Backends { failures }) }
    }

    /// One reconcile step (see the [type docs](Self)). Failures are not errors: they are
    /// recorded as [`RuntimeEvent`]s and retried with backoff.
    ///
    /// Each step runs in a `reconcile` [`tracing`] span (fields `step`, the step's number from 1;
    /// `pods`, the pods known; `unplaced`, those pending, waiting or unschedulable), and each
    /// action on a pod in a `pod` span (fields `pod`, `namespace/name`; `action`: `bind`,
    /// `burst`, `wait`, `failover`, `adopt` or `drain`). See the
    /// [module docs](super#observability) for the metrics.
    pub async fn reconcile(&mut self) {
        self.steps += 1;
        telemetry::step_started();
        let unplaced = self.pods.values().filter(|s| s.placement.is_unplaced()).count();
        let span = tracing::info_span!("reconcile", step = self.steps, pods = self.pods.len(), unplaced);
        self.step().instrument(span).await;
    }

    async fn step(&mut self) {
        let now = self.clock.now();
        self.release_reservations(now, None);
        self.poll_backends().await;
        self.clean_leftovers().await;
        if !self.shutting_down {
            self.place(now).await;
            self.start_drain(now);
            self.run_moves(now).await;
        }
        self.publish_gauges();
    }

    /// Runs until `events` closes: handles every event as it arrives, with a reconcile step
    /// after each batch of events and at least every `interval` (tokio time), then
    /// [`shutdown`](Self::shutdown)s. Closing the channel (dropping every sender) is the
    /// graceful shutdown: the step under way finishes, moves not yet evicted are rolled back,
    /// nothing is left half done.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use spillway::backend::ManualClock;
    /// use spillway::runtime::{ClusterEvent, MemoryBinder, Reconciler};
    /// use spillway::{Engine, Node, Pod, Policy, Resources};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let binder = Arc::new(MemoryBinder::new());
    /// let engine = Arc::new(Engine::new(Policy::default())?);
    /// let mut reconciler = Reconciler::new(engine, binder.clone(), ManualClock::new());
    /// let (events, rx) = tokio::sync::mpsc::channel(64);
    /// let vm = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "2"), ("pods", "110")])?);
    /// events.send(ClusterEvent::NodeAdded(vm)).await?;
    /// events.send(ClusterEvent::PodAdded(Pod::new("shop", "web-0"))).await?;
    /// drop(events); // shut down once these are handled
    /// reconciler.run(rx, std::time::Duration::from_secs(10)).await;
    /// assert_eq!(binder.node_of("shop/web-0").as_deref(), Some("vm-1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn run(&mut self, mut events: tokio::sync::mpsc::Receiver<ClusterEvent>, interval: Duration) {
        loop {
            match tokio::time::timeout(interval, events.recv()).await {
                Ok(Some(event)) => {
                    self.handle(event);
                    while let Ok(event) = events.try_recv() {
                        self.handle(event);
                    }
                }
                Ok(None) => break,
                Err(_elapsed) => {}
            }
            self.reconcile().await;
        }
        self.shutdown().await;
    }

    /// Stops: moves not yet evicted are rolled back (their pods stay on their burst targets,
    /// the reserved capacity is released), moves past their eviction are finished, and leftover
    /// instances are deleted. Later
    /// [`reconcile`](Self::reconcile) steps only watch backends and delete leftovers; nothing
    /// new is created, bound or evicted.
    pub async fn shutdown(&mut self) {
        self.shutting_down = true;
        let mut aborted = Vec::new();
        let mut evicted = Vec::new();
        for (key, state) in &mut self.pods {
            if let Placement::Moving { target, key: instance, status, .. } = &state.placement {
                if state.evicted {
                    evicted.push(key.clone());
                    continue;
                }
                state.placement =
                    Placement::Bursting { target: target.clone(), key: instance.clone(), status: status.clone() };
                aborted.push(key.clone());
            }
        }
        for key in aborted {
            let _span = pod_span(&key, "drain").entered();
            self.record(Some(&key), EventKind::DrainAborted { reason: "the reconciler is shutting down".into() });
        }
        // Moves past their eviction can only be finished.
        for key in evicted {
            let span = pod_span(&key, "drain");
            self.finish_move(&key).instrument(span).await;
        }
        self.clean_leftovers().await;
        self.publish_gauges();
    }

    /// Plans the unplaced pods whose backoff has passed and applies the plan.
    async fn place(&mut self, now: Duration) {
        // Binds a cancelled step left in doubt are finished first, on the node they chose.
        let in_doubt: Vec<(String, String)> = self
            .pods
            .iter()
            .filter(|(_, s)| s.placement.is_unplaced() && s.retry_at <= now)
            .filter_map(|(k, s)| Some((k.clone(), s.binding.clone()?)))
            .collect();
        for (key, node) in in_doubt {
            if self.nodes.contains_key(&node) {
                // A replacement taking a drained pod's reservation binds within a `drain` span.
                if self.pods.get(&key).is_some_and(|s| s.drain.is_some()) {
                    let span = pod_span(&key, "drain");
                    self.bind(&key, node).instrument(span).await;
                } else {
                    self.bind(&key, node).await;
                }
            } else if let Some(state) = self.pods.get_mut(&key) {
                state.binding = None;
            }
        }
        let due = |s: &&PodState| s.placement.is_unplaced() && s.retry_at <= now && s.binding.is_none();
        if !self.pods.values().any(|s| due(&s)) || self.checked_snapshot().is_none() {
            return;
        }
        let deleting: BTreeSet<&InstanceKey> = self.leftovers.keys().map(|(_, k)| k).collect();
        let pending: Vec<&Pod> = self
            .pods
            .values()
            .filter(due)
            // A pod whose old instance is still being deleted waits for the delete, so a create
            // under the same key cannot find the old instance.
            .filter(|s| !deleting.contains(&s.instance))
            .map(|s| &s.pod)
            .collect();
        let (Some(snapshot), false) = (&self.view, pending.is_empty()) else { return };
        let plan = self.engine.place_refs(snapshot, &pending);
        let mut binds = Vec::new();
        let mut creates = Vec::new();
        for decision in plan.decisions {
            let pod = decision.pod;
            match decision.outcome {
                Outcome::Node { node, .. } => binds.push((pod, node)),
                Outcome::Burst { target, instance, .. } => creates.push((pod, target, instance)),
                Outcome::Wait { reason, .. } => {
                    self.settle(&pod, Placement::Waiting { reason: reason.clone() }, EventKind::Waiting { reason })
                }
                Outcome::Unschedulable(d) => self.settle(
                    &pod,
                    Placement::Unschedulable { message: d.message.clone() },
                    EventKind::Unschedulable { message: d.message },
                ),
            }
        }
        for (key, node) in binds {
            self.bind(&key, node).await;
        }
        self.create(creates).await;
    }

    /// Binds an unplaced pod to `node`. The intent is recorded first: if the step is cancelled
    /// during the call, or the binder fails transiently, the next step binds the pod to the same
    /// node again (idempotent) rather than planning it anew, so a pod the binder did bind is
    /// never also placed elsewhere.
    ///
    /// A pod a drain-back committed to `node` is recorded as [`EventKind::Drained`] once bound
    /// there, in the span the call runs in (the move's `drain` span).
    async fn bind(&mut self, key: &str, node: String) -> bool {
        let span = pod_span(key, "bind");
        let Some(drained) = self.bind_pod(key, node).instrument(span).await else { return false };
        if let Some(d) = drained {
            self.record(Some(key), EventKind::Drained { from_target: d.from_target, to_node: d.node });
        }
        true
    }

    /// `None` when the bind failed; else the drain-back it completes, if any.
    async fn bind_pod(&mut self, key: &str, node: String) -> Option<Option<DrainedTo>> {
        let state = self.pods.get_mut(key)?;
        state.binding = Some(node.clone());
        let pod = state.pod.clone();
        let result = self.binder.bind(&pod, &node).await;
        // After a transient error the bind may have happened: it stays in doubt and is retried
        // to the same node (after the backoff) until the binder gives a definite answer.
        if !matches!(result, Err(BindError::Transient { .. }))
            && let Some(state) = self.pods.get_mut(key)
        {
            state.binding = None;
        }
        match result {
            Ok(()) => Some(self.bound(key, node)),
            // Bound meanwhile by someone else, to a node that exists: take it as bound there.
            Err(BindError::Conflict { node: other, .. }) if self.nodes.contains_key(&other) => {
                Some(self.bound(key, other))
            }
            // Deleted, or replaced under its name: forgotten as if deleted.
            Err(error @ BindError::NotFound { .. }) => {
                self.record(Some(key), EventKind::PodGone { reason: error.to_string() });
                self.delete_pod(key);
                None
            }
            Err(error) => {
                let retry_in = self.fail(key, None);
                self.record(Some(key), EventKind::BindFailed { node, error: error.to_string(), retry_in });
                None
            }
        }
    }

    /// Sets an unplaced pod's placement, with an event when it changed.
    fn settle(&mut self, pod: &str, placement: Placement, event: EventKind) {
        let Some(state) = self.pods.get_mut(pod) else { return };
        if state.placement != placement {
            state.placement = placement;
            let _span = pod_span(pod, "wait").entered();
            self.record(Some(pod), event);
        }
    }

    /// Records the pod bound to `node`; returns the drain-back this completes, if any.
    fn bound(&mut self, pod: &str, node: String) -> Option<DrainedTo> {
        let state = self.pods.get_mut(pod)?;
        state.placement = Placement::Bound { node: node.clone() };
        state.failures = 0;
        let drained = state.drain.take().filter(|d| d.node == node);
        self.record(Some(pod), EventKind::Bound { node });
        drained
    }

    /// Creates burst instances, at most `max_in_flight_per_backend` at once per backend.
    async fn create(&mut self, creates: Vec<(String, String, crate::model::InstanceSize)>) {
        let mut tasks = JoinSet::new();
        let mut results = Vec::new();
        let mut spans = BTreeMap::new();
        for (pod, target, size) in creates {
            let Some(state) = self.pods.get(&pod) else { continue };
            let span = pod_span(&pod, "burst");
            spans.insert(pod.clone(), span.clone());
            let Some(slot) = self.backends.get(&target) else {
                let error = BackendError::not_found("UnknownTarget", format!("no backend serves target {target}"));
                results.push((pod, target, Err(error)));
                continue;
            };
            let request = CreateRequest::new(&state.pod, size, (self.spec_source)(&state.pod));
            if let Some(state) = self.pods.get_mut(&pod) {
                // The intent, recorded first: if the step is cancelled during the call, the
                // instance may exist unseen until the next listing settles it.
                state.size = Some(size);
                state.maybe_created = Some(target.clone());
            }
            let backend = slot.backend.clone();
            let limit = slot.limit.clone();
            tasks.spawn(
                async move {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = limit.acquire_owned().await;
                    let result = backend.create(&request).await;
                    (pod, target, result)
                }
                .instrument(span),
            );
        }
        while let Some(joined) = tasks.join_next().await {
            // A create that panicked leaves its pod unplaced: it is planned again next step, and
            // an instance it may have made is adopted by the next listing.
            if let Ok(result) = joined {
                results.push(result);
            }
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        for (pod, target, result) in results {
            let span = spans.remove(&pod).unwrap_or_else(|| pod_span(&pod, "burst"));
            let _span = span.entered();
            match result {
                Ok(instance) if !instance.status.is_terminal() => {
                    if let Some(state) = self.pods.get_mut(&pod) {
                        state.placement = Placement::Bursting {
                            target: target.clone(),
                            key: instance.key.clone(),
                            status: instance.status.clone(),
                        };
                        state.retry_at = Duration::ZERO;
                        state.size = Some(instance.size);
                        state.maybe_created = None;
                    }
                    self.record(Some(&pod), EventKind::BurstCreated { target, key: instance.key });
                }
                Ok(instance) => {
                    // An old, finished instance under the pod's key: delete it, plan again.
                    let reason = match &instance.status {
                        InstanceStatus::Failed { reason } => reason.clone(),
                        _ => "it had already finished".to_string(),
                    };
                    let place = (target.clone(), instance.key.clone());
                    self.leave(place.0, place.1, format!("stale: {reason}"), Some(instance.size));
                    let retry_in = self.fail(&pod, None);
                    self.record(Some(&pod), EventKind::InstanceFailed { target, key: instance.key, reason, retry_in });
                }
                Err(error) => {
                    let retry_after = match &error {
                        BackendError::Throttled { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    // Only a transient error (a timeout) leaves the instance in doubt.
                    if !matches!(error, BackendError::Transient { .. })
                        && let Some(state) = self.pods.get_mut(&pod)
                    {
                        state.maybe_created = None;
                    }
                    let retry_in = self.fail(&pod, retry_after);
                    self.record(Some(&pod), EventKind::CreateFailed { target, error, retry_in });
                }
            }
        }
    }

    /// Starts a drain-back round when one is due and none is in flight.
    fn start_drain(&mut self, now: Duration) {
        let due = self.capacity_changed || self.next_drain.is_some_and(|t| now >= t);
        let in_flight = self.pods.values().any(|s| matches!(s.placement, Placement::Moving { .. }));
        if !due || in_flight {
            return;
        }
        self.capacity_changed = false;
        self.next_drain = self.config.drain_interval.map(|i| now + i);
        if !self.pods.values().any(|s| matches!(s.placement, Placement::Bursting { .. })) {
            return;
        }
        let engine = self.engine.clone();
        let budget = self.config.drain_budget;
        let Some(snapshot) = self.checked_snapshot() else { return };
        let plan = engine.drain_back(snapshot, &budget);
        for m in plan.moves {
            let Some(state) = self.pods.get_mut(&m.pod) else { continue };
            // Only running instances move: one still starting is left to start.
            let Placement::Bursting { target, key, status: InstanceStatus::Running } = &state.placement else {
                continue;
            };
            state.placement = Placement::Moving {
                target: target.clone(),
                key: key.clone(),
                node: m.to_node.clone(),
                status: InstanceStatus::Running,
            };
            state.retry_at = now;
            state.failures = 0; // counts refused evictions from here
            let _span = pod_span(&m.pod, "drain").entered();
            self.record(
                Some(&m.pod),
                EventKind::DrainStarted {
                    from_target: m.from_target,
                    to_node: m.to_node,
                    savings_per_hour: m.savings_per_hour,
                },
            );
        }
    }

    /// Carries out the moves whose time has come: evict, delete the instance, bind.
    async fn run_moves(&mut self, now: Duration) {
        let due: Vec<(String, bool)> = self
            .pods
            .iter()
            .filter(|(_, s)| matches!(s.placement, Placement::Moving { .. }) && (s.evicted || s.retry_at <= now))
            .map(|(k, s)| (k.clone(), s.evicted))
            .collect();
        for (pod_key, evicted) in due {
            let span = pod_span(&pod_key, "drain");
            async {
                if evicted || self.evict(&pod_key, now).await {
                    self.finish_move(&pod_key).await;
                }
            }
            .instrument(span)
            .await;
        }
    }

    /// Evicts a moving pod; `false` when the eviction was refused (retried later, or the move
    /// given up after too many refusals).
    async fn evict(&mut self, pod_key: &str, now: Duration) -> bool {
        let Some(pod) = self.pods.get(pod_key).map(|s| s.pod.clone()) else { return false };
        let error = match self.binder.evict(&pod).await {
            Ok(()) | Err(BindError::NotFound { .. }) => {
                if let Some(state) = self.pods.get_mut(pod_key) {
                    state.evicted = true;
                    if let Placement::Moving { target, node, .. } = &state.placement {
                        state.drain = Some(DrainedTo { from_target: target.clone(), node: node.clone() });
                    }
                }
                return true;
            }
            Err(error) => error,
        };
        let retry_in = self.config.eviction_retry;
        let reason = match error {
            BindError::Refused { reason, .. } => reason,
            other => other.to_string(),
        };
        let Some(state) = self.pods.get_mut(pod_key) else { return false };
        state.failures = state.failures.saturating_add(1);
        state.retry_at = now + retry_in;
        if state.failures >= self.config.max_eviction_refusals {
            let refusals = state.failures;
            state.failures = 0;
            if let Placement::Moving { target, key, status, .. } = &state.placement {
                state.placement =
                    Placement::Bursting { target: target.clone(), key: key.clone(), status: status.clone() };
            }
            let reason = format!("the eviction was refused {refusals} times, last: {reason}");
            self.record(Some(pod_key), EventKind::DrainAborted { reason });
        } else {
            self.record(Some(pod_key), EventKind::EvictionRefused { reason, retry_in });
        }
        false
    }

    /// Finishes the move of an evicted pod: its burst instance is deleted, then the pod (its
    /// replacement) is bound to the reserved node. Repeating it after a cancelled step is safe:
    /// deletes are idempotent and so is binding to the same node.
    async fn finish_move(&mut self, pod_key: &str) {
        let Some(state) = self.pods.get(pod_key) else { return };
        let Placement::Moving { target, key, node, .. } = &state.placement else { return };
        let (target, key, node) = (target.clone(), key.clone(), node.clone());
        let backend = self.backends.get(&target).map(|s| s.backend.clone());
        let deleted = match backend {
            Some(backend) => backend.delete(&key).await,
            None => Ok(()),
        };
        match deleted {
            Ok(()) => self.record(
                Some(pod_key),
                EventKind::InstanceDeleted { target: target.clone(), key, reason: "drained back".into() },
            ),
            Err(error) => {
                let size = self.pods.get(pod_key).and_then(|s| s.size);
                self.leave(target.clone(), key.clone(), "drained back".into(), size);
                let operation = format!("delete {key}");
                self.record(Some(pod_key), EventKind::BackendError { target: target.clone(), operation, error });
            }
        }
        // From here the pod runs nowhere: it is bound like any pending pod, its bind recorded
        // in doubt until the binder answers.
        if let Some(state) = self.pods.get_mut(pod_key) {
            state.evicted = false;
            state.placement = Placement::Pending;
            state.binding = Some(node.clone());
        }
        // `bound` records `Drained`; if the pod is gone (in Kubernetes the eviction deleted it),
        // its node stays reserved for its replacement (see `delete_pod`).
        self.bind(pod_key, node).await;
    }
}
