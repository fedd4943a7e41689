# csx hyperv, statuses: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$rows = @(foreach ($vm in @(Hyper-V\Get-VM)) {
  $rec = ''; $inst = ''
  if (([string]$vm.Notes) -match 'cloudstack-instance-name=(\S+)') { $rec = $Matches[1] }
  if (([string]$vm.Notes) -match 'cloudstack-installation=(\S+)') { $inst = $Matches[1] }
  @{ n = [string]$vm.Name; s = [string]$vm.State; r = $rec; i = $inst }
})
Send-Result @{ vms = $rows } 0
