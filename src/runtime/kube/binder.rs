//! [`KubeBinder`]: a [`NodeBinder`] over the Kubernetes API (`pods/binding` and the Eviction
//! API).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use ::kube::api::{Api, ListParams, PostParams};
use ::kube::core::Status;
use ::kube::{Client, Error};
use async_trait::async_trait;
use k8s_openapi::api::core::v1 as k;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ObjectMeta, Preconditions};

use crate::model::Pod;
use crate::runtime::{BindError, NodeBinder};

/// The field manager the binder's requests name (`?fieldManager=spillway`).
pub const FIELD_MANAGER: &str = "spillway";

/// How many pods one page of [`KubeBinder::bindings`] lists.
const PAGE: u32 = 500;

/// What errors of [`KubeBinder::bindings`] name as their pod.
const ALL_PODS: &str = "(all pods)";

/// A [`NodeBinder`] over the Kubernetes API, through kube-rs:
///
/// - [`bind`](NodeBinder::bind) posts a `v1` `Binding` to `pods/{name}/binding`, with the pod's
///   uid as a precondition (so a replacement pod of the same name is never bound by mistake);
/// - [`evict`](NodeBinder::evict) posts a `policy/v1` `Eviction` to `pods/{name}/eviction`
///   (also with the uid as a precondition), which honours PodDisruptionBudgets;
/// - [`bindings`](NodeBinder::bindings) lists the running pods of every namespace that are
///   bound to a node (`spec.nodeName!=`), page by page.
///
/// Answers map onto [`BindError`] as the [`Reconciler`](crate::runtime::Reconciler) needs them:
///
/// | call | answer | result |
/// |---|---|---|
/// | bind | `201` | `Ok` |
/// | bind | `409` (already bound) | the pod is read back: bound to `node` is `Ok`, to another node [`BindError::Conflict`], replaced or gone [`BindError::NotFound`] |
/// | bind, evict | `404` | [`BindError::NotFound`] |
/// | evict | `201` | `Ok` |
/// | evict | `429` from a disruption budget | [`BindError::Refused`], with the budget's message |
/// | evict | `409` (the uid precondition failed: the pod was replaced) | [`BindError::NotFound`] |
/// | bind, evict | `400`, `422` (invalid) | [`BindError::Rejected`] (a bind is not in doubt: the pod is planned again) |
/// | any | timeout, `5xx`, `429` throttling, connection errors, `401`/`403` and other answers | [`BindError::Transient`] (a bind stays in doubt and is retried to the same node) |
///
/// The API server checks disruption budgets only for running pods: it evicts a `Pending` pod
/// (and one already being deleted) without a check. A burst pod the API server still sees as
/// `Pending` — unbound, as the mock and ACI backends leave it, with no virtual-kubelet provider
/// reporting it `Running` — is therefore drained back without its budget's protection.
///
/// A forbidden answer is transient because the fix (RBAC, see the README) comes from outside
/// and retrying then succeeds; its message names the permission to grant. Every call is
/// bounded by [`timeout`](Self::with_timeout) (30 s by default). The binder never logs or
/// reports credentials: errors carry the API server's status message only.
///
/// ```
/// use spillway::runtime::kube::KubeBinder;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Any tower service speaking HTTP works as a client; a controller uses `Client::try_default()`.
/// let (service, _handle) = tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
/// let client = kube::Client::new(service, "default");
/// let binder = KubeBinder::new(client).with_timeout(std::time::Duration::from_secs(10));
/// assert_eq!(binder.timeout(), std::time::Duration::from_secs(10));
/// # });
/// ```
#[derive(Clone)]
pub struct KubeBinder {
    client: Client,
    timeout: Duration,
}

impl fmt::Debug for KubeBinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client holds credentials: only the settings are shown.
        f.debug_struct("KubeBinder").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl KubeBinder {
    /// A binder over `client`, with a 30 s timeout per call.
    pub fn new(client: Client) -> KubeBinder {
        KubeBinder { client, timeout: Duration::from_secs(30) }
    }

    /// Sets the time limit of each API call; a call that takes longer is
    /// [`BindError::Transient`] (for a bind: in doubt, retried to the same node).
    pub fn with_timeout(mut self, timeout: Duration) -> KubeBinder {
        self.timeout = timeout;
        self
    }

    /// The time limit of each API call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn pods(&self, pod: &Pod) -> Api<k::Pod> {
        Api::namespaced(self.client.clone(), &pod.namespace)
    }

    /// Runs one API call within the timeout.
    async fn call<T>(&self, pod: &str, what: &str, fut: impl Future<Output = Result<T, Error>>) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(Error::Api(status))) => Err(Failure::Api(status)),
            Ok(Err(e)) => Err(Failure::Other(transient(pod, format!("{what}: {}", client_error(&e))))),
            Err(_) => Err(Failure::Other(transient(
                pod,
                format!("{what}: no answer within {:?} (the outcome is unknown)", self.timeout),
            ))),
        }
    }

    /// After a `409` on a bind: reads the pod back to learn where it is bound.
    async fn resolve_conflict(&self, pod: &Pod, node: &str, status: &Status) -> Result<(), BindError> {
        let key = pod.key();
        let api = self.pods(pod);
        let current = match self.call(&key, "reading the pod after a conflicting bind", api.get_opt(&pod.name)).await {
            Ok(p) => p,
            Err(Failure::Api(s)) => return Err(api_error(&key, "reading the pod after a conflicting bind", &s)),
            Err(Failure::Other(e)) => return Err(e),
        };
        let Some(current) = current else { return Err(BindError::NotFound { pod: key }) };
        if let Some(uid) = precondition_uid(pod)
            && current.metadata.uid.as_deref().is_some_and(|u| u != uid)
        {
            // The pod we meant is gone; one of the same name replaced it.
            return Err(BindError::NotFound { pod: key });
        }
        match current.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) {
            Some(bound) if bound == node => Ok(()),
            Some(bound) => Err(BindError::Conflict { pod: key, node: bound }),
            // A conflict on an unbound pod (it was changed meanwhile): try again.
            None => Err(transient(&key, format!("binding conflicted ({}) but the pod is not bound", status.message))),
        }
    }
}

/// A failed call: the API server's answer, or an error already mapped.
enum Failure {
    Api(Box<Status>),
    Other(BindError),
}

fn transient(pod: &str, message: String) -> BindError {
    BindError::Transient { pod: pod.to_string(), message }
}

/// The uid to use as a precondition: the pod's, when it came from the API server (a model pod
/// without one has `namespace/name` as its uid).
fn precondition_uid(pod: &Pod) -> Option<&str> {
    Some(pod.uid.as_str()).filter(|u| !u.is_empty() && *u != pod.key())
}

/// A client-side error, described without the request (which may carry credentials in
/// headers) — kube's errors name the failure, not the headers.
fn client_error(e: &Error) -> String {
    match e {
        Error::SerdeError(e) => format!("unexpected answer from the API server: {e}"),
        other => other.to_string(),
    }
}

/// The API server's message, with its causes.
fn status_message(status: &Status) -> String {
    let mut message = status.message.clone();
    for cause in status.details.iter().flat_map(|d| d.causes.iter()) {
        if !cause.message.is_empty() && !message.contains(&cause.message) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&cause.message);
        }
    }
    if message.is_empty() { format!("{} {}", status.code, status.reason) } else { message }
}

/// Maps an answer that is no special case of the call.
fn api_error(pod: &str, what: &str, status: &Status) -> BindError {
    let message = status_message(status);
    match status.code {
        404 => BindError::NotFound { pod: pod.to_string() },
        400 | 422 => BindError::Rejected { pod: pod.to_string(), message: format!("{what}: {message}") },
        401 => transient(pod, format!("{what}: unauthorized ({message}); check the client's credentials")),
        403 => transient(
            pod,
            format!(
                "{what}: forbidden ({message}); grant the controller's service account the RBAC rules in the README"
            ),
        ),
        code => transient(pod, format!("{what}: the API server answered {code}: {message}")),
    }
}

/// Whether a `429` on an eviction comes from a disruption budget (rather than API throttling).
fn is_budget_refusal(status: &Status) -> bool {
    status.details.iter().flat_map(|d| d.causes.iter()).any(|c| c.reason == "DisruptionBudget")
        || status.message.to_ascii_lowercase().contains("disruption budget")
}

#[async_trait]
impl NodeBinder for KubeBinder {
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), BindError> {
        let key = pod.key();
        let binding = k::Binding {
            metadata: ObjectMeta {
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                uid: precondition_uid(pod).map(str::to_string),
                ..ObjectMeta::default()
            },
            target: k::ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.to_string()),
                ..k::ObjectReference::default()
            },
        };
        let params = PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.into()) };
        let api = self.pods(pod);
        let posted = api.create_subresource::<_, serde_json::Value>("binding", &pod.name, &params, &binding);
        match self.call(&key, "binding", posted).await {
            Ok(_) => Ok(()),
            Err(Failure::Api(status)) if status.code == 409 => self.resolve_conflict(pod, node, &status).await,
            Err(Failure::Api(status)) => Err(api_error(&key, "binding", &status)),
            Err(Failure::Other(e)) => Err(e),
        }
    }

    async fn evict(&self, pod: &Pod) -> Result<(), BindError> {
        let key = pod.key();
        let eviction = Eviction {
            metadata: ObjectMeta {
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                ..ObjectMeta::default()
            },
            delete_options: precondition_uid(pod).map(|uid| DeleteOptions {
                preconditions: Some(Preconditions { uid: Some(uid.to_string()), resource_version: None }),
                ..DeleteOptions::default()
            }),
        };
        let params = PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.into()) };
        let api = self.pods(pod);
        let posted = api.create_subresource::<_, serde_json::Value>("eviction", &pod.name, &params, &eviction);
        match self.call(&key, "eviction", posted).await {
            Ok(_) => Ok(()),
            Err(Failure::Api(status)) if status.code == 429 && is_budget_refusal(&status) => {
                Err(BindError::Refused { pod: key, reason: status_message(&status) })
            }
            // The uid precondition failed: the pod we meant is gone (replaced by another).
            Err(Failure::Api(status)) if status.code == 409 => Err(BindError::NotFound { pod: key }),
            Err(Failure::Api(status)) => Err(api_error(&key, "eviction", &status)),
            Err(Failure::Other(e)) => Err(e),
        }
    }

    async fn bindings(&self) -> Result<BTreeMap<String, String>, BindError> {
        let api: Api<k::Pod> = Api::all(self.client.clone());
        let mut out = BTreeMap::new();
        let mut params =
            ListParams::default().fields("spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed").limit(PAGE);
        loop {
            let page = match self.call(ALL_PODS, "listing bound pods", api.list(&params)).await {
                Ok(page) => page,
                Err(Failure::Api(status)) => return Err(api_error(ALL_PODS, "listing bound pods", &status)),
                Err(Failure::Other(e)) => return Err(e),
            };
            for p in &page.items {
                let (Some(name), Some(node)) =
                    (p.metadata.name.as_deref(), p.spec.as_ref().and_then(|s| s.node_name.as_deref()))
                else {
                    continue;
                };
                if node.is_empty() {
                    continue;
                }
                let ns =
                    p.metadata.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(crate::k8s::DEFAULT_NAMESPACE);
                out.insert(format!("{ns}/{name}"), node.to_string());
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(out),
            }
        }
    }
}
