# csx hyperv, resize-disk: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# Grows the VHDX of one drive (id as list-disks gives it) to a new total size; never shrinks. An
# IDE disk is resized only while its VM is off: Resize-VHD cannot resize a disk on a running
# VM's IDE chain (learn.microsoft.com/powershell/module/hyper-v/resize-vhd), a SCSI disk it can.
$vm = Require-Vm
$d = @(Hyper-V\Get-VMHardDiskDrive -VM $vm | Where-Object { (Get-DiskId $_) -eq [string]$p.disk })
if ($d.Count -eq 0) { Send-Result @{ error = ('VM ' + $p.name + ' has no disk ' + $p.disk) } 3 }
if ([string]$d[0].ControllerType -eq 'IDE' -and [string]$vm.State -ne 'Off') { Send-Result @{ error = ('disk ' + $p.disk + ' is on the IDE controller of a running VM: Hyper-V resizes an IDE disk only while its VM is off (a SCSI disk also while it runs); stop the instance first') } 6 }
$bytes = [int64]$p.size_gb * 1gb
$have = (Hyper-V\Get-VHD -Path $d[0].Path).Size
if ($bytes -lt $have) { Send-Result @{ error = ('disk ' + $p.disk + ' has ' + [math]::Ceiling($have / 1gb) + ' GiB; shrinking is refused') } 6 }
if ($bytes -gt $have) { Hyper-V\Resize-VHD -Path $d[0].Path -SizeBytes $bytes -Confirm:$false }
Send-Result @{ disk = [string]$p.disk; size_gb = [int64]$p.size_gb } 0
