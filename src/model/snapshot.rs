//! The cluster snapshot: VM nodes and the pods already placed on them.

use std::collections::BTreeMap;

// Name indexes hash with FxHash: node and pod names are short, and a controller updating a
// snapshot of 50,000 nodes and 300,000 pods looks names up on every event.
use crate::engine::fxhash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

use super::burst::BurstTarget;
use super::group::PodGroup;
use super::node::Node;
use super::pod::{HostPort, Pod};
use super::pool::NodePool;
use super::resources::Resources;
use super::selector::{LabelSelector, Labels};

/// The label selector of a Service, ReplicaSet, StatefulSet or ReplicationController.
/// kube-scheduler combines the selectors of the workloads that select a pod into the selector
/// of that pod's default topology spread constraints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    /// Kind of the object (`Service`, `ReplicaSet`, `StatefulSet`, ...), for reference.
    pub kind: String,
    /// Namespace of the object; it selects pods of that namespace only.
    pub namespace: String,
    /// Its selector (a Service's `spec.selector` map goes into `matchLabels`).
    pub selector: LabelSelector,
}

/// Why a snapshot is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Two nodes share a name.
    #[error("duplicate node name {name:?}: node names must be unique")]
    DuplicateNode {
        /// The repeated name.
        name: String,
    },
    /// A node has an empty name.
    #[error("a node has an empty name")]
    EmptyNodeName,
    /// Two placed pods share a namespace and name.
    #[error("duplicate pod {pod}: namespace/name must be unique")]
    DuplicatePod {
        /// `namespace/name`.
        pod: String,
    },
    /// A placed pod has no node.
    #[error("pod {pod} is listed as placed but has no nodeName; give it one or pass it as pending")]
    PodNotPlaced {
        /// `namespace/name`.
        pod: String,
    },
    /// Two burst targets share a name, or a target has a node's name.
    #[error("duplicate burst target name {name:?}: targets and nodes need distinct names")]
    DuplicateTarget {
        /// The repeated name.
        name: String,
    },
    /// Two node pools share a name.
    #[error("duplicate node pool name {name:?}")]
    DuplicatePool {
        /// The repeated name.
        name: String,
    },
    /// A placed pod is bound to a node the snapshot does not hold.
    #[error("pod {pod} is bound to node {node:?}, which is neither a node nor a burst target of the snapshot")]
    UnknownNode {
        /// `namespace/name`.
        pod: String,
        /// The missing node.
        node: String,
    },
}

/// VM nodes plus the pods already placed on them, checked for consistency.
///
/// Node order and placed-pod order do not affect any plan computed from the snapshot.
///
/// The snapshot keeps, per node, the sums of what its pods request (and their host ports),
/// and updates them with every change ([`upsert_pod`](Self::upsert_pod) and the others), as
/// kube-scheduler's cache keeps its `NodeInfo`s. A placement run reads those sums once per
/// node: its set-up costs time in proportion to the nodes, not to the placed pods, which it
/// reads only when a rule looks at other pods (inter-pod affinity, topology spread). A
/// controller that keeps one snapshot current from watch events pays each event once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "SnapshotData", into = "SnapshotData")]
pub struct Snapshot {
    nodes: Vec<Node>,
    targets: Vec<BurstTarget>,
    pools: Vec<NodePool>,
    pods: Vec<Pod>,
    namespaces: BTreeMap<String, Labels>,
    groups: Vec<PodGroup>,
    workloads: Vec<WorkloadSelector>,
    index: HashMap<String, usize>,
    target_index: HashMap<String, usize>,
    /// `namespace/name` → position in `pods`.
    pod_index: HashMap<String, usize>,
    /// Per pod (parallel to `pods`), what it takes from its node, computed when it enters:
    /// the engine reads it on every placement run instead of summing containers again.
    usage: Vec<PodUsage>,
    /// Per node (parallel to `nodes`), what its pods take from it.
    node_usage: Vec<NodeUsage>,
    /// Placed pods per namespace.
    pod_namespaces: HashMap<String, usize>,
    /// Placed pods (on nodes or targets) with inter-pod affinity or anti-affinity terms.
    with_terms: usize,
}

/// What a placed pod takes from its node: its effective requests (containers, init
/// containers and overhead) and its non-zero-defaulted cpu and memory requests (scoring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodUsage {
    pub(crate) requests: Resources,
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
    /// The position of the pod's node in [`Snapshot::nodes`], or [`ON_TARGET`].
    pub(crate) node: u32,
}

/// [`PodUsage::node`] of a pod running on a burst target.
pub(crate) const ON_TARGET: u32 = u32::MAX;

impl PodUsage {
    fn of(pod: &Pod, node: u32) -> PodUsage {
        let (nz_cpu, nz_mem) = pod.non_zero_cpu_memory();
        PodUsage { requests: pod.requests(), nz_cpu, nz_mem, node }
    }
}

/// What the pods placed on one node take from it, summed, and kept current as pods come and
/// go (kube-scheduler's `NodeInfo` keeps the same): a placement run reads one entry per node
/// instead of every placed pod.
///
/// The sums are exact (`i128`). Requests are never negative, so a sum clamped to `i64` is
/// what adding the pods one at a time with saturation gives, in any order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NodeUsage {
    cpu: i128,
    memory: i128,
    ephemeral: i128,
    /// Extended resources with a non-zero sum.
    extended: BTreeMap<String, i128>,
    nz_cpu: i128,
    nz_mem: i128,
    /// Number of pods.
    pub(crate) pods: i64,
    /// Host ports in use, one entry per pod that claims it, sorted.
    pub(crate) host_ports: Vec<HostPort>,
}

/// An exact sum as `i64`, saturating.
fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl NodeUsage {
    /// Counts `pod` (whose usage is `u`) in (`sign` 1) or out (`sign` -1).
    fn count(&mut self, pod: &Pod, u: &PodUsage, sign: i128) {
        let r = &u.requests;
        self.cpu += sign * i128::from(r.cpu_millis);
        self.memory += sign * i128::from(r.memory);
        self.ephemeral += sign * i128::from(r.ephemeral_storage);
        for (name, &v) in &r.extended {
            if v == 0 {
                continue;
            }
            let sum = match self.extended.get_mut(name.as_str()) {
                Some(sum) => sum,
                None => self.extended.entry(name.clone()).or_insert(0),
            };
            *sum += sign * i128::from(v);
            if *sum == 0 {
                self.extended.remove(name.as_str());
            }
        }
        self.nz_cpu += sign * i128::from(u.nz_cpu);
        self.nz_mem += sign * i128::from(u.nz_mem);
        self.pods += if sign > 0 { 1 } else { -1 };
        // Kept sorted: the same pods give the same list, whatever their order.
        for port in &pod.host_ports {
            match (self.host_ports.binary_search(port), sign > 0) {
                (Ok(at) | Err(at), true) => self.host_ports.insert(at, port.clone()),
                (Ok(at), false) => {
                    self.host_ports.remove(at);
                }
                (Err(_), false) => {}
            }
        }
    }

    /// The summed requests (`pods` is the pod count).
    pub(crate) fn requests(&self) -> Resources {
        Resources {
            cpu_millis: clamp(self.cpu),
            memory: clamp(self.memory),
            ephemeral_storage: clamp(self.ephemeral),
            pods: self.pods,
            extended: self.extended.iter().map(|(k, &v)| (k.clone(), clamp(v))).collect(),
        }
    }

    /// The names of the extended resources the pods request.
    pub(crate) fn extended_names(&self) -> impl Iterator<Item = &str> {
        self.extended.keys().map(String::as_str)
    }

    /// Summed non-zero-defaulted cpu and memory requests.
    pub(crate) fn non_zero(&self) -> (i64, i64) {
        (clamp(self.nz_cpu), clamp(self.nz_mem))
    }
}

/// The serialized form of a [`Snapshot`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SnapshotData {
    #[serde(default)]
    nodes: Vec<Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    burst_targets: Vec<BurstTarget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    node_pools: Vec<NodePool>,
    #[serde(default)]
    pods: Vec<Pod>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    namespaces: BTreeMap<String, Labels>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<PodGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    workloads: Vec<WorkloadSelector>,
}

impl TryFrom<SnapshotData> for Snapshot {
    type Error = SnapshotError;
    fn try_from(d: SnapshotData) -> Result<Snapshot, SnapshotError> {
        Ok(Snapshot::with_burst(d.nodes, d.burst_targets, d.pods)?
            .with_node_pools(d.node_pools)?
            .with_namespaces(d.namespaces)
            .with_groups(d.groups)
            .with_workload_selectors(d.workloads))
    }
}

impl From<Snapshot> for SnapshotData {
    fn from(s: Snapshot) -> SnapshotData {
        SnapshotData {
            nodes: s.nodes,
            burst_targets: s.targets,
            node_pools: s.pools,
            pods: s.pods,
            namespaces: s.namespaces,
            groups: s.groups,
            workloads: s.workloads,
        }
    }
}

impl Snapshot {
    /// Checks and builds a snapshot: node names are unique and non-empty, every pod names a node
    /// of the snapshot, and `namespace/name` is unique among pods.
    ///
    /// ```
    /// use spillway::{Node, Pod, Snapshot, SnapshotError};
    /// let err = Snapshot::new(vec![Node::new("a")], vec![Pod::new("ns", "p").on_node("b")]).unwrap_err();
    /// assert!(matches!(err, SnapshotError::UnknownNode { .. }));
    /// ```
    pub fn new(nodes: Vec<Node>, pods: Vec<Pod>) -> Result<Snapshot, SnapshotError> {
        Snapshot::with_burst(nodes, Vec::new(), pods)
    }

    /// Like [`new`](Self::new), with burst targets: a placed pod may run on a node or on a
    /// target (its `node_name` names the target). Target names must differ from each other and
    /// from node names.
    pub fn with_burst(nodes: Vec<Node>, targets: Vec<BurstTarget>, pods: Vec<Pod>) -> Result<Snapshot, SnapshotError> {
        let mut index = HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
        for (i, n) in nodes.iter().enumerate() {
            if n.name.is_empty() {
                return Err(SnapshotError::EmptyNodeName);
            }
            if index.insert(n.name.clone(), i).is_some() {
                return Err(SnapshotError::DuplicateNode { name: n.name.clone() });
            }
        }
        let mut target_index = HashMap::with_capacity_and_hasher(targets.len(), Default::default());
        for (i, t) in targets.iter().enumerate() {
            if index.contains_key(&t.name) || target_index.insert(t.name.clone(), i).is_some() {
                return Err(SnapshotError::DuplicateTarget { name: t.name.clone() });
            }
        }
        let mut pod_index = HashMap::with_capacity_and_hasher(pods.len(), Default::default());
        let mut usage = Vec::with_capacity(pods.len());
        for (i, p) in pods.iter().enumerate() {
            let node = check_placed(p, &index, &target_index)?;
            if pod_index.insert(p.key(), i).is_some() {
                return Err(SnapshotError::DuplicatePod { pod: p.key() });
            }
            usage.push(PodUsage::of(p, node));
        }
        let mut s = Snapshot {
            node_usage: vec![NodeUsage::default(); nodes.len()],
            nodes,
            targets,
            pools: Vec::new(),
            usage: Vec::new(),
            pods: Vec::new(),
            namespaces: BTreeMap::new(),
            groups: Vec::new(),
            workloads: Vec::new(),
            index,
            target_index,
            pod_index,
            pod_namespaces: HashMap::default(),
            with_terms: 0,
        };
        for (p, u) in pods.iter().zip(&usage) {
            s.count(p, u, 1);
        }
        (s.pods, s.usage) = (pods, usage);
        Ok(s)
    }

    /// Counts a placed pod in (`sign` 1) or out (`sign` -1) of the per-node sums and the
    /// per-namespace counts.
    fn count(&mut self, pod: &Pod, u: &PodUsage, sign: i128) {
        if let Some(node) = self.node_usage.get_mut(u.node as usize) {
            node.count(pod, u, sign);
        }
        if pod.has_inter_pod_terms() {
            self.with_terms = if sign > 0 { self.with_terms + 1 } else { self.with_terms - 1 };
        }
        if sign > 0 {
            match self.pod_namespaces.get_mut(pod.namespace.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.pod_namespaces.insert(pod.namespace.clone(), 1);
                }
            }
        } else if let Some(n) = self.pod_namespaces.get_mut(pod.namespace.as_str()) {
            *n -= 1;
            if *n == 0 {
                self.pod_namespaces.remove(pod.namespace.as_str());
            }
        }
    }

    /// Sets the node pools the cluster autoscaler can grow (names must be unique).
    pub fn with_node_pools(mut self, pools: Vec<NodePool>) -> Result<Snapshot, SnapshotError> {
        self.set_node_pools(pools)?;
        Ok(self)
    }

    /// The burst targets.
    pub fn burst_targets(&self) -> &[BurstTarget] {
        &self.targets
    }

    /// The burst target called `name`.
    pub fn burst_target(&self, name: &str) -> Option<&BurstTarget> {
        self.target_index.get(name).map(|&i| &self.targets[i])
    }

    /// The node pools.
    pub fn node_pools(&self) -> &[NodePool] {
        &self.pools
    }

    /// Sets the labels of namespaces (for `namespaceSelector` in pod affinity terms). A
    /// namespace not listed has no labels.
    pub fn with_namespaces(mut self, namespaces: BTreeMap<String, Labels>) -> Snapshot {
        self.namespaces = namespaces;
        self
    }

    /// Sets the co-scheduled pod groups (see [`PodGroup`]).
    pub fn with_groups(mut self, groups: Vec<PodGroup>) -> Snapshot {
        self.groups = groups;
        self
    }

    /// Sets the selectors of the Services and controllers in the cluster (see
    /// [`WorkloadSelector`]); they give default topology spreading its per-pod selector.
    pub fn with_workload_selectors(mut self, workloads: Vec<WorkloadSelector>) -> Snapshot {
        self.workloads = workloads;
        self
    }

    /// The Services' and controllers' selectors.
    pub fn workload_selectors(&self) -> &[WorkloadSelector] {
        &self.workloads
    }

    /// The co-scheduled pod groups.
    pub fn groups(&self) -> &[PodGroup] {
        &self.groups
    }

    /// Namespace labels, by namespace name.
    pub fn namespaces(&self) -> &BTreeMap<String, Labels> {
        &self.namespaces
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The placed pods, in the order given.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// Per placed pod (in the order of [`pods`](Self::pods)), what it takes from its node.
    pub(crate) fn pod_usage(&self) -> &[PodUsage] {
        &self.usage
    }

    /// Per node (in the order of [`nodes`](Self::nodes)), what its placed pods take from it.
    pub(crate) fn node_usage(&self) -> &[NodeUsage] {
        &self.node_usage
    }

    /// The namespaces of the placed pods.
    pub(crate) fn pod_namespaces(&self) -> impl Iterator<Item = &str> {
        self.pod_namespaces.keys().map(String::as_str)
    }

    /// Number of placed pods with inter-pod affinity or anti-affinity terms.
    pub(crate) fn placed_with_terms(&self) -> usize {
        self.with_terms
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Position of the node called `name` in [`nodes`](Self::nodes).
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The placed pods running on burst targets, with their target.
    pub fn burst_pods(&self) -> impl Iterator<Item = (&Pod, &BurstTarget)> + '_ {
        self.pods.iter().filter_map(|p| Some((p, self.burst_target(p.node_name.as_deref()?)?)))
    }

    /// The pods placed on node `name`.
    pub fn pods_on<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods.iter().filter(move |p| p.node_name.as_deref() == Some(name))
    }

    /// The summed effective requests of the pods on node `name`, with `pods` set to their count.
    pub fn usage(&self, name: &str) -> Resources {
        if let Some(&i) = self.index.get(name) {
            return self.node_usage[i].requests();
        }
        let mut total = Resources::default();
        let mut count = 0;
        for p in self.pods_on(name) {
            total.add(&p.requests());
            count += 1;
        }
        total.pods = count;
        total
    }

    /// The placed pod `namespace/name`.
    pub fn pod(&self, key: &str) -> Option<&Pod> {
        self.pod_index.get(key).map(|&i| &self.pods[i])
    }

    /// Adds `node`, or replaces the node of that name (its pods stay on it); returns the node
    /// replaced. This and the other updates ([`remove_node`](Self::remove_node),
    /// [`upsert_pod`](Self::upsert_pod), [`remove_pod`](Self::remove_pod)) keep the checks of
    /// [`with_burst`](Self::with_burst) and cost O(1) (amortised) each, `remove_node` O(placed
    /// pods), so a controller can keep one snapshot current from watch events instead of
    /// rebuilding it. They may change the
    /// order of [`nodes`](Self::nodes) and [`pods`](Self::pods), which no plan depends on.
    ///
    /// # Errors
    ///
    /// An empty name, or the name of a burst target; the snapshot is then unchanged.
    ///
    /// ```
    /// use spillway::{Node, Pod, Snapshot};
    /// let mut s = Snapshot::default();
    /// s.upsert_node(Node::new("vm-1"))?;
    /// s.upsert_pod(Pod::new("shop", "web-0").on_node("vm-1"))?;
    /// assert_eq!(s.usage("vm-1").pods, 1);
    /// let (node, evicted) = s.remove_node("vm-1").expect("it was there");
    /// assert_eq!((node.name.as_str(), evicted.len()), ("vm-1", 1));
    /// assert!(s.pods().is_empty());
    /// # Ok::<(), spillway::SnapshotError>(())
    /// ```
    pub fn upsert_node(&mut self, node: Node) -> Result<Option<Node>, SnapshotError> {
        if node.name.is_empty() {
            return Err(SnapshotError::EmptyNodeName);
        }
        if self.target_index.contains_key(&node.name) {
            return Err(SnapshotError::DuplicateTarget { name: node.name });
        }
        match self.index.get(&node.name) {
            Some(&i) => Ok(Some(std::mem::replace(&mut self.nodes[i], node))),
            None => {
                self.index.insert(node.name.clone(), self.nodes.len());
                self.nodes.push(node);
                self.node_usage.push(NodeUsage::default());
                Ok(None)
            }
        }
    }

    /// Removes the node called `name` together with the pods placed on it, and returns both
    /// (the pods in no particular order); `None` when there is no such node. Nothing is
    /// dropped silently: a pod whose node is gone is handed back to be planned again or
    /// forgotten, as the caller decides.
    pub fn remove_node(&mut self, name: &str) -> Option<(Node, Vec<Pod>)> {
        let i = *self.index.get(name)?;
        let keys: Vec<String> =
            self.pods.iter().filter(|p| p.node_name.as_deref() == Some(name)).map(Pod::key).collect();
        let pods = keys.iter().filter_map(|k| self.remove_pod(k)).collect();
        self.index.remove(name);
        let node = self.nodes.swap_remove(i);
        self.node_usage.swap_remove(i);
        if let Some(moved) = self.nodes.get(i) {
            self.index.insert(moved.name.clone(), i);
            // The moved node's pods follow it.
            let last = self.nodes.len() as u32;
            for u in &mut self.usage {
                if u.node == last {
                    u.node = i as u32;
                }
            }
        }
        Some((node, pods))
    }

    /// Adds a placed pod, or replaces the pod of that `namespace/name` (on whatever node);
    /// returns the pod replaced.
    ///
    /// # Errors
    ///
    /// A pod without a node name, or on a node or target the snapshot does not hold; the
    /// snapshot is then unchanged.
    pub fn upsert_pod(&mut self, pod: Pod) -> Result<Option<Pod>, SnapshotError> {
        let node = check_placed(&pod, &self.index, &self.target_index)?;
        let key = pod.key();
        let usage = PodUsage::of(&pod, node);
        self.count(&pod, &usage, 1);
        match self.pod_index.get(&key) {
            Some(&i) => {
                let old = std::mem::replace(&mut self.pods[i], pod);
                let old_usage = std::mem::replace(&mut self.usage[i], usage);
                self.count(&old, &old_usage, -1);
                Ok(Some(old))
            }
            None => {
                self.pod_index.insert(key, self.pods.len());
                self.usage.push(usage);
                self.pods.push(pod);
                Ok(None)
            }
        }
    }

    /// Removes the placed pod `namespace/name` and returns it.
    pub fn remove_pod(&mut self, key: &str) -> Option<Pod> {
        let i = self.pod_index.remove(key)?;
        let pod = self.pods.swap_remove(i);
        let usage = self.usage.swap_remove(i);
        self.count(&pod, &usage, -1);
        if let Some(moved) = self.pods.get(i) {
            self.pod_index.insert(moved.key(), i);
        }
        Some(pod)
    }

    /// Replaces the node pools (see [`with_node_pools`](Self::with_node_pools)).
    ///
    /// # Errors
    ///
    /// Two pools with one name; the snapshot is then unchanged.
    pub fn set_node_pools(&mut self, pools: Vec<NodePool>) -> Result<(), SnapshotError> {
        check_pools(&pools)?;
        self.pools = pools;
        Ok(())
    }
}

/// A placed pod must name a node or target of the snapshot: the node's position, or
/// [`ON_TARGET`].
fn check_placed(
    pod: &Pod,
    nodes: &HashMap<String, usize>,
    targets: &HashMap<String, usize>,
) -> Result<u32, SnapshotError> {
    let Some(node) = &pod.node_name else {
        return Err(SnapshotError::PodNotPlaced { pod: pod.key() });
    };
    match nodes.get(node) {
        Some(&i) => Ok(i as u32),
        None if targets.contains_key(node) => Ok(ON_TARGET),
        None => Err(SnapshotError::UnknownNode { pod: pod.key(), node: node.clone() }),
    }
}

fn check_pools(pools: &[NodePool]) -> Result<(), SnapshotError> {
    for (i, p) in pools.iter().enumerate() {
        if pools[..i].iter().any(|o| o.name == p.name) {
            return Err(SnapshotError::DuplicatePool { name: p.name.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_inconsistent_input() {
        let n = |name: &str| Node::new(name);
        assert_eq!(
            Snapshot::new(vec![n("a"), n("a")], vec![]).unwrap_err(),
            SnapshotError::DuplicateNode { name: "a".into() }
        );
        assert_eq!(Snapshot::new(vec![n("")], vec![]).unwrap_err(), SnapshotError::EmptyNodeName);
        assert_eq!(
            Snapshot::new(vec![n("a")], vec![Pod::new("x", "p")]).unwrap_err(),
            SnapshotError::PodNotPlaced { pod: "x/p".into() }
        );
        assert_eq!(
            Snapshot::new(vec![n("a")], vec![Pod::new("x", "p").on_node("a"), Pod::new("x", "p").on_node("a")])
                .unwrap_err(),
            SnapshotError::DuplicatePod { pod: "x/p".into() }
        );
        let err = Snapshot::new(vec![n("a")], vec![Pod::new("x", "p").on_node("zz")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pod x/p is bound to node \"zz\", which is neither a node nor a burst target of the snapshot"
        );
    }

    #[test]
    fn usage_sums_requests_and_counts_pods() {
        let cpu = |c: &str| Resources::parse([("cpu", c)]).unwrap();
        let s = Snapshot::new(
            vec![Node::new("a"), Node::new("b")],
            vec![
                Pod::new("x", "1").with_container(cpu("1")).on_node("a"),
                Pod::new("x", "2").with_container(cpu("500m")).on_node("a"),
            ],
        )
        .unwrap();
        let u = s.usage("a");
        assert_eq!((u.cpu_millis, u.pods), (1500, 2));
        assert_eq!(s.usage("b"), Resources::default());
    }

    #[test]
    fn burst_targets_hold_pods_and_need_distinct_names() {
        let aci = crate::model::BurstTarget::aci_like("aci", "eastus");
        let s = Snapshot::with_burst(vec![Node::new("a")], vec![aci.clone()], vec![Pod::new("x", "p").on_node("aci")])
            .unwrap();
        assert_eq!(s.burst_pods().count(), 1);
        assert_eq!(s.usage("a").pods, 0);
        let clash = crate::model::BurstTarget::aci_like("a", "eastus");
        assert_eq!(
            Snapshot::with_burst(vec![Node::new("a")], vec![clash], vec![]).unwrap_err(),
            SnapshotError::DuplicateTarget { name: "a".into() }
        );
        assert!(matches!(
            Snapshot::with_burst(vec![], vec![aci.clone(), aci], vec![]),
            Err(SnapshotError::DuplicateTarget { .. })
        ));
    }

    #[test]
    fn serde_validates() {
        let bad = r#"{"nodes":[{"name":"a"},{"name":"a"}]}"#;
        assert!(serde_json::from_str::<Snapshot>(bad).unwrap_err().to_string().contains("duplicate node"));
    }

    /// The same content, whatever the order.
    fn sorted(s: &Snapshot) -> (Vec<Node>, Vec<Pod>) {
        let mut nodes = s.nodes().to_vec();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut pods = s.pods().to_vec();
        pods.sort_by_key(Pod::key);
        (nodes, pods)
    }

    #[test]
    fn updates_match_a_rebuild_and_keep_the_indexes() {
        let aci = crate::model::BurstTarget::aci_like("aci", "eastus");
        let mut s = Snapshot::with_burst(vec![], vec![aci.clone()], vec![]).unwrap();
        // A deterministic walk of inserts, replacements and removals.
        let mut x: u64 = 7;
        for step in 0..2000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = (x >> 33) as usize;
            let node = format!("n{}", r % 13);
            let pod = format!("p{}", (r / 13) % 41);
            match r % 7 {
                0 | 1 => {
                    let replaced = s.node(&node).is_some();
                    let cpu = Resources::parse([("cpu", format!("{}", step % 5 + 1).as_str())]).unwrap();
                    assert_eq!(s.upsert_node(Node::new(&node).with_allocatable(cpu)).unwrap().is_some(), replaced);
                }
                2 => {
                    let before = s.pods().iter().filter(|p| p.node_name.as_deref() == Some(node.as_str())).count();
                    match s.remove_node(&node) {
                        Some((n, pods)) => {
                            assert_eq!(n.name, node);
                            assert_eq!(pods.len(), before);
                            assert!(pods.iter().all(|p| p.node_name.as_deref() == Some(node.as_str())));
                        }
                        None => assert_eq!(before, 0),
                    }
                }
                3 | 4 => {
                    let at = if r.is_multiple_of(3) { "aci".to_string() } else { node.clone() };
                    let known = s.node(&at).is_some() || at == "aci";
                    // Requests that change with each upsert, so the kept usage must follow.
                    // Extended resources, host ports and inter-pod terms come and go too.
                    let cpu = format!("{}m", 100 * (r % 7));
                    let gpus = format!("{}", r % 2);
                    let requests =
                        Resources::parse([("cpu", cpu.as_str()), ("example.com/gpu", gpus.as_str())]).unwrap();
                    let mut p = Pod::new("ns", &pod).with_container(requests).on_node(&at);
                    if r % 5 < 2 {
                        p = p.with_host_port(crate::model::HostPort::tcp(if r.is_multiple_of(5) {
                            8080
                        } else {
                            9090
                        }));
                    }
                    if r.is_multiple_of(4) {
                        p.pod_anti_affinity.required.push(crate::model::PodAffinityTerm {
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        });
                    }
                    let result = s.upsert_pod(p);
                    assert_eq!(result.is_ok(), known, "{at}");
                }
                _ => {
                    let had = s.pod(&format!("ns/{pod}")).is_some();
                    assert_eq!(s.remove_pod(&format!("ns/{pod}")).is_some(), had);
                }
            }
            // The indexes point where they should.
            for (i, n) in s.nodes().iter().enumerate() {
                assert_eq!(s.node_index(&n.name), Some(i));
            }
            for p in s.pods() {
                assert_eq!(s.pod(&p.key()), Some(p));
            }
            // Each pod's kept usage is its own, after swaps and replacements, and names the
            // position of its node.
            for (p, usage) in s.pods().iter().zip(s.pod_usage()) {
                let node = s.node_index(p.node_name.as_deref().unwrap_or_default()).map_or(ON_TARGET, |i| i as u32);
                assert_eq!(*usage, PodUsage::of(p, node), "{}", p.key());
            }
            assert_eq!(s.pod_usage().len(), s.pods().len());
            // Each node's sums are those of its pods, added one by one.
            for (n, u) in s.nodes().iter().zip(s.node_usage()) {
                let (mut requests, mut nz, mut ports) = (Resources::default(), Resources::default(), Vec::new());
                for p in s.pods_on(&n.name) {
                    requests.add(&p.requests());
                    requests.pods += 1;
                    nz.add(&p.non_zero_requests());
                    ports.extend(p.host_ports.iter().cloned());
                }
                requests.extended.retain(|_, v| *v != 0);
                ports.sort();
                assert_eq!(u.requests(), requests, "{}", n.name);
                assert_eq!(u.non_zero(), (nz.cpu_millis, nz.memory), "{}", n.name);
                assert_eq!(u.host_ports, ports, "{}", n.name);
                assert_eq!(u.extended_names().count(), requests.extended.len());
            }
            // The per-node sums and the namespace counts are those of a rebuild.
            let rebuilt = Snapshot::with_burst(s.nodes().to_vec(), vec![aci.clone()], s.pods().to_vec()).unwrap();
            assert_eq!(s.node_usage(), rebuilt.node_usage(), "step {step}");
            assert_eq!(s.pod_namespaces, rebuilt.pod_namespaces);
            assert_eq!(s.placed_with_terms(), rebuilt.placed_with_terms());
        }
        let rebuilt = Snapshot::with_burst(s.nodes().to_vec(), vec![aci], s.pods().to_vec()).unwrap();
        assert_eq!(sorted(&s), sorted(&rebuilt));
        assert!(!s.pods().is_empty() && !s.nodes().is_empty(), "the walk should end with some state");
    }

    #[test]
    fn bad_updates_leave_the_snapshot_unchanged() {
        let aci = crate::model::BurstTarget::aci_like("aci", "eastus");
        let mut s = Snapshot::with_burst(vec![Node::new("a")], vec![aci], vec![]).unwrap();
        assert_eq!(s.upsert_node(Node::new("")).unwrap_err(), SnapshotError::EmptyNodeName);
        assert_eq!(s.upsert_node(Node::new("aci")).unwrap_err(), SnapshotError::DuplicateTarget { name: "aci".into() });
        assert_eq!(s.upsert_pod(Pod::new("x", "p")).unwrap_err(), SnapshotError::PodNotPlaced { pod: "x/p".into() });
        assert_eq!(
            s.upsert_pod(Pod::new("x", "p").on_node("b")).unwrap_err(),
            SnapshotError::UnknownNode { pod: "x/p".into(), node: "b".into() }
        );
        let pool = NodePool {
            name: "pool".into(),
            allocatable: Resources::default(),
            labels: Labels::default(),
            taints: vec![],
            hourly_cost: crate::model::Money::default(),
            provisioning_seconds: 300,
            max_nodes: 3,
            current_nodes: 0,
        };
        assert!(matches!(s.set_node_pools(vec![pool.clone(), pool]), Err(SnapshotError::DuplicatePool { .. })));
        assert_eq!((s.nodes().len(), s.pods().len(), s.node_pools().len()), (1, 0, 0));
        assert!(s.remove_node("b").is_none());
        assert!(s.remove_pod("x/p").is_none());
    }
}
