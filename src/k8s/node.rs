//! Conversion of a Kubernetes `Node`.

use k8s_openapi::api::core::v1 as k;

use super::error::{ConversionError, ConversionProblem};
use super::pod::{resources, taint_effect};
use super::selector::Ctx;
use crate::model::{Money, Taint};

/// The node annotation holding the node's hourly cost, a decimal amount such as `"0.192"`.
pub const HOURLY_COST_ANNOTATION: &str = "spillway.rs/hourly-cost";

/// Converts a node. `ctx` names the object in errors.
pub(crate) fn convert(ctx: &Ctx<'_>, node: &k::Node) -> Result<crate::Node, ConversionError> {
    let meta = &node.metadata;
    let name = meta.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| {
        ctx.err("metadata.name", ConversionProblem::Missing { advice: "every node needs a unique name" })
    })?;
    let mut out = crate::Node::new(name);
    out.labels = meta.labels.clone().unwrap_or_default();
    if let Some(status) = &node.status {
        let allocatable = status.allocatable.as_ref().filter(|m| !m.is_empty());
        out.allocatable = match allocatable {
            Some(list) => resources(ctx, "status.allocatable", Some(list))?,
            None => resources(ctx, "status.capacity", status.capacity.as_ref())?,
        };
    }
    if let Some(spec) = &node.spec {
        out.unschedulable = spec.unschedulable.unwrap_or(false);
        for (i, t) in spec.taints.iter().flatten().enumerate() {
            if t.key.is_empty() {
                return Err(ctx.err(
                    format!("spec.taints[{i}].key"),
                    ConversionProblem::Missing { advice: "every taint needs a key" },
                ));
            }
            let effect = taint_effect(ctx, format!("spec.taints[{i}].effect"), &t.effect)?;
            out.taints.push(Taint { key: t.key.clone(), value: t.value.clone().unwrap_or_default(), effect });
        }
    }
    if let Some(cost) = meta.annotations.as_ref().and_then(|a| a.get(HOURLY_COST_ANNOTATION)) {
        let field = format!("metadata.annotations[\"{HOURLY_COST_ANNOTATION}\"]");
        let money: Money = cost.parse().map_err(|e| ctx.err(field.clone(), ConversionProblem::Money(e)))?;
        if money.micros() < 0 {
            return Err(ctx.err(field, ConversionProblem::NegativeMoney { value: cost.clone() }));
        }
        out.hourly_cost = Some(money);
    }
    Ok(out)
}
