//! Scores kept from pod to pod: the best-node index of one placement run.
//!
//! For a pod whose filters and scores read only the node it is evaluated on (no inter-pod
//! rule applies to it, no topology spread), a node's verdict and node-local score are a pure
//! function of the pod's *score key* (its equivalence class, requests and host ports) and of
//! that node's usage. Placing a pod changes one node's usage. So the engine keeps, per score
//! key, every node's verdict and score, a histogram of the raw TaintToleration and NodeAffinity
//! scores over the feasible nodes (their normalisation needs the maximum), the reason counts
//! of the infeasible ones, and a max tree over the totals (with the number of nodes at the max)
//! whose leaves are the nodes in the order of their tie hashes; the next pod with that key
//! re-evaluates only the nodes whose usage changed since (the run's change log) and reads the
//! top total off the root. Ties are broken as on the plain path, by the smallest
//! [`tie_key`](super::cluster::tie_key) — the pod's tie hash XOR the node's — which a walk down
//! the hash bits finds with a range query per bit, however many nodes tie (identical empty
//! nodes all do): O(log² n) rather than a scan of the tied nodes.
//!
//! Most pods use the variant in [`shared`], which keeps one set of scores per request key for
//! every class at once, in per-cell max tries ([`trie`]) whose tie-break walk is one step per
//! level; the per-key caches below serve the classes and rules it cannot (a
//! class that cuts the nodes into too many cells, filters in an order where a static one fails
//! after one that reads usage, a full memory budget).
//!
//! The plan is identical to evaluating every node for every pod
//! ([`Engine::place_reference`](crate::Engine::place_reference)); the property tests compare
//! the two on random clusters.

use super::fxhash::FxHashMap as HashMap;
use super::reasons::ReasonId;

mod shared;
mod trie;
pub(crate) use shared::{ResKey, SharedBest, SharedQuery, Static, Topology};

/// A node no pod of the key can use.
pub(crate) const INFEASIBLE: i64 = i64::MIN;

/// Memory the caches of one run may hold: 64 MiB, or 4 KiB a node on clusters over 16,384
/// nodes. A key costs 8 bytes a node plus its tree's 16 bytes a leaf (leaves rounded up to a
/// power of two): about 390 keys fit at 5,000 nodes, 140 at 50,000. Pods of keys beyond the
/// budget take the plain path.
fn budget_bytes(nodes: usize) -> usize {
    (64 << 20).max(nodes.saturating_mul(4 << 10))
}

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

/// The largest total the kept scores hold: a key's totals are kept as `i32` (half the memory
/// of `i64`, so twice the keys fit the budget and the trees stay in cache). A policy whose
/// weights could exceed it (a weight sum over 10 million) takes the plain path.
pub(crate) const MAX_TOTAL: i64 = i32::MAX as i64 / 2;

/// One node's evaluation for a key, in 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeEval {
    /// Interned reason list ([`ReasonLists`]; 0 = feasible), and [`NodeEval::FIXED`].
    bits: u32,
    /// Weighted sum of the node-local scores (resources fit, balanced allocation), at most
    /// [`MAX_TOTAL`].
    local: i32,
}

impl NodeEval {
    /// The bit that marks a node failing a static filter before any that reads usage: its
    /// verdict never changes.
    const FIXED: u32 = 1 << 31;

    /// A feasible node with node-local score `local` (at most [`MAX_TOTAL`]).
    pub(crate) fn feasible(local: i64) -> NodeEval {
        NodeEval { bits: 0, local: local.clamp(-MAX_TOTAL, MAX_TOTAL) as i32 }
    }

    /// An infeasible node and its interned reasons; `fixed` when the verdict never changes.
    pub(crate) fn infeasible(reasons: u32, fixed: bool) -> NodeEval {
        NodeEval { bits: (reasons & !NodeEval::FIXED) | if fixed { NodeEval::FIXED } else { 0 }, local: 0 }
    }

    /// The interned reason list (0: feasible).
    #[inline]
    pub(crate) fn reasons(self) -> u32 {
        self.bits & !NodeEval::FIXED
    }

    #[inline]
    fn fixed(self) -> bool {
        self.bits & NodeEval::FIXED != 0
    }
}

/// How the normalised scores enter the total: per node, the raw TaintToleration and
/// NodeAffinity scores of the pod's class (normalised over the feasible nodes), and the
/// plugins' weights.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Normalised<'a> {
    /// Raw TaintToleration scores and weight (`None` when not scored).
    pub(crate) taint: Option<(&'a [i64], i64)>,
    /// Raw NodeAffinity scores and weight (`None` when not scored or the pod prefers nothing).
    pub(crate) affinity: Option<(&'a [i64], i64)>,
}

impl Normalised<'_> {
    /// `node`'s raw TaintToleration score (0 when not scored).
    pub(crate) fn taint(&self, node: usize) -> i64 {
        self.taint.map_or(0, |(raw, _)| raw[node])
    }

    /// `node`'s raw NodeAffinity score (0 when not scored).
    pub(crate) fn affinity(&self, node: usize) -> i64 {
        self.affinity.map_or(0, |(raw, _)| raw[node])
    }
}

/// Interned reason lists; id 0 is the empty list (a feasible node).
#[derive(Debug)]
pub(crate) struct ReasonLists {
    ids: HashMap<Vec<ReasonId>, u32>,
    lists: Vec<Vec<ReasonId>>,
    /// Per reason, the id of the list of that reason alone (0: not interned yet).
    single: Vec<u32>,
}

impl Default for ReasonLists {
    fn default() -> ReasonLists {
        let mut ids = HashMap::default();
        ids.insert(Vec::new(), 0);
        ReasonLists { ids, lists: vec![Vec::new()], single: Vec::new() }
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

    /// [`intern`](Self::intern) of the list of `reason` alone, without hashing once known.
    #[inline]
    pub(crate) fn intern_one(&mut self, reason: ReasonId) -> u32 {
        let i = reason as usize;
        if let Some(&id) = self.single.get(i)
            && id != 0
        {
            return id;
        }
        let id = self.intern(&[reason]);
        if self.single.len() <= i {
            self.single.resize(i + 1, 0);
        }
        self.single[i] = id;
        id
    }

    fn get(&self, id: u32) -> &[ReasonId] {
        &self.lists[id as usize]
    }
}

/// The nodes grouped by *cell* (the combination of their domains of a few coarse topology
/// keys; one cell for keys without topology rules), in each cell in the order of their tie
/// hashes (then index), shared by every key of a run with the same cells.
#[derive(Debug, Default)]
pub(crate) struct HashOrder {
    /// Per node, its position.
    pos: Vec<u32>,
    /// Per node, its cell.
    pub(crate) cell: Vec<u32>,
    /// Per cell, its range of positions.
    pub(crate) cells: Vec<(usize, usize)>,
    /// Per position, the node and its tie hash.
    node: Vec<u32>,
    hash: Vec<u64>,
}

impl HashOrder {
    /// `cell` gives each node's cell (ids from 0, `cells` of them).
    pub(crate) fn new(tie_hash: &[u64], cell: Vec<u32>, cells: usize) -> HashOrder {
        let mut order: Vec<(u32, u64, u32)> =
            tie_hash.iter().enumerate().map(|(i, &h)| (cell[i], h, i as u32)).collect();
        order.sort_unstable();
        let mut pos = vec![0; order.len()];
        let mut ranges = vec![(0, 0); cells];
        for (p, &(c, _, node)) in order.iter().enumerate() {
            pos[node as usize] = p as u32;
            let r = &mut ranges[c as usize];
            if r.1 == 0 {
                r.0 = p;
            }
            r.1 = p + 1;
        }
        HashOrder {
            pos,
            cell,
            cells: ranges,
            node: order.iter().map(|&(_, _, n)| n).collect(),
            hash: order.iter().map(|&(_, h, _)| h).collect(),
        }
    }

    /// [`new`](Self::new) given `base`, every node in the order of its tie hash (then index):
    /// the nodes are bucketed by cell in that order, without sorting.
    pub(crate) fn bucketed(base: &[u32], tie_hash: &[u64], cell: Vec<u32>, cells: usize) -> HashOrder {
        let mut ranges = vec![(0, 0); cells];
        for &c in &cell {
            ranges[c as usize].1 += 1;
        }
        let mut at = 0;
        for r in &mut ranges {
            let len = r.1;
            *r = (at, at);
            at += len;
        }
        let mut node = vec![0u32; base.len()];
        let mut pos = vec![0u32; base.len()];
        for &n in base {
            let r = &mut ranges[cell[n as usize] as usize];
            node[r.1] = n;
            pos[n as usize] = r.1 as u32;
            r.1 += 1;
        }
        let hash = node.iter().map(|&n| tie_hash[n as usize]).collect();
        HashOrder { pos, cell, cells: ranges, node, hash }
    }

    /// A node of `cell` (every cell has one).
    pub(crate) fn some_node(&self, cell: usize) -> usize {
        self.node[self.cells[cell].0] as usize
    }
}

/// A max tree over per-position values that also counts the positions at the max.
#[derive(Debug)]
struct TieTree {
    size: usize,
    /// Per tree node, the max over its leaves and how many leaves hold it; children of `i`
    /// at `2i` and `2i + 1`, leaves from `size` (siblings share a cache line).
    cells: Vec<Cell>,
}

/// One node of a [`TieTree`]: 8 bytes (totals are at most [`MAX_TOTAL`]; [`INFEASIBLE`] is
/// kept as `i32::MIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    max: i32,
    count: u32,
}

/// A total as a tree holds it.
#[inline]
fn narrow(v: i64) -> i32 {
    if v == INFEASIBLE { i32::MIN } else { v.clamp(-MAX_TOTAL, MAX_TOTAL) as i32 }
}

/// A total as the tree's users see it.
#[inline]
fn widen(v: i32) -> i64 {
    if v == i32::MIN { INFEASIBLE } else { i64::from(v) }
}

/// The max of two subtrees and how many leaves hold it (branch-free: the counts of the sides
/// at the max add up).
#[inline]
fn combine(a: Cell, b: Cell) -> Cell {
    let max = a.max.max(b.max);
    Cell { max, count: u32::from(a.max == max) * a.count + u32::from(b.max == max) * b.count }
}

impl TieTree {
    fn new(len: usize) -> TieTree {
        let size = len.next_power_of_two().max(1);
        TieTree { size, cells: vec![Cell { max: i32::MIN, count: 1 }; 2 * size] }
    }

    /// Sets every leaf, then every inner node.
    fn build(&mut self, leaves: impl Iterator<Item = i64>) {
        for (leaf, v) in self.cells[self.size..].iter_mut().zip(leaves) {
            leaf.max = narrow(v);
        }
        // Level by level, each parent from its pair of children (no index arithmetic).
        let mut width = self.size;
        while width > 1 {
            let (parents, children) = self.cells.split_at_mut(width);
            let parents = &mut parents[width / 2..];
            for (parent, pair) in parents.iter_mut().zip(children[..width].chunks_exact(2)) {
                *parent = combine(pair[0], pair[1]);
            }
            width /= 2;
        }
    }

    #[inline]
    fn get(&self, pos: usize) -> i64 {
        widen(self.cells[self.size + pos].max)
    }

    fn set(&mut self, pos: usize, v: i64) {
        let cells = &mut self.cells[..];
        let mut i = self.size + pos;
        let v = narrow(v);
        if cells[i].max == v {
            // Unchanged (a node failing for other reasons): nothing above moves.
            return;
        }
        cells[i].max = v;
        let mut here = cells[i];
        while i > 1 {
            let sibling = cells[i ^ 1];
            i /= 2;
            let up = combine(here, sibling);
            if cells[i] == up {
                break;
            }
            cells[i] = up;
            here = up;
        }
    }

    /// Max and count over positions `lo..hi`.
    fn query(&self, lo: usize, hi: usize) -> (i64, u32) {
        let (mut l, mut r) = (lo + self.size, hi + self.size);
        let mut acc = Cell { max: i32::MIN, count: 0 };
        while l < r {
            if l & 1 == 1 {
                acc = combine(acc, self.cells[l]);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                acc = combine(acc, self.cells[r]);
            }
            l /= 2;
            r /= 2;
        }
        (widen(acc.max), acc.count)
    }

    /// The first position in `lo..hi` whose value is `top` (the range's max): the first of
    /// the range's O(log n) covering subtrees that holds it, then straight down.
    fn first(&self, lo: usize, hi: usize, top: i64) -> Option<usize> {
        let top = narrow(top);
        let down = |mut i: usize| {
            while i < self.size {
                i = if self.cells[2 * i].max == top { 2 * i } else { 2 * i + 1 };
            }
            i - self.size
        };
        let (mut l, mut r) = (lo + self.size, hi.min(self.size) + self.size);
        // The right side's subtrees, found right to left.
        // One subtree a level at most: 40 levels hold 2^39 leaves.
        let mut right = [0u32; 40];
        let mut rights = 0;
        while l < r {
            if l & 1 == 1 {
                if self.cells[l].max == top {
                    return Some(down(l));
                }
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                right[rights] = r as u32;
                rights += 1;
            }
            l /= 2;
            r /= 2;
        }
        right[..rights].iter().rev().map(|&i| i as usize).find(|&i| self.cells[i].max == top).map(down)
    }

    /// The position with the highest value and, among those, the smallest tie hash XOR
    /// `pod` (then the smallest position): from the highest bit down, keep the half of the
    /// hash range whose bit agrees with `pod`'s whenever it holds a top value.
    fn best(&self, order: &HashOrder, pod: u64) -> Option<(usize, i64)> {
        self.best_in(order, pod, 0, order.hash.len())
    }

    /// [`best`](Self::best) over positions `lo..hi`, within which the hashes are sorted.
    fn best_in(&self, order: &HashOrder, pod: u64, lo: usize, hi: usize) -> Option<(usize, i64)> {
        let hash = &order.hash;
        let (top, mut count) = if (lo, hi) == (0, hash.len()) {
            (widen(self.cells[1].max), self.cells[1].count)
        } else if lo < hi {
            self.query(lo, hi)
        } else {
            (INFEASIBLE, 0)
        };
        if top == INFEASIBLE {
            return None;
        }
        let (mut lo, mut hi) = (lo, hi);
        while count > 1 {
            // Sorted hashes share every bit above the highest one where the range's first and
            // last differ: the walk goes straight to that bit.
            let diff = hash[lo] ^ hash[hi - 1];
            if diff == 0 {
                // Equal hashes: the smallest position (then node index) wins.
                break;
            }
            let bit = 63 - diff.leading_zeros();
            let mid = lo + hash[lo..hi].partition_point(|&h| (h >> bit) & 1 == 0);
            let (agree, disagree) = if (pod >> bit) & 1 == 0 { ((lo, mid), (mid, hi)) } else { ((mid, hi), (lo, mid)) };
            let (m, c) = if agree.0 < agree.1 { self.query(agree.0, agree.1) } else { (INFEASIBLE, 0) };
            if m == top {
                (lo, hi) = agree;
                count = c;
            } else {
                (lo, hi) = disagree;
            }
        }
        // Past the last hash only padding, never a top value: the whole tree when `hi` is.
        let hi = if hi == hash.len() { self.size } else { hi };
        self.first(lo, hi, top).map(|pos| (pos, top))
    }
}

/// The kept evaluation of every node for one score key.
#[derive(Debug)]
pub(crate) struct KeyScores {
    evals: Vec<NodeEval>,
    /// Raw taint and affinity scores of the feasible nodes, with multiplicity.
    taint_hist: Histogram,
    affinity_hist: Histogram,
    /// The maxima the totals were computed with.
    taint_max: i64,
    affinity_max: i64,
    /// Node reason counts over the infeasible nodes (kube's diagnosis), by reason id.
    pub(crate) counts: Vec<usize>,
    /// The totals in each node order the key's pods read them in (pods with rules on
    /// different coarse keys share the evaluations, not the order).
    views: Vec<View>,
    /// Whether a view keeps histograms per cell (an order with more than one cell).
    celled: bool,
    /// Position in the run's change log up to which this key is current.
    seen: usize,
}

/// A key's totals in one node order.
#[derive(Debug)]
struct View {
    /// The node order ([`ScoreCache::partition`]).
    partition: usize,
    /// Per cell of the order, the raw taint and affinity scores of its feasible nodes (the
    /// maxima over the cells a pod may use); empty with one cell (the key's histograms are
    /// the cell's).
    cell_hists: Vec<(Histogram, Histogram)>,
    /// Totals ([`INFEASIBLE`] for an infeasible node) at the nodes' positions in the order.
    tree: TieTree,
}

/// Values with multiplicity, sorted (few distinct values: taint counts, preference weights).
#[derive(Debug, Default)]
struct Histogram(Vec<(i64, u32)>);

impl Histogram {
    fn max(&self) -> i64 {
        self.0.last().map_or(0, |&(v, _)| v)
    }

    /// The highest value and how many times it occurs (`None` when empty).
    fn top(&self) -> Option<(i64, u32)> {
        self.0.last().copied()
    }

    /// How many values there are.
    fn len(&self) -> u32 {
        self.0.iter().map(|&(_, c)| c).sum()
    }

    #[inline]
    fn add(&mut self, v: i64) {
        if let Some(last) = self.0.last_mut()
            && last.0 == v
        {
            last.1 += 1;
            return;
        }
        match self.0.binary_search_by_key(&v, |&(x, _)| x) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (v, 1)),
        }
    }

    fn remove(&mut self, v: i64) {
        if let Ok(i) = self.0.binary_search_by_key(&v, |&(x, _)| x) {
            self.0[i].1 -= 1;
            if self.0[i].1 == 0 {
                self.0.remove(i);
            }
        }
    }
}

impl KeyScores {
    fn bytes(nodes: usize) -> usize {
        // The evaluations, and the tree: twice the leaves (a power of two), a total and a count each.
        nodes * std::mem::size_of::<NodeEval>() + 2 * nodes.next_power_of_two() * std::mem::size_of::<Cell>()
    }

    #[inline]
    fn total(&self, node: usize, raw: &Normalised<'_>) -> i64 {
        let e = &self.evals[node];
        if e.reasons() != 0 {
            return INFEASIBLE;
        }
        let mut total = i64::from(e.local);
        // A raw score of 0 (most nodes) normalises to 100 (reversed) or 0 whatever the maximum:
        // no division.
        if let Some((scores, weight)) = raw.taint {
            let score = scores[node];
            total += weight
                * if score == 0 {
                    super::plugins::MAX_NODE_SCORE
                } else {
                    super::plugins::normalize_one(score, self.taint_max, true)
                };
        }
        if let Some((scores, weight)) = raw.affinity {
            let score = scores[node];
            if score != 0 {
                total += weight * super::plugins::normalize_one(score, self.affinity_max, false);
            }
        }
        total
    }

    fn add(&mut self, node: usize, raw: &Normalised<'_>, lists: &ReasonLists, orders: &[HashOrder]) {
        let e = self.evals[node];
        if e.reasons() == 0 {
            self.taint_hist.add(raw.taint(node));
            self.affinity_hist.add(raw.affinity(node));
            if self.celled {
                for v in &mut self.views {
                    if let Some((taint, affinity)) = v.cell_hists.get_mut(orders[v.partition].cell[node] as usize) {
                        taint.add(raw.taint(node));
                        affinity.add(raw.affinity(node));
                    }
                }
            }
        } else {
            self.count_reasons(lists.get(e.reasons()), 1);
        }
    }

    /// Counts `by` more nodes failing with each of `reasons` (the diagnosis).
    fn count_reasons(&mut self, reasons: &[ReasonId], by: usize) {
        for &r in reasons {
            let r = r as usize;
            if r >= self.counts.len() {
                self.counts.resize(r + 1, 0);
            }
            self.counts[r] += by;
        }
    }

    fn remove(&mut self, node: usize, raw: &Normalised<'_>, lists: &ReasonLists, orders: &[HashOrder]) {
        let e = self.evals[node];
        if e.reasons() == 0 {
            self.taint_hist.remove(raw.taint(node));
            self.affinity_hist.remove(raw.affinity(node));
            if self.celled {
                for v in &mut self.views {
                    if let Some((taint, affinity)) = v.cell_hists.get_mut(orders[v.partition].cell[node] as usize) {
                        taint.remove(raw.taint(node));
                        affinity.remove(raw.affinity(node));
                    }
                }
            }
        } else {
            for &r in lists.get(e.reasons()) {
                self.counts[r as usize] -= 1;
            }
        }
    }

    /// Recomputes every total, in every view.
    fn rebuild(&mut self, raw: &Normalised<'_>, orders: &[HashOrder]) {
        self.taint_max = self.taint_hist.max();
        self.affinity_max = self.affinity_hist.max();
        for i in 0..self.views.len() {
            let order = &orders[self.views[i].partition];
            let mut tree = std::mem::replace(&mut self.views[i].tree, TieTree { size: 0, cells: Vec::new() });
            tree.build(order.node.iter().map(|&node| self.total(node as usize, raw)));
            self.views[i].tree = tree;
        }
    }

    /// Recomputes `node`'s total, in every view.
    fn retotal(&mut self, node: usize, raw: &Normalised<'_>, orders: &[HashOrder]) {
        let new = self.total(node, raw);
        for v in &mut self.views {
            let pos = orders[v.partition].pos[node] as usize;
            if v.tree.get(pos) != new {
                v.tree.set(pos, new);
            }
        }
    }

    /// The view of node order `partition`, built from the kept evaluations on first use.
    fn view(&mut self, partition: usize, raw: &Normalised<'_>, orders: &[HashOrder]) -> usize {
        if let Some(i) = self.views.iter().position(|v| v.partition == partition) {
            return i;
        }
        let order = &orders[partition];
        let mut cell_hists: Vec<(Histogram, Histogram)> = Vec::new();
        if order.cells.len() > 1 {
            cell_hists = (0..order.cells.len()).map(|_| Default::default()).collect();
            for (node, e) in self.evals.iter().enumerate() {
                if e.reasons() == 0 {
                    let (taint, affinity) = &mut cell_hists[order.cell[node] as usize];
                    taint.add(raw.taint(node));
                    affinity.add(raw.affinity(node));
                }
            }
        }
        let mut tree = TieTree::new(order.node.len());
        tree.build(order.node.iter().map(|&node| self.total(node as usize, raw)));
        self.celled |= !cell_hists.is_empty();
        self.views.push(View { partition, cell_hists, tree });
        self.views.len() - 1
    }

    /// The best node and its total in view `view` (of node order `order`): the highest
    /// total, among equal totals the smallest [`tie_key`](super::cluster::tie_key) of
    /// `pod_hash` and the node's tie hash (then the smallest node index). `None` when no
    /// node is feasible.
    pub(crate) fn best(&self, view: usize, order: &HashOrder, pod_hash: u64) -> Option<(usize, i64)> {
        self.views[view].tree.best(order, pod_hash).map(|(pos, total)| (order.node[pos] as usize, total))
    }

    /// Whether `node` passes the key's filters.
    pub(crate) fn feasible(&self, node: usize) -> bool {
        self.evals[node].reasons() == 0
    }

    /// The best node among the feasible nodes of the cells `cell_ok` allows, leaving out
    /// `blocked` (nodes that fail a rule of the pod's), with `extra` added to the total of
    /// every node of each cell. Ties break as in [`best`](Self::best), then by node index.
    /// `blocked` is sorted.
    /// [`CellBest::Unknown`] when the totals kept are not the pod's: the normalised taint or
    /// affinity scores would take their maxima over fewer nodes than the key's.
    #[allow(clippy::too_many_arguments)] // the pod's query, in full
    pub(crate) fn best_in_cells(
        &mut self,
        view: usize,
        order: &HashOrder,
        raw: &Normalised<'_>,
        pod_hash: u64,
        cell_ok: &[bool],
        blocked: &[usize],
        mut extra: impl FnMut(&[(usize, u32)]) -> Option<Vec<i64>>,
    ) -> CellBest {
        // Feasible nodes left per allowed cell, and the blocked ones to take out of the tree.
        let mut masked: Vec<usize> = Vec::new();
        let cell_hists = &self.views[view].cell_hists;
        let mut left: Vec<u32> = if cell_hists.is_empty() {
            vec![self.taint_hist.len(); order.cells.len().min(1)]
        } else {
            cell_hists.iter().map(|(t, _)| t.len()).collect()
        };
        for &node in blocked {
            let cell = order.cell[node] as usize;
            if cell_ok[cell] && self.evals[node].reasons() == 0 {
                masked.push(node);
                left[cell] -= 1;
            }
        }
        let cells: Vec<(usize, u32)> =
            (0..left.len()).filter(|&c| cell_ok[c] && left[c] > 0).map(|c| (c, left[c])).collect();
        if cells.is_empty() {
            return CellBest::Infeasible;
        }
        // The totals hold if the maxima over the pod's feasible nodes are the key's.
        let (taint_hist, affinity_hist) = (&self.taint_hist, &self.affinity_hist);
        let hists = cell_hists;
        let same_max = |kept: i64, which: usize, value: &dyn Fn(usize) -> i64| {
            let mut max = None;
            for &(c, _) in &cells {
                let hist = match (hists.get(c), which) {
                    (None, 0) => taint_hist,
                    (None, _) => affinity_hist,
                    (Some((t, _)), 0) => t,
                    (Some((_, a)), _) => a,
                };
                let Some((top, mut count)) = hist.top() else { continue };
                if max.is_some_and(|m| m >= top) {
                    continue;
                }
                count -= masked.iter().filter(|&&n| order.cell[n] as usize == c && value(n) == top).count() as u32;
                if count == 0 {
                    // A lower value may be the cell's maximum: not worth finding out.
                    return false;
                }
                max = Some(top);
            }
            max.unwrap_or(0) == kept
        };
        if raw.taint.is_some() && !same_max(self.taint_max, 0, &|n| raw.taint(n)) {
            return CellBest::Unknown;
        }
        if raw.affinity.is_some() && !same_max(self.affinity_max, 1, &|n| raw.affinity(n)) {
            return CellBest::Unknown;
        }
        let Some(extra) = extra(&cells) else { return CellBest::Unknown };
        // Blocked nodes leave the tree only when one comes out best, and for that query: the
        // best node of a cell is seldom blocked.
        let tree = &mut self.views[view].tree;
        let mut undo: Vec<(usize, i64)> = Vec::new();
        let mut best: Option<(i64, u64, usize)> = None;
        for (&(c, _), plus) in cells.iter().zip(&extra) {
            let (lo, hi) = order.cells[c];
            while let Some((pos, total)) = tree.best_in(order, pod_hash, lo, hi) {
                let node = order.node[pos] as usize;
                if blocked.binary_search(&node).is_ok() {
                    undo.push((pos, total));
                    tree.set(pos, INFEASIBLE);
                    continue;
                }
                let candidate = (total + plus, super::cluster::tie_key(pod_hash, order.hash[pos]), node);
                let better = best.is_none_or(|(t, k, n)| {
                    candidate.0 > t || (candidate.0 == t && (candidate.1, candidate.2) < (k, n))
                });
                if better {
                    best = Some(candidate);
                }
                break;
            }
        }
        for &(pos, total) in undo.iter().rev() {
            tree.set(pos, total);
        }
        match best {
            Some((total, _, node)) => CellBest::Node(node, total),
            None => CellBest::Infeasible,
        }
    }
}

/// What [`KeyScores::best_in_cells`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellBest {
    /// The best node and its total.
    Node(usize, i64),
    /// No node passes.
    Infeasible,
    /// The kept scores cannot tell: evaluate the pod the plain way.
    Unknown,
}

/// The score caches of one placement run, and the log of nodes whose usage changed.
#[derive(Debug, Default)]
pub(crate) struct ScoreCache {
    keys: HashMap<ScoreKey, KeyScores>,
    /// The run's node orders, one per set of coarse topology keys (index 0: no key, one
    /// cell), by the ids of the keys' domains.
    orders: Vec<HashOrder>,
    partitions: HashMap<Vec<u32>, usize>,
    pub(crate) lists: ReasonLists,
    /// Per node, the update that last re-evaluated it (`stamp`), and the nodes whose
    /// evaluation changed in the current update: scratch of [`get`](Self::get).
    seen_at: Vec<u64>,
    stamp: u64,
    changed: Vec<usize>,
    /// The cells of the kept scores shared between classes, and those scores by request key
    /// ([`shared`]).
    cells: shared::Cells,
    res: HashMap<ResKey, shared::ResScores>,
    /// Scratch: per cell, the static verdict of the pod's class.
    statics: Vec<(Static, bool)>,
}

/// Most cells a partition may have; pods whose coarse keys cut the nodes finer take the
/// plain path.
pub(crate) const MAX_CELLS: usize = 256;

impl ScoreCache {
    /// The id of the node order whose cells are the combinations of the domains `keys`
    /// (domain ids, sorted) give the nodes; `cells` computes each node's cell and the
    /// number of cells on first use. `None` when there are too many cells.
    pub(crate) fn partition(
        &mut self,
        keys: &[u32],
        tie_hash: &[u64],
        cells: impl FnOnce() -> (Vec<u32>, usize),
    ) -> Option<usize> {
        if self.orders.first().is_none_or(|o| o.pos.len() != tie_hash.len()) {
            self.orders = vec![HashOrder::new(tie_hash, vec![0; tie_hash.len()], 1)];
            self.partitions.clear();
            self.partitions.insert(Vec::new(), 0);
        }
        if let Some(&id) = self.partitions.get(keys) {
            return (id != usize::MAX).then_some(id);
        }
        let (cell, count) = cells();
        if count > MAX_CELLS {
            self.partitions.insert(keys.to_vec(), usize::MAX);
            return None;
        }
        self.orders.push(HashOrder::new(tie_hash, cell, count));
        self.partitions.insert(keys.to_vec(), self.orders.len() - 1);
        Some(self.orders.len() - 1)
    }

    /// The kept scores of `key`, brought up to date with `changes` (the run's change log):
    /// built with `eval` over every node on first use (or when most nodes changed), else
    /// re-evaluated on the changed nodes only; with the index of their view in node order
    /// `partition` (from [`partition`](Self::partition)). `None` when the key cannot be kept
    /// (a cluster too large for the memory budget).
    #[allow(clippy::too_many_arguments)] // the key, and what its evaluation reads
    pub(crate) fn get(
        &mut self,
        key: ScoreKey,
        partition: usize,
        reasons: usize,
        raw: Normalised<'_>,
        changes: &[u32],
        tie_hash: &[u64],
        mut eval: impl FnMut(usize, &mut ReasonLists) -> NodeEval,
    ) -> Option<(&mut KeyScores, usize, &HashOrder)> {
        let nodes = tie_hash.len();
        if self.orders.is_empty() {
            self.partition(&[], tie_hash, || (vec![0; nodes], 1));
        }
        let orders = &self.orders;
        let order = orders.get(partition)?;
        if order.pos.len() != nodes {
            return None;
        }
        // Each view (a tree over the nodes) is what costs memory.
        let capacity = budget_bytes(nodes) / KeyScores::bytes(nodes).max(1);
        if capacity == 0 {
            return None;
        }
        let stale = |k: &KeyScores| changes.len().saturating_sub(k.seen) * 2 > nodes;
        if self.keys.get(&key).is_some_and(stale) {
            self.keys.remove(&key);
        }
        let new_view = self.keys.get(&key).is_none_or(|k| k.views.iter().all(|v| v.partition != partition));
        if new_view && self.views_used() >= capacity {
            // Full. Keys more than half the nodes stale would be rebuilt on their next use
            // anyway: dropping them costs nothing. Evicting a key still current to make room
            // would have every pod rebuild one (a scan plus a tree) once keys outnumber the
            // room, so without stale keys this pod takes the plain path.
            self.keys.retain(|_, k| !stale(k));
            if self.views_used() >= capacity {
                return None;
            }
        }
        let lists = &mut self.lists;
        if self.keys.contains_key(&key) {
            let k = self.keys.get_mut(&key)?;
            let pending = &changes[k.seen.min(changes.len())..];
            // Each changed node once (a node may have changed several times since).
            self.stamp += 1;
            if self.seen_at.len() != nodes {
                self.seen_at = vec![0; nodes];
            }
            self.changed.clear();
            for &node in pending {
                let node = node as usize;
                if k.evals[node].fixed() || self.seen_at[node] == self.stamp {
                    continue;
                }
                self.seen_at[node] = self.stamp;
                let new = eval(node, lists);
                if new != k.evals[node] {
                    k.remove(node, &raw, lists, orders);
                    k.evals[node] = new;
                    k.add(node, &raw, lists, orders);
                    self.changed.push(node);
                }
            }
            k.seen = changes.len();
            if k.taint_hist.max() != k.taint_max || k.affinity_hist.max() != k.affinity_max {
                k.rebuild(&raw, orders);
            } else {
                // Totals move only with a node's evaluation while the maxima hold.
                for &node in &self.changed {
                    k.retotal(node, &raw, orders);
                }
            }
            let view = k.view(partition, &raw, orders);
            return Some((k, view, order));
        }
        let mut k = KeyScores {
            evals: (0..nodes).map(|node| eval(node, lists)).collect(),
            taint_hist: Histogram::default(),
            affinity_hist: Histogram::default(),
            taint_max: 0,
            affinity_max: 0,
            counts: vec![0; reasons],
            views: Vec::new(),
            celled: false,
            seen: changes.len(),
        };
        // The histograms and reason counts of every node: infeasible nodes counted per reason
        // list first (few distinct lists), then per reason.
        let mut per_list: HashMap<u32, usize> = HashMap::default();
        for (node, e) in k.evals.iter().enumerate() {
            if e.reasons() == 0 {
                k.taint_hist.add(raw.taint(node));
                k.affinity_hist.add(raw.affinity(node));
            } else {
                *per_list.entry(e.reasons()).or_insert(0) += 1;
            }
        }
        for (list, count) in per_list {
            k.count_reasons(lists.get(list), count);
        }
        k.taint_max = k.taint_hist.max();
        k.affinity_max = k.affinity_hist.max();
        let view = k.view(partition, &raw, orders);
        let k = self.keys.entry(key).or_insert(k);
        Some((k, view, order))
    }

    /// The node order of partition `id`.
    pub(crate) fn order(&self, id: usize) -> Option<&HashOrder> {
        self.orders.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The tree finds what a scan finds: the highest value, then the smallest hash XOR
        /// pod, then the smallest node index (values and hashes drawn from small ranges so
        /// that ties and equal hashes occur), also after updates.
        #[test]
        fn best_agrees_with_a_scan(
            nodes in proptest::collection::vec((any::<u64>(), 0u32..4, -1i64..4), 1..200),
            updates in proptest::collection::vec((any::<prop::sample::Index>(), -1i64..4), 0..20),
            pod in any::<u64>(),
            narrow in any::<bool>(),
            bound in any::<u64>(),
        ) {
            let value = |v: i64| if v < 0 { INFEASIBLE } else { v };
            let hashes: Vec<u64> =
                nodes.iter().map(|&(h, shift, _)| if narrow { h >> (60 + shift) } else { h }).collect();
            let mut values: Vec<i64> = nodes.iter().map(|&(_, _, v)| value(v)).collect();
            let order = HashOrder::new(&hashes, vec![0; hashes.len()], 1);
            // Bucketing the one-cell order by cells gives the sorted order by (cell, hash, index).
            let cells: Vec<u32> = nodes.iter().map(|&(h, _, _)| (h % 3) as u32).collect();
            let sorted = HashOrder::new(&hashes, cells.clone(), 3);
            let bucketed = HashOrder::bucketed(&order.node, &hashes, cells, 3);
            prop_assert_eq!(&sorted.node, &bucketed.node);
            prop_assert_eq!(&sorted.pos, &bucketed.pos);
            prop_assert_eq!(&sorted.hash, &bucketed.hash);
            prop_assert_eq!(
                sorted.cells.iter().filter(|r| r.1 > r.0).collect::<Vec<_>>(),
                bucketed.cells.iter().filter(|r| r.1 > r.0).collect::<Vec<_>>()
            );
            let mut tree = TieTree::new(values.len());
            tree.build(order.node.iter().map(|&n| values[n as usize]));
            for (at, v) in updates {
                let node = at.index(values.len());
                values[node] = value(v);
                tree.set(order.pos[node] as usize, value(v));
            }
            let scan = (0..values.len())
                .filter(|&n| values[n] != INFEASIBLE)
                .min_by_key(|&n| (std::cmp::Reverse(values[n]), hashes[n] ^ pod, n))
                .map(|n| (n, values[n]));
            let found = tree.best(&order, pod).map(|(pos, v)| (order.node[pos] as usize, v));
            prop_assert_eq!(found, scan);
            // The shared scores' trie over the same order finds the same node, and with a
            // bound the same node or none when its key exceeds the bound.
            let shape = trie::TrieShape::new(&order.hash);
            let mut t = trie::Trie::build(&shape, order.node.iter().map(|&n| value(nodes[n as usize].2)));
            for (n, &v) in values.iter().enumerate() {
                t.set(&shape, order.pos[n] as usize, v);
            }
            let at_node = |found: Option<(usize, i64)>| found.map(|(pos, v)| (order.node[pos] as usize, v));
            prop_assert_eq!(at_node(t.best(&shape, &order.hash, pod, None)), scan);
            match at_node(t.best(&shape, &order.hash, pod, Some(bound))) {
                Some(b) => prop_assert_eq!(Some(b), scan),
                None => prop_assert!(scan.is_none_or(|(n, _)| hashes[n] ^ pod > bound)),
            }
        }
    }
}
