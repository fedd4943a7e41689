# csx hyperv, create-snapshot: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
if (@(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot }).Count -gt 0) {
  Send-Result @{ error = ('a checkpoint named ' + $p.snapshot + ' already exists') } 2
}
Hyper-V\Checkpoint-VM -VM $vm -SnapshotName $p.snapshot -Confirm:$false
Send-Result @{ created = $true } 0
