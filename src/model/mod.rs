//! The pure data model: quantities, resources, pods, nodes, selectors, the cluster snapshot and
//! the scheduling policy.
//!
//! Everything here is plain data with serde support; nothing here performs IO. Quantities are
//! integers: CPU in millicores, memory and storage in bytes, money in micro-units of a currency.

mod affinity;
mod burst;
mod group;
mod money;
mod node;
mod pod;
mod policy;
mod pool;
pub mod quantity;
mod resources;
mod selector;
mod snapshot;

pub use affinity::{
    InclusionPolicy, PodAffinity, PodAffinityTerm, TopologySpreadConstraint, WeightedPodAffinityTerm, WhenUnsatisfiable,
};
pub use burst::{
    BurstFeatures, BurstQuota, BurstTarget, InstanceLimits, InstanceSize, PriceModel, SizeModel, SizeTier,
};
pub use group::{POD_GROUP_LABEL, PodGroup};
pub use money::{Money, MoneyError};
pub use node::{Node, Taint, TaintEffect};
pub use pod::{
    Container, DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, HostPort, NodeAffinity, Pod, PodFeatures,
    PreferredSchedulingTerm, Protocol, Toleration, TolerationOperator,
};
pub use policy::{
    BalancedAllocationArgs, BurstMode, BurstPolicy, BurstRule, BurstTerms, DefaultingType, FilterPlugin,
    InterPodAffinityArgs, NodeAffinityArgs, NodeResourcesFitArgs, PodTopologySpreadArgs, Policy, PolicyError, Profile,
    RequestedToCapacityRatioParam, ResourceWeight, ScorePlugin, ScoringStrategy, ScoringStrategyType,
    UtilizationShapePoint, WeightedScorePlugin,
};
pub use pool::NodePool;
pub use quantity::QuantityError;
pub use resources::{ResourceName, Resources, ResourcesError};
pub use selector::{
    LabelSelector, LabelSelectorRequirement, Labels, NodeSelector, NodeSelectorOperator, NodeSelectorRequirement,
    NodeSelectorTerm, SelectorOperator,
};
pub(crate) use snapshot::ON_TARGET;
pub use snapshot::{Snapshot, SnapshotError, WorkloadSelector};
