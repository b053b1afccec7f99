//! Burst backends: the IO side of burst placement (feature `backend`; on by default through
//! `aci`).
//!
//! The engine decides that a pod bursts ([`Outcome::Burst`](crate::Outcome::Burst)); a
//! [`BurstBackend`] creates the instance that runs it, reports its status and deletes it. The
//! engine never calls a backend: a controller (or the `aci_burst` example) does.
//!
//! - [`BurstBackend`]: the object-safe async trait (`Arc<dyn BurstBackend>`), idempotent
//!   [`create`](BurstBackend::create) keyed by the pod's uid ([`InstanceKey`]),
//!   [`get`](BurstBackend::get), [`delete`](BurstBackend::delete) (a missing instance is
//!   success) and [`list`](BurstBackend::list) (the source of truth after a restart).
//! - [`BackendError`]: `Quota`, `Throttled { retry_after }`, `InvalidSpec { field }`,
//!   `NotFound`, `Auth`, `Transient`, each with the backend's code and message.
//! - [`mock`]: an in-memory backend with scripted faults, for tests of whatever drives backends.
//! - `aci` (feature `aci`): Azure Container Instances over ARM REST.
//! - [`Clock`], [`RetryPolicy`] and [`Jitter`]: time and retries, injectable for exact tests.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use spillway::backend::{BurstBackend, BurstPodSpec, ContainerSpec, CreateRequest, InstanceStatus, ManualClock};
//! use spillway::backend::mock::MockBackend;
//! use spillway::model::{BurstTarget, InstanceSize};
//! use spillway::{Pod, Resources};
//!
//! # tokio_test_block_on(async {
//! let clock = ManualClock::new();
//! let backend: Arc<dyn BurstBackend> = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()));
//! let pod = Pod::new("shop", "web-0");
//! let spec = BurstPodSpec::new(vec![ContainerSpec::new("app", "nginx", Resources::parse([("cpu", "250m")])?)]);
//! let request = CreateRequest::new(&pod, InstanceSize::new(250, 1_100_000_000), spec);
//! let created = backend.create(&request).await?;
//! assert_eq!(created.status, InstanceStatus::Pending);
//! clock.advance(Duration::from_secs(40)); // the target's start latency
//! assert_eq!(backend.get(&request.key).await?.status, InstanceStatus::Running);
//! backend.delete(&request.key).await?;
//! assert!(backend.list().await?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::BurstTarget;

mod clock;
mod error;
pub mod mock;
mod retry;
mod spec;
mod types;

#[cfg(feature = "aci")]
#[cfg_attr(docsrs, doc(cfg(feature = "aci")))]
pub mod aci;

pub use clock::{Clock, ManualClock, TokioClock};
pub use error::BackendError;
pub use retry::{FixedJitter, Jitter, RandomJitter, RetryPolicy};
pub use spec::{
    BurstPodSpec, ContainerPort, ContainerSpec, EnvValue, EnvVar, OsType, PortProtocol, RestartPolicy, Secret,
};
pub use types::{CreateRequest, Instance, InstanceKey, InstanceStatus, MAX_KEY_LEN, PodRef};

/// A serverless container backend that runs burst pods.
///
/// Implementations are `Send + Sync` and cheap to share as `Arc<dyn BurstBackend>`.
#[async_trait]
pub trait BurstBackend: Send + Sync + fmt::Debug {
    /// What the backend can run, its limits, quotas and prices, as the engine's
    /// [`BurstTarget`].
    fn describe(&self) -> BurstTarget;

    /// Creates the instance for `request`, or returns the existing one with the same key:
    /// creating twice yields one instance.
    async fn create(&self, request: &CreateRequest) -> Result<Instance, BackendError>;

    /// The instance with this key; [`BackendError::NotFound`] when there is none.
    async fn get(&self, key: &InstanceKey) -> Result<Instance, BackendError>;

    /// Deletes the instance with this key; deleting a missing instance is success.
    async fn delete(&self, key: &InstanceKey) -> Result<(), BackendError>;

    /// Every instance this backend owns, with the pod it belongs to, ordered by key.
    async fn list(&self) -> Result<Vec<Instance>, BackendError>;
}

/// Polls [`BurstBackend::get`] every `interval` of `clock` until the instance runs or is
/// terminal, or `timeout` passes (then the last status seen is returned, still pending).
///
/// # Errors
///
/// The first error of `get`.
pub async fn wait_until_started(
    backend: &dyn BurstBackend,
    key: &InstanceKey,
    clock: &dyn Clock,
    interval: Duration,
    timeout: Duration,
) -> Result<Instance, BackendError> {
    let deadline = clock.now() + timeout;
    loop {
        let instance = backend.get(key).await?;
        if instance.status == InstanceStatus::Running || instance.status.is_terminal() || clock.now() >= deadline {
            return Ok(instance);
        }
        clock.sleep(interval.min(deadline.saturating_sub(clock.now())).max(Duration::from_millis(1))).await;
    }
}
