//! Kept scores shared between equivalence classes: one set per *request key* rather than per
//! score key.
//!
//! A node's verdict from the filters that read its usage (resources fit, host ports) and its
//! node-local scores (resources fit, balanced allocation) depend on the pod's requests and host
//! ports and on the node's usage only, not on the pod's class. What the class adds (its static
//! filter verdicts and raw TaintToleration and NodeAffinity scores) is, on a real cluster, the
//! same on every node of a pool: the nodes that share zone, pool labels and taints. So the
//! nodes are grouped into *cells* on which every class seen so far has one static verdict and
//! one pair of raw scores (each new class refines the cells, up to [`MAX_SHARED_CELLS`]), and
//! each request key keeps, per cell, a max trie of its nodes' node-local totals in tie-hash
//! order. A pod reads its class's verdict and raw scores once per cell (from any node of it),
//! adds them to each cell's top, and walks the trie of the best cell (or cells, on a tie) to
//! break ties as the plain path does.
//!
//! Placing a pod changes one node, and every request key re-evaluates it on its next use (once
//! per resource state: a node entering a state the key has seen is not evaluated again): with
//! the keys shared between classes there are as many updates per placement as request keys,
//! not as (class, request) pairs — six times fewer on the basic mix.
//!
//! Pods with topology spread constraints or inter-pod rules ([`Topology`]) read the same
//! scores: the cells are also refined by the domains of the coarse topology keys their rules
//! read, so a coarse rule holds or fails for a whole cell, and the few nodes a fine (hostname)
//! rule keeps out leave the tries for the query.

use super::trie::{Trie, TrieShape};
use super::{HashMap, HashOrder, INFEASIBLE, NodeEval, Normalised, ReasonLists, ScoreCache, budget_bytes};
use crate::engine::classes::PASS;
use crate::engine::reasons::ReasonId;

/// Most cells the classes of one run may cut the nodes into; a class that would cut them
/// finer (one that selects nodes by name or by a label every node has its own value of) uses
/// the per-class kept scores.
pub(crate) const MAX_SHARED_CELLS: usize = 256;

/// What a node's usage-reading verdict and node-local score depend on besides that usage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResKey {
    pub(crate) req: Vec<(usize, i64)>,
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
    pub(crate) host_ports: Vec<crate::model::HostPort>,
}

/// A class's static verdict on one node, and the node's raw scores when it passes: what the
/// cells hold constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Static {
    /// Position of the first static filter that fails ([`PASS`]: none).
    pub(crate) fail_at: u8,
    /// Its reason (0 when none fails).
    pub(crate) reason: ReasonId,
    /// Raw TaintToleration score (0 when the node fails or the plugin does not score).
    pub(crate) taint: i64,
    /// Raw NodeAffinity score (0 when the node fails or the pod prefers nothing).
    pub(crate) affinity: i64,
}

impl Static {
    /// The verdict of a node failing filter `fail_at` with `reason`.
    pub(crate) fn failing(fail_at: u8, reason: ReasonId) -> Static {
        Static { fail_at, reason, taint: 0, affinity: 0 }
    }

    /// The verdict of a node passing every static filter, with its raw scores.
    pub(crate) fn passing(taint: i64, affinity: i64) -> Static {
        Static { fail_at: PASS, reason: 0, taint, affinity }
    }

    fn passes(self) -> bool {
        self.fail_at == PASS
    }
}

/// The run's cells: a node order grouped by cell, and which classes they serve.
#[derive(Debug, Default)]
pub(crate) struct Cells {
    order: HashOrder,
    /// Bumped whenever the cells change (the request keys then regroup their tries).
    generation: u64,
    /// Per class id, whether its static verdicts are constant on the cells.
    classes: HashMap<usize, bool>,
    /// Per set of coarse topology keys (their ids), whether their domains are.
    topologies: HashMap<Vec<u32>, bool>,
    /// Every node, in the order of its tie hash (then index): what a refined order buckets.
    base: Vec<u32>,
    /// Per cell of `order`, the shape of its tries (see [`trie`](super::trie)), built when
    /// first used after the cells change, and the generation it was built for.
    shapes: Vec<TrieShape>,
    shaped: u64,
    /// Per class id, its static verdict on each cell, and the generation it was read in.
    statics: HashMap<usize, (u64, Vec<Static>)>,
}

impl Cells {
    /// Refines the cells so that `sig` is constant on each; `false` (cells unchanged) when
    /// that takes more than [`MAX_SHARED_CELLS`] cells.
    fn refine<K: Eq>(&mut self, tie_hash: &[u64], sig: impl Fn(usize) -> K) -> bool {
        let n = tie_hash.len();
        if self.order.pos.len() != n {
            self.order = HashOrder::new(tie_hash, vec![0; n], 1);
            self.base = self.order.node.clone();
            self.classes.clear();
            self.topologies.clear();
            self.generation += 1;
        }
        // Per current cell, the signatures met in it and their new cells (a few per cell: a
        // short scan, no hashing).
        let mut seen: Vec<Vec<(K, u32)>> = (0..self.order.cells.len()).map(|_| Vec::new()).collect();
        let mut count = 0u32;
        let mut cell = Vec::with_capacity(n);
        for node in 0..n {
            let key = sig(node);
            let met = &mut seen[self.order.cell[node] as usize];
            let id = match met.iter().find(|(k, _)| *k == key) {
                Some(&(_, id)) => id,
                None => {
                    if count as usize >= MAX_SHARED_CELLS {
                        return false;
                    }
                    met.push((key, count));
                    count += 1;
                    count - 1
                }
            };
            cell.push(id);
        }
        // As many cells as before: the same partition.
        if count as usize != self.order.cells.len() {
            self.order = HashOrder::bucketed(&self.base, tie_hash, cell, count as usize);
            self.generation += 1;
        }
        true
    }

    /// Each cell's trie shape, built from its sorted hashes unless current.
    fn shapes(&mut self) -> &[TrieShape] {
        if self.shaped != self.generation || self.shapes.len() != self.order.cells.len() {
            self.shapes = self.order.cells.iter().map(|&(lo, hi)| TrieShape::new(&self.order.hash[lo..hi])).collect();
            self.shaped = self.generation;
        }
        &self.shapes
    }
}

/// One request key's kept evaluations, and per cell the max trie over its nodes.
#[derive(Debug)]
pub(crate) struct ResScores {
    /// Per node, the resource state whose evaluation (in `by_state`: the verdict of the
    /// usage-reading filters and the weighted node-local score) the tries hold for it: 4 bytes
    /// a node rather than a copy of the evaluation.
    at: Vec<u32>,
    /// The cells' generation the per-cell parts below were built for.
    generation: u64,
    /// Per cell, the node-local totals in the cell's tie-hash order ([`INFEASIBLE`] for a
    /// node failing a usage-reading filter), as a trie of the cell's shape.
    trees: Vec<Trie>,
    /// Per cell, the nodes passing the usage-reading filters.
    feasible: Vec<u32>,
    /// Per cell, the interned reason lists of the nodes that fail them, with counts.
    fails: Vec<Vec<(u32, u32)>>,
    /// Position in the run's change log up to which this key is current.
    seen: usize,
    /// Per resource state id, the evaluation of a node in that state ([`UNKNOWN`] until
    /// one is evaluated): nodes that pass through a state another node was in are not
    /// evaluated again.
    by_state: Vec<NodeEval>,
}

/// No evaluation of the state yet (never a real one: the shared evaluations are never fixed).
const UNKNOWN: NodeEval = NodeEval { bits: NodeEval::FIXED, local: i32::MIN };

impl ResScores {
    /// The evaluation the tries hold for `node`.
    #[inline]
    fn eval(&self, node: usize) -> NodeEval {
        self.by_state[self.at[node] as usize]
    }

    /// The evaluation of `node`, in resource state `state`: remembered, or made with `eval`.
    #[inline]
    fn eval_in(
        &mut self,
        state: u32,
        node: usize,
        lists: &mut ReasonLists,
        eval: &mut impl FnMut(usize, &mut ReasonLists) -> NodeEval,
    ) -> NodeEval {
        let i = state as usize;
        if i >= self.by_state.len() {
            self.by_state.resize((i + 1).max(2 * self.by_state.len()), UNKNOWN);
        }
        if self.by_state[i] == UNKNOWN {
            self.by_state[i] = eval(node, lists);
        }
        self.by_state[i]
    }
}

fn value(e: NodeEval) -> i64 {
    if e.reasons() == 0 { i64::from(e.local) } else { INFEASIBLE }
}

/// Counts `by` (±1) more nodes failing with reason list `list`; a list no node fails with
/// leaves.
fn bump(fails: &mut Vec<(u32, u32)>, list: u32, by: i64) {
    match fails.iter().position(|&(l, _)| l == list) {
        Some(i) => {
            let count = i64::from(fails[i].1) + by;
            if count > 0 {
                fails[i].1 = count as u32;
            } else {
                fails.swap_remove(i);
            }
        }
        None if by > 0 => fails.push((list, by as u32)),
        None => {}
    }
}

impl ResScores {
    /// Memory of one request key, in views of the per-class caches (what the budget counts;
    /// a view takes at least 24 bytes a node): 4 bytes a node for the evaluations' states,
    /// per cell a trie of fewer than two 4-byte entries a node, plus the per-state memo and
    /// the reason counts (two views leave room for them).
    const VIEWS: usize = 2;

    /// Groups the kept evaluations by the cells of `order`.
    fn regroup(&mut self, order: &HashOrder, shapes: &[TrieShape], generation: u64) {
        let cells = order.cells.len();
        self.trees = order
            .cells
            .iter()
            .zip(shapes)
            .map(|(&(lo, hi), shape)| {
                Trie::build(shape, order.node[lo..hi].iter().map(|&node| value(self.eval(node as usize))))
            })
            .collect();
        self.feasible = vec![0; cells];
        self.fails = vec![Vec::new(); cells];
        for node in 0..self.at.len() {
            let e = self.eval(node);
            let c = order.cell[node] as usize;
            if e.reasons() == 0 {
                self.feasible[c] += 1;
            } else {
                bump(&mut self.fails[c], e.reasons(), 1);
            }
        }
        self.generation = generation;
    }

    /// Replaces `node`'s evaluation with `new`, that of resource state `state`.
    fn update(&mut self, order: &HashOrder, shapes: &[TrieShape], node: usize, state: u32, new: NodeEval) {
        let old = self.eval(node);
        let c = order.cell[node] as usize;
        if old.reasons() == 0 {
            self.feasible[c] -= 1;
        } else {
            bump(&mut self.fails[c], old.reasons(), -1);
        }
        if new.reasons() == 0 {
            self.feasible[c] += 1;
        } else {
            bump(&mut self.fails[c], new.reasons(), 1);
        }
        self.at[node] = state;
        let at = order.pos[node] as usize - order.cells[c].0;
        self.trees[c].set(&shapes[c], at, value(new));
    }
}

/// What [`ScoreCache::shared_best`] needs of the pod.
pub(crate) struct SharedQuery<'a> {
    /// The id of the pod's class (constant within a run).
    pub(crate) class: usize,
    /// The class's static verdict and raw scores on a node.
    pub(crate) statics: &'a dyn Fn(usize) -> Static,
    /// Position of the pod's first filter that reads usage: the kept verdicts hold only when
    /// every static failure comes before it.
    pub(crate) first_dynamic: usize,
    /// The raw scores and weights of the class.
    pub(crate) raw: Normalised<'a>,
    /// The pod's tie hash.
    pub(crate) pod_hash: u64,
    /// Number of reason ids (the diagnosis's length).
    pub(crate) reasons: usize,
    /// Each node's resource state id: nodes of one state get one evaluation.
    pub(crate) states: &'a [u32],
}

/// The rules of a pod with topology spread constraints or inter-pod terms, as the shared
/// scores apply them: checked once per cell of the coarse topology domains, and on the few
/// nodes the fine (hostname) rules keep out.
pub(crate) struct Topology<'a> {
    /// The ids of the coarse topology keys the rules read (sorted, deduplicated).
    pub(crate) keys: &'a [u32],
    /// A node's domain of each of those keys.
    pub(crate) domains: &'a dyn Fn(usize) -> Vec<u32>,
    /// Whether the coarse rules pass a node (hence its whole cell).
    pub(crate) passes: &'a dyn Fn(usize) -> bool,
    /// The nodes a fine rule keeps out (sorted).
    pub(crate) blocked: &'a [usize],
    /// Given one node of each cell the pod may use, what each cell adds to its nodes' totals
    /// (the weighted inter-pod affinity score, one value per coarse domain).
    pub(crate) extra: &'a dyn Fn(&[usize]) -> Vec<i64>,
}

/// What the shared scores found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SharedBest {
    /// The best node and its total.
    Node(usize, i64),
    /// No node passes: the reason counts of the nodes failing a node-local filter (kube's
    /// diagnosis), and the nodes passing them all, which a topology rule must have failed.
    Infeasible { counts: Vec<usize>, passing: Vec<usize> },
}

impl ScoreCache {
    /// Views' worth of memory the kept scores hold (see [`budget_bytes`]).
    pub(super) fn views_used(&self) -> usize {
        self.keys.values().map(|k| k.views.len()).sum::<usize>() + ResScores::VIEWS * self.res.len()
    }

    /// Has the cells hold the static verdicts of class `class` (`statics`) constant, if
    /// they can: what [`shared_best`](Self::shared_best) does on the class's first pod,
    /// ahead of time.
    pub(crate) fn register_class(&mut self, class: usize, tie_hash: &[u64], statics: &dyn Fn(usize) -> Static) {
        if self.cells.order.pos.len() != tie_hash.len() {
            self.cells = Cells::default();
            self.res.clear();
        }
        if !self.cells.classes.contains_key(&class) {
            let fits = self.cells.refine(tie_hash, statics);
            self.cells.classes.insert(class, fits);
        }
    }

    /// The best node for a pod from the kept scores of its request key (`key`), brought up
    /// to date with `changes` (built with `eval`, the usage-reading filters and node-local
    /// scores, on first use; once per resource state), under
    /// the pod's topology rules if any. `None` when the shared
    /// scores cannot serve the pod: its class or topology keys cut the nodes too finely, a
    /// static filter of it fails after one that reads usage, or the memory budget is spent.
    pub(crate) fn shared_best(
        &mut self,
        key: ResKey,
        q: &SharedQuery<'_>,
        topology: Option<&Topology<'_>>,
        changes: &[u32],
        tie_hash: &[u64],
        mut eval: impl FnMut(usize, &mut ReasonLists) -> NodeEval,
    ) -> Option<SharedBest> {
        let nodes = tie_hash.len();
        if nodes == 0 {
            return None;
        }
        self.register_class(q.class, tie_hash, q.statics);
        if self.cells.classes.get(&q.class) != Some(&true) {
            return None;
        }
        if let Some(t) = topology
            && !t.keys.is_empty()
        {
            if !self.cells.topologies.contains_key(t.keys) {
                let fits = self.cells.refine(tie_hash, t.domains);
                self.cells.topologies.insert(t.keys.to_vec(), fits);
            }
            if self.cells.topologies.get(t.keys) != Some(&true) {
                return None;
            }
        }
        let order = &self.cells.order;
        let generation = self.cells.generation;
        // The class's verdict per cell, read once per class while the cells stay the same.
        let class_cells = self.cells.statics.entry(q.class).or_default();
        if class_cells.0 != generation {
            *class_cells = (generation, (0..order.cells.len()).map(|c| (q.statics)(order.some_node(c))).collect());
        }
        let mut stat = std::mem::take(&mut self.statics);
        stat.clear();
        stat.extend(class_cells.1.iter().enumerate().map(|(c, &s)| {
            // A cell the coarse rules rule out counts as one no node of passes (its nodes'
            // diagnosis comes from the rules, see `SharedBest::Infeasible`).
            (s, topology.is_none_or(|t| (t.passes)(order.some_node(c))))
        }));
        if stat.iter().any(|(s, _)| !s.passes() && usize::from(s.fail_at) >= q.first_dynamic) {
            self.statics = stat;
            return None;
        }
        // The memory budget, as for the per-class caches.
        let per_view = super::KeyScores::bytes(nodes).max(1);
        let capacity = budget_bytes(nodes) / per_view;
        let stale = |k: &ResScores| changes.len().saturating_sub(k.seen) * 2 > nodes;
        if self.res.get(&key).is_some_and(stale) {
            self.res.remove(&key);
        }
        if !self.res.contains_key(&key) && self.views_used() + ResScores::VIEWS > capacity {
            self.res.retain(|_, k| !stale(k));
            if self.views_used() + ResScores::VIEWS > capacity {
                self.statics = stat;
                return None;
            }
        }
        self.cells.shapes();
        let lists = &mut self.lists;
        let order = &self.cells.order;
        let shapes = &self.cells.shapes[..];
        let res = match self.res.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let k = e.into_mut();
                if k.generation != generation {
                    k.regroup(order, shapes, generation);
                }
                let pending = &changes[k.seen.min(changes.len())..];
                self.stamp += 1;
                if self.seen_at.len() != nodes {
                    self.seen_at = vec![0; nodes];
                }
                for &node in pending {
                    let node = node as usize;
                    if self.seen_at[node] == self.stamp {
                        continue;
                    }
                    self.seen_at[node] = self.stamp;
                    let state = q.states[node];
                    let new = k.eval_in(state, node, lists, &mut eval);
                    if new == k.eval(node) {
                        // Another state with the same evaluation: the tries stand.
                        k.at[node] = state;
                    } else {
                        k.update(order, shapes, node, state, new);
                    }
                }
                k.seen = changes.len();
                k
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut k = ResScores {
                    at: Vec::with_capacity(nodes),
                    generation,
                    trees: Vec::new(),
                    feasible: Vec::new(),
                    fails: Vec::new(),
                    seen: changes.len(),
                    by_state: Vec::new(),
                };
                for (node, &state) in q.states.iter().enumerate().take(nodes) {
                    k.eval_in(state, node, lists, &mut eval);
                    k.at.push(state);
                }
                k.regroup(order, shapes, generation);
                e.insert(k)
            }
        };
        let found = match best(res, order, shapes, &stat, q, topology) {
            Some((node, total)) => SharedBest::Node(node, total),
            None => {
                // No node passes: kube's diagnosis, each node counted under its first failure.
                let mut counts = vec![0; q.reasons];
                let mut passing = Vec::new();
                for (c, (s, _)) in stat.iter().enumerate() {
                    let (lo, hi) = order.cells[c];
                    if !s.passes() {
                        counts[s.reason as usize] += hi - lo;
                        continue;
                    }
                    for &(list, count) in &res.fails[c] {
                        for &r in self.lists.get(list) {
                            counts[r as usize] += count as usize;
                        }
                    }
                    if topology.is_some() && res.feasible[c] > 0 {
                        passing.extend(
                            order.node[lo..hi].iter().map(|&n| n as usize).filter(|&n| res.eval(n).reasons() == 0),
                        );
                    }
                }
                passing.sort_unstable();
                SharedBest::Infeasible { counts, passing }
            }
        };
        self.statics = stat;
        Some(found)
    }
}

/// The best node of the pod's class over the cells its rules allow, and its total: the
/// highest total, among equal totals the smallest tie key, then the smallest node index, as
/// on the plain path.
fn best(
    res: &mut ResScores,
    order: &HashOrder,
    shapes: &[TrieShape],
    stat: &[(Static, bool)],
    q: &SharedQuery<'_>,
    topology: Option<&Topology<'_>>,
) -> Option<(usize, i64)> {
    // Per cell, the nodes the pod may use: the fine rules' blocked nodes leave the tries for
    // this query.
    let mut left = std::borrow::Cow::Borrowed(&res.feasible[..]);
    let mut masked: Vec<usize> = Vec::new();
    if let Some(t) = topology {
        for &node in t.blocked {
            let c = order.cell[node] as usize;
            let (s, ok) = stat[c];
            if s.passes() && ok && res.eval(node).reasons() == 0 {
                left.to_mut()[c] -= 1;
                masked.push(node);
                res.trees[c].set(&shapes[c], order.pos[node] as usize - order.cells[c].0, INFEASIBLE);
            }
        }
    }
    let usable = |c: usize| stat[c].0.passes() && stat[c].1 && left[c] > 0;
    let extra: Vec<i64> = match topology {
        Some(t) => {
            let cells: Vec<usize> = (0..stat.len()).filter(|&c| usable(c)).map(|c| order.some_node(c)).collect();
            let values = (t.extra)(&cells);
            let mut per_cell = vec![0; stat.len()];
            for (c, v) in (0..stat.len()).filter(|&c| usable(c)).zip(values) {
                per_cell[c] = v;
            }
            per_cell
        }
        None => Vec::new(),
    };
    let extra = |c: usize| extra.get(c).copied().unwrap_or(0);
    // The normalised scores' maxima over the nodes the pod may use.
    let (mut taint_max, mut affinity_max) = (0, 0);
    for (c, (s, _)) in stat.iter().enumerate() {
        if usable(c) {
            taint_max = taint_max.max(s.taint);
            affinity_max = affinity_max.max(s.affinity);
        }
    }
    let plus = |c: usize| {
        let s = &stat[c].0;
        let mut total = extra(c);
        if let Some((_, weight)) = q.raw.taint {
            total += weight * crate::engine::plugins::normalize_one(s.taint, taint_max, true);
        }
        if let Some((_, weight)) = q.raw.affinity {
            total += weight * crate::engine::plugins::normalize_one(s.affinity, affinity_max, false);
        }
        total
    };
    let mut top = INFEASIBLE;
    let mut tied = 0usize;
    let mut first = 0usize;
    for c in (0..stat.len()).filter(|&c| usable(c)) {
        let total = res.trees[c].top() + plus(c);
        if total > top {
            (top, tied, first) = (total, 1, c);
        } else if total == top {
            tied += 1;
        }
    }
    let mut found: Option<(u64, usize, i64)> = None;
    if top != INFEASIBLE {
        for c in (first..stat.len()).filter(|&c| usable(c)) {
            if tied == 0 {
                break;
            }
            let plus = plus(c);
            if res.trees[c].top() + plus != top {
                continue;
            }
            tied -= 1;
            let (lo, hi) = order.cells[c];
            let hash = &order.hash[lo..hi];
            let bound = found.map(|(k, _, _)| k);
            let Some((at, local)) = res.trees[c].best(&shapes[c], hash, q.pod_hash, bound) else { continue };
            let node = order.node[lo + at] as usize;
            let key = crate::engine::cluster::tie_key(q.pod_hash, hash[at]);
            if found.is_none_or(|(k, n, _)| (key, node) < (k, n)) {
                found = Some((key, node, local + plus));
            }
        }
    }
    for node in masked {
        let c = order.cell[node] as usize;
        let v = value(res.eval(node));
        res.trees[c].set(&shapes[c], order.pos[node] as usize - order.cells[c].0, v);
    }
    found.map(|(_, node, total)| (node, total))
}
