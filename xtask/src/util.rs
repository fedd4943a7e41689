//! Helpers shared by the xtask commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, String>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `cargo build --release` of the named packages; returns `target/release`.
pub fn build_release(packages: &[&str]) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root()).args(["build", "--release", "--quiet"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build --release failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root().join("target"));
    Ok(target.join("release"))
}

/// The newest glibc a packaged binary may need: EL8's (RHEL, Rocky, Alma, Oracle Linux 8),
/// the oldest management server CloudStack supports. Debian 12 (where csx is built) has 2.36.
pub const GLIBC_FLOOR: (u32, u32) = (2, 28);

/// Builds the packaged binaries linked against [`GLIBC_FLOOR`]: `cargo zigbuild` links with
/// zig against the glibc version named in the target (`x86_64-unknown-linux-gnu.2.28`), the
/// one Rust target this toolchain has. Returns the directory holding the binaries.
pub fn build_packaged(packages: &[&str]) -> Result<PathBuf> {
    let target = format!("x86_64-unknown-linux-gnu.{}.{}", GLIBC_FLOOR.0, GLIBC_FLOOR.1);
    let mut cmd = Command::new("cargo-zigbuild");
    cmd.current_dir(root()).args(["zigbuild", "--release", "--quiet", "--target", &target]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo-zigbuild ({e}): `pip install ziglang cargo-zigbuild` (.ci/run does)"))?;
    if !status.success() {
        return Err(format!("cargo zigbuild --target {target} failed"));
    }
    let dir = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root().join("target"));
    Ok(dir.join("x86_64-unknown-linux-gnu/release"))
}

/// One measured process run.
pub struct Measured {
    pub code: i32,
    pub stdout: String,
    pub wall: Duration,
    /// Peak resident set size in KiB.
    pub max_rss_kib: i64,
}

/// Runs a command to completion, measuring wall time and peak RSS (wait4).
pub fn measure(cmd: &mut Command) -> Result<Measured> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut stdout);
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if r != pid {
        return Err("wait4 failed".into());
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok(Measured { code, stdout, wall, max_rss_kib: usage.ru_maxrss })
}

/// Median of durations (sorts in place).
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Replaces the text between `<!-- bench:KEY -->` and `<!-- /bench:KEY -->` in BENCHMARKS.md.
pub fn write_section(key: &str, body: &str) -> Result<()> {
    write_section_in(std::path::Path::new("BENCHMARKS.md"), key, body)
}

/// Replaces the text between `<!-- bench:KEY -->` and `<!-- /bench:KEY -->` in `file` (from the root).
pub fn write_section_in(file: &std::path::Path, key: &str, body: &str) -> Result<()> {
    let path = root().join(file);
    let name = file.display();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {name}: {e}"))?;
    let (open, close) = (format!("<!-- bench:{key} -->"), format!("<!-- /bench:{key} -->"));
    let (Some(a), Some(b)) = (text.find(&open), text.find(&close)) else {
        return Err(format!("{name} has no {open} ... {close} section"));
    };
    let new = format!("{}{open}\n{body}\n{}", &text[..a], &text[b..]);
    std::fs::write(&path, new).map_err(|e| format!("write {name}: {e}"))
}

/// The host's description for benchmark tables.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} cores, {model}")
}
