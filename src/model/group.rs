//! Co-scheduled pod groups (gang scheduling): placed all-or-nothing.

use serde::{Deserialize, Serialize};

/// The pod label naming a pod's group (the scheduler-plugins coscheduling convention).
pub const POD_GROUP_LABEL: &str = "scheduling.x-k8s.io/pod-group";

/// A group of pods that is placed all-or-nothing: at least `min_member` of its pending pods
/// get places that satisfy every rule together, or none of them is placed.
///
/// Pods join a group through the label [`POD_GROUP_LABEL`] (`scheduling.x-k8s.io/pod-group:
/// <name>`) in the group's namespace. Pods carrying the label of a group that the snapshot does
/// not describe form a group whose `min_member` is the number of its pending pods.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodGroup {
    /// Namespace of the group and its pods.
    pub namespace: String,
    /// Group name (the label value).
    pub name: String,
    /// How many members must be placed for any to be placed.
    pub min_member: u32,
}

impl PodGroup {
    /// A group `namespace/name` needing `min_member` members.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, min_member: u32) -> PodGroup {
        PodGroup { namespace: namespace.into(), name: name.into(), min_member }
    }
}
