# The attribution load test of issue 19 (tests/Pester/AttributionLoad.Tests.ps1): two copies of a workload of
# short-lived programs (loadworkload.sh) run at once beside two ps-like readers (tests/tools/psreader.c) and a busy
# loop, under a permission watch, a live notification reader or a reader stopped (SIGSTOP) for the whole workload.
# Every process life of the workload writes its ground truth before it runs its program (pid, start time, uid,
# login uid, session, cgroup), and the file names say which life acted, so that each event is judged against the
# life that really caused it: its program, its facts, one description per life, and the order of its events.
#
# Safety: the watches are on a tmpfs the caller mounted, in a child pwsh under a hard deadline (SIGKILL); the
# stopped mode takes notification events only (a stopped permission watcher would hold every opener); every
# process started here runs under `timeout --signal=KILL` and is killed by its own pid.

Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot '../../Pester/TestHelpers.psm1')
Import-Module (Join-Path $PSScriptRoot 'Attribution.psm1')

$script:Copies = @('a', 'b')
# Ids of each copy, all different, so that a value given to the wrong life says whose it was.
$script:CopyIds = @{
    a = @{ LoginUid = 1234; ParentUid = 2001; UserUid = 3001 }
    b = @{ LoginUid = 1235; ParentUid = 2002; UserUid = 3002 }
}
$script:Unset = '4294967295'

# File (relative to a copy's directory) -> the life (case and I) and the program image that acted on it.
$script:FileRules = @(
    @{ Pattern = '^exec/e\.(?<i>\d+)$'; Case = 'exec'; Image = 'bash' }
    @{ Pattern = '^exec/r\.(?<i>\d+)$'; Case = 'exec'; Image = 'cat' }
    @{ Pattern = '^reuse-tee/tee\.(?<i>\d+)\.(?<pid>\d+)$'; Case = 'reuse-tee'; Image = 'tee' }
    @{ Pattern = '^reuse-touch/touch\.(?<i>\d+)\.(?<pid>\d+)$'; Case = 'reuse-touch'; Image = 'touch' }
    @{ Pattern = '^user/u\.(?<i>\d+)$'; Case = 'user-u'; Image = 'touch' }
    @{ Pattern = '^user/r\.(?<i>\d+)$'; Case = 'user-r'; Image = 'cat' }
    @{ Pattern = '^login/t\.(?<i>\d+)$'; Case = 'login-t'; Image = 'touch' }
    @{ Pattern = '^login/u\.(?<i>\d+)$'; Case = 'login-u'; Image = 'touch' }
    @{ Pattern = '^login/r\.(?<i>\d+)$'; Case = 'login-r'; Image = 'cat' }
    @{ Pattern = '^tree/f\.(?<i>\d+)\.[123]$'; Case = 'tree-sh'; Image = 'bash' }
    @{ Pattern = '^tree/(v\.(?<i>\d+)~?|\.v\.(?<i>\d+)\.sw[a-z])$'; Case = 'tree-vim'; Image = 'vim' }
    @{ Pattern = '^tree/s\.(?<i>\d+)$'; Case = 'tree-sed'; Image = 'sed' }
    # sed -i's temporary file: its name says no I; the life is the copy's only tree-sed life with the event's pid.
    @{ Pattern = '^tree/sed[A-Za-z0-9]{6}$'; Case = 'tree-sed'; Image = 'sed' }
)

# Files whose Create is the first of their life in the watch: none of their CloseWrite events may come before it.
$script:CreatedOnce = '^(exec/e\.\d+|reuse-tee/.*|reuse-touch/.*|user/u\.\d+|login/[tu]\.\d+|tree/f\.\d+\.[123]|tree/v\.\d+)$'

function Get-BootTimeUtc {
    <# CLOCK_REALTIME less CLOCK_BOOTTIME: when the machine booted, to the nanosecond (start times count from it). #>
    if (-not ('FanotifyPSLoadClock' -as [type])) {
        Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class FanotifyPSLoadClock
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds; public long Nanoseconds; }
    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);
    public static DateTime BootTimeUtc()
    {
        ClockGetTime(0, out var real);   // CLOCK_REALTIME
        ClockGetTime(7, out var boot);   // CLOCK_BOOTTIME
        long nanoseconds = (real.Seconds - boot.Seconds) * 1000000000L + (real.Nanoseconds - boot.Nanoseconds);
        return DateTime.UnixEpoch.AddTicks(nanoseconds / 100);
    }
}
'@
    }
    [FanotifyPSLoadClock]::BootTimeUtc()
}

function Get-ContainerIdOf([string] $Cgroup) {
    <# The container id of a cgroup v2 path, as the runtimes name it (docker-ID.scope, /docker/ID, ...); '' for none. #>
    if (-not $Cgroup -or $Cgroup -eq '-') { return '' }
    $last = $Cgroup.TrimEnd('/').Split('/')[-1]
    if ($last -match '^(?:docker-|cri-containerd-|crio-|libpod-)?(?<id>[0-9a-f]{64})(?:\.scope)?$') { return $Matches.id }
    ''
}

function New-LoadTool {
    <#
    The workload's tools: attrreuse (compiled by New-AttributionTool into WorkPath, on another filesystem than the
    watched one), psreader (out/test-tools), loadworkload.sh, the programs each image is (Exe as /proc/PID/exe
    shows it, Comm as /proc/PID/comm), the boot time, the cgroup v2 mount and whether a login uid can be set here.
    #>
    param([Parameter(Mandatory)] [string] $WorkPath)
    $attribution = New-AttributionTool -WorkPath $WorkPath
    function Resolve-Program([string] $Name) { (& readlink -f (Get-Command $Name -CommandType Application | Select-Object -First 1).Source) }
    $programs = @{}
    foreach ($name in 'bash', 'cat', 'touch', 'tee', 'sed', 'vim') {
        $programs[$name] = [pscustomobject]@{ Exe = Resolve-Program $name; Comm = $name }
    }
    $cgroup2 = (Get-Content /proc/mounts | Where-Object { ($_ -split ' ')[2] -eq 'cgroup2' } | Select-Object -First 1) -split ' ' | Select-Object -Index 1
    [pscustomobject]@{
        WorkPath      = $WorkPath
        Workload      = Join-Path $PSScriptRoot 'loadworkload.sh'
        PsReader      = Get-LoadTool psreader
        Programs      = $programs
        BootTimeUtc   = Get-BootTimeUtc
        ClockTicks    = [long](& getconf CLK_TCK)
        Cgroup2       = $cgroup2
        # A login uid can be set only where it is unset (loginuid_immutable aside): then the parent sets its copy's.
        LoginSettable = (Get-Content /proc/self/loginuid -Raw).Trim() -eq $script:Unset
    }
}

function New-LoadLayout {
    <# Makes each copy's directories and input files on the mount, before any watch starts. #>
    param([Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] $Tool, [Parameter(Mandatory)] [int] $Iterations, [int] $ExecsPerIteration = 4)
    foreach ($copy in $script:Copies) {
        $out = & bash $Tool.Workload layout (Join-Path $Mount $copy) $Iterations $ExecsPerIteration 2>&1
        if ($LASTEXITCODE -ne 0) { throw "The layout of copy $copy failed: $out" }
    }
}

function Read-LoadTruth {
    <# The lives of one copy's truth file: "copy|case|i" -> pid, start ticks, uid, login uid, session, cgroup, container. #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Copy)
    $lives = @{}
    $done = @{}
    $main = $null
    $pairs = [Collections.Generic.List[object]]::new()
    foreach ($line in [IO.File]::ReadLines($Path)) {
        if ($line -like 'D *') { $done[$line.Substring(2)] = $true; continue }
        if ($line -like '{*') { $pairs.Add(($line | ConvertFrom-Json)); continue }
        $f = $line -split ' '
        if ($f[0] -ne 'L' -or $f.Count -ne 9) { throw "Bad truth line in ${Path}: $line" }
        $life = [pscustomobject]@{
            Key = "$Copy|$($f[1])|$($f[2])"; Copy = $Copy; Case = $f[1]; I = [int]$f[2]; Pid = [int]$f[3]; Start = [long]$f[4]
            Uid = [int]$f[5]; LoginUid = $(if ($f[6] -eq $script:Unset) { $null } else { [int]$f[6] })
            Session = $(if ($f[7] -eq $script:Unset) { $null } else { [long]$f[7] })
            Cgroup = $f[8]; ContainerId = Get-ContainerIdOf $f[8]
        }
        $lives[$life.Key] = $life
        if ($life.Case -eq 'main') { $main = $life }
    }
    # attrreuse's children inherit the workload's login uid, session and cgroup; they run as root.
    foreach ($p in $pairs) {
        foreach ($side in @(@{ Case = 'reuse-tee'; Pid = $p.first; Start = $p.firstStart }, @{ Case = 'reuse-touch'; Pid = $p.second; Start = $p.secondStart })) {
            $key = "$Copy|$($side.Case)|$($p.i)"
            $lives[$key] = [pscustomobject]@{
                Key = $key; Copy = $Copy; Case = $side.Case; I = [int]$p.i; Pid = [int]$side.Pid; Start = [long]$side.Start; Uid = 0
                LoginUid = $main.LoginUid; Session = $main.Session; Cgroup = $main.Cgroup; ContainerId = $main.ContainerId
            }
        }
    }
    [pscustomobject]@{ Lives = $lives; Done = $done; Pairs = $pairs.ToArray() }
}

function Invoke-LoadRun {
    <#
    One run: a child pwsh holds two watches (the whole tmpfs; and -Scope Tree of each copy's tree directory) and
    records every event with its place in its watch's output (Index) and its Sequence; two psreaders and a busy
    loop start; -Mode Stopped stops the watcher with SIGSTOP; the two copies of the workload run at once; once
    both are done the watcher continues (stopped mode), drains and writes its events; then the long-lived
    parents are released. Returns the events, the truth and the watches' counts.
    #>
    param(
        [Parameter(Mandatory)] [string] $Mount,
        [Parameter(Mandatory)] $Tool,
        [ValidateSet('Live', 'Stopped')] [string] $Mode = 'Live',
        [int] $Iterations = 40,
        # Exec lives (bash -c "echo e > e.J; cat r.J") per iteration; New-LoadLayout must have been given as many.
        [int] $ExecsPerIteration = 4,
        [string[]] $Event = @('Open', 'CloseWrite', 'Create', 'Delete', 'Rename', 'Attrib'),
        [int] $TimeoutSeconds = 150
    )
    $permission = @($Event | Where-Object { $_ -like '*Perm' })
    if ($Mode -eq 'Stopped' -and $permission) { throw "The stopped mode takes notification events only, not $($permission -join ', ')." }
    $run = Join-Path $Tool.WorkPath ('load-' + [IO.Path]::GetRandomFileName())
    $null = New-Item -ItemType Directory -Path $run
    $csv = "$run/events.csv"; $stats = "$run/stats.json"
    $eventList = ($Event | ForEach-Object { "'$_'" }) -join ','
    $treePaths = ($script:Copies | ForEach-Object { "'$Mount/$_/tree'" }) -join ','
    $script = @"
`$main = Start-FanotifyWatch -Path `$mount -Event $eventList -BufferSize 1000000 -Name load-main
`$tree = Start-FanotifyWatch -LiteralPath $treePaths -Scope Tree -Event $eventList -BufferSize 1000000 -Name load-tree
Send-Ready
`$sequence = [FanotifyPS.FanotifyEvent].GetProperty('Sequence', [Reflection.BindingFlags]'NonPublic,Instance')
`$taken = @{ main = [Collections.Generic.List[object]]::new(); tree = [Collections.Generic.List[object]]::new() }
function Take([double] `$Timeout) {
    foreach (`$e in Get-FanotifyEvent -Watch `$main -Timeout `$Timeout) { `$taken.main.Add(`$e) }
    foreach (`$e in Get-FanotifyEvent -Watch `$tree -Timeout `$Timeout) { `$taken.tree.Add(`$e) }
}
while (-not (Test-Path "`$ready.stop")) { Take 0.1 }
do { `$before = `$taken.main.Count + `$taken.tree.Count; Take 0.5 } while (`$taken.main.Count + `$taken.tree.Count -ne `$before)
`$counts = [ordered]@{}
foreach (`$w in `$main, `$tree) { `$counts[`$w.Name] = [ordered]@{ events = `$w.EventCount; dropped = `$w.DroppedCount; overflows = `$w.OverflowCount; lost = `$w.LostCount } }
Stop-FanotifyWatch `$main, `$tree
& { foreach (`$name in 'main', 'tree') {
    `$index = 0
    foreach (`$e in `$taken[`$name]) {
        `$row = [ordered]@{ Watch = `$name; Index = `$index++; Sequence = `$(if (`$sequence) { `$sequence.GetValue(`$e) }) }
        foreach (`$p in `$e.PSObject.Properties) { `$v = `$p.Value; if (`$v -is [datetime]) { `$v = `$v.ToString('o') }; `$row[`$p.Name] = `$v }
        [pscustomobject]`$row
    }
} } | Export-Csv -Path '$csv'
`$counts | ConvertTo-Json -Compress | Set-Content '$stats'
"@
    $child = $null
    $helpers = [Collections.Generic.List[object]]::new()
    $workloads = @{}
    $cgroups = @{}
    $clock = [Diagnostics.Stopwatch]::StartNew()
    try {
        foreach ($copy in $script:Copies) {
            if ($Tool.Cgroup2) {
                $id = -join (1..64 | ForEach-Object { '{0:x}' -f (Get-Random -Maximum 16) })
                $slice = Join-Path $Tool.Cgroup2 "fpsload-$PID-$copy.slice"
                $scope = Join-Path $slice "docker-$id.scope"
                $null = New-Item -ItemType Directory -Path $scope -Force
                $cgroups[$copy] = [pscustomobject]@{ Slice = $slice; Scope = $scope; Id = $id }
            }
            Remove-Item "$($Tool.WorkPath)/release.$copy" -ErrorAction Ignore
        }
        $child = Start-ChildWatcher -Mount $Mount -Script $script -TimeoutSeconds $TimeoutSeconds
        foreach ($n in 1, 2) { $helpers.Add((Start-Bounded $Tool.PsReader @("$TimeoutSeconds") -TimeoutSeconds ($TimeoutSeconds + 10))) }
        $helpers.Add((Start-Bounded sh @('-c', 'while :; do :; done') -TimeoutSeconds $TimeoutSeconds))
        if ($Mode -eq 'Stopped') { & kill -STOP $child.Pid }
        foreach ($copy in $script:Copies) {
            $ids = $script:CopyIds[$copy]
            $truth = "$run/truth.$copy"
            $null = New-Item -ItemType File -Path $truth
            $cg = if ($cgroups[$copy]) { $cgroups[$copy].Scope } else { '-' }
            $login = if ($Tool.LoginSettable) { "$($ids.LoginUid)" } else { '-' }
            $workloads[$copy] = [pscustomobject]@{
                Truth   = $truth
                Process = Start-Bounded bash @($Tool.Workload, 'run', "$Mount/$copy", $Tool.WorkPath, "$Iterations", "$ExecsPerIteration", $truth, $cg, $login, "$($ids.ParentUid)", "$($ids.UserUid)") -TimeoutSeconds $TimeoutSeconds
            }
        }
        $allDone = Wait-Until {
            foreach ($w in $workloads.Values) {
                $text = Get-Content $w.Truth -Raw -ErrorAction Ignore
                if (-not $text -or $text -notmatch '(?m)^D main$' -or $text -notmatch '(?m)^D parent$') { if (-not $w.Process.HasExited) { return $false } }
            }
            $true
        } -TimeoutSeconds ($TimeoutSeconds - 20)
        $workloadSeconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
        # The load ran all along: each helper (under its timeout process) still runs; its CPU time says how busy it was.
        $load = foreach ($h in $helpers) {
            $name = ''; $cpu = 0.0
            foreach ($c in Get-HelperChild $h.Id) {
                $stat = (Get-Content "/proc/$c/stat" -Raw -ErrorAction Ignore) + ''
                $close = $stat.LastIndexOf(')')
                if ($close -lt 0) { continue }
                $f = $stat.Substring($close + 2).Split(' ')
                $name = $stat.Substring($stat.IndexOf('(') + 1, $close - $stat.IndexOf('(') - 1)
                $cpu = ([long]$f[11] + [long]$f[12]) / $Tool.ClockTicks   # utime and stime: fields 14 and 15
            }
            [pscustomobject]@{ Name = $name; Running = -not $h.HasExited; CpuSeconds = [math]::Round($cpu, 1) }
        }
        if ($Mode -eq 'Stopped') { & kill -CONT $child.Pid }
        Set-Content -Path "$($child.Ready).stop" -Value 'stop'
        if (-not $child.Process.WaitForExit($TimeoutSeconds * 1000)) { throw 'The FanotifyPS child watcher did not finish.' }
        if (-not (Test-Path $stats)) { throw "The FanotifyPS child watcher wrote no result: $($child.Process.StandardError.ReadToEnd())" }
        # The parents ran until now: their children's events were read while they still ran.
        foreach ($copy in $script:Copies) { Set-Content "$($Tool.WorkPath)/release.$copy" 'go' }
        $errors = [Collections.Generic.List[string]]::new()
        foreach ($copy in $script:Copies) {
            $p = $workloads[$copy].Process
            if (-not $p.WaitForExit(20000)) { $p.Kill($true); $errors.Add("copy $copy did not end") }
            elseif ($p.ExitCode -ne 0) { $errors.Add("copy $copy exited with $($p.ExitCode)") }
            $stderr = $p.StandardError.ReadToEnd().Trim()
            if ($stderr) { $errors.Add("copy ${copy}: $stderr") }
        }
        if (-not $allDone) { $errors.Add('the workload did not finish before its deadline') }
        if ($errors.Count) { throw "The load workload failed: $($errors -join '; ')" }
        $truths = @{}
        foreach ($copy in $script:Copies) {
            $truths[$copy] = Read-LoadTruth -Path $workloads[$copy].Truth -Copy $copy
            foreach ($d in 'main', 'parent') { if (-not $truths[$copy].Done[$d]) { throw "Copy $copy did not finish its $d part." } }
        }
        $events = @(if ((Get-Item $csv).Length -gt 0) { Import-Csv $csv })
        [pscustomobject]@{
            Mode = $Mode; Event = $Event; Iterations = $Iterations; Execs = $ExecsPerIteration; Mount = $Mount
            WorkloadSeconds = $workloadSeconds; Load = @($load); Seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
            Events = $events; Truth = $truths; Counts = (Get-Content $stats -Raw | ConvertFrom-Json -AsHashtable)
            Containers = @{ a = $(if ($cgroups['a']) { $cgroups['a'].Id } else { '' }); b = $(if ($cgroups['b']) { $cgroups['b'].Id } else { '' }) }
        }
    }
    finally {
        if ($child) {
            & kill -CONT $child.Pid 2>$null
            Stop-ChildWatcher $child
        }
        foreach ($copy in $script:Copies) { Set-Content "$($Tool.WorkPath)/release.$copy" 'go' -ErrorAction Ignore }
        foreach ($w in $workloads.Values) { if (-not $w.Process.WaitForExit(10000)) { $w.Process.Kill($true) } }
        foreach ($h in $helpers) { if (-not $h.HasExited) { $h.Kill($true) } }
        foreach ($c in $cgroups.Values) {
            # A cgroup can be removed once its processes have ended and been reaped.
            $null = Wait-Until { & rmdir $c.Scope 2>$null; -not (Test-Path $c.Scope) } -TimeoutSeconds 10
            & rmdir $c.Slice 2>$null
        }
        foreach ($copy in $script:Copies) { Remove-Item (Join-Path $Mount $copy) -Recurse -Force -ErrorAction Ignore }
        Remove-Item $run -Recurse -Force -ErrorAction Ignore
    }
}

function Get-HelperChild([int] $ProcessId) {
    <# The children of a process (the program a `timeout` runs). #>
    foreach ($task in Get-ChildItem "/proc/$ProcessId/task" -ErrorAction Ignore) {
        foreach ($c in ((Get-Content "$($task.FullName)/children" -Raw -ErrorAction Ignore) + '').Split(' ', [StringSplitOptions]::RemoveEmptyEntries)) { [int]$c }
    }
}

function Get-EventStartTick {
    <# An event's ProcessStartTime as clock ticks since boot (field 22 of stat), or $null when it has none. #>
    param([string] $Iso, $Tool)
    if (-not $Iso) { return $null }
    $utc = [datetimeoffset]::Parse($Iso, [Globalization.CultureInfo]::InvariantCulture).UtcDateTime
    [long][math]::Round(($utc - $Tool.BootTimeUtc).Ticks * $Tool.ClockTicks / [double][TimeSpan]::TicksPerSecond)
}

function ConvertTo-NullableLong([string] $Text) { if ($Text -eq '') { $null } else { [long]$Text } }

function Measure-LoadAttribution {
    <#
    Judges every event of a load run against the truth. Returns the judged events and, per assertion of the test
    file, what broke it: Harness (the event's pid is not its life's: the truth, not the product, is wrong),
    WrongProgram, WrongFact, Missing, Description, Inherited, Order; and the tallies.
    #>
    param([Parameter(Mandatory)] $Run, [Parameter(Mandatory)] $Tool)
    $prefix = $Run.Mount.TrimEnd('/') + '/'
    $judged = [Collections.Generic.List[object]]::new()
    $unknown = [Collections.Generic.List[object]]::new()
    $harness = [Collections.Generic.List[object]]::new()
    $other = 0; $overflows = 0; $suffixed = 0
    $lifeByPid = @{}
    $lifeByCasePid = @{}
    foreach ($copy in $script:Copies) {
        foreach ($life in $Run.Truth[$copy].Lives.Values) {
            $lifeByPid["$($life.Pid)"] += @($life)
            $lifeByCasePid["$copy|$($life.Case)|$($life.Pid)"] += @($life)
        }
    }
    foreach ($e in $Run.Events) {
        if ("$($e.Event)" -match 'Overflow') { $overflows++; continue }
        $path = "$($e.Path)"
        $match = $null
        # Attrib events of a deleted file come with the kernel's " (deleted)" suffix in Path: judged by the file's name.
        if ($path.EndsWith(' (deleted)', [StringComparison]::Ordinal)) { $suffixed++; $path = $path.Substring(0, $path.Length - 10) }
        foreach ($candidate in $path, "$($e.OldPath)") {
            if (-not $candidate) { continue }
            if (-not $candidate.StartsWith($prefix, [StringComparison]::Ordinal)) { continue }
            $relative = $candidate.Substring($prefix.Length)
            $slash = $relative.IndexOf('/')
            if ($slash -lt 0) { continue }
            $copy = $relative.Substring(0, $slash); $inCopy = $relative.Substring($slash + 1)
            if ($copy -notin $script:Copies) { continue }
            foreach ($rule in $script:FileRules) {
                if ($inCopy -match $rule.Pattern) { $match = @{ Copy = $copy; InCopy = $inCopy; Rule = $rule; I = $Matches['i']; NamePid = $Matches['pid'] }; break }
            }
            if ($match) { break }
        }
        if (-not $match) {
            if ($path.StartsWith($prefix, [StringComparison]::Ordinal)) { $unknown.Add("$($e.Event) $path") } else { $other++ }
            continue
        }
        $case = $match.Rule.Case
        $life = $null
        if ($null -ne $match.I) { $life = $Run.Truth[$match.Copy].Lives["$($match.Copy)|$case|$($match.I)"] }
        else {
            $candidates = @($lifeByCasePid["$($match.Copy)|$case|$($e.ProcessId)"] | Where-Object { $_ })
            if ($candidates.Count -eq 1) { $life = $candidates[0] }
        }
        if (-not $life) { $unknown.Add("$($e.Event) $path (no truth)"); continue }
        $program = $Tool.Programs[$match.Rule.Image]
        $exe = "$($e.Exe)"
        $verdict = if (-not $exe) { 'Missing' } elseif ($exe -ceq $program.Exe -or $exe -ceq "$($program.Exe) (deleted)") { 'Right' } else { 'Wrong' }
        # The first life of a forced pid reuse, read after the second was forked (always when stopped): unless its exit
        # is still ahead in the batch (the kernel merges an unread exit into the exec event), which life raised its
        # events is not knowable. Named none, they are counted apart (Unknowable); named wrong, they stay wrong.
        if ($verdict -eq 'Missing' -and $case -eq 'reuse-tee') { $verdict = 'Unknowable' }
        $j = [pscustomobject]@{
            Watch = $e.Watch; Index = [int]$e.Index; Sequence = (ConvertTo-NullableLong "$($e.Sequence)")
            Event = "$($e.Event)"; Path = $path; File = "$($match.Copy)/$($match.InCopy)"; Copy = $match.Copy; Life = $life; Image = $match.Rule.Image
            ExpectedExe = $program.Exe; Exe = $exe; Verdict = $verdict; ProcessName = "$($e.ProcessName)"
            ProcessId = [int]$e.ProcessId; StartTick = (Get-EventStartTick "$($e.ProcessStartTimeIso)" $Tool)
            UserId = (ConvertTo-NullableLong "$($e.UserId)"); UserName = "$($e.UserName)"; CommandLine = "$($e.CommandLine)"
            LoginUserId = (ConvertTo-NullableLong "$($e.LoginUserId)"); SessionId = (ConvertTo-NullableLong "$($e.SessionId)")
            ContainerId = "$($e.ContainerId)"; ProcessSource = "$($e.ProcessSource)"; IsProcessGone = "$($e.IsProcessGone)"
        }
        if ($j.ProcessId -ne $life.Pid -or ($match.NamePid -and [int]$match.NamePid -ne $life.Pid)) {
            $harness.Add("$($j.Event) $($j.File): pid $($j.ProcessId), the truth of $($life.Key) says $($life.Pid)")
        }
        $judged.Add($j)
    }

    # Whose life a wrong value belongs to, when another life of the same pid had it (for the samples).
    function Get-Owner($j, [string] $Fact, $Value) {
        $owners = @($lifeByPid["$($j.ProcessId)"] | Where-Object { $_.Key -ne $j.Life.Key -and "$($_.$Fact)" -eq "$Value" } | ForEach-Object Key)
        if ($owners) { " (that of $($owners -join ', '))" } else { '' }
    }
    function Format-Event($j) { "[$($j.Watch) #$($j.Index)] $($j.Event) $($j.File) pid $($j.ProcessId) ($($j.Life.Key), $($j.ProcessSource))" }

    $wrongProgram = @($judged | Where-Object Verdict -eq 'Wrong' | ForEach-Object { "$(Format-Event $_): Exe $($_.Exe), not $($_.ExpectedExe); ProcessName $($_.ProcessName)" })
    # ProcessName is comm: the name the program was run by (vim), or the program's file name (vim.basic).
    $wrongName = @($judged | Where-Object { $_.ProcessName -and $_.ProcessName -cne $Tool.Programs[$_.Image].Comm -and $_.ProcessName -cne [IO.Path]::GetFileName($_.ExpectedExe) } |
        ForEach-Object { "$(Format-Event $_): ProcessName $($_.ProcessName), not $($Tool.Programs[$_.Image].Comm); Exe $($_.Exe)" })
    $missing = @($judged | Where-Object Verdict -eq 'Missing')
    $wrongFact = [Collections.Generic.List[object]]::new()
    $factSpec = @(
        @{ Name = 'ProcessStartTime'; Event = 'StartTick'; Life = 'Start' }
        @{ Name = 'UserId'; Event = 'UserId'; Life = 'Uid' }
        @{ Name = 'LoginUserId'; Event = 'LoginUserId'; Life = 'LoginUid' }
        @{ Name = 'SessionId'; Event = 'SessionId'; Life = 'Session' }
        @{ Name = 'ContainerId'; Event = 'ContainerId'; Life = 'ContainerId' }
    )
    foreach ($j in $judged) {
        $l = $j.Life
        foreach ($spec in $factSpec) {
            $value = $j.($spec.Event); $truth = $l.($spec.Life)
            # An unknown value is allowed; a known one must be the life's own (none, where the life has none).
            if ($null -eq $value -or "$value" -eq '' -or "$value" -eq "$truth") { continue }
            $truthShown = if ($null -eq $truth -or "$truth" -eq '') { '(none)' } else { "$truth" }
            $owner = Get-Owner $j $spec.Life $value
            # How a start time is wrong: another life's, or near the truth (a fork's time is not stat's start time).
            $kind = $spec.Name
            if ($spec.Name -eq 'ProcessStartTime') {
                $delta = $value - $truth
                $kind = if ($owner) { 'ProcessStartTime of another life' } else { "ProcessStartTime $(if ($delta -gt 0) { '+' })$delta tick$(if ([math]::Abs($delta) -ne 1) { 's' })" }
            }
            $wrongFact.Add([pscustomobject]@{ Fact = $spec.Name; Kind = $kind; Judged = $j; Text = "$(Format-Event $j): $($spec.Name) $value, not $truthShown$owner" })
        }
    }

    # One description per life and program image, per watch: one ProcessName; a fact once known stays known and the same.
    $description = [Collections.Generic.List[string]]::new()
    foreach ($group in $judged | Group-Object { "$($_.Watch)|$($_.Life.Key)|$($_.Image)" }) {
        # An event whose process is not known (ProcessSource Unknown, counted as named none) carries no description.
        $events = @($group.Group | Where-Object ProcessSource -ne 'Unknown' | Sort-Object Index)
        $names = @($events | ForEach-Object ProcessName | Where-Object { $_ } | Select-Object -Unique)
        if ($names.Count -gt 1) { $description.Add("$($group.Name): ProcessName $($names -join ' / ') ($($events.Count) events)") }
        foreach ($fact in 'ProcessName', 'UserName', 'CommandLine', 'LoginUserId', 'ContainerId') {
            $known = $null
            foreach ($j in $events) {
                $value = "$($j.$fact)"
                if ($null -ne $known -and $value -eq '') {
                    $shown = if ($known.Length -gt 40) { $known.Substring(0, 40) + '...' } else { $known }
                    $description.Add("$($group.Name): $fact '$shown' on an earlier event, none on $(Format-Event $j)")
                    break
                }
                if ($value -ne '' -and $null -eq $known) { $known = $value }
            }
        }
    }

    # The gone children of the long-lived parent: its login uid and container, and the uid they ran as.
    $inherited = [Collections.Generic.List[string]]::new()
    # Events named none (ProcessSource Unknown) are counted as such, not here: nothing of theirs is claimed.
    $loginEvents = @($judged | Where-Object { $_.Life.Case -like 'login-*' -and $_.ProcessSource -ne 'Unknown' })
    foreach ($j in $loginEvents) {
        $l = $j.Life
        $problems = @()
        if ("$($j.UserId)" -ne "$($l.Uid)") { $problems += "UserId $(if ($null -eq $j.UserId) { '(none)' } else { $j.UserId }), not $($l.Uid)" }
        if ($null -ne $l.LoginUid -and "$($j.LoginUserId)" -ne "$($l.LoginUid)") { $problems += "LoginUserId $(if ($null -eq $j.LoginUserId) { '(none)' } else { $j.LoginUserId }), not $($l.LoginUid)" }
        if ($l.ContainerId -and $j.ContainerId -ne $l.ContainerId) { $problems += "ContainerId $(if ($j.ContainerId) { $j.ContainerId.Substring(0, 12) + '...' } else { '(none)' }), not $($l.ContainerId.Substring(0, 12))..." }
        if ($problems) { $inherited.Add("$(Format-Event $j): $($problems -join '; ')") }
    }

    # Order: no CloseWrite of a file before its Create, in each watch's delivery order and by Sequence.
    $order = [Collections.Generic.List[string]]::new()
    foreach ($byWatch in $judged | Group-Object Watch) {
        foreach ($file in $byWatch.Group | Where-Object { ($_.File.Substring(2)) -match $script:CreatedOnce } | Group-Object File) {
            $creates = @($file.Group | Where-Object { $_.Event -match '\bCreate\b' })
            if ($creates.Count -ne 1) { continue }
            $create = $creates[0]
            foreach ($close in $file.Group | Where-Object { $_.Event -match '\bCloseWrite\b' }) {
                if ($close.Index -lt $create.Index) { $order.Add("[$($byWatch.Name)] $($file.Name): CloseWrite #$($close.Index) delivered before its Create #$($create.Index)") }
                elseif ($null -ne $close.Sequence -and $null -ne $create.Sequence -and $close.Sequence -lt $create.Sequence) {
                    $order.Add("[$($byWatch.Name)] $($file.Name): CloseWrite sequence $($close.Sequence) before its Create's $($create.Sequence)")
                }
            }
        }
    }

    # The tallies of every event (all), per watch and per case, in one pass.
    $tallies = [ordered]@{}
    function Get-Tally([string] $Set) {
        if (-not $tallies.Contains($Set)) { $tallies[$Set] = [pscustomobject][ordered]@{ Set = $Set; Events = 0; Right = 0; Wrong = 0; Missing = 0; Unknowable = 0; WrongFacts = 0 } }
        $tallies[$Set]
    }
    $null = Get-Tally 'all'
    foreach ($w in @($judged | ForEach-Object Watch | Sort-Object -Unique)) { $null = Get-Tally "watch $w" }
    foreach ($c in @($judged | ForEach-Object { $_.Life.Case } | Sort-Object -Unique)) { $null = Get-Tally $c }
    foreach ($j in $judged) {
        foreach ($set in 'all', "watch $($j.Watch)", $j.Life.Case) {
            $t = $tallies[$set]
            if ($j.Verdict -ne 'Unknowable') { $t.Events++ }
            $t.($j.Verdict)++
        }
    }
    foreach ($f in $wrongFact) {
        foreach ($set in 'all', "watch $($f.Judged.Watch)", $f.Judged.Life.Case) { $tallies[$set].WrongFacts++ }
    }
    [pscustomobject]@{
        Judged = $judged.ToArray(); Unknown = $unknown.ToArray(); Other = $other; Overflows = $overflows; DeletedSuffix = $suffixed
        Harness = $harness.ToArray(); WrongProgram = $wrongProgram; WrongName = $wrongName; Missing = $missing; WrongFact = $wrongFact.ToArray()
        Description = $description.ToArray(); Inherited = $inherited.ToArray(); InheritedEvents = $loginEvents.Count; Order = $order.ToArray()
        Tallies = $tallies
    }
}

function Format-LoadReport {
    <# The run's numbers as text: events, right, wrong, missing per watch and per case, then samples of every failure. #>
    param([Parameter(Mandatory)] $Run, [Parameter(Mandatory)] $Result, [string] $Name = $Run.Mode, [int] $Samples = 8)
    $text = [Text.StringBuilder]::new()
    $reuse = @($Run.Truth.Values | ForEach-Object { $_.Pairs }); $reused = @($reuse | Where-Object { $_.first -eq $_.second }).Count
    $counts = ($Run.Counts.Keys | ForEach-Object { $c = $Run.Counts[$_]; "$_ $($c.events) events, $($c.dropped) dropped, $($c.overflows) overflows, $($c.lost) lost" }) -join '; '
    $null = $text.AppendLine("Attribution under load, ${Name}: -Event $($Run.Event -join ','); 2 copies x $($Run.Iterations) iterations ($($Run.Execs) exec lives each), workload $($Run.WorkloadSeconds) s, run $($Run.Seconds) s; $counts; $($Result.Judged.Count) judged, $($Result.Other) not the workload's (no path on the mount, such as '(unresolved)'), $($Result.DeletedSuffix) with ' (deleted)' in Path, $($Result.Unknown.Count) unknown, $($Result.Overflows) overflow events; pid reuse: $reused of $($reuse.Count) pairs; load: $((@($Run.Load) | ForEach-Object { "$($_.Name) $($_.CpuSeconds) s CPU$(if (-not $_.Running) { ' (ended early)' })" }) -join ', ')")
    $null = $text.Append(($Result.Tallies.Values | Select-Object Set, Events, Right, Wrong, Missing, Unknowable, @{ n = 'right %'; e = { if ($_.Events) { [math]::Round(100.0 * $_.Right / $_.Events, 2) } } }, WrongFacts | Format-Table -AutoSize | Out-String -Width 200))
    $byFact = @($Result.WrongFact | Group-Object Kind | Sort-Object Count -Descending | ForEach-Object { "$($_.Name): $($_.Count)" }) -join ', '
    $null = $text.AppendLine("wrong programs $($Result.WrongProgram.Count); wrong process names $($Result.WrongName.Count); wrong facts $($Result.WrongFact.Count)$(if ($byFact) { " ($byFact)" }); missing programs $($Result.Missing.Count); description breaks $($Result.Description.Count); inherited-identity misses $($Result.Inherited.Count) of $($Result.InheritedEvents); order breaks $($Result.Order.Count)$(if ($Result.Order.Count) { ' (' + ((@($Result.Order) | Group-Object { $_.Split(']')[0].TrimStart('[') } | ForEach-Object { "$($_.Name) $($_.Count)" }) -join ', ') + ')' }); harness mismatches $($Result.Harness.Count)")
    $sections = [ordered]@{
        'wrong programs' = $Result.WrongProgram
        'wrong process names' = $Result.WrongName
        'wrong facts'    = @($Result.WrongFact | Group-Object Kind | ForEach-Object { $_.Group | Select-Object -First ([math]::Max(2, [int]($Samples / 2))) } | ForEach-Object Text)
        'missing programs' = @($Result.Missing | ForEach-Object { "[$($_.Watch) #$($_.Index)] $($_.Event) $($_.File) pid $($_.ProcessId) ($($_.Life.Key), $($_.ProcessSource), ProcessName '$($_.ProcessName)')" })
        'description breaks' = $Result.Description
        'inherited identity' = $Result.Inherited
        'order'          = $Result.Order
        'harness'        = $Result.Harness
        'unknown events' = $Result.Unknown
    }
    foreach ($s in $sections.Keys) {
        $items = @($sections[$s])
        if (-not $items.Count) { continue }
        $null = $text.AppendLine("  ${s}: $($items.Count); the first:")
        foreach ($item in $items | Select-Object -First $Samples) { $null = $text.AppendLine("    $item") }
    }
    $text.ToString()
}

Export-ModuleMember -Function New-LoadTool, New-LoadLayout, Read-LoadTruth, Invoke-LoadRun, Measure-LoadAttribution, Format-LoadReport, Get-BootTimeUtc, Get-ContainerIdOf
