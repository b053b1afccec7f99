//! VM nodes and their taints.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::money::Money;
use super::resources::Resources;
use super::selector::Labels;

/// The effect of a taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    /// Pods that do not tolerate the taint are not scheduled onto the node.
    NoSchedule,
    /// The scheduler avoids the node for pods that do not tolerate the taint (a score, not a filter).
    PreferNoSchedule,
    /// Like `NoSchedule`, and running pods that do not tolerate it are evicted.
    NoExecute,
}

impl TaintEffect {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node taint: `key=value:effect`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value (may be empty).
    #[serde(default)]
    pub value: String,
    /// Taint effect.
    pub effect: TaintEffect,
}

impl Taint {
    /// A taint `key=value:effect`.
    pub fn new(key: impl Into<String>, value: impl Into<String>, effect: TaintEffect) -> Taint {
        Taint { key: key.into(), value: value.into(), effect }
    }
}

/// A VM node as the scheduler sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Unique node name.
    pub name: String,
    /// Node labels (zone, instance type, hostname, ...).
    #[serde(default)]
    pub labels: Labels,
    /// Allocatable resources. A node without `pods` allocatable can hold no pods.
    #[serde(default)]
    pub allocatable: Resources,
    /// Taints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    #[serde(default)]
    pub unschedulable: bool,
    /// What the node costs per hour, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_cost: Option<Money>,
}

impl Node {
    /// A node with this name, no labels, nothing allocatable and no taints.
    pub fn new(name: impl Into<String>) -> Node {
        Node { name: name.into(), ..Node::default() }
    }

    /// Sets the allocatable resources.
    pub fn with_allocatable(mut self, allocatable: Resources) -> Node {
        self.allocatable = allocatable;
        self
    }

    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Node {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a taint.
    pub fn with_taint(mut self, taint: Taint) -> Node {
        self.taints.push(taint);
        self
    }

    /// Marks the node unschedulable (cordoned).
    pub fn cordoned(mut self) -> Node {
        self.unschedulable = true;
        self
    }
}
