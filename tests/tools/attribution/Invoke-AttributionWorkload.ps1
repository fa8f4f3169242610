<#
.SYNOPSIS
    The attribution proof of issue 13 by hand: the workload on a tmpfs of its own, FanotifyPS and fatrace
    watching it at once, in one or both modes; prints each tool's right, wrong and missing programs.
.DESCRIPTION
    -Mode Live: the watchers read as the workload runs. -Mode Stopped: both are stopped with SIGSTOP for the
    whole workload, then continued (notification events only). Needs root, cc and fatrace. The functions live
    in Attribution.psm1 (also used by tests/Pester/Attribution.Tests.ps1 and bench/Invoke-Benchmark.ps1).
.EXAMPLE
    ./tests/tools/attribution/Invoke-AttributionWorkload.ps1 -ModulePath ./out/FanotifyPS -Iterations 200
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateSet('Live', 'Stopped')] [string[]] $Mode = @('Live', 'Stopped'),
    [int] $Iterations = 200,
    [string[]] $Event = @('Open', 'CloseWrite', 'Create', 'Delete', 'Rename', 'Attrib'),
    [switch] $NoFatrace,
    # Also return the runs (tallies, wrong events) as objects.
    [switch] $PassThru
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$env:FANOTIFYPS_MODULE = (Resolve-Path $ModulePath).ProviderPath
Import-Module (Join-Path $PSScriptRoot '../../Pester/TestHelpers.psm1')
Import-Module (Join-Path $PSScriptRoot 'Attribution.psm1') -Force
$work = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-attribution-$PID"
$mount = New-TestMount
try {
    $tool = New-AttributionTool -WorkPath $work
    New-AttributionLayout -Mount $mount -Tool $tool
    foreach ($m in $Mode) {
        $events = if ($m -eq 'Stopped') { @($Event | Where-Object { $_ -notlike '*Perm' }) } else { $Event }
        $run = Invoke-AttributionRun -Mount $mount -Tool $tool -Mode $m -Iterations $Iterations -Event $events -Fatrace:(-not $NoFatrace)
        Format-AttributionReport $run | Out-Host
        if ($PassThru) { $run }
    }
}
finally {
    Remove-TestMount $mount
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}
