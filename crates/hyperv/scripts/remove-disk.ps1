# csx hyperv, remove-disk: runs after prelude.ps1 and disks.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# Detaches one drive and deletes its VHDX; never the disk the VM boots from (Get-RootDiskId).
$vm = Require-Vm
$drives = @(Hyper-V\Get-VMHardDiskDrive -VM $vm)
$d = @($drives | Where-Object { (Get-DiskId $_) -eq [string]$p.disk })
if ($d.Count -eq 0) { Send-Result @{ error = ('VM ' + $p.name + ' has no disk ' + $p.disk + ' (ListDisks shows its disks; a RemoveDisk that already succeeded finds nothing)') } 3 }
if ((Get-DiskId $d[0]) -eq (Get-RootDiskId $vm $drives)) { Send-Result @{ error = ('disk ' + $p.disk + ' is the disk VM ' + $p.name + ' boots from; it is not removed') } 6 }
$path = [string]$d[0].Path
Hyper-V\Remove-VMHardDiskDrive -VMHardDiskDrive $d[0] -Confirm:$false
if ($path -and (Test-Path -LiteralPath $path)) { Remove-Item -LiteralPath $path -Force -Confirm:$false }
Send-Result @{ removed = $true; path = $path } 0
