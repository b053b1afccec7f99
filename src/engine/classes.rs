//! Equivalence classes: pods of one template share the results of the filters and scores that
//! do not depend on placements.
//!
//! NodeUnschedulable, NodeName, TaintToleration and NodeAffinity read only the node and the
//! pod's node selector, node affinity, tolerations and node name; so do the raw TaintToleration
//! and NodeAffinity scores. Pods that agree on those (replicas of a Deployment, say) form a
//! class whose per-node results are computed once per placement run and reused, as Borg's
//! equivalence classes do. Dynamic filters (resources, ports, inter-pod rules) still run per pod.

use super::fxhash::FxHashMap as HashMap;
use std::cell::OnceCell;
use std::rc::Rc;

use crate::model::{FilterPlugin, Labels, NodeAffinity, Pod, Toleration};

use super::reasons::ReasonId;

/// No static filter failed on the node.
pub(crate) const PASS: u8 = u8::MAX;

/// Most classes kept per run; pods of further classes are evaluated without the cache.
const MAX_CLASSES: usize = 4096;

/// Whether `plugin` is static: its verdict depends only on the node and the class key.
pub(crate) fn is_static(plugin: FilterPlugin) -> bool {
    matches!(
        plugin,
        FilterPlugin::NodeUnschedulable
            | FilterPlugin::NodeName
            | FilterPlugin::TaintToleration
            | FilterPlugin::NodeAffinity
    )
}

/// What makes two pods equivalent for the static filters and scores.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClassKey {
    node_selector: Labels,
    node_affinity: NodeAffinity,
    tolerations: Vec<Toleration>,
    node_name: Option<String>,
}

/// The static results of one class, per node.
#[derive(Debug)]
pub(crate) struct Class {
    /// Position in the profile's filter list of the first static filter that fails ([`PASS`]
    /// when none does).
    pub(crate) fail_at: Vec<u8>,
    /// The reason of that failure.
    pub(crate) fail_reason: Vec<ReasonId>,
    /// Raw TaintToleration scores, computed on first use.
    pub(crate) taint_raw: OnceCell<Vec<i64>>,
    /// Raw NodeAffinity scores, computed on first use.
    pub(crate) affinity_raw: OnceCell<Vec<i64>>,
}

/// The hash of `pod`'s class key, computed on the pod's own fields.
fn key_hash(pod: &Pod) -> u64 {
    use std::hash::BuildHasher;
    std::hash::BuildHasherDefault::<super::fxhash::FxHasher>::default().hash_one((
        &pod.node_selector,
        &pod.node_affinity,
        &pod.tolerations,
        &pod.node_name,
    ))
}

/// Whether `key` is `pod`'s class key.
fn same(key: &ClassKey, pod: &Pod) -> bool {
    key.node_selector == pod.node_selector
        && key.node_affinity == pod.node_affinity
        && key.tolerations == pod.tolerations
        && key.node_name == pod.node_name
}

/// The classes of one placement run.
#[derive(Debug, Default)]
pub(crate) struct Classes {
    /// The classes by the hash of their key (so a pod's key is hashed and compared where it
    /// lies, not cloned), with the keys.
    map: HashMap<u64, Vec<(ClassKey, Rc<Class>)>>,
    len: usize,
}

impl Classes {
    /// Whether `pod`'s class is built.
    pub(crate) fn contains(&self, pod: &Pod) -> bool {
        let hash = key_hash(pod);
        self.map.get(&hash).is_some_and(|bucket| bucket.iter().any(|(k, _)| same(k, pod)))
    }

    /// The class of `pod`, built with `build` on first use (`None` once the cache is full).
    pub(crate) fn get(&mut self, pod: &Pod, build: impl FnOnce() -> Class) -> Option<Rc<Class>> {
        let hash = key_hash(pod);
        if let Some((_, class)) = self.map.get(&hash).and_then(|bucket| bucket.iter().find(|(k, _)| same(k, pod))) {
            return Some(Rc::clone(class));
        }
        if self.len >= MAX_CLASSES {
            return None;
        }
        let key = ClassKey {
            node_selector: pod.node_selector.clone(),
            node_affinity: pod.node_affinity.clone(),
            tolerations: pod.tolerations.clone(),
            node_name: pod.node_name.clone(),
        };
        let class = Rc::new(build());
        self.map.entry(hash).or_default().push((key, Rc::clone(&class)));
        self.len += 1;
        Some(class)
    }
}
