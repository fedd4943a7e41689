//! The simulated host's checkpoint scripts (list, create, restore, delete). A production
//! checkpoint takes no snapshot of the VM's memory ("Production Checkpoints: ... No snapshot of
//! the virtual machine memory state is taken": learn.microsoft.com/virtualization/hyper-v-on-windows/
//! user-guide/checkpoints), so an applied one leaves the VM off. The VM's writes going to a
//! differencing disk (`<name>_<id>.avhdx`) beside its parent is how hosts show it, not a statement
//! of that page: a guess, said as such.

use super::{err, Host, Outcome};
use serde_json::{json, Value};

impl Host {
    pub(super) fn checkpoint(&mut self, action: &str, p: &Value) -> Result<Outcome, Outcome> {
        let snapshot = p["snapshot"].as_str().unwrap_or("").to_string();
        Ok(match action {
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
                // A checkpoint moves the VM's writes to a differencing disk beside its parent.
                let counter = self.counter;
                for d in self.vms[i].disks.iter_mut() {
                    let stem = d
                        .trim_end_matches(".avhdx")
                        .trim_end_matches(".vhdx")
                        .split('_')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let child = format!("{stem}_{counter:08X}.avhdx");
                    self.parents.insert(child.clone(), d.clone());
                    self.files.insert(child.clone());
                    *d = child;
                }
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
            _ => err(format!("unknown script {action}"), 2),
        })
    }
}
