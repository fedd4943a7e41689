//! The custom actions, declared once as [`HypervAction`]: the built-in extension's (with its
//! `snapshot_name` parameter) and the operator actions every csx backend offers.

use csx_core::operator;
use csx_core::{CustomAction, CustomActionSpec, ParamType};

/// The built-in extension's custom actions, with its `snapshot_name` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum HypervAction {
    Suspend,
    Resume,
    ListSnapshots,
    CreateSnapshot,
    RestoreSnapshot,
    DeleteSnapshot,
    GetIpAddresses,
    Migrate,
    AddDisk,
    ListDisks,
    ResizeDisk,
    RemoveDisk,
}

impl CustomAction for HypervAction {
    fn spec(self) -> CustomActionSpec {
        let snap = |name: &'static str, what: &'static str| {
            CustomActionSpec::new(name, what).param("snapshot_name", ParamType::String, true, "checkpoint name")
        };
        match self {
            Self::Suspend => operator::suspend("pause the VM (memory stays in the host's RAM)"),
            Self::Resume => operator::resume("resume a paused VM"),
            Self::ListSnapshots => CustomActionSpec::new("ListSnapshots", "list the VM's checkpoints as a table"),
            Self::CreateSnapshot => snap("CreateSnapshot", "take a checkpoint"),
            Self::RestoreSnapshot => snap("RestoreSnapshot", "apply a checkpoint and start the VM"),
            Self::DeleteSnapshot => snap("DeleteSnapshot", "delete a checkpoint"),
            Self::GetIpAddresses => {
                operator::get_ip_addresses("the guest's addresses per NIC (integration services) as a table")
            }
            Self::Migrate => operator::migrate("not available for Hyper-V (see the README)", "the host to move to"),
            Self::AddDisk => operator::add_disk(
                "add an empty dynamic VHDX (hot-added on generation 2)",
                "folder on the host (default: vhd_path)",
            ),
            Self::ListDisks => operator::list_disks("the VM's hard disks as a table"),
            Self::ResizeDisk => operator::resize_disk("disk id as ListDisks shows it, e.g. SCSI0:1"),
            Self::RemoveDisk => operator::remove_disk(
                "detach a disk and delete its VHDX (never the root disk)",
                "disk id as ListDisks shows it, e.g. SCSI0:1",
            ),
        }
    }
}

/// The declarations of [`HypervAction`], for the binary's `--help` and dispatch.
pub fn custom_actions() -> Vec<CustomActionSpec> {
    HypervAction::specs()
}
