//! The conformance suite: every backend runs these through the `Backend` trait.
//!
//! A backend's test crate implements [`Harness`] over its mock and calls
//! [`run_all`] (or the functions one by one). Each function panics with a
//! message naming the contract clause that failed.

use csx_core::{dispatch, Action, Backend, CustomResult, ErrorKind, ParamType, Payload, PowerState, Reply, Request};
use serde_json::{json, Value};
use std::time::Duration;

/// What a backend's tests provide to the suite.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// The backend under test, configured against its mock.
    fn backend(&self) -> &dyn Backend;
    /// A complete `create`-shaped payload for an instance named `name`,
    /// configured for this backend (details, NICs, CPU, memory).
    fn payload(&self, name: &str) -> Value;
    /// Makes the next `create` fail after it has made something on the
    /// hypervisor. Returns false when the backend cannot inject that.
    async fn arm_create_failure(&self) -> bool;
    /// Ground truth: does the hypervisor (mock) hold an instance of that name?
    async fn exists(&self, name: &str) -> bool;
}

const DEADLINE: Duration = Duration::from_secs(30);

fn request(v: Value) -> Request {
    let bytes = serde_json::to_vec(&v).expect("payload");
    let payload = Payload::from_slice(&bytes).expect("harness payloads must parse");
    Request::new(payload, tokio::time::Instant::now() + DEADLINE)
}

/// The payload CloudStack sends for `action`: no NICs outside create/start/prepare,
/// no `deployvm` after the first start.
fn payload_for(h: &dyn Harness, name: &str, action: &str) -> Value {
    let mut v = h.payload(name);
    let vm = v.get_mut("cloudstack.vm.details").and_then(Value::as_object_mut);
    if let Some(vm) = vm {
        if !matches!(action, "create" | "prepare" | "start") {
            vm.insert("nics".into(), json!([]));
        }
        if let Some(d) = vm.get_mut("details").and_then(Value::as_object_mut) {
            if matches!(action, "create" | "prepare") {
                d.insert("deployvm".into(), "true".into());
            } else {
                d.remove("deployvm");
            }
        }
    }
    v
}

async fn act(h: &dyn Harness, name: &str, action: &str) -> csx_core::Result<Reply> {
    let spec = Action::resolve(action, &h.backend().custom_actions())?;
    dispatch(h.backend(), &spec, &request(payload_for(h, name, action))).await
}

#[track_caller]
fn ok(r: csx_core::Result<Reply>, what: &str) -> Reply {
    match r {
        Ok(Reply::Failed(e)) | Err(e) => panic!("{what} failed: {:?}: {}", e.kind(), e.message()),
        Ok(r) => r,
    }
}

async fn status(h: &dyn Harness, name: &str) -> PowerState {
    match ok(act(h, name, "status").await, &format!("status of {name}")) {
        Reply::Status(s) => s,
        other => panic!("status returned {other:?}"),
    }
}

/// Prepare (if the backend patches anything, the patch is merged as CloudStack does), create.
async fn deploy(h: &dyn Harness, name: &str) {
    let prepared = ok(act(h, name, "prepare").await, "prepare");
    let mut create = payload_for(h, name, "create");
    if let Reply::Prepared(p) = prepared {
        for (k, v) in p.details {
            create["cloudstack.vm.details"]["details"][k] = Value::String(v);
        }
    }
    let spec = Action::Create;
    ok(dispatch(h.backend(), &spec, &request(create)).await, &format!("create of {name}"));
}

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
        return;
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
        Err(e) if e.kind() == ErrorKind::Unsupported => return,
        other => panic!("statuses: {other:?}"),
    };
    for n in [a, b] {
        assert_eq!(map.get(n).copied(), Some(status(h, n).await), "statuses and status disagree on {n}: {map:?}");
    }
    ok(act(h, a, "delete").await, "delete");
    ok(act(h, b, "delete").await, "delete");
}

/// Every declared custom action runs (in declaration order, so create-before-delete
/// declarations work), matched case-insensitively; tables have object rows.
pub async fn custom_actions(h: &dyn Harness) {
    let n = "i-2-907-VM";
    deploy(h, n).await;
    for spec in h.backend().custom_actions() {
        let mut params = serde_json::Map::new();
        for p in &spec.params {
            let v = match p.kind {
                ParamType::String => json!("csxsnap1"),
                ParamType::Boolean => json!(false),
                ParamType::Number => json!(1),
            };
            params.insert(p.name.to_string(), v);
        }
        let mut v = payload_for(h, n, "custom");
        v["action"] = json!(spec.name);
        v["parameters"] = Value::Object(params);
        let name = spec.name.to_lowercase();
        let action = Action::resolve(&name, &h.backend().custom_actions()).expect("case-insensitive match");
        match ok(dispatch(h.backend(), &action, &request(v)).await, &format!("custom action {}", spec.name)) {
            Reply::Custom(CustomResult::Table(rows)) => assert!(rows.iter().all(|r| !r.is_empty())),
            Reply::Custom(CustomResult::Message(m)) => assert!(!m.is_empty()),
            other => panic!("custom action returned {other:?}"),
        }
    }
    ok(act(h, n, "delete").await, "delete");
}

/// Unknown actions and agent-command fallbacks are typed "unsupported" errors.
pub async fn unknown_actions_rejected(h: &dyn Harness) {
    for name in ["bogus", "Status", "com.cloud.agent.api.ModifyStoragePoolCommand"] {
        let e = act(h, "i-2-908-VM", name).await.expect_err("unknown actions must fail");
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{name}: {}", e.message());
    }
}

/// The whole suite.
pub async fn run_all(h: &dyn Harness) {
    lifecycle(h).await;
    idempotence(h).await;
    create_retried_after_failure(h).await;
    missing_instance(h).await;
    statuses_consistent(h).await;
    custom_actions(h).await;
    unknown_actions_rejected(h).await;
}
