//! `mock-winrm --port 0 [--user U --password P] [--tls] [--hyperv [--vms N]]`: the mock WinRM
//! listener, standalone; `--hyperv` plugs in the simulated Hyper-V host (with N extra VMs).
//! Prints `LISTENING <url>` as its first stdout line (with `--tls`, then
//! `FINGERPRINT <sha256>` and `CA_FILE <path>`), then serves until killed.

use csx_mocks::winrm::{Basic, MockWinrm, PASSWORD, USER};
use std::io::Write;
use std::sync::Arc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: mock-winrm [--port N] [--user U] [--password P] [--tls] [--hyperv [--vms N]]\n\ndefault credentials: {USER} / {PASSWORD}");
        return;
    }
    let port: u16 = arg(&args, "--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let tls = args.iter().any(|a| a == "--tls");
    let listener = match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            println!("ERROR cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let executor: Arc<dyn csx_mocks::winrm::Executor> = if args.iter().any(|a| a == "--hyperv") {
        let host = csx_mocks::hyperv::HyperVHost::default();
        let vms: usize = arg(&args, "--vms").and_then(|v| v.parse().ok()).unwrap_or(0);
        host.add_vms(vms);
        Arc::new(host)
    } else {
        Arc::new(Basic)
    };
    let (mock, front_listener) = if tls {
        (MockWinrm::start(executor, None).await, Some(listener))
    } else {
        (MockWinrm::start(executor, Some(listener)).await, None)
    };
    let mock = match mock {
        Ok(m) => m,
        Err(e) => {
            println!("ERROR {e}");
            std::process::exit(1);
        }
    };
    {
        let mut st = mock.state();
        if let Some(u) = arg(&args, "--user") {
            st.user = u;
        }
        if let Some(p) = arg(&args, "--password") {
            st.password = p;
        }
        st.require_sealing = !tls;
    }
    let _front = match front_listener {
        Some(l) => match csx_mocks::tls::TlsFront::start(mock.addr, Some(l)).await {
            Ok(f) => {
                println!("LISTENING {}/wsman\nFINGERPRINT {}\nCA_FILE {}", f.url, f.fingerprint, f.ca_file.display());
                Some(f)
            }
            Err(e) => {
                println!("ERROR cannot start TLS: {e}");
                std::process::exit(1);
            }
        },
        None => {
            println!("LISTENING {}", mock.url());
            None
        }
    };
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
}
