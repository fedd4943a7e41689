# csx hyperv, doctor: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# What `hyperv doctor` needs to know of the host: the Hyper-V module, whether this account may
# manage VMs, the virtual switches, and whether the configured folders and template exist.
# A look-up that fails reports its error (switches_error, or the message in place of true/false):
# an access denied or a broken WMI is never reported as a missing switch, folder or file.
$r = @{ module = $false; host = ''; rights = ''; switches = @(); switches_error = ''; vhd_path = $false; vm_path = $false; template = $false }
# True or false: the item exists as a folder (or file); a string: why it could not be looked at.
function Test-Object($path, [bool]$folder) {
  try { $i = Get-Item -LiteralPath $path -Force -ErrorAction Stop; return ([bool]$i.PSIsContainer -eq $folder) }
  catch [System.Management.Automation.ItemNotFoundException] { return $false }
  catch { return [string]$_.Exception.Message }
}
$r.module = [bool](Get-Module -ListAvailable -Name Hyper-V)
if ($r.module) {
  try { $r.host = [string](Hyper-V\Get-VMHost).ComputerName } catch { $r.rights = $_.Exception.Message }
  try { $r.switches = @(Hyper-V\Get-VMSwitch | ForEach-Object { [string]$_.Name }) } catch { $r.switches_error = $_.Exception.Message }
} else { $r.switches_error = 'the Hyper-V PowerShell module is not installed' }
if ($p.vhd_path) { $r.vhd_path = Test-Object $p.vhd_path $true }
if ($p.vm_path) { $r.vm_path = Test-Object $p.vm_path $true }
if ($p.template) { $r.template = Test-Object $p.template $false }
Send-Result $r 0
