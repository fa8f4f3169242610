<#
.SYNOPSIS
    Runs the Pester tests against a built module; called by build.ps1 -Task Test in a fresh pwsh.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ToolPath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [Parameter(Mandatory)] [string] $SummaryPath,
    [string] $Tag,
    [string] $ExcludeTag
)

$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force

# The test files find the module under test and the compiled load programs here.
$env:FANOTIFYPS_MODULE = $ModulePath
$env:FANOTIFYPS_TOOLS = $ToolPath

$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
if ($Tag) { $config.Filter.Tag = $Tag -split ',' }
if ($ExcludeTag) { $config.Filter.ExcludeTag = $ExcludeTag -split ',' }

$result = Invoke-Pester -Configuration $config
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
[ordered]@{ Passed = $result.PassedCount; Failed = $failed; Skipped = $result.SkippedCount } |
    ConvertTo-Json | Set-Content -Path $SummaryPath

# After the summary: a message the XML writer refuses (a control character in a failure) must not lose the counts.
try {
    Export-NUnitReport -Result $result -Path $ResultPath
}
catch {
    Write-Warning "The NUnit report $ResultPath was not written: $_"
}
exit ([int]($failed -gt 0))
