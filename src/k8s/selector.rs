//! Conversion of selectors, node affinity, inter-pod affinity and topology spread constraints.

use k8s_openapi::api::core::v1 as k;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

use super::error::{ConversionError, ConversionProblem};
use crate::model::{
    InclusionPolicy, LabelSelector, LabelSelectorRequirement, NodeAffinity, NodeSelector, NodeSelectorOperator,
    NodeSelectorRequirement, NodeSelectorTerm, PodAffinity, PodAffinityTerm, PreferredSchedulingTerm, SelectorOperator,
    TopologySpreadConstraint, WeightedPodAffinityTerm, WhenUnsatisfiable,
};

/// Names the object being converted in errors.
pub(crate) struct Ctx<'a> {
    pub(crate) object: &'a str,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, field: impl Into<String>, problem: ConversionProblem) -> ConversionError {
        ConversionError::new(self.object, field, problem)
    }
}

const NODE_OPERATORS: &str = "In, NotIn, Exists, DoesNotExist, Gt or Lt";
const LABEL_OPERATORS: &str = "In, NotIn, Exists or DoesNotExist";

fn node_operator(ctx: &Ctx<'_>, field: &str, op: &str) -> Result<NodeSelectorOperator, ConversionError> {
    Ok(match op {
        "In" => NodeSelectorOperator::In,
        "NotIn" => NodeSelectorOperator::NotIn,
        "Exists" => NodeSelectorOperator::Exists,
        "DoesNotExist" => NodeSelectorOperator::DoesNotExist,
        "Gt" => NodeSelectorOperator::Gt,
        "Lt" => NodeSelectorOperator::Lt,
        other => {
            return Err(ctx.err(
                format!("{field}.operator"),
                ConversionProblem::UnknownOperator { value: other.to_string(), allowed: NODE_OPERATORS },
            ));
        }
    })
}

fn node_requirements(
    ctx: &Ctx<'_>,
    field: &str,
    reqs: Option<&Vec<k::NodeSelectorRequirement>>,
) -> Result<Vec<NodeSelectorRequirement>, ConversionError> {
    let Some(reqs) = reqs else { return Ok(Vec::new()) };
    reqs.iter()
        .enumerate()
        .map(|(i, r)| {
            let field = format!("{field}[{i}]");
            Ok(NodeSelectorRequirement {
                key: r.key.clone(),
                operator: node_operator(ctx, &field, &r.operator)?,
                values: r.values.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Converts a node selector term.
pub(crate) fn node_selector_term(
    ctx: &Ctx<'_>,
    field: &str,
    term: &k::NodeSelectorTerm,
) -> Result<NodeSelectorTerm, ConversionError> {
    Ok(NodeSelectorTerm {
        match_expressions: node_requirements(
            ctx,
            &format!("{field}.matchExpressions"),
            term.match_expressions.as_ref(),
        )?,
        match_fields: node_requirements(ctx, &format!("{field}.matchFields"), term.match_fields.as_ref())?,
    })
}

/// Converts a required node selector.
pub(crate) fn node_selector(
    ctx: &Ctx<'_>,
    field: &str,
    selector: &k::NodeSelector,
) -> Result<NodeSelector, ConversionError> {
    let node_selector_terms = selector
        .node_selector_terms
        .iter()
        .enumerate()
        .map(|(i, t)| node_selector_term(ctx, &format!("{field}.nodeSelectorTerms[{i}]"), t))
        .collect::<Result<_, _>>()?;
    Ok(NodeSelector { node_selector_terms })
}

/// Converts node affinity (required and preferred terms).
pub(crate) fn node_affinity(
    ctx: &Ctx<'_>,
    field: &str,
    affinity: &k::NodeAffinity,
) -> Result<NodeAffinity, ConversionError> {
    let required = affinity
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .map(|s| node_selector(ctx, &format!("{field}.requiredDuringSchedulingIgnoredDuringExecution"), s))
        .transpose()?;
    let preferred = affinity
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            let f = format!("{field}.preferredDuringSchedulingIgnoredDuringExecution[{i}].preference");
            Ok(PreferredSchedulingTerm { weight: p.weight, preference: node_selector_term(ctx, &f, &p.preference)? })
        })
        .collect::<Result<_, ConversionError>>()?;
    Ok(NodeAffinity { required, preferred })
}

/// Converts a label selector.
pub(crate) fn label_selector(
    ctx: &Ctx<'_>,
    field: &str,
    selector: &meta::LabelSelector,
) -> Result<LabelSelector, ConversionError> {
    let match_expressions = selector
        .match_expressions
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let operator = match r.operator.as_str() {
                "In" => SelectorOperator::In,
                "NotIn" => SelectorOperator::NotIn,
                "Exists" => SelectorOperator::Exists,
                "DoesNotExist" => SelectorOperator::DoesNotExist,
                other => {
                    return Err(ctx.err(
                        format!("{field}.matchExpressions[{i}].operator"),
                        ConversionProblem::UnknownOperator { value: other.to_string(), allowed: LABEL_OPERATORS },
                    ));
                }
            };
            Ok(LabelSelectorRequirement { key: r.key.clone(), operator, values: r.values.clone().unwrap_or_default() })
        })
        .collect::<Result<_, _>>()?;
    Ok(LabelSelector { match_labels: selector.match_labels.clone().unwrap_or_default(), match_expressions })
}

fn optional_label_selector(
    ctx: &Ctx<'_>,
    field: String,
    selector: Option<&meta::LabelSelector>,
) -> Result<Option<LabelSelector>, ConversionError> {
    selector.map(|s| label_selector(ctx, &field, s)).transpose()
}

fn pod_affinity_term(
    ctx: &Ctx<'_>,
    field: &str,
    term: &k::PodAffinityTerm,
) -> Result<PodAffinityTerm, ConversionError> {
    Ok(PodAffinityTerm {
        label_selector: optional_label_selector(ctx, format!("{field}.labelSelector"), term.label_selector.as_ref())?,
        namespaces: term.namespaces.clone().unwrap_or_default(),
        namespace_selector: optional_label_selector(
            ctx,
            format!("{field}.namespaceSelector"),
            term.namespace_selector.as_ref(),
        )?,
        topology_key: term.topology_key.clone(),
        match_label_keys: term.match_label_keys.clone().unwrap_or_default(),
        mismatch_label_keys: term.mismatch_label_keys.clone().unwrap_or_default(),
    })
}

/// Converts inter-pod affinity or anti-affinity (their k8s types share their fields).
pub(crate) fn pod_affinity(
    ctx: &Ctx<'_>,
    field: &str,
    required: Option<&Vec<k::PodAffinityTerm>>,
    preferred: Option<&Vec<k::WeightedPodAffinityTerm>>,
) -> Result<PodAffinity, ConversionError> {
    let required = required
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            pod_affinity_term(ctx, &format!("{field}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"), t)
        })
        .collect::<Result<_, _>>()?;
    let preferred = preferred
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, w)| {
            let f = format!("{field}.preferredDuringSchedulingIgnoredDuringExecution[{i}].podAffinityTerm");
            Ok(WeightedPodAffinityTerm {
                weight: w.weight,
                pod_affinity_term: pod_affinity_term(ctx, &f, &w.pod_affinity_term)?,
            })
        })
        .collect::<Result<_, ConversionError>>()?;
    Ok(PodAffinity { required, preferred })
}

fn inclusion_policy(
    ctx: &Ctx<'_>,
    field: String,
    value: Option<&String>,
) -> Result<Option<InclusionPolicy>, ConversionError> {
    match value.map(String::as_str) {
        None | Some("") => Ok(None),
        Some("Honor") => Ok(Some(InclusionPolicy::Honor)),
        Some("Ignore") => Ok(Some(InclusionPolicy::Ignore)),
        Some(other) => {
            Err(ctx
                .err(field, ConversionProblem::UnknownValue { value: other.to_string(), allowed: "Honor or Ignore" }))
        }
    }
}

/// Converts topology spread constraints.
pub(crate) fn topology_spread_constraints(
    ctx: &Ctx<'_>,
    constraints: &[k::TopologySpreadConstraint],
) -> Result<Vec<TopologySpreadConstraint>, ConversionError> {
    constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = format!("spec.topologySpreadConstraints[{i}]");
            let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
                "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
                "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
                other => {
                    return Err(ctx.err(
                        format!("{field}.whenUnsatisfiable"),
                        ConversionProblem::UnknownValue {
                            value: other.to_string(),
                            allowed: "DoNotSchedule or ScheduleAnyway",
                        },
                    ));
                }
            };
            Ok(TopologySpreadConstraint {
                max_skew: c.max_skew,
                topology_key: c.topology_key.clone(),
                when_unsatisfiable,
                label_selector: optional_label_selector(
                    ctx,
                    format!("{field}.labelSelector"),
                    c.label_selector.as_ref(),
                )?,
                min_domains: c.min_domains,
                node_affinity_policy: inclusion_policy(
                    ctx,
                    format!("{field}.nodeAffinityPolicy"),
                    c.node_affinity_policy.as_ref(),
                )?,
                node_taints_policy: inclusion_policy(
                    ctx,
                    format!("{field}.nodeTaintsPolicy"),
                    c.node_taints_policy.as_ref(),
                )?,
                match_label_keys: c.match_label_keys.clone().unwrap_or_default(),
            })
        })
        .collect()
}
