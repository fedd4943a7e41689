# csx hyperv, start: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
$before = [string]$vm.State
if ($before -eq 'Running') { Send-Result @{ changed = $false; state = $before } 0 }
if ($before -eq 'Paused') { Hyper-V\Resume-VM -VM $vm -Confirm:$false } else { Hyper-V\Start-VM -VM $vm -Confirm:$false }
Send-Result @{ changed = $true; state = 'Running' } 0
