//! Per-node counts of the pods a rule selects, kept up to date as placements are assumed.
//!
//! Inter-pod affinity and topology spread need, for every pending pod, how many placed pods in
//! each topology domain match some selector. Instead of matching every placed pod against the
//! selector again for every pending pod, the cluster keeps, per distinct [`Matcher`], a count
//! per node, built on first use and updated incrementally by each assumed placement (and each
//! rollback). A pod of the same template as the previous one finds its counts ready.

use super::fxhash::FxHashMap as HashMap;

use crate::model::{LabelSelector, Labels, Pod, SelectorOperator};

/// Which namespaces a matcher part covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// Exactly this namespace.
    Namespace(String),
    /// These namespaces, or those whose labels match the selector.
    Namespaces { names: Vec<String>, selector: Option<LabelSelector> },
}

/// One condition of a matcher: a namespace scope and a label selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Part {
    pub(crate) scope: Scope,
    /// `None` selects no pod.
    pub(crate) selector: Option<LabelSelector>,
    /// Topology spread counts no pod for an empty selector (`{}`); affinity terms count all.
    pub(crate) empty_selects_none: bool,
}

impl Part {
    fn matches(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        let in_scope = match &self.scope {
            Scope::Namespace(ns) => pod.namespace == *ns,
            Scope::Namespaces { names, selector } => {
                names.contains(&pod.namespace) || selector.as_ref().is_some_and(|s| s.matches(namespace_labels))
            }
        };
        in_scope
            && self.selector.as_ref().is_some_and(|s| {
                let empty = s.match_labels.is_empty() && s.match_expressions.is_empty();
                !(empty && self.empty_selects_none) && s.matches(&pod.labels)
            })
    }

    /// A label `(key, value)` every matching pod carries, if the selector pins one.
    pub(crate) fn pinned_label(&self) -> Option<(String, String)> {
        let s = self.selector.as_ref()?;
        if let Some((k, v)) = s.match_labels.iter().next() {
            return Some((k.clone(), v.clone()));
        }
        s.match_expressions
            .iter()
            .find(|r| r.operator == SelectorOperator::In && r.values.len() == 1)
            .map(|r| (r.key.clone(), r.values[0].clone()))
    }
}

/// Pods matching every part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Matcher {
    pub(crate) parts: Vec<Part>,
}

impl Matcher {
    pub(crate) fn matches(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        !self.parts.is_empty() && self.parts.iter().all(|p| p.matches(pod, namespace_labels))
    }
}

/// The counts of every matcher used so far in one placement run.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    ids: HashMap<Matcher, usize>,
    /// Per matcher: the matcher, its count per node, and the nodes whose count is not zero
    /// (in no particular order).
    entries: Vec<(Matcher, Vec<u32>, Vec<u32>)>,
    /// Matchers by a label their pods must carry (key → value → matchers); others are always
    /// checked.
    by_label: HashMap<String, HashMap<String, Vec<usize>>>,
    always: Vec<usize>,
}

impl Counts {
    /// The id of `matcher`'s counts, building them with `build` on first use (the counts per
    /// node, and the nodes whose count is not zero).
    pub(crate) fn id(&mut self, matcher: &Matcher, build: impl FnOnce(&Matcher) -> (Vec<u32>, Vec<u32>)) -> usize {
        if let Some(&id) = self.ids.get(matcher) {
            return id;
        }
        let id = self.entries.len();
        let (counts, nonzero) = build(matcher);
        match matcher.parts.iter().find_map(Part::pinned_label) {
            Some((key, value)) => self.by_label.entry(key).or_default().entry(value).or_default().push(id),
            None => self.always.push(id),
        }
        self.ids.insert(matcher.clone(), id);
        self.entries.push((matcher.clone(), counts, nonzero));
        id
    }

    /// Whether no matcher is counted yet (placements then change nothing here).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The per-node counts of matcher `id`.
    pub(crate) fn get(&self, id: usize) -> &[u32] {
        &self.entries[id].1
    }

    /// The nodes where matcher `id` counts a pod.
    pub(crate) fn nonzero(&self, id: usize) -> &[u32] {
        &self.entries[id].2
    }

    /// Adds `delta` (±1) on `node` to every matcher that selects `pod`.
    pub(crate) fn update(&mut self, pod: &Pod, namespace_labels: &Labels, node: usize, delta: i32) {
        let Counts { entries, by_label, always, .. } = self;
        let mut touch = |id: usize| {
            let (m, counts, nonzero) = &mut entries[id];
            if m.matches(pod, namespace_labels) {
                let before = counts[node];
                counts[node] = before.saturating_add_signed(delta);
                if before == 0 && counts[node] > 0 {
                    nonzero.push(node as u32);
                } else if before > 0
                    && counts[node] == 0
                    && let Some(i) = nonzero.iter().position(|&n| n as usize == node)
                {
                    nonzero.swap_remove(i);
                }
            }
        };
        for id in always.iter().copied() {
            touch(id);
        }
        for (k, v) in &pod.labels {
            if let Some(ids) = by_label.get(k.as_str()).and_then(|values| values.get(v.as_str())) {
                for id in ids.iter().copied() {
                    touch(id);
                }
            }
        }
    }
}
