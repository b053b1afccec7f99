//! The scenario loader and the Kubernetes object conversion, through the public API.

use std::collections::BTreeSet;
use std::error::Error;

use k8s_openapi::api::core::v1 as k;
use spillway::k8s::{ConversionError, ConversionProblem, node_from_k8s, pod_from_k8s};
use spillway::model::{
    DefaultingType, FilterPlugin, InclusionPolicy, NodeSelectorOperator, POD_GROUP_LABEL, Protocol, ScorePlugin,
    ScoringStrategyType, SelectorOperator, TolerationOperator, WhenUnsatisfiable,
};
use spillway::scenario::{DocumentError, Scenario, ScenarioBuilder, ScenarioError};
use spillway::{Engine, HostPort, Outcome, Pod, SnapshotError, TaintEffect};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The error and its causes, joined with " / ".
fn chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(" / ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn load(yaml: &str) -> Scenario {
    Scenario::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{}", chain(&e)))
}

fn load_err(yaml: &str) -> ScenarioError {
    match Scenario::from_yaml_str(yaml) {
        Ok(s) => panic!("expected an error, loaded {} pending pods", s.pending.len()),
        Err(e) => e,
    }
}

fn node(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}{labels}}}}}\n\
         status: {{allocatable: {{cpu: \"4\", memory: 16Gi, pods: \"110\"}}}}\n---\n"
    )
}

fn pending<'a>(s: &'a Scenario, name: &str) -> &'a Pod {
    s.pending.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no pending pod {name}"))
}

// ---------------------------------------------------------------------------------------------
// Kinds

#[test]
fn loads_nodes_pods_namespaces_and_skips_other_kinds() {
    let s = Scenario::load(&[format!("{FIXTURES}/cluster.yaml")]).unwrap();
    let nodes = s.snapshot.nodes();
    assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["vm-a1", "vm-a2", "gpu-b1"]);
    assert_eq!(nodes[0].hourly_cost.map(|m| m.micros()), Some(192_000));
    assert_eq!(nodes[1].allocatable.cpu_millis, 4000, "capacity when allocatable is absent");
    assert_eq!(nodes[2].allocatable.get_str("nvidia.com/gpu"), 2);
    assert_eq!(nodes[2].taints[0].effect, TaintEffect::NoSchedule);
    let db = &s.snapshot.pods()[0];
    assert_eq!((db.key().as_str(), db.uid.as_str(), db.node_name.as_deref()), ("shop/db-0", "0b3c-uid", Some("vm-a1")));
    assert_eq!(db.creation_order, 1_714_557_600_000, "creationTimestamp in unix milliseconds");
    assert!(s.pending.is_empty());

    let s = load(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {tier: gold}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: team-a}\n---\n\
         apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n---\n\
         apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {a: b}, annotations: {x: y}}\nspec: {unschedulable: true}\n",
    );
    assert_eq!(s.namespaces["team-a"].get("tier").map(String::as_str), Some("gold"));
    assert_eq!(s.snapshot.namespaces()["team-a"].get("tier").map(String::as_str), Some("gold"));
    assert!(s.snapshot.nodes()[0].unschedulable);
    assert_eq!(s.notes.len(), 4, "{:#?}", s.notes);
    assert_eq!(
        s.notes[0],
        "<input>: document 2 (line 5, ConfigMap default/c): skipped: ConfigMap does not affect placement"
    );
    assert!(s.notes[1].contains("Ingress team-a/i"), "{}", s.notes[1]);
    assert!(s.notes[2].contains("cert-manager.io/v1 Certificate is not read by spillway"), "{}", s.notes[2]);
    assert!(s.notes[3].contains("no `pods` allocatable"), "{}", s.notes[3]);
}

#[test]
fn json_lists_load_and_errors_name_the_item() {
    let s = Scenario::load(&[format!("{FIXTURES}/cluster.yaml"), format!("{FIXTURES}/pods.json")]).unwrap();
    assert_eq!(s.pending.iter().map(Pod::key).collect::<Vec<_>>(), ["ml/train-0", "ml/train-1"]);
    assert_eq!(s.pending[0].requests().get_str("nvidia.com/gpu"), 1, "limits become requests");
    assert!(s.notes.iter().any(|n| n.contains("items[2] (line 1, ConfigMap ml/settings): skipped")), "{:#?}", s.notes);

    let plan = Engine::new(s.policy.clone()).unwrap().place(&s.snapshot, &s.pending);
    assert_eq!(plan.decision("ml/train-0").unwrap().node(), Some("gpu-b1"));
    match &plan.decision("ml/train-1").unwrap().outcome {
        Outcome::Unschedulable(d) => assert_eq!(
            d.message, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
            "no node has 4 GPUs; the CPU nodes have none"
        ),
        other => panic!("{other:?}"),
    }

    let err =
        load_err(r#"{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "x"}}]}"#);
    assert_eq!(err.origin().unwrap().item, Some(0));
    assert_eq!(
        chain(&err),
        "<input>: document 1, items[0] (line 1, Pod default/x) / the document has no apiVersion; every document must be a Kubernetes object with apiVersion and kind"
    );
}

#[test]
fn pods_with_and_without_node_name() {
    let s = load(&format!(
        "{}apiVersion: v1\nkind: Pod\nmetadata: {{name: placed}}\nspec: {{nodeName: n1, containers: [{{name: c}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: waiting, namespace: ns}}\nspec: {{containers: [{{name: c}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: done}}\nspec: {{nodeName: n1, containers: [{{name: c}}]}}\nstatus: {{phase: Succeeded}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{generateName: batch-}}\nspec: {{containers: [{{name: c}}]}}\n",
        node("n1", "")
    ));
    assert_eq!(s.snapshot.pods().len(), 1, "the Succeeded pod is ignored, as kube-scheduler ignores it");
    assert_eq!(s.snapshot.pods()[0].key(), "default/placed");
    assert_eq!(s.pending.len(), 2);
    assert_eq!(s.pending[0].key(), "ns/waiting");
    assert!(s.pending[1].name.starts_with("batch-") && s.pending[1].name.len() == "batch-".len() + 5);
    assert!(s.notes.iter().any(|n| n.contains("Pod default/done): skipped: the pod has Succeeded")), "{:#?}", s.notes);
}

#[test]
fn priority_classes_runtime_classes_and_pod_groups() {
    let s = load(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\n\
         apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: normal}\nvalue: 10\nglobalDefault: true\n---\n\
         apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: kata}\nhandler: kata\n\
         overhead: {podFixed: {cpu: 250m, memory: 120Mi}}\n\
         scheduling: {nodeSelector: {sandbox: kata}, tolerations: [{key: sandbox, operator: Exists}]}\n---\n\
         apiVersion: scheduling.x-k8s.io/v1alpha1\nkind: PodGroup\nmetadata: {name: train, namespace: ml}\nspec: {minMember: 3}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {priorityClassName: high, containers: [{name: c}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {priority: 7, priorityClassName: high, containers: [{name: c}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: c}\nspec: {containers: [{name: c}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: d}\nspec: {priorityClassName: missing, containers: [{name: c}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: e}\nspec: {priorityClassName: system-node-critical, runtimeClassName: kata, containers: [{name: c, resources: {requests: {cpu: 1}}}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: f, namespace: ml, labels: {scheduling.x-k8s.io/pod-group: train}}\nspec: {containers: [{name: c}]}\n",
    );
    let prio = |n: &str| pending(&s, n).priority;
    assert_eq!((prio("a"), prio("b"), prio("c"), prio("d"), prio("e")), (1000, 7, 10, 0, 2_000_001_000));
    assert!(s.notes.iter().any(|n| n.contains("priorityClassName missing has no PriorityClass")), "{:#?}", s.notes);
    let e = pending(&s, "e");
    assert_eq!(e.requests().cpu_millis, 1250, "RuntimeClass overhead is added");
    assert_eq!(e.node_selector.get("sandbox").map(String::as_str), Some("kata"));
    assert_eq!(e.tolerations.len(), 1);
    assert_eq!(s.snapshot.groups().len(), 1);
    assert_eq!((s.snapshot.groups()[0].name.as_str(), s.snapshot.groups()[0].min_member), ("train", 3));
    assert!(pending(&s, "f").labels.contains_key(POD_GROUP_LABEL));
}

// ---------------------------------------------------------------------------------------------
// Workloads

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, resources: {requests: {cpu: 500m}}}]}\n";

#[test]
fn deployments_and_replica_sets_expand_like_their_controllers() {
    let s = load(DEPLOYMENT);
    assert_eq!(s.pending.len(), 3);
    let hash = s.pending[0].labels["pod-template-hash"].clone();
    let uids: BTreeSet<&str> = s.pending.iter().map(|p| p.uid.as_str()).collect();
    assert_eq!(uids.len(), 3, "unique uids");
    for p in &s.pending {
        assert_eq!(p.namespace, "shop");
        let suffix = p.name.strip_prefix(&format!("web-{hash}-")).unwrap_or_else(|| panic!("{}", p.name));
        assert_eq!(suffix.len(), 5);
        assert!(suffix.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{suffix}");
        assert_eq!(p.labels["app"], "web");
        assert_eq!(p.labels["pod-template-hash"], hash);
        assert_eq!(p.owner_kind.as_deref(), Some("ReplicaSet"));
        assert_eq!(p.requests().cpu_millis, 500);
    }
    // Stable: the same input expands to the same pods.
    assert_eq!(load(DEPLOYMENT).pending, s.pending);
    // A changed template changes the hash.
    let other = load(&DEPLOYMENT.replace("500m", "600m"));
    assert_ne!(other.pending[0].labels["pod-template-hash"], hash);

    let s = load(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: one}\nspec:\n  selector: {matchLabels: {a: c}}\n  template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c}]}}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: none}\nspec:\n  replicas: 0\n  selector: {matchLabels: {a: d}}\n  template: {metadata: {labels: {a: d}}, spec: {containers: [{name: c}]}}\n",
    );
    assert_eq!(s.pending.len(), 2, "replicas default to 1; 0 means none");
    assert!(s.pending[0].name.starts_with("rs-") && s.pending[0].name.len() == 8);
    assert!(s.pending[1].name.starts_with("one-"));
    let kinds: Vec<&str> = s.snapshot.workload_selectors().iter().map(|w| w.kind.as_str()).collect();
    assert_eq!(kinds, ["ReplicaSet", "ReplicaSet", "ReplicaSet"], "a ReplicaSet per ReplicaSet or Deployment");

    // ReplicationControllers: pods like a ReplicaSet's; an empty selector defaults to the
    // template's labels. A Service without a selector selects nothing.
    let s = load(
        "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: old}\nspec:\n  replicas: 2\n  template: {metadata: {labels: {app: old}}, spec: {containers: [{name: c}]}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: headless}\nspec: {clusterIP: None}\n",
    );
    assert_eq!(s.pending.len(), 2);
    assert!(s.pending.iter().all(|p| p.owner_kind.as_deref() == Some("ReplicationController")));
    let selectors = s.snapshot.workload_selectors();
    assert_eq!(selectors.len(), 1);
    assert_eq!(selectors[0].selector.match_labels.get("app").map(String::as_str), Some("old"));
}

#[test]
fn stateful_sets_and_jobs_expand_like_their_controllers() {
    let s = load(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: data}\nspec:\n  replicas: 3\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c}]}}\n  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: shard}\nspec:\n  replicas: 2\n  ordinals: {start: 5}\n  selector: {matchLabels: {app: s}}\n  template: {metadata: {labels: {app: s}}, spec: {containers: [{name: c}]}}\n",
    );
    let names: Vec<String> = s.pending.iter().map(Pod::key).collect();
    assert_eq!(names, ["data/db-0", "data/db-1", "data/db-2", "default/shard-5", "default/shard-6"]);
    assert_eq!(s.pending[1].labels["statefulset.kubernetes.io/pod-name"], "db-1");
    assert_eq!(s.pending[4].labels["apps.kubernetes.io/pod-index"], "6");
    assert!(s.pending.iter().all(|p| p.owner_kind.as_deref() == Some("StatefulSet")));
    assert!(s.notes.iter().any(|n| n.contains("volumeClaimTemplates")), "{:#?}", s.notes);

    let job = |spec: &str| {
        load(&format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: pi}}\nspec:\n{spec}  template: {{spec: {{restartPolicy: Never, containers: [{{name: c}}]}}}}\n"
        ))
    };
    assert_eq!(job("").pending.len(), 1, "parallelism defaults to 1");
    assert_eq!(job("  parallelism: 4\n").pending.len(), 4);
    assert_eq!(job("  parallelism: 4\n  completions: 2\n").pending.len(), 2);
    assert_eq!(job("  completions: 5\n").pending.len(), 1);
    let suspended = job("  parallelism: 3\n  suspend: true\n");
    assert!(suspended.pending.is_empty() && suspended.notes[0].contains("suspended"));
    let s = job("  parallelism: 2\n  completions: 2\n  completionMode: Indexed\n");
    assert!(s.pending[1].name.starts_with("pi-1-"), "{}", s.pending[1].name);
    assert_eq!(s.pending[1].labels["batch.kubernetes.io/job-completion-index"], "1");
    assert_eq!(s.pending[0].labels["job-name"], "pi");
    assert_eq!(s.pending[0].owner_kind.as_deref(), Some("Job"));
}

#[test]
fn daemon_sets_run_on_the_nodes_the_controller_picks() {
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      nodeSelector: {kubernetes.io/os: linux}\n      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: NotIn, values: [edge]}]}]\n          preferredDuringSchedulingIgnoredDuringExecution: [{weight: 5, preference: {matchExpressions: [{key: ssd, operator: Exists}]}}]\n      containers: [{name: a}]\n";
    let node = |name: &str, labels: &str, spec: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{{labels}}}}}\nspec: {{{spec}}}\n\
             status: {{allocatable: {{pods: \"10\"}}}}\n---\n"
        )
    };
    let (linux, none) = ("kubernetes.io/os: linux", "");
    let nodes = [
        node("plain", linux, none),
        node("windows", "kubernetes.io/os: windows", none),
        node("edge", "kubernetes.io/os: linux, pool: edge", none),
        node("gpu", linux, "taints: [{key: gpu, effect: NoSchedule}]"),
        node("soft", linux, "taints: [{key: gpu, effect: PreferNoSchedule}]"),
        node(
            "cordoned",
            linux,
            "unschedulable: true, taints: [{key: node.kubernetes.io/unschedulable, effect: NoSchedule}, \
             {key: node.kubernetes.io/not-ready, effect: NoExecute}]",
        ),
    ]
    .concat();
    let nodes = nodes.as_str();
    // The DaemonSet comes first, its nodes in another source: every node counts.
    let s =
        ScenarioBuilder::new().add_yaml(ds, "ds.yaml").unwrap().add_yaml(nodes, "nodes.yaml").unwrap().build().unwrap();
    let pinned: Vec<String> = s
        .pending
        .iter()
        .map(|p| p.node_affinity.required.as_ref().unwrap().node_selector_terms[0].match_fields[0].values[0].clone())
        .collect();
    assert_eq!(pinned, ["plain", "soft", "cordoned"]);
    let pod = &s.pending[0];
    let term = &pod.node_affinity.required.as_ref().unwrap().node_selector_terms;
    assert_eq!(term.len(), 1, "the template's required terms are replaced by the pin");
    assert_eq!(
        (term[0].match_fields[0].key.as_str(), term[0].match_fields[0].operator),
        ("metadata.name", NodeSelectorOperator::In)
    );
    assert!(term[0].match_expressions.is_empty());
    assert_eq!(pod.node_affinity.preferred.len(), 1, "preferred terms stay");
    assert_eq!(pod.node_selector.len(), 1, "the node selector stays");
    assert_eq!(pod.owner_kind.as_deref(), Some("DaemonSet"));
    let tolerated: Vec<(&str, Option<TaintEffect>)> =
        pod.tolerations.iter().map(|t| (t.key.as_str(), t.effect)).collect();
    assert_eq!(tolerated.len(), 6);
    assert!(tolerated.contains(&("node.kubernetes.io/unschedulable", Some(TaintEffect::NoSchedule))));
    assert!(pod.tolerations.iter().all(|t| t.operator == TolerationOperator::Exists));
    let note = s.notes.iter().find(|n| n.contains("DaemonSet kube-system/agent")).unwrap();
    assert!(
        note.ends_with(
            "3 pods, one per eligible node; 3 of 6 nodes not eligible (2 node selector/affinity, 1 untolerated taints)"
        ),
        "{note}"
    );

    // Each pod is placed on its node (the cordoned one included: the controller's toleration).
    let plan = Engine::new(s.policy.clone()).unwrap().place(&s.snapshot, &s.pending);
    for (p, node) in s.pending.iter().zip(&pinned) {
        assert_eq!(plan.decision(&p.key()).unwrap().node(), Some(node.as_str()), "{}", p.key());
    }

    // hostNetwork adds the network-unavailable toleration.
    let s = load(&format!(
        "{}{}",
        ds.replace("      containers:", "      hostNetwork: true\n      containers:"),
        "---\n".to_string() + nodes
    ));
    assert_eq!(s.pending[0].tolerations.len(), 7);
}

#[test]
fn creation_order_follows_timestamps_then_documents() {
    let s = load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: late}\nspec: {containers: [{name: c}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: old, creationTimestamp: \"2020-01-01T00:00:00Z\"}\nspec: {containers: [{name: c}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: later}\nspec: {containers: [{name: c}]}\n",
    );
    let order = |n: &str| pending(&s, n).creation_order;
    assert!(order("old") < order("late") && order("late") < order("later"));
}

// ---------------------------------------------------------------------------------------------
// KubeSchedulerConfiguration and Policy

fn ksc(profile: &str) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n{profile}"
    )
}

fn weights(s: &Scenario) -> Vec<(ScorePlugin, i64)> {
    s.policy.profile.scores.iter().map(|w| (w.name, w.weight)).collect()
}

#[test]
fn scheduler_configuration_weights_and_disabled_plugins() {
    let s = Scenario::load(&[format!("{FIXTURES}/scheduler-config.yaml")]).unwrap();
    let p = &s.policy.profile;
    assert_eq!(p.node_resources_fit.scoring_strategy.kind, ScoringStrategyType::MostAllocated);
    assert_eq!(
        weights(&s),
        [
            (ScorePlugin::NodeResourcesFit, 5),
            (ScorePlugin::TaintToleration, 3),
            (ScorePlugin::NodeAffinity, 2),
            (ScorePlugin::PodTopologySpread, 2),
            (ScorePlugin::InterPodAffinity, 2),
        ],
        "score.enabled entries come first and win over multiPoint weights; BalancedAllocation is disabled"
    );
    assert_eq!(p.filters, FilterPlugin::ALL, "filters in kube's default order");
    assert!(s.notes.is_empty(), "{:#?}", s.notes);

    // A multiPoint entry without a weight counts as 1 (kube-scheduler's getScoreWeights).
    let s = load(&ksc(
        "  plugins:\n    multiPoint:\n      enabled: [{name: TaintToleration}, {name: NodeAffinity, weight: 7}]\n",
    ));
    assert!(weights(&s).contains(&(ScorePlugin::TaintToleration, 1)));
    assert!(weights(&s).contains(&(ScorePlugin::NodeAffinity, 7)));

    // "*" disables every default at a point; re-enabled plugins come back in the given order.
    let s = load(&ksc(
        "  plugins:\n    filter:\n      disabled: [{name: \"*\"}]\n      enabled: [{name: NodeResourcesFit}, {name: NodeUnschedulable}, {name: NodeAffinity}, {name: NodePorts}, {name: TaintToleration}, {name: NodeName}, {name: InterPodAffinity}, {name: PodTopologySpread}]\n",
    ));
    assert_eq!(s.policy.profile.filters[..2], [FilterPlugin::NodeResourcesFit, FilterPlugin::NodeUnschedulable]);
    // A point-specific entry that is also a multiPoint plugin moves to the front.
    let s = load(&ksc("  plugins:\n    filter:\n      enabled: [{name: NodePorts}]\n"));
    assert_eq!(s.policy.profile.filters[0], FilterPlugin::NodePorts);
    assert_eq!(s.policy.profile.filters.len(), FilterPlugin::ALL.len());
    // Disabling at both points of a plugin removes it; score "*" leaves no score plugin.
    let s = load(&ksc(
        "  plugins:\n    preFilter: {disabled: [{name: NodePorts}]}\n    filter: {disabled: [{name: NodePorts}]}\n    preScore: {disabled: [{name: \"*\"}]}\n    score: {disabled: [{name: \"*\"}]}\n",
    ));
    assert!(!s.policy.profile.filters.contains(&FilterPlugin::NodePorts));
    assert!(s.policy.profile.scores.is_empty());
    // Disabling at the main point only is common and fine (the PreScore alone computes nothing
    // that matters); NodeAffinity's PreFilter alone would still narrow nodes, so it is refused.
    let s = load(&ksc(
        "  plugins:\n    score:\n      disabled: [{name: NodeResourcesBalancedAllocation}, {name: ImageLocality}]\n    filter:\n      disabled: [{name: NodePorts}]\n",
    ));
    assert!(!weights(&s).iter().any(|(p, _)| *p == ScorePlugin::NodeResourcesBalancedAllocation));
    assert!(!s.policy.profile.filters.contains(&FilterPlugin::NodePorts));
    let err = load_err(&ksc("  plugins:\n    filter:\n      disabled: [{name: NodeAffinity}]\n"));
    assert!(chain(&err).contains("NodeAffinity runs at preFilter but not at filter"), "{}", chain(&err));
}

#[test]
fn scheduler_configuration_plugin_args() {
    let s = load(&ksc(
        "  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      ignoredResources: [example.com/foo]\n      ignoredResourceGroups: [example.org]\n      scoringStrategy:\n        type: RequestedToCapacityRatio\n        resources: [{name: cpu, weight: 3}, {name: nvidia.com/gpu}]\n        requestedToCapacityRatio:\n          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]\n\
         \x20 - name: NodeResourcesBalancedAllocation\n    args: {resources: [{name: cpu, weight: 1}, {name: memory, weight: 0}, {name: nvidia.com/gpu, weight: 1}]}\n\
         \x20 - name: NodeAffinity\n    args:\n      addedAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n          nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [general]}]}]\n\
         \x20 - name: InterPodAffinity\n    args: {hardPodAffinityWeight: 10}\n\
         \x20 - name: PodTopologySpread\n    args: {defaultingType: List, defaultConstraints: [{maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}]}\n\
         \x20 - name: DefaultPreemption\n    args: {minCandidateNodesPercentage: 20}\n",
    ));
    let p = &s.policy.profile;
    let fit = &p.node_resources_fit;
    assert_eq!(fit.scoring_strategy.kind, ScoringStrategyType::RequestedToCapacityRatio);
    assert_eq!(fit.scoring_strategy.resources[1].weight, 1, "an omitted weight defaults to 1");
    assert_eq!(fit.scoring_strategy.requested_to_capacity_ratio.as_ref().unwrap().shape[1].score, 10);
    assert_eq!(
        (fit.ignored_resources[0].as_str(), fit.ignored_resource_groups[0].as_str()),
        ("example.com/foo", "example.org")
    );
    assert_eq!(p.balanced_allocation.resources.len(), 3);
    assert_eq!(p.balanced_allocation.resources[1].weight, 1, "weight 0 is defaulted to 1 in v1");
    assert!(p.node_affinity.added_affinity.as_ref().unwrap().required.is_some());
    assert_eq!(p.inter_pod_affinity.hard_pod_affinity_weight, 10);
    assert_eq!(p.pod_topology_spread.defaulting_type, DefaultingType::List);
    assert_eq!(p.pod_topology_spread.default_constraints[0].max_skew, 2);
    assert!(s.notes.iter().any(|n| n.contains("pluginConfig for DefaultPreemption is ignored")), "{:#?}", s.notes);

    // addedAffinity is enforced by the engine.
    let scenario = format!(
        "{}{}{}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{containers: [{{name: c}}]}}\n",
        node("a", ", pool: general"),
        node("b", ""),
        ksc(
            "  pluginConfig:\n  - name: NodeAffinity\n    args: {addedAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [general]}]}]}}}\n"
        )
    );
    let s = load(&scenario);
    let plan = Engine::new(s.policy.clone()).unwrap().place(&s.snapshot, &s.pending);
    assert_eq!(plan.decisions[0].node(), Some("a"));

    // Empty resources default to cpu and memory; an empty args mapping is the default.
    let s = load(&ksc(
        "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: MostAllocated, resources: []}}\n  - name: NodeAffinity\n",
    ));
    assert_eq!(s.policy.profile.node_resources_fit.scoring_strategy.resources.len(), 2);
}

#[test]
fn scheduler_configuration_notes() {
    let s = load(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 50\nprofiles:\n\
         - schedulerName: packer\n  plugins:\n    score:\n      enabled: [{name: ImageLocality, weight: 4}]\n      disabled: [{name: VolumeBinding}]\n\
         - schedulerName: spreader\n",
    );
    assert_eq!(s.notes.len(), 4, "{:#?}", s.notes);
    assert!(s.notes[0].contains("honours the first profile (packer); 1 more ignored (spreader)"));
    assert!(s.notes[1].contains("percentageOfNodesToScore 50 is ignored; spillway scores every feasible node"));
    assert!(s.notes[2].contains("ImageLocality is enabled, but spillway models nothing it acts on"));
    assert!(s.notes[3].contains("weight 4 of ImageLocality is ignored"), "{}", s.notes[3]);
    // Pods asking for another scheduler are noted.
    let s = load(&format!(
        "{}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{schedulerName: other, containers: [{{name: c}}]}}\n",
        ksc("")
    ));
    assert!(
        s.notes.iter().any(|n| n.contains("schedulerName other is not the profile's (default-scheduler)")),
        "{:#?}",
        s.notes
    );
}

#[test]
fn scheduler_configuration_rejections() {
    let cases = [
        (
            "  plugins:\n    filter:\n      enabled: [{name: Coscheduling}]\n",
            "profiles[0].plugins.filter.enabled[0]: unknown or out-of-tree plugin \"Coscheduling\"",
        ),
        (
            "  plugins:\n    score:\n      enabled: [{name: NodePorts}]\n",
            "plugin NodePorts does not implement the score extension point",
        ),
        (
            "  plugins:\n    multiPoint:\n      enabled: [{name: NodePorts}, {name: NodePorts}]\n",
            "plugin NodePorts is listed twice",
        ),
        (
            "  plugins:\n    preFilter:\n      disabled: [{name: NodeResourcesFit}]\n",
            "NodeResourcesFit runs at filter but not at preFilter",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {surprise: 1}\n",
            "pluginConfig[0].args: unknown field `surprise`",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {resources: [{name: cpu}]}}\n",
            "scoringStrategy.type: is missing",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: LeastAllocated, requestedToCapacityRatio: {shape: [{utilization: 0, score: 1}]}}}\n",
            "requestedToCapacityRatio: must be omitted unless type is RequestedToCapacityRatio",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: RequestedToCapacityRatio}}\n",
            "invalid policy: NodeResourcesFit: invalid requestedToCapacityRatio shape",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {ignoredResourceGroups: [example.com/x]}\n",
            "can't contain '/'",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {kind: InterPodAffinityArgs}\n",
            "args.kind: expected NodeResourcesFitArgs",
        ),
        (
            "  pluginConfig:\n  - name: PodTopologySpread\n    args: {defaultConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]}\n",
            "defaultConstraints must be empty when defaultingType is System",
        ),
        (
            "  pluginConfig:\n  - name: PodTopologySpread\n    args: {unknown: 1}\n",
            "pluginConfig[0].args: unknown field `unknown`",
        ),
        (
            "  pluginConfig:\n  - name: MyPlugin\n    args: {a: 1}\n",
            "args for unknown or out-of-tree plugin \"MyPlugin\"",
        ),
        (
            "  pluginConfig:\n  - name: NodeAffinity\n  - name: NodeAffinity\n",
            "plugin NodeAffinity is configured twice",
        ),
        (
            "  pluginConfig:\n  - name: InterPodAffinity\n    args: {hardPodAffinityWeight: 200}\n",
            "hardPodAffinityWeight 200 is outside 0-100",
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesBalancedAllocation\n    args: {resources: [{name: cpu, weight: 2}]}\n",
            "weights must be 1",
        ),
        ("  unknownField: 1\n", "unknown field `unknownField`"),
    ];
    for (profile, want) in cases {
        let err = load_err(&ksc(profile));
        assert!(chain(&err).contains(want), "{profile}\n  got: {}\n  want: {want}", chain(&err));
        assert!(err.to_string().contains("KubeSchedulerConfiguration"), "{err}");
    }
    let err = load_err(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nextenders: [{urlPrefix: http://x}]\n",
    );
    assert!(chain(&err).contains("extenders: scheduler extenders are external HTTP services"), "{}", chain(&err));
    let err = load_err("apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n");
    assert!(matches!(err.document_error(), Some(DocumentError::WrongApiVersion { .. })), "{err:?}");
}

#[test]
fn policy_documents() {
    let s = load(
        "apiVersion: spillway.rs/v1alpha1\nkind: Policy\nspec:\n  profile:\n    nodeResourcesFit:\n      scoringStrategy: {type: MostAllocated}\n",
    );
    assert_eq!(s.policy.profile.node_resources_fit.scoring_strategy.kind, ScoringStrategyType::MostAllocated);
    assert_eq!(load("apiVersion: spillway.rs/v1alpha1\nkind: Policy\n").policy, spillway::Policy::default());

    let err = load_err("apiVersion: spillway.rs/v1alpha1\nkind: Policy\nspec:\n  profile:\n    nodeResourceFit: {}\n");
    let Some(DocumentError::Yaml(yaml)) = err.document_error() else { panic!("{err:?}") };
    assert_eq!(yaml.line, Some(5));
    assert!(yaml.message.contains("nodeResourceFit"), "{}", yaml.message);

    let err = load_err(
        "apiVersion: spillway.rs/v1alpha1\nkind: Policy\nspec:\n  profile:\n    scores: [{name: TaintToleration, weight: 0}]\n",
    );
    assert!(matches!(err.document_error(), Some(DocumentError::Policy(_))), "{err:?}");

    let two = format!("{}---\napiVersion: spillway.rs/v1alpha1\nkind: Policy\n", ksc(""));
    let err = load_err(&two);
    assert_eq!(err.origin().unwrap().document, 2);
    assert!(chain(&err).contains("a scenario takes one policy"), "{}", chain(&err));
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_objects_are_typed_errors_naming_document_and_field() {
    let pod = |spec: &str| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: web}}\nspec:\n{spec}");
    let cases: Vec<(String, &str)> = vec![
        (pod("  containers: [{name: c, resources: {requests: {memory: 12Kb}}}]\n"), "pod default/web: spec.containers[0].resources.requests.memory: malformed quantity \"12Kb\""),
        (pod("  containers: [{name: c, resources: {limits: {cpu: -1}}}]\n"), "spec.containers[0].resources.requests.cpu: quantity \"-1\" is negative"),
        (pod("  containers: [{name: c}]\n  tolerations: [{key: a}, {key: b, operator: Matches}]\n"), "pod default/web: spec.tolerations[1].operator: unknown operator \"Matches\" (use Equal, Exists, Gt or Lt)"),
        (pod("  containers: [{name: c}]\n  tolerations: [{key: a, effect: NoRun}]\n"), "spec.tolerations[0].effect: unknown taint effect \"NoRun\" (use NoSchedule, PreferNoSchedule or NoExecute)"),
        (pod("  containers: [{name: c}]\n  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Near, values: [x]}]}]}}}\n"), "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: unknown operator \"Near\""),
        (pod("  containers: [{name: c}]\n  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, labelSelector: {matchExpressions: [{key: a, operator: Gt, values: [\"1\"]}]}}]}}\n"), "labelSelector.matchExpressions[0].operator: unknown operator \"Gt\" (use In, NotIn, Exists or DoesNotExist)"),
        (pod("  containers: [{name: c}]\n  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: Maybe}]\n"), "spec.topologySpreadConstraints[0].whenUnsatisfiable: unknown value \"Maybe\""),
        (pod("  containers: [{name: c, ports: [{containerPort: 80, hostPort: 70000}]}]\n"), "spec.containers[0].ports[0].hostPort: host port 70000 is out of range (use 1-65535, or 0 for none)"),
        (pod("  containers: [{name: c, ports: [{containerPort: 80, hostPort: 80, protocol: QUIC}]}]\n"), "spec.containers[0].ports[0].protocol: unknown value \"QUIC\""),
        (pod("  containers: [{name: c, resources: {requests: {cpu: 2}, limits: {cpu: 1}}}]\n"), "request \"2\" is larger than limit \"1\""),
        (pod("  initContainers: [{name: i, restartPolicy: Never}]\n  containers: [{name: c}]\n"), "spec.initContainers[0].restartPolicy: unknown value \"Never\""),
        (pod("  schedulingGates: [{name: wait}]\n  containers: [{name: c}]\n"), "pod default/web: spec.schedulingGates: scheduling gates hold a pod back"),
        (pod("  resourceClaims: [{name: gpu, resourceClaimName: gpu}]\n  containers: [{name: c}]\n"), "spec.resourceClaims: dynamic resource allocation"),
        (pod("  resources: {requests: {cpu: 1}}\n  containers: [{name: c}]\n"), "spec.resources: pod-level resources are not modelled"),
        ("apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c}]}\n".to_string(), "pod default/<unnamed>: metadata.name: is missing"),
        ("apiVersion: v1\nkind: Node\nmetadata: {labels: {a: b}}\n".to_string(), "node <unnamed>: metadata.name: is missing"),
        ("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {taints: [{key: a, effect: Sometimes}]}\n".to_string(), "node n: spec.taints[0].effect: unknown taint effect \"Sometimes\""),
        ("apiVersion: v1\nkind: Node\nmetadata: {name: n, annotations: {spillway.rs/hourly-cost: cheap}}\n".to_string(), "node n: metadata.annotations[\"spillway.rs/hourly-cost\"]: invalid money amount \"cheap\""),
        ("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: 4x}}\n".to_string(), "node n: status.allocatable.cpu: malformed quantity \"4x\""),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}}\n".to_string(), "Deployment default/d: spec.template.spec.containers[0].resources.requests.cpu: malformed quantity \"lots\""),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n".to_string(), "Deployment default/d: spec: is missing"),
        (
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {replicas: -5, selector: {}, template: {}}\n"
                .to_string(),
            "StatefulSet default/s: spec.replicas: -5 is negative",
        ),
    ];
    for (yaml, want) in cases {
        let err = load_err(&yaml);
        let Some(DocumentError::Conversion(conv)) = err.document_error() else { panic!("{yaml}: {err:?}") };
        assert!(
            conv.to_string().starts_with(want) || conv.to_string().contains(want),
            "{yaml}\n  got: {conv}\n  want: {want}"
        );
        assert_eq!(err.origin().unwrap().document, 1);
    }
}

#[test]
fn bad_documents_and_inconsistent_clusters() {
    // Duplicate node names, across files.
    let err = ScenarioBuilder::new()
        .add_yaml(&node("n1", ""), "a.yaml")
        .unwrap()
        .add_yaml(&format!("{}{}", node("n2", ""), node("n1", "")), "b.yaml")
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(
        chain(&err),
        "b.yaml: document 2 (line 6, Node n1) / node n1 is defined twice; the first definition is at a.yaml: document 1 (line 1, Node n1)"
    );

    // A pod bound to a missing node.
    let err = load_err(&format!(
        "{}apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{nodeName: gone, containers: [{{name: c}}]}}\n",
        node("n1", "")
    ));
    match err.document_error() {
        Some(DocumentError::Snapshot(SnapshotError::UnknownNode { pod, node })) => {
            assert_eq!((pod.as_str(), node.as_str()), ("default/p", "gone"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "<input>: document 2 (line 6, Pod default/p)");

    // The same pod twice.
    let p = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n";
    let err = load_err(&format!("{p}---\n{p}"));
    assert!(matches!(err.document_error(), Some(DocumentError::Duplicate { .. })), "{err:?}");

    // The same workload twice, and a workload too large to expand.
    let err = load_err(&format!("{DEPLOYMENT}---\n{DEPLOYMENT}"));
    assert_eq!(
        err.document_error().unwrap().to_string(),
        "Deployment shop/web is defined twice; the first definition is at <input>: document 1 (line 1, Deployment shop/web)"
    );
    let err = load_err(&DEPLOYMENT.replace("replicas: 3", "replicas: 2000000000"));
    assert!(
        chain(&err).contains("Deployment shop/web: spec.replicas: 2000000000 pods exceed spillway's limit"),
        "{}",
        chain(&err)
    );

    // Unknown spillway kinds, missing type, old API versions.
    let err = load_err("apiVersion: spillway.rs/v1alpha1\nkind: Autoscaler\nmetadata: {name: aci}\n");
    assert_eq!(
        chain(&err),
        "<input>: document 1 (line 1, Autoscaler aci) / unknown kind \"Autoscaler\" in spillway.rs/v1alpha1 (known kinds: Policy, BurstTarget or NodePool (spillway.rs/v1alpha1))"
    );
    // A burst target without a preset must say what it is.
    let err = load_err("apiVersion: spillway.rs/v1alpha1\nkind: BurstTarget\nmetadata: {name: aci}\n");
    assert!(chain(&err).ends_with("missing field `backend`"), "{}", chain(&err));
    let err = load_err("apiVersion: v1\nkind: Pod\n---\nkind: Pod\nmetadata: {name: x}\n");
    assert!(chain(&err).starts_with("<input>: document 1"), "{}", chain(&err));
    let err = load_err("apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\nmetadata: {name: x}\nspec: {}\n");
    assert_eq!(
        chain(&err),
        "<input>: document 2 (line 5, x) / the document has no apiVersion; every document must be a Kubernetes object with apiVersion and kind"
    );
    let err = load_err("apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n");
    assert!(chain(&err).contains("Deployment is read as apps/v1, not extensions/v1beta1"), "{}", chain(&err));
    // A CRD of another group with a familiar kind is skipped, not an error.
    let s = load("apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nmetadata: {name: j}\n");
    assert!(s.notes[0].contains("batch.volcano.sh/v1alpha1 Job is not read by spillway"));

    // YAML syntax and type errors carry file lines.
    let err = load_err(
        "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n",
    );
    let Some(DocumentError::Yaml(yaml)) = err.document_error() else { panic!("{err:?}") };
    assert_eq!(err.origin().unwrap().document, 2);
    assert!(yaml.line.is_some_and(|l| l >= 8), "{yaml:?}");
    assert!(yaml.snippet.contains("<input>"), "{}", yaml.snippet);
    let err = load_err(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  priority: high\n  containers: [{name: c}]\n",
    );
    let Some(DocumentError::Yaml(yaml)) = err.document_error() else { panic!("{err:?}") };
    assert_eq!(yaml.line, Some(5));
    assert!(yaml.message.contains("priority: high"), "{}", yaml.message);

    // A file that cannot be read.
    let err = Scenario::load(&["/nonexistent/scenario.yaml"]).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }) && err.to_string() == "cannot read /nonexistent/scenario.yaml");
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "",
        "---\n---\n",
        "~",
        "- a\n- b\n",
        "just text",
        "{",
        "apiVersion: [1]\nkind: Pod\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: {}}\n",
        "apiVersion: v1\nkind: List\nitems: [1, 2]\n",
        "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: []}]\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: -5, selector: {}, template: {spec: {containers: []}}}\n",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {parallelism: 2147483647, completions: -1, template: {spec: {containers: []}}}\n",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: 1e400}}\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: 1, hostPort: -3}]}]}\n",
        "a: &x [*x]\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, name: q}\n",
        "\u{feff}apiVersion: v1\nkind: Namespace\nmetadata: {name: bom}\n",
        "apiVersion: scheduling.x-k8s.io/v1alpha1\nkind: PodGroup\nmetadata: {name: g}\nspec: {minMember: -1}\n",
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles: [{pluginConfig: [{name: NodeResourcesFit, args: [1]}]}]\n",
    ];
    for input in inputs {
        let _ = std::panic::catch_unwind(|| Scenario::from_yaml_str(input))
            .unwrap_or_else(|_| panic!("panicked on {input:?}"));
    }
    assert!(load("").pending.is_empty());
    assert_eq!(load("\u{feff}apiVersion: v1\nkind: Namespace\nmetadata: {name: bom}\n").namespaces.len(), 1);
    assert!(
        Scenario::from_yaml_str("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: []}]\n")
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Conversion details

fn k8s_pod(json: serde_json::Value) -> k::Pod {
    serde_json::from_value(json).unwrap()
}

#[test]
fn limits_default_requests_and_explicit_zeros_are_kept() {
    let pod = pod_from_k8s(&k8s_pod(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "2", "memory": "1Gi", "example.com/dev": "1"}, "requests": {"cpu": "500m"}}},
            {"name": "b", "resources": {"requests": {"cpu": "0", "memory": "0"}}},
            {"name": "c"}
        ]}
    })))
    .unwrap();
    let a = &pod.containers[0];
    assert_eq!((a.requests.cpu_millis, a.requests.memory, a.requests.get_str("example.com/dev")), (500, 1 << 30, 1));
    assert_eq!(pod.containers[1].explicit_zero, ["cpu", "memory"]);
    assert!(pod.containers[2].explicit_zero.is_empty());
    // Scoring gives the request-less container kube-scheduler's defaults, not the explicit zeros.
    assert_eq!(pod.non_zero_requests().cpu_millis, 500 + 100);
}

#[test]
fn sidecars_and_host_ports() {
    let pod = pod_from_k8s(&k8s_pod(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [
                {"name": "setup", "resources": {"requests": {"cpu": "3"}}, "ports": [{"containerPort": 1, "hostPort": 9001}]},
                {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}},
                 "ports": [{"containerPort": 15001, "hostPort": 15001, "hostIP": "10.0.0.1", "protocol": "UDP"}]}
            ],
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "1"}},
                            "ports": [{"containerPort": 8080, "hostPort": 80}, {"containerPort": 9090}]}]
        }
    })))
    .unwrap();
    assert_eq!(pod.init_containers.iter().map(|c| c.sidecar).collect::<Vec<_>>(), [false, true]);
    assert_eq!(pod.requests().cpu_millis, 3000, "max(1 + 0.5, 3)");
    assert_eq!(
        pod.host_ports,
        [HostPort::tcp(80), HostPort { host_ip: "10.0.0.1".into(), protocol: Protocol::UDP, port: 15001 }],
        "app containers and sidecars; not the regular init container, not ports without hostPort"
    );

    // hostNetwork: container ports are host ports (API server defaulting).
    let pod = pod_from_k8s(&k8s_pod(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"hostNetwork": true, "containers": [{"name": "app", "ports": [{"containerPort": 8080}]}]}
    })))
    .unwrap();
    assert_eq!(pod.host_ports, [HostPort::tcp(8080)]);
}

#[test]
fn pod_metadata_affinity_and_spread_are_converted() {
    let pod = pod_from_k8s(&k8s_pod(serde_json::json!({
        "metadata": {
            "name": "p", "namespace": "ns", "labels": {"app": "x"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Other", "name": "o", "uid": "1"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "2", "controller": true}
            ]
        },
        "spec": {
            "priority": 5,
            "nodeSelector": {"disk": "ssd"},
            "overhead": {"cpu": "100m"},
            "containers": [{"name": "c"}],
            "tolerations": [{"key": "k", "operator": "Gt", "value": "3", "effect": "NoExecute", "tolerationSeconds": 30}],
            "affinity": {
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "preference": {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}}
                ]},
                "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "podAffinityTerm": {"topologyKey": "zone", "namespaceSelector": {}, "matchLabelKeys": ["app"]}}
                ]},
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}, "namespaces": ["a", "b"]}
                ]}
            },
            "topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "x"}}, "minDomains": 3, "nodeTaintsPolicy": "Honor", "matchLabelKeys": ["pod-template-hash"]}]
        }
    })))
    .unwrap();
    assert_eq!((pod.key().as_str(), pod.uid.as_str(), pod.priority), ("ns/p", "ns/p", 5));
    assert_eq!(pod.owner_kind.as_deref(), Some("ReplicaSet"));
    assert_eq!(pod.overhead.cpu_millis, 100);
    let t = &pod.tolerations[0];
    assert_eq!(
        (t.operator, t.effect, t.toleration_seconds),
        (TolerationOperator::Gt, Some(TaintEffect::NoExecute), Some(30))
    );
    assert_eq!(pod.node_affinity.preferred[0].preference.match_fields[0].operator, NodeSelectorOperator::NotIn);
    let pref = &pod.pod_affinity.preferred[0];
    assert_eq!((pref.weight, pref.pod_affinity_term.namespace_selector.is_some()), (50, true));
    assert_eq!(pref.pod_affinity_term.match_label_keys, ["app"]);
    let anti = &pod.pod_anti_affinity.required[0];
    assert_eq!(anti.label_selector.as_ref().unwrap().match_expressions[0].operator, SelectorOperator::In);
    assert_eq!(anti.namespaces, ["a", "b"]);
    let c = &pod.topology_spread_constraints[0];
    assert_eq!((c.max_skew, c.when_unsatisfiable, c.min_domains), (2, WhenUnsatisfiable::ScheduleAnyway, Some(3)));
    assert_eq!((c.node_taints_policy, c.node_affinity_policy), (Some(InclusionPolicy::Honor), None));

    // TryFrom works the same.
    let node: k::Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}})).unwrap();
    assert_eq!(spillway::Node::try_from(&node).unwrap(), node_from_k8s(&node).unwrap());
    let err: ConversionError = pod_from_k8s(&k8s_pod(serde_json::json!({"metadata": {"name": "p"}}))).unwrap_err();
    assert!(matches!(err.problem, ConversionProblem::Missing { .. }) && err.field == "spec", "{err}");
}

// ---------------------------------------------------------------------------------------------
// End to end

#[test]
fn plans_a_small_scenario_end_to_end() {
    let s = Scenario::load(&[
        format!("{FIXTURES}/workloads.yaml"),
        format!("{FIXTURES}/cluster.yaml"),
        format!("{FIXTURES}/pods.json"),
    ])
    .unwrap();
    // 3 DaemonSet pods (one per linux node, the GPU node's taint is not tolerated: 2), 3 web, 2 train.
    assert_eq!(s.pending.iter().filter(|p| p.owner_kind.as_deref() == Some("DaemonSet")).count(), 2);
    assert_eq!(s.pending.len(), 2 + 3 + 2);
    let selectors: Vec<(&str, &str)> =
        s.snapshot.workload_selectors().iter().map(|w| (w.kind.as_str(), w.namespace.as_str())).collect();
    assert_eq!(selectors, [("ReplicaSet", "shop"), ("Service", "shop")]);
    let rs = &s.snapshot.workload_selectors()[0].selector;
    assert_eq!(rs.match_labels.get("pod-template-hash"), s.pending[2].labels.get("pod-template-hash"));

    let engine = Engine::new(s.policy.clone()).unwrap();
    let plan = engine.place(&s.snapshot, &s.pending);
    assert_eq!(plan.decisions.len(), 7);
    // Equal priority, no timestamps: document order (files in the order given).
    let order: Vec<&str> = plan.decisions.iter().map(|d| d.pod.split('/').next().unwrap()).collect();
    assert_eq!(order, ["kube-system", "kube-system", "shop", "shop", "shop", "ml", "ml"]);
    for d in &plan.decisions[..5] {
        let node = d.node().unwrap_or_else(|| panic!("{d:?}"));
        assert!(node.starts_with("vm-a"), "{d:?}: the GPU node's taint keeps CPU pods off");
    }
    // vm-a1 runs db-0 (2 cores), so LeastAllocated sends the first web replica to vm-a2.
    assert_eq!(plan.decisions[2].node(), Some("vm-a2"));
    assert_eq!(plan.decisions[5].node(), Some("gpu-b1"));
    assert!(
        matches!(&plan.decisions[6].outcome, Outcome::Unschedulable(d) if d.reasons.get("Insufficient nvidia.com/gpu") == Some(&3))
    );

    // The same pods bin-packed with the carried-over scheduler profile.
    let packed = Scenario::load(&[
        format!("{FIXTURES}/workloads.yaml"),
        format!("{FIXTURES}/cluster.yaml"),
        format!("{FIXTURES}/scheduler-config.yaml"),
    ])
    .unwrap();
    let plan = Engine::new(packed.policy.clone()).unwrap().place(&packed.snapshot, &packed.pending);
    let web: Vec<&str> =
        plan.decisions.iter().filter(|d| d.pod.starts_with("shop/web-")).filter_map(|d| d.node()).collect();
    // MostAllocated: vm-a1 (db-0 and an agent) first, until it is full (3.1 of 4 cores), then vm-a2.
    assert_eq!(web, ["vm-a1", "vm-a2", "vm-a2"]);
}
