//! csx-hyperv: the Hyper-V backend. Every action is one PowerShell script over
//! one WinRM connection; inputs travel as one base64 JSON blob, never as source.
//!
//! Successor to CloudStack's built-in `HyperV/hyperv.py`, with its configuration
//! keys and custom actions unchanged.

mod actions;
mod doctor;
pub mod keys;
mod paths;
pub mod scripts;

pub use actions::{custom_actions, HypervAction};

use csx_core::identity::{self, Ownership, INSTALLATION_MARK, NAME_MARK, OWNER_MARK};
use csx_core::{
    async_trait, Backend, Console, CustomAction, CustomActionSpec, CustomResult, Error, Outcome, Params, Payload,
    PowerState, Request, Result, Vlan,
};
use csx_winrm::{AuthMethod, Client, Endpoint, Settings};
use paths::{instance_path, local_path, without_credentials};
use scripts::Script;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The Hyper-V backend: WinRM settings from the payload, no I/O until an action runs.
#[derive(Debug, Clone)]
pub struct HypervBackend {
    settings: Settings,
}

impl HypervBackend {
    pub fn from_payload(p: &Payload) -> Result<Self> {
        let endpoint = Endpoint::parse(without_credentials(p.require_detail(&keys::URL)?)?)
            .map_err(|e| Error::bad_input(format!("detail `url`: {e}")))?;
        let user = p.detail(&keys::USERNAME).or_else(|| p.detail(&keys::USER)).ok_or_else(|| {
            Error::bad_input("missing configuration `username`: set it as a host or extension detail")
        })?;
        let password = p.require_detail(&keys::PASSWORD)?;
        let auth = match p.detail(&keys::TRANSPORT).unwrap_or("ntlm").to_ascii_lowercase().as_str() {
            "ntlm" | "negotiate" => AuthMethod::Ntlm,
            "basic" => AuthMethod::Basic,
            other => {
                return Err(Error::bad_input(format!("detail `transport` must be `ntlm` or `basic`, found {other:?}")))
            }
        };
        let trust = csx_tls::Trust::from_settings(
            p.detail(&keys::TLS_FINGERPRINT),
            p.detail(&keys::TLS_CA_FILE),
            p.detail_bool(&keys::VERIFY_TLS, true)?,
        )
        .map_err(|e| Error::bad_input(format!("TLS settings (`tls_fingerprint`, `tls_ca_file`): {e}")))?;
        Ok(HypervBackend {
            settings: Settings { endpoint, user: user.to_string(), password: password.to_string(), auth, trust },
        })
    }
}

/// A WinRM error in CloudStack's terms, converted once: the kind decides the exit code, a
/// certificate problem names the details that settle it, a broken connection stays transient.
fn winrm_error(e: csx_winrm::Error) -> Error {
    use csx_winrm::ErrorKind as K;
    let out = match e.kind() {
        K::Config => Error::bad_input(e.to_string()),
        K::Certificate(_) => {
            Error::remote(format!("{e} (set `tls_ca_file` or `tls_fingerprint`, or `verify_tls_certificate=false`)"))
        }
        K::Auth => Error::auth(e.to_string()),
        K::Timeout => Error::timeout(e.to_string()),
        K::Unreachable | K::Fault(_) | K::Protocol => Error::remote(e.to_string()),
    };
    if e.is_transient() {
        out.transient()
    } else {
        out
    }
}

/// Runs one script; its JSON result on success, its exit code mapped to an error kind otherwise.
/// A repeatable script whose connection broke is run once more, on a new connection.
async fn run(client: &mut Client, script: Script, params: &Value) -> Result<Value> {
    let text = script.render(params);
    let out = match client.run_ps(&text).await {
        Err(e) if e.is_transient() && script.repeatable() => {
            tracing::info!("the {} script's connection broke ({e}); running it again", script.name());
            client.run_ps(&text).await.map_err(winrm_error)?
        }
        r => r.map_err(winrm_error)?,
    };
    interpret(script, out)
}

/// A script's output: its JSON result, or its exit code as an error kind.
fn interpret(script: Script, out: csx_winrm::PsOutput) -> Result<Value> {
    let json = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l.trim()).ok().filter(Value::is_object))
        .unwrap_or(Value::Null);
    let message = || {
        json["error"]
            .as_str()
            .map(str::to_string)
            .filter(|s| !s.is_empty())
            .or_else(|| Some(out.stderr.clone()).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| {
                format!("the {} script exited with {} and printed nothing", script.name(), out.exit_code)
            })
    };
    match out.exit_code {
        scripts::EXIT_OK if json.is_object() => Ok(json),
        scripts::EXIT_OK => {
            Err(Error::remote(format!("the {} script printed no result: {}", script.name(), out.stdout.trim())))
        }
        scripts::EXIT_NO_VM | scripts::EXIT_NO_CHECKPOINT => Err(Error::not_found(message())),
        scripts::EXIT_FOREIGN => Err(not_ours(&json).unwrap_or_else(|| Error::conflict(message()))),
        scripts::EXIT_REFUSED => Err(Error::bad_input(message())),
        code => Err(Error::remote(format!("Hyper-V {}: {}", script.name(), message())).context(format!("exit {code}"))),
    }
}

/// Exit 4's answer in csx_core::identity's words: the VM of this name carries another
/// instance's mark (`owner`), or none and this instance does not adopt it (a stranger).
fn not_ours(json: &Value) -> Option<Error> {
    let name = json["vm"].as_str()?;
    let owner = json["owner"].as_str().unwrap_or("");
    let o = if owner.is_empty() { Ownership::Stranger(name.into()) } else { Ownership::Foreign(owner.into()) };
    match identity::pick(vec![((), o)], |_| String::new()) {
        Ok(identity::Pick::Foreign(why)) => Some(identity::foreign(&format!("the VM named {name}"), &why)),
        _ => None,
    }
}

/// The parameters every script gets: the VM's name, this instance's uuid (the ownership
/// rule runs on the host), and how long a stop may wait for the guest.
fn base(p: &Payload) -> Result<serde_json::Map<String, Value>> {
    let name = p.require_instance_name()?;
    if name.contains(['\0', '\\', '/']) {
        return Err(Error::bad_input(format!("instance name {name:?} cannot be a Hyper-V VM name")));
    }
    let uuid = p.instance_uuid().unwrap_or("");
    let mut m = serde_json::Map::new();
    m.insert("name".into(), name.into());
    m.insert("uuid".into(), uuid.into());
    // The adoption rule (csx_core::identity::Claim) runs on the host: an unmarked VM is this
    // instance's only under its internal name, or with the operator's `adopt_unmarked`.
    let claim = identity::Claim::of(p)?;
    m.insert("internal".into(), claim.internal_name.unwrap_or_default().into());
    m.insert("adopt".into(), claim.adopt_unmarked.into());
    m.insert("graceful".into(), (p.detail(&keys::STOP_MODE).unwrap_or("shutdown") != "turnoff").into());
    Ok(m)
}

/// Seconds a script may spend waiting on the host (a guest's shutdown, a checkpoint merge):
/// at most `limit`, and never so long that the turn-off or the answer misses the deadline
/// (six tenths of the time left, minus two seconds for the rest of the exchange).
fn wait_budget(req: &Request, limit: u64) -> u64 {
    let left = req.remaining().as_secs_f64() * 0.6 - 2.0;
    (left.max(0.0) as u64).min(limit)
}

/// The delete script's parameters: it turns the VM off at once (no guest shutdown before a
/// delete) and gives the time left to Hyper-V's checkpoint merges; `vhd_path` lets a delete
/// cut short after `Remove-VM` find the disk files it left.
fn delete_params(req: &Request) -> Result<Value> {
    let mut m = base(&req.payload)?;
    m.insert("graceful".into(), false.into());
    m.insert("wait_seconds".into(), wait_budget(req, 3600).into());
    m.insert("vhd_path".into(), req.payload.detail(&keys::VHD_PATH).unwrap_or("").into());
    Ok(Value::Object(m))
}

/// What `stop` and `delete` say when this instance has no VM: "no VM" first; a VM of that
/// name that is not this instance's (another instance's, or an unmarked one it does not adopt)
/// is mentioned as left alone, never as if it were this instance's.
fn no_vm(p: &Payload, what: &str, other: bool) -> String {
    let name = p.instance_name().unwrap_or("");
    if other {
        format!("No VM for instance {name}; nothing to {what} (the VM named {name} is not this instance's; it is left alone)")
    } else {
        format!("No VM for instance {name}; nothing to {what}")
    }
}

/// Memory in MiB for `New-VM`: a multiple of 2 MiB (Hyper-V refuses others as "not
/// properly aligned"), rounded up, at least 32 MiB.
fn aligned_memory_mib(mib: u64) -> u64 {
    mib.div_ceil(2).saturating_mul(2).max(32)
}

/// `AABBCCDDEEFF` (as Hyper-V reports it) → `aa:bb:cc:dd:ee:ff` (as CloudStack shows it).
fn colon_mac(mac: &str) -> String {
    let hex: Vec<char> = mac.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_lowercase()).collect();
    if hex.len() != 12 {
        return mac.to_string();
    }
    hex.chunks(2).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(":")
}

/// `aa:bb:cc:dd:ee:ff` → `AABBCCDDEEFF`, as Hyper-V wants it.
fn hyperv_mac(mac: &str) -> Result<String> {
    let hex: String = mac.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect::<String>().to_ascii_uppercase();
    if hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(Error::bad_input(format!("NIC MAC address {mac:?} is not a MAC address")))
    }
}

fn state_of(s: &str) -> PowerState {
    match s {
        "Running" | "Paused" => PowerState::On,
        "Off" | "Saved" | "FastSaved" => PowerState::Off,
        _ => PowerState::Unknown,
    }
}

impl HypervBackend {
    fn client(&self, req: &Request) -> Result<Client> {
        Client::new(self.settings.clone(), req.deadline).map_err(winrm_error)
    }

    async fn simple(&self, req: &Request, script: Script, extra: &[(&str, Value)]) -> Result<Value> {
        let mut params = base(&req.payload)?;
        for (k, v) in extra {
            params.insert(k.to_string(), v.clone());
        }
        let mut client = self.client(req)?;
        run(&mut client, script, &Value::Object(params)).await
    }

    fn create_params(&self, p: &Payload) -> Result<Value> {
        let mut m = base(p)?;
        let iso = p.detail(&keys::TEMPLATE_TYPE).is_some_and(|t| t.eq_ignore_ascii_case("iso"));
        let generation = match p.detail(&keys::GENERATION).unwrap_or("1").trim() {
            "1" => 1,
            "2" => 2,
            other => return Err(Error::bad_input(format!("detail `generation` must be 1 or 2, found {other:?}"))),
        };
        let nics = p.nics();
        let switch = p.detail(&keys::NETWORK_SWITCH).or_else(|| p.detail(&keys::NETWORK_BRIDGE));
        if !nics.is_empty() && switch.is_none() {
            return Err(Error::bad_input(
                "missing configuration `network_switch` (or `network_bridge`): the Hyper-V virtual switch for the NICs",
            ));
        }
        let nics: Vec<Value> = nics
            .iter()
            .map(|n| {
                let mac = n.mac.as_deref().ok_or_else(|| Error::bad_input("a NIC has no MAC address"))?;
                let vlan = match n.vlan()? {
                    Vlan::Tagged(t) => json!(t),
                    Vlan::Untagged => Value::Null,
                };
                Ok(json!({"mac": hyperv_mac(mac)?, "vlan": vlan}))
            })
            .collect::<Result<_>>()?;
        let uuid = p.instance_uuid().unwrap_or("");
        let name = p.require_instance_name()?;
        let installation = identity::installation(p)?.map(|i| format!(" {INSTALLATION_MARK}{i}")).unwrap_or_default();
        m.insert(
            "notes".into(),
            format!(
                "Managed by Apache CloudStack (csx hyperv extension). {OWNER_MARK}{uuid} {NAME_MARK}{name}{installation}"
            )
            .into(),
        );
        m.insert("generation".into(), generation.into());
        m.insert("cpus".into(), p.cpus().into());
        m.insert("memory_mb".into(), aligned_memory_mib(p.ram_mib().unwrap_or(512)).into());
        m.insert("switch".into(), switch.unwrap_or("").into());
        m.insert("nics".into(), nics.into());
        m.insert("vhd_path".into(), p.require_detail(&keys::VHD_PATH)?.into());
        m.insert("vm_path".into(), p.require_detail(&keys::VM_PATH)?.into());
        m.insert("template_type".into(), if iso { "iso" } else { "template" }.into());
        if iso {
            m.insert("iso_path".into(), instance_path(p, &keys::ISO_PATH)?.into());
            let size = p.detail_u64(&keys::VHD_SIZE_GB)?.ok_or_else(|| {
                Error::bad_input("missing configuration `vhd_size_gb` (the new disk's size for an ISO template)")
            })?;
            m.insert("vhd_size_gb".into(), size.into());
        } else {
            m.insert("template_path".into(), instance_path(p, &keys::TEMPLATE_PATH)?.into());
        }
        let secure = p.detail_bool(&keys::SECURE_BOOT, false)?;
        m.insert("secure_boot".into(), secure.into());
        m.insert(
            "secure_boot_template".into(),
            p.detail(&keys::SECURE_BOOT_TEMPLATE).unwrap_or("MicrosoftUEFICertificateAuthority").into(),
        );
        Ok(Value::Object(m))
    }
}

#[async_trait]
impl Backend for HypervBackend {
    async fn create(&self, req: &Request) -> Result<Outcome> {
        let params = self.create_params(&req.payload)?;
        let name = req.payload.require_instance_name()?;
        // The script stops early enough to leave time to undo it.
        let mut client = Client::new(self.settings.clone(), req.work_deadline()).map_err(winrm_error)?;
        let out = match client.run_ps(&Script::Create.render(&params)).await {
            Ok(out) => out,
            // The command was never sent: nothing to undo.
            Err(e) if !e.command_sent() => return Err(winrm_error(e)),
            Err(e) => {
                // The connection broke, the deadline came or the answer was unreadable: the
                // script may have done any part of its work. Undo it with the delete script,
                // which removes only a VM carrying this instance's mark, with its disks, on a
                // client of its own that has the rest of the action's time.
                let e = winrm_error(e);
                drop(client);
                let mut undo_client = self.client(req)?;
                let undo = run(&mut undo_client, Script::Delete, &delete_params(req)?).await;
                return Err(match undo {
                    Ok(v) if v["deleted"] == json!(true) => {
                        e.context(format!("creating {name} failed; the partial VM was removed"))
                    }
                    Ok(_) => e.context(format!("creating {name} failed; it had made nothing")),
                    Err(c) => e.context(format!(
                        "creating {name} failed and removing what it made failed too ({}); `delete` removes it",
                        c.message()
                    )),
                });
            }
        };
        // A failure the script reports itself has been rolled back by the script.
        let a = interpret(Script::Create, out)?;
        let id = a["id"].as_str().unwrap_or("").to_string();
        Ok(if a["created"] == json!(true) {
            Outcome::new(format!("Instance {name} created and started")).with("vm_id", id)
        } else {
            Outcome::new(format!("Instance {name} already existed; it is running")).with("vm_id", id)
        })
    }

    async fn start(&self, req: &Request) -> Result<Outcome> {
        let v = self.simple(req, Script::Start, &[]).await?;
        Ok(Outcome::new(if v["changed"] == json!(true) { "Instance started" } else { "Instance was already running" }))
    }

    async fn stop(&self, req: &Request) -> Result<Outcome> {
        let limit = req.payload.detail_u64(&keys::STOP_TIMEOUT)?.unwrap_or(60);
        let graceful = wait_budget(req, limit);
        let v = self.simple(req, Script::Stop, &[("graceful_seconds", json!(graceful))]).await?;
        Ok(Outcome::new(match (v["state"].as_str(), v["how"].as_str()) {
            (Some("Missing"), _) => no_vm(&req.payload, "stop", v["foreign"] == json!(true)),
            (_, Some("turnoff")) if graceful > 0 && v["changed"] == json!(true) => {
                format!("Instance turned off: the guest did not shut down within {graceful} s")
            }
            (_, Some("discarded")) => "Instance stopped: its saved state was discarded".into(),
            _ if v["changed"] == json!(true) => "Instance stopped".to_string(),
            _ => "Instance was already stopped".to_string(),
        }))
    }

    async fn reboot(&self, req: &Request) -> Result<Outcome> {
        let v = self.simple(req, Script::Reboot, &[]).await?;
        Ok(Outcome::new(if v["started"] == json!(true) {
            "Instance was stopped; started it"
        } else {
            "Instance rebooted"
        }))
    }

    async fn delete(&self, req: &Request) -> Result<Outcome> {
        let mut client = self.client(req)?;
        let v = run(&mut client, Script::Delete, &delete_params(req)?).await?;
        let leftovers = v["disks"].as_array().is_some_and(|d| !d.is_empty());
        Ok(if v["deleted"] == json!(true) {
            Outcome::new("Instance deleted with its disks").with("disks", v["disks"].clone())
        } else if leftovers {
            Outcome::new("Instance was already gone; removed the disk files it left").with("disks", v["disks"].clone())
        } else {
            Outcome::new(no_vm(&req.payload, "delete", v["foreign"] == json!(true)))
        })
    }

    async fn status(&self, req: &Request) -> Result<PowerState> {
        let v = self.simple(req, Script::Status, &[]).await?;
        // Another instance's VM of the same name says nothing about this instance: off.
        Ok(if v["found"] == json!(true) { state_of(v["state"].as_str().unwrap_or("")) } else { PowerState::Off })
    }

    async fn statuses(&self, req: &Request) -> Result<BTreeMap<String, PowerState>> {
        let mut client = self.client(req)?;
        let ours = identity::installation(&req.payload)?;
        let a = run(&mut client, Script::Statuses, &json!({"name": "", "uuid": ""})).await?;
        let mut out = BTreeMap::new();
        let vms = a["vms"].as_array().into_iter().flatten();
        // Another installation's VM is never reported (see csx_core::identity).
        for vm in vms.filter(|vm| identity::same_installation(vm["i"].as_str(), ours)) {
            // Under CloudStack's name for it, never under a guess (see csx_core::identity).
            if let Some(key) = identity::statuses_key(vm["r"].as_str(), vm["n"].as_str().unwrap_or("")) {
                identity::add_status(&mut out, key, state_of(vm["s"].as_str().unwrap_or("")));
            }
        }
        Ok(out)
    }

    async fn console(&self, req: &Request) -> Result<Console> {
        let Some(template) = req.payload.detail(&keys::CONSOLE_URL) else {
            return Err(Error::unsupported(
                "Hyper-V has no VNC console; set detail `console_url` (e.g. an RDP gateway URL with {vmid}, {vmname} and {host}) to offer one",
            ));
        };
        let v = self.simple(req, Script::Status, &[]).await?;
        if v["foreign"] == json!(true) {
            return Err(Error::conflict(
                "the VM of this name belongs to another CloudStack instance; refusing to open its console",
            ));
        }
        if v["found"] != json!(true) {
            return Err(Error::not_found("the VM does not exist"));
        }
        const UNRESERVED: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string();
        let url = template
            .replace("{vmid}", &enc(v["id"].as_str().unwrap_or("")))
            .replace("{vmname}", &enc(req.payload.require_instance_name()?))
            .replace("{host}", &enc(&self.settings.endpoint.host));
        Ok(Console::Direct { url })
    }

    async fn doctor(&self, req: &Request) -> Vec<csx_core::doctor::Check> {
        doctor::run(self, req).await
    }

    fn custom_actions(&self) -> Vec<CustomActionSpec> {
        custom_actions()
    }

    async fn custom(&self, action: &str, params: &Params, req: &Request) -> Result<CustomResult> {
        let action = HypervAction::parse(action)?;
        let snap = || -> Result<Value> {
            let s = params.require_str("snapshot_name")?;
            if s.contains('\0') || s.len() > 100 {
                return Err(Error::bad_input("`snapshot_name` must be at most 100 characters, without NUL"));
            }
            Ok(json!(s))
        };
        match action {
            HypervAction::Suspend => {
                let v = self.simple(req, Script::Suspend, &[]).await?;
                Ok(CustomResult::Message(
                    if v["changed"] == json!(true) { "Instance suspended" } else { "Instance was already suspended" }
                        .into(),
                ))
            }
            HypervAction::Resume => {
                let v = self.simple(req, Script::Resume, &[]).await?;
                Ok(CustomResult::Message(
                    if v["changed"] == json!(true) { "Instance resumed" } else { "Instance was already running" }
                        .into(),
                ))
            }
            HypervAction::ListSnapshots => {
                let v = self.simple(req, Script::ListSnapshots, &[]).await?;
                let rows = v["snapshots"].as_array().cloned().unwrap_or_default();
                Ok(CustomResult::Table(rows.into_iter().filter_map(|r| r.as_object().cloned()).collect()))
            }
            HypervAction::CreateSnapshot => {
                self.simple(req, Script::CreateSnapshot, &[("snapshot", snap()?)]).await?;
                Ok(CustomResult::Message("Checkpoint created".into()))
            }
            HypervAction::RestoreSnapshot => {
                self.simple(req, Script::RestoreSnapshot, &[("snapshot", snap()?)]).await?;
                Ok(CustomResult::Message("Checkpoint applied; instance running".into()))
            }
            HypervAction::GetIpAddresses => {
                let v = self.simple(req, Script::GetIpAddresses, &[]).await?;
                let rows = v["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| {
                        let s = |k: &str| a[k].as_str().unwrap_or("");
                        csx_core::guest::address_row(
                            s("nic"),
                            &colon_mac(s("mac")),
                            s("ip"),
                            csx_core::guest::prefix(s("subnet")),
                        )
                    })
                    .collect();
                Ok(CustomResult::Table(rows))
            }
            HypervAction::ListDisks => {
                let v = self.simple(req, Script::ListDisks, &[]).await?;
                let rows = v["disks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| {
                        let row = json!({"disk": d["disk"], "size_gb": d["size_gb"], "path": d["path"],
                            "root": if d["root"] == json!(true) { "yes" } else { "no" }});
                        row.as_object().cloned()
                    })
                    .collect();
                Ok(CustomResult::Table(rows))
            }
            HypervAction::AddDisk => {
                let size = csx_core::operator::disk_size(params)?;
                let folder = params.str("storage").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
                if let Some(f) = &folder {
                    local_path("storage", f)?;
                }
                let folder = match folder.or_else(|| req.payload.detail(&keys::VHD_PATH).map(str::to_string)) {
                    Some(f) => f,
                    None => {
                        return Err(Error::bad_input("give `storage` (a folder on the host) or set detail `vhd_path`"))
                    }
                };
                let v =
                    self.simple(req, Script::AddDisk, &[("size_gb", json!(size)), ("storage", json!(folder))]).await?;
                let disk = v["disk"].as_str().unwrap_or("?");
                Ok(CustomResult::Message(if v["added"] == json!(true) {
                    format!("Disk {disk} ({size} GiB) added")
                } else {
                    format!("Disk {disk} ({size} GiB) was added less than 120 s ago; not adding another")
                }))
            }
            HypervAction::ResizeDisk => {
                let (disk, size) =
                    (params.require_str("disk")?.trim().to_string(), csx_core::operator::disk_size(params)?);
                self.simple(req, Script::ResizeDisk, &[("disk", json!(disk)), ("size_gb", json!(size))]).await?;
                Ok(CustomResult::Message(format!("Disk {disk} has {size} GiB")))
            }
            HypervAction::RemoveDisk => {
                let disk = params.require_str("disk")?.trim().to_string();
                self.simple(req, Script::RemoveDisk, &[("disk", json!(disk))]).await?;
                Ok(CustomResult::Message(format!("Disk {disk} removed with its VHDX")))
            }
            HypervAction::Migrate => Err(Error::unsupported(
                "Migrate is not available for Hyper-V: live migration between hosts needs Kerberos constrained \
                 delegation or CredSSP, which csx does not do (it authenticates with NTLM). Move the VM with Hyper-V \
                 Manager or Failover Cluster Manager; CloudStack follows it on the next host ping",
            )),
            HypervAction::DeleteSnapshot => {
                self.simple(req, Script::DeleteSnapshot, &[("snapshot", snap()?)]).await?;
                Ok(CustomResult::Message("Checkpoint deleted".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_4_in_identity_words() {
        let e = not_ours(&json!({"vm": "web01", "owner": "uuid-b"})).unwrap();
        assert_eq!(
            e.message(),
            "the VM named web01 belongs to another CloudStack instance (cloudstack-instance-uuid=uuid-b); refusing to touch it"
        );
        let e = not_ours(&json!({"vm": "web01", "owner": ""})).unwrap();
        assert!(e.message().starts_with("the VM named web01 (web01) has no csx owner mark"), "{}", e.message());
        assert!(not_ours(&json!({"error": "older script"})).is_none());
    }

    #[test]
    fn macs_and_states() {
        assert_eq!(hyperv_mac("02:01:00:cc:00:0a").unwrap(), "020100CC000A");
        assert!(hyperv_mac("02:01:00:cc:00").is_err());
        assert!(hyperv_mac("zz:01:00:cc:00:0a").is_err());
        assert_eq!(state_of("Running"), PowerState::On);
        assert_eq!(state_of("Paused"), PowerState::On);
        assert_eq!(state_of("Saved"), PowerState::Off);
        assert_eq!(state_of("Starting"), PowerState::Unknown);
    }
}
