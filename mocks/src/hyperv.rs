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
        HyperVHost(Mutex::new(h))
    }
}

impl HyperVHost {
    pub fn host(&self) -> MutexGuard<'_, Host> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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

impl Host {
    fn find(&self, p: &Value) -> Result<Option<usize>, Outcome> {
        let name = p["name"].as_str().unwrap_or("");
        let mark = p["mark"].as_str().unwrap_or("");
        let all: Vec<usize> = (0..self.vms.len()).filter(|i| self.vms[*i].name == name).collect();
        let mine: Vec<usize> = all.iter().copied().filter(|i| self.vms[*i].notes.contains(mark)).collect();
        if mine.len() > 1 {
            return Err(err(format!("several VMs named {name} carry this instance's mark"), 2));
        }
        if let [i] = mine[..] {
            return Ok(Some(i));
        }
        let unmarked: Vec<usize> =
            all.iter().copied().filter(|i| !self.vms[*i].notes.contains("cloudstack-instance-uuid=")).collect();
        if let [i] = unmarked[..] {
            return Ok(Some(i));
        }
        if !all.is_empty() {
            return Err(err(format!("a VM named {name} exists but belongs to another CloudStack instance"), 4));
        }
        Ok(None)
    }

    fn require(&self, p: &Value) -> Result<usize, Outcome> {
        self.find(p)?.ok_or_else(|| err(format!("no VM named {}", p["name"].as_str().unwrap_or("")), 3))
    }

    fn start(&mut self, i: usize) -> Result<(), String> {
        if self.fail_starts > 0 {
            self.fail_starts -= 1;
            return Err(format!("'{}' failed to start. (Virtual machine ID {})", self.vms[i].name, self.vms[i].id));
        }
        self.vms[i].state = "Running".into();
        Ok(())
    }

    fn execute(&mut self, action: &str, p: &Value) -> Outcome {
        match self.run(action, p) {
            Ok(o) | Err(o) => o,
        }
    }

    fn run(&mut self, action: &str, p: &Value) -> Result<Outcome, Outcome> {
        let snapshot = p["snapshot"].as_str().unwrap_or("").to_string();
        Ok(match action {
            "status" => match self.find(p)? {
                None => (json!({"found": false}), 0),
                Some(i) => (json!({"found": true, "state": self.vms[i].state, "id": self.vms[i].id}), 0),
            },
            "statuses" => {
                let m: serde_json::Map<String, Value> =
                    self.vms.iter().map(|v| (v.name.clone(), json!(v.state))).collect();
                (json!({"vms": m}), 0)
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
            "stop" => match self.find(p)? {
                None => (json!({"changed": false, "state": "Missing"}), 0),
                Some(i) if self.vms[i].state == "Off" => (json!({"changed": false, "state": "Off"}), 0),
                Some(i) => {
                    self.vms[i].state = "Off".into();
                    (json!({"changed": true, "state": "Off"}), 0)
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
            "delete" => match self.find(p)? {
                None => (json!({"deleted": false}), 0),
                Some(i) => {
                    let vm = self.vms.remove(i);
                    for d in &vm.disks {
                        self.files.remove(d);
                    }
                    (json!({"deleted": true, "disks": vm.disks}), 0)
                }
            },
            "suspend" => {
                let i = self.require(p)?;
                if self.vms[i].state == "Paused" {
                    (json!({"changed": false}), 0)
                } else if self.vms[i].state != "Running" {
                    return Err(err(
                        "The operation cannot be performed while the virtual machine is in its current state.",
                        2,
                    ));
                } else {
                    self.vms[i].state = "Paused".into();
                    (json!({"changed": true}), 0)
                }
            }
            "resume" => {
                let i = self.require(p)?;
                if self.vms[i].state == "Running" {
                    (json!({"changed": false}), 0)
                } else if self.vms[i].state != "Paused" {
                    return Err(err(
                        "The operation cannot be performed while the virtual machine is in its current state.",
                        2,
                    ));
                } else {
                    self.vms[i].state = "Running".into();
                    (json!({"changed": true}), 0)
                }
            }
            "list-snapshots" => {
                let i = self.require(p)?;
                let rows: Vec<Value> = self.vms[i]
                    .checkpoints
                    .iter()
                    .map(|(n, c, _)| json!({"name": n, "created": c, "type": "Production"}))
                    .collect();
                (json!({"snapshots": rows}), 0)
            }
            "create-snapshot" => {
                let i = self.require(p)?;
                if self.vms[i].checkpoints.iter().any(|(n, _, _)| *n == snapshot) {
                    return Err(err(format!("a checkpoint named {snapshot} already exists"), 2));
                }
                self.counter += 1;
                let created = format!("2026-11-23 10:{:02}:00 UTC", self.counter % 60);
                let state = self.vms[i].state.clone();
                self.vms[i].checkpoints.push((snapshot, created, state));
                (json!({"created": true}), 0)
            }
            "restore-snapshot" => {
                let i = self.require(p)?;
                if !self.vms[i].checkpoints.iter().any(|(n, _, _)| *n == snapshot) {
                    return Err(err(format!("no checkpoint named {snapshot}"), 5));
                }
                // Production checkpoints hold no memory: the VM comes back off, then is started.
                self.vms[i].state = "Off".into();
                self.start(i).map_err(|e| err(e, 2))?;
                (json!({"restored": true}), 0)
            }
            "delete-snapshot" => {
                let i = self.require(p)?;
                let before = self.vms[i].checkpoints.len();
                self.vms[i].checkpoints.retain(|(n, _, _)| *n != snapshot);
                let n = before - self.vms[i].checkpoints.len();
                if n == 0 {
                    return Err(err(format!("no checkpoint named {snapshot}"), 5));
                }
                (json!({"deleted": n}), 0)
            }
            "create" => return Ok(self.create(p)),
            other => err(format!("unknown script {other}"), 2),
        })
    }

    fn create(&mut self, p: &Value) -> Outcome {
        match self.find(p) {
            Err(o) => return o,
            Ok(Some(i)) => {
                if self.vms[i].state != "Running" {
                    if let Err(e) = self.start(i) {
                        return err(e, 2);
                    }
                }
                return (json!({"created": false, "id": self.vms[i].id}), 0);
            }
            Ok(None) => {}
        }
        let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
        let disk = format!("{}\\{}.vhdx", s("vhd_path").trim_end_matches('\\'), s("name"));
        let mut made: Vec<&str> = Vec::new();
        let result = (|| -> Result<String, String> {
            if self.files.contains(&disk) {
                return Err(format!("disk {disk} already exists; refusing to overwrite it"));
            }
            let iso = s("template_type") == "iso";
            if iso {
                if !self.files.contains(&s("iso_path")) {
                    return Err(format!(
                        "Failed to add device 'Virtual CD/DVD Disk'. The system cannot find the file specified. ({})",
                        s("iso_path")
                    ));
                }
            } else if !self.files.contains(&s("template_path")) {
                return Err(format!("Cannot find path '{}' because it does not exist.", s("template_path")));
            }
            self.files.insert(disk.clone());
            made.push("disk");
            self.counter += 1;
            let id = format!("{:08x}-5d7c-4c3e-9d2a-{:012x}", self.counter, self.counter);
            self.vms.push(HvVm {
                id: id.clone(),
                name: s("name"),
                state: "Off".into(),
                generation: p["generation"].as_u64().unwrap_or(1),
                cpus: 1,
                memory_mb: p["memory_mb"].as_u64().unwrap_or(512),
                notes: String::new(),
                adapters: vec![],
                disks: vec![disk.clone()],
                dvd: iso.then(|| s("iso_path")),
                secure_boot: p["generation"].as_u64() == Some(2),
                checkpoints: vec![],
            });
            made.push("vm");
            let i = self.vms.len() - 1;
            self.vms[i].cpus = p["cpus"].as_u64().unwrap_or(1);
            self.vms[i].notes = s("notes");
            for n in p["nics"].as_array().into_iter().flatten() {
                if !self.switches.contains(&s("switch")) {
                    return Err(format!("Hyper-V was unable to find a virtual switch with name \"{}\".", s("switch")));
                }
                self.vms[i].adapters.push((s("switch"), n["mac"].as_str().unwrap_or("").into(), n["vlan"].as_u64()));
            }
            if p["generation"].as_u64() == Some(2) {
                self.vms[i].secure_boot = p["secure_boot"].as_bool().unwrap_or(false);
            }
            self.start(i)?;
            Ok(id)
        })();
        match result {
            Ok(id) => (json!({"created": true, "id": id}), 0),
            Err(e) => {
                if made.contains(&"vm") {
                    self.vms.retain(|v| !(v.disks.contains(&disk)));
                }
                if made.contains(&"disk") {
                    self.files.remove(&disk);
                }
                (json!({"error": e, "rolled_back": made}), 2)
            }
        }
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
        let (json, code) = host.execute(&action, &params);
        Exec { stdout: format!("{json}\r\n").into_bytes(), stderr: Vec::new(), exit_code: code }
    }
}
