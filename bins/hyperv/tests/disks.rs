//! Issue #18 §3 through the `hyperv` binary: disks as Microsoft documents Hyper-V's controllers
//! (see mocks/src/hyperv/disks.rs for the pages): generation-1 IDE slots, the root disk is the
//! disk the VM boots from, an IDE disk of a running VM is not resized.

use csx_mocks::hyperv::payload;
use serde_json::{json, Value};

mod common;
use common::{custom, run, start};

/// ListDisks as (id, root) pairs.
fn disks(p: &Value) -> Vec<(String, String)> {
    let r = custom(p, "ListDisks", Value::Null);
    let rows = r.assert_ok().json["message"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .map(|r| (r["disk"].as_str().unwrap_or("").to_string(), r["root"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// A generation-1 VM has two IDE controllers with two locations each, and the DVD drive New-VM
/// gives it at IDE1:0: data disks go to IDE0:1 and IDE1:1, then there is no room (never IDE0:2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_1_has_two_locations_per_ide_controller() {
    let (mock, host) = start().await;
    let mut p = payload(&mock.url(), "i-2-60-VM");
    p["externaldetails"]["virtualmachine"]["generation"] = json!("1");
    run("create", &p).assert_ok();
    run("stop", &p).assert_ok();
    let added: Vec<String> = [3, 4]
        .iter()
        .map(|gb| {
            let r = custom(&p, "AddDisk", json!({"size_gb": gb}));
            r.assert_ok().json["message"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert!(added[0].starts_with("Disk IDE0:1 "), "{added:?}");
    assert!(added[1].starts_with("Disk IDE1:1 "), "{added:?}");
    let full = custom(&p, "AddDisk", json!({"size_gb": 5}));
    assert!(!full.stdout.contains("IDE0:2"), "{}", full.stdout);
    full.assert_err("remote");
    let ids: Vec<String> = disks(&p).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["IDE0:0", "IDE0:1", "IDE1:1"]);
    // With a SCSI controller (here: a SCSI disk the operator attached), Add-VMHardDiskDrive goes
    // on to SCSI once the IDE locations are taken.
    host.attach("i-2-60-VM", "C:\\VMs\\Disks\\i-2-60-VM-scsi.vhdx", ("SCSI", 0, 0), 8);
    let r = custom(&p, "AddDisk", json!({"size_gb": 6}));
    assert!(r.assert_ok().json["message"].as_str().unwrap_or("").starts_with("Disk SCSI0:1 "), "{}", r.stdout);
    run("delete", &p).assert_ok();
}

/// The root disk is the one the VM boots from, not "controller 0, location 0 of any type": a
/// generation-1 VM boots from IDE only, so a SCSI disk at SCSI0:0 is a data disk (removable) and
/// IDE0:0 is kept; a generation-2 VM boots from the first hard disk of its firmware boot order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_disk_is_the_boot_disk() {
    let (mock, host) = start().await;
    let mut gen1 = payload(&mock.url(), "i-2-61-VM");
    gen1["externaldetails"]["virtualmachine"]["generation"] = json!("1");
    run("create", &gen1).assert_ok();
    host.attach("i-2-61-VM", "C:\\VMs\\Disks\\i-2-61-VM-scsi.vhdx", ("SCSI", 0, 0), 8);
    let listed = disks(&gen1);
    assert!(listed.contains(&("IDE0:0".into(), "yes".into())), "{listed:?}");
    assert!(listed.contains(&("SCSI0:0".into(), "no".into())), "{listed:?}");
    custom(&gen1, "RemoveDisk", json!({"disk": "IDE0:0"})).assert_err("bad_input");
    custom(&gen1, "RemoveDisk", json!({"disk": "SCSI0:0"})).assert_ok();
    run("delete", &gen1).assert_ok();

    let gen2 = payload(&mock.url(), "i-2-62-VM");
    run("create", &gen2).assert_ok();
    host.attach("i-2-62-VM", "C:\\VMs\\Disks\\i-2-62-VM-os.vhdx", ("SCSI", 0, 1), 30);
    host.boot_from("i-2-62-VM", "C:\\VMs\\Disks\\i-2-62-VM-os.vhdx");
    assert_eq!(disks(&gen2), [("SCSI0:0".to_string(), "no".to_string()), ("SCSI0:1".into(), "yes".into())]);
    let r = custom(&gen2, "RemoveDisk", json!({"disk": "SCSI0:1"}));
    r.assert_err("bad_input");
    assert!(r.error().contains("boots from"), "{}", r.error());
    custom(&gen2, "RemoveDisk", json!({"disk": "SCSI0:0"})).assert_ok();
    assert!(host.host().files.contains("C:\\VMs\\Disks\\i-2-62-VM-os.vhdx"), "the boot disk stays");
    run("delete", &gen2).assert_ok();
}

/// Resize-VHD cannot resize a disk on a running VM's IDE chain: refused with a clear message
/// before anything is resized; once the VM is off it grows. A SCSI disk grows while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ide_disk_of_a_running_vm_is_not_resized() {
    let (mock, host) = start().await;
    let mut p = payload(&mock.url(), "i-2-63-VM");
    p["externaldetails"]["virtualmachine"]["generation"] = json!("1");
    run("create", &p).assert_ok();
    let r = custom(&p, "ResizeDisk", json!({"disk": "IDE0:0", "size_gb": 40}));
    r.assert_err("bad_input");
    assert!(r.error().contains("IDE controller of a running VM") && r.error().contains("stop"), "{}", r.error());
    let root = host.host().vms[0].disks[0].clone();
    assert_eq!(host.host().disk_sizes.get(&root), None, "not resized");
    run("stop", &p).assert_ok();
    custom(&p, "ResizeDisk", json!({"disk": "IDE0:0", "size_gb": 40})).assert_ok();
    assert_eq!(host.host().disk_sizes.get(&root), Some(&40));
    run("start", &p).assert_ok();
    host.attach("i-2-63-VM", "C:\\VMs\\Disks\\i-2-63-VM-scsi.vhdx", ("SCSI", 0, 0), 8);
    custom(&p, "ResizeDisk", json!({"disk": "SCSI0:0", "size_gb": 16})).assert_ok();
    run("delete", &p).assert_ok();
}
