//! The scheduling policy: which filter and score plugins run, their weights and their arguments.
//!
//! The argument types mirror kube-scheduler's `kubescheduler.config.k8s.io/v1` plugin args and
//! use the same field names, so a `pluginConfig` entry of a `KubeSchedulerConfiguration`
//! deserializes into them directly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::affinity::{TopologySpreadConstraint, WhenUnsatisfiable};
use super::money::Money;
use super::pod::{NodeAffinity, Pod};
use super::selector::LabelSelector;

/// A filter plugin spillway implements, under its kube-scheduler name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FilterPlugin {
    /// Rejects cordoned nodes unless the pod tolerates `node.kubernetes.io/unschedulable`.
    NodeUnschedulable,
    /// Rejects every node but the one named in the pod's `spec.nodeName`, if set.
    NodeName,
    /// Rejects nodes with a `NoSchedule`/`NoExecute` taint the pod does not tolerate.
    TaintToleration,
    /// Rejects nodes that fail the pod's `nodeSelector` or required node affinity.
    NodeAffinity,
    /// Rejects nodes where a requested host port is taken.
    NodePorts,
    /// Rejects nodes without room for the pod's requests.
    NodeResourcesFit,
    /// Rejects nodes that would break a `DoNotSchedule` topology spread constraint.
    PodTopologySpread,
    /// Rejects nodes that break required pod affinity or anti-affinity (both directions).
    InterPodAffinity,
}

/// A score plugin spillway implements, under its kube-scheduler name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ScorePlugin {
    /// Prefers nodes with fewer `PreferNoSchedule` taints the pod does not tolerate.
    TaintToleration,
    /// Prefers nodes matching the pod's preferred node affinity terms.
    NodeAffinity,
    /// Scores nodes by requested resources (LeastAllocated, MostAllocated or
    /// RequestedToCapacityRatio).
    NodeResourcesFit,
    /// Prefers nodes in domains with fewer matching pods (`ScheduleAnyway` constraints).
    PodTopologySpread,
    /// Prefers nodes by preferred pod affinity/anti-affinity (and placed pods' terms).
    InterPodAffinity,
    /// Prefers nodes whose resource usage fractions stay balanced.
    NodeResourcesBalancedAllocation,
}

macro_rules! plugin_names {
    ($ty:ident { $($variant:ident),* $(,)? }) => {
        impl $ty {
            /// Every plugin of this kind, in kube-scheduler's default order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// The kube-scheduler name.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => stringify!($variant)),* }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = PolicyError;
            fn from_str(s: &str) -> Result<$ty, PolicyError> {
                $ty::ALL.iter().copied().find(|p| p.name() == s).ok_or_else(|| PolicyError::UnknownPlugin {
                    name: s.to_string(),
                    kind: stringify!($ty),
                })
            }
        }
    };
}

plugin_names!(FilterPlugin {
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    PodTopologySpread,
    InterPodAffinity,
});
plugin_names!(ScorePlugin {
    TaintToleration,
    NodeAffinity,
    NodeResourcesFit,
    PodTopologySpread,
    InterPodAffinity,
    NodeResourcesBalancedAllocation,
});

impl ScorePlugin {
    /// kube-scheduler's default weight for this plugin.
    pub fn default_weight(self) -> i64 {
        match self {
            ScorePlugin::TaintToleration => 3,
            ScorePlugin::NodeAffinity | ScorePlugin::PodTopologySpread | ScorePlugin::InterPodAffinity => 2,
            ScorePlugin::NodeResourcesFit | ScorePlugin::NodeResourcesBalancedAllocation => 1,
        }
    }
}

/// A score plugin with its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedScorePlugin {
    /// The plugin.
    pub name: ScorePlugin,
    /// Its weight (1 or more); its normalised 0–100 score is multiplied by it.
    pub weight: i64,
}

/// A resource with a weight, as in kube-scheduler's `ResourceSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceWeight {
    /// Resource name (`cpu`, `memory`, `nvidia.com/gpu`, ...).
    pub name: String,
    /// Weight 1–100.
    #[serde(default = "one")]
    pub weight: i64,
}

fn one() -> i64 {
    1
}

impl ResourceWeight {
    /// `name` with `weight`.
    pub fn new(name: impl Into<String>, weight: i64) -> ResourceWeight {
        ResourceWeight { name: name.into(), weight }
    }
}

/// How NodeResourcesFit scores a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoringStrategyType {
    /// Prefer nodes with the most free capacity (spreads pods). The default.
    #[default]
    LeastAllocated,
    /// Prefer nodes with the least free capacity (packs pods).
    MostAllocated,
    /// Score by a piecewise-linear function of utilisation.
    RequestedToCapacityRatio,
}

/// One point of a RequestedToCapacityRatio shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtilizationShapePoint {
    /// Utilisation 0–100 (percent).
    pub utilization: i64,
    /// Score 0–10 at that utilisation.
    pub score: i64,
}

/// Parameters of the RequestedToCapacityRatio strategy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedToCapacityRatioParam {
    /// The shape, by strictly increasing utilisation.
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

/// NodeResourcesFit's `scoringStrategy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoringStrategy {
    /// The strategy.
    #[serde(rename = "type", default)]
    pub kind: ScoringStrategyType,
    /// The resources scored and their weights (default cpu 1, memory 1).
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceWeight>,
    /// The shape, for RequestedToCapacityRatio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

fn default_resources() -> Vec<ResourceWeight> {
    vec![ResourceWeight::new("cpu", 1), ResourceWeight::new("memory", 1)]
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy {
            kind: ScoringStrategyType::LeastAllocated,
            resources: default_resources(),
            requested_to_capacity_ratio: None,
        }
    }
}

/// Arguments of NodeResourcesFit (`NodeResourcesFitArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter ignores, by exact name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_resources: Vec<String>,
    /// Extended resource groups the filter ignores: a resource `group/name` is ignored when
    /// `group` is listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_resource_groups: Vec<String>,
    /// How nodes are scored.
    #[serde(default)]
    pub scoring_strategy: ScoringStrategy,
}

/// Arguments of NodeResourcesBalancedAllocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalancedAllocationArgs {
    /// The resources whose usage fractions are balanced (default cpu and memory; weights must be 1).
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceWeight>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        BalancedAllocationArgs { resources: default_resources() }
    }
}

/// Arguments of NodeAffinity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAffinityArgs {
    /// Node affinity the scheduler adds to every pod: its required part filters (reported as
    /// "node(s) didn't match scheduler-enforced node affinity"), its preferred terms add to the
    /// NodeAffinity score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_affinity: Option<NodeAffinity>,
}

/// Arguments of InterPodAffinity (`InterPodAffinityArgs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterPodAffinityArgs {
    /// Score weight (0–100) a placed pod's *required* affinity term gives to the domains of
    /// the pods it selects; default 1.
    #[serde(default = "one")]
    pub hard_pod_affinity_weight: i64,
    /// When set, placed pods' preferred terms are ignored in scoring unless the incoming pod has
    /// preferred terms of its own.
    #[serde(default)]
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs { hard_pod_affinity_weight: 1, ignore_preferred_terms_of_existing_pods: false }
    }
}

/// Where PodTopologySpread's default constraints come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultingType {
    /// kube-scheduler's built-in defaults: `kubernetes.io/hostname` (maxSkew 3) and
    /// `topology.kubernetes.io/zone` (maxSkew 5), both `ScheduleAnyway`.
    #[default]
    System,
    /// The `defaultConstraints` listed in the args.
    List,
}

/// Arguments of PodTopologySpread (`PodTopologySpreadArgs`).
///
/// Default constraints apply to pods that have no constraints of their own; their selector is
/// the one kube-scheduler derives from the Services, ReplicaSets and StatefulSets selecting the
/// pod (see [`Snapshot::with_workload_selectors`](crate::Snapshot::with_workload_selectors)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods without their own (with `defaultingType: List`); they must not
    /// carry a label selector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// System (built-in defaults) or List (`defaultConstraints`).
    #[serde(default)]
    pub defaulting_type: DefaultingType,
}

impl PodTopologySpreadArgs {
    /// The default constraints in force.
    pub fn effective_defaults(&self) -> Vec<TopologySpreadConstraint> {
        match self.defaulting_type {
            DefaultingType::List => self.default_constraints.clone(),
            DefaultingType::System => [("kubernetes.io/hostname", 3), ("topology.kubernetes.io/zone", 5)]
                .into_iter()
                .map(|(key, max_skew)| TopologySpreadConstraint {
                    max_skew,
                    topology_key: key.to_string(),
                    when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
                    label_selector: None,
                    min_domains: None,
                    node_affinity_policy: None,
                    node_taints_policy: None,
                    match_label_keys: Vec::new(),
                })
                .collect(),
        }
    }
}

/// A scheduling profile: the plugins that run and their arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// Filter plugins, in the order they run (the order decides which reason a node reports).
    #[serde(default = "default_filters")]
    pub filters: Vec<FilterPlugin>,
    /// Score plugins and their weights.
    #[serde(default = "default_scores")]
    pub scores: Vec<WeightedScorePlugin>,
    /// NodeResourcesFit arguments.
    #[serde(default)]
    pub node_resources_fit: NodeResourcesFitArgs,
    /// NodeResourcesBalancedAllocation arguments.
    #[serde(default)]
    pub balanced_allocation: BalancedAllocationArgs,
    /// NodeAffinity arguments.
    #[serde(default)]
    pub node_affinity: NodeAffinityArgs,
    /// InterPodAffinity arguments.
    #[serde(default)]
    pub inter_pod_affinity: InterPodAffinityArgs,
    /// PodTopologySpread arguments.
    #[serde(default)]
    pub pod_topology_spread: PodTopologySpreadArgs,
}

fn default_filters() -> Vec<FilterPlugin> {
    FilterPlugin::ALL.to_vec()
}

fn default_scores() -> Vec<WeightedScorePlugin> {
    ScorePlugin::ALL.iter().map(|&name| WeightedScorePlugin { name, weight: name.default_weight() }).collect()
}

impl Default for Profile {
    /// kube-scheduler's default profile, restricted to the plugins spillway implements.
    fn default() -> Self {
        Profile {
            filters: default_filters(),
            scores: default_scores(),
            node_resources_fit: NodeResourcesFitArgs::default(),
            balanced_allocation: BalancedAllocationArgs::default(),
            node_affinity: NodeAffinityArgs::default(),
            inter_pod_affinity: InterPodAffinityArgs::default(),
            pod_topology_spread: PodTopologySpreadArgs::default(),
        }
    }
}

/// When a pod may go to a burst target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BurstMode {
    /// Never burst; wait for the cluster autoscaler's next node instead.
    Never,
    /// VM nodes first; burst only when no VM node fits (the AKS virtual node done right).
    #[default]
    Overflow,
    /// When no VM node fits, compare bursting now with waiting for a node pool's new node:
    /// wait when that is cheaper and within the pod's tolerated wait, else burst.
    CostAware,
    /// Burst first (e.g. batch jobs); VM nodes only when no target can take the pod.
    Prefer,
}

/// A burst rule: pods in `namespaces` (any, when empty) whose labels match `selector` (any,
/// when unset) get `mode`. The first matching rule wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstRule {
    /// Namespaces the rule applies to (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Pod label selector (unset: all pods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The mode for matching pods.
    pub mode: BurstMode,
    /// How long matching pods may wait for a new VM node (overrides the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_seconds: Option<i64>,
    /// How long matching pods are expected to run (overrides the default), for cost comparisons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_lifetime_seconds: Option<i64>,
}

/// Burst rules, spend cap and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstPolicy {
    /// Mode for pods no rule matches (default `Overflow`).
    #[serde(default)]
    pub default_mode: BurstMode,
    /// Rules, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<BurstRule>,
    /// Hard cap on the summed hourly cost of all burst instances (running and planned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_cap_per_hour: Option<Money>,
    /// How long a pod may wait for a new VM node unless a rule or the pod says otherwise
    /// (default 300 s).
    #[serde(default = "default_max_wait")]
    pub default_max_wait_seconds: i64,
    /// How long a pod is expected to run unless a rule or the pod says otherwise (default 3600 s).
    #[serde(default = "default_lifetime")]
    pub default_expected_lifetime_seconds: i64,
}

fn default_max_wait() -> i64 {
    300
}

fn default_lifetime() -> i64 {
    3600
}

impl Default for BurstPolicy {
    fn default() -> Self {
        BurstPolicy {
            default_mode: BurstMode::Overflow,
            rules: Vec::new(),
            spend_cap_per_hour: None,
            default_max_wait_seconds: default_max_wait(),
            default_expected_lifetime_seconds: default_lifetime(),
        }
    }
}

/// What the burst policy says about one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstTerms {
    /// The mode.
    pub mode: BurstMode,
    /// Longest tolerated wait for a new VM node, in seconds.
    pub max_wait_seconds: i64,
    /// Expected run time, in seconds.
    pub expected_lifetime_seconds: i64,
}

impl BurstPolicy {
    /// The mode, tolerated wait and expected lifetime of `pod`: the pod's own values
    /// ([`Pod::max_wait_seconds`], [`Pod::expected_lifetime_seconds`]) win, then the first
    /// matching rule's, then the defaults.
    pub fn terms_for(&self, pod: &Pod) -> BurstTerms {
        let rule = self.rules.iter().find(|r| {
            (r.namespaces.is_empty() || r.namespaces.contains(&pod.namespace))
                && r.selector.as_ref().is_none_or(|s| s.matches(&pod.labels))
        });
        BurstTerms {
            mode: rule.map_or(self.default_mode, |r| r.mode),
            max_wait_seconds: pod
                .max_wait_seconds
                .or(rule.and_then(|r| r.max_wait_seconds))
                .unwrap_or(self.default_max_wait_seconds),
            expected_lifetime_seconds: pod
                .expected_lifetime_seconds
                .or(rule.and_then(|r| r.expected_lifetime_seconds))
                .unwrap_or(self.default_expected_lifetime_seconds),
        }
    }
}

/// The whole placement policy. Today it holds the scheduling profile; burst and cost rules
/// join it as they are built.
///
/// ```
/// use spillway::{Engine, Policy};
/// use spillway::model::ScoringStrategyType;
/// let mut policy = Policy::default();
/// policy.profile.node_resources_fit.scoring_strategy.kind = ScoringStrategyType::MostAllocated;
/// let engine = Engine::new(policy)?;
/// # Ok::<(), spillway::PolicyError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// The scheduling profile.
    #[serde(default)]
    pub profile: Profile,
    /// When pods may burst, and the spend cap.
    #[serde(default)]
    pub burst: BurstPolicy,
}

/// A policy that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A plugin name spillway does not know.
    #[error("unknown {kind} {name:?}")]
    UnknownPlugin {
        /// The name given.
        name: String,
        /// `FilterPlugin` or `ScorePlugin`.
        kind: &'static str,
    },
    /// A plugin listed twice.
    #[error("plugin {plugin} is listed twice")]
    DuplicatePlugin {
        /// The plugin.
        plugin: String,
    },
    /// A score plugin weight below 1.
    #[error("score plugin {plugin} has weight {weight}; weights must be 1 or more")]
    PluginWeight {
        /// The plugin.
        plugin: String,
        /// The weight given.
        weight: i64,
    },
    /// A resource weight outside its allowed range.
    #[error("{plugin}: resource {resource:?} has weight {weight}; {rule}")]
    ResourceWeight {
        /// The plugin whose args hold it.
        plugin: &'static str,
        /// The resource.
        resource: String,
        /// The weight given.
        weight: i64,
        /// The allowed range.
        rule: &'static str,
    },
    /// A resource listed twice.
    #[error("{plugin}: resource {resource:?} is listed twice")]
    DuplicateResource {
        /// The plugin whose args hold it.
        plugin: &'static str,
        /// The resource.
        resource: String,
    },
    /// A malformed RequestedToCapacityRatio shape.
    #[error("NodeResourcesFit: invalid requestedToCapacityRatio shape: {why}")]
    Shape {
        /// What is wrong.
        why: String,
    },
    /// `hardPodAffinityWeight` outside 0–100.
    #[error("InterPodAffinity: hardPodAffinityWeight {weight} is outside 0-100")]
    HardPodAffinityWeight {
        /// The weight given.
        weight: i64,
    },
    /// A malformed burst policy.
    #[error("burst policy: {why}")]
    Burst {
        /// What is wrong.
        why: String,
    },
    /// Malformed PodTopologySpread default constraints.
    #[error("PodTopologySpread: {why}")]
    SpreadDefaults {
        /// What is wrong.
        why: String,
    },
    /// A malformed scheduler-enforced node affinity.
    #[error("NodeAffinity: invalid addedAffinity: {why}")]
    AddedAffinity {
        /// What is wrong.
        why: String,
    },
}

impl Policy {
    /// Checks the policy; [`Engine::new`](crate::Engine::new) calls this.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let p = &self.profile;
        for (i, f) in p.filters.iter().enumerate() {
            if p.filters[..i].contains(f) {
                return Err(PolicyError::DuplicatePlugin { plugin: f.to_string() });
            }
        }
        for (i, s) in p.scores.iter().enumerate() {
            if p.scores[..i].iter().any(|o| o.name == s.name) {
                return Err(PolicyError::DuplicatePlugin { plugin: s.name.to_string() });
            }
            if s.weight < 1 {
                return Err(PolicyError::PluginWeight { plugin: s.name.to_string(), weight: s.weight });
            }
        }
        let fit = &p.node_resources_fit.scoring_strategy;
        check_resources("NodeResourcesFit", &fit.resources, |w| (1..=100).contains(&w), "weights must be 1-100")?;
        match (fit.kind, &fit.requested_to_capacity_ratio) {
            (ScoringStrategyType::RequestedToCapacityRatio, None) => {
                return Err(PolicyError::Shape { why: "the RequestedToCapacityRatio strategy needs a shape".into() });
            }
            (ScoringStrategyType::RequestedToCapacityRatio, Some(param)) => check_shape(&param.shape)?,
            (_, Some(_)) => {
                return Err(PolicyError::Shape {
                    why: "requestedToCapacityRatio must be unset unless the type is RequestedToCapacityRatio".into(),
                });
            }
            _ => {}
        }
        check_resources(
            "NodeResourcesBalancedAllocation",
            &p.balanced_allocation.resources,
            |w| w == 1,
            "weights must be 1",
        )?;
        check_spread_defaults(&p.pod_topology_spread)?;
        let b = &self.burst;
        if b.default_max_wait_seconds < 0 || b.default_expected_lifetime_seconds <= 0 {
            return Err(PolicyError::Burst {
                why: "defaultMaxWaitSeconds must be 0 or more and defaultExpectedLifetimeSeconds more than 0".into(),
            });
        }
        if b.spend_cap_per_hour.is_some_and(|c| c.micros() < 0) {
            return Err(PolicyError::Burst { why: "spendCapPerHour must not be negative".into() });
        }
        for (i, r) in b.rules.iter().enumerate() {
            if r.max_wait_seconds.is_some_and(|w| w < 0) || r.expected_lifetime_seconds.is_some_and(|l| l <= 0) {
                return Err(PolicyError::Burst {
                    why: format!("rules[{i}]: waits must be 0 or more and lifetimes more than 0"),
                });
            }
        }
        let hard = p.inter_pod_affinity.hard_pod_affinity_weight;
        if !(0..=100).contains(&hard) {
            return Err(PolicyError::HardPodAffinityWeight { weight: hard });
        }
        if let Some(added) = &p.node_affinity.added_affinity {
            if let Some(req) = &added.required
                && let Some(t) = req.node_selector_terms.iter().find(|t| !t.is_valid())
            {
                return Err(PolicyError::AddedAffinity { why: format!("required term {t:?} is malformed") });
            }
            if let Some(t) = added.preferred.iter().find(|t| !(1..=100).contains(&t.weight)) {
                return Err(PolicyError::AddedAffinity {
                    why: format!("preferred term weight {} is outside 1-100", t.weight),
                });
            }
        }
        Ok(())
    }
}

fn check_resources(
    plugin: &'static str,
    resources: &[ResourceWeight],
    ok: impl Fn(i64) -> bool,
    rule: &'static str,
) -> Result<(), PolicyError> {
    for (i, r) in resources.iter().enumerate() {
        if !ok(r.weight) {
            return Err(PolicyError::ResourceWeight { plugin, resource: r.name.clone(), weight: r.weight, rule });
        }
        if resources[..i].iter().any(|o| o.name == r.name) {
            return Err(PolicyError::DuplicateResource { plugin, resource: r.name.clone() });
        }
    }
    Ok(())
}

fn check_spread_defaults(args: &PodTopologySpreadArgs) -> Result<(), PolicyError> {
    let err = |why: String| Err(PolicyError::SpreadDefaults { why });
    if args.defaulting_type == DefaultingType::System && !args.default_constraints.is_empty() {
        return err("defaultConstraints must be empty when defaultingType is System".into());
    }
    for (i, c) in args.default_constraints.iter().enumerate() {
        if c.max_skew < 1 {
            return err(format!("defaultConstraints[{i}].maxSkew must be 1 or more, not {}", c.max_skew));
        }
        if c.topology_key.is_empty() {
            return err(format!("defaultConstraints[{i}].topologyKey must not be empty"));
        }
        if c.label_selector.is_some() {
            return err(format!("defaultConstraints[{i}] must not define a labelSelector: it is deduced for each pod"));
        }
        if c.min_domains.is_some_and(|m| m < 1) {
            return err(format!("defaultConstraints[{i}].minDomains must be 1 or more"));
        }
        let duplicate = args.default_constraints[..i]
            .iter()
            .any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable);
        if duplicate {
            return err(format!(
                "defaultConstraints[{i}] repeats topologyKey {:?} with the same whenUnsatisfiable",
                c.topology_key
            ));
        }
    }
    Ok(())
}

fn check_shape(shape: &[UtilizationShapePoint]) -> Result<(), PolicyError> {
    if shape.is_empty() {
        return Err(PolicyError::Shape { why: "the shape has no points".into() });
    }
    for (i, pt) in shape.iter().enumerate() {
        if !(0..=100).contains(&pt.utilization) {
            return Err(PolicyError::Shape { why: format!("utilization {} is outside 0-100", pt.utilization) });
        }
        if !(0..=10).contains(&pt.score) {
            return Err(PolicyError::Shape { why: format!("score {} is outside 0-10", pt.score) });
        }
        if i > 0 && pt.utilization <= shape[i - 1].utilization {
            return Err(PolicyError::Shape { why: "utilization values must be strictly increasing".into() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_matches_kube_weights() {
        let p = Policy::default();
        p.validate().unwrap();
        let total: i64 = p.profile.scores.iter().map(|s| s.weight).sum();
        assert_eq!(total, 11, "TaintToleration 3 + NodeAffinity 2 + Fit 1 + Spread 2 + InterPod 2 + Balanced 1");
    }

    #[test]
    fn rejects_bad_args() {
        let mut p = Policy::default();
        p.profile.node_resources_fit.scoring_strategy.resources[0].weight = 0;
        assert!(matches!(p.validate(), Err(PolicyError::ResourceWeight { .. })));

        let mut p = Policy::default();
        p.profile.node_resources_fit.scoring_strategy.kind = ScoringStrategyType::RequestedToCapacityRatio;
        assert!(matches!(p.validate(), Err(PolicyError::Shape { .. })));
        p.profile.node_resources_fit.scoring_strategy.requested_to_capacity_ratio =
            Some(RequestedToCapacityRatioParam {
                shape: vec![
                    UtilizationShapePoint { utilization: 50, score: 1 },
                    UtilizationShapePoint { utilization: 50, score: 2 },
                ],
            });
        assert!(p.validate().unwrap_err().to_string().contains("strictly increasing"));

        let mut p = Policy::default();
        p.profile.balanced_allocation.resources[0].weight = 2;
        assert!(p.validate().unwrap_err().to_string().contains("must be 1"));

        let mut p = Policy::default();
        p.profile.filters.push(FilterPlugin::NodePorts);
        assert!(matches!(p.validate(), Err(PolicyError::DuplicatePlugin { .. })));

        assert!("VolumeBinding".parse::<FilterPlugin>().is_err());
        assert_eq!("NodePorts".parse::<FilterPlugin>().unwrap(), FilterPlugin::NodePorts);
    }

    #[test]
    fn args_deserialize_from_kube_spelling() {
        let args: NodeResourcesFitArgs = serde_json::from_str(
            r#"{"scoringStrategy":{"type":"RequestedToCapacityRatio","resources":[{"name":"cpu","weight":3}],
                "requestedToCapacityRatio":{"shape":[{"utilization":0,"score":0},{"utilization":100,"score":10}]}},
                "ignoredResourceGroups":["example.com"]}"#,
        )
        .unwrap();
        assert_eq!(args.scoring_strategy.kind, ScoringStrategyType::RequestedToCapacityRatio);
        assert_eq!(args.ignored_resource_groups, vec!["example.com".to_string()]);
        assert!(serde_json::from_str::<NodeResourcesFitArgs>(r#"{"surprise":1}"#).is_err());
    }
}
