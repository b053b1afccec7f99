//! Conversion of a Kubernetes `Pod` into the scheduling view.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::error::{ConversionError, ConversionProblem};
use super::selector::{self, Ctx};
use crate::model::{
    Container, HostPort, Protocol, ResourceName, Resources, ResourcesError, TaintEffect, Toleration,
    TolerationOperator, quantity,
};

/// The namespace of an object that names none.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// Converts a Kubernetes resource list (`requests`, `allocatable`, `overhead`, ...).
pub(crate) fn resources(
    ctx: &Ctx<'_>,
    field: &str,
    list: Option<&BTreeMap<String, Quantity>>,
) -> Result<Resources, ConversionError> {
    let mut out = Resources::default();
    for (name, q) in list.into_iter().flatten() {
        out.set_parsed(name, &q.0).map_err(|e| match e {
            ResourcesError::Quantity { source, .. } => {
                ctx.err(format!("{field}.{name}"), ConversionProblem::Quantity(source))
            }
            _ => ctx.err(field, ConversionProblem::EmptyResourceName),
        })?;
    }
    Ok(out)
}

/// The amount of a quantity in the unit spillway uses for `name` (millicores for cpu).
fn amount(name: &str, q: &Quantity) -> Option<i64> {
    match ResourceName::parse(name) {
        ResourceName::Cpu => quantity::parse_millis(&q.0).ok(),
        _ => quantity::parse_units(&q.0).ok(),
    }
}

const TAINT_EFFECTS: &str = "NoSchedule, PreferNoSchedule or NoExecute";

/// Parses a taint effect.
pub(crate) fn taint_effect(ctx: &Ctx<'_>, field: String, effect: &str) -> Result<TaintEffect, ConversionError> {
    match effect {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        "" => Err(ctx.err(
            field,
            ConversionProblem::Missing {
                advice: "give the taint an effect (NoSchedule, PreferNoSchedule or NoExecute)",
            },
        )),
        other => {
            Err(ctx.err(field, ConversionProblem::UnknownEffect { value: other.to_string(), allowed: TAINT_EFFECTS }))
        }
    }
}

/// Converts tolerations; `field` is the path of the list.
pub(crate) fn tolerations(
    ctx: &Ctx<'_>,
    field: &str,
    list: Option<&Vec<k::Toleration>>,
) -> Result<Vec<Toleration>, ConversionError> {
    list.into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            let operator = match t.operator.as_deref() {
                None | Some("") | Some("Equal") => TolerationOperator::Equal,
                Some("Exists") => TolerationOperator::Exists,
                Some("Gt") => TolerationOperator::Gt,
                Some("Lt") => TolerationOperator::Lt,
                Some(other) => {
                    return Err(ctx.err(
                        format!("{field}[{i}].operator"),
                        ConversionProblem::UnknownOperator {
                            value: other.to_string(),
                            allowed: "Equal, Exists, Gt or Lt",
                        },
                    ));
                }
            };
            let effect = match t.effect.as_deref() {
                None | Some("") => None,
                Some(e) => Some(taint_effect(ctx, format!("{field}[{i}].effect"), e)?),
            };
            Ok(Toleration {
                key: t.key.clone().unwrap_or_default(),
                operator,
                value: t.value.clone().unwrap_or_default(),
                effect,
                toleration_seconds: t.toleration_seconds,
            })
        })
        .collect()
}

/// Converts one container; `field` is its path (`spec.containers[0]`).
fn container(ctx: &Ctx<'_>, field: &str, c: &k::Container, init: bool) -> Result<Container, ConversionError> {
    let res = c.resources.as_ref();
    let limits = res.and_then(|r| r.limits.as_ref());
    // The API server defaults a missing request to the limit of the same resource.
    let mut requested: BTreeMap<String, Quantity> = res.and_then(|r| r.requests.clone()).unwrap_or_default();
    for (name, limit) in limits.into_iter().flatten() {
        match requested.get(name) {
            None => {
                requested.insert(name.clone(), limit.clone());
            }
            Some(request) => {
                if let (Some(r), Some(l)) = (amount(name, request), amount(name, limit))
                    && r > l
                {
                    return Err(ctx.err(
                        format!("{field}.resources.requests.{name}"),
                        ConversionProblem::RequestAboveLimit { request: request.0.clone(), limit: limit.0.clone() },
                    ));
                }
            }
        }
    }
    let requests = resources(ctx, &format!("{field}.resources.requests"), Some(&requested))?;
    // Check the limits too, so that a malformed limit is reported even when a request is given.
    resources(ctx, &format!("{field}.resources.limits"), limits)?;
    let explicit_zero = requested.keys().filter(|name| requests.get_str(name) == 0).cloned().collect();
    let sidecar = match c.restart_policy.as_deref() {
        None | Some("") => false,
        Some("Always") if init => true,
        Some(other) => {
            let allowed =
                if init { "Always, or omit it" } else { "omit it: only init containers take a restartPolicy" };
            return Err(ctx.err(
                format!("{field}.restartPolicy"),
                ConversionProblem::UnknownValue { value: other.to_string(), allowed },
            ));
        }
    };
    Ok(Container { name: c.name.clone(), requests, explicit_zero, sidecar })
}

/// Host ports of one container (with the API server's `hostNetwork` defaulting of
/// `hostPort` to `containerPort`).
fn host_ports(
    ctx: &Ctx<'_>,
    field: &str,
    c: &k::Container,
    host_network: bool,
    out: &mut Vec<HostPort>,
) -> Result<(), ConversionError> {
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let mut port = p.host_port.unwrap_or(0);
        if port == 0 && host_network {
            port = p.container_port;
        }
        if port == 0 {
            continue;
        }
        let port = u16::try_from(port).ok().filter(|&p| p > 0).ok_or_else(|| {
            ctx.err(format!("{field}.ports[{i}].hostPort"), ConversionProblem::PortOutOfRange { port })
        })?;
        let protocol = match p.protocol.as_deref() {
            None | Some("") | Some("TCP") => Protocol::TCP,
            Some("UDP") => Protocol::UDP,
            Some("SCTP") => Protocol::SCTP,
            Some(other) => {
                return Err(ctx.err(
                    format!("{field}.ports[{i}].protocol"),
                    ConversionProblem::UnknownValue { value: other.to_string(), allowed: "TCP, UDP or SCTP" },
                ));
            }
        };
        out.push(HostPort { host_ip: p.host_ip.clone().unwrap_or_default(), protocol, port });
    }
    Ok(())
}

fn unsupported(ctx: &Ctx<'_>, field: &str, why: &str) -> ConversionError {
    ctx.err(field, ConversionProblem::Unsupported { why: why.to_string() })
}

/// Annotation: how long the pod may wait for a new VM node, in seconds.
pub const MAX_WAIT_ANNOTATION: &str = "spillway.rs/max-wait-seconds";
/// Annotation: how long the pod is expected to run, in seconds.
pub const LIFETIME_ANNOTATION: &str = "spillway.rs/expected-lifetime-seconds";
/// Annotation: `"true"` when the pod needs IPv6-only networking.
pub const IPV6_ONLY_ANNOTATION: &str = "spillway.rs/ipv6-only";

/// The volume source kind of a volume, as Kubernetes names the field (CSI as `csi:<driver>`).
fn volume_kind(v: &k::Volume) -> String {
    let kinds: [(&str, bool); 24] = [
        ("hostPath", v.host_path.is_some()),
        ("emptyDir", v.empty_dir.is_some()),
        ("configMap", v.config_map.is_some()),
        ("secret", v.secret.is_some()),
        ("projected", v.projected.is_some()),
        ("downwardAPI", v.downward_api.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("cephfs", v.cephfs.is_some()),
        ("rbd", v.rbd.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("image", v.image.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("cinder", v.cinder.is_some()),
    ];
    if let Some(csi) = &v.csi {
        return format!("csi:{}", csi.driver);
    }
    kinds.iter().find(|(_, present)| *present).map_or_else(|| "unknown".to_string(), |(k, _)| k.to_string())
}

/// What the pod needs beyond resources (volumes, privileges, probes, hooks, OS).
fn features(spec: &k::PodSpec, ipv6_only: bool) -> crate::model::PodFeatures {
    let mut volumes: Vec<String> = spec.volumes.iter().flatten().map(volume_kind).collect();
    volumes.sort_unstable();
    volumes.dedup();
    let all = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    let (mut privileged, mut startup_probe, mut lifecycle_hooks) = (false, false, false);
    for c in all {
        privileged |= c.security_context.as_ref().and_then(|s| s.privileged).unwrap_or(false);
        startup_probe |= c.startup_probe.is_some();
        lifecycle_hooks |= c.lifecycle.as_ref().is_some_and(|l| l.post_start.is_some() || l.pre_stop.is_some());
    }
    crate::model::PodFeatures {
        volumes,
        privileged,
        host_network: spec.host_network.unwrap_or(false),
        startup_probe,
        lifecycle_hooks,
        ipv6_only,
        windows: spec.os.as_ref().is_some_and(|os| os.name.eq_ignore_ascii_case("windows")),
    }
}

/// Converts a pod. `ctx` names the object in errors.
pub(crate) fn convert(ctx: &Ctx<'_>, pod: &k::Pod) -> Result<crate::Pod, ConversionError> {
    let meta = &pod.metadata;
    let name = meta
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ctx.err("metadata.name", ConversionProblem::Missing { advice: "every pod needs a name" }))?;
    let namespace = meta.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let mut out = crate::Pod::new(namespace, name);
    if let Some(uid) = meta.uid.as_ref().filter(|u| !u.is_empty()) {
        out.uid = uid.clone();
    }
    out.labels = meta.labels.clone().unwrap_or_default();
    out.creation_order = meta.creation_timestamp.as_ref().map_or(0, |t| t.0.as_millisecond());
    let controller = meta.owner_references.iter().flatten().find(|o| o.controller == Some(true));
    out.owner_kind = controller.map(|o| o.kind.clone());
    out.owner_name = controller.map(|o| o.name.clone());
    let annotations = meta.annotations.as_ref();
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    for (key, slot) in
        [(MAX_WAIT_ANNOTATION, &mut out.max_wait_seconds), (LIFETIME_ANNOTATION, &mut out.expected_lifetime_seconds)]
    {
        if let Some(text) = annotation(key) {
            let seconds = text.trim().parse::<i64>().ok().filter(|s| *s >= 0).ok_or_else(|| {
                ctx.err(
                    format!("metadata.annotations[{key}]"),
                    ConversionProblem::UnknownValue {
                        value: text.to_string(),
                        allowed: "a whole number of seconds, 0 or more",
                    },
                )
            })?;
            *slot = Some(seconds);
        }
    }
    out.features.ipv6_only = annotation(IPV6_ONLY_ANNOTATION) == Some("true");

    let Some(spec) = pod.spec.as_ref() else {
        return Err(ctx.err("spec", ConversionProblem::Missing { advice: "a pod needs a spec with containers" }));
    };
    if spec.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty()) {
        return Err(unsupported(
            ctx,
            "spec.schedulingGates",
            "scheduling gates hold a pod back until a controller removes them, which spillway cannot \
             simulate; remove the gates to place the pod",
        ));
    }
    if spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(unsupported(
            ctx,
            "spec.resourceClaims",
            "dynamic resource allocation (DRA) claims are not modelled by spillway; remove the claims \
             or request the device as an extended resource",
        ));
    }
    if spec.resources.as_ref().is_some_and(|r| {
        r.requests.as_ref().is_some_and(|m| !m.is_empty()) || r.limits.as_ref().is_some_and(|m| !m.is_empty())
    }) {
        return Err(unsupported(
            ctx,
            "spec.resources",
            "pod-level resources are not modelled by spillway yet; move the requests into the containers",
        ));
    }
    out.features = features(spec, out.features.ipv6_only);
    out.priority = spec.priority.unwrap_or(0);
    out.node_name = spec.node_name.clone().filter(|n| !n.is_empty());
    let host_network = spec.host_network.unwrap_or(false);

    for (i, c) in spec.containers.iter().enumerate() {
        let field = format!("spec.containers[{i}]");
        out.containers.push(container(ctx, &field, c, false)?);
        host_ports(ctx, &field, c, host_network, &mut out.host_ports)?;
    }
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("spec.initContainers[{i}]");
        let converted = container(ctx, &field, c, true)?;
        // Only sidecars keep their host ports while the pod runs.
        if converted.sidecar {
            host_ports(ctx, &field, c, host_network, &mut out.host_ports)?;
        }
        out.init_containers.push(converted);
    }
    out.overhead = resources(ctx, "spec.overhead", spec.overhead.as_ref())?;
    out.node_selector = spec.node_selector.clone().unwrap_or_default();
    out.tolerations = tolerations(ctx, "spec.tolerations", spec.tolerations.as_ref())?;

    if let Some(affinity) = &spec.affinity {
        if let Some(na) = &affinity.node_affinity {
            out.node_affinity = selector::node_affinity(ctx, "spec.affinity.nodeAffinity", na)?;
        }
        if let Some(pa) = &affinity.pod_affinity {
            out.pod_affinity = selector::pod_affinity(
                ctx,
                "spec.affinity.podAffinity",
                pa.required_during_scheduling_ignored_during_execution.as_ref(),
                pa.preferred_during_scheduling_ignored_during_execution.as_ref(),
            )?;
        }
        if let Some(pa) = &affinity.pod_anti_affinity {
            out.pod_anti_affinity = selector::pod_affinity(
                ctx,
                "spec.affinity.podAntiAffinity",
                pa.required_during_scheduling_ignored_during_execution.as_ref(),
                pa.preferred_during_scheduling_ignored_during_execution.as_ref(),
            )?;
        }
    }
    if let Some(constraints) = &spec.topology_spread_constraints {
        out.topology_spread_constraints = selector::topology_spread_constraints(ctx, constraints)?;
    }
    Ok(out)
}
