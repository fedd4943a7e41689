//! The extension binaries the automation knows, in one table. `demo`, `deadlines` and
//! `package` loop over it; `cargo xtask new-adapter` adds a row. (`bench` measures each
//! adapter's own performance targets and uses the mocks' payload builders.)

use serde_json::{json, Value};
use std::time::Duration;

/// The remote side a binary talks to in the demo and the deadline matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mock {
    /// None: the binary keeps its world locally (the payload builder gets a state file).
    Local,
    /// `mock-proxmox` (or `csx_mocks::proxmox::MockProxmox` in process).
    Proxmox,
    /// `mock-winrm --hyperv` (or `csx_mocks::winrm::MockWinrm` with a simulated Hyper-V host).
    HypervWinrm,
}

impl Mock {
    /// The URL a payload names for a listener at `base` (`http://127.0.0.1:PORT`).
    pub fn url(self, base: &str) -> String {
        match self {
            Mock::HypervWinrm => format!("{base}/wsman"),
            _ => base.to_string(),
        }
    }
}

/// How an extension is packaged.
#[derive(Debug, Clone)]
pub struct Packaging {
    /// Package and extension directory name, e.g. `csx-proxmox`.
    pub name: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// README shipped as documentation (relative to the workspace root).
    pub readme: &'static str,
    /// An example of the details an operator sets.
    pub details_example: &'static str,
    /// Built by `cargo xtask package` without `--with-fake`.
    pub by_default: bool,
}

/// A demo: its (action, fixture) steps, and how a fixture payload is pointed at the remote side.
pub type Demo = (fn() -> Vec<(&'static str, &'static str)>, fn(&mut Value, &str));

/// One extension binary.
pub struct Target {
    /// Binary name, e.g. `proxmox`.
    pub bin: &'static str,
    pub cargo_package: &'static str,
    pub mock: Mock,
    /// A `create`-shaped payload for instance `name` against the remote side at `url`
    /// (for [`Mock::Local`], a state file path).
    pub payload: fn(url: &str, name: &str) -> Value,
    /// Makes every action take `delay` (a local binary's "action that never ends").
    pub slow: Option<fn(&mut Value, Duration)>,
    /// The demo: (action, fixture) steps and how a fixture payload is pointed at the remote side.
    pub demo: Option<Demo>,
    pub packaging: Option<Packaging>,
}

/// The lifecycle every demo runs (action, fixture in `fixtures/payloads`).
pub const STEPS: &[(&str, &str)] = &[
    ("prepare", "prepare"),
    ("create", "create"),
    ("status", "status"),
    ("statuses", "statuses"),
    ("stop", "stop"),
    ("status", "status"),
    ("start", "start"),
    ("reboot", "reboot"),
    ("getconsole", "getconsole"),
    ("Suspend", "custom-ListSnapshots"),
    ("Resume", "custom-ListSnapshots"),
    ("AddDisk", "custom-AddDisk"),
    ("ListDisks", "custom-ListSnapshots"),
    ("CreateSnapshot", "custom-CreateSnapshot"),
    ("ListSnapshots", "custom-ListSnapshots"),
    ("RestoreSnapshot", "custom-RestoreSnapshot"),
    ("DeleteSnapshot", "custom-DeleteSnapshot"),
    ("GetIpAddresses", "custom-ListSnapshots"),
    ("Migrate", "custom-Migrate"),
    ("delete", "delete"),
];

fn fake_payload(state_file: &str, name: &str) -> Value {
    json!({"virtualmachinename": name, "virtualmachineid": format!("uuid-{name}"),
           "externaldetails": {"extension": {"state_file": state_file, "log_file": "none"}},
           "cloudstack.vm.details": {"name": name, "uuid": format!("uuid-{name}"), "details": {"deployvm": "true"}}})
}

fn fake_slow(p: &mut Value, delay: Duration) {
    p["externaldetails"]["extension"]["fake_delay_ms"] = json!(delay.as_millis() as u64);
}

fn proxmox_demo(p: &mut Value, url: &str) {
    let ext = csx_mocks::proxmox::payload(url, "x", None)["externaldetails"].clone();
    p["externaldetails"]["host"] = ext["host"].clone();
    p["externaldetails"]["extension"] = ext["extension"].clone();
    p["externaldetails"]["virtualmachine"] = ext["virtualmachine"].clone();
    if let Some(d) = p["cloudstack.vm.details"]["details"].as_object_mut() {
        d.remove("External:template_id");
    }
}

fn hyperv_steps() -> Vec<(&'static str, &'static str)> {
    // Hyper-V reserves nothing in advance (no `prepare`) and does not migrate (see its README).
    STEPS.iter().copied().filter(|(a, _)| !matches!(*a, "prepare" | "Migrate")).collect()
}

fn proxmox_steps() -> Vec<(&'static str, &'static str)> {
    // The standalone mock's VMs run no QEMU guest agent: GetIpAddresses is shown by the tests.
    STEPS.iter().copied().filter(|(a, _)| *a != "GetIpAddresses").collect()
}

fn hyperv_demo(p: &mut Value, url: &str) {
    let ext = csx_mocks::hyperv::payload(url, "x")["externaldetails"].clone();
    p["externaldetails"]["host"] = ext["host"].clone();
    // Hyper-V has no VNC: the console is an RDP gateway URL (Guacamole, say).
    p["externaldetails"]["host"]["console_url"] = json!("https://rdp-gateway.example.com/#/client/{vmid}?host={host}");
    p["externaldetails"]["extension"] = json!({});
    p["externaldetails"]["virtualmachine"] = ext["virtualmachine"].clone();
    // The built-in's parameter name for checkpoints.
    if let Some(name) = p["parameters"]["snap_name"].as_str().map(str::to_string) {
        p["parameters"] = json!({"snapshot_name": name});
    }
}

fn fake_demo(p: &mut Value, state_file: &str) {
    p["externaldetails"]["host"]["state_file"] = json!(state_file);
}

/// Every extension binary.
pub fn all() -> Vec<Target> {
    vec![
        Target {
            bin: "fake",
            cargo_package: "csx-bin-fake",
            mock: Mock::Local,
            payload: fake_payload,
            slow: Some(fake_slow),
            demo: Some((|| STEPS.to_vec(), fake_demo)),
            packaging: Some(Packaging {
                name: "csx-fake",
                summary: "Fake orchestrator extension for trying Apache CloudStack's extension framework",
                description: "Keeps instances in a local state file, so the whole extension\nflow works without a hypervisor.",
                readme: "README.md",
                details_example:
                    "{\n  \"extension\": {\"state_file\": \"/var/lib/cloudstack/management/csx-fake-state.json\"}\n}\n",
                by_default: false,
            }),
        },
        Target {
            bin: "proxmox",
            cargo_package: "csx-bin-proxmox",
            mock: Mock::Proxmox,
            payload: |url, name| csx_mocks::proxmox::payload(url, name, None),
            slow: None,
            demo: Some((proxmox_steps, proxmox_demo)),
            packaging: Some(Packaging {
                name: "csx-proxmox",
                summary: "Proxmox VE orchestrator extension for Apache CloudStack",
                description: "A drop-in successor to CloudStack's built-in Proxmox extension: the\nsame configuration keys and custom actions, without its VMID races,\nunsafe cleanup or one-second task polling.",
                readme: "bins/proxmox/README.md",
                details_example: "{\n  \"host\": {\"url\": \"pve1.example.com\", \"node\": \"pve1\", \"network_bridge\": \"vmbr0\", \"tls_fingerprint\": \"AA:BB:...\"},\n  \"extension\": {\"user\": \"root@pam\", \"token\": \"cloudstack\", \"secret\": \"<token secret>\"},\n  \"template\": {\"template_type\": \"template\", \"template_id\": \"9000\", \"is_full_clone\": \"false\"}\n}\n",
                by_default: true,
            }),
        },
        Target {
            bin: "hyperv",
            cargo_package: "csx-bin-hyperv",
            mock: Mock::HypervWinrm,
            payload: csx_mocks::hyperv::payload,
            slow: None,
            demo: Some((hyperv_steps, hyperv_demo)),
            packaging: Some(Packaging {
                name: "csx-hyperv",
                summary: "Hyper-V orchestrator extension for Apache CloudStack",
                description: "Runs every action as one PowerShell script over one WinRM\nconnection (HTTPS, or HTTP with NTLM sealing), passing all inputs\nas data.",
                readme: "bins/hyperv/README.md",
                details_example: "{\n  \"host\": {\"url\": \"hv01.example.com\", \"username\": \"HV01\\\\Administrator\", \"password\": \"<password>\",\n           \"network_switch\": \"External\", \"vhd_path\": \"D:\\\\VMs\\\\Disks\", \"vm_path\": \"D:\\\\VMs\"},\n  \"template\": {\"template_type\": \"template\", \"generation\": \"2\", \"template_path\": \"D:\\\\Templates\\\\ubuntu.vhdx\"}\n}\n",
                by_default: true,
            }),
        },
        // cargo xtask new-adapter adds rows above this line.
    ]
}

/// The cargo packages of every target (what the release build must contain).
pub fn cargo_packages() -> Vec<&'static str> {
    all().iter().map(|t| t.cargo_package).collect()
}
