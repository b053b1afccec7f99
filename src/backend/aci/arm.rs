//! The thin ARM client: bearer auth, api-version, retries with backoff and jitter honouring
//! `Retry-After`, and ARM error bodies mapped onto [`BackendError`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::token::TokenCache;
use crate::backend::{BackendError, Clock, Jitter, RetryPolicy};

/// A successful ARM response.
#[derive(Debug)]
pub(crate) struct ArmResponse {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: String,
}

impl ArmResponse {
    /// The body as JSON, or a clear error naming the call.
    pub(crate) fn json(&self, what: &str) -> Result<Value, BackendError> {
        serde_json::from_str(&self.body).map_err(|e| {
            BackendError::transient(
                "MalformedResponse",
                format!(
                    "ARM answered {what} with {} and a body that is not valid JSON ({e}): {}",
                    self.status,
                    excerpt(&self.body)
                ),
            )
        })
    }
}

/// At most 200 characters of a body, for error messages.
pub(crate) fn excerpt(body: &str) -> String {
    let mut out: String = body.chars().take(200).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    out
}

#[derive(Debug)]
pub(crate) struct ArmClient {
    pub(crate) http: reqwest::Client,
    pub(crate) api_version: String,
    pub(crate) tokens: TokenCache,
    pub(crate) retry: RetryPolicy,
    pub(crate) jitter: Arc<dyn Jitter>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// ARM error codes that mean a quota is exhausted.
const QUOTA_CODES: &[&str] = &["ContainerGroupQuotaReached", "QuotaExceeded", "OperationNotAllowed"];

/// The field an ARM validation error code points at.
fn field_of(code: &str, target: Option<&str>) -> String {
    if let Some(t) = target.filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    match code {
        "InaccessibleImage" | "RegistryErrorResponse" => "image",
        "ContainerLimitGreaterThanContainerGroupTotalRequest" => "resources.limits",
        "InvalidContainerGroupName" | "InvalidResourceName" => "name",
        "OsVersionNotSupported" => "osType",
        c if c.starts_with("SpotPriority") || c == "PriorityNotSpecified" => "priority",
        _ => "spec",
    }
    .to_string()
}

/// Maps an ARM error response onto a [`BackendError`].
pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> BackendError {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let error = json.as_ref().and_then(|j| j.get("error"));
    let text = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
    let code = text("code").map_or_else(|| status.as_u16().to_string(), str::to_string);
    let message = text("message")
        .map_or_else(|| format!("HTTP {status} without an ARM error body: {}", excerpt(body)), str::to_string);
    match status.as_u16() {
        401 | 403 => BackendError::Auth { code, message },
        404 => BackendError::NotFound { code, message },
        429 => BackendError::Throttled { retry_after, code, message },
        409 if code == "ServiceUnavailable" => BackendError::Transient { code, message },
        500..=599 => BackendError::Transient { code, message },
        _ if QUOTA_CODES.contains(&code.as_str()) || code.contains("Quota") => BackendError::Quota { code, message },
        400..=499 => BackendError::InvalidSpec { field: field_of(&code, text("target")), code, message },
        _ => BackendError::Transient { code, message },
    }
}

/// `Retry-After` in seconds (ARM never sends the HTTP-date form for these APIs; it is ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl ArmClient {
    /// Sends one ARM call, retrying throttling, server errors, capacity errors and timeouts,
    /// and refreshing the token once when ARM rejects it.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        add_api_version: bool,
        body: Option<&Value>,
    ) -> Result<ArmResponse, BackendError> {
        let mut retries = 0;
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(&*self.clock).await?;
            let mut request = self.http.request(method.clone(), url).bearer_auth(token.expose());
            if add_api_version {
                request = request.query(&[("api-version", self.api_version.as_str())]);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let (error, after) = match request.send().await {
                Err(e) => {
                    let code = if e.is_timeout() { "Timeout" } else { "ConnectionFailed" };
                    (BackendError::transient(code, format!("{method} {url}: {}", e.without_url())), None)
                }
                Ok(response) => {
                    let status = response.status();
                    let after = retry_after(response.headers());
                    let text = match response.text().await {
                        Ok(text) => text,
                        Err(e) => {
                            return Err(BackendError::transient(
                                "ConnectionFailed",
                                format!("{method} {url}: reading the body: {}", e.without_url()),
                            ));
                        }
                    };
                    if status.is_success() {
                        return Ok(ArmResponse { status, retry_after: after, body: text });
                    }
                    let error = classify(status, after, &text);
                    if matches!(error, BackendError::Auth { .. }) && status == StatusCode::UNAUTHORIZED && !refreshed {
                        refreshed = true;
                        self.tokens.invalidate().await;
                        continue;
                    }
                    (error, after)
                }
            };
            if !error.is_retryable() || retries >= self.retry.max_retries {
                return Err(error);
            }
            self.clock.sleep(self.retry.delay(retries, after, &*self.jitter)).await;
            retries += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> String {
        format!(r#"{{"error": {{"code": "{code}", "message": "m"}}}}"#)
    }

    #[test]
    fn arm_errors_map_onto_backend_errors() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        let after = Some(Duration::from_secs(4));
        assert!(
            matches!(classify(s(429), after, &body("TooManyRequests")), BackendError::Throttled { retry_after, .. } if retry_after == after)
        );
        assert!(matches!(classify(s(409), None, &body("ServiceUnavailable")), BackendError::Transient { .. }));
        assert!(matches!(classify(s(503), None, &body("ServiceUnavailable")), BackendError::Transient { .. }));
        assert!(matches!(classify(s(400), None, &body("ContainerGroupQuotaReached")), BackendError::Quota { .. }));
        assert!(matches!(classify(s(401), None, &body("InvalidAuthenticationToken")), BackendError::Auth { .. }));
        assert!(matches!(classify(s(404), None, &body("ResourceNotFound")), BackendError::NotFound { .. }));
        let invalid = |code: &str| match classify(s(400), None, &body(code)) {
            BackendError::InvalidSpec { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(invalid("InaccessibleImage"), "image");
        assert_eq!(invalid("ContainerLimitGreaterThanContainerGroupTotalRequest"), "resources.limits");
        assert_eq!(invalid("InvalidContainerGroupName"), "name");
        assert_eq!(invalid("SpotPriorityContainerGroupNotSupportedInSku"), "priority");
        assert_eq!(invalid("InvalidRequestContent"), "spec");
        let raw = classify(s(502), None, "<html>bad gateway</html>");
        assert_eq!(raw.code(), "502");
        assert!(raw.to_string().contains("<html>bad gateway</html>"));
    }
}
