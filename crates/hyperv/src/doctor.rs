//! `hyperv doctor`: configuration (every key and where it came from), connection (name, TCP,
//! TLS with the listener's fingerprint, WinRM authentication), authorization (the Hyper-V
//! module, the account allowed to manage VMs) and the objects the configuration names
//! (virtual switch, `vhd_path`, `vm_path`, the template VHDX or ISO), from one script.

use crate::keys;
use crate::scripts::Script;
use crate::HypervBackend;
use csx_core::doctor::{configured, Area, Check};
use csx_core::{Payload, Request};
use csx_winrm::{Client, ErrorKind};
use serde_json::{json, Value};
use std::time::Duration;

fn configuration(p: &Payload) -> Vec<Check> {
    let mut out = Vec::new();
    for key in keys::KEYS {
        if let Some(s) = configured(p, key) {
            out.push(Check::pass(Area::Configuration, key.name, s));
        }
    }
    for (key, why) in [
        (keys::NETWORK_SWITCH, "`create` of an instance with NICs fails"),
        (keys::VHD_PATH, "`create` fails"),
        (keys::VM_PATH, "`create` fails"),
    ] {
        if p.detail(&key).is_none() && !(key == keys::NETWORK_SWITCH && p.detail(&keys::NETWORK_BRIDGE).is_some()) {
            out.push(Check::fail(
                Area::Configuration,
                key.name,
                format!("not set: {why}"),
                format!("set host detail `{}`", key.name),
            ));
        }
    }
    out
}

fn connection(b: &HypervBackend) -> Vec<Check> {
    let mut out = Vec::new();
    let ep = &b.settings.endpoint;
    match std::net::ToSocketAddrs::to_socket_addrs(&(ep.host.as_str(), ep.port)) {
        Ok(mut a) => out.push(Check::pass(
            Area::Connection,
            "name",
            format!("{} resolves to {}", ep.host, a.next().map(|a| a.ip().to_string()).unwrap_or_default()),
        )),
        Err(e) => {
            out.push(Check::fail(
                Area::Connection,
                "name",
                format!("{} does not resolve: {e}", ep.host),
                "fix `url` or DNS",
            ));
            return out;
        }
    }
    if ep.https {
        match csx_tls::presented_certificate(&ep.host, ep.port, Duration::from_secs(5)) {
            Ok((_, fp)) => out.push(Check::pass(
                Area::Connection,
                "certificate",
                format!("the listener presents a certificate with SHA-256 {fp}"),
            )),
            Err(e) => out.push(Check::fail(
                Area::Connection,
                "certificate",
                e.to_string(),
                "check that `url` is the WinRM HTTPS listener (port 5986)",
            )),
        }
    }
    out
}

/// Every check after the install's.
pub(crate) async fn run(b: &HypervBackend, req: &Request) -> Vec<Check> {
    let p = &req.payload;
    let mut out = configuration(p);
    let conn = connection(b);
    let reached = !conn.iter().any(|c| c.verdict == csx_core::doctor::Verdict::Fail && c.name == "name");
    out.extend(conn);
    let not_run = |out: &mut Vec<Check>| {
        for area in [Area::Authorization, Area::Objects] {
            out.push(Check::skip(area, "checks", "not run: the connection checks failed"));
        }
    };
    if !reached {
        not_run(&mut out);
        return out;
    }
    let template = if p.detail(&keys::TEMPLATE_TYPE).is_some_and(|t| t.eq_ignore_ascii_case("iso")) {
        p.detail(&keys::ISO_PATH)
    } else {
        p.detail(&keys::TEMPLATE_PATH)
    };
    let params = json!({"name": "", "uuid": "", "vhd_path": p.detail(&keys::VHD_PATH).unwrap_or(""),
        "vm_path": p.detail(&keys::VM_PATH).unwrap_or(""), "template": template.unwrap_or("")});
    let mut client = match Client::new(b.settings.clone(), req.deadline) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::fail(Area::Connection, "WinRM", e.to_string(), "fix `url` and `transport`"));
            not_run(&mut out);
            return out;
        }
    };
    let answer = match client.run_ps(&Script::Doctor.render(&params)).await {
        Ok(o) => crate::interpret(Script::Doctor, o).map_err(|e| e.message().to_string()),
        Err(e) => {
            let (name, fix) = match e.kind() {
                ErrorKind::Certificate(_) => (
                    "TLS trust",
                    "set `tls_fingerprint` to the fingerprint above (after checking it on the host), or `tls_ca_file`".to_string(),
                ),
                ErrorKind::Auth => ("authentication", "the message lists the causes: check `username`, `password` and the account's rights".to_string()),
                ErrorKind::Unreachable => ("WinRM", "check the port in `url` (5986 HTTPS, 5985 HTTP) and that WinRM listens (`winrm enumerate winrm/config/listener`)".to_string()),
                _ => ("WinRM", "run `winrs` with the same settings to see more".to_string()),
            };
            out.push(Check::fail(Area::Connection, name, e.to_string(), fix));
            not_run(&mut out);
            return out;
        }
    };
    if b.settings.endpoint.https && b.settings.trust.is_insecure() {
        out.push(Check::warn(
            Area::Connection,
            "TLS trust",
            format!("{}", b.settings.trust),
            "set `tls_fingerprint` (the SHA-256 above) or `tls_ca_file`, then remove `verify_tls_certificate=false`",
        ));
    } else if b.settings.endpoint.https {
        out.push(Check::pass(Area::Connection, "TLS trust", format!("trusted: {}", b.settings.trust)));
    }
    out.push(Check::pass(Area::Connection, "authentication", format!("WinRM accepted `{}`", b.settings.user)));
    let v = match answer {
        Ok(v) => v,
        Err(m) => {
            out.push(Check::fail(Area::Authorization, "doctor script", m, "run it by hand with `winrs --powershell`"));
            out.push(Check::skip(Area::Objects, "checks", "not run: the doctor script failed"));
            return out;
        }
    };
    authorization_and_objects(p, &v, template, &mut out);
    out
}

fn authorization_and_objects(p: &Payload, v: &Value, template: Option<&str>, out: &mut Vec<Check>) {
    if v["module"] != json!(true) {
        out.push(Check::fail(
            Area::Authorization,
            "Hyper-V module",
            "the Hyper-V PowerShell module is not installed on the host",
            "Install-WindowsFeature Hyper-V-PowerShell (or enable Microsoft-Hyper-V-Management-PowerShell)",
        ));
    } else {
        out.push(Check::pass(Area::Authorization, "Hyper-V module", "installed"));
    }
    match (v["host"].as_str().filter(|h| !h.is_empty()), v["rights"].as_str().filter(|r| !r.is_empty())) {
        (Some(h), _) => {
            out.push(Check::pass(Area::Authorization, "manage VMs", format!("the account may manage VMs on {h}")))
        }
        (None, why) => out.push(Check::fail(
            Area::Authorization,
            "manage VMs",
            format!("the account may not manage VMs: {}", why.unwrap_or("Get-VMHost failed")),
            "add the account to the local `Hyper-V Administrators` (or Administrators) group",
        )),
    }
    let switches: Vec<&str> = v["switches"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let switches_error = v["switches_error"].as_str().filter(|e| !e.is_empty());
    if let Some(sw) = p.detail(&keys::NETWORK_SWITCH).or_else(|| p.detail(&keys::NETWORK_BRIDGE)) {
        out.push(if let Some(e) = switches_error {
            lookup_failed("network_switch", &format!("virtual switch {sw:?}"), e)
        } else if switches.contains(&sw) {
            Check::pass(Area::Objects, "network_switch", format!("virtual switch {sw:?} exists"))
        } else {
            Check::fail(
                Area::Objects,
                "network_switch",
                format!("no virtual switch {sw:?} (switches: {})", switches.join(", ")),
                "set `network_switch` to one of them (Get-VMSwitch)",
            )
        });
    }
    for key in [keys::VHD_PATH, keys::VM_PATH] {
        let key = &key;
        if let Some(path) = p.detail(key) {
            let key = key.name;
            out.push(if v[key] == json!(true) {
                Check::pass(Area::Objects, key, format!("folder {path:?} exists"))
            } else if let Some(e) = v[key].as_str() {
                lookup_failed(key, &format!("folder {path:?}"), e)
            } else {
                Check::fail(
                    Area::Objects,
                    key,
                    format!("no folder {path:?} on the host"),
                    format!("create it, or set `{key}` to an existing folder"),
                )
            });
        }
    }
    if let Some(t) = template {
        out.push(if v["template"] == json!(true) {
            Check::pass(Area::Objects, "template", format!("{t:?} exists"))
        } else if let Some(e) = v["template"].as_str() {
            lookup_failed("template", &format!("file {t:?}"), e)
        } else {
            Check::fail(
                Area::Objects,
                "template",
                format!("no file {t:?} on the host"),
                "fix `template_path` (or `iso_path`)",
            )
        });
    }
}

/// A look-up the host could not make (access denied, a failing Hyper-V service): a failure with
/// the host's own error, never "missing" with advice to change the configuration.
fn lookup_failed(name: &str, what: &str, error: &str) -> Check {
    Check::fail(
        Area::Objects,
        name,
        format!("could not look up {what} on the host: {error}"),
        "the host's error above is the cause (the account's rights, the Hyper-V service); the setting may be right",
    )
}
