//! Scenario files: multi-document YAML (or JSON) holding Kubernetes objects, workloads and
//! spillway's own documents, loaded into a [`Snapshot`], the pending pods and a [`Policy`].
//!
//! ```
//! use spillway::scenario::Scenario;
//! use spillway::{Engine, Outcome};
//!
//! let scenario = Scenario::from_yaml_str(r#"
//! apiVersion: v1
//! kind: Node
//! metadata: {name: vm-1}
//! status: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}}
//! ---
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web, namespace: shop}
//! spec:
//!   replicas: 2
//!   selector: {matchLabels: {app: web}}
//!   template:
//!     metadata: {labels: {app: web}}
//!     spec:
//!       containers: [{name: app, image: web, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]
//! ---
//! apiVersion: v1
//! kind: Service
//! metadata: {name: web, namespace: shop}
//! spec: {selector: {app: web}, ports: [{port: 80}]}
//! "#)?;
//! assert_eq!(scenario.pending.len(), 2);
//! assert!(scenario.pending[0].name.starts_with("web-"));
//! // The Service's selector is kept: default topology spreading deduces selectors from it.
//! assert_eq!(scenario.snapshot.workload_selectors().len(), 2, "the Deployment's ReplicaSet and the Service");
//!
//! let plan = Engine::new(scenario.policy.clone())?.place(&scenario.snapshot, &scenario.pending);
//! assert!(plan.decisions.iter().all(|d| d.node() == Some("vm-1")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Documents
//!
//! Each document is dispatched on `apiVersion` and `kind`:
//!
//! | apiVersion | kind | becomes |
//! |---|---|---|
//! | `v1` | `Node` | a node ([`node_from_k8s`](crate::k8s::node_from_k8s)) |
//! | `v1` | `Pod` | a placed pod (with `spec.nodeName`) or a pending pod ([`pod_from_k8s`](crate::k8s::pod_from_k8s)); `Succeeded`/`Failed` pods are skipped, as kube-scheduler ignores them |
//! | `v1` | `Namespace` | its labels, in [`Scenario::namespaces`] |
//! | `v1` | `List` (or `PodList`, `NodeList`, ...) | each of its `items` |
//! | `apps/v1` | `Deployment`, `ReplicaSet`, `StatefulSet` | `spec.replicas` (default 1) pending pods from the template, and the selector of the ReplicaSet or StatefulSet |
//! | `v1` | `ReplicationController` | likewise |
//! | `v1` | `Service` | its selector (default topology spreading deduces pod selectors from Services and controllers) |
//! | `apps/v1` | `DaemonSet` | one pending pod per eligible node of the scenario, pinned to it |
//! | `batch/v1` | `Job` | `min(parallelism, completions)` pending pods (`parallelism` defaults to 1; none when suspended) |
//! | `scheduling.k8s.io/v1` | `PriorityClass` | the priority of pods naming it in `priorityClassName` |
//! | `node.k8s.io/v1` | `RuntimeClass` | the overhead, node selector and tolerations of pods naming it |
//! | `scheduling.x-k8s.io/v1alpha1` | `PodGroup` | a co-scheduled group (`spec.minMember`), see [`PodGroup`] |
//! | `spillway.rs/v1alpha1` | `Policy` | the policy: `spec` is a [`Policy`] |
//! | `kubescheduler.config.k8s.io/v1` | `KubeSchedulerConfiguration` | the policy, from the first profile |
//!
//! Documents of other kinds (ConfigMap, Ingress, custom resources, ...) are skipped with a note
//! in [`Scenario::notes`]; an unknown kind of `spillway.rs`, a document without `apiVersion` or
//! `kind`, and anything spillway cannot honour are errors naming the file and the document.
//!
//! Each document is deserialized straight into its type, so a plain YAML scalar becomes what
//! its field needs (`name: n` and `version: 0206` stay strings), as with `kubectl`; errors carry
//! the file's line and column. The items of a `List` are read through JSON values, so in a YAML
//! `List` quote strings that look like numbers or booleans (as `kubectl get -o yaml` does).
//! JSON files load too: JSON is YAML.
//!
//! Workload pods are named as their controllers name them, with stable hashes in place of the
//! random parts; their `owner_kind` is the controller's kind (`ReplicaSet` for Deployments).
//! A DaemonSet runs on the nodes the DaemonSet controller picks (node selector, required node
//! affinity and `NoSchedule`/`NoExecute` taints, with the tolerations the controller adds), and
//! each of its pods is pinned with `matchFields: metadata.name In [node]`, as the controller
//! does. Nodes from every document and file count, whatever the order.
//!
//! # Order
//!
//! Pods with a `metadata.creationTimestamp` keep it as their creation order (unix
//! milliseconds); pods without one — every workload pod, and most manifests — are ordered after
//! them, in document order (files in the order given). The engine places pods by priority, then
//! creation order.
//!
//! # KubeSchedulerConfiguration
//!
//! The first profile is honoured (a note lists any others): its enabled and disabled plugins at
//! `multiPoint`, `preFilter`, `filter`, `preScore` and `score` (with `"*"`), merged with
//! kube-scheduler's defaults as kube-scheduler merges them (which fixes the order filters run
//! in); score weights (a `score` weight wins over a `multiPoint` one; 0 or none counts as 1, as
//! in kube-scheduler); and the `pluginConfig` args of NodeResourcesFit,
//! NodeResourcesBalancedAllocation, NodeAffinity, InterPodAffinity and PodTopologySpread (with
//! kube's v1 defaulting: empty resource lists become cpu and memory, weight 0 becomes 1).
//!
//! Rejected with an error: unknown or out-of-tree plugins, a plugin at an extension point it does
//! not implement, a Filter or Score whose PreFilter or PreScore is disabled, unknown fields
//! (kube-scheduler decodes strictly), extenders, args of unknown plugins, and args kube-scheduler
//! would reject. Plugins that act on things spillway does not model (PrioritySort,
//! DefaultBinder, DefaultPreemption, SchedulingGates, the volume plugins, ImageLocality,
//! DynamicResources) may be enabled, disabled or configured freely; a note says they are
//! ignored. `percentageOfNodesToScore` is noted: spillway scores every feasible node.

mod config;
mod error;
mod workloads;
mod yaml;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::node::v1 as nodev1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{self as meta, ObjectMeta};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

pub use error::{DocumentError, DocumentOrigin, ScenarioError, YamlError};

use crate::k8s::{self, ConversionError, ConversionProblem, Ctx};
use crate::model::{
    BurstTarget, LabelSelector, Labels, Node, NodePool, Pod, PodGroup, Policy, Resources, Snapshot, SnapshotError,
    Toleration, WorkloadSelector,
};
use workloads::{Ineligible, Workload, WorkloadKind};

/// Creation order given to the first pod without a creation timestamp; later ones count up.
/// Far after any real timestamp (unix milliseconds), so such pods come after timestamped ones.
const UNTIMED_BASE: i64 = 1 << 62;

/// The most pods one workload may expand to (a guard against a typo such as `replicas: 30000000`).
const MAX_PODS_PER_WORKLOAD: usize = 1_000_000;

/// A loaded scenario: the cluster, the pods to place, the policy, and notes about what was
/// skipped or is not honoured.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The nodes and the pods already placed on them.
    pub snapshot: Snapshot,
    /// The pods to place, in document order.
    pub pending: Vec<Pod>,
    /// The policy (from a `Policy` or `KubeSchedulerConfiguration` document; the default
    /// otherwise).
    pub policy: Policy,
    /// Notes for the user: skipped documents, settings that are ignored, what spillway does not
    /// simulate (e.g. volume binding), how DaemonSets expanded. The `plan` example prints them to
    /// stderr.
    pub notes: Vec<String>,
    /// Labels of the `Namespace` documents, by namespace name (also set in the snapshot, for
    /// `namespaceSelector`s).
    pub namespaces: BTreeMap<String, Labels>,
}

impl Scenario {
    /// Loads a scenario from YAML (or JSON) text; errors name the source `<input>`.
    ///
    /// ```
    /// use spillway::scenario::Scenario;
    /// let scenario = Scenario::from_yaml_str(r#"
    /// apiVersion: v1
    /// kind: Node
    /// metadata: {name: vm-1}
    /// status: {allocatable: {cpu: "2", memory: 8Gi, pods: "110"}}
    /// ---
    /// apiVersion: v1
    /// kind: Pod
    /// metadata: {name: web}
    /// spec: {containers: [{name: app, resources: {limits: {cpu: 500m}}}]}
    /// "#)?;
    /// assert_eq!(scenario.snapshot.nodes().len(), 1);
    /// assert_eq!(scenario.pending[0].key(), "default/web");
    /// assert_eq!(scenario.pending[0].requests().cpu_millis, 500); // request defaulted to the limit
    ///
    /// let err = Scenario::from_yaml_str("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources: {requests: {memory: 12Kb}}\n").unwrap_err();
    /// assert_eq!(err.to_string(), "<input>: document 1 (line 1, Pod default/p)");
    /// assert!(std::error::Error::source(&err).unwrap().to_string().contains(r#"spec.containers[0].resources.requests.memory: malformed quantity "12Kb""#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_yaml_str(text: &str) -> Result<Scenario, ScenarioError> {
        ScenarioBuilder::new().add_yaml(text, "<input>")?.build()
    }

    /// Loads and combines scenario files (YAML or JSON), in the order given.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Scenario, ScenarioError> {
        paths.iter().try_fold(ScenarioBuilder::new(), |b, p| b.add_file(p))?.build()
    }
}

/// Combines several sources into one [`Scenario`]. Nodes from every source count for every
/// DaemonSet, whatever the order.
///
/// ```
/// use spillway::scenario::ScenarioBuilder;
/// let pods = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {containers: [{name: a}]}\n";
/// let nodes = "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: b}\n";
/// let scenario = ScenarioBuilder::new().add_yaml(pods, "pods.yaml")?.add_yaml(nodes, "nodes.yaml")?.build()?;
/// assert_eq!(scenario.pending.len(), 2);
/// # Ok::<(), spillway::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ScenarioBuilder {
    entries: Vec<Entry>,
    /// Notes with the position of their document, sorted when the scenario is built.
    notes: Vec<(usize, String)>,
    policy: Option<PolicySource>,
    /// Documents added so far.
    seq: usize,
}

#[derive(Debug, Clone)]
struct PolicySource {
    policy: Policy,
    scheduler_name: String,
    origin: DocumentOrigin,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Position of the document among all documents added (orders the notes).
    seq: usize,
    origin: DocumentOrigin,
    item: Item,
}

#[derive(Debug, Clone)]
enum Item {
    Node(Node),
    Pod(Box<Pod>, Extras),
    Workload(Box<Workload>, Extras),
    Namespace(String, Labels),
    PriorityClass { name: String, value: i32, global_default: bool },
    RuntimeClass(RuntimeClass),
    PodGroup(PodGroup),
    BurstTarget(Box<BurstTarget>),
    NodePool(Box<NodePool>, bool),
    Selector(WorkloadSelector),
}

#[derive(Debug, Clone)]
struct RuntimeClass {
    name: String,
    overhead: Resources,
    node_selector: Labels,
    tolerations: Vec<Toleration>,
}

/// Pod settings resolved when the scenario is built.
#[derive(Debug, Clone, Default)]
struct Extras {
    explicit_priority: bool,
    priority_class: Option<String>,
    scheduler_name: Option<String>,
    runtime_class: Option<String>,
    timestamped: bool,
}

impl Extras {
    fn of(spec: Option<&core::PodSpec>, timestamped: bool) -> Extras {
        let non_empty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
        Extras {
            explicit_priority: spec.is_some_and(|s| s.priority.is_some()),
            priority_class: non_empty(spec.and_then(|s| s.priority_class_name.as_ref())),
            scheduler_name: non_empty(spec.and_then(|s| s.scheduler_name.as_ref())),
            runtime_class: non_empty(spec.and_then(|s| s.runtime_class_name.as_ref())),
            timestamped,
        }
    }
}

/// The type and name of a document, read before the document itself.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<HeaderMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderMeta {
    name: Option<String>,
    namespace: Option<String>,
}

/// The parts of a workload object spillway reads. (Own types rather than k8s-openapi's
/// top-level ones, whose shape varies between Kubernetes versions.)
#[derive(Debug, Deserialize)]
struct WorkloadDoc<S> {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<S>,
}

#[derive(Debug, Deserialize)]
struct ReplicatedSpec {
    replicas: Option<i32>,
    selector: Option<meta::LabelSelector>,
    template: Option<core::PodTemplateSpec>,
}

/// A ReplicationController's spec: its selector is a plain map.
#[derive(Debug, Deserialize)]
struct ControllerSpec {
    replicas: Option<i32>,
    selector: Option<Labels>,
    template: Option<core::PodTemplateSpec>,
}

#[derive(Debug, Deserialize)]
struct ServiceSpec {
    selector: Option<Labels>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatefulSetSpec {
    replicas: Option<i32>,
    selector: Option<meta::LabelSelector>,
    template: Option<core::PodTemplateSpec>,
    ordinals: Option<Ordinals>,
    volume_claim_templates: Option<Vec<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
struct Ordinals {
    start: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    parallelism: Option<i32>,
    completions: Option<i32>,
    completion_mode: Option<String>,
    suspend: Option<bool>,
    template: Option<core::PodTemplateSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriorityClassDoc {
    #[serde(default)]
    metadata: ObjectMeta,
    value: Option<i32>,
    global_default: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct RuntimeClassDoc {
    #[serde(default)]
    metadata: ObjectMeta,
    overhead: Option<nodev1::Overhead>,
    scheduling: Option<nodev1::Scheduling>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodGroupSpec {
    min_member: Option<i32>,
}

#[derive(Debug, Deserialize)]
struct ListDoc {
    items: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyDoc {
    #[allow(dead_code)] // Checked by the dispatch; present in every document.
    api_version: IgnoredAny,
    #[allow(dead_code)] // Checked by the dispatch; present in every document.
    kind: IgnoredAny,
    #[allow(dead_code)] // Accepted for symmetry with Kubernetes objects; carries nothing.
    metadata: Option<IgnoredAny>,
    #[serde(default)]
    spec: Policy,
}

/// A spillway document whose `spec` becomes a model object named by `metadata.name`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecDoc {
    #[allow(dead_code)] // Checked by the dispatch; present in every document.
    api_version: IgnoredAny,
    #[allow(dead_code)] // Checked by the dispatch; present in every document.
    kind: IgnoredAny,
    #[serde(default)]
    metadata: serde_json::Value,
    #[serde(default)]
    spec: serde_json::Value,
}

impl SpecDoc {
    fn name(&self) -> Result<String, DocumentError> {
        match self.metadata.get("name").and_then(|n| n.as_str()).filter(|n| !n.is_empty()) {
            Some(name) => Ok(name.to_string()),
            None => Err(DocumentError::MissingType { missing: "metadata.name" }),
        }
    }
}

/// Deserializes `spec` (with `name` added) into `T`.
fn from_spec<T: DeserializeOwned>(name: &str, spec: serde_json::Value) -> Result<T, DocumentError> {
    let mut spec = match spec {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        other => other,
    };
    if let Some(map) = spec.as_object_mut() {
        map.insert("name".into(), serde_json::Value::String(name.to_string()));
    }
    serde_json::from_value(spec).map_err(DocumentError::Json)
}

/// Overlays `over` onto `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// A `BurstTarget` document: `spec.preset` (`aci` or `fargate`, with `spec.region`) starts from
/// the built-in presets ([`BurstTarget::aci_like`], [`BurstTarget::fargate_like`]); the other
/// fields of `spec` override the preset's, key by key.
fn burst_target(name: &str, spec: serde_json::Value) -> Result<BurstTarget, DocumentError> {
    let mut spec = match spec {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        other => other,
    };
    let map = spec.as_object_mut();
    let preset = map.as_ref().and_then(|m| m.get("preset")).and_then(|v| v.as_str()).map(str::to_string);
    let region = map.as_ref().and_then(|m| m.get("region")).and_then(|v| v.as_str()).unwrap_or("eastus").to_string();
    if let Some(m) = spec.as_object_mut() {
        m.remove("preset");
        m.remove("region");
    }
    let base = match preset.as_deref() {
        None => None,
        Some("aci") => Some(BurstTarget::aci_like(name, &region)),
        Some("fargate") => Some(BurstTarget::fargate_like(name, &region)),
        Some(other) => {
            return Err(conversion(ConversionError::new(
                format!("BurstTarget {name}"),
                "spec.preset",
                ConversionProblem::UnknownValue { value: other.to_string(), allowed: "aci or fargate" },
            )));
        }
    };
    match base {
        None => from_spec(name, spec),
        Some(base) => {
            let mut value = serde_json::to_value(base).map_err(DocumentError::Json)?;
            merge(&mut value, spec);
            from_spec(name, value)
        }
    }
}

/// What a workload document gives to [`ScenarioBuilder::add_workload`].
struct WorkloadSource<'a> {
    meta: &'a ObjectMeta,
    template: &'a core::PodTemplateSpec,
    /// Pods to create (ignored for DaemonSets).
    replicas: usize,
    /// The selector of the controller that owns the pods, if it has one.
    selector: Option<LabelSelector>,
}

/// Kinds that are cluster-scoped (named without a namespace).
fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Node"
            | "Namespace"
            | "PriorityClass"
            | "RuntimeClass"
            | "StorageClass"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "Policy"
            | "KubeSchedulerConfiguration"
    )
}

fn display_name(
    api_version: Option<&str>,
    kind: Option<&str>,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Option<String> {
    let name = name.filter(|n| !n.is_empty())?;
    if kind.is_none_or(cluster_scoped) || api_version.is_some_and(|a| group_of(a) == "spillway.rs") {
        Some(name.to_string())
    } else {
        Some(format!("{}/{name}", namespace.filter(|n| !n.is_empty()).unwrap_or(k8s::DEFAULT_NAMESPACE)))
    }
}

/// API groups of Kubernetes itself (and of well-known SIG projects): their other kinds are
/// skipped as not affecting placement.
const KUBE_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "extensions",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "node.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "apiregistration.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "certificates.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "resource.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "internal.apiserver.k8s.io",
    "storagemigration.k8s.io",
    "gateway.networking.k8s.io",
    "metrics.k8s.io",
    "kubescheduler.config.k8s.io",
];

/// A document's content, still to be deserialized into its type.
enum Raw<'a> {
    Yaml(&'a yaml::Chunk<'a>, &'a str),
    Json(serde_json::Value),
}

impl Raw<'_> {
    fn typed<T: DeserializeOwned>(self) -> Result<T, DocumentError> {
        match self {
            Raw::Yaml(chunk, source) => yaml::parse::<T>(chunk, source)
                .map_err(DocumentError::Yaml)?
                .ok_or(DocumentError::MissingType { missing: "kind" }),
            Raw::Json(value) => serde_json::from_value(value).map_err(DocumentError::Json),
        }
    }
}

fn conversion(e: ConversionError) -> DocumentError {
    DocumentError::Conversion(e)
}

fn missing_spec(object: &str) -> DocumentError {
    conversion(ConversionError::new(object, "spec", ConversionProblem::Missing { advice: "give the workload a spec" }))
}

/// A pod count (`replicas`, `parallelism`, `completions`); negative counts are rejected, as the
/// API server rejects them.
fn count(object: &str, field: &str, value: Option<i32>, default: i32) -> Result<usize, DocumentError> {
    let value = value.unwrap_or(default);
    usize::try_from(value).map_err(|_| {
        conversion(ConversionError::new(
            object,
            field,
            ConversionProblem::Unsupported { why: format!("{value} is negative; give 0 or more") },
        ))
    })
}

impl ScenarioBuilder {
    /// An empty builder.
    pub fn new() -> ScenarioBuilder {
        ScenarioBuilder::default()
    }

    /// Reads a scenario file (YAML or JSON) and adds its documents.
    pub fn add_file(self, path: impl AsRef<Path>) -> Result<ScenarioBuilder, ScenarioError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: name.clone(), source })?;
        self.add_yaml(&text, name)
    }

    /// Adds the documents of YAML (or JSON) text; `source` names it in errors and notes (a file
    /// name, or e.g. `<input>`).
    pub fn add_yaml(mut self, text: &str, source: impl Into<String>) -> Result<ScenarioBuilder, ScenarioError> {
        let source = source.into();
        let mut document = 0;
        for chunk in yaml::split(text) {
            let mut origin = DocumentOrigin {
                source: source.clone(),
                document: document + 1,
                line: chunk.line,
                ..Default::default()
            };
            let header = yaml::parse::<Header>(&chunk, &source)
                .map_err(|e| ScenarioError::document(&origin, DocumentError::Yaml(e)))?;
            let Some(header) = header else { continue };
            document += 1;
            self.seq += 1;
            let meta = header.metadata.as_ref();
            origin.kind.clone_from(&header.kind);
            origin.name = display_name(
                header.api_version.as_deref(),
                header.kind.as_deref(),
                meta.and_then(|m| m.name.as_deref()),
                meta.and_then(|m| m.namespace.as_deref()),
            );
            let (api_version, kind) = match (header.api_version, header.kind) {
                (None, _) => {
                    return Err(ScenarioError::document(&origin, DocumentError::MissingType { missing: "apiVersion" }));
                }
                (_, None) => {
                    return Err(ScenarioError::document(&origin, DocumentError::MissingType { missing: "kind" }));
                }
                (Some(a), Some(k)) => (a, k),
            };
            if kind == "List" || (kind.ends_with("List") && KUBE_GROUPS.contains(&group_of(&api_version))) {
                let list: ListDoc =
                    Raw::Yaml(&chunk, &source).typed().map_err(|e| ScenarioError::document(&origin, e))?;
                for (i, item) in list.items.unwrap_or_default().into_iter().enumerate() {
                    let field = |k: &str| item.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
                    let meta =
                        |k: &str| item.get("metadata").and_then(|m| m.get(k)).and_then(serde_json::Value::as_str);
                    let item_kind = field("kind");
                    let item_origin = DocumentOrigin {
                        item: Some(i),
                        name: display_name(
                            item.get("apiVersion").and_then(serde_json::Value::as_str),
                            item_kind.as_deref(),
                            meta("name"),
                            meta("namespace"),
                        ),
                        kind: item_kind.clone(),
                        ..origin.clone()
                    };
                    let (Some(api_version), Some(kind)) = (field("apiVersion"), item_kind) else {
                        let missing = if field("apiVersion").is_none() { "apiVersion" } else { "kind" };
                        return Err(ScenarioError::document(&item_origin, DocumentError::MissingType { missing }));
                    };
                    self.add_object(&item_origin, &api_version, &kind, Raw::Json(item))
                        .map_err(|e| ScenarioError::document(&item_origin, e))?;
                }
                continue;
            }
            self.add_object(&origin, &api_version, &kind, Raw::Yaml(&chunk, &source))
                .map_err(|e| ScenarioError::document(&origin, e))?;
        }
        Ok(self)
    }

    fn note(&mut self, origin: &DocumentOrigin, text: impl AsRef<str>) {
        self.notes.push((self.seq, format!("{origin}: {}", text.as_ref())));
    }

    fn push(&mut self, origin: &DocumentOrigin, item: Item) {
        self.entries.push(Entry { seq: self.seq, origin: origin.clone(), item });
    }

    fn set_policy(
        &mut self,
        origin: &DocumentOrigin,
        policy: Policy,
        scheduler_name: String,
    ) -> Result<(), DocumentError> {
        if let Some(first) = &self.policy {
            return Err(DocumentError::SecondPolicy { first: first.origin.to_string() });
        }
        self.policy = Some(PolicySource { policy, scheduler_name, origin: origin.clone() });
        Ok(())
    }

    fn add_object(
        &mut self,
        origin: &DocumentOrigin,
        api_version: &str,
        kind: &str,
        raw: Raw<'_>,
    ) -> Result<(), DocumentError> {
        let group = group_of(api_version);
        match (api_version, kind) {
            ("v1", "Node") => {
                let node: core::Node = raw.typed()?;
                let node = k8s::node_from_k8s(&node).map_err(conversion)?;
                if node.allocatable.pods == 0 {
                    self.note(
                        origin,
                        "the node has no `pods` allocatable, so it can hold no pod (kubelet's default is 110)",
                    );
                }
                self.push(origin, Item::Node(node));
            }
            ("v1", "Pod") => self.add_pod(origin, raw.typed()?)?,
            ("v1", "Namespace") => {
                let ns: WorkloadDoc<IgnoredAny> = raw.typed()?;
                let name = ns.metadata.name.filter(|n| !n.is_empty()).ok_or_else(|| {
                    conversion(ConversionError::new(
                        "namespace <unnamed>",
                        "metadata.name",
                        ConversionProblem::Missing { advice: "every namespace needs a name" },
                    ))
                })?;
                self.push(origin, Item::Namespace(name, ns.metadata.labels.unwrap_or_default()));
            }
            ("apps/v1", "Deployment" | "ReplicaSet") => {
                let d: WorkloadDoc<ReplicatedSpec> = raw.typed()?;
                let wk = if kind == "Deployment" { WorkloadKind::Deployment } else { WorkloadKind::ReplicaSet };
                let object = format!("{kind} {}", object_name(&d.metadata));
                let spec = d.spec.ok_or_else(|| missing_spec(&object))?;
                let selector = selector(&object, spec.selector.as_ref())?;
                let template = spec.template.unwrap_or_default();
                let replicas = count(&object, "spec.replicas", spec.replicas, 1)?;
                let source = WorkloadSource { meta: &d.metadata, template: &template, replicas, selector };
                self.add_workload(origin, wk, source, |_| {})?;
            }
            ("v1", "ReplicationController") => {
                let rc: WorkloadDoc<ControllerSpec> = raw.typed()?;
                let object = format!("ReplicationController {}", object_name(&rc.metadata));
                let spec = rc.spec.ok_or_else(|| missing_spec(&object))?;
                let template = spec.template.unwrap_or_default();
                // An empty selector defaults to the template's labels.
                let match_labels = spec
                    .selector
                    .filter(|s| !s.is_empty())
                    .or_else(|| template.metadata.as_ref().and_then(|m| m.labels.clone()))
                    .unwrap_or_default();
                let selector = Some(LabelSelector { match_labels, ..LabelSelector::default() });
                let replicas = count(&object, "spec.replicas", spec.replicas, 1)?;
                let wk = WorkloadKind::ReplicationController;
                let source = WorkloadSource { meta: &rc.metadata, template: &template, replicas, selector };
                self.add_workload(origin, wk, source, |_| {})?;
            }
            ("v1", "Service") => {
                let svc: WorkloadDoc<ServiceSpec> = raw.typed()?;
                // Services matter to placement only through default topology spreading.
                if let Some(match_labels) = svc.spec.and_then(|s| s.selector).filter(|s| !s.is_empty()) {
                    let namespace = svc
                        .metadata
                        .namespace
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| k8s::DEFAULT_NAMESPACE.to_string());
                    let selector = LabelSelector { match_labels, ..LabelSelector::default() };
                    self.push(origin, Item::Selector(WorkloadSelector { kind: "Service".into(), namespace, selector }));
                }
            }
            ("apps/v1", "StatefulSet") => {
                let sts: WorkloadDoc<StatefulSetSpec> = raw.typed()?;
                let object = format!("StatefulSet {}", object_name(&sts.metadata));
                let spec = sts.spec.ok_or_else(|| missing_spec(&object))?;
                let selector = selector(&object, spec.selector.as_ref())?;
                let start = spec.ordinals.and_then(|o| o.start).unwrap_or(0);
                if spec.volume_claim_templates.is_some_and(|v| !v.is_empty()) {
                    self.note(origin, "volumeClaimTemplates: volume binding and volume topology are not simulated");
                }
                let template = spec.template.unwrap_or_default();
                let replicas = count(&object, "spec.replicas", spec.replicas, 1)?;
                let source = WorkloadSource { meta: &sts.metadata, template: &template, replicas, selector };
                self.add_workload(origin, WorkloadKind::StatefulSet, source, |w| w.ordinal_start = i64::from(start))?;
            }
            ("apps/v1", "DaemonSet") => {
                let ds: WorkloadDoc<ReplicatedSpec> = raw.typed()?;
                let spec = ds.spec.ok_or_else(|| missing_spec(&format!("DaemonSet {}", object_name(&ds.metadata))))?;
                let template = spec.template.unwrap_or_default();
                let source = WorkloadSource { meta: &ds.metadata, template: &template, replicas: 0, selector: None };
                self.add_workload(origin, WorkloadKind::DaemonSet, source, |_| {})?;
            }
            ("batch/v1", "Job") => {
                let job: WorkloadDoc<JobSpec> = raw.typed()?;
                let object = format!("Job {}", object_name(&job.metadata));
                let spec = job.spec.ok_or_else(|| missing_spec(&object))?;
                let mut pods = count(&object, "spec.parallelism", spec.parallelism, 1)?;
                if spec.completions.is_some() {
                    pods = pods.min(count(&object, "spec.completions", spec.completions, 0)?);
                }
                if spec.suspend == Some(true) {
                    self.note(origin, "the Job is suspended, so it creates no pods");
                    pods = 0;
                }
                let indexed = spec.completion_mode.as_deref() == Some("Indexed");
                let template = spec.template.unwrap_or_default();
                let source =
                    WorkloadSource { meta: &job.metadata, template: &template, replicas: pods, selector: None };
                self.add_workload(origin, WorkloadKind::Job, source, |w| {
                    w.indexed = indexed;
                })?;
            }
            ("batch/v1", "CronJob") => {
                self.note(
                    origin,
                    "skipped: a CronJob creates Jobs on a schedule; add the Job itself to place its pods",
                );
            }
            ("scheduling.k8s.io/v1", "PriorityClass") => {
                let pc: PriorityClassDoc = raw.typed()?;
                let name = pc.metadata.name.clone().unwrap_or_default();
                let value = pc.value.unwrap_or(0);
                self.push(origin, Item::PriorityClass { name, value, global_default: pc.global_default == Some(true) });
            }
            ("node.k8s.io/v1", "RuntimeClass") => {
                let rc: RuntimeClassDoc = raw.typed()?;
                let name = rc.metadata.name.clone().unwrap_or_default();
                let object = format!("RuntimeClass {name}");
                let ctx = Ctx { object: &object };
                let overhead =
                    k8s::resources(&ctx, "overhead.podFixed", rc.overhead.as_ref().and_then(|o| o.pod_fixed.as_ref()))
                        .map_err(conversion)?;
                let scheduling = rc.scheduling.as_ref();
                let tolerations =
                    k8s::tolerations(&ctx, "scheduling.tolerations", scheduling.and_then(|s| s.tolerations.as_ref()))
                        .map_err(conversion)?;
                let node_selector = scheduling.and_then(|s| s.node_selector.clone()).unwrap_or_default();
                self.push(origin, Item::RuntimeClass(RuntimeClass { name, overhead, node_selector, tolerations }));
            }
            ("scheduling.x-k8s.io/v1alpha1", "PodGroup") => {
                let pg: WorkloadDoc<PodGroupSpec> = raw.typed()?;
                let object = format!("PodGroup {}", object_name(&pg.metadata));
                let name = pg.metadata.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| {
                    conversion(ConversionError::new(
                        object.clone(),
                        "metadata.name",
                        ConversionProblem::Missing { advice: "every pod group needs a name" },
                    ))
                })?;
                let min_member = pg.spec.and_then(|s| s.min_member).ok_or_else(|| {
                    conversion(ConversionError::new(
                        object.clone(),
                        "spec.minMember",
                        ConversionProblem::Missing { advice: "give the number of pods that must be placed together" },
                    ))
                })?;
                let min_member = u32::try_from(min_member).map_err(|_| {
                    conversion(ConversionError::new(
                        object,
                        "spec.minMember",
                        ConversionProblem::Unsupported { why: format!("{min_member} is negative") },
                    ))
                })?;
                let namespace =
                    pg.metadata.namespace.filter(|n| !n.is_empty()).unwrap_or_else(|| k8s::DEFAULT_NAMESPACE.into());
                self.push(origin, Item::PodGroup(PodGroup::new(namespace, name, min_member)));
            }
            ("spillway.rs/v1alpha1", "BurstTarget") => {
                let doc: SpecDoc = raw.typed()?;
                let name = doc.name()?;
                self.push(origin, Item::BurstTarget(Box::new(burst_target(&name, doc.spec)?)));
            }
            ("spillway.rs/v1alpha1", "NodePool") => {
                let doc: SpecDoc = raw.typed()?;
                let name = doc.name()?;
                let counted = doc.spec.get("currentNodes").is_none();
                let pool = from_spec::<NodePool>(&name, doc.spec)?;
                self.push(origin, Item::NodePool(Box::new(pool), counted));
            }
            ("spillway.rs/v1alpha1", "Policy") => {
                let doc: PolicyDoc = raw.typed()?;
                doc.spec.validate().map_err(DocumentError::Policy)?;
                self.set_policy(origin, doc.spec, config::DEFAULT_SCHEDULER_NAME.to_string())?;
            }
            ("kubescheduler.config.k8s.io/v1", "KubeSchedulerConfiguration") => {
                let cfg: config::KubeSchedulerConfiguration = raw.typed()?;
                let mapped = config::map(cfg)?;
                for note in &mapped.notes {
                    self.note(origin, note);
                }
                self.set_policy(origin, mapped.policy, mapped.scheduler_name)?;
            }
            _ if group == "spillway.rs" => {
                return Err(DocumentError::UnknownKind {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    known: "Policy, BurstTarget or NodePool (spillway.rs/v1alpha1)",
                });
            }
            _ => {
                if let Some(expected) = expected_api_version(kind).filter(|_| KUBE_GROUPS.contains(&group)) {
                    return Err(DocumentError::WrongApiVersion {
                        kind: kind.to_string(),
                        api_version: api_version.to_string(),
                        expected,
                    });
                }
                if KUBE_GROUPS.contains(&group) {
                    self.note(origin, format!("skipped: {kind} does not affect placement"));
                } else {
                    self.note(
                        origin,
                        format!("skipped: {api_version} {kind} is not read by spillway (pods it may create are not simulated)"),
                    );
                }
            }
        }
        Ok(())
    }

    fn add_pod(&mut self, origin: &DocumentOrigin, mut pod: core::Pod) -> Result<(), DocumentError> {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if let Some(phase @ ("Succeeded" | "Failed")) = phase {
            self.note(origin, format!("skipped: the pod has {phase}, and kube-scheduler ignores finished pods"));
            return Ok(());
        }
        if pod.metadata.name.as_deref().unwrap_or_default().is_empty()
            && let Some(prefix) = pod.metadata.generate_name.clone().filter(|g| !g.is_empty())
        {
            // The API server appends 5 random characters; spillway a stable hash.
            let seed = format!("{}#{}#{:?}", origin.source, origin.document, origin.item);
            pod.metadata.name = Some(format!("{prefix}{}", workloads::suffix(&seed)));
        }
        let converted = k8s::pod_from_k8s(&pod).map_err(conversion)?;
        let extras = Extras::of(pod.spec.as_ref(), pod.metadata.creation_timestamp.is_some());
        self.note_constraints(origin, pod.spec.as_ref(), "the pod has");
        self.push(origin, Item::Pod(Box::new(converted), extras));
        Ok(())
    }

    fn add_workload(
        &mut self,
        origin: &DocumentOrigin,
        kind: WorkloadKind,
        source: WorkloadSource<'_>,
        tune: impl FnOnce(&mut Workload),
    ) -> Result<(), DocumentError> {
        let WorkloadSource { meta, template, replicas, selector } = source;
        let namespace =
            meta.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| k8s::DEFAULT_NAMESPACE.to_string());
        let kind_name = kind.name();
        let object = format!("{kind_name} {namespace}/{}", meta.name.as_deref().unwrap_or("<unnamed>"));
        if replicas > MAX_PODS_PER_WORKLOAD {
            let field = if kind == WorkloadKind::Job { "spec.parallelism" } else { "spec.replicas" };
            return Err(conversion(ConversionError::new(
                object,
                field,
                ConversionProblem::Unsupported {
                    why: format!("{replicas} pods exceed spillway's limit of {MAX_PODS_PER_WORKLOAD} per workload"),
                },
            )));
        }
        let name = meta.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| {
            conversion(ConversionError::new(
                object.clone(),
                "metadata.name",
                ConversionProblem::Missing { advice: "every workload needs a name" },
            ))
        })?;
        let template_meta = template.metadata.clone().unwrap_or_default();
        let as_pod = core::Pod {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                labels: template_meta.labels,
                annotations: template_meta.annotations,
                ..ObjectMeta::default()
            },
            spec: template.spec.clone(),
            ..core::Pod::default()
        };
        let pod = k8s::convert_pod(&Ctx { object: &object }, &as_pod).map_err(|mut e| {
            e.field = format!("spec.template.{}", e.field);
            conversion(e)
        })?;
        let spec = template.spec.as_ref();
        let extras = Extras::of(spec, false);
        self.note_constraints(origin, spec, "its pods have");
        let template_hash = if kind == WorkloadKind::Deployment {
            workloads::template_hash(&serde_json::to_vec(template).unwrap_or_default())
        } else {
            String::new()
        };
        if let Some(mut selector) = selector {
            // The Deployment's ReplicaSet selects its pods by pod-template-hash too.
            if kind == WorkloadKind::Deployment {
                selector.match_labels.insert("pod-template-hash".into(), template_hash.clone());
            }
            let kind = kind.owner_kind().to_string();
            self.push(origin, Item::Selector(WorkloadSelector { kind, namespace: namespace.clone(), selector }));
        }
        let mut workload = Workload {
            kind,
            namespace,
            name,
            template: pod,
            replicas,
            ordinal_start: 0,
            indexed: false,
            template_hash,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        };
        tune(&mut workload);
        self.push(origin, Item::Workload(Box::new(workload), extras));
        Ok(())
    }

    /// Notes about scheduling constraints spillway does not simulate (volumes).
    fn note_constraints(&mut self, origin: &DocumentOrigin, spec: Option<&core::PodSpec>, subject: &str) {
        let claims = spec
            .and_then(|s| s.volumes.as_ref())
            .is_some_and(|v| v.iter().any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some()));
        if claims {
            self.note(
                origin,
                format!("{subject} persistent volume claims; volume binding and volume topology are not simulated"),
            );
        }
    }

    /// Expands the workloads and checks the scenario as a whole.
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        let mut notes = self.notes;
        let mut note = |e: &Entry, text: String| notes.push((e.seq, format!("{}: {text}", e.origin)));
        let entries = self.entries;

        let mut nodes: Vec<Node> = Vec::new();
        let mut node_origin: HashMap<String, &DocumentOrigin> = HashMap::new();
        let mut namespaces = BTreeMap::new();
        let mut priorities: HashMap<String, i32> = [
            ("system-cluster-critical".to_string(), 2_000_000_000),
            ("system-node-critical".to_string(), 2_000_001_000),
        ]
        .into();
        let mut global_default: Option<(i32, &DocumentOrigin)> = None;
        let mut runtime_classes: HashMap<&str, &RuntimeClass> = HashMap::new();
        let mut groups = Vec::new();
        let mut group_origin: HashMap<String, &DocumentOrigin> = HashMap::new();
        let mut workload_origin: HashMap<String, &DocumentOrigin> = HashMap::new();
        let mut selectors = Vec::new();
        let mut targets: Vec<BurstTarget> = Vec::new();
        let mut pools: Vec<(NodePool, bool)> = Vec::new();
        for e in &entries {
            match &e.item {
                Item::Node(n) => {
                    if let Some(first) = node_origin.insert(n.name.clone(), &e.origin) {
                        return Err(ScenarioError::document(
                            &e.origin,
                            DocumentError::Duplicate { object: format!("node {}", n.name), first: first.to_string() },
                        ));
                    }
                    nodes.push(n.clone());
                }
                Item::Namespace(name, labels) => {
                    namespaces.insert(name.clone(), labels.clone());
                }
                Item::PriorityClass { name, value, global_default: is_default } => {
                    priorities.insert(name.clone(), *value);
                    if *is_default {
                        if let Some((_, first)) = global_default {
                            return Err(ScenarioError::document(
                                &e.origin,
                                DocumentError::Duplicate {
                                    object: "a globalDefault PriorityClass".into(),
                                    first: first.to_string(),
                                },
                            ));
                        }
                        global_default = Some((*value, &e.origin));
                    }
                }
                Item::RuntimeClass(rc) => {
                    runtime_classes.insert(rc.name.as_str(), rc);
                }
                Item::PodGroup(g) => {
                    let key = format!("{}/{}", g.namespace, g.name);
                    if let Some(first) = group_origin.insert(key.clone(), &e.origin) {
                        return Err(ScenarioError::document(
                            &e.origin,
                            DocumentError::Duplicate { object: format!("PodGroup {key}"), first: first.to_string() },
                        ));
                    }
                    groups.push(g.clone());
                }
                Item::Workload(w, _) => {
                    let key = format!("{} {}/{}", w.kind.name(), w.namespace, w.name);
                    if let Some(first) = workload_origin.insert(key.clone(), &e.origin) {
                        return Err(ScenarioError::document(
                            &e.origin,
                            DocumentError::Duplicate { object: key, first: first.to_string() },
                        ));
                    }
                }
                Item::Selector(w) => selectors.push(w.clone()),
                Item::BurstTarget(t) => targets.push((**t).clone()),
                Item::NodePool(p, counted) => pools.push(((**p).clone(), *counted)),
                Item::Pod(..) => {}
            }
        }
        let (policy, scheduler_name) = match self.policy {
            Some(p) => (p.policy, p.scheduler_name),
            None => (Policy::default(), config::DEFAULT_SCHEDULER_NAME.to_string()),
        };

        // Names of explicit pods are reserved first, so generated names never take them.
        let mut taken: HashSet<String> = entries
            .iter()
            .filter_map(|e| match &e.item {
                Item::Pod(p, _) => Some(p.key()),
                _ => None,
            })
            .collect();
        let mut pod_origin: HashMap<String, &DocumentOrigin> = HashMap::new();
        let mut placed = Vec::new();
        let mut pending = Vec::new();
        let mut seq = 0i64;
        for e in &entries {
            let (produced, extras) = match &e.item {
                Item::Pod(p, x) => (vec![(**p).clone()], x),
                Item::Workload(w, x) if w.kind == WorkloadKind::DaemonSet => {
                    let mut pods = Vec::new();
                    let (mut affinity, mut taints, mut node_name) = (0, 0, 0);
                    for node in &nodes {
                        match w.daemon_pod(node, &mut |k| !taken.insert(k.to_string())) {
                            Ok(p) => pods.push(p),
                            Err(Ineligible::Affinity) => affinity += 1,
                            Err(Ineligible::Taint) => taints += 1,
                            Err(Ineligible::NodeName) => node_name += 1,
                        }
                    }
                    let plural = if pods.len() == 1 { "" } else { "s" };
                    let mut text = format!("{} pod{plural}, one per eligible node", pods.len());
                    let skipped = affinity + taints + node_name;
                    if skipped > 0 {
                        let reasons: Vec<String> = [
                            (affinity, "node selector/affinity"),
                            (taints, "untolerated taints"),
                            (node_name, "another nodeName"),
                        ]
                        .iter()
                        .filter(|(n, _)| *n > 0)
                        .map(|(n, why)| format!("{n} {why}"))
                        .collect();
                        text.push_str(&format!(
                            "; {skipped} of {} nodes not eligible ({})",
                            nodes.len(),
                            reasons.join(", ")
                        ));
                    }
                    if nodes.is_empty() {
                        text.push_str("; the scenario has no nodes");
                    }
                    note(e, text);
                    (pods, x)
                }
                Item::Workload(w, x) => (w.expand(&mut |k| !taken.insert(k.to_string())), x),
                _ => continue,
            };
            let (mut noted_priority, mut noted_runtime) = (false, false);
            for mut pod in produced {
                if !extras.timestamped {
                    pod.creation_order = UNTIMED_BASE + seq;
                }
                seq += 1;
                if !extras.explicit_priority {
                    match &extras.priority_class {
                        Some(class) => match priorities.get(class) {
                            Some(&v) => pod.priority = v,
                            None if !noted_priority => {
                                noted_priority = true;
                                note(
                                    e,
                                    format!(
                                        "priorityClassName {class} has no PriorityClass in the scenario; priority 0 assumed"
                                    ),
                                );
                            }
                            None => {}
                        },
                        None => {
                            if let Some((v, _)) = global_default {
                                pod.priority = v;
                            }
                        }
                    }
                }
                if let Some(rc_name) = &extras.runtime_class {
                    match runtime_classes.get(rc_name.as_str()) {
                        Some(rc) => {
                            apply_runtime_class(&mut pod, rc).map_err(|e2| ScenarioError::document(&e.origin, e2))?
                        }
                        None if !noted_runtime => {
                            noted_runtime = true;
                            note(
                                e,
                                format!(
                                    "runtimeClassName {rc_name} has no RuntimeClass in the scenario; its overhead and \
                                     scheduling constraints are not applied"
                                ),
                            );
                        }
                        None => {}
                    }
                }
                let key = pod.key();
                taken.insert(key.clone());
                if let Some(first) = pod_origin.insert(key.clone(), &e.origin) {
                    return Err(ScenarioError::document(
                        &e.origin,
                        DocumentError::Duplicate { object: format!("pod {key}"), first: first.to_string() },
                    ));
                }
                if pod.node_name.is_some() { placed.push(pod) } else { pending.push(pod) }
            }
            if let Some(wanted) = extras.scheduler_name.as_ref().filter(|s| **s != scheduler_name) {
                note(
                    e,
                    format!(
                        "schedulerName {wanted} is not the profile's ({scheduler_name}); spillway places the pods \
                         with that profile anyway"
                    ),
                );
            }
        }

        // A pool without `currentNodes` counts the nodes carrying all of its labels.
        let pools: Vec<NodePool> = pools
            .into_iter()
            .map(|(mut p, counted)| {
                if counted {
                    p.current_nodes = nodes
                        .iter()
                        .filter(|n| !p.labels.is_empty() && p.labels.iter().all(|(k, v)| n.labels.get(k) == Some(v)))
                        .count() as i64;
                }
                p
            })
            .collect();
        let first_origin = entries.first().map(|e| e.origin.clone()).unwrap_or_default();
        let snapshot = Snapshot::with_burst(nodes, targets, placed)
            .map_err(|err| {
                let origin = match &err {
                    SnapshotError::UnknownNode { pod, .. }
                    | SnapshotError::DuplicatePod { pod }
                    | SnapshotError::PodNotPlaced { pod } => pod_origin.get(pod).copied(),
                    SnapshotError::DuplicateNode { name } => node_origin.get(name).copied(),
                    _ => None,
                };
                let origin = origin.or_else(|| entries.first().map(|e| &e.origin)).cloned().unwrap_or_default();
                ScenarioError::document(&origin, DocumentError::Snapshot(err))
            })?
            .with_node_pools(pools)
            .map_err(|err| ScenarioError::document(&first_origin, DocumentError::Snapshot(err)))?
            .with_namespaces(namespaces.clone())
            .with_groups(groups)
            .with_workload_selectors(selectors);
        notes.sort_by_key(|(seq, _)| *seq);
        let notes = notes.into_iter().map(|(_, text)| text).collect();
        Ok(Scenario { snapshot, pending, policy, notes, namespaces })
    }
}

/// What the RuntimeClass admission plugin does to a pod.
fn apply_runtime_class(pod: &mut Pod, rc: &RuntimeClass) -> Result<(), DocumentError> {
    if pod.overhead.is_zero() {
        pod.overhead = rc.overhead.clone();
    }
    workloads::merge_node_selector(&mut pod.node_selector, &rc.node_selector).map_err(|key| {
        conversion(ConversionError::new(
            format!("pod {}", pod.key()),
            format!("spec.nodeSelector.{key}"),
            ConversionProblem::Unsupported {
                why: format!(
                    "conflicts with RuntimeClass {}'s scheduling.nodeSelector; the API server rejects the pod",
                    rc.name
                ),
            },
        ))
    })?;
    for t in &rc.tolerations {
        if !pod.tolerations.contains(t) {
            pod.tolerations.push(t.clone());
        }
    }
    Ok(())
}

/// Converts a workload's `spec.selector`.
fn selector(object: &str, selector: Option<&meta::LabelSelector>) -> Result<Option<LabelSelector>, DocumentError> {
    selector.map(|s| k8s::label_selector(&Ctx { object }, "spec.selector", s).map_err(conversion)).transpose()
}

fn object_name(meta: &ObjectMeta) -> String {
    let ns = meta.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(k8s::DEFAULT_NAMESPACE);
    format!("{ns}/{}", meta.name.as_deref().unwrap_or("<unnamed>"))
}

/// The API group of an apiVersion (`""` for the core group).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The apiVersion spillway reads for a kind it handles.
fn expected_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Node" | "Pod" | "Namespace" | "ReplicationController" => "v1",
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        "PriorityClass" => "scheduling.k8s.io/v1",
        "RuntimeClass" => "node.k8s.io/v1",
        "KubeSchedulerConfiguration" => "kubescheduler.config.k8s.io/v1",
        _ => return None,
    })
}
