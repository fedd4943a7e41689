//! Data disks as custom actions: `AddDisk`, `ListDisks`, `ResizeDisk`, `RemoveDisk`. Disks csx
//! adds are SCSI disks marked with `serial=csx<unix time>`; a retried `AddDisk` (same size and
//! storage, within two minutes of the last one csx added) answers with that disk instead of
//! adding a second one. The root disk (the one the VM boots from) is never removed, and no disk
//! is shrunk.
//!
//! As qemu-server does it (src/PVE/API2/Qemu.pm `update_vm`, src/PVE/QemuServer.pm
//! `vmconfig_apply_pending`): a change a running VM cannot hot-plug stays *pending* until its
//! next start, so disks are read from `…/pending` and the answers say what is pending; a disk is
//! removed with `force=1`, so its volume is destroyed when the removal applies (never left as
//! `unusedN`); every write carries the config `digest`, and a write refused because another
//! change came first is made again on the fresh config (no concurrent change is lost).

use crate::client::ApiError;
use crate::declared::ProxmoxAction;
use crate::session::{Located, Session};
use csx_core::{CustomResult, Error, Params, Result};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// How long after `AddDisk` an identical one counts as its retry.
const RETRY_WINDOW_S: u64 = 120;
/// Writes made again after another change to the same config came first.
const DIGEST_ATTEMPTS: usize = 5;
const GIB: u64 = 1 << 30;

/// Where a disk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Attached,
    /// Added while the VM could not hot-plug it: attached at the next start.
    PendingAdd,
    /// Removal queued: detached (and its volume destroyed) at the next start.
    PendingRemoval,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Attached => "attached",
            State::PendingAdd => "pending: attached at the next stop and start",
            State::PendingRemoval => "pending: removed at the next stop and start",
        }
    }
}

/// One disk of a VM config.
struct Disk {
    key: String,
    storage: String,
    volume: String,
    bytes: u64,
    serial: Option<String>,
    state: State,
}

impl Disk {
    /// GiB as a JSON number: whole when whole, else with two decimals (1536M is 1.5).
    fn size_gb(&self) -> Value {
        if self.bytes.is_multiple_of(GIB) {
            json!(self.bytes / GIB)
        } else {
            json!((self.bytes as f64 / GIB as f64 * 100.0).round() / 100.0)
        }
    }
}

/// A `disk-size` (PVE::JSONSchema's format: a number with an optional K, M, G or T; a bare
/// number is bytes) in bytes.
fn bytes(size: &str) -> u64 {
    let (n, unit) = size.split_at(size.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(size.len()));
    let n: f64 = n.parse().unwrap_or(0.0);
    let mult = match unit {
        "K" => 1u64 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => 1,
    };
    (n * mult as f64).round() as u64
}

/// A drive key (`scsi1`, `virtio0`, `sata2`, `ide0`).
fn is_drive(k: &str) -> bool {
    ["ide", "scsi", "virtio", "sata"]
        .iter()
        .any(|b| k.strip_prefix(b).is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())))
}

fn parse(key: &str, value: &str, state: State) -> Option<Disk> {
    if value.contains("media=cdrom") {
        return None;
    }
    let volume = value.split(',').next()?.to_string();
    let opt = |name: &str| value.split(',').find_map(|o| o.strip_prefix(name)).map(str::to_string);
    Some(Disk {
        key: key.to_string(),
        storage: volume.split(':').next().unwrap_or("").to_string(),
        bytes: opt("size=").map(|s| bytes(&s)).unwrap_or(0),
        serial: opt("serial="),
        volume,
        state,
    })
}

/// The disks of a `…/pending` answer (rows of `key`, `value`, `pending`, `delete`), in
/// qemu-server's drive order (ide, scsi, virtio, sata).
fn disks(rows: &Value) -> Vec<Disk> {
    let mut out: Vec<Disk> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let key = r["key"].as_str().filter(|k| is_drive(k))?;
            let deleting = r["delete"].as_u64().unwrap_or(0) > 0;
            match (r["value"].as_str(), r["pending"].as_str()) {
                (_, Some(p)) if !deleting => {
                    parse(key, p, if r["value"].is_null() { State::PendingAdd } else { State::Attached })
                }
                (Some(v), _) => parse(key, v, if deleting { State::PendingRemoval } else { State::Attached }),
                _ => None,
            }
        })
        .collect();
    out.sort_by_key(|d| (drive_rank(&d.key), key_number(&d.key)));
    out
}

fn drive_rank(k: &str) -> usize {
    ["ide", "scsi", "virtio", "sata"].iter().position(|b| k.starts_with(b)).unwrap_or(9)
}

fn key_number(k: &str) -> u32 {
    k.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse().unwrap_or(0)
}

/// A config value from the `…/pending` rows (the current one).
fn current<'a>(rows: &'a Value, key: &str) -> Option<&'a str> {
    rows.as_array()?.iter().find(|r| r["key"] == key).and_then(|r| r["value"].as_str())
}

/// The disk the VM boots from, as qemu-server orders boot devices (`device_bootorder`): the
/// first disk of `boot: order=…`; with a legacy `boot` (or none), `bootdisk`; with neither,
/// the disk qemu-server selects itself (`resolve_first_disk`: ide, scsi, virtio, sata). `None`
/// when the boot order names no disk: then no disk can be called safe to remove.
fn root_key(rows: &Value, disks: &[Disk]) -> Option<String> {
    let present = |k: &str| disks.iter().any(|d| d.key == k && d.state != State::PendingAdd);
    let boot = current(rows, "boot").unwrap_or("");
    let order = boot.split(',').find_map(|o| o.strip_prefix("order="));
    if let Some(order) = order {
        return order.split(';').find(|k| present(k)).map(str::to_string);
    }
    if let Some(b) = current(rows, "bootdisk").filter(|b| present(b)) {
        return Some(b.to_string());
    }
    disks.iter().find(|d| d.state != State::PendingAdd).map(|d| d.key.clone())
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Runs one disk action on this instance's VM.
pub(crate) async fn run(s: &Session<'_>, action: ProxmoxAction, params: &Params) -> Result<CustomResult> {
    let l = s.unlocked(s.require().await?).await?;
    let rows = s.client.get(&l.path("/pending"), &[]).await?;
    let all = disks(&rows);
    let root = root_key(&rows, &all);
    match action {
        ProxmoxAction::ListDisks => Ok(CustomResult::Table(
            all.iter()
                .map(|d| {
                    let row = json!({"disk": d.key, "size_gb": d.size_gb(), "storage": d.storage, "volume": d.volume,
                        "root": if Some(&d.key) == root.as_ref() { "yes" } else { "no" }, "state": d.state.as_str()});
                    row.as_object().cloned().unwrap_or_default()
                })
                .collect::<Vec<Map<String, Value>>>(),
        )),
        ProxmoxAction::AddDisk => add(s, &l, params).await,
        ProxmoxAction::ResizeDisk => {
            let key = params.require_str("disk")?.trim().to_string();
            let want = csx_core::operator::disk_size(params)?;
            let d = all
                .iter()
                .find(|d| d.key == key)
                .ok_or_else(|| Error::not_found(format!("VM {} has no disk {key} (disks: {})", l.vmid, keys(&all))))?;
            if d.state != State::Attached {
                return Err(Error::bad_input(format!(
                    "disk {key} of VM {} is {}; resize it after that",
                    l.vmid,
                    d.state.as_str()
                )));
            }
            if want * GIB < d.bytes {
                return Err(Error::bad_input(format!(
                    "disk {key} has {} GiB; shrinking to {want} GiB is refused (no hypervisor shrinks a disk safely)",
                    d.size_gb()
                )));
            }
            if want * GIB == d.bytes {
                return Ok(CustomResult::Message(format!("Disk {key} already has {want} GiB")));
            }
            s.client
                .run_task(Method::PUT, &l.path("/resize"), &[("disk", key.clone()), ("size", format!("{want}G"))])
                .await?;
            Ok(CustomResult::Message(format!("Disk {key} of VM {} grown to {want} GiB", l.vmid)))
        }
        ProxmoxAction::RemoveDisk => remove(s, &l, &all, root.as_deref(), params).await,
        _ => Err(Error::internal("not a disk action")),
    }
}

fn keys(all: &[Disk]) -> String {
    all.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
}

/// A config write that carries the digest of the config it was decided on (`fresh` reads the
/// config again and decides again): when another change came first, Proxmox refuses it and it
/// is decided and made again, at most [`DIGEST_ATTEMPTS`] times. A refusal with the digest
/// still current is the write's own failure.
async fn write_with_digest<F, Fut>(s: &Session<'_>, l: &Located, mut decide: F) -> Result<Option<String>>
where
    F: FnMut(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Option<(Vec<(String, String)>, String)>>>,
{
    for _ in 0..DIGEST_ATTEMPTS {
        let cfg = s.client.get(&l.path("/config"), &[]).await?;
        let digest = cfg["digest"].as_str().unwrap_or("").to_string();
        let Some((mut form, what)) = decide(cfg).await? else { return Ok(None) };
        form.push(("digest".into(), digest.clone()));
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        match s.client.put(&l.path("/config"), &form).await {
            Ok(_) => return Ok(Some(what)),
            Err(e @ ApiError::Status { .. }) => {
                let now = s.client.get(&l.path("/config"), &[]).await?;
                if now["digest"].as_str() == Some(digest.as_str()) {
                    return Err(e.into());
                }
                tracing::info!("VM {}: the config changed under this write; deciding again", l.vmid);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::conflict(format!(
        "VM {}'s configuration kept changing under this request ({DIGEST_ATTEMPTS} attempts); try again",
        l.vmid
    )))
}

/// The state `key` is in after a write, from `…/pending`.
async fn state_of(s: &Session<'_>, l: &Located, key: &str) -> Result<Option<State>> {
    let rows = s.client.get(&l.path("/pending"), &[]).await?;
    Ok(disks(&rows).into_iter().find(|d| d.key == key).map(|d| d.state))
}

async fn add(s: &Session<'_>, l: &Located, params: &Params) -> Result<CustomResult> {
    let size = csx_core::operator::disk_size(params)?;
    let given = params.str("storage").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let retry: std::sync::Mutex<Option<String>> = Default::default();
    let decide = |cfg: Value| {
        let given = given.clone();
        let retry = &retry;
        async move {
            // The config view carries pending values: a pending disk occupies its slot too.
            let rows: Vec<Value> =
                cfg.as_object().into_iter().flatten().map(|(k, v)| json!({"key": k, "value": v})).collect();
            let rows = Value::Array(rows);
            let all = disks(&rows);
            let root = root_key(&rows, &all);
            let storage = match given {
                Some(st) => st,
                None => root
                    .and_then(|r| all.iter().find(|d| d.key == r))
                    .map(|d| d.storage.clone())
                    .ok_or_else(|| Error::bad_input("VM has no root disk to take the storage from; give `storage`"))?,
            };
            // A retry of an AddDisk whose answer was lost finds the disk that one added.
            let recent = all.iter().filter(|d| d.bytes == size * GIB && d.storage == storage).find(|d| {
                d.serial
                    .as_deref()
                    .and_then(|x| x.strip_prefix("csx"))
                    .and_then(|t| t.parse::<u64>().ok())
                    .is_some_and(|t| now().saturating_sub(t) < RETRY_WINDOW_S)
            });
            if let Some(d) = recent {
                *retry.lock().unwrap_or_else(|e| e.into_inner()) = Some(d.key.clone());
                return Ok(None);
            }
            let key = (1..=30)
                .map(|n| format!("scsi{n}"))
                .find(|k| cfg.get(k).is_none())
                .ok_or_else(|| Error::bad_input(format!("VM {} has no free SCSI slot (scsi1-scsi30)", l.vmid)))?;
            let value = format!("{storage}:{size},serial=csx{}", now());
            let what = format!("{key} ({size} GiB on {storage})");
            Ok(Some((vec![(key, value)], what)))
        }
    };
    let Some(what) = write_with_digest(s, l, decide).await? else {
        let key = retry.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
        return Ok(CustomResult::Message(format!(
            "Disk {key} ({size} GiB) was added less than {RETRY_WINDOW_S} s ago; not adding another"
        )));
    };
    let key = what.split(' ').next().unwrap_or("").to_string();
    Ok(CustomResult::Message(match state_of(s, l, &key).await? {
        Some(State::PendingAdd) => format!(
            "Disk {what} added; VM {} does not hot-plug disks (its `hotplug` option), so it is pending: attached \
             at the next stop and start",
            l.vmid
        ),
        _ => format!("Disk {what} added to VM {}", l.vmid),
    }))
}

async fn remove(
    s: &Session<'_>,
    l: &Located,
    all: &[Disk],
    root: Option<&str>,
    params: &Params,
) -> Result<CustomResult> {
    let key = params.require_str("disk")?.trim().to_string();
    let Some(d) = all.iter().find(|d| d.key == key) else {
        return Err(Error::not_found(format!(
            "VM {} has no disk {key} (disks: {}; a RemoveDisk that already succeeded finds nothing)",
            l.vmid,
            keys(all)
        )));
    };
    match root {
        Some(r) if r == key => {
            return Err(Error::bad_input(format!("disk {key} is the disk VM {} boots from; it is not removed", l.vmid)))
        }
        None => {
            return Err(Error::bad_input(format!(
                "VM {}'s boot order names no disk, so csx cannot tell which disk holds its system; no disk is \
                 removed (set `boot: order=` on the VM)",
                l.vmid
            )))
        }
        _ => {}
    }
    if d.state == State::PendingRemoval {
        return Ok(CustomResult::Message(format!(
            "Disk {key} of VM {} is already {}; its volume {} is destroyed then",
            l.vmid,
            d.state.as_str(),
            d.volume
        )));
    }
    let decide = |cfg: Value| {
        let key = key.clone();
        async move {
            Ok(cfg
                .get(&key)
                .is_some()
                .then(|| (vec![("delete".into(), key.clone()), ("force".into(), "1".into())], key)))
        }
    };
    write_with_digest(s, l, decide).await?;
    Ok(CustomResult::Message(match state_of(s, l, &key).await? {
        Some(State::PendingRemoval) => format!(
            "Disk {key} of VM {}: removal pending (the VM does not hot-plug disks); the disk is detached and its \
             volume {} destroyed at the next stop and start",
            l.vmid, d.volume
        ),
        _ => format!("Disk {key} of VM {} removed with its volume {}", l.vmid, d.volume),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_disks_and_sizes_exactly() {
        let rows = json!([
            {"key": "scsi0", "value": "local-lvm:vm-101-disk-0,size=8G"},
            {"key": "ide2", "value": "local:iso/x.iso,media=cdrom"},
            {"key": "scsi1", "value": "ceph:vm-101-disk-1,size=1536M,serial=csx1700000000"},
            {"key": "scsi2", "pending": "ceph:vm-101-disk-2,size=2G"},
            {"key": "scsi3", "value": "ceph:vm-101-disk-3,size=1073741824", "delete": 2},
            {"key": "boot", "value": "order=scsi0;ide2;net0"}, {"key": "net0", "value": "virtio"}]);
        let d = disks(&rows);
        assert_eq!(d.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), ["scsi0", "scsi1", "scsi2", "scsi3"]);
        assert_eq!(d[1].size_gb(), json!(1.5), "1536M is 1.5 GiB");
        assert_eq!(d[3].size_gb(), json!(1), "a bare number is bytes");
        assert_eq!((d[2].state, d[3].state), (State::PendingAdd, State::PendingRemoval));
        assert_eq!(d[1].serial.as_deref(), Some("csx1700000000"));
        assert_eq!(root_key(&rows, &d).as_deref(), Some("scsi0"));
    }

    #[test]
    fn the_boot_disk_as_qemu_server_orders_it() {
        let rows = |boot: Value| {
            let mut r = vec![
                json!({"key": "scsi0", "value": "local-lvm:vm-1-disk-0,size=8G"}),
                json!({"key": "virtio0", "value": "local-lvm:vm-1-disk-1,size=32G"}),
            ];
            if let Some(b) = boot.as_object() {
                for (k, v) in b {
                    r.push(json!({"key": k, "value": v}));
                }
            }
            Value::Array(r)
        };
        let root = |b: Value| {
            let r = rows(b);
            root_key(&r, &disks(&r))
        };
        assert_eq!(root(json!({"bootdisk": "virtio0"})).as_deref(), Some("virtio0"), "legacy bootdisk");
        assert_eq!(root(json!({"boot": "cdn", "bootdisk": "virtio0"})).as_deref(), Some("virtio0"));
        assert_eq!(root(json!({"boot": "order=virtio0;scsi0"})).as_deref(), Some("virtio0"));
        assert_eq!(root(json!({})).as_deref(), Some("scsi0"), "qemu-server's own choice: scsi before virtio");
        assert_eq!(root(json!({"boot": "order=net0"})), None, "no disk in the order: in doubt");
    }
}
