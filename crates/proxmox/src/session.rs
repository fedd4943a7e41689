//! One action's session: the client, the configured node, the request; finding this
//! instance's VM under the ownership rule, power, removal, and the node's address.

use crate::client::{as_bool, as_u64, seg, ApiResult, Client};
use crate::config::is_dns_name;
use crate::keys;
use crate::{ProxmoxBackend, TAG_INSTALLATION, TAG_NAME, TAG_NAME_V1, TAG_OWNER};
use csx_core::identity::{self, Ownership, OWNER_MARK};
use csx_core::{Error, Payload, Pick, Request, Result};
use reqwest::Method;
use serde_json::Value;

/// Where a VM is and what state it is in.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub(crate) node: String,
    pub(crate) vmid: u64,
    pub(crate) running: bool,
    pub(crate) ha: bool,
    pub(crate) lock: Option<String>,
    /// Paused (`qmpstatus` "paused"): still running as far as CloudStack is concerned.
    pub(crate) paused: bool,
}

impl Located {
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/nodes/{}/qemu/{}{rest}", seg(&self.node), self.vmid)
    }
}

/// One action's session: the client plus the request.
pub(crate) struct Session<'a> {
    pub(crate) client: Client,
    pub(crate) node: &'a str,
    pub(crate) req: &'a Request,
}

impl ProxmoxBackend {
    pub(crate) fn session<'a>(&'a self, req: &'a Request) -> Result<Session<'a>> {
        Ok(Session { client: Client::new(&self.conn, req.deadline)?, node: &self.conn.node, req })
    }
}

/// The VM name in Proxmox: detail `vm_name`, else the CloudStack instance name.
pub(crate) fn vm_name(p: &Payload) -> Result<String> {
    let name = match p.detail(&keys::VM_NAME) {
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
pub(crate) fn vmid_hint(p: &Payload) -> Result<Option<u64>> {
    match p.vm_detail("proxmox_vmid").or_else(|| p.detail(&keys::PROXMOX_VMID)) {
        None => Ok(None),
        Some(s) => s.parse::<u64>().ok().filter(|id| (100..=999_999_999).contains(id)).map(Some).ok_or_else(|| {
            Error::bad_input(format!("detail `proxmox_vmid` must be a VMID (100-999999999), found {s:?}"))
        }),
    }
}

pub(crate) fn owner_mark(p: &Payload) -> Option<String> {
    p.instance_uuid().map(|u| format!("{OWNER_MARK}{u}"))
}

/// The tags of a VM as `status/current`, `/cluster/resources` or its config give them.
fn tags(v: &Value) -> impl Iterator<Item = &str> {
    v["tags"].as_str().unwrap_or("").split([';', ',', ' ']).filter(|t| !t.is_empty())
}

/// The value of the first tag with `prefix`.
pub(crate) fn tag<'a>(v: &'a Value, prefix: &str) -> Option<&'a str> {
    tags(v).find_map(|t| t.strip_prefix(prefix)).filter(|t| !t.is_empty())
}

/// The instance name as a tag value that survives PVE's lower-casing ([`crate::TAG_NAME`]).
pub(crate) fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            c if c.is_ascii_uppercase() => {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            }
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`encode_name`], whatever case the tag came back in; `None` when the value
/// is not one `encode_name` makes.
pub(crate) fn decode_name(tag: &str) -> Option<String> {
    let mut out = String::with_capacity(tag.len());
    let mut chars = tag.chars();
    while let Some(c) = chars.next() {
        match c {
            '_' => match chars.next()? {
                '_' => out.push('_'),
                n if n.is_ascii_alphabetic() => out.push(n.to_ascii_uppercase()),
                _ => return None,
            },
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    Some(out)
}

/// The instance name a VM records: the case-safe tag, else the older verbatim one.
pub(crate) fn recorded_name(v: &Value) -> Option<String> {
    tag(v, TAG_NAME).and_then(decode_name).or_else(|| tag(v, TAG_NAME_V1).map(str::to_string))
}

/// True when the VM `v` records `instance` as its instance name (the older verbatim tag
/// matched ignoring case, since PVE may have lower-cased it).
pub(crate) fn records_instance(v: &Value, instance: &str) -> bool {
    match tag(v, TAG_NAME).and_then(decode_name) {
        Some(n) => n == instance,
        None => tag(v, TAG_NAME_V1).is_some_and(|t| t.eq_ignore_ascii_case(instance)),
    }
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
pub(crate) fn our_tags(p: &Payload, existing: &Value) -> Result<String> {
    let name = p.require_instance_name()?;
    let ours = [TAG_OWNER, TAG_NAME, TAG_NAME_V1, TAG_INSTALLATION];
    let mut out: Vec<String> = tags(existing)
        .filter(|t| !ours.iter().any(|o| t.to_ascii_lowercase().starts_with(o)))
        .map(str::to_string)
        .collect();
    if let Some(u) = p.instance_uuid() {
        out.push(format!("{TAG_OWNER}{}", u.to_ascii_lowercase()));
    }
    out.push(format!("{TAG_NAME}{}", encode_name(name)));
    if let Some(i) = identity::installation(p)? {
        out.push(format!("{TAG_INSTALLATION}{}", i.to_ascii_lowercase()));
    }
    match out.iter().find(|t| !is_tag(t)) {
        Some(t) => Err(Error::bad_input(format!(
            "the instance name or uuid cannot be recorded as the Proxmox tag {t:?} (letters, digits, `_`, `-`, `+`, `.`)"
        ))),
        None => Ok(out.join(";")),
    }
}

impl<'a> Session<'a> {
    pub(crate) fn payload(&self) -> &Payload {
        &self.req.payload
    }

    pub(crate) async fn current(&self, node: &str, vmid: u64) -> ApiResult<Value> {
        self.client.get(&format!("/nodes/{}/qemu/{vmid}/status/current", seg(node)), &[]).await
    }

    pub(crate) fn located(node: &str, vmid: u64, st: &Value) -> Located {
        Located {
            node: node.to_string(),
            vmid,
            running: st["status"].as_str() == Some("running"),
            ha: as_bool(&st["ha"]["managed"]),
            lock: st["lock"].as_str().map(str::to_string),
            paused: st["qmpstatus"].as_str() == Some("paused"),
        }
    }

    /// Whose VM this is: its owner tag, else (a VM made before tags, or by the built-in)
    /// the owner mark in its description, one more request.
    /// An unmarked VM is adopted only under the instance's internal name and, with a reserved
    /// VMID, only that VM (`identity::Claim`).
    pub(crate) async fn ownership_of(&self, node: &str, vmid: u64, v: &Value) -> Result<Ownership> {
        let claim = identity::Claim::of(self.payload())?.with_hint(vmid_hint(self.payload())?);
        let name = v["name"].as_str().unwrap_or("");
        let id = vmid.to_string();
        if let Some(owner) = tag(v, TAG_OWNER) {
            return Ok(claim.ownership(Some(owner), name, Some(&id)));
        }
        let cfg = self.client.get(&format!("/nodes/{}/qemu/{vmid}/config", seg(node)), &[]).await?;
        let mark = identity::find_mark(cfg["description"].as_str().unwrap_or(""), OWNER_MARK);
        Ok(claim.ownership(mark, name, Some(&id)))
    }

    /// True when the VM `v` (a `status/current` or `/cluster/resources` entry) goes by this
    /// instance's names: the VM name csx gives it, or the instance name it records.
    pub(crate) fn named_ours(&self, v: &Value, name: &str) -> bool {
        !as_bool(&v["template"])
            && (v["name"].as_str() == Some(name)
                || self.payload().instance_name().is_some_and(|i| records_instance(v, i)))
    }

    /// Finds this instance's VM under the one ownership rule ([`identity::pick`]): one
    /// request when the reserved VMID is on the configured node and is ours; otherwise a
    /// cluster-wide search (a VM migrated to another node is still found). Another
    /// instance's VM with the same name is never taken for ours.
    pub(crate) async fn locate(&self) -> Result<Pick<Located>> {
        let name = vm_name(self.payload())?;
        if let Some(vmid) = vmid_hint(self.payload())? {
            match self.current(self.node, vmid).await {
                Ok(st) if self.named_ours(&st, &name) => match self.ownership_of(self.node, vmid, &st).await? {
                    Ownership::Mine | Ownership::Unmarked => {
                        return Ok(Pick::Mine(Self::located(self.node, vmid, &st)))
                    }
                    Ownership::Foreign(_) | Ownership::Stranger(_) => {
                        tracing::info!("VMID {vmid} is not this instance's VM; searching the cluster")
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
    pub(crate) fn for_work(&self) -> Session<'a> {
        Session { client: self.client.until(self.req.work_deadline()), node: self.node, req: self.req }
    }

    pub(crate) async fn require(&self) -> Result<Located> {
        let what = format!("Proxmox VM {}", vm_name(self.payload()).unwrap_or_default());
        self.locate().await?.require(&what)
    }

    /// After a power task of an HA-managed VM, wait until the VM really is in `running`.
    pub(crate) async fn settle(&self, l: &Located, running: bool) -> Result<()> {
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
    /// `suspended` (hibernated: suspended to disk) is no such lock: it stays until the VM is
    /// started, which resumes it, and does not stop a delete (qemu-server `vm_start`,
    /// `destroy_vm`), so nothing waits for it.
    pub(crate) async fn unlocked(&self, l: Located) -> Result<Located> {
        let Some(lock) = l.lock.clone().filter(|l| l != "suspended") else { return Ok(l) };
        let late = || Error::timeout(format!("VM {} is still locked ({lock}) at the deadline", l.vmid));
        let check = || async {
            let st = self.current(&l.node, l.vmid).await?;
            let now = Self::located(&l.node, l.vmid, &st);
            Ok::<_, Error>(now.lock.is_none().then_some(now))
        };
        csx_core::poll::until(self.client.deadline(), check, late).await
    }

    pub(crate) async fn power(&self, l: &Located, on: bool) -> Result<()> {
        let (path, params): (&str, Vec<(&str, String)>) = if on {
            ("/status/start", vec![])
        } else if self.payload().detail(&keys::STOP_MODE).is_some_and(|m| m.eq_ignore_ascii_case("shutdown")) {
            let t = self.payload().detail_u64(&keys::STOP_TIMEOUT)?.unwrap_or(60);
            ("/status/shutdown", vec![("forceStop", "1".into()), ("timeout", t.to_string())])
        } else {
            ("/status/stop", vec![])
        };
        self.client.run_task(Method::POST, &l.path(path), &params).await?;
        self.settle(l, on).await
    }

    /// Stops (if needed) and destroys a VM with its disks and HA/replication references.
    pub(crate) async fn destroy(&self, l: &Located) -> Result<()> {
        self.destroy_with(l, false).await
    }

    /// [`Session::destroy`]; `always_stop` also stops a VM that looks stopped (a start
    /// whose answer was lost may still be on its way).
    pub(crate) async fn destroy_with(&self, l: &Located, always_stop: bool) -> Result<()> {
        if l.running || always_stop {
            self.client.run_task(Method::POST, &l.path("/status/stop"), &[]).await?;
            self.settle(l, false).await?;
        }
        let params = [("purge", "1".to_string()), ("destroy-unreferenced-disks", "1".to_string())];
        Ok(self.client.run_task(Method::DELETE, &l.path(""), &params).await?)
    }
}

impl Session<'_> {
    /// The address a console proxy reaches for `node`: the cluster address from
    /// `/cluster/status`, else (without `Sys.Audit`) the node's interface that has
    /// the default gateway, else its first static address by interface name.
    pub(crate) async fn node_address(&self, node: &str) -> Result<String> {
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
    fn instance_names_survive_lower_casing() {
        for name in ["i-2-45-VM", "i-12-3456-cloud", "i-2-7-My_VM", "i-2-8-__x"] {
            let tag = encode_name(name);
            assert!(is_tag(&format!("{TAG_NAME}{tag}")), "{tag}");
            assert_eq!(tag, tag.to_ascii_lowercase(), "nothing left for PVE to lower-case");
            assert_eq!(decode_name(&tag).as_deref(), Some(name));
            assert_eq!(decode_name(&tag.to_ascii_uppercase()).as_deref(), Some(name), "nor to upper-case");
        }
        assert_eq!(encode_name("i-2-45-VM"), "i-2-45-_v_m");
        assert_eq!(decode_name("bad_"), None);
        assert_eq!(decode_name("x_1"), None);
        let v = serde_json::json!({"tags": "csx-name.i-2-45-vm;other"});
        assert!(records_instance(&v, "i-2-45-VM"), "the older tag, lower-cased by PVE");
        let v = serde_json::json!({"tags": "csx-iname.i-2-45-_v_m"});
        assert!(records_instance(&v, "i-2-45-VM") && !records_instance(&v, "i-2-45-vm"));
        assert_eq!(recorded_name(&v).as_deref(), Some("i-2-45-VM"));
    }
}
