//! The `aci_burst` example, run against the fake ARM server.

mod support;

// The example's source, so that its `run` can be called with the fake's URL; its `main` is not
// called here.
#[allow(dead_code)]
#[path = "../examples/aci_burst.rs"]
mod aci_burst;

use std::time::Duration;

use support::fake_arm::FakeArm;

#[tokio::test]
async fn aci_burst_creates_waits_lists_and_deletes() {
    let fake = FakeArm::start(spillway::backend::ManualClock::new()).await;
    {
        let mut s = fake.state();
        s.start_latency = Duration::ZERO;
        s.put_retry_after = 0;
    }
    let file = format!("{}/examples/scenarios/black-friday.yaml", env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> =
        ["--endpoint", &fake.url, "--subscription", "sub-1", "--resource-group", "rg", "--region", "eastus", &file]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let env = |name: &str| (name == "SPILLWAY_ARM_TOKEN").then(|| "static-token".to_string());
    let mut out = Vec::new();
    aci_burst::run(&args, &env, &mut out).await.expect("the example runs");
    let out = String::from_utf8(out).unwrap();
    let created = out.lines().filter(|l| l.starts_with("created ")).count();
    assert!(created > 0, "the scenario bursts some pods:\n{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("status ") && l.ends_with("Running")).count(), created, "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("instance ")).count(), created, "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("deleted ")).count(), created, "{out}");
    assert!(fake.state().groups.is_empty(), "deleted again");

    let bad = aci_burst::run(&args[..2], &env, &mut Vec::new()).await.unwrap_err();
    assert_eq!(bad.to_string(), "--subscription is required");
}
