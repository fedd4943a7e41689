//! `cargo xtask bench`: the performance targets named in the issues, measured on
//! release binaries over many runs; results rewrite the tables in BENCHMARKS.md.

use crate::util::{build_release, machine, measure, median, write_section, Result};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

pub fn run(args: &[String]) -> Result<()> {
    let runs = if args.iter().any(|a| a == "--quick") { 20 } else { 300 };
    let bin_dir = build_release(&["csx-bin-fake"])?;
    fake_status(&bin_dir.join("fake"), runs)
}

fn fake_status(bin: &std::path::Path, runs: usize) -> Result<()> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let payload = |name: &str| {
        json!({"virtualmachinename": name,
               "externaldetails": {"host": {"state_file": work.path().join("state.json").to_str().unwrap_or_default(), "log_file": "none"}},
               "cloudstack.vm.details": {"name": name, "cpus": 1, "maxRam": 536870912u64, "nics": []}})
    };
    let path = work.path().join("p.json");
    // A world of 100 instances, so status reads a realistic state file.
    for i in 0..100 {
        std::fs::write(&path, payload(&format!("i-2-{i}-VM")).to_string()).map_err(|e| e.to_string())?;
        let m = measure(Command::new(bin).arg("create").arg(&path).arg("30"))?;
        if m.code != 0 {
            return Err(format!("setup create failed: {}", m.stdout));
        }
    }
    std::fs::write(&path, payload("i-2-42-VM").to_string()).map_err(|e| e.to_string())?;
    let (mut walls, mut rss) = (Vec::with_capacity(runs), 0);
    for _ in 0..runs {
        let m = measure(Command::new(bin).arg("status").arg(&path).arg("30"))?;
        if m.code != 0 || !m.stdout.contains("poweron") {
            return Err(format!("status failed: {}", m.stdout));
        }
        walls.push(m.wall);
        rss = rss.max(m.max_rss_kib);
    }
    let med = median(&mut walls);
    let p95 = walls[(walls.len() * 95 / 100).min(walls.len() - 1)];
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let body = format!(
        "| measure | target | result | |\n|---|---|---|---|\n\
         | `fake status` median wall time ({runs} runs) | < 5 ms | {:.2} ms (p95 {:.2} ms) | {} |\n\
         | `fake status` peak RSS | < 10 MB | {:.1} MB | {} |\n\nMachine: {}.",
        ms(med),
        ms(p95),
        verdict(med < Duration::from_millis(5)),
        rss as f64 / 1024.0,
        verdict(rss < 10 * 1024),
        machine()
    );
    println!("{body}");
    write_section("fake-status", &body)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
