//! The fake's operator actions that need more than a line: its data disks and the
//! addresses its "guests" report (what CloudStack assigned).

use crate::{now, root_disk, FakeAction, FakeDisk, Instance};
use csx_core::operator;
use csx_core::{CustomResult, Error, Params, Result};

/// The parameters of the disk actions.
pub(crate) struct DiskArgs {
    pub(crate) size: Option<f64>,
    pub(crate) storage: Option<String>,
    pub(crate) disk: Option<String>,
}

pub(crate) fn disk_action(inst: &mut Instance, name: &str, action: FakeAction, a: &DiskArgs) -> Result<CustomResult> {
    if inst.disks.is_empty() {
        inst.disks.push(root_disk());
    }
    let size = || -> Result<u64> {
        let mut p = Params::default();
        if let Some(n) = a.size {
            p.0.insert("size_gb".into(), csx_core::ParamValue::Num(n));
        }
        operator::disk_size(&p)
    };
    let disk = || a.disk.clone().ok_or_else(|| Error::bad_input("parameter `disk` is required"));
    match action {
        FakeAction::ListDisks => Ok(CustomResult::Table(
            inst.disks
                .iter()
                .map(|d| {
                    let row = serde_json::json!({"disk": d.id, "size_gb": d.size_gb, "storage": d.storage,
                        "root": if d.root { "yes" } else { "no" }});
                    row.as_object().cloned().unwrap_or_default()
                })
                .collect(),
        )),
        FakeAction::AddDisk => {
            let size = size()?;
            let storage = a.storage.clone().unwrap_or_else(|| inst.disks[0].storage.clone());
            let t = now();
            if let Some(d) = inst
                .disks
                .iter()
                .find(|d| !d.root && d.size_gb == size && d.storage == storage && t.saturating_sub(d.added) < 120)
            {
                return Ok(CustomResult::Message(format!(
                    "Disk {} was added less than 120 s ago; not adding another",
                    d.id
                )));
            }
            let id =
                (1..).map(|n| format!("disk{n}")).find(|k| !inst.disks.iter().any(|d| d.id == *k)).unwrap_or_default();
            inst.disks.push(FakeDisk {
                id: id.clone(),
                size_gb: size,
                storage: storage.clone(),
                root: false,
                added: t,
            });
            Ok(CustomResult::Message(format!("Disk {id} ({size} GiB on {storage}) added to {name}")))
        }
        FakeAction::ResizeDisk => {
            let (id, want) = (disk()?, size()?);
            let d = inst
                .disks
                .iter_mut()
                .find(|d| d.id == id)
                .ok_or_else(|| Error::not_found(format!("{name} has no disk {id}")))?;
            if want < d.size_gb {
                return Err(Error::bad_input(format!(
                    "disk {id} has {} GiB; shrinking to {want} GiB is refused",
                    d.size_gb
                )));
            }
            d.size_gb = want;
            Ok(CustomResult::Message(format!("Disk {id} of {name} has {want} GiB")))
        }
        FakeAction::RemoveDisk => {
            let id = disk()?;
            match inst.disks.iter().position(|d| d.id == id) {
                Some(i) if inst.disks[i].root => {
                    Err(Error::bad_input(format!("disk {id} is the root disk of {name}; it is not removed")))
                }
                Some(i) => {
                    inst.disks.remove(i);
                    Ok(CustomResult::Message(format!("Disk {id} of {name} removed")))
                }
                None => Err(Error::not_found(format!(
                    "{name} has no disk {id} (ListDisks shows its disks; a RemoveDisk that already succeeded finds \
                     nothing)"
                ))),
            }
        }
        _ => Err(Error::internal("not a disk action")),
    }
}

/// The fake guest's addresses: what CloudStack assigned to each NIC (`csx_core::guest`).
pub(crate) fn address_rows(inst: &Instance) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut rows = Vec::new();
    for (i, n) in inst.nics.iter().enumerate() {
        let nic = format!("eth{i}");
        let v4_prefix = n.netmask.as_deref().and_then(csx_core::guest::prefix).or(Some(32));
        rows.extend(n.ip.as_deref().and_then(|ip| csx_core::guest::address_row(&nic, &n.mac, ip, v4_prefix)));
        rows.extend(n.ip6.as_deref().and_then(|ip| csx_core::guest::address_row(&nic, &n.mac, ip, Some(64))));
    }
    rows
}
