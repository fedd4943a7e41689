# csx hyperv, delete-snapshot: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
$s = @(Hyper-V\Get-VMSnapshot -VM $vm | Where-Object { $_.Name -ceq $p.snapshot })
if ($s.Count -eq 0) { Send-Result @{ error = ('no checkpoint named ' + $p.snapshot) } 5 }
foreach ($x in $s) { Hyper-V\Remove-VMSnapshot -VMSnapshot $x -Confirm:$false }
Send-Result @{ deleted = $s.Count } 0
