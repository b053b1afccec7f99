//! The conformance suite: behaviour every `BurstBackend` must show. Each function takes a fresh
//! harness with room for at least 3 instances (`quota` takes one with exactly 2).

use std::time::Duration;

use spillway::backend::{BackendError, InstanceStatus, wait_until_started};

use super::{Harness, request};

const GB: i64 = 1_000_000_000;

pub async fn lifecycle(h: Harness) {
    let b = &*h.backend;
    let r = request("web-0", 250, GB);
    let created = b.create(&r).await.expect("create");
    assert_eq!(created.key, r.key);
    assert_eq!(created.pod, r.pod);
    assert!(matches!(created.status, InstanceStatus::Pending | InstanceStatus::Running), "{:?}", created.status);
    let started =
        wait_until_started(b, &r.key, &h.clock, Duration::from_secs(5), Duration::from_secs(120)).await.unwrap();
    assert_eq!(started.status, InstanceStatus::Running);
    assert_eq!(started.size, r.size, "the size the plan chose (0.25 vCPU, 1.0 GB)");
    let listed = b.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].pod, r.pod, "list() links the instance back to its pod");
    assert_eq!(listed[0].status, InstanceStatus::Running);
    b.delete(&r.key).await.expect("delete");
    assert!(matches!(b.get(&r.key).await.unwrap_err(), BackendError::NotFound { .. }));
    assert!(b.list().await.unwrap().is_empty());
}

pub async fn create_is_idempotent(h: Harness) {
    let b = &*h.backend;
    let r = request("web-1", 500, 2 * GB);
    let first = b.create(&r).await.unwrap();
    let second = b.create(&r).await.unwrap();
    assert_eq!(first.key, second.key);
    let listed = b.list().await.unwrap();
    assert_eq!(listed.len(), 1, "creating twice yields one instance");
}

pub async fn missing_instances(h: Harness) {
    let b = &*h.backend;
    let r = request("ghost", 100, GB);
    b.delete(&r.key).await.expect("deleting a missing instance is success");
    assert!(matches!(b.get(&r.key).await.unwrap_err(), BackendError::NotFound { .. }));
}

pub async fn quota(h: Harness) {
    let b = &*h.backend;
    b.create(&request("a", 100, GB)).await.unwrap();
    b.create(&request("b", 100, GB)).await.unwrap();
    let err = b.create(&request("c", 100, GB)).await.unwrap_err();
    assert!(matches!(err, BackendError::Quota { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(b.list().await.unwrap().len(), 2);
}

pub async fn too_large(h: Harness) {
    let b = &*h.backend;
    let err = b.create(&request("huge", 8000, GB)).await.unwrap_err();
    match err {
        BackendError::InvalidSpec { field, .. } => assert_eq!(field, "resources.requests.cpu"),
        other => panic!("expected InvalidSpec, got {other:?}"),
    }
    assert!(b.list().await.unwrap().is_empty());
}

pub async fn list_rebuilds_state(h: Harness) {
    let b = &*h.backend;
    let mut requests: Vec<_> = ["x", "y", "z"].iter().map(|n| request(n, 100, GB)).collect();
    for r in &requests {
        b.create(r).await.unwrap();
    }
    requests.sort_by(|a, b| a.key.cmp(&b.key));
    let listed = b.list().await.unwrap();
    let pods: Vec<_> = listed.iter().map(|i| (i.key.clone(), i.pod.clone())).collect();
    let expected: Vec<_> = requests.iter().map(|r| (r.key.clone(), r.pod.clone())).collect();
    assert_eq!(pods, expected);
}

pub async fn describe(h: Harness) {
    let t = h.backend.describe();
    assert_eq!(t.limits.max_cpu_millis, 4000);
    assert_eq!(t.start_latency_seconds, 20);
}

pub async fn failure_after_start(h: Harness) {
    let b = &*h.backend;
    let mut r = request("broken", 100, GB);
    h.fail_after_start(&mut r);
    b.create(&r).await.expect("accepted: the failure comes later");
    let done = wait_until_started(b, &r.key, &h.clock, Duration::from_secs(5), Duration::from_secs(120)).await.unwrap();
    match &done.status {
        InstanceStatus::Failed { reason } => assert!(reason.contains("Failed to pull image"), "{reason}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(matches!(b.list().await.unwrap()[0].status, InstanceStatus::Failed { .. }));
    b.delete(&r.key).await.unwrap();
    assert!(b.list().await.unwrap().is_empty());
}
