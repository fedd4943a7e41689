//! The operator's actions and `doctor` through the `proxmox` binary: doctor's checks,
//! Suspend/Resume, guest addresses, migration, data disks.

mod common;

use common::{deploy, doctor, run, BIN};
use csx_mocks::proxmox::{payload, FaultKind, MockProxmox};
use csx_testkit::run_binary;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_what_is_wrong() {
    let mock = MockProxmox::start().await;
    let good = payload(&mock.url(), "i-2-95-VM", None);
    let (code, text) = doctor(&good, false);
    assert_eq!(code, 0, "{text}");
    for line in [
        "skip  location:",
        "ok    url: ",
        "(from host details)",
        "ok    authentication: accepted: API token root@pam!csx",
        "ok    create: VM.Clone",
        "ok    node: pve1 is online",
        "ok    network_bridge: vmbr0 exists on pve1",
        "ok    template: VM 9000 is a template",
        "md5 ",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let (code, json) = doctor(&good, true);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["status"], "success");
    assert!(v["checks"].as_array().unwrap().iter().any(|c| c["area"] == "authorization"));

    let mut wrong = good.clone();
    wrong["externaldetails"]["extension"]["secret"] = json!("not-the-secret-at-all");
    let (code, text) = doctor(&wrong, false);
    assert_eq!(code, 1);
    assert!(text.contains("FAIL  authentication") && text.contains("-> check `user`, `token` and `secret`"), "{text}");
    assert!(!text.contains("not-the-secret-at-all"), "{text}");
    assert!(text.contains("skip  checks: not run"), "{text}");

    let mut bridge = good.clone();
    bridge["externaldetails"]["host"]["network_bridge"] = json!("vmbr9");
    let (code, text) = doctor(&bridge, false);
    assert_eq!(code, 1);
    assert!(text.contains("FAIL  network_bridge: pve1 has no bridge vmbr9 (bridges: vmbr1, vmbr0)"), "{text}");

    mock.state().revoke("VM.Clone");
    let (code, text) = doctor(&good, false);
    assert_eq!(code, 1);
    assert!(text.contains("FAIL  create: missing VM.Clone on /vms"), "{text}");

    let front = csx_mocks::tls::TlsFront::start(mock.address(), None).await.unwrap();
    let mut pinned = good.clone();
    pinned["externaldetails"]["host"]["url"] = json!(front.url);
    pinned["externaldetails"]["host"]["tls_fingerprint"] = json!("AB:".repeat(31) + "CD");
    let (code, text) = doctor(&pinned, false);
    assert_eq!(code, 1);
    assert!(text.contains(&format!("presents a certificate with SHA-256 {}", front.fingerprint)), "{text}");
    assert!(text.contains("FAIL  TLS trust: certificate fingerprint mismatch"), "{text}");
    pinned["externaldetails"]["host"]["tls_fingerprint"] = json!(front.fingerprint);
    let (_, text) = doctor(&pinned, false);
    assert!(text.contains("ok    TLS trust: trusted: the pinned certificate with SHA-256 fingerprint"), "{text}");
    assert!(!text.contains("Fingerprint(["), "the mode in words, never a dump: {text}");
    // Checks turned off: a warning that says so in words, not a pass.
    let mut insecure = good.clone();
    insecure["externaldetails"]["host"]["url"] = json!(front.url);
    insecure["externaldetails"]["host"]["verify_tls_certificate"] = json!("false");
    let (_, text) = doctor(&insecure, false);
    assert!(!text.contains("FAIL  TLS trust"), "a warning is not a failure: {text}");
    assert!(text.contains("WARN  TLS trust: no checks at all"), "{text}");
    assert!(text.contains("1 warnings"), "{text}");
}

/// Issue #18 §4: a failing API call is reported as that failure, never as a missing node,
/// bridge or storage; the guest-agent privilege is the one the cluster's PVE version asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_is_honest_about_failures_and_versions() {
    let mock = MockProxmox::start().await;
    let mut p = payload(&mock.url(), "i-2-1-VM", None);
    p["externaldetails"]["host"]["storage"] = json!("local-lvm");
    mock.inject(Some("GET"), "/nodes/pve1/network", FaultKind::Http(503, "pveproxy busy".into()), 5);
    mock.inject(Some("GET"), "/nodes/pve1/storage", FaultKind::Http(500, "storage daemon died".into()), 5);
    let (_, text) = doctor(&p, false);
    assert!(text.contains("FAIL  network_bridge: Proxmox GET /nodes/pve1/network failed (HTTP 503)"), "{text}");
    assert!(
        text.contains("FAIL  storage: Proxmox GET /nodes/pve1/storage failed (HTTP 500): storage daemon"),
        "{text}"
    );
    assert!(!text.contains("has no bridge") && !text.contains("has no storage"), "{text}");
    assert!(text.contains("ok    GetIpAddresses: VM.GuestAgent.Audit on /vms"), "PVE 9: {text}");
    // PVE 8: the agent calls need VM.Monitor (VM.GuestAgent.Audit does not exist there).
    {
        let mut st = mock.state();
        st.version = "8.2.4".into();
        st.revoke("VM.GuestAgent.Audit");
        st.privileges.get_mut("/").unwrap().insert("VM.Monitor".into());
    }
    let (_, text) = doctor(&p, false);
    assert!(text.contains("ok    GetIpAddresses: VM.Monitor on /vms"), "PVE 8: {text}");
}

/// Issue #15's Proxmox actions through the binary: Suspend/Resume (a paused VM is `poweron`),
/// GetIpAddresses (guest agent, and the error that says how to enable it), Migrate (live,
/// offline, refusals) after which every action finds the VM on its new node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_addresses_and_migration() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(20));
    let url = mock.url();
    let vmid = deploy(&url, "i-2-97-VM");
    let id: u64 = vmid.parse().unwrap();
    let p = payload(&url, "i-2-97-VM", Some(&vmid));
    let custom = |action: &str, params: Value| {
        let mut pa = p.clone();
        pa["cloudstack.vm.details"]["nics"] = json!([]);
        if !params.is_null() {
            pa["parameters"] = params;
        }
        run(action, &pa)
    };

    custom("Suspend", Value::Null).assert_ok();
    assert!(mock.state().vms[&id].paused);
    assert_eq!(run("status", &p).json["power_state"], "poweron", "a paused VM still holds its memory: poweron");
    assert!(custom("suspend", Value::Null).json["message"].as_str().unwrap().contains("already"));
    custom("Resume", Value::Null).assert_ok();
    assert!(!mock.state().vms[&id].paused);
    // A paused VM's reboot: PVE refuses it ("VM is paused - cannot shutdown"); csx resumes first.
    custom("Suspend", Value::Null).assert_ok();
    run("reboot", &p).assert_ok();
    assert!(!mock.state().vms[&id].paused && mock.state().vms[&id].running, "resumed and rebooted");

    let r = custom("GetIpAddresses", Value::Null);
    r.assert_err("unsupported");
    assert!(r.error().contains("--agent 1") && r.error().contains("qemu-guest-agent"), "{}", r.error());
    {
        let mut st = mock.state();
        let vm = st.vms.get_mut(&id).unwrap();
        vm.config.insert("agent".into(), "1".into());
        vm.agent_running = true;
    }
    let r = custom("Get IP Addresses", Value::Null);
    r.assert_ok();
    assert_eq!(r.json["printmessage"], "true");
    let rows = r.json["message"].as_array().unwrap();
    let addresses: Vec<&str> = rows.iter().map(|r| r["address"].as_str().unwrap()).collect();
    assert!(addresses.contains(&format!("10.1.{}.10/24", id % 250).as_str()), "{addresses:?}");
    assert!(
        addresses.iter().all(|a| !a.starts_with("127.") && !a.starts_with("fe80") && !a.starts_with("::1")),
        "{addresses:?}"
    );
    assert_eq!(rows[0]["mac"], "02:01:00:cc:00:01");

    custom("Migrate", json!({"target_node": "pve9"})).assert_err("bad_input");
    let r = custom("Migrate", json!({"target_node": "pve3"}));
    r.assert_err("remote");
    assert!(r.error().contains("pve3") && r.error().contains("not online"), "{}", r.error());
    mock.take_requests();
    let r = custom("Migrate", json!({"target_node": "pve2"}));
    r.assert_ok();
    assert!(r.json["message"].as_str().unwrap().contains("to pve2 (live)"), "{}", r.stdout);
    assert!(mock.take_requests().iter().any(|q| q.contains("/migrate")), "one migrate request");
    assert_eq!(mock.state().vms[&id].node, "pve2");
    assert!(mock.state().vms[&id].running, "a live migration keeps it running");
    // Later actions find it on its new node (the hint points at pve1; the cluster search finds it).
    assert_eq!(run("status", &p).json["power_state"], "poweron");
    run("stop", &p).assert_ok();
    let r = custom("Migrate", json!({"target_node": "pve1"}));
    assert!(r.assert_ok().json["message"].as_str().unwrap().contains("(offline)"), "{}", r.stdout);
    assert_eq!(mock.state().vms[&id].node, "pve1");
    run("delete", &p).assert_ok();
    assert!(!mock.has_vm_named("i-2-97-VM"));
}

/// Data disks through the binary: add (hot-plugged, a retry adds no second disk, pending when
/// the VM does not hot-plug disks), list, grow (never shrink), remove (no `unusedN` left, never
/// the root disk), refusals by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_disks() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(20));
    let url = mock.url();
    let vmid = deploy(&url, "i-2-88-VM");
    let id: u64 = vmid.parse().unwrap();
    let p = payload(&url, "i-2-88-VM", Some(&vmid));
    let custom = |action: &str, params: Value| {
        let mut pa = p.clone();
        pa["cloudstack.vm.details"]["nics"] = json!([]);
        pa["parameters"] = params;
        run(action, &pa)
    };
    let rows = custom("ListDisks", json!({})).assert_ok().json["message"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["disk"].as_str(), rows[0]["root"].as_str(), rows[0]["size_gb"].as_u64()),
        (Some("scsi0"), Some("yes"), Some(8))
    );
    custom("AddDisk", json!({"size_gb": 16})).assert_ok();
    let again = custom("AddDisk", json!({"size_gb": 16}));
    assert!(again.assert_ok().json["message"].as_str().unwrap().contains("not adding another"), "{}", again.stdout);
    let rows = custom("ListDisks", json!({})).json["message"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[1]["disk"].as_str(), rows[1]["storage"].as_str()),
        (Some("scsi1"), Some("local-lvm")),
        "the root disk's storage"
    );
    custom("AddDisk", json!({"size_gb": 4, "storage": "nfs-missing"})).assert_err("remote");
    custom("AddDisk", json!({"size_gb": -4})).assert_err("bad_input");
    custom("ResizeDisk", json!({"disk": "scsi1", "size_gb": 32})).assert_ok();
    assert!(mock.state().vms[&id].config["scsi1"].contains("size=32G"));
    let r = custom("ResizeDisk", json!({"disk": "scsi1", "size_gb": 8}));
    r.assert_err("bad_input");
    assert!(r.error().contains("shrinking"), "{}", r.error());
    custom("ResizeDisk", json!({"disk": "scsi9", "size_gb": 8})).assert_err("not_found");
    custom("RemoveDisk", json!({"disk": "scsi0"})).assert_err("bad_input");
    custom("RemoveDisk", json!({"disk": "scsi1"})).assert_ok();
    let r = custom("RemoveDisk", json!({"disk": "scsi1"}));
    r.assert_err("not_found");
    assert!(r.error().contains("no disk scsi1"), "{}", r.error());
    {
        let st = mock.state();
        let cfg = &st.vms[&id].config;
        assert!(!cfg.contains_key("scsi1") && !cfg.keys().any(|k| k.starts_with("unused")), "nothing left: {cfg:?}");
    }
    // A VM that does not hot-plug disks: the new disk waits for the next start, and the answer says so.
    mock.state().vms.get_mut(&id).unwrap().config.insert("hotplug".into(), "network,usb".into());
    let r = custom("AddDisk", json!({"size_gb": 2}));
    assert!(r.assert_ok().json["message"].as_str().unwrap().contains("next stop and start"), "{}", r.stdout);
    assert_eq!(mock.state().vms[&id].pending.len(), 1);
    let rows = custom("ListDisks", json!({})).json["message"].as_array().unwrap().clone();
    assert!(
        rows.iter().any(|r| r["disk"] == "scsi1" && r["state"].as_str().unwrap().starts_with("pending")),
        "{rows:?}"
    );
    // Its removal is pending too, and destroys the volume when it applies (no `unusedN` left).
    let r = custom("RemoveDisk", json!({"disk": "scsi1"}));
    assert!(r.assert_ok().json["message"].as_str().unwrap().contains("Disk scsi1"), "{}", r.stdout);
    run("stop", &p).assert_ok();
    run("start", &p).assert_ok();
    {
        let st = mock.state();
        let vm = &st.vms[&id];
        assert!(vm.pending.is_empty() && vm.pending_delete.is_empty(), "{:?} {:?}", vm.pending, vm.pending_delete);
        assert!(!vm.config.keys().any(|k| k.starts_with("unused") || k == "scsi1"), "{:?}", vm.config);
    }
    // A disk attached while the VM runs without disk hot-plug: removal waits for the next start.
    {
        let mut st = mock.state();
        st.vms.get_mut(&id).unwrap().config.insert("scsi2".into(), "local-lvm:vm-100-disk-7,size=4G".into());
    }
    let r = custom("RemoveDisk", json!({"disk": "scsi2"}));
    assert!(r.assert_ok().json["message"].as_str().unwrap().contains("removal pending"), "{}", r.stdout);
    let r = custom("RemoveDisk", json!({"disk": "scsi2"}));
    assert!(r.assert_ok().json["message"].as_str().unwrap().contains("already pending"), "a retry: {}", r.stdout);
    run("reboot", &p).assert_ok();
    run("stop", &p).assert_ok();
    run("start", &p).assert_ok();
    assert!(!mock.state().vms[&id].config.keys().any(|k| k.starts_with("unused") || k == "scsi2"));
    run("delete", &p).assert_ok();
}

/// Issue #18: the disk the VM boots from is never removed (`bootdisk`, legacy `boot`), sizes are
/// read exactly (1536M is 1.5 GiB; a bare number is bytes), and concurrent AddDisks lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disks_as_proxmox_keeps_them() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(20));
    let url = mock.url();
    let vmid = deploy(&url, "i-2-89-VM");
    let id: u64 = vmid.parse().unwrap();
    let p = payload(&url, "i-2-89-VM", Some(&vmid));
    let custom = |action: &str, params: Value| {
        let mut pa = p.clone();
        pa["cloudstack.vm.details"]["nics"] = json!([]);
        pa["parameters"] = params;
        run(action, &pa)
    };
    {
        let mut st = mock.state();
        let cfg = &mut st.vms.get_mut(&id).unwrap().config;
        cfg.insert("virtio0".into(), "local-lvm:vm-100-disk-5,size=1536M".into());
        cfg.insert("bootdisk".into(), "virtio0".into());
        cfg.insert("scsi3".into(), "local-lvm:vm-100-disk-6,size=1073741824".into());
    }
    let r = custom("RemoveDisk", json!({"disk": "virtio0"}));
    r.assert_err("bad_input");
    assert!(r.error().contains("boots from"), "{}", r.error());
    mock.state().vms.get_mut(&id).unwrap().config.insert("boot".into(), "cdn".into());
    custom("RemoveDisk", json!({"disk": "virtio0"})).assert_err("bad_input");
    let rows = custom("ListDisks", json!({})).json["message"].as_array().unwrap().clone();
    let row = |k: &str| rows.iter().find(|r| r["disk"] == k).cloned().unwrap();
    assert_eq!(row("virtio0")["root"], "yes");
    assert_eq!(row("virtio0")["size_gb"], json!(1.5), "1536M");
    assert_eq!(row("scsi3")["size_gb"], json!(1), "a bare size is bytes");
    custom("ResizeDisk", json!({"disk": "virtio0", "size_gb": 2})).assert_ok();
    assert!(mock.state().vms[&id].config["virtio0"].contains("size=2G"), "1.5 GiB grown to 2");
    // Five AddDisks at once: five disks, none replaced, nothing left as unusedN.
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let mut pa = p.clone();
            pa["cloudstack.vm.details"]["nics"] = json!([]);
            pa["parameters"] = json!({"size_gb": 10 + i});
            std::thread::spawn(move || run("AddDisk", &pa))
        })
        .collect();
    for h in handles {
        h.join().unwrap().assert_ok();
    }
    let st = mock.state();
    let cfg = &st.vms[&id].config;
    let sizes: Vec<&String> =
        cfg.iter().filter(|(k, v)| k.starts_with("scsi") && v.contains("serial=csx")).map(|(_, v)| v).collect();
    assert_eq!(sizes.len(), 5, "{cfg:?}");
    assert!(!cfg.keys().any(|k| k.starts_with("unused")), "no disk replaced: {cfg:?}");
}

/// A migration longer than CloudStack's timeout ends with one `timeout` error before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_migration_ends_before_the_timeout() {
    let mock = MockProxmox::start().await;
    mock.set_task_duration(Duration::from_millis(20));
    let url = mock.url();
    let vmid = deploy(&url, "i-2-86-VM");
    mock.set_task_duration(Duration::from_secs(30));
    let mut p = payload(&url, "i-2-86-VM", Some(&vmid));
    p["cloudstack.vm.details"]["nics"] = json!([]);
    p["parameters"] = json!({"target_node": "pve2"});
    let r = run_binary(Path::new(BIN), "Migrate", &p, 3, &[]);
    r.assert_err("timeout");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
}
