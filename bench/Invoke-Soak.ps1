<#
.SYNOPSIS
    The soak (tagged Slow work, run by build.ps1 -Task Bench, not by CI): a permission watch under a steady
    load of half its measured capacity for -Minutes, sampled every 10 seconds. Returns what it found: the
    watcher's RSS and fd count at the start and the end, and whether every event was delivered or counted.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $Loadgen,
    [Parameter(Mandatory)] [string] $Mount,
    [Parameter(Mandatory)] [int] $OpsPerSecond,
    [int] $Minutes = 10
)

$ErrorActionPreference = 'Stop'
$pwsh = [Environment]::ProcessPath
$prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { [Reflection.Assembly]::GetEntryAssembly().Location })
$ready = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-soak-$([guid]::NewGuid())"
$info = [Diagnostics.ProcessStartInfo]::new('timeout')
foreach ($a in @('--signal=KILL', "$($Minutes * 60 + 300)", $pwsh) + $prefix + @('-NoProfile', '-NonInteractive', '-File',
        (Join-Path $PSScriptRoot 'watcher.ps1'), '-ModulePath', $ModulePath, '-Mount', $Mount, '-Ready', $ready, '-Stop', "$ready.stop")) {
    $info.ArgumentList.Add($a)
}
$info.RedirectStandardOutput = $true
$child = [Diagnostics.Process]::Start($info)
while (-not (Test-Path $ready)) { Start-Sleep -Milliseconds 50 }
$watcherPid = [int](Get-Content $ready -Raw)

function Get-Sample {
    $rss = [long]((Select-String -Path "/proc/$watcherPid/status" -Pattern '^VmRSS:\s+(\d+)').Matches[0].Groups[1].Value)
    [pscustomobject]@{ RssMb = [math]::Round($rss / 1024, 1); Fds = @(Get-ChildItem "/proc/$watcherPid/fd").Count }
}

Write-Host "Soak: $OpsPerSecond opens/s under a permission watch for $Minutes minutes"
$samples = [Collections.Generic.List[object]]::new()
$end = [DateTime]::UtcNow.AddMinutes($Minutes)
$nextSample = [DateTime]::UtcNow
$operations = 0
while ([DateTime]::UtcNow -lt $end) {
    $second = [DateTime]::UtcNow.AddSeconds(1)
    $null = & $Loadgen $Mount $OpsPerSecond open 100
    $operations += $OpsPerSecond
    if ([DateTime]::UtcNow -ge $nextSample) {
        $samples.Add((Get-Sample))
        $nextSample = $nextSample.AddSeconds(10)
    }
    $rest = ($second - [DateTime]::UtcNow).TotalMilliseconds
    if ($rest -gt 0) { Start-Sleep -Milliseconds $rest }
}

Set-Content "$ready.stop" 'stop'
$null = $child.WaitForExit(120000)
$stats = ($child.StandardOutput.ReadToEnd() -split "`n" | Where-Object { $_ -like '{*' } | Select-Object -Last 1) | ConvertFrom-Json
Remove-Item $ready, "$ready.stop" -ErrorAction Ignore

# The first sample is taken after the first second of load (JIT and buffers warmed up): growth is measured from there.
$first = $samples[1]
$last = $samples[$samples.Count - 1]
$result = [ordered]@{
    minutes          = $Minutes
    ops_per_sec      = $OpsPerSecond
    operations       = $operations
    event_count      = $stats.event_count
    delivered        = $stats.delivered
    dropped          = $stats.dropped
    overflows        = $stats.overflows
    accounted        = ($stats.delivered + $stats.dropped) -eq $stats.event_count
    rss_mb_start     = $first.RssMb
    rss_mb_end       = $last.RssMb
    rss_mb_max       = ($samples | Measure-Object RssMb -Maximum).Maximum
    fds_start        = $first.Fds
    fds_end          = $last.Fds
    rss_mb_samples   = @($samples.RssMb)   # every 10 seconds: whether growth levels off after the start
}
Write-Host ("Soak: {0:N0} operations, {1:N0} events, {2} dropped, RSS {3} -> {4} MB (max {5}), fds {6} -> {7}, every event accounted for: {8}" -f
    $operations, $stats.event_count, $stats.dropped, $first.RssMb, $last.RssMb, $result.rss_mb_max, $first.Fds, $last.Fds, $result.accounted)
Write-Host ("Soak RSS each minute (MB): {0}" -f ($(for ($i = 1; $i -lt $samples.Count; $i += 6) { $samples[$i].RssMb }) -join ', '))
$result
