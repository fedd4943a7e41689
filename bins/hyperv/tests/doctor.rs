//! Issue #18 §4 through the `hyperv` binary: `doctor` reports a look-up the host could not make
//! (an account without Hyper-V rights, a folder it may not read, a WinRM fault) as that failure
//! with the host's own cause, never as a missing switch, folder or template with advice to change
//! the configuration.

use csx_mocks::hyperv::payload;
use csx_mocks::winrm::{InjectedFault, PASSWORD};
use serde_json::Value;
use std::path::Path;

mod common;
use common::{start, BIN};

fn doctor(p: &Value) -> (i32, String) {
    let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), p, false, &[]);
    assert!(!text.contains(PASSWORD), "the password was printed: {text}");
    (code, text)
}

/// Nothing in the text says a configured object is missing.
fn no_false_missing(text: &str) {
    for wrong in ["no virtual switch", "no folder", "no file", "set `network_switch`", "or set `vhd_path`"] {
        assert!(!text.contains(wrong), "reported {wrong:?} for a failed look-up:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_rights_is_not_a_missing_switch() {
    let (mock, host) = start().await;
    host.host().no_rights = true;
    let (code, text) = doctor(&payload(&mock.url(), "i-2-110-VM"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  manage VMs"), "{text}");
    assert!(
        text.contains("FAIL  network_switch: could not look up virtual switch \"External\" on the host: You do not have the required permission"),
        "{text}"
    );
    no_false_missing(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_folder_or_template_is_not_a_missing_one() {
    let (mock, host) = start().await;
    {
        let mut h = host.host();
        h.unreadable.insert("C:\\VMs\\Disks".into());
        h.unreadable.insert(csx_mocks::hyperv::TEMPLATE.into());
    }
    let (code, text) = doctor(&payload(&mock.url(), "i-2-111-VM"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  vhd_path: could not look up folder"), "{text}");
    assert!(text.contains("FAIL  template: could not look up file"), "{text}");
    assert!(text.contains("Access to the path 'C:\\VMs\\Disks' is denied."), "{text}");
    assert!(text.contains("ok    vm_path: folder"), "the readable folder still passes: {text}");
    no_false_missing(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_winrm_fault_is_reported_as_itself() {
    let (mock, _host) = start().await;
    mock.state().faults.push(InjectedFault {
        action: "Create".into(),
        wsman_code: "2150858843".into(),
        reason: "The WS-Management service cannot process the request: the maximum number of shells is reached.".into(),
    });
    let (code, text) = doctor(&payload(&mock.url(), "i-2-112-VM"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  WinRM") && text.contains("maximum number of shells"), "{text}");
    assert!(text.contains("skip  checks: not run"), "the objects are not judged: {text}");
    no_false_missing(&text);
}
