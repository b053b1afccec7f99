//! "Nothing lost or duplicated": random sequences of cluster events, backend faults, refused
//! evictions, time and restarts; once the faults stop and the reconciler settles, every live pod
//! is bound to a live node or runs on exactly one burst instance, and no instance or binding
//! exists without its pod; budgets and quotas hold after every operation. The world, the
//! operations and the checks are shared with `fault_injection.rs` (seeded schedules) through
//! `common/faults.rs`; time is tokio's, paused.

#[path = "common/faults.rs"]
mod faults;

use faults::Op;
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..6, 0u8..4).prop_map(|(p, c)| Op::AddPod(p, c)),
        1 => (0u8..6).prop_map(Op::DeletePod),
        2 => (0u8..3).prop_map(Op::AddNode),
        1 => (0u8..3).prop_map(Op::RemoveNode),
        1 => (1u8..3).prop_map(Op::FailCreates),
        1 => Just(Op::TimeOutCreate),
        1 => Just(Op::Throttle),
        1 => (0u8..6).prop_map(Op::Lose),
        1 => (0u8..6).prop_map(Op::FailAfterStart),
        1 => (0u8..6).prop_map(Op::RefuseEviction),
        1 => Just(Op::FailBind),
        1 => Just(Op::TimeOutBind),
        2 => (0u8..60).prop_map(Op::Advance),
        4 => Just(Op::Reconcile),
        1 => Just(Op::Restart),
        2 => (0u8..16).prop_map(Op::Kill),
        2 => (0u8..16).prop_map(Op::Cancel),
    ]
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N runs N.
    #[test]
    fn nothing_is_lost_or_duplicated(ops in prop::collection::vec(op(), 1..40)) {
        faults::paused_runtime().block_on(faults::run(ops)).map_err(TestCaseError::fail)?;
    }
}
