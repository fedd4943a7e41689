//! The custom actions, declared once as [`ProxmoxAction`]: the built-in extension's snapshot
//! actions (run here) and the operator actions of `operations` (suspend, resume, guest
//! addresses, migration).

use crate::client::{as_bool, as_u64, seg};
use crate::config::check_snapshot_name;
use crate::session::Session;
use csx_core::operator;
use csx_core::time::utc;
use csx_core::{CustomAction, CustomActionSpec, CustomResult, ParamType, Params, Result};
use reqwest::Method;
use serde_json::Value;

/// The built-in extension's custom actions, names and parameters unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxmoxAction {
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

impl CustomAction for ProxmoxAction {
    const ALL: &'static [Self] = &[
        Self::ListSnapshots,
        Self::CreateSnapshot,
        Self::RestoreSnapshot,
        Self::DeleteSnapshot,
        Self::Suspend,
        Self::Resume,
        Self::GetIpAddresses,
        Self::Migrate,
        Self::AddDisk,
        Self::ListDisks,
        Self::ResizeDisk,
        Self::RemoveDisk,
    ];

    fn spec(self) -> CustomActionSpec {
        match self {
            Self::ListSnapshots => CustomActionSpec::new("ListSnapshots", "list the VM's snapshots as a table"),
            Self::CreateSnapshot => CustomActionSpec::new("CreateSnapshot", "take a snapshot")
                .param("snap_name", ParamType::String, true, "2-40 letters, digits, _ or -, starting with a letter")
                .param("snap_description", ParamType::String, false, "free text")
                .param("snap_save_memory", ParamType::Boolean, false, "include the RAM state"),
            Self::RestoreSnapshot => CustomActionSpec::new(
                "RestoreSnapshot",
                "roll back to a snapshot and start the VM",
            )
            .param("snap_name", ParamType::String, true, "snapshot name"),
            Self::DeleteSnapshot => CustomActionSpec::new("DeleteSnapshot", "delete a snapshot").param(
                "snap_name",
                ParamType::String,
                true,
                "snapshot name",
            ),
            Self::Suspend => operator::suspend("pause the VM (its memory stays on the node)"),
            Self::Resume => operator::resume("resume a paused VM"),
            Self::GetIpAddresses => {
                operator::get_ip_addresses("the guest's addresses per NIC (QEMU guest agent) as a table")
            }
            Self::Migrate => {
                operator::migrate("move the VM to another node (live when running)", "the Proxmox node to move to")
            }
            Self::AddDisk => operator::add_disk(
                "add an empty SCSI disk (hot-plugged when the VM allows it)",
                "Proxmox storage id (default: the root disk's)",
            ),
            Self::ListDisks => operator::list_disks("the VM's disks as a table"),
            Self::ResizeDisk => operator::resize_disk("disk id, e.g. scsi1"),
            Self::RemoveDisk => operator::remove_disk(
                "detach a disk and delete its volume (never the root disk)",
                "disk id, e.g. scsi1",
            ),
        }
    }
}

/// The declarations of [`ProxmoxAction`], for the binary's `--help` and dispatch.
pub fn custom_actions() -> Vec<CustomActionSpec> {
    ProxmoxAction::specs()
}

/// Runs one of the snapshot actions on this instance's VM.
pub(crate) async fn run(s: &Session<'_>, action: ProxmoxAction, params: &Params) -> Result<CustomResult> {
    match action {
        ProxmoxAction::Suspend | ProxmoxAction::Resume | ProxmoxAction::GetIpAddresses | ProxmoxAction::Migrate => {
            return crate::operations::run(s, action, params).await
        }
        ProxmoxAction::AddDisk | ProxmoxAction::ListDisks | ProxmoxAction::ResizeDisk | ProxmoxAction::RemoveDisk => {
            return crate::disks::run(s, action, params).await
        }
        _ => {}
    }
    let snap = params.str("snap_name").map(str::to_string);
    if let Some(n) = &snap {
        check_snapshot_name(n)?;
    }
    let l = s.require().await?;
    let snap = snap.unwrap_or_default();
    match action {
        ProxmoxAction::ListSnapshots => {
            let list = s.client.get(&l.path("/snapshot"), &[]).await?;
            let mut rows: Vec<&Value> =
                list.as_array().into_iter().flatten().filter(|x| x["name"].as_str() != Some("current")).collect();
            rows.sort_by_key(|x| as_u64(&x["snaptime"]).unwrap_or(0));
            Ok(CustomResult::Table(
                rows.into_iter()
                    .map(|x| {
                        let mut m = serde_json::Map::new();
                        m.insert("name".into(), x["name"].clone());
                        m.insert(
                            "snaptime".into(),
                            as_u64(&x["snaptime"]).map(utc).unwrap_or_else(|| "-".into()).into(),
                        );
                        m.insert("description".into(), x["description"].as_str().unwrap_or("").into());
                        m.insert("parent".into(), x["parent"].as_str().unwrap_or("-").into());
                        m.insert("vmstate".into(), if as_bool(&x["vmstate"]) { "yes" } else { "no" }.into());
                        m
                    })
                    .collect(),
            ))
        }
        ProxmoxAction::CreateSnapshot => {
            let mut form = vec![
                ("snapname", snap.clone()),
                ("vmstate", if params.bool("snap_save_memory").unwrap_or(false) { "1" } else { "0" }.to_string()),
            ];
            if let Some(d) = params.str("snap_description").filter(|d| !d.is_empty()) {
                form.push(("description", d.to_string()));
            }
            s.client.run_task(Method::POST, &l.path("/snapshot"), &form).await?;
            Ok(CustomResult::Message(format!("Snapshot {snap} of VM {} created", l.vmid)))
        }
        ProxmoxAction::RestoreSnapshot => {
            let path = l.path(&format!("/snapshot/{}/rollback", seg(&snap)));
            s.client.run_task(Method::POST, &path, &[("start", "1".to_string())]).await?;
            Ok(CustomResult::Message(format!("VM {} restored to snapshot {snap} and running", l.vmid)))
        }
        ProxmoxAction::Suspend
        | ProxmoxAction::Resume
        | ProxmoxAction::GetIpAddresses
        | ProxmoxAction::Migrate
        | ProxmoxAction::AddDisk
        | ProxmoxAction::ListDisks
        | ProxmoxAction::ResizeDisk
        | ProxmoxAction::RemoveDisk => Err(csx_core::Error::internal("dispatched above")),
        ProxmoxAction::DeleteSnapshot => {
            s.client.run_task(Method::DELETE, &l.path(&format!("/snapshot/{}", seg(&snap))), &[]).await?;
            Ok(CustomResult::Message(format!("Snapshot {snap} of VM {} deleted", l.vmid)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_727_110_835), "2024-09-23 17:00:35 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
