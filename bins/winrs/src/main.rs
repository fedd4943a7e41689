//! `winrs`: runs one command on a Windows host over WinRM and relays its output,
//! exiting with the remote exit code — an operator's check of the endpoint, the
//! credentials and the TLS settings the `hyperv` extension will use.
//!
//! The password comes from an environment variable, never from argv.

use clap::Parser;
use csx_tls::Trust;
use csx_winrm::{AuthMethod, Client, Endpoint, ErrorKind, Settings};
use std::io::Write;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "winrs",
    version,
    about = "Run a command on a Windows host over WinRM (NTLM or Basic; HTTPS, or HTTP with NTLM sealing)"
)]
struct Args {
    /// Host or URL: `hv01` means https://hv01:5986/wsman; `http://hv01:5985/wsman` uses NTLM sealing.
    #[arg(long)]
    endpoint: String,
    /// `DOMAIN\user`, `user@domain` or a local user.
    #[arg(long)]
    user: String,
    /// Environment variable holding the password.
    #[arg(long, default_value = "WINRM_PASSWORD")]
    password_env: String,
    /// `ntlm` (default) or `basic` (HTTPS only).
    #[arg(long, default_value = "ntlm", value_parser = ["ntlm", "basic"])]
    transport: String,
    /// Do not verify the server certificate.
    #[arg(long, conflicts_with_all = ["ca_file", "fingerprint"])]
    insecure: bool,
    /// Trust only the CAs in this PEM file.
    #[arg(long, conflicts_with = "fingerprint")]
    ca_file: Option<String>,
    /// Pin the server certificate's SHA-256 fingerprint.
    #[arg(long)]
    fingerprint: Option<String>,
    /// Run the words as one PowerShell script instead of a cmd.exe command.
    #[arg(long)]
    powershell: bool,
    /// Seconds before giving up.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn fail(msg: &str) -> ! {
    eprintln!("winrs: {msg}");
    std::process::exit(255);
}

fn main() {
    let args = Args::parse();
    let password = std::env::var(&args.password_env)
        .unwrap_or_else(|_| fail(&format!("set the password in the environment variable {}", args.password_env)));
    let endpoint = Endpoint::parse(&args.endpoint).unwrap_or_else(|e| fail(&format!("--endpoint: {e}")));
    let trust = if args.insecure {
        Trust::Insecure
    } else if let Some(fp) = &args.fingerprint {
        Trust::Fingerprint(csx_tls::parse_fingerprint(fp).unwrap_or_else(|e| fail(&format!("--fingerprint: {e}"))))
    } else if let Some(ca) = &args.ca_file {
        Trust::CaFile(ca.into())
    } else {
        Trust::System
    };
    let auth = if args.transport == "basic" { AuthMethod::Basic } else { AuthMethod::Ntlm };
    let settings = Settings { endpoint, user: args.user.clone(), password, auth, trust };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start the runtime: {e}")));
    let code = runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout.max(1));
        let mut client = Client::new(settings, deadline).unwrap_or_else(|e| fail(&explain(&e)));
        if args.powershell {
            let out = client.run_ps(&args.command.join(" ")).await.unwrap_or_else(|e| fail(&explain(&e)));
            relay(out.stdout.as_bytes(), out.stderr.as_bytes());
            out.exit_code
        } else {
            let (cmd, rest) = args.command.split_first().unwrap_or_else(|| fail("no command given"));
            let out = client.run_command(cmd, rest, None).await.unwrap_or_else(|e| fail(&explain(&e)));
            let stderr = csx_winrm::clixml::decode(&String::from_utf8_lossy(&out.stderr));
            relay(&out.stdout, stderr.as_bytes());
            out.exit_code
        }
    });
    std::process::exit(code);
}

/// The error in this tool's words: a certificate problem names the flags that settle it.
fn explain(e: &csx_winrm::Error) -> String {
    match e.kind() {
        ErrorKind::Certificate(_) => format!("{e} (use --ca-file, --fingerprint, or --insecure)"),
        _ => e.to_string(),
    }
}

fn relay(stdout: &[u8], stderr: &[u8]) {
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    if !stderr.is_empty() {
        let _ = std::io::stderr().write_all(stderr);
        if !stderr.ends_with(b"\n") {
            let _ = std::io::stderr().write_all(b"\n");
        }
    }
}
