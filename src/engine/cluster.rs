//! The engine's working copy of a snapshot: dense resource ids, per-node usage in flat arrays,
//! and interned reasons. Built once per [`Engine::place`](crate::Engine::place) call from the
//! snapshot's per-node sums (one entry per node, whatever the number of placed pods), and
//! updated as placements are assumed. Placed pods become *members* (for inter-pod rules and
//! spread counts) by their position in the snapshot, read only when a rule asks for them.

use crate::model::{HostPort, Labels, Node, Pod, Resources, Snapshot, TaintEffect, WorkloadSelector};

use std::cell::{Ref, RefCell};
use std::rc::Rc;

use super::matchers::{Counts, Matcher};
use super::reasons::{ReasonId, ReasonTable};
use super::terms::{Pin, PodTerms};

/// Dense id of a resource: 0 cpu, 1 memory, 2 ephemeral-storage, then extended resources.
pub(crate) type ResourceId = usize;
pub(crate) const CPU: ResourceId = 0;
pub(crate) const MEMORY: ResourceId = 1;
pub(crate) const EPHEMERAL: ResourceId = 2;

/// Resource names ↔ dense ids for one placement run.
#[derive(Debug, Default)]
pub(crate) struct ResourceIndex {
    names: Vec<String>,
    ids: super::fxhash::FxHashMap<String, ResourceId>,
}

impl ResourceIndex {
    fn new() -> ResourceIndex {
        let mut idx = ResourceIndex::default();
        for n in ["cpu", "memory", "ephemeral-storage"] {
            idx.intern(n);
        }
        idx
    }

    fn intern(&mut self, name: &str) -> ResourceId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub(crate) fn id(&self, name: &str) -> Option<ResourceId> {
        self.ids.get(name).copied()
    }

    pub(crate) fn name(&self, id: ResourceId) -> &str {
        &self.names[id]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Non-zero amounts of `r` (excluding `pods`) as `(id, amount)`, by id.
    pub(crate) fn sparse(&self, r: &Resources) -> Vec<(ResourceId, i64)> {
        let mut out = Vec::with_capacity(3 + r.extended.len());
        self.sparse_into(r, &mut out);
        out
    }

    /// [`sparse`](Self::sparse) into `out` (cleared first), reusing its memory.
    fn sparse_into(&self, r: &Resources, out: &mut Vec<(ResourceId, i64)>) {
        out.clear();
        for (id, v) in [(CPU, r.cpu_millis), (MEMORY, r.memory), (EPHEMERAL, r.ephemeral_storage)] {
            if v != 0 {
                out.push((id, v));
            }
        }
        // Extended ids (3 and up) follow the order names were first seen: sort them.
        let scalars = out.len();
        for (name, &v) in &r.extended {
            if v != 0
                && let Some(id) = self.id(name)
            {
                out.push((id, v));
            }
        }
        if out.len() - scalars > 1 {
            out[scalars..].sort_unstable();
        }
    }

    /// Interns the extended resources `r` names (cpu, memory and ephemeral-storage always are).
    fn intern_extended(&mut self, r: &Resources) {
        for (name, &v) in &r.extended {
            if v != 0 {
                self.intern(name);
            }
        }
    }
}

/// An assumed pod, with its compiled inter-pod terms.
#[derive(Debug)]
struct Member<'a> {
    pod: &'a Pod,
    node: usize,
    /// The pod's inter-pod terms, boxed when it has any (most pods have none: a member
    /// stays small).
    terms: Option<Box<PodTerms<'a>>>,
    /// Where in [`Cluster::member_req`] the requests [`Cluster::assume`] added start, so
    /// that [`Cluster::rollback`] can take them back (they end where the next member's
    /// start).
    req_at: u32,
    nz_cpu: i64,
    nz_mem: i64,
}

/// Member indices by label: key → value → members (ascending).
type LabelIndex = super::fxhash::FxHashMap<String, super::fxhash::FxHashMap<String, Vec<u32>>>;

/// Adds member `index`, carrying `labels`, to the label index.
fn index_labels(index: &mut LabelIndex, labels: &Labels, member: u32) {
    for (k, v) in labels {
        // Keys and values are cloned only when first seen.
        let values = match index.get_mut(k.as_str()) {
            Some(values) => values,
            None => index.entry(k.clone()).or_default(),
        };
        match values.get_mut(v.as_str()) {
            Some(carriers) => carriers.push(member),
            None => {
                values.insert(v.clone(), vec![member]);
            }
        }
    }
}

/// The terms of a pod without inter-pod terms.
static NO_TERMS: PodTerms<'static> = PodTerms {
    required_affinity: Vec::new(),
    required_anti_affinity: Vec::new(),
    preferred_affinity: Vec::new(),
    preferred_anti_affinity: Vec::new(),
};

impl<'a> Member<'a> {
    fn as_ref(&self) -> MemberRef<'_, 'a> {
        MemberRef { pod: self.pod, node: self.node, terms: self.terms.as_deref().unwrap_or(&NO_TERMS) }
    }
}

/// A member as the rules read it: the pod, its node and its compiled inter-pod terms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberRef<'c, 'a> {
    pub(crate) pod: &'a Pod,
    pub(crate) node: usize,
    terms: &'c PodTerms<'a>,
}

impl<'c, 'a> MemberRef<'c, 'a> {
    /// The pod's compiled inter-pod terms.
    pub(crate) fn terms(&self) -> &'c PodTerms<'a> {
        self.terms
    }
}

/// A node without the topology key is in no domain.
pub(crate) const NO_DOMAIN: u32 = u32::MAX;

/// The domains of one topology key.
#[derive(Debug)]
pub(crate) struct Domains {
    /// Which key of the run this is (0, 1, … in order of first use).
    pub(crate) id: u32,
    /// Per node: its domain id, or [`NO_DOMAIN`].
    pub(crate) of_node: Vec<u32>,
    /// Number of domains (distinct values).
    pub(crate) count: usize,
    /// Few domains for the nodes (zones, say, not hostnames): the kept scores evaluate a
    /// rule on this key once per domain rather than once per node ([`Domains::FEW`]).
    pub(crate) coarse: bool,
    /// The nodes of each domain: those of domain `d` are `members[start[d]..start[d + 1]]`.
    start: Vec<u32>,
    members: Vec<u32>,
    /// The nodes without the key.
    pub(crate) missing: Vec<u32>,
}

impl Domains {
    /// At most this many domains (or one per eight nodes) make a key coarse.
    const FEW: usize = 8;

    fn new(id: u32, of_node: Vec<u32>, count: usize) -> Domains {
        let mut start = vec![0u32; count + 1];
        let mut missing = Vec::new();
        for (node, &d) in of_node.iter().enumerate() {
            if d == NO_DOMAIN {
                missing.push(node as u32);
            } else {
                start[d as usize + 1] += 1;
            }
        }
        for d in 0..count {
            start[d + 1] += start[d];
        }
        let mut next = start.clone();
        let mut members = vec![0u32; of_node.len() - missing.len()];
        for (node, &d) in of_node.iter().enumerate() {
            if d != NO_DOMAIN {
                members[next[d as usize] as usize] = node as u32;
                next[d as usize] += 1;
            }
        }
        let coarse = count <= Domains::FEW || count * 8 <= of_node.len();
        Domains { id, of_node, count, coarse, start, members, missing }
    }

    /// The nodes of domain `d`, by index.
    pub(crate) fn nodes(&self, d: usize) -> &[u32] {
        &self.members[self.start[d] as usize..self.start[d + 1] as usize]
    }
}

/// Mutable per-node state for one placement run.
#[derive(Debug)]
pub(crate) struct Cluster<'s> {
    snapshot: &'s Snapshot,
    pub(crate) nodes: &'s [Node],
    /// The compiled inter-pod terms of the snapshot's pods, by position, when one has any
    /// (else empty). Member `m` below [`base`](Self::base) is the snapshot's pod `m` (pods on
    /// burst targets are no members): the per-node usage comes from the snapshot's sums, so
    /// a run whose rules never look at other pods reads none of them.
    placed_terms: Vec<Option<Box<PodTerms<'s>>>>,
    /// Members from [`base`](Self::base) on: the pods assumed during the run.
    assumed: Vec<Member<'s>>,
    /// The first assumed member's index: the snapshot's pod count.
    base: usize,
    /// The assumed members' requests, one after another (see [`Member`]): one buffer rather
    /// than an allocation per pod.
    member_req: Vec<(ResourceId, i64)>,
    /// Member indices (ascending) by label: key → value → members. Built on first use (a run
    /// whose pods have no inter-pod rule or spread constraint never reads the placed pods'
    /// labels), then kept current.
    by_label: RefCell<Option<LabelIndex>>,
    /// Members with inter-pod terms.
    pub(crate) with_affinity: Vec<usize>,
    /// The members of `with_affinity` by a label every pod one of their terms selects must
    /// carry (key → value → members, ascending); `unpinned`: those with a term that pins no
    /// label. A pod's labels find the members whose terms may select it.
    term_pins: super::fxhash::FxHashMap<String, super::fxhash::FxHashMap<String, Vec<u32>>>,
    unpinned: Vec<u32>,
    /// Labels of every namespace the run sees, each with `kubernetes.io/metadata.name` set as
    /// the API server sets it.
    namespaces: super::fxhash::FxHashMap<String, Labels>,
    no_labels: Labels,
    /// Services' and controllers' selectors (default topology spreading).
    pub(crate) workloads: &'s [WorkloadSelector],
    /// Per-node counts of the pods each matcher selects, updated as placements are assumed.
    counts: RefCell<Counts>,
    /// Which nodes and domains spread constraints count, per kind of pod, built on first use.
    spread_memo: RefCell<
        super::fxhash::FxHashMap<
            super::plugins::pod_topology_spread::EligibilityKey,
            Rc<super::plugins::pod_topology_spread::Eligibility>,
        >,
    >,
    /// Topology domains per key, built on first use.
    domains: RefCell<super::fxhash::FxHashMap<String, Rc<Domains>>>,
    pub(crate) resources: ResourceIndex,
    /// Number of dense resources (row width of `alloc` and `requested`).
    pub(crate) width: usize,
    /// Allocatable, `node * width + resource`.
    pub(crate) alloc: Vec<i64>,
    /// Requested by placed and assumed pods (real requests), `node * width + resource`.
    pub(crate) requested: Vec<i64>,
    /// Non-zero-defaulted cpu requests per node (scoring).
    pub(crate) nz_cpu: Vec<i64>,
    /// Non-zero-defaulted memory requests per node (scoring).
    pub(crate) nz_mem: Vec<i64>,
    /// Pods per node.
    pub(crate) pod_count: Vec<i64>,
    /// Allocatable pods per node.
    pub(crate) allowed_pods: Vec<i64>,
    /// Host ports in use per node.
    pub(crate) ports: Vec<Vec<HostPort>>,
    /// Per node, `(taint index, reason id)` of its NoSchedule/NoExecute taints.
    pub(crate) hard_taints: Vec<Vec<(usize, ReasonId)>>,
    /// Per node, the tie hash of its name.
    pub(crate) name_hash: Vec<u64>,
    /// Per node, an id of its taints and cordon (see [`static_profiles`](Self::static_profiles)),
    /// built on first use.
    static_profiles: std::cell::OnceCell<Vec<u32>>,
    /// Reason strings.
    pub(crate) reasons: ReasonTable,
    /// Reason id of "Insufficient <resource>" per resource id.
    pub(crate) insufficient: Vec<ReasonId>,
    /// Every node whose usage changed (assumed or rolled back placements), in order: what the
    /// score caches re-evaluate.
    pub(crate) changes: Vec<u32>,
    /// Per node, the id of its *resource state*: everything the node-local dynamic filters and
    /// scores read of it (allocatable, requests, non-zero requests, pod count and room, host
    /// ports). Nodes of one state get the same verdict and node-local scores from a pod, so a
    /// pod's scores are computed once per state ([`StateMemo`](super::StateMemo)). Ids are
    /// dense and never reused within a run.
    pub(crate) state: Vec<u32>,
    /// The ids of the states seen, by their contents.
    state_ids: super::fxhash::FxHashMap<Box<[i64]>, u32>,
    /// Scratch for a state's contents while it is looked up.
    state_key: Vec<i64>,
}

impl<'s> Cluster<'s> {
    /// Builds the working state; `pending` contributes resource names only. `hard_weight` is
    /// InterPodAffinity's `hardPodAffinityWeight`.
    pub(crate) fn new(snapshot: &'s Snapshot, pending: &[&Pod], hard_weight: i64) -> Cluster<'s> {
        let nodes = snapshot.nodes();
        let usage = snapshot.node_usage();
        let mut resources = ResourceIndex::new();
        for n in nodes {
            resources.intern_extended(&n.allocatable);
        }
        for u in usage {
            for name in u.extended_names() {
                resources.intern(name);
            }
        }
        // A pending pod's effective requests name exactly the extended resources one of its
        // containers (or its overhead) asks a non-zero amount of (amounts are never negative):
        // interned from those lists, without summing. The order ids are handed out in does not
        // matter (resources fit sorts its extended reasons by name).
        for &p in pending {
            let lists = p.containers.iter().chain(&p.init_containers).map(|c| &c.requests);
            for r in lists.chain(std::iter::once(&p.overhead)) {
                resources.intern_extended(r);
            }
        }

        let width = resources.len();
        let n = nodes.len();
        let mut reasons = ReasonTable::new();
        let insufficient =
            (0..width).map(|id| reasons.intern(format!("Insufficient {}", resources.name(id)))).collect();
        let mut c = Cluster {
            snapshot,
            nodes,
            placed_terms: Vec::new(),
            assumed: Vec::new(),
            base: snapshot.pods().len(),
            member_req: Vec::new(),
            by_label: Default::default(),
            with_affinity: Vec::new(),
            term_pins: Default::default(),
            unpinned: Vec::new(),
            namespaces: namespace_labels(snapshot, pending),
            workloads: snapshot.workload_selectors(),
            counts: RefCell::new(Counts::default()),
            domains: RefCell::default(),
            spread_memo: RefCell::default(),
            no_labels: Labels::new(),
            width,
            alloc: vec![0; n * width],
            requested: vec![0; n * width],
            nz_cpu: Vec::with_capacity(n),
            nz_mem: Vec::with_capacity(n),
            pod_count: usage.iter().map(|u| u.pods).collect(),
            allowed_pods: nodes.iter().map(|node| node.allocatable.pods).collect(),
            ports: usage.iter().map(|u| u.host_ports.clone()).collect(),
            hard_taints: Vec::with_capacity(n),
            name_hash: nodes.iter().map(|node| tie_hash(node.name.as_bytes())).collect(),
            insufficient,
            static_profiles: std::cell::OnceCell::new(),
            changes: Vec::new(),
            state: Vec::new(),
            state_ids: Default::default(),
            state_key: Vec::new(),
            reasons,
            resources,
        };
        let mut sparse = Vec::new();
        for (i, (node, u)) in nodes.iter().zip(usage).enumerate() {
            let row = i * width;
            c.resources.sparse_into(&node.allocatable, &mut sparse);
            for &(id, v) in &sparse {
                c.alloc[row + id] = v;
            }
            c.resources.sparse_into(&u.requests(), &mut sparse);
            for &(id, v) in &sparse {
                c.requested[row + id] = v;
            }
            let (nz_cpu, nz_mem) = u.non_zero();
            c.nz_cpu.push(nz_cpu);
            c.nz_mem.push(nz_mem);
            let hard = node
                .taints
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
                .map(|(ti, t)| {
                    (ti, c.reasons.intern(format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value)))
                })
                .collect();
            c.hard_taints.push(hard);
        }
        if snapshot.placed_with_terms() > 0 {
            // Their terms decide where pending pods may go: compile them now.
            for (index, (pod, u)) in snapshot.pods().iter().zip(snapshot.pod_usage()).enumerate() {
                let terms = PodTerms::new(pod, hard_weight);
                if u.node == crate::model::ON_TARGET || terms.is_empty() {
                    c.placed_terms.push(None);
                    continue;
                }
                c.note_terms(index, &terms);
                c.placed_terms.push(Some(Box::new(terms)));
            }
        }
        c.state = (0..n).map(|node| c.state_id(node)).collect();
        c
    }

    /// Member `m`: the snapshot's pod `m` (below [`base`](Self::base), on a node) or an
    /// assumed pod.
    pub(crate) fn member(&self, m: usize) -> MemberRef<'_, 's> {
        match m.checked_sub(self.base) {
            Some(j) => self.assumed[j].as_ref(),
            None => MemberRef {
                pod: &self.snapshot.pods()[m],
                node: self.snapshot.pod_usage()[m].node as usize,
                terms: self.placed_terms.get(m).and_then(Option::as_deref).unwrap_or(&NO_TERMS),
            },
        }
    }

    /// Every member with its index, placed pods first.
    fn members(&self) -> impl Iterator<Item = (usize, MemberRef<'_, 's>)> {
        let placed = (0..self.base)
            .filter(|&m| self.snapshot.pod_usage()[m].node != crate::model::ON_TARGET)
            .map(|m| (m, self.member(m)));
        placed.chain(self.assumed.iter().enumerate().map(|(j, m)| (self.base + j, m.as_ref())))
    }

    /// Lists member `index` among those with inter-pod terms, under the labels its terms pin.
    fn note_terms(&mut self, index: usize, terms: &PodTerms<'_>) {
        if terms.is_empty() {
            return;
        }
        self.with_affinity.push(index);
        let member = index as u32;
        for term in terms.all() {
            match term.pin() {
                Pin::Nothing => {}
                Pin::Label(k, v) => {
                    // Keys and values are cloned only when first seen.
                    let values = match self.term_pins.get_mut(k) {
                        Some(values) => values,
                        None => self.term_pins.entry(k.to_string()).or_default(),
                    };
                    let list = match values.get_mut(v) {
                        Some(list) => list,
                        None => values.entry(v.to_string()).or_default(),
                    };
                    if list.last() != Some(&member) {
                        list.push(member);
                    }
                }
                Pin::Any => {
                    if self.unpinned.last() != Some(&member) {
                        self.unpinned.push(member);
                    }
                }
            }
        }
    }

    /// Per node, an id of its taints and whether it is cordoned: nodes of one id look alike
    /// to every static filter and score but for their labels (see
    /// [`Profiles`](super::classes::Profiles)).
    pub(crate) fn static_profiles(&self) -> &[u32] {
        self.static_profiles.get_or_init(|| {
            let mut ids: super::fxhash::FxHashMap<(bool, &[crate::model::Taint]), u32> = Default::default();
            self.nodes
                .iter()
                .map(|n| {
                    let next = ids.len() as u32;
                    *ids.entry((n.unschedulable, &n.taints[..])).or_insert(next)
                })
                .collect()
        })
    }

    /// Number of resource state ids handed out so far.
    pub(crate) fn states(&self) -> usize {
        self.state_ids.len()
    }

    /// The id of `node`'s current resource state (see [`state`](Self::state)); allocates only
    /// for a state not seen before.
    fn state_id(&mut self, node: usize) -> u32 {
        let row = node * self.width;
        let mut key = std::mem::take(&mut self.state_key);
        key.clear();
        key.extend_from_slice(&self.alloc[row..row + self.width]);
        key.extend_from_slice(&self.requested[row..row + self.width]);
        key.extend([self.nz_cpu[node], self.nz_mem[node], self.pod_count[node], self.allowed_pods[node]]);
        if !self.ports[node].is_empty() {
            // Host ports in use: a state of its own (rare, and ports do not reduce to numbers).
            key.push(-1 - node as i64);
            key.push(self.changes.len() as i64);
        }
        let id = match self.state_ids.get(&key[..]) {
            Some(&id) => id,
            None => {
                let id = self.state_ids.len() as u32;
                self.state_ids.insert(key.as_slice().into(), id);
                id
            }
        };
        self.state_key = key;
        id
    }

    /// Re-interns `node`'s state after its usage changed.
    fn restate(&mut self, node: usize) {
        self.state[node] = self.state_id(node);
    }

    /// The topology domains of `key`: each node's domain id (by its value of the label), so
    /// per-node checks index arrays instead of comparing label strings.
    pub(crate) fn domains(&self, key: &str) -> Rc<Domains> {
        if let Some(d) = self.domains.borrow().get(key) {
            return Rc::clone(d);
        }
        let mut ids: super::fxhash::FxHashMap<&str, u32> = super::fxhash::FxHashMap::default();
        let of_node = self
            .nodes
            .iter()
            .map(|n| match n.labels.get(key) {
                None => NO_DOMAIN,
                Some(v) => {
                    let next = ids.len() as u32;
                    *ids.entry(v.as_str()).or_insert(next)
                }
            })
            .collect();
        let id = self.domains.borrow().len() as u32;
        let d = Rc::new(Domains::new(id, of_node, ids.len()));
        self.domains.borrow_mut().insert(key.to_string(), Rc::clone(&d));
        d
    }

    /// The value kept for `key`, built with `build` on first use.
    pub(crate) fn spread_memo(
        &self,
        key: super::plugins::pod_topology_spread::EligibilityKey,
        build: impl FnOnce() -> super::plugins::pod_topology_spread::Eligibility,
    ) -> Rc<super::plugins::pod_topology_spread::Eligibility> {
        if let Some(e) = self.spread_memo.borrow().get(&key) {
            return Rc::clone(e);
        }
        let e = Rc::new(build());
        self.spread_memo.borrow_mut().insert(key, Rc::clone(&e));
        e
    }

    /// The per-node counts of the placed and assumed pods `matcher` selects.
    pub(crate) fn node_counts(&self, matcher: &Matcher) -> Ref<'_, [u32]> {
        let id = self.node_counts_id(matcher);
        Ref::map(self.counts.borrow(), |c| c.get(id))
    }

    /// [`node_counts`](Self::node_counts), and the nodes where the count is not zero (in no
    /// particular order).
    pub(crate) fn node_counts_sparse(&self, matcher: &Matcher) -> (Ref<'_, [u32]>, Ref<'_, [u32]>) {
        let id = self.node_counts_id(matcher);
        Ref::map_split(self.counts.borrow(), |c| (c.get(id), c.nonzero(id)))
    }

    /// The label index, built from the members on first use.
    fn label_index(&self) -> Ref<'_, LabelIndex> {
        if self.by_label.borrow().is_none() {
            let mut index = LabelIndex::default();
            for (i, m) in self.members() {
                index_labels(&mut index, &m.pod.labels, i as u32);
            }
            *self.by_label.borrow_mut() = Some(index);
        }
        Ref::map(self.by_label.borrow(), |index| index.as_ref().expect("built above"))
    }

    fn node_counts_id(&self, matcher: &Matcher) -> usize {
        self.counts.borrow_mut().id(matcher, |m| {
            let mut counts = vec![0u32; self.nodes.len()];
            let mut nonzero = Vec::new();
            let mut count = |member: MemberRef<'_, '_>| {
                if m.matches(member.pod, self.namespace_labels(&member.pod.namespace)) {
                    if counts[member.node] == 0 {
                        nonzero.push(member.node as u32);
                    }
                    counts[member.node] += 1;
                }
            };
            // A matcher that pins a label looks only at the members that carry it.
            match m.parts.iter().find_map(super::matchers::Part::pinned_label) {
                Some((k, v)) => {
                    let index = self.label_index();
                    let carriers = index.get(k.as_str()).and_then(|values| values.get(v.as_str()));
                    for &i in carriers.into_iter().flatten() {
                        count(self.member(i as usize));
                    }
                }
                None => self.members().for_each(|(_, m)| count(m)),
            }
            (counts, nonzero)
        })
    }

    /// Labels of a namespace (none when the snapshot does not describe it).
    pub(crate) fn namespace_labels(&self, namespace: &str) -> &Labels {
        self.namespaces.get(namespace).unwrap_or(&self.no_labels)
    }

    /// Records `pod` on `node`: its real requests, non-zero cpu/memory, host ports and terms.
    pub(crate) fn assume(
        &mut self,
        node: usize,
        pod: &'s Pod,
        terms: PodTerms<'s>,
        req: &[(ResourceId, i64)],
        nz_cpu: i64,
        nz_mem: i64,
    ) {
        let index = self.base + self.assumed.len();
        self.note_terms(index, &terms);
        if let Some(by_label) = self.by_label.get_mut() {
            index_labels(by_label, &pod.labels, index as u32);
        }
        if !self.counts.get_mut().is_empty() {
            let namespace_labels = self.namespaces.get(&pod.namespace).unwrap_or(&self.no_labels);
            self.counts.get_mut().update(pod, namespace_labels, node, 1);
        }
        let req_at = u32::try_from(self.member_req.len()).unwrap_or(u32::MAX);
        self.member_req.extend_from_slice(req);
        let terms = (!terms.is_empty()).then(|| Box::new(terms));
        self.assumed.push(Member { pod, node, terms, req_at, nz_cpu, nz_mem });
        let row = node * self.width;
        for &(id, v) in req {
            self.requested[row + id] = self.requested[row + id].saturating_add(v);
        }
        self.nz_cpu[node] = self.nz_cpu[node].saturating_add(nz_cpu);
        self.nz_mem[node] = self.nz_mem[node].saturating_add(nz_mem);
        self.pod_count[node] += 1;
        self.ports[node].extend_from_slice(&pod.host_ports);
        self.changes.push(node as u32);
        self.restate(node);
    }

    /// The members with inter-pod terms (ascending) of which some term may select `pod`: a
    /// subset of `with_affinity` that holds every member one of whose terms does.
    pub(crate) fn members_about(&self, pod: &Pod, out: &mut Vec<usize>) {
        out.clear();
        out.extend(self.unpinned.iter().map(|&m| m as usize));
        for (k, v) in &pod.labels {
            if let Some(list) = self.term_pins.get(k.as_str()).and_then(|values| values.get(v.as_str())) {
                out.extend(list.iter().map(|&m| m as usize));
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// A mark to [`rollback`](Self::rollback) to: the number of members so far.
    pub(crate) fn mark(&self) -> usize {
        self.base + self.assumed.len()
    }

    /// Takes back every placement assumed after `mark`, newest first.
    pub(crate) fn rollback(&mut self, mark: usize) {
        while self.mark() > mark {
            let Some(m) = self.assumed.pop() else { break };
            let index = self.mark();
            let terms = m.as_ref().terms;
            let row = m.node * self.width;
            let at = (m.req_at as usize).min(self.member_req.len());
            for &(id, v) in &self.member_req[at..] {
                self.requested[row + id] -= v;
            }
            self.member_req.truncate(at);
            self.nz_cpu[m.node] -= m.nz_cpu;
            self.nz_mem[m.node] -= m.nz_mem;
            self.pod_count[m.node] -= 1;
            let ports = &mut self.ports[m.node];
            ports.truncate(ports.len().saturating_sub(m.pod.host_ports.len()));
            if let Some(by_label) = self.by_label.get_mut() {
                for (k, v) in &m.pod.labels {
                    if let Some(carriers) = by_label.get_mut(k.as_str()).and_then(|values| values.get_mut(v.as_str()))
                        && carriers.last() == Some(&(index as u32))
                    {
                        carriers.pop();
                    }
                }
            }
            self.changes.push(m.node as u32);
            self.restate(m.node);
            if !self.counts.get_mut().is_empty() {
                let namespace_labels = self.namespaces.get(&m.pod.namespace).unwrap_or(&self.no_labels);
                self.counts.get_mut().update(m.pod, namespace_labels, m.node, -1);
            }
            if self.with_affinity.last() == Some(&index) {
                self.with_affinity.pop();
                let member = index as u32;
                for term in terms.all() {
                    if let Pin::Label(k, v) = term.pin()
                        && let Some(list) = self.term_pins.get_mut(k).and_then(|values| values.get_mut(v))
                        && list.last() == Some(&member)
                    {
                        list.pop();
                    }
                }
                if self.unpinned.last() == Some(&member) {
                    self.unpinned.pop();
                }
            }
        }
    }

    /// Allocatable of `resource` on `node`.
    #[inline]
    pub(crate) fn alloc(&self, node: usize, resource: ResourceId) -> i64 {
        self.alloc[node * self.width + resource]
    }

    /// Real requests of `resource` on `node`.
    #[inline]
    pub(crate) fn requested(&self, node: usize, resource: ResourceId) -> i64 {
        self.requested[node * self.width + resource]
    }
}

/// The label the API server puts on every namespace, holding its name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn namespace_labels(snapshot: &Snapshot, pending: &[&Pod]) -> super::fxhash::FxHashMap<String, Labels> {
    let mut out: super::fxhash::FxHashMap<String, Labels> =
        snapshot.namespaces().iter().map(|(name, labels)| (name.clone(), labels.clone())).collect();
    for namespace in snapshot.pod_namespaces().chain(pending.iter().map(|p| p.namespace.as_str())) {
        if !out.contains_key(namespace) {
            out.insert(namespace.to_string(), Labels::new());
        }
    }
    for (name, labels) in &mut out {
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
    }
    out
}

/// 64-bit FNV-1a: a stable hash for deterministic tie-breaking.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A name's hash for tie-breaking: FNV-1a, then the splitmix64 finaliser so every bit depends
/// on every byte.
pub(crate) fn tie_hash(bytes: &[u8]) -> u64 {
    let mut z = fnv1a(bytes);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The tie-break key of a pod on a node (or burst target): their tie hashes XORed. Lower wins.
/// For one pod it orders the nodes pseudo-randomly, a different order for each pod, and the
/// kept scores find the smallest over any number of tied nodes in O(64 log n).
#[inline]
pub(crate) fn tie_key(pod: u64, node: u64) -> u64 {
    pod ^ node
}
