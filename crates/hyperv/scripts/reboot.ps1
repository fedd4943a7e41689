# csx hyperv, reboot: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
$before = [string]$vm.State
if ($before -eq 'Running') { Hyper-V\Restart-VM -VM $vm -Force -Confirm:$false; Send-Result @{ started = $false } 0 }
if ($before -eq 'Paused') { Hyper-V\Resume-VM -VM $vm -Confirm:$false; Hyper-V\Restart-VM -VM $vm -Force -Confirm:$false; Send-Result @{ started = $false } 0 }
Hyper-V\Start-VM -VM $vm -Confirm:$false
Send-Result @{ started = $true } 0
