//! csx-fake: a backend whose "hypervisor" is a small world of instances kept in
//! memory or in a JSON state file, so CloudStack's extension framework can be
//! tried end to end without a hypervisor.
//!
//! Details read: `state_file` (default `<tmp>/csx-fake-state.json`),
//! `fake_delay_ms` (slow every action down), `fake_fail` (`create`: fail after
//! defining the instance, then roll back; `panic`: panic, to test the panic path), `console_url` (with `{name}`/`{uuid}`).

mod extras;
mod store;

use csx_core::identity::{self, Claim, Ownership};
use csx_core::operator;
use csx_core::Key;
use csx_core::{
    async_trait, Backend, Console, CustomAction, CustomActionSpec, CustomResult, Error, NicPatch, Outcome, ParamType,
    Params, Payload, Pick, PowerState, Prepared, Request, Result, Vlan,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
pub use store::Store;

/// Everything the fake hypervisor knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Last id handed out by `prepare` or `create`.
    pub last_id: u64,
    pub instances: BTreeMap<String, Instance>,
}

/// One fake instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: u64,
    /// CloudStack instance uuid that created it (ownership mark).
    pub owner: Option<String>,
    /// The installation marker (`installation_id`) of the CloudStack that created it.
    #[serde(default)]
    pub installation: Option<String>,
    pub running: bool,
    pub cpus: u64,
    pub ram_mib: u64,
    pub nics: Vec<FakeNic>,
    pub snapshots: Vec<Snapshot>,
    /// Suspended (still `poweron`: it holds its memory).
    #[serde(default)]
    pub paused: bool,
    /// The node it was migrated to (none: where it was made).
    #[serde(default)]
    pub node: Option<String>,
    /// Its disks, the root disk first (instances from older state files get one on first use).
    #[serde(default)]
    pub disks: Vec<FakeDisk>,
}

/// One fake disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeDisk {
    pub id: String,
    pub size_gb: u64,
    pub storage: String,
    pub root: bool,
    /// When AddDisk added it (0 for the root disk): a retry within two minutes finds it.
    pub added: u64,
}

pub(crate) fn root_disk() -> FakeDisk {
    FakeDisk { id: "disk0".into(), size_gb: 20, storage: "local".into(), root: true, added: 0 }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeNic {
    pub mac: String,
    pub vlan: Option<u16>,
    /// The addresses CloudStack assigned (`ip`/`netmask`, `ip6address`), as the guest reports them.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub netmask: Option<String>,
    #[serde(default)]
    pub ip6: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub name: String,
    pub description: String,
    pub created: u64,
    pub with_memory: bool,
    /// Power state captured with memory, restored by RestoreSnapshot.
    pub running: bool,
}

/// The custom actions the fake offers (the Proxmox built-in's names and parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum FakeAction {
    ListSnapshots,
    CreateSnapshot,
    RestoreSnapshot,
    DeleteSnapshot,
    Suspend,
    Resume,
    GetIpAddresses,
    Migrate,
    AddDisk,
    ListDisks,
    ResizeDisk,
    RemoveDisk,
}

impl CustomAction for FakeAction {
    fn spec(self) -> CustomActionSpec {
        let named = |name: &'static str, what: &'static str| {
            CustomActionSpec::new(name, what).param("snap_name", ParamType::String, true, "snapshot name")
        };
        match self {
            Self::ListSnapshots => CustomActionSpec::new("ListSnapshots", "list the instance's snapshots as a table"),
            Self::CreateSnapshot => named("CreateSnapshot", "take a snapshot")
                .param("snap_description", ParamType::String, false, "free text")
                .param("snap_save_memory", ParamType::Boolean, false, "include the running state"),
            Self::RestoreSnapshot => named("RestoreSnapshot", "roll the instance back to a snapshot and run it"),
            Self::DeleteSnapshot => named("DeleteSnapshot", "delete a snapshot"),
            Self::Suspend => operator::suspend("pause the instance"),
            Self::Resume => operator::resume("resume a paused instance"),
            Self::GetIpAddresses => operator::get_ip_addresses("the addresses the fake assigned, as a table"),
            Self::Migrate => operator::migrate("record a move to another node", "the node to move to"),
            Self::AddDisk => operator::add_disk("add an empty disk", "where it lives (default: the root disk's)"),
            Self::ListDisks => operator::list_disks("the instance's disks as a table"),
            Self::ResizeDisk => operator::resize_disk("disk id, e.g. disk1"),
            Self::RemoveDisk => operator::remove_disk("remove a disk (never the root disk)", "disk id, e.g. disk1"),
        }
    }
}

/// The declarations of [`FakeAction`], for the binary's `--help` and dispatch.
pub fn custom_actions() -> Vec<CustomActionSpec> {
    FakeAction::specs()
}

/// The fake backend.
#[derive(Debug, Clone)]
pub struct FakeBackend {
    store: Store,
}

/// Where the world is kept: a file path (operator: it chooses where csx writes).
pub const STATE_FILE: Key =
    Key::operator("state_file", "path of the JSON state file [default: <tmp>/csx-fake-state.json]");
/// A console URL template (operator: users open what it points at).
pub const CONSOLE_URL: Key = Key::operator(
    "console_url",
    "console URL template with {name} and {uuid} [default: https://console.fake.invalid/{name}]",
);
/// Slows every action (to watch deadlines).
pub const FAKE_DELAY_MS: Key = Key::operator("fake_delay_ms", "milliseconds every action waits first [default: 0]");
/// Failure injection for tests.
pub const FAKE_FAIL: Key =
    Key::operator("fake_fail", "`create`: fail after defining the instance and roll back; `panic`: panic");
/// Every key the fake reads.
pub const KEYS: &[Key] =
    &[STATE_FILE, CONSOLE_URL, FAKE_DELAY_MS, FAKE_FAIL, identity::ADOPT_UNMARKED, identity::INSTALLATION_ID];

/// Per-request settings read from the payload.
struct Knobs {
    delay: Duration,
    fail_create: bool,
}

fn knobs(p: &Payload) -> Result<Knobs> {
    let fail = p.detail(&FAKE_FAIL).unwrap_or("");
    if !matches!(fail, "" | "create" | "panic") {
        return Err(Error::bad_input(format!("detail `fake_fail` must be `create`, `panic` or empty, found {fail:?}")));
    }
    // Proves that even a bug ends in one JSON error document (see the process tests).
    assert!(fail != "panic", "fake_fail=panic requested a panic");
    Ok(Knobs {
        delay: Duration::from_millis(p.detail_u64(&FAKE_DELAY_MS)?.unwrap_or(0)),
        fail_create: fail == "create",
    })
}

impl FakeBackend {
    pub fn new(store: Store) -> Self {
        FakeBackend { store }
    }

    /// An empty in-memory world (tests).
    pub fn in_memory() -> Self {
        Self::new(Store::memory())
    }

    /// The backend the `fake` binary uses: a state file from detail `state_file`.
    pub fn from_payload(p: &Payload) -> Result<Self> {
        knobs(p)?;
        let path = match p.detail(&STATE_FILE) {
            Some(s) => s.into(),
            None => std::env::temp_dir().join("csx-fake-state.json"),
        };
        Ok(Self::new(Store::file(path)))
    }

    /// A copy of the current world.
    pub async fn world(&self) -> Result<World> {
        self.store.read().await
    }

    /// Where the world lives (tests plant instances through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn begin(&self, req: &Request) -> Result<(Knobs, String)> {
        let k = knobs(&req.payload)?;
        if !k.delay.is_zero() {
            tokio::time::sleep(k.delay).await;
        }
        Ok((k, req.payload.require_instance_name()?.to_string()))
    }

    async fn set_power(&self, req: &Request, name: String, on: bool, missing_ok: bool) -> Result<bool> {
        let claim = Claim::of(&req.payload)?;
        self.store
            .update(move |w| match mine(w, &name, &claim) {
                Pick::Mine(()) => {
                    let i = w.instances.get_mut(&name).expect("picked");
                    let changed = i.running != on;
                    i.running = on;
                    Ok(changed)
                }
                // Another instance's (or no) instance: nothing for stop to do.
                _ if missing_ok => Ok(false),
                other => other.require(&format!("instance {name}")).map(|()| false),
            })
            .await
    }
}

/// The one ownership rule (csx_core::identity) over the fake's world, keyed by name.
fn mine(w: &World, name: &str, claim: &Claim) -> Pick<()> {
    match w.instances.get(name).map(|i| claim.ownership(i.owner.as_deref(), name, Some(&i.id.to_string()))) {
        None => Pick::Missing,
        Some(own @ (Ownership::Foreign(_) | Ownership::Stranger(_))) => {
            identity::pick(vec![((), own)], |_| name.to_string()).unwrap_or(Pick::Missing)
        }
        Some(_) => Pick::Mine(()),
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A locally administered MAC derived from the instance id and NIC index.
fn fake_mac(id: u64, index: usize) -> String {
    format!("02:fa:{:02x}:{:02x}:{:02x}:{:02x}", (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff, index & 0xff)
}

fn nics_of(p: &Payload, id: u64) -> Result<Vec<FakeNic>> {
    p.nics()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Ok(FakeNic {
                mac: n.mac.clone().unwrap_or_else(|| fake_mac(id, i)),
                vlan: match n.vlan()? {
                    Vlan::Tagged(t) => Some(t),
                    Vlan::Untagged => None,
                },
                ip: n.ip.clone(),
                netmask: n.netmask.clone(),
                ip6: n.ip6address.clone(),
            })
        })
        .collect()
}

#[async_trait]
impl Backend for FakeBackend {
    async fn prepare(&self, req: &Request) -> Result<Prepared> {
        self.begin(req).await?;
        let id = self
            .store
            .update(|w| {
                w.last_id += 1;
                Ok(w.last_id)
            })
            .await?;
        let nics = req
            .payload
            .nics()
            .iter()
            .enumerate()
            .map(|(i, n)| NicPatch {
                uuid: n.uuid.clone(),
                nic_uuid: n.nic_uuid.clone(),
                mac: Some(n.mac.clone().unwrap_or_else(|| fake_mac(id, i))),
                ip: None,
            })
            .collect();
        Ok(Prepared { details: [("fake_id".to_string(), id.to_string())].into(), nics })
    }

    async fn create(&self, req: &Request) -> Result<Outcome> {
        let (k, name) = self.begin(req).await?;
        let p = &req.payload;
        let owner = p.instance_uuid().map(str::to_string);
        let claim = Claim::of(p)?;
        let installation = identity::installation(p)?.map(str::to_string);
        let reserved = p.vm_detail("fake_id").and_then(|s| s.parse::<u64>().ok());
        let (cpus, ram) = (p.cpus(), p.ram_mib().unwrap_or(512));
        let nics = nics_of(p, reserved.unwrap_or(0))?;
        let n2 = name.clone();
        let (id, existed) = self
            .store
            .update(move |w| {
                if mine(w, &n2, &claim).require_or_missing(&format!("instance {n2}"))?.is_some() {
                    return Ok((w.instances[&n2].id, true));
                }
                let id = reserved.unwrap_or_else(|| {
                    w.last_id += 1;
                    w.last_id
                });
                let inst = Instance {
                    id,
                    owner,
                    installation,
                    running: false,
                    cpus,
                    ram_mib: ram,
                    nics,
                    snapshots: vec![],
                    paused: false,
                    node: None,
                    disks: vec![root_disk()],
                };
                w.instances.insert(n2, inst);
                Ok((id, false))
            })
            .await?;
        if k.fail_create && !existed {
            // Simulated power-on failure: remove only what this invocation made.
            let n3 = name.clone();
            self.store.update(move |w| Ok(w.instances.remove(&n3))).await?;
            return Err(Error::remote(format!(
                "instance {name} was defined but failed to power on (fake_fail=create); it was removed again"
            )));
        }
        self.set_power(req, name.clone(), true, false).await?;
        let msg = if existed { "already existed; ensured it is running" } else { "created and started" };
        Ok(Outcome::new(format!("Instance {name} {msg}")).with("fake_id", id.to_string()))
    }

    async fn start(&self, req: &Request) -> Result<Outcome> {
        let (_, name) = self.begin(req).await?;
        let changed = self.set_power(req, name.clone(), true, false).await?;
        Ok(Outcome::new(if changed {
            format!("Instance {name} started")
        } else {
            format!("Instance {name} was already running")
        }))
    }

    async fn stop(&self, req: &Request) -> Result<Outcome> {
        let (_, name) = self.begin(req).await?;
        let changed = self.set_power(req, name.clone(), false, true).await?;
        Ok(Outcome::new(if changed {
            format!("Instance {name} stopped")
        } else {
            format!("Instance {name} was already stopped or does not exist")
        }))
    }

    async fn reboot(&self, req: &Request) -> Result<Outcome> {
        let (_, name) = self.begin(req).await?;
        let was_off = self.set_power(req, name.clone(), true, false).await?;
        Ok(Outcome::new(if was_off {
            format!("Instance {name} was stopped; started it")
        } else {
            format!("Instance {name} rebooted")
        }))
    }

    async fn delete(&self, req: &Request) -> Result<Outcome> {
        let (_, name) = self.begin(req).await?;
        let n2 = name.clone();
        let claim = Claim::of(&req.payload)?;
        let removed = self
            .store
            .update(move |w| Ok(mine(w, &n2, &claim).mine().and_then(|()| w.instances.remove(&n2)).is_some()))
            .await?;
        Ok(Outcome::new(if removed {
            format!("Instance {name} deleted")
        } else {
            format!("Instance {name} did not exist")
        }))
    }

    async fn status(&self, req: &Request) -> Result<PowerState> {
        let (_, name) = self.begin(req).await?;
        let w = self.store.read().await?;
        // The fake's world is authoritative: an instance it lacks (or only another
        // instance's of that name) is off.
        Ok(match mine(&w, &name, &Claim::of(&req.payload)?).mine().map(|()| w.instances[&name].running) {
            Some(true) => PowerState::On,
            _ => PowerState::Off,
        })
    }

    async fn statuses(&self, req: &Request) -> Result<BTreeMap<String, PowerState>> {
        let k = knobs(&req.payload)?;
        if !k.delay.is_zero() {
            tokio::time::sleep(k.delay).await;
        }
        let ours = identity::installation(&req.payload)?;
        let w = self.store.read().await?;
        let mut out = BTreeMap::new();
        for (n, i) in w.instances.iter().filter(|(_, i)| identity::same_installation(i.installation.as_deref(), ours)) {
            // An instance csx made (marked) records its name as the world's key.
            if let Some(key) = identity::statuses_key(i.owner.is_some().then_some(n.as_str()), n) {
                identity::add_status(&mut out, key, if i.running { PowerState::On } else { PowerState::Off });
            }
        }
        Ok(out)
    }

    async fn console(&self, req: &Request) -> Result<Console> {
        let (_, name) = self.begin(req).await?;
        let w = self.store.read().await?;
        mine(&w, &name, &Claim::of(&req.payload)?).require(&format!("instance {name}"))?;
        let inst = &w.instances[&name];
        if !inst.running {
            return Err(Error::bad_input(format!("instance {name} is stopped; start it to open its console")));
        }
        let template = req.payload.detail(&CONSOLE_URL).unwrap_or("https://console.fake.invalid/{name}");
        let uuid = req.payload.instance_uuid().unwrap_or("");
        Ok(Console::Direct { url: template.replace("{name}", &name).replace("{uuid}", uuid) })
    }

    async fn doctor(&self, req: &Request) -> Vec<csx_core::doctor::Check> {
        use csx_core::doctor::{Area, Check};
        let mut out = Vec::new();
        if let Err(e) = knobs(&req.payload) {
            out.push(Check::fail(
                Area::Configuration,
                "fake_fail, fake_delay_ms",
                e.message(),
                "fix or remove the detail",
            ));
        }
        let from = req.payload.detail_source(&STATE_FILE).map(|(_, f)| f.as_str()).unwrap_or("the default");
        match &self.store {
            Store::File(path) => {
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                out.push(if dir.is_dir() {
                    Check::pass(Area::Configuration, "state_file", format!("{} (from {from})", path.display()))
                } else {
                    Check::fail(
                        Area::Configuration,
                        "state_file",
                        format!("the folder of {} (from {from}) does not exist", path.display()),
                        "set `state_file` to a path in an existing folder writable by `cloud`",
                    )
                });
                out.push(match self.store.read().await {
                    Ok(w) => {
                        Check::pass(Area::Objects, "instances", format!("{} in the state file", w.instances.len()))
                    }
                    Err(e) => Check::fail(
                        Area::Objects,
                        "instances",
                        e.message(),
                        "make the state file readable by `cloud`, or remove it",
                    ),
                });
            }
            Store::Memory(_) => out.push(Check::pass(Area::Configuration, "state", "in memory")),
        }
        out
    }

    fn custom_actions(&self) -> Vec<CustomActionSpec> {
        custom_actions()
    }

    async fn custom(&self, action: &str, params: &Params, req: &Request) -> Result<CustomResult> {
        let action = FakeAction::parse(action)?;
        let (_, name) = self.begin(req).await?;
        let snap = params.str("snap_name").map(str::to_string);
        let desc = params.str("snap_description").unwrap_or("").to_string();
        let mem = params.bool("snap_save_memory").unwrap_or(false);
        let target = params.str("target_node").map(str::to_string);
        let disk_args = extras::DiskArgs {
            size: params.num("size_gb"),
            storage: params.str("storage").map(str::to_string),
            disk: params.str("disk").map(str::to_string),
        };
        let claim = Claim::of(&req.payload)?;
        self.store
            .update(move |w| {
                mine(w, &name, &claim).require(&format!("instance {name}"))?;
                let inst = w.instances.get_mut(&name).expect("picked");
                let find = |i: &Instance, s: &str| i.snapshots.iter().position(|x| x.name == s);
                let snap = snap.unwrap_or_default();
                match action {
                    FakeAction::ListSnapshots => Ok(CustomResult::Table(
                        inst.snapshots
                            .iter()
                            .map(|s| {
                                let v = serde_json::json!({"name": s.name,
                                    "created": csx_core::time::utc(s.created), "description": s.description,
                                    "vmstate": if s.with_memory { "yes" } else { "no" }});
                                v.as_object().cloned().unwrap_or_default()
                            })
                            .collect(),
                    )),
                    FakeAction::CreateSnapshot => {
                        if find(inst, &snap).is_some() {
                            return Err(Error::conflict(format!("snapshot {snap} of {name} already exists")));
                        }
                        let running = inst.running && mem;
                        inst.snapshots.push(Snapshot {
                            name: snap.clone(),
                            description: desc,
                            created: now(),
                            with_memory: mem,
                            running,
                        });
                        Ok(CustomResult::Message(format!("Snapshot {snap} of {name} created")))
                    }
                    FakeAction::RestoreSnapshot => {
                        find(inst, &snap).ok_or_else(|| Error::not_found(format!("{name} has no snapshot {snap}")))?;
                        // As the Proxmox and Hyper-V extensions do: the instance runs after a restore.
                        inst.running = true;
                        inst.paused = false;
                        Ok(CustomResult::Message(format!("Instance {name} restored to snapshot {snap} and running")))
                    }
                    FakeAction::DeleteSnapshot => {
                        let i = find(inst, &snap)
                            .ok_or_else(|| Error::not_found(format!("{name} has no snapshot {snap}")))?;
                        inst.snapshots.remove(i);
                        Ok(CustomResult::Message(format!("Snapshot {snap} of {name} deleted")))
                    }
                    FakeAction::Suspend | FakeAction::Resume if !inst.running => {
                        Err(Error::bad_input(format!("instance {name} is stopped")))
                    }
                    FakeAction::Suspend => {
                        let was = std::mem::replace(&mut inst.paused, true);
                        Ok(CustomResult::Message(format!(
                            "Instance {name} {}",
                            if was { "was already suspended" } else { "suspended" }
                        )))
                    }
                    FakeAction::Resume => {
                        let was = std::mem::replace(&mut inst.paused, false);
                        Ok(CustomResult::Message(format!(
                            "Instance {name} {}",
                            if was { "resumed" } else { "was already running" }
                        )))
                    }
                    FakeAction::GetIpAddresses => Ok(CustomResult::Table(extras::address_rows(inst))),
                    FakeAction::AddDisk | FakeAction::ListDisks | FakeAction::ResizeDisk | FakeAction::RemoveDisk => {
                        extras::disk_action(inst, &name, action, &disk_args)
                    }
                    FakeAction::Migrate => {
                        let node = target.ok_or_else(|| Error::bad_input("parameter `target_node` is required"))?;
                        inst.node = Some(node.clone());
                        Ok(CustomResult::Message(format!("Instance {name} moved to {node}")))
                    }
                }
            })
            .await
    }
}
