//! Runs an extension binary as CloudStack does and checks the output contract:
//! one JSON document on stdout, nothing on stderr, exit code matching the
//! document's `status`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One finished invocation.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// stdout parsed as exactly one JSON document.
    pub json: Value,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts exit 0 and `"status":"success"` (or a bare prepare patch).
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success, got exit {}: {}", self.code, self.stdout);
        assert_ne!(self.json["status"], "error", "exit 0 with an error document: {}", self.stdout);
        self
    }

    /// Asserts a non-zero exit with an error document of the given kind.
    #[track_caller]
    pub fn assert_err(&self, kind: &str) -> &Self {
        assert_ne!(self.code, 0, "expected failure, got exit 0: {}", self.stdout);
        assert_eq!(self.json["status"], "error", "{}", self.stdout);
        assert_eq!(self.json["error_kind"], kind, "{}", self.stdout);
        assert!(self.error().len() > 10, "error message too terse to act on: {}", self.stdout);
        self
    }

    /// The error message ("" on success).
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
}

/// Runs `bin action payload_path timeout` with no stdin, as CloudStack does,
/// and checks the contract that holds for every invocation.
#[track_caller]
pub fn run_binary_path(bin: &Path, action: &str, payload: &Path, timeout: u64, env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.arg(action).arg(payload).arg(timeout.to_string()).stdin(Stdio::null());
    cmd.env("CSX_LOG", "none");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let elapsed = started.elapsed();
    let stdout = String::from_utf8(out.stdout).expect("stdout must be UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(stderr.is_empty(), "stderr must stay empty (CloudStack merges it into stdout), got: {stderr}");
    assert!(stdout.is_ascii(), "stdout must be ASCII: {stdout}");
    assert!(stdout.len() < 64 * 1024, "stdout must stay under the pipe buffer: {} bytes", stdout.len());
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout must be exactly one JSON document ({e}): {stdout:?}"));
    assert!(json.is_object(), "stdout must be a JSON object: {stdout}");
    assert!(!stdout.contains("panicked"), "a panic leaked: {stdout}");
    assert_eq!(code == 0, json["status"] != "error", "exit code {code} disagrees with the document: {stdout}");
    Run { code, stdout, stderr, json, elapsed }
}

/// Like [`run_binary_path`], writing `payload` to a temporary file first.
#[track_caller]
pub fn run_binary(bin: &Path, action: &str, payload: &Value, timeout: u64, env: &[(&str, &str)]) -> Run {
    let file = tempfile::Builder::new().suffix(".json").tempfile().expect("temp payload");
    std::fs::write(file.path(), serde_json::to_vec(payload).expect("payload JSON")).expect("write payload");
    run_binary_path(bin, action, file.path(), timeout, env)
}

/// Runs `bin doctor <payload> [--json]` as an operator does by hand; returns the exit code and
/// stdout (a checklist, or one JSON document with `--json`). Nothing may go to stderr.
#[track_caller]
pub fn run_doctor(bin: &Path, payload: &Value, json: bool, env: &[(&str, &str)]) -> (i32, String) {
    let file = tempfile::Builder::new().suffix(".json").tempfile().expect("temp payload");
    std::fs::write(file.path(), serde_json::to_vec(payload).expect("payload JSON")).expect("write payload");
    let mut cmd = Command::new(bin);
    cmd.arg("doctor").arg(file.path()).stdin(Stdio::null()).env("CSX_LOG", "none");
    if json {
        cmd.arg("--json");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(out.stderr.is_empty(), "doctor wrote to stderr: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).expect("stdout must be UTF-8"))
}
