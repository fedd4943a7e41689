//! A stateful mock of the Proxmox VE API on loopback (wiremock), strict like the
//! real thing: every request is authenticated and validated against Proxmox's own
//! schema, and the handlers reproduce Proxmox's behaviour and error texts.

mod disks;
mod handlers;
mod power;
pub mod schema;
mod state;
mod tags;

pub use state::{
    Auth, Effect, Fault, FaultKind, Node, Snap, State, Task, Vm, ALL_PRIVILEGES, PASSWORD, PASSWORD_USER, TEMPLATE_ID,
    TOKEN_ID, TOKEN_SECRET,
};

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A running mock Proxmox VE cluster.
pub struct MockProxmox {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Handler(Arc<Mutex<State>>);

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        handlers::handle(&mut state, request)
    }
}

impl MockProxmox {
    /// Starts on a random loopback port with the default cluster ([`State::new`]).
    pub async fn start() -> Self {
        Self::start_with(State::new(), None).await
    }

    /// Starts with the given state, on `listener` when given.
    pub async fn start_with(state: State, listener: Option<std::net::TcpListener>) -> Self {
        let builder = MockServer::builder();
        let server = match listener {
            Some(l) => builder.listener(l).start().await,
            None => builder.start().await,
        };
        let state = Arc::new(Mutex::new(state));
        Mock::given(wiremock::matchers::any()).respond_with(Handler(state.clone())).mount(&server).await;
        MockProxmox { server, state }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (the API is under `/api2/json`).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The plain-HTTP address, for a [`crate::tls::TlsFront`].
    pub fn address(&self) -> std::net::SocketAddr {
        *self.server.address()
    }

    /// Locks the state for inspection or changes.
    pub fn state(&self) -> MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.advance();
        s
    }

    /// Makes every task take this long.
    pub fn set_task_duration(&self, d: Duration) {
        self.state().task_duration = d;
    }

    /// Injects a fault into the next `times` matching requests.
    pub fn inject(&self, method: Option<&str>, path_contains: &str, kind: FaultKind, times: usize) {
        self.state().faults.push(Fault {
            method: method.map(str::to_string),
            path_contains: path_contains.into(),
            kind,
            times,
        });
    }

    /// The requests received so far (`METHOD /path`), and clears the log.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.state().requests)
    }

    /// True when a VM (not a template) with this name exists anywhere in the cluster.
    pub fn has_vm_named(&self, name: &str) -> bool {
        self.state().vms.values().any(|v| !v.template && v.name() == name)
    }
}

/// A `create`-shaped payload, as CloudStack writes it, for instance `name` on this mock at
/// `url` (node `pve1`, bridge `vmbr0`, the token, template 9000; two NICs, one on VLAN 1577,
/// one untagged), with `proxmox_vmid` when `prepare` reserved one. The one payload the
/// conformance test, the process tests, the demo, the deadline matrix and the benchmarks use.
pub fn payload(url: &str, name: &str, vmid: Option<&str>) -> serde_json::Value {
    let mut details = serde_json::json!({});
    if let Some(id) = vmid {
        details["proxmox_vmid"] = serde_json::json!(id);
    }
    serde_json::json!({
        "caller": {"name": "admin", "roletype": "Admin"},
        "externaldetails": {
            "host": {"url": url, "node": "pve1", "network_bridge": "vmbr0", "log_file": "none",
                "allow_plain_http": "true"},
            "extension": {"user": "root@pam", "token": "csx", "secret": TOKEN_SECRET},
            "virtualmachine": {"template_type": "template", "template_id": TEMPLATE_ID.to_string()}
        },
        "virtualmachineid": format!("uuid-{name}"),
        "virtualmachinename": name,
        "cloudstack.vm.details": {"name": name, "uuid": format!("uuid-{name}"), "cpus": 2, "maxRam": 1073741824u64,
            "vncPassword": "Vnc-Secret-4711", "details": details, "nics": [
                {"deviceId": 0, "uuid": "net-1", "nicUuid": "nic-1", "mac": "02:01:00:cc:00:01", "broadcastUri": "vlan://1577"},
                {"deviceId": 1, "uuid": "net-2", "nicUuid": "nic-2", "mac": "02:01:00:cc:00:02", "broadcastUri": "vlan://untagged"}]}
    })
}
