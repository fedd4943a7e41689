# csx hyperv, list-snapshots: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Require-Vm
$rows = @(Hyper-V\Get-VMSnapshot -VM $vm | Sort-Object CreationTime | ForEach-Object {
  [ordered]@{ name = [string]$_.Name; created = $_.CreationTime.ToUniversalTime().ToString('yyyy-MM-dd HH:mm:ss') + ' UTC'; type = [string]$_.SnapshotType }
})
Send-Result @{ snapshots = $rows } 0
