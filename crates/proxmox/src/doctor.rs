//! `proxmox doctor`: configuration (every key and where it came from), connection (name,
//! TCP, TLS with the node's fingerprint, authentication), authorization (the token's
//! privileges against what each action needs) and the objects the configuration names
//! (node, bridge, storage, template).

use crate::client::{as_bool, as_u64, seg, ApiError, Client};
use crate::config::{Auth, Connection};
use crate::keys;
use csx_core::doctor::{configured, Area, Check};
use csx_core::{Payload, Request};
use serde_json::Value;
use std::time::Duration;

/// The privileges each action needs, and on which path (`{storage}` and `{bridge}` are the
/// configured ones). The README's table says the same for operators.
const NEEDED: &[(&str, &str, &[&str])] = &[
    ("status, statuses", "/vms", &["VM.Audit"]),
    (
        "create",
        "/vms",
        &[
            "VM.Clone",
            "VM.Allocate",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.Options",
            "VM.PowerMgmt",
        ],
    ),
    ("create (disks)", "/storage/{storage}", &["Datastore.AllocateSpace"]),
    ("create (NICs)", "/sdn/zones/localnetwork/{bridge}", &["SDN.Use"]),
    ("start, stop, reboot, delete", "/vms", &["VM.PowerMgmt", "VM.Allocate"]),
    ("getconsole", "/vms", &["VM.Console"]),
    ("snapshots", "/vms", &["VM.Snapshot", "VM.Snapshot.Rollback"]),
    // GetIpAddresses: VM.GuestAgent.Audit on PVE 9, VM.Monitor before (see `agent_privilege`).
    ("Migrate", "/vms", &["VM.Migrate"]),
    ("AddDisk, ResizeDisk, RemoveDisk", "/vms", &["VM.Config.Disk"]),
];

fn configuration(p: &Payload, conn: &Connection) -> Vec<Check> {
    let mut out = Vec::new();
    let iso = p.detail(&keys::TEMPLATE_TYPE).is_some_and(|t| t.eq_ignore_ascii_case("iso"));
    let needed = if iso { keys::ISO_PATH } else { keys::TEMPLATE_ID };
    for key in keys::KEYS {
        match configured(p, key) {
            Some(s) => out.push(Check::pass(Area::Configuration, key.name, s)),
            None if *key == keys::NETWORK_BRIDGE => out.push(Check::fail(
                Area::Configuration,
                key.name,
                "not set: `create` of an instance with NICs fails",
                "set host detail `network_bridge` (e.g. vmbr0)",
            )),
            None if *key == needed => out.push(Check::skip(
                Area::Configuration,
                key.name,
                "not in this payload (a template detail: it comes with the instance's payloads)",
            )),
            None => {}
        }
        if *key == keys::URL {
            out.push(Check::pass(Area::Configuration, "API", conn.api.clone()));
        }
    }
    out
}

/// `host:port` of the API URL.
fn host_port(api: &str) -> (String, u16, bool) {
    let https = api.starts_with("https://");
    let authority = api.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p.parse().unwrap_or(8006)),
        _ => (authority, 8006),
    };
    (host.trim_start_matches('[').trim_end_matches(']').to_string(), port, https)
}

async fn connection(conn: &Connection, client: &Client) -> (Vec<Check>, Option<Value>) {
    let mut out = Vec::new();
    let (host, port, https) = host_port(&conn.api);
    match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(mut addrs) => {
            let first = addrs.next().map(|a| a.ip().to_string()).unwrap_or_default();
            out.push(Check::pass(Area::Connection, "name", format!("{host} resolves to {first}")));
        }
        Err(e) => {
            out.push(Check::fail(
                Area::Connection,
                "name",
                format!("{host} does not resolve: {e}"),
                "fix `url` or DNS",
            ));
            return (out, None);
        }
    }
    let tcp = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect((host.as_str(), port))).await;
    match tcp {
        Ok(Ok(_)) => out.push(Check::pass(Area::Connection, "TCP", format!("{host}:{port} accepts connections"))),
        _ => {
            out.push(Check::fail(
                Area::Connection,
                "TCP",
                format!("cannot connect to {host}:{port}"),
                "check the port in `url` (8006 by default) and firewalls between this server and the node",
            ));
            return (out, None);
        }
    }
    if https {
        let (h, pt) = (host.clone(), port);
        let presented =
            tokio::task::spawn_blocking(move || csx_tls::presented_certificate(&h, pt, Duration::from_secs(5))).await;
        match presented {
            Ok(Ok((_, fp))) => out.push(Check::pass(
                Area::Connection,
                "certificate",
                format!("the node presents a certificate with SHA-256 {fp}"),
            )),
            Ok(Err(e)) => out.push(Check::fail(
                Area::Connection,
                "certificate",
                e.to_string(),
                "check that `url` is the Proxmox API (https, port 8006)",
            )),
            Err(e) => out.push(Check::fail(Area::Connection, "certificate", e.to_string(), "report this")),
        }
    }
    // One authenticated request: trust and credentials together.
    match client.get("/access/permissions", &[]).await {
        Ok(v) => {
            if https && conn.trust.is_insecure() {
                out.push(Check::warn(
                    Area::Connection,
                    "TLS trust",
                    format!("{}", conn.trust),
                    "set `tls_fingerprint` (the SHA-256 above) or `tls_ca_file`, then remove `verify_tls_certificate=false`",
                ));
            } else if https {
                out.push(Check::pass(Area::Connection, "TLS trust", format!("trusted: {}", conn.trust)));
            }
            let who = match &conn.auth {
                Auth::Token { id, .. } => format!("API token {id}"),
                Auth::Password { user, .. } => format!("user {user} (ticket)"),
            };
            out.push(Check::pass(Area::Connection, "authentication", format!("accepted: {who}")));
            (out, Some(v))
        }
        Err(ApiError::Certificate { detail, mismatch: false, .. }) => {
            out.push(Check::fail(
                Area::Connection,
                "TLS trust",
                detail,
                "set `tls_fingerprint` to the fingerprint above (after checking it on the node: Datacenter > node > Certificates), or `tls_ca_file`",
            ));
            (out, None)
        }
        Err(ApiError::Certificate { detail, mismatch: true, .. }) => {
            out.push(Check::fail(
                Area::Connection,
                "TLS trust",
                detail,
                "the node's certificate is not the pinned one: set `tls_fingerprint` to the fingerprint above once you have checked it",
            ));
            (out, None)
        }
        Err(e @ ApiError::Unauthorized { .. }) => {
            out.push(Check::fail(
                Area::Connection,
                "authentication",
                csx_core::Error::from(e).message().to_string(),
                "check `user`, `token` and `secret` (Datacenter > Permissions > API Tokens)",
            ));
            (out, None)
        }
        Err(e) => {
            out.push(Check::fail(
                Area::Connection,
                "API",
                csx_core::Error::from(e).message().to_string(),
                "check `url`",
            ));
            (out, None)
        }
    }
}

/// A GET whose failure is reported as what it is (the request, Proxmox's status and answer),
/// never read as "nothing there" and turned into advice to change the configuration.
async fn fetch(client: &Client, area: Area, check: &str, path: &str, query: &[(&str, String)]) -> Result<Value, Check> {
    client.get(path, query).await.map_err(|e| {
        Check::fail(
            area,
            check,
            csx_core::Error::from(e).message().to_string(),
            "this is Proxmox's answer, not a setting to change: check the node's state and the token's privileges \
             (Sys.Audit on /nodes/<node>), then run doctor again",
        )
    })
}

/// The privilege the guest-agent calls need: `VM.GuestAgent.Audit` from PVE 9 on (qemu-server
/// `API2/Qemu/Agent.pm`, pve-access-control dropping VM.Monitor), `VM.Monitor` before.
fn agent_privilege(version: &Value) -> &'static str {
    let major = version["version"].as_str().and_then(|v| v.split('.').next()).and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(m) if m < 9 => "VM.Monitor",
        _ => "VM.GuestAgent.Audit",
    }
}

async fn authorization(p: &Payload, client: &Client) -> Vec<Check> {
    let mut out = Vec::new();
    let storage = p.detail(&keys::STORAGE).unwrap_or("local-lvm");
    let bridge = p.detail(&keys::NETWORK_BRIDGE).unwrap_or("vmbr0");
    let version = match fetch(client, Area::Authorization, "PVE version", "/version", &[]).await {
        Ok(v) => v,
        Err(c) => return vec![c],
    };
    let agent = [agent_privilege(&version)];
    let needed = NEEDED.iter().copied().chain([("GetIpAddresses", "/vms", &agent[..])]);
    let mut cache: Vec<(String, Value)> = Vec::new();
    for (action, path, privs) in needed {
        let path = path.replace("{storage}", storage).replace("{bridge}", bridge);
        if !cache.iter().any(|(p, _)| *p == path) {
            match fetch(client, Area::Authorization, action, "/access/permissions", &[("path", path.clone())]).await {
                Ok(v) => cache.push((path.clone(), v)),
                Err(c) => {
                    out.push(c);
                    continue;
                }
            }
        }
        let granted = &cache.iter().find(|(p, _)| *p == path).map(|(_, v)| v.clone()).unwrap_or(Value::Null)[&path];
        let missing: Vec<&str> = privs.iter().copied().filter(|pr| !as_bool(&granted[*pr])).collect();
        if missing.is_empty() {
            out.push(Check::pass(Area::Authorization, action, format!("{} on {path}", privs.join(", "))));
        } else {
            out.push(Check::fail(
                Area::Authorization,
                action,
                format!("missing {} on {path}", missing.join(", ")),
                format!("grant them: pveum acl modify {path} --tokens '<token id>' --roles <a role holding them> (see the README's privileges)"),
            ));
        }
    }
    // csx records ownership and the instance name in tags: would Proxmox let this token set them?
    let sample =
        [format!("{}00000000-0000-0000-0000-000000000000", crate::TAG_OWNER), format!("{}i-2-1-_v_m", crate::TAG_NAME)];
    out.push(match crate::tagperm::refused(client, &sample).await {
        Ok(None) => {
            Check::pass(Area::Authorization, "tags", "csx may set its csx- tags (user-tag-access, registered-tags)")
        }
        Ok(Some(why)) => {
            Check::fail(Area::Authorization, "tags", why, "change the datacenter option the message names")
        }
        Err(e) => Check::fail(
            Area::Authorization,
            "tags",
            e.message().to_string(),
            "this is Proxmox's answer, not a setting to change: check the token's privileges, then run doctor again",
        ),
    });
    out
}

async fn objects(p: &Payload, conn: &Connection, client: &Client) -> Vec<Check> {
    let mut out = Vec::new();
    let node = &conn.node;
    let nodes = match fetch(client, Area::Objects, "node", "/nodes", &[]).await {
        Ok(v) => v,
        Err(c) => return vec![c],
    };
    let found = nodes.as_array().into_iter().flatten().find(|n| n["node"].as_str() == Some(node.as_str())).cloned();
    match found {
        Some(n) if n["status"].as_str() == Some("online") => {
            out.push(Check::pass(Area::Objects, "node", format!("{node} is online")))
        }
        Some(n) => out.push(Check::fail(
            Area::Objects,
            "node",
            format!("{node} is {}", n["status"].as_str().unwrap_or("not online")),
            "bring the node back, or point this host at another node",
        )),
        None => {
            let names: Vec<&str> = nodes.as_array().into_iter().flatten().filter_map(|n| n["node"].as_str()).collect();
            out.push(Check::fail(
                Area::Objects,
                "node",
                format!("no node {node} in the cluster (nodes: {})", names.join(", ")),
                "set host detail `node` to one of them",
            ));
            return out;
        }
    }
    if let Some(bridge) = p.detail(&keys::NETWORK_BRIDGE) {
        let net = fetch(client, Area::Objects, "network_bridge", &format!("/nodes/{}/network", seg(node)), &[]).await;
        let net = match net {
            Ok(v) => v,
            Err(c) => {
                out.push(c);
                Value::Null
            }
        };
        let bridges: Vec<&str> = net
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| matches!(i["type"].as_str(), Some("bridge" | "OVSBridge")))
            .filter_map(|i| i["iface"].as_str())
            .collect();
        out.push(if net.is_null() {
            Check::skip(Area::Objects, "network_bridge", "not checked: the node's networks could not be read")
        } else if bridges.contains(&bridge) {
            Check::pass(Area::Objects, "network_bridge", format!("{bridge} exists on {node}"))
        } else {
            Check::fail(
                Area::Objects,
                "network_bridge",
                format!("{node} has no bridge {bridge} (bridges: {})", bridges.join(", ")),
                "set `network_bridge` to one of them",
            )
        });
    }
    if let Some(storage) = p.detail(&keys::STORAGE) {
        let st = match fetch(client, Area::Objects, "storage", &format!("/nodes/{}/storage", seg(node)), &[]).await {
            Ok(v) => v,
            Err(c) => {
                out.push(c);
                Value::Null
            }
        };
        let ids: Vec<&str> = st.as_array().into_iter().flatten().filter_map(|s| s["storage"].as_str()).collect();
        out.push(if st.is_null() {
            Check::skip(Area::Objects, "storage", "not checked: the node's storages could not be read")
        } else if ids.contains(&storage) {
            Check::pass(Area::Objects, "storage", format!("{storage} is available on {node}"))
        } else {
            Check::fail(
                Area::Objects,
                "storage",
                format!("{node} has no storage {storage} (storages: {})", ids.join(", ")),
                "set `storage` to one of them",
            )
        });
    }
    if let Some(id) = p
        .detail(&keys::TEMPLATE_ID)
        .filter(|_| !p.detail(&keys::TEMPLATE_TYPE).is_some_and(|t| t.eq_ignore_ascii_case("iso")))
    {
        let all = match fetch(client, Area::Objects, "template", "/cluster/resources", &[("type", "vm".into())]).await {
            Ok(v) => v,
            Err(c) => {
                out.push(c);
                return out;
            }
        };
        let vm = all
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| as_u64(&r["vmid"]).map(|v| v.to_string()).as_deref() == Some(id));
        out.push(match vm {
            Some(v) if as_bool(&v["template"]) => Check::pass(
                Area::Objects,
                "template",
                format!("VM {id} is a template on {}", v["node"].as_str().unwrap_or("?")),
            ),
            Some(_) => Check::fail(
                Area::Objects,
                "template",
                format!("VM {id} is not a template"),
                "convert it (More > Convert to template) or set `template_id` to a template",
            ),
            None => Check::fail(
                Area::Objects,
                "template",
                format!("there is no VM {id}"),
                "set `template_id` to a template's VMID",
            ),
        });
    }
    out
}

/// Every check after the install's.
pub(crate) async fn run(conn: &Connection, req: &Request) -> Vec<Check> {
    let p = &req.payload;
    let mut out = configuration(p, conn);
    let client = match Client::new(conn, req.deadline) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::fail(
                Area::Connection,
                "TLS settings",
                csx_core::Error::from(e).message().to_string(),
                "fix `tls_ca_file` or `tls_fingerprint`",
            ));
            return out;
        }
    };
    let (checks, authenticated) = connection(conn, &client).await;
    out.extend(checks);
    if authenticated.is_none() {
        for area in [Area::Authorization, Area::Objects] {
            out.push(Check::skip(area, "checks", "not run: the connection checks failed"));
        }
        return out;
    }
    out.extend(authorization(p, &client).await);
    out.extend(objects(p, conn, &client).await);
    out
}
