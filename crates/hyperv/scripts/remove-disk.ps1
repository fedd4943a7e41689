# csx hyperv, remove-disk: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# Detaches one drive and deletes its VHDX; never the root disk (controller 0, location 0).
$vm = Require-Vm
$d = @(Hyper-V\Get-VMHardDiskDrive -VM $vm | Where-Object { ([string]$_.ControllerType + [string]$_.ControllerNumber + ':' + [string]$_.ControllerLocation) -eq [string]$p.disk })
if ($d.Count -eq 0) { Send-Result @{ error = ('VM ' + $p.name + ' has no disk ' + $p.disk + ' (ListDisks shows its disks; a RemoveDisk that already succeeded finds nothing)') } 3 }
if ([int]$d[0].ControllerNumber -eq 0 -and [int]$d[0].ControllerLocation -eq 0) { Send-Result @{ error = ('disk ' + $p.disk + ' is the root disk; it is not removed') } 6 }
$path = [string]$d[0].Path
Hyper-V\Remove-VMHardDiskDrive -VMHardDiskDrive $d[0] -Confirm:$false
if ($path -and (Test-Path -LiteralPath $path)) { Remove-Item -LiteralPath $path -Force -Confirm:$false }
Send-Result @{ removed = $true; path = $path } 0
