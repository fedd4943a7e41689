//! Issue #18 §4 through the `proxmox` binary: an API call that fails is reported as that
//! failure, with its status — never as a missing node, template or disk with advice to change
//! the configuration.

mod common;

use common::{deploy, run};
use csx_mocks::proxmox::{payload, FaultKind, MockProxmox};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_are_reported_as_failures() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(10));
    let url = mock.url();
    let vmid = deploy(&url, "i-2-84-VM");
    let mut p = payload(&url, "i-2-84-VM", Some(&vmid));
    p["cloudstack.vm.details"]["nics"] = json!([]);

    // status: the node answers 503: a failure, never "poweroff".
    mock.inject(Some("GET"), "/status/current", FaultKind::Http(503, "service unavailable".into()), 50);
    let r = run("status", &p);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.error().contains("503"), "{}", r.error());
    mock.state().faults.clear();

    // create: reading the template answers 403 (no VM.Audit on it): not "not a template".
    let mut c = payload(&url, "i-2-85-VM", None);
    c["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    mock.inject(
        Some("GET"),
        "/qemu/9000/",
        FaultKind::Http(403, "Permission check failed (/vms/9000, VM.Audit)".into()),
        1,
    );
    let r = run("create", &c);
    assert_ne!(r.code, 0);
    assert!(r.error().contains("403") || r.error().contains("Permission check failed"), "{}", r.error());
    assert!(!r.error().contains("not a Proxmox template"), "{}", r.error());

    // RemoveDisk: the config read answers 500: not "no disk".
    let mut d = p.clone();
    d["parameters"] = json!({"disk": "scsi1"});
    let mut a = p.clone();
    a["parameters"] = json!({"size_gb": 2});
    run("AddDisk", &a).assert_ok();
    mock.inject(Some("GET"), &format!("/qemu/{vmid}/config"), FaultKind::Http(500, "got timeout".into()), 50);
    let r = run("RemoveDisk", &d);
    assert_ne!(r.code, 0);
    assert!(r.error().contains("500") && !r.error().contains("has no disk"), "{}", r.error());
}
