//! Expansion of workload objects into the pods their controllers would create.
//!
//! Names follow the controllers' patterns, with the random parts replaced by stable hashes so a
//! scenario always expands to the same pods:
//!
//! | kind | pod name | labels added by the controller |
//! |---|---|---|
//! | Deployment | `<name>-<pod-template-hash>-<5 chars>` | `pod-template-hash` |
//! | ReplicaSet, ReplicationController | `<name>-<5 chars>` | |
//! | StatefulSet | `<name>-<ordinal>` | `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` |
//! | Job | `<name>-<5 chars>` (`<name>-<index>-<5 chars>` when Indexed) | `job-name`, `batch.kubernetes.io/job-name` (+ `batch.kubernetes.io/job-completion-index`) |
//! | DaemonSet | `<name>-<5 chars>` | |

use crate::model::{
    Labels, Node, NodeAffinity, NodeSelector, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    TaintEffect, Toleration,
};

/// The alphabet of kube's random name suffixes (no vowels, no confusable characters).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// kube's `rand.SafeEncodeString`: each byte mapped onto [`ALPHANUMS`].
fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()])).collect()
}

/// The Deployment controller's `pod-template-hash`: the FNV-32a hash of the pod template,
/// in decimal, safely encoded. (kube hashes Go's dump of the template, spillway its JSON, so the
/// value differs from the cluster's but has the same form and is just as stable.)
pub(crate) fn template_hash(template_json: &[u8]) -> String {
    safe_encode(&fnv1a32(template_json).to_string())
}

/// A 5-character suffix like kube's random one, derived from `seed`.
pub(crate) fn suffix(seed: &str) -> String {
    let mut h = fnv1a64(seed.as_bytes());
    (0..5)
        .map(|_| {
            let c = ALPHANUMS[(h % ALPHANUMS.len() as u64) as usize];
            h /= ALPHANUMS.len() as u64;
            char::from(c)
        })
        .collect()
}

/// The kind of workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    Deployment,
    ReplicaSet,
    ReplicationController,
    StatefulSet,
    Job,
    DaemonSet,
}

impl WorkloadKind {
    /// The workload's own kind.
    pub(crate) fn name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::ReplicationController => "ReplicationController",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }

    /// The kind of the controller that owns the pods.
    pub(crate) fn owner_kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment | WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::ReplicationController => "ReplicationController",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// A workload with its converted pod template.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) kind: WorkloadKind,
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// The pod template, converted (its name and uid are placeholders).
    pub(crate) template: Pod,
    /// Pods to create (ignored for DaemonSets).
    pub(crate) replicas: usize,
    /// First StatefulSet ordinal.
    pub(crate) ordinal_start: i64,
    /// Job with `completionMode: Indexed`.
    pub(crate) indexed: bool,
    /// Deployment's pod-template-hash.
    pub(crate) template_hash: String,
    /// `spec.hostNetwork` of the template (DaemonSet tolerations depend on it).
    pub(crate) host_network: bool,
}

impl Workload {
    fn pod(&self, name: String, extra_labels: &[(&str, String)]) -> Pod {
        let mut pod = self.template.clone();
        pod.uid = format!("{}/{}", self.namespace, name);
        pod.name = name;
        pod.namespace.clone_from(&self.namespace);
        for (k, v) in extra_labels {
            pod.labels.insert((*k).to_string(), v.clone());
        }
        pod.owner_kind = Some(self.kind.owner_kind().to_string());
        pod
    }

    /// The pods of a Deployment, ReplicaSet, StatefulSet or Job. `taken` tells whether a
    /// `namespace/name` is already used, so generated suffixes never collide.
    pub(crate) fn expand(&self, taken: &mut dyn FnMut(&str) -> bool) -> Vec<Pod> {
        let mut unique = |prefix: String, seed: String| {
            let mut attempt = 0u32;
            loop {
                let name = format!("{prefix}{}", suffix(&format!("{seed}#{attempt}")));
                if !taken(&format!("{}/{name}", self.namespace)) {
                    return name;
                }
                attempt += 1;
            }
        };
        let seed = |i: usize| format!("{}/{}/{:?}/{i}", self.namespace, self.name, self.kind);
        (0..self.replicas)
            .map(|i| match self.kind {
                WorkloadKind::Deployment => {
                    let name = unique(format!("{}-{}-", self.name, self.template_hash), seed(i));
                    self.pod(name, &[("pod-template-hash", self.template_hash.clone())])
                }
                WorkloadKind::ReplicaSet | WorkloadKind::ReplicationController | WorkloadKind::DaemonSet => {
                    let name = unique(format!("{}-", self.name), seed(i));
                    self.pod(name, &[])
                }
                WorkloadKind::StatefulSet => {
                    let ordinal = self.ordinal_start + i as i64;
                    let name = format!("{}-{ordinal}", self.name);
                    self.pod(
                        name.clone(),
                        &[
                            ("statefulset.kubernetes.io/pod-name", name),
                            ("apps.kubernetes.io/pod-index", ordinal.to_string()),
                        ],
                    )
                }
                WorkloadKind::Job => {
                    let job = [("job-name", self.name.clone()), ("batch.kubernetes.io/job-name", self.name.clone())];
                    if self.indexed {
                        let name = unique(format!("{}-{i}-", self.name), seed(i));
                        let mut labels = job.to_vec();
                        labels.push(("batch.kubernetes.io/job-completion-index", i.to_string()));
                        self.pod(name, &labels)
                    } else {
                        let name = unique(format!("{}-", self.name), seed(i));
                        self.pod(name, &job)
                    }
                }
            })
            .collect()
    }

    /// The pod the DaemonSet controller creates for `node`, or why it creates none.
    pub(crate) fn daemon_pod(&self, node: &Node, taken: &mut dyn FnMut(&str) -> bool) -> Result<Pod, Ineligible> {
        let mut probe = self.template.clone();
        add_daemon_tolerations(&mut probe.tolerations, self.host_network);
        should_run(&probe, node)?;
        let mut attempt = 0u32;
        let name = loop {
            let name = format!(
                "{}-{}",
                self.name,
                suffix(&format!("{}/{}/{}#{attempt}", self.namespace, self.name, node.name))
            );
            if !taken(&format!("{}/{name}", self.namespace)) {
                break name;
            }
            attempt += 1;
        };
        let mut pod = self.pod(name, &[]);
        pod.tolerations = probe.tolerations;
        // The controller replaces the required node affinity with a pin to the node (the
        // template's required terms were checked above).
        pod.node_affinity = NodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: vec![],
                    match_fields: vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: NodeSelectorOperator::In,
                        values: vec![node.name.clone()],
                    }],
                }],
            }),
            preferred: std::mem::take(&mut pod.node_affinity.preferred),
        };
        Ok(pod)
    }
}

/// Why the DaemonSet controller creates no pod for a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ineligible {
    /// The template's `nodeName` names another node.
    NodeName,
    /// The node fails the template's node selector or required node affinity.
    Affinity,
    /// The node has a `NoSchedule`/`NoExecute` taint the pod does not tolerate.
    Taint,
}

/// The DaemonSet controller's `NodeShouldRunDaemonPod` (resources, ports and pod affinity
/// are not checked: the scheduler decides those).
fn should_run(pod: &Pod, node: &Node) -> Result<(), Ineligible> {
    if pod.node_name.as_ref().is_some_and(|n| *n != node.name) {
        return Err(Ineligible::NodeName);
    }
    let selector_ok = pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = pod.node_affinity.required.as_ref().is_none_or(|r| r.matches(&node.name, &node.labels));
    if !(selector_ok && affinity_ok) {
        return Err(Ineligible::Affinity);
    }
    let untolerated = node
        .taints
        .iter()
        .any(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute) && !pod.tolerates(t));
    if untolerated {
        return Err(Ineligible::Taint);
    }
    Ok(())
}

/// The tolerations the DaemonSet controller adds to its pods (`AddOrUpdateDaemonPodTolerations`).
fn add_daemon_tolerations(tolerations: &mut Vec<Toleration>, host_network: bool) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", TaintEffect::NoExecute),
        ("node.kubernetes.io/unreachable", TaintEffect::NoExecute),
        ("node.kubernetes.io/disk-pressure", TaintEffect::NoSchedule),
        ("node.kubernetes.io/memory-pressure", TaintEffect::NoSchedule),
        ("node.kubernetes.io/pid-pressure", TaintEffect::NoSchedule),
        ("node.kubernetes.io/unschedulable", TaintEffect::NoSchedule),
    ];
    if host_network {
        wanted.push(("node.kubernetes.io/network-unavailable", TaintEffect::NoSchedule));
    }
    for (key, effect) in wanted {
        let new = Toleration::exists(key, Some(effect));
        // Same key, operator, value and effect: updated in place (only tolerationSeconds differs).
        match tolerations
            .iter_mut()
            .find(|t| t.key == new.key && t.operator == new.operator && t.value.is_empty() && t.effect == new.effect)
        {
            Some(existing) => *existing = new,
            None => tolerations.push(new),
        }
    }
}

/// Labels of a template merged with a RuntimeClass's node selector; `Err` names a conflicting key.
pub(crate) fn merge_node_selector(pod: &mut Labels, extra: &Labels) -> Result<(), String> {
    for (k, v) in extra {
        match pod.get(k) {
            Some(existing) if existing != v => return Err(k.clone()),
            _ => {
                pod.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_look_like_kube() {
        let h = template_hash(b"{}");
        assert!(h.bytes().all(|b| ALPHANUMS.contains(&b)), "{h}");
        assert_eq!(suffix("a"), suffix("a"));
        assert_ne!(suffix("a"), suffix("b"));
        assert_eq!(suffix("x").len(), 5);
    }

    #[test]
    fn daemon_tolerations_are_added_once() {
        let mut t = vec![Toleration {
            toleration_seconds: Some(5),
            ..Toleration::exists("node.kubernetes.io/not-ready", Some(TaintEffect::NoExecute))
        }];
        add_daemon_tolerations(&mut t, false);
        assert_eq!(t.len(), 6);
        assert_eq!(t[0].toleration_seconds, None);
        add_daemon_tolerations(&mut t, true);
        assert_eq!(t.len(), 7);
    }
}
