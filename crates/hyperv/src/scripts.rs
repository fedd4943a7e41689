//! The PowerShell scripts, one per action. Each is a constant template: the only
//! generated text is a base64 JSON blob, whose alphabet cannot leave its quoted
//! string, so no payload value is ever spliced into PowerShell source.
//!
//! Protocol: the script prints one JSON line on stdout and exits with
//! 0 done, 2 failed (`error` holds the message), 3 VM not found,
//! 4 a VM of that name belongs to another instance, 5 checkpoint not found.

use base64::Engine;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 2;
pub const EXIT_NO_VM: i32 = 3;
pub const EXIT_FOREIGN: i32 = 4;
pub const EXIT_NO_CHECKPOINT: i32 = 5;

/// The first line of every script names its action (read by humans in process
/// audit logs, and by the mock host).
pub const MARKER: &str = "# csx-hyperv:";

const PRELUDE: &str = r#"$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$p = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('@PARAMS@')) | ConvertFrom-Json
function Send-Result($o, [int]$code) {
  [Console]::Out.WriteLine((ConvertTo-Json -InputObject $o -Compress -Depth 6))
  exit $code
}
function Get-Owner($vm) {
  if (([string]$vm.Notes) -match 'cloudstack-instance-uuid=(\S+)') { return $Matches[1] }
  return ''
}
# The ownership rule of csx_core::identity: the VM marked with this instance's uuid, else
# the one VM without a mark (made by the built-in extension); another instance's VM never.
function Find-Vm {
  # Get-VM -Name takes wildcards: escape them, then keep exact matches only.
  $pattern = [Management.Automation.WildcardPattern]::Escape([string]$p.name)
  $all = @(Hyper-V\Get-VM -Name $pattern -ErrorAction SilentlyContinue | Where-Object { $_.Name -eq [string]$p.name })
  $mine = @($all | Where-Object { $p.uuid -and (Get-Owner $_) -eq [string]$p.uuid })
  if ($mine.Count -gt 1) { Send-Result @{ error = ('several VMs named ' + $p.name + ' carry this instance''s mark') } 2 }
  if ($mine.Count -eq 1) { return $mine[0] }
  $unmarked = @($all | Where-Object { (Get-Owner $_) -eq '' })
  if ($unmarked.Count -gt 1) { Send-Result @{ error = ('several unmarked VMs are named ' + $p.name) } 2 }
  if ($unmarked.Count -eq 1) { return $unmarked[0] }
  $script:Foreign = ($all.Count -gt 0)
  return $null
}
function Require-Vm {
  $vm = Find-Vm
  if ($null -eq $vm -and $script:Foreign) { Send-Result @{ error = ('the VM named ' + $p.name + ' belongs to another CloudStack instance; refusing to touch it') } 4 }
  if ($null -eq $vm) { Send-Result @{ error = ('no VM named ' + $p.name) } 3 }
  return $vm
}
"#;

const STOP_HARD: &str = r#"
# Off, whatever the state: a saved state is discarded, a graceful shutdown is given at most
# graceful_seconds (never Stop-VM's own five minutes), then the VM is turned off.
function Stop-Hard($vm) {
  $state = [string]$vm.State
  if ($state -eq 'Off') { return 'off' }
  if ($state -eq 'Saved') { Hyper-V\Remove-VMSavedState -VM $vm -Confirm:$false; return 'discarded' }
  if ($p.graceful -and $state -eq 'Running' -and [int]$p.graceful_seconds -gt 0) {
    $job = Hyper-V\Stop-VM -VM $vm -Force -AsJob -Confirm:$false
    $null = Microsoft.PowerShell.Core\Wait-Job -Job $job -Timeout ([int]$p.graceful_seconds)
    Microsoft.PowerShell.Core\Remove-Job -Job $job -Force
    $vm = Hyper-V\Get-VM -Id $vm.Id
    if ([string]$vm.State -eq 'Off') { return 'shutdown' }
  }
  Hyper-V\Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
  return 'turnoff'
}
"#;

const DISK_FILES: &str = r#"
# Every disk file of a VM: each drive's file and its parents (checkpoints are .avhdx children).
function Get-Chain($vm) {
  $files = @()
  foreach ($d in @(Hyper-V\Get-VMHardDiskDrive -VM $vm)) {
    $path = [string]$d.Path
    while ($path -and $files -notcontains $path) {
      $files += $path
      $vhd = Hyper-V\Get-VHD -Path $path -ErrorAction SilentlyContinue
      $path = if ($null -ne $vhd) { [string]$vhd.ParentPath } else { '' }
    }
  }
  return $files
}
# Disk files of this instance's name in vhd_path that no VM uses (a delete cut short).
function Get-Orphans {
  if (-not $p.vhd_path -or -not (Test-Path -LiteralPath $p.vhd_path)) { return @() }
  $used = @(Hyper-V\Get-VM | Hyper-V\Get-VMHardDiskDrive | ForEach-Object { [string]$_.Path })
  return @(Get-ChildItem -LiteralPath $p.vhd_path -File | Where-Object {
    ($_.Name -eq ($p.name + '.vhdx') -or ($_.Name.StartsWith($p.name + '_') -and $_.Extension -eq '.avhdx')) -and ($used -notcontains $_.FullName)
  } | ForEach-Object { $_.FullName })
}
"#;

const TRY: &str = "try {\n";

const POSTLUDE: &str = r#"
} catch {
  Send-Result @{ error = $_.Exception.Message } 2
}
"#;

const STATUS: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm) { Send-Result @{ found = $false; foreign = [bool]$script:Foreign } 0 }
  Send-Result @{ found = $true; state = [string]$vm.State; id = [string]$vm.Id } 0
"#;

const STATUSES: &str = r#"
  $rows = @(foreach ($vm in @(Hyper-V\Get-VM)) {
    $rec = ''
    if (([string]$vm.Notes) -match 'cloudstack-instance-name=(\S+)') { $rec = $Matches[1] }
    @{ n = [string]$vm.Name; s = [string]$vm.State; r = $rec }
  })
  Send-Result @{ vms = $rows } 0
"#;

const START: &str = r#"
  $vm = Require-Vm
  $before = [string]$vm.State
  if ($before -eq 'Running') { Send-Result @{ changed = $false; state = $before } 0 }
  if ($before -eq 'Paused') { Hyper-V\Resume-VM -VM $vm -Confirm:$false } else { Hyper-V\Start-VM -VM $vm -Confirm:$false }
  Send-Result @{ changed = $true; state = 'Running' } 0
"#;

const STOP: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm) { Send-Result @{ changed = $false; state = 'Missing'; foreign = [bool]$script:Foreign } 0 }
  if ([string]$vm.State -eq 'Off') { Send-Result @{ changed = $false; state = 'Off' } 0 }
  $how = Stop-Hard $vm
  Send-Result @{ changed = $true; state = 'Off'; how = $how } 0
"#;

const REBOOT: &str = r#"
  $vm = Require-Vm
  $before = [string]$vm.State
  if ($before -eq 'Running') { Hyper-V\Restart-VM -VM $vm -Force -Confirm:$false; Send-Result @{ started = $false } 0 }
  if ($before -eq 'Paused') { Hyper-V\Resume-VM -VM $vm -Confirm:$false; Hyper-V\Restart-VM -VM $vm -Force -Confirm:$false; Send-Result @{ started = $false } 0 }
  Hyper-V\Start-VM -VM $vm -Confirm:$false
  Send-Result @{ started = $true } 0
"#;

const DELETE: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm) {
    # Nothing of this instance, or a delete cut short after Remove-VM: finish its disk files.
    $left = @(Get-Orphans)
    foreach ($f in $left) { Remove-Item -LiteralPath $f -Force -Confirm:$false }
    Send-Result @{ deleted = $false; disks = $left; foreign = [bool]$script:Foreign } 0
  }
  $null = Stop-Hard $vm
  $chain = @(Get-Chain $vm)
  Hyper-V\Remove-VM -VM $vm -Force -Confirm:$false
  # Remove-VM merges checkpoints into their parents after the VM is gone: wait for the .avhdx files to go.
  $until = (Get-Date).AddSeconds([int]$p.wait_seconds)
  while (@($chain | Where-Object { $_.EndsWith('.avhdx') -and (Test-Path -LiteralPath $_) }).Count -gt 0) {
    if ((Get-Date) -gt $until) { Send-Result @{ error = ('the VM was removed but Hyper-V is still merging its checkpoints; run delete again to remove its disk files') } 2 }
    Start-Sleep -Milliseconds 200
  }
  # Only this VM's own files: a parent shared with other VMs (a template) is never removed.
  $removed = @()
  foreach ($d in $chain) {
    if ((Split-Path -Leaf $d).StartsWith([string]$p.name) -and (Test-Path -LiteralPath $d)) { Remove-Item -LiteralPath $d -Force -Confirm:$false; $removed += $d }
  }
  Send-Result @{ deleted = $true; disks = $removed } 0
"#;

const CREATE: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm -and $script:Foreign) { Send-Result @{ error = ('a VM named ' + $p.name + ' belongs to another CloudStack instance; refusing to touch it') } 4 }
  if ($null -ne $vm) {
    # A retried create: finish our own VM.
    if ([string]$vm.State -eq 'Paused') { Hyper-V\Resume-VM -VM $vm -Confirm:$false }
    elseif ([string]$vm.State -ne 'Running') { Hyper-V\Start-VM -VM $vm -Confirm:$false }
    Send-Result @{ created = $false; id = [string]$vm.Id } 0
  }
  $made = @()
  $disk = Join-Path $p.vhd_path ($p.name + '.vhdx')
  try {
    if (Test-Path -LiteralPath $disk) { throw ('disk ' + $disk + ' already exists; refusing to overwrite it') }
    # A multiple of 2 MiB: Hyper-V refuses other sizes as not properly aligned.
    $memory = [int64]$p.memory_mb * 1mb
    if ($p.template_type -eq 'iso') {
      $vm = Hyper-V\New-VM -Name $p.name -Generation $p.generation -MemoryStartupBytes $memory -Path $p.vm_path -NewVHDPath $disk -NewVHDSizeBytes ([int64]$p.vhd_size_gb * 1gb) -Confirm:$false
      $made += 'disk'; $made += 'vm'
      if ([int]$p.generation -eq 2) {
        $dvd = Hyper-V\Add-VMDvdDrive -VM $vm -Path $p.iso_path -Passthru -Confirm:$false
        Hyper-V\Set-VMFirmware -VM $vm -FirstBootDevice $dvd -Confirm:$false
      } else {
        # New-VM gives a generation-1 VM one DVD drive, first in its BIOS boot order: load it.
        $dvd = @(Hyper-V\Get-VMDvdDrive -VM $vm)
        if ($dvd.Count -gt 0) { Hyper-V\Set-VMDvdDrive -VMDvdDrive $dvd[0] -Path $p.iso_path -Confirm:$false }
        else { Hyper-V\Add-VMDvdDrive -VM $vm -Path $p.iso_path -Confirm:$false }
      }
    } else {
      Copy-Item -LiteralPath $p.template_path -Destination $disk -Confirm:$false
      $made += 'disk'
      $vm = Hyper-V\New-VM -Name $p.name -Generation $p.generation -MemoryStartupBytes $memory -Path $p.vm_path -VHDPath $disk -Confirm:$false
      $made += 'vm'
    }
    Hyper-V\Set-VM -VM $vm -ProcessorCount $p.cpus -Notes $p.notes -Confirm:$false
    Hyper-V\Get-VMNetworkAdapter -VM $vm | Hyper-V\Remove-VMNetworkAdapter -Confirm:$false
    $i = 0
    foreach ($n in @($p.nics)) {
      $a = Hyper-V\Add-VMNetworkAdapter -VM $vm -SwitchName $p.switch -Name ('NIC' + $i) -StaticMacAddress $n.mac -Passthru -Confirm:$false
      if ($n.vlan) { Hyper-V\Set-VMNetworkAdapterVlan -VMNetworkAdapter $a -Access -VlanId $n.vlan -Confirm:$false }
      else { Hyper-V\Set-VMNetworkAdapterVlan -VMNetworkAdapter $a -Untagged -Confirm:$false }
      $i++
    }
    if ([int]$p.generation -eq 2) {
      if ($p.secure_boot) { Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot On -SecureBootTemplate $p.secure_boot_template -Confirm:$false }
      else { Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot Off -Confirm:$false }
    }
    Hyper-V\Start-VM -VM $vm -Confirm:$false
    Send-Result @{ created = $true; id = [string]$vm.Id } 0
  } catch {
    $err = $_.Exception.Message
    if ($made -contains 'vm') {
      try { Hyper-V\Stop-VM -VM $vm -TurnOff -Force -Confirm:$false -ErrorAction SilentlyContinue } catch { }
      try { Hyper-V\Remove-VM -VM $vm -Force -Confirm:$false } catch { }
    }
    if ($made -contains 'disk') { Remove-Item -LiteralPath $disk -Force -Confirm:$false -ErrorAction SilentlyContinue }
    Send-Result @{ error = $err; rolled_back = $made } 2
  }
"#;

const SUSPEND: &str = r#"
  $vm = Require-Vm
  if ([string]$vm.State -eq 'Paused') { Send-Result @{ changed = $false } 0 }
  Hyper-V\Suspend-VM -VM $vm -Confirm:$false
  Send-Result @{ changed = $true } 0
"#;

const RESUME: &str = r#"
  $vm = Require-Vm
  if ([string]$vm.State -eq 'Running') { Send-Result @{ changed = $false } 0 }
  Hyper-V\Resume-VM -VM $vm -Confirm:$false
  Send-Result @{ changed = $true } 0
"#;

const LIST_SNAPSHOTS: &str = r#"
  $vm = Require-Vm
  $rows = @(Hyper-V\Get-VMSnapshot -VM $vm | Sort-Object CreationTime | ForEach-Object {
    [ordered]@{ name = [string]$_.Name; created = $_.CreationTime.ToUniversalTime().ToString('yyyy-MM-dd HH:mm:ss') + ' UTC'; type = [string]$_.SnapshotType }
  })
  Send-Result @{ snapshots = $rows } 0
"#;

const CREATE_SNAPSHOT: &str = r#"
  $vm = Require-Vm
  if (@(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot }).Count -gt 0) {
    Send-Result @{ error = ('a checkpoint named ' + $p.snapshot + ' already exists') } 2
  }
  Hyper-V\Checkpoint-VM -VM $vm -SnapshotName $p.snapshot -Confirm:$false
  Send-Result @{ created = $true } 0
"#;

const RESTORE_SNAPSHOT: &str = r#"
  $vm = Require-Vm
  $s = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot })
  if ($s.Count -eq 0) { Send-Result @{ error = ('no checkpoint named ' + $p.snapshot) } 5 }
  Hyper-V\Restore-VMSnapshot -VMSnapshot $s[-1] -Confirm:$false
  $vm = Hyper-V\Get-VM -Id $vm.Id
  if ([string]$vm.State -ne 'Running') { Hyper-V\Start-VM -VM $vm -Confirm:$false }
  Send-Result @{ restored = $true } 0
"#;

const DELETE_SNAPSHOT: &str = r#"
  $vm = Require-Vm
  $s = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot })
  if ($s.Count -eq 0) { Send-Result @{ error = ('no checkpoint named ' + $p.snapshot) } 5 }
  foreach ($x in $s) { Hyper-V\Remove-VMSnapshot -VMSnapshot $x -Confirm:$false }
  Send-Result @{ deleted = $s.Count } 0
"#;

/// The script actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    const ALL: [Script; 13] = [
        Script::Status,
        Script::Statuses,
        Script::Create,
        Script::Start,
        Script::Stop,
        Script::Reboot,
        Script::Delete,
        Script::Suspend,
        Script::Resume,
        Script::ListSnapshots,
        Script::CreateSnapshot,
        Script::RestoreSnapshot,
        Script::DeleteSnapshot,
    ];

    #[test]
    fn payload_values_never_reach_the_source() {
        let evil = "x'; Remove-Item C:\\ -Recurse; $(Stop-Computer) `\"\n‘’";
        for s in ALL {
            let text = s.render(&serde_json::json!({"name": evil, "snapshot": evil, "switch": evil}));
            assert!(!text.contains("Remove-Item C:"), "{}", s.name());
            assert!(!text.contains("Stop-Computer"));
            // Every cmdlet is module-qualified, so PowerCLI or SCVMM cannot shadow it.
            for bare in ["\n  Get-VM", " Start-VM", " Stop-VM -VM", "(Get-VM"] {
                assert!(!text.contains(bare), "{} has a bare cmdlet {bare:?}", s.name());
            }
            // All but create fit cmd.exe's command line; create goes over stdin.
            let fits = csx_winrm::encoded_command(&text).len() < csx_winrm::MAX_COMMAND_LINE;
            // Create and delete (disk chains, checkpoint merges) go over stdin; the frequent
            // and quick ones (status, statuses, start, stop...) fit one command line.
            let long = matches!(s, Script::Create | Script::Delete);
            assert_eq!(fits, !long, "{}: {} characters", s.name(), text.len());
        }
    }
}
