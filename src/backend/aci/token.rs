//! Bearer tokens for Azure Resource Manager: the [`TokenProvider`] trait, three providers and a
//! cache.
//!
//! Tokens are [`Secret`]s: no provider, cache or error shows one in `Debug` or `Display`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::tls::http_client;
use crate::backend::{BackendError, Clock, Secret};

/// The ARM scope for the v2 token endpoint.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The ARM resource (audience) for IMDS.
pub const ARM_RESOURCE: &str = "https://management.azure.com/";
/// The public-cloud Azure AD authority.
pub const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The instance metadata service's token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// A bearer token and how long it stays valid.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// Validity from the moment it was issued; `None` = does not expire.
    pub expires_in: Option<Duration>,
}

/// Where bearer tokens come from.
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// Fetches a fresh token.
    async fn fetch(&self) -> Result<AccessToken, BackendError>;
}

/// A fixed token (tests, `SPILLWAY_ARM_TOKEN`, tokens minted elsewhere).
#[derive(Debug, Clone)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// This token, forever.
    pub fn new(token: impl Into<String>) -> StaticToken {
        StaticToken(Secret::new(token))
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn fetch(&self) -> Result<AccessToken, BackendError> {
        Ok(AccessToken { token: self.0.clone(), expires_in: None })
    }
}

/// Azure AD client credentials (a service principal): `POST {authority}/{tenant}/oauth2/v2.0/token`.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    authority: String,
    tenant: String,
    client_id: String,
    client_secret: Secret,
    scope: String,
    http: reqwest::Client,
}

impl ClientCredentials {
    /// A provider for this tenant and application, against the public-cloud authority and the
    /// ARM scope.
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built.
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<ClientCredentials, BackendError> {
        Ok(ClientCredentials {
            authority: PUBLIC_AUTHORITY.into(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret,
            scope: ARM_SCOPE.into(),
            http: http_client(Duration::from_secs(30))?,
        })
    }

    /// Uses another authority (sovereign clouds, a fake in tests).
    pub fn with_authority(mut self, authority: impl Into<String>) -> ClientCredentials {
        self.authority = authority.into().trim_end_matches('/').to_string();
        self
    }
}

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn fetch(&self) -> Result<AccessToken, BackendError> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let response = self.http.post(&url).form(&form).send().await;
        token_response(response, "Azure AD token endpoint").await
    }
}

/// A managed identity through the instance metadata service (IMDS).
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    endpoint: String,
    client_id: Option<String>,
    resource: String,
    http: reqwest::Client,
}

impl ManagedIdentity {
    /// The system-assigned identity (or, with `client_id`, a user-assigned one).
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built.
    pub fn new(client_id: Option<String>) -> Result<ManagedIdentity, BackendError> {
        Ok(ManagedIdentity {
            endpoint: IMDS_ENDPOINT.into(),
            client_id,
            resource: ARM_RESOURCE.into(),
            http: http_client(Duration::from_secs(10))?,
        })
    }

    /// Uses another token endpoint (a fake in tests).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> ManagedIdentity {
        self.endpoint = endpoint.into();
        self
    }
}

#[async_trait]
impl TokenProvider for ManagedIdentity {
    async fn fetch(&self) -> Result<AccessToken, BackendError> {
        let mut query = vec![("api-version", "2018-02-01"), ("resource", self.resource.as_str())];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id.as_str()));
        }
        let response = self.http.get(&self.endpoint).header("Metadata", "true").query(&query).send().await;
        token_response(response, "managed identity endpoint").await
    }
}

/// Reads `{access_token, expires_in}` (a number, or IMDS's string) from a token endpoint.
async fn token_response(
    response: Result<reqwest::Response, reqwest::Error>,
    source: &str,
) -> Result<AccessToken, BackendError> {
    let response = response
        .map_err(|e| BackendError::transient("TokenEndpointUnreachable", format!("{source}: {}", e.without_url())))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| BackendError::transient("TokenEndpointUnreachable", format!("{source}: {}", e.without_url())))?;
    let json: Option<Value> = serde_json::from_str(&body).ok();
    if !status.is_success() {
        // AAD errors: {"error": "invalid_client", "error_description": "..."}; never echo the body
        // beyond those two fields.
        let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str).map(str::to_string);
        let code = field("error").unwrap_or_else(|| status.as_u16().to_string());
        let message = field("error_description").unwrap_or_else(|| format!("{source} answered {status}"));
        return Err(if status.is_server_error() || status.as_u16() == 429 {
            BackendError::transient(code, message)
        } else {
            BackendError::Auth { code, message }
        });
    }
    let malformed = || BackendError::Auth {
        code: "MalformedTokenResponse".into(),
        message: format!("{source} answered {status} without an access_token"),
    };
    let json = json.ok_or_else(malformed)?;
    let token = json.get("access_token").and_then(Value::as_str).ok_or_else(malformed)?;
    let expires_in = json.get("expires_in").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
    Ok(AccessToken { token: Secret::new(token), expires_in: expires_in.map(Duration::from_secs) })
}

/// Caches a provider's token until `refresh_margin` before it expires (5 minutes by default,
/// at most half its lifetime); one refresh at a time.
#[derive(Debug)]
pub struct TokenCache {
    provider: Arc<dyn TokenProvider>,
    refresh_margin: Duration,
    cached: tokio::sync::Mutex<Option<(Secret, Option<Duration>)>>,
}

impl TokenCache {
    /// A cache in front of `provider`.
    pub fn new(provider: Arc<dyn TokenProvider>) -> TokenCache {
        TokenCache { provider, refresh_margin: Duration::from_secs(300), cached: tokio::sync::Mutex::new(None) }
    }

    /// The cached token, or a fresh one when it is about to expire.
    ///
    /// # Errors
    ///
    /// The provider's error.
    pub async fn token(&self, clock: &dyn Clock) -> Result<Secret, BackendError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, refresh_at)) = cached.as_ref()
            && refresh_at.is_none_or(|at| clock.now() < at)
        {
            return Ok(token.clone());
        }
        let fetched_at = clock.now();
        let fresh = self.provider.fetch().await?;
        let refresh_at = fresh.expires_in.map(|life| fetched_at + life - self.refresh_margin.min(life / 2));
        *cached = Some((fresh.token.clone(), refresh_at));
        Ok(fresh.token)
    }

    /// Forgets the cached token (after the server rejected it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
