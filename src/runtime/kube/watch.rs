//! [`ClusterWatch`]: watched Pods and Nodes (kube-runtime's [`watcher::Event`]s) as the
//! reconciler's [`ClusterEvent`]s.

use std::collections::BTreeSet;

use ::kube::runtime::watcher;
use k8s_openapi::api::core::v1 as k;

use crate::k8s::{ConversionError, node_from_k8s, pod_from_k8s};
use crate::runtime::ClusterEvent;

/// The scheduler name spillway answers to by default (`spec.schedulerName: spillway`).
pub const SCHEDULER_NAME: &str = "spillway";

/// The label of virtual-kubelet nodes (`type: virtual-kubelet`), which [`ClusterWatch`]
/// leaves out by default: burst targets are served by backends, not by nodes.
pub const VIRTUAL_KUBELET_LABEL: (&str, &str) = ("type", "virtual-kubelet");

/// A watched object that cannot be converted into the model. The object is left out (a pod
/// already known keeps its last good version), so the reconciler never sees half an object;
/// report it (log it, or post a Kubernetes Event) so its owner can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// A pod spillway cannot represent.
    #[error("watched pod {pod} left out: {source}")]
    Pod {
        /// `namespace/name`.
        pod: String,
        /// What is wrong with it.
        #[source]
        source: ConversionError,
    },
    /// A node spillway cannot represent.
    #[error("watched node {node} left out: {source}")]
    Node {
        /// Its name.
        node: String,
        /// What is wrong with it.
        #[source]
        source: ConversionError,
    },
}

/// Turns kube-runtime watcher events for Pods and Nodes into [`ClusterEvent`]s, keeping what
/// it has passed on so that updates, deletions and relists come out right.
///
/// Pods:
/// - a pod bound to a node (`spec.nodeName`), whoever bound it, is passed on: it occupies
///   capacity;
/// - an unbound pod is passed on (to be placed) only when its `spec.schedulerName` is
///   spillway's ([`SCHEDULER_NAME`] by default); other schedulers' pending pods are left alone;
/// - a pod that finished (`status.phase` `Succeeded` or `Failed`) frees its capacity, and an
///   unbound pod being deleted (`metadata.deletionTimestamp`) is not placed any more: both are
///   passed on as deleted (which also deletes a burst instance the pod may have).
///
/// Nodes: every node, except those labelled [`VIRTUAL_KUBELET_LABEL`] (by default).
///
/// The first sighting of an object is `PodAdded`/`NodeAdded`, later ones `PodUpdated`/
/// `NodeUpdated`. After a relist (`Init` … `InitApply` … `InitDone`, as after a restarted
/// watch), objects passed on before but absent from the listing are passed on as deleted.
/// An object that fails conversion is a [`WatchError`] in the output, in order with the
/// events; nothing is dropped silently and nothing panics.
///
/// ```
/// use k8s_openapi::api::core::v1 as k;
/// use kube::runtime::watcher::Event;
/// use spillway::runtime::ClusterEvent;
/// use spillway::runtime::kube::ClusterWatch;
///
/// let mut watch = ClusterWatch::new();
/// let pod: k::Pod = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1"},
///     "spec": {"schedulerName": "spillway", "containers": [{"name": "app"}]}
/// }))?;
/// let out = watch.pod_event(Event::Apply(pod.clone()));
/// assert!(matches!(&out[..], [Ok(ClusterEvent::PodAdded(p))] if p.key() == "shop/web-0"));
///
/// // A relist that no longer holds the pod: it was deleted while the watch was down.
/// let mut out = watch.pod_event(Event::Init);
/// out.extend(watch.pod_event(Event::InitDone));
/// assert_eq!(out, vec![Ok(ClusterEvent::PodDeleted("shop/web-0".into()))]);
///
/// // Another scheduler's pending pod is not spillway's to place.
/// let mut other = pod;
/// other.spec.as_mut().unwrap().scheduler_name = Some("default-scheduler".into());
/// assert!(watch.pod_event(Event::Apply(other)).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClusterWatch {
    scheduler_name: String,
    ignored_nodes: Option<(String, String)>,
    pods: BTreeSet<String>,
    nodes: BTreeSet<String>,
    /// During a pod relist: the pods listed so far.
    pod_relist: Option<BTreeSet<String>>,
    /// During a node relist: the nodes listed so far.
    node_relist: Option<BTreeSet<String>>,
}

impl Default for ClusterWatch {
    fn default() -> ClusterWatch {
        ClusterWatch::new()
    }
}

/// What to do with a watched pod.
enum PodInterest {
    /// Pass it on (bound somewhere, or pending for spillway).
    Track,
    /// Not (or no longer) spillway's concern: forget it.
    Drop,
}

impl ClusterWatch {
    /// A watch for pods with `schedulerName: spillway`, leaving out virtual-kubelet nodes.
    pub fn new() -> ClusterWatch {
        ClusterWatch {
            scheduler_name: SCHEDULER_NAME.to_string(),
            ignored_nodes: Some((VIRTUAL_KUBELET_LABEL.0.to_string(), VIRTUAL_KUBELET_LABEL.1.to_string())),
            pods: BTreeSet::new(),
            nodes: BTreeSet::new(),
            pod_relist: None,
            node_relist: None,
        }
    }

    /// Places the pending pods that name `name` as their `spec.schedulerName`.
    pub fn with_scheduler_name(mut self, name: impl Into<String>) -> ClusterWatch {
        self.scheduler_name = name.into();
        self
    }

    /// Leaves out the nodes labelled `key: value` (`None`: keep every node). Default:
    /// [`VIRTUAL_KUBELET_LABEL`].
    pub fn with_ignored_nodes(mut self, label: Option<(String, String)>) -> ClusterWatch {
        self.ignored_nodes = label;
        self
    }

    /// The scheduler name whose pending pods are passed on.
    pub fn scheduler_name(&self) -> &str {
        &self.scheduler_name
    }

    /// The pods passed on and not deleted since (`namespace/name`).
    pub fn pods(&self) -> impl Iterator<Item = &str> + '_ {
        self.pods.iter().map(String::as_str)
    }

    /// The nodes passed on and not deleted since.
    pub fn nodes(&self) -> impl Iterator<Item = &str> + '_ {
        self.nodes.iter().map(String::as_str)
    }

    /// The [`ClusterEvent`]s (or conversion errors) for one pod watcher event.
    pub fn pod_event(&mut self, event: watcher::Event<k::Pod>) -> Vec<Result<ClusterEvent, WatchError>> {
        let mut out = Vec::new();
        match event {
            watcher::Event::Apply(pod) => self.apply_pod(&pod, &mut out),
            watcher::Event::Delete(pod) => {
                let key = pod_key(&pod);
                if self.pods.remove(&key) {
                    out.push(Ok(ClusterEvent::PodDeleted(key)));
                }
            }
            watcher::Event::Init => self.pod_relist = Some(BTreeSet::new()),
            watcher::Event::InitApply(pod) => {
                if let Some(seen) = &mut self.pod_relist {
                    seen.insert(pod_key(&pod));
                }
                self.apply_pod(&pod, &mut out);
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.pod_relist.take() {
                    let gone: Vec<String> = self.pods.difference(&seen).cloned().collect();
                    for key in gone {
                        self.pods.remove(&key);
                        out.push(Ok(ClusterEvent::PodDeleted(key)));
                    }
                }
            }
        }
        out
    }

    /// The [`ClusterEvent`]s (or conversion errors) for one node watcher event.
    pub fn node_event(&mut self, event: watcher::Event<k::Node>) -> Vec<Result<ClusterEvent, WatchError>> {
        let mut out = Vec::new();
        match event {
            watcher::Event::Apply(node) => self.apply_node(&node, &mut out),
            watcher::Event::Delete(node) => {
                let name = node.metadata.name.clone().unwrap_or_default();
                if self.nodes.remove(&name) {
                    out.push(Ok(ClusterEvent::NodeRemoved(name)));
                }
            }
            watcher::Event::Init => self.node_relist = Some(BTreeSet::new()),
            watcher::Event::InitApply(node) => {
                if let Some(seen) = &mut self.node_relist {
                    seen.insert(node.metadata.name.clone().unwrap_or_default());
                }
                self.apply_node(&node, &mut out);
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.node_relist.take() {
                    let gone: Vec<String> = self.nodes.difference(&seen).cloned().collect();
                    for name in gone {
                        self.nodes.remove(&name);
                        out.push(Ok(ClusterEvent::NodeRemoved(name)));
                    }
                }
            }
        }
        out
    }

    fn pod_interest(&self, pod: &k::Pod) -> PodInterest {
        let finished =
            pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| p == "Succeeded" || p == "Failed");
        if finished {
            return PodInterest::Drop;
        }
        let spec = pod.spec.as_ref();
        let bound = spec.and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
        // An unset schedulerName is the default scheduler's.
        let ours = spec.and_then(|s| s.scheduler_name.as_deref()).is_some_and(|n| n == self.scheduler_name);
        // A pod being deleted is not placed any more; bound, it holds its node until it is gone.
        let deleting = pod.metadata.deletion_timestamp.is_some();
        if bound || (ours && !deleting) { PodInterest::Track } else { PodInterest::Drop }
    }

    fn apply_pod(&mut self, pod: &k::Pod, out: &mut Vec<Result<ClusterEvent, WatchError>>) {
        let key = pod_key(pod);
        match self.pod_interest(pod) {
            PodInterest::Drop => {
                if self.pods.remove(&key) {
                    out.push(Ok(ClusterEvent::PodDeleted(key)));
                }
            }
            PodInterest::Track => match pod_from_k8s(pod) {
                Ok(model) => {
                    if self.pods.insert(key) {
                        out.push(Ok(ClusterEvent::PodAdded(model)));
                    } else {
                        out.push(Ok(ClusterEvent::PodUpdated(model)));
                    }
                }
                Err(source) => out.push(Err(WatchError::Pod { pod: key, source })),
            },
        }
    }

    fn apply_node(&mut self, node: &k::Node, out: &mut Vec<Result<ClusterEvent, WatchError>>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let ignored = self.ignored_nodes.as_ref().is_some_and(|(key, value)| {
            node.metadata.labels.as_ref().and_then(|l| l.get(key)).is_some_and(|v| v == value)
        });
        if ignored {
            if self.nodes.remove(&name) {
                out.push(Ok(ClusterEvent::NodeRemoved(name)));
            }
            return;
        }
        match node_from_k8s(node) {
            Ok(model) => {
                if self.nodes.insert(name) {
                    out.push(Ok(ClusterEvent::NodeAdded(model)));
                } else {
                    out.push(Ok(ClusterEvent::NodeUpdated(model)));
                }
            }
            Err(source) => {
                let node = if name.is_empty() { "<unnamed>".to_string() } else { name };
                out.push(Err(WatchError::Node { node, source }));
            }
        }
    }
}

/// `namespace/name` of a watched pod, as [`Pod::key`](crate::Pod::key) names it.
fn pod_key(pod: &k::Pod) -> String {
    let ns = pod.metadata.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(crate::k8s::DEFAULT_NAMESPACE);
    format!("{ns}/{}", pod.metadata.name.as_deref().unwrap_or_default())
}
