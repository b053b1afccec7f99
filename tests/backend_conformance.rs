//! The shared conformance suite, run against the mock backend and against the ACI backend
//! talking to the fake ARM server.

mod support;

macro_rules! conformance {
    ($backend:ident, $harness:path) => {
        mod $backend {
            use crate::support::conformance as suite;

            #[tokio::test]
            async fn lifecycle() {
                suite::lifecycle($harness(10).await).await;
            }

            #[tokio::test]
            async fn create_is_idempotent() {
                suite::create_is_idempotent($harness(10).await).await;
            }

            #[tokio::test]
            async fn missing_instances() {
                suite::missing_instances($harness(10).await).await;
            }

            #[tokio::test]
            async fn quota() {
                suite::quota($harness(2).await).await;
            }

            #[tokio::test]
            async fn too_large() {
                suite::too_large($harness(10).await).await;
            }

            #[tokio::test]
            async fn list_rebuilds_state() {
                suite::list_rebuilds_state($harness(10).await).await;
            }

            #[tokio::test]
            async fn failure_after_start() {
                suite::failure_after_start($harness(10).await).await;
            }

            #[tokio::test]
            async fn describe() {
                suite::describe($harness(10).await).await;
            }
        }
    };
}

conformance!(mock, crate::support::mock_harness);
conformance!(aci, crate::support::aci_harness);
