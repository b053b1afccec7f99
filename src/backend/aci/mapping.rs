//! Pod → container group (the PUT body) and container group → [`Instance`].

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::AciConfig;
use crate::backend::{
    BackendError, ContainerSpec, CreateRequest, EnvValue, Instance, InstanceKey, InstanceStatus, PodRef, PortProtocol,
};
use crate::model::{InstanceSize, ResourceName};

/// Tag holding the pod's namespace.
pub const TAG_NAMESPACE: &str = "spillway-namespace";
/// Tag holding the pod's name.
pub const TAG_POD: &str = "spillway-pod";
/// Tag holding the pod's uid.
pub const TAG_UID: &str = "spillway-uid";
/// Tag holding the owner (the backend's [`AciConfig::owner`]); `list()` keeps only its own.
pub const TAG_OWNER: &str = "spillway-owner";

const CPU_STEP: i64 = 10; // millicores: 0.01 vCPU
const MEM_STEP: i64 = 100_000_000; // bytes: 0.1 GB (decimal)

fn up(v: i64, step: i64) -> i64 {
    (v.max(0) + step - 1) / step * step
}

/// Millicores as ACI's decimal vCPU (multiples of 0.01).
fn cpu_number(millis: i64) -> Value {
    json!(up(millis, CPU_STEP) as f64 / 1000.0)
}

/// Bytes as ACI's decimal GB (multiples of 0.1).
fn memory_number(bytes: i64) -> Value {
    json!((up(bytes, MEM_STEP) / MEM_STEP) as f64 / 10.0)
}

fn container_field(init: bool, i: usize) -> String {
    format!("spec.{}[{i}]", if init { "initContainers" } else { "containers" })
}

fn base_container(c: &ContainerSpec, field: &str) -> Result<Map<String, Value>, BackendError> {
    if c.image.trim().is_empty() {
        return Err(BackendError::invalid_spec(format!("{field}.image"), "MissingImage", "a container needs an image"));
    }
    if c.command.is_empty() && !c.args.is_empty() {
        return Err(BackendError::invalid_spec(
            format!("{field}.args"),
            "ArgsWithoutCommand",
            "ACI has no separate args and cannot read the image's entrypoint: give a command as well",
        ));
    }
    let mut env = Vec::new();
    for (j, var) in c.env.iter().enumerate() {
        env.push(match &var.value {
            EnvValue::Plain(v) => json!({"name": var.name, "value": v}),
            EnvValue::Secure(s) => json!({"name": var.name, "secureValue": s.expose()}),
            EnvValue::FromSecret { secret, key } => {
                return Err(BackendError::invalid_spec(
                    format!("{field}.env[{j}]"),
                    "UnresolvedSecret",
                    format!("{} refers to key {key:?} of Secret {secret:?}, which was not resolved", var.name),
                ));
            }
        });
    }
    let mut props = Map::new();
    props.insert("image".into(), json!(c.image));
    let command: Vec<&String> = c.command.iter().chain(&c.args).collect();
    if !command.is_empty() {
        props.insert("command".into(), json!(command));
    }
    if !env.is_empty() {
        props.insert("environmentVariables".into(), Value::Array(env));
    }
    Ok(props)
}

/// The PUT body of the container group for `request`.
///
/// Requests are rounded up to 0.01 vCPU and 0.1 GB per container; when they sum to less than
/// the plan's instance size (a pod without requests runs at the target's default size), the
/// difference goes to the first container, so ACI bills what the plan priced. No container
/// limit may exceed the group's total request.
pub(crate) fn container_group(request: &CreateRequest, config: &AciConfig) -> Result<Value, BackendError> {
    let spec = &request.spec;
    if spec.containers.is_empty() {
        return Err(BackendError::invalid_spec("spec.containers", "MissingContainers", "a pod needs a container"));
    }
    if spec.containers.len() > 60 {
        return Err(BackendError::invalid_spec(
            "spec.containers",
            "TooManyContainers",
            "ACI runs at most 60 containers per group",
        ));
    }
    if config.spot && !config.subnet_ids.is_empty() {
        return Err(BackendError::invalid_spec(
            "priority",
            "SpotPriorityContainerGroupNotSupportedForInboundConnectivity",
            "spot container groups cannot join a virtual network; configure no subnets or no spot",
        ));
    }
    // Requests per container, rounded up with ACI's minimums.
    let mut cpu: Vec<i64> = spec.containers.iter().map(|c| up(c.requests.cpu_millis, CPU_STEP).max(CPU_STEP)).collect();
    let mut mem: Vec<i64> = spec.containers.iter().map(|c| up(c.requests.memory, MEM_STEP).max(MEM_STEP)).collect();
    let (sum_cpu, sum_mem) = (cpu.iter().sum::<i64>(), mem.iter().sum::<i64>());
    if request.size.cpu_millis > sum_cpu {
        cpu[0] += up(request.size.cpu_millis - sum_cpu, CPU_STEP);
    }
    if request.size.memory_bytes > sum_mem {
        mem[0] += up(request.size.memory_bytes - sum_mem, MEM_STEP);
    }
    let (total_cpu, total_mem) = (cpu.iter().sum::<i64>(), mem.iter().sum::<i64>());
    let limits = &config.target.limits;
    if total_cpu > limits.max_cpu_millis {
        return Err(BackendError::invalid_spec(
            "resources.requests.cpu",
            "InstanceTooLarge",
            format!("the group needs {total_cpu}m cpu; a container group may have at most {}m", limits.max_cpu_millis),
        ));
    }
    if total_mem > limits.max_memory_bytes {
        return Err(BackendError::invalid_spec(
            "resources.requests.memory",
            "InstanceTooLarge",
            format!(
                "the group needs {total_mem} bytes of memory; a container group may have at most {}",
                limits.max_memory_bytes
            ),
        ));
    }

    for (i, c) in spec.containers.iter().chain(&spec.init_containers).enumerate() {
        let field = if i < spec.containers.len() {
            container_field(false, i)
        } else {
            container_field(true, i - spec.containers.len())
        };
        for (kind, list) in [("requests", &c.requests), ("limits", &c.limits)] {
            if let Some((name, _)) = list.iter().find(|(n, _)| matches!(n, ResourceName::Extended(_))) {
                return Err(BackendError::invalid_spec(
                    format!("{field}.resources.{kind}.{}", name.as_str()),
                    "UnsupportedResource",
                    "ACI offers cpu and memory only (GPU container groups were retired in July 2025)",
                ));
            }
        }
    }

    let mut containers = Vec::new();
    let mut ports = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let field = container_field(false, i);
        let mut props = base_container(c, &field)?;
        let mut container_ports = Vec::new();
        for (j, p) in c.ports.iter().enumerate() {
            let protocol = match p.protocol {
                PortProtocol::Tcp => "TCP",
                PortProtocol::Udp => "UDP",
                _ => {
                    return Err(BackendError::invalid_spec(
                        format!("{field}.ports[{j}].protocol"),
                        "UnsupportedProtocol",
                        "ACI exposes TCP and UDP ports only",
                    ));
                }
            };
            container_ports.push(json!({"port": p.port, "protocol": protocol}));
            ports.insert((p.port, protocol));
        }
        if !container_ports.is_empty() {
            props.insert("ports".into(), Value::Array(container_ports));
        }
        let mut resources = json!({"requests": {"cpu": cpu_number(cpu[i]), "memoryInGB": memory_number(mem[i])}});
        let mut container_limits = Map::new();
        for (name, amount) in c.limits.iter() {
            let (key, rounded, total, unit) = match name {
                ResourceName::Cpu => ("cpu", up(amount, CPU_STEP), total_cpu, "m"),
                ResourceName::Memory => ("memoryInGB", up(amount, MEM_STEP), total_mem, " bytes"),
                _ => continue,
            };
            if amount == 0 {
                continue;
            }
            if rounded > total {
                return Err(BackendError::invalid_spec(
                    format!("{field}.resources.limits.{}", name.as_str()),
                    "ContainerLimitGreaterThanContainerGroupTotalRequest",
                    format!("limit {rounded}{unit} exceeds the group's total request {total}{unit}; ACI rejects that"),
                ));
            }
            let value = if key == "cpu" { cpu_number(rounded) } else { memory_number(rounded) };
            container_limits.insert(key.into(), value);
        }
        if !container_limits.is_empty() {
            resources["limits"] = Value::Object(container_limits);
        }
        props.insert("resources".into(), resources);
        containers.push(json!({"name": c.name, "properties": props}));
    }
    let mut init_containers = Vec::new();
    for (i, c) in spec.init_containers.iter().enumerate() {
        let props = base_container(c, &container_field(true, i))?;
        init_containers.push(json!({"name": c.name, "properties": props}));
    }

    let mut properties = json!({
        "containers": containers,
        "osType": spec.os.as_str(),
        "restartPolicy": spec.restart_policy.as_str(),
        "sku": "Standard",
    });
    if !init_containers.is_empty() {
        properties["initContainers"] = Value::Array(init_containers);
    }
    if !ports.is_empty() && !config.spot {
        if ports.len() > 5 {
            return Err(BackendError::invalid_spec(
                "ipAddress.ports",
                "TooManyPorts",
                "ACI exposes at most 5 ports per group",
            ));
        }
        let kind = if config.subnet_ids.is_empty() { "Public" } else { "Private" };
        let ports: Vec<Value> = ports.iter().map(|(p, proto)| json!({"port": p, "protocol": proto})).collect();
        properties["ipAddress"] = json!({"type": kind, "ports": ports});
    }
    if !config.subnet_ids.is_empty() {
        properties["subnetIds"] = Value::Array(config.subnet_ids.iter().map(|id| json!({"id": id})).collect());
    }
    if config.spot {
        properties["priority"] = json!("Spot");
    }
    if !config.registry_credentials.is_empty() {
        properties["imageRegistryCredentials"] = Value::Array(
            config
                .registry_credentials
                .iter()
                .map(|c| json!({"server": c.server, "username": c.username, "password": c.password.expose()}))
                .collect(),
        );
    }
    Ok(json!({
        "location": config.region,
        "tags": {
            TAG_NAMESPACE: request.pod.namespace,
            TAG_POD: request.pod.name,
            TAG_UID: request.pod.uid,
            TAG_OWNER: config.owner,
        },
        "properties": properties,
    }))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Whether a provisioning state is final.
pub(crate) fn is_terminal_provisioning(state: Option<&str>) -> bool {
    matches!(state, Some("Succeeded" | "Failed" | "Canceled"))
}

/// The most telling failure reason in a group: a container that exited non-zero, else the last
/// warning event, else the group's state.
fn failure_reason(group: &Value, fallback: &str) -> String {
    let containers = group.pointer("/properties/containers").and_then(Value::as_array).cloned().unwrap_or_default();
    for c in &containers {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let view = c.pointer("/properties/instanceView");
        let current = view.and_then(|v| v.get("currentState"));
        if let Some(code) = current.and_then(|s| s.get("exitCode")).and_then(Value::as_i64)
            && code != 0
        {
            return format!("container {name} exited with code {code}");
        }
        let events = view.and_then(|v| v.get("events")).and_then(Value::as_array);
        let warnings: Vec<&Value> =
            events.into_iter().flatten().filter(|e| e.get("type").and_then(Value::as_str) == Some("Warning")).collect();
        // `Failed` (e.g. an image pull failure) says more than the `BackOff` that follows it.
        let telling = warnings.iter().rev().find(|e| e.get("name").and_then(Value::as_str) == Some("Failed"));
        if let Some(e) = telling.or(warnings.last()) {
            let what = e.get("name").and_then(Value::as_str).unwrap_or("Warning");
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            return format!("container {name}: {what}: {message}");
        }
    }
    let events = group.pointer("/properties/instanceView/events").and_then(Value::as_array);
    if let Some(e) =
        events.into_iter().flatten().rev().find(|e| e.get("type").and_then(Value::as_str) == Some("Warning"))
    {
        return format!(
            "{}: {}",
            e.get("name").and_then(Value::as_str).unwrap_or("Warning"),
            e.get("message").and_then(Value::as_str).unwrap_or("")
        );
    }
    fallback.to_string()
}

/// The status of a group: the provisioning state while it is not `Succeeded`, then the
/// instance view's state. Unknown provisioning states count as in progress; unknown instance
/// states are reported as [`InstanceStatus::Unknown`].
pub(crate) fn status(group: &Value) -> InstanceStatus {
    let provisioning = str_at(group, &["properties", "provisioningState"]);
    match provisioning {
        Some(s @ ("Failed" | "Canceled")) => {
            InstanceStatus::Failed { reason: failure_reason(group, &format!("provisioning {s}")) }
        }
        Some("Succeeded") => match str_at(group, &["properties", "instanceView", "state"]) {
            Some("Running") => InstanceStatus::Running,
            Some("Succeeded") => InstanceStatus::Succeeded,
            Some(s @ ("Failed" | "Canceled" | "Stopped")) => {
                InstanceStatus::Failed { reason: failure_reason(group, &format!("container group {s}")) }
            }
            Some("Pending" | "Waiting" | "Creating" | "Accepted" | "Repairing" | "Created") => InstanceStatus::Pending,
            Some(other) => InstanceStatus::Unknown { state: other.to_string() },
            None => InstanceStatus::Unknown { state: "Succeeded without an instance view".into() },
        },
        _ => InstanceStatus::Pending,
    }
}

/// The size of a group: the sum of its containers' requests.
fn size(group: &Value) -> InstanceSize {
    let containers = group.pointer("/properties/containers").and_then(Value::as_array);
    let mut size = InstanceSize::default();
    for c in containers.into_iter().flatten() {
        let req = c.pointer("/properties/resources/requests");
        let num = |k: &str| req.and_then(|r| r.get(k)).and_then(Value::as_f64).unwrap_or(0.0);
        size.cpu_millis += (num("cpu") * 1000.0).round() as i64;
        size.memory_bytes += (num("memoryInGB") * 10.0).round() as i64 * MEM_STEP;
    }
    size
}

/// The pod a group belongs to, from its tags; `None` when it is not spillway's.
pub(crate) fn pod_of(group: &Value) -> Option<PodRef> {
    let tags = group.get("tags")?;
    let tag = |k: &str| tags.get(k).and_then(Value::as_str).map(str::to_string);
    Some(PodRef { namespace: tag(TAG_NAMESPACE)?, name: tag(TAG_POD)?, uid: tag(TAG_UID)? })
}

/// The owner tag of a group.
pub(crate) fn owner_of(group: &Value) -> Option<&str> {
    str_at(group, &["tags", TAG_OWNER])
}

/// A group as an [`Instance`].
///
/// # Errors
///
/// A transient `MalformedResponse` error when the group has no valid name or lacks spillway's tags.
pub(crate) fn instance(group: &Value) -> Result<Instance, BackendError> {
    let name = group.get("name").and_then(Value::as_str).unwrap_or("");
    let key = InstanceKey::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
        BackendError::transient(
            "MalformedResponse",
            format!("ARM returned a container group without a valid name ({name:?})"),
        )
    })?;
    let pod = pod_of(group).ok_or_else(|| {
        BackendError::transient(
            "MalformedResponse",
            format!("container group {key} lacks the tags {TAG_NAMESPACE}, {TAG_POD} and {TAG_UID}"),
        )
    })?;
    Ok(Instance { key, pod, size: size(group), status: status(group) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pod;
    use crate::backend::{BurstPodSpec, ContainerPort, EnvVar, OsType};
    use crate::model::Resources;

    const GB: i64 = 1_000_000_000;

    fn request(containers: Vec<ContainerSpec>, size: InstanceSize) -> CreateRequest {
        CreateRequest::new(&Pod::new("ns", "web"), size, BurstPodSpec::new(containers))
    }

    fn res(cpu: i64, mem: i64) -> Resources {
        Resources { cpu_millis: cpu, memory: mem, ..Resources::default() }
    }

    fn config() -> AciConfig {
        AciConfig::new("sub", "rg", "eastus")
    }

    fn field(err: BackendError) -> (String, String) {
        match err {
            BackendError::InvalidSpec { field, code, .. } => (field, code),
            other => panic!("expected InvalidSpec, got {other:?}"),
        }
    }

    #[test]
    fn requests_round_up_and_top_up_to_the_planned_size() {
        let containers = vec![ContainerSpec::new("a", "img", res(0, 0)), ContainerSpec::new("b", "img", res(5, 1))];
        let body = container_group(&request(containers, InstanceSize::new(1000, 1_500_000_000)), &config()).unwrap();
        let c = &body["properties"]["containers"];
        // b: 5m → 0.01, 1 byte → 0.1 GB; a: minimums plus the rest of 1 vCPU / 1.5 GB.
        assert_eq!(c[1]["properties"]["resources"]["requests"], json!({"cpu": 0.01, "memoryInGB": 0.1}));
        assert_eq!(c[0]["properties"]["resources"]["requests"], json!({"cpu": 0.99, "memoryInGB": 1.4}));
        assert_eq!(body["properties"]["osType"], "Linux");
        assert_eq!(body["properties"]["restartPolicy"], "Always");
        assert!(body["properties"].get("ipAddress").is_none());
    }

    #[test]
    fn limits_may_not_exceed_the_group_request() {
        let mut c = ContainerSpec::new("app", "img", res(250, GB));
        c.limits = res(1000, GB);
        let err = container_group(&request(vec![c.clone()], InstanceSize::new(250, GB)), &config()).unwrap_err();
        assert_eq!(
            field(err),
            (
                "spec.containers[0].resources.limits.cpu".into(),
                "ContainerLimitGreaterThanContainerGroupTotalRequest".into()
            )
        );
        c.limits = res(250, GB);
        let body = container_group(&request(vec![c], InstanceSize::new(250, GB)), &config()).unwrap();
        assert_eq!(
            body["properties"]["containers"][0]["properties"]["resources"]["limits"],
            json!({"cpu": 0.25, "memoryInGB": 1.0})
        );
    }

    #[test]
    fn what_aci_cannot_run_is_rejected_naming_the_field() {
        let size = InstanceSize::new(100, GB);
        let mut args_only = ContainerSpec::new("app", "img", res(100, GB));
        args_only.args = vec!["--x".into()];
        assert_eq!(
            field(container_group(&request(vec![args_only], size), &config()).unwrap_err()).0,
            "spec.containers[0].args"
        );

        let mut unresolved = ContainerSpec::new("app", "img", res(100, GB));
        unresolved
            .env
            .push(EnvVar { name: "P".into(), value: EnvValue::FromSecret { secret: "s".into(), key: "k".into() } });
        assert_eq!(
            field(container_group(&request(vec![unresolved], size), &config()).unwrap_err()),
            ("spec.containers[0].env[0]".into(), "UnresolvedSecret".into())
        );

        let mut sctp = ContainerSpec::new("app", "img", res(100, GB));
        sctp.ports.push(ContainerPort { port: 9, protocol: PortProtocol::Sctp });
        assert_eq!(
            field(container_group(&request(vec![sctp], size), &config()).unwrap_err()).0,
            "spec.containers[0].ports[0].protocol"
        );

        let mut gpu = ContainerSpec::new("app", "img", res(100, GB));
        gpu.limits.set(&ResourceName::Extended("nvidia.com/gpu".into()), 1);
        assert_eq!(
            field(container_group(&request(vec![gpu], size), &config()).unwrap_err()),
            ("spec.containers[0].resources.limits.nvidia.com/gpu".into(), "UnsupportedResource".into())
        );

        let no_image = ContainerSpec::new("app", " ", res(100, GB));
        assert_eq!(
            field(container_group(&request(vec![no_image], size), &config()).unwrap_err()).0,
            "spec.containers[0].image"
        );

        let mut spot = config();
        spot.spot = true;
        spot.subnet_ids = vec!["subnet".into()];
        let ok = ContainerSpec::new("app", "img", res(100, GB));
        assert_eq!(field(container_group(&request(vec![ok], size), &spot).unwrap_err()).0, "priority");
    }

    #[test]
    fn spot_windows_secure_env_and_public_ports() {
        let mut c = ContainerSpec::new("app", "img", res(100, GB));
        c.env.push(EnvVar::secure("TOKEN", "t0ps3cret"));
        c.ports.push(ContainerPort { port: 80, protocol: PortProtocol::Tcp });
        let mut r = request(vec![c], InstanceSize::new(100, GB));
        r.spec.os = OsType::Windows;
        let body = container_group(&r, &config()).unwrap();
        assert_eq!(body["properties"]["osType"], "Windows");
        assert_eq!(
            body["properties"]["ipAddress"],
            json!({"type": "Public", "ports": [{"port": 80, "protocol": "TCP"}]})
        );
        assert_eq!(
            body["properties"]["containers"][0]["properties"]["environmentVariables"][0],
            json!({"name": "TOKEN", "secureValue": "t0ps3cret"})
        );
        let mut spot = config();
        spot.spot = true;
        let body = container_group(&r, &spot).unwrap();
        assert_eq!(body["properties"]["priority"], "Spot");
        assert!(body["properties"].get("ipAddress").is_none(), "spot groups take no inbound connectivity");
    }

    #[test]
    fn status_follows_provisioning_then_the_instance_view() {
        let group = |p: &str, s: Option<&str>| {
            let mut g = json!({"properties": {"provisioningState": p}});
            if let Some(s) = s {
                g["properties"]["instanceView"] = json!({"state": s});
            }
            g
        };
        assert_eq!(status(&group("Creating", None)), InstanceStatus::Pending);
        assert_eq!(status(&group("SomethingNew", None)), InstanceStatus::Pending, "unknown = in progress");
        assert_eq!(status(&group("Succeeded", Some("Running"))), InstanceStatus::Running);
        assert_eq!(status(&group("Succeeded", Some("Succeeded"))), InstanceStatus::Succeeded);
        assert_eq!(
            status(&group("Succeeded", Some("Hibernating"))),
            InstanceStatus::Unknown { state: "Hibernating".into() }
        );
        assert_eq!(
            status(&group("Failed", Some("Pending"))),
            InstanceStatus::Failed { reason: "provisioning Failed".into() }
        );
        let exited = json!({"properties": {"provisioningState": "Succeeded", "instanceView": {"state": "Failed"},
            "containers": [{"name": "app", "properties": {"instanceView": {"currentState": {"state": "Terminated", "exitCode": 137}}}}]}});
        assert_eq!(status(&exited), InstanceStatus::Failed { reason: "container app exited with code 137".into() });
    }
}
