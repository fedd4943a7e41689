# csx hyperv, get-ip-addresses: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
# The guest's addresses as the integration services report them: the guest's network
# configuration (CIM class Msvm_GuestNetworkAdapterConfiguration), whose IPAddresses[i] and
# Subnets[i] describe one address together; Get-VMNetworkAdapter's IPAddresses (no subnets)
# when the guest reports no configuration. The class's InstanceID carries the VM id in upper
# case (Microsoft:GuestNetwork\<VM ID>\<adapter id>): ids are compared ignoring case. Source:
# learn.microsoft.com/windows/win32/hyperv_v2/msvm-guestnetworkadapterconfiguration (each Subnets
# element applies to the corresponding element of IPAddresses).
$vm = Require-Vm
# A VM that is off or saved has no running guest to report addresses: say so, not "no addresses".
if ('Off', 'Saved' -contains [string]$vm.State) { Send-Result @{ error = ('VM ' + $p.name + ' is ' + $vm.State + ' (not running): its guest reports no addresses; start it first') } 6 }
$ic = [StringComparison]::OrdinalIgnoreCase
$configs = @(CimCmdlets\Get-CimInstance -Namespace 'root\virtualization\v2' -ClassName Msvm_GuestNetworkAdapterConfiguration -ErrorAction SilentlyContinue |
  Where-Object { ([string]$_.InstanceID).StartsWith('Microsoft:GuestNetwork\' + [string]$vm.Id + '\', $ic) })
$rows = @()
foreach ($a in @(Hyper-V\Get-VMNetworkAdapter -VM $vm)) {
  $adapter = ([string]$a.Id).Split('\')[-1]
  $cfg = @($configs | Where-Object { ([string]$_.InstanceID).EndsWith('\' + $adapter, $ic) })
  $ips = @($a.IPAddresses)
  $subnets = @()
  if ($cfg.Count -gt 0) { $ips = @($cfg[0].IPAddresses); $subnets = @($cfg[0].Subnets) }
  for ($i = 0; $i -lt $ips.Count; $i++) {
    $subnet = ''
    if ($i -lt $subnets.Count) { $subnet = [string]$subnets[$i] }
    $rows += [ordered]@{ nic = [string]$a.Name; mac = [string]$a.MacAddress; ip = [string]$ips[$i]; subnet = $subnet }
  }
}
Send-Result @{ addresses = $rows } 0
