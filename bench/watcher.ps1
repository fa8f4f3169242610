<#
.SYNOPSIS
    The FanotifyPS side of one benchmark row, run in its own pwsh by Invoke-Benchmark.ps1.
.DESCRIPTION
    Mode Stream: starts a watch, writes $Ready, consumes events (Measure-Object or Export-Csv, or none) until
    $Stop appears, then prints one JSON line with what was delivered and counted, the CPU seconds and peak RSS.
    Mode Edge: buffers events without reading, then times Get-FanotifyEvent | Measure-Object against
    1..N | Measure-Object. Mode Flood: never reads, and reports RSS before and after the flood.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $Mount,
    [Parameter(Mandatory)] [string] $Ready,
    [Parameter(Mandatory)] [string] $Stop,
    [ValidateSet('Stream', 'Edge', 'Flood')] [string] $Mode = 'Stream',
    [string[]] $Event = @('OpenPerm', 'CloseWrite'),
    [ValidateSet('Measure', 'Csv', 'None')] [string] $Consumer = 'Measure',
    [int] $RuleCount = 0,
    [int] $SpinMicroseconds = -1,
    [int] $BufferSize = 4000000,
    [string] $CsvPath
)

$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

function Get-StatusKb([string] $Key) {
    [long]((Select-String -Path /proc/self/status -Pattern "^${Key}:\s+(\d+)").Matches[0].Groups[1].Value)
}

$start = @{ Path = $Mount; Event = $Event; BufferSize = $BufferSize }
if ($RuleCount -gt 0) {
    # Rules that match nothing: every permission event is checked against all of them.
    $start.Rule = 1..$RuleCount | ForEach-Object { New-FanotifyRule -Name "nomatch$_" -Path "/nonexistent/$_/*" -Exe "*/nothing$_" }
}
if ($SpinMicroseconds -ge 0) { $start.SpinMicroseconds = $SpinMicroseconds }
$watch = Start-FanotifyWatch @start
$self = [Diagnostics.Process]::GetCurrentProcess()
$rssBefore = Get-StatusKb VmRSS
$cpuBefore = $self.TotalProcessorTime.TotalSeconds
Set-Content -Path $Ready -Value $PID

# The parent creates $Stop when its workload is done; this runspace then stops the watch, which ends -Wait.
$stopper = [powershell]::Create()
$null = $stopper.AddScript({
    param($ModulePath, $Watch, $Stop)
    Import-Module $ModulePath
    # Waits in inotify, not in a polling loop: a poll every 10 ms cost this process about a CPU-second a row and
    # woke on the CPUs the workload uses. The timeout covers a file created before the wait began.
    $created = [IO.FileSystemWatcher]::new([IO.Path]::GetDirectoryName($Stop), [IO.Path]::GetFileName($Stop))
    while (-not (Test-Path $Stop)) { $null = $created.WaitForChanged([IO.WatcherChangeTypes]::Created, 1000) }
    Start-Sleep -Milliseconds 200   # let the responder read what is queued
    Stop-FanotifyWatch $Watch
}).AddArgument($ModulePath).AddArgument($watch).AddArgument($Stop)
$stopping = $stopper.BeginInvoke()

$result = [ordered]@{}
switch ($Mode) {
    'Stream' {
        if ($Consumer -eq 'Measure') {
            $result.delivered = (Get-FanotifyEvent -Watch $watch -Wait -WarningAction SilentlyContinue | Measure-Object).Count
        }
        elseif ($Consumer -eq 'None') {
            # Nobody reads: what the watcher itself costs. What the buffer holds counts as delivered to it.
            $stopper.EndInvoke($stopping)
            $result.delivered = $watch.BufferedCount
        }
        else {
            Get-FanotifyEvent -Watch $watch -Wait -WarningAction SilentlyContinue | Export-Csv -Path $CsvPath
            $result.delivered = [Linq.Enumerable]::Count([IO.File]::ReadLines($CsvPath)) - 1
        }
    }
    'Flood' {
        $stopper.EndInvoke($stopping)
        $result.rss_growth_mb = [math]::Round(((Get-StatusKb VmRSS) - $rssBefore) / 1024, 1)
        $result.delivered = 0
    }
    'Edge' {
        $stopper.EndInvoke($stopping)
        # Right after the workload the runtime is still busy for a second or two (tier-1 recompiles of what the
        # workload made hot, background GC): whichever side ran first was slowed by it. Let it settle first.
        Start-Sleep -Seconds 2
        # The same JIT and warm caches for both sides: a first pass of each, not timed (for the events, 5,000 of them).
        $warm = (Get-FanotifyEvent -Watch $watch -Count 5000 | Measure-Object).Count
        $n = $watch.BufferedCount
        $null = (1..$n | Measure-Object).Count
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $count = (Get-FanotifyEvent -Watch $watch | Measure-Object).Count
        $eventSeconds = $clock.Elapsed.TotalSeconds
        $clock.Restart()
        $null = (1..$n | Measure-Object).Count
        $rangeSeconds = $clock.Elapsed.TotalSeconds
        $result.delivered = $warm + $count
        $result.edge_events_per_sec = [math]::Round($count / $eventSeconds)
        $result.range_per_sec = [math]::Round($n / $rangeSeconds)
    }
}

$stopper.EndInvoke($stopping)
$result.event_count = $watch.EventCount
$result.dropped = $watch.DroppedCount
$result.overflows = $watch.OverflowCount
$result.lost = $watch.LostCount
$result.cpu_seconds = [math]::Round($self.TotalProcessorTime.TotalSeconds - $cpuBefore, 3)
$result.peak_rss_mb = [math]::Round((Get-StatusKb VmHWM) / 1024, 1)
$result | ConvertTo-Json -Compress
