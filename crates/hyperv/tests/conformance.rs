//! The Hyper-V backend passes the shared conformance suite against the simulated
//! Hyper-V host behind the mock WinRM listener (plain HTTP, NTLM sealing).

use csx_core::Backend;
use csx_hyperv::HypervBackend;
use csx_mocks::hyperv::HyperVHost;
use csx_mocks::winrm::MockWinrm;
use csx_testkit::Harness;
use serde_json::Value;
use std::sync::Arc;

struct Hv {
    mock: MockWinrm,
    host: Arc<HyperVHost>,
    backend: HypervBackend,
}

#[csx_core::async_trait]
impl Harness for Hv {
    fn keys(&self) -> &'static [csx_core::Key] {
        csx_hyperv::keys::KEYS
    }
    fn unsupported_clauses(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "unmarked_vms_adopted_only_by_internal_name",
            "a Hyper-V VM is always named after its instance's internal name: no detail names it otherwise",
        )]
    }
    fn backend(&self) -> &dyn Backend {
        &self.backend
    }
    fn payload(&self, name: &str) -> Value {
        csx_mocks::hyperv::payload(&self.mock.url(), name)
    }
    async fn arm_create_failure(&self) -> bool {
        self.host.host().fail_starts = 1;
        true
    }
    async fn exists(&self, name: &str) -> bool {
        self.host.host().vms.iter().any(|v| v.name == name)
    }
    async fn before_custom(&self, name: &str, action: &str) {
        if action == "GetIpAddresses" {
            self.host.report_guest_ips(
                name,
                &[(0, "10.1.1.20", "255.255.255.0"), (0, "fe80::5", "64"), (1, "fd00::20", "64")],
            );
        }
    }
    fn custom_params(&self, action: &str) -> Option<serde_json::Map<String, Value>> {
        let v = match action {
            "AddDisk" => serde_json::json!({"size_gb": 2, "storage": "C:\\VMs\\Disks"}),
            "ResizeDisk" => serde_json::json!({"disk": "SCSI0:1", "size_gb": 4}),
            "RemoveDisk" => serde_json::json!({"disk": "SCSI0:1"}),
            _ => return None,
        };
        v.as_object().cloned()
    }
    fn unsupported_actions(&self) -> Vec<&'static str> {
        vec!["Migrate"]
    }
    async fn plant_unmarked(&self, name: &str, running: bool) -> bool {
        self.host.plant(name, if running { "Running" } else { "Off" }, "");
        true
    }
}

impl Hv {
    async fn start() -> Hv {
        let host = Arc::new(HyperVHost::default());
        let mock = MockWinrm::start(host.clone(), None).await.unwrap();
        let p =
            csx_core::Payload::from_slice(csx_mocks::hyperv::payload(&mock.url(), "x").to_string().as_bytes()).unwrap();
        let backend = HypervBackend::from_payload(&p).unwrap();
        Hv { mock, host, backend }
    }
}

// Every clause with a host of its own; after each, no VM, no file but the template and the
// ISO, and no open shell is left.
csx_testkit::conformance_tests!(Hv::start().await, |h: &Hv| {
    let host = h.host.host();
    assert!(host.vms.is_empty(), "{:?}", host.vms);
    assert_eq!(host.files.len(), 2, "only the template and the ISO are left: {:?}", host.files);
    assert_eq!(h.mock.state().open_shells(), 0);
});
