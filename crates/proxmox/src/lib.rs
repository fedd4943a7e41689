//! csx-proxmox: a Proxmox VE API client (JSON answers read leniently, errors typed) and the
//! csx `Backend` built on it.
//!
//! A drop-in successor to CloudStack's built-in Proxmox extension: the same
//! configuration keys and custom actions, with what the built-in gets wrong
//! fixed (VMID races, cleanup of foreign VMs, idempotence, migrated VMs, HA,
//! console host, linked clones, task polling).

mod actions;
mod client;
mod config;
mod create;
mod declared;
mod disks;
mod doctor;
pub mod keys;
mod operations;
mod session;
mod snapshots;
mod tagperm;

pub use client::{error_text, seg, ApiError, ApiResult, Client};
pub use config::{api_base, check_snapshot_name, is_dns_name, Auth, Connection};
pub use csx_tls::{parse_fingerprint, Trust};
pub use declared::{custom_actions, ProxmoxAction};

use client::{as_bool, as_u64};
use csx_core::identity;
use csx_core::{
    async_trait, Backend, Console, CustomAction, CustomActionSpec, CustomResult, Error, Outcome, Params, Pick,
    PowerState, Prepared, Request, Result,
};
use reqwest::Method;
use session::{recorded_name, tag, vm_name};
use std::collections::BTreeMap;

/// Tag prefix recording the owning CloudStack instance's uuid (`csx-owner.<uuid>`).
/// Tags come back from `status/current` and `/cluster/resources`, so ownership and
/// the instance name cost no request of their own.
pub const TAG_OWNER: &str = "csx-owner.";
/// Tag prefix recording the CloudStack internal instance name, the key `statuses` reports
/// the VM under whatever the VM is called. PVE ≥ 7.3 lower-cases tags (pve-guest-common,
/// `PVE::GuestHelpers::get_unique_tags`, unless datacenter.cfg `tag-style` has
/// `case-sensitive=1`), so the name is recorded in a form that survives it: every upper-case
/// letter as `_` and the letter, `_` as `__` (`i-2-60-VM` → `csx-iname.i-2-60-_v_m`).
pub const TAG_NAME: &str = "csx-iname.";
/// The tag older csx versions recorded the name in, verbatim (`csx-name.i-2-60-VM`): still
/// read, matched ignoring case (PVE may have lower-cased it).
pub const TAG_NAME_V1: &str = "csx-name.";
/// Tag prefix recording the CloudStack installation (operator key `installation_id`).
pub const TAG_INSTALLATION: &str = "csx-inst.";

/// The Proxmox backend: configuration read from the payload, no I/O until an action runs.
#[derive(Debug, Clone)]
pub struct ProxmoxBackend {
    conn: Connection,
}

impl ProxmoxBackend {
    pub fn from_payload(p: &csx_core::Payload) -> Result<Self> {
        Ok(ProxmoxBackend { conn: Connection::from_payload(p)? })
    }
}

#[async_trait]
impl Backend for ProxmoxBackend {
    async fn prepare(&self, req: &Request) -> Result<Prepared> {
        let s = self.session(req)?;
        vm_name(&req.payload)?;
        let id = s.free_vmid(None).await?;
        Ok(Prepared { details: [("proxmox_vmid".to_string(), id.to_string())].into(), nics: vec![] })
    }

    async fn create(&self, req: &Request) -> Result<Outcome> {
        create::create(&self.session(req)?, req).await
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
        let l = match s.locate().await? {
            Pick::Mine(l) => l,
            Pick::Missing => return Ok(Outcome::new("This instance has no VM; nothing to stop")),
            Pick::Foreign(why) => {
                return Ok(Outcome::new(format!("This instance has no VM; the VM of that name {why}: left alone")))
            }
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
        if l.paused {
            // qemu-server refuses to reboot a paused VM ("VM is paused - cannot shutdown",
            // src/PVE/API2/Qemu.pm vm_reboot): resume it first, as Hyper-V's reboot does.
            s.client.run_task(Method::POST, &l.path("/status/resume"), &[]).await?;
        }
        s.client.run_task(Method::POST, &l.path("/status/reboot"), &[]).await?;
        Ok(Outcome::new(format!("VM {} on {} rebooted", l.vmid, l.node)))
    }

    async fn delete(&self, req: &Request) -> Result<Outcome> {
        let s = self.session(req)?;
        let l = match s.locate().await? {
            Pick::Mine(l) => l,
            Pick::Missing => return Ok(Outcome::new("This instance has no VM; nothing to delete")),
            Pick::Foreign(why) => {
                return Ok(Outcome::new(format!("This instance has no VM; the VM of that name {why}: left alone")))
            }
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
        let installation = identity::installation(&req.payload)?;
        // One request. The node's own list (qemu-server `vmstatus`) carries the VMs' tags on every
        // PVE since 6.1; `/cluster/resources` only since 7.3 (pve-manager d18b6982), so it is the
        // fallback when the node does not answer (its VMs' last known states).
        let (all, listed) = match s.client.get(&format!("/nodes/{}/qemu", seg(s.node)), &[]).await {
            Ok(v) => (v, true),
            Err(e @ ApiError::Status { .. }) => {
                let e = Error::from(e);
                tracing::warn!("node {} did not list its VMs ({}); using /cluster/resources", s.node, e.message());
                (s.client.get("/cluster/resources", &[("type", "vm".into())]).await?, false)
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = BTreeMap::new();
        for r in all.as_array().into_iter().flatten() {
            let here = listed || (r["type"].as_str() == Some("qemu") && r["node"].as_str() == Some(s.node));
            if !here || as_bool(&r["template"]) {
                continue;
            }
            // Another installation's VM is never reported (see csx_core::identity).
            if !identity::same_installation(tag(r, TAG_INSTALLATION), installation) {
                continue;
            }
            // Under CloudStack's name for it, never under a guess (see csx_core::identity).
            let vm_name = r["name"].as_str().unwrap_or("");
            let Some(key) = identity::statuses_key(recorded_name(r).as_deref(), vm_name) else {
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
        let host = match req.payload.detail(&keys::CONSOLE_HOST) {
            Some(h) => h.to_string(),
            None => s.node_address(&l.node).await?,
        };
        Ok(Console::Vnc { host, port, password, one_time: true })
    }

    fn custom_actions(&self) -> Vec<CustomActionSpec> {
        custom_actions()
    }

    async fn doctor(&self, req: &Request) -> Vec<csx_core::doctor::Check> {
        doctor::run(&self.conn, req).await
    }

    async fn custom(&self, action: &str, params: &Params, req: &Request) -> Result<CustomResult> {
        let action = ProxmoxAction::parse(action)?;
        actions::run(&self.session(req)?, action, params).await
    }
}
