//! The typed error of a backend operation.

use std::time::Duration;

/// Why a backend operation failed, with the backend's own error code and message.
///
/// The variants say what a caller should do: [`Quota`](BackendError::Quota) — the target is
/// out of headroom, stop sending pods there; [`Throttled`](BackendError::Throttled) — retry
/// after the given time; [`InvalidSpec`](BackendError::InvalidSpec) — the pod cannot run
/// there, never retry; [`NotFound`](BackendError::NotFound) — no such instance;
/// [`Auth`](BackendError::Auth) — credentials are missing or wrong;
/// [`Transient`](BackendError::Transient) — retrying may help.
///
/// Messages never contain credentials or secret values: backends build them from the backend's
/// error code and message and from names, never from tokens, passwords or secure environment
/// values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// A quota of the target is exhausted (ACI `ContainerGroupQuotaReached`).
    #[error("quota exceeded ({code}): {message}")]
    Quota {
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
    /// The backend throttles requests; retry after `retry_after` (when it says).
    #[error("throttled ({code}), retry after {}: {message}", retry_after.map_or("an unspecified time".to_string(), |d| format!("{}s", d.as_secs_f64())))]
    Throttled {
        /// How long the backend asks to wait.
        retry_after: Option<Duration>,
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
    /// The pod cannot run on this backend as specified.
    #[error("invalid spec: {field}: {message} ({code})")]
    InvalidSpec {
        /// The offending field (`spec.containers[0].image`, `resources.limits.cpu`, `name`, ...).
        field: String,
        /// The backend's error code (or spillway's, when spillway rejects the spec first).
        code: String,
        /// What is wrong.
        message: String,
    },
    /// No such instance.
    #[error("not found ({code}): {message}")]
    NotFound {
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
    /// Authentication or authorization failed.
    #[error("authentication failed ({code}): {message}")]
    Auth {
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
    /// A failure that retrying may cure: a server error, a timeout, regional capacity, a
    /// malformed response.
    #[error("transient failure ({code}): {message}")]
    Transient {
        /// The backend's error code.
        code: String,
        /// The backend's message.
        message: String,
    },
}

impl BackendError {
    /// The backend's error code.
    pub fn code(&self) -> &str {
        match self {
            BackendError::Quota { code, .. }
            | BackendError::Throttled { code, .. }
            | BackendError::InvalidSpec { code, .. }
            | BackendError::NotFound { code, .. }
            | BackendError::Auth { code, .. }
            | BackendError::Transient { code, .. } => code,
        }
    }

    /// Whether retrying the same call may succeed (`Throttled` and `Transient`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, BackendError::Throttled { .. } | BackendError::Transient { .. })
    }

    /// An [`InvalidSpec`](BackendError::InvalidSpec) error.
    pub fn invalid_spec(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> BackendError {
        BackendError::InvalidSpec { field: field.into(), code: code.into(), message: message.into() }
    }

    /// A [`Transient`](BackendError::Transient) error.
    pub fn transient(code: impl Into<String>, message: impl Into<String>) -> BackendError {
        BackendError::Transient { code: code.into(), message: message.into() }
    }

    /// A [`NotFound`](BackendError::NotFound) error.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> BackendError {
        BackendError::NotFound { code: code.into(), message: message.into() }
    }
}
