//! `kube_controller`: spillway as a Kubernetes scheduler. It places the pods that ask for it
//! (`spec.schedulerName: spillway`) on VM nodes through `pods/binding`, or bursts them to a
//! burst backend, drains them back through the Eviction API, and runs as several replicas with
//! one leader elected over a `coordination.k8s.io/v1` Lease.
//!
//! ```text
//! cargo run --example kube_controller --features kube
//! ```
//!
//! It connects like `kubectl` (`Client::try_default()`: the in-cluster service account, or
//! `KUBECONFIG` / `~/.kube/config`). Settings, from the environment:
//!
//! - `SPILLWAY_NAMESPACE`: the namespace of the Lease (default: the client's namespace);
//! - `SPILLWAY_LEASE`: the Lease's name (default `spillway`);
//! - `SPILLWAY_IDENTITY`: this replica's identity in the Lease (default: `HOSTNAME`, which is
//!   the pod's name in a cluster);
//! - `SPILLWAY_SCHEDULER_NAME`: the `schedulerName` to answer to (default `spillway`);
//! - `SPILLWAY_INTERVAL`: seconds between reconcile steps when nothing happens (default 10).
//!
//! The burst target is the in-memory mock backend (`MockBackend`, an ACI-like target named
//! `aci`): bursts are simulated, binds and evictions are real. A production controller puts an
//! `AciBackend` there (see the `aci_burst` example) and converts live pods with
//! `spillway::k8s::burst_spec_from_k8s`.
//!
//! It follows client-go's leader election: it waits for the Lease, then leads while it renews
//! it; when it cannot renew within the deadline, or another replica holds the Lease, it stops at
//! once and exits with status 3, so Kubernetes restarts it as a follower. Ctrl-C (SIGINT) shuts
//! down gracefully: the reconciler finishes its step, rolls back moves not yet evicted, and the
//! Lease is released so another replica takes over at once. Exit status: 0 after a graceful
//! shutdown, 1 on an error, 3 when leadership was lost.

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use spillway::backend::TokioClock;
use spillway::backend::mock::MockBackend;
use spillway::model::BurstTarget;
use spillway::runtime::kube::{ClusterWatch, KubeBinder, LeaseLock, LeaseLost, SCHEDULER_NAME};
use spillway::runtime::{ClusterEvent, Reconciler, RuntimeEvent};
use spillway::{Engine, Policy};
use tokio::sync::{mpsc, oneshot};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kube_controller: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_or(name: &str, default: impl FnOnce() -> String) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(default)
}

/// How the leading part ended.
enum Ended {
    /// The watches stopped (Ctrl-C): the reconciler has shut down.
    Gracefully,
    /// Leadership was lost.
    Lost(LeaseLost),
}

async fn run() -> Result<ExitCode, Box<dyn Error>> {
    let client = kube::Client::try_default().await?;
    let namespace = env_or("SPILLWAY_NAMESPACE", || client.default_namespace().to_string());
    let lease = env_or("SPILLWAY_LEASE", || "spillway".into());
    let identity = env_or("SPILLWAY_IDENTITY", || env_or("HOSTNAME", || format!("spillway-{}", std::process::id())));
    let scheduler = env_or("SPILLWAY_SCHEDULER_NAME", || SCHEDULER_NAME.into());
    let interval = Duration::from_secs(env_or("SPILLWAY_INTERVAL", || "10".into()).parse()?);

    // 1. Leader election: nothing below runs before this replica holds the Lease.
    let mut lock = LeaseLock::new(client.clone(), &namespace, &lease, &identity, TokioClock::new());
    eprintln!("{identity}: waiting for the lease {namespace}/{lease}");
    while let Err(e) = lock.acquire().await {
        eprintln!("{identity}: {e}; trying again");
        tokio::time::sleep(lock.config().retry_period).await;
    }
    eprintln!("{identity}: leading; placing pods with schedulerName {scheduler}");

    // 2. The reconciler: the engine, the kube binder and the burst backend.
    let clock = TokioClock::new();
    let engine = Arc::new(Engine::new(Policy::default())?);
    let backend = Arc::new(MockBackend::new(BurstTarget::aci_like("aci", "eastus"), clock));
    let binder = Arc::new(KubeBinder::new(client.clone()));
    let mut reconciler = Reconciler::new(engine, binder, clock).with_backend("aci", backend);

    // 3. Watches: Pods and Nodes, converted and forwarded until Ctrl-C.
    let (events, mut rx) = mpsc::channel::<ClusterEvent>(1024);
    let (synced, mut synced_rx) = oneshot::channel::<()>();
    let watch = ClusterWatch::new().with_scheduler_name(scheduler);
    tokio::spawn(forward(client, watch, events, synced));

    // 4. Lead: sync, recover, reconcile — while the lease is renewed alongside.
    let lead = async {
        // The first listing of pods and nodes goes in before recover() reads the bindings and
        // the backend, so that nothing running is taken for an orphan.
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => reconciler.handle(event),
                    None => break,
                },
                _ = &mut synced_rx => break,
            }
        }
        while let Ok(event) = rx.try_recv() {
            reconciler.handle(event);
        }
        if let Err(e) = reconciler.recover().await {
            eprintln!("recover: {e}");
        }
        report(reconciler.take_events());
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        reconciler.handle(event);
                        while let Ok(event) = rx.try_recv() {
                            reconciler.handle(event);
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {}
            }
            reconciler.reconcile().await;
            report(reconciler.take_events());
        }
        // The watches stopped: shut down gracefully.
        reconciler.shutdown().await;
        report(reconciler.take_events());
    };
    let ended = tokio::select! {
        () = lead => Ended::Gracefully,
        lost = lock.hold() => Ended::Lost(lost),
    };
    match ended {
        Ended::Gracefully => {
            if let Err(e) = lock.release().await {
                eprintln!("{identity}: releasing the lease: {e} (it expires on its own)");
            }
            eprintln!("{identity}: stopped");
            Ok(ExitCode::SUCCESS)
        }
        Ended::Lost(lost) => {
            // Stop acting at once: the reconciler's step (if any) was dropped, which loses
            // nothing; the new leader recovers from the cluster and the backends.
            eprintln!("{identity}: leadership lost ({lost:?}); exiting");
            Ok(ExitCode::from(3))
        }
    }
}

/// Watches Pods and Nodes and forwards them as `ClusterEvent`s; signals `synced` once both
/// initial listings are in. Returns on Ctrl-C (dropping `events`, which ends the reconciler).
async fn forward(
    client: kube::Client,
    mut watch: ClusterWatch,
    events: mpsc::Sender<ClusterEvent>,
    synced: oneshot::Sender<()>,
) {
    // Pods are large: boxed, so that node events do not carry a pod's size.
    enum Watched {
        Pod(Box<Result<watcher::Event<Pod>, watcher::Error>>),
        Node(Box<Result<watcher::Event<Node>, watcher::Error>>),
    }
    let pods = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()).default_backoff().boxed();
    let nodes = watcher(Api::<Node>::all(client), watcher::Config::default()).default_backoff().boxed();
    let mut stream =
        futures::stream::select(pods.map(|e| Watched::Pod(Box::new(e))), nodes.map(|e| Watched::Node(Box::new(e))));
    let (mut pods_synced, mut nodes_synced) = (false, false);
    let mut synced = Some(synced);
    // kube-client enables tokio's `signal` feature.
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let watched = tokio::select! {
            watched = stream.next() => match watched {
                Some(watched) => watched,
                None => return,
            },
            _ = &mut interrupt => {
                eprintln!("interrupted: shutting down");
                return;
            }
        };
        let converted = match watched {
            Watched::Pod(event) => match *event {
                Ok(event) => {
                    pods_synced |= matches!(event, watcher::Event::InitDone);
                    watch.pod_event(event)
                }
                // The watcher retries with backoff; the error is only reported.
                Err(e) => {
                    eprintln!("watching pods: {e}");
                    continue;
                }
            },
            Watched::Node(event) => match *event {
                Ok(event) => {
                    nodes_synced |= matches!(event, watcher::Event::InitDone);
                    watch.node_event(event)
                }
                Err(e) => {
                    eprintln!("watching nodes: {e}");
                    continue;
                }
            },
        };
        for result in converted {
            match result {
                Ok(event) => {
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                Err(e) => eprintln!("{e}"),
            }
        }
        if pods_synced
            && nodes_synced
            && let Some(synced) = synced.take()
        {
            let _ = synced.send(());
        }
    }
}

/// Prints what the reconciler did.
fn report(events: Vec<RuntimeEvent>) {
    for event in events {
        let pod = event.pod.as_deref().unwrap_or("-");
        eprintln!("[{:>8.1}s] {pod}: {:?}", event.at.as_secs_f64(), event.kind);
    }
}
