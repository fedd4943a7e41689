//! csx-proxmox: a Proxmox VE API client (JSON answers read leniently, errors typed) and the
//! csx `Backend` built on it.
//!
//! A drop-in successor to CloudStack's built-in Proxmox extension: the same
//! configuration keys and custom actions, with what the built-in gets wrong
//! fixed (VMID races, cleanup of foreign VMs, idempotence, migrated VMs, HA,
//! console host, linked clones, task polling).

mod client;
mod config;

pub use client::{error_text, seg, ApiError, ApiResult, Client};
pub use config::{api_base, check_snapshot_name, is_dns_name, Auth, Connection};
pub use csx_tls::{parse_fingerprint, Trust};

use client::{as_bool, as_u64};
use csx_core::identity::{self, Ownership, OWNER_MARK};
use csx_core::{
    async_trait, Backend, Console, CustomAction, CustomActionSpec, CustomResult, Error, Outcome, ParamType, Params,
    Payload, Pick, PowerState, Prepared, Request, Result, Vlan,
};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;

/// Tag prefix recording the owning CloudStack instance's uuid (`csx-owner.<uuid>`).
/// Tags come back from `status/current` and `/cluster/resources`, so ownership and
/// the instance name cost no request of their own.
pub const TAG_OWNER: &str = "csx-owner.";
/// Tag prefix recording the CloudStack internal instance name (`csx-name.i-2-60-VM`),
/// the key `statuses` reports the VM under whatever the VM is called.
pub const TAG_NAME: &str = "csx-name.";

/// The built-in extension's custom actions, names and parameters unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxmoxAction {
    ListSnapshots,
    CreateSnapshot,
    RestoreSnapshot,
    DeleteSnapshot,
}

impl CustomAction for ProxmoxAction {
    const ALL: &'static [Self] =
        &[Self::ListSnapshots, Self::CreateSnapshot, Self::RestoreSnapshot, Self::DeleteSnapshot];

    fn spec(self) -> CustomActionSpec {
        match self {
            Self::ListSnapshots => CustomActionSpec::new("ListSnapshots", "list the VM's snapshots as a table"),
            Self::CreateSnapshot => CustomActionSpec::new("CreateSnapshot", "take a snapshot")
                .param("snap_name", ParamType::String, true, "2-40 letters, digits, _ or -, starting with a letter")
                .param("snap_description", ParamType::String, false, "free text")
                .param("snap_save_memory", ParamType::Boolean, false, "include the RAM state"),
            Self::RestoreSnapshot => CustomActionSpec::new(
                "RestoreSnapshot",
                "roll back to a snapshot and start the VM",
            )
            .param("snap_name", ParamType::String, true, "snapshot name"),
            Self::DeleteSnapshot => CustomActionSpec::new("DeleteSnapshot", "delete a snapshot").param(
                "snap_name",
                ParamType::String,
                true,
                "snapshot name",
            ),
        }
    }
}

/// The declarations of [`ProxmoxAction`], for the binary's `--help` and dispatch.
pub fn custom_actions() -> Vec<CustomActionSpec> {
    ProxmoxAction::specs()
}

/// The Proxmox backend: configuration read from the payload, no I/O until an action runs.
#[derive(Debug, Clone)]
pub struct ProxmoxBackend {
    conn: Connection,
}

/// Where a VM is and what state it is in.
#[derive(Debug, Clone)]
struct Located {
    node: String,
    vmid: u64,
    running: bool,
    ha: bool,
    lock: Option<String>,
}

impl Located {
    fn path(&self, rest: &str) -> String {
        format!("/nodes/{}/qemu/{}{rest}", seg(&self.node), self.vmid)
    }
}

/// One action's session: the client plus the request.
struct Session<'a> {
    client: Client,
    node: &'a str,
    req: &'a Request,
}

impl ProxmoxBackend {
    pub fn from_payload(p: &Payload) -> Result<Self> {
        Ok(ProxmoxBackend { conn: Connection::from_payload(p)? })
    }

    fn session<'a>(&'a self, req: &'a Request) -> Result<Session<'a>> {
        Ok(Session { client: Client::new(&self.conn, req.deadline)?, node: &self.conn.node, req })
    }
}

/// The VM name in Proxmox: detail `vm_name`, else the CloudStack instance name.
fn vm_name(p: &Payload) -> Result<String> {
    let name = match p.detail("vm_name") {
        Some(n) => n.to_string(),
        None => p.require_instance_name()?.to_string(),
    };
    if !is_dns_name(&name) {
        return Err(Error::bad_input(format!(
            "VM name {name:?} is not a valid Proxmox VM name (letters, digits and inner `-`, dot-separated); set detail `vm_name`"
        )));
    }
    Ok(name)
}

/// The VMID reserved by `prepare` (`proxmox_vmid`), if any.
fn vmid_hint(p: &Payload) -> Result<Option<u64>> {
    match p.vm_detail("proxmox_vmid").or_else(|| p.detail("proxmox_vmid")) {
        None => Ok(None),
        Some(s) => s.parse::<u64>().ok().filter(|id| (100..=999_999_999).contains(id)).map(Some).ok_or_else(|| {
            Error::bad_input(format!("detail `proxmox_vmid` must be a VMID (100-999999999), found {s:?}"))
        }),
    }
}

fn owner_mark(p: &Payload) -> Option<String> {
    p.instance_uuid().map(|u| format!("{OWNER_MARK}{u}"))
}

/// The tags of a VM as `status/current`, `/cluster/resources` or its config give them.
fn tags(v: &Value) -> impl Iterator<Item = &str> {
    v["tags"].as_str().unwrap_or("").split([';', ',', ' ']).filter(|t| !t.is_empty())
}

/// The value of the first tag with `prefix`.
fn tag<'a>(v: &'a Value, prefix: &str) -> Option<&'a str> {
    tags(v).find_map(|t| t.strip_prefix(prefix)).filter(|t| !t.is_empty())
}

/// A valid Proxmox tag (`pve-tag`: letters, digits, `_`, then also `-`, `+`, `.`).
fn is_tag(t: &str) -> bool {
    let mut b = t.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || b"_-+.".contains(&c))
}

/// The tags a VM of this instance carries: the template's own tags (csx's removed),
/// the owner uuid and the instance name. An instance name that cannot be a tag is
/// refused: `statuses` could not report the VM under it.
fn our_tags(p: &Payload, existing: &Value) -> Result<String> {
    let name = p.require_instance_name()?;
    let mut out: Vec<String> =
        tags(existing).filter(|t| !t.starts_with(TAG_OWNER) && !t.starts_with(TAG_NAME)).map(str::to_string).collect();
    if let Some(u) = p.instance_uuid() {
        out.push(format!("{TAG_OWNER}{}", u.to_ascii_lowercase()));
    }
    out.push(format!("{TAG_NAME}{name}"));
    match out.iter().find(|t| !is_tag(t)) {
        Some(t) => Err(Error::bad_input(format!(
            "the instance name or uuid cannot be recorded as the Proxmox tag {t:?} (letters, digits, `_`, `-`, `+`, `.`)"
        ))),
        None => Ok(out.join(";")),
    }
}

impl<'a> Session<'a> {
    fn payload(&self) -> &Payload {
        &self.req.payload
    }

    async fn current(&self, node: &str, vmid: u64) -> ApiResult<Value> {
        self.client.get(&format!("/nodes/{}/qemu/{vmid}/status/current", seg(node)), &[]).await
    }

    fn located(node: &str, vmid: u64, st: &Value) -> Located {
        Located {
            node: node.to_string(),
            vmid,
            running: st["status"].as_str() == Some("running"),
            ha: as_bool(&st["ha"]["managed"]),
            lock: st["lock"].as_str().map(str::to_string),
        }
    }

    /// Whose VM this is: its owner tag, else (a VM made before tags, or by the built-in)
    /// the owner mark in its description, one more request.
    async fn ownership_of(&self, node: &str, vmid: u64, v: &Value) -> Result<Ownership> {
        let ours = self.payload().instance_uuid();
        if let Some(owner) = tag(v, TAG_OWNER) {
            return Ok(identity::ownership(Some(owner), ours));
        }
        let cfg = self.client.get(&format!("/nodes/{}/qemu/{vmid}/config", seg(node)), &[]).await?;
        Ok(identity::ownership(identity::find_mark(cfg["description"].as_str().unwrap_or(""), OWNER_MARK), ours))
    }

    /// True when the VM `v` (a `status/current` or `/cluster/resources` entry) goes by this
    /// instance's names: the VM name csx gives it, or the instance name it records.
    fn named_ours(&self, v: &Value, name: &str) -> bool {
        !as_bool(&v["template"])
            && (v["name"].as_str() == Some(name)
                || tag(v, TAG_NAME).is_some_and(|t| Some(t) == self.payload().instance_name()))
    }

    /// Finds this instance's VM under the one ownership rule ([`identity::pick`]): one
    /// request when the reserved VMID is on the configured node and is ours; otherwise a
    /// cluster-wide search (a VM migrated to another node is still found). Another
    /// instance's VM with the same name is never taken for ours.
    async fn locate(&self) -> Result<Pick<Located>> {
        let name = vm_name(self.payload())?;
        if let Some(vmid) = vmid_hint(self.payload())? {
            match self.current(self.node, vmid).await {
                Ok(st) if self.named_ours(&st, &name) => match self.ownership_of(self.node, vmid, &st).await? {
                    Ownership::Mine | Ownership::Unmarked => {
                        return Ok(Pick::Mine(Self::located(self.node, vmid, &st)))
                    }
                    Ownership::Foreign(_) => {
                        tracing::info!("VMID {vmid} belongs to another CloudStack instance; searching the cluster")
                    }
                },
                Ok(_) => tracing::info!("VMID {vmid} on {} is not {name}; searching the cluster by name", self.node),
                // Proxmox answers 500 when the config file is not on that node: search the cluster.
                Err(e) if e.status() == Some(500) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let all = self.client.get("/cluster/resources", &[("type", "vm".into())]).await?;
        let mut candidates = Vec::new();
        for r in all.as_array().into_iter().flatten() {
            if r["type"].as_str() != Some("qemu") || !self.named_ours(r, &name) {
                continue;
            }
            let (Some(node), Some(vmid)) = (r["node"].as_str(), as_u64(&r["vmid"])) else { continue };
            let own = self.ownership_of(node, vmid, r).await?;
            candidates.push(((node.to_string(), vmid), own));
        }
        let (node, vmid) = match identity::pick(candidates, |(n, id)| format!("{id} on {n}"))? {
            Pick::Mine(found) => found,
            Pick::Foreign(u) => return Ok(Pick::Foreign(u)),
            Pick::Missing => return Ok(Pick::Missing),
        };
        // /cluster/resources can lag: read the exact state from the node.
        let st = self.current(&node, vmid).await?;
        Ok(Pick::Mine(Self::located(&node, vmid, &st)))
    }

    /// This instance's VM, or `not_found` / `conflict` (another instance's VM).
    /// The same session with a deadline that keeps time to undo the work (a create).
    fn for_work(&self) -> Session<'a> {
        Session { client: self.client.until(self.req.work_deadline()), node: self.node, req: self.req }
    }

    async fn require(&self) -> Result<Located> {
        let what = format!("Proxmox VM {}", vm_name(self.payload()).unwrap_or_default());
        self.locate().await?.require(&what)
    }

    /// After a power task of an HA-managed VM, wait until the VM really is in `running`.
    async fn settle(&self, l: &Located, running: bool) -> Result<()> {
        if !l.ha {
            return Ok(());
        }
        let late = || {
            let what = if running { "start" } else { "stop" };
            Error::timeout(format!("HA did not {what} VM {} before the deadline", l.vmid))
        };
        let check = || async {
            let st = self.current(&l.node, l.vmid).await?;
            Ok::<_, Error>(((st["status"].as_str() == Some("running")) == running).then_some(()))
        };
        csx_core::poll::until(self.client.deadline(), check, late).await
    }

    /// Waits for a lock left by an earlier, interrupted operation (clone, create).
    async fn unlocked(&self, l: Located) -> Result<Located> {
        let Some(lock) = l.lock.clone() else { return Ok(l) };
        let late = || Error::timeout(format!("VM {} is still locked ({lock}) at the deadline", l.vmid));
        let check = || async {
            let st = self.current(&l.node, l.vmid).await?;
            let now = Self::located(&l.node, l.vmid, &st);
            Ok::<_, Error>(now.lock.is_none().then_some(now))
        };
        csx_core::poll::until(self.client.deadline(), check, late).await
    }

    async fn power(&self, l: &Located, on: bool) -> Result<()> {
        let (path, params): (&str, Vec<(&str, String)>) = if on {
            ("/status/start", vec![])
        } else if self.payload().detail("stop_mode").is_some_and(|m| m.eq_ignore_ascii_case("shutdown")) {
            let t = self.payload().detail_u64("stop_timeout")?.unwrap_or(60);
            ("/status/shutdown", vec![("forceStop", "1".into()), ("timeout", t.to_string())])
        } else {
            ("/status/stop", vec![])
        };
        self.client.run_task(Method::POST, &l.path(path), &params).await?;
        self.settle(l, on).await
    }

    /// Stops (if needed) and destroys a VM with its disks and HA/replication references.
    async fn destroy(&self, l: &Located) -> Result<()> {
        self.destroy_with(l, false).await
    }

    /// [`Session::destroy`]; `always_stop` also stops a VM that looks stopped (a start
    /// whose answer was lost may still be on its way).
    async fn destroy_with(&self, l: &Located, always_stop: bool) -> Result<()> {
        if l.running || always_stop {
            self.client.run_task(Method::POST, &l.path("/status/stop"), &[]).await?;
            self.settle(l, false).await?;
        }
        let params = [("purge", "1".to_string()), ("destroy-unreferenced-disks", "1".to_string())];
        Ok(self.client.run_task(Method::DELETE, &l.path(""), &params).await?)
    }

    /// True when `id` is free now (`/cluster/nextid?vmid=` answers 400 when it is taken).
    async fn is_free(&self, id: u64) -> Result<bool> {
        match self.client.get("/cluster/nextid", &[("vmid", id.to_string())]).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(400) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A VMID that is free now: `want` if free, else Proxmox's next free id.
    async fn free_vmid(&self, want: Option<u64>) -> Result<u64> {
        if let Some(id) = want {
            if self.is_free(id).await? {
                return Ok(id);
            }
        }
        let v = self.client.get("/cluster/nextid", &[]).await?;
        as_u64(&v).ok_or_else(|| Error::remote(format!("Proxmox returned no free VMID: {v}")))
    }

    /// After losing a race: a free VMID a little above Proxmox's next free id, at a
    /// spread that concurrent deploys are unlikely to share.
    async fn spread_vmid(&self, attempt: u64) -> Result<u64> {
        let base = self.free_vmid(None).await?;
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let spread = (u64::from(seed) ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9)) % (16 * attempt);
        let candidate = base + spread;
        if candidate != base && self.is_free(candidate).await? {
            return Ok(candidate);
        }
        Ok(base)
    }

    /// Hardware settings for CloudStack's offering and NICs (net0.. by deviceId order);
    /// template NICs beyond CloudStack's are deleted.
    fn hardware(&self, existing_nets: &[String]) -> Result<Vec<(&'static str, String)>> {
        let p = self.payload();
        let mut out = vec![("cores", p.cpus().to_string()), ("sockets", "1".to_string())];
        if let Some(mib) = p.ram_mib() {
            out.push(("memory", mib.max(16).to_string()));
        }
        let nets = self.nets()?;
        let mut delete: Vec<&str> =
            existing_nets.iter().map(String::as_str).filter(|k| !nets.iter().any(|(n, _)| n == k)).collect();
        delete.sort_unstable();
        out.extend(nets);
        if !delete.is_empty() {
            out.push(("delete", delete.join(",")));
        }
        Ok(out)
    }

    fn nets(&self) -> Result<Vec<(&'static str, String)>> {
        let p = self.payload();
        let nics = p.nics();
        if nics.is_empty() {
            return Ok(vec![]);
        }
        if nics.len() > NET_KEYS.len() {
            return Err(Error::bad_input(format!(
                "Proxmox VMs have at most {} NICs; this instance has {}",
                NET_KEYS.len(),
                nics.len()
            )));
        }
        let bridge = p.require_detail("network_bridge")?;
        let model = p.detail("nic_model").unwrap_or("virtio");
        let firewall = if p.detail_bool("nic_firewall", false)? { "1" } else { "0" };
        nics.iter()
            .enumerate()
            .map(|(i, nic)| {
                let mut v = match &nic.mac {
                    Some(mac) => format!("{model}={mac}"),
                    None => model.to_string(),
                };
                v.push_str(&format!(",bridge={bridge}"));
                if let Vlan::Tagged(tag) = nic.vlan()? {
                    v.push_str(&format!(",tag={tag}"));
                }
                v.push_str(&format!(",firewall={firewall}"));
                if let Some(mtu) = nic.mtu.filter(|m| *m > 0 && *m != 1500) {
                    v.push_str(&format!(",mtu={mtu}"));
                }
                Ok((NET_KEYS[i], v))
            })
            .collect()
    }

    fn description(&self) -> String {
        let p = self.payload();
        let mut d = format!(
            "Managed by Apache CloudStack (csx proxmox extension). Instance {}.",
            p.instance_name().unwrap_or("?")
        );
        if let Some(mark) = owner_mark(p) {
            d.push(' ');
            d.push_str(&mark);
        }
        d
    }

    /// After a failed create: removes the VM at `vmid` if this create made it (our
    /// name and owner mark), once any clone lock is gone. `None` when there is no
    /// such VM (nothing was made, or the VMID went to someone else).
    async fn remove_own(&self, vmid: u64, name: &str) -> Option<Result<()>> {
        let st = self.current(self.node, vmid).await.ok().filter(|st| st["name"].as_str() == Some(name))?;
        let l = Self::located(self.node, vmid, &st);
        let cfg = self.client.get(&l.path("/config"), &[]).await.ok()?;
        // Without an instance uuid there is no mark; the name at the VMID we used is ours.
        if owner_mark(self.payload()).is_some_and(|m| !cfg["description"].as_str().unwrap_or("").contains(&m)) {
            return None;
        }
        Some(match self.unlocked(l).await {
            Ok(l) => self.destroy_with(&l, true).await,
            Err(e) => Err(e),
        })
    }

    /// Makes the VM at `vmid`: a clone of `template_id`, or a new VM booting `iso_path`.
    async fn make(&self, vmid: u64, name: &str) -> Result<()> {
        let p = self.payload();
        let node_path = format!("/nodes/{}/qemu", seg(self.node));
        let iso = p.detail("template_type").is_some_and(|t| t.eq_ignore_ascii_case("iso"));
        let storage = p.detail("storage");
        if iso {
            let iso_path = p.require_detail("iso_path")?;
            let disk_gb = p.detail_u64("disk_size_gb")?.unwrap_or(64);
            let mut params = vec![
                ("vmid", vmid.to_string()),
                ("name", name.to_string()),
                ("description", self.description()),
                ("ide2", format!("{iso_path},media=cdrom")),
                ("ostype", p.detail("iso_os_type").unwrap_or("l26").to_string()),
                ("scsihw", "virtio-scsi-single".to_string()),
                ("scsi0", format!("{}:{disk_gb},iothread=1", storage.unwrap_or("local-lvm"))),
                ("boot", "order=scsi0;ide2;net0".to_string()),
                ("tags", our_tags(p, &Value::Null)?),
            ];
            params.extend(self.hardware(&[])?);
            return Ok(self.client.run_task(Method::POST, &node_path, &params).await?);
        }
        let template = p.require_detail("template_id")?;
        let template: u64 = template
            .parse()
            .map_err(|_| Error::bad_input(format!("detail `template_id` must be a VMID, found {template:?}")))?;
        let full = p.detail_bool("is_full_clone", false)?;
        let mut params =
            vec![("newid", vmid.to_string()), ("name", name.to_string()), ("description", self.description())];
        params.push(("full", if full { "1" } else { "0" }.to_string()));
        if full {
            // Proxmox rejects `storage` for linked clones: send it only with full=1.
            if let Some(s) = storage {
                params.push(("storage", s.to_string()));
            }
        }
        self.client.run_task(Method::POST, &format!("{node_path}/{template}/clone"), &params).await?;
        let l = Located { node: self.node.to_string(), vmid, running: false, ha: false, lock: None };
        let cfg = self.client.get(&l.path("/config"), &[]).await?;
        let mut settings = self.hardware(&net_keys(&cfg))?;
        settings.push(("tags", our_tags(p, &cfg)?));
        self.client.put(&l.path("/config"), &settings).await?;
        Ok(())
    }
}

/// The `netN` keys of a VM config.
fn net_keys(cfg: &Value) -> Vec<String> {
    cfg.as_object()
        .map(|m| {
            m.keys().filter(|k| k.strip_prefix("net").is_some_and(|n| n.parse::<u32>().is_ok())).cloned().collect()
        })
        .unwrap_or_default()
}

/// Proxmox's NIC config keys, `net0` to `net31`.
const NET_KEYS: [&str; 32] = [
    "net0", "net1", "net2", "net3", "net4", "net5", "net6", "net7", "net8", "net9", "net10", "net11", "net12", "net13",
    "net14", "net15", "net16", "net17", "net18", "net19", "net20", "net21", "net22", "net23", "net24", "net25",
    "net26", "net27", "net28", "net29", "net30", "net31",
];

use csx_core::time::utc;

#[async_trait]
impl Backend for ProxmoxBackend {
    async fn prepare(&self, req: &Request) -> Result<Prepared> {
        let s = self.session(req)?;
        vm_name(&req.payload)?;
        let id = s.free_vmid(None).await?;
        Ok(Prepared { details: [("proxmox_vmid".to_string(), id.to_string())].into(), nics: vec![] })
    }

    async fn create(&self, req: &Request) -> Result<Outcome> {
        let s = self.session(req)?;
        let name = vm_name(&req.payload)?;
        s.nets()?; // validate NIC configuration before touching anything
        our_tags(&req.payload, &Value::Null)?;
        if let Some(l) = s.locate().await?.require_or_missing(&format!("Proxmox VM {name}"))? {
            // A retried create: finish our own VM; another instance's VM was refused above.
            let l = s.unlocked(l).await?;
            if !l.running {
                let cfg = s.client.get(&l.path("/config"), &[]).await?;
                let mut settings = s.hardware(&net_keys(&cfg))?;
                settings.push(("tags", our_tags(&req.payload, &cfg)?));
                s.client.put(&l.path("/config"), &settings).await?;
                s.power(&l, true).await?;
            }
            return Ok(Outcome::new(format!(
                "Instance {name} already existed as VM {} on {}; it is running",
                l.vmid, l.node
            ))
            .with("proxmox_vmid", l.vmid.to_string())
            .with("node", l.node));
        }
        let wanted = vmid_hint(&req.payload)?;
        let mut vmid = s.free_vmid(wanted).await?;
        // Making and starting run with a client whose deadline leaves time to undo them.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match s.for_work().make(vmid, &name).await {
                Ok(()) => break,
                Err(e) => {
                    // Did our call create anything? Only then is it ours to remove, with the time kept for it.
                    match s.remove_own(vmid, &name).await {
                        Some(Ok(())) => {
                            return Err(e.context(format!("creating VM {vmid} failed; the partial VM was removed")))
                        }
                        Some(Err(c)) => {
                            return Err(e.context(format!(
                                "creating VM {vmid} failed and removing it failed too ({}); `delete` removes it",
                                c.message()
                            )))
                        }
                        None => {}
                    }
                    // Lost a race for the VMID? Take another and try again.
                    let taken = !s.is_free(vmid).await?;
                    if taken && attempt < 8 {
                        let next = s.spread_vmid(attempt).await?;
                        tracing::warn!("VMID {vmid} was taken by someone else meanwhile; using {next}");
                        vmid = next;
                        continue;
                    }
                    return Err(e.context(format!("creating VM {vmid}")));
                }
            }
        }
        let l = Located { node: s.node.to_string(), vmid, running: false, ha: false, lock: None };
        if let Err(e) = s.for_work().power(&l, true).await {
            return Err(match s.remove_own(vmid, &name).await {
                Some(Ok(())) => e.context(format!("VM {vmid} was created but did not start; it was removed")),
                Some(Err(c)) => e.context(format!(
                    "VM {vmid} did not start and could not be removed ({}); `delete` removes it",
                    c.message()
                )),
                None => e.context(format!("VM {vmid} did not start")),
            });
        }
        let mut out = Outcome::new(format!("Instance {name} created as VM {vmid} on {} and started", s.node))
            .with("proxmox_vmid", vmid.to_string())
            .with("node", s.node.to_string());
        if wanted.is_some_and(|w| w != vmid) {
            out = out.with(
                "note",
                format!("VMID {} reserved by prepare was taken by another VM; used {vmid}", wanted.unwrap_or(0)),
            );
        }
        Ok(out)
    }

    async fn start(&self, req: &Request) -> Result<Outcome> {
        let s = self.session(req)?;
        let l = s.unlocked(s.require().await?).await?;
        if l.running {
            return Ok(Outcome::new(format!("VM {} was already running", l.vmid)));
        }
        s.power(&l, true).await?;
        Ok(Outcome::new(format!("VM {} on {} started", l.vmid, l.node)))
    }

    async fn stop(&self, req: &Request) -> Result<Outcome> {
        let s = self.session(req)?;
        let Some(l) = s.locate().await?.mine() else {
            return Ok(Outcome::new(
                "This instance has no VM (another instance's VM of that name is left alone); nothing to stop",
            ));
        };
        if !l.running {
            return Ok(Outcome::new(format!("VM {} was already stopped", l.vmid)));
        }
        s.power(&l, false).await?;
        Ok(Outcome::new(format!("VM {} on {} stopped", l.vmid, l.node)))
    }

    async fn reboot(&self, req: &Request) -> Result<Outcome> {
        let s = self.session(req)?;
        let l = s.unlocked(s.require().await?).await?;
        if !l.running {
            s.power(&l, true).await?;
            return Ok(Outcome::new(format!("VM {} was stopped; started it", l.vmid)));
        }
        s.client.run_task(Method::POST, &l.path("/status/reboot"), &[]).await?;
        Ok(Outcome::new(format!("VM {} on {} rebooted", l.vmid, l.node)))
    }

    async fn delete(&self, req: &Request) -> Result<Outcome> {
        let s = self.session(req)?;
        let Some(l) = s.locate().await?.mine() else {
            return Ok(Outcome::new(
                "This instance has no VM (another instance's VM of that name is left alone); nothing to delete",
            ));
        };
        let l = s.unlocked(l).await?;
        s.destroy(&l).await?;
        Ok(Outcome::new(format!("VM {} on {} deleted with its disks", l.vmid, l.node)))
    }

    async fn status(&self, req: &Request) -> Result<PowerState> {
        let s = self.session(req)?;
        // Another instance's VM of the same name says nothing about this instance: off.
        Ok(match s.locate().await?.mine() {
            Some(l) if l.running => PowerState::On,
            _ => PowerState::Off,
        })
    }

    async fn statuses(&self, req: &Request) -> Result<BTreeMap<String, PowerState>> {
        let s = self.session(req)?;
        let all = s.client.get("/cluster/resources", &[("type", "vm".into())]).await?;
        let mut out = BTreeMap::new();
        for r in all.as_array().into_iter().flatten() {
            if r["type"].as_str() != Some("qemu") || as_bool(&r["template"]) || r["node"].as_str() != Some(s.node) {
                continue;
            }
            // Under CloudStack's name for it, never under a guess (see csx_core::identity).
            let Some(key) = identity::statuses_key(tag(r, TAG_NAME), r["name"].as_str().unwrap_or("")) else {
                continue;
            };
            let state = match r["status"].as_str() {
                Some("running") => PowerState::On,
                Some("stopped") => PowerState::Off,
                _ => PowerState::Unknown,
            };
            identity::add_status(&mut out, key, state);
        }
        Ok(out)
    }

    async fn console(&self, req: &Request) -> Result<Console> {
        let s = self.session(req)?;
        let l = s.require().await?;
        if !l.running {
            return Err(Error::bad_input(format!("VM {} is stopped; start it to open its console", l.vmid)));
        }
        let v = s.client.post(&l.path("/vncproxy"), &[]).await?;
        let port = as_u64(&v["port"])
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| Error::remote("Proxmox vncproxy returned no port"))?;
        let password = v["password"]
            .as_str()
            .or_else(|| v["ticket"].as_str())
            .ok_or_else(|| Error::remote("Proxmox vncproxy returned no password or ticket"))?
            .to_string();
        let host = match req.payload.detail("console_host") {
            Some(h) => h.to_string(),
            None => s.node_address(&l.node).await?,
        };
        Ok(Console::Vnc { host, port, password, one_time: true })
    }

    fn custom_actions(&self) -> Vec<CustomActionSpec> {
        custom_actions()
    }

    async fn custom(&self, action: &str, params: &Params, req: &Request) -> Result<CustomResult> {
        let action = ProxmoxAction::parse(action)?;
        let s = self.session(req)?;
        let snap = params.str("snap_name").map(str::to_string);
        if let Some(n) = &snap {
            check_snapshot_name(n)?;
        }
        let l = s.require().await?;
        let snap = snap.unwrap_or_default();
        match action {
            ProxmoxAction::ListSnapshots => {
                let list = s.client.get(&l.path("/snapshot"), &[]).await?;
                let mut rows: Vec<&Value> =
                    list.as_array().into_iter().flatten().filter(|x| x["name"].as_str() != Some("current")).collect();
                rows.sort_by_key(|x| as_u64(&x["snaptime"]).unwrap_or(0));
                Ok(CustomResult::Table(
                    rows.into_iter()
                        .map(|x| {
                            let mut m = serde_json::Map::new();
                            m.insert("name".into(), x["name"].clone());
                            m.insert(
                                "snaptime".into(),
                                as_u64(&x["snaptime"]).map(utc).unwrap_or_else(|| "-".into()).into(),
                            );
                            m.insert("description".into(), x["description"].as_str().unwrap_or("").into());
                            m.insert("parent".into(), x["parent"].as_str().unwrap_or("-").into());
                            m.insert("vmstate".into(), if as_bool(&x["vmstate"]) { "yes" } else { "no" }.into());
                            m
                        })
                        .collect(),
                ))
            }
            ProxmoxAction::CreateSnapshot => {
                let mut form = vec![
                    ("snapname", snap.clone()),
                    ("vmstate", if params.bool("snap_save_memory").unwrap_or(false) { "1" } else { "0" }.to_string()),
                ];
                if let Some(d) = params.str("snap_description").filter(|d| !d.is_empty()) {
                    form.push(("description", d.to_string()));
                }
                s.client.run_task(Method::POST, &l.path("/snapshot"), &form).await?;
                Ok(CustomResult::Message(format!("Snapshot {snap} of VM {} created", l.vmid)))
            }
            ProxmoxAction::RestoreSnapshot => {
                let path = l.path(&format!("/snapshot/{}/rollback", seg(&snap)));
                s.client.run_task(Method::POST, &path, &[("start", "1".to_string())]).await?;
                Ok(CustomResult::Message(format!("VM {} restored to snapshot {snap} and running", l.vmid)))
            }
            ProxmoxAction::DeleteSnapshot => {
                s.client.run_task(Method::DELETE, &l.path(&format!("/snapshot/{}", seg(&snap))), &[]).await?;
                Ok(CustomResult::Message(format!("Snapshot {snap} of VM {} deleted", l.vmid)))
            }
        }
    }
}

impl Session<'_> {
    /// The address a console proxy reaches for `node`: the cluster address from
    /// `/cluster/status`, else (without `Sys.Audit`) the node's interface that has
    /// the default gateway, else its first static address by interface name.
    async fn node_address(&self, node: &str) -> Result<String> {
        match self.client.get("/cluster/status", &[]).await {
            Ok(v) => {
                let ip = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["type"].as_str() == Some("node") && e["name"].as_str() == Some(node));
                if let Some(ip) = ip.and_then(|e| e["ip"].as_str()) {
                    return Ok(ip.to_string());
                }
            }
            // Without Sys.Audit on `/`: fall back to the node's interfaces.
            Err(e) if e.status() == Some(403) => {}
            Err(e) => return Err(e.into()),
        }
        let net = self.client.get(&format!("/nodes/{}/network", seg(node)), &[]).await?;
        let mut ifaces: Vec<&Value> = net.as_array().into_iter().flatten().collect();
        ifaces.sort_by_key(|i| (i["gateway"].is_null(), i["iface"].as_str().unwrap_or("").to_string()));
        ifaces
            .iter()
            .find_map(|i| {
                i["address"]
                    .as_str()
                    .or_else(|| i["cidr"].as_str().and_then(|c| c.split('/').next()))
                    .map(str::to_string)
            })
            .ok_or_else(|| Error::remote(format!("cannot find an address of node {node}; set detail `console_host`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_727_110_835), "2024-09-23 17:00:35 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
