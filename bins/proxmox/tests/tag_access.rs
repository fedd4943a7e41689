//! Issue #18 §2, tag permissions, through the `proxmox` binary: with `user-tag-access` other
//! than `free` (or `registered-tags` holding csx's tags) a token without Sys.Modify on `/` is
//! refused every tag it adds (pve-guest-common `assert_tag_permissions`). `create` finds out
//! before it clones and names the setting; it never leaves half a VM behind.

mod common;

use common::{deploy, run};
use csx_mocks::proxmox::{payload, MockProxmox};
use serde_json::json;
use std::time::Duration;

fn vm_count(mock: &MockProxmox) -> usize {
    mock.state().vms.values().filter(|v| !v.template).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_tags_are_refused_before_anything_is_cloned() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    let url = mock.url();
    mock.state().user_allow = "list".into();
    mock.state().user_allow_list = vec!["web".into()];
    let mut p = payload(&url, "i-2-80-VM", None);
    p["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    mock.take_requests();
    let r = run("create", &p);
    r.assert_err("auth");
    assert!(r.error().contains("user-allow=list") && r.error().contains("Sys.Modify"), "{}", r.error());
    assert!(!mock.take_requests().iter().any(|q| q.contains("/clone")), "nothing was cloned");
    assert_eq!(vm_count(&mock), 0, "no half VM");

    // Registered tags are refused too, whatever `user-allow` says.
    mock.state().user_allow = "free".into();
    mock.state().registered_tags = vec!["csx-owner.uuid-i-2-80-vm".into()];
    let r = run("create", &p);
    r.assert_err("auth");
    assert!(r.error().contains("registered-tags"), "{}", r.error());
    assert_eq!(vm_count(&mock), 0);

    // With Sys.Modify on `/` every tag may be set.
    mock.state().privileges.get_mut("/").unwrap().insert("Sys.Modify".into());
    run("create", &p).assert_ok();
    assert_eq!(vm_count(&mock), 1);
}

/// The default (`user-allow=free`) needs nothing more: deploy works, one check and no refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_allows_csx_tags() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    deploy(&mock.url(), "i-2-81-VM");
    assert_eq!(vm_count(&mock), 1);
}

/// Without Sys.Audit the token cannot read `user-tag-access`: csx does not guess, and when the
/// tag update is refused the partial VM is removed and the answer names the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_setting_still_leaves_no_half_vm() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    mock.state().user_allow = "existing".into();
    mock.state().revoke("Sys.Audit");
    let mut p = payload(&mock.url(), "i-2-82-VM", None);
    p["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    let r = run("create", &p);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.error().contains("Sys.Modify for modifying tag"), "{}", r.error());
    let settled = async {
        while vm_count(&mock) != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), settled).await.expect("the partial VM was removed");
}

/// PVE 7.0-7.2: `/cluster/resources` carries no tags, so a VM known only by its tags (here
/// called `web-83` on Proxmox) was missing from `statuses`. The node's own VM list (qemu-server
/// `vmstatus`, tags since PVE 6.1) answers in one request; when the node does not answer,
/// `/cluster/resources` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_on_pve_7_2_and_when_the_node_does_not_answer() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    mock.state().version = "7.2-3".into();
    let mut p = payload(&mock.url(), "i-2-83-VM", None);
    p["externaldetails"]["virtualmachine"]["vm_name"] = json!("web-83");
    let r = run("prepare", &p);
    let vmid = r.json["details"]["proxmox_vmid"].as_str().unwrap().to_string();
    p["cloudstack.vm.details"]["details"]["proxmox_vmid"] = json!(vmid);
    let mut c = p.clone();
    c["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    run("create", &c).assert_ok();
    mock.take_requests();
    let r = run("statuses", &p);
    assert_eq!(r.json["power_state"], json!({"i-2-83-VM": "poweron"}), "{}", r.stdout);
    assert_eq!(mock.take_requests().len(), 1, "statuses stays one request");

    mock.state().version = "9.1.2".into();
    mock.inject(Some("GET"), "/nodes/pve1/qemu", csx_mocks::proxmox::FaultKind::Http(500, "node busy".into()), 1);
    let r = run("statuses", &p);
    assert_eq!(r.json["power_state"], json!({"i-2-83-VM": "poweron"}), "{}", r.stdout);
}

/// `doctor` says whether Proxmox would let the token set csx's tags, and which setting refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_tag_permissions() {
    let mock = MockProxmox::start().await;
    let p = payload(&mock.url(), "i-2-81-VM", None);
    let (_, text) = common::doctor(&p, false);
    assert!(text.contains("ok    tags: csx may set its csx- tags"), "{text}");
    mock.state().user_allow = "existing".into();
    let (code, text) = common::doctor(&p, false);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("FAIL  tags: Proxmox would refuse this token") && text.contains("user-allow=existing"),
        "{text}"
    );
}
