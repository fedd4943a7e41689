//! `cargo xtask new-adapter NAME`: scaffolds `crates/NAME` (the Backend) and
//! `bins/NAME` (the thin main), wired to csx-core, csx-runner and csx-testkit. Every action
//! answers "unsupported" until written, and the generated conformance test runs
//! and names the first action still missing.

use crate::util::{root, Result};
use std::path::Path;

fn valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// The files of a new adapter, relative to the workspace root.
pub fn files(name: &str) -> Vec<(String, String)> {
    let krate = name.replace('-', "_");
    let title: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    let pending: String = csx_testkit::conformance::CLAUSES
        .iter()
        .map(|c| {
            format!(
                "#[tokio::test(flavor = \"multi_thread\", worker_threads = 2)]\n#[ignore = \"pending: not written yet\"]\n\
                 async fn {c}() {{\n    run(\"{c}\").await;\n}}\n\n"
            )
        })
        .chain([format!(
            "#[test]\nfn every_clause_is_a_test() {{\n    assert_eq!(csx_testkit::conformance::CLAUSES, &[{}]);\n}}",
            csx_testkit::conformance::CLAUSES.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
        )])
        .collect();
    let fill = |t: &str| {
        t.replace("@PENDING@", &pending).replace("@NAME@", name).replace("@CRATE@", &krate).replace("@TITLE@", &title)
    };
    vec![
        (format!("crates/{name}/Cargo.toml"), fill(CRATE_TOML)),
        (format!("crates/{name}/src/lib.rs"), fill(LIB_RS)),
        (format!("crates/{name}/tests/conformance.rs"), fill(CONFORMANCE_RS)),
        (format!("crates/{name}/README.md"), fill(README_MD)),
        (format!("bins/{name}/Cargo.toml"), fill(BIN_TOML)),
        (format!("bins/{name}/src/main.rs"), fill(MAIN_RS)),
    ]
}

pub fn run(name: &str) -> Result<()> {
    if !valid(name) {
        return Err(format!(
            "`{name}` is not a valid adapter name: lower-case letters, digits and `-`, starting with a letter"
        ));
    }
    write(&root(), name)?;
    println!("created crates/{name} and bins/{name}; next: crates/{name}/README.md");
    Ok(())
}

pub fn write(root: &Path, name: &str) -> Result<()> {
    for dir in [format!("crates/{name}"), format!("bins/{name}")] {
        if root.join(&dir).exists() {
            return Err(format!("{dir} already exists"));
        }
    }
    for (path, text) in files(name) {
        let p = root.join(&path);
        std::fs::create_dir_all(p.parent().ok_or("bad path")?).map_err(|e| e.to_string())?;
        std::fs::write(&p, text).map_err(|e| format!("{path}: {e}"))?;
    }
    add_target(root, name)?;
    add_architecture_rows(root, name)
}

/// `new-adapter NAME --check`: copies the tracked files of the work tree into a scratch
/// folder, scaffolds NAME there and runs what a contributor runs on day 1 — the new crates'
/// tests (every clause pending), clippy with warnings denied, and the tidy tests. Builds share
/// this tree's target folder, so only the workspace's own crates are compiled again.
pub fn check(name: &str) -> Result<()> {
    if !valid(name) {
        return Err(format!("`{name}` is not a valid adapter name"));
    }
    let root = root();
    let scratch = tempfile::Builder::new().prefix("csx-new-adapter-").tempdir().map_err(|e| e.to_string())?;
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .map_err(|e| format!("git ls-files: {e}"))?;
    for rel in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).map_err(|e| e.to_string())?);
        let (from, to) = (root.join(rel), scratch.path().join(rel));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().ok_or("bad path")?).map_err(|e| e.to_string())?;
            std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", rel.display()))?;
        }
    }
    write(scratch.path(), name)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or(root.join("target"));
    let (krate, bin) = (format!("csx-{name}"), format!("csx-bin-{name}"));
    for args in [
        vec!["test", "-p", &krate, "-p", &bin, "-p", "xtask"],
        vec!["clippy", "-p", &krate, "-p", &bin, "--all-targets", "--", "-D", "warnings"],
    ] {
        println!("== new-adapter --check: cargo {}", args.join(" "));
        let status = std::process::Command::new(env!("CARGO"))
            .args(&args)
            .current_dir(scratch.path())
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("a freshly scaffolded `{name}` fails `cargo {}`", args.join(" ")));
        }
    }
    println!("new-adapter --check: a scaffolded `{name}` builds, passes its tests (clauses pending), clippy and tidy");
    Ok(())
}

/// The row above which ARCHITECTURE.md's crate table gets the new adapter's rows.
const ARCHITECTURE_ANCHOR: &str = "| `mocks` (`csx-mocks`)";

/// Names the new crates in ARCHITECTURE.md's crate table (the tidy test requires every crate
/// there), each with its job in one sentence to be completed.
fn add_architecture_rows(root: &Path, name: &str) -> Result<()> {
    let path = root.join("ARCHITECTURE.md");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let at = text.find(ARCHITECTURE_ANCHOR).ok_or("ARCHITECTURE.md has lost its crate table")?;
    let rows = format!(
        "| `crates/{name}` (`csx-{name}`) | The `Backend` for {name} (scaffolded: say its job in one sentence). |\n\
         | `bins/{name}` (`csx-bin-{name}`) | Thin main: hands csx-{name}'s constructor and keys to `csx_runner::run`. |\n"
    );
    std::fs::write(&path, format!("{}{rows}{}", &text[..at], &text[at..])).map_err(|e| format!("ARCHITECTURE.md: {e}"))
}

/// The marker in xtask/src/targets.rs above which a new adapter's row goes.
pub const TARGETS_MARKER: &str = "        // cargo xtask new-adapter adds rows above this line.";

/// Wires the adapter into xtask's table of targets (demo, deadlines, packaging).
fn add_target(root: &Path, name: &str) -> Result<()> {
    let path = root.join("xtask/src/targets.rs");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("xtask/src/targets.rs: {e}"))?;
    let at = text.find(TARGETS_MARKER).ok_or("xtask/src/targets.rs has lost its new-adapter marker")?;
    let title = files(name).into_iter().find_map(|(p, t)| {
        p.ends_with("main.rs").then(|| t.split("the csx ").nth(1)?.split(" orchestrator").next().map(str::to_string))?
    });
    let row = TARGET_ROW.replace("@NAME@", name).replace("@TITLE@", &title.unwrap_or_else(|| name.to_string()));
    let new = format!("{}{row}{}", &text[..at], &text[at..]);
    std::fs::write(&path, new).map_err(|e| format!("xtask/src/targets.rs: {e}"))
}

const TARGET_ROW: &str = r#"        Target {
            bin: "@NAME@",
            cargo_package: "csx-bin-@NAME@",
            // Give it a mock (targets::Mock) and a payload builder in mocks/ when it has a remote side.
            mock: Mock::Local,
            payload: |_, name| json!({"virtualmachinename": name}),
            slow: None,
            // A demo (steps and how a fixture payload is pointed at the mock) once it works.
            demo: None,
            packaging: Some(Packaging {
                name: "csx-@NAME@",
                summary: "@TITLE@ orchestrator extension for Apache CloudStack",
                description: "The csx @TITLE@ orchestrator extension.",
                readme: "crates/@NAME@/README.md",
                details_example: "{}
",
                // Packaged by default once it passes the conformance suite.
                by_default: false,
            }),
        },
"#;

const CRATE_TOML: &str = r#"[package]
name = "csx-@NAME@"
description = "The csx Backend for @TITLE@."
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true

[dependencies]
csx-core.workspace = true

[dev-dependencies]
csx-testkit.workspace = true
serde_json.workspace = true
tokio = { workspace = true, features = ["rt", "rt-multi-thread", "macros", "time"] }

[lints]
workspace = true
"#;

const LIB_RS: &str = r#"//! csx-@NAME@: the csx `Backend` for @TITLE@.
//!
//! Every action answers "unsupported" until it is written; see README.md for the steps.

use csx_core::{async_trait, Backend, Error, Key, Outcome, Payload, PowerState, Request, Result};

/// The configuration keys this backend reads, each with its level (`Key::operator` for
/// anything that chooses a credential, an endpoint, trust, logging, a host path or a
/// behaviour; `Key::instance` for what templates and offerings may set, such as sizes).
pub const KEYS: &[Key] = &[];

/// The @TITLE@ backend: configuration read from the payload, no I/O until an action runs.
#[derive(Debug, Clone)]
pub struct @TITLE@Backend {}

impl @TITLE@Backend {
    /// Reads the configuration (details) this backend needs; no I/O here.
    pub fn from_payload(_p: &Payload) -> Result<Self> {
        Ok(@TITLE@Backend {})
    }
}

fn missing(action: &str) -> Error {
    Error::unsupported(format!("`{action}` is not written yet in csx-@NAME@ (crates/@NAME@/src/lib.rs)"))
}

#[async_trait]
impl Backend for @TITLE@Backend {
    async fn create(&self, _req: &Request) -> Result<Outcome> {
        Err(missing("create"))
    }
    async fn start(&self, _req: &Request) -> Result<Outcome> {
        Err(missing("start"))
    }
    async fn stop(&self, _req: &Request) -> Result<Outcome> {
        Err(missing("stop"))
    }
    async fn reboot(&self, _req: &Request) -> Result<Outcome> {
        Err(missing("reboot"))
    }
    async fn delete(&self, _req: &Request) -> Result<Outcome> {
        Err(missing("delete"))
    }
    async fn status(&self, _req: &Request) -> Result<PowerState> {
        Err(missing("status"))
    }
}
"#;

const CONFORMANCE_RS: &str = r#"//! The shared conformance suite against @TITLE@, one test per clause. Give `exists` a mock
//! to ask once the actions are written.

use csx_core::Backend;
use csx_testkit::Harness;
use serde_json::{json, Value};

struct H {
    backend: csx_@CRATE@::@TITLE@Backend,
}

#[csx_core::async_trait]
impl Harness for H {
    fn keys(&self) -> &'static [csx_core::Key] {
        csx_@CRATE@::KEYS
    }
    fn backend(&self) -> &dyn Backend {
        &self.backend
    }
    fn payload(&self, name: &str) -> Value {
        // Add the details your backend needs (point them at your mock).
        json!({
            "externaldetails": {"host": {}},
            "virtualmachineid": format!("uuid-{name}"),
            "virtualmachinename": name,
            "cloudstack.vm.details": {"name": name, "cpus": 1, "maxRam": 536870912u64, "details": {}, "nics": []}
        })
    }
    async fn arm_create_failure(&self) -> bool {
        false
    }
    async fn exists(&self, _name: &str) -> bool {
        false
    }
}

impl H {
    fn new() -> H {
        let p = csx_core::Payload::from_slice(b"{}").unwrap();
        H { backend: csx_@CRATE@::@TITLE@Backend::from_payload(&p).unwrap() }
    }
}

async fn run(clause: &str) {
    csx_testkit::conformance::run_clause(&H::new(), clause).await;
}

// One test per clause, each "pending" (ignored, listed by `cargo test`) until the backend
// passes it: remove a clause's `#[ignore]` line once it does (`cargo test -- --ignored` runs
// the pending ones). With none left, this module can become
// `csx_testkit::conformance_tests!(H::new());`.
@PENDING@
"#;

const README_MD: &str = r#"# csx-@NAME@

The csx backend for @TITLE@, scaffolded by `cargo xtask new-adapter @NAME@`.

Steps:

1. Write a mock of @TITLE@'s API in `mocks/` (see `mocks/src/proxmox` for a wiremock-based one).
2. Declare the configuration keys in `KEYS` (operator or instance level: see
   `csx_core::config`) and read them in `@TITLE@Backend::from_payload` with
   `Payload::detail(&KEY)`, never any I/O there.
3. Implement the actions in `src/lib.rs`, one at a time: `create` (create *and* power on,
   idempotent, cleaning up what it made on failure), `start`, `stop` and `delete` (succeed when
   already done), `reboot`, `status` (`poweroff` for a missing instance, never a guess), then the
   optional `prepare`, `statuses`, `console` and custom actions.
4. Point the harness in `tests/conformance.rs` at your mock; `cargo test -p csx-@NAME@` runs the
   shared conformance suite and names the first action that is missing or wrong.
5. Test `bins/@NAME@` as a process with `csx_testkit::run_binary`, exactly as CloudStack calls it.
6. Document every configuration key in `bins/@NAME@/README.md`, and add a package in
   `xtask/src/package.rs`.
"#;

const BIN_TOML: &str = r#"[package]
name = "csx-bin-@NAME@"
description = "The `@NAME@` orchestrator extension for Apache CloudStack."
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true

[[bin]]
name = "@NAME@"
path = "src/main.rs"

[dependencies]
csx-runner.workspace = true
csx-@NAME@ = { path = "../../crates/@NAME@" }

[lints]
workspace = true
"#;

const MAIN_RS: &str = r#"//! `@NAME@`: the csx @TITLE@ orchestrator extension.

fn main() {
    csx_runner::run(csx_runner::App {
        name: "@NAME@",
        version: env!("CARGO_PKG_VERSION"),
        about: "csx @TITLE@ orchestrator extension for Apache CloudStack",
        custom_actions: Vec::new(),
        keys: csx_@CRATE@::KEYS,
        build: csx_@CRATE@::@TITLE@Backend::from_payload,
    })
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffolds_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let targets = dir.path().join("xtask/src/targets.rs");
        std::fs::create_dir_all(targets.parent().unwrap()).unwrap();
        std::fs::copy(crate::util::root().join("xtask/src/targets.rs"), &targets).unwrap();
        write(dir.path(), "open-nebula").unwrap();
        let table = std::fs::read_to_string(&targets).unwrap();
        let row = table.find("bin: \"open-nebula\"").expect("the new adapter is in the table of targets");
        assert!(row < table.find(TARGETS_MARKER).unwrap(), "above the marker, inside the table");
        let lib = std::fs::read_to_string(dir.path().join("crates/open-nebula/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct OpenNebulaBackend") && lib.contains("csx-open-nebula"));
        let main = std::fs::read_to_string(dir.path().join("bins/open-nebula/src/main.rs")).unwrap();
        assert!(
            main.contains("csx_open_nebula::OpenNebulaBackend::from_payload") && main.contains("name: \"open-nebula\"")
        );
        assert!(!files("x").iter().any(|(_, t)| t.contains('@')), "every placeholder is filled");
        assert!(write(dir.path(), "open-nebula").is_err(), "never overwrites");
        let arch = dir.path().join("ARCHITECTURE.md");
        std::fs::copy(crate::util::root().join("ARCHITECTURE.md"), &arch).unwrap();
        add_architecture_rows(dir.path(), "open-nebula").unwrap();
        let arch = std::fs::read_to_string(arch).unwrap();
        assert!(arch.contains("| `crates/open-nebula` (`csx-open-nebula`)") && arch.contains("`bins/open-nebula`"));
        let conformance = files("open-nebula").into_iter().find(|(p, _)| p.ends_with("conformance.rs")).unwrap().1;
        for c in csx_testkit::conformance::CLAUSES {
            assert!(conformance.contains(&format!("async fn {c}()")), "the scaffold has a test for {c}");
        }
        for bad in ["", "Proxmox", "1x", "a_b", "x-"] {
            assert!(!valid(bad), "{bad}");
        }
    }
}
