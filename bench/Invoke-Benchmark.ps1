<#
.SYNOPSIS
    FanotifyPS against a C reference listener, in one run, on a tmpfs of its own. Called by build.ps1 -Task Bench.
.DESCRIPTION
    The same workload (bench/loadgen.c: open/close and open/write/close loops, every operation timed, the best of
    -Repeat runs) runs in -Rounds alternating rounds under each row of the table:
      1   no watch;
      2   the C reference (bench/ref-listener.c, the fanotify(7) design) with FAN_OPEN_PERM | FAN_CLOSE_WRITE;
      3   the C reference in notification mode (FAN_OPEN | FAN_CLOSE_WRITE);
      4   FanotifyPS -Event OpenPerm, CloseWrite into Measure-Object;
      4s  the same with -SpinMicroseconds 20;
      4u  the same with nobody reading and -BufferSize 1 (the watcher's own cost, without the pipeline's CPU);
      6   the same with 100 deny rules that match nothing; 6a with 1 such rule;
      5a  FanotifyPS -Event Open, CloseWrite into Measure-Object; 5b into Export-Csv.
    Then: -Pairs paired permission runs (the C reference, then FanotifyPS, seconds apart, each after a warm-up
    run; the median of their ratios); the pipeline edge (buffered events through Measure-Object against
    1..N | Measure-Object, the median of 3 runs); a flood of 500,000 events nobody reads (RSS growth with a
    10,000-event buffer). It prints the table, the promises as ratios of the same run, the round-trip
    percentiles, the unread, paired, 100-vs-1-rule and spin lines with each permission listener's CPU per event,
    and writes out/bench.json; then the soak (bench/Invoke-Soak.ps1) for -SoakMinutes.
    Two more rows, each a few seconds to a minute long (-Only Attribution, Exec runs only these):
      Attribution  the attribution workload of issue 13 (tests/tools/attribution) with FanotifyPS -Event Open,
                   CloseWrite, Create, Delete, Rename and fatrace 0.17 watching at once, once with live readers and
                   once with both stopped (SIGSTOP) during the workload; right, wrong and missing programs of each.
      Exec         bench/execloop.c (fork + exec of /bin/true, one after the other) under no watch, the C reference
                   in notification mode (its marks are on the tmpfs only), the C reference in exec mode (also
                   FAN_OPEN_EXEC on the filesystems of / and /usr/bin: the exec events issue 13's design reads),
                   and FanotifyPS -Event Open, CloseWrite on the tmpfs; execs/s and the ratio to no watch.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $ToolPath,
    [Parameter(Mandatory)] [string] $OutFile,
    [int] $Operations = 100000,
    [int] $Repeat = 5,
    [int] $Rounds = 2,
    [int] $Pairs = 6,
    [int] $SoakMinutes = 0,
    # Only these rows (seconds each); without it, every row, the attribution and exec rows last.
    [ValidateSet('Attribution', 'Exec')] [string[]] $Only,
    [int] $AttributionIterations = 50,
    [int] $ExecCount = 1000
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$loadgen = Join-Path $ToolPath 'loadgen'
$execloop = Join-Path $ToolPath 'execloop'
$reference = Join-Path $ToolPath 'ref-listener'
$pwsh = [Environment]::ProcessPath
$pwshPrefix = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { [Reflection.Assembly]::GetEntryAssembly().Location })
$watcherScript = Join-Path $PSScriptRoot 'watcher.ps1'
$work = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-bench-$PID"
$mount = Join-Path $work 'mnt'
$null = New-Item -ItemType Directory -Path $mount -Force
& mount -t tmpfs -o size=512m fanotifyps-bench $mount
if ($LASTEXITCODE -ne 0) { throw "Cannot mount a tmpfs on $mount." }

function Invoke-Load {
    param([string] $Kind, [int] $Count = $Operations, [int] $Files = 1)
    $line = & timeout --signal=KILL 300 $loadgen $mount $Count $Kind $Files
    if ($LASTEXITCODE -ne 0) { throw "loadgen $Kind failed ($LASTEXITCODE)." }
    $line | ConvertFrom-Json
}

# The best of $Repeat runs of both workloads: the machine is shared, and noise only ever slows a run down.
function Measure-Workload {
    $open = 1..$Repeat | ForEach-Object { Invoke-Load open } | Sort-Object ops_per_sec -Descending | Select-Object -First 1
    $write = 1..$Repeat | ForEach-Object { Invoke-Load write -Files 100 } | Sort-Object ops_per_sec -Descending | Select-Object -First 1
    [pscustomobject]@{ Open = $open; Write = $write }
}

function Wait-File([string] $Path, $Process) {
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while (-not (Test-Path $Path)) {
        if ($Process.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "The listener did not start: $($Process.StandardError.ReadToEnd())" }
        Start-Sleep -Milliseconds 20
    }
}

function Start-Child([string] $FilePath, [string[]] $Arguments) {
    $info = [Diagnostics.ProcessStartInfo]::new('timeout')
    foreach ($a in @('--signal=KILL', '900', $FilePath) + $Arguments) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    [Diagnostics.Process]::Start($info)
}

function Measure-Reference([string] $Mode, [scriptblock] $Workload = { Measure-Workload }) {
    $ready = Join-Path $work "ready-$([guid]::NewGuid())"
    # The C listener prints a line per event, as the man page's does; the lines go to /dev/null.
    $child = Start-Child sh @('-c', "exec '$reference' '$mount' $Mode '$ready' >/dev/null")
    Wait-File $ready $child
    $load = & $Workload
    & kill -TERM $child.Id   # timeout passes it on to the listener
    $null = $child.WaitForExit(30000)
    $stats = ($child.StandardError.ReadToEnd() -split "`n" | Where-Object { $_ -like '{*' } | Select-Object -Last 1) | ConvertFrom-Json
    [pscustomobject]@{ Load = $load; Delivered = $stats.events; CpuSeconds = $stats.cpu_seconds; PeakRssMb = $null; Dropped = 0; Overflows = 0; EventCount = $stats.events }
}

function Measure-FanotifyPS {
    param([string[]] $Event, [string] $Consumer = 'Measure', [int] $RuleCount = 0, [int] $SpinMicroseconds = -1,
        [string] $Mode = 'Stream', [scriptblock] $Workload = { Measure-Workload }, [int] $BufferSize = 0)
    $ready = Join-Path $work "ready-$([guid]::NewGuid())"
    $stop = "$ready.stop"
    $arguments = @($pwshPrefix) + @('-NoProfile', '-NonInteractive', '-File', $watcherScript, '-ModulePath', $ModulePath,
        '-Mount', $mount, '-Ready', $ready, '-Stop', $stop, '-Mode', $Mode, '-Consumer', $Consumer, '-RuleCount', $RuleCount, '-SpinMicroseconds', $SpinMicroseconds,
        '-CsvPath', (Join-Path $work 'events.csv'), '-Event', ($Event -join ','))
    if ($BufferSize -gt 0) { $arguments += @('-BufferSize', $BufferSize) }
    $child = Start-Child $pwsh $arguments
    Wait-File $ready $child
    $load = & $Workload
    Set-Content -Path $stop -Value 'stop'
    if (-not $child.WaitForExit(600000)) { $child.Kill($true); throw 'The FanotifyPS watcher did not finish.' }
    $output = $child.StandardOutput.ReadToEnd()
    $json = $output -split "`n" | Where-Object { $_ -like '{*' } | Select-Object -Last 1
    if (-not $json) { throw "The FanotifyPS watcher printed no result: $output $($child.StandardError.ReadToEnd())" }
    $stats = $json | ConvertFrom-Json
    [pscustomobject]@{
        Load = $load; Delivered = $stats.delivered; CpuSeconds = $stats.cpu_seconds; PeakRssMb = $stats.peak_rss_mb
        Dropped = $stats.dropped; Overflows = $stats.overflows; EventCount = $stats.event_count; Stats = $stats
    }
}

# Keeps a row's best open and write runs over the rounds; the event counts add up, and loss is checked per round.
function Add-Row($rows, [string] $Name, $row) {
    $accounted = $row.Delivered + $row.Dropped -eq $row.EventCount
    if (-not $rows.Contains($Name)) {
        $row | Add-Member -NotePropertyName Accounted -NotePropertyValue $accounted
        $rows[$Name] = $row
        return
    }
    $kept = $rows[$Name]
    if ($row.Load.Open.ops_per_sec -gt $kept.Load.Open.ops_per_sec) { $kept.Load.Open = $row.Load.Open }
    if ($row.Load.Write.ops_per_sec -gt $kept.Load.Write.ops_per_sec) { $kept.Load.Write = $row.Load.Write }
    $kept.Delivered += $row.Delivered
    $kept.Dropped += $row.Dropped
    $kept.EventCount += $row.EventCount
    $kept.Overflows += $row.Overflows
    $kept.CpuSeconds += $row.CpuSeconds
    if ($row.PeakRssMb -gt $kept.PeakRssMb) { $kept.PeakRssMb = $row.PeakRssMb }
    $kept.Accounted = $kept.Accounted -and $accounted
}

# The attribution row: the workload of tests/tools/attribution with FanotifyPS and fatrace at once, live and
# stopped (SIGSTOP during the workload); each tool's right, wrong and missing programs.
function Measure-Attribution {
    $env:FANOTIFYPS_MODULE = (Resolve-Path $ModulePath).ProviderPath
    $attribution = Join-Path $PSScriptRoot '../tests/tools/attribution'
    Import-Module (Join-Path $attribution '../../Pester/TestHelpers.psm1')
    Import-Module (Join-Path $attribution 'Attribution.psm1')
    $tool = New-AttributionTool -WorkPath (Join-Path $work 'attribution')
    New-AttributionLayout -Mount $mount -Tool $tool
    # The issue's events, so that its table and this row count the same.
    $events = @('Open', 'CloseWrite', 'Create', 'Delete', 'Rename')
    foreach ($mode in 'Live', 'Stopped') {
        $run = Invoke-AttributionRun -Mount $mount -Tool $tool -Mode $mode -Iterations $AttributionIterations -Event $events -Fatrace
        Format-AttributionReport $run | Out-Host
        $row = [ordered]@{ mode = $mode; iterations = $AttributionIterations; seconds = $run.Workload.Seconds }
        foreach ($result in $run.FanotifyPS, $run.Fatrace) {
            $all = [ordered]@{ events = 0; right = 0; wrong = 0; missing = 0 }
            foreach ($t in $result.Classes.Values) { $all.events += $t.Events; $all.right += $t.Right; $all.wrong += $t.Wrong; $all.missing += $t.Missing }
            $row[$result.Tool.ToLowerInvariant()] = $all
        }
        [pscustomobject]$row
    }
}

# The exec-heavy row: fork + exec of /bin/true, the best of 2 runs under each listener.
function Invoke-ExecLoop {
    $runs = foreach ($i in 1..2) {
        $line = & timeout --signal=KILL 300 $execloop $ExecCount /bin/true
        if ($LASTEXITCODE -ne 0) { throw "execloop failed ($LASTEXITCODE)." }
        $line | ConvertFrom-Json
    }
    $runs | Sort-Object execs_per_sec -Descending | Select-Object -First 1
}

function Measure-ExecRow {
    $rows = [ordered]@{}
    $rows['no watch'] = [pscustomobject]@{ Load = Invoke-ExecLoop; CpuSeconds = 0; Delivered = 0 }
    $rows['C reference, notification (tmpfs marks only)'] = Measure-Reference notif -Workload { Invoke-ExecLoop }
    $rows['C reference, exec (also FAN_OPEN_EXEC on / and /usr/bin)'] = Measure-Reference exec -Workload { Invoke-ExecLoop }
    $rows['FanotifyPS Open,CloseWrite on the tmpfs'] = Measure-FanotifyPS -Event Open, CloseWrite -Workload { Invoke-ExecLoop }
    $base = $rows['no watch'].Load.execs_per_sec
    $table = foreach ($name in $rows.Keys) {
        $row = $rows[$name]
        [pscustomobject][ordered]@{
            Row = $name; 'execs/s' = [math]::Round($row.Load.execs_per_sec); 'vs none' = [math]::Round($row.Load.execs_per_sec / $base, 3)
            Events = $row.Delivered; 'CPU s' = $row.CpuSeconds
        }
    }
    Write-Host "Exec-heavy: fork + exec of /bin/true, $ExecCount a run, the best of 2 runs"
    $table | Format-Table -AutoSize | Out-String -Width 200 | Out-Host
    $table
}

try {
    $report = [ordered]@{
        date   = (Get-Date).ToString('o')
        kernel = (Get-Content /proc/sys/kernel/osrelease).Trim()
        cpus   = [Environment]::ProcessorCount
    }
    if (-not $Only) {
        Write-Host "Benchmark: $Operations operations per run, best of $Repeat runs in each of $Rounds rounds, on a tmpfs ($([Environment]::ProcessorCount) CPUs, $((Get-Content /proc/sys/kernel/osrelease).Trim()))"
        $rows = [ordered]@{}
        $rows['1 no watch'] = [pscustomobject]@{ Load = Measure-Workload; Delivered = 0; CpuSeconds = 0; PeakRssMb = $null; Dropped = 0; Overflows = 0; EventCount = 0 }
        # The rows run in $Rounds alternating rounds, each row keeping its best workload runs: a ratio then compares
        # rows measured minutes apart at most, not a quiet minute against a busy one.
        foreach ($round in 1..$Rounds) {
            Add-Row $rows '2 C reference, permission' (Measure-Reference perm)
            Add-Row $rows '3 C reference, notification' (Measure-Reference notif)
            Add-Row $rows '4 FanotifyPS OpenPerm,CloseWrite | Measure-Object' (Measure-FanotifyPS -Event OpenPerm, CloseWrite)
            Add-Row $rows '4s FanotifyPS OpenPerm,CloseWrite, spin 20 us' (Measure-FanotifyPS -Event OpenPerm, CloseWrite -SpinMicroseconds 20)
            # Nobody reads and the buffer holds one event: the watcher's own cost, without the pipeline's CPU.
            Add-Row $rows '4u FanotifyPS OpenPerm,CloseWrite, not read (-BufferSize 1)' (Measure-FanotifyPS -Event OpenPerm, CloseWrite -Consumer None -BufferSize 1)
            Add-Row $rows '6 FanotifyPS OpenPerm,CloseWrite, 100 rules' (Measure-FanotifyPS -Event OpenPerm, CloseWrite -RuleCount 100)
            Add-Row $rows '6a FanotifyPS OpenPerm,CloseWrite, 1 rule' (Measure-FanotifyPS -Event OpenPerm, CloseWrite -RuleCount 1)
            Add-Row $rows '5a FanotifyPS Open,CloseWrite | Measure-Object' (Measure-FanotifyPS -Event Open, CloseWrite)
            Add-Row $rows '5b FanotifyPS Open,CloseWrite | Export-Csv' (Measure-FanotifyPS -Event Open, CloseWrite -Consumer Csv)
        }

        # Paired permission runs: the C reference and FanotifyPS alternate, one run each after a warm-up run, so that
        # each pair compares the two within seconds of each other (the best-of rows above may be minutes apart, and the
        # C reference's own best moves by half between quiet and busy minutes here). The median of the pairs' ratios.
        $warmThenOpen = { $null = Invoke-Load open -Count ([math]::Max(1000, $Operations / 5)); Invoke-Load open }
        # Not $pairs: names are case-insensitive, and that is the [int] parameter.
        $pairRuns = foreach ($pair in 1..$Pairs) {
            $c = (Measure-Reference perm -Workload $warmThenOpen).Load.ops_per_sec
            $f = (Measure-FanotifyPS -Event OpenPerm, CloseWrite -Workload $warmThenOpen).Load.ops_per_sec
            [pscustomobject]@{ c_open_per_sec = $c; fanotifyps_open_per_sec = $f; ratio = [math]::Round($f / $c, 3) }
        }
        $pairedMedian = ($pairRuns.ratio | Sort-Object)[[math]::Floor(($pairRuns.Count - 1) / 2)]

        # The pipeline edge: buffered events through Measure-Object against 1..N | Measure-Object, both timed in the
        # same process one after the other. Three runs; the ratio is the median of the three runs' ratios (one run
        # swings by 3x here, on both sides: GC and the other CPU's load).
        $edges = 1..3 | ForEach-Object { (Measure-FanotifyPS -Event Open -Mode Edge -Workload { Invoke-Load open -Count 200000 -Files 50000 }).Stats }
        $median = $edges | Sort-Object { $_.edge_events_per_sec / $_.range_per_sec } | Select-Object -Index 1
        $edge = [pscustomobject]@{ Stats = [pscustomobject]@{
            edge_events_per_sec = $median.edge_events_per_sec
            range_per_sec       = $median.range_per_sec
            delivered           = $median.delivered
            runs                = @($edges)
        } }
        # A flood with a consumer that never reads: memory is bounded by the buffer (10,000 events here).
        $flood = Measure-FanotifyPS -Event Open -Mode Flood -BufferSize 10000 -Workload { Invoke-Load open -Count 500000 -Files 50000 }

        $base = $rows['1 no watch'].Load
        $table = foreach ($name in $rows.Keys) {
            $row = $rows[$name]
            [pscustomobject][ordered]@{
                Row            = $name
                'open/s'       = [math]::Round($row.Load.Open.ops_per_sec)
                'write/s'      = [math]::Round($row.Load.Write.ops_per_sec)
                'vs none'      = [math]::Round($row.Load.Open.ops_per_sec / $base.Open.ops_per_sec, 2)
                'p50 us'       = $row.Load.Open.p50_us
                'p99 us'       = $row.Load.Open.p99_us
                Delivered      = $row.Delivered
                Dropped        = $row.Dropped
                Overflows      = $row.Overflows
                'CPU s'        = $row.CpuSeconds
                'peak RSS MB'  = $row.PeakRssMb
            }
        }
        $table | Format-Table -AutoSize | Out-String -Width 240 | Out-Host

        function Ratio($a, $b) { [math]::Round($a / $b, 3) }
        $perm = $rows['4 FanotifyPS OpenPerm,CloseWrite | Measure-Object']
        $cPerm = $rows['2 C reference, permission']
        $notif = $rows['5a FanotifyPS Open,CloseWrite | Measure-Object']
        $cNotif = $rows['3 C reference, notification']
        $rules = $rows['6 FanotifyPS OpenPerm,CloseWrite, 100 rules']
        $accounted = foreach ($name in $rows.Keys | Where-Object { $_ -like '*FanotifyPS*' }) { $rows[$name].Accounted }
        $promises = [ordered]@{
            'permission watch open/s vs C reference (>= 1.0)'           = Ratio $perm.Load.Open.ops_per_sec $cPerm.Load.Open.ops_per_sec
            'permission watch write/s vs C reference (>= 1.0)'          = Ratio $perm.Load.Write.ops_per_sec $cPerm.Load.Write.ops_per_sec
            'notification watch open/s vs C reference (>= 0.9)'         = Ratio $notif.Load.Open.ops_per_sec $cNotif.Load.Open.ops_per_sec
            'notification watch write/s vs C reference (>= 0.9)'        = Ratio $notif.Load.Write.ops_per_sec $cNotif.Load.Write.ops_per_sec
            '100 non-matching rules, open/s vs no rules (>= 0.95)'      = Ratio $rules.Load.Open.ops_per_sec $perm.Load.Open.ops_per_sec
            'pipeline edge vs 1..N | Measure-Object (>= 0.5)'           = Ratio $edge.Stats.edge_events_per_sec $edge.Stats.range_per_sec
            'every event delivered or counted as dropped'               = -not ($accounted -contains $false)
        }
        Write-Host 'Promises (ratios of this run):'
        $promises.GetEnumerator() | ForEach-Object { Write-Host ("  {0,-58} {1}" -f $_.Key, $_.Value) }
        Write-Host ("  pipeline edge (median run): {0:N0} events/s into Measure-Object; 1..N | Measure-Object: {1:N0}/s; all runs: {2}" -f
            $edge.Stats.edge_events_per_sec, $edge.Stats.range_per_sec,
            (($edges | ForEach-Object { '{0:N0}/{1:N0}' -f $_.edge_events_per_sec, $_.range_per_sec }) -join ', '))
        Write-Host ("  flood of 500,000 events, never read, buffer 10,000: RSS grew {0} MB, {1} dropped, peak RSS {2} MB" -f $flood.Stats.rss_growth_mb, $flood.Dropped, $flood.PeakRssMb)
        Write-Host ("  permission round trip p50/p99: C {0}/{1} us, FanotifyPS {2}/{3} us" -f $cPerm.Load.Open.p50_us, $cPerm.Load.Open.p99_us, $perm.Load.Open.p50_us, $perm.Load.Open.p99_us)
        # The same watch with nobody reading: what is left of the gap to C is the pipeline's share of the CPUs.
        $unread = $rows['4u FanotifyPS OpenPerm,CloseWrite, not read (-BufferSize 1)']
        Write-Host ("  permission watch not read (-BufferSize 1) vs C reference, open/s: {0}, write/s: {1}" -f
            (Ratio $unread.Load.Open.ops_per_sec $cPerm.Load.Open.ops_per_sec), (Ratio $unread.Load.Write.ops_per_sec $cPerm.Load.Write.ops_per_sec))
        Write-Host ("  paired permission runs, FanotifyPS open/s vs C (median of {0}): {1}; pairs: {2}" -f $pairRuns.Count, $pairedMedian,
            (($pairRuns | ForEach-Object { '{0:N0}/{1:N0}' -f $_.fanotifyps_open_per_sec, $_.c_open_per_sec }) -join ', '))
        # A rule that names a program needs the program read before the verdict (one readlink in the round trip, which
        # a watch without rules defers): 1 rule against 100 shows what the number of rules costs on top of that.
        $oneRule = $rows['6a FanotifyPS OpenPerm,CloseWrite, 1 rule']
        Write-Host ("  100 rules vs 1 rule, open/s: {0} (1 rule vs none: {1})" -f (Ratio $rules.Load.Open.ops_per_sec $oneRule.Load.Open.ops_per_sec),
            (Ratio $oneRule.Load.Open.ops_per_sec $perm.Load.Open.ops_per_sec))
        # What the opt-in spin gives and costs: the listener's CPU per event delivered, without and with it.
        $spin = $rows['4s FanotifyPS OpenPerm,CloseWrite, spin 20 us']
        function CpuPerEvent($row) { [math]::Round($row.CpuSeconds * 1e6 / [math]::Max(1, $row.Delivered), 1) }
        Write-Host ("  permission listener process CPU per event: C {0} us, FanotifyPS {1} us, FanotifyPS with -SpinMicroseconds 20 {2} us (open/s with it: {3:N0}, {4} of C)" -f
            (CpuPerEvent $cPerm), (CpuPerEvent $perm), (CpuPerEvent $spin), $spin.Load.Open.ops_per_sec, (Ratio $spin.Load.Open.ops_per_sec $cPerm.Load.Open.ops_per_sec))

        $report += [ordered]@{
            operations = $Operations
            repeat     = $Repeat
            rounds     = $Rounds
            rows       = $table
            promises   = $promises
            paired_permission = [ordered]@{ median_ratio = $pairedMedian; pairs = @($pairRuns) }
            rules_100_vs_1 = Ratio $rules.Load.Open.ops_per_sec $oneRule.Load.Open.ops_per_sec
            unread_vs_c = [ordered]@{ open = Ratio $unread.Load.Open.ops_per_sec $cPerm.Load.Open.ops_per_sec; write = Ratio $unread.Load.Write.ops_per_sec $cPerm.Load.Write.ops_per_sec }
            cpu_us_per_event = [ordered]@{ c_reference = CpuPerEvent $cPerm; fanotifyps = CpuPerEvent $perm; fanotifyps_spin_20 = CpuPerEvent $spin }
            edge       = $edge.Stats
            flood      = $flood.Stats
        }
    }

    if (-not $Only -or $Only -contains 'Attribution') { $report.attribution = @(Measure-Attribution) }
    if (-not $Only -or $Only -contains 'Exec') { $report.exec = @(Measure-ExecRow) }

    if ($SoakMinutes -gt 0 -and -not $Only) {
        $report.soak = & (Join-Path $PSScriptRoot 'Invoke-Soak.ps1') -ModulePath $ModulePath -Loadgen $loadgen -Mount $mount -Minutes $SoakMinutes `
            -OpsPerSecond ([math]::Round($perm.Load.Open.ops_per_sec / 2))
    }

    $report | ConvertTo-Json -Depth 6 | Set-Content -Path $OutFile
    Write-Host "Wrote $OutFile"
}
finally {
    & umount $mount 2>$null
    if ($LASTEXITCODE -ne 0) { & umount -l $mount 2>$null }
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}
