//! The cluster autoscaler model: scale-up by packing unplaced pods onto nodes on their way and
//! new nodes of the first pool that can run them; scale-down of empty nodes it added.

use std::collections::BTreeMap;

use crate::engine::Engine;
use crate::model::{Node, NodePool, Pod, ResourceName, Resources, Snapshot};

use super::AutoscalerConfig;

/// A node the autoscaler ordered.
#[derive(Debug, Clone)]
pub(crate) struct Added {
    pub(crate) pool: usize,
    pub(crate) ready_at: u64,
    pub(crate) ready: bool,
    pub(crate) empty_since: Option<u64>,
    /// Below the utilization threshold since.
    pub(crate) low_since: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Autoscaler {
    config: AutoscalerConfig,
    pools: Vec<NodePool>,
    /// Nodes added (ordered), by name.
    pub(crate) added: BTreeMap<String, Added>,
    next_id: Vec<u64>,
    /// Whether a pod of this template can run on a node of this pool.
    compatible: BTreeMap<(String, usize), bool>,
    /// Places probe pods on a pool's template node (no burst).
    probe: Engine,
}

/// Whether `req` fits `free` (pods counted as one).
pub(crate) fn fits(free: &Resources, req: &Resources) -> bool {
    req.iter().all(|(name, amount)| name == ResourceName::Pods || amount <= free.get(&name)) && free.pods >= 1
}

fn take(free: &mut Resources, req: &Resources) {
    for (name, amount) in req.iter() {
        if name != ResourceName::Pods {
            let left = free.get(&name) - amount;
            free.set(&name, left);
        }
    }
    free.pods -= 1;
}

impl Autoscaler {
    pub(crate) fn new(config: AutoscalerConfig, pools: Vec<NodePool>, probe: Engine) -> Autoscaler {
        let next_id = vec![0; pools.len()];
        Autoscaler { config, pools, added: BTreeMap::new(), next_id, compatible: BTreeMap::new(), probe }
    }

    /// A new node of pool `i`.
    pub(crate) fn node(&self, i: usize, name: &str) -> Node {
        let pool = &self.pools[i];
        let mut node = Node::new(name).with_allocatable(pool.allocatable.clone());
        node.labels = pool.labels.clone();
        node.labels.insert("kubernetes.io/hostname".into(), name.to_string());
        node.taints = pool.taints.clone();
        node.hourly_cost = Some(pool.hourly_cost);
        node
    }

    /// The pools as the engine should see them: `current_nodes` counts the nodes the pool has
    /// (the scenario's and the ready ones added), not those on their way, as a
    /// [`NodePool`] says.
    pub(crate) fn pools_now(&self) -> Vec<NodePool> {
        let mut pools = self.pools.clone();
        for a in self.added.values().filter(|a| a.ready) {
            pools[a.pool].current_nodes += 1;
        }
        pools
    }

    pub(crate) fn hourly_cost(&self, pool: usize) -> i64 {
        self.pools[pool].hourly_cost.micros()
    }

    fn compatible(&mut self, template: &str, pod: &Pod, pool: usize) -> bool {
        if let Some(ok) = self.compatible.get(&(template.to_string(), pool)) {
            return *ok;
        }
        let node = self.node(pool, "autoscaler-probe");
        let ok = match Snapshot::new(vec![node], Vec::new()) {
            Ok(snapshot) => {
                let mut probe = pod.clone();
                probe.node_name = None;
                self.probe.place(&snapshot, std::slice::from_ref(&probe)).decisions.iter().all(|d| d.node().is_some())
            }
            Err(_) => false,
        };
        self.compatible.insert((template.to_string(), pool), ok);
        ok
    }

    /// Scale-up at `now` for `unplaced` pods (with their template keys), in order: each pod goes
    /// to the first node with room among the nodes on their way, else to a new node of the
    /// first pool that can run it and is below its maximum. Returns the nodes to order, with
    /// their pool.
    pub(crate) fn scale_up(&mut self, now: u64, unplaced: &[(&Pod, &str)]) -> Vec<(String, usize)> {
        // Free room of the nodes on their way, per pool.
        let mut coming: Vec<(usize, Resources)> = self
            .added
            .values()
            .filter(|a| !a.ready)
            .map(|a| (a.pool, self.pools[a.pool].allocatable.clone()))
            .collect();
        let mut count: Vec<i64> = self.pools.iter().map(|p| p.current_nodes).collect();
        for a in self.added.values() {
            count[a.pool] += 1;
        }
        let mut new_nodes: Vec<(usize, Resources)> = Vec::new();
        for (pod, template) in unplaced {
            let req = pod.requests();
            let compatible: Vec<usize> = (0..self.pools.len()).filter(|&i| self.compatible(template, pod, i)).collect();
            if compatible.is_empty() {
                continue;
            }
            if let Some((_, free)) = coming.iter_mut().find(|(p, free)| compatible.contains(p) && fits(free, &req)) {
                take(free, &req);
                continue;
            }
            if let Some((_, free)) = new_nodes.iter_mut().find(|(p, free)| compatible.contains(p) && fits(free, &req)) {
                take(free, &req);
                continue;
            }
            if let Some(&pool) = compatible.iter().find(|&&i| count[i] < self.pools[i].max_nodes) {
                let mut free = self.pools[pool].allocatable.clone();
                if fits(&free, &req) {
                    take(&mut free, &req);
                    count[pool] += 1;
                    new_nodes.push((pool, free));
                }
            }
        }
        let mut ordered = Vec::new();
        for (pool, _) in new_nodes {
            let name = format!("{}-sim-{}", self.pools[pool].name, self.next_id[pool]);
            self.next_id[pool] += 1;
            let ready_at = now + self.pools[pool].provisioning_seconds.max(0) as u64;
            self.added.insert(name.clone(), Added { pool, ready_at, ready: false, empty_since: None, low_since: None });
            ordered.push((name, pool));
        }
        ordered
    }

    /// The added, ready, non-empty nodes whose utilization (from `utilization`, percent of
    /// the larger of cpu and memory requested) has been below `threshold` for
    /// `scale_down_after`, by name.
    pub(crate) fn underutilized(
        &mut self,
        now: u64,
        threshold: u32,
        utilization: impl Fn(&str) -> Option<u32>,
    ) -> Vec<String> {
        let after = self.config.scale_down_after.as_secs();
        let mut out = Vec::new();
        for (name, a) in &mut self.added {
            match utilization(name) {
                Some(u) if a.ready && u < threshold => {
                    let since = *a.low_since.get_or_insert(now);
                    if now >= since + after {
                        out.push(name.clone());
                    }
                }
                _ => a.low_since = None,
            }
        }
        out
    }

    /// Forgets a node removed after a drain.
    pub(crate) fn forget(&mut self, name: &str) {
        self.added.remove(name);
    }

    /// Scale-down at `now`: the added, ready nodes empty for `scale_down_after` (pods per node
    /// from `pods_on`). Returns the nodes to remove (forgotten here).
    pub(crate) fn scale_down(&mut self, now: u64, pods_on: impl Fn(&str) -> u64) -> Vec<String> {
        let after = self.config.scale_down_after.as_secs();
        let mut removed = Vec::new();
        for (name, a) in &mut self.added {
            if !a.ready {
                continue;
            }
            if pods_on(name) > 0 {
                a.empty_since = None;
                continue;
            }
            let since = *a.empty_since.get_or_insert(now);
            if now >= since + after {
                removed.push(name.clone());
            }
        }
        for name in &removed {
            self.added.remove(name);
        }
        removed
    }
}
