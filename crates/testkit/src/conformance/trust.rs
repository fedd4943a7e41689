//! Clauses on trust: who may configure what, which VMs are adopted, installations.

use super::{act, deploy, not_applicable, ok, payload_for, request, status, Harness};
use csx_core::{dispatch, Action, ErrorKind, PowerState, Reply};
use serde_json::{json, Value};

/// The value planted for every operator key among the instance's details: never read.
const POISON: &str = "instance-poison.invalid";

/// Instance details are the instance owner's to edit: an operator key (url, credentials,
/// trust, paths, switches) set there is never read by the backend. Every operator key is
/// set among the instance's details (both `externaldetails.virtualmachine` and `External:`)
/// and the actions still work against the operator's configuration, with no trace of the
/// planted value in their answers. (The runner also refuses such payloads outright; the
/// process tests show that.)
pub async fn operator_keys_ignore_instance_details(h: &dyn Harness) {
    let keys = h.keys();
    assert!(!keys.is_empty(), "the harness must return the backend's KEYS table");
    assert!(keys.iter().any(|k| k.level == csx_core::Level::Operator), "a backend declares at least one operator key");
    let n = "i-2-914-VM";
    deploy(h, n).await;
    let poisoned = |action: &str| {
        let mut v = payload_for(h, n, action);
        for k in keys.iter().filter(|k| k.level == csx_core::Level::Operator) {
            v["externaldetails"]["virtualmachine"][k.name] = json!(POISON);
            v["cloudstack.vm.details"]["details"][format!("External:{}", k.name)] = json!(POISON);
        }
        v
    };
    for action in ["status", "stop", "start", "reboot", "getconsole", "statuses"] {
        let spec = Action::resolve(action, &[]).expect("standard action");
        let r = dispatch(h.backend(), &spec, &request(poisoned(action))).await;
        match r {
            Err(e) if action == "getconsole" && e.kind() == ErrorKind::Unsupported => {}
            Err(e) if action == "statuses" && e.kind() == ErrorKind::Unsupported => {}
            Err(e) => panic!("{action} with operator keys planted in the instance's details failed: {}", e.message()),
            Ok(reply) => {
                let text = reply.render().0;
                assert!(!text.contains(POISON), "{action} used an instance-level operator key: {text}");
            }
        }
    }
    assert_eq!(status(h, n).await, PowerState::On);
    ok(dispatch(h.backend(), &Action::Delete, &request(poisoned("delete"))).await, "delete");
    assert!(!h.exists(n).await, "delete with planted keys must still delete");
}

/// An unmarked VM (the built-in extension's, or one made by hand) is adopted only under the
/// instance's internal name — never because an instance detail (`vm_name`) points at it.
pub async fn unmarked_vms_adopted_only_by_internal_name(h: &dyn Harness) {
    let (n, victim) = ("i-2-915-VM", "web-victim-1");
    let mut probe = payload_for(h, n, "status");
    if !h.rename(&mut probe, victim) || !h.plant_unmarked(victim, true).await {
        return not_applicable(
            h,
            "unmarked_vms_adopted_only_by_internal_name",
            "the harness cannot name a VM otherwise or plant an unmarked one",
        );
    }
    let as_attacker = |action: &str| {
        let mut v = payload_for(h, n, action);
        h.rename(&mut v, victim);
        v
    };
    let run = |action: &'static str| {
        let v = as_attacker(action);
        async move { dispatch(h.backend(), &Action::resolve(action, &[]).expect("standard"), &request(v)).await }
    };
    match ok(run("status").await, "status through vm_name") {
        Reply::Status(s) => assert_eq!(s, PowerState::Off, "another VM is not this instance's: off"),
        other => panic!("status returned {other:?}"),
    }
    for action in ["start", "reboot", "getconsole"] {
        let e = run(action).await.expect_err("an unmarked VM under another name is not adopted");
        assert!(matches!(e.kind(), ErrorKind::Conflict | ErrorKind::Unsupported), "{action}: {}", e.message());
    }
    ok(run("stop").await, "stop through vm_name (nothing of this instance's to stop)");
    ok(run("delete").await, "delete through vm_name (nothing of this instance's to delete)");
    assert!(h.exists(victim).await, "the unmarked VM must be left alone");
    assert_eq!(status(h, victim).await, PowerState::On, "and left running (adopted under its own name)");
    ok(act(h, victim, "delete").await, "delete under its internal name");
}

/// Two CloudStack installations sharing a hypervisor, each with its own `installation_id`
/// (an operator key): `statuses` of one never reports the other's VMs, even under a name
/// it knows. A VM records the installation that made it.
pub async fn installations_never_mix(h: &dyn Harness) {
    let n = "i-2-916-VM";
    let with_installation = |action: &str, id: Option<&str>| {
        let mut v = payload_for(h, n, action);
        if let Some(id) = id {
            v["externaldetails"]["extension"]["installation_id"] = json!(id);
        }
        v
    };
    let mut create = with_installation("create", Some("cs-a"));
    let prepared = ok(dispatch(h.backend(), &Action::Prepare, &request(create.clone())).await, "prepare");
    if let Reply::Prepared(p) = prepared {
        for (k, v) in p.details {
            create["cloudstack.vm.details"]["details"][k] = Value::String(v);
        }
    }
    ok(dispatch(h.backend(), &Action::Create, &request(create)).await, "create under installation cs-a");
    let statuses = |id: Option<&'static str>| {
        let v = with_installation("statuses", id);
        async move { dispatch(h.backend(), &Action::Statuses, &request(v)).await }
    };
    match statuses(Some("cs-a")).await {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            not_applicable(h, "installations_never_mix", "statuses is unsupported")
        }
        Ok(Reply::Statuses(mine)) => {
            assert_eq!(mine.get(n), Some(&PowerState::On), "installation cs-a reports its VM: {mine:?}");
            for other in [Some("cs-b"), None] {
                match ok(statuses(other).await, "statuses of another installation") {
                    Reply::Statuses(m) => {
                        assert!(!m.contains_key(n), "installation {other:?} must not report cs-a's VM: {m:?}")
                    }
                    r => panic!("statuses returned {r:?}"),
                }
            }
        }
        other => panic!("statuses: {other:?}"),
    }
    ok(dispatch(h.backend(), &Action::Delete, &request(with_installation("delete", Some("cs-a")))).await, "delete");
}
