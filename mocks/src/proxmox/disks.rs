//! Disks in a VM's configuration as qemu-server keeps them: pending changes, detached volumes,
//! the config digest. Sources (proxmox/qemu-server, PVE 9.2):
//!
//! - `src/PVE/API2/Qemu.pm`, `update_vm`: a `digest` that is not the config's own is refused
//!   ("checksum mismatch (file change by other user?)"); `delete` of an `unusedN` frees its
//!   volume at once; `delete` of a drive is queued as a pending delete, remembering `force`;
//!   setting a drive key that already holds a drive parks the old volume as `unusedN`
//!   (`vmconfig_register_unused_drive`); the queue is applied at once when the VM is not running
//!   or can hot-plug it (`vmconfig_hotplug_pending`), else at its next start.
//! - `src/PVE/QemuServer.pm`, `vmconfig_apply_pending` / `vmconfig_delete_or_detach_drive`: a
//!   pending delete with `force` destroys the volume (`try_deallocate_drive`), without it the
//!   volume becomes `unusedN`; `vm_start` applies pending changes first.
//! - `vm_config` (GET …/config) answers with pending values unless `current=1`; `vm_pending`
//!   (GET …/pending) lists `key`, `value`, `pending` and `delete` (2: a forced delete), as
//!   `PVE::GuestHelpers::config_with_pending_array` does.

use super::state::Vm;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A drive key (`scsi1`, `virtio0`, `ide2`, `sata0`, `efidisk0`...).
pub fn is_disk_key(k: &str) -> bool {
    ["scsi", "virtio", "sata", "ide", "efidisk", "tpmstate"]
        .iter()
        .any(|b| k.strip_prefix(b).is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())))
}

fn is_volume(v: &str) -> bool {
    !v.contains("media=cdrom") && v.split(',').next().is_some_and(|f| f.contains(':'))
}

/// The config digest: a SHA-1 over the config as it would be written (qemu-server's digest
/// is the SHA-1 of the config file; the mock's text differs, the property — any change gives
/// another digest — is the same).
pub fn digest(vm: &Vm) -> String {
    let mut text = String::new();
    for (k, v) in &vm.config {
        text.push_str(&format!("{k}: {v}\n"));
    }
    for (k, v) in &vm.pending {
        text.push_str(&format!("[PENDING] {k}: {v}\n"));
    }
    for (k, f) in &vm.pending_delete {
        text.push_str(&format!("[PENDING] delete: {}{k}\n", if *f { "!" } else { "" }));
    }
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parks a detached volume as the first free `unusedN`.
fn park(vm: &mut Vm, value: &str) {
    if !is_volume(value) {
        return;
    }
    let volume = value.split(',').next().unwrap_or("").to_string();
    let n = (0..).find(|n| !vm.config.contains_key(&format!("unused{n}"))).unwrap_or(0);
    vm.config.insert(format!("unused{n}"), volume);
}

/// Applies one queued delete of a drive: `force` destroys its volume, else it is parked.
fn delete_drive(vm: &mut Vm, key: &str, force: bool) {
    if let Some(old) = vm.config.remove(key) {
        if !force {
            park(vm, &old);
        }
    }
}

/// Applies every pending change (at start, or at once when nothing prevents it).
pub fn apply_pending(vm: &mut Vm) {
    for (key, force) in std::mem::take(&mut vm.pending_delete) {
        if is_disk_key(&key) {
            delete_drive(vm, &key, force);
        } else {
            vm.config.remove(&key);
        }
    }
    for (key, value) in std::mem::take(&mut vm.pending) {
        if let Some(old) = vm.config.insert(key.clone(), value.clone()) {
            if is_disk_key(&key) && old.split(',').next() != value.split(',').next() {
                park(vm, &old);
            }
        }
    }
}

/// Updates a VM's config from a `PUT|POST …/config` body (already validated). `hotplug`:
/// the running VM can take disk changes now.
pub fn update(vm: &mut Vm, vmid: u64, body: &BTreeMap<String, String>) -> Result<(), String> {
    if let Some(d) = body.get("digest") {
        if *d != digest(vm) {
            return Err("checksum mismatch (file change by other user?)".into());
        }
    }
    let force = body.get("force").is_some_and(|f| matches!(f.as_str(), "1" | "true" | "on" | "yes"));
    let hotplug = vm.config.get("hotplug").is_none_or(|h| h.split(',').any(|x| x == "disk" || x == "1"));
    let now = !vm.running || hotplug;
    for d in body.get("delete").into_iter().flat_map(|v| v.split([',', ';', ' '])).filter(|s| !s.is_empty()) {
        if d.starts_with("unused") {
            // Already detached: deleting the key frees the volume at once.
            vm.config.remove(d);
        } else if vm.config.contains_key(d) || vm.pending.contains_key(d) {
            vm.pending.remove(d);
            vm.pending_delete.insert(d.to_string(), force);
        }
    }
    for (k, val) in body {
        if matches!(k.as_str(), "digest" | "skiplock" | "background_delay" | "delete" | "force" | "tags") {
            continue;
        }
        let mut val = val.clone();
        if is_disk_key(k) {
            // `storage:32` allocates a volume (32 GiB).
            let mut parts = val.splitn(2, ',');
            let first = parts.next().unwrap_or("").to_string();
            let rest = parts.next().map(|r| format!(",{r}")).unwrap_or_default();
            if let Some((storage, size)) = first.split_once(':').filter(|(_, s)| s.chars().all(|c| c.is_ascii_digit()))
            {
                let n = (0..).find(|n| !uses_disk_number(vm, vmid, *n)).unwrap_or(0);
                val = format!("{storage}:vm-{vmid}-disk-{n},size={size}G{rest}");
            }
            vm.pending.insert(k.clone(), val);
        } else {
            vm.config.insert(k.clone(), val);
        }
    }
    if now {
        apply_pending(vm);
    }
    Ok(())
}

fn uses_disk_number(vm: &Vm, vmid: u64, n: u64) -> bool {
    let name = format!("vm-{vmid}-disk-{n}");
    vm.config.values().chain(vm.pending.values()).any(|v| v.split(',').next().is_some_and(|f| f.ends_with(&name)))
}

/// GET …/config: pending values merged in, unless `current`.
pub fn config_view(vm: &Vm, current: bool) -> BTreeMap<String, String> {
    let mut c = vm.config.clone();
    if !current {
        c.extend(vm.pending.clone());
    }
    c
}

/// GET …/pending.
pub fn pending_array(vm: &Vm) -> Value {
    let mut keys: Vec<&String> = vm.config.keys().chain(vm.pending.keys()).chain(vm.pending_delete.keys()).collect();
    keys.sort();
    keys.dedup();
    let rows: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let mut row = json!({"key": k});
            if let Some(v) = vm.config.get(k) {
                row["value"] = json!(v);
            }
            if let Some(v) = vm.pending.get(k) {
                row["pending"] = json!(v);
            }
            if let Some(force) = vm.pending_delete.get(k) {
                row["delete"] = json!(if *force { 2 } else { 1 });
            }
            row
        })
        .collect();
    Value::Array(rows)
}
