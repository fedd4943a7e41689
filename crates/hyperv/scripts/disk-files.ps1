# csx hyperv helpers Get-Chain and Get-Orphans, included in the delete script after prelude.ps1.
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
