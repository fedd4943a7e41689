//! The `proxmox` binary, run as a process exactly as CloudStack runs it, against the mock Proxmox VE.

use csx_mocks::faults::{Cut, FaultProxy};
use csx_mocks::proxmox::{FaultKind, MockProxmox, PASSWORD, PASSWORD_USER, TOKEN_SECRET};
use csx_testkit::run_binary;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

mod common;

use common::{deploy, run, BIN};
use csx_mocks::proxmox::payload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_through_the_binary() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(20));
    let url = mock.url();
    let vmid = deploy(&url, "i-2-10-VM");
    let p = payload(&url, "i-2-10-VM", Some(&vmid));
    {
        let st = mock.state();
        let vm = &st.vms[&vmid.parse::<u64>().unwrap()];
        assert!(vm.running);
        assert_eq!(vm.config["cores"], "2");
        assert_eq!(vm.config["memory"], "1024");
        assert_eq!(vm.config["net0"], "virtio=02:01:00:cc:00:01,bridge=vmbr0,tag=1577,firewall=0");
        assert_eq!(vm.config["net1"], "virtio=02:01:00:cc:00:02,bridge=vmbr0,firewall=0", "untagged: no tag");
        assert!(vm.config["description"].contains("cloudstack-instance-uuid=uuid-i-2-10-VM"));
        assert!(!vm.config.contains_key("storage"));
    }

    mock.take_requests();
    let r = run("status", &p);
    assert_eq!(r.json["power_state"], "poweron");
    assert_eq!(mock.take_requests().len(), 1, "status with a known VMID is one request");

    let r = run("statuses", &p);
    assert_eq!(r.json["power_state"], json!({"i-2-10-VM": "poweron"}), "templates are not reported");

    let r = run("getconsole", &p);
    r.assert_ok();
    assert_eq!(r.json["console"]["host"], "10.0.0.11", "cluster address, not the storage network");
    assert_eq!(r.json["console"]["protocol"], "vnc");
    assert!(r.json["console"]["port"].as_str().unwrap().starts_with("59"));
    assert_eq!(r.json["console"]["password"].as_str().unwrap().len(), 8);
    let mut pc = p.clone();
    pc["externaldetails"]["host"]["console_host"] = json!("console.pve1.example.com");
    assert_eq!(run("getconsole", &pc).json["console"]["host"], "console.pve1.example.com");

    for (action, params) in [
        ("CreateSnapshot", json!({"snap_name": "pre-upgrade", "snap_description": "before", "snap_save_memory": true})),
        ("listsnapshots", json!(null)),
        ("Restore Snapshot", json!({"snap_name": "pre-upgrade"})),
        ("DeleteSnapshot", json!({"snap_name": "pre-upgrade"})),
    ] {
        let mut pa = p.clone();
        pa["action"] = json!(action);
        if !params.is_null() {
            pa["parameters"] = params;
        }
        let r = run(action, &pa);
        r.assert_ok();
        if action == "listsnapshots" {
            assert_eq!(r.json["printmessage"], "true");
            let rows = r.json["message"].as_array().unwrap();
            assert_eq!(rows.len(), 1, "the `current` pseudo-snapshot is hidden: {rows:?}");
            assert_eq!(rows[0]["name"], "pre-upgrade");
            assert_eq!(rows[0]["vmstate"], "yes");
            assert!(rows[0]["snaptime"].as_str().unwrap().ends_with("UTC"));
        }
    }
    let mut bad = p.clone();
    bad["parameters"] = json!({"snap_name": "x$(reboot)"});
    run("CreateSnapshot", &bad).assert_err("bad_input");

    run("stop", &p).assert_ok();
    assert_eq!(run("status", &p).json["power_state"], "poweroff");
    run("stop", &p).assert_ok();
    run("reboot", &p).assert_ok();
    assert_eq!(run("status", &p).json["power_state"], "poweron", "reboot of a stopped VM starts it");
    run("start", &p).assert_ok();
    run("reboot", &p).assert_ok();
    run("delete", &p).assert_ok();
    assert!(!mock.has_vm_named("i-2-10-VM"));
    run("delete", &p).assert_ok();
    run("stop", &p).assert_ok();
    assert_eq!(run("status", &p).json["power_state"], "poweroff");
    run("start", &p).assert_err("not_found");
    assert_eq!(mock.state().vms.len(), 1, "only the template is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deploys_never_touch_a_vm_they_did_not_make() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(50));
    mock.state().insert_vm(100, "pve1", false, true, &[("name", "someone-elses-vm"), ("cores", "4")]);
    let url = mock.url();
    // Every prepare runs before any create: they all reserve the same VMID, as in the built-in's race.
    let reserved: Vec<String> = (0..32)
        .map(|i| {
            run("prepare", &payload(&url, &format!("i-2-{}-VM", 100 + i), None)).json["details"]["proxmox_vmid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(reserved.iter().all(|id| id == "101"));
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let mut p = payload(&url, &format!("i-2-{}-VM", 100 + i), Some(&reserved[i]));
            p["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
            std::thread::spawn(move || run_binary(Path::new(BIN), "create", &p, 60, &[]))
        })
        .collect();
    for t in threads {
        t.join().unwrap().assert_ok();
    }
    let st = mock.state();
    let ours: Vec<_> = st.vms.values().filter(|v| v.name().starts_with("i-2-")).collect();
    assert_eq!(ours.len(), 32);
    assert!(ours.iter().all(|v| v.running));
    let other = &st.vms[&100];
    assert_eq!(other.name(), "someone-elses-vm");
    assert!(other.running && other.config["cores"] == "4", "a foreign VM was touched");
    drop(st);
    // Every instance is found afterwards even though 31 of them did not get VMID 101.
    for i in 0..32 {
        let p = payload(&url, &format!("i-2-{}-VM", 100 + i), Some("101"));
        assert_eq!(run("status", &p).json["power_state"], "poweron");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrated_ha_and_foreign_vms() {
    let mock = MockProxmox::start().await;
    let url = mock.url();
    let vmid = deploy(&url, "i-2-20-VM");
    let id: u64 = vmid.parse().unwrap();
    let p = payload(&url, "i-2-20-VM", Some(&vmid));
    // Migrated to pve2 behind CloudStack's back: still found, stopped and deleted there.
    mock.state().vms.get_mut(&id).unwrap().node = "pve2".into();
    assert_eq!(run("status", &p).json["power_state"], "poweron");
    let r = run("statuses", &p);
    assert_eq!(r.json["power_state"], json!({}), "pve1 reports only its own VMs");
    // HA-managed: stop is done only once the VM is really off.
    mock.state().vms.get_mut(&id).unwrap().ha_managed = true;
    run("stop", &p).assert_ok();
    assert!(!mock.state().vms[&id].running, "stop returned before HA stopped the VM");
    run("start", &p).assert_ok();
    assert!(mock.state().vms[&id].running, "start returned before HA started the VM");
    // An HA migration only queues a request: Migrate answers when the VM really is there.
    let mut mig = p.clone();
    mig["cloudstack.vm.details"]["nics"] = json!([]);
    mig["parameters"] = json!({"target_node": "pve1"});
    let r = run("Migrate", &mig);
    assert!(r.assert_ok().json["message"].as_str().unwrap().contains("to pve1"), "{}", r.stdout);
    assert_eq!(mock.state().vms[&id].node, "pve1", "Migrate returned before HA moved the VM");
    assert!(mock.state().vms[&id].running);
    // A VM with our name made for another CloudStack instance is never deleted: for that
    // instance there is nothing to delete.
    let mut other = payload(&url, "i-2-20-VM", Some(&vmid));
    other["virtualmachineid"] = json!("uuid-someone-else");
    let r = run("delete", &other);
    r.assert_ok();
    assert!(r.json["message"].as_str().unwrap().contains("belongs to another CloudStack instance"), "{}", r.stdout);
    assert!(mock.has_vm_named("i-2-20-VM"));
    run("delete", &p).assert_ok();
    assert!(!mock.has_vm_named("i-2-20-VM"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_variants_and_failures() {
    let mock = MockProxmox::start().await;
    let url = mock.url();
    // Full clone with storage; a linked clone never sends `storage` (Proxmox rejects it).
    let mut p = payload(&url, "i-2-30-VM", None);
    p["externaldetails"]["virtualmachine"]["storage"] = json!("ceph-pool");
    run("create", &p).assert_ok();
    p["externaldetails"]["virtualmachine"]["is_full_clone"] = json!("true");
    let mut full = p.clone();
    full["virtualmachinename"] = json!("i-2-31-VM");
    full["virtualmachineid"] = json!("uuid-i-2-31-VM");
    run("create", &full).assert_ok();
    {
        let st = mock.state();
        let disk = |n: &str| st.vms.values().find(|v| v.name() == n).unwrap().config["scsi0"].clone();
        assert!(disk("i-2-30-VM").starts_with("local-lvm:"), "linked clone stays on the template's storage");
        assert!(disk("i-2-31-VM").starts_with("ceph-pool:"), "full clone goes to `storage`");
        let vm = st.vms.values().find(|v| v.name() == "i-2-30-VM").unwrap();
        assert!(!vm.config.contains_key("net2"));
    }
    // From an ISO.
    let mut iso = payload(&url, "i-2-32-VM", None);
    iso["externaldetails"]["virtualmachine"] =
        json!({"template_type": "ISO", "iso_path": "local:iso/debian-12.iso", "disk_size_gb": "20"});
    run("create", &iso).assert_ok();
    {
        let st = mock.state();
        let vm = st.vms.values().find(|v| v.name() == "i-2-32-VM").unwrap();
        assert!(vm.running);
        assert_eq!(vm.config["ide2"], "local:iso/debian-12.iso,media=cdrom");
        assert!(vm.config["scsi0"].contains("size=20G"));
    }
    // A failed start removes the VM this create made, and nothing else.
    let before = mock.state().vms.len();
    mock.inject(Some("POST"), "qmstart", FaultKind::TaskError("start failed: QEMU exited with code 1".into()), 1);
    let r = run("create", &payload(&url, "i-2-33-VM", None));
    r.assert_err("remote");
    assert!(r.error().contains("QEMU exited with code 1") && r.error().contains("removed"), "{}", r.error());
    assert_eq!(mock.state().vms.len(), before);
    assert!(!mock.has_vm_named("i-2-33-VM"));
    // A clone that Proxmox refuses leaves nothing behind and says why.
    let mut bad = payload(&url, "i-2-34-VM", None);
    bad["externaldetails"]["virtualmachine"]["template_id"] = json!("4242");
    let r = run("create", &bad);
    r.assert_err("remote");
    assert!(r.error().contains("4242.conf' does not exist"), "{}", r.error());
    assert_eq!(mock.state().vms.len(), before);
    // Bad NIC configuration is refused before anything is made.
    let mut no_bridge = payload(&url, "i-2-35-VM", None);
    no_bridge["externaldetails"]["host"].as_object_mut().unwrap().remove("network_bridge");
    run("create", &no_bridge).assert_err("bad_input");
    assert_eq!(mock.state().vms.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_and_remote_failures() {
    let mock = MockProxmox::start().await;
    let url = mock.url();
    for key in ["url", "node"] {
        let mut p = payload(&url, "i-2-40-VM", None);
        p["externaldetails"]["host"].as_object_mut().unwrap().remove(key);
        let r = run("status", &p);
        r.assert_err("bad_input");
        assert!(r.error().contains(&format!("`{key}`")), "{}", r.error());
    }
    let mut p = payload(&url, "i-2-40-VM", None);
    p["externaldetails"]["extension"].as_object_mut().unwrap().remove("secret");
    run("status", &p).assert_err("bad_input");

    let mut p = payload(&url, "i-2-40-VM", None);
    p["externaldetails"]["extension"]["secret"] = json!("wrong-secret-0000");
    let r = run("status", &p);
    r.assert_err("auth");
    assert!(r.error().contains("root@pam!csx") && !r.error().contains("wrong-secret-0000"), "{}", r.error());

    // Nothing listens on port 9: connection refused, retried a bounded number of times.
    let p = payload("http://127.0.0.1:9", "i-2-40-VM", None);
    let r = run("status", &p);
    r.assert_err("remote");
    assert!(r.error().contains("cannot reach Proxmox") && r.error().contains("127.0.0.1:9"), "{}", r.error());
    assert!(r.elapsed < Duration::from_secs(5));

    // A hung Proxmox: the binary still answers before CloudStack's timeout.
    mock.inject(None, "/cluster/resources", FaultKind::Delay(Duration::from_secs(30)), 1);
    let r = run_binary(Path::new(BIN), "status", &payload(&url, "i-2-40-VM", None), 2, &[]);
    r.assert_err("timeout");
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);

    // Transient proxy errors on reads are retried; Proxmox's own error text reaches the operator.
    mock.inject(Some("GET"), "/cluster/resources", FaultKind::Bare(503), 2);
    assert_eq!(run("status", &payload(&url, "i-2-40-VM", None)).json["power_state"], "poweroff");
    mock.inject(Some("GET"), "/cluster/resources", FaultKind::Http(500, "cluster not ready - no quorum?".into()), 1);
    let r = run("status", &payload(&url, "i-2-40-VM", None));
    assert!(r.error().contains("no quorum"), "{}", r.stdout);
    mock.inject(Some("GET"), "/cluster/resources", FaultKind::Garbage, 1);
    run("status", &payload(&url, "i-2-40-VM", None)).assert_err("remote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_login_with_a_password() {
    let mock = MockProxmox::start().await;
    let url = mock.url();
    let mut p = payload(&url, "i-2-50-VM", None);
    p["externaldetails"]["extension"] = json!({"user": PASSWORD_USER, "password": PASSWORD});
    run("create", &p).assert_ok();
    assert_eq!(run("status", &p).json["power_state"], "poweron");
    run("delete", &p).assert_ok();
    p["externaldetails"]["extension"]["password"] = json!("not-the-password");
    run("status", &p).assert_err("auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verification_modes() {
    let mock = MockProxmox::start().await;
    let front = csx_mocks::tls::TlsFront::start(mock.address(), None).await.unwrap();
    let with = |k: &str, v: &str| {
        let mut p = payload(&front.url, "i-2-60-VM", None);
        p["externaldetails"]["host"][k] = json!(v);
        p
    };
    // Verified against the system's CAs by default: a self-signed node is refused.
    let r = run("status", &payload(&front.url, "i-2-60-VM", None));
    r.assert_err("remote");
    assert!(r.error().to_lowercase().contains("certificate"), "{}", r.error());
    // Its CA file, its pinned fingerprint, or verification off all work.
    assert_eq!(run("status", &with("tls_ca_file", front.ca_file.to_str().unwrap())).json["power_state"], "poweroff");
    assert_eq!(run("status", &with("tls_fingerprint", &front.fingerprint)).json["power_state"], "poweroff");
    assert_eq!(
        run("status", &with("tls_fingerprint", &front.fingerprint.to_lowercase().replace(':', ""))).json["power_state"],
        "poweroff"
    );
    assert_eq!(run("status", &with("verify_tls_certificate", "false")).json["power_state"], "poweroff");
    // A different fingerprint is refused, naming both.
    let wrong = "00:".repeat(31) + "00";
    let r = run("status", &with("tls_fingerprint", &wrong));
    r.assert_err("remote");
    assert!(r.error().contains("fingerprint mismatch") && r.error().contains(&front.fingerprint), "{}", r.error());
    run("status", &with("tls_fingerprint", "not-a-fingerprint")).assert_err("bad_input");
    run("status", &with("tls_ca_file", "/nonexistent/ca.pem")).assert_err("bad_input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_output_or_logs() {
    let mock = MockProxmox::start().await;
    let url = mock.url();
    let dir = std::env::temp_dir().join(format!("csx-pve-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("proxmox.log");
    let env = [("CSX_LOG", log.to_str().unwrap()), ("CSX_LOG_LEVEL", "trace")];
    let mut outputs = String::new();
    let mut go = |action: &str, p: &Value| {
        let r = run_binary(Path::new(BIN), action, p, 30, &env);
        outputs.push_str(&r.stdout);
        r
    };
    let mut p = payload(&url, "i-2-80-VM", None);
    for action in ["prepare", "create", "status", "statuses", "getconsole", "stop", "start", "reboot", "delete"] {
        go(action, &p);
    }
    // Error paths: a wrong secret (401) and ticket login with a wrong password.
    p["externaldetails"]["extension"]["secret"] = json!("Wrong-Secret-77x");
    go("status", &p).assert_err("auth");
    let mut t = payload(&url, "i-2-80-VM", None);
    t["externaldetails"]["extension"] = json!({"user": PASSWORD_USER, "password": "Wrong-Password-88y"});
    go("status", &t).assert_err("auth");
    t["externaldetails"]["extension"]["password"] = json!(PASSWORD);
    go("status", &t).assert_ok();
    // TLS failures: an untrusted certificate, a wrong pinned fingerprint; and a connection reset mid-answer.
    let front = csx_mocks::tls::TlsFront::start(mock.address(), None).await.unwrap();
    let mut tls = payload(&front.url, "i-2-80-VM", None);
    go("status", &tls).assert_err("remote");
    tls["externaldetails"]["host"]["tls_fingerprint"] = json!("00:".repeat(31) + "00");
    go("status", &tls).assert_err("remote");
    let proxy = FaultProxy::start(mock.address()).await.unwrap();
    proxy.inject("", Cut::ResetAfter(10), 3);
    go("status", &payload(&proxy.url(), "i-2-80-VM", None)).assert_err("remote");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.lines().count() >= 12, "{logged}");
    for secret in
        [TOKEN_SECRET, PASSWORD, "Wrong-Secret-77x", "Wrong-Password-88y", "Vnc-Secret-4711", "PVE:cloudstack@pve"]
    {
        assert!(!outputs.contains(secret), "{secret} in stdout");
        assert!(!logged.contains(secret), "{secret} in the log");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every VM in the mock cluster: `(vmid, name, running)`, for "nothing changed" checks.
fn inventory(mock: &MockProxmox) -> Vec<(u64, String, bool)> {
    mock.state().vms.values().map(|v| (v.vmid, v.name().to_string(), v.running)).collect()
}

/// Every task has ended and no VM is left locked: nothing is still going on behind our back.
async fn settled(mock: &MockProxmox) {
    for _ in 0..200 {
        {
            let st = mock.state();
            if st.tasks.values().all(|t| t.exitstatus.is_some()) && st.vms.values().all(|v| v.lock.is_none()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("tasks still running: {:?}", mock.state().tasks.values().filter(|t| t.exitstatus.is_none()).count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_faults_leave_nothing_behind() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(30));
    let proxy = FaultProxy::start(mock.address()).await.unwrap();
    let url = proxy.url();
    let before = inventory(&mock);
    let resources = "GET /api2/json/cluster/resources";

    // Reads: a reset in mid-answer and an answer cut short are retried, and the retries are bounded.
    proxy.inject(resources, Cut::ResetAfter(40), 1);
    proxy.inject(resources, Cut::CloseAfter(80), 1);
    assert_eq!(run("status", &payload(&url, "i-2-60-VM", None)).json["power_state"], "poweroff");
    assert_eq!(proxy.stats().applied.len(), 2);
    proxy.inject(resources, Cut::ResetUnanswered, 5);
    let r = run("status", &payload(&url, "i-2-60-VM", None));
    r.assert_err("remote");
    assert!(r.error().contains("cannot reach Proxmox"), "{}", r.error());
    assert_eq!(proxy.stats().applied.len(), 5, "3 attempts, no more");
    proxy.clear();

    // Create, with each step's answer lost: Proxmox acted, the binary never learnt it.
    // Each attempt fails with one JSON error and leaves the cluster as it was.
    for (i, step) in ["/clone", "PUT /api2/json/nodes/pve1/qemu/", "/status/start"].into_iter().enumerate() {
        let name = format!("i-2-6{}-VM", i + 1);
        let reserved = run("prepare", &payload(&url, &name, None)).json["details"]["proxmox_vmid"].clone();
        let p = payload(&url, &name, reserved.as_str());
        proxy.inject(step, Cut::ResetUnanswered, 1);
        let r = run("create", &p);
        r.assert_err("remote");
        assert!(r.error().contains("removed"), "{step}: {}", r.error());
        settled(&mock).await;
        assert_eq!(inventory(&mock), before, "{step}: something was left behind");
        assert_eq!(proxy.stats().applied.last().map(|a| a.0), Some(Cut::ResetUnanswered));
        // The same create run again (as an operator would) succeeds, with the VMID prepare reserved.
        let r = run("create", &p);
        r.assert_ok();
        assert_eq!(r.json["proxmox_vmid"], reserved);
        run("delete", &p).assert_ok();
    }
    // The clone request never reached Proxmox: nothing to undo, the VMID stays free.
    proxy.inject("/clone", Cut::ResetUnsent, 1);
    run("create", &payload(&url, "i-2-64-VM", None)).assert_err("remote");
    settled(&mock).await;
    assert_eq!(inventory(&mock), before);

    // Stop and delete whose answers were lost: the retry CloudStack makes does the right thing.
    let vmid = deploy(&url, "i-2-65-VM");
    let p = payload(&url, "i-2-65-VM", Some(&vmid));
    proxy.inject("/status/stop", Cut::ResetUnanswered, 1);
    run("stop", &p).assert_err("remote");
    run("stop", &p).assert_ok();
    assert_eq!(run("status", &p).json["power_state"], "poweroff");
    proxy.inject(&format!("DELETE /api2/json/nodes/pve1/qemu/{vmid}?"), Cut::ResetUnanswered, 1);
    run("delete", &p).assert_err("remote");
    settled(&mock).await;
    run("delete", &p).assert_ok();
    assert_eq!(inventory(&mock), before);

    // A host that accepts the connection and then says nothing, before or after the
    // request: a timeout error before CloudStack's timeout, nothing made.
    for cut in [Cut::Stall, Cut::Hang] {
        proxy.inject("", cut, 10);
        let r = run_binary(Path::new(BIN), "create", &payload(&url, "i-2-66-VM", None), 2, &[]);
        r.assert_err("timeout");
        assert!(r.elapsed < Duration::from_secs(2), "{cut:?}: {:?}", r.elapsed);
        proxy.clear();
    }
    // Proxmox hangs on the start of a VM create just made: the create stops at its
    // work deadline and removes the VM in the time it kept for that.
    proxy.inject("/status/start", Cut::Hang, 1);
    let r = run_binary(Path::new(BIN), "create", &payload(&url, "i-2-67-VM", None), 4, &[]);
    r.assert_err("timeout");
    assert!(r.error().contains("removed"), "{}", r.error());
    assert!(r.elapsed < Duration::from_secs(4), "{:?}", r.elapsed);
    settled(&mock).await;
    assert_eq!(inventory(&mock), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connection_closed_without_close_notify() {
    let mock = MockProxmox::start().await;
    let proxy = FaultProxy::start(mock.address()).await.unwrap();
    // TLS front -> fault proxy -> mock: a reset behind the front ends the TLS
    // connection without close_notify, in the middle of an answer.
    let front = csx_mocks::tls::TlsFront::start(proxy.addr, None).await.unwrap();
    let mut p = payload(&front.url, "i-2-68-VM", None);
    p["externaldetails"]["host"]["tls_fingerprint"] = json!(front.fingerprint);
    proxy.inject("GET /api2/json/cluster/resources", Cut::ResetAfter(60), 1);
    assert_eq!(run("status", &p).json["power_state"], "poweroff", "a read is retried on a new connection");
    proxy.inject("GET /api2/json/cluster/resources", Cut::ResetAfter(60), 3);
    let r = run("status", &p);
    r.assert_err("remote");
    assert!(r.error().contains("cannot reach Proxmox"), "{}", r.error());
    assert_eq!(proxy.stats().applied.len(), 4);
    // A create whose clone answer is cut: the VM is removed, over TLS as over HTTP.
    let before = inventory(&mock);
    proxy.inject("/clone", Cut::ResetAfter(30), 1);
    let r = run("create", &p);
    r.assert_err("remote");
    assert!(r.error().contains("removed"), "{}", r.error());
    settled(&mock).await;
    assert_eq!(inventory(&mock), before);
}

/// Issue #12, through the binary: statuses under CloudStack's names, another instance's VM
/// never touched, NICs CloudStack cannot have untagged refused, forwarded agent commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_real_cloudstack_needs() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(20));
    let url = mock.url();

    // A VM called otherwise on Proxmox (built-in detail `vm_name`) is reported as its instance.
    let mut p = payload(&url, "i-2-60-VM", None);
    p["externaldetails"]["virtualmachine"]["vm_name"] = json!("web-frontend-1");
    let r = run("prepare", &p);
    let vmid = r.json["details"]["proxmox_vmid"].as_str().unwrap().to_string();
    p["cloudstack.vm.details"]["details"]["proxmox_vmid"] = json!(vmid);
    p["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
    run("create", &p).assert_ok();
    {
        let st = mock.state();
        let vm = &st.vms[&vmid.parse::<u64>().unwrap()];
        assert_eq!(vm.name(), "web-frontend-1");
        // Stored as PVE stores tags: lower-cased and sorted (the name survives: csx-iname).
        assert_eq!(vm.config["tags"], "csx-iname.i-2-60-_v_m;csx-owner.uuid-i-2-60-vm");
    }
    // A VM the built-in extension made (no tags, named after its instance) and one that is no instance.
    {
        let mut st = mock.state();
        st.insert_vm(700, "pve1", false, true, &[("name", "i-2-61-VM")]);
        st.insert_vm(701, "pve1", false, true, &[("name", "web-other-1")]);
    }
    mock.take_requests();
    let r = run("statuses", &p);
    assert_eq!(r.json["power_state"], json!({"i-2-60-VM": "poweron", "i-2-61-VM": "poweron"}), "{}", r.stdout);
    assert_eq!(mock.take_requests().len(), 1, "statuses stays one request");

    // Instance B (another installation, same instance name) never touches A's VM.
    let mut b = p.clone();
    b["virtualmachineid"] = json!("uuid-of-staging");
    b["cloudstack.vm.details"]["uuid"] = json!("uuid-of-staging");
    assert_eq!(run("status", &b).json["power_state"], "poweroff", "B has no VM");
    run("stop", &b).assert_ok();
    let mut snap = b.clone();
    snap["parameters"] = json!({"snap_name": "staging1"});
    run("CreateSnapshot", &snap).assert_err("conflict");
    run("start", &b).assert_err("conflict");
    run("reboot", &b).assert_err("conflict");
    run("getconsole", &b).assert_err("conflict");
    run("create", &b).assert_err("conflict");
    run("delete", &b).assert_ok();
    {
        let st = mock.state();
        let vm = &st.vms[&vmid.parse::<u64>().unwrap()];
        assert!(vm.running, "B's stop left A's VM running");
        assert!(vm.snapshots.is_empty(), "B's snapshot never reached A's VM");
        assert_eq!(st.vms.values().filter(|v| v.name() == "web-frontend-1").count(), 1, "B made no second VM");
    }
    assert_eq!(run("status", &p).json["power_state"], "poweron");
    run("delete", &p).assert_ok();

    // Broadcast URIs csx cannot honour: refused by name, nothing made.
    for uri in ["vxlan://5000", "pvlan://100-i200", "lswitch:3b1f9c", "vs://net-42"] {
        let mut c = payload(&url, "i-2-62-VM", None);
        c["cloudstack.vm.details"]["details"]["deployvm"] = json!("true");
        c["cloudstack.vm.details"]["nics"][1]["broadcastUri"] = json!(uri);
        let r = run("create", &c);
        r.assert_err("unsupported");
        assert!(r.error().contains(uri), "{}", r.error());
        assert!(!mock.has_vm_named("i-2-62-VM"));
    }

    // A primary storage pool added to the cluster: no answer brings it Up; say what to do.
    let r = run("com.cloud.agent.api.ModifyStoragePoolCommand", &json!({"externaldetails": {}}));
    r.assert_err("unsupported");
    assert!(r.error().contains("remove this primary storage pool"), "{}", r.error());
}
