//! Drain-back: when VM capacity returns after a spike, move burst pods back to VM nodes, biggest
//! savings first, within a disruption budget.
//!
//! The planner is pure like the rest of the engine. Each proposed move has passed every filter
//! of the scheduling profile on the chosen node (with the earlier moves assumed), so carrying the
//! moves out in order never overcommits a node or breaks a required rule.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Money, Pod, Snapshot};

use super::burst::size_and_cost;
use super::{Books, Engine, Outcome, PlaceOptions, Scratch, cluster::Cluster, place_one};

/// How much disruption one drain-back round may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainBudget {
    /// Most moves in this round.
    pub max_moves: usize,
    /// Most moves per owner (`kind/name` of the controlling owner) in this round, like a
    /// PodDisruptionBudget's `maxUnavailable`; pods without an owner count one each.
    pub max_per_owner: usize,
    /// Only moves saving at least this much per hour are proposed.
    #[serde(default)]
    pub min_savings_per_hour: Money,
}

impl Default for DrainBudget {
    fn default() -> Self {
        DrainBudget { max_moves: 10, max_per_owner: 1, min_savings_per_hour: Money::from_micros(1) }
    }
}

/// One proposed move of a burst pod back to a VM node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The burst target it runs on now.
    pub from_target: String,
    /// The VM node it moves to.
    pub to_node: String,
    /// The node's weighted total score for the pod.
    pub score: i64,
    /// What the burst instance costs per hour, saved by the move (the VM is paid for already).
    pub savings_per_hour: Money,
}

/// A burst pod that stays where it is this round, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The burst target it stays on.
    pub target: String,
    /// Why it is not moved.
    pub reason: String,
}

/// The result of [`Engine::drain_back`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainPlan {
    /// Moves to carry out in order, biggest savings first.
    pub moves: Vec<Move>,
    /// Burst pods that stay, with the reason.
    pub stays: Vec<Stay>,
    /// Summed hourly savings of the moves.
    pub savings_per_hour: Money,
}

impl Engine {
    /// Proposes moves of the pods running on burst targets back to VM nodes where they now fit,
    /// ordered by hourly savings (then by pod name), limited by `budget`.
    ///
    /// ```
    /// use spillway::model::BurstTarget;
    /// use spillway::{DrainBudget, Engine, Node, Pod, Policy, Resources, Snapshot};
    ///
    /// let vm = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "4"), ("memory", "16Gi"), ("pods", "110")])?);
    /// let aci = BurstTarget::aci_like("aci", "eastus");
    /// let burst_pod = Pod::new("shop", "web-7").with_container(Resources::parse([("cpu", "1"), ("memory", "2Gi")])?).on_node("aci");
    /// let snapshot = Snapshot::with_burst(vec![vm], vec![aci], vec![burst_pod])?;
    ///
    /// let plan = Engine::new(Policy::default())?.drain_back(&snapshot, &DrainBudget::default());
    /// assert_eq!(plan.moves[0].to_node, "vm-1");
    /// assert_eq!(plan.moves[0].savings_per_hour.to_string(), "0.05029"); // 1 vCPU + 2.2 GB on ACI
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drain_back(&self, snapshot: &Snapshot, budget: &DrainBudget) -> DrainPlan {
        // Candidates as pending pods (no node), with what their burst instance costs.
        let mut candidates: Vec<(Pod, String, Money)> = snapshot
            .burst_pods()
            .map(|(pod, target)| {
                let cost = size_and_cost(target, pod, &pod.requests()).map_or(Money::ZERO, |(_, c)| c);
                let mut pending = pod.clone();
                pending.node_name = None;
                (pending, target.name.clone(), cost)
            })
            .collect();
        candidates.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.key().cmp(&b.0.key())));
        let pods: Vec<&Pod> = candidates.iter().map(|(p, _, _)| p).collect();

        let mut cluster =
            Cluster::new(snapshot, &pods, self.policy.profile.inter_pod_affinity.hard_pod_affinity_weight);
        let resolved = self.resolve(snapshot, &cluster, true);
        let mut books = Books::new(snapshot);
        let mut scratch = Scratch::default();
        let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
        let mut plan = DrainPlan::default();
        for (pod, (_, target, cost)) in pods.iter().zip(&candidates) {
            let stay = |reason: String| Stay { pod: pod.key(), target: target.clone(), reason };
            if *cost < budget.min_savings_per_hour || cost.micros() <= 0 {
                plan.stays.push(stay(format!("saves {cost}/h, less than the budget's minimum")));
                continue;
            }
            if plan.moves.len() >= budget.max_moves {
                plan.stays.push(stay(format!("the round's budget of {} moves is used", budget.max_moves)));
                continue;
            }
            let owner = match (&pod.owner_kind, &pod.owner_name) {
                (Some(kind), Some(name)) => format!("{kind}/{}/{name}", pod.namespace),
                _ => format!("Pod/{}", pod.key()),
            };
            if per_owner.get(&owner).copied().unwrap_or(0) >= budget.max_per_owner {
                plan.stays
                    .push(stay(format!("{owner} already has {} move(s) this round, its budget", budget.max_per_owner)));
                continue;
            }
            let decision = place_one(&mut cluster, &mut books, &resolved, pod, PlaceOptions::default(), &mut scratch);
            match decision.outcome {
                Outcome::Node { node, score } => {
                    *per_owner.entry(owner).or_insert(0) += 1;
                    plan.savings_per_hour = Money::from_micros(plan.savings_per_hour.micros() + cost.micros());
                    plan.moves.push(Move {
                        pod: pod.key(),
                        from_target: target.clone(),
                        to_node: node,
                        score,
                        savings_per_hour: *cost,
                    });
                }
                Outcome::Unschedulable(d) => plan.stays.push(stay(format!("no VM node fits: {}", d.message))),
                other => plan.stays.push(stay(format!("unexpected outcome {other:?}"))),
            }
        }
        plan
    }
}
