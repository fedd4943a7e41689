# csx hyperv, delete: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Find-Vm
if ($null -eq $vm) {
  # Nothing of this instance, or a delete cut short after Remove-VM: finish its disk files.
  $left = @(Get-Orphans)
  foreach ($f in $left) { Remove-Item -LiteralPath $f -Force -Confirm:$false }
  Send-Result @{ deleted = $false; disks = $left; foreign = [bool]$script:Foreign } 0
}
$null = Stop-Hard $vm
$chain = @(Get-Chain $vm)
Hyper-V\Remove-VM -VM $vm -Force -Confirm:$false
# Remove-VM merges checkpoints into their parents after the VM is gone: wait for the .avhdx files to go.
$until = (Get-Date).AddSeconds([int]$p.wait_seconds)
while (@($chain | Where-Object { $_.EndsWith('.avhdx') -and (Test-Path -LiteralPath $_) }).Count -gt 0) {
  if ((Get-Date) -gt $until) { Send-Result @{ error = ('the VM was removed but Hyper-V is still merging its checkpoints; run delete again to remove its disk files') } 2 }
  Start-Sleep -Milliseconds 200
}
# Only this VM's own files: a parent shared with other VMs (a template) is never removed.
$removed = @()
foreach ($d in $chain) {
  if ((Split-Path -Leaf $d).StartsWith([string]$p.name) -and (Test-Path -LiteralPath $d)) { Remove-Item -LiteralPath $d -Force -Confirm:$false; $removed += $d }
}
Send-Result @{ deleted = $true; disks = $removed } 0
