# csx hyperv helper Get-DiskId, included in the disk scripts after prelude.ps1.
# A drive's id as ListDisks shows it: controller type, number and location (IDE0:1, SCSI0:3).
function Get-DiskId($d) {
return ([string]$d.ControllerType + [string]$d.ControllerNumber + ':' + [string]$d.ControllerLocation)
}
