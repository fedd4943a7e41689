//! `cargo xtask deadlines [--max SECS] [--record]`: every extension binary, run as
//! CloudStack runs it, against a remote side that hangs — an action that never
//! ends (fake), a host that accepts the connection and never reads (stall), a host
//! that reads the request and never answers (hang) — for CloudStack timeouts from
//! 1 s up to `--max` (default 1800, CloudStack's default). Each run must end with
//! one JSON error before its timeout: `timeout` at the deadline, or `remote` when a
//! per-request cap gave up on the host earlier. All runs go at once, so the whole
//! matrix takes as long as its longest timeout. `--record` writes the table into
//! docs/RELIABILITY.md.

use crate::targets::Mock;
use crate::util::{build_release, machine, write_section_in, Result};
use csx_mocks::faults::{Cut, FaultProxy};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUTS: [u64; 10] = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

struct Case {
    binary: &'static str,
    action: &'static str,
    remote: &'static str,
    payload: Value,
}

struct Outcome {
    case: usize,
    timeout: u64,
    elapsed: Duration,
    /// What the binary answered, or what was wrong with it.
    verdict: std::result::Result<String, String>,
}

pub fn run(max: u64, record: bool) -> Result<()> {
    let bin_dir = build_release(&crate::targets::cargo_packages())?;
    let timeouts: Vec<u64> = TIMEOUTS.iter().copied().filter(|t| *t <= max).collect();
    if timeouts.is_empty() {
        return Err("--max must be at least 1".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Real mocks behind fault proxies: the connection is accepted by a real listener.
    let (pve, winrm) = rt.block_on(async {
        let pve = csx_mocks::proxmox::MockProxmox::start().await;
        let host = std::sync::Arc::new(csx_mocks::hyperv::HyperVHost::default());
        let winrm = csx_mocks::winrm::MockWinrm::start(host, None).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((pve, winrm))
    })?;
    let proxy = |upstream, cut| -> Result<FaultProxy> {
        let p = rt.block_on(FaultProxy::start(upstream)).map_err(|e| e.to_string())?;
        p.inject("", cut, usize::MAX);
        Ok(p)
    };
    let mut proxies = Vec::new();
    let mut cases = Vec::new();
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (i, t) in crate::targets::all().into_iter().enumerate() {
        let name = format!("i-2-{}-VM", 90 + i);
        let upstream = match t.mock {
            Mock::Local => {
                // A local binary: the action itself never ends in time (longer than any timeout).
                let Some(slow) = t.slow else { continue };
                let state = scratch.path().join(format!("{}-state.json", t.bin));
                let mut payload = (t.payload)(&state.display().to_string(), &name);
                slow(&mut payload, Duration::from_secs(max + 60));
                cases.push(Case { binary: t.bin, action: "start", remote: "action never ends", payload });
                continue;
            }
            Mock::Proxmox => pve.address(),
            Mock::HypervWinrm => winrm.addr,
        };
        for (remote, cut) in [("host accepts, never reads", Cut::Stall), ("host reads, never answers", Cut::Hang)] {
            let p = proxy(upstream, cut)?;
            let url = t.mock.url(&p.url());
            for action in ["status", "create"] {
                cases.push(Case { binary: t.bin, action, remote, payload: (t.payload)(&url, &name) });
            }
            proxies.push(p);
        }
    }

    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    println!(
        "deadlines: {} runs ({} cases x timeouts {:?} s), all at once; the longest takes {} s",
        cases.len() * timeouts.len(),
        cases.len(),
        timeouts,
        timeouts.last().copied().unwrap_or(0)
    );
    let mut threads = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let file = work.path().join(format!("case-{i}.json"));
        std::fs::write(&file, case.payload.to_string()).map_err(|e| e.to_string())?;
        for &timeout in &timeouts {
            let bin = bin_dir.join(case.binary);
            let (file, action) = (file.clone(), case.action);
            threads.push(std::thread::spawn(move || one(i, &bin, action, &file, timeout)));
        }
    }
    let mut outcomes: Vec<Outcome> = threads
        .into_iter()
        .map(|t| {
            t.join().unwrap_or_else(|_| Outcome {
                case: 0,
                timeout: 0,
                elapsed: Duration::ZERO,
                verdict: Err("panicked".into()),
            })
        })
        .collect();
    outcomes.sort_by_key(|o| (o.case, o.timeout));
    drop(proxies);

    let mut table = String::from(
        "| binary | action | remote side | timeout | answered after | before the timeout by | result |\n|---|---|---|---|---|---|---|\n",
    );
    let mut failed = 0;
    for o in &outcomes {
        let c = &cases[o.case];
        let left = Duration::from_secs(o.timeout).saturating_sub(o.elapsed);
        if o.verdict.is_err() {
            failed += 1;
        }
        table.push_str(&format!(
            "| {} | {} | {} | {} s | {:.3} s | {:.3} s | {} |\n",
            c.binary,
            c.action,
            c.remote,
            o.timeout,
            o.elapsed.as_secs_f64(),
            left.as_secs_f64(),
            match &o.verdict {
                Ok(what) => what.clone(),
                Err(e) => format!("FAILED: {e}"),
            }
        ));
    }
    let body = format!(
        "{table}\n{} runs, {} failed. Machine: {}. Reproduce: `cargo xtask deadlines --max {max}`.",
        outcomes.len(),
        failed,
        machine()
    );
    println!("{body}");
    if record {
        write_section_in(Path::new("docs/RELIABILITY.md"), "deadlines", &body)?;
    }
    drop((pve, winrm));
    if failed > 0 {
        return Err(format!("{failed} runs missed their deadline or broke the contract"));
    }
    Ok(())
}

/// One run: must end before `timeout` with one JSON timeout error (exit 124).
fn one(case: usize, bin: &PathBuf, action: &str, payload: &Path, timeout: u64) -> Outcome {
    let started = std::time::Instant::now();
    let out = std::process::Command::new(bin)
        .arg(action)
        .arg(payload)
        .arg(timeout.to_string())
        .env("CSX_LOG", "none")
        .stdin(std::process::Stdio::null())
        .output();
    let elapsed = started.elapsed();
    let verdict = match out {
        Err(e) => Err(format!("cannot run: {e}")),
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            match serde_json::from_str::<Value>(stdout.trim()) {
                _ if elapsed >= Duration::from_secs(timeout) => Err("answered after the timeout".into()),
                _ if !out.stderr.is_empty() => Err(format!("stderr: {}", String::from_utf8_lossy(&out.stderr))),
                // A timeout at the deadline, or a remote error when a per-request cap
                // (Proxmox: 60 s, 3 attempts) gave up on the host earlier.
                Ok(v)
                    if v["status"] == "error"
                        && matches!(
                            (v["error_kind"].as_str(), out.status.code()),
                            (Some("timeout"), Some(124)) | (Some("remote"), Some(5))
                        ) =>
                {
                    Ok(format!(
                        "`{}` error, exit {}",
                        v["error_kind"].as_str().unwrap_or(""),
                        out.status.code().unwrap_or(0)
                    ))
                }
                Ok(v) => Err(format!("exit {:?}: {v}", out.status.code())),
                Err(e) => Err(format!("not one JSON document ({e}): {stdout}")),
            }
        }
    };
    Outcome { case, timeout, elapsed, verdict }
}
