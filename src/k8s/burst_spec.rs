//! Conversion of a Kubernetes `Pod` into what a burst backend runs ([`BurstPodSpec`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::error::{ConversionError, ConversionProblem};
use super::selector::Ctx;
use crate::backend::{
    BurstPodSpec, ContainerPort, ContainerSpec, EnvValue, EnvVar, OsType, PortProtocol, RestartPolicy,
};

fn unsupported(ctx: &Ctx<'_>, field: String, why: &str) -> ConversionError {
    ctx.err(field, ConversionProblem::Unsupported { why: why.to_string() })
}

fn container(ctx: &Ctx<'_>, field: &str, c: &k::Container) -> Result<ContainerSpec, ConversionError> {
    let image = c.image.clone().filter(|i| !i.trim().is_empty()).ok_or_else(|| {
        ctx.err(format!("{field}.image"), ConversionProblem::Missing { advice: "give the container an image" })
    })?;
    if c.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(unsupported(
            ctx,
            format!("{field}.envFrom"),
            "envFrom cannot be resolved from the pod alone; list the variables under env",
        ));
    }
    let mut env = Vec::new();
    for (j, var) in c.env.iter().flatten().enumerate() {
        let value = match &var.value_from {
            None => EnvValue::Plain(var.value.clone().unwrap_or_default()),
            Some(from) => match &from.secret_key_ref {
                Some(s) => EnvValue::FromSecret { secret: s.name.clone(), key: s.key.clone() },
                None => {
                    return Err(unsupported(
                        ctx,
                        format!("{field}.env[{j}].valueFrom"),
                        "only secretKeyRef can be passed to a burst backend; write the value or use a Secret",
                    ));
                }
            },
        };
        env.push(EnvVar { name: var.name.clone(), value });
    }
    let mut ports = Vec::new();
    for (j, p) in c.ports.iter().flatten().enumerate() {
        let port = u16::try_from(p.container_port).ok().filter(|p| *p != 0).ok_or_else(|| {
            ctx.err(
                format!("{field}.ports[{j}].containerPort"),
                ConversionProblem::PortOutOfRange { port: p.container_port },
            )
        })?;
        let protocol = match p.protocol.as_deref() {
            None | Some("") | Some("TCP") => PortProtocol::Tcp,
            Some("UDP") => PortProtocol::Udp,
            Some("SCTP") => PortProtocol::Sctp,
            Some(other) => {
                return Err(ctx.err(
                    format!("{field}.ports[{j}].protocol"),
                    ConversionProblem::UnknownValue { value: other.to_string(), allowed: "TCP, UDP or SCTP" },
                ));
            }
        };
        ports.push(ContainerPort { port, protocol });
    }
    let res = c.resources.as_ref();
    let limits = res.and_then(|r| r.limits.as_ref());
    // As the API server does: a missing request defaults to the limit.
    let mut requested: BTreeMap<String, Quantity> = res.and_then(|r| r.requests.clone()).unwrap_or_default();
    for (name, limit) in limits.into_iter().flatten() {
        requested.entry(name.clone()).or_insert_with(|| limit.clone());
    }
    Ok(ContainerSpec {
        name: c.name.clone(),
        image,
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        env,
        ports,
        requests: super::resources(ctx, &format!("{field}.resources.requests"), Some(&requested))?,
        limits: super::resources(ctx, &format!("{field}.resources.limits"), limits)?,
    })
}

/// Converts a Kubernetes `v1` `Pod` into what a burst backend runs: each container's image,
/// command, args, environment, ports, requests (defaulted to limits) and limits, the pod's
/// restart policy and operating system (`spec.os.name`, else the `kubernetes.io/os` node
/// selector, else Linux).
///
/// Environment values from `secretKeyRef` become [`EnvValue::FromSecret`]; resolve them with
/// [`BurstPodSpec::resolve_secrets`] before creating the instance.
///
/// # Errors
///
/// A [`ConversionError`] naming the field: a container without an image, `envFrom`, `valueFrom`
/// other than `secretKeyRef`, sidecar init containers (`restartPolicy: Always`), an unknown
/// restart policy, OS or port protocol, a port out of range or a malformed quantity.
///
/// ```
/// use k8s_openapi::api::core::v1 as k;
/// use spillway::backend::{EnvValue, RestartPolicy};
///
/// let pod: k::Pod = serde_json::from_str(r#"{
///     "metadata": {"name": "web", "namespace": "shop"},
///     "spec": {"restartPolicy": "OnFailure", "containers": [{
///         "name": "app", "image": "nginx:1.27", "args": ["-g", "daemon off;"],
///         "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
///         "ports": [{"containerPort": 80}],
///         "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}
///     }]}
/// }"#)?;
/// let spec = spillway::k8s::burst_spec_from_k8s(&pod)?;
/// assert_eq!(spec.restart_policy, RestartPolicy::OnFailure);
/// assert_eq!(spec.containers[0].requests.cpu_millis, 500);
/// assert_eq!(spec.containers[0].env[0].value, EnvValue::FromSecret { secret: "db".into(), key: "password".into() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn burst_spec_from_k8s(pod: &k::Pod) -> Result<BurstPodSpec, ConversionError> {
    let object = super::pod_object_name(pod);
    let ctx = Ctx { object: &object };
    let spec = pod
        .spec
        .as_ref()
        .ok_or_else(|| ctx.err("spec", ConversionProblem::Missing { advice: "give the pod a spec with containers" }))?;
    let containers = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| container(&ctx, &format!("spec.containers[{i}]"), c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut init_containers = Vec::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("spec.initContainers[{i}]");
        if c.restart_policy.as_deref() == Some("Always") {
            return Err(unsupported(
                &ctx,
                format!("{field}.restartPolicy"),
                "sidecar init containers cannot run on a burst backend; make it an app container",
            ));
        }
        init_containers.push(container(&ctx, &field, c)?);
    }
    let restart_policy = match spec.restart_policy.as_deref() {
        None | Some("") | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure,
        Some("Never") => RestartPolicy::Never,
        Some(other) => {
            return Err(ctx.err(
                "spec.restartPolicy",
                ConversionProblem::UnknownValue { value: other.to_string(), allowed: "Always, OnFailure or Never" },
            ));
        }
    };
    let os_name =
        spec.os.as_ref().map(|os| (os.name.as_str(), "spec.os.name")).or_else(|| {
            spec.node_selector.as_ref()?.get("kubernetes.io/os").map(|v| (v.as_str(), "spec.nodeSelector"))
        });
    let os = match os_name {
        None | Some(("linux", _)) => OsType::Linux,
        Some(("windows", _)) => OsType::Windows,
        Some((other, field)) => {
            return Err(ctx.err(
                field,
                ConversionProblem::UnknownValue { value: other.to_string(), allowed: "linux or windows" },
            ));
        }
    };
    Ok(BurstPodSpec { containers, init_containers, restart_policy, os })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> k::Pod {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn converts_what_a_backend_needs() {
        let p = pod(r#"{"metadata": {"name": "w"}, "spec": {
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
            "containers": [{"name": "app", "image": "img", "command": ["/srv"], "env": [{"name": "A", "value": "1"}, {"name": "B"}],
                "ports": [{"containerPort": 53, "protocol": "UDP"}],
                "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}}"#);
        let spec = burst_spec_from_k8s(&p).unwrap();
        assert_eq!(spec.os, OsType::Windows);
        assert_eq!(spec.init_containers[0].command, vec!["sh", "-c", "true"]);
        let c = &spec.containers[0];
        assert_eq!(c.env, vec![EnvVar::plain("A", "1"), EnvVar::plain("B", "")]);
        assert_eq!(c.ports, vec![ContainerPort { port: 53, protocol: PortProtocol::Udp }]);
        assert_eq!((c.requests.cpu_millis, c.requests.memory), (250, 1 << 30));
        assert_eq!((c.limits.cpu_millis, c.limits.memory), (1000, 1 << 30));
    }

    #[test]
    fn rejects_what_it_cannot_pass_on() {
        let err = |json: &str| burst_spec_from_k8s(&pod(json)).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"metadata": {"name": "w"}, "spec": {"containers": [{"name": "app"}]}}"#),
            "pod default/w: spec.containers[0].image: is missing; give the container an image"
        );
        assert!(
            err(r#"{"metadata": {"name": "w"}, "spec": {"containers": [{"name": "app", "image": "i",
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}"#)
            .starts_with("pod default/w: spec.containers[0].env[0].valueFrom: only secretKeyRef")
        );
        assert!(
            err(r#"{"metadata": {"name": "w"}, "spec": {"restartPolicy": "Sometimes", "containers": [{"name": "app", "image": "i"}]}}"#)
                .contains("spec.restartPolicy: unknown value \"Sometimes\"")
        );
    }
}
