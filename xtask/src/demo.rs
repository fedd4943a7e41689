//! `cargo xtask demo`: every binary through a whole lifecycle, as CloudStack calls it.

use crate::bench::Server;
use crate::util::{build_release, measure, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const STEPS: &[(&str, &str)] = &[
    ("prepare", "prepare"),
    ("create", "create"),
    ("status", "status"),
    ("statuses", "statuses"),
    ("stop", "stop"),
    ("status", "status"),
    ("start", "start"),
    ("reboot", "reboot"),
    ("getconsole", "getconsole"),
    ("CreateSnapshot", "custom-CreateSnapshot"),
    ("ListSnapshots", "custom-ListSnapshots"),
    ("RestoreSnapshot", "custom-RestoreSnapshot"),
    ("DeleteSnapshot", "custom-DeleteSnapshot"),
    ("delete", "delete"),
];

pub fn run() -> Result<()> {
    let bin_dir = build_release(&["csx-bin-fake", "csx-bin-proxmox", "csx-bin-hyperv", "csx-mocks"])?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state = work.path().join("fake-state.json");
    println!("== fake: instances kept in {}\n", state.display());
    lifecycle(&bin_dir.join("fake"), work.path(), &|p: &mut Value| {
        p["externaldetails"]["host"]["state_file"] = state.to_str().unwrap_or_default().into();
    })?;

    let mock = Server::start(&bin_dir.join("mock-proxmox"), &["--port", "0", "--task-ms", "100"])?;
    println!("\n== proxmox: against mock-proxmox at {} (tasks take 100 ms)\n", mock.url);
    lifecycle(&bin_dir.join("proxmox"), work.path(), &|p: &mut Value| {
        let ext = &mut p["externaldetails"];
        ext["host"] = json!({"url": mock.url, "node": "pve1", "network_bridge": "vmbr0"});
        ext["extension"] = json!({"user": "root@pam", "token": "csx", "secret": csx_secret()});
        ext["virtualmachine"] = json!({"template_type": "template", "template_id": "9000"});
        if let Some(d) = p["cloudstack.vm.details"]["details"].as_object_mut() {
            d.remove("External:template_id");
        }
    })?;

    let mock = Server::start(&bin_dir.join("mock-winrm"), &["--port", "0", "--hyperv"])?;
    println!("\n== hyperv: against mock-winrm --hyperv at {} (NTLM, sealed HTTP)\n", mock.url);
    let steps: Vec<(&str, &str)> = STEPS
        .iter()
        .copied()
        .filter(|(a, _)| *a != "prepare")
        .flat_map(|s| {
            if s.0 == "CreateSnapshot" {
                vec![("Suspend", "custom-ListSnapshots"), ("Resume", "custom-ListSnapshots"), s]
            } else {
                vec![s]
            }
        })
        .collect();
    lifecycle_steps(&bin_dir.join("hyperv"), work.path(), &steps, &|p: &mut Value| {
        let ext = &mut p["externaldetails"];
        let host = csx_mocks::hyperv::payload(&mock.url, "x")["externaldetails"].clone();
        ext["host"] = host["host"].clone();
        // Hyper-V has no VNC: the console is an RDP gateway URL (Guacamole, say).
        ext["host"]["console_url"] = json!("https://rdp-gateway.example.com/#/client/{vmid}?host={host}");
        ext["extension"] = json!({});
        ext["virtualmachine"] = host["virtualmachine"].clone();
        // The built-in's parameter name for checkpoints.
        if let Some(name) = p["parameters"]["snap_name"].as_str().map(str::to_string) {
            p["parameters"] = json!({"snapshot_name": name});
        }
    })
}

/// The mock's token secret (a test value, not a credential).
fn csx_secret() -> &'static str {
    "0b5a3c9e-7d41-4f6a-9c2e-5d8f1a2b3c4d"
}

/// Runs the lifecycle with payloads from `fixtures/payloads`, adjusted by `configure`.
pub fn lifecycle(bin: &Path, work: &Path, configure: &dyn Fn(&mut Value)) -> Result<()> {
    lifecycle_steps(bin, work, STEPS, configure)
}

/// Runs `steps` (action, fixture file) in order.
pub fn lifecycle_steps(bin: &Path, work: &Path, steps: &[(&str, &str)], configure: &dyn Fn(&mut Value)) -> Result<()> {
    let fixtures = crate::util::root().join("fixtures/payloads");
    println!("{:<16} {:>6} {:>7}  output", "action", "exit", "ms");
    let mut failures = 0;
    // What `prepare` returned, merged into later payloads as CloudStack does.
    let mut prepared = serde_json::Map::new();
    for (action, file) in steps {
        let raw = std::fs::read(fixtures.join(format!("{file}.json"))).map_err(|e| format!("{file}: {e}"))?;
        let mut payload: Value = serde_json::from_slice(&raw).map_err(|e| format!("{file}: {e}"))?;
        configure(&mut payload);
        if let Some(d) = payload["cloudstack.vm.details"]["details"].as_object_mut() {
            d.extend(prepared.clone());
        }
        let path = work.join(format!("{file}.json"));
        std::fs::write(&path, payload.to_string()).map_err(|e| e.to_string())?;
        let m = measure(Command::new(bin).arg(action).arg(&path).arg("60"))?;
        let out = m.stdout.trim();
        let shown = if out.len() > 100 { format!("{}...", &out[..100]) } else { out.to_string() };
        println!("{:<16} {:>6} {:>7.1}  {}", action, m.code, m.wall.as_secs_f64() * 1000.0, shown);
        if *action == "prepare" {
            if let Ok(v) = serde_json::from_str::<Value>(out) {
                prepared = v["details"].as_object().cloned().unwrap_or_default();
            }
        }
        failures += usize::from(m.code != 0);
    }
    if failures > 0 {
        return Err(format!("{failures} step(s) failed"));
    }
    Ok(())
}
