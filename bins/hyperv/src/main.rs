//! `hyperv`: the csx Hyper-V orchestrator extension (PowerShell over WinRM).

fn main() {
    csx_runner::run(csx_runner::App {
        name: "hyperv",
        version: env!("CARGO_PKG_VERSION"),
        about: "csx Hyper-V orchestrator extension for Apache CloudStack (WinRM, one PowerShell script per action)",
        custom_actions: csx_hyperv::custom_actions(),
        keys: csx_hyperv::keys::KEYS,
        build: csx_hyperv::HypervBackend::from_payload,
    })
}
