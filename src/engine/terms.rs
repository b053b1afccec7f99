//! Inter-pod terms compiled once: the selector merged with `matchLabelKeys` /
//! `mismatchLabelKeys`, and the namespaces a term applies to.

use crate::model::{LabelSelector, LabelSelectorRequirement, Labels, Pod, PodAffinityTerm, SelectorOperator};

use super::matchers::{Matcher, Part, Scope};

/// A pod (anti-)affinity term of one pod, ready to match other pods.
#[derive(Debug, Clone)]
pub(crate) struct Term<'a> {
    /// The label selector with the owner's `matchLabelKeys`/`mismatchLabelKeys` merged in;
    /// `None` selects no pod.
    selector: Option<LabelSelector>,
    /// Explicit namespaces.
    namespaces: &'a [String],
    /// Namespaces selected by labels.
    namespace_selector: Option<&'a LabelSelector>,
    /// The owner's namespace, used when neither of the above is given.
    owner_namespace: &'a str,
    /// The topology key.
    pub(crate) topology_key: &'a str,
    /// The weight (preferred terms) or `hardPodAffinityWeight` (required terms in scoring).
    pub(crate) weight: i64,
}

impl<'a> Term<'a> {
    pub(crate) fn new(term: &'a PodAffinityTerm, owner: &'a Pod, weight: i64) -> Term<'a> {
        let selector = term.label_selector.as_ref().map(|sel| {
            let mut sel = sel.clone();
            let merge = |keys: &[String], operator, sel: &mut LabelSelector| {
                for key in keys {
                    if let Some(value) = owner.labels.get(key) {
                        sel.match_expressions.push(LabelSelectorRequirement {
                            key: key.clone(),
                            operator,
                            values: vec![value.clone()],
                        });
                    }
                }
            };
            merge(&term.match_label_keys, SelectorOperator::In, &mut sel);
            merge(&term.mismatch_label_keys, SelectorOperator::NotIn, &mut sel);
            sel
        });
        Term {
            selector,
            namespaces: &term.namespaces,
            namespace_selector: term.namespace_selector.as_ref(),
            owner_namespace: &owner.namespace,
            topology_key: &term.topology_key,
            weight,
        }
    }

    /// Whether `pod` (whose namespace carries `namespace_labels`) is one of the pods this term
    /// is about: in one of its namespaces, and matching its selector.
    pub(crate) fn matches(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        let in_namespace = if self.namespaces.is_empty() && self.namespace_selector.is_none() {
            pod.namespace == self.owner_namespace
        } else {
            self.namespaces.contains(&pod.namespace)
                || self.namespace_selector.is_some_and(|s| s.matches(namespace_labels))
        };
        in_namespace && self.selector.as_ref().is_some_and(|s| s.matches(&pod.labels))
    }
}

/// What a term's selector requires of a pod's labels, to narrow the pods worth matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pin<'t> {
    /// The term selects no pod (no selector).
    Nothing,
    /// Every pod the term selects carries this label `(key, value)`.
    Label(&'t str, &'t str),
    /// No single label is required.
    Any,
}

impl Term<'_> {
    /// A label every pod this term selects must carry, if its selector pins one.
    pub(crate) fn pin(&self) -> Pin<'_> {
        let Some(s) = self.selector.as_ref() else { return Pin::Nothing };
        if let Some((k, v)) = s.match_labels.iter().next() {
            return Pin::Label(k, v);
        }
        s.match_expressions
            .iter()
            .find(|r| r.operator == SelectorOperator::In && r.values.len() == 1)
            .map_or(Pin::Any, |r| Pin::Label(&r.key, &r.values[0]))
    }

    /// The term as a matcher part (for per-node counts).
    pub(crate) fn part(&self) -> Part {
        let scope = if self.namespaces.is_empty() && self.namespace_selector.is_none() {
            Scope::Namespace(self.owner_namespace.to_string())
        } else {
            Scope::Namespaces { names: self.namespaces.to_vec(), selector: self.namespace_selector.cloned() }
        };
        Part { scope, selector: self.selector.clone(), empty_selects_none: false }
    }
}

/// A matcher for the pods that match every one of `terms`.
pub(crate) fn matcher_of(terms: &[Term<'_>]) -> Matcher {
    Matcher { parts: terms.iter().map(Term::part).collect() }
}

/// The compiled inter-pod terms of one pod.
#[derive(Debug, Clone, Default)]
pub(crate) struct PodTerms<'a> {
    pub(crate) required_affinity: Vec<Term<'a>>,
    pub(crate) required_anti_affinity: Vec<Term<'a>>,
    pub(crate) preferred_affinity: Vec<Term<'a>>,
    pub(crate) preferred_anti_affinity: Vec<Term<'a>>,
}

impl<'a> PodTerms<'a> {
    /// Compiles `pod`'s terms; `hard_weight` is the InterPodAffinity `hardPodAffinityWeight`
    /// given to its required affinity terms when they are scored.
    pub(crate) fn new(pod: &'a Pod, hard_weight: i64) -> PodTerms<'a> {
        if !pod.has_inter_pod_terms() {
            return PodTerms::default();
        }
        let required = |terms: &'a [PodAffinityTerm]| terms.iter().map(|t| Term::new(t, pod, hard_weight)).collect();
        let preferred = |terms: &'a [crate::model::WeightedPodAffinityTerm]| {
            terms.iter().map(|t| Term::new(&t.pod_affinity_term, pod, i64::from(t.weight))).collect()
        };
        PodTerms {
            required_affinity: required(&pod.pod_affinity.required),
            required_anti_affinity: required(&pod.pod_anti_affinity.required),
            preferred_affinity: preferred(&pod.pod_affinity.preferred),
            preferred_anti_affinity: preferred(&pod.pod_anti_affinity.preferred),
        }
    }

    /// Every term: required affinity, required anti-affinity, preferred affinity, preferred
    /// anti-affinity.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Term<'a>> {
        self.required_affinity
            .iter()
            .chain(&self.required_anti_affinity)
            .chain(&self.preferred_affinity)
            .chain(&self.preferred_anti_affinity)
    }

    /// True when the pod has no inter-pod terms at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }
}
