//! Issue #18 through the `proxmox` binary: what an instance's owner can write never chooses a
//! credential's destination, a clone's source or another VM; names survive PVE's tag rules;
//! installations never see each other's VMs.

mod common;

use common::{deploy, run};
use csx_mocks::proxmox::{payload, MockProxmox, TOKEN_SECRET};
use csx_testkit::run_binary;
use serde_json::json;
use std::time::Duration;

/// `updateVirtualMachine details[0].External:url=<the user's server>` used to send the API token
/// there. Now refused by name before any connection: the user's server sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_details_never_redirect_the_token() {
    let mock = MockProxmox::start().await;
    let evil = MockProxmox::start().await;
    let mut p = payload(&mock.url(), "i-2-70-VM", None);
    p["cloudstack.vm.details"]["details"]["External:url"] = json!(evil.url());
    for action in ["start", "status", "getconsole", "ListSnapshots"] {
        let r = run(action, &p);
        r.assert_err("bad_input");
        assert!(r.error().starts_with("`url` may be set only on the host"), "{}", r.error());
    }
    p["cloudstack.vm.details"]["details"].as_object_mut().unwrap().remove("External:url");
    for (key, value) in
        [("verify_tls_certificate", "false"), ("token", "other"), ("log_file", "/tmp/x"), ("node", "pve2")]
    {
        let mut q = p.clone();
        q["externaldetails"]["virtualmachine"][key] = json!(value);
        let r = run("status", &q);
        r.assert_err("bad_input");
        assert!(r.error().contains(&format!("`{key}` may be set only")), "{}", r.error());
    }
    assert!(evil.take_requests().is_empty(), "the user's server was contacted");
    assert!(mock.take_requests().is_empty(), "nothing ran");
}

/// A url with credentials, or plain http without the operator's consent, is refused; the
/// password is never repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_that_would_leak_credentials_are_refused() {
    let mock = MockProxmox::start().await;
    let mut p = payload(&mock.url(), "i-2-71-VM", None);
    p["externaldetails"]["host"]["url"] = json!("https://root:Hunter2-pw@pve1.example.com:8006");
    let r = run("status", &p);
    r.assert_err("bad_input");
    assert!(!r.stdout.contains("Hunter2") && r.error().contains("user:password@"), "{}", r.stdout);
    let mut p = payload(&mock.url(), "i-2-71-VM", None);
    p["externaldetails"]["host"].as_object_mut().unwrap().remove("allow_plain_http");
    let r = run("status", &p);
    r.assert_err("bad_input");
    assert!(r.error().contains("allow_plain_http=true"), "{}", r.error());
    assert!(mock.take_requests().is_empty(), "the token never crossed in clear");
}

/// `template_id=<a tenant's VM>` + `is_full_clone=true` used to copy another tenant's disk. Only
/// templates are cloned now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_templates_are_cloned() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    let victim = deploy(&mock.url(), "i-3-50-VM");
    mock.take_requests();
    let mut p = payload(&mock.url(), "i-2-72-VM", None);
    p["externaldetails"]["virtualmachine"]["template_id"] = json!(victim);
    p["externaldetails"]["virtualmachine"]["is_full_clone"] = json!("true");
    p["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    let r = run("create", &p);
    r.assert_err("bad_input");
    assert!(r.error().contains("not a Proxmox template"), "{}", r.error());
    assert!(!mock.take_requests().iter().any(|q| q.contains("/clone")), "no clone was made");
    assert!(!mock.has_vm_named("i-2-72-VM"));
}

/// `vm_name=<another instance's unmarked VM>` used to hand out its console and stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_name_never_adopts_another_vm() {
    let mock = MockProxmox::start().await;
    mock.state().insert_vm(600, "pve1", false, true, &[("name", "payroll-db"), ("cores", "1")]);
    let mut p = payload(&mock.url(), "i-2-73-VM", None);
    p["externaldetails"]["virtualmachine"]["vm_name"] = json!("payroll-db");
    let r = run("getconsole", &p);
    r.assert_err("conflict");
    assert!(r.error().contains("adopt_unmarked"), "{}", r.error());
    assert_eq!(run("status", &p).json["power_state"], "poweroff");
    run("stop", &p).assert_ok();
    run("delete", &p).assert_ok();
    assert!(mock.state().vms[&600].running, "the other VM is untouched");
    // Under its own internal name (the built-in extension's VMs), an unmarked VM is adopted.
    mock.state().insert_vm(601, "pve1", false, true, &[("name", "i-2-74-VM")]);
    assert_eq!(run("status", &payload(&mock.url(), "i-2-74-VM", None)).json["power_state"], "poweron");
}

/// PVE stores tags lower-cased (and with `case-sensitive=1`, as given): `statuses` still answers
/// CloudStack's exact names in one request, and a VM the operator renamed is still found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_survive_pve_tag_rules() {
    for case_sensitive in [false, true] {
        let mock = MockProxmox::start().await;
        mock.set_task_duration(Duration::from_millis(10));
        mock.state().tags_case_sensitive = case_sensitive;
        let vmid = deploy(&mock.url(), "i-2-75-VM");
        let id: u64 = vmid.parse().unwrap();
        // Older csx tags, lower-cased by PVE, are still read.
        mock.state().insert_vm(650, "pve1", false, true, &[("name", "web-9"), ("tags", "csx-name.i-2-76-vm")]);
        mock.state().vms.get_mut(&id).unwrap().config.insert("name".into(), "renamed-by-operator".into());
        mock.take_requests();
        let p = payload(&mock.url(), "i-2-75-VM", Some(&vmid));
        let r = run("statuses", &p);
        assert_eq!(r.json["power_state"]["i-2-75-VM"], "poweron", "{}", r.stdout);
        assert_eq!(mock.take_requests().len(), 1, "statuses stays one request");
        assert_eq!(run("status", &p).json["power_state"], "poweron", "the renamed VM is found");
        run("stop", &p).assert_ok();
        assert!(!mock.state().vms[&id].running, "and stopped, not skipped");
        run("delete", &p).assert_ok();
        assert!(!mock.state().vms.contains_key(&id));
    }
}

/// Two installations sharing a cluster, each with its `installation_id`: neither's `statuses`
/// reports the other's VM, even under the same instance name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installations_never_see_each_other() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    let with = |id: &str, vmid: Option<&str>| {
        let mut p = payload(&mock.url(), "i-2-77-VM", vmid);
        p["externaldetails"]["extension"]["installation_id"] = json!(id);
        p
    };
    let r = run("prepare", &with("cs-prod", None));
    let vmid = r.json["details"]["proxmox_vmid"].as_str().unwrap().to_string();
    let mut a = with("cs-prod", Some(&vmid));
    a["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    run("create", &a).assert_ok();
    assert_eq!(run("statuses", &a).json["power_state"]["i-2-77-VM"], "poweron");
    let b = with("cs-staging", None);
    let r = run("statuses", &b);
    assert!(r.json["power_state"].get("i-2-77-VM").is_none(), "installation B sees A's VM: {}", r.stdout);
    assert!(!r.stdout.contains(TOKEN_SECRET));
}

/// The token's *name* is an identifier, not a secret: messages read `root@pam!cloudstack`;
/// its secret never appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_name_is_not_a_secret() {
    let mock = MockProxmox::start().await;
    let mut p = payload(&mock.url(), "i-2-78-VM", None);
    p["externaldetails"]["extension"]["token"] = json!("cloudstack");
    p["externaldetails"]["extension"]["secret"] = json!("11111111-2222-3333-4444-555555555555");
    let r = run("status", &p);
    r.assert_err("auth");
    assert!(r.error().contains("`root@pam!cloudstack`"), "{}", r.error());
    assert!(!r.stdout.contains("11111111-2222"), "{}", r.stdout);
}

/// Honest answers: stop/delete of an instance with no VM say so; addresses of a stopped VM say
/// it is stopped (not "install the guest agent").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_answers() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    let p = payload(&mock.url(), "i-2-79-VM", None);
    for action in ["stop", "delete"] {
        let m = run(action, &p).json["message"].as_str().unwrap().to_string();
        assert!(m.starts_with("This instance has no VM; nothing to"), "{action}: {m}");
    }
    let vmid = deploy(&mock.url(), "i-2-79-VM");
    let mut p = payload(&mock.url(), "i-2-79-VM", Some(&vmid));
    run("stop", &p).assert_ok();
    p["cloudstack.vm.details"]["nics"] = json!([]);
    let r = run("GetIpAddresses", &p);
    r.assert_err("bad_input");
    assert!(r.error().contains("is stopped"), "{}", r.error());
}

/// A VM suspended to disk (`lock: suspended`, stopped) is started (resumed) and deleted at once,
/// instead of every action waiting for that lock until the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernated_vms_start_and_delete() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    let vmid = deploy(&mock.url(), "i-2-81-VM");
    let id: u64 = vmid.parse().unwrap();
    let p = payload(&mock.url(), "i-2-81-VM", Some(&vmid));
    let hibernate = |m: &MockProxmox| {
        let mut st = m.state();
        let vm = st.vms.get_mut(&id).unwrap();
        vm.running = false;
        vm.lock = Some("suspended".into());
        vm.config.insert("vmstate".into(), format!("local-lvm:vm-{id}-state-suspend-2026-12-02"));
    };
    hibernate(&mock);
    assert_eq!(run("status", &p).json["power_state"], "poweroff");
    let r = run_binary(std::path::Path::new(common::BIN), "start", &p, 5, &[]);
    r.assert_ok();
    assert!(mock.state().vms[&id].running && mock.state().vms[&id].lock.is_none(), "resumed");
    run("stop", &p).assert_ok();
    hibernate(&mock);
    let r = run_binary(std::path::Path::new(common::BIN), "delete", &p, 5, &[]);
    r.assert_ok();
    assert!(!mock.state().vms.contains_key(&id));
}
