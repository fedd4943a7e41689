# csx hyperv, get-ip-addresses: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# The guest's addresses as the integration services report them: Get-VMNetworkAdapter's
# IPAddresses, with each address's subnet from the guest's network configuration (CIM).
$vm = Require-Vm
$configs = @(CimCmdlets\Get-CimInstance -Namespace 'root\virtualization\v2' -ClassName Msvm_GuestNetworkAdapterConfiguration -ErrorAction SilentlyContinue |
  Where-Object { ([string]$_.InstanceID).StartsWith('Microsoft:GuestNetwork\' + [string]$vm.Id + '\') })
$rows = @()
foreach ($a in @(Hyper-V\Get-VMNetworkAdapter -VM $vm)) {
  $adapter = ([string]$a.Id).Split('\')[-1]
  $cfg = @($configs | Where-Object { ([string]$_.InstanceID).EndsWith('\' + $adapter) })
  $ips = @($a.IPAddresses)
  $subnets = @()
  if ($cfg.Count -gt 0) { $subnets = @($cfg[0].Subnets) }
  for ($i = 0; $i -lt $ips.Count; $i++) {
    $subnet = ''
    if ($i -lt $subnets.Count) { $subnet = [string]$subnets[$i] }
    $rows += [ordered]@{ nic = [string]$a.Name; mac = [string]$a.MacAddress; ip = [string]$ips[$i]; subnet = $subnet }
  }
}
Send-Result @{ addresses = $rows } 0
