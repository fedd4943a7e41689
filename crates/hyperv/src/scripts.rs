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
function Find-Vm {
  $all = @(Hyper-V\Get-VM -Name $p.name -ErrorAction SilentlyContinue)
  $mine = @($all | Where-Object { ([string]$_.Notes).Contains([string]$p.mark) })
  if ($mine.Count -gt 1) { Send-Result @{ error = ('several VMs named ' + $p.name + ' carry this instance''s mark') } 2 }
  if ($mine.Count -eq 1) { return $mine[0] }
  # A VM without any csx mark was made by CloudStack's built-in extension: it is ours too.
  $unmarked = @($all | Where-Object { -not ([string]$_.Notes).Contains('cloudstack-instance-uuid=') })
  if ($unmarked.Count -eq 1) { return $unmarked[0] }
  if ($all.Count -gt 0) { Send-Result @{ error = ('a VM named ' + $p.name + ' exists but belongs to another CloudStack instance') } 4 }
  return $null
}
function Require-Vm {
  $vm = Find-Vm
  if ($null -eq $vm) { Send-Result @{ error = ('no VM named ' + $p.name) } 3 }
  return $vm
}
function Stop-Hard($vm) {
  if ([string]$vm.State -eq 'Off') { return }
  if ($p.graceful) {
    try { Hyper-V\Stop-VM -VM $vm -Force } catch { }
    $vm = Hyper-V\Get-VM -Id $vm.Id
    if ([string]$vm.State -eq 'Off') { return }
  }
  Hyper-V\Stop-VM -VM $vm -TurnOff -Force
}
try {
"#;

const POSTLUDE: &str = r#"
} catch {
  Send-Result @{ error = $_.Exception.Message } 2
}
"#;

const STATUS: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm) { Send-Result @{ found = $false } 0 }
  Send-Result @{ found = $true; state = [string]$vm.State; id = [string]$vm.Id } 0
"#;

const STATUSES: &str = r#"
  $states = @{}
  foreach ($vm in @(Hyper-V\Get-VM)) { $states[$vm.Name] = [string]$vm.State }
  Send-Result @{ vms = $states } 0
"#;

const START: &str = r#"
  $vm = Require-Vm
  $before = [string]$vm.State
  if ($before -eq 'Running') { Send-Result @{ changed = $false; state = $before } 0 }
  if ($before -eq 'Paused') { Hyper-V\Resume-VM -VM $vm } else { Hyper-V\Start-VM -VM $vm }
  Send-Result @{ changed = $true; state = 'Running' } 0
"#;

const STOP: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm) { Send-Result @{ changed = $false; state = 'Missing' } 0 }
  if ([string]$vm.State -eq 'Off') { Send-Result @{ changed = $false; state = 'Off' } 0 }
  Stop-Hard $vm
  Send-Result @{ changed = $true; state = 'Off' } 0
"#;

const REBOOT: &str = r#"
  $vm = Require-Vm
  $before = [string]$vm.State
  if ($before -eq 'Running') { Hyper-V\Restart-VM -VM $vm -Force; Send-Result @{ started = $false } 0 }
  if ($before -eq 'Paused') { Hyper-V\Resume-VM -VM $vm; Hyper-V\Restart-VM -VM $vm -Force; Send-Result @{ started = $false } 0 }
  Hyper-V\Start-VM -VM $vm
  Send-Result @{ started = $true } 0
"#;

const DELETE: &str = r#"
  $vm = Find-Vm
  if ($null -eq $vm) { Send-Result @{ deleted = $false } 0 }
  Stop-Hard $vm
  foreach ($s in @(Hyper-V\Get-VMSnapshot -VM $vm)) { Hyper-V\Remove-VMSnapshot -VMSnapshot $s -Confirm:$false }
  $disks = @(Hyper-V\Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path } | ForEach-Object { [string]$_.Path })
  Hyper-V\Remove-VM -VM $vm -Force
  foreach ($d in $disks) { if (Test-Path -LiteralPath $d) { Remove-Item -LiteralPath $d -Force } }
  Send-Result @{ deleted = $true; disks = $disks } 0
"#;

const CREATE: &str = r#"
  $vm = Find-Vm
  if ($null -ne $vm) {
    # A retried create: finish our own VM.
    if ([string]$vm.State -eq 'Paused') { Hyper-V\Resume-VM -VM $vm }
    elseif ([string]$vm.State -ne 'Running') { Hyper-V\Start-VM -VM $vm }
    Send-Result @{ created = $false; id = [string]$vm.Id } 0
  }
  $made = @()
  $disk = Join-Path $p.vhd_path ($p.name + '.vhdx')
  try {
    if (Test-Path -LiteralPath $disk) { throw ('disk ' + $disk + ' already exists; refusing to overwrite it') }
    $memory = [int64]$p.memory_mb * 1MB
    if ($p.template_type -eq 'iso') {
      $vm = Hyper-V\New-VM -Name $p.name -Generation $p.generation -MemoryStartupBytes $memory -Path $p.vm_path -NewVHDPath $disk -NewVHDSizeBytes ([int64]$p.vhd_size_gb * 1GB)
      $made += 'disk'; $made += 'vm'
      $dvd = Hyper-V\Add-VMDvdDrive -VM $vm -Path $p.iso_path -Passthru
      if ([int]$p.generation -eq 2) { Hyper-V\Set-VMFirmware -VM $vm -FirstBootDevice $dvd }
    } else {
      Copy-Item -LiteralPath $p.template_path -Destination $disk
      $made += 'disk'
      $vm = Hyper-V\New-VM -Name $p.name -Generation $p.generation -MemoryStartupBytes $memory -Path $p.vm_path -VHDPath $disk
      $made += 'vm'
    }
    Hyper-V\Set-VM -VM $vm -ProcessorCount $p.cpus -Notes $p.notes
    Hyper-V\Get-VMNetworkAdapter -VM $vm | Hyper-V\Remove-VMNetworkAdapter
    $i = 0
    foreach ($n in @($p.nics)) {
      $a = Hyper-V\Add-VMNetworkAdapter -VM $vm -SwitchName $p.switch -Name ('NIC' + $i) -StaticMacAddress $n.mac -Passthru
      if ($n.vlan) { Hyper-V\Set-VMNetworkAdapterVlan -VMNetworkAdapter $a -Access -VlanId $n.vlan }
      else { Hyper-V\Set-VMNetworkAdapterVlan -VMNetworkAdapter $a -Untagged }
      $i++
    }
    if ([int]$p.generation -eq 2) {
      if ($p.secure_boot) { Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot On -SecureBootTemplate $p.secure_boot_template }
      else { Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot Off }
    }
    Hyper-V\Start-VM -VM $vm
    Send-Result @{ created = $true; id = [string]$vm.Id } 0
  } catch {
    $err = $_.Exception.Message
    if ($made -contains 'vm') {
      try { Hyper-V\Stop-VM -VM $vm -TurnOff -Force -ErrorAction SilentlyContinue } catch { }
      try { Hyper-V\Remove-VM -VM $vm -Force } catch { }
    }
    if ($made -contains 'disk') { Remove-Item -LiteralPath $disk -Force -ErrorAction SilentlyContinue }
    Send-Result @{ error = $err; rolled_back = $made } 2
  }
"#;

const SUSPEND: &str = r#"
  $vm = Require-Vm
  if ([string]$vm.State -eq 'Paused') { Send-Result @{ changed = $false } 0 }
  Hyper-V\Suspend-VM -VM $vm
  Send-Result @{ changed = $true } 0
"#;

const RESUME: &str = r#"
  $vm = Require-Vm
  if ([string]$vm.State -eq 'Running') { Send-Result @{ changed = $false } 0 }
  Hyper-V\Resume-VM -VM $vm
  Send-Result @{ changed = $true } 0
"#;

const LIST_SNAPSHOTS: &str = r#"
  $vm = Require-Vm
  $rows = @(Hyper-V\Get-VMSnapshot -VM $vm | Sort-Object CreationTime | ForEach-Object {
    @{ name = [string]$_.Name; created = $_.CreationTime.ToUniversalTime().ToString('yyyy-MM-dd HH:mm:ss') + ' UTC'; type = [string]$_.SnapshotType }
  })
  Send-Result @{ snapshots = $rows } 0
"#;

const CREATE_SNAPSHOT: &str = r#"
  $vm = Require-Vm
  if (@(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot }).Count -gt 0) {
    Send-Result @{ error = ('a checkpoint named ' + $p.snapshot + ' already exists') } 2
  }
  Hyper-V\Checkpoint-VM -VM $vm -SnapshotName $p.snapshot
  Send-Result @{ created = $true } 0
"#;

const RESTORE_SNAPSHOT: &str = r#"
  $vm = Require-Vm
  $s = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot })
  if ($s.Count -eq 0) { Send-Result @{ error = ('no checkpoint named ' + $p.snapshot) } 5 }
  Hyper-V\Restore-VMSnapshot -VMSnapshot $s[-1] -Confirm:$false
  $vm = Hyper-V\Get-VM -Id $vm.Id
  if ([string]$vm.State -ne 'Running') { Hyper-V\Start-VM -VM $vm }
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
        for line in [PRELUDE, self.body(), POSTLUDE].concat().lines().map(str::trim) {
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
            assert_eq!(fits, s != Script::Create, "{}: {} characters", s.name(), text.len());
        }
    }
}
