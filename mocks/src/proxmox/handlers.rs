//! Request handling: auth, schema validation, routing and Proxmox's behaviour.

use super::schema;
use super::state::{unix_now, Effect, FaultKind, State};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use wiremock::{Request, ResponseTemplate};

/// A Proxmox error: status, message, per-parameter errors.
pub(super) struct PveError(u16, String, Option<BTreeMap<String, String>>);

pub(super) type Reply = Result<Value, PveError>;

pub(super) fn err(status: u16, msg: impl Into<String>) -> PveError {
    PveError(status, msg.into(), None)
}

/// A path segment or header value as Proxmox decodes it (`+` is a space, as in forms).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

fn to_response(r: Reply) -> ResponseTemplate {
    match r {
        Ok(data) => ResponseTemplate::new(200).set_body_json(json!({ "data": data })),
        Err(PveError(status, msg, errors)) => {
            let mut body = json!({"data": null, "message": format!("{msg}\n")});
            if let Some(e) = errors {
                body["errors"] = json!(e);
            }
            ResponseTemplate::new(status).set_body_json(body)
        }
    }
}

pub fn handle(state: &mut State, req: &Request) -> ResponseTemplate {
    state.advance();
    let method = req.method.as_str().to_string();
    let raw_path = req.url.path().to_string();
    // Introspection for benchmarks and the demo (not part of Proxmox's API).
    if raw_path == "/_mock/requests" {
        let log = std::mem::take(&mut state.requests);
        return ResponseTemplate::new(200).set_body_json(json!({ "requests": log }));
    }
    let Some(api_path) = raw_path.strip_prefix("/api2/json") else {
        return ResponseTemplate::new(501).set_body_string(format!("no such uri {raw_path}"));
    };
    let api_path = api_path.trim_end_matches('/').to_string();
    state.requests.push(match req.url.query() {
        Some(q) => format!("{method} {api_path}?{q}"),
        None => format!("{method} {api_path}"),
    });

    // Fault injection (HTTP-level faults; task faults are taken when tasks start).
    let mut delay = None;
    if let Some(i) = state.faults.iter().position(|f| {
        f.times > 0
            && !matches!(f.kind, FaultKind::TaskError(_))
            && f.method.as_deref().is_none_or(|m| m == method)
            && api_path.contains(&f.path_contains)
    }) {
        state.faults[i].times -= 1;
        match state.faults[i].kind.clone() {
            FaultKind::Http(code, msg) => return to_response(Err(err(code, msg))),
            FaultKind::Bare(code) => return ResponseTemplate::new(code),
            FaultKind::Garbage => return ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"),
            FaultKind::Delay(d) => delay = Some(d),
            FaultKind::TaskError(_) => {}
        }
    }

    // Parameters: query string, then form or JSON body.
    let mut params: BTreeMap<String, String> =
        req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if !req.body.is_empty() {
        if method == "DELETE" || method == "GET" {
            return ResponseTemplate::new(501).set_body_string(format!("Unexpected content for method '{method}'"));
        }
        let ctype = req.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        if ctype.starts_with("application/json") {
            let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&req.body) else {
                return to_response(Err(err(400, "malformed JSON body")));
            };
            for (k, v) in m {
                params.insert(k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
            }
        } else {
            for (k, v) in url::form_urlencoded::parse(&req.body) {
                params.insert(k.into_owned(), v.into_owned());
            }
        }
    }

    let segs: Vec<String> = api_path.split('/').skip(1).map(percent_decode).collect();
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();

    // Authentication: ticket logins are open, everything else needs a token or ticket.
    let user = if method == "POST" && seg == ["access", "ticket"] {
        String::new()
    } else {
        match authenticate(state, req, &method) {
            Some(u) => u,
            // Real pveproxy delays this by 3 s; the mock answers at once.
            None => return ResponseTemplate::new(401),
        }
    };

    let (template, path_params) = route(&seg);
    let endpoint = format!("{method} {template}");
    let mut all = params.clone();
    all.extend(path_params.clone());
    if let Err(errors) = schema::validate(&endpoint, &all) {
        if errors.contains_key("endpoint") {
            return ResponseTemplate::new(501).set_body_string(format!("Method '{method} {api_path}' not implemented"));
        }
        return to_response(Err(PveError(400, "Parameter verification failed.".into(), Some(errors))));
    }
    let p = |k: &str| all.get(k).cloned().unwrap_or_default();
    let reply = dispatch(state, &endpoint, &p, &params, &user);
    let mut resp = to_response(reply);
    if let Some(d) = delay {
        resp = resp.set_delay(d);
    }
    resp
}

/// The authenticated user, or None (HTTP 401 with an empty body).
fn authenticate(state: &mut State, req: &Request, method: &str) -> Option<String> {
    let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(auth) = header("authorization") {
        if let Some(value) = auth.strip_prefix("PVEAPIToken=").or_else(|| auth.strip_prefix("PVEAPIToken ")) {
            let value = percent_decode(value);
            if let (Some((id, secret)), Some((want_id, want_secret))) = (value.rsplit_once('='), &state.auth.token) {
                if id == want_id && secret == want_secret {
                    return Some(id.to_string());
                }
            }
        }
        return None;
    }
    if let Some(cookie) = header("cookie") {
        let ticket =
            cookie.split(';').filter_map(|c| c.trim().strip_prefix("PVEAuthCookie=")).next().map(percent_decode);
        if let Some(ticket) = ticket {
            if let Some((t, csrf)) = state.tickets.iter().find(|(t, _)| *t == ticket).cloned() {
                if method != "GET" && header("csrfpreventiontoken").as_deref() != Some(csrf.as_str()) {
                    return None;
                }
                return Some(t.split(':').nth(1).unwrap_or("").to_string());
            }
        }
    }
    None
}

/// Maps path segments to the schema's path template and its path parameters.
fn route(seg: &[&str]) -> (String, BTreeMap<String, String>) {
    let mut params = BTreeMap::new();
    let mut out = Vec::new();
    for (i, s) in seg.iter().enumerate() {
        let name = match (i, seg.first().copied(), seg.get(2).copied()) {
            (1, Some("nodes"), _) => Some("node"),
            (3, Some("nodes"), Some("qemu")) => Some("vmid"),
            (3, Some("nodes"), Some("tasks")) => Some("upid"),
            (5, Some("nodes"), Some("qemu")) if seg.get(4) == Some(&"snapshot") => Some("snapname"),
            _ => None,
        };
        match name {
            Some(n) => {
                params.insert(n.to_string(), s.to_string());
                out.push(format!("{{{n}}}"));
            }
            None => out.push(s.to_string()),
        }
    }
    (format!("/{}", out.join("/")), params)
}

/// A disk key of a VM config (`scsi0`, `virtio1`, `sata2`, `ide0`...).
pub(super) fn no_vm(node: &str, vmid: u64) -> PveError {
    err(500, format!("Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"))
}

/// What every handler gets: the request's parameters and the node and VM its path names.
pub(super) struct Ctx<'a> {
    pub(super) endpoint: &'a str,
    pub(super) p: &'a dyn Fn(&str) -> String,
    pub(super) body: &'a BTreeMap<String, String>,
    pub(super) user: &'a str,
    pub(super) node: String,
    pub(super) vmid: u64,
}

impl Ctx<'_> {
    /// The VM at {node}/{vmid}, as Proxmox finds its config file.
    pub(super) fn on_node(&self, s: &State) -> Option<super::state::Vm> {
        s.vms.get(&self.vmid).filter(|v| v.node == self.node).cloned()
    }
    pub(super) fn p_owned(&self, k: &str) -> String {
        (self.p)(k)
    }
    pub(super) fn bool_of(&self, k: &str) -> bool {
        matches!((self.p)(k).as_str(), "1" | "true" | "on" | "yes")
    }
}

pub(super) fn locked(v: &super::state::Vm) -> Result<(), PveError> {
    match &v.lock {
        Some(l) => Err(err(500, format!("VM is locked ({l})"))),
        None => Ok(()),
    }
}

fn dispatch(
    state: &mut State,
    endpoint: &str,
    p: &dyn Fn(&str) -> String,
    body: &BTreeMap<String, String>,
    user: &str,
) -> Reply {
    let node = p("node");
    if !node.is_empty() && state.node(&node).is_none() {
        return Err(err(595, format!("no such cluster node '{node}'")));
    }
    let c = Ctx { endpoint, p, body, user, node, vmid: p("vmid").parse().unwrap_or(0) };
    for handler in [cluster, vms, super::power::power, super::power::snapshots] {
        match handler(state, &c) {
            Err(PveError(0, ..)) => continue,
            reply => return reply,
        }
    }
    Err(err(501, format!("Method '{endpoint}' not implemented in the mock")))
}

/// A handler's answer for an endpoint that another handler serves.
pub(super) fn not_mine() -> PveError {
    PveError(0, String::new(), None)
}

/// Version, login, cluster-wide reads, node networks and tasks.
fn cluster(state: &mut State, c: &Ctx<'_>) -> Reply {
    let (endpoint, p, node, user) = (c.endpoint, c.p, c.node.clone(), c.user);
    match endpoint {
        "GET /version" => {
            let release: String = state.version.split(['.', '-']).take(2).collect::<Vec<_>>().join(".");
            Ok(json!({"version": state.version, "release": release, "repoid": "mock0000"}))
        }
        "POST /access/ticket" => {
            let (u, pw) = (p("username"), p("password"));
            match &state.auth.password {
                Some((want_u, want_pw)) if *want_u == u && *want_pw == pw => {
                    let t = format!("PVE:{u}:{:08X}::mocksig{}", unix_now(), state.tickets.len());
                    let csrf = format!("{:08X}:mockcsrf{}", unix_now(), state.tickets.len());
                    state.tickets.push((t.clone(), csrf.clone()));
                    Ok(json!({"username": u, "ticket": t, "CSRFPreventionToken": csrf, "clustername": "mock"}))
                }
                _ => Err(err(401, "authentication failure")),
            }
        }
        "GET /cluster/nextid" => match p("vmid").parse::<u64>() {
            Ok(id) if state.vms.contains_key(&id) => Err(PveError(
                400,
                "Parameter verification failed.".into(),
                Some([("vmid".into(), format!("VM {id} already exists"))].into()),
            )),
            Ok(id) => Ok(json!(id.to_string())),
            Err(_) => Ok(json!(state.next_free().to_string())),
        },
        "GET /cluster/options" => Ok(super::tags::options(state)),
        "GET /cluster/resources" => {
            let t = p("type");
            if !t.is_empty() && t != "vm" {
                return Ok(json!([]));
            }
            Ok(Value::Array(state.vms.values().map(|v| state.resource(v)).collect()))
        }
        "GET /access/permissions" => {
            let granted = |path: &str| {
                let m: serde_json::Map<String, Value> =
                    state.privileges_on(path).into_iter().map(|p| (p, json!(1))).collect();
                Value::Object(m)
            };
            let path = p("path");
            if path.is_empty() {
                let paths: Vec<String> = state.privileges.keys().cloned().collect();
                Ok(Value::Object(paths.iter().map(|k| (k.clone(), granted(k))).collect()))
            } else {
                Ok(json!({ path.clone(): granted(&path) }))
            }
        }
        "GET /nodes" => Ok(Value::Array(
            state
                .nodes
                .iter()
                .map(|n| json!({"node": n.name, "status": if n.online { "online" } else { "offline" }, "type": "node", "maxcpu": 8}))
                .collect(),
        )),
        "GET /nodes/{node}/storage" => Ok(json!([
            {"storage": "local", "type": "dir", "content": "iso,vztmpl,backup", "active": 1, "enabled": 1},
            {"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir", "active": 1, "enabled": 1},
        ])),
        "GET /cluster/status" => {
            let mut out = vec![
                json!({"type": "cluster", "name": "mock", "nodes": state.nodes.len(), "quorate": 1, "version": 3}),
            ];
            for (i, n) in state.nodes.iter().enumerate() {
                out.push(json!({"type": "node", "name": n.name, "id": format!("node/{}", n.name), "nodeid": i + 1,
                                "ip": n.ip, "online": u8::from(n.online), "local": u8::from(i == 0), "level": ""}));
            }
            Ok(Value::Array(out))
        }
        "GET /nodes/{node}/network" => {
            let n = state.node(&node).cloned().ok_or_else(|| err(500, "no node"))?;
            // Unordered in real Proxmox: the storage network comes first here on purpose.
            Ok(json!([
                {"iface": "eno2", "type": "eth", "method": "static", "address": n.storage_ip, "cidr": format!("{}/24", n.storage_ip), "active": 1},
                {"iface": "vmbr1", "type": "bridge", "method": "manual", "active": 1},
                {"iface": "vmbr0", "type": "bridge", "method": "static", "address": n.ip, "cidr": format!("{}/24", n.ip),
                 "gateway": "10.0.0.1", "bridge_ports": "eno1", "active": 1},
            ]))
        }
        "GET /nodes/{node}/tasks/{upid}/status" => {
            let upid = p("upid");
            let t = state.tasks.get(&upid).filter(|t| t.node == node).ok_or_else(|| err(400, "no such task"))?;
            let mut d = json!({"upid": t.upid, "node": t.node, "status": if t.exitstatus.is_some() { "stopped" } else { "running" },
                               "type": upid.split(':').nth(5).unwrap_or(""), "user": user, "starttime": unix_now()});
            if let Some(e) = &t.exitstatus {
                d["exitstatus"] = json!(e);
            }
            Ok(d)
        }
        "GET /nodes/{node}/tasks/{upid}/log" => {
            let t = state.tasks.get(&p("upid")).ok_or_else(|| err(400, "no such task"))?;
            Ok(Value::Array(t.log.iter().enumerate().map(|(i, l)| json!({"n": i + 1, "t": l})).collect()))
        }
        _ => Err(not_mine()),
    }
}

/// VM listing, state, configuration, creation, cloning and removal.
fn vms(state: &mut State, c: &Ctx<'_>) -> Reply {
    let (endpoint, p, node, vmid, user, body) = (c.endpoint, c.p, c.node.clone(), c.vmid, c.user, c.body);
    let on_node = |s: &State| c.on_node(s);
    let bool_of = |k: &str| c.bool_of(k);
    match endpoint {
        "GET /nodes/{node}/qemu" => Ok(Value::Array(
            state
                .vms
                .values()
                .filter(|v| v.node == node)
                .map(|v| {
                    let mut e = json!({"vmid": v.vmid, "name": v.name(), "status": v.status(), "template": u8::from(v.template)});
                    if let Some(t) = v.config.get("tags").filter(|t| !t.is_empty()) {
                        e["tags"] = json!(t);
                    }
                    e
                })
                .collect(),
        )),
        "GET /nodes/{node}/qemu/{vmid}/status/current" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            let mut d = json!({"vmid": v.vmid, "name": v.name(), "status": v.status(),
                "qmpstatus": if v.paused { "paused" } else { v.status() }, "cpus": 1, "maxmem": 1073741824u64, "uptime": if v.running { 60 } else { 0 },
                "ha": {"managed": u8::from(v.ha_managed)}});
            if v.template {
                d["template"] = json!(1);
            }
            if let Some(l) = &v.lock {
                d["lock"] = json!(l);
            }
            if let Some(t) = v.config.get("tags").filter(|t| !t.is_empty()) {
                d["tags"] = json!(t);
            }
            Ok(d)
        }
        "GET /nodes/{node}/qemu/{vmid}/config" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            let view = super::disks::config_view(&v, bool_of("current"));
            let mut m: serde_json::Map<String, Value> = view.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            m.insert("digest".into(), json!(super::disks::digest(&v)));
            if let Some(l) = &v.lock {
                m.insert("lock".into(), json!(l));
            }
            Ok(Value::Object(m))
        }
        "GET /nodes/{node}/qemu/{vmid}/pending" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            Ok(super::disks::pending_array(&v))
        }
        "POST /nodes/{node}/qemu/{vmid}/config" | "PUT /nodes/{node}/qemu/{vmid}/config" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            // A new disk (`storage:SIZE,...`) needs a storage that exists.
            for (k, val) in body {
                if super::disks::is_disk_key(k) && !val.contains("media=cdrom") {
                    if let Some((storage, size)) = val.split(',').next().and_then(|f| f.split_once(':')) {
                        if size.chars().all(|c| c.is_ascii_digit()) && !matches!(storage, "local" | "local-lvm") {
                            return Err(err(500, format!("storage '{storage}' does not exist")));
                        }
                    }
                }
            }
            // qemu-server `update_vm_api`: `assert_tag_permissions` on the tags as sent, then
            // `get_unique_tags`.
            if let Some(t) = body.get("tags") {
                let old = v.config.get("tags").cloned().unwrap_or_default();
                super::tags::assert_permissions(state, &old, t).map_err(|m| err(403, m))?;
            }
            let tags = body.get("tags").map(|t| state.normalise_tags(t));
            let vm = state.vms.get_mut(&vmid).expect("vm");
            if let Some(t) = tags {
                vm.config.insert("tags".into(), t);
            }
            super::disks::update(vm, vmid, body).map_err(|e| err(500, e))?;
            if endpoint.starts_with("PUT") {
                Ok(Value::Null)
            } else {
                Ok(json!(state.task(&node, "qmconfig", vmid, user, Effect::None, None)))
            }
        }
        "PUT /nodes/{node}/qemu/{vmid}/resize" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            locked(&v)?;
            let disk = p("disk");
            let Some(current) = v.config.get(&disk).cloned() else {
                return Err(err(500, format!("disk '{disk}' does not exist")));
            };
            let gib = |s: &str| -> u64 {
                let s = s.trim_start_matches('+');
                let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
                let n: u64 = n.parse().unwrap_or(0);
                match unit { "T" => n * 1024, "M" => n / 1024, _ => n }
            };
            let have = current.split(',').find_map(|o| o.strip_prefix("size=")).map(gib).unwrap_or(0);
            let req = p("size");
            let want = if req.starts_with('+') { have + gib(&req) } else { gib(&req) };
            if want < have {
                return Err(err(500, format!("unable to shrink disk size ({have}G -> {want}G)")));
            }
            let new = current.split(',').map(|o| if o.starts_with("size=") { format!("size={want}G") } else { o.to_string() }).collect::<Vec<_>>().join(",");
            state.vms.get_mut(&vmid).expect("vm").config.insert(disk, new);
            Ok(json!(state.task(&node, "resize", vmid, user, Effect::None, None)))
        }
        "POST /nodes/{node}/qemu" => {
            if state.vms.contains_key(&vmid) {
                return Err(err(500, format!("unable to create VM {vmid}: config file already exists")));
            }
            let mut cfg: Vec<(String, String)> = body.iter().filter(|(k, _)| *k != "vmid" && *k != "start").map(|(k, v)| (k.clone(), v.clone())).collect();
            for (k, v) in cfg.iter_mut() {
                // `local-lvm:32` allocates a disk: store it as Proxmox would.
                if k.starts_with("scsi") || k.starts_with("virtio") || k.starts_with("sata") {
                    if let Some((storage, size)) = v.split(',').next().and_then(|f| f.split_once(':')) {
                        if size.chars().all(|c| c.is_ascii_digit()) {
                            *v = format!("{storage}:vm-{vmid}-disk-0,size={size}G");
                        }
                    }
                }
            }
            for (_, v) in cfg.iter_mut().filter(|(k, _)| k == "tags") {
                super::tags::assert_permissions(state, "", v).map_err(|m| err(403, m))?;
                *v = state.normalise_tags(v);
            }
            let cfg_ref: Vec<(&str, &str)> = cfg.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            state.insert_vm(vmid, &node, false, false, &cfg_ref);
            state.vms.get_mut(&vmid).expect("vm").lock = Some("create".into());
            Ok(json!(state.task(&node, "qmcreate", vmid, user, Effect::Unlock(vmid), None)))
        }
        "POST /nodes/{node}/qemu/{vmid}/clone" => {
            let src = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            let newid: u64 = p("newid").parse().unwrap_or(0);
            let full = match body.get("full") {
                Some(_) => bool_of("full"),
                None => !src.template,
            };
            if !full && body.contains_key("storage") {
                return Err(err(500, "parameter 'storage' not allowed for linked clones"));
            }
            if !full && !src.template {
                return Err(err(500, "linked clone feature is not supported for drive 'scsi0'"));
            }
            if state.vms.contains_key(&newid) {
                return Err(err(500, format!("unable to create VM {newid}: config file already exists")));
            }
            let mut config = src.config.clone();
            config.remove("template");
            for (k, v) in config.iter_mut() {
                if k.starts_with("net") {
                    // Proxmox regenerates every MAC on clone.
                    let rest = v.split_once(',').map(|(_, r)| r.to_string()).unwrap_or_default();
                    *v = format!("virtio=BC:24:11:{:02X}:{:02X}:{:02X},{rest}", (newid >> 16) & 0xff, (newid >> 8) & 0xff, newid & 0xff);
                }
                if k == "scsi0" {
                    *v = format!("{}:vm-{newid}-disk-0,size=8G", body.get("storage").map(String::as_str).unwrap_or("local-lvm"));
                }
            }
            if let Some(n) = body.get("name") {
                config.insert("name".into(), n.clone());
            }
            if let Some(d) = body.get("description") {
                config.insert("description".into(), d.clone());
            }
            let target = body.get("target").cloned().unwrap_or(node.clone());
            let cfg: Vec<(&str, &str)> = config.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            state.insert_vm(newid, &target, false, false, &cfg);
            state.vms.get_mut(&newid).expect("vm").lock = Some("clone".into());
            Ok(json!(state.task(&node, "qmclone", vmid, user, Effect::Unlock(newid), None)))
        }
        "DELETE /nodes/{node}/qemu/{vmid}" => {
            let v = on_node(state).ok_or_else(|| no_vm(&node, vmid))?;
            // qemu-server src/PVE/QemuServer.pm destroy_vm: the `suspended` lock does not stop it.
            if v.lock.as_deref() != Some("suspended") {
                locked(&v)?;
            }
            if v.running {
                return Err(err(500, format!("VM {vmid} is running - destroy failed")));
            }
            if v.ha_managed && !bool_of("purge") {
                return Err(err(500, format!("unable to remove VM {vmid} - used in HA resources and purge parameter not set.")));
            }
            Ok(json!(state.task(&node, "qmdestroy", vmid, user, Effect::Destroy(vmid), None)))
        }
        _ => Err(not_mine()),
    }
}
