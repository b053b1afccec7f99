//! Conversion of Kubernetes objects (`k8s-openapi` types) into spillway's model.
//!
//! [`pod_from_k8s`] turns a `v1` `Pod` into the scheduling view [`Pod`](crate::Pod), and
//! [`node_from_k8s`] a `v1` `Node` into a [`Node`](crate::Node). Both apply the defaulting the
//! API server applies when the object is created, so a manifest converts the same as the stored
//! object:
//!
//! - a container resource with a limit but no request requests its limit;
//! - with `hostNetwork: true`, a container port without `hostPort` claims its `containerPort`
//!   on the host;
//! - the namespace defaults to `default`, a toleration's operator to `Equal`, a port's protocol
//!   to `TCP`.
//!
//! Other mappings worth knowing:
//!
//! - `uid` is `metadata.uid`, or `namespace/name` when the object has none;
//! - `creation_order` is `metadata.creationTimestamp` in unix milliseconds, or 0 when absent (the
//!   [scenario loader](crate::scenario) orders such pods by document instead);
//! - `priority` is `spec.priority`, or 0 when unset (the scenario loader resolves
//!   `priorityClassName`; a live API server has already done so);
//! - init containers with `restartPolicy: Always` are sidecars; host ports come from app
//!   containers and sidecars, not from regular init containers (as kube-scheduler's NodePorts);
//! - `owner_kind` is the kind of the owner reference with `controller: true`;
//! - a node's allocatable is `status.allocatable`, or `status.capacity` when that is absent; its
//!   hourly cost is the annotation [`HOURLY_COST_ANNOTATION`] (a decimal such as `"0.192"`).
//!
//! Anything spillway cannot represent is an error naming the object and the field, never a
//! silent default: unknown operators and taint effects, malformed quantities, out-of-range host
//! ports, a missing name, and scheduling features spillway cannot honour (`spec.schedulingGates`,
//! `spec.resourceClaims`, pod-level `spec.resources`).
//!
//! ```
//! use k8s_openapi::api::core::v1 as k;
//! use spillway::k8s::pod_from_k8s;
//!
//! let pod: k::Pod = serde_json::from_str(r#"{
//!     "metadata": {"name": "web", "namespace": "shop"},
//!     "spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}}]}
//! }"#)?;
//! let pod = pod_from_k8s(&pod)?;
//! assert_eq!(pod.key(), "shop/web");
//! assert_eq!(pod.requests().cpu_millis, 500); // the request defaults to the limit
//!
//! let bad: k::Pod = serde_json::from_str(r#"{
//!     "metadata": {"name": "web"},
//!     "spec": {"containers": [{"name": "app"}], "tolerations": [{"key": "a", "operator": "Matches"}]}
//! }"#)?;
//! assert_eq!(
//!     pod_from_k8s(&bad).unwrap_err().to_string(),
//!     r#"pod default/web: spec.tolerations[0].operator: unknown operator "Matches" (use Equal, Exists, Gt or Lt)"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "backend")]
mod burst_spec;
mod error;
mod node;
mod pod;
mod selector;

use k8s_openapi::api::core::v1 as k;

#[cfg(feature = "backend")]
#[cfg_attr(docsrs, doc(cfg(feature = "backend")))]
pub use burst_spec::burst_spec_from_k8s;
pub use error::{ConversionError, ConversionProblem};
pub use node::HOURLY_COST_ANNOTATION;
pub use pod::{IPV6_ONLY_ANNOTATION, LIFETIME_ANNOTATION, MAX_WAIT_ANNOTATION};

pub(crate) use pod::{DEFAULT_NAMESPACE, convert as convert_pod, resources, tolerations};
pub(crate) use selector::{Ctx, label_selector};

/// How a pod is named in conversion errors: `pod <namespace>/<name>`.
pub(crate) fn pod_object_name(pod: &k::Pod) -> String {
    let ns = pod.metadata.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(DEFAULT_NAMESPACE);
    let name = pod.metadata.name.as_deref().filter(|n| !n.is_empty()).unwrap_or("<unnamed>");
    format!("pod {ns}/{name}")
}

/// Converts a Kubernetes `v1` `Pod` into the scheduling view (see the [module docs](self) for
/// the mapping and the defaulting applied).
///
/// # Errors
///
/// A [`ConversionError`] naming the pod and the field, for anything spillway cannot represent.
pub fn pod_from_k8s(pod: &k::Pod) -> Result<crate::Pod, ConversionError> {
    let object = pod_object_name(pod);
    pod::convert(&Ctx { object: &object }, pod)
}

/// Converts a Kubernetes `v1` `Node` (see the [module docs](self) for the mapping).
///
/// # Errors
///
/// A [`ConversionError`] naming the node and the field: a missing name, a malformed quantity,
/// an unknown taint effect or a malformed [`HOURLY_COST_ANNOTATION`].
///
/// ```
/// use k8s_openapi::api::core::v1 as k;
/// let node: k::Node = serde_json::from_str(r#"{
///     "metadata": {"name": "vm-1", "annotations": {"spillway.rs/hourly-cost": "0.192"}},
///     "spec": {"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]},
///     "status": {"allocatable": {"cpu": "3920m", "memory": "14Gi", "pods": "110"}}
/// }"#)?;
/// let node = spillway::k8s::node_from_k8s(&node)?;
/// assert_eq!((node.allocatable.cpu_millis, node.allocatable.pods), (3920, 110));
/// assert_eq!(node.hourly_cost.map(|m| m.micros()), Some(192_000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn node_from_k8s(node: &k::Node) -> Result<crate::Node, ConversionError> {
    let object = format!("node {}", node.metadata.name.as_deref().filter(|n| !n.is_empty()).unwrap_or("<unnamed>"));
    node::convert(&Ctx { object: &object }, node)
}

impl TryFrom<&k::Pod> for crate::Pod {
    type Error = ConversionError;

    /// See [`pod_from_k8s`].
    fn try_from(pod: &k::Pod) -> Result<crate::Pod, ConversionError> {
        pod_from_k8s(pod)
    }
}

impl TryFrom<&k::Node> for crate::Node {
    type Error = ConversionError;

    /// See [`node_from_k8s`].
    fn try_from(node: &k::Node) -> Result<crate::Node, ConversionError> {
        node_from_k8s(node)
    }
}
