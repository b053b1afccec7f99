//! The scheduling view of a pod.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::affinity::{PodAffinity, TopologySpreadConstraint};
use super::node::{Taint, TaintEffect};
use super::resources::{ResourceName, Resources};
use super::selector::{Labels, NodeSelector, NodeSelectorTerm};

/// kube-scheduler's CPU request for a container that states none, used only in scoring (100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// kube-scheduler's memory request for a container that states none, used only in scoring (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// One container (or init container) of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Resource requests.
    #[serde(default)]
    pub requests: Resources,
    /// Names of resources whose request is written as an explicit zero (`cpu: "0"`). Scoring
    /// replaces a *missing* cpu or memory request with kube-scheduler's non-zero default
    /// (100m, 200Mi) but keeps an explicit zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explicit_zero: Vec<String>,
    /// For init containers: `restartPolicy: Always`, i.e. a sidecar that keeps running beside the
    /// app containers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sidecar: bool,
}

impl Container {
    /// A container with these requests.
    pub fn new(name: impl Into<String>, requests: Resources) -> Container {
        Container { name: name.into(), requests, ..Container::default() }
    }

    /// Requests with kube-scheduler's non-zero defaults for a missing cpu or memory request.
    fn non_zero_requests(&self) -> Resources {
        let mut r = self.requests.clone();
        (r.cpu_millis, r.memory) = self.non_zero_cpu_memory();
        r
    }

    /// The cpu and memory of [`non_zero_requests`](Self::non_zero_requests).
    fn non_zero_cpu_memory(&self) -> (i64, i64) {
        let explicit = |name: &str| self.explicit_zero.iter().any(|n| n == name);
        let r = &self.requests;
        (
            if r.cpu_millis == 0 && !explicit("cpu") { DEFAULT_MILLI_CPU_REQUEST } else { r.cpu_millis },
            if r.memory == 0 && !explicit("memory") { DEFAULT_MEMORY_REQUEST } else { r.memory },
        )
    }
}

/// Operator of a [`Toleration`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TolerationOperator {
    /// The taint's value must equal the toleration's (the default).
    #[default]
    Equal,
    /// Any value (and, with an empty key, any key).
    Exists,
    /// The taint's value, as an integer, is greater than the toleration's.
    Gt,
    /// The taint's value, as an integer, is less than the toleration's.
    Lt,
}

/// A pod toleration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key to tolerate; empty with `Exists` tolerates every key.
    #[serde(default)]
    pub key: String,
    /// How the value is compared.
    #[serde(default)]
    pub operator: TolerationOperator,
    /// Value to compare with.
    #[serde(default)]
    pub value: String,
    /// Effect to tolerate; `None` tolerates every effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long the pod stays after the taint appears (not used in placement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// A toleration `key=value:effect` with operator `Equal`.
    pub fn equal(key: impl Into<String>, value: impl Into<String>, effect: Option<TaintEffect>) -> Toleration {
        Toleration { key: key.into(), value: value.into(), effect, ..Toleration::default() }
    }

    /// A toleration of every taint with this key (operator `Exists`); an empty key tolerates
    /// every taint (of `effect`, or of every effect when `None`).
    pub fn exists(key: impl Into<String>, effect: Option<TaintEffect>) -> Toleration {
        Toleration { key: key.into(), operator: TolerationOperator::Exists, effect, ..Toleration::default() }
    }

    /// Whether this toleration tolerates `taint`, with Kubernetes' rules: the effects match (or
    /// the toleration names none), the keys match (or the key is empty with `Exists`), and the
    /// value satisfies the operator (`Gt`/`Lt` compare canonical decimal integers; anything else
    /// never matches).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        // As in Kubernetes' `ToleratesTaint`, an empty key matches every key (API validation
        // requires `Exists` then; an empty key with `Equal` tolerates every taint with an equal value).
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == taint.value,
            TolerationOperator::Gt | TolerationOperator::Lt => {
                match (decimal_integer(&taint.value), decimal_integer(&self.value)) {
                    (Some(t), Some(v)) if self.operator == TolerationOperator::Gt => t > v,
                    (Some(t), Some(v)) => t < v,
                    _ => false,
                }
            }
        }
    }
}

/// Parses a canonical decimal integer (no leading zeros, no `+`), as the `Gt`/`Lt` toleration
/// operators require.
fn decimal_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if canonical { s.parse().ok() } else { None }
}

/// Transport protocol of a host port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    TCP,
    /// UDP.
    UDP,
    /// SCTP.
    SCTP,
}

/// A port a pod claims on its node's network (`hostPort`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPort {
    /// Host IP the port binds; empty or `0.0.0.0` means every address.
    #[serde(default)]
    pub host_ip: String,
    /// Protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// Port number (1–65535).
    pub port: u16,
}

impl HostPort {
    /// A TCP host port on every address.
    pub fn tcp(port: u16) -> HostPort {
        HostPort { host_ip: String::new(), protocol: Protocol::TCP, port }
    }

    /// Whether two host ports collide: same port and protocol, and overlapping IPs (the
    /// wildcard `0.0.0.0` or empty overlaps every address). Port 0 claims nothing.
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        let wild = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.port != 0
            && self.port == other.port
            && self.protocol == other.protocol
            && (wild(&self.host_ip) || wild(&other.host_ip) || self.host_ip == other.host_ip)
    }
}

/// Node affinity: a required selector (filter) and weighted preferences (score).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    #[serde(
        default,
        rename = "requiredDuringSchedulingIgnoredDuringExecution",
        skip_serializing_if = "Option::is_none"
    )]
    pub required: Option<NodeSelector>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    #[serde(
        default,
        rename = "preferredDuringSchedulingIgnoredDuringExecution",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub preferred: Vec<PreferredSchedulingTerm>,
}

/// A weighted node preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PreferredSchedulingTerm {
    /// Weight 1–100.
    pub weight: i32,
    /// The term a node must match to earn the weight.
    pub preference: NodeSelectorTerm,
}

/// What a pod needs of the machine it runs on, beyond resources: what burst targets check
/// before taking a pod (a VM node offers all of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFeatures {
    /// Kinds of the pod's volumes, as Kubernetes names the volume source (`emptyDir`,
    /// `configMap`, `secret`, `projected`, `hostPath`, `persistentVolumeClaim`, `azureFile`,
    /// `nfs`, ...; CSI volumes as `csi:<driver>`), each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// A container runs privileged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// `hostNetwork: true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,
    /// A container has a startup probe.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub startup_probe: bool,
    /// A container has `postStart` or `preStop` hooks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lifecycle_hooks: bool,
    /// The pod needs IPv6-only networking (annotation `spillway.rs/ipv6-only: "true"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ipv6_only: bool,
    /// A Windows pod (`spec.os.name: windows`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub windows: bool,
}

/// The scheduling view of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name, unique within the namespace.
    pub name: String,
    /// Unique id; also seeds the deterministic tie-break between equally scored nodes.
    #[serde(default)]
    pub uid: String,
    /// Labels.
    #[serde(default)]
    pub labels: Labels,
    /// Priority (higher is placed first).
    #[serde(default)]
    pub priority: i32,
    /// Creation order: among pods of equal priority, smaller is placed first.
    #[serde(default)]
    pub creation_order: i64,
    /// App containers.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Init containers, in order (sidecars included, marked [`Container::sidecar`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    /// Pod overhead (RuntimeClass), added to the requests.
    #[serde(default)]
    pub overhead: Resources,
    /// `spec.nodeSelector`.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub node_selector: Labels,
    /// Node affinity.
    #[serde(default)]
    pub node_affinity: NodeAffinity,
    /// Inter-pod affinity (modelled; the engine honours it once the InterPodAffinity plugin lands).
    #[serde(default, skip_serializing_if = "PodAffinity::is_empty")]
    pub pod_affinity: PodAffinity,
    /// Inter-pod anti-affinity (modelled; honoured once the InterPodAffinity plugin lands).
    #[serde(default, skip_serializing_if = "PodAffinity::is_empty")]
    pub pod_anti_affinity: PodAffinity,
    /// Topology spread constraints (modelled; honoured once the PodTopologySpread plugin lands).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Host ports the pod's containers claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_ports: Vec<HostPort>,
    /// Kind of the controlling owner (`ReplicaSet`, `DaemonSet`, `Job`, ...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_kind: Option<String>,
    /// Name of the controlling owner, if any (drain-back limits moves per owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// Volumes, privileges and other needs burst targets check.
    #[serde(default)]
    pub features: PodFeatures,
    /// How long the pod may wait for a new VM node (annotation `spillway.rs/max-wait-seconds`);
    /// overrides the burst policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_seconds: Option<i64>,
    /// How long the pod is expected to run (annotation `spillway.rs/expected-lifetime-seconds`),
    /// for burst cost comparisons; overrides the burst policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_lifetime_seconds: Option<i64>,
    /// The node the pod is bound to; `None` for a pending pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

impl Pod {
    /// A pod `namespace/name` with uid `namespace/name` and no containers.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Pod {
        let (namespace, name) = (namespace.into(), name.into());
        Pod { uid: format!("{namespace}/{name}"), namespace, name, ..Pod::default() }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        // Built directly rather than through `format!`: every decision carries one.
        let mut key = String::with_capacity(self.namespace.len() + 1 + self.name.len());
        key.push_str(&self.namespace);
        key.push('/');
        key.push_str(&self.name);
        key
    }

    /// Adds an app container with these requests.
    pub fn with_container(mut self, requests: Resources) -> Pod {
        let name = format!("c{}", self.containers.len());
        self.containers.push(Container::new(name, requests));
        self
    }

    /// Adds an init container (a sidecar when `sidecar` is true).
    pub fn with_init_container(mut self, requests: Resources, sidecar: bool) -> Pod {
        let name = format!("init{}", self.init_containers.len());
        self.init_containers.push(Container { sidecar, ..Container::new(name, requests) });
        self
    }

    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Pod {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a `nodeSelector` entry.
    pub fn with_node_selector(mut self, key: impl Into<String>, value: impl Into<String>) -> Pod {
        self.node_selector.insert(key.into(), value.into());
        self
    }

    /// Adds a toleration.
    pub fn with_toleration(mut self, toleration: Toleration) -> Pod {
        self.tolerations.push(toleration);
        self
    }

    /// Adds a host port.
    pub fn with_host_port(mut self, port: HostPort) -> Pod {
        self.host_ports.push(port);
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, priority: i32) -> Pod {
        self.priority = priority;
        self
    }

    /// Binds the pod to a node (an already placed pod).
    pub fn on_node(mut self, node: impl Into<String>) -> Pod {
        self.node_name = Some(node.into());
        self
    }

    /// The pod's effective requests as Kubernetes computes them: the larger of (a) the sum of
    /// app containers and sidecars and (b) for each init container, its request plus the
    /// sidecars started before it; then the pod overhead is added.
    ///
    /// ```
    /// use spillway::{Pod, Resources};
    /// let cpu = |c: &str| Resources::parse([("cpu", c)]).unwrap();
    /// let pod = Pod::new("ns", "p")
    ///     .with_container(cpu("2"))
    ///     .with_container(cpu("1"))
    ///     .with_init_container(cpu("500m"), true) // sidecar: adds to the running sum
    ///     .with_init_container(cpu("4"), false); // runs after the sidecar started: 4 + 0.5
    /// assert_eq!(pod.requests().cpu_millis, 4500);
    /// ```
    pub fn requests(&self) -> Resources {
        if self.init_containers.is_empty() {
            // The common case, without copies: the containers' sum plus the overhead.
            let mut sum = self.overhead.clone();
            for c in &self.containers {
                sum.add(&c.requests);
            }
            return sum;
        }
        self.accumulate(|c| c.requests.clone())
    }

    /// Like [`requests`](Self::requests), but with kube-scheduler's non-zero defaults (100m CPU,
    /// 200Mi memory) for each container that states no cpu or memory request; used by the
    /// resource scoring plugins only. A pod without containers gets no defaults.
    pub fn non_zero_requests(&self) -> Resources {
        self.accumulate(Container::non_zero_requests)
    }

    /// The cpu (millicores) and memory of [`non_zero_requests`](Self::non_zero_requests), the
    /// only amounts the scoring plugins read, without building the whole list when the pod has
    /// no init containers.
    pub(crate) fn non_zero_cpu_memory(&self) -> (i64, i64) {
        if !self.init_containers.is_empty() {
            let nz = self.non_zero_requests();
            return (nz.cpu_millis, nz.memory);
        }
        let (mut cpu, mut memory) = (self.overhead.cpu_millis, self.overhead.memory);
        for c in &self.containers {
            let (c_cpu, c_memory) = c.non_zero_cpu_memory();
            cpu = cpu.saturating_add(c_cpu);
            memory = memory.saturating_add(c_memory);
        }
        (cpu, memory)
    }

    /// Whether the pod has any inter-pod affinity or anti-affinity term, required or preferred.
    pub(crate) fn has_inter_pod_terms(&self) -> bool {
        let (affinity, anti) = (&self.pod_affinity, &self.pod_anti_affinity);
        !(affinity.required.is_empty()
            && affinity.preferred.is_empty()
            && anti.required.is_empty()
            && anti.preferred.is_empty())
    }

    fn accumulate(&self, requests_of: impl Fn(&Container) -> Resources) -> Resources {
        let mut sum = Resources::default();
        for c in &self.containers {
            sum.add(&requests_of(c));
        }
        let mut sidecars = Resources::default();
        let mut init_peak = Resources::default();
        for init in &self.init_containers {
            let own = requests_of(init);
            let during = if init.sidecar {
                sum.add(&own);
                sidecars.add(&own);
                sidecars.clone()
            } else {
                let mut r = own;
                r.add(&sidecars);
                r
            };
            init_peak.max_with(&during);
        }
        sum.max_with(&init_peak);
        sum.add(&self.overhead);
        sum
    }

    /// True when the pod requests nothing at all (a best-effort pod).
    pub fn is_best_effort(&self) -> bool {
        self.requests().is_zero()
    }

    /// Whether the pod tolerates `taint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        self.tolerations.iter().any(|t| t.tolerates(taint))
    }

    /// The pod's request of one resource.
    pub fn request(&self, name: &ResourceName) -> i64 {
        self.requests().get(name)
    }
}

impl fmt::Display for Pod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu: &str, mem: &str) -> Resources {
        Resources::parse([("cpu", cpu), ("memory", mem)]).unwrap()
    }

    #[test]
    fn the_shortcut_without_init_containers_matches_the_general_sum() {
        let gpu = Resources::parse([("cpu", "250m"), ("example.com/gpu", "1")]).unwrap();
        let mut explicit = Container::new("zero", Resources::default());
        explicit.explicit_zero.push("cpu".into());
        let pods = [
            Pod::new("ns", "empty"),
            Pod::new("ns", "one").with_container(r("500m", "1Gi")),
            Pod::new("ns", "defaults").with_container(Resources::default()).with_container(gpu.clone()),
            Pod { overhead: r("100m", "64Mi"), ..Pod::new("ns", "overhead").with_container(gpu) },
            Pod { containers: vec![explicit, Container::new("c", r("1", "0"))], ..Pod::new("ns", "explicit") },
        ];
        for pod in &pods {
            assert_eq!(pod.requests(), pod.accumulate(|c| c.requests.clone()), "{}", pod.name);
            let nz = pod.non_zero_requests();
            assert_eq!(pod.non_zero_cpu_memory(), (nz.cpu_millis, nz.memory), "{}", pod.name);
        }
    }

    #[test]
    fn init_containers_take_the_max_not_the_sum() {
        let pod = Pod::new("a", "b")
            .with_container(r("2", "1Gi"))
            .with_container(r("1", "1Gi"))
            .with_init_container(r("2", "3Gi"), false)
            .with_init_container(r("2", "1Gi"), false);
        let req = pod.requests();
        assert_eq!((req.cpu_millis, req.memory), (3000, 3 << 30));
    }

    #[test]
    fn sidecars_add_to_the_sum_and_to_later_init_containers() {
        let pod = Pod::new("a", "b")
            .with_container(r("1", "1Gi"))
            .with_init_container(r("3", "0"), false) // before the sidecar: 3
            .with_init_container(r("500m", "1Gi"), true) // sidecar
            .with_init_container(r("3", "0"), false); // after: 3.5
        let req = pod.requests();
        assert_eq!(req.cpu_millis, 3500);
        assert_eq!(req.memory, 2 << 30);
    }

    #[test]
    fn overhead_is_added() {
        let mut pod = Pod::new("a", "b").with_container(r("1", "1Gi"));
        pod.overhead = r("250m", "100Mi");
        assert_eq!(pod.requests().cpu_millis, 1250);
        assert_eq!(pod.requests().memory, (1 << 30) + (100 << 20));
    }

    #[test]
    fn non_zero_defaults_apply_per_container_but_not_to_explicit_zero() {
        let mut pod = Pod::new("a", "b").with_container(Resources::default()).with_container(r("1", "0"));
        pod.containers[1].explicit_zero.push("memory".into());
        let nz = pod.non_zero_requests();
        assert_eq!(nz.cpu_millis, 1100);
        assert_eq!(nz.memory, DEFAULT_MEMORY_REQUEST);
        assert_eq!(Pod::new("a", "empty").non_zero_requests(), Resources::default());
        assert_eq!(pod.requests().cpu_millis, 1000);
    }

    #[test]
    fn tolerations() {
        use TaintEffect::*;
        let taint = Taint::new("dedicated", "gpu", NoSchedule);
        assert!(Toleration::equal("dedicated", "gpu", Some(NoSchedule)).tolerates(&taint));
        assert!(Toleration::equal("dedicated", "gpu", None).tolerates(&taint));
        assert!(!Toleration::equal("dedicated", "gpu", Some(NoExecute)).tolerates(&taint));
        assert!(!Toleration::equal("dedicated", "cpu", None).tolerates(&taint));
        assert!(Toleration::exists("dedicated", None).tolerates(&taint));
        assert!(Toleration::exists("", None).tolerates(&taint));
        assert!(!Toleration::exists("", Some(PreferNoSchedule)).tolerates(&taint));
        // An empty key with Equal matches any key whose taint value is equal.
        assert!(Toleration::equal("", "gpu", None).tolerates(&taint));
        assert!(!Toleration::equal("", "cpu", None).tolerates(&taint));
        assert!(Toleration::equal("", "", None).tolerates(&Taint::new("any", "", NoSchedule)));
        let num = Taint::new("level", "5", NoSchedule);
        let op = |operator, value: &str| Toleration {
            key: "level".into(),
            operator,
            value: value.into(),
            ..Default::default()
        };
        assert!(op(TolerationOperator::Gt, "4").tolerates(&num));
        assert!(!op(TolerationOperator::Gt, "5").tolerates(&num));
        assert!(op(TolerationOperator::Lt, "6").tolerates(&num));
        assert!(!op(TolerationOperator::Lt, "x").tolerates(&num));
        assert!(!op(TolerationOperator::Gt, "04").tolerates(&num), "leading zeros are not canonical");
    }

    #[test]
    fn host_port_conflicts() {
        let any = HostPort::tcp(80);
        let on_ip = HostPort { host_ip: "10.0.0.1".into(), ..HostPort::tcp(80) };
        let other_ip = HostPort { host_ip: "10.0.0.2".into(), ..HostPort::tcp(80) };
        let udp = HostPort { protocol: Protocol::UDP, ..HostPort::tcp(80) };
        assert!(any.conflicts_with(&on_ip));
        assert!(!on_ip.conflicts_with(&other_ip));
        assert!(!any.conflicts_with(&udp));
        assert!(!any.conflicts_with(&HostPort::tcp(81)));
    }
}
