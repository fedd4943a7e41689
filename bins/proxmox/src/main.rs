//! `proxmox`: the csx Proxmox VE orchestrator extension.

fn main() {
    csx_runner::run(csx_runner::App {
        name: "proxmox",
        version: env!("CARGO_PKG_VERSION"),
        about: "csx Proxmox VE orchestrator extension for Apache CloudStack",
        custom_actions: csx_proxmox::custom_actions(),
        keys: csx_proxmox::keys::KEYS,
        build: csx_proxmox::ProxmoxBackend::from_payload,
    })
}
