//! `cargo xtask demo`: every binary through a whole lifecycle, as CloudStack calls it.

use crate::bench::Server;
use crate::targets::Mock;
use crate::util::{build_release, measure, Result};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub fn run() -> Result<()> {
    let mut packages = crate::targets::cargo_packages();
    packages.push("csx-mocks");
    let bin_dir = build_release(&packages)?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    for t in crate::targets::all() {
        let Some((steps, configure)) = t.demo else { continue };
        // The remote side: a mock server, or (a local binary) a state file.
        let (_server, remote) = match t.mock {
            Mock::Local => {
                let state = work.path().join(format!("{}-state.json", t.bin));
                println!("\n== {}: instances kept in {}\n", t.bin, state.display());
                (None, state.display().to_string())
            }
            Mock::Proxmox => {
                let s = Server::start(&bin_dir.join("mock-proxmox"), &["--port", "0", "--task-ms", "100"])?;
                println!("\n== {}: against mock-proxmox at {} (tasks take 100 ms)\n", t.bin, s.url);
                let url = t.mock.url(&s.url);
                (Some(s), url)
            }
            Mock::HypervWinrm => {
                let s = Server::start(&bin_dir.join("mock-winrm"), &["--port", "0", "--hyperv"])?;
                println!("\n== {}: against mock-winrm --hyperv at {} (NTLM, sealed HTTP)\n", t.bin, s.url);
                let url = t.mock.url(&s.url);
                (Some(s), url)
            }
        };
        lifecycle_steps(&bin_dir.join(t.bin), work.path(), &steps(), &|p: &mut Value| configure(p, &remote))?;
    }
    Ok(())
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
