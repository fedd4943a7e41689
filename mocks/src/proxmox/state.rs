//! The mock Proxmox cluster's state: nodes, VMs, tasks, faults and a request log.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One node of the mock cluster.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// The cluster address (`/cluster/status`), the one a console proxy reaches.
    pub ip: String,
    /// A storage-network address listed first in `/nodes/{node}/network`.
    pub storage_ip: String,
    /// False for a node that is down (listed by `/nodes` as offline).
    pub online: bool,
}

/// A snapshot of a VM.
#[derive(Debug, Clone)]
pub struct Snap {
    pub name: String,
    pub description: String,
    pub snaptime: u64,
    pub vmstate: bool,
    pub parent: Option<String>,
    pub running_at_snapshot: bool,
}

/// A QEMU VM (or template).
#[derive(Debug, Clone)]
pub struct Vm {
    pub vmid: u64,
    pub node: String,
    pub template: bool,
    pub running: bool,
    pub lock: Option<String>,
    pub ha_managed: bool,
    /// Paused (`qmpstatus` "paused"; `status` stays "running").
    pub paused: bool,
    /// The QEMU guest agent answers (it must also be enabled in the config: `agent: 1`).
    pub agent_running: bool,
    /// Changes waiting for the next start (a disk that could not be hot-plugged).
    pub pending: BTreeMap<String, String>,
    /// Deletes waiting for the next start, with their `force` flag (see `disks`).
    pub pending_delete: BTreeMap<String, bool>,
    /// Config keys as Proxmox stores them (`name`, `cores`, `memory`, `net0`, `description`...).
    pub config: BTreeMap<String, String>,
    pub snapshots: Vec<Snap>,
}

impl Vm {
    pub fn name(&self) -> &str {
        self.config.get("name").map(String::as_str).unwrap_or("")
    }
    pub fn status(&self) -> &'static str {
        if self.running {
            "running"
        } else {
            "stopped"
        }
    }
}

/// What a task does to the state when it finishes.
#[derive(Debug, Clone)]
pub enum Effect {
    None,
    Unlock(u64),
    Start(u64),
    Stop(u64),
    Suspend(u64),
    Resume(u64),
    Migrate { vmid: u64, target: String },
    Destroy(u64),
    Snapshot { vmid: u64, snap: Snap },
    Rollback { vmid: u64, name: String, start: bool },
    DeleteSnapshot { vmid: u64, name: String },
}

/// A Proxmox task (UPID).
#[derive(Debug, Clone)]
pub struct Task {
    pub upid: String,
    pub node: String,
    pub ends: Instant,
    pub effect: Effect,
    /// Forced failure (fault injection): the effect is not applied.
    pub forced_error: Option<String>,
    pub exitstatus: Option<String>,
    pub log: Vec<String>,
}

/// A fault to inject into matching requests.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `GET`, `POST`... or `None` for any method.
    pub method: Option<String>,
    /// Substring of the API path (after `/api2/json`).
    pub path_contains: String,
    pub kind: FaultKind,
    /// How many matching requests it hits before it is used up.
    pub times: usize,
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status and a Proxmox-shaped error message.
    Http(u16, String),
    /// Answer with this status and an empty body (old PVE, or a proxy).
    Bare(u16),
    /// Let the request create its task, but end the task with this exit status.
    TaskError(String),
    /// Delay the answer.
    Delay(Duration),
    /// Answer with a body that is not JSON.
    Garbage,
}

/// How the mock authenticates clients.
#[derive(Debug, Clone)]
pub struct Auth {
    /// `user@realm!tokenid` and its secret.
    pub token: Option<(String, String)>,
    /// `user@realm` and its password, for ticket logins.
    pub password: Option<(String, String)>,
}

/// The whole mock cluster.
#[derive(Debug)]
pub struct State {
    pub nodes: Vec<Node>,
    pub vms: BTreeMap<u64, Vm>,
    pub tasks: BTreeMap<String, Task>,
    /// How long every task takes.
    pub task_duration: Duration,
    /// How long after an HA start/stop task the VM really changes state.
    pub ha_lag: Duration,
    pub auth: Auth,
    pub tickets: Vec<(String, String)>,
    /// The privileges granted to the token (and the password user), by ACL path;
    /// `/access/permissions` answers with what applies to a path (its own and its parents').
    pub privileges: BTreeMap<String, std::collections::BTreeSet<String>>,
    pub faults: Vec<Fault>,
    /// datacenter.cfg `tag-style: case-sensitive=1` (default off, as on PVE).
    pub tags_case_sensitive: bool,
    /// What `GET /version` answers (`9.1.2`; `8.2.4` models PVE 8). Before 7.3,
    /// `/cluster/resources` has no `tags` (pve-manager d18b6982 added them, 2022-11).
    pub version: String,
    /// datacenter.cfg `user-tag-access`: `user-allow` (`free`, `existing`, `list`, `none`;
    /// default `free`) and `user-allow-list`.
    pub user_allow: String,
    pub user_allow_list: Vec<String>,
    /// datacenter.cfg `registered-tags`: tags only a user with Sys.Modify on `/` may set.
    pub registered_tags: Vec<String>,
    /// Every request: `METHOD /path?query`.
    pub requests: Vec<String>,
    counter: u64,
}

/// The privileges the default mock grants on `/` (those csx uses, and a few more).
pub const ALL_PRIVILEGES: &[&str] = &[
    "VM.Audit",
    "VM.Allocate",
    "VM.Clone",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Config.Disk",
    "VM.Config.CDROM",
    "VM.PowerMgmt",
    "VM.Console",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
    "VM.Migrate",
    "VM.GuestAgent.Audit",
    "Datastore.AllocateSpace",
    "Datastore.Audit",
    "SDN.Use",
    "Sys.Audit",
];
pub const TOKEN_ID: &str = "root@pam!csx";
pub const TOKEN_SECRET: &str = "0b5a3c9e-7d41-4f6a-9c2e-5d8f1a2b3c4d";
pub const PASSWORD_USER: &str = "cloudstack@pve";
pub const PASSWORD: &str = "Pr0xmox-Passw0rd!";
/// The template every default mock cluster has, on the first node.
pub const TEMPLATE_ID: u64 = 9000;

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl State {
    /// Two nodes, `pve1` and `pve2`, and a Debian template 9000 on `pve1`.
    pub fn new() -> Self {
        let mut s = State {
            nodes: vec![
                Node { name: "pve1".into(), ip: "10.0.0.11".into(), storage_ip: "172.16.0.11".into(), online: true },
                Node { name: "pve2".into(), ip: "10.0.0.12".into(), storage_ip: "172.16.0.12".into(), online: true },
                Node { name: "pve3".into(), ip: "10.0.0.13".into(), storage_ip: "172.16.0.13".into(), online: false },
            ],
            vms: BTreeMap::new(),
            tasks: BTreeMap::new(),
            task_duration: Duration::ZERO,
            ha_lag: Duration::from_millis(50),
            auth: Auth {
                token: Some((TOKEN_ID.into(), TOKEN_SECRET.into())),
                password: Some((PASSWORD_USER.into(), PASSWORD.into())),
            },
            tickets: Vec::new(),
            privileges: [("/".to_string(), ALL_PRIVILEGES.iter().map(|p| p.to_string()).collect())].into(),
            faults: Vec::new(),
            tags_case_sensitive: false,
            version: "9.1.2".into(),
            user_allow: "free".into(),
            user_allow_list: Vec::new(),
            registered_tags: Vec::new(),
            requests: Vec::new(),
            counter: 0,
        };
        let config = [
            ("name", "debian-12-tpl"),
            ("cores", "1"),
            ("memory", "1024"),
            ("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"),
            ("net1", "virtio=BC:24:11:00:00:02,bridge=vmbr1"),
            ("scsi0", "local-lvm:base-9000-disk-0,size=8G"),
            ("ostype", "l26"),
            ("template", "1"),
        ];
        s.insert_vm(TEMPLATE_ID, "pve1", true, false, &config);
        s
    }

    /// Tags as PVE ≥ 7.3 stores them on every create and config update (pve-guest-common,
    /// `src/PVE/GuestHelpers.pm`, `get_unique_tags`): split on `;`, `,` and spaces, sorted
    /// (case-insensitively unless `case-sensitive`), lower-cased unless datacenter.cfg's
    /// `tag-style` has `case-sensitive=1`, duplicates dropped, joined with `;`.
    pub fn normalise_tags(&self, tags: &str) -> String {
        let mut list: Vec<String> = tags.split([';', ',', ' ']).filter(|t| !t.is_empty()).map(str::to_string).collect();
        if self.tags_case_sensitive {
            list.sort();
        } else {
            list.sort_by_key(|t| t.to_lowercase());
            list.iter_mut().for_each(|t| *t = t.to_lowercase());
        }
        list.dedup();
        list.join(";")
    }

    /// Adds a VM (or template) with the given config.
    pub fn insert_vm(&mut self, vmid: u64, node: &str, template: bool, running: bool, config: &[(&str, &str)]) {
        let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.vms.insert(
            vmid,
            Vm {
                vmid,
                node: node.into(),
                template,
                running,
                lock: None,
                ha_managed: false,
                paused: false,
                agent_running: false,
                pending: BTreeMap::new(),
                pending_delete: BTreeMap::new(),
                config,
                snapshots: vec![],
            },
        );
    }

    /// The privileges that apply to `path`: granted on it or on any parent.
    pub fn privileges_on(&self, path: &str) -> std::collections::BTreeSet<String> {
        let path = path.trim_end_matches('/');
        self.privileges
            .iter()
            .filter(|(p, _)| {
                let p = p.trim_end_matches('/');
                p.is_empty() || path == p || path.starts_with(&format!("{p}/"))
            })
            .flat_map(|(_, privs)| privs.iter().cloned())
            .collect()
    }

    /// Takes `privilege` away everywhere (a token without it).
    pub fn revoke(&mut self, privilege: &str) {
        for privs in self.privileges.values_mut() {
            privs.remove(privilege);
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Lowest free VMID from 100.
    pub fn next_free(&self) -> u64 {
        (100..).find(|id| !self.vms.contains_key(id)).unwrap_or(100)
    }

    /// Starts a task that finishes after `task_duration` (or `delay` when given).
    pub fn task(
        &mut self,
        node: &str,
        kind: &str,
        id: u64,
        user: &str,
        effect: Effect,
        delay: Option<Duration>,
    ) -> String {
        self.counter += 1;
        let now = unix_now();
        let upid = format!(
            "UPID:{node}:{:08X}:{:08X}:{:08X}:{kind}:{id}:{user}:",
            0x3A000 + self.counter,
            0x1450000 + self.counter,
            now
        );
        let forced_error = self.take_task_fault(&format!("/{kind}"));
        let ends = Instant::now() + delay.unwrap_or(self.task_duration);
        let task = Task {
            upid: upid.clone(),
            node: node.into(),
            ends,
            effect,
            forced_error,
            exitstatus: None,
            log: vec![format!("starting {kind} of {id}")],
        };
        self.tasks.insert(upid.clone(), task);
        self.advance();
        upid
    }

    fn take_task_fault(&mut self, kind_path: &str) -> Option<String> {
        let i = self.faults.iter().position(|f| {
            matches!(f.kind, FaultKind::TaskError(_)) && f.times > 0 && kind_path.contains(&f.path_contains)
        })?;
        self.faults[i].times -= 1;
        match &self.faults[i].kind {
            FaultKind::TaskError(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// Applies every task whose time has come.
    pub fn advance(&mut self) {
        let now = Instant::now();
        let due: Vec<String> =
            self.tasks.values().filter(|t| t.exitstatus.is_none() && t.ends <= now).map(|t| t.upid.clone()).collect();
        for upid in due {
            let task = self.tasks[&upid].clone();
            let status = match task.forced_error {
                Some(e) => Err(e),
                None => self.apply(task.effect),
            };
            let t = self.tasks.get_mut(&upid).expect("task");
            match status {
                Ok(()) => t.exitstatus = Some("OK".into()),
                Err(e) => {
                    t.log.push(format!("TASK ERROR: {e}"));
                    t.exitstatus = Some(e);
                }
            }
            t.log.push(format!("TASK {}", t.exitstatus.clone().unwrap_or_default()));
        }
    }

    fn apply(&mut self, effect: Effect) -> Result<(), String> {
        fn vm(s: &mut State, id: u64) -> Result<&mut Vm, String> {
            s.vms.get_mut(&id).ok_or_else(|| format!("VM {id} does not exist"))
        }
        match effect {
            Effect::None => {}
            Effect::Unlock(id) => vm(self, id)?.lock = None,
            Effect::Start(id) => {
                let v = vm(self, id)?;
                if v.running {
                    return Err(format!("VM {id} already running"));
                }
                // qemu-server vm_start applies pending changes before QEMU starts, and resumes a
                // hibernated VM from its saved state (the `suspended` lock and `vmstate` go).
                super::disks::apply_pending(v);
                if v.lock.as_deref() == Some("suspended") {
                    v.lock = None;
                    v.config.remove("vmstate");
                }
                v.running = true;
            }
            Effect::Stop(id) => {
                let v = vm(self, id)?;
                v.running = false;
                v.paused = false;
            }
            Effect::Suspend(id) => vm(self, id)?.paused = true,
            Effect::Resume(id) => vm(self, id)?.paused = false,
            Effect::Migrate { vmid, target } => vm(self, vmid)?.node = target,
            Effect::Destroy(id) => {
                self.vms.remove(&id);
            }
            Effect::Snapshot { vmid, mut snap } => {
                let v = vm(self, vmid)?;
                snap.parent = v.snapshots.last().map(|s| s.name.clone());
                snap.running_at_snapshot = v.running && snap.vmstate;
                v.snapshots.push(snap);
                v.lock = None;
            }
            Effect::Rollback { vmid, name, start } => {
                let v = vm(self, vmid)?;
                let s = v
                    .snapshots
                    .iter()
                    .find(|s| s.name == name)
                    .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
                v.running = s.running_at_snapshot || start;
            }
            Effect::DeleteSnapshot { vmid, name } => {
                let v = vm(self, vmid)?;
                v.snapshots.retain(|s| s.name != name);
            }
        }
        Ok(())
    }

    /// True from PVE 7.3 on: `/cluster/resources` lists the guests' tags.
    pub fn resources_have_tags(&self) -> bool {
        let mut parts = self.version.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (7, 3)
    }

    /// The JSON of `/cluster/resources?type=vm` for one VM.
    pub fn resource(&self, v: &Vm) -> Value {
        let mut r = json!({
            "id": format!("qemu/{}", v.vmid), "type": "qemu", "vmid": v.vmid, "name": v.name(),
            "node": v.node, "status": v.status(), "template": u8::from(v.template),
            "maxcpu": v.config.get("cores").and_then(|c| c.parse::<u64>().ok()).unwrap_or(1),
            "maxmem": 1024u64 * 1024 * 1024, "uptime": if v.running { 60 } else { 0 },
        });
        if let Some(t) = v.config.get("tags").filter(|t| !t.is_empty() && self.resources_have_tags()) {
            r["tags"] = json!(t);
        }
        if v.ha_managed {
            r["hastate"] = json!(if v.running { "started" } else { "stopped" });
        }
        if let Some(l) = &v.lock {
            r["lock"] = json!(l);
        }
        r
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}
