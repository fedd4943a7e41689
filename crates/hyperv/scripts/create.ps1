# csx hyperv, create: runs after prelude.ps1 inside one try/catch; $p holds the parameters (see src/scripts.rs).
$vm = Find-Vm
if ($null -eq $vm -and $script:Foreign) { Send-Result @{ error = ('the VM named ' + $p.name + ' is not this instance''s; refusing to touch it'); vm = [string]$p.name; owner = $script:Owner } 4 }
if ($null -ne $vm) {
  # A retried create: finish our own VM.
  if ([string]$vm.State -eq 'Paused') { Hyper-V\Resume-VM -VM $vm -Confirm:$false }
  elseif ([string]$vm.State -ne 'Running') { Hyper-V\Start-VM -VM $vm -Confirm:$false }
  Send-Result @{ created = $false; id = [string]$vm.Id } 0
}
$made = @()
$disk = Join-Path $p.vhd_path ($p.name + '.vhdx')
try {
  if (Test-Path -LiteralPath $disk) { throw ('disk ' + $disk + ' already exists; refusing to overwrite it') }
  # A multiple of 2 MiB: Hyper-V refuses other sizes as not properly aligned.
  $memory = [int64]$p.memory_mb * 1mb
  if ($p.template_type -eq 'iso') {
    $vm = Hyper-V\New-VM -Name $p.name -Generation $p.generation -MemoryStartupBytes $memory -Path $p.vm_path -NewVHDPath $disk -NewVHDSizeBytes ([int64]$p.vhd_size_gb * 1gb) -Confirm:$false
    $made += 'disk'; $made += 'vm'
    if ([int]$p.generation -eq 2) {
      $dvd = Hyper-V\Add-VMDvdDrive -VM $vm -Path $p.iso_path -Passthru -Confirm:$false
      Hyper-V\Set-VMFirmware -VM $vm -FirstBootDevice $dvd -Confirm:$false
    } else {
      # New-VM gives a generation-1 VM one DVD drive, first in its BIOS boot order: load it.
      $dvd = @(Hyper-V\Get-VMDvdDrive -VM $vm)
      if ($dvd.Count -gt 0) { Hyper-V\Set-VMDvdDrive -VMDvdDrive $dvd[0] -Path $p.iso_path -Confirm:$false }
      else { Hyper-V\Add-VMDvdDrive -VM $vm -Path $p.iso_path -Confirm:$false }
    }
  } else {
    Copy-Item -LiteralPath $p.template_path -Destination $disk -Confirm:$false
    $made += 'disk'
    $vm = Hyper-V\New-VM -Name $p.name -Generation $p.generation -MemoryStartupBytes $memory -Path $p.vm_path -VHDPath $disk -Confirm:$false
    $made += 'vm'
  }
  Hyper-V\Set-VM -VM $vm -ProcessorCount $p.cpus -Notes $p.notes -Confirm:$false
  Hyper-V\Get-VMNetworkAdapter -VM $vm | Hyper-V\Remove-VMNetworkAdapter -Confirm:$false
  $i = 0
  foreach ($n in @($p.nics)) {
    $a = Hyper-V\Add-VMNetworkAdapter -VM $vm -SwitchName $p.switch -Name ('NIC' + $i) -StaticMacAddress $n.mac -Passthru -Confirm:$false
    if ($n.vlan) { Hyper-V\Set-VMNetworkAdapterVlan -VMNetworkAdapter $a -Access -VlanId $n.vlan -Confirm:$false }
    else { Hyper-V\Set-VMNetworkAdapterVlan -VMNetworkAdapter $a -Untagged -Confirm:$false }
    $i++
  }
  if ([int]$p.generation -eq 2) {
    if ($p.secure_boot) { Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot On -SecureBootTemplate $p.secure_boot_template -Confirm:$false }
    else { Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot Off -Confirm:$false }
  }
  Hyper-V\Start-VM -VM $vm -Confirm:$false
  Send-Result @{ created = $true; id = [string]$vm.Id } 0
} catch {
  $err = $_.Exception.Message
  if ($made -contains 'vm') {
    try { Hyper-V\Stop-VM -VM $vm -TurnOff -Force -Confirm:$false -ErrorAction SilentlyContinue } catch { }
    try { Hyper-V\Remove-VM -VM $vm -Force -Confirm:$false } catch { }
  }
  if ($made -contains 'disk') { Remove-Item -LiteralPath $disk -Force -Confirm:$false -ErrorAction SilentlyContinue }
  Send-Result @{ error = $err; rolled_back = $made } 2
}
