//! Co-scheduled groups: pending pods that are placed all-or-nothing.
//!
//! Two kinds of ties make a group: the pod-group label ([`POD_GROUP_LABEL`]) with the
//! snapshot's [`PodGroup`] (its `minMember`), and required pod affinity between pending pods of
//! one plan (a pod that needs another pending pod nearby is placed only together with it). The
//! ties form a graph (petgraph); each connected component is one placement unit. Inside a unit,
//! pods that others depend on go first (a topological order of the affinity edges), then the
//! most constrained pods.

use super::fxhash::FxHashMap as HashMap;

use petgraph::Direction;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{POD_GROUP_LABEL, Pod, PodGroup};

use super::cluster::Cluster;

use super::terms::{Pin, PodTerms};

/// One placement unit: a single pod or a co-scheduled group.
#[derive(Debug)]
pub(crate) struct Unit {
    /// Indices into the plan order, in placement order.
    members: Members,
    /// Requirements that must all hold for the unit to be placed.
    pub(crate) requirements: Vec<Requirement>,
}

/// A unit's members: most units are one pod, kept without an allocation.
#[derive(Debug)]
enum Members {
    One(usize),
    Many(Vec<usize>),
}

impl Unit {
    /// Indices into the plan order, in placement order.
    pub(crate) fn members(&self) -> &[usize] {
        match &self.members {
            Members::One(m) => std::slice::from_ref(m),
            Members::Many(members) => members,
        }
    }
}

/// A requirement of a group unit.
#[derive(Debug)]
pub(crate) struct Requirement {
    /// What the requirement is called in messages (`pod group ns/name`, `pods tied by affinity`).
    pub(crate) label: String,
    /// Members (indices into the plan order) the requirement counts.
    pub(crate) members: Vec<usize>,
    /// How many of them must be placed.
    pub(crate) min: usize,
}

/// How constrained a pod is: more required rules first.
fn constraint_weight(pod: &Pod) -> usize {
    pod.pod_affinity.required.len()
        + pod.pod_anti_affinity.required.len()
        + pod.topology_spread_constraints.len()
        + pod.node_selector.len()
        + pod.node_affinity.required.as_ref().map_or(0, |r| r.node_selector_terms.len().max(1))
        + pod.host_ports.len()
}

/// Splits the plan order into placement units, each at the position of its first member.
pub(crate) fn units(order: &[&Pod], groups: &[PodGroup], cluster: &Cluster<'_>, hard_weight: i64) -> Vec<Unit> {
    let n = order.len();
    let mut graph: DiGraph<usize, bool> = DiGraph::with_capacity(n, 0);
    let ids: Vec<NodeIndex> = (0..n).map(|i| graph.add_node(i)).collect();

    // Pod-group label ties (undirected in effect: an edge to the group's first pod).
    let mut by_group: HashMap<(&str, &str), Vec<usize>> = HashMap::default();
    for (i, pod) in order.iter().enumerate() {
        if let Some(name) = pod.labels.get(POD_GROUP_LABEL) {
            by_group.entry((pod.namespace.as_str(), name.as_str())).or_default().push(i);
        }
    }
    for members in by_group.values() {
        for &m in &members[1..] {
            graph.add_edge(ids[members[0]], ids[m], false);
        }
    }

    // Required affinity between pending pods: an edge from the pod that needs to the pod needed.
    // Pending pods by label: a term that pins a label checks only the pods that carry it (in
    // plan order, so the edges are those of a scan of every pod, in the same order).
    let with_affinity: Vec<usize> = (0..n).filter(|&i| !order[i].pod_affinity.required.is_empty()).collect();
    let mut by_label: HashMap<(&str, &str), Vec<usize>> = HashMap::default();
    if !with_affinity.is_empty() {
        for (j, pod) in order.iter().enumerate() {
            for (k, v) in &pod.labels {
                by_label.entry((k.as_str(), v.as_str())).or_default().push(j);
            }
        }
    }
    let mut candidates: Vec<usize> = Vec::new();
    for &i in &with_affinity {
        let terms = PodTerms::new(order[i], hard_weight);
        candidates.clear();
        let mut every_pod = false;
        for t in &terms.required_affinity {
            match t.pin() {
                Pin::Nothing => {}
                Pin::Label(k, v) => candidates.extend(by_label.get(&(k, v)).into_iter().flatten().copied()),
                Pin::Any => every_pod = true,
            }
        }
        if every_pod {
            candidates.clear();
            candidates.extend(0..n);
        } else {
            candidates.sort_unstable();
            candidates.dedup();
        }
        for &j in &candidates {
            let other = order[j];
            let ns = cluster.namespace_labels(&other.namespace);
            if j != i && terms.required_affinity.iter().any(|t| t.matches(other, ns)) {
                graph.add_edge(ids[i], ids[j], true);
            }
        }
    }
    if graph.edge_count() == 0 {
        return (0..n).map(|i| single(order, i, &by_group, groups)).collect();
    }

    // Connected components (the edges taken in both directions): union-find, each pod's root
    // the smallest pod of its component.
    let mut root: Vec<usize> = (0..n).collect();
    fn find(root: &mut [usize], mut i: usize) -> usize {
        while root[i] != i {
            root[i] = root[root[i]];
            i = root[i];
        }
        i
    }
    for e in graph.edge_indices() {
        if let Some((a, b)) = graph.edge_endpoints(e) {
            let (ra, rb) = (find(&mut root, graph[a]), find(&mut root, graph[b]));
            root[ra.max(rb)] = ra.min(rb);
        }
    }
    // Components in the order of their first pod: each unit at the position of its first member.
    let mut components: Vec<Vec<usize>> = Vec::new();
    let mut component_of: Vec<usize> = vec![usize::MAX; n];
    for i in 0..n {
        let r = find(&mut root, i);
        if component_of[r] == usize::MAX {
            component_of[r] = components.len();
            components.push(Vec::new());
        }
        components[component_of[r]].push(i);
    }
    components
        .into_iter()
        .map(|members| {
            if members.len() == 1 {
                return single(order, members[0], &by_group, groups);
            }
            let requirements = requirements(order, &members, &by_group, groups);
            Unit { members: Members::Many(placement_order(order, &graph, &ids, members)), requirements }
        })
        .collect()
}

/// The unit of a pod tied to no other pending pod. A lone pod-group member still needs its
/// group's `minMember`: with `minMember` above 1 it must not be placed alone (the coscheduling
/// plugin's PreFilter rejects a group with fewer pods than `minMember`; scheduler-plugins,
/// pkg/coscheduling/core/core.go). A requirement of at most 1 holds exactly when the pod is
/// placed, so it is left out.
fn single(order: &[&Pod], i: usize, by_group: &HashMap<(&str, &str), Vec<usize>>, groups: &[PodGroup]) -> Unit {
    let requirements = if order[i].labels.contains_key(POD_GROUP_LABEL) {
        requirements(order, &[i], by_group, groups).into_iter().filter(|r| r.min > 1).collect()
    } else {
        Vec::new()
    };
    Unit { members: Members::One(i), requirements }
}

/// The requirements of a multi-pod unit: each pod group its minMember; every affinity-tied
/// pod outside a group must be placed.
fn requirements(
    order: &[&Pod],
    members: &[usize],
    by_group: &HashMap<(&str, &str), Vec<usize>>,
    groups: &[PodGroup],
) -> Vec<Requirement> {
    let mut out = Vec::new();
    let mut ungrouped = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for &m in members {
        let pod = order[m];
        match pod.labels.get(POD_GROUP_LABEL) {
            Some(name) => {
                let key = (pod.namespace.as_str(), name.as_str());
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                let group_members = by_group.get(&key).cloned().unwrap_or_default();
                let min = groups
                    .iter()
                    .find(|g| g.namespace == key.0 && g.name == key.1)
                    .map_or(group_members.len(), |g| g.min_member as usize);
                out.push(Requirement { label: format!("pod group {}/{}", key.0, key.1), members: group_members, min });
            }
            None => ungrouped.push(m),
        }
    }
    if !ungrouped.is_empty() {
        let min = ungrouped.len();
        out.push(Requirement { label: "pods tied by required pod affinity".to_string(), members: ungrouped, min });
    }
    out
}

/// Members in placement order: pods needed by others first (topological order of the affinity
/// edges, reversed), then the most constrained, then plan order.
fn placement_order(order: &[&Pod], graph: &DiGraph<usize, bool>, ids: &[NodeIndex], members: Vec<usize>) -> Vec<usize> {
    let mut sub: DiGraph<usize, ()> = DiGraph::new();
    let local: HashMap<usize, NodeIndex> = members.iter().map(|&m| (m, sub.add_node(m))).collect();
    for &m in &members {
        for e in graph.edges_directed(ids[m], Direction::Outgoing) {
            let target = graph[petgraph::visit::EdgeRef::target(&e)];
            // Needed pod `target` goes before the pod `m` that needs it.
            if *e.weight()
                && let (Some(&a), Some(&b)) = (local.get(&target), local.get(&m))
            {
                sub.add_edge(a, b, ());
            }
        }
    }
    let mut ranked = members.clone();
    ranked.sort_by_cached_key(|&m| (std::cmp::Reverse(constraint_weight(order[m])), m));
    match toposort(&sub, None) {
        Ok(topo) => {
            // Stable: among pods at the same depth, keep the constrained-first ranking.
            let mut depth: HashMap<usize, usize> = HashMap::default();
            for ix in &topo {
                let m = sub[*ix];
                let d = sub
                    .neighbors_directed(*ix, Direction::Incoming)
                    .map(|p| depth.get(&sub[p]).copied().unwrap_or(0) + 1)
                    .max()
                    .unwrap_or(0);
                depth.insert(m, d);
            }
            ranked.sort_by_key(|m| depth.get(m).copied().unwrap_or(0));
            ranked
        }
        // Mutual affinity (a cycle): no pod can go strictly first; keep the ranking.
        Err(_) => ranked,
    }
}
