//! What a backend needs to run a pod: its containers as the runtime sees them (image, command,
//! environment, ports, resources), its restart policy and operating system.
//!
//! The model's [`Pod`](crate::Pod) is the scheduling view and carries none of this; a
//! [`BurstPodSpec`] is built by hand or, with feature `k8s`, converted from a Kubernetes pod by
//! [`burst_spec_from_k8s`](crate::k8s::burst_spec_from_k8s).

use std::fmt;

use crate::model::Resources;

/// A secret string (a token, a password, a secret-sourced environment value).
///
/// Its `Debug` output is `Secret(***)` and it has no `Display`, so it never reaches a log line
/// or an error message by accident; [`Secret::expose`] is the one way to read it.
///
/// ```
/// use spillway::backend::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(***)");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send it (an HTTP header, a request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The value of an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvValue {
    /// A plain value.
    Plain(String),
    /// A secret value (from a Kubernetes Secret), sent to the backend as a secure value (ACI's
    /// `secureValue`) and never echoed.
    Secure(Secret),
    /// A reference to a key of a Kubernetes Secret, not yet resolved; see
    /// [`BurstPodSpec::resolve_secrets`]. Backends reject unresolved references.
    FromSecret {
        /// The Secret's name.
        secret: String,
        /// The key within the Secret.
        key: String,
    },
}

/// An environment variable of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Its value.
    pub value: EnvValue,
}

impl EnvVar {
    /// A plain variable.
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> EnvVar {
        EnvVar { name: name.into(), value: EnvValue::Plain(value.into()) }
    }

    /// A secure variable.
    pub fn secure(name: impl Into<String>, value: impl Into<String>) -> EnvVar {
        EnvVar { name: name.into(), value: EnvValue::Secure(Secret::new(value)) }
    }
}

/// Transport protocol of a container port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PortProtocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP (ACI cannot expose it).
    Sctp,
}

/// A port a container listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContainerPort {
    /// Port number.
    pub port: u16,
    /// Protocol.
    pub protocol: PortProtocol,
}

/// One container as the runtime sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image reference (`mcr.microsoft.com/azuredocs/aci-helloworld:latest`).
    pub image: String,
    /// Entrypoint override (Kubernetes `command`); empty = the image's.
    pub command: Vec<String>,
    /// Arguments (Kubernetes `args`).
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<EnvVar>,
    /// Ports.
    pub ports: Vec<ContainerPort>,
    /// Requests (cpu in millicores, memory in bytes).
    pub requests: Resources,
    /// Limits (cpu in millicores, memory in bytes); zero = none.
    pub limits: Resources,
}

impl ContainerSpec {
    /// A container running `image` with these requests.
    pub fn new(name: impl Into<String>, image: impl Into<String>, requests: Resources) -> ContainerSpec {
        ContainerSpec { name: name.into(), image: image.into(), requests, ..ContainerSpec::default() }
    }
}

/// A pod's restart policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// Always restart (the Kubernetes default).
    #[default]
    Always,
    /// Restart on a non-zero exit.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// The Kubernetes / ACI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "Always",
            RestartPolicy::OnFailure => "OnFailure",
            RestartPolicy::Never => "Never",
        }
    }
}

/// A pod's operating system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum OsType {
    /// Linux (the default).
    #[default]
    Linux,
    /// Windows.
    Windows,
}

impl OsType {
    /// The ACI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OsType::Linux => "Linux",
            OsType::Windows => "Windows",
        }
    }
}

/// What a backend needs to run a pod, beyond the scheduling view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BurstPodSpec {
    /// App containers, in order.
    pub containers: Vec<ContainerSpec>,
    /// Init containers, in order.
    pub init_containers: Vec<ContainerSpec>,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// Operating system.
    pub os: OsType,
}

impl BurstPodSpec {
    /// A spec with these app containers and defaults otherwise.
    pub fn new(containers: Vec<ContainerSpec>) -> BurstPodSpec {
        BurstPodSpec { containers, ..BurstPodSpec::default() }
    }

    /// Replaces every [`EnvValue::FromSecret`] by a [`EnvValue::Secure`] value from `lookup`
    /// (secret name, key); references `lookup` cannot resolve stay, and backends reject them.
    ///
    /// ```
    /// use spillway::backend::{BurstPodSpec, ContainerSpec, EnvValue, EnvVar, Secret};
    /// let mut c = ContainerSpec::new("app", "nginx", Default::default());
    /// c.env.push(EnvVar { name: "DB_PASSWORD".into(), value: EnvValue::FromSecret { secret: "db".into(), key: "password".into() } });
    /// let mut spec = BurstPodSpec::new(vec![c]);
    /// spec.resolve_secrets(|secret, key| (secret == "db" && key == "password").then(|| Secret::new("s3cr3t")));
    /// assert_eq!(spec.containers[0].env[0].value, EnvValue::Secure(Secret::new("s3cr3t")));
    /// ```
    pub fn resolve_secrets(&mut self, mut lookup: impl FnMut(&str, &str) -> Option<Secret>) {
        for c in self.containers.iter_mut().chain(self.init_containers.iter_mut()) {
            for var in &mut c.env {
                if let EnvValue::FromSecret { secret, key } = &var.value
                    && let Some(value) = lookup(secret, key)
                {
                    var.value = EnvValue::Secure(value);
                }
            }
        }
    }
}
