//! Azure Container Instances (feature `aci`): one container group per burst pod, over the Azure
//! Resource Manager REST API (`Microsoft.ContainerInstance/containerGroups`).
//!
//! A thin ARM client on reqwest + rustls (see [`http_client`] for the single crypto provider):
//!
//! - `create` PUTs the container group named by the [`InstanceKey`] (idempotent: a re-PUT of
//!   the same body is safe), then, when [`AciConfig::provisioning_deadline`] is set, polls GET
//!   until `provisioningState` is final (`Succeeded`, `Failed`, `Canceled`; any other string,
//!   known or not, means "in progress") or the deadline passes (a transient
//!   `ProvisioningTimeout`; retrying the create is safe). It polls the resource rather than the
//!   `Azure-AsyncOperation` URL, as azure-aci does; a PUT's `Retry-After` sets the first wait.
//! - `get` GETs the group; `delete` DELETEs it (202/200/204, and 404, are success); `list`
//!   lists the resource group (following `nextLink`), keeps the groups tagged with this
//!   backend's [`owner`](AciConfig::owner), and re-GETs each for its status, since the list
//!   operation omits the instance view.
//! - Every call carries `api-version` ([`DEFAULT_API_VERSION`] unless configured) and a bearer
//!   token from a [`TokenProvider`] ([`StaticToken`], [`ClientCredentials`],
//!   [`ManagedIdentity`]), cached by a [`TokenCache`] and refreshed once when ARM answers 401.
//! - 429, 5xx, 409 `ServiceUnavailable` (regional capacity), timeouts and connection failures
//!   are retried per the [`RetryPolicy`] (exponential backoff, jitter from an injectable
//!   [`Jitter`], never sooner than `Retry-After`). Quota codes (`ContainerGroupQuotaReached`)
//!   become [`BackendError::Quota`], other 4xx [`BackendError::InvalidSpec`] naming the field
//!   (`InaccessibleImage` → `image`, `ContainerLimitGreaterThanContainerGroupTotalRequest` →
//!   `resources.limits`, `InvalidContainerGroupName` → `name`), neither retried.
//!
//! Pod → container group: see [`AciBackend::create`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

mod arm;
mod mapping;
mod tls;
mod token;

pub use mapping::{TAG_NAMESPACE, TAG_OWNER, TAG_POD, TAG_UID};
pub use tls::http_client;
pub use token::{
    ARM_RESOURCE, ARM_SCOPE, AccessToken, ClientCredentials, IMDS_ENDPOINT, ManagedIdentity, PUBLIC_AUTHORITY,
    StaticToken, TokenCache, TokenProvider,
};

use super::{
    BackendError, BurstBackend, Clock, CreateRequest, Instance, InstanceKey, Jitter, RandomJitter, RetryPolicy, Secret,
    TokioClock,
};
use crate::model::BurstTarget;
use arm::ArmClient;

/// The api-version used unless configured otherwise (newest stable in the spec repository).
pub const DEFAULT_API_VERSION: &str = "2025-09-01";
/// The public-cloud ARM endpoint.
pub const PUBLIC_ENDPOINT: &str = "https://management.azure.com";

/// Credentials for a private image registry.
#[derive(Debug, Clone)]
pub struct RegistryCredential {
    /// Registry server (`myregistry.azurecr.io`).
    pub server: String,
    /// User name.
    pub username: String,
    /// Password (never shown).
    pub password: Secret,
}

/// Where and how the ACI backend creates container groups. Build it with [`AciConfig::new`]
/// and adjust the fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AciConfig {
    /// ARM endpoint (default [`PUBLIC_ENDPOINT`]; a fake's URL in tests).
    pub endpoint: String,
    /// Subscription id.
    pub subscription_id: String,
    /// Resource group holding the container groups.
    pub resource_group: String,
    /// Azure region (`eastus`).
    pub region: String,
    /// ARM api-version (default [`DEFAULT_API_VERSION`]).
    pub api_version: String,
    /// What [`BurstBackend::describe`] reports; its per-instance limits are enforced before a PUT.
    pub target: BurstTarget,
    /// Value of the [`TAG_OWNER`] tag; `list()` keeps only groups with this owner, so several
    /// controllers can share a resource group.
    pub owner: String,
    /// Subnet resource ids for VNet placement (the subnet must be delegated to ACI).
    pub subnet_ids: Vec<String>,
    /// Create spot container groups (`priority: Spot`; no VNet, no public IP).
    pub spot: bool,
    /// Private registry credentials.
    pub registry_credentials: Vec<RegistryCredential>,
    /// Retries of throttled and transient failures.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Interval between GETs while waiting for provisioning, when ARM sends no `Retry-After`.
    pub poll_interval: Duration,
    /// How long `create` waits for a final provisioning state; `None` = return after the PUT.
    pub provisioning_deadline: Option<Duration>,
}

impl AciConfig {
    /// A configuration for this subscription, resource group and region, with the public
    /// endpoint, [`DEFAULT_API_VERSION`], an [`aci_like`](BurstTarget::aci_like) target named
    /// `aci-{region}`, owner `spillway`, default retries, 30 s requests, 5 s polls and a 5-minute
    /// provisioning deadline.
    pub fn new(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        region: impl Into<String>,
    ) -> AciConfig {
        let region = region.into();
        AciConfig {
            endpoint: PUBLIC_ENDPOINT.into(),
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            target: BurstTarget::aci_like(format!("aci-{region}"), &region),
            region,
            api_version: DEFAULT_API_VERSION.into(),
            owner: "spillway".into(),
            subnet_ids: Vec::new(),
            spot: false,
            registry_credentials: Vec::new(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(5),
            provisioning_deadline: Some(Duration::from_secs(300)),
        }
    }
}

/// The ACI backend. See the [module docs](self).
#[derive(Debug)]
pub struct AciBackend {
    config: AciConfig,
    arm: ArmClient,
}

impl AciBackend {
    /// A backend with this configuration and token source, on real time and random jitter.
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built.
    pub fn new(config: AciConfig, tokens: Arc<dyn TokenProvider>) -> Result<AciBackend, BackendError> {
        let arm = ArmClient {
            http: http_client(config.request_timeout)?,
            api_version: config.api_version.clone(),
            tokens: TokenCache::new(tokens),
            retry: config.retry,
            jitter: Arc::new(RandomJitter::new()),
            clock: Arc::new(TokioClock::new()),
        };
        Ok(AciBackend { config, arm })
    }

    /// Uses another clock (token expiry, backoff and polling); a
    /// [`ManualClock`](crate::backend::ManualClock) in tests.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AciBackend {
        self.arm.clock = clock;
        self
    }

    /// Uses another jitter source; a [`FixedJitter`](crate::backend::FixedJitter) in tests.
    pub fn with_jitter(mut self, jitter: Arc<dyn Jitter>) -> AciBackend {
        self.arm.jitter = jitter;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AciConfig {
        &self.config
    }

    fn groups_url(&self) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerInstance/containerGroups",
            self.config.endpoint.trim_end_matches('/'),
            self.config.subscription_id,
            self.config.resource_group
        )
    }

    fn group_url(&self, key: &InstanceKey) -> String {
        format!("{}/{}", self.groups_url(), key)
    }

    async fn get_group(&self, key: &InstanceKey) -> Result<Value, BackendError> {
        let response = self.arm.send(Method::GET, &self.group_url(key), true, None).await?;
        response.json(&format!("GET container group {key}"))
    }
}

#[async_trait]
impl BurstBackend for AciBackend {
    fn describe(&self) -> BurstTarget {
        let mut target = self.config.target.clone();
        target.spot |= self.config.spot;
        target
    }

    /// PUTs the container group for the pod and, with a provisioning deadline, waits for a
    /// final provisioning state.
    ///
    /// The group is named by the request's [`InstanceKey`] and tagged with the pod's namespace,
    /// name and uid and the backend's owner. Each container keeps its image, command (Kubernetes
    /// `command` followed by `args`; `args` alone is [`BackendError::InvalidSpec`]: ACI cannot
    /// read the image's entrypoint), environment (secure values as `secureValue`; unresolved
    /// Secret references are rejected), ports (TCP/UDP; exposed on a public IP, or a private
    /// one with subnets, never for spot) and resources: requests rounded **up** to 0.01 vCPU
    /// and 0.1 GB, the plan's instance size topping up the first container; limits rounded up,
    /// and any limit above the group's total request is rejected, as ACI would. The restart
    /// policy and OS are the pod's; subnets, spot priority and registry credentials the
    /// configuration's.
    async fn create(&self, request: &CreateRequest) -> Result<Instance, BackendError> {
        let body = mapping::container_group(request, &self.config)?;
        let response = self.arm.send(Method::PUT, &self.group_url(&request.key), true, Some(&body)).await?;
        let mut group = response.json(&format!("PUT container group {}", request.key))?;
        if let Some(deadline) = self.config.provisioning_deadline {
            let deadline = self.arm.clock.now() + deadline;
            let mut wait = response.retry_after.unwrap_or(self.config.poll_interval);
            while !mapping::is_terminal_provisioning(
                group.pointer("/properties/provisioningState").and_then(Value::as_str),
            ) {
                let now = self.arm.clock.now();
                if now >= deadline {
                    return Err(BackendError::transient(
                        "ProvisioningTimeout",
                        format!(
                            "container group {} is still {} after the provisioning deadline; creating it again is safe",
                            request.key,
                            group
                                .pointer("/properties/provisioningState")
                                .and_then(Value::as_str)
                                .unwrap_or("provisioning")
                        ),
                    ));
                }
                self.arm.clock.sleep(wait.min(deadline - now)).await;
                wait = self.config.poll_interval;
                group = self.get_group(&request.key).await?;
            }
        }
        let provisioning = group.pointer("/properties/provisioningState").and_then(Value::as_str);
        if mapping::is_terminal_provisioning(provisioning) && group.pointer("/properties/instanceView").is_none() {
            // A PUT answer (of an existing group) shows no instance view; the runtime state needs a GET.
            group = self.get_group(&request.key).await?;
        }
        mapping::instance(&group)
    }

    async fn get(&self, key: &InstanceKey) -> Result<Instance, BackendError> {
        mapping::instance(&self.get_group(key).await?)
    }

    async fn delete(&self, key: &InstanceKey) -> Result<(), BackendError> {
        match self.arm.send(Method::DELETE, &self.group_url(key), true, None).await {
            Ok(_) | Err(BackendError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> Result<Vec<Instance>, BackendError> {
        let mut url = self.groups_url();
        let mut first = true;
        let mut instances = Vec::new();
        loop {
            let response = self.arm.send(Method::GET, &url, first, None).await?;
            let page = response.json("list container groups")?;
            let value = page.get("value").and_then(Value::as_array).ok_or_else(|| {
                BackendError::transient(
                    "MalformedResponse",
                    "ARM answered the container group list without a `value` array",
                )
            })?;
            for group in value {
                let deleting =
                    group.pointer("/properties/provisioningState").and_then(Value::as_str) == Some("Deleting");
                if deleting
                    || mapping::owner_of(group) != Some(self.config.owner.as_str())
                    || mapping::pod_of(group).is_none()
                {
                    continue;
                }
                let Some(key) =
                    group.get("name").and_then(Value::as_str).and_then(|n| InstanceKey::parse(&n.to_ascii_lowercase()))
                else {
                    continue;
                };
                match self.get(&key).await {
                    Ok(instance) => instances.push(instance),
                    Err(BackendError::NotFound { .. }) => {} // deleted since the list
                    Err(e) => return Err(e),
                }
            }
            match page.get("nextLink").and_then(Value::as_str).filter(|l| !l.is_empty()) {
                Some(next) => {
                    url = next.to_string();
                    first = false;
                }
                None => break,
            }
        }
        instances.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(instances)
    }
}
