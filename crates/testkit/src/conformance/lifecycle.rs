//! Clauses on power and idempotence.

use super::{act, deploy, not_applicable, ok, status, Harness};
use csx_core::{ErrorKind, PowerState, Reply};

/// prepare → create → status/statuses → stop → start → reboot → console → delete.
pub async fn lifecycle(h: &dyn Harness) {
    let n = "i-2-901-VM";
    deploy(h, n).await;
    assert!(h.exists(n).await, "create must make the instance");
    assert_eq!(status(h, n).await, PowerState::On, "create must power the instance on");
    ok(act(h, n, "stop").await, "stop");
    assert_eq!(status(h, n).await, PowerState::Off, "stop must power off");
    ok(act(h, n, "start").await, "start");
    assert_eq!(status(h, n).await, PowerState::On, "start must power on");
    ok(act(h, n, "reboot").await, "reboot");
    assert_eq!(status(h, n).await, PowerState::On, "reboot leaves the instance on");
    match act(h, n, "getconsole").await {
        Ok(Reply::Console(_)) => {}
        Err(e) if e.kind() == ErrorKind::Unsupported => {}
        other => {
            panic!("getconsole must give a console or a typed unsupported error, got {other:?}")
        }
    }
    ok(act(h, n, "delete").await, "delete");
    assert!(!h.exists(n).await, "delete must remove the instance");
    assert_eq!(status(h, n).await, PowerState::Off, "a deleted instance is off");
}

/// stop and delete succeed twice in a row and on instances that never existed;
/// create twice leaves one running instance; reboot of a stopped instance starts it.
pub async fn idempotence(h: &dyn Harness) {
    let n = "i-2-902-VM";
    ok(act(h, n, "stop").await, "stop of a missing instance");
    ok(act(h, n, "delete").await, "delete of a missing instance");
    deploy(h, n).await;
    ok(act(h, n, "create").await, "create retried after success");
    assert_eq!(status(h, n).await, PowerState::On);
    ok(act(h, n, "start").await, "start of a running instance");
    ok(act(h, n, "stop").await, "stop");
    ok(act(h, n, "stop").await, "stop of a stopped instance");
    ok(act(h, n, "reboot").await, "reboot of a stopped instance");
    assert_eq!(status(h, n).await, PowerState::On, "reboot of a stopped instance starts it");
    ok(act(h, n, "delete").await, "delete");
    ok(act(h, n, "delete").await, "delete retried");
    ok(act(h, n, "stop").await, "stop after delete");
    assert!(!h.exists(n).await);
}

/// A create that fails leaves nothing behind, and its retry succeeds.
pub async fn create_retried_after_failure(h: &dyn Harness) {
    let n = "i-2-903-VM";
    if !h.arm_create_failure().await {
        return not_applicable(h, "create_retried_after_failure", "the harness cannot make a create fail");
    }
    let r = act(h, n, "create").await;
    assert!(r.is_err(), "an armed failure must fail the create, got {r:?}");
    assert!(!h.exists(n).await, "a failed create must remove what it made");
    deploy(h, n).await;
    assert_eq!(status(h, n).await, PowerState::On, "the retried create must power on");
    ok(act(h, n, "delete").await, "delete");
}

/// Status of an instance that does not exist is `poweroff`; start of one fails.
pub async fn missing_instance(h: &dyn Harness) {
    let n = "i-2-904-VM";
    assert_eq!(status(h, n).await, PowerState::Off);
    let e = act(h, n, "start").await.expect_err("start of a missing instance must fail");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{}", e.message());
}

/// `statuses` agrees with `status` for every instance.
pub async fn statuses_consistent(h: &dyn Harness) {
    let (a, b) = ("i-2-905-VM", "i-2-906-VM");
    deploy(h, a).await;
    deploy(h, b).await;
    ok(act(h, b, "stop").await, "stop");
    let map = match act(h, a, "statuses").await {
        Ok(Reply::Statuses(m)) => m,
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            return not_applicable(h, "statuses_consistent", "statuses is unsupported")
        }
        other => panic!("statuses: {other:?}"),
    };
    for n in [a, b] {
        assert_eq!(map.get(n).copied(), Some(status(h, n).await), "statuses and status disagree on {n}: {map:?}");
    }
    ok(act(h, a, "delete").await, "delete");
    ok(act(h, b, "delete").await, "delete");
}
