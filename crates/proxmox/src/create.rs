//! Creating a VM: a free VMID (and another after a lost race), the clone or the ISO VM with
//! CloudStack's hardware and NICs, start, and removing exactly what a failed create made.

use crate::client::{as_bool, as_u64, seg};
use crate::keys;
use crate::session::{our_tags, owner_mark, vm_name, vmid_hint, Located, Session};
use csx_core::{Error, Outcome, Request, Result, Vlan};
use reqwest::Method;
use serde_json::Value;

impl Session<'_> {
    /// True when `id` is free now (`/cluster/nextid?vmid=` answers 400 when it is taken).
    pub(crate) async fn is_free(&self, id: u64) -> Result<bool> {
        match self.client.get("/cluster/nextid", &[("vmid", id.to_string())]).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(400) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A VMID that is free now: `want` if free, else Proxmox's next free id.
    pub(crate) async fn free_vmid(&self, want: Option<u64>) -> Result<u64> {
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
    pub(crate) async fn spread_vmid(&self, attempt: u64) -> Result<u64> {
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
    pub(crate) fn hardware(&self, existing_nets: &[String]) -> Result<Vec<(&'static str, String)>> {
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

    pub(crate) fn nets(&self) -> Result<Vec<(&'static str, String)>> {
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
        let bridge = p.require_detail(&keys::NETWORK_BRIDGE)?;
        let model = p.detail(&keys::NIC_MODEL).unwrap_or("virtio");
        let firewall = if p.detail_bool(&keys::NIC_FIREWALL, false)? { "1" } else { "0" };
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

    pub(crate) fn description(&self) -> String {
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
    pub(crate) async fn remove_own(&self, vmid: u64, name: &str) -> Option<Result<()>> {
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
    pub(crate) async fn make(&self, vmid: u64, name: &str) -> Result<()> {
        let p = self.payload();
        let node_path = format!("/nodes/{}/qemu", seg(self.node));
        let iso = p.detail(&keys::TEMPLATE_TYPE).is_some_and(|t| t.eq_ignore_ascii_case("iso"));
        let storage = p.detail(&keys::STORAGE);
        if iso {
            let iso_path = p.require_detail(&keys::ISO_PATH)?;
            let disk_gb = p.detail_u64(&keys::DISK_SIZE_GB)?.unwrap_or(64);
            let mut params = vec![
                ("vmid", vmid.to_string()),
                ("name", name.to_string()),
                ("description", self.description()),
                ("ide2", format!("{iso_path},media=cdrom")),
                ("ostype", p.detail(&keys::ISO_OS_TYPE).unwrap_or("l26").to_string()),
                ("scsihw", "virtio-scsi-single".to_string()),
                ("scsi0", format!("{}:{disk_gb},iothread=1", storage.unwrap_or("local-lvm"))),
                ("boot", "order=scsi0;ide2;net0".to_string()),
                ("tags", our_tags(p, &Value::Null)?),
            ];
            params.extend(self.hardware(&[])?);
            return Ok(self.client.run_task(Method::POST, &node_path, &params).await?);
        }
        let template = p.require_detail(&keys::TEMPLATE_ID)?;
        let template: u64 = template
            .parse()
            .map_err(|_| Error::bad_input(format!("detail `template_id` must be a VMID, found {template:?}")))?;
        // `template_id` may come from the instance's own details: only a template is cloned,
        // never another instance's VM (its disks would be copied into this one).
        let st = self.client.get(&format!("{node_path}/{template}/status/current"), &[]).await?;
        if !as_bool(&st["template"]) {
            return Err(Error::bad_input(format!(
                "detail `template_id` names VM {template} ({}), which is not a Proxmox template; csx clones only \
                 templates: name a template's VMID",
                st["name"].as_str().unwrap_or("no name")
            )));
        }
        let full = p.detail_bool(&keys::IS_FULL_CLONE, false)?;
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
        let l = Located { node: self.node.to_string(), vmid, running: false, ha: false, lock: None, paused: false };
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

/// `create`: finish this instance's VM if a retry finds it, else make and start a new one,
/// removing what a failed attempt made.
pub(crate) async fn create(s: &Session<'_>, req: &Request) -> Result<Outcome> {
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
    // Tags Proxmox would refuse: refused here, before anything is cloned.
    let tags: Vec<String> = our_tags(&req.payload, &Value::Null)?.split(';').map(str::to_string).collect();
    if let Some(why) = crate::tagperm::refused(&s.client, &tags).await? {
        return Err(Error::auth(why));
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
    let l = Located { node: s.node.to_string(), vmid, running: false, ha: false, lock: None, paused: false };
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
