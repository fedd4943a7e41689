# csx hyperv, doctor: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# What `hyperv doctor` needs to know of the host: the Hyper-V module, whether this account may
# manage VMs, the virtual switches, and whether the configured folders and template exist.
$r = @{ module = $false; host = ''; rights = ''; switches = @(); vhd_path = $false; vm_path = $false; template = $false }
$r.module = [bool](Get-Module -ListAvailable -Name Hyper-V)
if ($r.module) {
  try { $r.host = [string](Hyper-V\Get-VMHost).ComputerName } catch { $r.rights = $_.Exception.Message }
  try { $r.switches = @(Hyper-V\Get-VMSwitch | ForEach-Object { [string]$_.Name }) } catch { }
}
if ($p.vhd_path) { $r.vhd_path = Test-Path -LiteralPath $p.vhd_path -PathType Container }
if ($p.vm_path) { $r.vm_path = Test-Path -LiteralPath $p.vm_path -PathType Container }
if ($p.template) { $r.template = Test-Path -LiteralPath $p.template -PathType Leaf }
Send-Result $r 0
