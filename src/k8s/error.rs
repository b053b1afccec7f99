//! The error of a Kubernetes object that cannot be converted.

use crate::model::{MoneyError, QuantityError};

/// A Kubernetes object that cannot be converted into spillway's model: which object, which
/// field, and what is wrong with it.
///
/// Displayed as `<object>: <field>: <problem>`, e.g.
/// `pod default/web: spec.containers[0].resources.requests.memory: malformed quantity "12Kb": ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {problem}")]
#[non_exhaustive]
pub struct ConversionError {
    /// The object: `pod <namespace>/<name>`, `node <name>`, or for a workload's pod template
    /// the workload (`Deployment <namespace>/<name>`).
    pub object: String,
    /// The path of the offending field, e.g. `spec.tolerations[1].operator`.
    pub field: String,
    /// What is wrong with the field.
    pub problem: ConversionProblem,
}

impl ConversionError {
    /// An error about `field` of `object`.
    pub fn new(object: impl Into<String>, field: impl Into<String>, problem: ConversionProblem) -> ConversionError {
        ConversionError { object: object.into(), field: field.into(), problem }
    }
}

/// What is wrong with a field of a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversionProblem {
    /// A resource quantity that cannot be parsed (malformed, negative or too large).
    #[error("{0}")]
    Quantity(QuantityError),
    /// A resource list with an empty resource name.
    #[error("a resource list holds an empty resource name; remove it")]
    EmptyResourceName,
    /// A request larger than the limit of the same resource, which the API server rejects.
    #[error(
        "request {request:?} is larger than limit {limit:?}; the API server rejects this: lower the request or raise the limit"
    )]
    RequestAboveLimit {
        /// The request as written.
        request: String,
        /// The limit as written.
        limit: String,
    },
    /// An operator spillway (and Kubernetes) does not know.
    #[error("unknown operator {value:?} (use {allowed})")]
    UnknownOperator {
        /// The operator given.
        value: String,
        /// The operators allowed here.
        allowed: &'static str,
    },
    /// A taint effect spillway (and Kubernetes) does not know.
    #[error("unknown taint effect {value:?} (use {allowed})")]
    UnknownEffect {
        /// The effect given.
        value: String,
        /// The effects allowed here.
        allowed: &'static str,
    },
    /// Any other enumerated value spillway (and Kubernetes) does not know.
    #[error("unknown value {value:?} (use {allowed})")]
    UnknownValue {
        /// The value given.
        value: String,
        /// The values allowed here.
        allowed: &'static str,
    },
    /// A host port outside 0–65535.
    #[error("host port {port} is out of range (use 1-65535, or 0 for none)")]
    PortOutOfRange {
        /// The port given.
        port: i32,
    },
    /// A required field is missing or empty.
    #[error("is missing; {advice}")]
    Missing {
        /// What to do about it.
        advice: &'static str,
    },
    /// A malformed money amount (the `spillway.rs/hourly-cost` annotation).
    #[error("{0}; write a decimal amount such as \"0.192\"")]
    Money(MoneyError),
    /// A negative money amount.
    #[error("{value:?} is negative; a cost must be zero or more")]
    NegativeMoney {
        /// The amount as written.
        value: String,
    },
    /// A field that affects scheduling but that spillway cannot honour.
    #[error("{why}")]
    Unsupported {
        /// Why it cannot be honoured and what to do.
        why: String,
    },
}
