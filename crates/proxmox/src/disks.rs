//! Data disks as custom actions: `AddDisk`, `ListDisks`, `ResizeDisk`, `RemoveDisk`. Disks csx
//! adds are SCSI disks marked with `serial=csx<unix time>`; a retried `AddDisk` (same size and
//! storage, within two minutes of the last one csx added) answers with that disk instead of
//! adding a second one. The root disk is never removed, and no disk is shrunk.

use crate::actions::ProxmoxAction;
use crate::session::{Located, Session};
use csx_core::{CustomResult, Error, Params, Result};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// How long after `AddDisk` an identical one counts as its retry.
const RETRY_WINDOW_S: u64 = 120;

/// One disk of a VM config.
struct Disk {
    key: String,
    storage: String,
    volume: String,
    size_gb: u64,
    serial: Option<String>,
}

fn gib(size: &str) -> u64 {
    let (n, unit) = size.split_at(size.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(size.len()));
    let n: f64 = n.parse().unwrap_or(0.0);
    (match unit {
        "T" => n * 1024.0,
        "M" => n / 1024.0,
        "K" => n / 1024.0 / 1024.0,
        _ => n,
    })
    .ceil() as u64
}

fn disks(cfg: &Value) -> Vec<Disk> {
    let mut out: Vec<Disk> = cfg
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| {
            ["scsi", "virtio", "sata", "ide"]
                .iter()
                .any(|b| k.strip_prefix(b).is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())))
        })
        .filter_map(|(k, v)| {
            let v = v.as_str()?;
            if v.contains("media=cdrom") {
                return None;
            }
            let volume = v.split(',').next()?.to_string();
            let opt = |name: &str| v.split(',').find_map(|o| o.strip_prefix(name)).map(str::to_string);
            Some(Disk {
                key: k.clone(),
                storage: volume.split(':').next().unwrap_or("").to_string(),
                size_gb: opt("size=").map(|s| gib(&s)).unwrap_or(0),
                serial: opt("serial="),
                volume,
            })
        })
        .collect();
    out.sort_by_key(|d| (d.key.trim_end_matches(|c: char| c.is_ascii_digit()).to_string(), key_number(&d.key)));
    out
}

fn key_number(k: &str) -> u32 {
    k.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse().unwrap_or(0)
}

/// The boot disk: the first disk of the `boot` order, else `scsi0`/`virtio0`/the first one.
fn root_key(cfg: &Value, disks: &[Disk]) -> Option<String> {
    let order = cfg["boot"].as_str().unwrap_or("");
    let ordered = order.strip_prefix("order=").unwrap_or("").split(';').find(|k| disks.iter().any(|d| d.key == *k));
    ordered.map(str::to_string).or_else(|| disks.first().map(|d| d.key.clone()))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Runs one disk action on this instance's VM.
pub(crate) async fn run(s: &Session<'_>, action: ProxmoxAction, params: &Params) -> Result<CustomResult> {
    let l = s.unlocked(s.require().await?).await?;
    let cfg = s.client.get(&l.path("/config"), &[]).await?;
    let all = disks(&cfg);
    let root = root_key(&cfg, &all);
    match action {
        ProxmoxAction::ListDisks => Ok(CustomResult::Table(
            all.iter()
                .map(|d| {
                    let row = json!({"disk": d.key, "size_gb": d.size_gb, "storage": d.storage, "volume": d.volume,
                        "root": if Some(&d.key) == root.as_ref() { "yes" } else { "no" }});
                    row.as_object().cloned().unwrap_or_default()
                })
                .collect::<Vec<Map<String, Value>>>(),
        )),
        ProxmoxAction::AddDisk => add(s, &l, &all, root.as_deref(), params).await,
        ProxmoxAction::ResizeDisk => {
            let key = params.require_str("disk")?.trim().to_string();
            let want = csx_core::operator::disk_size(params)?;
            let d = all
                .iter()
                .find(|d| d.key == key)
                .ok_or_else(|| Error::not_found(format!("VM {} has no disk {key} (disks: {})", l.vmid, keys(&all))))?;
            if want < d.size_gb {
                return Err(Error::bad_input(format!(
                    "disk {key} has {} GiB; shrinking to {want} GiB is refused (no hypervisor shrinks a disk safely)",
                    d.size_gb
                )));
            }
            if want == d.size_gb {
                return Ok(CustomResult::Message(format!("Disk {key} already has {want} GiB")));
            }
            s.client
                .run_task(Method::PUT, &l.path("/resize"), &[("disk", key.clone()), ("size", format!("{want}G"))])
                .await?;
            Ok(CustomResult::Message(format!("Disk {key} of VM {} grown to {want} GiB", l.vmid)))
        }
        ProxmoxAction::RemoveDisk => {
            let key = params.require_str("disk")?.trim().to_string();
            if root.as_deref() == Some(key.as_str()) {
                return Err(Error::bad_input(format!(
                    "disk {key} is the root disk of VM {}; it is not removed",
                    l.vmid
                )));
            }
            let Some(d) = all.iter().find(|d| d.key == key) else {
                return Ok(CustomResult::Message(format!("VM {} has no disk {key}; nothing to remove", l.vmid)));
            };
            // Detaching leaves the volume as `unusedN`; deleting that destroys it.
            s.client.put(&l.path("/config"), &[("delete", key.clone())]).await?;
            let after = s.client.get(&l.path("/config"), &[]).await?;
            let unused: Vec<String> = after
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| k.starts_with("unused") && v.as_str() == Some(d.volume.as_str()))
                .map(|(k, _)| k.clone())
                .collect();
            if !unused.is_empty() {
                s.client.put(&l.path("/config"), &[("delete", unused.join(","))]).await?;
            }
            Ok(CustomResult::Message(format!("Disk {key} of VM {} removed with its volume {}", l.vmid, d.volume)))
        }
        _ => Err(Error::internal("not a disk action")),
    }
}

fn keys(all: &[Disk]) -> String {
    all.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
}

async fn add(s: &Session<'_>, l: &Located, all: &[Disk], root: Option<&str>, params: &Params) -> Result<CustomResult> {
    let size = csx_core::operator::disk_size(params)?;
    let root_storage = root.and_then(|r| all.iter().find(|d| d.key == r)).map(|d| d.storage.clone());
    let storage = match params.str("storage").map(str::trim).filter(|s| !s.is_empty()) {
        Some(st) => st.to_string(),
        None => root_storage
            .ok_or_else(|| Error::bad_input("VM has no root disk to take the storage from; give `storage`"))?,
    };
    // A retry of an AddDisk whose answer was lost finds the disk that one added.
    let recent = all.iter().filter(|d| d.size_gb == size && d.storage == storage).find(|d| {
        d.serial
            .as_deref()
            .and_then(|x| x.strip_prefix("csx"))
            .and_then(|t| t.parse::<u64>().ok())
            .is_some_and(|t| now().saturating_sub(t) < RETRY_WINDOW_S)
    });
    if let Some(d) = recent {
        return Ok(CustomResult::Message(format!(
            "Disk {} ({size} GiB on {storage}) was added less than {RETRY_WINDOW_S} s ago; not adding another",
            d.key
        )));
    }
    let key = (1..=30)
        .map(|n| format!("scsi{n}"))
        .find(|k| !all.iter().any(|d| d.key == *k))
        .ok_or_else(|| Error::bad_input(format!("VM {} has no free SCSI slot (scsi1-scsi30)", l.vmid)))?;
    let value = format!("{storage}:{size},serial=csx{}", now());
    s.client.put(&l.path("/config"), &[(key.as_str(), value)]).await?;
    let after = s.client.get(&l.path("/config"), &[]).await?;
    if after.get(&key).is_none() {
        return Ok(CustomResult::Message(format!(
            "Disk {key} ({size} GiB on {storage}) added; VM {} does not hot-plug disks (its `hotplug` option), so \
             it appears after the next stop and start",
            l.vmid
        )));
    }
    Ok(CustomResult::Message(format!("Disk {key} ({size} GiB on {storage}) added to VM {}", l.vmid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_disks() {
        let cfg = json!({"scsi0": "local-lvm:vm-101-disk-0,size=8G", "ide2": "local:iso/x.iso,media=cdrom",
            "scsi1": "ceph:vm-101-disk-1,size=1T,serial=csx1700000000", "boot": "order=scsi0;ide2;net0", "net0": "virtio"});
        let d = disks(&cfg);
        assert_eq!(d.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), ["scsi0", "scsi1"]);
        assert_eq!(d[1].size_gb, 1024);
        assert_eq!(d[1].storage, "ceph");
        assert_eq!(d[1].serial.as_deref(), Some("csx1700000000"));
        assert_eq!(root_key(&cfg, &d).as_deref(), Some("scsi0"));
        assert_eq!(gib("512M"), 1);
    }
}
