//! `cargo xtask demo`: every binary through a whole lifecycle, as CloudStack calls it.

use crate::util::{build_release, measure, Result};
use serde_json::Value;
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
    let bin_dir = build_release(&["csx-bin-fake"])?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state = work.path().join("fake-state.json");
    println!("fake: instances kept in {}", state.display());
    lifecycle(&bin_dir.join("fake"), work.path(), &|p: &mut Value| {
        p["externaldetails"]["host"]["state_file"] = state.to_str().unwrap_or_default().into();
    })
}

/// Runs the lifecycle with payloads from `fixtures/payloads`, adjusted by `configure`.
pub fn lifecycle(bin: &Path, work: &Path, configure: &dyn Fn(&mut Value)) -> Result<()> {
    let fixtures = crate::util::root().join("fixtures/payloads");
    println!("{:<16} {:>6} {:>7}  output", "action", "exit", "ms");
    let mut failures = 0;
    for (action, file) in STEPS {
        let raw = std::fs::read(fixtures.join(format!("{file}.json"))).map_err(|e| format!("{file}: {e}"))?;
        let mut payload: Value = serde_json::from_slice(&raw).map_err(|e| format!("{file}: {e}"))?;
        configure(&mut payload);
        let path = work.join(format!("{file}.json"));
        std::fs::write(&path, payload.to_string()).map_err(|e| e.to_string())?;
        let m = measure(Command::new(bin).arg(action).arg(&path).arg("60"))?;
        let out = m.stdout.trim();
        let shown = if out.len() > 100 { format!("{}...", &out[..100]) } else { out.to_string() };
        println!("{:<16} {:>6} {:>7.1}  {}", action, m.code, m.wall.as_secs_f64() * 1000.0, shown);
        failures += usize::from(m.code != 0);
    }
    if failures > 0 {
        return Err(format!("{failures} step(s) failed"));
    }
    Ok(())
}
