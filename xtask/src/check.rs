//! `cargo xtask package --check`: validates the built packages with the real
//! tools — lintian and rpmlint report no errors; both install into scratch roots
//! laid out as CloudStack 4.21+ does (`/usr/share/cloudstack-management/extensions`
//! a symlink to `/etc/cloudstack/extensions`); the installed files are `cloud:cloud`
//! 0755; the installed binary answers `--version` and a `status` against a mock.
//!
//! Needs root and Debian's `lintian`, `rpmlint` and `rpm` (`.ci/run` installs them).

use crate::bench::Server;
use crate::package::Spec;
use crate::targets::Mock;
use crate::util::{Result, GLIBC_FLOOR};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(name: &str) -> Result<()> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(format!("`{name}` is missing: apt-get install -y lintian rpmlint rpm"))
    }
}

fn run(cmd: &mut Command) -> Result<(bool, String)> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// Every packaged executable needs at most glibc [`GLIBC_FLOOR`] (EL8): the versions of its
/// dynamic symbols, as `objdump -T` lists them.
fn glibc_floor(spec: &Spec) -> Result<()> {
    let bin = crate::util::root().join("target/x86_64-unknown-linux-gnu/release").join(spec.bin);
    let bin = std::env::var("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("x86_64-unknown-linux-gnu/release").join(spec.bin))
        .unwrap_or(bin);
    let (ok, text) = run(Command::new("objdump").arg("-T").arg(&bin))?;
    if !ok {
        return Err(format!("objdump -T {} failed: {text}", bin.display()));
    }
    let too_new: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .filter_map(|w| w.trim_matches(['(', ')']).strip_prefix("GLIBC_"))
                .filter_map(|v| {
                    let mut it = v.split('.').map(|n| n.parse::<u32>().ok());
                    Some((it.next()??, it.next().flatten().unwrap_or(0)))
                })
                .any(|v| v > GLIBC_FLOOR)
        })
        .collect();
    let symbols = text.lines().filter(|l| l.contains("GLIBC_")).count();
    if symbols == 0 {
        return Err(format!("objdump -T {} listed no GLIBC_ symbol: is it the packaged binary?", bin.display()));
    }
    if !too_new.is_empty() {
        return Err(format!(
            "{} needs a glibc newer than {}.{} (EL8):\n{}",
            bin.display(),
            GLIBC_FLOOR.0,
            GLIBC_FLOOR.1,
            too_new.join("\n")
        ));
    }
    println!(
        "glibc floor {}: {symbols} versioned symbols, none above GLIBC_{}.{}",
        bin.display(),
        GLIBC_FLOOR.0,
        GLIBC_FLOOR.1
    );
    Ok(())
}

/// Both linters as an operator runs them: `lintian <deb>` (the package carries its own
/// overrides) and `rpmlint -c packaging/rpmlint.toml <rpm>` (each filter with its reason).
fn lint(deb: &Path, rpm: &Path) -> Result<()> {
    let (_, text) = run(Command::new("lintian").arg(deb))?;
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("E:")).collect();
    println!(
        "lintian {}: {} errors, {} warnings",
        deb.display(),
        errors.len(),
        text.lines().filter(|l| l.starts_with("W:")).count()
    );
    if !errors.is_empty() {
        return Err(format!("lintian errors:\n{}", errors.join("\n")));
    }
    let cfg = crate::util::root().join("packaging/rpmlint.toml");
    let (_, text) = run(Command::new("rpmlint").arg("-c").arg(&cfg).arg(rpm))?;
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": E: ")).collect();
    println!("rpmlint {}: {}", rpm.display(), text.lines().last().unwrap_or(""));
    if !errors.is_empty() {
        return Err(format!("rpmlint errors:\n{}", errors.join("\n")));
    }
    Ok(())
}

/// A scratch root with CloudStack's layout: the extensions directory is a
/// relative symlink to /etc/cloudstack/extensions, as the Debian packages make it.
fn scratch(name: &str) -> Result<PathBuf> {
    let r = std::env::temp_dir().join(format!("csx-root-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&r);
    for d in [
        "etc/cloudstack/extensions",
        "usr/share/cloudstack-management",
        "var/log/cloudstack/management",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
    ] {
        std::fs::create_dir_all(r.join(d)).map_err(|e| e.to_string())?;
    }
    std::os::unix::fs::symlink(
        "../../../etc/cloudstack/extensions",
        r.join("usr/share/cloudstack-management/extensions"),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(r.join("var/lib/dpkg/status"), "").map_err(|e| e.to_string())?;
    Ok(r)
}

/// The older Debian the packaged binaries must also run on: bullseye (glibc 2.31), the oldest
/// suite Debian's archive serves here (buster, glibc 2.28, is only on archive.debian.org).
const OLDER_SUITE: &str = "bullseye";

/// Runs every packaged binary in a debootstrapped chroot of [`OLDER_SUITE`] (made once, kept
/// under target/): `--version`, and a `status` against its mock on loopback.
fn older_suite(built: &[(Spec, PathBuf, PathBuf)]) -> Result<()> {
    tool("debootstrap").map_err(|_| "`debootstrap` is missing: apt-get install -y debootstrap".to_string())?;
    let dir = crate::util::root().join("target").join(format!("chroot-{OLDER_SUITE}"));
    if !dir.join("usr/bin/ldd").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let (ok, text) = run(Command::new("debootstrap")
            .args(["--variant=minbase", OLDER_SUITE])
            .arg(&dir)
            .arg("http://deb.debian.org/debian"))?;
        if !ok {
            return Err(format!("debootstrap {OLDER_SUITE} failed: {}", text.lines().last().unwrap_or("")));
        }
    }
    let (_, ldd) = run(Command::new("chroot").arg(&dir).args(["/usr/bin/ldd", "--version"]))?;
    let glibc = ldd.lines().next().unwrap_or("").rsplit(' ').next().unwrap_or("?").to_string();
    for (spec, _, _) in built {
        let target =
            crate::targets::all().into_iter().find(|t| t.bin == spec.bin).ok_or("not in the table of targets")?;
        let packaged = crate::util::root().join("target/x86_64-unknown-linux-gnu/release").join(spec.bin);
        std::fs::create_dir_all(dir.join("opt/csx")).map_err(|e| e.to_string())?;
        std::fs::copy(&packaged, dir.join("opt/csx").join(spec.bin)).map_err(|e| e.to_string())?;
        let (_server, p) = status_payload(&target, "/opt/csx/state.json")?;
        std::fs::write(dir.join("opt/csx/p.json"), p.to_string()).map_err(|e| e.to_string())?;
        let inside = format!("/opt/csx/{}", spec.bin);
        let (ok, version) = run(Command::new("chroot").arg(&dir).arg(&inside).arg("--version"))?;
        let (ok2, status) =
            run(Command::new("chroot").arg(&dir).arg(&inside).args(["status", "/opt/csx/p.json", "30"]))?;
        if !ok || !ok2 || !status.contains("\"power_state\":\"poweroff\"") {
            return Err(format!("{} in a {OLDER_SUITE} chroot (glibc {glibc}): {version}{status}", spec.bin));
        }
        println!("{} runs on Debian {OLDER_SUITE} (glibc {glibc}): {}", spec.bin, status.trim());
    }
    Ok(())
}

/// The root's /etc/passwd and /etc/group with CloudStack's `cloud` user.
fn write_users(r: &Path, ids: (u32, u32)) -> Result<()> {
    let passwd =
        format!("root:x:0:0:root:/root:/bin/sh\ncloud:x:{}:{}::/var/lib/cloudstack/management:/bin/sh\n", ids.0, ids.1);
    std::fs::write(r.join("etc/passwd"), passwd).map_err(|e| e.to_string())?;
    std::fs::write(r.join("etc/group"), format!("root:x:0:\ncloud:x:{}:\n", ids.1)).map_err(|e| e.to_string())
}

/// The `cloud` user's ids, creating the user as CloudStack's packages do when absent.
fn cloud_ids() -> Result<(u32, u32)> {
    let lookup = || {
        run(Command::new("id").args(["-u", "cloud"])).map(|(ok, t)| ok.then(|| t.trim().parse::<u32>().ok()).flatten())
    };
    if lookup()?.is_none() {
        let (ok, text) = run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--user-group",
            "--shell",
            "/usr/sbin/nologin",
            "cloud",
        ]))?;
        if !ok {
            return Err(format!("cannot create the `cloud` user (run as root): {text}"));
        }
    }
    let uid = lookup()?.ok_or("no uid for `cloud`")?;
    let (_, gid) = run(Command::new("id").args(["-g", "cloud"]))?;
    Ok((uid, gid.trim().parse().map_err(|_| "no gid for `cloud`")?))
}

fn assert_installed(root_dir: &Path, spec: &Spec, ids: (u32, u32)) -> Result<PathBuf> {
    let link = root_dir.join("usr/share/cloudstack-management/extensions");
    if !std::fs::symlink_metadata(&link).map_err(|e| e.to_string())?.file_type().is_symlink() {
        return Err(format!("{}: the package replaced CloudStack's extensions symlink", link.display()));
    }
    let real = root_dir.join("etc/cloudstack/extensions").join(spec.name).join(spec.bin);
    let meta =
        std::fs::metadata(&real).map_err(|e| format!("{} not installed through the symlink: {e}", real.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode != 0o755 || (meta.uid(), meta.gid()) != ids {
        return Err(format!(
            "{}: mode {mode:o} owner {}:{}, expected 0755 cloud ({}:{})",
            real.display(),
            meta.uid(),
            meta.gid(),
            ids.0,
            ids.1
        ));
    }
    println!("installed {} 0755 cloud:cloud", real.display());
    Ok(real)
}

/// A `status` payload for `target` against its mock, started here (a local target keeps its
/// world in `state_file`); the server runs as long as the returned handle lives.
fn status_payload(target: &crate::targets::Target, state_file: &str) -> Result<(Option<Server>, serde_json::Value)> {
    let bin_dir = crate::util::root().join("target/release");
    let server = match target.mock {
        Mock::Local => None,
        Mock::Proxmox => Some(Server::start(&bin_dir.join("mock-proxmox"), &["--port", "0"])?),
        Mock::HypervWinrm => Some(Server::start(&bin_dir.join("mock-winrm"), &["--port", "0", "--hyperv"])?),
    };
    let remote = match &server {
        Some(s) => target.mock.url(&s.url),
        None => state_file.to_string(),
    };
    let mut p = (target.payload)(&remote, "i-2-1-VM");
    p["cloudstack.vm.details"]["details"] = serde_json::json!({});
    Ok((server, p))
}

/// The installed binary answers `--version` and a `status` against its mock (the table of
/// targets says which), and with `root` (a root whose scriptlets ran) its `doctor` passes the
/// install checks there.
fn answers(bin: &Path, spec: &Spec, root: Option<&Path>) -> Result<()> {
    let (ok, text) = run(Command::new(bin).arg("--version"))?;
    if !ok || !text.starts_with(spec.bin) {
        return Err(format!("{} --version: {text}", bin.display()));
    }
    let target = crate::targets::all().into_iter().find(|t| t.bin == spec.bin).ok_or("not in the table of targets")?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let payload = work.path().join("p.json");
    let (_server, p) = status_payload(&target, &work.path().join("s.json").display().to_string())?;
    std::fs::write(&payload, p.to_string()).map_err(|e| e.to_string())?;
    let (ok, text) = run(Command::new(bin).arg("status").arg(&payload).arg("30"))?;
    if !ok || !text.contains("\"power_state\":\"poweroff\"") {
        return Err(format!("{} status: {text}", bin.display()));
    }
    println!("{} answers: {}", bin.display(), text.trim());
    if let Some(root) = root {
        let (ok, text) = run(Command::new(bin).arg("doctor").arg(&payload).env("CSX_DOCTOR_ROOT", root))?;
        let install = ["ok    location:", "ok    mode: 0755", "ok    owner: cloud", "ok    log directory:"];
        if !ok || !install.iter().all(|l| text.contains(l)) {
            return Err(format!("{} doctor, installed:\n{text}", bin.display()));
        }
        println!("{} doctor: install, configuration, connection and objects pass", bin.display());
    }
    Ok(())
}

/// Checks the packages `built`; `rebuild` builds them again (the bytes must not change).
pub fn check(
    built: &[(Spec, PathBuf, PathBuf)],
    rebuild: impl FnOnce() -> Result<Vec<(Spec, PathBuf, PathBuf)>>,
) -> Result<()> {
    for t in ["lintian", "rpmlint", "rpm", "dpkg", "objdump"] {
        tool(t)?;
    }
    // Mocks for the `status` checks.
    crate::util::build_release(&["csx-mocks"])?;
    let ids = cloud_ids()?;
    for (spec, deb, rpm) in built {
        glibc_floor(spec)?;
        lint(deb, rpm)?;

        let r = scratch(&format!("{}-deb", spec.name))?;
        let (ok, text) = run(Command::new("dpkg")
            .arg(format!("--root={}", r.display()))
            .args(["--force-depends", "--force-script-chrootless", "--force-not-root", "-i"])
            .arg(deb))?;
        if !ok {
            return Err(format!("dpkg --root install of {} failed: {text}", deb.display()));
        }
        write_users(&r, ids)?;
        answers(&assert_installed(&r, spec, ids)?, spec, Some(&r))?;
        let _ = std::fs::remove_dir_all(&r);

        let r = scratch(&format!("{}-rpm", spec.name))?;
        write_users(&r, ids)?;
        // Scriptlets would run chrooted in a root without a shell: ownership comes from the package itself.
        let (ok, text) =
            run(Command::new("rpm").arg("--root").arg(&r).args(["--nodeps", "--noscripts", "-i"]).arg(rpm))?;
        if !ok {
            return Err(format!("rpm --root install of {} failed: {text}", rpm.display()));
        }
        answers(&assert_installed(&r, spec, ids)?, spec, None)?;
        let _ = std::fs::remove_dir_all(&r);
    }
    older_suite(built)?;
    // Reproducible: a second build gives the same bytes.
    let sums = |b: &[(Spec, PathBuf, PathBuf)]| -> Result<Vec<Vec<u8>>> {
        b.iter().flat_map(|(_, d, r)| [d, r]).map(|p| std::fs::read(p).map_err(|e| e.to_string())).collect()
    };
    let first = sums(built)?;
    let again = rebuild()?;
    if sums(&again)? != first {
        return Err("two package builds in a row differ".into());
    }
    println!("reproducible: a second build gave byte-identical packages");
    Ok(())
}
