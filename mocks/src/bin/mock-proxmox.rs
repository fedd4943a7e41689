//! `mock-proxmox --port 0 [--task-ms N] [--vms N] [--tls]`: the mock Proxmox VE server, standalone.
//! Prints `LISTENING <base-url>` as its first stdout line (with `--tls`, then
//! `FINGERPRINT <sha256>` and `CA_FILE <path>`), then serves until killed.
//! Credentials: token `root@pam!csx` with the secret in `csx_mocks::proxmox::TOKEN_SECRET`.

use csx_mocks::proxmox::{MockProxmox, State};
use std::io::Write;
use std::time::Duration;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: mock-proxmox [--port N] [--task-ms N] [--vms N] [--tls]\n\nNodes pve1 and pve2, template 9000 on pve1, token root@pam!csx={}", csx_mocks::proxmox::TOKEN_SECRET);
        return;
    }
    let port: u16 = arg(&args, "--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut state = State::new();
    state.task_duration = Duration::from_millis(arg(&args, "--task-ms").and_then(|p| p.parse().ok()).unwrap_or(0));
    let vms: u64 = arg(&args, "--vms").and_then(|p| p.parse().ok()).unwrap_or(0);
    for i in 0..vms {
        let name = format!("i-2-{}-VM", 1000 + i);
        state.insert_vm(10_000 + i, "pve1", false, i % 3 != 0, &[("name", &name), ("cores", "1"), ("memory", "512")]);
    }
    let listener = match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            println!("ERROR cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    if args.iter().any(|a| a == "--tls") {
        let mock = MockProxmox::start_with(state, None).await;
        let front = match csx_mocks::tls::TlsFront::start(mock.address(), Some(listener)).await {
            Ok(f) => f,
            Err(e) => {
                println!("ERROR cannot start TLS: {e}");
                std::process::exit(1);
            }
        };
        println!("LISTENING {}\nFINGERPRINT {}\nCA_FILE {}", front.url, front.fingerprint, front.ca_file.display());
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        return;
    }
    let mock = MockProxmox::start_with(state, Some(listener)).await;
    println!("LISTENING {}", mock.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
}
