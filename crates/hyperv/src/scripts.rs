//! The PowerShell scripts, one per action. Each is a constant template: the only
//! generated text is a base64 JSON blob, whose alphabet cannot leave its quoted
//! string, so no payload value is ever spliced into PowerShell source.
//!
//! Protocol: the script prints one JSON line on stdout and exits with
//! 0 done, 2 failed (`error` holds the message), 3 VM not found,
//! 4 the VM of that name is not this instance's (`vm` its name, `owner` the other instance's mark,
//! empty for an unmarked VM not adopted), 5 checkpoint not found, 6 refused as asked.

use base64::Engine;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 2;
pub const EXIT_NO_VM: i32 = 3;
pub const EXIT_FOREIGN: i32 = 4;
pub const EXIT_NO_CHECKPOINT: i32 = 5;
/// The request is refused as asked (shrinking a disk, removing the root disk).
pub const EXIT_REFUSED: i32 = 6;

/// The first line of every script names its action (read by humans in process
/// audit logs, and by the mock host).
pub const MARKER: &str = "# csx-hyperv:";

const PRELUDE: &str = include_str!("../scripts/prelude.ps1");

const STOP_HARD: &str = include_str!("../scripts/stop-hard.ps1");

const DISK_FILES: &str = include_str!("../scripts/disk-files.ps1");

const DISK_ID: &str = include_str!("../scripts/disk-id.ps1");

const DISKS: &str = include_str!("../scripts/disks.ps1");

const TRY: &str = "try {\n";

const POSTLUDE: &str = r#"
} catch {
  Send-Result @{ error = $_.Exception.Message } 2
}
"#;

const STATUS: &str = include_str!("../scripts/status.ps1");

const STATUSES: &str = include_str!("../scripts/statuses.ps1");

const START: &str = include_str!("../scripts/start.ps1");

const STOP: &str = include_str!("../scripts/stop.ps1");

const REBOOT: &str = include_str!("../scripts/reboot.ps1");

const DELETE: &str = include_str!("../scripts/delete.ps1");

const CREATE: &str = include_str!("../scripts/create.ps1");

const SUSPEND: &str = include_str!("../scripts/suspend.ps1");

const RESUME: &str = include_str!("../scripts/resume.ps1");

const LIST_SNAPSHOTS: &str = include_str!("../scripts/list-snapshots.ps1");

const CREATE_SNAPSHOT: &str = include_str!("../scripts/create-snapshot.ps1");

const RESTORE_SNAPSHOT: &str = include_str!("../scripts/restore-snapshot.ps1");

const DELETE_SNAPSHOT: &str = include_str!("../scripts/delete-snapshot.ps1");

const DOCTOR: &str = include_str!("../scripts/doctor.ps1");

const GET_IP_ADDRESSES: &str = include_str!("../scripts/get-ip-addresses.ps1");

const LIST_DISKS: &str = include_str!("../scripts/list-disks.ps1");

const ADD_DISK: &str = include_str!("../scripts/add-disk.ps1");

const RESIZE_DISK: &str = include_str!("../scripts/resize-disk.ps1");

const REMOVE_DISK: &str = include_str!("../scripts/remove-disk.ps1");

/// The script actions (`Script::VARIANTS` lists them all, for tests that check every one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum Script {
    Status,
    Statuses,
    Create,
    Start,
    Stop,
    Reboot,
    Delete,
    Suspend,
    Resume,
    ListSnapshots,
    CreateSnapshot,
    RestoreSnapshot,
    DeleteSnapshot,
    Doctor,
    GetIpAddresses,
    ListDisks,
    AddDisk,
    ResizeDisk,
    RemoveDisk,
}

impl Script {
    pub fn name(self) -> &'static str {
        match self {
            Script::Status => "status",
            Script::Statuses => "statuses",
            Script::Create => "create",
            Script::Start => "start",
            Script::Stop => "stop",
            Script::Reboot => "reboot",
            Script::Delete => "delete",
            Script::Suspend => "suspend",
            Script::Resume => "resume",
            Script::ListSnapshots => "list-snapshots",
            Script::CreateSnapshot => "create-snapshot",
            Script::RestoreSnapshot => "restore-snapshot",
            Script::DeleteSnapshot => "delete-snapshot",
            Script::Doctor => "doctor",
            Script::GetIpAddresses => "get-ip-addresses",
            Script::ListDisks => "list-disks",
            Script::AddDisk => "add-disk",
            Script::ResizeDisk => "resize-disk",
            Script::RemoveDisk => "remove-disk",
        }
    }

    /// True when running the script twice has the effect of running it once: it
    /// only reads, or converges on a state ("already stopped", "does not exist").
    /// Only these are run again after the connection broke under them.
    pub fn repeatable(self) -> bool {
        matches!(
            self,
            Script::Status
                | Script::Statuses
                | Script::ListSnapshots
                | Script::Start
                | Script::Stop
                | Script::Delete
                | Script::Suspend
                | Script::Resume
                | Script::Doctor
                | Script::GetIpAddresses
                | Script::ListDisks
                | Script::ResizeDisk
                | Script::RemoveDisk
        )
    }

    fn body(self) -> &'static str {
        match self {
            Script::Status => STATUS,
            Script::Statuses => STATUSES,
            Script::Create => CREATE,
            Script::Start => START,
            Script::Stop => STOP,
            Script::Reboot => REBOOT,
            Script::Delete => DELETE,
            Script::Suspend => SUSPEND,
            Script::Resume => RESUME,
            Script::ListSnapshots => LIST_SNAPSHOTS,
            Script::CreateSnapshot => CREATE_SNAPSHOT,
            Script::RestoreSnapshot => RESTORE_SNAPSHOT,
            Script::DeleteSnapshot => DELETE_SNAPSHOT,
            Script::Doctor => DOCTOR,
            Script::GetIpAddresses => GET_IP_ADDRESSES,
            Script::ListDisks => LIST_DISKS,
            Script::AddDisk => ADD_DISK,
            Script::ResizeDisk => RESIZE_DISK,
            Script::RemoveDisk => REMOVE_DISK,
        }
    }

    /// The whole script with its parameters as one base64 JSON blob, indentation
    /// and comments stripped (every character costs 8/3 on the command line).
    pub fn render(self, params: &serde_json::Value) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(params.to_string());
        let mut out = format!("{MARKER}{}\n", self.name());
        let helpers: &[&str] = match self {
            Script::Stop => &[STOP_HARD],
            Script::Delete => &[STOP_HARD, DISK_FILES],
            Script::ListDisks | Script::AddDisk | Script::RemoveDisk => &[DISK_ID, DISKS],
            Script::ResizeDisk => &[DISK_ID],
            _ => &[],
        };
        let parts = [&[PRELUDE][..], helpers, &[TRY, self.body(), POSTLUDE]].concat();
        for line in parts.concat().lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                out.push_str(&line.replace("@PARAMS@", &b64));
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn payload_values_never_reach_the_source() {
        let evil = "x'; Remove-Item C:\\ -Recurse; $(Stop-Computer) `\"\n‘’";
        for &s in Script::VARIANTS {
            let text = s.render(&serde_json::json!({"name": evil, "snapshot": evil, "switch": evil}));
            assert!(!text.contains("Remove-Item C:"), "{}", s.name());
            assert!(!text.contains("Stop-Computer"));
            // Every cmdlet is module-qualified, so PowerCLI or SCVMM cannot shadow it.
            for bare in ["\n  Get-VM", " Start-VM", " Stop-VM -VM", "(Get-VM"] {
                assert!(!text.contains(bare), "{} has a bare cmdlet {bare:?}", s.name());
            }
            // All but create fit cmd.exe's command line; create goes over stdin.
            let fits = csx_winrm::encoded_command(&text).len() < csx_winrm::MAX_COMMAND_LINE;
            // Create and delete (disk chains, checkpoint merges) go over stdin, and so may the disk
            // scripts (rare operator actions, with the disk helpers); the frequent and quick ones
            // (status, statuses, start, stop...) fit one command line.
            let disks = matches!(s, Script::AddDisk | Script::ListDisks | Script::ResizeDisk | Script::RemoveDisk);
            if !disks {
                let long = matches!(s, Script::Create | Script::Delete);
                assert_eq!(fits, !long, "{}: {} characters", s.name(), text.len());
            }
        }
    }
}
