//! Interned failure reasons and kube-scheduler's diagnosis message.

use std::collections::{BTreeMap, HashMap};

use super::plan::Diagnosis;

/// Dense id of a reason string.
pub(crate) type ReasonId = u32;

pub(crate) const UNSCHEDULABLE: ReasonId = 0;
pub(crate) const NODE_NAME: ReasonId = 1;
pub(crate) const NODE_AFFINITY: ReasonId = 2;
pub(crate) const ENFORCED_AFFINITY: ReasonId = 3;
pub(crate) const NODE_PORTS: ReasonId = 4;
pub(crate) const TOO_MANY_PODS: ReasonId = 5;
pub(crate) const OUTSIDE_NODE_NAMES: ReasonId = 6;
pub(crate) const TERMS_CONFLICT: ReasonId = 7;
pub(crate) const AFFINITY_RULES: ReasonId = 8;
pub(crate) const ANTI_AFFINITY_RULES: ReasonId = 9;
pub(crate) const EXISTING_ANTI_AFFINITY: ReasonId = 10;
pub(crate) const SPREAD: ReasonId = 11;
pub(crate) const SPREAD_MISSING_LABEL: ReasonId = 12;

const FIXED: [&str; 13] = [
    "node(s) were unschedulable",
    "node(s) didn't match the requested node name",
    "node(s) didn't match Pod's node affinity/selector",
    "node(s) didn't match scheduler-enforced node affinity",
    "node(s) didn't have free ports for the requested pod ports",
    "Too many pods",
    "node(s) didn't satisfy plugin(s) [NodeAffinity]",
    "pod affinity terms conflict",
    "node(s) didn't match pod affinity rules",
    "node(s) didn't match pod anti-affinity rules",
    "node(s) didn't satisfy existing pods anti-affinity rules",
    "node(s) didn't match pod topology spread constraints",
    "node(s) didn't match pod topology spread constraints (missing required label)",
];

/// The reason strings of one placement run, each stored once.
#[derive(Debug)]
pub(crate) struct ReasonTable {
    texts: Vec<String>,
    ids: HashMap<String, ReasonId>,
}

impl ReasonTable {
    pub(crate) fn new() -> ReasonTable {
        let mut t = ReasonTable { texts: Vec::new(), ids: HashMap::new() };
        for text in FIXED {
            t.intern(text.to_string());
        }
        t
    }

    pub(crate) fn intern(&mut self, text: String) -> ReasonId {
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.texts.len() as ReasonId;
        self.ids.insert(text.clone(), id);
        self.texts.push(text);
        id
    }

    pub(crate) fn text(&self, id: ReasonId) -> &str {
        &self.texts[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// Builds the diagnosis from per-reason node counts (indexed by reason id).
    pub(crate) fn diagnosis(&self, total_nodes: usize, counts: &[usize]) -> Diagnosis {
        if total_nodes > 0 && counts.get(TERMS_CONFLICT as usize).is_some_and(|c| *c > 0) {
            // A PreFilter rejection replaces the per-node list, as in kube-scheduler.
            let text = self.texts[TERMS_CONFLICT as usize].clone();
            let message = format!("0/{total_nodes} nodes are available: {text}.");
            return Diagnosis { message, reasons: [(text, total_nodes)].into() };
        }
        let reasons: BTreeMap<String, usize> =
            counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(id, c)| (self.texts[id].clone(), *c)).collect();
        Diagnosis { message: message(total_nodes, &reasons), reasons }
    }
}

/// `0/N nodes are available: <count> <reason>, ....`, the "count reason" items sorted as strings
/// (kube-scheduler sorts the formatted items, so "10 x" sorts before "2 y").
pub(crate) fn message(total_nodes: usize, reasons: &BTreeMap<String, usize>) -> String {
    if total_nodes == 0 {
        return "no nodes available to schedule pods".to_string();
    }
    let mut items: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
    items.sort();
    format!("0/{total_nodes} nodes are available: {}.", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_sort_as_strings() {
        let reasons: BTreeMap<String, usize> =
            [("Insufficient cpu".to_string(), 2), ("Insufficient memory".to_string(), 10)].into();
        assert_eq!(message(12, &reasons), "0/12 nodes are available: 10 Insufficient memory, 2 Insufficient cpu.");
        assert_eq!(message(0, &BTreeMap::new()), "no nodes available to schedule pods");
    }
}
