//! The custom actions, declared once as [`ProxmoxAction`] (names and parameters of the
//! built-in extension unchanged, the operator actions as `csx_core::operator` words them).
//! A leaf module: the action modules and the dispatch in `actions` import it, it imports none
//! of them.

use csx_core::operator;
use csx_core::{CustomAction, CustomActionSpec, ParamType};

/// The built-in extension's custom actions, names and parameters unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
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
