//! Shared test support for the backend tests: harnesses for the mock and for the ACI backend
//! against the fake ARM server, and the conformance suite both must pass.
// Each test binary uses a different subset of this module.
#![allow(dead_code)]

pub mod conformance;
pub mod fake_arm;

use std::sync::Arc;
use std::time::Duration;

use spillway::backend::aci::{AciBackend, AciConfig, StaticToken, TokenProvider};
use spillway::backend::mock::MockBackend;
use spillway::backend::{
    BurstBackend, BurstPodSpec, ContainerSpec, CreateRequest, FixedJitter, ManualClock, RetryPolicy,
};
use spillway::model::{BurstTarget, InstanceSize};
use spillway::{Pod, Resources};

use fake_arm::FakeArm;

/// Start latency of both harnesses (virtual seconds).
pub const START_LATENCY: Duration = Duration::from_secs(20);

/// A backend under test, the clock that drives it, and the fake behind it (ACI only).
#[derive(Debug)]
pub struct Harness {
    pub backend: Arc<dyn BurstBackend>,
    pub clock: ManualClock,
    pub fake: Option<FakeArm>,
    /// The mock itself, for scripting faults (mock harness only).
    pub mock: Option<Arc<MockBackend>>,
}

impl Harness {
    /// Makes `request` fail after it starts, as the backend does it: a scripted failure on the
    /// mock, an image whose pull fails on the fake ARM server.
    pub fn fail_after_start(&self, request: &mut CreateRequest) {
        match &self.mock {
            Some(mock) => mock.fail_next_after_start(1, "Failed to pull image \"example/pullfail:1\""),
            None => request.spec.containers[0].image = "example/pullfail:1".into(),
        }
    }
}

/// A pod `ns/{name}` with uid `uid-{name}` and one nginx container with these requests.
pub fn request(name: &str, cpu_millis: i64, memory_bytes: i64) -> CreateRequest {
    let mut pod = Pod::new("ns", name);
    pod.uid = format!("uid-{name}");
    let requests = Resources { cpu_millis, memory: memory_bytes, ..Resources::default() };
    let spec = BurstPodSpec::new(vec![ContainerSpec::new("app", "nginx:1.27", requests)]);
    let size = SizeModelAci::size(cpu_millis, memory_bytes);
    CreateRequest::new(&pod, size, spec)
}

struct SizeModelAci;
impl SizeModelAci {
    fn size(cpu: i64, mem: i64) -> InstanceSize {
        spillway::model::SizeModel::aci().size_for(cpu, mem).unwrap()
    }
}

fn target() -> BurstTarget {
    let mut t = BurstTarget::aci_like("aci-eastus", "eastus");
    t.start_latency_seconds = START_LATENCY.as_secs() as i64;
    t
}

/// The mock backend with at most `max_instances` instances.
pub async fn mock_harness(max_instances: usize) -> Harness {
    let clock = ManualClock::new();
    let mut t = target();
    t.backend = "mock".into();
    t.quota.max_instances = Some(max_instances as i64);
    let mock = Arc::new(MockBackend::new(t, clock.clone()));
    Harness { backend: mock.clone(), clock, fake: None, mock: Some(mock) }
}

/// The ACI configuration for a fake at `url`: fast retries, fixed jitter.
pub fn aci_config(url: &str) -> AciConfig {
    let mut config = AciConfig::new("sub-1", "rg-burst", "eastus");
    config.endpoint = url.to_string();
    config.target = target();
    config.retry =
        RetryPolicy { max_retries: 3, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(8) };
    config.poll_interval = Duration::from_secs(5);
    config.provisioning_deadline = Some(Duration::from_secs(120));
    config
}

/// An ACI backend against a fresh fake, with `config` adjusted by `adjust` and these tokens.
pub async fn aci_backend_with(
    adjust: impl FnOnce(&mut AciConfig),
    tokens: Arc<dyn TokenProvider>,
) -> (AciBackend, FakeArm) {
    let clock = ManualClock::new();
    let fake = FakeArm::start(clock.clone()).await;
    fake.state().start_latency = START_LATENCY;
    let mut config = aci_config(&fake.url);
    adjust(&mut config);
    let backend = AciBackend::new(config, tokens)
        .expect("client builds")
        .with_clock(Arc::new(clock))
        .with_jitter(Arc::new(FixedJitter(0.5)));
    (backend, fake)
}

/// The ACI backend against the fake, with at most `max_instances` container groups.
pub async fn aci_harness(max_instances: usize) -> Harness {
    let (backend, fake) = aci_backend_with(|_| {}, Arc::new(StaticToken::new("static-token"))).await;
    fake.state().max_groups = max_instances;
    Harness { backend: Arc::new(backend), clock: fake.clock.clone(), fake: Some(fake), mock: None }
}
