# csx hyperv, restore-snapshot: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
$s = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot })
if ($s.Count -eq 0) { Send-Result @{ error = ('no checkpoint named ' + $p.snapshot) } 5 }
Hyper-V\Restore-VMSnapshot -VMSnapshot $s[-1] -Confirm:$false
$vm = Hyper-V\Get-VM -Id $vm.Id
if ([string]$vm.State -ne 'Running') { Hyper-V\Start-VM -VM $vm -Confirm:$false }
Send-Result @{ restored = $true } 0
