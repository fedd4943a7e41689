//! Logging to a file only (stdout carries the JSON answer; stderr is merged into it).
//!
//! Path: env `CSX_LOG`, else detail `log_file`, else `<DEFAULT_LOG_DIR>/<binary>.log`
//! when that directory exists and is writable, else no logging. `none` disables.
//! Level: env `CSX_LOG_LEVEL`, else detail `log_level`, else `info`.
//! Every line passes through [`csx_core::redact::scrub`].

use csx_core::Payload;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// Where CloudStack keeps its management-server logs; extensions log beside them.
pub const DEFAULT_LOG_DIR: &str = "/var/log/cloudstack/management/extensions";

struct Scrubbed(Mutex<File>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for &'static Scrubbed {
    type Writer = ScrubbedWriter;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedWriter(self, Vec::new())
    }
}

/// Buffers one event and writes it scrubbed, in one `write` to the file.
struct ScrubbedWriter(&'static Scrubbed, Vec<u8>);

impl Write for ScrubbedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.1.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedWriter {
    fn drop(&mut self) {
        if self.1.is_empty() {
            return;
        }
        let text = csx_core::redact::scrub(&String::from_utf8_lossy(&self.1));
        if let Ok(mut f) = self.0 .0.lock() {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

fn log_path(bin: &str, payload: Option<&Payload>) -> Option<PathBuf> {
    let chosen = std::env::var("CSX_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| payload.and_then(|p| p.detail(&csx_core::config::LOG_FILE)).map(str::to_string));
    match chosen {
        Some(p) if p.eq_ignore_ascii_case("none") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let dir = PathBuf::from(DEFAULT_LOG_DIR);
            dir.is_dir().then(|| dir.join(format!("{bin}.log")))
        }
    }
}

fn level(payload: Option<&Payload>) -> tracing::Level {
    let s = std::env::var("CSX_LOG_LEVEL")
        .ok()
        .or_else(|| payload.and_then(|p| p.detail(&csx_core::config::LOG_LEVEL)).map(str::to_string))
        .unwrap_or_default();
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "warn" | "warning" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    }
}

/// Installs the file logger for this process. Failure to open the file is not
/// an error: the action still runs, unlogged. Returns the path when logging.
pub fn init(bin: &str, payload: Option<&Payload>) -> Option<PathBuf> {
    let path = log_path(bin, payload)?;
    let file = OpenOptions::new().create(true).append(true).open(&path).ok()?;
    let sink: &'static Scrubbed = Box::leak(Box::new(Scrubbed(Mutex::new(file))));
    let subscriber = tracing_subscriber::fmt()
        .with_writer(sink)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(level(payload))
        .finish();
    tracing::subscriber::set_global_default(subscriber).ok()?;
    Some(path)
}
