# csx hyperv helper Get-RootDiskId, included after prelude.ps1 and disk-id.ps1 in the disk scripts that need the boot disk.
# The id of the hard disk the VM boots from ('' when it cannot be told). Generation 2: the first
# hard disk drive in the firmware's boot order (Get-VMFirmware, Set-VMFirmware -BootOrder).
# Generation 1: the BIOS boots a hard disk only from IDE (Set-VMBios -StartupOrder names IDE, no
# SCSI): the first IDE hard disk by controller and location, never a SCSI disk at 0:0.
function Get-RootDiskId($vm, $drives) {
$ids = @($drives | ForEach-Object { Get-DiskId $_ })
if ([int]$vm.Generation -eq 2) {
  foreach ($b in @((Hyper-V\Get-VMFirmware -VM $vm).BootOrder)) {
    if ($null -ne $b.Device -and $null -ne $b.Device.ControllerType -and $ids -contains (Get-DiskId $b.Device)) { return (Get-DiskId $b.Device) }
  }
  return ''
}
$ide = @($drives | Where-Object { [string]$_.ControllerType -eq 'IDE' } | Sort-Object ControllerNumber, ControllerLocation)
if ($ide.Count -gt 0) { return (Get-DiskId $ide[0]) }
return ''
}
