//! The mock's power tasks (start, stop, shutdown, reboot, suspend, resume, migrate), the guest
//! agent, the VNC proxy and snapshots.

use super::handlers::{err, locked, no_vm, not_mine, Ctx, Reply};
use super::state::{unix_now, Effect, Snap, State};
use serde_json::{json, Value};

/// Power tasks and the VNC proxy.
pub(super) fn power(state: &mut State, c: &Ctx<'_>) -> Reply {
    let (endpoint, node, vmid, user) = (c.endpoint, c.node.clone(), c.vmid, c.user);
    let on_node = |s: &State| c.on_node(s);
    match endpoint {
        "POST /nodes/{node}/qemu/{vmid}/status/start"
        | "POST /nodes/{node}/qemu/{vmid}/status/stop"
        | "POST /nodes/{node}/qemu/{vmid}/status/shutdown" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            let start = endpoint.ends_with("/start");
            // qemu-server src/PVE/QemuServer.pm vm_start: a `suspended` (hibernated) VM is
            // started despite its lock, resuming from its saved state.
            if !(start && v.lock.as_deref() == Some("suspended")) {
                locked(&v)?;
            }
            if v.template {
                return Err(err(500, "you can't start a vm if it's a template"));
            }
            let effect = if start { Effect::Start(vmid) } else { Effect::Stop(vmid) };
            if v.ha_managed {
                // HA only records the request; the VM changes state later.
                let lag = state.task_duration + state.ha_lag;
                let kind = if start { "hastart" } else { "hastop" };
                state.task(&node, &format!("{kind}-effect"), vmid, user, effect, Some(lag));
                return Ok(json!(state.task(&node, kind, vmid, user, Effect::None, Some(std::time::Duration::ZERO))));
            }
            let kind = if start {
                "qmstart"
            } else if endpoint.ends_with("/stop") {
                "qmstop"
            } else {
                "qmshutdown"
            };
            Ok(json!(state.task(&node, kind, vmid, user, effect, None)))
        }
        "POST /nodes/{node}/qemu/{vmid}/status/suspend" | "POST /nodes/{node}/qemu/{vmid}/status/resume" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            if !v.running {
                return Err(err(500, format!("VM {vmid} not running")));
            }
            let (kind, effect) = if endpoint.ends_with("/suspend") {
                ("qmsuspend", Effect::Suspend(vmid))
            } else {
                ("qmresume", Effect::Resume(vmid))
            };
            Ok(json!(state.task(&node, kind, vmid, user, effect, None)))
        }
        "POST /nodes/{node}/qemu/{vmid}/migrate" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            let target = c.p_owned("target");
            match state.node(&target) {
                None => return Err(err(500, format!("no such cluster node '{target}'"))),
                Some(n) if !n.online => return Err(err(500, format!("target node '{target}' is not online"))),
                Some(_) if target == node => return Err(err(500, format!("target is local node '{target}'"))),
                Some(_) => {}
            }
            if v.ha_managed {
                // qemu-server src/PVE/API2/Qemu.pm migrate_vm: for an HA resource the 'hamigrate'
                // worker only queues the request (`ha-manager migrate`, pve-ha-manager
                // PVE::HA::Config::queue_crm_commands); the VM moves later.
                let lag = state.task_duration + state.ha_lag;
                state.task(&node, "hamigrate-effect", vmid, user, Effect::Migrate { vmid, target }, Some(lag));
                return Ok(json!(state.task(
                    &node,
                    "hamigrate",
                    vmid,
                    user,
                    Effect::None,
                    Some(std::time::Duration::ZERO)
                )));
            }
            if v.running && !c.bool_of("online") {
                return Err(err(500, "can't migrate running VM without --online"));
            }
            Ok(json!(state.task(&node, "qmigrate", vmid, user, Effect::Migrate { vmid, target }, None)))
        }
        "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            let enabled = v.config.get("agent").is_some_and(|a| a.starts_with('1') || a.contains("enabled=1"));
            if !enabled {
                return Err(err(500, "No QEMU guest agent configured"));
            }
            if !v.running || !v.agent_running {
                return Err(err(500, format!("VM {vmid} qmp command 'guest-ping' failed - got timeout")));
            }
            let mut ifaces = vec![json!({"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}]})];
            let mut nets: Vec<(&String, &String)> = v.config.iter().filter(|(k, _)| k.starts_with("net")).collect();
            nets.sort();
            for (i, (_, net)) in nets.into_iter().enumerate() {
                let mac = net
                    .split(',')
                    .next()
                    .and_then(|m| m.split_once('='))
                    .map(|(_, m)| m.to_lowercase())
                    .unwrap_or_default();
                ifaces.push(json!({"name": format!("eth{i}"), "hardware-address": mac, "ip-addresses": [
                    {"ip-address-type": "ipv4", "ip-address": format!("10.1.{}.{}", vmid % 250, 10 + i), "prefix": 24},
                    {"ip-address-type": "ipv6", "ip-address": format!("fe80::{:x}", 0x1000 + i), "prefix": 64},
                    {"ip-address-type": "ipv6", "ip-address": format!("fd00:{vmid:x}::{:x}", 10 + i), "prefix": 64}]}));
            }
            Ok(json!({"result": ifaces}))
        }
        "POST /nodes/{node}/qemu/{vmid}/status/reboot" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            // qemu-server src/PVE/API2/Qemu.pm vm_reboot: a paused VM is refused before anything else.
            if v.paused {
                return Err(err(500, "VM is paused - cannot shutdown"));
            }
            if !v.running {
                return Err(err(500, format!("VM {vmid} not running")));
            }
            Ok(json!(state.task(&node, "qmreboot", vmid, user, Effect::None, None)))
        }
        "POST /nodes/{node}/qemu/{vmid}/vncproxy" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            if !v.running {
                return Err(err(500, format!("VM {vmid} not running")));
            }
            let pw = format!("Vn{:06}", (unix_now() * 7919 + vmid) % 1_000_000);
            let upid = state.task(&node, "vncproxy", vmid, user, Effect::None, None);
            Ok(json!({"user": user, "ticket": format!("{pw}:PVEVNC:{:08X}::mockvncsig", unix_now()), "password": pw,
                      "cert": "-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n",
                      "port": (5900 + vmid % 100).to_string(), "upid": upid}))
        }
        _ => Err(not_mine()),
    }
}

/// Snapshots: list, take, roll back, delete.
pub(super) fn snapshots(state: &mut State, c: &Ctx<'_>) -> Reply {
    let (endpoint, p, node, vmid, user) = (c.endpoint, c.p, c.node.clone(), c.vmid, c.user);
    let on_node = |s: &State| c.on_node(s);
    let bool_of = |k: &str| c.bool_of(k);
    match endpoint {
        "GET /nodes/{node}/qemu/{vmid}/snapshot" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            let mut out: Vec<Value> = v
                .snapshots
                .iter()
                .map(|s| {
                    let mut o = json!({"name": s.name, "description": s.description, "snaptime": s.snaptime, "vmstate": u8::from(s.vmstate)});
                    if let Some(p) = &s.parent {
                        o["parent"] = json!(p);
                    }
                    o
                })
                .collect();
            let mut current = json!({"name": "current", "description": "You are here!", "running": u8::from(v.running), "digest": "abc"});
            if let Some(last) = v.snapshots.last() {
                current["parent"] = json!(last.name);
            }
            out.push(current);
            Ok(Value::Array(out))
        }
        "POST /nodes/{node}/qemu/{vmid}/snapshot" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            let name = p("snapname");
            if name == "current" || name == "pending" {
                return Err(err(500, format!("invalid snapshot name '{name}'")));
            }
            if v.snapshots.iter().any(|s| s.name == name) {
                return Err(err(500, format!("snapshot name '{name}' already used")));
            }
            let snap = Snap {
                name,
                description: p("description"),
                snaptime: unix_now(),
                vmstate: bool_of("vmstate"),
                parent: None,
                running_at_snapshot: false,
            };
            state.vms.get_mut(&vmid).expect("vm").lock = Some("snapshot".into());
            Ok(json!(state.task(&node, "qmsnapshot", vmid, user, Effect::Snapshot { vmid, snap }, None)))
        }
        "POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            let name = p("snapname");
            if !v.snapshots.iter().any(|s| s.name == name) {
                return Err(err(500, format!("snapshot '{name}' does not exist")));
            }
            Ok(json!(state.task(
                &node,
                "qmrollback",
                vmid,
                user,
                Effect::Rollback { vmid, name, start: bool_of("start") },
                None
            )))
        }
        "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            let name = p("snapname");
            if !v.snapshots.iter().any(|s| s.name == name) {
                return Err(err(500, format!("snapshot '{name}' does not exist")));
            }
            Ok(json!(state.task(&node, "qmdelsnapshot", vmid, user, Effect::DeleteSnapshot { vmid, name }, None)))
        }
        _ => Err(not_mine()),
    }
}
