//! Node pools: what a new VM from the cluster autoscaler would look like, cost, and when it
//! would arrive.

use serde::{Deserialize, Serialize};

use super::money::Money;
use super::node::Taint;
use super::resources::Resources;
use super::selector::Labels;

/// A cluster-autoscaler node pool (scenario `kind: NodePool`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePool {
    /// Pool name.
    pub name: String,
    /// Allocatable of one new node.
    pub allocatable: Resources,
    /// Labels a new node carries (its zone, instance type, pool label, ...).
    #[serde(default)]
    pub labels: Labels,
    /// Taints a new node carries.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Price of one node per hour.
    pub hourly_cost: Money,
    /// Seconds from scale-up to a ready node (typically 180–420).
    pub provisioning_seconds: i64,
    /// Largest number of nodes the pool may have.
    pub max_nodes: i64,
    /// Nodes the pool has now (they are in the snapshot as VM nodes).
    #[serde(default)]
    pub current_nodes: i64,
}
