//! Instance keys, create requests, instances and their status.

use std::fmt;

use sha2::{Digest, Sha256};

use super::spec::BurstPodSpec;
use crate::model::{InstanceSize, Pod};

/// The key of a burst instance: derived from the pod's uid, so creating the same pod twice
/// names the same instance.
///
/// It reads `{namespace}-{name}-{hash}`: the pod's namespace and name lowercased, characters
/// other than `a-z0-9-` replaced by `-`, shortened so the whole key has at most 63 characters,
/// followed by 10 hex digits of the SHA-256 of the uid. It is a valid DNS label and a valid ACI
/// container group name whatever the pod's names are.
///
/// ```
/// use spillway::backend::InstanceKey;
/// let key = InstanceKey::for_pod("shop", "web-0", "6f1e0c9a-1111-2222-3333-444455556666");
/// assert!(key.as_str().starts_with("shop-web-0-"));
/// assert_eq!(key.as_str().len(), "shop-web-0-".len() + 10);
/// let long = InstanceKey::for_pod(&"n".repeat(63), &"p".repeat(253), "uid");
/// assert!(long.as_str().len() <= 63);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceKey(String);

/// Longest instance key (ACI's container group name limit).
pub const MAX_KEY_LEN: usize = 63;
const HASH_LEN: usize = 10;

impl InstanceKey {
    /// The key of the pod `namespace/name` with this uid.
    pub fn for_pod(namespace: &str, name: &str, uid: &str) -> InstanceKey {
        let digest = Sha256::digest(uid.as_bytes());
        let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..HASH_LEN].to_string();
        let mut prefix = String::new();
        let mut last_dash = true;
        for ch in format!("{namespace}-{name}").chars() {
            let ch = ch.to_ascii_lowercase();
            let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() { ch } else { '-' };
            if ch == '-' && last_dash {
                continue;
            }
            last_dash = ch == '-';
            prefix.push(ch);
        }
        prefix.truncate(MAX_KEY_LEN - HASH_LEN - 1);
        let prefix = prefix.trim_end_matches('-');
        if prefix.is_empty() { InstanceKey(format!("p-{hash}")) } else { InstanceKey(format!("{prefix}-{hash}")) }
    }

    /// A key from its text, when it is a valid key (1–63 characters of `a-z0-9-`, not starting
    /// or ending with `-`).
    pub fn parse(text: &str) -> Option<InstanceKey> {
        let valid = !text.is_empty()
            && text.len() <= MAX_KEY_LEN
            && !text.starts_with('-')
            && !text.ends_with('-')
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| InstanceKey(text.to_string()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pod an instance belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
}

impl PodRef {
    /// The pod's reference.
    pub fn of(pod: &Pod) -> PodRef {
        PodRef { namespace: pod.namespace.clone(), name: pod.name.clone(), uid: pod.uid.clone() }
    }

    /// The instance key of this pod.
    pub fn key(&self) -> InstanceKey {
        InstanceKey::for_pod(&self.namespace, &self.name, &self.uid)
    }
}

/// A request to run one pod on a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The instance key (from the pod's uid).
    pub key: InstanceKey,
    /// The pod.
    pub pod: PodRef,
    /// The size the plan chose (`Outcome::Burst::instance`): the group's total, at least.
    pub size: InstanceSize,
    /// The containers and how to run them.
    pub spec: BurstPodSpec,
}

impl CreateRequest {
    /// A request for `pod` at `size` (from the plan's [`Outcome::Burst`](crate::Outcome::Burst))
    /// running `spec`.
    pub fn new(pod: &Pod, size: InstanceSize, spec: BurstPodSpec) -> CreateRequest {
        let pod = PodRef::of(pod);
        CreateRequest { key: pod.key(), pod, size, spec }
    }
}

/// Where an instance is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstanceStatus {
    /// Accepted, not yet running (provisioning, pulling images, starting).
    Pending,
    /// Running.
    Running,
    /// Ran to completion.
    Succeeded,
    /// Failed, with the backend's reason (image pull failure, exit code, eviction, ...).
    Failed {
        /// Why.
        reason: String,
    },
    /// A state spillway does not know, as the backend wrote it.
    Unknown {
        /// The backend's state.
        state: String,
    },
}

impl InstanceStatus {
    /// Whether the instance will not change state by itself any more (succeeded or failed).
    pub fn is_terminal(&self) -> bool {
        matches!(self, InstanceStatus::Succeeded | InstanceStatus::Failed { .. })
    }
}

/// A burst instance as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its key.
    pub key: InstanceKey,
    /// The pod it runs.
    pub pod: PodRef,
    /// Its size (total requests).
    pub size: InstanceSize,
    /// Its status.
    pub status: InstanceStatus,
}
