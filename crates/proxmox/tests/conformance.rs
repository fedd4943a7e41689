//! The Proxmox backend passes the shared conformance suite against the mock Proxmox VE.

use csx_core::Backend;
use csx_mocks::proxmox::{FaultKind, MockProxmox, TOKEN_SECRET};
use csx_proxmox::ProxmoxBackend;
use csx_testkit::{conformance, Harness};
use serde_json::{json, Value};
use std::time::Duration;

struct Pve {
    mock: MockProxmox,
    backend: ProxmoxBackend,
}

fn payload(url: &str, name: &str) -> Value {
    json!({
        "externaldetails": {
            "host": {"url": url, "node": "pve1", "network_bridge": "vmbr0"},
            "extension": {"user": "root@pam", "token": "csx", "secret": TOKEN_SECRET},
            "virtualmachine": {"template_type": "template", "template_id": "9000"}
        },
        "virtualmachineid": format!("uuid-{name}"),
        "virtualmachinename": name,
        "cloudstack.vm.details": {"name": name, "uuid": format!("uuid-{name}"), "cpus": 2, "maxRam": 2147483648u64,
            "details": {}, "nics": [
                {"deviceId": 1, "uuid": "net-2", "nicUuid": "nic-2", "mac": "02:01:00:cc:00:02", "broadcastUri": "vlan://untagged"},
                {"deviceId": 0, "uuid": "net-1", "nicUuid": "nic-1", "mac": "02:01:00:cc:00:01", "broadcastUri": "vlan://1577"}]}
    })
}

impl Pve {
    async fn start() -> Pve {
        let mock = MockProxmox::start().await;
        mock.set_task_duration(Duration::from_millis(30));
        let p = csx_core::Payload::from_slice(payload(&mock.url(), "x").to_string().as_bytes()).unwrap();
        let backend = ProxmoxBackend::from_payload(&p).unwrap();
        Pve { mock, backend }
    }
}

#[csx_core::async_trait]
impl Harness for Pve {
    fn backend(&self) -> &dyn Backend {
        &self.backend
    }
    fn payload(&self, name: &str) -> Value {
        payload(&self.mock.url(), name)
    }
    async fn arm_create_failure(&self) -> bool {
        self.mock.inject(
            Some("POST"),
            "qmstart",
            FaultKind::TaskError("start failed: QEMU exited with code 1".into()),
            1,
        );
        true
    }
    async fn exists(&self, name: &str) -> bool {
        self.mock.has_vm_named(name)
    }
    fn rename(&self, payload: &mut Value, vm_name: &str) -> bool {
        payload["externaldetails"]["virtualmachine"]["vm_name"] = json!(vm_name);
        true
    }
    async fn plant_unmarked(&self, name: &str, running: bool) -> bool {
        let mut st = self.mock.state();
        let id = st.next_free();
        st.insert_vm(id, "pve1", false, running, &[("name", name), ("cores", "1"), ("memory", "512")]);
        true
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let h = Pve::start().await;
    conformance::run_all(&h).await;
    // The template was never touched, and every VM the suite made is gone.
    let st = h.mock.state();
    assert_eq!(st.vms.len(), 1, "{:?}", st.vms.keys().collect::<Vec<_>>());
    assert!(st.vms.contains_key(&9000));
}
