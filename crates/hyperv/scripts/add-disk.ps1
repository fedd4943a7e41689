# csx hyperv, add-disk: runs after prelude.ps1 and disks.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# A new dynamic VHDX named after the VM in `storage` (default vhd_path), attached to the VM's
# controller. A disk of the same size this script added less than two minutes ago is a retry.
$vm = Require-Vm
$folder = [string]$p.storage
$bytes = [int64]$p.size_gb * 1gb
$prefix = [string]$p.name + '-data'
foreach ($d in @(Hyper-V\Get-VMHardDiskDrive -VM $vm)) {
  $leaf = Split-Path -Leaf ([string]$d.Path)
  if ($leaf.StartsWith($prefix) -and (Test-Path -LiteralPath $d.Path)) {
    $age = ((Get-Date) - (Get-Item -LiteralPath $d.Path).CreationTime).TotalSeconds
    if ($age -lt 120 -and (Hyper-V\Get-VHD -Path $d.Path).Size -eq $bytes) {
      Send-Result @{ disk = (Get-DiskId $d); path = [string]$d.Path; added = $false } 0
    }
  }
}
$n = 1
while (Test-Path -LiteralPath (Join-Path $folder ($prefix + $n + '.vhdx'))) { $n++ }
$path = Join-Path $folder ($prefix + $n + '.vhdx')
$null = Hyper-V\New-VHD -Path $path -SizeBytes $bytes -Dynamic -Confirm:$false
try {
  $d = Hyper-V\Add-VMHardDiskDrive -VM $vm -Path $path -Passthru -Confirm:$false
} catch {
  $why = $_.Exception.Message
  Remove-Item -LiteralPath $path -Force -Confirm:$false -ErrorAction SilentlyContinue
  Send-Result @{ error = ('the disk could not be attached (a generation-1 VM hot-adds no IDE disk: stop it first): ' + $why) } 6
}
Send-Result @{ disk = (Get-DiskId $d); path = $path; added = $true } 0
