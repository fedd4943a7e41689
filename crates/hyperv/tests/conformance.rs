//! The Hyper-V backend passes the shared conformance suite against the simulated
//! Hyper-V host behind the mock WinRM listener (plain HTTP, NTLM sealing).

use csx_core::Backend;
use csx_hyperv::HypervBackend;
use csx_mocks::hyperv::{HyperVHost, SWITCH, TEMPLATE};
use csx_mocks::winrm::{MockWinrm, PASSWORD, USER};
use csx_testkit::{conformance, Harness};
use serde_json::{json, Value};
use std::sync::Arc;

struct Hv {
    mock: MockWinrm,
    host: Arc<HyperVHost>,
    backend: HypervBackend,
}

fn payload(url: &str, name: &str) -> Value {
    json!({
        "externaldetails": {
            "host": {"url": url, "username": USER, "password": PASSWORD, "network_switch": SWITCH,
                     "vhd_path": "C:\\VMs\\Disks", "vm_path": "C:\\VMs"},
            "virtualmachine": {"template_type": "template", "template_path": TEMPLATE, "generation": "2"}
        },
        "virtualmachineid": format!("uuid-{name}"),
        "virtualmachinename": name,
        "cloudstack.vm.details": {"name": name, "uuid": format!("uuid-{name}"), "cpus": 2, "maxRam": 2147483648u64,
            "details": {}, "nics": [
                {"deviceId": 0, "uuid": "net-1", "nicUuid": "nic-1", "mac": "02:01:00:cc:00:01", "broadcastUri": "vlan://1577"},
                {"deviceId": 1, "uuid": "net-2", "nicUuid": "nic-2", "mac": "02:01:00:cc:00:02", "broadcastUri": "vlan://untagged"}]}
    })
}

#[csx_core::async_trait]
impl Harness for Hv {
    fn backend(&self) -> &dyn Backend {
        &self.backend
    }
    fn payload(&self, name: &str) -> Value {
        payload(&self.mock.url(), name)
    }
    async fn arm_create_failure(&self) -> bool {
        self.host.host().fail_starts = 1;
        true
    }
    async fn exists(&self, name: &str) -> bool {
        self.host.host().vms.iter().any(|v| v.name == name)
    }
    async fn plant_unmarked(&self, name: &str, running: bool) -> bool {
        self.host.plant(name, if running { "Running" } else { "Off" }, "");
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let host = Arc::new(HyperVHost::default());
    let mock = MockWinrm::start(host.clone(), None).await.unwrap();
    let p = csx_core::Payload::from_slice(payload(&mock.url(), "x").to_string().as_bytes()).unwrap();
    let backend = HypervBackend::from_payload(&p).unwrap();
    let h = Hv { mock, host, backend };
    conformance::run_all(&h).await;
    let host = h.host.host();
    assert!(host.vms.is_empty(), "{:?}", host.vms);
    assert_eq!(host.files.len(), 2, "only the template and the ISO are left: {:?}", host.files);
    assert_eq!(h.mock.state().open_shells(), 0);
}
