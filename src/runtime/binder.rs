//! Binding pods to VM nodes and evicting them: the [`NodeBinder`] trait and the in-memory
//! [`MemoryBinder`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::Pod;

/// Why a bind or an eviction failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The eviction was refused, e.g. by a PodDisruptionBudget. Retry later; never force it.
    #[error("eviction of {pod} refused: {reason}")]
    Refused {
        /// `namespace/name` of the pod.
        pod: String,
        /// Why (the budget that refused it).
        reason: String,
    },
    /// The pod is already bound to another node.
    #[error("pod {pod} is already bound to node {node:?}")]
    Conflict {
        /// `namespace/name` of the pod.
        pod: String,
        /// The node it is bound to.
        node: String,
    },
    /// The pod does not exist any more.
    #[error("pod {pod} not found")]
    NotFound {
        /// `namespace/name` of the pod.
        pod: String,
    },
    /// The request was rejected as invalid (an API server's `400` or `422`): repeating it will
    /// not help. A bind so rejected did not happen; the reconciler plans the pod again after
    /// its backoff.
    #[error("the request for pod {pod} was rejected: {message}")]
    Rejected {
        /// `namespace/name` of the pod.
        pod: String,
        /// Why, as the API server said.
        message: String,
    },
    /// A failure that retrying may cure (API server unavailable, timeout).
    #[error("transient failure for pod {pod}: {message}")]
    Transient {
        /// `namespace/name` of the pod.
        pod: String,
        /// What went wrong.
        message: String,
    },
}

/// Binds pods to VM nodes and evicts them: the cluster side of the runtime (in Kubernetes,
/// `pods/binding` and the Eviction API, which honours PodDisruptionBudgets).
///
/// Implementations are `Send + Sync` and shared as `Arc<dyn NodeBinder>`.
#[async_trait]
pub trait NodeBinder: Send + Sync + fmt::Debug {
    /// Binds `pod` to the VM node `node`. Binding a pod again to the node it is bound to is
    /// success.
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), BindError>;

    /// Evicts `pod` (it stops running where it runs; its controller recreates it). An eviction
    /// refused by a disruption budget is [`BindError::Refused`]; it is retried later, never
    /// forced.
    async fn evict(&self, pod: &Pod) -> Result<(), BindError>;

    /// The pods bound to VM nodes, `namespace/name` → node name: the binder's view of the
    /// cluster, read by [`Reconciler::recover`](super::Reconciler::recover).
    async fn bindings(&self) -> Result<BTreeMap<String, String>, BindError>;
}

/// An in-memory [`NodeBinder`] for tests, with scripted eviction refusals and bind failures.
///
/// ```
/// use spillway::Pod;
/// use spillway::runtime::{BindError, MemoryBinder, NodeBinder};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let binder = MemoryBinder::new();
/// let pod = Pod::new("shop", "web-0");
/// binder.bind(&pod, "vm-1").await?;
/// assert_eq!(binder.node_of("shop/web-0").as_deref(), Some("vm-1"));
/// binder.refuse_evictions("shop/web-0", 1, "pdb web allows 0 disruptions");
/// assert!(matches!(binder.evict(&pod).await, Err(BindError::Refused { .. })));
/// binder.evict(&pod).await?;
/// assert_eq!(binder.node_of("shop/web-0"), None);
/// assert_eq!(binder.evictions(), ["shop/web-0"]);
/// # Ok::<(), BindError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryBinder {
    state: Mutex<BinderState>,
}

#[derive(Debug, Default)]
struct BinderState {
    bindings: BTreeMap<String, String>,
    refusals: BTreeMap<String, (u32, String)>,
    bind_failures: VecDeque<BindError>,
    bind_timeouts: u32,
    evictions: Vec<String>,
    calls: Vec<String>,
}

impl MemoryBinder {
    /// A binder with no bindings.
    pub fn new() -> MemoryBinder {
        MemoryBinder::default()
    }

    fn lock(&self) -> MutexGuard<'_, BinderState> {
        // A poisoned lock only means a test panicked while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `pod` (`namespace/name`) as bound to `node`, as if bound before the runtime
    /// started.
    pub fn insert(&self, pod: impl Into<String>, node: impl Into<String>) {
        self.lock().bindings.insert(pod.into(), node.into());
    }

    /// The next `n` evictions of `pod` (`namespace/name`) are refused with `reason`.
    pub fn refuse_evictions(&self, pod: impl Into<String>, n: u32, reason: impl Into<String>) {
        self.lock().refusals.insert(pod.into(), (n, reason.into()));
    }

    /// The next binds fail with these errors, one each.
    pub fn fail_next_binds(&self, errors: impl IntoIterator<Item = BindError>) {
        self.lock().bind_failures.extend(errors);
    }

    /// The next `n` binds bind the pod but answer with a transient timeout (the outcome is
    /// in doubt for the caller).
    pub fn time_out_next_binds(&self, n: u32) {
        self.lock().bind_timeouts += n;
    }

    /// The node `pod` (`namespace/name`) is bound to.
    pub fn node_of(&self, pod: &str) -> Option<String> {
        self.lock().bindings.get(pod).cloned()
    }

    /// Every binding, `namespace/name` → node.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.lock().bindings.clone()
    }

    /// The pods evicted so far, in order.
    pub fn evictions(&self) -> Vec<String> {
        self.lock().evictions.clone()
    }

    /// The calls received so far, as `bind <pod> <node>`, `evict <pod>`, `bindings`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Forgets every binding to `node`, as when the node is deleted and its pods with it.
    pub fn remove_node(&self, node: &str) {
        self.lock().bindings.retain(|_, n| n != node);
    }

    /// Forgets `pod` (`namespace/name`), as when it is deleted.
    pub fn remove(&self, pod: &str) {
        self.lock().bindings.remove(pod);
    }
}

#[async_trait]
impl NodeBinder for MemoryBinder {
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), BindError> {
        let key = pod.key();
        let mut s = self.lock();
        s.calls.push(format!("bind {key} {node}"));
        if let Some(err) = s.bind_failures.pop_front() {
            return Err(err);
        }
        match s.bindings.get(&key) {
            Some(bound) if bound != node => Err(BindError::Conflict { pod: key, node: bound.clone() }),
            _ => {
                s.bindings.insert(key.clone(), node.to_string());
                if s.bind_timeouts > 0 {
                    s.bind_timeouts -= 1;
                    return Err(BindError::Transient { pod: key, message: "timed out (the pod was bound)".into() });
                }
                Ok(())
            }
        }
    }

    async fn evict(&self, pod: &Pod) -> Result<(), BindError> {
        let key = pod.key();
        let mut s = self.lock();
        s.calls.push(format!("evict {key}"));
        if let Some((n, reason)) = s.refusals.get_mut(&key)
            && *n > 0
        {
            *n -= 1;
            return Err(BindError::Refused { pod: key, reason: reason.clone() });
        }
        s.bindings.remove(&key);
        s.evictions.push(key);
        Ok(())
    }

    async fn bindings(&self) -> Result<BTreeMap<String, String>, BindError> {
        let mut s = self.lock();
        s.calls.push("bindings".into());
        Ok(s.bindings.clone())
    }
}
