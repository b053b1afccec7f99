//! An in-memory, deterministic [`BurstBackend`] with scripted faults.
//!
//! Instances start after the target's `start_latency_seconds` on the given [`Clock`] (a
//! [`ManualClock`](super::ManualClock) in tests, so no wall time is involved). The target's
//! per-instance limits and quotas (`max_instances`, `max_cpu_millis`) are enforced. Faults are
//! scripted through methods of [`MockBackend`]:
//!
//! - [`fail_next_creates`](MockBackend::fail_next_creates): the next N creates fail with a
//!   given error (nothing is created);
//! - [`throttle_next`](MockBackend::throttle_next): the next N calls of any kind are throttled;
//! - [`time_out_next_creates`](MockBackend::time_out_next_creates): the next N creates *do*
//!   create the instance but answer with a transient timeout (the ambiguous outcome that makes
//!   idempotent creation matter);
//! - [`lose`](MockBackend::lose): an instance vanishes (as after an out-of-band deletion);
//! - [`fail_after_start`](MockBackend::fail_after_start): an instance reports `Failed` once it
//!   has started; [`fail_next_after_start`](MockBackend::fail_next_after_start) does so for the
//!   next N instances created.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::{BackendError, BurstBackend, Clock, CreateRequest, Instance, InstanceKey, InstanceStatus, PodRef};
use crate::model::{BurstTarget, InstanceSize};

/// The in-memory backend. See the [module docs](self).
#[derive(Debug)]
pub struct MockBackend {
    target: BurstTarget,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    instances: BTreeMap<InstanceKey, MockInstance>,
    create_failures: VecDeque<BackendError>,
    throttles: u32,
    throttle_after: Option<Duration>,
    create_timeouts: u32,
    fail_next: VecDeque<String>,
    calls: Vec<String>,
}

#[derive(Debug, Clone)]
struct MockInstance {
    pod: PodRef,
    size: InstanceSize,
    created_at: Duration,
    fail_reason: Option<String>,
}

impl MockBackend {
    /// A backend that describes itself as `target` and keeps time with `clock`.
    pub fn new(target: BurstTarget, clock: impl Clock + 'static) -> MockBackend {
        MockBackend { target, clock: Arc::new(clock), state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a test panicked while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` creates fail with `error` (nothing is created).
    pub fn fail_next_creates(&self, n: usize, error: BackendError) {
        let mut s = self.lock();
        s.create_failures.extend(std::iter::repeat_n(error, n));
    }

    /// The next `n` calls (of any kind) answer [`BackendError::Throttled`] with `retry_after`.
    pub fn throttle_next(&self, n: u32, retry_after: Duration) {
        let mut s = self.lock();
        s.throttles += n;
        s.throttle_after = Some(retry_after);
    }

    /// The next `n` creates create the instance but answer with a transient timeout.
    pub fn time_out_next_creates(&self, n: u32) {
        self.lock().create_timeouts += n;
    }

    /// The instance vanishes without a delete.
    pub fn lose(&self, key: &InstanceKey) {
        self.lock().instances.remove(key);
    }

    /// The instance reports `Failed { reason }` once it has started.
    pub fn fail_after_start(&self, key: &InstanceKey, reason: impl Into<String>) {
        if let Some(i) = self.lock().instances.get_mut(key) {
            i.fail_reason = Some(reason.into());
        }
    }

    /// The next `n` instances created report `Failed { reason }` once they have started.
    pub fn fail_next_after_start(&self, n: usize, reason: impl Into<String>) {
        let reason = reason.into();
        self.lock().fail_next.extend(std::iter::repeat_n(reason, n));
    }

    /// The calls received so far, as `create <key>`, `get <key>`, `delete <key>`, `list`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn throttled(&self, s: &mut State, call: String) -> Result<(), BackendError> {
        s.calls.push(call);
        if s.throttles > 0 {
            s.throttles -= 1;
            return Err(BackendError::Throttled {
                retry_after: s.throttle_after,
                code: "TooManyRequests".into(),
                message: "the mock backend is throttling requests".into(),
            });
        }
        Ok(())
    }

    fn instance(&self, key: &InstanceKey, i: &MockInstance) -> Instance {
        let started =
            self.clock.now() >= i.created_at + Duration::from_secs(self.target.start_latency_seconds.max(0) as u64);
        let status = match (&i.fail_reason, started) {
            (_, false) => InstanceStatus::Pending,
            (Some(reason), true) => InstanceStatus::Failed { reason: reason.clone() },
            (None, true) => InstanceStatus::Running,
        };
        Instance { key: key.clone(), pod: i.pod.clone(), size: i.size, status }
    }

    fn check_limits(&self, s: &State, request: &CreateRequest) -> Result<(), BackendError> {
        let limits = &self.target.limits;
        if request.size.cpu_millis > limits.max_cpu_millis {
            return Err(BackendError::invalid_spec(
                "resources.requests.cpu",
                "InstanceTooLarge",
                format!(
                    "{}m cpu is more than the {}m an instance may have",
                    request.size.cpu_millis, limits.max_cpu_millis
                ),
            ));
        }
        if request.size.memory_bytes > limits.max_memory_bytes {
            return Err(BackendError::invalid_spec(
                "resources.requests.memory",
                "InstanceTooLarge",
                format!(
                    "{} bytes of memory is more than the {} an instance may have",
                    request.size.memory_bytes, limits.max_memory_bytes
                ),
            ));
        }
        if request.spec.containers.is_empty() {
            return Err(BackendError::invalid_spec("spec.containers", "MissingContainers", "a pod needs a container"));
        }
        let quota = &self.target.quota;
        if let Some(max) = quota.max_instances
            && s.instances.len() as i64 >= max
        {
            return Err(BackendError::Quota {
                code: "InstanceQuotaReached".into(),
                message: format!("instance quota exceeded: limit {max}, usage {}, requested 1", s.instances.len()),
            });
        }
        let used: i64 = s.instances.values().map(|i| i.size.cpu_millis).sum();
        if let Some(max) = quota.max_cpu_millis
            && used + request.size.cpu_millis > max
        {
            return Err(BackendError::Quota {
                code: "CpuQuotaReached".into(),
                message: format!(
                    "cpu quota exceeded: limit {max}m, usage {used}m, requested {}m",
                    request.size.cpu_millis
                ),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl BurstBackend for MockBackend {
    fn describe(&self) -> BurstTarget {
        self.target.clone()
    }

    async fn create(&self, request: &CreateRequest) -> Result<Instance, BackendError> {
        let mut s = self.lock();
        self.throttled(&mut s, format!("create {}", request.key))?;
        if let Some(err) = s.create_failures.pop_front() {
            return Err(err);
        }
        if let Some(existing) = s.instances.get(&request.key) {
            return Ok(self.instance(&request.key, existing));
        }
        self.check_limits(&s, request)?;
        let fail_reason = s.fail_next.pop_front();
        let created =
            MockInstance { pod: request.pod.clone(), size: request.size, created_at: self.clock.now(), fail_reason };
        let instance = self.instance(&request.key, &created);
        s.instances.insert(request.key.clone(), created);
        if s.create_timeouts > 0 {
            s.create_timeouts -= 1;
            return Err(BackendError::transient("Timeout", "the mock backend timed out (the instance was created)"));
        }
        Ok(instance)
    }

    async fn get(&self, key: &InstanceKey) -> Result<Instance, BackendError> {
        let mut s = self.lock();
        self.throttled(&mut s, format!("get {key}"))?;
        s.instances
            .get(key)
            .map(|i| self.instance(key, i))
            .ok_or_else(|| BackendError::not_found("NotFound", format!("instance {key} does not exist")))
    }

    async fn delete(&self, key: &InstanceKey) -> Result<(), BackendError> {
        let mut s = self.lock();
        self.throttled(&mut s, format!("delete {key}"))?;
        s.instances.remove(key);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Instance>, BackendError> {
        let mut s = self.lock();
        self.throttled(&mut s, "list".into())?;
        Ok(s.instances.iter().map(|(k, i)| self.instance(k, i)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pod;
    use crate::backend::{BurstPodSpec, ContainerSpec, ManualClock};
    use crate::model::Resources;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    fn request(name: &str, cpu: i64) -> CreateRequest {
        let mut pod = Pod::new("ns", name);
        pod.uid = format!("uid-{name}");
        let spec = BurstPodSpec::new(vec![ContainerSpec::new("app", "nginx", Resources::default())]);
        CreateRequest::new(&pod, InstanceSize::new(cpu, 1_000_000_000), spec)
    }

    fn backend() -> (MockBackend, ManualClock) {
        let clock = ManualClock::new();
        let mut target = BurstTarget::aci_like("mock", "eastus");
        target.backend = "mock".into();
        target.start_latency_seconds = 30;
        target.quota.max_instances = Some(2);
        target.quota.max_cpu_millis = Some(5000);
        (MockBackend::new(target, clock.clone()), clock)
    }

    #[test]
    fn start_latency_follows_the_clock() {
        let (b, clock) = backend();
        block_on(async {
            let r = request("a", 1000);
            assert_eq!(b.create(&r).await.unwrap().status, InstanceStatus::Pending);
            clock.advance(Duration::from_secs(29));
            assert_eq!(b.get(&r.key).await.unwrap().status, InstanceStatus::Pending);
            clock.advance(Duration::from_secs(1));
            assert_eq!(b.get(&r.key).await.unwrap().status, InstanceStatus::Running);
        });
    }

    #[test]
    fn quotas_and_limits() {
        let (b, _) = backend();
        block_on(async {
            let too_big = b.create(&request("big", 4010)).await.unwrap_err();
            assert!(matches!(&too_big, BackendError::InvalidSpec { field, .. } if field == "resources.requests.cpu"));
            b.create(&request("a", 3000)).await.unwrap();
            let cpu = b.create(&request("b", 3000)).await.unwrap_err();
            assert_eq!(cpu.code(), "CpuQuotaReached");
            b.create(&request("b", 1000)).await.unwrap();
            let count = b.create(&request("c", 10)).await.unwrap_err();
            assert!(matches!(count, BackendError::Quota { .. }));
            // re-creating an existing instance is not a new instance: no quota needed
            b.create(&request("a", 3000)).await.unwrap();
        });
    }

    #[test]
    fn faults_are_scripted() {
        let (b, clock) = backend();
        block_on(async {
            let r = request("a", 1000);
            b.fail_next_creates(2, BackendError::transient("InternalServerError", "boom"));
            assert_eq!(b.create(&r).await.unwrap_err().code(), "InternalServerError");
            assert_eq!(b.create(&r).await.unwrap_err().code(), "InternalServerError");
            assert!(b.list().await.unwrap().is_empty());

            b.throttle_next(1, Duration::from_secs(7));
            let err = b.create(&r).await.unwrap_err();
            assert_eq!(
                err,
                BackendError::Throttled {
                    retry_after: Some(Duration::from_secs(7)),
                    code: "TooManyRequests".into(),
                    message: "the mock backend is throttling requests".into()
                }
            );

            b.time_out_next_creates(1);
            assert!(b.create(&r).await.unwrap_err().is_retryable());
            assert_eq!(b.list().await.unwrap().len(), 1, "the timed-out create did create");
            assert_eq!(b.create(&r).await.unwrap().key, r.key, "and the retry finds it");

            b.fail_after_start(&r.key, "exit code 137");
            clock.advance(Duration::from_secs(30));
            assert_eq!(b.get(&r.key).await.unwrap().status, InstanceStatus::Failed { reason: "exit code 137".into() });

            b.fail_next_after_start(1, "ImagePullBackOff");
            let r2 = request("b", 1000);
            assert_eq!(b.create(&r2).await.unwrap().status, InstanceStatus::Pending);
            clock.advance(Duration::from_secs(30));
            assert!(matches!(b.get(&r2.key).await.unwrap().status, InstanceStatus::Failed { .. }));

            b.lose(&r.key);
            assert!(matches!(b.get(&r.key).await.unwrap_err(), BackendError::NotFound { .. }));
            b.delete(&r.key).await.unwrap();
            assert_eq!(b.calls().last().map(String::as_str), Some(format!("delete {}", r.key).as_str()));
        });
    }
}
