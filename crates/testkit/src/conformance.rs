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
    /// Sets in `payload` whatever makes the VM be called `vm_name` on the hypervisor
    /// (Proxmox: detail `vm_name`). False when the backend always names VMs after the instance.
    fn rename(&self, _payload: &mut Value, _vm_name: &str) -> bool {
        false
    }
    /// Plants a VM as CloudStack's built-in extension (or an operator) made it: called
    /// `name`, no owner mark, no recorded instance name. False when the backend cannot.
    async fn plant_unmarked(&self, _name: &str, _running: bool) -> bool {
        false
    }
    /// Parameters for custom action `action` where the generic samples (`"csxsnap1"`, `false`,
    /// `1`) do not fit (a node to migrate to...).
    fn custom_params(&self, _action: &str) -> Option<serde_json::Map<String, Value>> {
        None
    }
    /// Sets the hypervisor (mock) up so that custom action `action` can work on instance `name`
    /// (a guest agent that answers, addresses in the guest...).
    async fn before_custom(&self, _name: &str, _action: &str) {}
    /// Custom actions the backend declares (so operators register the same names everywhere)
    /// but answers with an explained `unsupported` (Hyper-V's `Migrate`).
    fn unsupported_actions(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// The backend's declared configuration keys (its `KEYS` table), with their levels.
    fn keys(&self) -> &'static [csx_core::Key];
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
    let map = match act(h, builtin, "statuses").await {
        Ok(Reply::Statuses(m)) => m,
        Err(e) if e.kind() == ErrorKind::Unsupported => return,
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
        v["parameters"] = Value::Object(
            spec.params.iter().map(|p| (p.name.to_string(), sample(p.kind))).collect::<serde_json::Map<_, _>>(),
        );
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
            return;
        };
        nics[0]["broadcastUri"] = json!(uri);
        let e = dispatch(h.backend(), &Action::Create, &request(v)).await.expect_err("create must refuse the NIC");
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{uri}: {}", e.message());
        assert!(e.message().contains(uri), "the error must name {uri}: {}", e.message());
        assert!(!h.exists(n).await, "a refused create must leave nothing behind ({uri})");
    }
}

fn sample(kind: ParamType) -> Value {
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
    let Some(spec) = h.backend().custom_actions().into_iter().find(|s| s.name == "GetIpAddresses") else { return };
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
        return;
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
    ok(custom("RemoveDisk", json!({"disk": disk})).await, "RemoveDisk retried");
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
        return;
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
        Err(e) if e.kind() == ErrorKind::Unsupported => {}
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

/// The whole suite.
pub async fn run_all(h: &dyn Harness) {
    lifecycle(h).await;
    idempotence(h).await;
    create_retried_after_failure(h).await;
    missing_instance(h).await;
    statuses_consistent(h).await;
    statuses_under_instance_names(h).await;
    foreign_instance_never_touched(h).await;
    unsupported_broadcast_uris_refused(h).await;
    custom_actions(h).await;
    ip_addresses(h).await;
    disk_lifecycle(h).await;
    unknown_actions_rejected(h).await;
    operator_keys_ignore_instance_details(h).await;
    unmarked_vms_adopted_only_by_internal_name(h).await;
    installations_never_mix(h).await;
}
