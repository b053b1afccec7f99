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
    taint_raw: OnceCell<Vec<i64>>,
    /// Raw NodeAffinity scores, computed on first use.
    affinity_raw: OnceCell<Vec<i64>>,
    /// The nodes that look alike to the class (`None`: every node is evaluated).
    profiles: Option<Profiles>,
}

impl Class {
    /// A class from its static verdicts on every node, and the profiles they were computed
    /// with (if any), which the raw scores use too.
    pub(crate) fn new(fail_at: Vec<u8>, fail_reason: Vec<ReasonId>, profiles: Option<Profiles>) -> Class {
        Class { fail_at, fail_reason, taint_raw: OnceCell::new(), affinity_raw: OnceCell::new(), profiles }
    }

    /// Raw TaintToleration scores of the `nodes` nodes, computed with `score` on first use.
    pub(crate) fn taint_raw(&self, nodes: usize, score: impl Fn(usize) -> i64) -> &[i64] {
        self.taint_raw.get_or_init(|| self.per_node(nodes, score))
    }

    /// Raw NodeAffinity scores of the `nodes` nodes, computed with `score` on first use.
    pub(crate) fn affinity_raw(&self, nodes: usize, score: impl Fn(usize) -> i64) -> &[i64] {
        self.affinity_raw.get_or_init(|| self.per_node(nodes, score))
    }

    /// `f` of every node, computed once per profile when the class has profiles.
    fn per_node<T: Copy>(&self, nodes: usize, f: impl Fn(usize) -> T) -> Vec<T> {
        match &self.profiles {
            Some(p) => p.per_node(f),
            None => (0..nodes).map(f).collect(),
        }
    }
}

/// The nodes grouped by what a class's static filters and raw scores read of them: their
/// values of the label keys the class's node selector and node affinity name, their taints
/// and whether they are cordoned. Nodes of one profile get the same verdicts and raw scores,
/// so each profile is evaluated once, on its first node (on a real cluster the profiles are
/// the node pools per zone: on 50,000 nodes, a few dozen evaluations instead of 50,000).
#[derive(Debug)]
pub(crate) struct Profiles {
    /// Per node, its profile.
    of_node: Vec<u32>,
    /// Per profile, its first node.
    first: Vec<u32>,
}

impl Profiles {
    /// Profiles from `base` (per node, an id of its taints and cordon), refined by each of
    /// `keys` (per node, an id of its value of one label key, or none).
    pub(crate) fn new<'k>(base: &[u32], keys: impl IntoIterator<Item = &'k [u32]>) -> Profiles {
        let mut of_node = base.to_vec();
        for values in keys {
            let mut ids: HashMap<(u32, u32), u32> = HashMap::default();
            for (profile, &value) in of_node.iter_mut().zip(values) {
                let next = ids.len() as u32;
                *profile = *ids.entry((*profile, value)).or_insert(next);
            }
        }
        // Dense ids in order of first node.
        let mut dense: HashMap<u32, u32> = HashMap::default();
        let mut first = Vec::new();
        for (node, profile) in of_node.iter_mut().enumerate() {
            let next = first.len() as u32;
            let id = *dense.entry(*profile).or_insert(next);
            if id == next {
                first.push(node as u32);
            }
            *profile = id;
        }
        Profiles { of_node, first }
    }

    /// `f` of every node, computed on each profile's first node.
    pub(crate) fn per_node<T: Copy>(&self, f: impl Fn(usize) -> T) -> Vec<T> {
        let per: Vec<T> = self.first.iter().map(|&n| f(n as usize)).collect();
        self.of_node.iter().map(|&p| per[p as usize]).collect()
    }
}

/// The node label keys the static filters and raw scores of `pod` read (its node selector,
/// node affinity and the profile's `added` affinity), or `None` when they read node names
/// (`spec.nodeName`, or a `matchFields` term): nodes then differ one by one.
pub(crate) fn static_keys<'a>(pod: &'a Pod, added: Option<&'a NodeAffinity>) -> Option<Vec<&'a str>> {
    if pod.node_name.is_some() {
        return None;
    }
    let mut keys: Vec<&str> = pod.node_selector.keys().map(String::as_str).collect();
    for affinity in std::iter::once(&pod.node_affinity).chain(added) {
        let required = affinity.required.iter().flat_map(|s| s.node_selector_terms.iter());
        for term in required.chain(affinity.preferred.iter().map(|t| &t.preference)) {
            if !term.match_fields.is_empty() {
                return None;
            }
            keys.extend(term.match_expressions.iter().map(|r| r.key.as_str()));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    Some(keys)
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
