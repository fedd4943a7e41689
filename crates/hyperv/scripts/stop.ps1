# csx hyperv, stop: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Find-Vm
if ($null -eq $vm) { Send-Result @{ changed = $false; state = 'Missing'; foreign = [bool]$script:Foreign } 0 }
if ([string]$vm.State -eq 'Off') { Send-Result @{ changed = $false; state = 'Off' } 0 }
$how = Stop-Hard $vm
Send-Result @{ changed = $true; state = 'Off'; how = $how } 0
