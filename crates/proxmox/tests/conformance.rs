//! The Proxmox backend passes the shared conformance suite against the mock Proxmox VE.

use csx_core::Backend;
use csx_mocks::proxmox::{FaultKind, MockProxmox};
use csx_proxmox::ProxmoxBackend;
use csx_testkit::Harness;
use serde_json::{json, Value};
use std::time::Duration;

struct Pve {
    mock: MockProxmox,
    backend: ProxmoxBackend,
}

impl Pve {
    async fn start() -> Pve {
        let mock = MockProxmox::start().await;
        mock.set_task_duration(Duration::from_millis(30));
        let p =
            csx_core::Payload::from_slice(csx_mocks::proxmox::payload(&mock.url(), "x", None).to_string().as_bytes())
                .unwrap();
        let backend = ProxmoxBackend::from_payload(&p).unwrap();
        Pve { mock, backend }
    }
}

#[csx_core::async_trait]
impl Harness for Pve {
    fn keys(&self) -> &'static [csx_core::Key] {
        csx_proxmox::keys::KEYS
    }
    fn backend(&self) -> &dyn Backend {
        &self.backend
    }
    fn payload(&self, name: &str) -> Value {
        csx_mocks::proxmox::payload(&self.mock.url(), name, None)
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
    fn custom_params(&self, action: &str) -> Option<serde_json::Map<String, Value>> {
        let v = match action {
            "Migrate" => json!({"target_node": "pve2"}),
            "AddDisk" => json!({"size_gb": 2, "storage": "local-lvm"}),
            "ResizeDisk" => json!({"disk": "scsi1", "size_gb": 4}),
            "RemoveDisk" => json!({"disk": "scsi1"}),
            _ => return None,
        };
        v.as_object().cloned()
    }
    async fn before_custom(&self, name: &str, action: &str) {
        if action == "GetIpAddresses" {
            let mut st = self.mock.state();
            for vm in st.vms.values_mut().filter(|v| v.name() == name) {
                vm.config.insert("agent".into(), "1".into());
                vm.agent_running = true;
            }
        }
    }
    async fn plant_unmarked(&self, name: &str, running: bool) -> bool {
        let mut st = self.mock.state();
        let id = st.next_free();
        st.insert_vm(id, "pve1", false, running, &[("name", name), ("cores", "1"), ("memory", "512")]);
        true
    }
}

// Every clause with a mock of its own; after each, the template was never touched and every
// VM the clause made is gone.
csx_testkit::conformance_tests!(Pve::start().await, |h: &Pve| {
    let st = h.mock.state();
    assert_eq!(st.vms.len(), 1, "{:?}", st.vms.keys().collect::<Vec<_>>());
    assert!(st.vms.contains_key(&9000));
});
