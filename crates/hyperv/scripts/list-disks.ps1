# csx hyperv, list-disks: runs after prelude.ps1 and disks.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# One row per hard disk drive: id (controller type, number and location), size, file, and whether
# it is the disk the VM boots from (Get-RootDiskId).
$vm = Require-Vm
$drives = @(Hyper-V\Get-VMHardDiskDrive -VM $vm)
$root = Get-RootDiskId $vm $drives
$rows = @(foreach ($d in $drives) {
  $size = 0
  if ($d.Path) { $size = [int64][math]::Ceiling((Hyper-V\Get-VHD -Path $d.Path).Size / 1gb) }
  $id = Get-DiskId $d
  [ordered]@{ disk = $id; size_gb = $size; path = [string]$d.Path; root = ($id -eq $root) }
})
Send-Result @{ disks = $rows } 0
