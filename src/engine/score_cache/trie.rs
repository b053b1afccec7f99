//! Max tries over one cell's nodes in tie-hash order: the highest total, and among the nodes
//! that hold it the one whose tie hash XOR the pod's hash is smallest, in one walk from the
//! root.
//!
//! A cell's positions are sorted by tie hash. The *shape* splits each range of positions at
//! the highest bit where its first and last hash differ (a binary trie over the hashes, with
//! the chains of single children left out), so every branch is a choice of one hash bit. The
//! *values* hold, per trie node, the highest total under it. The tie-break walk keeps, at each
//! branch, the child whose bit agrees with the pod's hash whenever that child holds the top
//! total: one step per level, where a max tree over positions needs a range query per bit.
//! The shape depends on the hashes only, so it is built once per cell and shared by every
//! request key; a key keeps only its values (4 bytes per trie node).

use super::{INFEASIBLE, narrow, widen};

/// The branch of equal hashes: no bit tells the children apart; the left one (smaller
/// positions) wins a tie.
const SAME_HASH: u8 = u8::MAX;

/// The shape of the trie over one cell's hash-sorted positions. Node ids: leaves `0..n` (the
/// positions), then the branches, each after both of its children (so ascending ids go
/// bottom-up); the root is the last.
#[derive(Debug, Default)]
pub(crate) struct TrieShape {
    leaves: usize,
    /// Per branch (id `leaves + k`): its children.
    children: Vec<[u32; 2]>,
    /// Per branch, the bit it splits on ([`SAME_HASH`] for equal hashes).
    bit: Vec<u8>,
    /// Per branch, its first position (every position under it shares the hash bits above
    /// its split bit with this one's).
    first: Vec<u32>,
    /// Per node id, its branch (`u32::MAX` for the root).
    parent: Vec<u32>,
}

impl TrieShape {
    /// The shape over `hash`, sorted ascending.
    pub(crate) fn new(hash: &[u64]) -> TrieShape {
        let n = hash.len();
        let mut shape = TrieShape {
            leaves: n,
            children: Vec::with_capacity(n.saturating_sub(1)),
            bit: Vec::with_capacity(n.saturating_sub(1)),
            first: Vec::with_capacity(n.saturating_sub(1)),
            parent: vec![u32::MAX; (2 * n).saturating_sub(1)],
        };
        if n > 0 {
            shape.split(hash, 0, n);
        }
        shape
    }

    /// Builds the subtree over positions `lo..hi` (not empty) and returns its id.
    fn split(&mut self, hash: &[u64], lo: usize, hi: usize) -> u32 {
        if hi - lo == 1 {
            return lo as u32;
        }
        let diff = hash[lo] ^ hash[hi - 1];
        let (mid, bit) = if diff == 0 {
            // Equal hashes (distinct names whose hashes collide): halve, smaller positions left.
            (lo + (hi - lo) / 2, SAME_HASH)
        } else {
            let bit = 63 - diff.leading_zeros();
            (lo + hash[lo..hi].partition_point(|&h| (h >> bit) & 1 == 0), bit as u8)
        };
        let left = self.split(hash, lo, mid);
        let right = self.split(hash, mid, hi);
        let id = (self.leaves + self.children.len()) as u32;
        self.children.push([left, right]);
        self.bit.push(bit);
        self.first.push(lo as u32);
        self.parent[left as usize] = id;
        self.parent[right as usize] = id;
        id
    }

    /// Number of node ids.
    fn len(&self) -> usize {
        self.leaves + self.children.len()
    }

    fn root(&self) -> usize {
        self.len() - 1
    }
}

/// One request key's totals over a cell: per node id of its [`TrieShape`], the highest total
/// under it (`i32::MIN` for [`INFEASIBLE`]).
#[derive(Debug, Default)]
pub(crate) struct Trie {
    max: Vec<i32>,
}

impl Trie {
    /// The trie of `shape` with the leaves' totals `leaves` (in position order).
    pub(crate) fn build(shape: &TrieShape, leaves: impl Iterator<Item = i64>) -> Trie {
        let mut max = Vec::with_capacity(shape.len());
        max.extend(leaves.take(shape.leaves).map(narrow));
        max.resize(shape.leaves, i32::MIN);
        for &[l, r] in &shape.children {
            max.push(max[l as usize].max(max[r as usize]));
        }
        Trie { max }
    }

    /// The highest total ([`INFEASIBLE`] for an empty cell or one with no feasible node).
    #[inline]
    pub(crate) fn top(&self) -> i64 {
        self.max.last().map_or(INFEASIBLE, |&m| widen(m))
    }

    /// Sets position `pos`'s total to `v`.
    pub(crate) fn set(&mut self, shape: &TrieShape, pos: usize, v: i64) {
        let v = narrow(v);
        if self.max[pos] == v {
            return;
        }
        self.max[pos] = v;
        let mut node = shape.parent[pos];
        while node != u32::MAX {
            let b = node as usize;
            let [l, r] = shape.children[b - shape.leaves];
            let up = self.max[l as usize].max(self.max[r as usize]);
            if self.max[b] == up {
                // Nothing above moves.
                break;
            }
            self.max[b] = up;
            node = shape.parent[b];
        }
    }

    /// The position with the highest total and, among those, the smallest tie key (`hash`
    /// XOR `pod`, `hash` the cell's sorted tie hashes), then the smallest position, with that
    /// total. `None` when no position is feasible, or as soon as every top position's tie key
    /// is known to exceed `bound` (the best key found elsewhere).
    pub(crate) fn best(&self, shape: &TrieShape, hash: &[u64], pod: u64, bound: Option<u64>) -> Option<(usize, i64)> {
        let top = *self.max.last()?;
        if top == i32::MIN {
            return None;
        }
        let mut node = shape.root();
        while node >= shape.leaves {
            let k = node - shape.leaves;
            let [l, r] = shape.children[k];
            let bit = shape.bit[k];
            node = if bit == SAME_HASH {
                (if self.max[l as usize] == top { l } else { r }) as usize
            } else {
                // The top positions' keys share the bits above `bit` with this one's.
                let key = hash[shape.first[k] as usize] ^ pod;
                if bit < 63 && bound.is_some_and(|b| key >> (bit + 1) > b >> (bit + 1)) {
                    return None;
                }
                let (agree, other) = if (pod >> bit) & 1 == 0 { (l, r) } else { (r, l) };
                (if self.max[agree as usize] == top { agree } else { other }) as usize
            };
        }
        Some((node, widen(top)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan's answer: the highest total, then the smallest key, then the smallest position.
    fn scan(hash: &[u64], totals: &[i64], pod: u64) -> Option<(usize, i64)> {
        let top = *totals.iter().filter(|&&t| t != INFEASIBLE).max()?;
        (0..totals.len()).filter(|&p| totals[p] == top).min_by_key(|&p| (hash[p] ^ pod, p)).map(|p| (p, top))
    }

    /// A deterministic walk (no randomness in tests that must be reproducible).
    fn next(x: &mut u64) -> u64 {
        *x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *x >> 11
    }

    #[test]
    fn the_walk_finds_the_scans_node_through_updates() {
        let mut x = 3;
        for n in [1usize, 2, 3, 7, 64, 300] {
            // Few distinct hashes in some cells, so equal hashes and ties are common.
            let spread = if n % 2 == 0 { 8 } else { u64::MAX };
            let mut hash: Vec<u64> = (0..n).map(|_| next(&mut x) % spread).collect();
            hash.sort_unstable();
            let shape = TrieShape::new(&hash);
            let mut totals: Vec<i64> = (0..n).map(|_| (next(&mut x) % 4) as i64).collect();
            let mut trie = Trie::build(&shape, totals.iter().copied());
            for step in 0..200 {
                let pod = next(&mut x);
                assert_eq!(trie.best(&shape, &hash, pod, None), scan(&hash, &totals, pod), "n {n} step {step}");
                assert_eq!(trie.top(), scan(&hash, &totals, pod).map_or(INFEASIBLE, |(_, t)| t));
                // With a bound: the scan's node, or nothing only when its key exceeds the bound.
                let bound = next(&mut x);
                match (trie.best(&shape, &hash, pod, Some(bound)), scan(&hash, &totals, pod)) {
                    (Some(found), Some(want)) => assert_eq!(found, want),
                    (None, Some((p, _))) => assert!(hash[p] ^ pod > bound, "n {n} step {step}"),
                    (found, want) => assert_eq!(found, want),
                }
                let pos = (next(&mut x) % n as u64) as usize;
                let v = match next(&mut x) % 5 {
                    0 => INFEASIBLE,
                    v => v as i64,
                };
                totals[pos] = v;
                trie.set(&shape, pos, v);
            }
        }
    }

    #[test]
    fn an_empty_cell_has_no_best() {
        let shape = TrieShape::new(&[]);
        let trie = Trie::build(&shape, std::iter::empty());
        assert_eq!((trie.top(), trie.best(&shape, &[], 7, None)), (INFEASIBLE, None));
    }
}
