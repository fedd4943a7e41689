# csx hyperv, resume: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
if ([string]$vm.State -eq 'Running') { Send-Result @{ changed = $false } 0 }
Hyper-V\Resume-VM -VM $vm -Confirm:$false
Send-Result @{ changed = $true } 0
