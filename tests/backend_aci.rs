//! The ACI backend end to end against the fake ARM server: the ARM protocol, retries and
//! backoff, error mapping, tokens, and secrets kept out of errors and `Debug`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use spillway::backend::aci::{
    AciBackend, ClientCredentials, ManagedIdentity, RegistryCredential, StaticToken, http_client,
};
use spillway::backend::{
    BackendError, BurstBackend, Clock, ContainerSpec, CreateRequest, EnvVar, InstanceStatus, RestartPolicy, Secret,
};
use support::fake_arm::FakeArm;
use support::{START_LATENCY, aci_backend_with, request};

const GB: i64 = 1_000_000_000;

async fn static_backend() -> (AciBackend, FakeArm) {
    aci_backend_with(|_| {}, Arc::new(StaticToken::new("static-token"))).await
}

fn puts(fake: &FakeArm) -> usize {
    fake.state().log.iter().filter(|l| l.method == "PUT").count()
}

#[tokio::test]
async fn create_waits_for_provisioning_and_uses_the_api_version() {
    let (backend, fake) = static_backend().await;
    let r = request("web", 250, GB);
    let instance = backend.create(&r).await.unwrap();
    assert_eq!(instance.status, InstanceStatus::Running);
    // The PUT's Retry-After (1 s) first, then the 5 s poll interval until the 20 s start latency.
    assert_eq!(fake.clock.sleeps()[0], Duration::from_secs(1));
    assert!(fake.clock.now() >= START_LATENCY);
    let log = fake.state().log.clone();
    assert!(log.iter().all(|l| l.path_and_query.contains("api-version=2025-09-01")), "{log:?}");
    assert!(log.iter().all(|l| l.authorization.as_deref() == Some("Bearer static-token")));
    let stored = fake.state().groups[r.key.as_str()].body.clone();
    assert_eq!(stored["tags"]["spillway-namespace"], "ns");
    assert_eq!(stored["tags"]["spillway-pod"], "web");
    assert_eq!(stored["tags"]["spillway-uid"], "uid-web");
    assert_eq!(stored["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"], 0.25);
    assert_eq!(stored["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"], 1.0);
}

#[tokio::test]
async fn list_follows_next_links_and_skips_foreign_groups() {
    let (backend, fake) = static_backend().await;
    for name in ["a", "b", "c", "d"] {
        backend.create(&request(name, 100, GB)).await.unwrap();
    }
    // A group of another owner in the same resource group.
    let a = request("a", 100, GB).key;
    let mut foreign = fake.state().groups[a.as_str()].clone();
    foreign.body["tags"]["spillway-owner"] = "someone-else".into();
    foreign.body["name"] = "foreign".into();
    fake.state().groups.insert("foreign".into(), foreign);
    let list = backend.list().await.unwrap();
    assert_eq!(list.len(), 4);
    let pages = fake.state().log.iter().filter(|l| l.path_and_query.contains("$skiptoken")).count();
    assert_eq!(pages, 2, "page size 2: three pages for five groups");
}

#[tokio::test]
async fn throttling_honours_retry_after_then_succeeds() {
    let (backend, fake) = static_backend().await;
    {
        let mut s = fake.state();
        s.throttle_next = 2;
        s.throttle_retry_after = 3;
    }
    let r = request("web", 250, GB);
    backend.create(&r).await.unwrap();
    // Backoff before retry 0 and 1 is 0.75 s and 1.5 s with jitter 0.5; Retry-After wins.
    assert_eq!(&fake.clock.sleeps()[..2], &[Duration::from_secs(3), Duration::from_secs(3)]);
    assert_eq!(puts(&fake), 3);
}

#[tokio::test]
async fn persistent_throttling_surfaces_as_throttled() {
    let (backend, fake) = static_backend().await;
    fake.state().throttle_next = 100;
    let err = backend.get(&request("web", 250, GB).key).await.unwrap_err();
    match err {
        BackendError::Throttled { retry_after, code, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
            assert_eq!(code, "SubscriptionRequestsThrottled");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.state().log.len(), 4, "one attempt and three retries");
}

#[tokio::test]
async fn server_errors_back_off_exponentially() {
    let (backend, fake) = static_backend().await;
    fake.state().fail_next = 3;
    backend.delete(&request("web", 250, GB).key).await.unwrap();
    // base 1 s × 2ⁿ × (0.5 + 0.5 × 0.5)
    assert_eq!(
        fake.clock.sleeps(),
        vec![Duration::from_millis(750), Duration::from_millis(1500), Duration::from_secs(3)]
    );
}

#[tokio::test]
async fn quota_is_not_retried() {
    let (backend, fake) = static_backend().await;
    fake.state().max_groups = 0;
    let err = backend.create(&request("web", 250, GB)).await.unwrap_err();
    assert!(matches!(&err, BackendError::Quota { code, .. } if code == "ContainerGroupQuotaReached"), "{err:?}");
    assert!(err.to_string().contains("Limit: '100'"), "{err}");
    assert_eq!(puts(&fake), 1);
}

#[tokio::test]
async fn inaccessible_image_is_an_invalid_spec() {
    let (backend, fake) = static_backend().await;
    let mut r = request("web", 250, GB);
    r.spec.containers[0].image = "private.example/app:1".into();
    let err = backend.create(&r).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::InvalidSpec { field, code, .. } if field == "image" && code == "InaccessibleImage"),
        "{err:?}"
    );
    assert_eq!(puts(&fake), 1);
}

#[tokio::test]
async fn regional_capacity_is_retried_then_transient() {
    let (backend, fake) =
        aci_backend_with(|c| c.target.limits.max_cpu_millis = 31_000, Arc::new(StaticToken::new("static-token"))).await;
    let err = backend.create(&request("big", 8000, GB)).await.unwrap_err();
    assert!(matches!(&err, BackendError::Transient { code, .. } if code == "ServiceUnavailable"), "{err:?}");
    assert_eq!(puts(&fake), 4);
}

#[tokio::test]
async fn image_pull_failure_arrives_through_get() {
    let (backend, _fake) = static_backend().await;
    let mut r = request("web", 250, GB);
    r.spec.containers[0].image = "example/pullfail:1".into();
    let instance = backend.create(&r).await.unwrap();
    match instance.status {
        InstanceStatus::Failed { reason } => assert!(reason.contains("Failed to pull image"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn provisioning_deadline() {
    let (backend, fake) = aci_backend_with(
        |c| c.provisioning_deadline = Some(Duration::from_secs(30)),
        Arc::new(StaticToken::new("static-token")),
    )
    .await;
    fake.state().start_latency = Duration::from_secs(600);
    let r = request("slow", 250, GB);
    let err = backend.create(&r).await.unwrap_err();
    assert!(matches!(&err, BackendError::Transient { code, .. } if code == "ProvisioningTimeout"), "{err:?}");
    assert_eq!(fake.clock.now(), Duration::from_secs(30));
    // The group exists; creating again is safe and finds it.
    fake.state().start_latency = Duration::ZERO;
    assert_eq!(backend.create(&r).await.unwrap().status, InstanceStatus::Running);
    assert_eq!(fake.state().groups.len(), 1);
}

#[tokio::test]
async fn malformed_response_is_a_clear_error() {
    let (backend, fake) = static_backend().await;
    fake.state().malformed_next = 1;
    let err = backend.get(&request("web", 250, GB).key).await.unwrap_err();
    assert_eq!(err.code(), "MalformedResponse");
    let text = err.to_string();
    assert!(text.contains("not valid JSON") && text.contains("502 Bad Gateway"), "{text}");
}

#[tokio::test]
async fn deleting_groups_are_not_listed() {
    let (backend, fake) = static_backend().await;
    fake.state().delete_latency = Duration::from_secs(10);
    let r = request("web", 250, GB);
    backend.create(&r).await.unwrap();
    backend.delete(&r.key).await.unwrap();
    assert!(backend.list().await.unwrap().is_empty());
    backend.delete(&r.key).await.unwrap();
    fake.clock.advance(Duration::from_secs(10));
    assert!(matches!(backend.get(&r.key).await.unwrap_err(), BackendError::NotFound { .. }));
}

#[tokio::test]
async fn client_credentials_refresh_before_expiry_and_after_401() {
    // The provider needs the fake's URL, so start the fake first and build the backend by hand.
    let clock = spillway::backend::ManualClock::new();
    let fake = FakeArm::start(clock.clone()).await;
    fake.state().token_lifetime = Duration::from_secs(600);
    let provider = ClientCredentials::new("tenant-1", "app-1", Secret::new("client-secret-value"))
        .unwrap()
        .with_authority(format!("{}/aad", fake.url));
    let backend = AciBackend::new(support::aci_config(&fake.url), Arc::new(provider))
        .unwrap()
        .with_clock(Arc::new(clock.clone()))
        .with_jitter(Arc::new(spillway::backend::FixedJitter(0.5)));
    let r = request("web", 250, GB);
    backend.create(&r).await.unwrap();
    assert_eq!(fake.state().issued, 1);
    // Cached until 5 minutes (at most half the lifetime) before expiry.
    clock.advance(Duration::from_secs(260));
    backend.get(&r.key).await.unwrap();
    assert_eq!(fake.state().issued, 1);
    clock.advance(Duration::from_secs(60));
    backend.get(&r.key).await.unwrap();
    assert_eq!(fake.state().issued, 2, "refreshed shortly before expiry");
    // The server revokes every token: one 401, a refresh, success.
    fake.state().tokens.retain(|t, _| t == "static-token");
    backend.get(&r.key).await.unwrap();
    assert_eq!(fake.state().issued, 3);
    assert!(!format!("{backend:?}").contains("client-secret-value"));
    assert!(!format!("{backend:?}").contains("issued-token"));
}

#[tokio::test]
async fn wrong_credentials_are_auth_errors_without_secrets() {
    let clock = spillway::backend::ManualClock::new();
    let fake = FakeArm::start(clock.clone()).await;
    let provider = ClientCredentials::new("tenant-1", "app-1", Secret::new("wrong-secret-value"))
        .unwrap()
        .with_authority(format!("{}/aad", fake.url));
    let backend =
        AciBackend::new(support::aci_config(&fake.url), Arc::new(provider)).unwrap().with_clock(Arc::new(clock));
    let err = backend.list().await.unwrap_err();
    assert!(matches!(&err, BackendError::Auth { code, .. } if code == "invalid_client"), "{err:?}");
    assert!(!err.to_string().contains("wrong-secret-value") && !format!("{err:?}").contains("wrong-secret-value"));

    let (bad_token, _fake) = aci_backend_with(|_| {}, Arc::new(StaticToken::new("not-a-valid-token"))).await;
    let err = bad_token.list().await.unwrap_err();
    assert!(matches!(&err, BackendError::Auth { code, .. } if code == "AuthenticationFailed"), "{err:?}");
    assert!(!format!("{err} {err:?} {bad_token:?}").contains("not-a-valid-token"));
}

#[tokio::test]
async fn managed_identity_reads_imds_tokens() {
    let clock = spillway::backend::ManualClock::new();
    let fake = FakeArm::start(clock.clone()).await;
    let provider =
        ManagedIdentity::new(None).unwrap().with_endpoint(format!("{}/metadata/identity/oauth2/token", fake.url));
    let backend =
        AciBackend::new(support::aci_config(&fake.url), Arc::new(provider)).unwrap().with_clock(Arc::new(clock));
    assert!(backend.list().await.unwrap().is_empty());
    assert_eq!(fake.state().issued, 1);
}

#[tokio::test]
async fn the_pod_maps_onto_the_container_group() {
    let (backend, fake) = aci_backend_with(
        |c| {
            c.registry_credentials = vec![RegistryCredential {
                server: "myregistry.azurecr.io".into(),
                username: "puller".into(),
                password: Secret::new("registry-password-value"),
            }];
            c.subnet_ids = vec![
                "/subscriptions/sub-1/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"
                    .into(),
            ];
        },
        Arc::new(StaticToken::new("static-token")),
    )
    .await;
    let mut r: CreateRequest = request("web", 1001, 1 << 30);
    {
        let c: &mut ContainerSpec = &mut r.spec.containers[0];
        c.command = vec!["/bin/server".into()];
        c.args = vec!["--port".into(), "8080".into()];
        c.env = vec![EnvVar::plain("MODE", "burst"), EnvVar::secure("DB_PASSWORD", "db-password-value")];
        c.ports = vec![spillway::backend::ContainerPort { port: 8080, protocol: spillway::backend::PortProtocol::Tcp }];
    }
    r.spec.restart_policy = RestartPolicy::Never;
    backend.create(&r).await.unwrap();
    let body = fake.state().groups[r.key.as_str()].body.clone();
    let props = &body["properties"];
    let c = &props["containers"][0]["properties"];
    assert_eq!(c["command"], serde_json::json!(["/bin/server", "--port", "8080"]));
    assert_eq!(c["resources"]["requests"]["cpu"], 1.01, "rounded up to 0.01 vCPU");
    assert_eq!(c["resources"]["requests"]["memoryInGB"], 1.1, "1 GiB rounded up to 1.1 GB");
    assert_eq!(c["environmentVariables"][0], serde_json::json!({"name": "MODE", "value": "burst"}));
    assert_eq!(
        c["environmentVariables"][1],
        serde_json::json!({"name": "DB_PASSWORD"}),
        "the fake strips secure values"
    );
    assert_eq!(props["restartPolicy"], "Never");
    assert_eq!(props["osType"], "Linux");
    assert_eq!(props["ipAddress"]["type"], "Private");
    assert_eq!(props["subnetIds"][0]["id"].as_str().unwrap().rsplit('/').next(), Some("aci"));
    assert_eq!(props["imageRegistryCredentials"][0]["server"], "myregistry.azurecr.io");
    let debug = format!("{backend:?} {r:?}");
    assert!(!debug.contains("registry-password-value") && !debug.contains("db-password-value"), "{debug}");
}

#[test]
fn a_tls_client_builds_with_the_single_crypto_provider() {
    http_client(Duration::from_secs(5)).expect("reqwest + rustls (ring) client");
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    assert!(!lock.contains("name = \"aws-lc-rs\""), "a second rustls crypto provider entered the dependency graph");
    assert!(lock.contains("name = \"ring\""));
}

#[tokio::test]
async fn recreating_with_other_resources_is_rejected() {
    let (backend, fake) = static_backend().await;
    let r = request("web", 250, GB);
    backend.create(&r).await.unwrap();
    let mut resized = r.clone();
    resized.spec.containers[0].requests.cpu_millis = 500;
    resized.size.cpu_millis = 500;
    let err = backend.create(&resized).await.unwrap_err();
    assert!(matches!(&err, BackendError::InvalidSpec { code, .. } if code == "Conflict"), "{err:?}");
    assert_eq!(puts(&fake), 2, "not retried");
    let mut new_image = r.clone();
    new_image.spec.containers[0].image = "nginx:1.28".into();
    backend.create(&new_image).await.expect("an image change is an update");
}
