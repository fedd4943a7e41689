//! A simulated Hyper-V host behind the mock WinRM listener.
//!
//! It recognises the csx `hyperv` scripts (their `# csx-hyperv:<action>` first line
//! and base64 JSON parameters) and carries out what each script does, with the
//! same results and exit codes, on an in-memory host: VMs, states, network
//! adapters, checkpoints and VHD files. It does not run PowerShell: it models
//! the scripts' intent, so adapter logic, the protocol and the data flow are
//! tested here, and the PowerShell itself only on a real host.

use crate::winrm::{decode_powershell, Exec, Executor};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

mod checkpoints;
mod create;
mod disks;

/// One VM.
#[derive(Debug, Clone, PartialEq)]
pub struct HvVm {
    pub id: String,
    pub name: String,
    /// `Running`, `Off`, `Paused`, `Saved`.
    pub state: String,
    pub generation: u64,
    pub cpus: u64,
    pub memory_mb: u64,
    pub notes: String,
    /// (switch, MAC, VLAN or None for untagged).
    pub adapters: Vec<(String, String, Option<u64>)>,
    pub disks: Vec<String>,
    pub dvd: Option<String>,
    pub secure_boot: bool,
    /// (name, created, state when taken).
    pub checkpoints: Vec<(String, String, String)>,
}

/// The host.
#[derive(Debug, Default)]
pub struct Host {
    pub vms: Vec<HvVm>,
    pub files: BTreeSet<String>,
    pub switches: BTreeSet<String>,
    /// Make the next N `Start-VM` calls fail.
    pub fail_starts: u32,
    /// Guests ignore a shutdown request (no integration services, a hung OS): a graceful
    /// `Stop-VM` waits until its bound (Hyper-V's own is five minutes), then the VM is turned off.
    pub ignore_shutdown: bool,
    /// The next N deletes find Hyper-V still merging checkpoints when their time is up.
    pub merge_stuck: u32,
    /// Folders on the host (`vhd_path`, `vm_path`).
    pub dirs: BTreeSet<String>,
    /// The account is not allowed to manage VMs (not a Hyper-V Administrator).
    pub no_rights: bool,
    /// Paths the account may not read (doctor's look-ups fail with access denied).
    pub unreadable: BTreeSet<String>,
    /// What the integration services report of a guest's network, by VM id:
    /// (adapter index, address, subnet as Windows gives it).
    pub guest_ips: std::collections::BTreeMap<String, Vec<(usize, String, String)>>,
    /// VHDX sizes in GiB (a disk not listed has 20), and when add-disk made a disk.
    pub disk_sizes: std::collections::BTreeMap<String, u64>,
    /// Where each disk file is attached: (controller type, controller number, location). A disk
    /// not listed sits in its VM's `k`-th free slot (see `disks.rs`).
    pub disk_slots: std::collections::BTreeMap<String, (String, u32, u32)>,
    /// A generation-2 VM's firmware boot order, by VM id: the disk file it boots from first
    /// (a VM not listed boots from its first disk).
    pub boot_disk: std::collections::BTreeMap<String, String>,
    pub disk_added: std::collections::BTreeMap<String, std::time::Instant>,
    /// Differencing disks: child (`.avhdx`) → parent.
    pub parents: std::collections::BTreeMap<String, String>,
    /// The script of the run being executed (its text decides wildcard semantics).
    current_script: String,
    /// Every script run: (action, full script text).
    pub scripts: Vec<(String, String)>,
    counter: u64,
}

pub const TEMPLATE: &str = "C:\\Templates\\ubuntu-22.04.vhdx";
pub const ISO: &str = "C:\\ISO\\debian-12.iso";
pub const SWITCH: &str = "External";

/// The simulated host, usable as the mock WinRM listener's executor.
pub struct HyperVHost(Mutex<Host>);

impl Default for HyperVHost {
    fn default() -> Self {
        let mut h = Host::default();
        h.files.insert(TEMPLATE.into());
        h.files.insert(ISO.into());
        h.switches.insert(SWITCH.into());
        h.dirs.extend(["C:\\VMs".to_string(), "C:\\VMs\\Disks".to_string()]);
        HyperVHost(Mutex::new(h))
    }
}

impl HyperVHost {
    /// Makes the guest of VM `name` report addresses (what its integration services see).
    pub fn report_guest_ips(&self, name: &str, ips: &[(usize, &str, &str)]) {
        let mut h = self.host();
        let ids: Vec<String> = h.vms.iter().filter(|v| v.name == name).map(|v| v.id.clone()).collect();
        for id in ids {
            h.guest_ips.insert(id, ips.iter().map(|(n, ip, s)| (*n, ip.to_string(), s.to_string())).collect());
        }
    }

    /// Attaches a disk file of `size_gb` GiB to VM `name` at a given slot (`("SCSI", 0, 0)`), as
    /// an operator would with Add-VMHardDiskDrive -ControllerType -ControllerNumber -ControllerLocation.
    pub fn attach(&self, name: &str, path: &str, slot: (&str, u32, u32), size_gb: u64) {
        let mut h = self.host();
        let Some(i) = h.vms.iter().position(|v| v.name == name) else { return };
        h.files.insert(path.into());
        h.disk_sizes.insert(path.into(), size_gb);
        h.disk_slots.insert(path.into(), (slot.0.into(), slot.1, slot.2));
        h.vms[i].disks.push(path.into());
    }

    /// Makes generation-2 VM `name` boot from disk file `path` first (Set-VMFirmware -FirstBootDevice).
    pub fn boot_from(&self, name: &str, path: &str) {
        let mut h = self.host();
        let ids: Vec<String> = h.vms.iter().filter(|v| v.name == name).map(|v| v.id.clone()).collect();
        for id in ids {
            h.boot_disk.insert(id, path.into());
        }
    }

    pub fn host(&self) -> MutexGuard<'_, Host> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one VM made by someone else (the built-in extension, an operator, another
    /// CloudStack installation: pass its notes), with a disk file of its own.
    pub fn plant(&self, name: &str, state: &str, notes: &str) {
        let mut h = self.host();
        h.counter += 1;
        let disk = format!("C:\\Other\\{name}-{}.vhdx", h.counter);
        h.files.insert(disk.clone());
        let id = format!("{:08x}-0000-4000-8000-{:012x}", h.counter, h.counter);
        h.vms.push(HvVm {
            id,
            name: name.into(),
            state: state.into(),
            generation: 2,
            cpus: 1,
            memory_mb: 512,
            notes: notes.into(),
            adapters: vec![],
            disks: vec![disk],
            dvd: None,
            secure_boot: false,
            checkpoints: vec![],
        });
    }

    /// Adds `n` VMs made by other tools (`vm-0`, ...), a third of them off.
    pub fn add_vms(&self, n: usize) {
        let mut h = self.host();
        for i in 0..n {
            h.vms.push(HvVm {
                id: format!("00000000-0000-4000-8000-{i:012x}"),
                name: format!("i-9-{i}-VM"),
                state: if i % 3 == 0 { "Off" } else { "Running" }.into(),
                generation: 2,
                cpus: 1,
                memory_mb: 512,
                notes: String::new(),
                adapters: vec![],
                disks: vec![],
                dvd: None,
                secure_boot: false,
                checkpoints: vec![],
            });
        }
    }
}

fn params_of(script: &str) -> Option<Value> {
    let start = script.find("FromBase64String('")? + "FromBase64String('".len();
    let end = start + script[start..].find('\'')?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(&script[start..end]).ok()?;
    serde_json::from_slice(&bytes).ok()
}

type Outcome = (Value, i32);

fn err(msg: impl Into<String>, code: i32) -> Outcome {
    (json!({"error": msg.into()}), code)
}

/// PowerShell's wildcard match (`*`, `?`, `[abc]`, `[a-z]`), case-insensitive, as `Get-VM -Name` applies it
/// (learn.microsoft.com/powershell/module/hyper-v/get-vm: `-Name` "Accept wildcard characters: True";
/// the syntax is PowerShell's about_Wildcards).
fn wildcard(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|i| wildcard(&pattern[1..], &name[i..])),
        Some('?') => !name.is_empty() && wildcard(&pattern[1..], &name[1..]),
        Some('[') => {
            let Some(end) = pattern.iter().position(|c| *c == ']') else { return false };
            let set = &pattern[1..end];
            let Some(c) = name.first().map(|c| c.to_ascii_lowercase()) else { return false };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= (set[i].to_ascii_lowercase()..=set[i + 2].to_ascii_lowercase()).contains(&c);
                    i += 3;
                } else {
                    hit |= set[i].to_ascii_lowercase() == c;
                    i += 1;
                }
            }
            hit && wildcard(&pattern[end + 1..], &name[1..])
        }
        Some(p) => name.first().is_some_and(|c| c.eq_ignore_ascii_case(p)) && wildcard(&pattern[1..], &name[1..]),
    }
}

/// The uuid a VM's notes mark it with ("" when unmarked).
fn owner_of(notes: &str) -> &str {
    notes.split("cloudstack-instance-uuid=").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or("")
}

impl Host {
    /// `Get-VM -Name`: exact when the script escapes the name's wildcards, else a wildcard
    /// match — `[`, `]`, `*` and `?` in a name then reach other VMs, as on Windows.
    fn named(&self, name: &str) -> Vec<usize> {
        let escaped = self.current_script.contains("WildcardPattern]::Escape");
        let pattern: Vec<char> = name.chars().collect();
        (0..self.vms.len())
            .filter(|i| {
                let n = &self.vms[*i].name;
                if escaped {
                    n.eq_ignore_ascii_case(name)
                } else {
                    wildcard(&pattern, &n.chars().collect::<Vec<_>>())
                }
            })
            .collect()
    }

    /// Find-Vm: the ownership rule (mine, else the one unmarked, never another instance's).
    /// `Ok(None)` with `foreign` true when only another instance's VM has the name.
    fn find_owned(&self, p: &Value) -> Result<(Option<usize>, bool), Outcome> {
        let name = p["name"].as_str().unwrap_or("");
        let uuid = p["uuid"].as_str().unwrap_or("");
        let all = self.named(name);
        let mine: Vec<usize> =
            all.iter().copied().filter(|i| !uuid.is_empty() && owner_of(&self.vms[*i].notes) == uuid).collect();
        if mine.len() > 1 {
            return Err(err(format!("several VMs named {name} carry this instance's mark"), 2));
        }
        if let [i] = mine[..] {
            return Ok((Some(i), false));
        }
        // The scripts' adoption rule (prelude.ps1 Find-Vm, after csx_core::identity::Claim): an
        // unmarked VM only under the instance's internal name, or with `adopt`.
        let internal = p["internal"].as_str().unwrap_or("");
        let adopt = p["adopt"].as_bool().unwrap_or(false);
        let unmarked: Vec<usize> = all
            .iter()
            .copied()
            .filter(|i| {
                owner_of(&self.vms[*i].notes).is_empty() && (adopt || self.vms[*i].name.eq_ignore_ascii_case(internal))
            })
            .collect();
        if unmarked.len() > 1 {
            return Err(err(format!("several unmarked VMs are named {name}"), 2));
        }
        if let [i] = unmarked[..] {
            return Ok((Some(i), false));
        }
        Ok((None, !all.is_empty()))
    }

    fn require(&self, p: &Value) -> Result<usize, Outcome> {
        match self.find_owned(p)? {
            (Some(i), _) => Ok(i),
            (None, true) => Err(self.not_ours(p)),
            (None, false) => Err(err(format!("no VM named {}", p["name"].as_str().unwrap_or("")), 3)),
        }
    }

    /// Require-Vm's exit 4: the VM of this name with the other instance's mark (`owner`), or
    /// `owner` empty when only unmarked VMs this instance does not adopt carry the name.
    pub(super) fn not_ours(&self, p: &Value) -> Outcome {
        let name = p["name"].as_str().unwrap_or("");
        let owner = self.named(name).into_iter().map(|i| owner_of(&self.vms[i].notes)).find(|o| !o.is_empty());
        let error = format!("the VM named {name} is not this instance's; refusing to touch it");
        (json!({"error": error, "vm": name, "owner": owner.unwrap_or("")}), 4)
    }

    /// Source: learn.microsoft.com/powershell/module/hyper-v/stop-vm (`-Force`: "the virtual machine has
    /// five minutes to save data and shut down"; `-TurnOff`: power disconnected); a saved VM's state is
    /// discarded by Remove-VMSavedState (powershell/module/hyper-v/remove-vmsavedstate).
    /// A graceful stop: the guest shuts down, or — ignoring it — is turned off when the
    /// script's bound (`graceful_seconds`; Stop-VM's own is five minutes) runs out.
    fn stop_vm(&mut self, i: usize, p: &Value) -> &'static str {
        let state = self.vms[i].state.clone();
        self.vms[i].state = "Off".into();
        match state.as_str() {
            "Saved" => "discarded",
            "Running" if p["graceful"].as_bool().unwrap_or(false) => {
                let bound = p["graceful_seconds"].as_u64().unwrap_or(300);
                if bound == 0 {
                    "turnoff"
                } else if self.ignore_shutdown {
                    std::thread::sleep(std::time::Duration::from_secs(bound));
                    "turnoff"
                } else {
                    "shutdown"
                }
            }
            _ => "turnoff",
        }
    }

    /// Every file of a VM's disk chain (drive files and their parents).
    fn chain(&self, i: usize) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.vms[i].disks {
            let mut cur = Some(d.clone());
            while let Some(f) = cur.filter(|f| !out.contains(f)) {
                cur = self.parents.get(&f).cloned();
                out.push(f);
            }
        }
        out
    }

    /// Disk files named after the instance in `vhd_path` that no VM uses.
    fn orphans(&self, p: &Value) -> Vec<String> {
        let name = p["name"].as_str().unwrap_or("");
        let dir = p["vhd_path"].as_str().unwrap_or("").trim_end_matches('\\').to_string();
        if dir.is_empty() || name.is_empty() {
            return vec![];
        }
        let used: Vec<&String> = self.vms.iter().flat_map(|v| v.disks.iter()).collect();
        self.files
            .iter()
            .filter(|f| {
                let Some(leaf) = f.strip_prefix(&format!("{dir}\\")) else { return false };
                (leaf == format!("{name}.vhdx") || (leaf.starts_with(&format!("{name}_")) && leaf.ends_with(".avhdx")))
                    && !used.contains(f)
            })
            .cloned()
            .collect()
    }

    /// `Start-VM`; a failure (`fail_starts`) answers with the text hosts print for one ("'<name>'
    /// failed to start."): seen on hosts, not a documented message — a guess.
    fn start(&mut self, i: usize) -> Result<(), String> {
        if self.fail_starts > 0 {
            self.fail_starts -= 1;
            return Err(format!("'{}' failed to start. (Virtual machine ID {})", self.vms[i].name, self.vms[i].id));
        }
        self.vms[i].state = "Running".into();
        Ok(())
    }

    /// Suspend-VM (`Running` → `Paused`) or Resume-VM (`Paused` → `Running`); a VM already there is
    /// unchanged, one in another state is refused.
    fn pause_or_resume(&mut self, p: &Value, from: &str, to: &str) -> Result<Outcome, Outcome> {
        let i = self.require(p)?;
        if self.vms[i].state == to {
            return Ok((json!({"changed": false}), 0));
        }
        if self.vms[i].state != from {
            return Err(err("The operation cannot be performed while the virtual machine is in its current state.", 2));
        }
        self.vms[i].state = to.into();
        Ok((json!({"changed": true}), 0))
    }

    fn execute(&mut self, action: &str, p: &Value) -> Outcome {
        match self.run(action, p) {
            Ok(o) | Err(o) => o,
        }
    }

    fn run(&mut self, action: &str, p: &Value) -> Result<Outcome, Outcome> {
        Ok(match action {
            "status" => match self.find_owned(p)? {
                (None, foreign) => (json!({"found": false, "foreign": foreign}), 0),
                (Some(i), _) => (json!({"found": true, "state": self.vms[i].state, "id": self.vms[i].id}), 0),
            },
            "statuses" => {
                let rows: Vec<Value> = self
                    .vms
                    .iter()
                    .map(|v| {
                        let mark = |m: &str| {
                            v.notes.split(m).nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or("").to_string()
                        };
                        json!({"n": v.name, "s": v.state, "r": mark("cloudstack-instance-name="),
                            "i": mark("cloudstack-installation=")})
                    })
                    .collect();
                (json!({"vms": rows}), 0)
            }
            "start" => {
                let i = self.require(p)?;
                match self.vms[i].state.as_str() {
                    "Running" => (json!({"changed": false, "state": "Running"}), 0),
                    _ => {
                        self.start(i).map_err(|e| err(e, 2))?;
                        (json!({"changed": true, "state": "Running"}), 0)
                    }
                }
            }
            "stop" => match self.find_owned(p)? {
                (None, foreign) => (json!({"changed": false, "state": "Missing", "foreign": foreign}), 0),
                (Some(i), _) if self.vms[i].state == "Off" => (json!({"changed": false, "state": "Off"}), 0),
                (Some(i), _) => {
                    let how = self.stop_vm(i, p);
                    (json!({"changed": true, "state": "Off", "how": how}), 0)
                }
            },
            "reboot" => {
                let i = self.require(p)?;
                if matches!(self.vms[i].state.as_str(), "Running" | "Paused") {
                    self.vms[i].state = "Running".into();
                    (json!({"started": false}), 0)
                } else {
                    self.start(i).map_err(|e| err(e, 2))?;
                    (json!({"started": true}), 0)
                }
            }
            "delete" => match self.find_owned(p)? {
                (None, foreign) => {
                    let left = self.orphans(p);
                    for f in &left {
                        self.files.remove(f);
                    }
                    (json!({"deleted": false, "disks": left, "foreign": foreign}), 0)
                }
                (Some(i), _) => {
                    self.stop_vm(i, p);
                    let chain = self.chain(i);
                    let name = self.vms[i].name.clone();
                    self.vms.remove(i);
                    // Remove-VM merges the checkpoints (.avhdx) into their parents afterwards.
                    if self.merge_stuck > 0 {
                        self.merge_stuck -= 1;
                        return Err(err(
                            "the VM was removed but Hyper-V is still merging its checkpoints; run delete again to remove its disk files",
                            2,
                        ));
                    }
                    let mut removed = Vec::new();
                    for f in chain {
                        let leaf = f.rsplit('\\').next().unwrap_or("").to_string();
                        if leaf.starts_with(&name) && self.files.remove(&f) {
                            self.parents.remove(&f);
                            removed.push(f);
                        }
                    }
                    (json!({"deleted": true, "disks": removed}), 0)
                }
            },
            // Suspend-VM pauses a running VM and Resume-VM resumes a paused one
            // (powershell/module/hyper-v/suspend-vm, resume-vm); the refusal text for another state is
            // what hosts print, not documented — a guess.
            "suspend" => return self.pause_or_resume(p, "Running", "Paused"),
            "resume" => return self.pause_or_resume(p, "Paused", "Running"),
            "list-snapshots" | "create-snapshot" | "restore-snapshot" | "delete-snapshot" => {
                return self.checkpoint(action, p)
            }
            "create" => return Ok(self.create(p)),
            "list-disks" | "add-disk" | "resize-disk" | "remove-disk" => return self.disk(action, p),
            "get-ip-addresses" => {
                let i = self.require(p)?;
                let vm = &self.vms[i];
                // The guest's network configuration is what the guest operating system reports
                // ("the configuration of a network adapter within the guest operating system":
                // learn.microsoft.com/windows/win32/hyperv_v2/msvm-guestnetworkadapterconfiguration),
                // so a VM that is off or saved reports none.
                if matches!(vm.state.as_str(), "Off" | "Saved") {
                    return Err(err(
                        format!(
                            "VM {} is {} (not running): its guest reports no addresses; start it first",
                            vm.name, vm.state
                        ),
                        6,
                    ));
                }
                // The configuration's InstanceID is `Microsoft:GuestNetwork\<VM ID>\<adapter id>` with
                // the VM id in upper case, while Get-VM's Id is a Guid, written in lower case
                // (learn.microsoft.com/dotnet/api/system.guid.tostring). The class page says only "a
                // unique identifier"; the upper case is how hosts report it (issue #18's reproduction).
                // A script that compares the two ignoring case finds the configuration (each
                // Subnets element belongs to the IPAddresses element at its index, as the page says);
                // one that does not falls back to Get-VMNetworkAdapter's IPAddresses, without subnets.
                let instance = format!("Microsoft:GuestNetwork\\{}\\", vm.id.to_uppercase());
                let found =
                    self.current_script.contains("OrdinalIgnoreCase") || instance.contains(&format!("\\{}\\", vm.id));
                let rows: Vec<Value> = self
                    .guest_ips
                    .get(&vm.id)
                    .into_iter()
                    .flatten()
                    .map(|(n, ip, subnet)| {
                        let mac = vm.adapters.get(*n).map(|a| a.1.clone()).unwrap_or_default();
                        let subnet = if found { subnet.as_str() } else { "" };
                        json!({"nic": format!("NIC{n}"), "mac": mac, "ip": ip, "subnet": subnet})
                    })
                    .collect();
                (json!({"addresses": rows}), 0)
            }
            "doctor" => {
                let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
                let rights = if self.no_rights {
                    "You do not have the required permission to complete this task. Contact the administrator of the authorization policy for the computer 'HV01'."
                } else {
                    ""
                };
                // An account without Hyper-V rights gets the same refusal from Get-VMSwitch as from
                // Get-VMHost (both ask the Virtual Machine Management service; the text above is what
                // hosts print, not from a Microsoft page — a guess as to its exact words); an unreadable path makes Get-Item fail with .NET's UnauthorizedAccessException
                // message (learn.microsoft.com/dotnet/api/system.unauthorizedaccessexception), while
                // a missing one is ItemNotFoundException (reported as false).
                let look = |path: String, there: bool| {
                    if self.unreadable.contains(&path) {
                        json!(format!("Access to the path '{path}' is denied."))
                    } else {
                        json!(there)
                    }
                };
                (
                    json!({"module": true, "host": if self.no_rights { "" } else { "HV01" }, "rights": rights,
                    "switches": if self.no_rights { vec![] } else { self.switches.iter().collect::<Vec<_>>() },
                    "switches_error": rights,
                    "vhd_path": look(s("vhd_path"), self.dirs.contains(&s("vhd_path"))),
                    "vm_path": look(s("vm_path"), self.dirs.contains(&s("vm_path"))),
                    "template": look(s("template"), self.files.contains(&s("template")))}),
                    0,
                )
            }
            other => err(format!("unknown script {other}"), 2),
        })
    }
}

impl Executor for HyperVHost {
    fn run(&self, command: &str, _args: &[String], stdin: &[u8]) -> Exec {
        let Some(script) = decode_powershell(command, stdin) else {
            return Exec { stderr: b"not a PowerShell command\r\n".to_vec(), exit_code: 1, ..Default::default() };
        };
        let action =
            script.lines().next().and_then(|l| l.strip_prefix("# csx-hyperv:")).map(str::trim).map(str::to_string);
        let (Some(action), Some(params)) = (action, params_of(&script)) else {
            return Exec {
                stderr: crate::winrm::clixml_error("the simulated host only runs csx hyperv scripts"),
                exit_code: 1,
                ..Default::default()
            };
        };
        let mut host = self.host();
        host.scripts.push((action.clone(), script.clone()));
        host.current_script = script.clone();
        let (json, code) = host.execute(&action, &params);
        Exec { stdout: format!("{json}\r\n").into_bytes(), stderr: Vec::new(), exit_code: code }
    }
}

/// A `create`-shaped payload, as CloudStack writes it, for instance `name` on the simulated
/// host behind a mock WinRM listener at `url` (the mock's account, switch [`SWITCH`], template
/// [`TEMPLATE`], generation 2; two NICs, one on VLAN 1577, one untagged). The one payload the
/// conformance test, the process tests, the demo, the deadline matrix and the benchmarks use.
pub fn payload(url: &str, name: &str) -> Value {
    json!({
        "externaldetails": {
            "host": {"url": url, "username": crate::winrm::USER, "password": crate::winrm::PASSWORD,
                     "network_switch": SWITCH, "vhd_path": "C:\\VMs\\Disks", "vm_path": "C:\\VMs", "log_file": "none"},
            "virtualmachine": {"template_type": "template", "template_path": TEMPLATE, "generation": "2"}
        },
        "virtualmachineid": format!("uuid-{name}"),
        "virtualmachinename": name,
        "cloudstack.vm.details": {"name": name, "uuid": format!("uuid-{name}"), "cpus": 2, "maxRam": 2147483648u64,
            "details": {"deployvm": "true"}, "nics": [
                {"deviceId": 1, "uuid": "net-2", "nicUuid": "nic-2", "mac": "02:01:00:cc:00:02", "broadcastUri": "vlan://untagged"},
                {"deviceId": 0, "uuid": "net-1", "nicUuid": "nic-1", "mac": "02:01:00:cc:00:01", "broadcastUri": "vlan://1577"}]}
    })
}
