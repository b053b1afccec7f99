//! The runtime's metrics and spans: a scripted scenario (bind, bursts, a quota error, throttling,
//! an instance failing, failover, drain-back) under a hand-written `metrics` recorder and a
//! capturing `tracing` subscriber, each installed for this thread only.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::rig::{Rig, rig_with};
use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use spillway::backend::{BackendError, BurstBackend, BurstPodSpec, ContainerSpec, EnvVar, InstanceKey, PodRef};
use spillway::runtime::{ClusterEvent, EventKind, Placement, RuntimeConfig, RuntimeEvent};
use spillway::{Node, Pod, Resources, Toleration};

// ---------------------------------------------------------------------------------------------
// A recorder keeping every counter and gauge as `name{label=value,...}` → value.

#[derive(Debug, Default, Clone)]
struct Values(Arc<Mutex<BTreeMap<String, f64>>>);

impl Values {
    fn get(&self, key: &str) -> f64 {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0.0)
    }

    fn all(&self) -> BTreeMap<String, f64> {
        self.0.lock().unwrap().clone()
    }
}

struct Handle {
    key: String,
    values: Values,
}

impl Handle {
    fn update(&self, f: impl FnOnce(&mut f64)) {
        f(self.values.0.lock().unwrap().entry(self.key.clone()).or_default());
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.update(|v| *v += value as f64);
    }
    fn absolute(&self, value: u64) {
        self.update(|v| *v = value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.update(|v| *v += value);
    }
    fn decrement(&self, value: f64) {
        self.update(|v| *v -= value);
    }
    fn set(&self, value: f64) {
        self.update(|v| *v = value);
    }
}

#[derive(Debug, Default)]
struct TestRecorder {
    values: Values,
    described: Mutex<Vec<String>>,
}

impl TestRecorder {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        labels.sort();
        let key =
            if labels.is_empty() { key.name().to_string() } else { format!("{}{{{}}}", key.name(), labels.join(",")) };
        Arc::new(Handle { key, values: self.values.clone() })
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_string());
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_string());
    }
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario.

const VK: &str = "virtual-kubelet.io/provider";

fn vm(name: &str, cpu: &str) -> Node {
    Node::new(name)
        .with_label("kubernetes.io/hostname", name)
        .with_allocatable(Resources::parse([("cpu", cpu), ("memory", "32Gi"), ("pods", "110")]).unwrap())
}

fn pod(name: &str) -> Pod {
    Pod::new("shop", name)
        .with_container(Resources::parse([("cpu", "1500m"), ("memory", "1Gi")]).unwrap())
        .with_toleration(Toleration::exists(VK, None))
}

fn key(name: &str) -> InstanceKey {
    PodRef::of(&pod(name)).key()
}

/// A spec with secrets in its environment: they must never show in a span, log or metric.
fn secret_spec(pod: &Pod) -> BurstPodSpec {
    let mut c = ContainerSpec::new("app", "registry.example/shop:1", pod.containers[0].requests.clone());
    c.env = vec![EnvVar::secure("DB_PASSWORD", "hunter2-secure"), EnvVar::plain("API_TOKEN", "plain-secret-token")];
    BurstPodSpec::new(vec![c])
}

fn rig() -> Rig {
    rig_with(RuntimeConfig::default(), |r| r.with_spec_source(secret_spec))
}

fn count(events: &[RuntimeEvent], f: impl Fn(&EventKind) -> bool) -> f64 {
    events.iter().filter(|e| f(&e.kind)).count() as f64
}

/// The scripted scenario; returns the reconciler (its event log) and the spend per hour of one
/// instance of a pod.
async fn scenario(rig: &mut Rig, values: Option<&Values>) -> f64 {
    let Rig { clock, aci, binder, r } = rig;
    let one = {
        let target = aci.describe();
        let size = target.size_for(&pod("x").containers[0].requests).unwrap();
        target.pricing.hourly(size, &BTreeMap::new(), false).micros() as f64 / 1e6
    };
    r.handle(ClusterEvent::NodeAdded(vm("vm-1", "2")));
    for name in ["web-0", "web-1", "web-2"] {
        r.handle(ClusterEvent::PodAdded(pod(name)));
    }
    // Step 1: web-0 on vm-1; web-1 and web-2 burst, the first create hits the quota.
    aci.fail_next_creates(1, BackendError::Quota { code: "InstanceQuotaReached".into(), message: "full".into() });
    r.reconcile().await;
    assert_eq!(binder.node_of("shop/web-0").as_deref(), Some("vm-1"));
    if let Some(v) = values {
        assert_eq!(v.get("spillway_placements_total{kind=node}"), 1.0);
        assert_eq!(v.get("spillway_placements_total{kind=burst}"), 1.0);
        assert_eq!(v.get("spillway_backend_errors_total{backend=aci,kind=quota,operation=create}"), 1.0);
        assert_eq!(v.get("spillway_burst_spend_per_hour"), one);
        assert_eq!(v.get("spillway_pods{placement=bound}"), 1.0);
        assert_eq!(v.get("spillway_pods{placement=bursting}"), 1.0);
        assert_eq!(v.get("spillway_pods{placement=pending}"), 1.0);
    }
    // Step 2: the listing is throttled; the refused pod's backoff (1 s) has passed: it bursts.
    clock.advance(Duration::from_secs(2));
    aci.throttle_next(1, Duration::from_secs(1));
    r.reconcile().await;
    // Step 3: both instances run.
    clock.advance(Duration::from_secs(40));
    r.reconcile().await;
    if let Some(v) = values {
        assert_eq!(v.get("spillway_placements_total{kind=burst}"), 2.0);
        assert_eq!(v.get("spillway_backend_errors_total{backend=aci,kind=throttled,operation=list}"), 1.0);
        assert_eq!(v.get("spillway_instances_started_total{backend=aci}"), 2.0);
        assert_eq!(v.get("spillway_burst_spend_per_hour"), 2.0 * one);
    }
    // Step 4: web-1's instance fails: it is deleted and web-1 fails over after its backoff.
    aci.fail_after_start(&key("web-1"), "exit code 137");
    r.reconcile().await;
    clock.advance(Duration::from_secs(2));
    r.reconcile().await;
    clock.advance(Duration::from_secs(40));
    r.reconcile().await;
    if let Some(v) = values {
        assert_eq!(v.get("spillway_failovers_total{backend=aci,reason=failed}"), 1.0);
        assert_eq!(v.get("spillway_instances_deleted_total{backend=aci}"), 1.0);
        assert_eq!(v.get("spillway_placements_total{kind=burst}"), 3.0);
        assert_eq!(v.get("spillway_burst_spend_per_hour"), 2.0 * one);
    }
    // Step 5: a 4-cpu node arrives: both bursting pods drain back to it in one round.
    r.handle(ClusterEvent::NodeAdded(vm("vm-2", "4")));
    r.reconcile().await;
    assert_eq!(binder.node_of("shop/web-1").as_deref(), Some("vm-2"));
    assert_eq!(binder.node_of("shop/web-2").as_deref(), Some("vm-2"));
    assert!(aci.list().await.unwrap().is_empty());
    one
}

#[test]
fn counters_follow_the_scenario_and_agree_with_the_event_log() {
    let recorder = TestRecorder::default();
    let values = recorder.values.clone();
    let mut rig = rig();
    let (one, _) = traced(|| {
        metrics::with_local_recorder(&recorder, || {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(scenario(&mut rig, Some(&values)))
        })
    });
    assert!(one > 0.0);
    let events = rig.r.events();

    // What the scenario did, exactly.
    assert_eq!(values.get("spillway_reconciles_total"), 7.0);
    assert_eq!(values.get("spillway_placements_total{kind=node}"), 3.0, "web-0, then the two drain-back binds");
    assert_eq!(values.get("spillway_placements_total{kind=burst}"), 3.0);
    assert_eq!(values.get("spillway_failovers_total{backend=aci,reason=failed}"), 1.0);
    assert_eq!(values.get("spillway_drain_backs_started_total"), 2.0);
    assert_eq!(values.get("spillway_drain_backs_total"), 2.0);
    assert_eq!(values.get("spillway_instances_deleted_total{backend=aci}"), 3.0);
    assert_eq!(values.get("spillway_burst_spend_per_hour"), 0.0);
    assert_eq!(values.get("spillway_pods{placement=bound}"), 3.0);
    assert_eq!(values.get("spillway_pods{placement=bursting}"), 0.0);

    // And nothing the event log does not say.
    let agree = [
        ("spillway_placements_total{kind=node}", count(events, |k| matches!(k, EventKind::Bound { .. }))),
        ("spillway_placements_total{kind=burst}", count(events, |k| matches!(k, EventKind::BurstCreated { .. }))),
        ("spillway_placements_total{kind=wait}", count(events, |k| matches!(k, EventKind::Waiting { .. }))),
        (
            "spillway_placements_total{kind=unschedulable}",
            count(events, |k| matches!(k, EventKind::Unschedulable { .. })),
        ),
        (
            "spillway_instances_started_total{backend=aci}",
            count(events, |k| matches!(k, EventKind::InstanceRunning { .. })),
        ),
        (
            "spillway_instances_deleted_total{backend=aci}",
            count(events, |k| matches!(k, EventKind::InstanceDeleted { .. })),
        ),
        (
            "spillway_failovers_total{backend=aci,reason=failed}",
            count(events, |k| matches!(k, EventKind::InstanceFailed { .. })),
        ),
        (
            "spillway_failovers_total{backend=aci,reason=lost}",
            count(events, |k| matches!(k, EventKind::InstanceLost { .. })),
        ),
        ("spillway_drain_backs_started_total", count(events, |k| matches!(k, EventKind::DrainStarted { .. }))),
        ("spillway_drain_backs_total", count(events, |k| matches!(k, EventKind::Drained { .. }))),
        ("spillway_evictions_refused_total", count(events, |k| matches!(k, EventKind::EvictionRefused { .. }))),
        (
            "spillway_backend_errors_total{backend=aci,kind=quota,operation=create}",
            count(events, |k| matches!(k, EventKind::CreateFailed { error: BackendError::Quota { .. }, .. })),
        ),
        (
            "spillway_backend_errors_total{backend=aci,kind=throttled,operation=list}",
            count(events, |k| matches!(k, EventKind::BackendError { error: BackendError::Throttled { .. }, .. })),
        ),
    ];
    for (metric, expected) in agree {
        assert_eq!(values.get(metric), expected, "{metric} against the event log");
    }
    // Every counter is one of those, a gauge, or the step counter.
    for name in values.all().keys() {
        let known = agree.iter().any(|(m, _)| m == name)
            || name.starts_with("spillway_pods{")
            || name == "spillway_burst_spend_per_hour"
            || name == "spillway_reconciles_total";
        assert!(known, "unexpected metric {name}");
    }
}

#[test]
fn burst_spend_follows_the_bursting_pods() {
    let mut rig = rig();
    traced(|| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            rig.r.handle(ClusterEvent::PodAdded(pod("web-0")));
            rig.r.handle(ClusterEvent::PodAdded(pod("web-1")));
            rig.r.reconcile().await;
        })
    });
    let target = rig.aci.describe();
    let size = target.size_for(&pod("x").containers[0].requests).unwrap();
    let one = target.pricing.hourly(size, &BTreeMap::new(), false);
    assert!(one.micros() > 0);
    assert_eq!(rig.r.burst_spend_per_hour().micros(), 2 * one.micros());
    rig.r.handle(ClusterEvent::PodDeleted("shop/web-0".into()));
    assert_eq!(rig.r.burst_spend_per_hour(), one);
    assert_eq!(rig.r.steps(), 1);
}

#[test]
fn describe_metrics_names_every_metric() {
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, spillway::runtime::telemetry::describe_metrics);
    let described = recorder.described.lock().unwrap().clone();
    for name in [
        "spillway_placements_total",
        "spillway_failovers_total",
        "spillway_drain_backs_total",
        "spillway_backend_errors_total",
        "spillway_burst_spend_per_hour",
        "spillway_evictions_refused_total",
        "spillway_pods",
    ] {
        assert!(described.iter().any(|d| d == name), "{name} is not described: {described:?}");
    }
    assert_eq!(described.len(), 17);
}

// ---------------------------------------------------------------------------------------------
// A subscriber capturing every span and event with its fields and parent span.

#[derive(Debug, Clone)]
struct Captured {
    name: String,
    fields: BTreeMap<String, String>,
    parent: Option<u64>,
    id: u64,
}

#[derive(Debug, Default)]
struct Capture {
    spans: Mutex<Vec<Captured>>,
    events: Mutex<Vec<Captured>>,
    stack: Mutex<Vec<u64>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

#[derive(Debug, Clone, Default)]
struct Shared(Arc<Capture>);

impl tracing::Subscriber for Shared {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = match attrs.parent() {
            Some(p) => Some(p.into_u64()),
            None if attrs.is_contextual() => self.0.stack.lock().unwrap().last().copied(),
            None => None,
        };
        let mut spans = self.0.spans.lock().unwrap();
        let id = spans.len() as u64 + 1;
        spans.push(Captured { name: attrs.metadata().name().to_string(), fields, parent, id });
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut spans = self.0.spans.lock().unwrap();
        let span = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Fields(&mut span.fields));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = self.0.stack.lock().unwrap().last().copied();
        let name = event.metadata().name().to_string();
        self.0.events.lock().unwrap().push(Captured { name, fields, parent, id: 0 });
    }
    fn enter(&self, span: &tracing::span::Id) {
        self.0.stack.lock().unwrap().push(span.into_u64());
    }
    fn exit(&self, span: &tracing::span::Id) {
        let mut stack = self.0.stack.lock().unwrap();
        if let Some(i) = stack.iter().rposition(|s| *s == span.into_u64()) {
            stack.remove(i);
        }
    }
}

/// Runs `f` with a capturing subscriber as this thread's default. Every test here that runs the
/// reconciler does so under one: tracing caches each call site's interest globally, and a call
/// site first reached on a thread with no subscriber, while another test's subscriber is being
/// registered, could be cached as uninteresting and hide spans from that other test.
fn traced<T>(f: impl FnOnce() -> T) -> (T, Shared) {
    let capture = Shared::default();
    let out = tracing::subscriber::with_default(capture.clone(), f);
    (out, capture)
}

#[test]
fn spans_per_step_and_per_pod_action() {
    let mut rig = rig();
    let ((), capture) = traced(|| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(scenario(&mut rig, None));
    });
    let spans = capture.0.spans.lock().unwrap().clone();
    let events = capture.0.events.lock().unwrap().clone();
    let field = |s: &Captured, f: &str| s.fields.get(f).cloned().unwrap_or_default();

    // One `reconcile` span per step, numbered from 1, with counts.
    let steps: Vec<&Captured> = spans.iter().filter(|s| s.name == "reconcile").collect();
    assert_eq!(steps.len(), 7);
    assert_eq!(steps.iter().map(|s| field(s, "step")).collect::<Vec<_>>(), ["1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(field(steps[0], "pods"), "3");
    assert_eq!(field(steps[0], "unplaced"), "3");
    assert_eq!(field(steps[1], "unplaced"), "1");
    assert!(steps.iter().all(|s| s.parent.is_none()));

    // `pod` spans, inside their step.
    let pod_spans = |pod: &str, action: &str| -> Vec<&Captured> {
        spans.iter().filter(|s| s.name == "pod" && field(s, "pod") == pod && field(s, "action") == action).collect()
    };
    let under = |s: &Captured, step: usize| s.parent == Some(steps[step].id);
    let bind = pod_spans("shop/web-0", "bind");
    assert_eq!(bind.len(), 1);
    assert!(under(bind[0], 0));
    // Four creates: three instances and the one the quota refused.
    assert_eq!(pod_spans("shop/web-1", "burst").len() + pod_spans("shop/web-2", "burst").len(), 4);
    assert!(pod_spans("shop/web-2", "burst").iter().all(|s| s.parent.is_some()));
    let failover = pod_spans("shop/web-1", "failover");
    assert_eq!(failover.len(), 1);
    assert!(under(failover[0], 3));
    let drains = pod_spans("shop/web-1", "drain");
    assert!(!drains.is_empty() && drains.iter().all(|s| under(s, 6)));
    // The drain-back's bind is a `bind` span inside its `drain` span.
    let drain_bind = pod_spans("shop/web-1", "bind");
    assert!(drain_bind.iter().any(|b| drains.iter().any(|d| b.parent == Some(d.id))));

    // Each runtime event is logged inside its pod's span.
    let drained: Vec<&Captured> =
        events.iter().filter(|e| e.fields.get("message").is_some_and(|m| m == "drained back")).collect();
    assert_eq!(drained.len(), 2);
    for e in &drained {
        let span = spans.iter().find(|s| Some(s.id) == e.parent).expect("a drained event has a span");
        assert_eq!(span.name, "pod");
        assert_eq!(field(span, "action"), "drain");
        assert_eq!(field(span, "pod"), field(e, "pod"));
    }
    assert_eq!(events.len(), rig.r.events().len(), "one log event per runtime event");

    // No secret (nor any environment value) in any span or log.
    for c in spans.iter().chain(events.iter()) {
        for (k, v) in &c.fields {
            assert!(!v.contains("hunter2") && !v.contains("plain-secret"), "{} field {k} = {v}", c.name);
        }
    }
    assert!(matches!(rig.r.placement("shop/web-1"), Some(Placement::Bound { .. })));
}
