# csx hyperv, status: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Find-Vm
if ($null -eq $vm) { Send-Result @{ found = $false; foreign = [bool]$script:Foreign } 0 }
Send-Result @{ found = $true; state = [string]$vm.State; id = [string]$vm.Id } 0
