# csx hyperv prelude: settings, parameters ($p from one base64 JSON blob), result output, the ownership rule.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$p = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('@PARAMS@')) | ConvertFrom-Json
function Send-Result($o, [int]$code) {
  [Console]::Out.WriteLine((ConvertTo-Json -InputObject $o -Compress -Depth 6))
  exit $code
}
function Get-Owner($vm) {
  if (([string]$vm.Notes) -match 'cloudstack-instance-uuid=(\S+)') { return $Matches[1] }
  return ''
}
# The ownership rule of csx_core::identity: the VM marked with this instance's uuid, else
# the one VM without a mark (made by the built-in extension) named after the instance's internal
# name (or any, with adopt_unmarked); another instance's VM never.
function Find-Vm {
  # Get-VM -Name takes wildcards: escape them, then keep exact matches only.
  $pattern = [Management.Automation.WildcardPattern]::Escape([string]$p.name)
  $all = @(Hyper-V\Get-VM -Name $pattern -ErrorAction SilentlyContinue | Where-Object { $_.Name -eq [string]$p.name })
  $mine = @($all | Where-Object { $p.uuid -and (Get-Owner $_) -eq [string]$p.uuid })
  if ($mine.Count -gt 1) { Send-Result @{ error = ('several VMs named ' + $p.name + ' carry this instance''s mark') } 2 }
  if ($mine.Count -eq 1) { return $mine[0] }
  # An unmarked VM is adopted only under the instance's internal name, or with adopt_unmarked.
  $unmarked = @($all | Where-Object { (Get-Owner $_) -eq '' -and ($p.adopt -or $_.Name -eq [string]$p.internal) })
  if ($unmarked.Count -gt 1) { Send-Result @{ error = ('several unmarked VMs are named ' + $p.name) } 2 }
  if ($unmarked.Count -eq 1) { return $unmarked[0] }
  $script:Foreign = ($all.Count -gt 0)
  # The other instance's mark, '' when only unmarked VMs this instance does not adopt have the name.
  $script:Owner = [string](@(@($all | ForEach-Object { Get-Owner $_ }) -ne '')[0])
  return $null
}
function Require-Vm {
  $vm = Find-Vm
  if ($null -eq $vm -and $script:Foreign) { Send-Result @{ error = 'not this instance''s VM'; vm = [string]$p.name; owner = $script:Owner } 4 }
  if ($null -eq $vm) { Send-Result @{ error = ('no VM named ' + $p.name) } 3 }
  return $vm
}
