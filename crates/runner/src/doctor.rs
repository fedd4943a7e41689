//! `<binary> doctor <payload.json> [--json]`: the install checks (this executable in
//! CloudStack's extensions directory, its mode, owner and checksum, the log directory), then
//! the backend's own checks, printed as a checklist (or one JSON document). Exit 0 only when
//! every check that ran passed. Secrets are scrubbed from everything printed.

use csx_core::config::{self, Key, Level, RUNNER_KEYS};
use csx_core::doctor::{Area, Check, Report};
use csx_core::{redact, Backend, Error, Payload, Request, Result};
use md5::{Digest, Md5};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where CloudStack looks for extensions (4.21+: the first is a symlink to the second).
const EXTENSIONS_DIRS: [&str; 2] = ["/usr/share/cloudstack-management/extensions", "/etc/cloudstack/extensions"];
const LOG_DIR: &str = "/var/log/cloudstack/management/extensions";

/// A root to check instead of `/` (a scratch install, as `dpkg --root` makes one).
fn under_root(path: &str) -> PathBuf {
    match std::env::var_os("CSX_DOCTOR_ROOT") {
        Some(r) => Path::new(&r).join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// The uid and gid of user `cloud`, from the (root's) /etc/passwd.
fn cloud_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string(under_root("/etc/passwd")).ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"cloud") && f.len() > 3).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn install_checks(exe: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    let bytes = std::fs::read(exe);
    let real_dir = |d: &str| std::fs::canonicalize(under_root(d)).ok();
    let ext_dir = exe.parent().and_then(Path::parent).and_then(|d| std::fs::canonicalize(d).ok());
    let inside = ext_dir.is_some() && EXTENSIONS_DIRS.iter().any(|d| real_dir(d) == ext_dir);
    if !inside {
        out.push(Check::skip(
            Area::Install,
            "location",
            format!(
                "{} is not in CloudStack's extensions directory ({}): install checks skipped",
                exe.display(),
                EXTENSIONS_DIRS[0]
            ),
        ));
    } else {
        let folder =
            exe.parent().and_then(Path::file_name).map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let valid = !folder.is_empty()
            && folder.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        out.push(if valid {
            Check::pass(
                Area::Install,
                "location",
                format!("{} (register the extension as `{folder}`: CloudStack derives the folder from the name, lower-cased)", exe.display()),
            )
        } else {
            Check::fail(
                Area::Install,
                "location",
                format!("the folder `{folder}` is not a name CloudStack derives (lower-case letters, digits, `.`, `_`, `-`)"),
                "install the binary in a folder named like the extension, lower-cased",
            )
        });
        let meta = std::fs::metadata(exe).ok();
        let mode = meta.as_ref().map(|m| m.mode() & 0o777).unwrap_or(0);
        out.push(if mode & 0o555 == 0o555 {
            Check::pass(Area::Install, "mode", format!("{mode:04o}"))
        } else {
            Check::fail(
                Area::Install,
                "mode",
                format!("{mode:04o}: `cloud` must read and execute it (CloudStack also checksums it)"),
                format!("chmod 0755 {}", exe.display()),
            )
        });
        match (cloud_ids(), meta) {
            (None, _) => out.push(Check::fail(
                Area::Install,
                "owner",
                "there is no user `cloud` on this server",
                "install cloudstack-management (it creates the user CloudStack runs extensions as)",
            )),
            (Some((uid, _)), Some(m)) if m.uid() == uid => out.push(Check::pass(Area::Install, "owner", "cloud")),
            (Some(_), m) => out.push(Check::fail(
                Area::Install,
                "owner",
                format!("owned by uid {}, not `cloud`", m.map(|m| m.uid()).unwrap_or(0)),
                format!("chown cloud:cloud {} {}", exe.parent().unwrap_or(exe).display(), exe.display()),
            )),
        }
        let log = under_root(LOG_DIR);
        let writable = std::fs::metadata(&log)
            .ok()
            .zip(cloud_ids())
            .is_some_and(|(m, (uid, gid))| m.is_dir() && cloud_may_write(m.mode(), m.uid() == uid, m.gid() == gid));
        out.push(if writable {
            Check::pass(Area::Install, "log directory", format!("{LOG_DIR} is writable by `cloud`"))
        } else {
            Check::fail(
                Area::Install,
                "log directory",
                format!("{LOG_DIR} is missing or not writable by `cloud`: no log file is written"),
                format!("install -d -o cloud -g cloud -m 0750 {LOG_DIR}"),
            )
        });
    }
    out.push(match bytes {
        Ok(bytes) => {
            let md5: String = Md5::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            Check::pass(
                Area::Install,
                "checksum",
                format!(
                    "md5 {md5}: CloudStack compares it across management servers; run `md5sum {}` on each",
                    exe.display()
                ),
            )
        }
        Err(e) => Check::fail(
            Area::Install,
            "checksum",
            format!("cannot read {}: {e}; CloudStack cannot checksum it either", exe.display()),
            format!("chmod 0755 {}", exe.display()),
        ),
    });
    out
}

/// Whether `cloud` may create files in a directory with this mode: write and search
/// permission from the class that applies to it (owner, else group, else others), as the
/// kernel decides; a 0500 directory owned by `cloud` is not writable.
fn cloud_may_write(mode: u32, owner: bool, group: bool) -> bool {
    let bits = if owner {
        mode >> 6
    } else if group {
        mode >> 3
    } else {
        mode
    };
    bits & 0o3 == 0o3
}

/// Runs `doctor` and exits: 0 when every check that ran passed, 1 otherwise.
pub fn run<B, F>(name: &str, keys: &[Key], build: F) -> !
where
    B: Backend + 'static,
    F: FnOnce(&Payload) -> Result<B>,
{
    let args: Vec<String> = std::env::args().skip(2).collect();
    let as_json = args.iter().any(|a| a == "--json");
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(name));
    let mut checks = install_checks(&exe);
    match args.iter().find(|a| !a.starts_with("--")) {
        None => checks.push(Check::fail(
            Area::Configuration,
            "payload",
            "no payload file given",
            format!("run `{name} doctor <payload.json>` with a payload CloudStack left in ~cloud, or one written from the README's example"),
        )),
        Some(path) => match crate::read_payload(Path::new(path)) {
            Err(e) => checks.push(Check::fail(Area::Configuration, "payload", e.message(), "give a payload file CloudStack wrote")),
            Ok(payload) => {
                let public: Vec<&str> = keys.iter().filter(|k| k.public).map(|k| k.name).collect();
                redact::register_payload_except(&payload, &public);
                let misplaced: Vec<Check> = [RUNNER_KEYS, keys]
                    .iter()
                    .flat_map(|t| t.iter())
                    .filter(|k| k.level == Level::Operator)
                    .filter_map(|k| {
                        let found = payload.instance_level(k.name)?;
                        Some(Check::fail(
                            Area::Configuration,
                            format!("{} level", k.name),
                            config::misplaced(k, &found).message(),
                            format!("remove {found} from the instance, its template and its service offering"),
                        ))
                    })
                    .collect();
                if misplaced.is_empty() {
                    checks.extend(build_and_check(&payload, build));
                } else {
                    checks.extend(misplaced);
                    checks.push(Check::skip(
                        Area::Connection,
                        "connection",
                        "not tried: an operator key is set among the instance's details",
                    ));
                }
            }
        },
    }
    let report = Report(checks);
    let text = if as_json { report.json().to_string() } else { report.text() };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(redact::scrub(&text).as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
    std::process::exit(if report.ok() { 0 } else { 1 })
}

fn build_and_check<B, F>(payload: &Payload, build: F) -> Vec<Check>
where
    B: Backend + 'static,
    F: FnOnce(&Payload) -> Result<B>,
{
    let backend = match build(payload) {
        Err(e) => return vec![config_error(&e)],
        Ok(b) => b,
    };
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            let req = Request::new(payload.clone(), deadline);
            rt.block_on(backend.doctor(&req))
        }
        Err(e) => vec![Check::fail(Area::Connection, "runtime", e.to_string(), "report this")],
    }
}

/// A configuration the backend refused to build from: the failed check says what to set.
fn config_error(e: &Error) -> Check {
    Check::fail(
        Area::Configuration,
        "configuration",
        e.message(),
        "set the detail the message names, then run doctor again",
    )
}

#[cfg(test)]
mod tests {
    use super::cloud_may_write;

    #[test]
    fn log_directory_writable_as_the_kernel_decides() {
        assert!(cloud_may_write(0o750, true, true));
        assert!(!cloud_may_write(0o500, true, true), "owner without write");
        assert!(!cloud_may_write(0o570, true, true), "the owner class applies even when the group could write");
        assert!(cloud_may_write(0o770, false, true));
        assert!(!cloud_may_write(0o750, false, true));
        assert!(cloud_may_write(0o703, false, false));
        assert!(!cloud_may_write(0o755, false, false));
    }
}
