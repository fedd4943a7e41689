//! The operator actions beyond the built-in's: `Suspend` and `Resume` (a paused VM stays
//! `poweron` for CloudStack: it holds its memory on the node), `GetIpAddresses` (from the QEMU
//! guest agent), and `Migrate` (live with local disks when running, offline when stopped).

use crate::client::ApiError;
use crate::declared::ProxmoxAction;
use crate::session::Session;
use csx_core::{CustomResult, Error, Params, Result};
use reqwest::Method;
use serde_json::{Map, Value};

/// Runs one operator action on this instance's VM.
pub(crate) async fn run(s: &Session<'_>, action: ProxmoxAction, params: &Params) -> Result<CustomResult> {
    let l = s.unlocked(s.require().await?).await?;
    match action {
        ProxmoxAction::Suspend => {
            if !l.running {
                return Err(Error::bad_input(format!("VM {} is stopped; only a running VM can be suspended", l.vmid)));
            }
            if l.paused {
                return Ok(CustomResult::Message(format!("VM {} was already suspended", l.vmid)));
            }
            s.client.run_task(Method::POST, &l.path("/status/suspend"), &[]).await?;
            Ok(CustomResult::Message(format!("VM {} suspended", l.vmid)))
        }
        ProxmoxAction::Resume => {
            if !l.running {
                return Err(Error::bad_input(format!("VM {} is stopped; start it instead", l.vmid)));
            }
            if !l.paused {
                return Ok(CustomResult::Message(format!("VM {} was already running", l.vmid)));
            }
            s.client.run_task(Method::POST, &l.path("/status/resume"), &[]).await?;
            Ok(CustomResult::Message(format!("VM {} resumed", l.vmid)))
        }
        ProxmoxAction::GetIpAddresses => {
            if !l.running {
                return Err(Error::bad_input(format!(
                    "VM {} is stopped: a stopped guest has no addresses to report; start it first",
                    l.vmid
                )));
            }
            let v = match s.client.get(&l.path("/agent/network-get-interfaces"), &[]).await {
                Ok(v) => v,
                // Proxmox answers 500 when the agent is not configured, or not running in the guest.
                Err(ApiError::Status { code: 500, message, .. }) => {
                    return Err(Error::unsupported(format!(
                        "the QEMU guest agent of VM {} does not answer ({message}): set the VM option \
                         `QEMU Guest Agent` (qm set {} --agent 1), install and start qemu-guest-agent in the \
                         guest, and restart the VM",
                        l.vmid, l.vmid
                    )))
                }
                Err(e) => return Err(e.into()),
            };
            Ok(CustomResult::Table(address_rows(&v["result"])))
        }
        ProxmoxAction::Migrate => {
            let target = params.require_str("target_node")?.trim().to_string();
            let nodes = s.client.get("/nodes", &[]).await?;
            let node = nodes.as_array().into_iter().flatten().find(|n| n["node"].as_str() == Some(target.as_str()));
            let names: Vec<&str> = nodes.as_array().into_iter().flatten().filter_map(|n| n["node"].as_str()).collect();
            match node {
                None => {
                    return Err(Error::bad_input(format!(
                        "no Proxmox node {target:?} in the cluster (nodes: {})",
                        names.join(", ")
                    )))
                }
                Some(n) if n["status"].as_str() != Some("online") => {
                    return Err(Error::remote(format!("Proxmox node {target} is not online; pick another node")))
                }
                Some(_) if target == l.node => {
                    return Ok(CustomResult::Message(format!("VM {} already runs on {target}", l.vmid)))
                }
                Some(_) => {}
            }
            let mut form = vec![("target", target.clone())];
            if l.running {
                form.push(("online", "1".into()));
                form.push(("with-local-disks", "1".into()));
            }
            s.client.run_task(Method::POST, &l.path("/migrate"), &form).await?;
            if l.ha {
                // An HA resource's migrate task only queues the request: answer when the VM is
                // really on the target node (and as running as it was).
                let moved = || async {
                    match s.current(&target, l.vmid).await {
                        Ok(st) => {
                            Ok::<_, Error>((!l.running || st["status"].as_str() == Some("running")).then_some(()))
                        }
                        Err(e) if e.status() == Some(500) => Ok(None),
                        Err(e) => Err(e.into()),
                    }
                };
                let late = || Error::timeout(format!("HA did not move VM {} to {target} before the deadline", l.vmid));
                csx_core::poll::until(s.client.deadline(), moved, late).await?;
            }
            let how = if l.running { "live" } else { "offline" };
            Ok(CustomResult::Message(format!("VM {} moved from {} to {target} ({how})", l.vmid, l.node)))
        }
        _ => Err(Error::internal("not an operator action")),
    }
}

/// One row per guest address (`csx_core::guest`: loopback and link-local left out).
fn address_rows(ifaces: &Value) -> Vec<Map<String, Value>> {
    let mut rows = Vec::new();
    for i in ifaces.as_array().into_iter().flatten() {
        let (name, mac) = (i["name"].as_str().unwrap_or(""), i["hardware-address"].as_str().unwrap_or(""));
        for a in i["ip-addresses"].as_array().into_iter().flatten() {
            let prefix = a["prefix"].as_u64().and_then(|p| u32::try_from(p).ok());
            rows.extend(csx_core::guest::address_row(name, mac, a["ip-address"].as_str().unwrap_or(""), prefix));
        }
    }
    rows
}
