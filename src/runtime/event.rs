//! What goes into the reconciler ([`ClusterEvent`]) and what it reports ([`RuntimeEvent`]).

use std::time::Duration;

use crate::backend::{BackendError, Instance, InstanceKey};
use crate::model::{Money, Node, Pod};

/// A change in the cluster, fed to [`Reconciler::handle`](super::Reconciler::handle).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterEvent {
    /// A pod appeared. With `node_name` set to a VM node it is taken as bound there; set to a
    /// burst target's name (or unset) it is pending until placed or adopted.
    PodAdded(Pod),
    /// A pod changed (labels, requests, ...). Its placement is kept.
    PodUpdated(Pod),
    /// A pod is gone (`namespace/name`); its burst instance, if any, is deleted.
    PodDeleted(String),
    /// A VM node appeared.
    NodeAdded(Node),
    /// A VM node changed (allocatable, taints, cordon).
    NodeUpdated(Node),
    /// A VM node is gone; its pods go back to planning.
    NodeRemoved(String),
    /// A backend reported an instance's status (a notification instead of a poll).
    InstanceStatus {
        /// The burst target (backend name) the instance runs on.
        target: String,
        /// The instance as reported.
        instance: Instance,
    },
}

/// Something the reconciler did or saw, stamped with the clock's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeEvent {
    /// When, on the reconciler's clock.
    pub at: Duration,
    /// `namespace/name` of the pod concerned, if any.
    pub pod: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The pod was bound to a VM node.
    Bound {
        /// The node.
        node: String,
    },
    /// Binding failed; the pod is planned again after `retry_in`.
    BindFailed {
        /// The node.
        node: String,
        /// The binder's error.
        error: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// A burst instance was created (or found already created).
    BurstCreated {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
    },
    /// Creating the instance failed; the pod is planned again after `retry_in`.
    CreateFailed {
        /// The burst target.
        target: String,
        /// The backend's error.
        error: BackendError,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// The pod waits (for a new VM node or a target's creation window).
    Waiting {
        /// Why.
        reason: String,
    },
    /// Nothing can take the pod now.
    Unschedulable {
        /// kube-scheduler's diagnosis.
        message: String,
    },
    /// The instance runs.
    InstanceRunning {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
    },
    /// The instance ran to completion.
    InstanceSucceeded {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
    },
    /// The instance failed; it is deleted and the pod planned again after `retry_in`.
    InstanceFailed {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
        /// The backend's reason.
        reason: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// The instance vanished; the pod is planned again after `retry_in`.
    InstanceLost {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// An instance was deleted: an orphan, a leftover of a failure, or the instance of a
    /// deleted or moved pod.
    InstanceDeleted {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
        /// Why it was deleted.
        reason: String,
    },
    /// An instance found on a backend was adopted for its pod.
    Adopted {
        /// The burst target.
        target: String,
        /// The instance key.
        key: InstanceKey,
    },
    /// The pod's VM node disappeared; the pod goes back to planning.
    NodeLost {
        /// The node.
        node: String,
    },
    /// A drain-back move started: capacity on `to_node` is reserved for the pod.
    DrainStarted {
        /// The burst target the pod runs on.
        from_target: String,
        /// The VM node it moves to.
        to_node: String,
        /// What the move saves per hour.
        savings_per_hour: Money,
    },
    /// The eviction of a pod being drained back was refused; retried after `retry_in`.
    EvictionRefused {
        /// Why.
        reason: String,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// A drain-back move completed: the burst instance is deleted and the pod bound to the
    /// reserved node.
    Drained {
        /// The burst target it ran on.
        from_target: String,
        /// The VM node it runs on now.
        to_node: String,
    },
    /// A drain-back move was given up before the eviction; the pod stays on its burst target.
    DrainAborted {
        /// Why.
        reason: String,
    },
    /// A pod drained back was deleted before it could be bound (in Kubernetes the eviction
    /// deletes it and its controller creates a replacement): its capacity on `node` stays
    /// reserved for a new pod of the same owner and template for `expires_in`
    /// ([`RuntimeConfig::replacement_wait`](super::RuntimeConfig::replacement_wait)).
    ReplacementAwaited {
        /// The reserved VM node.
        node: String,
        /// `namespace/kind/name` of the owner whose new pod takes the reservation.
        owner: String,
        /// How long the reservation is held.
        expires_in: Duration,
    },
    /// This new pod replaces a pod drained back and deleted: it takes that pod's reservation
    /// and is bound to the reserved node (a [`Drained`](Self::Drained) event follows the bind).
    ReplacementMatched {
        /// `namespace/name` of the pod it replaces.
        replaces: String,
        /// The reserved VM node.
        node: String,
    },
    /// A reservation held for a replacement was released unused (recorded on the deleted pod).
    ReservationReleased {
        /// The VM node that was reserved.
        node: String,
        /// Why: no replacement came in time, or the node was removed.
        reason: String,
    },
    /// The binder reported the pod gone (deleted, or replaced by a pod of the same name): it
    /// is forgotten as if deleted; a replacement arrives as a new pod.
    PodGone {
        /// The binder's answer.
        reason: String,
    },
    /// The cluster state could not be turned into a snapshot (e.g. a node named like a burst
    /// target); nothing was planned this step.
    SnapshotRejected {
        /// The snapshot's error.
        error: String,
    },
    /// A backend call failed outside a pod's own create (list, delete).
    BackendError {
        /// The burst target.
        target: String,
        /// The operation (`list`, `delete <key>`).
        operation: String,
        /// The backend's error.
        error: BackendError,
    },
}
