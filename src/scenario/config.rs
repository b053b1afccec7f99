//! Mapping a `kubescheduler.config.k8s.io/v1` `KubeSchedulerConfiguration` onto a [`Policy`].
//!
//! spillway honours the first profile as kube-scheduler builds it: the profile's plugin sets are
//! merged with kube-scheduler's default `multiPoint` set (`disabled` removes defaults, `"*"` all
//! of them; an `enabled` entry naming a default replaces it in place, others are appended), the
//! `multiPoint` plugins are expanded into each extension point (plugins also listed at the point
//! itself come first, in the point's order), and score weights come from `score.enabled` first,
//! then `multiPoint`, with a weight of 0 or none counting as 1 — all as kube-scheduler does.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::error::DocumentError;
use crate::model::{
    BalancedAllocationArgs, FilterPlugin, InterPodAffinityArgs, NodeAffinityArgs, NodeResourcesFitArgs,
    PodTopologySpreadArgs, Policy, Profile, ResourceWeight, ScorePlugin, ScoringStrategyType, WeightedScorePlugin,
};

/// The name of the scheduler whose profile spillway uses when a configuration names none.
pub(crate) const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// `KubeSchedulerConfiguration` (v1). Fields that only tune the scheduler process are accepted
/// and ignored; unknown fields are errors, as with kube-scheduler's strict decoding.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct KubeSchedulerConfiguration {
    api_version: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    parallelism: Option<IgnoredAny>,
    leader_election: Option<IgnoredAny>,
    client_connection: Option<IgnoredAny>,
    healthz_bind_address: Option<IgnoredAny>,
    metrics_bind_address: Option<IgnoredAny>,
    enable_profiling: Option<IgnoredAny>,
    enable_contention_profiling: Option<IgnoredAny>,
    pod_initial_backoff_seconds: Option<IgnoredAny>,
    pod_max_backoff_seconds: Option<IgnoredAny>,
    delay_cache_until_active: Option<IgnoredAny>,
    percentage_of_nodes_to_score: Option<i32>,
    profiles: Option<Vec<SchedulerProfile>>,
    extenders: Option<Vec<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SchedulerProfile {
    scheduler_name: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    plugins: Option<Plugins>,
    plugin_config: Option<Vec<PluginConfig>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Plugins {
    pre_enqueue: Option<PluginSet>,
    queue_sort: Option<PluginSet>,
    pre_filter: Option<PluginSet>,
    filter: Option<PluginSet>,
    post_filter: Option<PluginSet>,
    pre_score: Option<PluginSet>,
    score: Option<PluginSet>,
    reserve: Option<PluginSet>,
    permit: Option<PluginSet>,
    pre_bind: Option<PluginSet>,
    bind: Option<PluginSet>,
    post_bind: Option<PluginSet>,
    multi_point: Option<PluginSet>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSet {
    enabled: Option<Vec<PluginRef>>,
    disabled: Option<Vec<PluginRef>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginRef {
    name: String,
    weight: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginConfig {
    name: String,
    args: Option<serde_json::Value>,
}

/// Extension points of the scheduling framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    PreEnqueue,
    QueueSort,
    PreFilter,
    Filter,
    PostFilter,
    PreScore,
    Score,
    Reserve,
    Permit,
    PreBind,
    Bind,
    PostBind,
}

impl Point {
    fn field(self) -> &'static str {
        match self {
            Point::PreEnqueue => "preEnqueue",
            Point::QueueSort => "queueSort",
            Point::PreFilter => "preFilter",
            Point::Filter => "filter",
            Point::PostFilter => "postFilter",
            Point::PreScore => "preScore",
            Point::Score => "score",
            Point::Reserve => "reserve",
            Point::Permit => "permit",
            Point::PreBind => "preBind",
            Point::Bind => "bind",
            Point::PostBind => "postBind",
        }
    }
}

/// What spillway does with an in-tree plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// spillway runs it.
    Implemented,
    /// It acts on things spillway does not model (queueing, binding, volumes, images, devices).
    Inert,
}

struct Known {
    name: &'static str,
    class: Class,
    points: &'static [Point],
}

use Point::*;

const FILTER_SCORE: &[Point] = &[PreFilter, Filter, PreScore, Score];

/// kube-scheduler's in-tree plugins and the extension points they implement.
const KNOWN: &[Known] = &[
    Known { name: "SchedulingGates", class: Class::Inert, points: &[PreEnqueue] },
    Known { name: "PrioritySort", class: Class::Inert, points: &[QueueSort] },
    Known { name: "NodeUnschedulable", class: Class::Implemented, points: &[Filter] },
    Known { name: "NodeName", class: Class::Implemented, points: &[Filter] },
    Known { name: "TaintToleration", class: Class::Implemented, points: &[Filter, PreScore, Score] },
    Known { name: "NodeAffinity", class: Class::Implemented, points: FILTER_SCORE },
    Known { name: "NodePorts", class: Class::Implemented, points: &[PreFilter, Filter] },
    Known { name: "NodeResourcesFit", class: Class::Implemented, points: FILTER_SCORE },
    Known { name: "VolumeRestrictions", class: Class::Inert, points: &[PreFilter, Filter] },
    Known { name: "NodeVolumeLimits", class: Class::Inert, points: &[PreFilter, Filter] },
    Known {
        name: "VolumeBinding",
        class: Class::Inert,
        points: &[PreFilter, Filter, Reserve, PreBind, PreScore, Score],
    },
    Known { name: "VolumeZone", class: Class::Inert, points: &[PreFilter, Filter] },
    Known { name: "PodTopologySpread", class: Class::Implemented, points: FILTER_SCORE },
    Known { name: "InterPodAffinity", class: Class::Implemented, points: FILTER_SCORE },
    Known {
        name: "DynamicResources",
        class: Class::Inert,
        points: &[PreEnqueue, PreFilter, Filter, PostFilter, Reserve, PreBind, Score],
    },
    Known { name: "DefaultPreemption", class: Class::Inert, points: &[PostFilter] },
    Known { name: "NodeResourcesBalancedAllocation", class: Class::Implemented, points: &[PreScore, Score] },
    Known { name: "ImageLocality", class: Class::Inert, points: &[Score] },
    Known { name: "DefaultBinder", class: Class::Inert, points: &[Bind] },
];

/// kube-scheduler's default `multiPoint` plugins (v1), in order, with their weights.
const DEFAULT_MULTI_POINT: &[(&str, i32)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DynamicResources", 0),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

fn known(name: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.name == name)
}

fn implements(name: &str, point: Point) -> bool {
    known(name).is_some_and(|k| k.points.contains(&point))
}

/// A plugin entry with the path it came from (for errors).
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    weight: i32,
    field: String,
}

/// The result of mapping a configuration.
#[derive(Debug)]
pub(crate) struct Mapped {
    pub(crate) policy: Policy,
    pub(crate) notes: Vec<String>,
    pub(crate) scheduler_name: String,
}

fn config_err(field: impl Into<String>, message: impl Into<String>) -> DocumentError {
    DocumentError::SchedulerConfig { field: field.into(), message: message.into() }
}

/// Merges a user plugin set with defaults, as kube-scheduler's `mergePluginSet`.
fn merge(defaults: &[Entry], enabled: &[Entry], disabled: &HashSet<String>) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut replaced = HashSet::new();
    if !disabled.contains("*") {
        for d in defaults {
            if disabled.contains(&d.name) {
                continue;
            }
            match enabled.iter().position(|e| e.name == d.name) {
                Some(i) => {
                    replaced.insert(i);
                    out.push(enabled[i].clone());
                }
                None => out.push(d.clone()),
            }
        }
    }
    out.extend(enabled.iter().enumerate().filter(|(i, _)| !replaced.contains(i)).map(|(_, e)| e.clone()));
    out
}

/// The plugins that run at `point`, in order, as kube-scheduler's `expandMultiPointPlugins`.
fn expand(point: Point, multi: &[Entry], enabled: &[Entry], disabled: &HashSet<String>) -> Vec<String> {
    let names: Vec<String> = enabled.iter().map(|e| e.name.clone()).collect();
    if disabled.contains("*") {
        return names;
    }
    let mut overrides = HashSet::new();
    let mut from_multi = Vec::new();
    for m in multi {
        if !implements(&m.name, point) || disabled.contains(&m.name) {
            continue;
        }
        if names.contains(&m.name) {
            overrides.insert(m.name.clone());
        } else {
            from_multi.push(m.name.clone());
        }
    }
    let mut out: Vec<String> = names.iter().filter(|n| overrides.contains(*n)).cloned().collect();
    out.extend(from_multi);
    out.extend(names.iter().filter(|n| !overrides.contains(*n)).cloned());
    out
}

struct PointSets {
    enabled: Vec<Entry>,
    disabled: HashSet<String>,
}

fn point_sets(set: Option<&PluginSet>, field: &str) -> PointSets {
    let enabled = set
        .and_then(|s| s.enabled.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| Entry {
            name: p.name.clone(),
            weight: p.weight.unwrap_or(0),
            field: format!("{field}.enabled[{i}]"),
        })
        .collect();
    let disabled = set.and_then(|s| s.disabled.as_ref()).into_iter().flatten().map(|p| p.name.clone()).collect();
    PointSets { enabled, disabled }
}

/// Maps the configuration's first profile onto a [`Policy`], with notes on what is ignored.
pub(crate) fn map(cfg: KubeSchedulerConfiguration) -> Result<Mapped, DocumentError> {
    let mut notes = Vec::new();
    let _ = (
        cfg.api_version,
        cfg.kind,
        cfg.parallelism,
        cfg.leader_election,
        cfg.client_connection,
        cfg.healthz_bind_address,
        cfg.metrics_bind_address,
        cfg.enable_profiling,
        cfg.enable_contention_profiling,
        cfg.pod_initial_backoff_seconds,
        cfg.pod_max_backoff_seconds,
        cfg.delay_cache_until_active,
    );
    if cfg.extenders.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(config_err(
            "extenders",
            "scheduler extenders are external HTTP services that spillway cannot call; remove them",
        ));
    }
    let profiles = cfg.profiles.unwrap_or_default();
    let mut percentage = cfg.percentage_of_nodes_to_score;
    let Some(profile) = profiles.first() else {
        notes.push("no profiles; using kube-scheduler's default profile".to_string());
        note_percentage(percentage, &mut notes);
        return Ok(Mapped { policy: Policy::default(), notes, scheduler_name: DEFAULT_SCHEDULER_NAME.to_string() });
    };
    let scheduler_name = profile.scheduler_name.clone().unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
    if profiles.len() > 1 {
        let others: Vec<&str> =
            profiles[1..].iter().map(|p| p.scheduler_name.as_deref().unwrap_or(DEFAULT_SCHEDULER_NAME)).collect();
        notes.push(format!(
            "spillway honours the first profile ({scheduler_name}); {} more ignored ({})",
            others.len(),
            others.join(", ")
        ));
    }
    if profile.percentage_of_nodes_to_score.is_some() {
        percentage = profile.percentage_of_nodes_to_score;
    }
    note_percentage(percentage, &mut notes);

    let mut out = Profile::default();
    let empty = Plugins::default();
    let plugins = profile.plugins.as_ref().unwrap_or(&empty);
    plugins_to_profile(plugins, &mut out, &mut notes)?;
    for (i, pc) in profile.plugin_config.iter().flatten().enumerate() {
        let field = format!("profiles[0].pluginConfig[{i}]");
        if profile.plugin_config.iter().flatten().take(i).any(|o| o.name == pc.name) {
            return Err(config_err(field, format!("plugin {} is configured twice", pc.name)));
        }
        plugin_args(pc, &field, &mut out, &mut notes)?;
    }
    let policy = Policy { profile: out, ..Policy::default() };
    policy.validate().map_err(DocumentError::Policy)?;
    Ok(Mapped { policy, notes, scheduler_name })
}

fn note_percentage(percentage: Option<i32>, notes: &mut Vec<String>) {
    if let Some(p) = percentage.filter(|&p| p != 100) {
        notes.push(format!("percentageOfNodesToScore {p} is ignored; spillway scores every feasible node"));
    }
}

fn plugins_to_profile(plugins: &Plugins, out: &mut Profile, notes: &mut Vec<String>) -> Result<(), DocumentError> {
    let base = "profiles[0].plugins";
    let points: [(Point, Option<&PluginSet>); 12] = [
        (PreEnqueue, plugins.pre_enqueue.as_ref()),
        (QueueSort, plugins.queue_sort.as_ref()),
        (PreFilter, plugins.pre_filter.as_ref()),
        (Filter, plugins.filter.as_ref()),
        (PostFilter, plugins.post_filter.as_ref()),
        (PreScore, plugins.pre_score.as_ref()),
        (Score, plugins.score.as_ref()),
        (Reserve, plugins.reserve.as_ref()),
        (Permit, plugins.permit.as_ref()),
        (PreBind, plugins.pre_bind.as_ref()),
        (Bind, plugins.bind.as_ref()),
        (PostBind, plugins.post_bind.as_ref()),
    ];
    let multi_sets = point_sets(plugins.multi_point.as_ref(), &format!("{base}.multiPoint"));
    let mut sets = Vec::new();
    for (point, set) in points {
        sets.push((point, point_sets(set, &format!("{base}.{}", point.field()))));
    }

    // Every enabled plugin must be one kube-scheduler has, listed once, at a point it implements.
    let mut notes_for = HashSet::new();
    let all = std::iter::once((None, &multi_sets)).chain(sets.iter().map(|(p, s)| (Some(*p), s)));
    for (point, set) in all {
        for (i, e) in set.enabled.iter().enumerate() {
            let Some(k) = known(&e.name) else {
                return Err(config_err(
                    &e.field,
                    format!(
                        "unknown or out-of-tree plugin {:?}; spillway runs kube-scheduler's in-tree plugins only",
                        e.name
                    ),
                ));
            };
            if set.enabled[..i].iter().any(|o| o.name == e.name) {
                return Err(config_err(&e.field, format!("plugin {} is listed twice", e.name)));
            }
            if let Some(p) = point
                && k.class != Class::Inert
                && !k.points.contains(&p)
            {
                return Err(config_err(
                    &e.field,
                    format!("plugin {} does not implement the {} extension point", e.name, p.field()),
                ));
            }
            let explicit = notes_for.insert(e.name.clone());
            if k.class == Class::Inert && explicit {
                notes.push(format!("{} is enabled, but spillway models nothing it acts on; ignored", e.name));
            }
            if k.class == Class::Inert && e.weight != 0 && matches!(point, None | Some(Score)) {
                notes.push(format!("weight {} of {} is ignored; spillway models nothing it scores", e.weight, e.name));
            }
        }
    }

    let defaults: Vec<Entry> = DEFAULT_MULTI_POINT
        .iter()
        .map(|(name, weight)| Entry { name: (*name).to_string(), weight: *weight, field: "(default)".into() })
        .collect();
    let multi = merge(&defaults, &multi_sets.enabled, &multi_sets.disabled);
    let lists: Vec<(Point, Vec<String>)> = sets
        .iter()
        .filter(|(p, _)| matches!(p, PreFilter | Filter | PreScore | Score))
        .map(|(p, s)| (*p, expand(*p, &multi, &s.enabled, &s.disabled)))
        .collect();
    let list = |point: Point| lists.iter().find(|(p, _)| *p == point).map(|(_, l)| l.as_slice()).unwrap_or_default();

    // spillway runs a plugin's PreFilter/PreScore together with its Filter/Score. A Filter or
    // Score without its PreFilter/PreScore fails in kube-scheduler; a PreFilter/PreScore alone
    // only computes state, except NodeAffinity's PreFilter, which still narrows the nodes to
    // those named in the pod's `matchFields`.
    for k in KNOWN.iter().filter(|k| k.class == Class::Implemented) {
        for (pre, main) in [(PreFilter, Filter), (PreScore, Score)] {
            if !k.points.contains(&pre) {
                continue;
            }
            let (in_pre, in_main) = (list(pre).iter().any(|n| n == k.name), list(main).iter().any(|n| n == k.name));
            let narrows = k.name == "NodeAffinity" && pre == PreFilter;
            if (in_main && !in_pre) || (narrows && in_pre && !in_main) {
                let (on, off) = if in_pre { (pre, main) } else { (main, pre) };
                return Err(config_err(
                    format!("{base}.{}", off.field()),
                    format!(
                        "{} runs at {} but not at {}; spillway runs a plugin's {} and {} together: \
                         enable or disable both",
                        k.name,
                        on.field(),
                        off.field(),
                        pre.field(),
                        main.field()
                    ),
                ));
            }
        }
    }

    out.filters = list(Filter).iter().filter_map(|n| n.parse::<FilterPlugin>().ok()).collect();
    let score_entries: Vec<&Entry> =
        sets.iter().filter(|(p, _)| *p == Score).flat_map(|(_, s)| s.enabled.iter()).chain(multi.iter()).collect();
    out.scores = list(Score)
        .iter()
        .filter_map(|n| n.parse::<ScorePlugin>().ok())
        .map(|plugin| {
            let weight = score_entries.iter().find(|e| e.name == plugin.name()).map_or(0, |e| e.weight);
            WeightedScorePlugin { name: plugin, weight: if weight == 0 { 1 } else { i64::from(weight) } }
        })
        .collect();
    Ok(())
}

/// Removes `kind` and `apiVersion` from plugin args, checking the kind.
fn strip_type(name: &str, args: &mut serde_json::Value, field: &str) -> Result<(), DocumentError> {
    if let Some(map) = args.as_object_mut() {
        map.remove("apiVersion");
        if let Some(kind) = map.remove("kind") {
            let want = format!("{name}Args");
            if kind.as_str() != Some(want.as_str()) {
                return Err(config_err(format!("{field}.args.kind"), format!("expected {want}, found {kind}")));
            }
        }
    }
    Ok(())
}

fn args_of<T: serde::de::DeserializeOwned>(args: serde_json::Value, field: &str) -> Result<T, DocumentError> {
    serde_json::from_value(args).map_err(|e| config_err(format!("{field}.args"), e.to_string()))
}

/// kube-scheduler's v1 defaulting of resource lists: empty → cpu and memory; weight 0 → 1.
fn default_resources(resources: &mut Vec<ResourceWeight>) {
    if resources.is_empty() {
        resources.extend([ResourceWeight::new("cpu", 1), ResourceWeight::new("memory", 1)]);
    }
    for r in resources.iter_mut().filter(|r| r.weight == 0) {
        r.weight = 1;
    }
}

fn plugin_args(
    pc: &PluginConfig,
    field: &str,
    out: &mut Profile,
    notes: &mut Vec<String>,
) -> Result<(), DocumentError> {
    let mut args = pc.args.clone().unwrap_or(serde_json::Value::Null);
    strip_type(&pc.name, &mut args, field)?;
    if args.is_null() {
        args = serde_json::Value::Object(serde_json::Map::new());
    }
    match pc.name.as_str() {
        "NodeResourcesFit" => {
            let strategy = args.get("scoringStrategy");
            if strategy.is_some_and(|s| s.is_object() && s.get("type").is_none()) {
                return Err(config_err(
                    format!("{field}.args.scoringStrategy.type"),
                    "is missing (use LeastAllocated, MostAllocated or RequestedToCapacityRatio)",
                ));
            }
            let mut fit: NodeResourcesFitArgs = args_of(args, field)?;
            default_resources(&mut fit.scoring_strategy.resources);
            let s = &fit.scoring_strategy;
            if s.kind != ScoringStrategyType::RequestedToCapacityRatio && s.requested_to_capacity_ratio.is_some() {
                return Err(config_err(
                    format!("{field}.args.scoringStrategy.requestedToCapacityRatio"),
                    "must be omitted unless type is RequestedToCapacityRatio (kube-scheduler rejects it)",
                ));
            }
            if let Some(g) = fit.ignored_resource_groups.iter().find(|g| g.contains('/')) {
                return Err(config_err(
                    format!("{field}.args.ignoredResourceGroups"),
                    format!("resource group name {g:?} can't contain '/'"),
                ));
            }
            out.node_resources_fit = fit;
        }
        "NodeResourcesBalancedAllocation" => {
            let mut balanced: BalancedAllocationArgs = args_of(args, field)?;
            default_resources(&mut balanced.resources);
            out.balanced_allocation = balanced;
        }
        "NodeAffinity" => out.node_affinity = args_of::<NodeAffinityArgs>(args, field)?,
        "InterPodAffinity" => out.inter_pod_affinity = args_of::<InterPodAffinityArgs>(args, field)?,
        "PodTopologySpread" => out.pod_topology_spread = args_of::<PodTopologySpreadArgs>(args, field)?,
        name => match known(name) {
            Some(k) if k.class == Class::Inert => {
                notes.push(format!("pluginConfig for {name} is ignored; spillway models nothing it acts on"))
            }
            Some(_) => {}
            None => {
                return Err(config_err(
                    format!("{field}.name"),
                    format!("args for unknown or out-of-tree plugin {name:?} cannot be honoured; remove them"),
                ));
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str) -> Entry {
        Entry { name: name.into(), weight: 0, field: String::new() }
    }

    #[test]
    fn merge_replaces_in_place_and_appends() {
        let defaults = vec![e("A"), e("B"), e("C")];
        let disabled: HashSet<String> = ["B".to_string()].into();
        let got: Vec<String> = merge(&defaults, &[e("X"), e("C")], &disabled).into_iter().map(|e| e.name).collect();
        assert_eq!(got, ["A", "C", "X"]);
        let all: HashSet<String> = ["*".to_string()].into();
        let got: Vec<String> = merge(&defaults, &[e("C")], &all).into_iter().map(|e| e.name).collect();
        assert_eq!(got, ["C"]);
    }

    #[test]
    fn expand_puts_overrides_first() {
        let multi = vec![e("NodeUnschedulable"), e("TaintToleration"), e("NodePorts")];
        let got = expand(Filter, &multi, &[e("NodePorts"), e("NodeName")], &HashSet::new());
        assert_eq!(got, ["NodePorts", "NodeUnschedulable", "TaintToleration", "NodeName"]);
        let got = expand(Score, &multi, &[], &HashSet::new());
        assert_eq!(got, ["TaintToleration"]);
    }
}
