//! The Kubernetes integration (feature `kube`) against kube-rs's mock service (tower-test):
//! the exact requests of the binder and the lease lock, the mapping of every answer, and the
//! conversion of watched Pods and Nodes. No API server, no wall-clock waits.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http::{Request, Response};
use k8s_openapi::api::core::v1 as k;
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use kube::runtime::watcher::Event;
use serde_json::{Value, json};
use spillway::backend::{Clock, ManualClock};
use spillway::runtime::kube::{
    ClusterWatch, KubeBinder, LeaseConfig, LeaseError, LeaseLock, LeaseLost, LeaseState, WatchError,
};
use spillway::runtime::{BindError, ClusterEvent, EventKind, NodeBinder, Placement, Reconciler};
use spillway::{Engine, Node, Pod, Policy, Resources};
use tower_test::mock::{self, Handle};

type Mock = Handle<Request<Body>, Response<Body>>;

fn mock_client() -> (kube::Client, Mock) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// A request the mock received.
#[derive(Debug)]
struct Seen {
    method: String,
    uri: String,
    body: Value,
}

/// Takes the next request and answers it with `code` and `body`.
async fn answer(handle: &mut Mock, code: u16, body: Value) -> Seen {
    let (request, send) = handle.next_request().await.expect("the client sent a request");
    let method = request.method().to_string();
    let uri = request.uri().to_string();
    let bytes = request.into_body().collect_bytes().await.expect("a readable request body");
    let seen = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") };
    let response = Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).expect("JSON")))
        .expect("a response");
    send.send_response(response);
    Seen { method, uri, body: seen }
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

fn failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": code,
           "reason": reason, "message": message})
}

/// `shop/web-0` with uid `uid-web-0`.
fn pod() -> &'static Pod {
    static POD: LazyLock<Pod> = LazyLock::new(|| {
        let mut pod = Pod::new("shop", "web-0");
        pod.uid = "uid-web-0".into();
        pod
    });
    &POD
}

fn k8s_pod(name: &str, uid: &str, node: Option<&str>) -> Value {
    let mut spec = json!({"schedulerName": "spillway", "containers": [{"name": "app"}]});
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", "uid": uid}, "spec": spec})
}

// ---------------------------------------------------------------------------------------------
// Binding

#[tokio::test]
async fn bind_posts_a_binding_with_the_uid_precondition() {
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, seen) = tokio::join!(binder.bind(pod(), "vm-1"), answer(&mut api, 201, success(201)));
    assert_eq!(result, Ok(()));
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/api/v1/namespaces/shop/pods/web-0/binding?&fieldManager=spillway");
    assert_eq!(
        seen.body,
        json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "uid-web-0"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "vm-1"}
        })
    );
}

#[tokio::test]
async fn bind_of_a_model_pod_without_a_uid_sends_no_precondition() {
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let model = Pod::new("shop", "web-0");
    let (result, seen) = tokio::join!(binder.bind(&model, "vm-1"), answer(&mut api, 201, success(201)));
    assert_eq!(result, Ok(()));
    assert_eq!(seen.body["metadata"], json!({"name": "web-0", "namespace": "shop"}));
}

#[tokio::test]
async fn bind_conflict_reads_the_pod_back() {
    let conflict = failure(
        409,
        "Conflict",
        "Operation cannot be fulfilled on pods/binding \"web-0\": pod web-0 is already assigned to node \"vm-1\"",
    );
    // Already bound to the same node (a repeated bind after a timeout): success.
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, (post, get)) = tokio::join!(binder.bind(pod(), "vm-1"), async {
        let post = answer(&mut api, 409, conflict.clone()).await;
        let get = answer(&mut api, 200, k8s_pod("web-0", "uid-web-0", Some("vm-1"))).await;
        (post, get)
    });
    assert_eq!(result, Ok(()));
    assert_eq!(post.method, "POST");
    assert_eq!((get.method.as_str(), get.uri.as_str()), ("GET", "/api/v1/namespaces/shop/pods/web-0"));

    // Bound elsewhere: a conflict naming the node.
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, _) = tokio::join!(binder.bind(pod(), "vm-1"), async {
        answer(&mut api, 409, conflict.clone()).await;
        answer(&mut api, 200, k8s_pod("web-0", "uid-web-0", Some("vm-2"))).await;
    });
    assert_eq!(result, Err(BindError::Conflict { pod: "shop/web-0".into(), node: "vm-2".into() }));

    // A replacement of the same name (another uid): the pod meant is gone.
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, _) = tokio::join!(binder.bind(pod(), "vm-1"), async {
        answer(&mut api, 409, conflict.clone()).await;
        answer(&mut api, 200, k8s_pod("web-0", "uid-other", Some("vm-1"))).await;
    });
    assert_eq!(result, Err(BindError::NotFound { pod: "shop/web-0".into() }));

    // Deleted meanwhile.
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, _) = tokio::join!(binder.bind(pod(), "vm-1"), async {
        answer(&mut api, 409, conflict.clone()).await;
        answer(&mut api, 404, failure(404, "NotFound", "pods \"web-0\" not found")).await;
    });
    assert_eq!(result, Err(BindError::NotFound { pod: "shop/web-0".into() }));

    // A conflict on a pod still unbound: transient, retried.
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, _) = tokio::join!(binder.bind(pod(), "vm-1"), async {
        answer(&mut api, 409, failure(409, "Conflict", "the object has been modified")).await;
        answer(&mut api, 200, k8s_pod("web-0", "uid-web-0", None)).await;
    });
    assert!(matches!(result, Err(BindError::Transient { .. })), "{result:?}");
}

#[tokio::test]
async fn bind_maps_not_found_server_errors_and_forbidden() {
    let cases = [
        (404, failure(404, "NotFound", "pods \"web-0\" not found")),
        (500, failure(500, "InternalError", "etcdserver: request timed out")),
        (503, json!("upstream unavailable")),
        (403, failure(403, "Forbidden", "pods \"web-0\" is forbidden: cannot create resource \"pods/binding\"")),
        (429, failure(429, "TooManyRequests", "Too many requests, please try again later.")),
        (422, failure(422, "Invalid", "Binding.core \"web-0\" is invalid: target.name: Required value")),
        (400, failure(400, "BadRequest", "the server rejected our request")),
    ];
    for (code, body) in cases {
        let (client, mut api) = mock_client();
        let binder = KubeBinder::new(client);
        let (result, _) = tokio::join!(binder.bind(pod(), "vm-1"), answer(&mut api, code, body));
        match (code, result) {
            (404, Err(BindError::NotFound { pod })) => assert_eq!(pod, "shop/web-0"),
            (422 | 400, Err(BindError::Rejected { pod, message })) => {
                assert_eq!(pod, "shop/web-0");
                assert!(message.contains("invalid") || message.contains("rejected"), "{message}");
            }
            (403, Err(BindError::Transient { message, .. })) => {
                assert!(message.contains("forbidden") && message.contains("RBAC"), "{message}")
            }
            (500 | 503 | 429, Err(BindError::Transient { message, .. })) => {
                assert!(message.contains(&code.to_string()), "{message}")
            }
            (code, other) => panic!("{code}: unexpected {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_bind_without_an_answer_times_out_in_doubt() {
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client).with_timeout(Duration::from_secs(5));
    let (result, _request) = tokio::join!(binder.bind(pod(), "vm-1"), api.next_request());
    match result {
        Err(BindError::Transient { message, .. }) => assert!(message.contains("unknown"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Eviction

#[tokio::test]
async fn evict_posts_a_policy_v1_eviction() {
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, seen) = tokio::join!(binder.evict(pod()), answer(&mut api, 201, success(201)));
    assert_eq!(result, Ok(()));
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/api/v1/namespaces/shop/pods/web-0/eviction?&fieldManager=spillway");
    assert_eq!(
        seen.body,
        json!({
            "apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": "web-0", "namespace": "shop"},
            "deleteOptions": {"preconditions": {"uid": "uid-web-0"}}
        })
    );
}

#[tokio::test]
async fn evict_maps_budget_refusals_and_errors() {
    let pdb = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 429,
        "reason": "TooManyRequests", "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "details": {"causes": [{"reason": "DisruptionBudget",
            "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]}});
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, _) = tokio::join!(binder.evict(pod()), answer(&mut api, 429, pdb));
    assert_eq!(
        result,
        Err(BindError::Refused {
            pod: "shop/web-0".into(),
            reason: "Cannot evict pod as it would violate the pod's disruption budget.: The disruption budget web needs 2 healthy pods and has 2 currently".into()
        })
    );

    let cases = [
        (429, failure(429, "TooManyRequests", "Too many requests, please try again later.")),
        (404, failure(404, "NotFound", "pods \"web-0\" not found")),
        (
            409,
            failure(
                409,
                "Conflict",
                "Precondition failed: UID in precondition: uid-web-0, UID in object meta: uid-other",
            ),
        ),
        (
            500,
            failure(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ),
        ),
    ];
    for (code, body) in cases {
        let (client, mut api) = mock_client();
        let binder = KubeBinder::new(client);
        let (result, _) = tokio::join!(binder.evict(pod()), answer(&mut api, code, body));
        match (code, result) {
            (404 | 409, Err(BindError::NotFound { pod })) => assert_eq!(pod, "shop/web-0"),
            (429, Err(BindError::Transient { message, .. })) => assert!(message.contains("Too many"), "{message}"),
            (500, Err(BindError::Transient { message, .. })) => assert!(message.contains("more than one"), "{message}"),
            (code, other) => panic!("{code}: unexpected {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bindings (recover)

#[tokio::test]
async fn bindings_list_bound_pods_page_by_page() {
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let page1 = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"continue": "next-page"},
        "items": [k8s_pod("web-0", "u0", Some("vm-1")), k8s_pod("web-1", "u1", Some("vm-2"))]});
    let page2 = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {},
        "items": [k8s_pod("web-2", "u2", Some("vm-1"))]});
    let (result, (first, second)) = tokio::join!(binder.bindings(), async {
        (answer(&mut api, 200, page1).await, answer(&mut api, 200, page2).await)
    });
    let bindings = result.expect("bindings");
    assert_eq!(
        bindings.into_iter().collect::<Vec<_>>(),
        [
            ("shop/web-0".to_string(), "vm-1".to_string()),
            ("shop/web-1".into(), "vm-2".into()),
            ("shop/web-2".into(), "vm-1".into())
        ]
    );
    let selector = "fieldSelector=spec.nodeName%21%3D%2Cstatus.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed";
    assert_eq!(first.uri, format!("/api/v1/pods?&{selector}&limit=500"));
    assert_eq!(second.uri, format!("/api/v1/pods?&{selector}&limit=500&continue=next-page"));
}

// ---------------------------------------------------------------------------------------------
// The reconciler through the kube binder

#[tokio::test]
async fn the_reconciler_binds_through_the_api() {
    let (client, mut api) = mock_client();
    let binder = Arc::new(KubeBinder::new(client));
    let engine = Arc::new(Engine::new(Policy::default()).expect("policy"));
    let mut reconciler = Reconciler::new(engine, binder, ManualClock::new());
    let vm = Node::new("vm-1").with_allocatable(Resources::parse([("cpu", "2"), ("pods", "110")]).expect("q"));
    reconciler.handle(ClusterEvent::NodeAdded(vm));
    reconciler.handle(ClusterEvent::PodAdded(pod().clone()));
    let ((), seen) = tokio::join!(reconciler.reconcile(), answer(&mut api, 201, success(201)));
    assert_eq!(seen.uri, "/api/v1/namespaces/shop/pods/web-0/binding?&fieldManager=spillway");
    assert_eq!(reconciler.placement("shop/web-0"), Some(&Placement::Bound { node: "vm-1".into() }));
    assert!(reconciler.events().iter().any(|e| matches!(&e.kind, EventKind::Bound { node } if node == "vm-1")));
}

/// Drain-back through the Eviction API: a disruption budget refuses the first eviction, the
/// reconciler retries it after `eviction_retry` (never forcing it), then binds the pod to the
/// node it reserved.
#[tokio::test]
async fn drain_back_evicts_through_the_api_and_retries_a_budget_refusal() {
    use spillway::backend::mock::MockBackend;
    use spillway::model::BurstTarget;
    use spillway::{Toleration, backend::BurstBackend};

    let (client, mut api) = mock_client();
    let clock = ManualClock::new();
    let aci = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock.clone()));
    let engine = Arc::new(Engine::new(Policy::default()).expect("policy"));
    let mut reconciler =
        Reconciler::new(engine, Arc::new(KubeBinder::new(client)), clock.clone()).with_backend("aci", aci.clone());
    let web = pod()
        .clone()
        .with_container(Resources::parse([("cpu", "1"), ("memory", "1Gi")]).expect("q"))
        .with_toleration(Toleration::exists("virtual-kubelet.io/provider", None));
    // No VM node: the pod bursts (no API call), and runs after ACI's start latency.
    reconciler.handle(ClusterEvent::PodAdded(web));
    reconciler.reconcile().await;
    clock.advance(Duration::from_secs(40));
    reconciler.reconcile().await;
    assert!(matches!(reconciler.placement("shop/web-0"), Some(Placement::Bursting { .. })));

    // A VM node appears: the pod moves back; the budget refuses the first eviction.
    let vm = Node::new("vm-1")
        .with_allocatable(Resources::parse([("cpu", "4"), ("memory", "16Gi"), ("pods", "110")]).expect("q"));
    reconciler.handle(ClusterEvent::NodeAdded(vm));
    let refusal = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 429,
        "reason": "TooManyRequests", "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "details": {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 1 healthy pods and has 1 currently"}]}});
    let ((), seen) = tokio::join!(reconciler.reconcile(), answer(&mut api, 429, refusal));
    assert_eq!(seen.uri, "/api/v1/namespaces/shop/pods/web-0/eviction?&fieldManager=spillway");
    assert!(matches!(reconciler.placement("shop/web-0"), Some(Placement::Moving { node, .. }) if node == "vm-1"));
    let refused = reconciler.events().iter().find_map(|e| match &e.kind {
        EventKind::EvictionRefused { reason, retry_in } => Some((reason.clone(), *retry_in)),
        _ => None,
    });
    let (reason, retry_in) = refused.expect("an EvictionRefused event");
    assert!(reason.contains("disruption budget web"), "{reason}");
    assert_eq!(retry_in, Duration::from_secs(30));

    // Before the retry time nothing is called (a request now would hang the test: the mock
    // answers none).
    clock.advance(Duration::from_secs(10));
    reconciler.reconcile().await;
    // At the retry: evicted, the instance deleted, the pod bound to the reserved node.
    clock.advance(Duration::from_secs(20));
    let ((), (evict, bind)) = tokio::join!(reconciler.reconcile(), async {
        let evict = answer(&mut api, 201, success(201)).await;
        let bind = answer(&mut api, 201, success(201)).await;
        (evict, bind)
    });
    assert_eq!(evict.uri, "/api/v1/namespaces/shop/pods/web-0/eviction?&fieldManager=spillway");
    assert_eq!(bind.uri, "/api/v1/namespaces/shop/pods/web-0/binding?&fieldManager=spillway");
    assert_eq!(bind.body["target"]["name"], "vm-1");
    assert_eq!(reconciler.placement("shop/web-0"), Some(&Placement::Bound { node: "vm-1".into() }));
    assert!(aci.list().await.expect("list").is_empty());
    assert!(
        reconciler.events().iter().any(|e| matches!(&e.kind, EventKind::Drained { to_node, .. } if to_node == "vm-1"))
    );
}

// ---------------------------------------------------------------------------------------------
// Watch conversion

fn kpod(v: Value) -> k::Pod {
    serde_json::from_value(v).expect("a pod")
}

fn knode(name: &str, cpu: &str) -> k::Node {
    serde_json::from_value(json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "pods": "110"}}}))
        .expect("a node")
}

fn keys(out: &[Result<ClusterEvent, WatchError>]) -> Vec<String> {
    out.iter()
        .map(|e| match e {
            Ok(ClusterEvent::PodAdded(p)) => format!("added {} {:?}", p.key(), p.node_name),
            Ok(ClusterEvent::PodUpdated(p)) => format!("updated {} {:?}", p.key(), p.node_name),
            Ok(ClusterEvent::PodDeleted(k)) => format!("deleted {k}"),
            Ok(ClusterEvent::NodeAdded(n)) => format!("node added {} {}", n.name, n.allocatable.cpu_millis),
            Ok(ClusterEvent::NodeUpdated(n)) => format!("node updated {} {}", n.name, n.allocatable.cpu_millis),
            Ok(ClusterEvent::NodeRemoved(n)) => format!("node removed {n}"),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error {e}"),
        })
        .collect()
}

#[test]
fn watched_pods_become_cluster_events() {
    let mut watch = ClusterWatch::new();
    let pending = kpod(k8s_pod("web-0", "u0", None));
    assert_eq!(keys(&watch.pod_event(Event::Apply(pending.clone()))), ["added shop/web-0 None"]);
    assert_eq!(keys(&watch.pod_event(Event::Apply(pending.clone()))), ["updated shop/web-0 None"]);
    let bound = kpod(k8s_pod("web-0", "u0", Some("vm-1")));
    assert_eq!(keys(&watch.pod_event(Event::Apply(bound.clone()))), ["updated shop/web-0 Some(\"vm-1\")"]);
    assert_eq!(keys(&watch.pod_event(Event::Delete(bound.clone()))), ["deleted shop/web-0"]);
    // A second delete of an object already gone says nothing.
    assert!(watch.pod_event(Event::Delete(bound)).is_empty());
}

#[test]
fn other_schedulers_pods_count_only_once_bound() {
    let mut watch = ClusterWatch::new();
    let mut theirs = k8s_pod("db-0", "u1", None);
    theirs["spec"]["schedulerName"] = json!("default-scheduler");
    assert!(watch.pod_event(Event::Apply(kpod(theirs.clone()))).is_empty());
    // No schedulerName at all is the default scheduler's too.
    let mut unnamed = theirs.clone();
    unnamed["spec"].as_object_mut().expect("spec").remove("schedulerName");
    assert!(watch.pod_event(Event::Apply(kpod(unnamed))).is_empty());
    // Bound by the default scheduler: it occupies capacity.
    theirs["spec"]["nodeName"] = json!("vm-2");
    assert_eq!(keys(&watch.pod_event(Event::Apply(kpod(theirs.clone())))), ["added shop/db-0 Some(\"vm-2\")"]);
    // Finished: its capacity is free again.
    theirs["status"] = json!({"phase": "Succeeded"});
    assert_eq!(keys(&watch.pod_event(Event::Apply(kpod(theirs)))), ["deleted shop/db-0"]);
    assert_eq!(watch.pods().count(), 0);

    // An unbound pod of ours being deleted is not placed; bound, it holds its node until gone.
    let mut watch = ClusterWatch::new();
    watch.pod_event(Event::Apply(kpod(k8s_pod("web-0", "u0", None))));
    watch.pod_event(Event::Apply(kpod(k8s_pod("web-1", "u1", Some("vm-1")))));
    for name in ["web-0", "web-1"] {
        let mut deleting = k8s_pod(name, "u", if name == "web-1" { Some("vm-1") } else { None });
        deleting["metadata"]["deletionTimestamp"] = json!("2023-11-14T22:13:20Z");
        let out = keys(&watch.pod_event(Event::Apply(kpod(deleting))));
        let expected = if name == "web-0" { "deleted shop/web-0" } else { "updated shop/web-1 Some(\"vm-1\")" };
        assert_eq!(out, [expected]);
    }

    let mut watch = ClusterWatch::new().with_scheduler_name("burst");
    assert!(watch.pod_event(Event::Apply(kpod(k8s_pod("web-0", "u0", None)))).is_empty());
    assert_eq!(watch.scheduler_name(), "burst");
}

#[test]
fn a_relist_deletes_what_it_no_longer_holds() {
    let mut watch = ClusterWatch::new();
    for name in ["a", "b", "c"] {
        watch.pod_event(Event::Apply(kpod(k8s_pod(name, name, None))));
    }
    let mut out = watch.pod_event(Event::Init);
    out.extend(watch.pod_event(Event::InitApply(kpod(k8s_pod("b", "b", Some("vm-1"))))));
    out.extend(watch.pod_event(Event::InitApply(kpod(k8s_pod("d", "d", None)))));
    out.extend(watch.pod_event(Event::InitDone));
    assert_eq!(keys(&out), ["updated shop/b Some(\"vm-1\")", "added shop/d None", "deleted shop/a", "deleted shop/c"]);
    assert_eq!(watch.pods().collect::<Vec<_>>(), ["shop/b", "shop/d"]);
}

#[test]
fn a_pod_that_cannot_be_converted_is_an_error_and_keeps_its_last_version() {
    let mut watch = ClusterWatch::new();
    watch.pod_event(Event::Apply(kpod(k8s_pod("web-0", "u0", None))));
    let mut bad = k8s_pod("web-0", "u0", None);
    bad["spec"]["tolerations"] = json!([{"key": "a", "operator": "Matches"}]);
    let out = watch.pod_event(Event::Apply(kpod(bad.clone())));
    match &out[..] {
        [Err(WatchError::Pod { pod, source })] => {
            assert_eq!(pod, "shop/web-0");
            assert_eq!(source.field, "spec.tolerations[0].operator");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        out[0].as_ref().unwrap_err().to_string(),
        "watched pod shop/web-0 left out: pod shop/web-0: spec.tolerations[0].operator: unknown operator \"Matches\" (use Equal, Exists, Gt or Lt)"
    );
    // Still known: a relist listing it (even unconvertible) does not delete it.
    watch.pod_event(Event::Init);
    watch.pod_event(Event::InitApply(kpod(bad)));
    assert!(watch.pod_event(Event::InitDone).is_empty());
    assert_eq!(watch.pods().collect::<Vec<_>>(), ["shop/web-0"]);
}

#[test]
fn watched_nodes_become_cluster_events() {
    let mut watch = ClusterWatch::new();
    assert_eq!(keys(&watch.node_event(Event::Apply(knode("vm-1", "4")))), ["node added vm-1 4000"]);
    assert_eq!(keys(&watch.node_event(Event::Apply(knode("vm-1", "3")))), ["node updated vm-1 3000"]);
    // Virtual-kubelet nodes are burst targets' stand-ins: left out.
    let mut virtual_node = knode("virtual-node-aci", "1000");
    virtual_node.metadata.labels = Some([("type".to_string(), "virtual-kubelet".to_string())].into());
    assert!(watch.node_event(Event::Apply(virtual_node.clone())).is_empty());
    let mut all = ClusterWatch::new().with_ignored_nodes(None);
    assert_eq!(keys(&all.node_event(Event::Apply(virtual_node))), ["node added virtual-node-aci 1000000"]);

    // A node that cannot be converted.
    let mut bad = knode("vm-2", "4");
    bad.status
        .as_mut()
        .expect("status")
        .allocatable
        .as_mut()
        .expect("alloc")
        .insert("memory".into(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("12Kb".into()));
    let out = watch.node_event(Event::Apply(bad));
    assert!(matches!(&out[..], [Err(WatchError::Node { node, .. })] if node == "vm-2"), "{out:?}");

    // Relist and delete.
    let mut out = watch.node_event(Event::Init);
    out.extend(watch.node_event(Event::InitApply(knode("vm-3", "2"))));
    out.extend(watch.node_event(Event::InitDone));
    assert_eq!(keys(&out), ["node added vm-3 2000", "node removed vm-1"]);
    assert_eq!(keys(&watch.node_event(Event::Delete(knode("vm-3", "2")))), ["node removed vm-3"]);
    assert_eq!(watch.nodes().count(), 0);
}

/// kube-runtime's watcher against the mock: its list and watch requests, turned into events.
#[tokio::test]
async fn a_watcher_stream_feeds_cluster_events() {
    use futures::StreamExt;
    let (client, mut api) = mock_client();
    let pods: kube::Api<k::Pod> = kube::Api::all(client);
    let mut stream = kube::runtime::watcher(pods, kube::runtime::watcher::Config::default()).boxed();
    let mut watch = ClusterWatch::new();
    let server = tokio::spawn(async move {
        let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "10"},
            "items": [k8s_pod("web-0", "u0", None)]});
        let listed = answer(&mut api, 200, list).await;
        let (request, send) = api.next_request().await.expect("a watch request");
        let watched = request.uri().to_string();
        let versioned = |mut pod: Value, version: &str| {
            pod["metadata"]["resourceVersion"] = json!(version);
            pod
        };
        let lines = [
            json!({"type": "MODIFIED", "object": versioned(k8s_pod("web-0", "u0", Some("vm-1")), "11")}),
            json!({"type": "ADDED", "object": versioned(k8s_pod("web-1", "u1", None), "12")}),
            json!({"type": "DELETED", "object": versioned(k8s_pod("web-0", "u0", Some("vm-1")), "13")}),
        ];
        let body: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
        send.send_response(Response::builder().status(200).body(Body::from(body)).expect("response"));
        (listed.uri, watched, api)
    });
    let mut out = Vec::new();
    while out.len() < 4 {
        let event = stream.next().await.expect("an event").expect("no watch error");
        out.extend(watch.pod_event(event));
    }
    let (listed, watched, _api) = server.await.expect("server");
    assert!(listed.starts_with("/api/v1/pods?"), "{listed}");
    assert!(watched.contains("watch=true") && watched.contains("resourceVersion=10"), "{watched}");
    assert_eq!(
        keys(&out),
        ["added shop/web-0 None", "updated shop/web-0 Some(\"vm-1\")", "added shop/web-1 None", "deleted shop/web-0"]
    );
}

// ---------------------------------------------------------------------------------------------
// Leader election

const LEASE_URI: &str = "/apis/coordination.k8s.io/v1/namespaces/spillway/leases/spillway";

fn wall() -> Timestamp {
    Timestamp::new(1_700_000_000, 0).expect("a timestamp")
}

fn lock(client: kube::Client, identity: &str, clock: &ManualClock) -> LeaseLock {
    LeaseLock::new(client, "spillway", "spillway", identity, clock.clone()).with_wall_clock(wall)
}

fn lease(holder: Option<&str>, version: &str, transitions: i32) -> Value {
    let mut spec = json!({"leaseDurationSeconds": 15, "leaseTransitions": transitions,
        "acquireTime": "2023-11-14T00:00:00.000000Z", "renewTime": "2023-11-14T00:00:05.000000Z"});
    if let Some(h) = holder {
        spec["holderIdentity"] = json!(h);
    }
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "spillway", "namespace": "spillway", "resourceVersion": version}, "spec": spec})
}

/// A lock for `identity` on a mock API server, with its clock.
fn locked(identity: &str) -> (LeaseLock, Mock, ManualClock) {
    let (client, api) = mock_client();
    let clock = ManualClock::new();
    (lock(client, identity, &clock), api, clock)
}

/// [`locked`], then `identity` acquires the lease: read at version 7, renewed to 8.
async fn leading(identity: &str) -> (LeaseLock, Mock, ManualClock) {
    let (mut lock, mut api, clock) = locked(identity);
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), async {
        answer(&mut api, 200, lease(Some(identity), "7", 0)).await;
        answer(&mut api, 200, lease(Some(identity), "8", 0)).await;
    });
    assert_eq!(state, Ok(LeaseState::Leader));
    (lock, api, clock)
}

const NOW: &str = "2023-11-14T22:13:20.000000Z";

#[tokio::test]
async fn a_missing_lease_is_created_held_by_us() {
    let (mut lock, mut api, clock) = locked("replica-a");
    let (state, (get, post)) = tokio::join!(lock.try_acquire_or_renew(), async {
        let get = answer(&mut api, 404, failure(404, "NotFound", "leases \"spillway\" not found")).await;
        let post = answer(&mut api, 201, lease(Some("replica-a"), "1", 0)).await;
        (get, post)
    });
    assert_eq!(state, Ok(LeaseState::Leader));
    assert!(lock.is_leader());
    assert_eq!((get.method.as_str(), get.uri.as_str()), ("GET", LEASE_URI));
    assert_eq!(post.method, "POST");
    assert_eq!(post.uri, "/apis/coordination.k8s.io/v1/namespaces/spillway/leases?");
    assert_eq!(
        post.body,
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "spillway"},
            "spec": {"holderIdentity": "replica-a", "leaseDurationSeconds": 15, "leaseTransitions": 0,
                "acquireTime": NOW, "renewTime": NOW}})
    );

    // Two replicas racing: the other created it first.
    let (client, mut api) = mock_client();
    let mut lock = self::lock(client, "replica-b", &clock);
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), async {
        answer(&mut api, 404, failure(404, "NotFound", "not found")).await;
        answer(&mut api, 409, failure(409, "AlreadyExists", "leases \"spillway\" already exists")).await;
    });
    assert_eq!(state, Ok(LeaseState::Follower { holder: None }));
    assert!(!lock.is_leader());
}

#[tokio::test]
async fn the_holder_renews_at_the_version_it_read() {
    let (mut lock, mut api, _) = locked("replica-a");
    let (state, (_, put)) = tokio::join!(lock.try_acquire_or_renew(), async {
        let get = answer(&mut api, 200, lease(Some("replica-a"), "7", 3)).await;
        let put = answer(&mut api, 200, lease(Some("replica-a"), "8", 3)).await;
        (get, put)
    });
    assert_eq!(state, Ok(LeaseState::Leader));
    assert_eq!((put.method.as_str(), put.uri.as_str()), ("PUT", format!("{LEASE_URI}?").as_str()));
    assert_eq!(put.body["metadata"]["resourceVersion"], "7");
    assert_eq!(
        put.body["spec"],
        json!({"holderIdentity": "replica-a", "leaseDurationSeconds": 15, "leaseTransitions": 3,
            "acquireTime": "2023-11-14T00:00:00.000000Z", "renewTime": NOW})
    );
}

#[tokio::test]
async fn another_holder_is_respected_until_its_lease_expires_then_taken_over() {
    let (mut lock, mut api, clock) = locked("replica-b");
    // First sight of replica-a's lease: it holds.
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), answer(&mut api, 200, lease(Some("replica-a"), "7", 3)));
    assert_eq!(state, Ok(LeaseState::Follower { holder: Some("replica-a".into()) }));
    // replica-a renews at 10 s: the lease changed, its 15 s start again.
    clock.advance(Duration::from_secs(10));
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), answer(&mut api, 200, lease(Some("replica-a"), "8", 3)));
    assert_eq!(state, Ok(LeaseState::Follower { holder: Some("replica-a".into()) }));
    clock.advance(Duration::from_secs(14)); // 24 s: 14 s since the change
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), answer(&mut api, 200, lease(Some("replica-a"), "8", 3)));
    assert_eq!(state, Ok(LeaseState::Follower { holder: Some("replica-a".into()) }));
    assert!(!lock.is_leader());
    // 25 s: unchanged for 15 s, expired: taken over, one more transition.
    clock.advance(Duration::from_secs(1));
    let (state, (_, put)) = tokio::join!(lock.try_acquire_or_renew(), async {
        let get = answer(&mut api, 200, lease(Some("replica-a"), "8", 3)).await;
        let put = answer(&mut api, 200, lease(Some("replica-b"), "9", 4)).await;
        (get, put)
    });
    assert_eq!(state, Ok(LeaseState::Leader));
    assert_eq!(put.body["metadata"]["resourceVersion"], "8");
    assert_eq!(
        put.body["spec"],
        json!({"holderIdentity": "replica-b", "leaseDurationSeconds": 15, "leaseTransitions": 4,
            "acquireTime": NOW, "renewTime": NOW})
    );
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once_and_a_lost_race_is_a_follower() {
    let (mut lock, mut api, _) = locked("replica-b");
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), async {
        answer(&mut api, 200, lease(None, "7", 3)).await;
        answer(
            &mut api,
            409,
            failure(409, "Conflict", "the object has been modified; please apply your changes to the latest version"),
        )
        .await;
    });
    assert_eq!(state, Ok(LeaseState::Follower { holder: None }));
    let (state, _) = tokio::join!(lock.try_acquire_or_renew(), async {
        answer(&mut api, 200, lease(None, "8", 3)).await;
        answer(&mut api, 200, lease(Some("replica-b"), "9", 4)).await;
    });
    assert_eq!(state, Ok(LeaseState::Leader));
}

#[tokio::test]
async fn acquire_waits_a_retry_period_between_attempts() {
    let (mut lock, mut api, clock) = locked("replica-b");
    let (result, ()) = tokio::join!(lock.acquire(), async {
        answer(&mut api, 200, lease(Some("replica-a"), "7", 3)).await;
        // replica-a released it meanwhile.
        answer(&mut api, 200, lease(None, "8", 3)).await;
        answer(&mut api, 200, lease(Some("replica-b"), "9", 4)).await;
    });
    assert_eq!(result, Ok(()));
    assert!(lock.is_leader());
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn listing_bindings_forbidden_is_transient_and_names_the_fix() {
    let (client, mut api) = mock_client();
    let binder = KubeBinder::new(client);
    let (result, _) = tokio::join!(
        binder.bindings(),
        answer(&mut api, 403, failure(403, "Forbidden", "pods is forbidden: cannot list resource \"pods\""))
    );
    match result {
        Err(BindError::Transient { pod, message }) => {
            assert_eq!(pod, "(all pods)");
            assert!(message.starts_with("listing bound pods: forbidden"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn the_leader_steps_down_when_another_holds_the_lease() {
    let (mut lock, mut api, clock) = leading("replica-a").await;
    // Renewed once, then someone else holds it (an operator forced it, say).
    let (lost, ()) = tokio::join!(lock.hold(), async {
        answer(&mut api, 200, lease(Some("replica-a"), "8", 0)).await;
        answer(&mut api, 200, lease(Some("replica-a"), "9", 0)).await;
        answer(&mut api, 200, lease(Some("replica-c"), "10", 1)).await;
    });
    assert_eq!(lost, LeaseLost::Taken { holder: Some("replica-c".into()) });
    assert!(!lock.is_leader());
    assert_eq!(clock.sleeps(), [Duration::from_secs(2), Duration::from_secs(2)]);
}

#[tokio::test]
async fn the_leader_steps_down_after_the_renew_deadline() {
    let (mut lock, mut api, clock) = leading("replica-a").await;
    // Every renewal fails: at 2, 4, 6 and 8 s it still leads; at 10 s the deadline has passed.
    let (lost, ()) = tokio::join!(lock.hold(), async {
        for _ in 0..5 {
            answer(&mut api, 500, failure(500, "InternalError", "etcdserver: leader changed")).await;
        }
    });
    match lost {
        LeaseLost::Deadline { last_error: LeaseError::Api { code: 500, message, .. } } => {
            assert_eq!(message, "etcdserver: leader changed")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(clock.now(), Duration::from_secs(10));
    assert!(!lock.is_leader());
}

#[tokio::test]
async fn release_clears_the_holder() {
    let (mut lock, mut api, _) = locked("replica-a");
    let (result, (_, put)) = tokio::join!(lock.release(), async {
        let get = answer(&mut api, 200, lease(Some("replica-a"), "7", 2)).await;
        let put = answer(&mut api, 200, lease(None, "8", 2)).await;
        (get, put)
    });
    assert_eq!(result, Ok(()));
    assert_eq!(put.body["metadata"]["resourceVersion"], "7");
    assert_eq!(put.body["spec"]["holderIdentity"], Value::Null);
    assert_eq!(put.body["spec"]["leaseDurationSeconds"], 1);
    // Not ours: left alone.
    let (result, _) = tokio::join!(lock.release(), answer(&mut api, 200, lease(Some("replica-c"), "9", 3)));
    assert_eq!(result, Ok(()));
}

#[tokio::test]
async fn forbidden_lease_access_names_the_rbac_fix() {
    let (mut lock, mut api, _) = locked("replica-a");
    let (result, _) = tokio::join!(
        lock.try_acquire_or_renew(),
        answer(&mut api, 403, failure(403, "Forbidden", "leases.coordination.k8s.io \"spillway\" is forbidden"))
    );
    let error = result.expect_err("forbidden");
    assert!(error.to_string().contains("grant the service account get, create and update on leases"), "{error}");
}

#[tokio::test]
async fn lease_timing_is_validated() {
    let (client, _api) = mock_client();
    let bad = LeaseConfig { retry_period: Duration::from_secs(10), ..LeaseConfig::default() };
    let error = LeaseLock::new(client, "ns", "l", "me", ManualClock::new()).with_config(bad).expect_err("invalid");
    assert!(matches!(error, LeaseError::InvalidConfig { .. }));
    let fractional = LeaseConfig { lease_duration: Duration::from_millis(15_500), ..LeaseConfig::default() };
    assert!(fractional.validate().is_err());
}
