//! csx-runner: the command line every extension binary shares —
//! `BIN <action> <payload-file> [<timeout-seconds>]`.
//!
//! It parses argv, reads and parses the payload, starts the scrubbed log file, builds the
//! backend, dispatches the action under a deadline (with a watchdog thread and a panic hook
//! as last resorts), and prints exactly one JSON document. Nothing is ever written to
//! stderr: CloudStack merges it into stdout. Only `bins/*` depend on this crate.

mod doctor;
pub mod log;

use csx_core::action::{dispatch, Action, STANDARD_ACTIONS};
use csx_core::config::{self, Key, RUNNER_KEYS};
use csx_core::{redact, Backend, CustomActionSpec, Error, Payload, Reply, Request, Result};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Default timeout when argv has none (CloudStack's global `wait`).
pub const DEFAULT_TIMEOUT_SECS: u64 = 1800;
/// The longest timeout accepted: a week. CloudStack's waits are minutes; a larger number is
/// a mistake, and one near 2^64 seconds would overflow the clock.
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Payloads are a few KiB; anything this large is the wrong file.
pub const MAX_PAYLOAD_BYTES: u64 = 1024 * 1024;

/// What a binary tells the runner about itself.
pub struct App<F> {
    /// Binary name (`proxmox`), used in help and the log file name.
    pub name: &'static str,
    pub version: &'static str,
    pub about: &'static str,
    /// Declared custom actions, listed in `--help` and matched case-insensitively.
    pub custom_actions: Vec<CustomActionSpec>,
    /// The adapter's configuration keys with their trust levels: listed in `--help`, and an
    /// operator key among the instance's details is refused before the backend is built.
    pub keys: &'static [Key],
    /// Builds the backend from the payload (reads configuration; no I/O needed).
    pub build: F,
}

/// The safety margin kept before CloudStack's SIGKILL: a tenth of the timeout,
/// at least 250 ms, at most 5 s.
pub fn safety_margin(timeout: Duration) -> Duration {
    (timeout / 10).clamp(Duration::from_millis(250), Duration::from_secs(5))
}

static EMITTED: Mutex<bool> = Mutex::new(false);

/// Prints the one document and exits. The first caller wins; any later caller
/// (watchdog, panic hook) blocks until the process is gone.
fn emit(reply: &Reply) -> ! {
    let mut done = EMITTED.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        *done = true;
        let reply = match reply {
            Reply::Failed(e) => Reply::Failed(Error::new(e.kind(), redact::scrub(e.message()))),
            other => other.clone(),
        };
        let (text, code) = reply.render();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
        std::process::exit(code);
    }
    drop(done);
    loop {
        std::thread::park();
    }
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!("panic: {msg}{place}");
        emit(&Reply::Failed(Error::internal(format!("internal error (a bug, please report it): {msg}{place}"))));
    }));
}

fn command(
    name: &'static str,
    version: &'static str,
    about: &'static str,
    custom: &[CustomActionSpec],
    keys: &[Key],
) -> clap::Command {
    let mut help = String::from("Actions:\n");
    for (n, d) in STANDARD_ACTIONS {
        help.push_str(&format!("  {n:<12} {d}\n"));
    }
    if !custom.is_empty() {
        help.push_str("\nCustom actions (names matched case-insensitively):\n");
        for c in custom {
            help.push_str(&format!("  {:<16} {}\n", c.name, c.description));
            for p in &c.params {
                let req = if p.required { "required" } else { "optional" };
                help.push_str(&format!("      {} ({}, {}) {}\n", p.name, p.kind.as_str(), req, p.description));
            }
        }
    }
    help.push('\n');
    help.push_str(&config::help(&[RUNNER_KEYS, keys]));
    help.push_str(
        "\nChecking an install by hand:\n  doctor <payload-file> [--json]  install, configuration, connection, authorization \
         and objects, as a checklist\n",
    );
    help.push_str(
        "\nOutput: exactly one JSON document on stdout; exit code 0 on success.\n\
         Logging: env CSX_LOG or detail log_file (path or `none`); env CSX_LOG_LEVEL or detail log_level.",
    );
    clap::Command::new(name)
        .version(version)
        .about(about)
        .disable_help_subcommand(true)
        .arg(
            clap::Arg::new("action")
                .required(true)
                .allow_hyphen_values(true)
                .help("action name, as CloudStack passes it"),
        )
        .arg(clap::Arg::new("payload").required(true).help("path of the JSON payload file"))
        .arg(clap::Arg::new("timeout").help("seconds before CloudStack kills the process [default: 1800]"))
        .after_help(help)
}

pub(crate) fn read_payload(path: &Path) -> Result<Payload> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::bad_input(format!("cannot read payload file {}: {}", path.display(), io_reason(&e))))?;
    let meta = file.metadata().map_err(|e| Error::bad_input(format!("cannot stat {}: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(Error::bad_input(format!("payload path {} is a directory, not a file", path.display())));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::bad_input(format!("cannot read payload file {}: {}", path.display(), io_reason(&e))))?;
    if bytes.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(Error::bad_input(format!(
            "payload file {} is larger than {} KiB; CloudStack payloads are a few KiB, so this is not one",
            path.display(),
            MAX_PAYLOAD_BYTES / 1024
        )));
    }
    Payload::from_slice(&bytes)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied (the extension runs as user `cloud`)".into(),
        _ => e.to_string(),
    }
}

fn parse_timeout(raw: Option<&String>) -> Result<Duration> {
    let Some(raw) = raw else {
        return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    };
    let shown: String = raw.chars().take(24).collect();
    let shown = if shown.len() < raw.len() { format!("{shown:?}…") } else { format!("{raw:?}") };
    let digits = !raw.trim().is_empty() && raw.trim().bytes().all(|b| b.is_ascii_digit());
    match raw.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_TIMEOUT_SECS).contains(&n) => Ok(Duration::from_secs(n)),
        _ if digits && !raw.trim().trim_start_matches('0').is_empty() => Err(Error::bad_input(format!(
            "timeout {shown} is more than the {MAX_TIMEOUT_SECS} seconds (a week) csx accepts"
        ))),
        _ => Err(Error::bad_input(format!("timeout must be a whole number of seconds above 0, found {shown}"))),
    }
}

/// The declared keys whose values are not secrets although their names look like it.
fn public_keys(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().filter(|k| k.public).map(|k| k.name).collect()
}

/// The binary's whole life: never returns, always prints one JSON document.
pub fn run<B, F>(app: App<F>) -> !
where
    B: Backend + 'static,
    F: FnOnce(&Payload) -> Result<B>,
{
    install_panic_hook();
    if std::env::args().nth(1).as_deref() == Some("doctor") {
        doctor::run(app.name, app.keys, app.build);
    }
    let started = std::time::Instant::now();
    let matches = match command(app.name, app.version, app.about, &app.custom_actions, app.keys).try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
                let _ = write!(std::io::stdout(), "{e}");
                std::process::exit(0);
            }
            // clap names the missing arguments on the lines after the first: keep them all.
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            let first = lines.join(" ");
            let first = first.trim_start_matches("error: ");
            let first = if first.is_empty() { "invalid arguments" } else { first };
            emit(&Reply::Failed(Error::bad_input(format!(
                "{first}; usage: {} <action> <payload-file> <timeout-seconds>",
                app.name
            ))));
        }
    };
    let action_name = matches.get_one::<String>("action").cloned().unwrap_or_default();
    let payload_path = matches.get_one::<String>("payload").cloned().unwrap_or_default();

    let timeout = parse_timeout(matches.get_one::<String>("timeout")).unwrap_or_else(|e| emit(&Reply::Failed(e)));
    let budget = timeout.saturating_sub(safety_margin(timeout));
    let deadline = tokio::time::Instant::now() + budget;
    // Last resort if the action blocks its thread: still answer before SIGKILL.
    let hard_stop = budget + (timeout - budget) / 2;
    let name = app.name;
    std::thread::spawn(move || {
        std::thread::sleep(hard_stop);
        emit(&Reply::Failed(Error::timeout(format!(
            "{name} did not finish within {}s of the {}s timeout and was stopped",
            hard_stop.as_secs_f32(),
            timeout.as_secs()
        ))));
    });

    let payload = read_payload(Path::new(&payload_path));
    if let Ok(p) = &payload {
        redact::register_payload_except(p, &public_keys(app.keys));
    }
    let log = log::init(app.name, payload.as_ref().ok());
    let payload = payload.unwrap_or_else(|e| {
        tracing::warn!(action = %action_name, payload = %payload_path, "rejected: {}", e.message());
        emit(&Reply::Failed(e))
    });
    let instance = payload.instance_name().unwrap_or("-").to_string();
    let action = Action::resolve(&action_name, &app.custom_actions).unwrap_or_else(|e| {
        tracing::warn!(action = %action_name, instance = %instance, "rejected: {}", e.message());
        emit(&Reply::Failed(e))
    });
    tracing::debug!(log = ?log, timeout_s = timeout.as_secs(), "invocation of {} {}", app.name, app.version);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| emit(&Reply::Failed(Error::internal(format!("cannot start the async runtime: {e}")))));
    let reply = runtime.block_on(async {
        config::refuse_misplaced(&payload, &[RUNNER_KEYS, app.keys])?;
        let backend = (app.build)(&payload)?;
        let req = Request::new(payload, deadline);
        match tokio::time::timeout_at(deadline, dispatch(&backend, &action, &req)).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(format!(
                "action `{action_name}` did not finish within {:.1}s (timeout {}s minus a safety margin); \
                 the hypervisor may still complete it",
                budget.as_secs_f32(),
                timeout.as_secs()
            ))),
        }
    });
    let reply = reply.unwrap_or_else(Reply::Failed);
    let ms = started.elapsed().as_millis();
    match &reply {
        Reply::Failed(e) => {
            tracing::warn!(action = %action_name, instance = %instance, ms, kind = e.kind().as_str(), "failed: {}", e.message())
        }
        _ => tracing::info!(action = %action_name, instance = %instance, ms, "succeeded"),
    }
    emit(&reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins() {
        assert_eq!(safety_margin(Duration::from_secs(1)), Duration::from_millis(250));
        assert_eq!(safety_margin(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(safety_margin(Duration::from_secs(1800)), Duration::from_secs(5));
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(None).unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_timeout(Some(&"30".to_string())).unwrap(), Duration::from_secs(30));
        assert!(parse_timeout(Some(&"0".to_string())).is_err());
        assert!(parse_timeout(Some(&"abc".to_string())).is_err());
        for huge in ["9223372036854775808", "18446744073709551615", "99999999999999999999999999", "604801"] {
            let e = parse_timeout(Some(&huge.to_string())).unwrap_err();
            assert!(e.message().contains("a week"), "{huge}: {}", e.message());
            assert!(e.message().len() < 120, "{}", e.message());
        }
        assert_eq!(parse_timeout(Some(&"604800".to_string())).unwrap(), Duration::from_secs(604800));
    }
}
