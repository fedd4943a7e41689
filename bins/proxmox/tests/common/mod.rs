//! What the Proxmox process tests share: the binary run as CloudStack runs it (no secret ever
//! in its output), and a deploy.

#![allow(dead_code)]

use csx_mocks::proxmox::{payload, PASSWORD, TOKEN_SECRET};
use csx_testkit::{run_binary, Run};
use serde_json::{json, Value};
use std::path::Path;

pub const BIN: &str = env!("CARGO_BIN_EXE_proxmox");

pub fn run(action: &str, p: &Value) -> Run {
    let r = run_binary(Path::new(BIN), action, p, 30, &[]);
    assert!(!r.stdout.contains(TOKEN_SECRET) && !r.stdout.contains(PASSWORD), "secret leaked: {}", r.stdout);
    r
}

/// prepare + create, as CloudStack does on deploy; returns the VMID.
pub fn deploy(url: &str, name: &str) -> String {
    let r = run("prepare", &payload(url, name, None));
    r.assert_ok();
    let vmid = r.json["details"]["proxmox_vmid"].as_str().unwrap().to_string();
    let mut p = payload(url, name, Some(&vmid));
    p["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    run("create", &p).assert_ok();
    vmid
}

/// `proxmox doctor <payload> [--json]`, as an operator runs it by hand.
pub fn doctor(p: &Value, json: bool) -> (i32, String) {
    let (code, text) = csx_testkit::process::run_doctor(Path::new(BIN), p, json, &[]);
    assert!(!text.contains(TOKEN_SECRET) && !text.contains("Vnc-Secret-4711"), "a secret was printed: {text}");
    (code, text)
}
