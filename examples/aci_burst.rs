//! `aci_burst`: how a controller wires the ACI backend. Plans a scenario and, for every pod the
//! plan bursts to an ACI target, creates its container group, waits until it runs (or fails,
//! with the reason), lists the backend's instances and deletes them again.
//!
//! ```text
//! cargo run --example aci_burst -- [--endpoint URL] --subscription S --resource-group RG --region R
//!     [--image IMAGE] [--timeout SECONDS] [--keep] FILE
//! ```
//!
//! The bearer token comes from `SPILLWAY_ARM_TOKEN` (a static token, e.g. from
//! `az account get-access-token --query accessToken -o tsv`); when it is unset, from Azure AD client
//! credentials when `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` are set, and
//! otherwise from the managed identity (IMDS; `AZURE_CLIENT_ID` selects a user-assigned one).
//! `--endpoint` defaults to the public ARM endpoint. `--keep` leaves the container groups.
//!
//! A scenario's pods carry no images (the model is the scheduling view), so every container runs
//! `--image` (default `mcr.microsoft.com/azuredocs/aci-helloworld:latest`) with the pod's
//! requests; a real controller converts the live pod with `spillway::k8s::burst_spec_from_k8s`
//! and resolves its Secret references instead. Exit status: 0 on success, 1 on an error, 2 on a
//! usage error.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use spillway::backend::aci::{
    AciBackend, AciConfig, ClientCredentials, ManagedIdentity, PUBLIC_ENDPOINT, StaticToken, TokenProvider,
};
use spillway::backend::{
    BurstBackend, BurstPodSpec, ContainerSpec, CreateRequest, InstanceStatus, Secret, TokioClock, wait_until_started,
};
use spillway::scenario::Scenario;
use spillway::{Engine, Outcome};

const USAGE: &str = "usage: aci_burst [--endpoint URL] --subscription S --resource-group RG --region R \
[--image IMAGE] [--timeout SECONDS] [--keep] FILE";
const DEFAULT_IMAGE: &str = "mcr.microsoft.com/azuredocs/aci-helloworld:latest";

/// The parsed command line.
#[derive(Debug)]
struct Args {
    endpoint: String,
    subscription: String,
    resource_group: String,
    region: String,
    image: String,
    timeout: Duration,
    keep: bool,
    file: String,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let (mut endpoint, mut subscription, mut resource_group, mut region) =
        (PUBLIC_ENDPOINT.to_string(), None, None, None);
    let (mut image, mut timeout, mut keep, mut file) =
        (DEFAULT_IMAGE.to_string(), Duration::from_secs(300), false, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--endpoint" => endpoint = value()?,
            "--subscription" => subscription = Some(value()?),
            "--resource-group" => resource_group = Some(value()?),
            "--region" => region = Some(value()?),
            "--image" => image = value()?,
            "--timeout" => {
                timeout =
                    Duration::from_secs(value()?.parse().map_err(|_| "--timeout takes whole seconds".to_string())?)
            }
            "--keep" => keep = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path if file.is_none() => file = Some(path.to_string()),
            extra => return Err(format!("unexpected argument {extra}")),
        }
    }
    Ok(Args {
        endpoint,
        subscription: subscription.ok_or("--subscription is required")?,
        resource_group: resource_group.ok_or("--resource-group is required")?,
        region: region.ok_or("--region is required")?,
        image,
        timeout,
        keep,
        file: file.ok_or("a scenario FILE is required")?,
    })
}

/// The token provider: `SPILLWAY_ARM_TOKEN`, else client credentials, else managed identity.
fn tokens(env: &dyn Fn(&str) -> Option<String>) -> Result<Arc<dyn TokenProvider>, Box<dyn Error>> {
    if let Some(token) = env("SPILLWAY_ARM_TOKEN").filter(|t| !t.is_empty()) {
        return Ok(Arc::new(StaticToken::new(token)));
    }
    if let (Some(tenant), Some(client), Some(secret)) =
        (env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"), env("AZURE_CLIENT_SECRET"))
    {
        return Ok(Arc::new(ClientCredentials::new(tenant, client, Secret::new(secret))?));
    }
    Ok(Arc::new(ManagedIdentity::new(env("AZURE_CLIENT_ID"))?))
}

/// Plans the scenario and drives the ACI backend; progress goes to `out`. (`pub(crate)` so that
/// tests/backend_example.rs can run it against the fake ARM server.)
pub(crate) async fn run(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    let args = parse(args)?;
    let scenario = Scenario::load(&[&args.file])?;
    let plan = Engine::new(scenario.policy.clone())?.place(&scenario.snapshot, &scenario.pending);

    let aci_targets: Vec<_> = scenario.snapshot.burst_targets().iter().filter(|t| t.backend == "aci").collect();
    let mut config = AciConfig::new(&args.subscription, &args.resource_group, &args.region);
    config.endpoint = args.endpoint.clone();
    config.provisioning_deadline = Some(args.timeout);
    if let Some(target) = aci_targets.first() {
        config.target = (*target).clone();
    }
    let backend: Arc<dyn BurstBackend> = Arc::new(AciBackend::new(config, tokens(env)?)?);

    let mut keys = Vec::new();
    for decision in &plan.decisions {
        let Outcome::Burst { target, instance, .. } = &decision.outcome else { continue };
        if !aci_targets.iter().any(|t| &t.name == target) {
            writeln!(out, "skip {}: target {target} is not an ACI target", decision.pod)?;
            continue;
        }
        let Some(pod) = scenario.pending.iter().find(|p| p.key() == decision.pod) else { continue };
        let containers = pod
            .containers
            .iter()
            .map(|c| {
                ContainerSpec::new(if c.name.is_empty() { "app" } else { &c.name }, &args.image, c.requests.clone())
            })
            .collect();
        let request = CreateRequest::new(pod, *instance, BurstPodSpec::new(containers));
        match backend.create(&request).await {
            Ok(created) => {
                writeln!(out, "created {} for {} ({:?})", created.key, decision.pod, created.status)?;
                let started = wait_until_started(
                    &*backend,
                    &request.key,
                    &TokioClock::new(),
                    Duration::from_secs(5),
                    args.timeout,
                )
                .await?;
                match &started.status {
                    InstanceStatus::Failed { reason } => writeln!(out, "failed {}: {reason}", started.key)?,
                    status => writeln!(out, "status {}: {status:?}", started.key)?,
                }
                keys.push(request.key);
            }
            Err(e) => writeln!(out, "error {}: {e}", decision.pod)?,
        }
    }
    for instance in backend.list().await? {
        let pod = &instance.pod;
        writeln!(
            out,
            "instance {} pod {}/{} uid {} {:?}",
            instance.key, pod.namespace, pod.name, pod.uid, instance.status
        )?;
    }
    if !args.keep {
        for key in &keys {
            backend.delete(key).await?;
            writeln!(out, "deleted {key}")?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = parse(&args) {
        eprintln!("aci_burst: {e}\n{USAGE}");
        return ExitCode::from(2);
    }
    let env = |name: &str| std::env::var(name).ok();
    match run(&args, &env, &mut std::io::stdout()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aci_burst: {e}");
            ExitCode::FAILURE
        }
    }
}
