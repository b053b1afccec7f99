//! Burst targets and node pools in the plan: which target can take a pod (compatibility, size,
//! quotas, creation rate, spend cap), what it costs, and whether a node pool's next VM could
//! take it instead.
//!
//! Reasons read like kube-scheduler's, counted per target (or pool) in the diagnosis:
//! `0/1 burst targets are available: 1 burst target(s) don't support hostPath volumes.`

use std::collections::BTreeMap;

use crate::model::{
    BurstTarget, InstanceSize, Money, Node, NodePool, Pod, ResourceName, Resources, Snapshot, TaintEffect,
    WhenUnsatisfiable,
};

use super::plugins::node_affinity::Required;

/// Running totals of one plan: burst quota use, creations and spend; planned new pool nodes.
/// Cloned before a co-scheduled group and restored if the group fails.
#[derive(Debug, Clone)]
pub(crate) struct Books {
    /// Per target: CPU in use (millicores), instances, creations in this plan.
    cpu: Vec<i64>,
    instances: Vec<i64>,
    creates: Vec<i64>,
    /// Hourly spend of all burst instances, running and planned.
    spend: Money,
    /// Per pool: free resources of each new node planned in this plan.
    planned: Vec<Vec<Resources>>,
}

/// Why a target cannot take the pod right now, beyond reasons (a rate limit means "later").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetCheck {
    /// Failure reasons (empty: the target fits).
    pub(crate) reasons: Vec<String>,
    /// The only obstacle is the creation rate limit.
    pub(crate) rate_limited: bool,
    /// Size and hourly cost when the size is known.
    pub(crate) size: Option<(InstanceSize, Money)>,
}

/// A pool that can provide a node for the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolChoice {
    pub(crate) pool: usize,
    /// The pod's share of the new node's hourly cost (the larger of its cpu and memory shares).
    pub(crate) share_cost: Money,
}

/// The instance size and hourly cost of `pod` (effective requests `req`) on `target`.
pub(crate) fn size_and_cost(target: &BurstTarget, pod: &Pod, req: &Resources) -> Option<(InstanceSize, Money)> {
    // A pod without cpu and memory requests runs at the target's default size as it stands: it
    // is already a billed size. (`BurstTarget::size_for` rounds it again, which through a tier
    // table adds the per-pod overhead a second time: Fargate's 0.25 vCPU / 0.5 GiB default
    // became 0.25 vCPU / 1 GiB.)
    let size = target.size_for(req)?;
    let gpus: BTreeMap<String, i64> = target
        .limits
        .gpus
        .keys()
        .filter_map(|g| Some((g.clone(), req.extended.get(g).copied().filter(|n| *n > 0)?)))
        .collect();
    let mut pricing = target.pricing.clone();
    if !target.spot {
        pricing.spot_discount_percent = 0;
    }
    Some((size, pricing.hourly(size, &gpus, pod.features.windows)))
}

impl Books {
    pub(crate) fn new(snapshot: &Snapshot) -> Books {
        let targets = snapshot.burst_targets();
        let mut books = Books {
            cpu: vec![0; targets.len()],
            instances: vec![0; targets.len()],
            creates: vec![0; targets.len()],
            spend: Money::ZERO,
            planned: vec![Vec::new(); snapshot.node_pools().len()],
        };
        for (pod, target) in snapshot.burst_pods() {
            let Some(i) = targets.iter().position(|t| t.name == target.name) else { continue };
            let req = pod.requests();
            if let Some((size, cost)) = size_and_cost(target, pod, &req) {
                books.cpu[i] += size.cpu_millis;
                books.spend = Money::from_micros(books.spend.micros().saturating_add(cost.micros()));
            }
            books.instances[i] += 1;
        }
        books
    }

    /// Checks target `i` for `pod` with effective requests `req`, collecting every reason.
    pub(crate) fn check_target(
        &self,
        i: usize,
        target: &BurstTarget,
        pod: &Pod,
        req: &Resources,
        spend_cap: Option<Money>,
    ) -> TargetCheck {
        let mut reasons = Vec::new();
        let required_pod_rules = !pod.pod_affinity.required.is_empty()
            || !pod.pod_anti_affinity.required.is_empty()
            || pod.topology_spread_constraints.iter().any(|c| c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule);
        if required_pod_rules {
            reasons.push("burst target(s) can't honour required pod affinity, anti-affinity or topology spread".into());
        }
        // A pod bound to a node by `spec.nodeName` runs there or nowhere (kube's NodeName filter);
        // a target takes it only when it is that node.
        if pod.node_name.as_ref().is_some_and(|n| *n != target.name) {
            reasons.push("burst target(s) didn't match the requested node name".into());
        }
        let untolerated = target
            .taints
            .iter()
            .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
            .find(|t| !pod.tolerates(t));
        if let Some(t) = untolerated {
            reasons.push(format!("burst target(s) had untolerated taint {{{}: {}}}", t.key, t.value));
        }
        let as_node = Node { name: target.name.clone(), labels: target.labels.clone(), ..Node::default() };
        if !Required::of_pod(pod).matches(&as_node) {
            reasons.push("burst target(s) didn't match Pod's node affinity/selector".into());
        }
        let f = &pod.features;
        let offers = &target.features;
        for kind in &f.volumes {
            if !offers.volumes.iter().any(|v| v == kind) {
                reasons.push(format!("burst target(s) don't support {kind} volumes"));
            }
        }
        let unsupported = [
            (f.privileged && !offers.privileged, "burst target(s) don't support privileged containers"),
            (f.host_network && !offers.host_network, "burst target(s) don't support host networking"),
            (
                pod.owner_kind.as_deref() == Some("DaemonSet") && !offers.daemon_sets,
                "burst target(s) don't run DaemonSet pods",
            ),
            (f.ipv6_only && !offers.ipv6, "burst target(s) don't support IPv6"),
            (f.startup_probe && !offers.startup_probes, "burst target(s) don't support startup probes"),
            (f.lifecycle_hooks && !offers.lifecycle_hooks, "burst target(s) don't support lifecycle hooks"),
            (f.windows && !offers.windows, "burst target(s) don't run Windows pods"),
        ];
        reasons.extend(unsupported.iter().filter(|(bad, _)| *bad).map(|(_, r)| r.to_string()));
        for (name, count) in req.iter() {
            let ResourceName::Extended(name) = name else { continue };
            match target.limits.gpus.get(&name) {
                None => reasons.push(format!("burst target(s) don't offer {name}")),
                Some(max) if count > *max => reasons.push(format!("Insufficient burst instance size: {name}")),
                Some(_) => {}
            }
        }
        let size = size_and_cost(target, pod, req);
        match size {
            None => reasons.push("Insufficient burst instance size: no allowed size covers the requests".into()),
            Some((s, cost)) => {
                if s.cpu_millis > target.limits.max_cpu_millis {
                    reasons.push("Insufficient burst instance size: cpu".into());
                }
                if s.memory_bytes > target.limits.max_memory_bytes {
                    reasons.push("Insufficient burst instance size: memory".into());
                }
                if target.quota.max_cpu_millis.is_some_and(|max| self.cpu[i] + s.cpu_millis > max) {
                    reasons.push("Insufficient burst quota: cores".into());
                }
                if target.quota.max_instances.is_some_and(|max| self.instances[i] + 1 > max) {
                    reasons.push("Insufficient burst quota: instances".into());
                }
                if spend_cap.is_some_and(|cap| self.spend.micros().saturating_add(cost.micros()) > cap.micros()) {
                    reasons.push("burst spend cap reached".into());
                }
            }
        }
        let rate_limited = target.quota.max_creates_per_window.is_some_and(|max| self.creates[i] >= max);
        let only_rate = rate_limited && reasons.is_empty();
        if rate_limited {
            reasons.push("burst target(s) reached their creation rate limit".into());
        }
        TargetCheck { reasons, rate_limited: only_rate, size }
    }

    /// Records a burst of size `size` costing `cost` per hour on target `i`.
    pub(crate) fn burst(&mut self, i: usize, size: InstanceSize, cost: Money) {
        self.cpu[i] += size.cpu_millis;
        self.instances[i] += 1;
        self.creates[i] += 1;
        self.spend = Money::from_micros(self.spend.micros().saturating_add(cost.micros()));
    }

    /// Total hourly spend of burst instances, running and planned.
    pub(crate) fn spend(&self) -> Money {
        self.spend
    }

    /// Checks every pool for `pod`; returns the pools that can provide a node, cheapest first (by
    /// the pod's share of a node's price, then provisioning time, then name), and each pool's
    /// reasons. (All of them, not only the cheapest: CostAware wants the cheapest pool whose
    /// node comes in time, which a cheaper but slower pool must not hide.)
    pub(crate) fn check_pools(
        &self,
        pools: &[NodePool],
        pod: &Pod,
        req: &Resources,
    ) -> (Vec<PoolChoice>, Vec<(String, Vec<String>)>) {
        let mut feasible: Vec<(PoolChoice, (i64, i64, &str))> = Vec::new();
        let mut verdicts = Vec::with_capacity(pools.len());
        for (i, pool) in pools.iter().enumerate() {
            let mut reasons = Vec::new();
            if let Some(t) = pool
                .taints
                .iter()
                .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
                .find(|t| !pod.tolerates(t))
            {
                reasons.push(format!("node pool(s) had untolerated taint {{{}: {}}}", t.key, t.value));
            }
            // A node that does not exist yet has no name that `matchFields` could pin.
            let as_node = Node { name: String::new(), labels: pool.labels.clone(), ..Node::default() };
            if !Required::of_pod(pod).matches(&as_node) {
                reasons.push("node pool(s) didn't match Pod's node affinity/selector".into());
            }
            // Nor a `spec.nodeName` (the pod is bound to a node that exists, or to a target).
            if pod.node_name.is_some() {
                reasons.push("node pool(s) didn't match the requested node name".into());
            }
            let fits_empty = |free: &Resources| {
                req.iter().all(|(name, amount)| name == ResourceName::Pods || amount <= free.get(&name))
                    && free.pods >= 1
            };
            if !fits_empty(&pool.allocatable) {
                reasons.push("Insufficient resources on a new node of the pool".into());
            } else if !self.planned[i].iter().any(fits_empty)
                && pool.current_nodes + self.planned[i].len() as i64 >= pool.max_nodes
            {
                reasons.push("node pool(s) at their maximum size".into());
            }
            if reasons.is_empty() {
                // The pod's share of the node's price: the larger of its cpu and memory shares,
                // in exact integer arithmetic, rounded up to a micro-unit.
                let share = |used: i64, cap: i64| -> i128 {
                    if cap <= 0 {
                        return 0;
                    }
                    let (used, cap) = (i128::from(used.min(cap)), i128::from(cap));
                    let num = i128::from(pool.hourly_cost.micros()) * used;
                    num / cap + i128::from(num % cap != 0)
                };
                let micros =
                    share(req.cpu_millis, pool.allocatable.cpu_millis).max(share(req.memory, pool.allocatable.memory));
                let share_cost = Money::from_micros(i64::try_from(micros).unwrap_or(i64::MAX));
                let key = (share_cost.micros(), pool.provisioning_seconds, pool.name.as_str());
                feasible.push((PoolChoice { pool: i, share_cost }, key));
            }
            verdicts.push((pool.name.clone(), reasons));
        }
        feasible.sort_by(|a, b| a.1.cmp(&b.1));
        (feasible.into_iter().map(|(c, _)| c).collect(), verdicts)
    }

    /// Records a pod waiting for pool `i`: it takes room on a planned node, or plans a new one.
    pub(crate) fn wait(&mut self, i: usize, pool: &NodePool, req: &Resources) {
        let take = |free: &mut Resources| {
            for (name, amount) in req.iter() {
                if name != ResourceName::Pods {
                    let left = free.get(&name) - amount;
                    free.set(&name, left);
                }
            }
            free.pods -= 1;
        };
        let fits = |free: &Resources| {
            req.iter().all(|(name, amount)| name == ResourceName::Pods || amount <= free.get(&name)) && free.pods >= 1
        };
        if let Some(free) = self.planned[i].iter_mut().find(|f| fits(f)) {
            take(free);
        } else {
            let mut free = pool.allocatable.clone();
            take(&mut free);
            self.planned[i].push(free);
        }
    }
}

/// `"0/N <what> are available: <count> <reason>, ...."`, items sorted as strings.
pub(crate) fn sentence(what: &str, total: usize, counts: &BTreeMap<String, usize>) -> String {
    let mut items: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
    items.sort();
    format!("0/{total} {what} are available: {}.", items.join(", "))
}
