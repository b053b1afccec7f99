//! Metrics and log events derived from the reconciler's [`RuntimeEvent`]s, through the
//! [`metrics`] facade and [`tracing`].
//!
//! The reconciler writes every event it records through one function here, the one place
//! counters are incremented and tracing events logged, so the event log, the counters and the
//! logs never disagree. Gauges (burst spend, pods by placement) are set from the reconciler's
//! state at the end of every step. The names are listed, with their labels, in the
//! [runtime module docs](super#observability); [`describe_metrics`] registers their
//! descriptions with the installed recorder.
//!
//! Nothing here logs a pod's spec: images, commands and environment values (secrets among them)
//! never reach an event, a span or a label.

use crate::backend::BackendError;
use crate::model::Money;

use super::event::{EventKind, RuntimeEvent};

/// Counter: placement decisions carried out, by `kind`: `node` (a bind, including the final bind
/// of a drain-back), `burst` (an instance created), `wait`, `unschedulable` (a pod entering that
/// state).
pub const PLACEMENTS_TOTAL: &str = "spillway_placements_total";
/// Counter: instances of unplaced pods found on a backend and adopted, by `backend`.
pub const ADOPTIONS_TOTAL: &str = "spillway_adoptions_total";
/// Counter: burst instances that started running, by `backend`.
pub const INSTANCES_STARTED_TOTAL: &str = "spillway_instances_started_total";
/// Counter: burst instances that ran to completion, by `backend`.
pub const INSTANCES_SUCCEEDED_TOTAL: &str = "spillway_instances_succeeded_total";
/// Counter: burst instances deleted (orphans, leftovers, drained-back pods), by `backend`.
pub const INSTANCES_DELETED_TOTAL: &str = "spillway_instances_deleted_total";
/// Counter: pods planned again because their instance failed or vanished, by `backend` and
/// `reason` (`failed`, `lost`).
pub const FAILOVERS_TOTAL: &str = "spillway_failovers_total";
/// Counter: pods planned again because their VM node disappeared.
pub const NODE_LOSSES_TOTAL: &str = "spillway_node_losses_total";
/// Counter: failed binds (retried with backoff).
pub const BIND_FAILURES_TOTAL: &str = "spillway_bind_failures_total";
/// Counter: backend calls that failed, by `backend`, `operation` (`create`, `list`, `delete`) and
/// `kind` (`quota`, `throttled`, `invalid_spec`, `not_found`, `auth`, `transient`).
pub const BACKEND_ERRORS_TOTAL: &str = "spillway_backend_errors_total";
/// Counter: drain-back moves started (capacity reserved on a VM node).
pub const DRAIN_BACKS_STARTED_TOTAL: &str = "spillway_drain_backs_started_total";
/// Counter: drain-back moves completed (instance deleted, pod bound to its VM node).
pub const DRAIN_BACKS_TOTAL: &str = "spillway_drain_backs_total";
/// Counter: drain-back moves given up (too many refused evictions, node removed, shutdown).
pub const DRAIN_BACKS_ABORTED_TOTAL: &str = "spillway_drain_backs_aborted_total";
/// Counter: evictions refused by a disruption budget and retried later (the refusal that gives
/// a move up counts in [`DRAIN_BACKS_ABORTED_TOTAL`] instead).
pub const EVICTIONS_REFUSED_TOTAL: &str = "spillway_evictions_refused_total";
/// Counter: steps in which the cluster state could not be turned into a snapshot.
pub const SNAPSHOT_REJECTIONS_TOTAL: &str = "spillway_snapshot_rejections_total";
/// Counter: reconcile steps run.
pub const RECONCILES_TOTAL: &str = "spillway_reconciles_total";
/// Gauge: the summed hourly cost, in currency units (dollars for ACI), of the instances of the
/// pods bursting (or moving back) now, at the end of the last step.
pub const BURST_SPEND_PER_HOUR: &str = "spillway_burst_spend_per_hour";
/// Gauge: pods by `placement` (`pending`, `bound`, `bursting`, `waiting`, `unschedulable`,
/// `moving`), at the end of the last step.
pub const PODS: &str = "spillway_pods";

/// Registers the descriptions (and units) of every metric with the installed recorder; call it
/// once after installing one (exporters show them as `# HELP`).
///
/// ```
/// spillway::runtime::telemetry::describe_metrics(); // no recorder installed: a no-op
/// ```
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(PLACEMENTS_TOTAL, Unit::Count, "Placement decisions carried out, by kind.");
    describe_counter!(ADOPTIONS_TOTAL, Unit::Count, "Instances of unplaced pods adopted.");
    describe_counter!(INSTANCES_STARTED_TOTAL, Unit::Count, "Burst instances that started running.");
    describe_counter!(INSTANCES_SUCCEEDED_TOTAL, Unit::Count, "Burst instances that ran to completion.");
    describe_counter!(INSTANCES_DELETED_TOTAL, Unit::Count, "Burst instances deleted.");
    describe_counter!(FAILOVERS_TOTAL, Unit::Count, "Pods planned again after their instance failed or vanished.");
    describe_counter!(NODE_LOSSES_TOTAL, Unit::Count, "Pods planned again after their VM node disappeared.");
    describe_counter!(BIND_FAILURES_TOTAL, Unit::Count, "Failed binds.");
    describe_counter!(BACKEND_ERRORS_TOTAL, Unit::Count, "Failed backend calls, by operation and error kind.");
    describe_counter!(DRAIN_BACKS_STARTED_TOTAL, Unit::Count, "Drain-back moves started.");
    describe_counter!(DRAIN_BACKS_TOTAL, Unit::Count, "Drain-back moves completed.");
    describe_counter!(DRAIN_BACKS_ABORTED_TOTAL, Unit::Count, "Drain-back moves given up.");
    describe_counter!(EVICTIONS_REFUSED_TOTAL, Unit::Count, "Evictions refused by a disruption budget.");
    describe_counter!(SNAPSHOT_REJECTIONS_TOTAL, Unit::Count, "Steps whose cluster state made no snapshot.");
    describe_counter!(RECONCILES_TOTAL, Unit::Count, "Reconcile steps run.");
    describe_gauge!(BURST_SPEND_PER_HOUR, "Hourly cost of the instances of the pods bursting now.");
    describe_gauge!(PODS, Unit::Count, "Pods by placement.");
}

/// The `kind` label of a backend error.
pub(crate) fn error_kind(error: &BackendError) -> &'static str {
    match error {
        BackendError::Quota { .. } => "quota",
        BackendError::Throttled { .. } => "throttled",
        BackendError::InvalidSpec { .. } => "invalid_spec",
        BackendError::NotFound { .. } => "not_found",
        BackendError::Auth { .. } => "auth",
        BackendError::Transient { .. } => "transient",
    }
}

/// Counts `event` and logs it (within the current span). The one place counters move.
pub(crate) fn emit(event: &RuntimeEvent) {
    use metrics::counter;
    let pod = event.pod.as_deref().unwrap_or("");
    match &event.kind {
        EventKind::Bound { node } => {
            counter!(PLACEMENTS_TOTAL, "kind" => "node").increment(1);
            tracing::info!(pod, node = node.as_str(), "bound");
        }
        EventKind::BindFailed { node, error, retry_in } => {
            counter!(BIND_FAILURES_TOTAL).increment(1);
            tracing::warn!(pod, node = node.as_str(), error = error.as_str(), retry_in = ?retry_in, "bind failed");
        }
        EventKind::BurstCreated { target, key } => {
            counter!(PLACEMENTS_TOTAL, "kind" => "burst").increment(1);
            tracing::info!(pod, backend = target.as_str(), instance = %key, "burst instance created");
        }
        EventKind::CreateFailed { target, error, retry_in } => {
            backend_error(target, "create", error);
            tracing::warn!(pod, backend = target.as_str(), error = %error, retry_in = ?retry_in, "create failed");
        }
        EventKind::Waiting { reason } => {
            counter!(PLACEMENTS_TOTAL, "kind" => "wait").increment(1);
            tracing::info!(pod, reason = reason.as_str(), "waiting");
        }
        EventKind::Unschedulable { message } => {
            counter!(PLACEMENTS_TOTAL, "kind" => "unschedulable").increment(1);
            tracing::info!(pod, message = message.as_str(), "unschedulable");
        }
        EventKind::InstanceRunning { target, key } => {
            counter!(INSTANCES_STARTED_TOTAL, "backend" => target.clone()).increment(1);
            tracing::info!(pod, backend = target.as_str(), instance = %key, "instance running");
        }
        EventKind::InstanceSucceeded { target, key } => {
            counter!(INSTANCES_SUCCEEDED_TOTAL, "backend" => target.clone()).increment(1);
            tracing::info!(pod, backend = target.as_str(), instance = %key, "instance succeeded");
        }
        EventKind::InstanceFailed { target, key, reason, retry_in } => {
            counter!(FAILOVERS_TOTAL, "backend" => target.clone(), "reason" => "failed").increment(1);
            tracing::warn!(
                pod,
                backend = target.as_str(),
                instance = %key,
                reason = reason.as_str(),
                retry_in = ?retry_in,
                "instance failed; failing over"
            );
        }
        EventKind::InstanceLost { target, key, retry_in } => {
            counter!(FAILOVERS_TOTAL, "backend" => target.clone(), "reason" => "lost").increment(1);
            tracing::warn!(pod, backend = target.as_str(), instance = %key, retry_in = ?retry_in, "instance lost; failing over");
        }
        EventKind::InstanceDeleted { target, key, reason } => {
            counter!(INSTANCES_DELETED_TOTAL, "backend" => target.clone()).increment(1);
            tracing::info!(pod, backend = target.as_str(), instance = %key, reason = reason.as_str(), "instance deleted");
        }
        EventKind::Adopted { target, key } => {
            counter!(ADOPTIONS_TOTAL, "backend" => target.clone()).increment(1);
            tracing::info!(pod, backend = target.as_str(), instance = %key, "instance adopted");
        }
        EventKind::NodeLost { node } => {
            counter!(NODE_LOSSES_TOTAL).increment(1);
            tracing::warn!(pod, node = node.as_str(), "node lost");
        }
        EventKind::DrainStarted { from_target, to_node, savings_per_hour } => {
            counter!(DRAIN_BACKS_STARTED_TOTAL).increment(1);
            tracing::info!(
                pod,
                backend = from_target.as_str(),
                node = to_node.as_str(),
                savings_per_hour = %savings_per_hour,
                "drain-back started"
            );
        }
        EventKind::EvictionRefused { reason, retry_in } => {
            counter!(EVICTIONS_REFUSED_TOTAL).increment(1);
            tracing::info!(pod, reason = reason.as_str(), retry_in = ?retry_in, "eviction refused");
        }
        EventKind::Drained { from_target, to_node } => {
            counter!(DRAIN_BACKS_TOTAL).increment(1);
            tracing::info!(pod, backend = from_target.as_str(), node = to_node.as_str(), "drained back");
        }
        EventKind::DrainAborted { reason } => {
            counter!(DRAIN_BACKS_ABORTED_TOTAL).increment(1);
            tracing::info!(pod, reason = reason.as_str(), "drain-back aborted");
        }
        EventKind::ReplacementAwaited { node, owner, expires_in } => {
            tracing::info!(pod, node = node.as_str(), owner = owner.as_str(), expires_in = ?expires_in, "replacement awaited");
        }
        EventKind::ReplacementMatched { replaces, node } => {
            tracing::info!(pod, replaces = replaces.as_str(), node = node.as_str(), "replacement matched");
        }
        EventKind::ReservationReleased { node, reason } => {
            tracing::info!(pod, node = node.as_str(), reason = reason.as_str(), "reservation released");
        }
        EventKind::PodGone { reason } => {
            tracing::info!(pod, reason = reason.as_str(), "pod gone");
        }
        EventKind::SnapshotRejected { error } => {
            counter!(SNAPSHOT_REJECTIONS_TOTAL).increment(1);
            tracing::error!(error = error.as_str(), "snapshot rejected");
        }
        EventKind::BackendError { target, operation, error } => {
            let op = operation.split_whitespace().next().unwrap_or(operation);
            backend_error(target, op, error);
            tracing::warn!(backend = target.as_str(), operation = operation.as_str(), error = %error, "backend call failed");
        }
    }
}

fn backend_error(target: &str, operation: &str, error: &BackendError) {
    metrics::counter!(
        BACKEND_ERRORS_TOTAL,
        "backend" => target.to_string(),
        "operation" => operation.to_string(),
        "kind" => error_kind(error),
    )
    .increment(1);
}

/// Pods by placement, for [`PODS`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PodCounts {
    pub(crate) pending: usize,
    pub(crate) bound: usize,
    pub(crate) bursting: usize,
    pub(crate) waiting: usize,
    pub(crate) unschedulable: usize,
    pub(crate) moving: usize,
}

/// Counts a reconcile step, at its start.
pub(crate) fn step_started() {
    metrics::counter!(RECONCILES_TOTAL).increment(1);
}

/// Sets the gauges; called at the end of every reconcile step (and of `recover` and
/// `shutdown`).
pub(crate) fn publish_gauges(spend: Money, pods: PodCounts) {
    use metrics::gauge;
    gauge!(BURST_SPEND_PER_HOUR).set(spend.micros() as f64 / 1_000_000.0);
    for (placement, n) in [
        ("pending", pods.pending),
        ("bound", pods.bound),
        ("bursting", pods.bursting),
        ("waiting", pods.waiting),
        ("unschedulable", pods.unschedulable),
        ("moving", pods.moving),
    ] {
        gauge!(PODS, "placement" => placement).set(n as f64);
    }
}
