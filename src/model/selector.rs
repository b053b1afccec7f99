//! Label selectors and node selectors, with Kubernetes matching semantics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels of an object: key → value.
pub type Labels = BTreeMap<String, String>;

/// Operator of a [`LabelSelectorRequirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The label is present and its value is one of `values`.
    In,
    /// The label is absent, or its value is none of `values`.
    NotIn,
    /// The label is present (any value).
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One requirement of a [`LabelSelector`]'s `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// How the label is compared with `values`.
    pub operator: SelectorOperator,
    /// Values for `In` and `NotIn`; empty for `Exists` and `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelectorRequirement {
    /// Whether `labels` satisfy this requirement. A requirement whose values do not fit its
    /// operator (`In` without values, `Exists` with values) matches nothing, as in Kubernetes.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => !self.values.is_empty() && value.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => !self.values.is_empty() && value.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => self.values.is_empty() && value.is_some(),
            SelectorOperator::DoesNotExist => self.values.is_empty() && value.is_none(),
        }
    }
}

/// A Kubernetes label selector: `matchLabels` and `matchExpressions`, all ANDed. An empty
/// selector matches every object (a *missing* selector, where the API allows one, matches none:
/// model that as `Option<LabelSelector>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact key = value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: Labels,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// Whether `labels` satisfy every part of the selector.
    ///
    /// ```
    /// use spillway::model::{LabelSelector, Labels};
    /// let sel = LabelSelector { match_labels: [("app".to_string(), "web".to_string())].into(), ..Default::default() };
    /// let labels: Labels = [("app".to_string(), "web".to_string()), ("tier".to_string(), "fe".to_string())].into();
    /// assert!(sel.matches(&labels));
    /// assert!(LabelSelector::default().matches(&Labels::new()));
    /// ```
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// Operator of a [`NodeSelectorRequirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeSelectorOperator {
    /// The label is present and its value is one of `values`.
    In,
    /// The label is absent, or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value, read as an integer, is greater than the single value.
    Gt,
    /// The label's value, read as an integer, is less than the single value.
    Lt,
}

/// One requirement of a [`NodeSelectorTerm`] (`matchExpressions` over labels or `matchFields`
/// over `metadata.name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// The label key (or `metadata.name` in `matchFields`).
    pub key: String,
    /// How the value is compared with `values`.
    pub operator: NodeSelectorOperator,
    /// The values to compare with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl NodeSelectorRequirement {
    /// Whether the requirement is well formed: `In`/`NotIn` need values, `Exists`/`DoesNotExist`
    /// take none, `Gt`/`Lt` take exactly one integer, and every value is a valid label value.
    /// Kubernetes treats a term holding an invalid requirement as matching no node.
    pub fn is_valid(&self) -> bool {
        let values_ok = self.values.iter().all(|v| is_label_value(v));
        values_ok
            && match self.operator {
                NodeSelectorOperator::In | NodeSelectorOperator::NotIn => !self.values.is_empty(),
                NodeSelectorOperator::Exists | NodeSelectorOperator::DoesNotExist => self.values.is_empty(),
                NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => {
                    self.values.len() == 1 && self.values[0].parse::<i64>().is_ok()
                }
            }
    }

    /// Whether a label value (`None` when the key is absent) satisfies this requirement.
    /// Assumes [`is_valid`](Self::is_valid); an invalid requirement may match anything here.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            NodeSelectorOperator::In => value.is_some_and(has),
            NodeSelectorOperator::NotIn => value.is_none_or(|v| !has(v)),
            NodeSelectorOperator::Exists => value.is_some(),
            NodeSelectorOperator::DoesNotExist => value.is_none(),
            NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => {
                let (Some(v), Some(bound)) = (value, self.values.first()) else { return false };
                match (v.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(v), Ok(b)) if self.operator == NodeSelectorOperator::Gt => v > b,
                    (Ok(v), Ok(b)) => v < b,
                    _ => false,
                }
            }
        }
    }
}

/// Whether `v` is a valid Kubernetes label value: at most 63 characters, empty or beginning and
/// ending with an alphanumeric character, with `-`, `_` and `.` allowed in between.
pub(crate) fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    if b.is_empty() {
        return true;
    }
    b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Whether `key` is a valid Kubernetes label key: an optional DNS-subdomain prefix (at most 253
/// characters) and `/`, then a name of at most 63 characters that begins and ends with an
/// alphanumeric character, with `-`, `_` and `.` in between.
pub(crate) fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty() && is_label_value(name);
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                let b = part.as_bytes();
                !b.is_empty()
                    && b.len() <= 63
                    && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                    && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                    && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            })
    });
    name_ok && prefix_ok
}

/// A node selector term: every expression and field requirement must hold (AND). A term with
/// no requirements matches no node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields; only `metadata.name` with `In`/`NotIn` is supported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// Whether the term is well formed (see [`NodeSelectorRequirement::is_valid`]); field
    /// requirements must use key `metadata.name` with `In` or `NotIn` and exactly one value.
    pub fn is_valid(&self) -> bool {
        self.match_expressions.iter().all(|r| is_label_key(&r.key) && r.is_valid())
            && self.match_fields.iter().all(|f| {
                f.key == "metadata.name"
                    && matches!(f.operator, NodeSelectorOperator::In | NodeSelectorOperator::NotIn)
                    && f.values.len() == 1
            })
    }

    /// Whether a node with this name and labels satisfies the term (Kubernetes semantics: an
    /// empty or invalid term matches nothing).
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        if !self.is_valid() {
            return false;
        }
        self.matches_valid(node_name, labels)
    }

    /// [`matches`](Self::matches) for a term already known to be non-empty and valid (the
    /// engine checks terms once per pod, not once per node).
    pub(crate) fn matches_valid(&self, node_name: &str, labels: &Labels) -> bool {
        self.match_expressions.iter().all(|r| r.matches_value(labels.get(&r.key).map(String::as_str)))
            && self.match_fields.iter().all(|r| r.matches_value(Some(node_name)))
    }

    /// Whether the term can match anything: it has requirements and all are well formed.
    pub(crate) fn is_usable(&self) -> bool {
        !(self.match_expressions.is_empty() && self.match_fields.is_empty()) && self.is_valid()
    }
}

/// A required node selector: the terms are ORed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// The terms; a node must match at least one. No terms matches no node.
    #[serde(default)]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

impl NodeSelector {
    /// Whether a node with this name and labels matches any term.
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.node_selector_terms.iter().any(|t| t.matches(node_name, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, operator: NodeSelectorOperator, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement { key: key.into(), operator, values: values.iter().map(|v| v.to_string()).collect() }
    }

    #[test]
    fn node_selector_operators() {
        use NodeSelectorOperator::*;
        let l = labels(&[("zone", "a"), ("gen", "5"), ("name", "x")]);
        let cases = [
            (req("zone", In, &["a", "b"]), true),
            (req("zone", In, &["b"]), false),
            (req("missing", In, &["a"]), false),
            (req("zone", NotIn, &["b"]), true),
            (req("zone", NotIn, &["a"]), false),
            (req("missing", NotIn, &["a"]), true),
            (req("zone", Exists, &[]), true),
            (req("missing", Exists, &[]), false),
            (req("zone", DoesNotExist, &[]), false),
            (req("missing", DoesNotExist, &[]), true),
            (req("gen", Gt, &["4"]), true),
            (req("gen", Gt, &["5"]), false),
            (req("gen", Lt, &["6"]), true),
            (req("gen", Lt, &["5"]), false),
            (req("name", Gt, &["1"]), false),
            (req("missing", Lt, &["1"]), false),
        ];
        for (r, want) in cases {
            let term = NodeSelectorTerm { match_expressions: vec![r.clone()], match_fields: vec![] };
            assert_eq!(term.matches("n", &l), want, "{r:?}");
        }
    }

    #[test]
    fn invalid_terms_match_nothing() {
        use NodeSelectorOperator::*;
        let l = labels(&[("zone", "a")]);
        for r in [
            req("zone", In, &[]),
            req("zone", Exists, &["a"]),
            req("zone", Gt, &["x"]),
            req("zone", Gt, &["1", "2"]),
            req("zone", NotIn, &["invalid value"]),
            req("bad key!", DoesNotExist, &[]),
            req("Example.com/zone", Exists, &[]),
        ] {
            let term = NodeSelectorTerm { match_expressions: vec![r.clone()], match_fields: vec![] };
            assert!(!term.matches("n", &l), "{r:?}");
        }
        assert!(!NodeSelectorTerm::default().matches("n", &l));
        assert!(!NodeSelector::default().matches("n", &l));
    }

    #[test]
    fn match_fields_on_name_and_or_of_terms() {
        use NodeSelectorOperator::*;
        let by_name =
            NodeSelectorTerm { match_expressions: vec![], match_fields: vec![req("metadata.name", In, &["n1"])] };
        let by_zone = NodeSelectorTerm { match_expressions: vec![req("zone", In, &["b"])], match_fields: vec![] };
        let sel = NodeSelector { node_selector_terms: vec![by_name.clone(), by_zone] };
        assert!(sel.matches("n1", &labels(&[])));
        assert!(sel.matches("n2", &labels(&[("zone", "b")])));
        assert!(!sel.matches("n2", &labels(&[("zone", "a")])));
        let bad_field =
            NodeSelectorTerm { match_expressions: vec![], match_fields: vec![req("metadata.uid", In, &["n1"])] };
        assert!(!bad_field.matches("n1", &labels(&[])));
    }

    #[test]
    fn label_selector_operators() {
        use SelectorOperator::*;
        let l = labels(&[("app", "web")]);
        let r = |key: &str, operator, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert!(r("app", In, &["web"]).matches(&l));
        assert!(!r("app", In, &[]).matches(&l));
        assert!(r("tier", NotIn, &["x"]).matches(&l));
        assert!(!r("app", NotIn, &["web"]).matches(&l));
        assert!(r("app", Exists, &[]).matches(&l));
        assert!(r("tier", DoesNotExist, &[]).matches(&l));
        let sel =
            LabelSelector { match_labels: labels(&[("app", "web")]), match_expressions: vec![r("tier", Exists, &[])] };
        assert!(!sel.matches(&l));
    }

    #[test]
    fn unknown_operator_is_a_serde_error() {
        let err = serde_json::from_str::<NodeSelectorRequirement>(r#"{"key":"a","operator":"Near","values":["x"]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("Near"), "{err}");
    }
}
