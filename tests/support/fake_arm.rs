//! A fake Azure Resource Manager for the ACI backend's tests: container groups in memory,
//! provisioning driven by a [`ManualClock`] shared with the client, quotas and size caps,
//! ARM-shaped errors, throttling and faults on demand, bearer-token checks with expiry, an
//! Azure AD token endpoint and an IMDS endpoint.
//!
//! Plain HTTP on 127.0.0.1 with an OS-assigned port. Tests script it through [`FakeArm::state`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use spillway::backend::{Clock, ManualClock};

const PROVIDER: &str = "providers/Microsoft.ContainerInstance/containerGroups";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub at: Duration,
}

/// A stored container group.
#[derive(Debug, Clone)]
pub struct Group {
    pub body: Value,
    pub created_at: Duration,
    pub deleting_since: Option<Duration>,
}

/// The fake's state and knobs.
#[derive(Debug)]
pub struct FakeState {
    pub api_versions: Vec<String>,
    pub groups: BTreeMap<String, Group>,
    /// Accepted bearer tokens and when they expire (virtual time); `None` = never.
    pub tokens: BTreeMap<String, Option<Duration>>,
    /// Tokens issued by the token endpoints so far.
    pub issued: u32,
    pub token_lifetime: Duration,
    pub client_secret: String,
    pub start_latency: Duration,
    pub delete_latency: Duration,
    pub put_retry_after: u64,
    pub throttle_next: u32,
    pub throttle_retry_after: u64,
    pub fail_next: u32,
    pub malformed_next: u32,
    pub max_groups: usize,
    pub max_cores_millis: i64,
    pub cap_cpu_millis: i64,
    pub cap_memory_gb: f64,
    pub inaccessible_images: Vec<String>,
    pub pull_failure_images: Vec<String>,
    pub page_size: usize,
    pub log: Vec<Logged>,
}

impl Default for FakeState {
    fn default() -> FakeState {
        FakeState {
            api_versions: vec!["2023-05-01".into(), "2025-09-01".into()],
            groups: BTreeMap::new(),
            tokens: BTreeMap::new(),
            issued: 0,
            token_lifetime: Duration::from_secs(3600),
            client_secret: "client-secret-value".into(),
            start_latency: Duration::from_secs(20),
            delete_latency: Duration::ZERO,
            put_retry_after: 1,
            throttle_next: 0,
            throttle_retry_after: 3,
            fail_next: 0,
            malformed_next: 0,
            max_groups: 100,
            max_cores_millis: 100_000,
            cap_cpu_millis: 4000,
            cap_memory_gb: 16.0,
            inaccessible_images: vec!["private.example/".into()],
            pull_failure_images: vec!["pullfail".into()],
            page_size: 2,
            log: Vec::new(),
        }
    }
}

/// A running fake.
#[derive(Debug, Clone)]
pub struct FakeArm {
    pub url: String,
    pub clock: ManualClock,
    state: Arc<Mutex<FakeState>>,
}

#[derive(Clone)]
struct App {
    state: Arc<Mutex<FakeState>>,
    clock: ManualClock,
    base: String,
}

impl FakeArm {
    /// Starts a fake on the current tokio runtime; `static-token` is accepted forever.
    pub async fn start(clock: ManualClock) -> FakeArm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut state = FakeState::default();
        state.tokens.insert("static-token".into(), None);
        let state = Arc::new(Mutex::new(state));
        let app = App { state: state.clone(), clock: clock.clone(), base: url.clone() };
        let router = axum::Router::new().fallback(handle).with_state(app);
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        FakeArm { url, clock, state }
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn arm_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, [("content-type", "application/json")], json!({"error": {"code": code, "message": message}}).to_string())
        .into_response()
}

fn with_arm_headers(mut r: Response, n: usize) -> Response {
    let h = r.headers_mut();
    h.insert("x-ms-request-id", HeaderValue::from_str(&format!("req-{n}")).unwrap());
    h.insert("x-ms-correlation-request-id", HeaderValue::from_str(&format!("corr-{n}")).unwrap());
    h.insert("x-ms-ratelimit-remaining-subscription-reads", HeaderValue::from_static("249"));
    h.insert("x-ms-ratelimit-remaining-subscription-writes", HeaderValue::from_static("199"));
    h.insert("x-ms-ratelimit-remaining-subscription-deletes", HeaderValue::from_static("199"));
    r
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

async fn handle(State(app): State<App>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let now = app.clock.now();
    let mut s = app.state.lock().unwrap_or_else(|e| e.into_inner());
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    s.log.push(Logged {
        method: method.to_string(),
        path_and_query: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        authorization: authorization.clone(),
        at: now,
    });
    let n = s.log.len();
    let path = uri.path().to_string();
    let query = query_map(&uri);

    // Token endpoints.
    if path.ends_with("/oauth2/v2.0/token") && method == Method::POST {
        let form: BTreeMap<String, String> = String::from_utf8_lossy(&body)
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.replace("%2F", "/").replace("%3A", ":").replace('+', " ")))
            .collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || form.get("client_secret") != Some(&s.client_secret)
        {
            let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."});
            return (StatusCode::UNAUTHORIZED, body.to_string()).into_response();
        }
        return issue_token(&mut s, now, false);
    }
    if path == "/metadata/identity/oauth2/token" {
        if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
            return (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "Required metadata header not specified"})
                    .to_string(),
            )
                .into_response();
        }
        return issue_token(&mut s, now, true);
    }

    // ARM: api-version, then auth.
    match query.get("api-version") {
        None => {
            return with_arm_headers(
                arm_error(
                    StatusCode::BAD_REQUEST,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ),
                n,
            );
        }
        Some(v) if !s.api_versions.contains(v) => {
            let msg = format!("The HTTP resource that matches the request URI does not support the API version '{v}'.");
            return with_arm_headers(arm_error(StatusCode::BAD_REQUEST, "InvalidApiVersionParameter", &msg), n);
        }
        Some(_) => {}
    }
    let token = authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
    let auth_error = match s.tokens.get(token) {
        None => {
            Some(("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or invalid."))
        }
        Some(Some(exp)) if now >= *exp => {
            Some(("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."))
        }
        Some(_) => None,
    };
    if let Some((code, message)) = auth_error {
        let mut r = arm_error(StatusCode::UNAUTHORIZED, code, message);
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer authorization_uri=\"https://login.microsoftonline.com/common\""),
        );
        return with_arm_headers(r, n);
    }
    if s.throttle_next > 0 {
        s.throttle_next -= 1;
        let mut r = arm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "SubscriptionRequestsThrottled",
            "Number of requests for subscription exceeded the limit; try again later.",
        );
        r.headers_mut().insert("retry-after", HeaderValue::from_str(&s.throttle_retry_after.to_string()).unwrap());
        return with_arm_headers(r, n);
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        return with_arm_headers(
            arm_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Encountered internal server error."),
            n,
        );
    }
    if s.malformed_next > 0 {
        s.malformed_next -= 1;
        return with_arm_headers(
            (StatusCode::OK, [("content-type", "text/html")], "<html><body>502 Bad Gateway (proxy)</body></html>")
                .into_response(),
            n,
        );
    }

    // Drop groups whose deletion has completed.
    let delete_latency = s.delete_latency;
    s.groups.retain(|_, g| g.deleting_since.is_none_or(|t| now < t + delete_latency));

    let Some(idx) = path.find(PROVIDER) else {
        return with_arm_headers(
            arm_error(StatusCode::NOT_FOUND, "NoRegisteredProviderFound", "No registered resource provider found."),
            n,
        );
    };
    let rest = path[idx + PROVIDER.len()..].trim_start_matches('/').to_string();
    let prefix = path[..idx].to_string();
    let response = if rest.is_empty() {
        if method != Method::GET {
            arm_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "method not allowed")
        } else {
            list(&s, &app, now, &prefix, &query)
        }
    } else {
        let name = rest;
        match method {
            Method::PUT => put(&mut s, &app, now, &prefix, &name, &body),
            Method::GET => match s.groups.get(&name.to_ascii_lowercase()) {
                Some(g) => (StatusCode::OK, Json(view(&s, g, now, true))).into_response(),
                None => not_found(&name),
            },
            Method::DELETE => match s.groups.get_mut(&name.to_ascii_lowercase()) {
                Some(g) => {
                    g.deleting_since.get_or_insert(now);
                    if delete_latency.is_zero() {
                        s.groups.remove(&name.to_ascii_lowercase());
                    }
                    let mut r = StatusCode::ACCEPTED.into_response();
                    let op = format!(
                        "{}/subscriptions/sub/providers/Microsoft.ContainerInstance/locations/eastus/operations/op-{n}?api-version=2025-09-01",
                        app.base
                    );
                    r.headers_mut().insert("azure-asyncoperation", HeaderValue::from_str(&op).unwrap());
                    r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
                    r
                }
                None => StatusCode::NO_CONTENT.into_response(),
            },
            _ => arm_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "method not allowed"),
        }
    };
    with_arm_headers(response, n)
}

struct Json(Value);
impl IntoResponse for Json {
    fn into_response(self) -> Response {
        ([("content-type", "application/json")], self.0.to_string()).into_response()
    }
}

fn not_found(name: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!(
            "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group 'rg' was not found."
        ),
    )
}

fn issue_token(s: &mut FakeState, now: Duration, imds: bool) -> Response {
    s.issued += 1;
    let token = format!("issued-token-{}", s.issued);
    let life = s.token_lifetime;
    s.tokens.insert(token.clone(), Some(now + life));
    let body = if imds {
        // IMDS writes numbers as strings.
        json!({"access_token": token, "expires_in": life.as_secs().to_string(), "resource": "https://management.azure.com/", "token_type": "Bearer"})
    } else {
        json!({"access_token": token, "expires_in": life.as_secs(), "token_type": "Bearer"})
    };
    (StatusCode::OK, Json(body)).into_response()
}

fn matches_any(image: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| image.contains(p.as_str()))
}

/// The group as GET (with instance view) or list (without) shows it.
fn view(s: &FakeState, g: &Group, now: Duration, instance_view: bool) -> Value {
    let mut body = g.body.clone();
    let age = now.saturating_sub(g.created_at);
    let images: Vec<String> = body["properties"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["properties"]["image"].as_str().map(str::to_string))
        .collect();
    let pull_fails = images.iter().any(|i| matches_any(i, &s.pull_failure_images));
    let started = age >= s.start_latency;
    let (provisioning, state) = match (g.deleting_since, started, pull_fails) {
        (Some(_), _, _) => ("Deleting", "Running"),
        (None, false, _) => (if age < s.start_latency / 2 { "Pending" } else { "Creating" }, "Pending"),
        (None, true, true) => ("Failed", "Pending"),
        (None, true, false) => ("Succeeded", "Running"),
    };
    body["properties"]["provisioningState"] = json!(provisioning);
    if instance_view {
        body["properties"]["instanceView"] = json!({"state": state, "events": []});
        if let Some(containers) = body["properties"]["containers"].as_array_mut() {
            for c in containers {
                let image = c["properties"]["image"].as_str().unwrap_or("").to_string();
                let view = if !started {
                    json!({"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": ""}, "events": [{"name": "Pulling", "type": "Normal", "message": format!("pulling image \"{image}\"")}]})
                } else if matches_any(&image, &s.pull_failure_images) {
                    json!({"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": "ImagePullBackOff"}, "events": [
                        {"name": "Pulling", "type": "Normal", "message": format!("pulling image \"{image}\"")},
                        {"name": "Failed", "type": "Warning", "message": format!("Failed to pull image \"{image}\"")},
                        {"name": "BackOff", "type": "Warning", "message": format!("Back-off pulling image \"{image}\"")}
                    ]})
                } else {
                    json!({"restartCount": 0, "currentState": {"state": "Running", "detailStatus": ""}, "events": [{"name": "Started", "type": "Normal", "message": "Started container"}]})
                };
                c["properties"]["instanceView"] = view;
            }
        }
    } else if let Some(p) = body["properties"].as_object_mut() {
        p.remove("instanceView");
    }
    body
}

fn list(s: &FakeState, app: &App, now: Duration, prefix: &str, query: &BTreeMap<String, String>) -> Response {
    let skip: usize = query.get("$skiptoken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let all: Vec<&Group> = s.groups.values().collect();
    let page: Vec<Value> = all.iter().skip(skip).take(s.page_size).map(|g| view(s, g, now, false)).collect();
    let mut body = json!({"value": page});
    if skip + s.page_size < all.len() {
        body["nextLink"] = json!(format!(
            "{}{prefix}{PROVIDER}?api-version={}&$skiptoken={}",
            app.base,
            query.get("api-version").cloned().unwrap_or_default(),
            skip + s.page_size
        ));
    }
    (StatusCode::OK, Json(body)).into_response()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn put(s: &mut FakeState, app: &App, now: Duration, prefix: &str, name: &str, body: &[u8]) -> Response {
    let bad = |m: &str| arm_error(StatusCode::BAD_REQUEST, "InvalidRequestContent", m);
    if !valid_name(name) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidContainerGroupName",
            &format!(
                "The container group name '{name}' is invalid. A container group name must contain no more than 63 characters and must match the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?'."
            ),
        );
    }
    let Ok(mut body) = serde_json::from_slice::<Value>(body) else {
        return bad("The request content was invalid and could not be deserialized.");
    };
    let location = body["location"].as_str().unwrap_or("").to_string();
    if location.is_empty() {
        return bad("The 'location' property is required.");
    }
    let props = &body["properties"];
    if props["osType"].as_str().is_none() {
        return bad("The 'osType' property is required.");
    }
    let Some(containers) = props["containers"].as_array().filter(|c| !c.is_empty()) else {
        return bad("At least one container is required.");
    };
    if containers.len() > 60 {
        return bad("A container group may have at most 60 containers.");
    }
    let (mut cpu, mut mem) = (0.0, 0.0);
    for c in containers {
        let p = &c["properties"];
        let Some(image) = p["image"].as_str() else { return bad("The container image is required.") };
        if matches_any(image, &s.inaccessible_images) {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "InaccessibleImage",
                &format!(
                    "The image '{image}' in container group '{name}' is not accessible. Please check the image and registry credential."
                ),
            );
        }
        let (Some(c_cpu), Some(c_mem)) =
            (p["resources"]["requests"]["cpu"].as_f64(), p["resources"]["requests"]["memoryInGB"].as_f64())
        else {
            return bad("The container resource requests are required.");
        };
        cpu += c_cpu;
        mem += c_mem;
    }
    for c in containers {
        let limits = &c["properties"]["resources"]["limits"];
        if limits["cpu"].as_f64().is_some_and(|l| l > cpu + 1e-9)
            || limits["memoryInGB"].as_f64().is_some_and(|l| l > mem + 1e-9)
        {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "ContainerLimitGreaterThanContainerGroupTotalRequest",
                "The container limit can not be greater than the container group total request.",
            );
        }
    }
    let spot = props["priority"].as_str() == Some("Spot");
    if spot && (props.get("ipAddress").is_some() || props.get("subnetIds").is_some()) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "SpotPriorityContainerGroupNotSupportedForInboundConnectivity",
            "Spot priority container groups do not support inbound connectivity.",
        );
    }
    let cpu_millis = (cpu * 1000.0).round() as i64;
    if cpu_millis > s.cap_cpu_millis || mem > s.cap_memory_gb + 1e-9 {
        return arm_error(
            StatusCode::CONFLICT,
            "ServiceUnavailable",
            &format!(
                "The requested resource is not available in the location '{location}' at this moment. Please retry with a different resource request or in another location. Resource requested: '{cpu}' CPU '{mem}' GB memory 'Linux' OS"
            ),
        );
    }
    let key = name.to_ascii_lowercase();
    let existing = s.groups.get(&key).filter(|g| g.deleting_since.is_none()).cloned();
    if let Some(old) = &existing {
        // Keep it simple, as the spec suggests: image, env and tag changes are fine; OS and
        // resource changes are not.
        let shape = |b: &Value| {
            let cs: Vec<Value> = b["properties"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["properties"]["resources"].clone())
                .collect();
            (b["properties"]["osType"].clone(), cs)
        };
        if shape(&old.body) != shape(&body) {
            return arm_error(
                StatusCode::CONFLICT,
                "Conflict",
                &format!("The container group '{name}' cannot change its OS type or container resources in an update."),
            );
        }
    }
    if existing.is_none() {
        let used: i64 = s.groups.values().map(|g| group_cpu_millis(&g.body)).sum();
        if s.groups.len() >= s.max_groups || used + cpu_millis > s.max_cores_millis {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "ContainerGroupQuotaReached",
                &format!(
                    "Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded in region '{location}'. Limit: '{}', Usage: '{}' Requested: '{}'.",
                    s.max_cores_millis / 1000,
                    used as f64 / 1000.0,
                    cpu
                ),
            );
        }
    }
    // Strip secrets, as ARM does on the way back.
    if let Some(cs) = body["properties"]["containers"].as_array_mut() {
        for c in cs {
            if let Some(env) = c["properties"]["environmentVariables"].as_array_mut() {
                for e in env {
                    if let Some(o) = e.as_object_mut() {
                        o.remove("secureValue");
                    }
                }
            }
        }
    }
    if let Some(creds) = body["properties"]["imageRegistryCredentials"].as_array_mut() {
        for c in creds {
            if let Some(o) = c.as_object_mut() {
                o.remove("password");
            }
        }
    }
    body["id"] = json!(format!("{prefix}{PROVIDER}/{name}"));
    body["name"] = json!(name);
    body["type"] = json!("Microsoft.ContainerInstance/containerGroups");
    let created_at = existing.as_ref().map_or(now, |g| g.created_at);
    let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    let group = Group { body, created_at, deleting_since: None };
    let mut shown = view(s, &group, now, false);
    shown["properties"]["provisioningState"] =
        json!(if existing.is_some() { shown["properties"]["provisioningState"].clone() } else { json!("Pending") });
    s.groups.insert(key, group);
    let mut r = (status, Json(shown)).into_response();
    let op = format!(
        "{}/subscriptions/sub/providers/Microsoft.ContainerInstance/locations/{location}/operations/op-{}?api-version=2025-09-01",
        app.base,
        s.log.len()
    );
    r.headers_mut().insert("azure-asyncoperation", HeaderValue::from_str(&op).unwrap());
    r.headers_mut().insert("location", HeaderValue::from_str(&op).unwrap());
    r.headers_mut().insert("retry-after", HeaderValue::from_str(&s.put_retry_after.to_string()).unwrap());
    r
}

fn group_cpu_millis(body: &Value) -> i64 {
    body["properties"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["properties"]["resources"]["requests"]["cpu"].as_f64())
        .map(|c| (c * 1000.0).round() as i64)
        .sum()
}
