//! Issue #18 §4 through the `hyperv` binary: honest answers. `stop` and `delete` of an instance
//! without a VM say "no VM" (and mention a VM of that name that is not this instance's only as
//! left alone); `GetIpAddresses` of a stopped VM says it is stopped, not "no addresses"; another
//! instance's VM is refused in csx_core::identity's words, naming its mark.

use csx_mocks::hyperv::payload;
use csx_testkit::Run;
use serde_json::json;

mod common;
use common::{run, start};

fn message(r: &Run) -> String {
    r.json["message"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_delete_without_a_vm_say_no_vm() {
    let (mock, host) = start().await;
    let p = payload(&mock.url(), "i-2-120-VM");
    for (action, verb) in [("stop", "stop"), ("delete", "delete")] {
        let r = run(action, &p);
        r.assert_ok();
        assert_eq!(message(&r), format!("No VM for instance i-2-120-VM; nothing to {verb}"), "{}", r.stdout);
    }
    // Another instance's VM of that name: still "no VM" first, that VM only mentioned as left alone.
    host.plant("i-2-121-VM", "Running", "Managed by Apache CloudStack. cloudstack-instance-uuid=someone-else");
    let p = payload(&mock.url(), "i-2-121-VM");
    for action in ["stop", "delete"] {
        let r = run(action, &p);
        let m = message(r.assert_ok());
        assert!(m.starts_with(&format!("No VM for instance i-2-121-VM; nothing to {action}")), "{m}");
        assert!(m.contains("is not this instance's; it is left alone"), "{m}");
    }
    let h = host.host();
    assert_eq!((h.vms.len(), h.vms[0].state.as_str()), (1, "Running"), "the other VM untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_addresses_of_a_stopped_vm_say_it_is_stopped() {
    let (mock, host) = start().await;
    let p = payload(&mock.url(), "i-2-122-VM");
    run("create", &p).assert_ok();
    host.report_guest_ips("i-2-122-VM", &[(0, "10.1.1.22", "255.255.255.0")]);
    let mut ask = p.clone();
    ask["action"] = json!("GetIpAddresses");
    ask["cloudstack.vm.details"]["nics"] = json!([]);
    run("GetIpAddresses", &ask).assert_ok();
    run("stop", &p).assert_ok();
    let r = run("GetIpAddresses", &ask);
    r.assert_err("bad_input");
    assert!(r.error().contains("VM i-2-122-VM is Off (not running)"), "{}", r.error());
    assert!(r.error().contains("start it first"), "{}", r.error());
}

/// The actions that need the VM refuse another instance's in the words every backend uses
/// (csx_core::identity::foreign), naming the mark it carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_vm_is_refused_in_identity_words() {
    let (mock, host) = start().await;
    host.plant("i-2-123-VM", "Running", "Managed by Apache CloudStack. cloudstack-instance-uuid=uuid-other");
    let p = payload(&mock.url(), "i-2-123-VM");
    let want = "the VM named i-2-123-VM belongs to another CloudStack instance (cloudstack-instance-uuid=uuid-other); \
                refusing to touch it";
    for action in ["start", "create", "reboot"] {
        let r = run(action, &p);
        r.assert_err("conflict");
        assert_eq!(r.error(), want, "{action}");
    }
    assert_eq!(host.host().vms[0].state, "Running", "untouched");
}
