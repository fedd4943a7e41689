//! The simulated host's data-disk scripts (list-disks, add-disk, resize-disk, remove-disk), with
//! Hyper-V's disk slots as Microsoft documents them:
//!
//! - **Generation 1** has two IDE controllers, numbers 0 and 1 (Get-VMIdeController:
//!   "Allowed values are 0 and 1", learn.microsoft.com/powershell/module/hyper-v/get-vmidecontroller),
//!   with two locations each, 0 and 1 (Msvm_IDEController: up to four drives on the IDE bus,
//!   learn.microsoft.com/windows/win32/hyperv_v2/msvm-idecontroller): `IDE0:0`, `IDE0:1`,
//!   `IDE1:0`, `IDE1:1`, never `IDE0:2`. New-VM puts a generation-1 VM's DVD drive at `IDE1:0`
//!   (what Hyper-V does; we found no Microsoft page saying so: a guess). Generation-1 VMs boot
//!   a hard disk from IDE only (Set-VMBios -StartupOrder: the BIOS boot devices are CD, IDE,
//!   LegacyNetworkAdapter and Floppy, learn.microsoft.com/powershell/module/hyper-v/set-vmbios),
//!   so the root disk is the first IDE hard disk (controller, then location — the order within
//!   IDE is our reading, no page states it); a SCSI disk at `SCSI0:0` of a generation-1 VM is a
//!   data disk.
//! - **Generation 2** has SCSI only (Msvm_IDEController: "not available to generation 2 virtual
//!   machines"); its root disk is the first hard disk of its firmware boot order
//!   (Get-VMFirmware's BootOrder, learn.microsoft.com/powershell/module/hyper-v/get-vmfirmware).
//! - **Resizing** an IDE disk of a running VM fails: "If the virtual disk file connects to a
//!   virtual machine's IDE chain, you cannot resize the virtual disk while the virtual machine
//!   is online" (learn.microsoft.com/powershell/module/hyper-v/resize-vhd); a SCSI disk can.
//! - **Add-VMHardDiskDrive** without `-ControllerType`: "IDE is attempted first. If the IDE
//!   controller port [...] is already connected to a drive, then it will try to create one on the
//!   SCSI controller" (learn.microsoft.com/powershell/module/hyper-v/add-vmharddiskdrive): a
//!   generation-1 VM whose IDE locations are all taken gets a SCSI disk only if it has a SCSI
//!   controller (New-VM gives generation 1 none; here: a VM with a SCSI disk has one).
//! - **Hot-add** to the IDE chain of a running VM fails (no Microsoft page found for the
//!   message: the text is a guess, the refusal is Hyper-V's).

use super::{err, Host, Outcome};
use serde_json::{json, Value};

/// A drive's slot: controller type, controller number, location.
pub type Slot = (String, u32, u32);

/// The generation-1 IDE slots a hard disk may take in order (`IDE1:0` holds the DVD drive).
const IDE_SLOTS: [(u32, u32); 3] = [(0, 0), (0, 1), (1, 1)];

fn slot_id((kind, number, location): &Slot) -> String {
    format!("{kind}{number}:{location}")
}

impl Host {
    /// Where disk `k` of VM `i` is attached: as recorded (add-disk, [`super::HyperVHost::attach`]),
    /// else its VM's `k`-th free slot (IDE on generation 1, `SCSI0:k` on generation 2).
    fn slot(&self, i: usize, k: usize) -> Slot {
        let vm = &self.vms[i];
        if let Some(s) = self.disk_slots.get(&vm.disks[k]) {
            return s.clone();
        }
        if vm.generation == 1 {
            let taken: Vec<Slot> = vm.disks.iter().filter_map(|d| self.disk_slots.get(d).cloned()).collect();
            let unrecorded = vm.disks[..k].iter().filter(|d| !self.disk_slots.contains_key(*d)).count();
            let free: Vec<(u32, u32)> =
                IDE_SLOTS.iter().copied().filter(|(n, l)| !taken.contains(&("IDE".into(), *n, *l))).collect();
            let (n, l) = free.get(unrecorded).copied().unwrap_or((9, k as u32));
            ("IDE".into(), n, l)
        } else {
            ("SCSI".into(), 0, k as u32)
        }
    }

    /// The disk the VM boots from (see the module's comment); `None` when none is bootable.
    fn boot_slot(&self, i: usize) -> Option<Slot> {
        let vm = &self.vms[i];
        let slots: Vec<Slot> = (0..vm.disks.len()).map(|k| self.slot(i, k)).collect();
        if vm.generation == 1 {
            return slots.into_iter().filter(|s| s.0 == "IDE").min_by_key(|s| (s.1, s.2));
        }
        match self.boot_disk.get(&vm.id) {
            Some(path) => vm.disks.iter().position(|d| d == path).map(|k| slots[k].clone()),
            None => slots.into_iter().next(),
        }
    }

    /// The data-disk scripts, as Hyper-V would carry them out.
    pub(super) fn disk(&mut self, action: &str, p: &Value) -> Result<Outcome, Outcome> {
        let i = self.require(p)?;
        let slots: Vec<Slot> = (0..self.vms[i].disks.len()).map(|k| self.slot(i, k)).collect();
        let ids: Vec<String> = slots.iter().map(slot_id).collect();
        let root = self.boot_slot(i).map(|s| slot_id(&s));
        let size_of = |h: &Host, path: &str| h.disk_sizes.get(path).copied().unwrap_or(20);
        let wanted = p["disk"].as_str().unwrap_or("");
        let found = ids.iter().position(|id| id == wanted);
        let name = p["name"].as_str().unwrap_or("").to_string();
        Ok(match action {
            "list-disks" => {
                let rows: Vec<Value> = self.vms[i]
                    .disks
                    .iter()
                    .enumerate()
                    .map(|(k, path)| {
                        let id = &ids[k];
                        json!({"disk": id, "size_gb": size_of(self, path), "path": path,
                            "root": root.as_ref() == Some(id)})
                    })
                    .collect();
                (json!({"disks": rows}), 0)
            }
            "add-disk" => return self.add_disk(i, p, &slots, &ids),
            "resize-disk" => {
                let k = found.ok_or_else(|| err(format!("VM {name} has no disk {wanted}"), 3))?;
                let path = self.vms[i].disks[k].clone();
                if slots[k].0 == "IDE" && self.vms[i].state != "Off" {
                    return Err(err(
                        format!(
                            "disk {wanted} is on the IDE controller of a running VM: Hyper-V resizes an IDE disk only \
                             while its VM is off (a SCSI disk also while it runs); stop the instance first"
                        ),
                        6,
                    ));
                }
                let want = p["size_gb"].as_u64().unwrap_or(0);
                if want < size_of(self, &path) {
                    return Err(err(
                        format!("disk {wanted} has {} GiB; shrinking is refused", size_of(self, &path)),
                        6,
                    ));
                }
                self.disk_sizes.insert(path, want);
                (json!({"disk": wanted, "size_gb": want}), 0)
            }
            _ => {
                let Some(k) = found else {
                    return Err(err(
                        format!(
                            "VM {name} has no disk {wanted} (ListDisks shows its disks; a RemoveDisk that already succeeded finds nothing)"
                        ),
                        3,
                    ));
                };
                if root.as_deref() == Some(wanted) {
                    return Err(err(format!("disk {wanted} is the disk VM {name} boots from; it is not removed"), 6));
                }
                let path = self.vms[i].disks.remove(k);
                self.files.remove(&path);
                self.disk_sizes.remove(&path);
                self.disk_slots.remove(&path);
                self.disk_added.remove(&path);
                (json!({"removed": true, "path": path}), 0)
            }
        })
    }

    /// Add-VMHardDiskDrive without a controller: the first free IDE location on generation 1
    /// (refused while the VM runs; when all are taken, SCSI if the VM has a SCSI controller), the
    /// next SCSI location on 2.
    fn add_disk(&mut self, i: usize, p: &Value, slots: &[Slot], ids: &[String]) -> Result<Outcome, Outcome> {
        let size = p["size_gb"].as_u64().unwrap_or(0);
        let size_of = |h: &Host, path: &str| h.disk_sizes.get(path).copied().unwrap_or(20);
        let prefix = format!("{}-data", self.vms[i].name);
        let retry = self.vms[i].disks.iter().position(|d| {
            d.rsplit('\\').next().is_some_and(|l| l.starts_with(&prefix))
                && self.disk_added.get(d).is_some_and(|t| t.elapsed().as_secs() < 120)
                && size_of(self, d) == size
        });
        if let Some(k) = retry {
            return Ok((json!({"disk": ids[k], "path": self.vms[i].disks[k], "added": false}), 0));
        }
        let folder = p["storage"].as_str().unwrap_or("").trim_end_matches('\\').to_string();
        if !self.dirs.contains(&folder) {
            return Err(err(format!("Could not find a part of the path '{folder}'."), 2));
        }
        let slot: Slot = if self.vms[i].generation == 1 {
            if self.vms[i].state != "Off" {
                return Err(err(
                    "the disk could not be attached (a generation-1 VM hot-adds no IDE disk: stop it first)",
                    6,
                ));
            }
            let free = IDE_SLOTS.iter().find(|(n, l)| !slots.contains(&("IDE".into(), *n, *l)));
            match free {
                Some((n, l)) => ("IDE".into(), *n, *l),
                None if slots.iter().any(|s| s.0 == "SCSI") => {
                    let l = (0..).find(|l| !slots.contains(&("SCSI".into(), 0, *l))).unwrap_or(0);
                    ("SCSI".into(), 0, l)
                }
                None => return Err(err("the VM's IDE controllers have no free location (two each)", 2)),
            }
        } else {
            let l = (0..).find(|l| !slots.contains(&("SCSI".into(), 0, *l))).unwrap_or(0);
            ("SCSI".into(), 0, l)
        };
        let n = (1..).find(|n| !self.files.contains(&format!("{folder}\\{prefix}{n}.vhdx"))).unwrap_or(1);
        let path = format!("{folder}\\{prefix}{n}.vhdx");
        self.files.insert(path.clone());
        self.disk_sizes.insert(path.clone(), size);
        self.disk_slots.insert(path.clone(), slot.clone());
        self.disk_added.insert(path.clone(), std::time::Instant::now());
        self.vms[i].disks.push(path.clone());
        Ok((json!({"disk": slot_id(&slot), "path": path, "added": true}), 0))
    }
}
