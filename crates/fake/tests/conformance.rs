//! The fake backend passes the shared conformance suite, in memory and on a state file.

use csx_core::Backend;
use csx_fake::{FakeBackend, Store};
use csx_testkit::Harness;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};

struct Fake {
    backend: FakeBackend,
    fail_next: AtomicBool,
}

#[csx_core::async_trait]
impl Harness for Fake {
    fn keys(&self) -> &'static [csx_core::Key] {
        csx_fake::KEYS
    }
    fn unsupported_clauses(&self) -> Vec<(&'static str, &'static str)> {
        unsupported_clauses()
    }
    fn backend(&self) -> &dyn Backend {
        &self.backend
    }
    fn payload(&self, name: &str) -> Value {
        let fail = if self.fail_next.swap(false, Ordering::SeqCst) { "create" } else { "" };
        json!({
            "externaldetails": {"host": {"fake_fail": fail}},
            "virtualmachineid": format!("uuid-{name}"),
            "virtualmachinename": name,
            "cloudstack.vm.details": {"name": name, "uuid": format!("uuid-{name}"), "cpus": 2, "maxRam": 1073741824u64,
                "details": {}, "nics": [{"deviceId": 0, "uuid": "net-1", "nicUuid": "nic-1", "mac": "02:00:00:00:00:01",
                "broadcastUri": "vlan://100", "ip": "10.1.1.10", "netmask": "255.255.255.0", "ip6address": "fd00::10"}]}
        })
    }
    async fn arm_create_failure(&self) -> bool {
        self.fail_next.store(true, Ordering::SeqCst);
        true
    }
    async fn exists(&self, name: &str) -> bool {
        self.backend.world().await.unwrap().instances.contains_key(name)
    }
    fn custom_params(&self, action: &str) -> Option<serde_json::Map<String, Value>> {
        let v = match action {
            "Migrate" => json!({"target_node": "node-b"}),
            "AddDisk" => json!({"size_gb": 2}),
            "ResizeDisk" => json!({"disk": "disk1", "size_gb": 4}),
            "RemoveDisk" => json!({"disk": "disk1"}),
            _ => return None,
        };
        v.as_object().cloned()
    }
    async fn plant_unmarked(&self, name: &str, running: bool) -> bool {
        let name = name.to_string();
        self.backend
            .store()
            .update(move |w| {
                let inst = csx_fake::Instance {
                    id: 999,
                    owner: None,
                    installation: None,
                    running,
                    cpus: 1,
                    ram_mib: 512,
                    nics: vec![],
                    snapshots: vec![],
                    paused: false,
                    node: None,
                    disks: vec![],
                };
                w.instances.insert(name, inst);
                Ok(())
            })
            .await
            .unwrap();
        true
    }
}

fn unsupported_clauses() -> Vec<(&'static str, &'static str)> {
    vec![(
        "unmarked_vms_adopted_only_by_internal_name",
        "the fake keys every instance by its internal name: no detail names it otherwise",
    )]
}

/// The suite on an in-memory world.
mod in_memory {
    use super::*;
    csx_testkit::conformance_tests!(Fake { backend: FakeBackend::in_memory(), fail_next: AtomicBool::new(false) });
}

/// The suite on a state file, as the binary keeps it.
mod state_file {
    use super::*;
    csx_testkit::conformance_tests!(Fake {
        backend: FakeBackend::new(Store::file(tempfile::tempdir().unwrap().keep().join("state.json"))),
        fail_next: AtomicBool::new(false),
    });
}
