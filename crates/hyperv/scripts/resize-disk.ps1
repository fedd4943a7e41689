# csx hyperv, resize-disk: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# Grows the VHDX of one drive (id as list-disks gives it) to a new total size; never shrinks.
$vm = Require-Vm
$d = @(Hyper-V\Get-VMHardDiskDrive -VM $vm | Where-Object { ([string]$_.ControllerType + [string]$_.ControllerNumber + ':' + [string]$_.ControllerLocation) -eq [string]$p.disk })
if ($d.Count -eq 0) { Send-Result @{ error = ('the VM has no disk ' + $p.disk) } 3 }
$bytes = [int64]$p.size_gb * 1gb
$have = (Hyper-V\Get-VHD -Path $d[0].Path).Size
if ($bytes -lt $have) { Send-Result @{ error = ('disk ' + $p.disk + ' has ' + [math]::Ceiling($have / 1gb) + ' GiB; shrinking is refused') } 6 }
if ($bytes -gt $have) { Hyper-V\Resize-VHD -Path $d[0].Path -SizeBytes $bytes -Confirm:$false }
Send-Result @{ disk = [string]$p.disk; size_gb = [int64]$p.size_gb } 0
