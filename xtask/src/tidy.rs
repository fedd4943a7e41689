//! Tidy: the architecture's invariants, checked as tests (`cargo test -p xtask`), so that a
//! change that breaks one fails CI instead of waiting for a reviewer:
//!
//! - which crates may depend on which (normal dependencies, from `cargo metadata`);
//! - every crate has a module doc and is named in ARCHITECTURE.md;
//! - no Rust file (crates, bins and their tests, mocks, xtask) is longer than 600 lines;
//! - no error is classified by its wording (`.message().contains(`, `.to_string().contains(`)
//!   outside tests: decide on the error's type or kind.

#[cfg(test)]
mod tests {
    use crate::util::root;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    const MAX_LINES: usize = 600;

    /// package name → (manifest directory relative to the root, csx dependencies).
    fn workspace() -> BTreeMap<String, (String, Vec<String>)> {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(root())
            .output()
            .expect("cargo metadata");
        let v: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        let root = root();
        v["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| {
                let dir = Path::new(p["manifest_path"].as_str().unwrap_or("")).parent().unwrap_or(Path::new(""));
                let dir = dir.strip_prefix(&root).unwrap_or(dir).display().to_string();
                let deps = p["dependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|d| d["kind"].is_null())
                    .filter_map(|d| d["name"].as_str())
                    .filter(|n| n.starts_with("csx-"))
                    .map(str::to_string)
                    .collect();
                (p["name"].as_str().unwrap_or("").to_string(), (dir, deps))
            })
            .collect()
    }

    /// The adapters, as `cargo metadata` shows them: crates under `crates/` built on the
    /// contract that are neither the runner nor the conformance suite (no list kept by hand,
    /// so a scaffolded adapter is one the day it is made).
    fn adapters(ws: &BTreeMap<String, (String, Vec<String>)>) -> Vec<String> {
        ws.iter()
            .filter(|(name, (dir, deps))| {
                dir.starts_with("crates/")
                    && deps.iter().any(|d| d == "csx-core")
                    && !["csx-runner", "csx-testkit"].contains(&name.as_str())
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The dependency rules: what a crate may use, by the crate's place in the map.
    fn allowed(name: &str, dir: &str, adapters: &[String]) -> Vec<String> {
        let fixed: &[&str] = match (name, dir) {
            // The contract and the protocol libraries stand alone.
            ("csx-core", _) | ("csx-tls", _) => &[],
            ("csx-winrm", _) => &["csx-tls"],
            // The runner and the conformance suite know the contract only.
            ("csx-runner", _) | ("csx-testkit", _) => &["csx-core"],
            // The mocks speak protocols, not CloudStack.
            ("csx-mocks", _) => &["csx-winrm", "csx-tls"],
            // Adapters: the contract and protocol libraries, never the command line.
            (_, d) if d.starts_with("crates/") => &["csx-core", "csx-tls", "csx-winrm"],
            // Binaries: the runner and their adapter (winrs: the protocol libraries).
            (_, d) if d.starts_with("bins/") => {
                let mut v: Vec<String> = ["csx-runner", "csx-tls", "csx-winrm"].map(String::from).to_vec();
                v.extend(adapters.iter().cloned());
                return v;
            }
            ("xtask", _) => &["csx-core", "csx-mocks", "csx-testkit", "csx-tls", "csx-winrm"],
            _ => &[],
        };
        fixed.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn crates_depend_only_as_the_map_allows() {
        let ws = workspace();
        assert!(ws.len() >= 10, "cargo metadata found only {} packages", ws.len());
        let adapters = adapters(&ws);
        for known in ["csx-fake", "csx-proxmox", "csx-hyperv"] {
            assert!(adapters.iter().any(|a| a == known), "{known} is an adapter: {adapters:?}");
        }
        let mut broken = Vec::new();
        for (name, (dir, deps)) in &ws {
            for d in deps {
                if !allowed(name, dir, &adapters).contains(d) {
                    broken.push(format!("{name} ({dir}) depends on {d}"));
                }
            }
            // A binary uses exactly one adapter.
            assert!(deps.iter().filter(|d| adapters.contains(d)).count() <= 1, "{name} links more than one adapter");
        }
        // Only binaries run the command line.
        for (name, (dir, deps)) in &ws {
            if deps.iter().any(|d| d == "csx-runner") && !dir.starts_with("bins/") {
                broken.push(format!("{name} ({dir}) depends on csx-runner, which only bins/* may use"));
            }
        }
        assert!(broken.is_empty(), "dependency rules broken (ARCHITECTURE.md, \"Invariants\"):\n{}", broken.join("\n"));
    }

    #[test]
    fn every_crate_is_documented_and_on_the_map() {
        let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
        for (name, (dir, _)) in workspace() {
            let src = root().join(&dir).join("src");
            let entry = ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).find(|p| p.exists());
            let entry = entry.unwrap_or_else(|| panic!("{dir} has no src/lib.rs or src/main.rs"));
            let text = std::fs::read_to_string(&entry).expect("source");
            assert!(text.trim_start().starts_with("//!"), "{} has no module doc (`//!` at the top)", entry.display());
            assert!(
                architecture.contains(&format!("`{name}`")) || architecture.contains(&format!("`{dir}`")),
                "{name} ({dir}) is not named in ARCHITECTURE.md"
            );
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Every Rust file of the workspace, tests, mocks and automation included.
    #[test]
    fn no_source_file_is_too_long() {
        let mut files = Vec::new();
        for d in ["crates", "bins", "mocks", "xtask"] {
            rust_files(&root().join(d), &mut files);
        }
        assert!(files.len() > 40);
        for f in files {
            let n = std::fs::read_to_string(&f).expect("source").lines().count();
            assert!(n <= MAX_LINES, "{} has {n} lines (at most {MAX_LINES}): split it by job", f.display());
        }
    }

    #[test]
    fn no_error_is_classified_by_its_wording() {
        let mut files = Vec::new();
        for d in ["crates", "bins", "mocks/src"] {
            rust_files(&root().join(d), &mut files);
        }
        let mut found = Vec::new();
        for f in files.iter().filter(|f| f.components().all(|c| c.as_os_str() != "tests")) {
            let text = std::fs::read_to_string(f).expect("source");
            // Unit tests may look at messages: what an operator reads is their subject.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, line) in code.lines().enumerate() {
                let classifies = line.contains(".message().contains(") || line.contains(".to_string().contains(");
                // The conformance suite's assertions check what the operator reads: allowed.
                if classifies && !line.contains("assert") {
                    found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
        assert!(found.is_empty(), "errors classified by their wording; decide on the type:\n{}", found.join("\n"));
    }

    /// Keys that choose a credential, an endpoint, trust, logging, a host path or a node are
    /// operator keys: no adapter may declare one of them at the instance level, where the
    /// instance's owner could set it.
    #[test]
    fn credentials_endpoints_and_trust_are_operator_keys() {
        const OPERATOR_ONLY: &[&str] = &[
            "url",
            "user",
            "username",
            "realm",
            "token",
            "secret",
            "password",
            "transport",
            "auth",
            "keytab",
            "kdc",
            "spn",
            "node",
            "verify_tls_certificate",
            "tls_fingerprint",
            "tls_ca_file",
            "log_file",
            "log_level",
            "vm_path",
            "vhd_path",
            "state_file",
            "console_url",
            "console_host",
            "network_bridge",
            "network_switch",
        ];
        let mut files = Vec::new();
        for d in ["crates", "bins"] {
            rust_files(&root().join(d), &mut files);
        }
        let mut found = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).expect("source");
            for (i, line) in text.lines().enumerate() {
                let Some(rest) = line.split("Key::instance(").nth(1) else { continue };
                let name = rest.trim_start().trim_start_matches('"').split('"').next().unwrap_or("");
                let sensitive = OPERATOR_ONLY.contains(&name)
                    || ["password", "secret", "token", "tls", "allow_", "adopt"].iter().any(|w| name.contains(w));
                if sensitive {
                    found.push(format!("{}:{}: `{name}`", f.display(), i + 1));
                }
            }
        }
        assert!(found.is_empty(), "operator-only keys declared at the instance level:\n{}", found.join("\n"));
    }
}
