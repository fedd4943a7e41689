# csx hyperv helper Stop-Hard, included in the stop and delete scripts after prelude.ps1.
# Off, whatever the state: a saved state is discarded, a graceful shutdown is given at most
# graceful_seconds (never Stop-VM's own five minutes), then the VM is turned off.
function Stop-Hard($vm) {
$state = [string]$vm.State
if ($state -eq 'Off') { return 'off' }
if ($state -eq 'Saved') { Hyper-V\Remove-VMSavedState -VM $vm -Confirm:$false; return 'discarded' }
if ($p.graceful -and $state -eq 'Running' -and [int]$p.graceful_seconds -gt 0) {
  $job = Hyper-V\Stop-VM -VM $vm -Force -AsJob -Confirm:$false
  $null = Microsoft.PowerShell.Core\Wait-Job -Job $job -Timeout ([int]$p.graceful_seconds)
  Microsoft.PowerShell.Core\Remove-Job -Job $job -Force
  $vm = Hyper-V\Get-VM -Id $vm.Id
  if ([string]$vm.State -eq 'Off') { return 'shutdown' }
}
Hyper-V\Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
return 'turnoff'
}
