//! Clauses on which VM is which instance: names, ownership, NICs.

use super::actions::sample;
use super::{act, deploy, not_applicable, ok, payload_for, request, status, Harness};
use csx_core::{dispatch, Action, ErrorKind, PowerState, Reply};
use serde_json::{json, Value};

/// `statuses` keys every instance by CloudStack's internal name, whatever the VM is
/// called on the hypervisor; a VM without a recorded name is reported under its own name
/// only when that is an instance name (the built-in extensions' VMs), else left out.
pub async fn statuses_under_instance_names(h: &dyn Harness) {
    let (a, builtin, other) = ("i-2-910-VM", "i-2-911-VM", "web-other-1");
    let mut create = payload_for(h, a, "create");
    let renamed = h.rename(&mut create, "web-frontend-1");
    if renamed {
        let prepared = ok(dispatch(h.backend(), &Action::Prepare, &request(create.clone())).await, "prepare");
        if let Reply::Prepared(p) = prepared {
            for (k, v) in p.details {
                create["cloudstack.vm.details"]["details"][k] = Value::String(v);
            }
        }
        ok(dispatch(h.backend(), &Action::Create, &request(create.clone())).await, "create of a renamed VM");
    }
    let planted = h.plant_unmarked(builtin, true).await && h.plant_unmarked(other, true).await;
    if !renamed && !planted {
        return not_applicable(h, "statuses_under_instance_names", "neither rename nor plant_unmarked is possible");
    }
    let map = match act(h, builtin, "statuses").await {
        Ok(Reply::Statuses(m)) => m,
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            return not_applicable(h, "statuses_under_instance_names", "statuses is unsupported")
        }
        other => panic!("statuses: {other:?}"),
    };
    if renamed {
        assert_eq!(map.get(a), Some(&PowerState::On), "a VM called otherwise must be reported as {a}: {map:?}");
        assert!(!map.contains_key("web-frontend-1"), "never under the hypervisor's name: {map:?}");
        let mut del = create.clone();
        del["cloudstack.vm.details"]["nics"] = json!([]);
        ok(dispatch(h.backend(), &Action::Delete, &request(del)).await, "delete of the renamed VM");
    }
    if planted {
        assert_eq!(map.get(builtin), Some(&PowerState::On), "a built-in VM keeps its instance name: {map:?}");
        assert!(!map.contains_key(other), "a VM that is no instance is left out: {map:?}");
        ok(act(h, builtin, "delete").await, "delete of an unmarked VM (adopted as the built-in's)");
        ok(act(h, other, "delete").await, "delete of the other unmarked VM");
        assert!(!h.exists(builtin).await, "the built-in's VM is this instance's: delete removes it");
    }
}

/// Instance B (another uuid, same name: a second CloudStack installation sharing the host)
/// never touches instance A's VM: `stop` and `delete` have nothing to do, `status` says B is
/// off, and every other action — custom ones included — is refused as a conflict.
pub async fn foreign_instance_never_touched(h: &dyn Harness) {
    let n = "i-2-912-VM";
    deploy(h, n).await;
    let as_b = |action: &str| {
        let mut v = payload_for(h, n, action);
        v["virtualmachineid"] = json!("uuid-of-another-installation");
        v["cloudstack.vm.details"]["uuid"] = json!("uuid-of-another-installation");
        v
    };
    let run_b = |action: &'static str, v: Value| async move {
        let spec = Action::resolve(action, &h.backend().custom_actions())?;
        dispatch(h.backend(), &spec, &request(v)).await
    };
    match ok(run_b("status", as_b("status")).await, "status of B") {
        Reply::Status(s) => assert_eq!(s, PowerState::Off, "B has no VM: off"),
        other => panic!("status returned {other:?}"),
    }
    ok(run_b("stop", as_b("stop")).await, "stop of B (nothing to do)");
    assert_eq!(status(h, n).await, PowerState::On, "B's stop must leave A's VM running");
    for action in ["start", "reboot", "create"] {
        let e = run_b(action, as_b(action)).await.expect_err("B must be refused");
        assert_eq!(e.kind(), ErrorKind::Conflict, "{action} of B: {}", e.message());
    }
    match run_b("getconsole", as_b("getconsole")).await {
        Err(e) => assert!(matches!(e.kind(), ErrorKind::Conflict | ErrorKind::Unsupported), "{}", e.message()),
        Ok(r) => panic!("getconsole of B must not open A's console: {r:?}"),
    }
    for spec in h.backend().custom_actions() {
        let mut v = as_b("custom");
        v["action"] = json!(spec.name);
        // Valid parameters (the harness's where the samples do not fit): B is refused for whose
        // VM it is, not for its input.
        let mut params: serde_json::Map<_, _> =
            spec.params.iter().map(|p| (p.name.to_string(), sample(p.kind))).collect();
        params.extend(h.custom_params(spec.name).unwrap_or_default());
        v["parameters"] = Value::Object(params);
        let action = Action::resolve(spec.name, &h.backend().custom_actions()).expect("declared");
        let e = dispatch(h.backend(), &action, &request(v)).await.expect_err("B's custom action must be refused");
        let expected =
            if h.unsupported_actions().contains(&spec.name) { ErrorKind::Unsupported } else { ErrorKind::Conflict };
        assert_eq!(e.kind(), expected, "{} of B: {}", spec.name, e.message());
    }
    ok(run_b("delete", as_b("delete")).await, "delete of B (nothing to do)");
    assert!(h.exists(n).await, "B's delete must leave A's VM");
    assert_eq!(status(h, n).await, PowerState::On, "A's VM still running");
    ok(act(h, n, "delete").await, "delete of A");
    assert!(!h.exists(n).await);
}

/// A NIC whose broadcast URI is not `vlan://<id>`, `vlan://untagged` or empty is refused
/// by `create`, naming the URI, and nothing is left behind.
pub async fn unsupported_broadcast_uris_refused(h: &dyn Harness) {
    let n = "i-2-913-VM";
    for uri in ["vxlan://5000", "pvlan://100-i200", "lswitch:3b1f9c", "vs://net-42"] {
        let mut v = payload_for(h, n, "create");
        let Some(nics) = v["cloudstack.vm.details"]["nics"].as_array_mut().filter(|n| !n.is_empty()) else {
            return not_applicable(h, "unsupported_broadcast_uris_refused", "the harness payload has no NICs");
        };
        nics[0]["broadcastUri"] = json!(uri);
        let e = dispatch(h.backend(), &Action::Create, &request(v)).await.expect_err("create must refuse the NIC");
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{uri}: {}", e.message());
        assert!(e.message().contains(uri), "the error must name {uri}: {}", e.message());
        assert!(!h.exists(n).await, "a refused create must leave nothing behind ({uri})");
    }
}
