//! What the Hyper-V process tests share: the binary run as CloudStack runs it (the host's
//! password never in its output), a custom action, and a simulated host behind the mock listener.

#![allow(dead_code)]

use csx_mocks::hyperv::HyperVHost;
use csx_mocks::winrm::{MockWinrm, PASSWORD};
use csx_testkit::{run_binary, Run};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

pub const BIN: &str = env!("CARGO_BIN_EXE_hyperv");

/// `hyperv <action> <payload> 30`; fails the test if the password shows in the answer.
pub fn run(action: &str, p: &Value) -> Run {
    let r = run_binary(Path::new(BIN), action, p, 30, &[]);
    assert!(!r.stdout.contains(PASSWORD), "password leaked: {}", r.stdout);
    r
}

/// A custom action as CloudStack sends it (no NICs; `params` as `parameters` unless null).
pub fn custom(p: &Value, action: &str, params: Value) -> Run {
    let mut p = p.clone();
    p["action"] = json!(action);
    p["cloudstack.vm.details"]["nics"] = json!([]);
    if !params.is_null() {
        p["parameters"] = params;
    }
    run(action, &p)
}

/// A simulated Hyper-V host behind a mock WinRM listener (HTTP, NTLM).
pub async fn start() -> (MockWinrm, Arc<HyperVHost>) {
    let host = Arc::new(HyperVHost::default());
    let mock = MockWinrm::start(host.clone(), None).await.unwrap();
    (mock, host)
}
