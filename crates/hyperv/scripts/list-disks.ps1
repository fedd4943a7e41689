# csx hyperv, list-disks: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# One row per hard disk drive: id (controller type, number and location), size, file, root.
$vm = Require-Vm
$rows = @(foreach ($d in @(Hyper-V\Get-VMHardDiskDrive -VM $vm)) {
  $size = 0
  if ($d.Path) { $size = [int64][math]::Ceiling((Hyper-V\Get-VHD -Path $d.Path).Size / 1gb) }
  $root = ([int]$d.ControllerNumber -eq 0 -and [int]$d.ControllerLocation -eq 0)
  [ordered]@{ disk = ([string]$d.ControllerType + [string]$d.ControllerNumber + ':' + [string]$d.ControllerLocation); size_gb = $size; path = [string]$d.Path; root = $root }
})
Send-Result @{ disks = $rows } 0
