//! Clauses on custom actions: every declared one, guest addresses, data disks.

use super::{act, deploy, not_applicable, ok, payload_for, request, Harness};
use csx_core::{dispatch, Action, CustomResult, ErrorKind, ParamType, Reply};
use serde_json::{json, Value};

pub(super) fn sample(kind: ParamType) -> Value {
    match kind {
        ParamType::String => json!("csxsnap1"),
        ParamType::Boolean => json!(false),
        ParamType::Number => json!(1),
    }
}

/// Every declared custom action runs (in declaration order, so create-before-delete
/// declarations work), matched case-insensitively; tables have object rows.
pub async fn custom_actions(h: &dyn Harness) {
    let n = "i-2-907-VM";
    deploy(h, n).await;
    for spec in h.backend().custom_actions() {
        let mut params = serde_json::Map::new();
        for p in &spec.params {
            params.insert(p.name.to_string(), sample(p.kind));
        }
        if let Some(given) = h.custom_params(spec.name) {
            params.extend(given);
        }
        h.before_custom(n, spec.name).await;
        let mut v = payload_for(h, n, "custom");
        v["action"] = json!(spec.name);
        v["parameters"] = Value::Object(params);
        let name = spec.name.to_lowercase();
        let action = Action::resolve(&name, &h.backend().custom_actions()).expect("case-insensitive match");
        if h.unsupported_actions().contains(&spec.name) {
            let e = dispatch(h.backend(), &action, &request(v)).await.expect_err("declared unsupported");
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{}: {}", spec.name, e.message());
            assert!(e.message().len() > 40, "{}: say why and what to do instead: {}", spec.name, e.message());
            continue;
        }
        match ok(dispatch(h.backend(), &action, &request(v)).await, &format!("custom action {}", spec.name)) {
            Reply::Custom(CustomResult::Table(rows)) => assert!(rows.iter().all(|r| !r.is_empty())),
            Reply::Custom(CustomResult::Message(m)) => assert!(!m.is_empty()),
            other => panic!("custom action returned {other:?}"),
        }
    }
    ok(act(h, n, "delete").await, "delete");
}

/// `GetIpAddresses`, where a backend declares it: a table of the guest's addresses with NIC,
/// MAC and address/prefix, loopback and link-local left out.
pub async fn ip_addresses(h: &dyn Harness) {
    let Some(spec) = h.backend().custom_actions().into_iter().find(|s| s.name == "GetIpAddresses") else {
        return not_applicable(h, "ip_addresses", "GetIpAddresses is not declared");
    };
    let n = "i-2-914-VM";
    deploy(h, n).await;
    h.before_custom(n, spec.name).await;
    let mut v = payload_for(h, n, "custom");
    v["action"] = json!(spec.name);
    let action = Action::resolve("get ip addresses", &h.backend().custom_actions()).expect("declared");
    match ok(dispatch(h.backend(), &action, &request(v)).await, "GetIpAddresses") {
        Reply::Custom(CustomResult::Table(rows)) => {
            assert!(!rows.is_empty(), "the harness set addresses up: the table must list them");
            for r in &rows {
                for k in ["nic", "mac", "address"] {
                    assert!(
                        r.get(k).is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty())),
                        "row without {k}: {r:?}"
                    );
                }
                let a = r["address"].as_str().unwrap_or("");
                for hidden in ["127.", "::1/", "fe80:", "169.254."] {
                    assert!(!a.starts_with(hidden), "loopback and link-local are left out: {a}");
                }
            }
        }
        other => panic!("GetIpAddresses must answer a table, got {other:?}"),
    }
    ok(act(h, n, "delete").await, "delete");
}

/// The data-disk actions, where a backend declares them: `ListDisks` shows the root disk,
/// `AddDisk` adds one (and a retry right after does not add a second), `ResizeDisk` grows it and
/// refuses to shrink, `RemoveDisk` removes it (twice is fine) and refuses the root disk.
pub async fn disk_lifecycle(h: &dyn Harness) {
    let specs = h.backend().custom_actions();
    if !["AddDisk", "ListDisks", "ResizeDisk", "RemoveDisk"].iter().all(|a| specs.iter().any(|s| s.name == *a)) {
        return not_applicable(h, "disk_lifecycle", "the disk actions are not declared");
    }
    let n = "i-2-915-VM";
    deploy(h, n).await;
    let custom = |action: &'static str, params: Value| {
        let mut v = payload_for(h, n, "custom");
        v["action"] = json!(action);
        let mut p = h.custom_params(action).unwrap_or_default();
        p.extend(params.as_object().cloned().unwrap_or_default());
        v["parameters"] = Value::Object(p);
        async move {
            let spec = Action::resolve(action, &h.backend().custom_actions()).expect("declared");
            dispatch(h.backend(), &spec, &request(v)).await
        }
    };
    let list = || async {
        match ok(custom("ListDisks", json!({})).await, "ListDisks") {
            Reply::Custom(CustomResult::Table(rows)) => rows,
            other => panic!("ListDisks must answer a table, got {other:?}"),
        }
    };
    let before = list().await;
    assert_eq!(before.iter().filter(|r| r["root"] == "yes").count(), 1, "one root disk: {before:?}");
    let root = before.iter().find(|r| r["root"] == "yes").and_then(|r| r["disk"].as_str()).unwrap_or("").to_string();
    ok(custom("AddDisk", json!({"size_gb": 2})).await, "AddDisk");
    ok(custom("AddDisk", json!({"size_gb": 2})).await, "AddDisk retried after a lost answer");
    let after = list().await;
    assert_eq!(after.len(), before.len() + 1, "a retried AddDisk adds no second disk: {after:?}");
    let added = after.iter().find(|r| !before.contains(r)).expect("the new disk");
    assert_eq!(added["size_gb"], json!(2), "{added:?}");
    let disk = added["disk"].as_str().expect("disk id").to_string();
    ok(custom("ResizeDisk", json!({"disk": disk, "size_gb": 4})).await, "ResizeDisk");
    assert!(list().await.iter().any(|r| r["disk"] == json!(disk) && r["size_gb"] == json!(4)), "grown to 4 GiB");
    let e = custom("ResizeDisk", json!({"disk": disk, "size_gb": 1})).await.expect_err("shrinking must be refused");
    assert_eq!(e.kind(), ErrorKind::BadInput, "{}", e.message());
    let e = custom("RemoveDisk", json!({"disk": root})).await.expect_err("the root disk is never removed");
    assert_eq!(e.kind(), ErrorKind::BadInput, "{}", e.message());
    ok(custom("RemoveDisk", json!({"disk": disk})).await, "RemoveDisk");
    let e = custom("RemoveDisk", json!({"disk": disk})).await.expect_err("a disk that is not there is an error");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{}", e.message());
    assert!(e.message().contains(&disk), "the error names the disk: {}", e.message());
    assert_eq!(list().await, before, "back to the disks it had");
    ok(act(h, n, "delete").await, "delete");
}

/// Unknown actions and agent-command fallbacks are typed "unsupported" errors.
pub async fn unknown_actions_rejected(h: &dyn Harness) {
    for name in ["bogus", "Status", "com.cloud.agent.api.ModifyStoragePoolCommand"] {
        let e = act(h, "i-2-908-VM", name).await.expect_err("unknown actions must fail");
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{name}: {}", e.message());
        if name.contains("StoragePool") {
            // No answer brings the pool Up (CloudStack casts to ModifyStoragePoolAnswer): say what to do.
            assert!(e.message().contains("remove this primary storage pool"), "{}", e.message());
        }
    }
}
