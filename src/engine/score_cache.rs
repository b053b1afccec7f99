//! Scores kept from pod to pod: the best-node index of one placement run.
//!
//! For a pod whose filters and scores read only the node it is evaluated on (no inter-pod
//! rule applies to it, no topology spread), a node's verdict and node-local score are a pure
//! function of the pod's *score key* (its equivalence class, requests and host ports) and of
//! that node's usage. Placing a pod changes one node's usage. So the engine keeps, per score
//! key, every node's verdict and score, a histogram of the raw TaintToleration and NodeAffinity
//! scores over the feasible nodes (their normalisation needs the maximum), the reason counts
//! of the infeasible ones, and a max segment tree over the totals; the next pod with that key
//! re-evaluates only the nodes whose usage changed since (the run's change log) and reads the
//! best total off the tree's root. Ties at the top total are broken by the same stable hash as
//! the plain path, over the tied nodes only.
//!
//! The plan is identical to evaluating every node for every pod
//! ([`Engine::place_reference`](crate::Engine::place_reference)); the property tests compare
//! the two on random clusters.

use std::collections::BTreeMap;

use super::cluster::tie_key;
use super::fxhash::FxHashMap as HashMap;
use super::reasons::ReasonId;

/// A node no pod of the key can use.
pub(crate) const INFEASIBLE: i64 = i64::MIN;

/// Memory the caches of one run may hold; beyond it the least recently used key is dropped.
const BUDGET_BYTES: usize = 48 << 20;

/// What makes two pods share node verdicts and node-local scores.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ScoreKey {
    /// Identity of the pod's equivalence class (static filters, raw taint/affinity scores).
    pub(crate) class: usize,
    pub(crate) req: Vec<(usize, i64)>,
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
    pub(crate) host_ports: Vec<crate::model::HostPort>,
}

/// One node's evaluation for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeEval {
    /// Interned reason list ([`ReasonLists`]); 0 = feasible.
    pub(crate) reasons: u32,
    /// Weighted sum of the node-local scores (resources fit, balanced allocation).
    pub(crate) local: i64,
    /// Raw TaintToleration and NodeAffinity scores (normalised over the feasible nodes).
    pub(crate) taint_raw: i64,
    pub(crate) affinity_raw: i64,
}

/// How the normalised scores enter the total.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weights {
    /// TaintToleration's weight (0 when not scored).
    pub(crate) taint: i64,
    /// NodeAffinity's weight (0 when not scored or the pod has no preferred terms).
    pub(crate) affinity: i64,
}

/// Interned reason lists; id 0 is the empty list (a feasible node).
#[derive(Debug)]
pub(crate) struct ReasonLists {
    ids: HashMap<Vec<ReasonId>, u32>,
    lists: Vec<Vec<ReasonId>>,
}

impl Default for ReasonLists {
    fn default() -> ReasonLists {
        let mut ids = HashMap::default();
        ids.insert(Vec::new(), 0);
        ReasonLists { ids, lists: vec![Vec::new()] }
    }
}

impl ReasonLists {
    pub(crate) fn intern(&mut self, reasons: &[ReasonId]) -> u32 {
        if reasons.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(reasons) {
            return id;
        }
        let id = u32::try_from(self.lists.len()).unwrap_or(u32::MAX);
        self.lists.push(reasons.to_vec());
        self.ids.insert(reasons.to_vec(), id);
        id
    }

    fn get(&self, id: u32) -> &[ReasonId] {
        &self.lists[id as usize]
    }
}

/// The kept evaluation of every node for one score key.
#[derive(Debug)]
pub(crate) struct KeyScores {
    evals: Vec<NodeEval>,
    /// Raw taint and affinity scores of the feasible nodes, with multiplicity.
    taint_hist: BTreeMap<i64, u32>,
    affinity_hist: BTreeMap<i64, u32>,
    /// The maxima the tree's totals were computed with.
    taint_max: i64,
    affinity_max: i64,
    /// Node reason counts over the infeasible nodes (kube's diagnosis), by reason id.
    pub(crate) counts: Vec<usize>,
    /// Max segment tree over the totals; leaves at `size..size + n`.
    tree: Vec<i64>,
    size: usize,
    weights: Weights,
    /// Position in the run's change log up to which this key is current.
    seen: usize,
    last_use: u64,
}

fn hist_max(h: &BTreeMap<i64, u32>) -> i64 {
    h.last_key_value().map_or(0, |(k, _)| *k)
}

fn hist_add(h: &mut BTreeMap<i64, u32>, v: i64) {
    *h.entry(v).or_insert(0) += 1;
}

fn hist_remove(h: &mut BTreeMap<i64, u32>, v: i64) {
    if let Some(c) = h.get_mut(&v) {
        *c -= 1;
        if *c == 0 {
            h.remove(&v);
        }
    }
}

impl KeyScores {
    fn bytes(nodes: usize) -> usize {
        nodes * (std::mem::size_of::<NodeEval>() + 2 * std::mem::size_of::<i64>())
    }

    fn total(&self, e: &NodeEval) -> i64 {
        if e.reasons != 0 {
            return INFEASIBLE;
        }
        let taint = super::plugins::normalize_one(e.taint_raw, self.taint_max, true);
        let affinity = super::plugins::normalize_one(e.affinity_raw, self.affinity_max, false);
        e.local + self.weights.taint * taint + self.weights.affinity * affinity
    }

    fn add(&mut self, e: &NodeEval, lists: &ReasonLists) {
        if e.reasons == 0 {
            hist_add(&mut self.taint_hist, e.taint_raw);
            hist_add(&mut self.affinity_hist, e.affinity_raw);
        } else {
            for &r in lists.get(e.reasons) {
                let r = r as usize;
                if r >= self.counts.len() {
                    self.counts.resize(r + 1, 0);
                }
                self.counts[r] += 1;
            }
        }
    }

    fn remove(&mut self, e: &NodeEval, lists: &ReasonLists) {
        if e.reasons == 0 {
            hist_remove(&mut self.taint_hist, e.taint_raw);
            hist_remove(&mut self.affinity_hist, e.affinity_raw);
        } else {
            for &r in lists.get(e.reasons) {
                self.counts[r as usize] -= 1;
            }
        }
    }

    /// Recomputes every leaf and inner node of the tree.
    fn rebuild_tree(&mut self) {
        self.taint_max = hist_max(&self.taint_hist);
        self.affinity_max = hist_max(&self.affinity_hist);
        let n = self.evals.len();
        for i in 0..n {
            self.tree[self.size + i] = self.total(&self.evals[i]);
        }
        for i in (1..self.size).rev() {
            self.tree[i] = self.tree[2 * i].max(self.tree[2 * i + 1]);
        }
    }

    fn set_leaf(&mut self, node: usize) {
        let mut i = self.size + node;
        self.tree[i] = self.total(&self.evals[node]);
        while i > 1 {
            i /= 2;
            let v = self.tree[2 * i].max(self.tree[2 * i + 1]);
            if self.tree[i] == v {
                break;
            }
            self.tree[i] = v;
        }
    }

    /// The best node and its total: the highest total, among equal totals the smallest tie
    /// key of `pod_hash` and the node's name hash. `None` when no node is feasible.
    pub(crate) fn best(&self, pod_hash: u64, name_hash: &[u64]) -> Option<(usize, i64)> {
        let top = *self.tree.get(1)?;
        if top == INFEASIBLE {
            return None;
        }
        let mut best: Option<(u64, usize)> = None;
        let mut stack = vec![1usize];
        while let Some(i) = stack.pop() {
            if self.tree[i] != top {
                continue;
            }
            if i >= self.size {
                let node = i - self.size;
                let key = tie_key(pod_hash, name_hash[node]);
                if best.is_none_or(|(k, _)| key < k) {
                    best = Some((key, node));
                }
            } else {
                stack.push(2 * i + 1);
                stack.push(2 * i);
            }
        }
        best.map(|(_, node)| (node, top))
    }
}

/// The score caches of one placement run, and the log of nodes whose usage changed.
#[derive(Debug, Default)]
pub(crate) struct ScoreCache {
    keys: HashMap<ScoreKey, KeyScores>,
    pub(crate) lists: ReasonLists,
    clock: u64,
}

impl ScoreCache {
    /// The kept scores of `key`, brought up to date with `changes` (the run's change log):
    /// built with `eval` over every node on first use (or when most nodes changed), else
    /// re-evaluated on the changed nodes only. `None` when the key cannot be kept (a cluster
    /// too large for the memory budget).
    pub(crate) fn get(
        &mut self,
        key: ScoreKey,
        nodes: usize,
        reasons: usize,
        weights: Weights,
        changes: &[u32],
        mut eval: impl FnMut(usize, &mut ReasonLists) -> NodeEval,
    ) -> Option<&KeyScores> {
        self.clock += 1;
        let clock = self.clock;
        let per_key = KeyScores::bytes(nodes).max(1);
        let capacity = BUDGET_BYTES / per_key;
        if capacity == 0 {
            return None;
        }
        let lists = &mut self.lists;
        if let Some(k) = self.keys.get_mut(&key) {
            k.last_use = clock;
            let pending = &changes[k.seen.min(changes.len())..];
            if pending.len() * 2 <= nodes {
                for &node in pending {
                    let node = node as usize;
                    let old = k.evals[node];
                    let new = eval(node, lists);
                    if new != old {
                        k.remove(&old, lists);
                        k.add(&new, lists);
                        k.evals[node] = new;
                    }
                }
                k.seen = changes.len();
                if hist_max(&k.taint_hist) != k.taint_max || hist_max(&k.affinity_hist) != k.affinity_max {
                    k.rebuild_tree();
                } else {
                    for &node in pending {
                        k.set_leaf(node as usize);
                    }
                }
                return self.keys.get(&key);
            }
            self.keys.remove(&key);
        }
        if self.keys.len() >= capacity {
            let oldest = self.keys.iter().min_by_key(|(_, k)| k.last_use).map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.keys.remove(&oldest);
            }
        }
        let size = nodes.next_power_of_two().max(1);
        let mut k = KeyScores {
            evals: Vec::with_capacity(nodes),
            taint_hist: BTreeMap::new(),
            affinity_hist: BTreeMap::new(),
            taint_max: 0,
            affinity_max: 0,
            counts: vec![0; reasons],
            tree: vec![INFEASIBLE; 2 * size],
            size,
            weights,
            seen: changes.len(),
            last_use: clock,
        };
        for node in 0..nodes {
            let e = eval(node, lists);
            k.add(&e, lists);
            k.evals.push(e);
        }
        k.rebuild_tree();
        self.keys.insert(key.clone(), k);
        self.keys.get(&key)
    }
}
