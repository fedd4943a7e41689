//! The simulated host's create script: a VM from a template disk or an ISO, rolled back on failure.

use super::{err, Host, HvVm, Outcome};
use serde_json::{json, Value};

impl Host {
    /// `New-VM` from a copied template or with a new disk and the ISO, then NICs, firmware and
    /// `Start-VM`, undone on failure as the script does. Guesses, said as such: the failure texts
    /// (a missing ISO, template or switch) are what hosts print, not documented messages, and a new
    /// generation-2 VM starting with Secure Boot on is how hosts behave, not a statement found on
    /// the New-VM page (the adapter always sets it with Set-VMFirmware anyway).
    pub(super) fn create(&mut self, p: &Value) -> Outcome {
        match self.find_owned(p) {
            Err(o) => return o,
            Ok((None, true)) => return self.not_ours(p),
            Ok((Some(i), _)) => {
                if self.vms[i].state != "Running" {
                    if let Err(e) = self.start(i) {
                        return err(e, 2);
                    }
                }
                return (json!({"created": false, "id": self.vms[i].id}), 0);
            }
            Ok((None, false)) => {}
        }
        let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
        let disk = format!("{}\\{}.vhdx", s("vhd_path").trim_end_matches('\\'), s("name"));
        let mut made: Vec<&str> = Vec::new();
        let result = (|| -> Result<String, String> {
            if self.files.contains(&disk) {
                return Err(format!("disk {disk} already exists; refusing to overwrite it"));
            }
            let memory = p["memory_mb"].as_u64().unwrap_or(0);
            // Startup memory must be a multiple of 2 MB: the text hosts print, not found on a Microsoft
            // page — a guess (the adapter rounds up anyway).
            if !memory.is_multiple_of(2) {
                return Err(format!(
                    "Failed to modify device 'Memory'. Invalid startup memory amount specified for '{}': The value {memory} MB is not properly aligned. The value must be a multiple of 2 MB.",
                    s("name")
                ));
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
