//! Burst targets: serverless container backends (Azure Container Instances, AWS Fargate, ...)
//! that take overflow pods, each with what it can run, how it sizes and bills an instance,
//! its quotas and its price.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::money::Money;
use super::node::Taint;
use super::quantity::{QuantityError, format_millis, format_units, parse_millis, parse_units};
use super::resources::Resources;
use super::selector::Labels;

const GB: i64 = 1_000_000_000;

/// CPU and memory of one burst instance (a container group, a Fargate task, ...).
///
/// Written as Kubernetes quantities: `{cpu: 500m, memory: 1.1G}` (numbers are accepted too:
/// cores and bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "SizeText", into = "SizeText")]
pub struct InstanceSize {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
}

/// The written form of an [`InstanceSize`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeText {
    cpu: QuantityValue,
    memory: QuantityValue,
}

/// A quantity as a string (`"500m"`, `"1.1G"`) or a number.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum QuantityValue {
    Text(String),
    Int(i64),
    Float(f64),
}

impl QuantityValue {
    fn text(&self) -> String {
        match self {
            QuantityValue::Text(t) => t.clone(),
            QuantityValue::Int(i) => i.to_string(),
            QuantityValue::Float(f) => f.to_string(),
        }
    }
}

impl TryFrom<SizeText> for InstanceSize {
    type Error = QuantityError;
    fn try_from(t: SizeText) -> Result<InstanceSize, QuantityError> {
        Ok(InstanceSize { cpu_millis: parse_millis(&t.cpu.text())?, memory_bytes: parse_units(&t.memory.text())? })
    }
}

impl From<InstanceSize> for SizeText {
    fn from(s: InstanceSize) -> SizeText {
        SizeText {
            cpu: QuantityValue::Text(format_millis(s.cpu_millis)),
            memory: QuantityValue::Text(format_bytes(s.memory_bytes)),
        }
    }
}

/// Bytes with the largest exact decimal suffix (`1.1G` is written `1100M`), else binary, else
/// plain; what ACI bills in decimal GB reads naturally.
fn format_bytes(bytes: i64) -> String {
    for (suffix, unit) in [("G", GB), ("M", 1_000_000), ("k", 1_000)] {
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    format_units(bytes)
}

impl InstanceSize {
    /// A size of `cpu_millis` millicores and `memory_bytes` bytes.
    pub const fn new(cpu_millis: i64, memory_bytes: i64) -> InstanceSize {
        InstanceSize { cpu_millis, memory_bytes }
    }
}

/// One vCPU tier of a tiered size model: the allowed memory sizes at that CPU.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeTier {
    /// CPU of the tier in millicores.
    pub cpu_millis: i64,
    /// Allowed memory sizes in bytes, ascending.
    pub memory_bytes: Vec<i64>,
}

/// How a backend turns a pod's requests into the size it runs and bills.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SizeModel {
    /// Requests are rounded UP to multiples of a step, with minimums (ACI: 0.01 vCPU and 0.1 GB).
    #[serde(rename_all = "camelCase")]
    Granular {
        /// CPU step in millicores (ACI: 10).
        cpu_step_millis: i64,
        /// Memory step in bytes (ACI: 100,000,000, i.e. 0.1 GB decimal).
        memory_step_bytes: i64,
        /// Smallest CPU (ACI: 10m).
        #[serde(default)]
        min_cpu_millis: i64,
        /// Smallest memory (ACI: 0.1 GB).
        #[serde(default)]
        min_memory_bytes: i64,
    },
    /// A fixed memory overhead is added, then the smallest allowed CPU/memory combination that
    /// covers the request is taken (AWS Fargate: +256 MiB, then 0.25 vCPU with 0.5/1/2 GB, ...).
    #[serde(rename_all = "camelCase")]
    Tiers {
        /// Memory added to every pod before choosing a tier (Fargate: 256 MiB).
        #[serde(default)]
        memory_overhead_bytes: i64,
        /// The tiers, by ascending CPU.
        tiers: Vec<SizeTier>,
    },
}

impl SizeModel {
    /// ACI's granularity: 0.01 vCPU and 0.1 GB steps.
    pub fn aci() -> SizeModel {
        SizeModel::Granular {
            cpu_step_millis: 10,
            memory_step_bytes: GB / 10,
            min_cpu_millis: 10,
            min_memory_bytes: GB / 10,
        }
    }

    /// AWS Fargate's table (memory in GiB): +256 MiB, then the smallest allowed combination.
    pub fn fargate() -> SizeModel {
        const GIB: i64 = 1 << 30;
        let range = |from: i64, to: i64, step: i64| (from..=to).step_by(step as usize).map(|g| g * GIB).collect();
        SizeModel::Tiers {
            memory_overhead_bytes: 256 << 20,
            tiers: vec![
                SizeTier { cpu_millis: 250, memory_bytes: vec![GIB / 2, GIB, 2 * GIB] },
                SizeTier { cpu_millis: 500, memory_bytes: range(1, 4, 1) },
                SizeTier { cpu_millis: 1000, memory_bytes: range(2, 8, 1) },
                SizeTier { cpu_millis: 2000, memory_bytes: range(4, 16, 1) },
                SizeTier { cpu_millis: 4000, memory_bytes: range(8, 30, 1) },
                SizeTier { cpu_millis: 8000, memory_bytes: range(16, 60, 4) },
                SizeTier { cpu_millis: 16000, memory_bytes: range(32, 120, 8) },
            ],
        }
    }

    /// The size a request of `cpu_millis` and `memory_bytes` runs at, or `None` when no allowed
    /// size covers it (a tier table has a largest size).
    ///
    /// ```
    /// use spillway::model::{InstanceSize, SizeModel};
    /// // ACI rounds 250m / 1Gi up to 0.25 vCPU / 1.1 GB.
    /// assert_eq!(SizeModel::aci().size_for(250, 1 << 30), Some(InstanceSize::new(250, 1_100_000_000)));
    /// // Fargate adds 256 MiB, so 1 vCPU / 8 GiB needs the 2 vCPU tier with 9 GiB.
    /// assert_eq!(SizeModel::fargate().size_for(1000, 8 << 30), Some(InstanceSize::new(2000, 9 << 30)));
    /// ```
    pub fn size_for(&self, cpu_millis: i64, memory_bytes: i64) -> Option<InstanceSize> {
        match self {
            SizeModel::Granular { cpu_step_millis, memory_step_bytes, min_cpu_millis, min_memory_bytes } => {
                let up = |v: i64, step: i64| {
                    if step <= 0 { v } else { (v / step + i64::from(v % step != 0)).saturating_mul(step) }
                };
                Some(InstanceSize {
                    cpu_millis: up(cpu_millis, *cpu_step_millis).max(*min_cpu_millis),
                    memory_bytes: up(memory_bytes, *memory_step_bytes).max(*min_memory_bytes),
                })
            }
            SizeModel::Tiers { memory_overhead_bytes, tiers } => {
                let memory = memory_bytes.saturating_add(*memory_overhead_bytes);
                tiers.iter().filter(|t| t.cpu_millis >= cpu_millis).find_map(|t| {
                    t.memory_bytes.iter().find(|m| **m >= memory).map(|m| InstanceSize::new(t.cpu_millis, *m))
                })
            }
        }
    }
}

/// What a burst target can run. Everything defaults to "not supported", so a target states
/// what it offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstFeatures {
    /// Volume kinds the target can mount (`emptyDir`, `configMap`, `secret`, `projected`,
    /// `azureFile`, `csi:file.csi.azure.com`, `persistentVolumeClaim`, `hostPath`, ...).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Privileged containers.
    #[serde(default)]
    pub privileged: bool,
    /// `hostNetwork: true` pods.
    #[serde(default)]
    pub host_network: bool,
    /// DaemonSet-owned pods.
    #[serde(default)]
    pub daemon_sets: bool,
    /// IPv6-only pods.
    #[serde(default)]
    pub ipv6: bool,
    /// Startup probes.
    #[serde(default)]
    pub startup_probes: bool,
    /// Container lifecycle hooks (`postStart`/`preStop`).
    #[serde(default)]
    pub lifecycle_hooks: bool,
    /// Windows pods (in addition to Linux).
    #[serde(default)]
    pub windows: bool,
}

/// Per-instance limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceLimits {
    /// Largest CPU of one instance in millicores (ACI's safe limit: 4000).
    pub max_cpu_millis: i64,
    /// Largest memory of one instance in bytes (ACI's safe limit: 16 GB).
    pub max_memory_bytes: i64,
    /// GPU resources (e.g. `nvidia.com/gpu`) and the most one instance may have; absent = none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gpus: BTreeMap<String, i64>,
}

/// Quotas of a target, across all its instances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstQuota {
    /// Total CPU in millicores (ACI's default: 100 cores = 100,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cpu_millis: Option<i64>,
    /// Total instances (ACI's default: 100 container groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<i64>,
    /// Creations allowed per window (ACI: 100 per 300 s); creations in one plan beyond it wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_creates_per_window: Option<i64>,
    /// The creation window in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_window_seconds: Option<i64>,
}

/// How a target bills an instance, per hour of running.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceModel {
    /// Price per vCPU-hour (ACI East US: 0.0405).
    pub per_vcpu_hour: Money,
    /// Price per GB-hour, decimal GB (ACI East US: 0.00445).
    pub per_gb_hour: Money,
    /// Price per GPU-hour, by GPU resource name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_gpu_hour: BTreeMap<String, Money>,
    /// Extra per vCPU-hour for Windows pods (ACI: about 0.0432).
    #[serde(default)]
    pub windows_per_vcpu_hour: Money,
    /// Spot discount in percent (0–100) when the target runs spot instances.
    #[serde(default)]
    pub spot_discount_percent: i64,
}

impl PriceModel {
    /// Hourly cost of an instance of `size` (plus `gpus`), rounded up to a micro-unit.
    pub fn hourly(&self, size: InstanceSize, gpus: &BTreeMap<String, i64>, windows: bool) -> Money {
        let mut per_vcpu = i128::from(self.per_vcpu_hour.micros());
        if windows {
            per_vcpu += i128::from(self.windows_per_vcpu_hour.micros());
        }
        // micro-units × millicores / 1000 and micro-units × bytes / 10^9, summed exactly, then
        // rounded up once.
        let mut numerator = per_vcpu * i128::from(size.cpu_millis) * 1_000_000
            + i128::from(self.per_gb_hour.micros()) * i128::from(size.memory_bytes);
        for (name, count) in gpus {
            let price = self.per_gpu_hour.get(name).map_or(0, |m| i128::from(m.micros()));
            numerator += price * i128::from(*count) * 1_000_000_000;
        }
        let discount = i128::from(100 - self.spot_discount_percent.clamp(0, 100));
        let micros = (numerator * discount).div_euclid(100 * 1_000_000_000)
            + i128::from((numerator * discount).rem_euclid(100 * 1_000_000_000) != 0);
        Money::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// A serverless burst target (scenario `kind: BurstTarget`).
///
/// The virtual-kubelet convention applies: pods opt in by tolerating the target's taints
/// (`virtual-kubelet.io/provider=azure:NoSchedule`) and may select it by its labels
/// (`type=virtual-kubelet`), but unlike a virtual node of "unlimited" capacity, a target states
/// its real per-instance limits, quotas and prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstTarget {
    /// Unique name (also its `metadata.name` for `matchFields`).
    pub name: String,
    /// Backend kind (`aci`, `mock`, `fargate`, ...).
    pub backend: String,
    /// Labels pods may select (region, zone, `type=virtual-kubelet`, ...).
    #[serde(default)]
    pub labels: Labels,
    /// Taints pods must tolerate.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Per-instance limits.
    pub limits: InstanceLimits,
    /// How requests become a billed size.
    pub sizing: SizeModel,
    /// Size of a pod without requests (azure-aci: 1 vCPU / 1.5 GB).
    pub default_size: InstanceSize,
    /// Quotas across instances.
    #[serde(default)]
    pub quota: BurstQuota,
    /// What the target can run.
    #[serde(default)]
    pub features: BurstFeatures,
    /// Seconds from create to running (ACI: 20–60).
    #[serde(default)]
    pub start_latency_seconds: i64,
    /// Price model.
    pub pricing: PriceModel,
    /// Whether instances are spot (preemptible, discounted).
    #[serde(default)]
    pub spot: bool,
}

impl BurstTarget {
    /// The instance size for a pod with these effective requests: its cpu and memory rounded by
    /// the size model, or the target's default size, as it stands, when it requests neither.
    pub fn size_for(&self, requests: &Resources) -> Option<InstanceSize> {
        if requests.cpu_millis == 0 && requests.memory == 0 {
            return Some(self.default_size);
        }
        self.sizing.size_for(requests.cpu_millis, requests.memory)
    }

    /// An ACI-like target with 2026 East US list prices and default quotas: 4 vCPU / 16 GB per
    /// container group, 100 cores and 100 groups, 100 creates per 5 minutes, no GPUs, the
    /// virtual-kubelet taint and labels, 1 vCPU / 1.5 GB for pods without requests.
    pub fn aci_like(name: impl Into<String>, region: &str) -> BurstTarget {
        let name = name.into();
        let labels = labels_of(&[
            ("type", "virtual-kubelet"),
            ("kubernetes.io/role", "agent"),
            ("kubernetes.io/os", "linux"),
            ("topology.kubernetes.io/region", region),
            ("kubernetes.io/hostname", name.as_str()),
        ]);
        BurstTarget {
            backend: "aci".into(),
            labels,
            taints: vec![Taint::new("virtual-kubelet.io/provider", "azure", super::node::TaintEffect::NoSchedule)],
            limits: InstanceLimits { max_cpu_millis: 4000, max_memory_bytes: 16 * GB, gpus: BTreeMap::new() },
            sizing: SizeModel::aci(),
            default_size: InstanceSize::new(1000, 1_500_000_000),
            quota: BurstQuota {
                max_cpu_millis: Some(100_000),
                max_instances: Some(100),
                max_creates_per_window: Some(100),
                create_window_seconds: Some(300),
            },
            features: BurstFeatures {
                volumes: strings(&[
                    "emptyDir",
                    "configMap",
                    "secret",
                    "projected",
                    "azureFile",
                    "csi:file.csi.azure.com",
                ]),
                ..BurstFeatures::default()
            },
            start_latency_seconds: 40,
            pricing: PriceModel {
                per_vcpu_hour: Money::from_micros(40_500),
                per_gb_hour: Money::from_micros(4_450),
                windows_per_vcpu_hour: Money::from_micros(43_200),
                ..PriceModel::default()
            },
            spot: false,
            name,
        }
    }
}

impl BurstTarget {
    /// An AWS-Fargate-like target (2026 us-east-1 list prices): Fargate's size tiers with the
    /// 256 MiB overhead, at most 16 vCPU / 120 GiB, no GPUs, no privileged or host-network pods,
    /// no DaemonSets, EFS and the usual projected volumes, the taint
    /// `eks.amazonaws.com/compute-type=fargate:NoSchedule`.
    pub fn fargate_like(name: impl Into<String>, region: &str) -> BurstTarget {
        let name = name.into();
        let labels = labels_of(&[
            ("eks.amazonaws.com/compute-type", "fargate"),
            ("kubernetes.io/os", "linux"),
            ("topology.kubernetes.io/region", region),
            ("kubernetes.io/hostname", name.as_str()),
        ]);
        BurstTarget {
            backend: "fargate".into(),
            labels,
            taints: vec![Taint::new("eks.amazonaws.com/compute-type", "fargate", super::node::TaintEffect::NoSchedule)],
            limits: InstanceLimits { max_cpu_millis: 16_000, max_memory_bytes: 120 << 30, gpus: BTreeMap::new() },
            sizing: SizeModel::fargate(),
            default_size: InstanceSize::new(250, 1 << 29),
            quota: BurstQuota::default(),
            features: BurstFeatures {
                volumes: strings(&[
                    "emptyDir",
                    "configMap",
                    "secret",
                    "projected",
                    "downwardAPI",
                    "csi:efs.csi.aws.com",
                ]),
                ..BurstFeatures::default()
            },
            start_latency_seconds: 60,
            pricing: PriceModel {
                per_vcpu_hour: Money::from_micros(40_480),
                per_gb_hour: Money::from_micros(4_445),
                ..PriceModel::default()
            },
            spot: false,
            name,
        }
    }
}

/// Labels from `(key, value)` pairs (for the presets).
fn labels_of(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Owned strings (for the presets).
fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_write_as_quantities() {
        let size = InstanceSize::new(500, 1_100_000_000);
        let json = serde_json::to_string(&size).unwrap();
        assert_eq!(json, r#"{"cpu":"500m","memory":"1100M"}"#);
        assert_eq!(serde_json::from_str::<InstanceSize>(&json).unwrap(), size);
        let numeric: InstanceSize = serde_json::from_str(r#"{"cpu": 1, "memory": "1.5G"}"#).unwrap();
        assert_eq!(numeric, InstanceSize::new(1000, 1_500_000_000));
        assert!(serde_json::from_str::<InstanceSize>(r#"{"cpu": "lots", "memory": 1}"#).is_err());
        assert_eq!(
            serde_json::to_string(&InstanceSize::new(250, 1 << 29)).unwrap(),
            r#"{"cpu":"250m","memory":"512Mi"}"#
        );
    }

    #[test]
    fn aci_rounding_is_up_with_minimums() {
        let m = SizeModel::aci();
        assert_eq!(m.size_for(1, 1), Some(InstanceSize::new(10, GB / 10)));
        assert_eq!(m.size_for(0, 0), Some(InstanceSize::new(10, GB / 10)));
        assert_eq!(m.size_for(1001, 1_000_000_001), Some(InstanceSize::new(1010, 1_100_000_000)));
        assert_eq!(m.size_for(500, 512 << 20), Some(InstanceSize::new(500, 600_000_000)));
    }

    #[test]
    fn fargate_tiers_take_the_smallest_cover() {
        let m = SizeModel::fargate();
        const GIB: i64 = 1 << 30;
        assert_eq!(m.size_for(0, 0), Some(InstanceSize::new(250, GIB / 2)));
        assert_eq!(m.size_for(250, GIB), Some(InstanceSize::new(250, 2 * GIB)), "1 GiB + 256 MiB needs 2 GiB");
        assert_eq!(m.size_for(300, GIB / 4), Some(InstanceSize::new(500, GIB)));
        assert_eq!(m.size_for(4000, 29 * GIB), Some(InstanceSize::new(4000, 30 * GIB)));
        assert_eq!(m.size_for(4000, 30 * GIB), Some(InstanceSize::new(8000, 32 * GIB)), "4 GiB steps at 8 vCPU");
        assert_eq!(m.size_for(16000, 120 * GIB), None, "beyond the largest combination");
    }

    #[test]
    fn hourly_price_is_exact_and_rounded_up_once() {
        let p = BurstTarget::aci_like("aci", "eastus").pricing;
        // 4 vCPU × 0.0405 + 16 GB × 0.00445 = 0.162 + 0.0712
        assert_eq!(p.hourly(InstanceSize::new(4000, 16 * GB), &BTreeMap::new(), false), Money::from_micros(233_200));
        // 0.25 vCPU × 0.0405 + 1.1 GB × 0.00445 = 0.010125 + 0.004895 = 0.01502
        assert_eq!(
            p.hourly(InstanceSize::new(250, 1_100_000_000), &BTreeMap::new(), false),
            Money::from_micros(15_020)
        );
        // 10m × 0.0405 = 0.000405; 0.1 GB × 0.00445 = 0.000445
        assert_eq!(p.hourly(InstanceSize::new(10, GB / 10), &BTreeMap::new(), false), Money::from_micros(850));
        let windows = p.hourly(InstanceSize::new(1000, GB), &BTreeMap::new(), true);
        assert_eq!(windows, Money::from_micros(40_500 + 43_200 + 4_450));
        let spot = PriceModel { spot_discount_percent: 70, ..p.clone() };
        assert_eq!(spot.hourly(InstanceSize::new(4000, 16 * GB), &BTreeMap::new(), false), Money::from_micros(69_960));
        let gpu =
            PriceModel { per_gpu_hour: [("nvidia.com/gpu".to_string(), Money::from_micros(900_000))].into(), ..p };
        let two = [("nvidia.com/gpu".to_string(), 2)].into();
        assert_eq!(
            gpu.hourly(InstanceSize::new(1000, GB), &two, false),
            Money::from_micros(40_500 + 4_450 + 1_800_000)
        );
    }
}
